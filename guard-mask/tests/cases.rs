//! Runs testdata/cases.toml against the public API, whole and chunked at every byte.

use guard_mask::Masker;
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: String,
    found: Vec<String>,
}

fn describe(m: &Masker, input: &[u8]) -> Vec<String> {
    m.find(input)
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f.detector,
                String::from_utf8_lossy(&input[f.start..f.end])
            )
        })
        .collect()
}

#[test]
fn behaviour_table() {
    let table: Table = toml::from_str(include_str!("../testdata/cases.toml")).unwrap();
    let m = Masker::builder().build().unwrap();
    let mut failures = Vec::new();
    for c in &table.case {
        let got = describe(&m, c.input.as_bytes());
        if got != c.found {
            failures.push(format!(
                "{}:\n  want {:?}\n  got  {:?}",
                c.name, c.found, got
            ));
        }
        // Streams chunked at every size agree with the whole-input answer.
        let whole = m.mask(c.input.as_bytes());
        for size in [1, 2, 3, 7, 64] {
            let mut s = m.stream();
            let mut out = Vec::new();
            for chunk in c.input.as_bytes().chunks(size) {
                s.push(chunk, &mut out);
            }
            s.finish(&mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&whole),
                "{} chunk {size}",
                c.name
            );
            let mut s = m.stream();
            let mut f = Vec::new();
            for chunk in c.input.as_bytes().chunks(size) {
                s.push_findings(chunk, &mut f);
            }
            s.finish_findings(&mut f);
            assert_eq!(
                f,
                m.find(c.input.as_bytes()),
                "{} findings chunk {size}",
                c.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A token longer than its detector's `max_len` (longer than any real one) is masked up to
/// `max_len`, whole and in every chunking, rather than left readable because the byte after
/// the cut is part of it.
#[test]
fn over_long_tokens_are_masked_up_to_max_len() {
    let m = Masker::builder().build().unwrap();
    for (prefix, max, det) in [
        ("ghp_", 300, "github_token"),
        ("ya29.", 2048, "google_oauth_token"),
        ("hvs.", 400, "vault_token"),
    ] {
        let input = format!("token {prefix}{} end", "aB3".repeat(1000));
        let found = m.find(input.as_bytes());
        let got: Vec<_> = found
            .iter()
            .map(|f| (f.start, f.end, &*f.detector))
            .collect();
        assert_eq!(got, [(6, 6 + max, det)], "{prefix}");
        let whole = m.mask(input.as_bytes());
        for size in [1, 7, 4096] {
            let mut s = m.stream();
            let mut out = Vec::new();
            for chunk in input.as_bytes().chunks(size) {
                s.push(chunk, &mut out);
            }
            s.finish(&mut out);
            assert_eq!(out, whole, "{prefix} chunk {size}");
        }
    }
}

#[cfg(feature = "serde")]
#[test]
fn profile_from_toml() {
    let p: guard_mask::Profile = toml::from_str(
        r#"
        detectors = ["credit_card", "email", "us_ssn"]
        default_strategy = { kind = "redact" }
        max_region = 4096
        [strategies]
        credit_card = { kind = "partial", keep_last = 4 }
        email = { kind = "hash", length = 10 }
        [[custom]]
        name = "employee_id"
        regex = "EMP-[0-9]{6}"
        max_len = 10
        context = ["employee"]
        [[keywords]]
        name = "codename"
        words = ["Bluebird"]
        case_insensitive = true
        [[columns]]
        column = "*.users.ssn"
        strategy = { kind = "null" }
        [[json]]
        path = "data.*"
        strategy = { kind = "redact", label = "SECRET" }
        "#,
    )
    .unwrap();
    assert_eq!(p.max_region, Some(4096));
    let m = Masker::builder().profile(p).hash_key(b"k").build().unwrap();
    let out =
        m.mask(b"card 4111111111111111 employee EMP-123456 BLUEBIRD bob@example.com 10.0.0.1");
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("card ************1111 employee [EMPLOYEE_ID] [CODENAME] "),
        "{out}"
    );
    assert!(out.ends_with(" 10.0.0.1"), "{out}"); // ipv4 not enabled
    assert_eq!(
        m.column_rule("ssn", Some("hr.users.ssn")),
        Some(&guard_mask::Strategy::Null)
    );
    assert!(toml::from_str::<guard_mask::Profile>("bogus = 1").is_err());
}
