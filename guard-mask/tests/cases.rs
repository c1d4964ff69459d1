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
