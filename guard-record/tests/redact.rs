//! The credential redaction table in `testdata/redact.toml`, against the public API.

#[derive(serde::Deserialize)]
struct Table {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    sql: String,
    redacted: String,
    #[serde(default)]
    params: Vec<usize>,
}

#[test]
fn redaction_table() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/redact.toml"))
            .unwrap();
    let table: Table = toml::from_str(&text).unwrap();
    assert!(table.case.len() >= 20);
    for c in &table.case {
        assert_eq!(
            guard_record::redact_sql_credentials(&c.sql),
            c.redacted,
            "{}",
            c.name
        );
        assert_eq!(
            guard_record::redact_sql_credentials(&c.redacted),
            c.redacted,
            "{} (twice)",
            c.name
        );
        assert_eq!(
            guard_record::credential_parameters(&c.sql),
            c.params,
            "{} (params)",
            c.name
        );
    }
}
