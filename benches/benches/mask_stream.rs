//! guard-mask throughput: the default catalog over the labelled synthetic corpus
//! (guard-mask/testgen/corpus.rs, see benches/data/README.md), pushed in chunks of 1, 16 and
//! 64 KiB, the low-density corpus (`generate_sparse`) at 64 KiB, plus `mask_value` on short
//! clean values and the findings-only mode.

#[path = "../../guard-mask/testgen/corpus.rs"]
mod corpus;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use guard_mask::Masker;

fn mask_stream(c: &mut Criterion) {
    let data = corpus::generate(0x6d61_736b, 4 * 1024 * 1024);
    let m = Masker::builder().build().expect("default catalog compiles");

    // Assert the result before timing: every label is found exactly.
    let found = m.find(&data.data);
    let want: Vec<(usize, usize, &str)> = data
        .labels
        .iter()
        .map(|l| (l.start, l.end, l.detector))
        .collect();
    let got: Vec<(usize, usize, &str)> = found
        .iter()
        .map(|f| (f.start, f.end, &*f.detector))
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "findings differ from the corpus labels"
    );
    assert!(got == want, "findings differ from the corpus labels");

    let mut g = c.benchmark_group("mask_stream");
    g.throughput(Throughput::Bytes(data.data.len() as u64));
    g.sample_size(10);
    for kib in [1usize, 16, 64] {
        // The chunked output equals the whole-input output.
        let mut s = m.stream();
        let mut out = Vec::with_capacity(data.data.len());
        for ch in data.data.chunks(kib * 1024) {
            s.push(ch, &mut out);
        }
        s.finish(&mut out);
        assert_eq!(out, m.mask(&data.data));

        g.bench_with_input(
            BenchmarkId::new("push", format!("{kib}KiB")),
            &kib,
            |b, &kib| {
                let mut s = m.stream();
                let mut out = Vec::with_capacity(kib * 1024 * 2);
                b.iter(|| {
                    let mut n = 0;
                    for ch in data.data.chunks(kib * 1024) {
                        s.push(ch, &mut out);
                        n += out.len();
                        out.clear();
                    }
                    s.finish(&mut out);
                    n + out.len()
                })
            },
        );
    }
    g.finish();

    // Low density (a sensitive value every ~50 records, ~4 KiB): what most logs and result
    // sets look like. Same checks first.
    let sparse = corpus::generate_sparse(0x6d61_736b, 4 * 1024 * 1024, 50);
    let found = m.find(&sparse.data);
    assert!(
        found
            .iter()
            .map(|f| (f.start, f.end, &*f.detector))
            .eq(sparse.labels.iter().map(|l| (l.start, l.end, l.detector))),
        "findings differ from the sparse corpus labels"
    );
    let mut g = c.benchmark_group("mask_stream_sparse");
    g.throughput(Throughput::Bytes(sparse.data.len() as u64));
    g.sample_size(10);
    g.bench_function("push/64KiB", |b| {
        let mut s = m.stream();
        let mut out = Vec::with_capacity(128 * 1024);
        b.iter(|| {
            let mut n = 0;
            for ch in sparse.data.chunks(64 * 1024) {
                s.push(ch, &mut out);
                n += out.len();
                out.clear();
            }
            s.finish(&mut out);
            n + out.len()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("mask_stream");
    g.throughput(Throughput::Bytes(data.data.len() as u64));
    g.sample_size(10);
    g.bench_function("findings/64KiB", |b| {
        let mut s = m.stream();
        let mut f = Vec::new();
        b.iter(|| {
            for ch in data.data.chunks(64 * 1024) {
                s.push_findings(ch, &mut f);
            }
            s.finish_findings(&mut f);
            let n = f.len();
            f.clear();
            n
        })
    });
    g.finish();

    // Clean short values, as a DataRow column: no allocation, no match.
    let values: Vec<String> = (0..1000)
        .map(|i| format!("order {i} shipped to warehouse {}", i % 17))
        .collect();
    let bytes: u64 = values.iter().map(|v| v.len() as u64).sum();
    assert!(
        values
            .iter()
            .all(|v| matches!(m.mask_value(v.as_bytes()), std::borrow::Cow::Borrowed(_)))
    );
    let mut g = c.benchmark_group("mask_value");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("clean_columns", |b| {
        b.iter(|| {
            values
                .iter()
                .filter(|v| matches!(m.mask_value(v.as_bytes()), std::borrow::Cow::Owned(_)))
                .count()
        })
    });
    g.finish();
}

// `criterion_group!` generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::mask_stream);
}
criterion_main!(group::benches);
