#![no_main]
//! The COPY row decoder on arbitrary bytes with arbitrary options: it never panics; the items
//! it yields cover exactly the bytes it consumed; feeding the bytes in pieces gives the same
//! items and the same error as feeding them whole; and the rows it decoded, written again by
//! the encoder, decode to the same values.
use arbitrary::Arbitrary;
use guard_sql::copy::{
    CopyDecoder, CopyEncoder, CopyFormat, CopyHeader, CopyItem, CopyLimits, CopyOptions,
};
use libfuzzer_sys::{Corpus, fuzz_target};

/// One run: the options (a format selector and raw option bytes), limits, cut points, and the
/// stream. `Debug` prints everything needed to reproduce it.
#[derive(Debug, Arbitrary)]
struct Input {
    format: u8,
    delimiter: u8,
    quote: u8,
    escape: u8,
    null: u8,
    header: bool,
    /// 0 means the default limit.
    max_row_bytes: u16,
    /// 0 means the default limit.
    max_fields: u8,
    cuts: [u16; 4],
    data: Vec<u8>,
}

const NULLS: &[&[u8]] = &[b"\\N", b"", b"x", b"NULL", b"ab"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Header(Vec<u8>),
    Row(Vec<Option<Vec<u8>>>),
    Trailer(Vec<u8>),
}

fn decode(opts: &CopyOptions, limits: &CopyLimits, pieces: &[&[u8]]) -> (Vec<Item>, usize, Option<String>) {
    let mut dec = CopyDecoder::new(opts, limits.clone()).expect("validated options");
    let mut items = Vec::new();
    let mut raw = 0usize;
    let mut drain = |dec: &mut CopyDecoder| -> Result<(), String> {
        while let Some(item) = dec.next().map_err(|e| format!("{:?}", std::mem::discriminant(e.kind())))? {
            match item {
                CopyItem::Header(h) => {
                    raw += h.len();
                    items.push(Item::Header(h.to_vec()));
                }
                CopyItem::Row(r) => {
                    raw += r.raw().len();
                    items.push(Item::Row(r.iter().map(|v| v.map(<[u8]>::to_vec)).collect()));
                }
                CopyItem::Trailer(t) => {
                    raw += t.len();
                    items.push(Item::Trailer(t.to_vec()));
                }
            }
        }
        Ok(())
    };
    let mut err = None;
    for p in pieces {
        if let Err(e) = dec.push(p) {
            err = Some(format!("{:?}", std::mem::discriminant(e.kind())));
            break;
        }
        if let Err(e) = drain(&mut dec) {
            err = Some(e);
            break;
        }
    }
    if err.is_none() {
        dec.finish();
        err = drain(&mut dec).err();
    }
    (items, raw, err)
}

fuzz_target!(|input: Input| -> Corpus {
    if input.data.len() > 64 << 10 {
        return Corpus::Reject;
    }
    let mut opts = match input.format % 3 {
        0 => CopyOptions::text(),
        1 => CopyOptions::csv(),
        _ => CopyOptions::binary(),
    };
    if opts.format != CopyFormat::Binary {
        opts.delimiter = input.delimiter;
        opts.null = NULLS[usize::from(input.null) % NULLS.len()].to_vec();
        if input.header {
            opts.header = CopyHeader::Present;
        }
    }
    if opts.format == CopyFormat::Csv {
        opts.quote = input.quote;
        opts.escape = input.escape;
    }
    if opts.validate().is_err() {
        return Corpus::Reject;
    }
    let mut limits = CopyLimits::default();
    if input.max_row_bytes > 0 {
        limits.max_row_bytes = usize::from(input.max_row_bytes);
    }
    if input.max_fields > 0 {
        limits.max_fields = usize::from(input.max_fields);
    }
    let data = &input.data;
    let (items, raw, err) = decode(&opts, &limits, &[data]);
    assert!(raw <= data.len());
    if err.is_none() {
        assert_eq!(raw, data.len());
    }

    let mut at: Vec<usize> = input.cuts.iter().map(|&c| usize::from(c) % (data.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::new();
    let mut prev = 0;
    for a in at {
        pieces.push(&data[prev..a]);
        prev = a;
    }
    pieces.push(&data[prev..]);
    let split = decode(&opts, &limits, &pieces);
    assert_eq!(split, (items.clone(), raw, err.clone()), "pieces differ from whole");

    // Re-encode what was decoded (headers and trailers as sent) and decode it again.
    let enc = CopyEncoder::new(&opts).expect("validated options");
    let mut wire = Vec::new();
    let mut kept = Vec::new();
    for item in &items {
        match item {
            Item::Header(b) | Item::Trailer(b) => {
                wire.extend_from_slice(b);
                kept.push(item.clone());
            }
            Item::Row(r) => {
                if enc.encode_row(r.iter().map(|v| v.as_deref()), &mut wire).is_ok() {
                    kept.push(item.clone());
                }
            }
        }
    }
    let mut lenient = limits.clone();
    lenient.max_row_bytes = usize::MAX;
    let (again, _, again_err) = decode(&opts, &lenient, &[&wire]);
    if err.is_none() || matches!(items.last(), Some(Item::Trailer(_))) {
        assert_eq!(again_err, None, "re-encoded rows do not decode");
    }
    assert_eq!(again, kept, "re-encoded rows decode differently");
    Corpus::Keep
});
