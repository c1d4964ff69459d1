//! Runs the behaviour tables in `guard-core/testdata/*.toml` against the public API.

use std::path::Path;

use guard_core::{
    AuthMethod, BuildError, FactDef, FactType, Facts, Format, Grant, Identity, Policy, Request,
    Resource, Timestamp,
};
use serde::Deserialize;

static SCHEMA: &[FactDef] = &[
    FactDef::new("sql.statement", FactType::Str, "statement kind"),
    FactDef::new("sql.effect", FactType::Str, "effect"),
    FactDef::names("sql.tables.read", FactType::List, "tables read"),
    FactDef::names("sql.tables.write", FactType::List, "tables written"),
    FactDef::new("sql.unbounded", FactType::Bool, "no WHERE"),
    FactDef::new("sql.rows", FactType::Int, "row estimate"),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    policy: String,
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "alice")]
    subject: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    facts: Facts,
    #[serde(default = "noon")]
    now: i64,
    #[serde(default)]
    grants: Vec<Grant>,
    verdict: String,
    rules: Option<Vec<String>>,
    #[serde(default)]
    masks: Vec<String>,
    used_grants: Option<Vec<String>>,
}

fn alice() -> String {
    "alice".into()
}

fn noon() -> i64 {
    1_704_110_400
}

fn run_table(file: &str) -> usize {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let table: Table = toml::from_str(&text).unwrap();
    let policy = Policy::builder()
        .fact_schema(SCHEMA)
        .build(&table.policy)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    for case in &table.case {
        let id = Identity::new(case.subject.clone(), AuthMethod::Trust)
            .with_groups(case.groups.iter().cloned());
        let mut resource = Resource::new("payments", "postgres");
        for (k, v) in &case.labels {
            resource = resource.with_label(k.clone(), v.clone());
        }
        let req = Request::new(
            &id,
            &resource,
            &case.facts,
            Timestamp::from_unix_secs(case.now),
        )
        .with_grants(&case.grants);
        let d = policy.evaluate(&req);
        let ctx = format!("{file}: case {:?}: {}", case.name, d.explain);
        assert_eq!(d.verdict.kind(), case.verdict, "{ctx}");
        if let Some(rules) = &case.rules {
            assert_eq!(&d.rules, rules, "{ctx}");
        }
        assert_eq!(d.masks, case.masks, "{ctx}");
        if let Some(g) = &case.used_grants {
            assert_eq!(&d.grants, g, "{ctx}");
        }
    }
    table.case.len()
}

#[test]
fn matchers_table() {
    assert!(run_table("matchers.toml") >= 15);
}

#[test]
fn grants_table() {
    assert!(run_table("grants.toml") >= 8);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorTable {
    case: Vec<ErrorCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    name: String,
    #[serde(default)]
    format: Option<String>,
    source: String,
    error: String,
    rule: String,
    line: usize,
}

#[test]
fn errors_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/errors.toml");
    let table: ErrorTable = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(table.case.len() >= 10);
    for case in &table.case {
        let format = match case.format.as_deref() {
            None | Some("toml") => Format::Toml,
            Some("yaml") => Format::Yaml,
            Some("json") => Format::Json,
            Some(other) => panic!("unknown format {other}"),
        };
        let e = Policy::builder()
            .fact_schema(SCHEMA)
            .format(format)
            .build(&case.source)
            .expect_err(&case.name);
        let kind = match &e {
            BuildError::Syntax { .. } => "syntax",
            BuildError::DuplicateId { .. } => "duplicate_id",
            BuildError::UnknownFact { .. } => "unknown_fact",
            BuildError::TypeMismatch { .. } => "type_mismatch",
            BuildError::BadPattern { .. } => "bad_pattern",
            BuildError::InvalidRule { .. } => "invalid_rule",
            other => panic!("{}: unexpected {other:?}", case.name),
        };
        let ctx = format!("case {:?}: {e}", case.name);
        assert_eq!(kind, case.error, "{ctx}");
        assert_eq!(e.rule(), Some(case.rule.as_str()), "{ctx}");
        assert_eq!(e.line_column().map(|(l, _)| l), Some(case.line), "{ctx}");
    }
}
