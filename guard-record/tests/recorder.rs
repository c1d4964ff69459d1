//! The recorder: modes, size cap, sinks, credentials, replay and asciinema export.

mod common;

use common::*;
use guard_core::Verdict;
use guard_record::*;

fn query(t: &str) -> Event {
    Event::Input(Input::Query {
        text: t.into(),
        params: vec![],
    })
}

fn out(n: usize) -> Event {
    Event::Output(Output::ChannelData {
        channel: 0,
        stderr: false,
        data: Bytes(vec![b'x'; n]),
    })
}

#[test]
fn strict_mode_writes_input_ahead_and_batches_the_rest() {
    let sink = MemorySink::new();
    let mut rec = SessionRecorder::start(
        sink.clone(),
        &RecorderConfig::new(),
        start("s", Protocol::Postgres),
    )
    .unwrap();
    let after_start = sink.contents().len();
    assert!(after_start > 0, "session start is written at once");
    rec.record(10, &out(10)).unwrap();
    assert_eq!(
        sink.contents().len(),
        after_start,
        "output waits for the batch"
    );
    rec.record(20, &query("SELECT 1")).unwrap();
    let text = String::from_utf8(sink.contents()).unwrap();
    assert!(
        text.contains("SELECT 1"),
        "input is in the sink before record returns"
    );
    rec.record(30, &out(10)).unwrap();
    rec.flush().unwrap();
    assert_eq!(lines(&sink.contents()).len(), 4);
    rec.sync().unwrap();
    assert_eq!(sink.syncs(), 1);
    rec.finish(40).unwrap();
    assert!(sink.is_finished());
    assert!(matches!(
        rec.record(50, &out(1)),
        Err(RecordError::Finished)
    ));
    rec.finish(60).unwrap(); // idempotent
    assert_eq!(verify(&sink.contents()[..], None).unwrap().events, 4);
}

#[test]
fn strict_mode_returns_sink_failures_and_keeps_refusing() {
    let sink = MemorySink::new();
    let mut rec = SessionRecorder::start(
        sink.clone(),
        &RecorderConfig::new(),
        start("s", Protocol::Postgres),
    )
    .unwrap();
    sink.fail_after(sink.contents().len());
    let e = rec.record(1, &query("DELETE FROM t")).unwrap_err();
    assert!(matches!(e, RecordError::Sink { .. }), "{e}");
    assert_eq!(e.sqlstate(), "58030");
    assert!(matches!(
        rec.record(2, &query("SELECT 1")),
        Err(RecordError::Stopped { .. })
    ));
    assert!(matches!(rec.finish(3), Err(RecordError::Incomplete { .. })));
    assert!(
        verify(&sink.contents()[..], None)
            .unwrap_err()
            .is_truncation()
    );
}

#[test]
fn best_effort_mode_counts_failures_and_goes_on() {
    let sink = MemorySink::new();
    let mut config = RecorderConfig::new();
    config.mode(Mode::BestEffort).batch_bytes(0);
    let mut rec =
        SessionRecorder::start(sink.clone(), &config, start("s", Protocol::Postgres)).unwrap();
    rec.record(1, &query("SELECT 1")).unwrap();
    sink.fail_after(sink.contents().len());
    for t in 2..10 {
        rec.record(t, &query("SELECT 2")).unwrap();
    }
    let stats = rec.stats();
    assert_eq!(stats.failures, 1);
    assert_eq!(stats.dropped, 7);
    let e = rec.finish(10).unwrap_err();
    assert!(
        matches!(
            e,
            RecordError::Incomplete {
                failures: 1,
                dropped: 7,
                ..
            }
        ),
        "{e}"
    );
    // What reached the sink verifies as truncated: never as complete.
    let e = verify(&sink.contents()[..], None).unwrap_err();
    assert!(matches!(e, VerifyError::Truncated { lines: 2, .. }), "{e}");
}

#[test]
fn size_cap_strict_errors_after_the_marker() {
    let sink = MemorySink::new();
    let mut config = RecorderConfig::new();
    config.max_bytes(Some(64 << 10));
    let mut rec = SessionRecorder::start(sink.clone(), &config, start("s", Protocol::Ssh)).unwrap();
    let mut result = Ok(());
    for t in 0..1000 {
        result = rec.record(t, &out(1000));
        if result.is_err() {
            break;
        }
    }
    let e = result.unwrap_err();
    assert!(
        matches!(e, RecordError::SizeCap { limit_bytes: 65536 }),
        "{e}"
    );
    assert_eq!(e.sqlstate(), "54000");
    assert!(rec.record(2000, &out(1)).is_err());
    rec.record(2001, &Event::SessionEnd(SessionEnd::new("recording cap")))
        .unwrap();
    rec.finish(2002).unwrap();
    let bytes = sink.contents();
    assert!(bytes.len() as u64 <= 64 << 10, "{}", bytes.len());
    let s = verify(&bytes[..], None).unwrap();
    assert!(s.capped);
    let evs = read_all_events(&bytes[..]).unwrap();
    let n = evs.len();
    assert!(matches!(
        evs[n - 2].event,
        Event::SizeCap(SizeCap {
            limit_bytes: 65536,
            ..
        })
    ));
    assert!(matches!(evs[n - 1].event, Event::SessionEnd(_)));
}

#[test]
fn size_cap_best_effort_drops_output_but_seals() {
    let sink = MemorySink::new();
    let mut config = RecorderConfig::new();
    config.max_bytes(Some(64 << 10)).mode(Mode::BestEffort);
    let mut rec = SessionRecorder::start(sink.clone(), &config, start("s", Protocol::Ssh)).unwrap();
    for t in 0..200 {
        rec.record(t, &out(1000)).unwrap();
    }
    rec.record(300, &Event::SessionEnd(SessionEnd::new("client closed")))
        .unwrap();
    rec.finish(301).unwrap();
    let stats = rec.stats();
    assert!(
        stats.capped && stats.sealed && stats.dropped > 100,
        "{stats:?}"
    );
    let bytes = sink.contents();
    assert!(bytes.len() as u64 <= 64 << 10);
    let s = verify(&bytes[..], None).unwrap();
    assert!(s.capped);
    assert_eq!(s.dropped, stats.dropped);
}

#[test]
fn oversize_event_is_refused() {
    let sink = MemorySink::new();
    let mut rec = SessionRecorder::start(
        sink.clone(),
        &RecorderConfig::new(),
        start("s", Protocol::Ssh),
    )
    .unwrap();
    let e = rec.record(1, &out(MAX_LINE_BYTES)).unwrap_err();
    assert!(matches!(e, RecordError::EventTooLarge { .. }), "{e}");
    // The chain is untouched: the recording still verifies.
    rec.record(2, &out(10)).unwrap();
    rec.finish(3).unwrap();
    assert_eq!(verify(&sink.contents()[..], None).unwrap().events, 2);
}

#[test]
fn time_offsets_never_go_backwards() {
    let events = vec![(100, out(1)), (50, out(1)), (200, out(1))];
    let bytes = record(start("s", Protocol::Ssh), &events, None, 10);
    let ts: Vec<u64> = read_all_events(&bytes[..])
        .unwrap()
        .iter()
        .map(|e| e.t_us)
        .collect();
    assert_eq!(ts, [0, 100, 100, 200]);
    assert_eq!(verify(&bytes[..], None).unwrap().duration_us, 200);
}

#[test]
fn bad_session_ids_are_refused() {
    let e = SessionRecorder::start(
        MemorySink::new(),
        &RecorderConfig::new(),
        start("../etc", Protocol::Ssh),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            RecordError::Sink {
                source: SinkError::BadSessionId { .. }
            }
        ),
        "{e}"
    );
}

#[test]
#[cfg(feature = "file")]
fn file_sink_layout_and_no_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let st = start("sess-1", Protocol::Postgres);
    let sink = FileSink::create(dir.path(), "sess-1", st.started_at).unwrap();
    let path = sink.path().to_path_buf();
    assert_eq!(path, dir.path().join("2025/11/26/sess-1.jsonl"));
    let mut rec = SessionRecorder::start(sink, &RecorderConfig::new(), st.clone()).unwrap();
    for (t, e) in example_events() {
        rec.record(t, &e).unwrap();
    }
    rec.finish(4_000_000).unwrap();
    drop(rec);
    let f = std::fs::File::open(&path).unwrap();
    assert_eq!(verify(f, None).unwrap().events, 9);
    assert!(matches!(
        FileSink::create(dir.path(), "sess-1", st.started_at),
        Err(SinkError::Io { .. })
    ));
}

#[test]
#[cfg(feature = "file")]
fn dropped_recorder_leaves_a_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let st = start("crash", Protocol::Postgres);
    let sink = FileSink::create(dir.path(), "crash", st.started_at).unwrap();
    let path = sink.path().to_path_buf();
    let mut rec = SessionRecorder::start(sink, &RecorderConfig::new(), st).unwrap();
    rec.record(1, &out(5)).unwrap();
    drop(rec);
    let e = verify(std::fs::File::open(&path).unwrap(), None).unwrap_err();
    assert!(
        matches!(e, VerifyError::Truncated { lines: 2, line: 3 }),
        "{e}"
    );
}

#[test]
fn credentials_never_enter_a_recording() {
    let secrets = ["hunter2", "s3cret", "tok-123", "pw-in-param", "mysqlpw"];
    let statements = [
        "CREATE ROLE app LOGIN PASSWORD 'hunter2'",
        "SELECT dblink_connect('host=db password=s3cret')",
        "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'x', password 'tok-123')",
        "CREATE USER m IDENTIFIED BY 'mysqlpw'",
    ];
    let mut events: Vec<(u64, Event)> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                i as u64,
                Event::Input(Input::Query {
                    text: redact_sql_credentials(s).into_owned(),
                    params: vec![],
                }),
            )
        })
        .collect();
    // A password passed as a Bind parameter is withheld.
    let sql = "ALTER ROLE app PASSWORD $1";
    let redacted = credential_parameters(sql);
    let params = ["pw-in-param"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Some(if redacted.contains(&(i + 1)) {
                Param::Redacted(true)
            } else {
                Param::Text((*p).into())
            })
        })
        .collect();
    events.push((
        10,
        Event::Input(Input::Query {
            text: sql.into(),
            params,
        }),
    ));
    events.push((
        11,
        Event::Decision(DecisionEvent::new(Verdict::Allow, vec![])),
    ));
    let bytes = record(start("cred", Protocol::Postgres), &events, None, 20);
    let text = String::from_utf8(bytes).unwrap();
    for s in secrets {
        assert!(!text.contains(s), "{s} leaked into {text}");
    }
    assert_eq!(text.matches(REDACTED).count(), 4);
    assert!(text.contains(r#""params":[{"redacted":true}]"#));
}

#[test]
fn timeline_reads_like_a_session() {
    let bytes = example_bytes();
    let mut text = Vec::new();
    assert_eq!(write_timeline(&bytes[..], &mut text, false).unwrap(), 9);
    let text = String::from_utf8(text).unwrap();
    let ls: Vec<&str> = text.lines().collect();
    assert!(
        ls[1].starts_with("2025-11-26T00:00:00.001200Z  +0.001200s  alice"),
        "{}",
        ls[1]
    );
    assert!(
        ls[1].ends_with("SELECT id, email, card FROM customers LIMIT 2"),
        "{}",
        ls[1]
    );
    assert!(
        ls[2].ends_with("allow [read-prod] masks [pii]"),
        "{}",
        ls[2]
    );
    assert!(ls[3].ends_with("2 rows (id, email, card)"), "{}", ls[3]);
    assert!(
        ls[6].contains("deny [no-role-changes]: role changes need an approval"),
        "{}",
        ls[6]
    );
    let mut json = Vec::new();
    write_timeline(&bytes[..], &mut json, true).unwrap();
    let first: serde_json::Value =
        serde_json::from_slice(json.split(|&b| b == b'\n').nth(5).unwrap()).unwrap();
    assert_eq!(first["kind"], "input");
    assert_eq!(first["identity"], "alice");
    assert_eq!(first["t_us"], 2_000_000);
    assert_eq!(first["detail"], "ALTER ROLE app PASSWORD '[redacted]'");
}

fn terminal_session() -> Vec<u8> {
    let events = vec![
        (
            10,
            Event::Input(Input::Resize {
                channel: 0,
                cols: 120,
                rows: 40,
            }),
        ),
        (
            500_000,
            Event::Output(Output::ChannelData {
                channel: 0,
                stderr: false,
                data: Bytes(b"$ ".to_vec()),
            }),
        ),
        (
            1_000_000,
            Event::Input(Input::ChannelData {
                channel: 0,
                data: Bytes(b"l".to_vec()),
            }),
        ),
        (
            1_000_100,
            Event::Output(Output::ChannelData {
                channel: 0,
                stderr: false,
                data: Bytes("l\r\n\u{20ac}".as_bytes()[..4].to_vec()),
            }),
        ),
        (
            1_500_000,
            Event::Output(Output::ChannelData {
                channel: 0,
                stderr: false,
                data: Bytes("\u{20ac}\r\n".as_bytes()[1..].to_vec()),
            }),
        ),
        (
            1_600_000,
            Event::Output(Output::ChannelData {
                channel: 1,
                stderr: false,
                data: Bytes(b"other".to_vec()),
            }),
        ),
        (
            2_000_000,
            Event::Input(Input::Resize {
                channel: 0,
                cols: 100,
                rows: 30,
            }),
        ),
        (
            2_000_001,
            Event::Output(Output::ExitStatus {
                channel: 0,
                status: 0,
            }),
        ),
    ];
    record(start("tty", Protocol::Ssh), &events, None, 2_000_002)
}

#[test]
fn asciinema_export_has_the_v2_shape() {
    let bytes = terminal_session();
    let mut cast = Vec::new();
    let mut opts = CastOptions::new();
    opts.channel(Some(0));
    let stats = write_cast(&bytes[..], &mut cast, &opts).unwrap();
    let text = String::from_utf8(cast).unwrap();
    let ls: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ls[0]["version"], 2);
    assert_eq!(ls[0]["width"], 120);
    assert_eq!(ls[0]["height"], 40);
    assert_eq!(ls[0]["timestamp"], 1_764_115_200);
    assert_eq!(ls[1], serde_json::json!([0.5, "o", "$ "]));
    assert_eq!(ls[2], serde_json::json!([1.0001, "o", "l\r\n"]));
    assert_eq!(ls[3], serde_json::json!([1.5, "o", "\u{20ac}\r\n"]));
    assert_eq!(ls[4], serde_json::json!([2.0, "r", "100x30"]));
    assert_eq!(ls.len(), 5);
    assert_eq!(stats.events, 4);
    // Every event line is [number, "o"|"i"|"r", string] with non-decreasing times.
    let mut with_input = CastOptions::new();
    with_input.include_input(true);
    let mut cast = Vec::new();
    write_cast(&bytes[..], &mut cast, &with_input).unwrap();
    let mut last = 0.0;
    for l in String::from_utf8(cast).unwrap().lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 3);
        let t = a[0].as_f64().unwrap();
        assert!(t >= last);
        last = t;
        assert!(["o", "i", "r"].contains(&a[1].as_str().unwrap()));
        assert!(a[2].is_string());
    }
    let frames: Vec<_> = terminal_frames(&bytes[..], Some(0))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0], (500_000, b"$ ".to_vec()));
}
