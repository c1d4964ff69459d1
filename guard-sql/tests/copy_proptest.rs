//! Properties of the COPY row codec, for text, CSV and binary with varied options: encoding
//! then decoding returns the rows; splitting the stream at any points gives the same items;
//! arbitrary bytes never panic, and the items decoded from them (up to the first error) do
//! not depend on how the bytes were split and cover exactly the bytes they claim.

use guard_sql::copy::{
    CopyDecoder, CopyEncoder, CopyFormat, CopyHeader, CopyItem, CopyLimits, CopyOptions,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Rows of fields, `None` for NULL.
type Rows = Vec<Vec<Option<Vec<u8>>>>;

/// A decoded item, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Header(Vec<u8>),
    Row(Vec<Option<Vec<u8>>>, Vec<u8>),
    Trailer(Vec<u8>),
}

/// Items until the end or the first error; `Err` carries the items before the error.
fn decode(
    opts: &CopyOptions,
    limits: &CopyLimits,
    pieces: &[&[u8]],
) -> Result<Vec<Item>, Vec<Item>> {
    let mut dec = CopyDecoder::new(opts, limits.clone()).unwrap();
    let mut items = Vec::new();
    let drain = |dec: &mut CopyDecoder, items: &mut Vec<Item>| -> bool {
        loop {
            match dec.next() {
                Ok(Some(CopyItem::Header(h))) => items.push(Item::Header(h.to_vec())),
                Ok(Some(CopyItem::Row(r))) => items.push(Item::Row(
                    r.iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
                    r.raw().to_vec(),
                )),
                Ok(Some(CopyItem::Trailer(t))) => items.push(Item::Trailer(t.to_vec())),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    };
    for p in pieces {
        if dec.push(p).is_err() || !drain(&mut dec, &mut items) {
            return Err(items);
        }
    }
    dec.finish();
    if drain(&mut dec, &mut items) {
        Ok(items)
    } else {
        Err(items)
    }
}

fn raw_len(items: &[Item]) -> usize {
    items
        .iter()
        .map(|i| match i {
            Item::Header(b) | Item::Trailer(b) | Item::Row(_, b) => b.len(),
        })
        .sum()
}

/// Cuts `data` at the given points.
fn cut<'a>(data: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for a in at {
        out.push(&data[prev..a]);
        prev = a;
    }
    out.push(&data[prev..]);
    out
}

fn options() -> impl Strategy<Value = CopyOptions> {
    let nulls = prop::sample::select(vec!["\\N", "", "x", "NULL", "-", "nil\\"]);
    prop_oneof![
        (
            prop::sample::select(vec![b'\t', b',', b'|', b';', b' ', b'\x01', b'N']),
            nulls.clone(),
            any::<bool>()
        )
            .prop_map(|(d, n, h)| {
                let mut o = CopyOptions::text();
                o.delimiter = d;
                o.null = n.as_bytes().to_vec();
                o.header = if h {
                    CopyHeader::Present
                } else {
                    CopyHeader::Absent
                };
                o
            }),
        (
            prop::sample::select(vec![b',', b';', b'\t', b'|']),
            prop::sample::select(vec![b'"', b'\'']),
            prop::sample::select(vec![None, Some(b'\\'), Some(b'"')]),
            nulls,
            any::<bool>()
        )
            .prop_map(|(d, q, e, n, h)| {
                let mut o = CopyOptions::csv();
                o.delimiter = d;
                o.quote = q;
                o.escape = e.unwrap_or(q);
                o.null = n.as_bytes().to_vec();
                o.header = if h {
                    CopyHeader::Present
                } else {
                    CopyHeader::Absent
                };
                o
            }),
        Just(CopyOptions::binary()),
    ]
    .prop_filter("valid options", |o| {
        o.validate().is_ok() && !(o.format == CopyFormat::Text && o.null.contains(&b'\\'))
    })
}

fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        prop::collection::vec(
            prop::sample::select(b"\\\"',;|\t\r\n .Nx-aZ".to_vec()),
            0..10
        ),
        prop::sample::select(vec!["\\.", "\\N", "NULL", "x", "", "-", "nil\\"])
            .prop_map(|s| s.as_bytes().to_vec()),
    ];
    prop::option::weighted(0.85, bytes)
}

/// Options, a header's names and rows of one width.
fn stream() -> impl Strategy<Value = (CopyOptions, Vec<Vec<u8>>, Rows)> {
    (options(), 1usize..5).prop_flat_map(|(o, width)| {
        let names = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), width);
        let rows = prop::collection::vec(prop::collection::vec(value(), width), 0..6);
        (Just(o), names, rows)
    })
}

/// Encodes a stream, leaving out what the format cannot carry (an empty text value when the
/// NULL string is empty); returns the rows that were written.
fn encode(o: &CopyOptions, names: &[Vec<u8>], rows: &[Vec<Option<Vec<u8>>>]) -> (Vec<u8>, Rows) {
    let enc = CopyEncoder::new(o).unwrap();
    let mut wire = Vec::new();
    if o.header != CopyHeader::Absent || o.format == CopyFormat::Binary {
        enc.encode_header(names.iter().map(Vec::as_slice), &mut wire)
            .unwrap();
    }
    let mut kept = Vec::new();
    for r in rows {
        let before = wire.len();
        match enc.encode_row(r.iter().map(|v| v.as_deref()), &mut wire) {
            Ok(()) => kept.push(r.clone()),
            Err(_) => assert_eq!(wire.len(), before, "a refused row leaves no bytes"),
        }
    }
    enc.encode_trailer(&mut wire);
    (wire, kept)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_then_decode_round_trips((o, names, rows) in stream()) {
        let (wire, kept) = encode(&o, &names, &rows);
        let items = decode(&o, &CopyLimits::default(), &[&wire]).expect("decodes");
        let decoded: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                Item::Row(r, _) => Some(r.clone()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(decoded, kept);
        prop_assert_eq!(raw_len(&items), wire.len());
        let headers = items.iter().filter(|i| matches!(i, Item::Header(_))).count();
        let want = usize::from(o.header != CopyHeader::Absent || o.format == CopyFormat::Binary);
        prop_assert_eq!(headers, want);
        let trailers = items.iter().filter(|i| matches!(i, Item::Trailer(_))).count();
        prop_assert_eq!(trailers, usize::from(o.format == CopyFormat::Binary));
    }

    #[test]
    fn split_points_are_invisible(
        (o, names, rows) in stream(),
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let (wire, _) = encode(&o, &names, &rows);
        let whole = decode(&o, &CopyLimits::default(), &[&wire]);
        let split = decode(&o, &CopyLimits::default(), &cut(&wire, &cuts));
        prop_assert!(whole.is_ok());
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_the_same(
        o in options(),
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            prop::collection::vec(prop::sample::select(b"\\\"',;|\t\r\n.Nx\xff\0PGCOPY".to_vec()), 0..200),
        ],
        binary_header in any::<bool>(),
        max_row in 1usize..64,
        max_fields in 1usize..6,
        cuts in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let mut data = data;
        if binary_header && o.format == CopyFormat::Binary {
            let mut d = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
            d.extend_from_slice(&data);
            data = d;
        }
        let mut limits = CopyLimits::default();
        limits.max_row_bytes = max_row;
        limits.max_fields = max_fields;
        let whole = decode(&o, &limits, &[&data]);
        let split = decode(&o, &limits, &cut(&data, &cuts));
        let items = match &whole { Ok(i) | Err(i) => i };
        prop_assert!(raw_len(items) <= data.len());
        if whole.is_ok() {
            prop_assert_eq!(raw_len(items), data.len());
        }
        prop_assert_eq!(split, whole);
    }
}
