//! guard-record's verifier and readers on arbitrary bytes: `verify`, `read_events`,
//! `write_timeline` and `write_cast` never panic; and a valid recording built from the input,
//! with any one byte changed, never verifies as intact.
#![no_main]

use guard_core::{AuthMethod, Identity, Resource, Timestamp};
use guard_record::{
    Bytes, Event, Input, MemorySink, Output, Protocol, Recorder, RecorderConfig, SessionRecorder,
    SessionStart, SigningKey,
};
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() < 4 || data.len() > 256 * 1024 {
        return Corpus::Reject;
    }
    let (mode, rest) = (data[0], &data[1..]);
    let key = SigningKey::from_bytes(&[7; 32]);
    if mode & 1 == 0 {
        // The input as a recording file.
        let _ = guard_record::verify(rest, None);
        let _ = guard_record::verify(rest, Some(&key.verifying_key()));
        for _ in guard_record::read_events(rest).take(10_000) {}
        let _ = guard_record::write_timeline(rest, std::io::sink(), mode & 2 == 0);
        let _ = guard_record::write_cast(rest, std::io::sink(), &guard_record::CastOptions::new());
        if let Ok(sql) = std::str::from_utf8(rest) {
            let _ = guard_record::redact_sql_credentials(sql);
            let _ = guard_record::credential_parameters(sql);
        }
        return Corpus::Keep;
    }
    // A valid recording whose events come from the input, then one byte changed.
    let (pos, delta, body) = (
        u16::from_le_bytes([rest[0], rest[1]]) as usize,
        rest[2],
        &rest[3..],
    );
    let start = SessionStart::new(
        "fuzz",
        Timestamp::from_unix_secs(0),
        Identity::new("f", AuthMethod::Trust),
        Resource::new("r", "ssh"),
        Protocol::Ssh,
        "gw",
    );
    let sink = MemorySink::new();
    let mut config = RecorderConfig::new();
    if mode & 2 != 0 {
        config.signing_key(Some(key.clone()));
    }
    let Ok(mut rec) = SessionRecorder::start(sink.clone(), &config, start) else {
        return Corpus::Reject;
    };
    for (i, chunk) in body.chunks(37).enumerate() {
        let event = match chunk.first().map(|b| b % 3) {
            Some(0) => Event::Input(Input::Query {
                text: String::from_utf8_lossy(chunk).into_owned(),
                params: vec![],
            }),
            Some(1) => Event::Input(Input::ChannelData {
                channel: 0,
                data: Bytes(chunk.to_vec()),
            }),
            _ => Event::Output(Output::ChannelData {
                channel: u32::from(chunk[0] >> 6),
                stderr: false,
                data: Bytes(chunk.to_vec()),
            }),
        };
        rec.record(i as u64 * 1000, &event)
            .expect("memory sink accepts");
    }
    rec.finish(u64::MAX / 2).expect("seal");
    let good = sink.contents();
    let trusted = key.verifying_key();
    let trusted = (mode & 2 != 0).then_some(&trusted);
    assert!(
        guard_record::verify(&good[..], trusted).is_ok(),
        "a fresh recording must verify"
    );
    if delta != 0 {
        let mut bad = good.clone();
        let at = pos % bad.len();
        bad[at] = bad[at].wrapping_add(delta);
        assert!(
            guard_record::verify(&bad[..], None).is_err(),
            "changing byte {at} by {delta} went unnoticed"
        );
    }
    Corpus::Keep
});
