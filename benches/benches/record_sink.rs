//! guard-record: recording into the file sink (hash chain, JSON, batching, write syscalls).
//!
//! Two workloads:
//! - `statements`: the events of one pgbench -S statement as the gateway records it: a
//!   `SELECT abalance FROM pgbench_accounts WHERE aid = $1` input with one parameter, an
//!   allow decision and a `SELECT 1` result summary (3 events, about 600 bytes), in strict mode
//!   (the input is written to the file before `record` returns) and in best-effort mode
//!   (batched 64 KiB writes). Throughput in events.
//! - `terminal`: terminal output chunks of 1, 16 and 64 KiB (base64 in the file).
//!   Throughput in input bytes.
//!
//! Each sample records into a fresh file under a temporary directory, seals it and deletes it.
//! Before timing, one recording of each workload is verified and its event count asserted.
//!
//! Run: `cargo bench -p guard-benches --bench record_sink -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_main};
use guard_core::{AuthMethod, Identity, Resource, Timestamp, Verdict};
use guard_record::{
    Bytes, DecisionEvent, Event, FileSink, Input, Mode, Output, Param, Protocol, Recorder,
    RecorderConfig, SessionRecorder, SessionStart,
};

fn start(id: &str) -> SessionStart {
    SessionStart::new(
        id,
        Timestamp::from_unix_secs(1_764_115_200),
        Identity::new("bench", AuthMethod::Password),
        Resource::new("pgbench", "postgres"),
        Protocol::Postgres,
        "gw-bench",
    )
}

fn statement_events(aid: u64) -> [Event; 3] {
    [
        Event::Input(Input::Query {
            text: "SELECT abalance FROM pgbench_accounts WHERE aid = $1;".into(),
            params: vec![Some(Param::Text(aid.to_string()))],
        }),
        Event::Decision(DecisionEvent::new(
            Verdict::Allow,
            vec!["pgbench-read".into()],
        )),
        Event::Output(Output::Result {
            tag: "SELECT 1".into(),
            rows: 1,
            bytes: 64,
        }),
    ]
}

/// Records `n` units of `make` into a fresh file; returns the time spent recording.
fn run(
    dir: &std::path::Path,
    mode: Mode,
    n: u64,
    events_per_unit: &dyn Fn(u64) -> Vec<Event>,
) -> Duration {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = format!(
        "b{}",
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let st = start(&id);
    let sink = FileSink::create(dir, &id, st.started_at).expect("file sink");
    let path = sink.path().to_path_buf();
    let mut config = RecorderConfig::new();
    config.mode(mode).max_bytes(None);
    let units: Vec<Vec<Event>> = (0..n.min(1024)).map(events_per_unit).collect();
    let began = Instant::now();
    let mut rec = SessionRecorder::start(sink, &config, st).expect("start");
    let mut t = 0;
    for i in 0..n {
        for e in &units[(i % units.len() as u64) as usize] {
            t += 10;
            rec.record(t, black_box(e)).expect("record");
        }
    }
    rec.finish(t + 1).expect("finish");
    let took = began.elapsed();
    drop(rec);
    std::fs::remove_file(path).expect("remove");
    took
}

fn check(
    dir: &std::path::Path,
    mode: Mode,
    units: u64,
    per: &dyn Fn(u64) -> Vec<Event>,
    expect_events: u64,
) {
    let id = format!("check-{mode:?}-{expect_events}");
    let st = start(&id);
    let sink = FileSink::create(dir, &id, st.started_at).expect("file sink");
    let path = sink.path().to_path_buf();
    let mut config = RecorderConfig::new();
    config.mode(mode);
    let mut rec = SessionRecorder::start(sink, &config, st).expect("start");
    for i in 0..units {
        for e in per(i) {
            rec.record(i, &e).expect("record");
        }
    }
    rec.finish(units).expect("finish");
    drop(rec);
    let summary =
        guard_record::verify(std::fs::File::open(&path).expect("open"), None).expect("verify");
    assert_eq!(summary.events, expect_events);
    std::fs::remove_file(path).expect("remove");
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let statements = |i: u64| statement_events(i + 1).to_vec();
    for mode in [Mode::Strict, Mode::BestEffort] {
        check(dir.path(), mode, 100, &statements, 301);
    }
    let mut g = c.benchmark_group("record_sink/statements");
    g.throughput(Throughput::Elements(3));
    for (name, mode) in [("strict", Mode::Strict), ("best_effort", Mode::BestEffort)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| run(dir.path(), mode, iters, &statements))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("record_sink/terminal");
    for size in [1usize << 10, 16 << 10, 64 << 10] {
        let chunk = move |i: u64| {
            let mut data = vec![b'x'; size];
            data[0] = i as u8;
            vec![Event::Output(Output::ChannelData {
                channel: 0,
                stderr: false,
                data: Bytes(data),
            })]
        };
        check(dir.path(), Mode::Strict, 50, &chunk, 51);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("{}KiB", size >> 10), |b| {
            b.iter_custom(|iters| run(dir.path(), Mode::Strict, iters, &chunk))
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
