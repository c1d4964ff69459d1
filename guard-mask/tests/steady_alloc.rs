//! A stream allocates nothing per chunk once its buffers have grown to the input's needs, and
//! `mask_value` allocates nothing for a clean value. A test binary of its own: the counting
//! allocator of `allocation-counter` replaces the global one here, and one test runs at a time.

#[path = "../testgen/corpus.rs"]
mod corpus;

use guard_mask::{Masker, Strategy};

fn push_all(
    s: &mut guard_mask::MaskStream<&Masker>,
    data: &[u8],
    chunk: usize,
    out: &mut Vec<u8>,
) -> usize {
    let mut n = 0;
    for c in data.chunks(chunk) {
        s.push(c, out);
        n += out.len();
        out.clear();
    }
    n
}

#[test]
fn no_allocation_per_chunk_in_steady_state() {
    // The counter counts in this binary (a control for the zero below).
    let control = allocation_counter::measure(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(16));
    });
    assert!(control.count_total >= 1);
    // Every strategy, so that none of them allocates per value either.
    let m = Masker::builder()
        .strategy("email", Strategy::hash(12))
        .strategy("phone", Strategy::partial(4))
        .strategy("credit_card", Strategy::Shape)
        .strategy("us_ssn", Strategy::Null)
        .hash_key(b"k")
        .build()
        .unwrap();
    for (name, c) in [
        ("dense", corpus::generate(7, 1 << 20)),
        ("sparse", corpus::generate_sparse(7, 1 << 20, 50)),
    ] {
        for chunk in [1usize, 1000, 64 * 1024] {
            let mut s = m.stream();
            let mut out = Vec::with_capacity(2 * chunk + 64 * 1024);
            // The first pass grows the stream's buffers to what this input needs.
            let warm = push_all(&mut s, &c.data, chunk, &mut out);
            let info = allocation_counter::measure(|| {
                let again = push_all(&mut s, &c.data, chunk, &mut out);
                assert!(again > c.data.len() / 2);
            });
            assert!(warm > c.data.len() / 2);
            assert_eq!(
                info.count_total, 0,
                "{name}, {chunk}-byte chunks: {} allocations in the second pass",
                info.count_total
            );
        }
    }
}

#[test]
fn clean_values_are_borrowed_without_allocating() {
    let m = Masker::builder().build().unwrap();
    let values: [&[u8]; 5] = [
        b"alice",
        b"order 1234 shipped 2024-01-15T10:23:45Z",
        b"{\"level\":\"info\",\"req\":1002,\"msg\":\"cache warmed\"}",
        b"",
        "caf\u{e9} \u{4e2d}".as_bytes(),
    ];
    let info = allocation_counter::measure(|| {
        for v in values {
            assert!(matches!(m.mask_value(v), std::borrow::Cow::Borrowed(_)));
        }
    });
    assert_eq!(info.count_total, 0);
}
