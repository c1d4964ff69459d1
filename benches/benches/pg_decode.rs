//! guard-sql's PostgreSQL wire decoders: framing plus DataRow field splitting.
//!
//! Inputs are synthetic and built here, deterministically:
//! - backend: RowDescription (6 columns) + 100 000 DataRows of mixed widths (int, short and
//!   medium text, a sometimes-NULL email, a timestamp, a 0-400 byte note) + CommandComplete +
//!   ReadyForQuery, about 12 MB;
//! - frontend: 20 000 extended-protocol batches (Parse, Bind with 3 parameters, Describe,
//!   Execute, Sync) after a StartupMessage.
//!
//! Each benchmark decodes the whole stream, fed as one buffer or in chunks of 16 KiB and
//! 64 KiB (and 1 byte for the frontend stream) the way a proxy receives it, and for DataRows
//! walks every field. The expected message, row and byte counts are asserted before timing.
//!
//! Run: `cargo bench -p guard-benches --bench pg_decode -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use guard_sql::pg::{
    BackendDecoder, BackendMessage, Bind, CommandComplete, DataRow, Decoded, Describe, Execute,
    FieldDescription, FrontendDecoder, FrontendMessage, Limits, Parse, PgStr, ProtocolVersion,
    ReadyForQuery, RowDescription, StartupMessage, Target, TransactionStatus,
};

const ROWS: usize = 100_000;
const BATCHES: usize = 20_000;

/// A small deterministic generator (xorshift), so the stream is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The backend stream and the sum of all non-NULL field lengths in its DataRows.
fn backend_stream() -> (Vec<u8>, u64) {
    let mut w = Vec::new();
    let col =
        |name: &'static str, column_id: i16, type_oid: u32, type_size: i16| FieldDescription {
            name: PgStr::from_static(name),
            table_oid: 16_384,
            column_id,
            type_oid,
            type_size,
            type_modifier: -1,
            format: 0,
        };
    RowDescription::encode_fields(
        [
            col("id", 1, 23, 4),
            col("name", 2, 25, -1),
            col("city", 3, 25, -1),
            col("email", 4, 25, -1),
            col("created_at", 5, 1184, 8),
            col("note", 6, 25, -1),
        ],
        &mut w,
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let filler = [b'x'; 400];
    let mut field_bytes = 0u64;
    for i in 0..ROWS {
        let id = i.to_string();
        let name = &filler[..3 + (rng.next() % 20) as usize];
        let city = &filler[..5 + (rng.next() % 40) as usize];
        let email =
            (!rng.next().is_multiple_of(4)).then(|| &filler[..10 + (rng.next() % 30) as usize]);
        let ts = b"2026-11-26 10:41:26.123456+00";
        let note = &filler[..(rng.next() % 400) as usize];
        let vals = [
            Some(id.as_bytes()),
            Some(name),
            Some(city),
            email,
            Some(&ts[..]),
            Some(note),
        ];
        field_bytes += vals.iter().flatten().map(|v| v.len() as u64).sum::<u64>();
        DataRow::encode_values(vals, &mut w);
    }
    CommandComplete {
        tag: PgStr::from_static("SELECT 100000"),
    }
    .encode(&mut w);
    ReadyForQuery {
        status: TransactionStatus::Idle,
    }
    .encode(&mut w);
    (w, field_bytes)
}

fn frontend_stream() -> Vec<u8> {
    let mut w = Vec::new();
    StartupMessage::encode_params(
        ProtocolVersion::V3_0,
        [
            (PgStr::from_static("user"), PgStr::from_static("app")),
            (PgStr::from_static("database"), PgStr::from_static("shop")),
        ],
        &mut w,
    );
    let sql = PgStr::from_static(
        "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE o.customer_id = $1 AND o.created_at > $2 LIMIT $3",
    );
    for i in 0..BATCHES {
        let id = i.to_string();
        Parse::encode_parts(PgStr::EMPTY, sql, &[20, 1184, 20], &mut w);
        Bind::encode_parts(
            PgStr::EMPTY,
            PgStr::EMPTY,
            &[0],
            [
                Some(id.as_bytes()),
                Some(&b"2026-01-01 00:00:00+00"[..]),
                Some(&b"50"[..]),
            ],
            &[0],
            &mut w,
        );
        Describe {
            target: Target::Portal,
            name: PgStr::EMPTY,
        }
        .encode(&mut w);
        Execute {
            portal: PgStr::EMPTY,
            max_rows: 0,
        }
        .encode(&mut w);
        FrontendMessage::Sync.encode(&mut w);
    }
    w
}

/// What decoding found: messages, DataRows, and the sum of field lengths.
#[derive(Debug, Default, PartialEq, Eq)]
struct Count {
    messages: u64,
    rows: u64,
    field_bytes: u64,
}

/// Decodes `wire` delivered in `chunk`-byte pieces into a proxy-style buffer (0: all at once).
fn decode_backend(wire: &[u8], chunk: usize) -> Count {
    let mut dec = BackendDecoder::new(Limits::default());
    let mut c = Count::default();
    let mut on_msg = |msg: &BackendMessage<'_>| {
        c.messages += 1;
        if let BackendMessage::DataRow(row) = msg {
            c.rows += 1;
            for v in row.values.iter().flatten() {
                c.field_bytes += v.len() as u64;
            }
        }
    };
    if chunk == 0 {
        let mut rest = wire;
        while let Ok(Decoded::Message { len, msg }) = dec.decode(rest) {
            on_msg(&msg);
            rest = &rest[len..];
        }
    } else {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut pos = 0;
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Ok(Decoded::Message { len, msg }) = dec.decode(&buf[pos..]) {
                on_msg(&msg);
                pos += len;
            }
            if pos > buf.len() / 2 {
                buf.drain(..pos);
                pos = 0;
            }
        }
    }
    c
}

fn decode_frontend(wire: &[u8], chunk: usize) -> Count {
    let mut dec = FrontendDecoder::new(Limits::default());
    let mut c = Count::default();
    let mut on_msg = |msg: &FrontendMessage<'_>| {
        c.messages += 1;
        if let FrontendMessage::Bind(b) = msg {
            c.rows += 1;
            for v in b.params.iter().flatten() {
                c.field_bytes += v.len() as u64;
            }
        }
    };
    if chunk == 0 {
        let mut rest = wire;
        while let Ok(Decoded::Message { len, msg }) = dec.decode(rest) {
            on_msg(&msg);
            rest = &rest[len..];
        }
    } else {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut pos = 0;
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Ok(Decoded::Message { len, msg }) = dec.decode(&buf[pos..]) {
                on_msg(&msg);
                pos += len;
            }
            if pos > buf.len() / 2 {
                buf.drain(..pos);
                pos = 0;
            }
        }
    }
    c
}

fn bench(c: &mut Criterion) {
    let (back, field_bytes) = backend_stream();
    let expected = Count {
        messages: ROWS as u64 + 3,
        rows: ROWS as u64,
        field_bytes,
    };
    let mut g = c.benchmark_group("pg_decode/backend_datarows");
    g.throughput(Throughput::Bytes(back.len() as u64));
    g.sample_size(20);
    for (label, chunk) in [
        ("whole", 0),
        ("chunk_16k", 16 << 10),
        ("chunk_64k", 64 << 10),
    ] {
        assert_eq!(decode_backend(&back, chunk), expected, "{label}");
        g.bench_function(label, |b| {
            b.iter(|| decode_backend(black_box(&back), chunk))
        });
    }
    g.finish();

    let front = frontend_stream();
    let id_bytes: u64 = (0..BATCHES).map(|i| i.to_string().len() as u64).sum();
    let expected = Count {
        messages: 1 + 5 * BATCHES as u64,
        rows: BATCHES as u64,
        field_bytes: id_bytes + 24 * BATCHES as u64,
    };
    let mut g = c.benchmark_group("pg_decode/frontend_extended");
    g.throughput(Throughput::Bytes(front.len() as u64));
    g.sample_size(10);
    for (label, chunk) in [
        ("whole", 0),
        ("chunk_1", 1),
        ("chunk_16k", 16 << 10),
        ("chunk_64k", 64 << 10),
    ] {
        assert_eq!(decode_frontend(&front, chunk), expected, "{label}");
        g.bench_function(label, |b| {
            b.iter(|| decode_frontend(black_box(&front), chunk))
        });
    }
    g.finish();
}

// `criterion_group!` generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;

criterion_main!(benches);
