//! The format and the verifier: the committed example, every tamper case, properties.

mod common;

use common::*;
use guard_record::*;
use proptest::prelude::*;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/example.jsonl");
const EXAMPLE_PUB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/example.pub");

#[test]
fn committed_example_is_what_the_recorder_writes_and_verifies() {
    let fresh = example_bytes();
    if std::env::var_os("GUARD_RECORD_BLESS").is_some() {
        std::fs::write(EXAMPLE, &fresh).unwrap();
        std::fs::write(
            EXAMPLE_PUB,
            format_verifying_key(&test_key().verifying_key()),
        )
        .unwrap();
    }
    let committed = std::fs::read(EXAMPLE).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&committed),
        String::from_utf8_lossy(&fresh),
        "rerun with GUARD_RECORD_BLESS=1"
    );
    let key = parse_verifying_key(&std::fs::read_to_string(EXAMPLE_PUB).unwrap()).unwrap();
    let s = verify(&committed[..], Some(&key)).unwrap();
    assert_eq!(s.session, "2f6c9a1e-example");
    assert_eq!(s.events, 9);
    assert_eq!(s.signature, SignatureStatus::Trusted);
    assert_eq!(s.duration_us, 3_500_001);
    assert!(!String::from_utf8_lossy(&committed).contains("hunter2"));
    // The first line links to the documented constant.
    assert!(String::from_utf8_lossy(&committed).starts_with(&format!(
        "{{\"seq\":0,\"prev\":\"{GENESIS_HEX}\",\"t\":0,\"type\":\"session_start\""
    )));
}

#[test]
fn format_md_shows_the_committed_example() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/FORMAT.md")).unwrap();
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    assert!(
        spec.contains(&format!("```\n{example}```")),
        "FORMAT.md's example is out of date"
    );
    assert!(spec.contains(GENESIS_HEX));
}

fn err(b: &[u8]) -> VerifyError {
    verify(b, Some(&test_key().verifying_key())).unwrap_err()
}

#[test]
fn flipped_byte_in_each_line_names_that_line_or_the_next() {
    let good = example_bytes();
    let ls = lines(&good);
    let mut offset = 0;
    for (i, l) in ls.iter().enumerate() {
        // flip a byte in the middle of the line (inside a value or the structure)
        for pos in [l.len() / 2, 10, l.len() - 3] {
            let mut bad = good.clone();
            bad[offset + pos] ^= 0x04;
            let e = err(&bad);
            let line = i as u64 + 1;
            assert!(
                e.line() == line || e.line() == line + 1,
                "line {line} pos {pos}: {e}"
            );
            assert!(!e.is_truncation() || pos == l.len() - 1, "{e}");
        }
        offset += l.len();
    }
}

#[test]
fn deleted_line_is_found_where_the_gap_is() {
    let ls = lines(&example_bytes());
    for del in 0..ls.len() - 1 {
        let bad: Vec<u8> = ls
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != del)
            .flat_map(|(_, l)| l.clone())
            .collect();
        let e = err(&bad);
        assert_eq!(e.line(), del as u64 + 1, "deleting line {}: {e}", del + 1);
        if del > 0 {
            assert!(matches!(e, VerifyError::ChainBroken { .. }), "{e}");
        }
    }
}

#[test]
fn inserted_line_is_found() {
    let ls = lines(&example_bytes());
    for at in 1..ls.len() {
        // A copy of an earlier line, and a well-formed line with the right prev but a wrong seq.
        let mut bad = ls.clone();
        bad.insert(at, ls[at - 1].clone());
        let e = err(&bad.concat());
        assert_eq!(e.line(), at as u64 + 1, "{e}");
    }
}

#[test]
fn reordered_lines_are_found() {
    let ls = lines(&example_bytes());
    for a in 1..ls.len() - 1 {
        let mut bad = ls.clone();
        bad.swap(a, a + 1);
        let e = err(&bad.concat());
        assert_eq!(e.line(), a as u64 + 1, "swap {a}: {e}");
        assert!(matches!(e, VerifyError::ChainBroken { .. }), "{e}");
    }
}

#[test]
fn truncations_read_as_truncated_never_complete() {
    let good = example_bytes();
    let ls = lines(&good);
    // Whole lines cut off (the seal and more).
    for keep in 0..ls.len() {
        let bad = ls[..keep].concat();
        let e = err(&bad);
        assert!(
            matches!(e, VerifyError::Truncated { lines, .. } if lines == keep as u64),
            "{e}"
        );
        assert_eq!(e.exit_code(), 3);
    }
    // Cut anywhere: never Ok.
    for cut in 0..good.len() {
        let e = verify(&good[..cut], None).unwrap_err();
        assert!(e.is_truncation(), "cut at {cut}: {e}");
    }
}

#[test]
fn replaced_seals_are_found() {
    let good = example_bytes();
    let ls = lines(&good);
    let body = ls[..ls.len() - 1].concat();
    let seal_line = ls.len() as u64;
    // A seal from another recording (other session, other chain).
    let other = record(
        start("other", Protocol::Postgres),
        &example_events(),
        Some(&test_key()),
        3_500_001,
    );
    let other_seal = lines(&other).pop().unwrap();
    let e = err(&[body.clone(), other_seal].concat());
    assert!(
        matches!(e, VerifyError::ChainBroken { line, .. } if line == seal_line),
        "{e}"
    );
    // A seal that drops the last events: truncate then seal again with another key.
    let shorter = record(
        start("2f6c9a1e-example", Protocol::Postgres),
        &example_events()[..3],
        Some(&SigningKey::from_bytes(&[8; 32])),
        9,
    );
    let e = err(&shorter);
    assert!(matches!(e, VerifyError::WrongKey { .. }), "{e}");
    // An unsigned seal where a signed one is expected.
    let unsigned = record(
        start("2f6c9a1e-example", Protocol::Postgres),
        &example_events(),
        None,
        3_500_001,
    );
    let e = err(&unsigned);
    assert!(matches!(e, VerifyError::Unsigned { .. }), "{e}");
    assert_eq!(e.line(), seal_line);
    // Edited counts with a recomputed digest: the signature no longer holds.
    let text = String::from_utf8(ls.last().unwrap().clone()).unwrap();
    let edited = text.replace("\"dropped\":0", "\"dropped\":1");
    let e = err(&[body.as_slice(), edited.as_bytes()].concat());
    assert!(matches!(e, VerifyError::BadSeal { .. }), "{e}");
    // Counts that disagree with the chain, in an otherwise self-consistent unsigned seal.
    let unsigned_ls = lines(&unsigned);
    let seal: serde_json::Value = serde_json::from_slice(unsigned_ls.last().unwrap()).unwrap();
    assert_eq!(seal["events"], 9);
}

#[test]
fn wrong_signatures_are_found() {
    let good = example_bytes();
    let ls = lines(&good);
    let body = ls[..ls.len() - 1].concat();
    let seal = String::from_utf8(ls.last().unwrap().clone()).unwrap();
    // Flip one hex digit of the signature.
    let pos = seal.rfind("\"sig\":\"").unwrap() + 10;
    let mut s = seal.into_bytes();
    s[pos] = if s[pos] == b'0' { b'1' } else { b'0' };
    let bad = [body.as_slice(), &s].concat();
    assert!(matches!(
        verify(&bad[..], None).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    assert!(matches!(err(&bad), VerifyError::BadSignature { .. }));
    // The right signature, but checked against another trusted key.
    let other = SigningKey::from_bytes(&[9; 32]).verifying_key();
    let e = verify(&good[..], Some(&other)).unwrap_err();
    assert!(matches!(e, VerifyError::WrongKey { .. }), "{e}");
    assert_eq!(e.exit_code(), 1);
    // Without a trusted key the signature is still checked against the seal's own key.
    assert!(matches!(
        verify(&good[..], None).unwrap().signature,
        SignatureStatus::ValidUntrusted { .. }
    ));
}

#[test]
fn data_after_the_seal_is_found() {
    let good = example_bytes();
    let n = lines(&good).len() as u64;
    let mut bad = good.clone();
    bad.extend_from_slice(b"\n");
    assert!(matches!(err(&bad), VerifyError::DataAfterSeal { line } if line == n + 1));
    let doubled = [good.clone(), lines(&good).pop().unwrap()].concat();
    assert!(matches!(err(&doubled), VerifyError::DataAfterSeal { .. }));
}

#[test]
fn garbage_is_refused_not_panicked_on() {
    for input in [
        &b""[..],
        b"\n",
        b"{}\n",
        b"not json\n",
        b"{\"seq\":0}\n",
        &[0xff; 40],
    ] {
        assert!(verify(input, None).is_err());
    }
    let long = vec![b'a'; MAX_LINE_BYTES + 10];
    assert!(matches!(
        verify(&long[..], None).unwrap_err(),
        VerifyError::LineTooLong { line: 1, .. }
    ));
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            ".{0,40}",
            proptest::collection::vec(proptest::option::of(".{0,8}"), 0..3)
        )
            .prop_map(|(text, ps)| Event::Input(Input::Query {
                text,
                params: ps.into_iter().map(|p| p.map(Param::Text)).collect(),
            })),
        (0u32..3, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(channel, d)| {
            Event::Output(Output::ChannelData {
                channel,
                stderr: false,
                data: Bytes(d),
            })
        }),
        (0u32..3, proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(channel, d)| {
            Event::Input(Input::ChannelData {
                channel,
                data: Bytes(d),
            })
        }),
        (".{0,10}", any::<u64>()).prop_map(|(tag, rows)| Event::Output(Output::Result {
            tag,
            rows,
            bytes: 0
        })),
        ".{0,20}".prop_map(|m| Event::Error(ErrorEvent {
            code: None,
            message: m,
            fault: "upstream".into()
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn written_recordings_verify_and_any_byte_change_breaks_them(
        events in proptest::collection::vec((0u64..1_000_000, arb_event()), 0..12),
        signed in any::<bool>(),
        pick in any::<proptest::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let key = signed.then(test_key);
        let bytes = record(start("prop", Protocol::Ssh), &events, key.as_ref(), 2_000_000);
        let summary = verify(&bytes[..], key.as_ref().map(|k| k.verifying_key()).as_ref()).unwrap();
        prop_assert_eq!(summary.events, events.len() as u64 + 1);
        let read: Vec<_> = read_events(&bytes[..]).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(read.len(), events.len() + 1);
        for (r, (_, e)) in read[1..].iter().zip(&events) {
            prop_assert_eq!(&r.event, e);
        }
        let mut bad = bytes.clone();
        let i = pick.index(bad.len());
        bad[i] = bad[i].wrapping_add(delta);
        prop_assert!(verify(&bad[..], None).is_err(), "change at {} verified", i);
    }
}
