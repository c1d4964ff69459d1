//! Masking a stream split at arbitrary points gives the same bytes and findings as masking
//! it whole; nothing panics.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use guard_mask::Masker;
use libfuzzer_sys::{Corpus, fuzz_target};

#[derive(Debug, Arbitrary)]
struct Case {
    profile: u8,
    cuts: Vec<u16>,
    data: Vec<u8>,
}

/// Three profiles, one per scan path of the engine: the built-ins with a literal-prefixed
/// custom regex, a keyword list, a custom first byte the block test adds (`#`) and the
/// smallest `max_region` (regions longer than 64 bytes are cut in pieces); the
/// built-ins with a custom regex starting with a digit (digit runs stepped over, not
/// trimmed); and a custom regex with more first bytes than the block test takes (byte by byte).
fn maskers() -> &'static [Masker; 3] {
    static M: OnceLock<[Masker; 3]> = OnceLock::new();
    M.get_or_init(|| {
        let build =
            |b: &mut guard_mask::MaskerBuilder| b.build().expect("the fuzz profile compiles");
        [
            build(
                Masker::builder()
                    .custom(guard_mask::CustomDetector::new("emp", "EMP-[0-9]{4,6}", 10))
                    .custom(guard_mask::CustomDetector::new("ticket", "#[0-9]{6}", 7))
                    .keywords(guard_mask::KeywordList::new("kw", &["secretproject"]))
                    .max_region(guard_mask::MIN_MAX_REGION),
            ),
            build(Masker::builder().custom(guard_mask::CustomDetector::new(
                "part",
                "[0-9]{3}x[0-9]{3}",
                7,
            ))),
            build(Masker::builder().custom(guard_mask::CustomDetector::new(
                "tag",
                "[g-r]#[0-9]{4}",
                6,
            ))),
        ]
    })
}

fuzz_target!(|case: Case| -> Corpus {
    if case.data.len() > 64 * 1024 || case.cuts.len() > 64 {
        return Corpus::Reject;
    }
    let m = &maskers()[usize::from(case.profile % 3)];
    let data = &case.data;
    let mut points: Vec<usize> = case
        .cuts
        .iter()
        .map(|&c| usize::from(c) % (data.len() + 1))
        .collect();
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
    assert_eq!(out, m.mask(data));
    assert_eq!(found, m.find(data));
    let mut last = 0;
    for x in &found {
        assert!(x.start >= last && x.start < x.end && x.end <= data.len());
        last = x.end;
    }
    Corpus::Keep
});
