//! The output does not depend on how the stream was chunked; arbitrary bytes never panic.

use guard_mask::{Masker, Strategy};
use proptest::prelude::{
    ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;

const SAMPLES: &[&str] = &[
    "4111 1111 1111 1111",
    "card 378282246310005 ",
    "ssn 123-45-6789",
    "SSN: 078051120",
    "alice.smith+x@mail.example.co.uk",
    "(415) 555-0132 ext. 7",
    "+44 20 7946 0958",
    "10.0.0.1",
    "fe80::1:2:3",
    "00:1a:2b:3c:4d:5e",
    "DE89 3704 0044 0532 0130 00",
    "AB 12 34 56 C",
    "AKIAIOSFODNN7EXAMPLE",
    "password=hunter22",
    "postgres://u:pw123456@db:5432/x",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_sig_sig",
    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "routing number 021000021",
    "\"aws_secret_access_key\" : 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'",
    "client_secret:  s3cr3t-Value",
    "xoxb-1234567890-abcdefghij SK0123456789abcdef0123456789abcdef",
    " 2024-01-15T10:23:45Z ",
    "\u{e9}\u{4e2d}",
];

fn input() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(SAMPLES).prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(
                prop::sample::select(b" 0123456789-.:@+(AZaz".to_vec()),
                0..40
            ),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn chunked(m: &Masker, data: &[u8], cuts: &[usize]) -> (Vec<u8>, Vec<guard_mask::Finding>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut s = m.stream();
    let mut f = m.stream();
    let mut out = Vec::new();
    let mut found = Vec::new();
    let mut prev = 0;
    for p in points.into_iter().chain([data.len()]) {
        s.push(&data[prev..p], &mut out);
        f.push_findings(&data[prev..p], &mut found);
        prev = p;
    }
    s.finish(&mut out);
    f.finish_findings(&mut found);
    (out, found)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn split_points_are_invisible(data in input(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let m = Masker::builder().build().unwrap();
        let (out, found) = chunked(&m, &data, &cuts);
        prop_assert_eq!(out, m.mask(&data));
        prop_assert_eq!(found, m.find(&data));
    }

    #[test]
    fn findings_are_ordered_disjoint_and_in_bounds(data in input()) {
        let m = Masker::builder().build().unwrap();
        let f = m.find(&data);
        let mut last = 0;
        for x in &f {
            prop_assert!(x.start >= last && x.start < x.end && x.end <= data.len());
            last = x.end;
        }
    }
}

proptest! {
    // Each case builds four maskers: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn every_strategy_is_chunking_independent(data in input(), cut in any::<usize>()) {
        for s in ["partial:4", "hash:8", "shape", "null"] {
            let m = Masker::builder().default_strategy(s.parse::<Strategy>().unwrap()).hash_key(b"k").build().unwrap();
            let (out, _) = chunked(&m, &data, &[cut]);
            prop_assert_eq!(out, m.mask(&data));
        }
    }
}

#[test]
fn byte_at_a_time_on_generated_corpus() {
    #[path = "../testgen/corpus.rs"]
    mod corpus;
    let c = corpus::generate(7, 40_000);
    let m = Masker::builder().build().unwrap();
    let mut s = m.stream();
    let mut out = Vec::new();
    for b in &c.data {
        s.push(std::slice::from_ref(b), &mut out);
        // Bounded hold-back: never more than the longest window behind (PEM blocks aside).
        assert!(s.pending() <= 17_000);
    }
    s.finish(&mut out);
    assert_eq!(out, m.mask(&c.data));
}

#[test]
fn custom_detectors_and_keywords_stream_too() {
    let m = Masker::builder()
        .custom(guard_mask::CustomDetector::new(
            "employee_id",
            "EMP-[0-9]{6}",
            10,
        ))
        .custom(
            guard_mask::CustomDetector::new("ticket", "[a-z]+-[0-9]{3,5}", 20)
                .with_context(&["ticket"], 16),
        )
        .keywords(guard_mask::KeywordList::new(
            "codename",
            &["bluebird", "nightjar"],
        ))
        .build()
        .unwrap();
    let data = b"EMP-123456 ticket abc-1234 and xyz-999 bluebird nightjars bluebird.";
    let got: Vec<(&str, String)> = m
        .find(data)
        .iter()
        .map(|f| {
            (
                &*f.detector,
                String::from_utf8_lossy(&data[f.start..f.end]).into_owned(),
            )
        })
        .map(|(d, s)| {
            (
                if d == "employee_id" {
                    "employee_id"
                } else if d == "ticket" {
                    "ticket"
                } else {
                    "codename"
                },
                s,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("employee_id", "EMP-123456".to_owned()),
            ("ticket", "abc-1234".to_owned()),
            ("codename", "bluebird".to_owned()),
            ("codename", "bluebird".to_owned()),
        ]
    );
    for size in 1..8 {
        let mut s = m.stream();
        let mut out = Vec::new();
        for c in data.chunks(size) {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        assert_eq!(out, m.mask(data));
    }
}

#[test]
fn build_errors() {
    use guard_mask::{BuildError, CustomDetector};
    let e = |d: CustomDetector| Masker::builder().custom(d).build().unwrap_err();
    assert!(matches!(
        e(CustomDetector::new("a", "(?<=x)y", 5)),
        BuildError::Syntax { .. } | BuildError::Regex { .. }
    ));
    assert!(matches!(
        e(CustomDetector::new("a", "x{10}", 5)),
        BuildError::MaxLen {
            needed: Some(10),
            ..
        }
    ));
    assert!(matches!(
        e(CustomDetector::new("a", "x*", 5)),
        BuildError::EmptyMatch { .. }
    ));
    assert!(matches!(
        e(CustomDetector::new("email", "x", 5)),
        BuildError::DuplicateName { .. }
    ));
    assert!(matches!(
        Masker::builder().detectors(["nope"]).build().unwrap_err(),
        BuildError::UnknownDetector { .. }
    ));
    assert!(matches!(
        Masker::builder()
            .default_strategy(Strategy::Shape)
            .build()
            .unwrap_err(),
        BuildError::MissingKey { .. }
    ));
}

#[test]
fn mask_value_borrows_when_clean_and_column_rules() {
    let m = Masker::builder()
        .column_rule(guard_mask::ColumnRule::new("*.users.ssn", Strategy::Null))
        .build()
        .unwrap();
    assert!(matches!(
        m.mask_value(b"nothing to see 12345"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(&*m.mask_value(b"bob@example.com"), b"[EMAIL]");
    assert_eq!(
        m.column_rule("ssn", Some("public.users.ssn")),
        Some(&Strategy::Null)
    );
    assert_eq!(
        m.apply_strategy(&Strategy::partial(2), b"123-45-6789"),
        b"***-**-**89"
    );
}
