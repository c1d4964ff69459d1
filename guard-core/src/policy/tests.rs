//! Unit and property tests of the compiler and evaluator.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::{AuthMethod, FactDef, FactType, FactValue};

static SCHEMA: &[FactDef] = &[
    FactDef::new("sql.statement", FactType::Str, "statement kind"),
    FactDef::new("sql.effect", FactType::Str, "read or write"),
    FactDef::names("sql.tables.write", FactType::List, "tables written"),
    FactDef::names("sql.tables.read", FactType::List, "tables read"),
    FactDef::new("sql.unbounded", FactType::Bool, "no WHERE"),
    FactDef::new("sql.rows", FactType::Int, "row estimate"),
    FactDef::new("sql.comment", FactType::Str, "leading comment"),
];
static K8S: &[FactDef] = &[FactDef::new("k8s.verb", FactType::Str, "verb")];

fn build(src: &str) -> Result<Policy, BuildError> {
    Policy::builder()
        .fact_schema(SCHEMA)
        .fact_schema(K8S)
        .build(src)
}

fn policy(src: &str) -> Policy {
    match build(src) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn alice() -> Identity {
    Identity::new("alice", AuthMethod::Password).with_groups(["dev"])
}

fn db() -> Resource {
    Resource::new("payments-prod", "postgres").with_label("env", "prod")
}

/// 2024-01-01 (a Monday) 12:00 UTC.
fn noon() -> Timestamp {
    Timestamp::from_unix_secs(1_704_067_200 + 12 * 3600)
}

fn facts(pairs: &[(&'static str, FactValue)]) -> Facts {
    pairs.iter().cloned().collect()
}

fn decide(p: &Policy, f: &Facts) -> Decision {
    let (id, r) = (alice(), db());
    let req = Request::new(&id, &r, f, noon());
    let d = p.evaluate(&req);
    assert_eq!(
        d,
        p.evaluate_with(&req, false),
        "index and full scan disagree"
    );
    d
}

fn s(v: &str) -> FactValue {
    FactValue::from(v)
}

fn l(v: &[&str]) -> FactValue {
    FactValue::from(v)
}

/// Whether a one-rule allow policy with `matcher` on its facts allows `f`.
fn allows(facts_toml: &str, f: &Facts) -> bool {
    let p = policy(&format!(
        "[[rule]]\nid = \"r\"\naction = \"allow\"\nfacts = {{ {facts_toml} }}\n"
    ));
    decide(&p, f).is_allow()
}

#[test]
fn equals_on_each_type() {
    assert!(allows(
        r#""sql.statement" = "select""#,
        &facts(&[("sql.statement", s("select"))])
    ));
    assert!(!allows(
        r#""sql.statement" = "select""#,
        &facts(&[("sql.statement", s("delete"))])
    ));
    assert!(!allows(r#""sql.statement" = "select""#, &Facts::new()));
    assert!(allows(
        r#""sql.unbounded" = true"#,
        &facts(&[("sql.unbounded", true.into())])
    ));
    assert!(!allows(
        r#""sql.unbounded" = true"#,
        &facts(&[("sql.unbounded", false.into())])
    ));
    assert!(allows(
        r#""sql.rows" = { equals = 3 }"#,
        &facts(&[("sql.rows", 3i64.into())])
    ));
    // On a list fact, equals means "contains".
    let w = facts(&[("sql.tables.write", l(&["orders", "public.users"]))]);
    assert!(allows(r#""sql.tables.write" = "users""#, &w));
    assert!(!allows(r#""sql.tables.write" = "items""#, &w));
}

#[test]
fn in_glob_regex() {
    let del = facts(&[("sql.statement", s("delete"))]);
    assert!(allows(
        r#""sql.statement" = { in = ["update", "delete"] }"#,
        &del
    ));
    assert!(!allows(r#""sql.statement" = { in = ["select"] }"#, &del));
    assert!(allows(r#""sql.statement" = { glob = "del*" }"#, &del));
    assert!(allows(
        r#""sql.statement" = { glob = ["x", "?elete"] }"#,
        &del
    ));
    assert!(!allows(r#""sql.statement" = { glob = "sel*" }"#, &del));
    assert!(allows(
        r#""sql.statement" = { regex = "^(delete|update)$" }"#,
        &del
    ));
    assert!(!allows(r#""sql.statement" = { regex = "^select" }"#, &del));
    // Globs on qualified names: unqualified patterns see the last part only.
    let w = facts(&[("sql.tables.write", l(&["audit.payments_2024"]))]);
    assert!(allows(
        r#""sql.tables.write" = { glob = "payments_*" }"#,
        &w
    ));
    assert!(allows(r#""sql.tables.write" = { glob = "audit.*" }"#, &w));
    assert!(!allows(r#""sql.tables.write" = { glob = "public.*" }"#, &w));
}

#[test]
fn exists_and_numeric_compare() {
    let rows = facts(&[("sql.rows", 10i64.into())]);
    assert!(allows(r#""sql.rows" = { exists = true }"#, &rows));
    assert!(!allows(r#""sql.rows" = { exists = false }"#, &rows));
    assert!(allows(r#""sql.rows" = { exists = false }"#, &Facts::new()));
    assert!(allows(r#""sql.rows" = { gt = 9 }"#, &rows));
    assert!(!allows(r#""sql.rows" = { gt = 10 }"#, &rows));
    assert!(allows(r#""sql.rows" = { ge = 10 }"#, &rows));
    assert!(allows(r#""sql.rows" = { lt = 11 }"#, &rows));
    assert!(!allows(r#""sql.rows" = { lt = 10 }"#, &rows));
    assert!(allows(r#""sql.rows" = { le = 10 }"#, &rows));
    assert!(allows(r#""sql.rows" = { ge = 5, le = 20 }"#, &rows));
    assert!(!allows(r#""sql.rows" = { ge = 11, le = 20 }"#, &rows));
    // On lists, comparisons use the length.
    let w = facts(&[("sql.tables.write", l(&["a", "b", "c"]))]);
    assert!(allows(r#""sql.tables.write" = { gt = 2 }"#, &w));
    assert!(!allows(r#""sql.tables.write" = { gt = 3 }"#, &w));
}

#[test]
fn contains_any_all_and_qualified_names() {
    let w = facts(&[("sql.tables.write", l(&["public.users", "orders"]))]);
    assert!(allows(
        r#""sql.tables.write" = { contains_any = ["users", "x"] }"#,
        &w
    ));
    assert!(allows(
        r#""sql.tables.write" = { contains_any = ["public.users"] }"#,
        &w
    ));
    assert!(!allows(
        r#""sql.tables.write" = { contains_any = ["audit.users"] }"#,
        &w
    ));
    assert!(allows(
        r#""sql.tables.write" = { contains_all = ["users", "orders"] }"#,
        &w
    ));
    assert!(!allows(
        r#""sql.tables.write" = { contains_all = ["users", "items"] }"#,
        &w
    ));
    // A qualified matcher only matches that schema; the unqualified value stays unmatched.
    let bare = facts(&[("sql.tables.write", l(&["users"]))]);
    assert!(!allows(
        r#""sql.tables.write" = { contains_any = ["public.users"] }"#,
        &bare
    ));
    assert!(allows(
        r#""sql.tables.write" = { contains_any = ["USERS"] }"#,
        &bare
    ));
}

#[test]
fn negation() {
    let sel = facts(&[("sql.statement", s("select"))]);
    assert!(!allows(r#""sql.statement" = { not = "select" }"#, &sel));
    assert!(allows(
        r#""sql.statement" = { not = { in = ["delete"] } }"#,
        &sel
    ));
    // Negation of a condition on a missing fact holds.
    assert!(allows(
        r#""sql.statement" = { not = "select" }"#,
        &Facts::new()
    ));
    assert!(allows(
        r#""sql.statement" = { not = { not = "select" } }"#,
        &sel
    ));
}

#[test]
fn nested_tables_name_facts_too() {
    // Unquoted dotted keys in TOML are nested tables; they name the same facts.
    let p = policy(
        "[[rule]]\nid = \"r\"\naction = \"deny\"\n[rule.facts]\nsql.statement = \"drop\"\n\
         sql.tables.write = { contains_any = [\"users\"] }\n",
    );
    let f = facts(&[
        ("sql.statement", s("drop")),
        ("sql.tables.write", l(&["users"])),
    ]);
    assert!(decide(&p, &f).is_deny());
    assert_eq!(decide(&p, &f).rules, ["r"]);
    assert_eq!(
        p.rules().next().unwrap().facts,
        ["sql.statement", "sql.tables.write"]
    );
}

#[test]
fn identity_and_resource_matchers() {
    let p = policy(
        r#"
        [[rule]]
        id = "subject"
        action = "allow"
        identity = { subject = "ali*" }
        [[rule]]
        id = "groups-any"
        action = "allow"
        identity = { groups_any = ["dba", "dev"] }
        [[rule]]
        id = "groups-all"
        action = "allow"
        identity = { groups_all = ["dba", "dev"] }
        [[rule]]
        id = "resource"
        action = "allow"
        resource = { name = "payments-*", protocol = "postgres", labels = { env = "pr*" } }
        [[rule]]
        id = "other-protocol"
        action = "allow"
        resource = { protocol = ["ssh", "kubernetes"] }
        [[rule]]
        id = "other-label"
        action = "allow"
        resource = { labels = { env = "dev" } }
        "#,
    );
    let d = decide(&p, &Facts::new());
    assert_eq!(d.rules, ["subject", "groups-any", "resource"]);
    assert_eq!(d.explain, "allowed by rules subject, groups-any, resource");
}

#[test]
fn time_windows() {
    let p = policy(
        r#"
        [[rule]]
        id = "office"
        action = "allow"
        time = { days = ["weekdays"], hours = "09:00-17:00", utc_offset = "+02:00" }
        "#,
    );
    let (id, r, f) = (alice(), db(), Facts::new());
    let at = |t: Timestamp| p.evaluate(&Request::new(&id, &r, &f, t)).is_allow();
    assert!(at(noon())); // 14:00 local, Monday
    assert!(!at(noon().saturating_add(Duration::from_secs(3 * 3600)))); // 17:00 local
    assert!(!at(noon().saturating_add(Duration::from_secs(5 * 86_400)))); // Saturday
}

#[test]
fn deny_beats_approve_beats_allow_and_masks_accumulate() {
    let src = r#"
        [[rule]]
        id = "allow-all"
        action = "allow"
        [[rule]]
        id = "mask-pii"
        action = "mask"
        profile = "pii"
        [[rule]]
        id = "mask-pii-again"
        action = "mask"
        profile = "pii"
        [[rule]]
        id = "mask-cards"
        action = "mask"
        profile = "cards"
        [[rule]]
        id = "approve-writes"
        action = "approve"
        approvers = ["dba"]
        timeout = "30m"
        message = "writes need a DBA"
        facts = { "sql.effect" = "write" }
        [[rule]]
        id = "approve-writes-2"
        action = "approve"
        approvers = ["security", "dba"]
        needed = 2
        timeout = 600
        facts = { "sql.tables.write" = { contains_any = ["users"] } }
        [[rule]]
        id = "no-drop"
        action = "deny"
        message = "no DROP"
        facts = { "sql.statement" = "drop" }
    "#;
    let p = policy(src);
    let d = decide(
        &p,
        &facts(&[("sql.statement", s("select")), ("sql.effect", s("read"))]),
    );
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.masks, ["pii", "cards"]);
    assert_eq!(d.rules, ["allow-all"]);
    assert_eq!(d.explain, "allowed by rule allow-all; masks: pii, cards");

    let w = facts(&[
        ("sql.effect", s("write")),
        ("sql.tables.write", l(&["users"])),
    ]);
    let d = decide(&p, &w);
    assert_eq!(
        d.verdict,
        Verdict::Approve {
            rules: vec!["approve-writes".into(), "approve-writes-2".into()],
            approvers: vec!["dba".into(), "security".into()],
            needed: 2,
            timeout: Duration::from_secs(600),
        }
    );
    assert!(d.explain.contains("writes need a DBA"), "{}", d.explain);

    let mut w2 = w.clone();
    w2.insert("sql.statement", "drop");
    let d = decide(&p, &w2);
    assert_eq!(
        d.verdict,
        Verdict::Deny {
            rules: vec!["no-drop".into()],
            message: "no DROP".into()
        }
    );
    assert_eq!(d.explain, "denied by rule no-drop: no DROP");
    assert_eq!(d.matched.len(), 7);
}

#[test]
fn defaults() {
    let masks_only = "[[rule]]\nid = \"m\"\naction = \"mask\"\nprofile = \"pii\"\n";
    let d = decide(&policy(masks_only), &Facts::new());
    assert!(d.is_deny() && d.defaulted);
    assert_eq!(
        d.verdict,
        Verdict::Deny {
            rules: vec![],
            message: "no rule allows this".into()
        }
    );
    let open = policy(&format!("default = \"allow\"\n{masks_only}"));
    let d = decide(&open, &Facts::new());
    assert!(d.is_allow() && d.defaulted);
    assert_eq!(d.masks, ["pii"]);
    assert_eq!(d.explain, "allowed by default: no rule matched; masks: pii");
    // The builder overrides the document.
    let p = Policy::builder()
        .default_action(DefaultAction::Deny)
        .build("default = \"allow\"\ndefault_message = \"ask #db\"")
        .unwrap();
    let d = decide(&p, &Facts::new());
    assert_eq!(d.explain, "denied by default: ask #db");
}

#[test]
fn grants_add_groups_and_enable_rules() {
    let p = policy(
        r#"
        [[rule]]
        id = "dba-writes"
        action = "allow"
        identity = { groups_any = ["dba"] }
        [[rule]]
        id = "break-glass"
        action = "allow"
        enabled_by_grant = true
        resource = { protocol = "postgres" }
        "#,
    );
    let (id, r, f) = (alice(), db(), Facts::new());
    let mut groups = Grant::new(
        "g-groups",
        "alice",
        noon(),
        noon().saturating_add(Duration::from_secs(60)),
    );
    groups.groups = vec!["dba".into()];
    let mut rules = Grant::new(
        "g-rules",
        "alice",
        noon(),
        noon().saturating_add(Duration::from_secs(60)),
    );
    rules.rules = vec!["break-glass".into()];

    let none = p.evaluate(&Request::new(&id, &r, &f, noon()));
    assert!(none.is_deny());
    let gs = [groups.clone()];
    let d = p.evaluate(&Request::new(&id, &r, &f, noon()).with_grants(&gs));
    assert_eq!(d.rules, ["dba-writes"]);
    assert_eq!(d.grants, ["g-groups"]);
    let gs = [rules.clone()];
    let d = p.evaluate(&Request::new(&id, &r, &f, noon()).with_grants(&gs));
    assert_eq!(d.rules, ["break-glass"]);
    // Expired, revoked, not yet valid, someone else's, another resource: never apply.
    let later = noon().saturating_add(Duration::from_secs(60));
    assert!(
        p.evaluate(&Request::new(&id, &r, &f, later).with_grants(&gs))
            .is_deny()
    );
    let mut revoked = rules.clone();
    revoked.revoked_at = Some(noon());
    let gs = [revoked];
    assert!(
        p.evaluate(&Request::new(&id, &r, &f, noon()).with_grants(&gs))
            .is_deny()
    );
    let early = noon().saturating_sub(Duration::from_secs(1));
    let gs = [rules.clone()];
    assert!(
        p.evaluate(&Request::new(&id, &r, &f, early).with_grants(&gs))
            .is_deny()
    );
    let mut bobs = rules.clone();
    bobs.subject = "bob".into();
    let gs = [bobs];
    assert!(
        p.evaluate(&Request::new(&id, &r, &f, noon()).with_grants(&gs))
            .is_deny()
    );
    let mut elsewhere = groups;
    elsewhere.resource = crate::ResourceSelector::name("staging-*");
    let gs = [elsewhere];
    assert!(
        p.evaluate(&Request::new(&id, &r, &f, noon()).with_grants(&gs))
            .is_deny()
    );
}

#[test]
fn fact_of_the_wrong_type_fails_closed() {
    let p = policy(
        "default = \"allow\"\n[[rule]]\nid = \"r\"\naction = \"deny\"\nfacts = { \"sql.unbounded\" = true }\n",
    );
    let d = decide(&p, &facts(&[("sql.unbounded", s("yes"))]));
    assert!(d.is_deny());
    assert_eq!(
        d.explain,
        "denied: fact sql.unbounded is string, but its schema declares boolean"
    );
}

#[test]
fn yaml_and_json_documents() {
    let yaml = "default: deny\nrules:\n  - id: no-drop\n    action: deny\n    facts:\n      sql.statement: drop\n";
    let p = Policy::builder()
        .fact_schema(SCHEMA)
        .format(Format::Yaml)
        .build(yaml)
        .unwrap();
    assert!(decide(&p, &facts(&[("sql.statement", s("drop"))])).is_deny());
    let json = r#"{"rules": [{"id": "ok", "action": "allow", "facts": {"sql.statement": {"in": ["select"]}}}]}"#;
    let p = Policy::builder()
        .fact_schema(SCHEMA)
        .format(Format::Json)
        .build(json)
        .unwrap();
    assert!(decide(&p, &facts(&[("sql.statement", s("select"))])).is_allow());
}

fn err(src: &str) -> BuildError {
    build(src).expect_err("policy should be refused")
}

#[test]
fn syntax_errors_have_rule_line_and_column() {
    let e = err(
        "[[rule]]\nid = \"a\"\naction = \"allow\"\n\n[[rule]]\nid = \"b\"\naction = \"deny\"\nmesage = \"typo\"\n",
    );
    match &e {
        BuildError::Syntax {
            format: Format::Toml,
            line,
            rule,
            message,
            ..
        } => {
            assert_eq!(*line, 8, "{e}");
            assert_eq!(rule.as_deref(), Some("b"));
            assert!(message.contains("mesage"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("TOML error at line 8, column 1 in rule \"b\""),
        "{e}"
    );

    let yaml = "rules:\n  - id: a\n    action: allow\n    colour: red\n";
    let e = Policy::builder()
        .format(Format::Yaml)
        .build(yaml)
        .unwrap_err();
    assert_eq!(e.rule(), Some("a"), "{e}");
    assert_eq!(e.line_column().map(|(l, _)| l), Some(4), "{e}");

    let json = "{\"rules\": [\n {\"id\": \"a\", \"action\": \"allow\"},\n {\"id\": \"b\", \"action\": \"maybe\"}\n]}";
    let e = Policy::builder()
        .format(Format::Json)
        .build(json)
        .unwrap_err();
    assert_eq!(e.rule(), Some("b"), "{e}");
    assert_eq!(e.line_column().map(|(l, _)| l), Some(3), "{e}");

    assert!(matches!(
        err("[[rule]\n"),
        BuildError::Syntax { line: 1, .. }
    ));
    assert!(matches!(
        err("version = 2"),
        BuildError::UnsupportedVersion { version: 2 }
    ));
}

#[test]
fn semantic_errors_have_rule_line_and_column() {
    let e =
        err("[[rule]]\nid = \"a\"\naction = \"allow\"\n[[rule]]\nid = \"a\"\naction = \"deny\"\n");
    assert_eq!(
        e,
        BuildError::DuplicateId {
            rule: "a".into(),
            line: 5,
            column: 7
        }
    );

    let e =
        err("[[rule]]\nid = \"a\"\naction = \"deny\"\nfacts = { \"sql.statment\" = \"drop\" }\n");
    assert_eq!(
        e,
        BuildError::UnknownFact {
            rule: "a".into(),
            fact: "sql.statment".into(),
            line: 4,
            column: 12
        }
    );

    let e =
        err("[[rule]]\nid = \"a\"\naction = \"deny\"\nfacts = { \"sql.unbounded\" = \"yes\" }\n");
    assert!(
        matches!(&e, BuildError::TypeMismatch { fact, line: 4, .. } if fact == "sql.unbounded"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("compares with a boolean, found a string"),
        "{e}"
    );

    let e = err(
        "[[rule]]\nid = \"a\"\naction = \"deny\"\nfacts = { \"sql.statement\" = { regex = \"(\" } }\n",
    );
    assert!(matches!(&e, BuildError::BadPattern { line: 4, .. }), "{e}");
    let e = err("[[rule]]\nid = \"a\"\naction = \"deny\"\nresource = { name = \"a[\" }\n");
    assert!(matches!(&e, BuildError::BadPattern { line: 4, .. }), "{e}");

    for bad in [
        "action = \"approve\"",
        "action = \"approve\"\napprovers = [\"dba\"]\nneeded = 0",
        "action = \"approve\"\napprovers = [\"dba\"]\ntimeout = \"soon\"",
        "action = \"deny\"\napprovers = [\"dba\"]",
        "action = \"mask\"",
        "action = \"allow\"\nprofile = \"pii\"",
        "action = \"allow\"\ntime = { days = [\"someday\"] }",
        "action = \"allow\"\ntime = { hours = \"9-5\" }",
        "action = \"allow\"\ntime = { utc_offset = \"+25:00\" }",
        "action = \"allow\"\nfacts = { \"sql.statement\" = { nearly = \"x\" } }",
        "action = \"allow\"\nfacts = { \"sql.statement\" = [\"x\"] }",
    ] {
        let e = err(&format!("[[rule]]\nid = \"r\"\n{bad}\n"));
        assert_eq!(e.rule(), Some("r"), "{bad}: {e}");
        assert!(e.line_column().is_some());
    }
    for bad in [
        "facts = { \"sql.statement\" = { contains_any = [\"x\"] } }",
        "facts = { \"sql.unbounded\" = { glob = \"x\" } }",
        "facts = { \"sql.statement\" = { gt = 1 } }",
        "facts = { \"sql.rows\" = { gt = \"1\" } }",
        "facts = { \"sql.rows\" = { exists = 1 } }",
    ] {
        let e = err(&format!(
            "[[rule]]\nid = \"r\"\naction = \"allow\"\n{bad}\n"
        ));
        assert!(matches!(e, BuildError::TypeMismatch { .. }), "{bad}: {e}");
    }
}

#[test]
fn schema_conflicts_and_limits() {
    static OTHER: &[FactDef] = &[FactDef::new("sql.statement", FactType::List, "x")];
    let e = Policy::builder()
        .fact_schema(SCHEMA)
        .fact_schema(OTHER)
        .build("")
        .unwrap_err();
    assert_eq!(
        e,
        BuildError::SchemaConflict {
            fact: "sql.statement".into()
        }
    );
    // The same schema twice is fine.
    assert!(
        Policy::builder()
            .fact_schema(SCHEMA)
            .fact_schema(SCHEMA)
            .build("")
            .is_ok()
    );
    let huge = " ".repeat(MAX_POLICY_BYTES + 1);
    assert!(matches!(build(&huge), Err(BuildError::TooLarge { .. })));
}

#[test]
fn index_skips_rules_it_cannot_match() {
    let mut src = String::new();
    for i in 0..50 {
        src.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\naction = \"deny\"\nresource = {{ protocol = \"postgres\" }}\n\
             facts = {{ \"sql.tables.write\" = {{ contains_any = [\"t{i}\"] }} }}\n"
        ));
    }
    src.push_str("[[rule]]\nid = \"always\"\naction = \"allow\"\n");
    let p = policy(&src);
    assert_eq!(p.unindexed_rules(), 1);
    let d = decide(&p, &facts(&[("sql.tables.write", l(&["public.t7"]))]));
    assert_eq!(d.rules, ["r7"]);
    let id = alice();
    let f = facts(&[("sql.tables.write", l(&["public.t7"]))]);
    let probe = |protocol, facts| index::Probe {
        protocol,
        subject: &id.subject,
        groups: &id.groups,
        extra_groups: &[],
        resource: "payments-prod",
        facts,
    };
    let mut c = Vec::new();
    p.index.candidates(&probe("postgres", &f), &mut c);
    assert_eq!(c.len(), 2);
    let f2 = facts(&[("sql.tables.write", l(&["T7"]))]);
    p.index.candidates(&probe("postgres", &f2), &mut c);
    assert_eq!(
        c.len(),
        2,
        "qualified names are looked up case-insensitively"
    );
    p.index.candidates(&probe("ssh", &f), &mut c);
    assert_eq!(c.len(), 1);
}

#[test]
fn index_files_subjects_groups_and_names() {
    let p = policy(
        r#"
        [[rule]]
        id = "by-subject"
        action = "deny"
        identity = { subject = ["mallory", "eve"] }
        [[rule]]
        id = "by-group"
        action = "allow"
        identity = { groups_any = ["dba"] }
        [[rule]]
        id = "by-name"
        action = "mask"
        profile = "pii"
        resource = { name = "payments-prod" }
        [[rule]]
        id = "subject-glob"
        action = "deny"
        identity = { subject = "svc-*" }
        [[rule]]
        id = "by-bool"
        action = "deny"
        facts = { "sql.unbounded" = true }
        "#,
    );
    assert_eq!(p.unindexed_rules(), 1);
    let mut g = Grant::new(
        "g",
        "alice",
        noon(),
        noon().saturating_add(Duration::from_secs(9)),
    );
    g.groups = vec!["dba".into()];
    let gs = [g];
    let (id, r, f) = (alice(), db(), Facts::new());
    let req = Request::new(&id, &r, &f, noon()).with_grants(&gs);
    let d = p.evaluate(&req);
    assert_eq!(d, p.evaluate_with(&req, false));
    assert_eq!(d.matched, ["by-group", "by-name"]);
    let eve = Identity::new("eve", AuthMethod::Trust);
    let d = p.evaluate(&Request::new(&eve, &r, &f, noon()));
    assert_eq!(d.matched, ["by-subject", "by-name"]);
}

#[test]
fn fast_patterns_agree_with_globset() {
    let pats = [
        "*", "abc", "abc*", "*abc", "a*c", "a?c", "[ab]c", "{x,y}z", "*-prod", "a.b*",
    ];
    let texts = [
        "", "abc", "abcd", "xabc", "ac", "bc", "xz", "db-prod", "a.bc", "ABC",
    ];
    for p in pats {
        let g = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .build()
            .unwrap();
        let m = g.compile_matcher();
        let fast = rule::Pattern::new(p, m.clone());
        for t in texts {
            assert_eq!(fast.is_match(t), m.is_match(t), "{p} vs {t}");
        }
    }
}

// ------------------------------------------------------------------ property tests

const MATCHERS: &[&str] = &[
    "",
    "facts = { \"sql.statement\" = \"delete\" }",
    "facts = { \"sql.statement\" = { in = [\"select\", \"update\"] } }",
    "facts = { \"sql.statement\" = { not = \"select\" } }",
    "facts = { \"sql.tables.write\" = { contains_any = [\"users\"] } }",
    "facts = { \"sql.tables.write\" = { contains_all = [\"public.users\", \"orders\"] } }",
    "facts = { \"sql.tables.write\" = { glob = \"ord*\" } }",
    "facts = { \"sql.unbounded\" = true }",
    "facts = { \"sql.rows\" = { gt = 100 } }",
    "facts = { \"sql.effect\" = { regex = \"^wr\" }, \"sql.unbounded\" = false }",
    "identity = { groups_any = [\"dba\"] }",
    "identity = { groups_all = [\"dev\", \"oncall\"] }",
    "resource = { protocol = \"postgres\" }",
    "resource = { protocol = \"ssh\" }",
    "resource = { labels = { env = \"prod\" } }",
    "enabled_by_grant = true",
];

const ACTIONS: &[&str] = &[
    "action = \"allow\"",
    "action = \"deny\"\nmessage = \"no\"",
    "action = \"approve\"\napprovers = [\"dba\"]",
    "action = \"approve\"\napprovers = [\"sec\"]\nneeded = 2\ntimeout = \"5m\"",
    "action = \"mask\"\nprofile = \"pii\"",
    "action = \"mask\"\nprofile = \"cards\"",
];

fn rule_text(i: usize, (a, m): (usize, usize)) -> String {
    format!("[[rule]]\nid = \"r{i}\"\n{}\n{}\n", ACTIONS[a], MATCHERS[m])
}

fn rules_strategy() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0..ACTIONS.len(), 0..MATCHERS.len()), 0..12)
}

fn request_strategy() -> impl Strategy<Value = (Facts, Vec<String>, bool)> {
    let stmt = prop::sample::select(vec!["select", "delete", "update", "drop"]);
    let tables = prop::sample::subsequence(vec!["users", "public.users", "orders", "x.y"], 0..4);
    let groups = prop::sample::subsequence(vec!["dba", "dev", "oncall"], 0..3);
    (
        stmt,
        tables,
        any::<bool>(),
        0i64..200,
        groups,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(st, tables, unb, rows, groups, postgres, grant)| {
            let mut f = Facts::new();
            f.insert("sql.statement", st);
            f.insert("sql.effect", if st == "select" { "read" } else { "write" });
            f.insert(
                "sql.tables.write",
                tables.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>(),
            );
            f.insert("sql.unbounded", unb);
            f.insert("sql.rows", rows);
            if !postgres {
                f.insert("k8s.verb", "get");
            }
            (f, groups.into_iter().map(str::to_owned).collect(), grant)
        })
}

fn run(p: &Policy, f: &Facts, groups: &[String], grant: bool, postgres: bool) -> Decision {
    let id = Identity::new("alice", AuthMethod::Trust).with_groups(groups.iter().cloned());
    let r = if postgres {
        db()
    } else {
        Resource::new("host", "ssh")
    };
    let mut g = Grant::new(
        "g",
        "alice",
        Timestamp::EPOCH,
        Timestamp::from_unix_secs(i64::MAX / 2_000_000),
    );
    g.rules = p.rules().map(|r| r.id.to_owned()).collect();
    let grants = if grant { vec![g] } else { vec![] };
    let req = Request::new(&id, &r, f, noon()).with_grants(&grants);
    let d = p.evaluate(&req);
    assert_eq!(
        d,
        p.evaluate_with(&req, false),
        "index and full scan disagree"
    );
    d
}

/// The verdict with its rule lists sorted, so two orders of the same rules compare equal.
type Normalized = (
    String,
    Vec<String>,
    Vec<String>,
    Option<(Vec<String>, u32, Duration)>,
);

fn normalized(d: &Decision) -> Normalized {
    let mut rules = d.rules.clone();
    rules.sort();
    let mut masks = d.masks.clone();
    masks.sort();
    let approve = match &d.verdict {
        Verdict::Approve {
            approvers,
            needed,
            timeout,
            ..
        } => {
            let mut a = approvers.clone();
            a.sort();
            Some((a, *needed, *timeout))
        }
        _ => None,
    };
    (d.verdict.kind().to_owned(), rules, masks, approve)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn verdict_does_not_depend_on_rule_order(
        rules in rules_strategy(),
        perm_seed in any::<u64>(),
        (f, groups, grant) in request_strategy(),
        postgres in any::<bool>(),
    ) {
        let text: Vec<String> = rules.iter().enumerate().map(|(i, r)| rule_text(i, *r)).collect();
        let mut shuffled = text.clone();
        // A deterministic shuffle from the seed.
        let mut x = perm_seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a = policy(&text.concat());
        let b = policy(&shuffled.concat());
        prop_assert_eq!(
            normalized(&run(&a, &f, &groups, grant, postgres)),
            normalized(&run(&b, &f, &groups, grant, postgres))
        );
    }

    #[test]
    fn adding_a_deny_rule_never_turns_a_deny_into_an_allow(
        rules in rules_strategy(),
        extra in 0..MATCHERS.len(),
        (f, groups, grant) in request_strategy(),
        postgres in any::<bool>(),
    ) {
        let mut text: String = rules.iter().enumerate().map(|(i, r)| rule_text(i, *r)).collect();
        let before = run(&policy(&text), &f, &groups, grant, postgres);
        text.push_str(&rule_text(99, (1, extra)));
        let after = run(&policy(&text), &f, &groups, grant, postgres);
        if before.is_deny() {
            prop_assert!(after.is_deny());
        }
        // And it never loosens anything: allow may become deny, approve may become deny.
        if after.is_allow() {
            prop_assert!(before.is_allow());
        }
    }
}

#[test]
fn policy_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Policy>();
    check::<PolicyBuilder>();
    check::<BuildError>();
    check::<Request<'_>>();
    check::<RuleInfo<'_>>();
    check::<DefaultAction>();
    check::<Format>();
}
