//! Runs the behaviour table `testdata/classify.toml`: SQL -> expected facts.
//!
//! Each case gives `sql` (and optionally `dialect`, and `session`: statements run through a
//! [`Session`] first, for PREPARE/EXECUTE). `facts` are checked against the whole string's
//! facts, `[[case.statement]]` tables against each statement's facts in order. Every case runs
//! uncached, cached twice (so the second answer comes from the cache), and through a session.

use std::collections::BTreeMap;

use guard_core::{FactValue, Facts};
use guard_sql::Session;
use guard_sql::classify::{Classifier, Dialect};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    sql: String,
    #[serde(default)]
    dialect: Option<String>,
    #[serde(default)]
    session: Vec<String>,
    #[serde(default)]
    facts: BTreeMap<String, toml::Value>,
    #[serde(default)]
    statement: Vec<BTreeMap<String, toml::Value>>,
}

fn expected(v: &toml::Value) -> FactValue {
    match v {
        toml::Value::String(s) => FactValue::Str(s.clone()),
        toml::Value::Boolean(b) => FactValue::Bool(*b),
        toml::Value::Integer(i) => FactValue::Int(*i),
        toml::Value::Array(a) => FactValue::List(
            a.iter()
                .map(|x| x.as_str().expect("lists hold strings").to_owned())
                .collect(),
        ),
        other => panic!("unsupported expected value {other:?}"),
    }
}

fn check(
    case: &str,
    what: &str,
    facts: &Facts,
    want: &BTreeMap<String, toml::Value>,
) -> Vec<String> {
    let mut errors = Vec::new();
    for (name, v) in want {
        let want = expected(v);
        match facts.get(name) {
            Some(got) if *got == want => {}
            got => errors.push(format!("{case} ({what}): {name}: want {want}, got {got:?}")),
        }
    }
    errors
}

#[test]
fn corpus() {
    let text = include_str!("../testdata/classify.toml");
    let corpus: Corpus = toml::from_str(text).expect("testdata/classify.toml parses");
    let pg = Classifier::new();
    let my = Classifier::builder().dialect(Dialect::MySql).build();
    let mut errors = Vec::new();
    let mut names = std::collections::HashSet::new();
    for case in &corpus.case {
        assert!(
            names.insert(case.name.clone()),
            "duplicate case name {}",
            case.name
        );
        let cl = match case.dialect.as_deref() {
            None | Some("postgres") => &pg,
            Some("mysql") => &my,
            Some(d) => panic!("unknown dialect {d}"),
        };
        let mut session = Session::new();
        for s in &case.session {
            session.classify_query(cl, s);
        }
        let via_session = session.classify_query(cl, &case.sql);
        let uncached = cl.classify_uncached(&case.sql);
        let cached = cl.classify(&case.sql);
        assert_eq!(
            *cached, uncached,
            "{}: cached differs from uncached",
            case.name
        );
        assert_eq!(
            *cl.classify(&case.sql),
            uncached,
            "{}: second lookup differs",
            case.name
        );
        // Without a session, only the PREPARE/EXECUTE cases may differ.
        let c = if case.session.is_empty() && !case.sql.to_lowercase().contains("execute") {
            assert_eq!(
                *via_session, uncached,
                "{}: session changed a plain statement",
                case.name
            );
            cached
        } else {
            via_session
        };
        errors.extend(check(&case.name, "string", &c.facts(), &case.facts));
        if !case.statement.is_empty() {
            if case.statement.len() != c.statements.len() {
                errors.push(format!(
                    "{}: want {} statements, got {}",
                    case.name,
                    case.statement.len(),
                    c.statements.len()
                ));
                continue;
            }
            for (i, want) in case.statement.iter().enumerate() {
                let facts = c.statement_facts(i).expect("index in range");
                errors.extend(check(&case.name, &format!("statement {i}"), &facts, want));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(
        corpus.case.len() >= 100,
        "the corpus shrank to {} cases",
        corpus.case.len()
    );
}
