//! Golden COPY TO STDOUT output from a real PostgreSQL 15 server, captured by
//! `testdata/copy/capture.sh` (see its header): for each case the COPY statement, its output
//! and the values the server says each row holds. The tests read the options from the
//! statement, decode the output (whole and in pieces of every size from 1 to 17 bytes),
//! compare every field with the server's values, and re-encode the rows to the exact bytes
//! PostgreSQL wrote.

use guard_sql::copy::{CopyDecoder, CopyEncoder, CopyItem, CopyLimits, CopyOptions, copy_select};

/// Rows of fields, `None` for NULL.
type Rows = Vec<Vec<Option<Vec<u8>>>>;

struct Decoded {
    header: Option<Vec<u8>>,
    rows: Rows,
    trailer: Option<Vec<u8>>,
    reencoded: Vec<u8>,
}

fn case(name: &str) -> (String, Vec<u8>, Rows) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/copy/");
    let sql = std::fs::read_to_string(format!("{dir}{name}.sql")).unwrap();
    let copy = std::fs::read(format!("{dir}{name}.copy")).unwrap();
    let expected = std::fs::read_to_string(format!("{dir}{name}.expected")).unwrap();
    let rows = expected
        .lines()
        .map(|l| {
            l.split(' ')
                .map(|f| (f != "N").then(|| unhex(f)))
                .collect::<Vec<_>>()
        })
        .collect();
    (sql.trim().to_string(), copy, rows)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode(opts: &CopyOptions, wire: &[u8], piece: usize) -> Decoded {
    let mut dec = CopyDecoder::new(opts, CopyLimits::default()).unwrap();
    let enc = CopyEncoder::new(opts).unwrap();
    let mut out = Decoded {
        header: None,
        rows: Vec::new(),
        trailer: None,
        reencoded: Vec::new(),
    };
    let take = |dec: &mut CopyDecoder, out: &mut Decoded| {
        while let Some(item) = dec.next().unwrap() {
            match item {
                CopyItem::Header(h) => {
                    out.header = Some(h.to_vec());
                    out.reencoded.extend_from_slice(h);
                }
                CopyItem::Row(r) => {
                    out.rows
                        .push(r.iter().map(|v| v.map(<[u8]>::to_vec)).collect());
                    enc.encode_row(r.iter(), &mut out.reencoded).unwrap();
                }
                CopyItem::Trailer(t) => {
                    out.trailer = Some(t.to_vec());
                    out.reencoded.extend_from_slice(t);
                }
            }
        }
    };
    for chunk in wire.chunks(piece.max(1)) {
        dec.push(chunk).unwrap();
        take(&mut dec, &mut out);
    }
    dec.finish();
    take(&mut dec, &mut out);
    out
}

fn check(name: &str) -> Decoded {
    let (sql, wire, expected) = case(name);
    let opts = CopyOptions::from_sql(&sql).unwrap();
    let whole = decode(&opts, &wire, wire.len());
    assert_eq!(
        whole.rows, expected,
        "{name}: decoded values differ from the server's"
    );
    assert_eq!(
        whole.reencoded, wire,
        "{name}: re-encoding differs from PostgreSQL's output"
    );
    for piece in 1..=17 {
        let split = decode(&opts, &wire, piece);
        assert_eq!(split.rows, whole.rows, "{name}: pieces of {piece} bytes");
        assert_eq!(split.header, whole.header);
        assert_eq!(split.trailer, whole.trailer);
    }
    assert!(copy_select(&sql).unwrap().is_some());
    whole
}

#[test]
fn text_default() {
    let d = check("text_default");
    assert_eq!(d.rows.len(), 15);
    assert_eq!(d.rows[5][1], None);
    assert_eq!(d.rows[6][1].as_deref(), Some(&b""[..]));
    assert_eq!(d.rows[8][1].as_deref(), Some(&b"\\N"[..]));
    assert_eq!(d.rows[2][1].as_deref(), Some(&b"new\nline"[..]));
    assert!(d.header.is_none() && d.trailer.is_none());
}

#[test]
fn text_custom_delimiter_null_and_header() {
    let d = check("text_custom");
    assert_eq!(d.header.as_deref(), Some(&b"id|t\n"[..]));
    assert_eq!(d.rows[5][1], None);
    assert_eq!(
        d.rows[9][1].as_deref(),
        Some(&b"comma,semi;pipe|quote\"apos'"[..])
    );
}

#[test]
fn csv_header() {
    let d = check("csv_header");
    assert_eq!(d.header.as_deref(), Some(&b"id,t\n"[..]));
    assert_eq!(d.rows[5][1], None);
    assert_eq!(d.rows[6][1].as_deref(), Some(&b""[..]));
    assert_eq!(
        d.rows[3][1].as_deref(),
        Some(&b"cr\rreturn and crlf\r\nend"[..])
    );
}

#[test]
fn csv_legacy_syntax_with_null_x() {
    let d = check("csv_legacy");
    assert_eq!(d.rows[5][1], None);
    // 'x' equals the NULL string, so PostgreSQL quotes it and it stays a value.
    assert_eq!(d.rows[12][1].as_deref(), Some(&b"x"[..]));
    assert_eq!(d.rows[6][1].as_deref(), Some(&b""[..]));
}

#[test]
fn csv_escape_quote_and_force_quote_all() {
    let d = check("csv_escape");
    assert_eq!(d.rows[14][1].as_deref(), Some(&b"esc\\\"mixed\"\\"[..]));
}

#[test]
fn csv_single_column_quotes_end_marker() {
    let d = check("csv_single");
    assert_eq!(d.rows[11][0].as_deref(), Some(&b"\\."[..]));
}

#[test]
fn csv_table_without_column_list_leaves_out_generated_columns() {
    let d = check("csv_generated");
    assert_eq!(d.header.as_deref(), Some(&b"id,Name\n"[..]));
    let s = copy_select(&case("csv_generated").0).unwrap().unwrap();
    assert_eq!(s.sql, r#"SELECT * FROM ONLY "Gen T""#);
    assert!(s.all_columns);
}

#[test]
fn binary() {
    let d = check("binary");
    assert_eq!(
        d.header.as_deref(),
        Some(&b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0"[..])
    );
    assert_eq!(d.trailer.as_deref(), Some(&b"\xff\xff"[..]));
    assert_eq!(d.rows.len(), 15);
    assert!(d.rows.iter().all(|r| r.len() == 3 && r[2].is_none()));
}
