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
    "\npassword: correct horse battery staple",
    "\n  - secret = my dog rex  # old\n",
    "2024 4111 1111 1111 1111 ",
    "PASSWORD 'it''s'",
    "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "whsec_0123456789abcdefghijABCDEFGHIJ0123",
    "=Zx48Q~AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "sha256~0123456789abcdefghij_-ABCDEFGHIJKLMNOPQRS01",
    "0011.22aa.BBcc",
    "AbCdEfGhIj0123.atlasv1.0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
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

/// Custom detectors whose first bytes lie outside the built-in trigger set take the three
/// scan paths: `#` and the lead bytes of U+0100..U+01FF are extra bytes of the block test; a first byte
/// that is a digit makes the scan step over digit runs instead of trimming them; more than
/// eight extra first bytes send the scan byte by byte. Each must find exactly the union of the regex's anchored matches at
/// every position (overlapping ones merged), whole and chunked.
fn custom_oracle(pattern: &str, data: &[u8]) -> Vec<(usize, usize)> {
    use regex_automata::{Anchored, Input, meta::Regex};
    let re = Regex::new(pattern).unwrap();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for p in 0..data.len() {
        let input = Input::new(data).range(p..).anchored(Anchored::Yes);
        if let Some(m) = re.search(&input) {
            if m.is_empty() {
                continue;
            }
            match spans.last_mut() {
                Some(last) if m.start() < last.1 => last.1 = last.1.max(m.end()),
                _ => spans.push((m.start(), m.end())),
            }
        }
    }
    spans
}

const CUSTOM_PATTERNS: &[(&str, usize)] = &[
    ("#[0-9]{6}", 7),
    ("[0-9]{3}x[0-9]{3}", 7),
    ("[g-r]#[0-9]{4}", 6),
    // Non-ASCII first bytes: U+0100..U+01FF start with one of the four bytes 0xC4..0xC7,
    // all extra bytes of the block test (and too many code points for literal prefixes).
    (r"[\x{100}-\x{1FF}][0-9]{4}", 6),
];

fn custom_input() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    const FRAGS: &[&str] = &[
        "#123456",
        "##1234567",
        "123x456x789",
        "12x345",
        "k#1234",
        "g#12345 r#0000",
        "#",
        "x",
        " ",
        "0",
        "\n",
        "q#",
        "1234",
        "caf\u{101}1234",
        "\u{1f0}\u{e9}12345\u{250}0000\u{1ff}4321",
        "\u{f1}1234",
        "\u{4e2d}",
    ];
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(FRAGS).prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ],
        0..80,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn custom_first_bytes_on_every_scan_path(
        which in 0..CUSTOM_PATTERNS.len(),
        data in custom_input(),
        cuts in prop::collection::vec(0usize..1024, 0..12),
    ) {
        let (pattern, max_len) = CUSTOM_PATTERNS[which];
        let m = Masker::builder()
            .detectors::<_, &str>([])
            .custom(guard_mask::CustomDetector::new("c", pattern, max_len))
            .build()
            .unwrap();
        let got: Vec<(usize, usize)> = m.find(&data).iter().map(|f| (f.start, f.end)).collect();
        prop_assert_eq!(got, custom_oracle(pattern, &data), "{}", pattern);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut s = m.stream();
        let mut out = Vec::new();
        let mut prev = 0;
        for p in points.into_iter().chain([data.len()]) {
            s.push(&data[prev..p], &mut out);
            prev = p;
        }
        s.finish(&mut out);
        prop_assert_eq!(out, m.mask(&data));
    }
}

#[test]
fn custom_first_byte_beside_the_builtin_catalog() {
    // `#` joins the block test's set while the built-in digit detectors keep digit runs
    // trimmed: tickets, cards and SSNs side by side, whole and chunked at every size.
    let m = Masker::builder()
        .custom(guard_mask::CustomDetector::new("ticket", "#[0-9]{6}", 7))
        .build()
        .unwrap();
    let mut data = Vec::new();
    for k in 0..40 {
        data.extend_from_slice(
            format!(
                "row {k}: #{:06} card 4111 1111 1111 1111 ssn 123-45-6789 ##99 #12345\n",
                k * 7919
            )
            .as_bytes(),
        );
    }
    let found = m.find(&data);
    let tickets = found.iter().filter(|f| &*f.detector == "ticket").count();
    let cards = found
        .iter()
        .filter(|f| &*f.detector == "credit_card")
        .count();
    let ssns = found.iter().filter(|f| &*f.detector == "us_ssn").count();
    assert_eq!((tickets, cards, ssns), (40, 40, 40));
    for f in found.iter().filter(|f| &*f.detector == "ticket") {
        assert_eq!(data[f.start], b'#');
        assert_eq!(f.end - f.start, 7);
    }
    let whole = m.mask(&data);
    for size in [1, 3, 63, 64, 65, 1000] {
        let mut s = m.stream();
        let mut out = Vec::new();
        for c in data.chunks(size) {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        assert_eq!(out, whole, "chunk {size}");
    }
}

/// Pieces that chain detections into one region without end (each overlaps the next).
const CHAINS: &[&str] = &[
    "password=",
    "glpat-",
    "xoxb-",
    "secret: ",
    "ghp_",
    "abcdefghij",
];

fn chained_input() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            (prop::sample::select(CHAINS), 1..60usize).prop_map(|(s, n)| s.repeat(n).into_bytes()),
            prop::sample::select(SAMPLES).prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(prop::sample::select(b" =:-_aZ09".to_vec()), 0..20),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With a small `max_region`, regions longer than it are masked in pieces cut at its
    /// multiples and reported whole, the same way however the stream is chunked.
    #[test]
    fn long_regions_are_cut_at_the_same_places(
        data in chained_input(),
        region in prop::sample::select(vec![64usize, 100, 257]),
        strategy in prop::sample::select(vec!["redact", "partial:4", "hash:8", "shape"]),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let m = Masker::builder()
            .max_region(region)
            .default_strategy(strategy.parse::<Strategy>().unwrap())
            .hash_key(b"k")
            .build()
            .unwrap();
        let (out, found) = chunked(&m, &data, &cuts);
        prop_assert_eq!(out, m.mask(&data));
        prop_assert_eq!(&found, &m.find(&data));
        let mut last = 0;
        for f in &found {
            prop_assert!(f.start >= last && f.start < f.end && f.end <= data.len());
            last = f.end;
        }
    }
}

/// A region without end (each `password=` overlaps the next detection) does not make the
/// stream keep it: what is pending stays under the region limit plus the usual hold-back.
#[test]
fn a_region_without_end_keeps_bounded_memory() {
    let region = 4096;
    let m = Masker::builder().max_region(region).build().unwrap();
    let mut s = m.stream();
    let chunk = "password=".repeat(7282).into_bytes(); // ~64 KiB
    let mut out = Vec::new();
    let mut most = 0;
    for _ in 0..160 {
        out.clear();
        s.push(&chunk, &mut out);
        most = most.max(s.pending());
    }
    s.finish(&mut out);
    assert!(
        most <= region + chunk.len() + 2048,
        "pending grew to {most} bytes over {} pushed",
        160 * chunk.len()
    );
    // Reporting findings keeps no more, and reports the region once.
    let mut f = m.stream();
    let mut found = Vec::new();
    let mut most = 0;
    for _ in 0..160 {
        f.push_findings(&chunk, &mut found);
        most = most.max(f.pending());
    }
    f.finish_findings(&mut found);
    assert!(
        most <= region + chunk.len() + 2048,
        "findings: pending grew to {most}"
    );
    let spans: Vec<(usize, usize)> = found.iter().map(|x| (x.start, x.end)).collect();
    assert_eq!(spans, [(9, 160 * chunk.len())]);
    // All of it is masked but the first key: a label per piece.
    let whole = m.mask(&chunk.repeat(4));
    assert!(whole.starts_with(b"password=[PASSWORD_ASSIGNMENT]"));
    assert!(
        !whole[9..].windows(9).any(|w| w == b"password="),
        "{}",
        String::from_utf8_lossy(&whole[..200])
    );
}

#[test]
fn max_region_has_a_minimum() {
    let e = Masker::builder().max_region(63).build().unwrap_err();
    assert!(
        matches!(e, guard_mask::BuildError::MaxRegion { bytes: 63 }),
        "{e}"
    );
    assert!(
        Masker::builder()
            .max_region(guard_mask::MIN_MAX_REGION)
            .build()
            .is_ok()
    );
}

/// A profile names the region limit (gateway profiles are files); the builder's own call
/// overrides it, and the minimum holds for both.
#[test]
fn max_region_from_a_profile() {
    let input = "password=".repeat(100);
    let labels = |m: &Masker| {
        String::from_utf8(m.mask(input.as_bytes()))
            .unwrap()
            .matches("[PASSWORD_ASSIGNMENT]")
            .count()
    };
    let mut p = guard_mask::Profile::default();
    p.max_region = Some(64);
    let small = Masker::builder().profile(p.clone()).build().unwrap();
    // 891 bytes after the first key, cut at the multiples of 64.
    assert_eq!(labels(&small), 900 / 64 + 1);
    assert_eq!(labels(&Masker::builder().build().unwrap()), 1);
    let overridden = Masker::builder()
        .profile(p.clone())
        .max_region(1 << 20)
        .build()
        .unwrap();
    assert_eq!(labels(&overridden), 1);
    p.max_region = Some(63);
    assert!(matches!(
        Masker::builder().profile(p).build().unwrap_err(),
        guard_mask::BuildError::MaxRegion { bytes: 63 }
    ));
}

/// A region no longer than `max_region` stays whole where it crosses a multiple of it, in
/// every chunking; a longer one is cut there.
#[test]
fn regions_are_cut_only_when_longer_than_max_region() {
    let m = Masker::builder().max_region(64).build().unwrap();
    let spans = |data: &[u8]| -> Vec<(usize, usize)> {
        m.find(data).iter().map(|f| (f.start, f.end)).collect()
    };
    // An address across offset 64, and one found later that reaches back across it.
    let mut data = vec![b' '; 56];
    data.extend_from_slice(b"alice.smith@example.com and more");
    assert_eq!(spans(&data), [(56, 79)]);
    for size in [1, 7, 64] {
        let cuts: Vec<usize> = (size..data.len()).step_by(size).collect();
        let (_, found) = chunked(&m, &data, &cuts);
        let got: Vec<(usize, usize)> = found.iter().map(|f| (f.start, f.end)).collect();
        assert_eq!(got, [(56, 79)], "chunk {size}");
    }
    // 40 chained `password=` from offset 0: one region of 351 bytes (the first key is not
    // part of the value), reported whole and masked in six pieces cut at 64, 128, ..., 320.
    let data = "password=".repeat(40).into_bytes();
    assert_eq!(spans(&data), [(9, data.len())]);
    let masked = m.mask(&data);
    assert_eq!(
        String::from_utf8_lossy(&masked),
        format!("password={}", "[PASSWORD_ASSIGNMENT]".repeat(6))
    );
    for size in [1, 7, 64] {
        let cuts: Vec<usize> = (size..data.len()).step_by(size).collect();
        let (out, found) = chunked(&m, &data, &cuts);
        assert_eq!(out, masked, "chunk {size}");
        assert_eq!(found, m.find(&data), "chunk {size}");
    }
}
