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
    assert!(p.depends_on_time());
    let untimed = policy("[[rule]]\nid = \"all\"\naction = \"allow\"\n");
    assert!(!untimed.depends_on_time());
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
    assert_eq!(
        d.explain,
        "approval by 2 of [dba, security] needed by rules approve-writes, approve-writes-2: \
         writes need a DBA; masks: pii, cards"
    );

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

    // Several deny rules: messages joined without repeats, rules without a message named.
    let p = policy(
        r#"
        [[rule]]
        id = "a"
        action = "deny"
        message = "no"
        [[rule]]
        id = "b"
        action = "deny"
        [[rule]]
        id = "c"
        action = "deny"
        message = "no"
        [[rule]]
        id = "m"
        action = "mask"
        profile = "pii"
        "#,
    );
    let d = decide(&p, &Facts::new());
    assert_eq!(
        d.verdict,
        Verdict::Deny {
            rules: vec!["a".into(), "b".into(), "c".into()],
            message: "no; denied by policy rule b".into()
        }
    );
    assert_eq!(
        d.explain,
        "denied by rules a, b, c: no; denied by policy rule b"
    );
    assert_eq!(d.masks, ["pii"]);
    assert_eq!(d.matched, ["a", "b", "c", "m"]);
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
    let mut c = Ids::new();
    p.index.candidates(&probe("postgres", &f), &mut c);
    assert_eq!(c.as_slice().len(), 2);
    let f2 = facts(&[("sql.tables.write", l(&["T7"]))]);
    p.index.candidates(&probe("postgres", &f2), &mut c);
    assert_eq!(
        c.as_slice().len(),
        2,
        "qualified names are looked up case-insensitively"
    );
    p.index.candidates(&probe("ssh", &f), &mut c);
    assert_eq!(c.as_slice().len(), 1);
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

#[test]
fn index_files_globs_under_literal_prefixes() {
    let mut src = String::new();
    for i in 0..40 {
        src.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\naction = \"allow\"\n\
             facts = {{ \"sql.statement\" = \"select\", \"sql.tables.read\" = \
             {{ glob = \"r{i}_*\" }} }}\n"
        ));
    }
    src.push_str(
        r#"
        [[rule]]
        id = "qualified-glob"
        action = "deny"
        facts = { "sql.tables.read" = { glob = ["audit.r1_*", "x.y.*"] } }
        [[rule]]
        id = "class-glob"
        action = "approve"
        approvers = ["dba"]
        facts = { "sql.comment" = { glob = "pay[0-9]*" } }
        [[rule]]
        id = "literal-glob"
        action = "mask"
        profile = "pii"
        facts = { "sql.tables.read" = { glob = "r2_a" } }
        [[rule]]
        id = "glob-and-list"
        action = "mask"
        profile = "cards"
        facts = { "sql.tables.read" = { glob = "zz*", contains_any = ["r3_a"] } }
        [[rule]]
        id = "negated-glob"
        action = "mask"
        profile = "neg"
        facts = { "sql.tables.write" = { not = { glob = "r1_*" } } }
        [[rule]]
        id = "suffix-glob"
        action = "mask"
        profile = "suffix"
        facts = { "sql.tables.write" = { glob = "*_log" } }
        "#,
    );
    let p = policy(&src);
    // Only the negated and the suffix glob have nothing to be filed under.
    assert_eq!(p.unindexed_rules(), 2);
    let id = alice();
    let candidates = |f: &Facts| {
        let probe = index::Probe {
            protocol: "postgres",
            subject: &id.subject,
            groups: &id.groups,
            extra_groups: &[],
            resource: "payments-prod",
            facts: f,
        };
        let mut c = Ids::new();
        p.index.candidates(&probe, &mut c);
        c.as_slice()
            .iter()
            .map(|&i| p.rules[i as usize].id.clone())
            .collect::<Vec<_>>()
    };
    let read = |tables: &[&str]| {
        facts(&[
            ("sql.statement", s("select")),
            ("sql.tables.read", l(tables)),
        ])
    };
    let unindexed = ["negated-glob", "suffix-glob"];
    // An unqualified glob sees the last part of a qualified name, in any schema.
    for t in ["r17_orders", "public.r17_orders", "a.b.r17_"] {
        let f = read(&[t]);
        assert_eq!(candidates(&f), ["r17", unindexed[0], unindexed[1]], "{t}");
        assert_eq!(decide(&p, &f).rules, ["r17"], "{t}");
    }
    // Globs compare bytes: no case folding, quotes are part of the value.
    for t in ["R17_orders", "\"r17_orders\"", "r17", "r1", ""] {
        let f = read(&[t]);
        assert_eq!(candidates(&f), unindexed, "{t}");
        assert!(decide(&p, &f).is_deny(), "{t}");
    }
    // r1_* and r17_* share no key: `r1_` is not a prefix of `r17_...`, but `r1` prefixes would
    // be; both are found for a value starting with `r1_`.
    let f = read(&["r1_x", "audit.r1_y"]);
    assert_eq!(
        decide(&p, &f).matched,
        ["r1", "qualified-glob", "negated-glob"]
    );
    assert_eq!(decide(&p, &read(&["r1_x"])).matched, ["r1", "negated-glob"]);
    assert_eq!(
        decide(&p, &read(&["x.y.z"])).matched,
        ["qualified-glob", "negated-glob"]
    );
    // A qualified glob sees the whole value.
    assert_eq!(decide(&p, &read(&["r1_x.audit"])).matched, ["negated-glob"]);
    // A glob with a class is filed under the text before it.
    let f = facts(&[("sql.comment", s("pay7 ticket"))]);
    assert_eq!(candidates(&f), ["class-glob", unindexed[0], unindexed[1]]);
    assert_eq!(decide(&p, &f).rules, ["class-glob"]);
    assert!(decide(&p, &facts(&[("sql.comment", s("payx"))])).is_deny());
    // A literal glob; a glob next to contains_any (either may key the rule).
    assert_eq!(decide(&p, &read(&["public.r2_a"])).masks, ["pii", "neg"]);
    assert_eq!(decide(&p, &read(&["r2_ab"])).masks, ["neg"]);
    assert_eq!(decide(&p, &read(&["zz9", "r3_a"])).masks, ["cards", "neg"]);
    assert_eq!(decide(&p, &read(&["zz9"])).masks, ["neg"]);
    // Negated and suffix globs still match (they are visited for every request).
    let w = facts(&[("sql.tables.write", l(&["r1_a", "audit_log"]))]);
    assert_eq!(decide(&p, &w).masks, ["suffix"]);
    let w = facts(&[("sql.tables.write", l(&["users"]))]);
    assert_eq!(decide(&p, &w).masks, ["neg"]);
}

#[test]
fn prefix_keys_win_over_shared_values() {
    // 30 rules share `sql.statement = delete`; each has its own table prefix, which the index
    // prefers, so a request visits only the rules whose prefix its tables carry.
    let mut src = String::new();
    for i in 0..30 {
        src.push_str(&format!(
            "[[rule]]\nid = \"r{i}\"\naction = \"deny\"\n\
             facts = {{ \"sql.statement\" = \"delete\", \"sql.tables.write\" = \
             {{ glob = \"t{i}_*\" }} }}\n"
        ));
    }
    let p = policy(&src);
    assert_eq!(p.unindexed_rules(), 0);
    let id = alice();
    let f = facts(&[
        ("sql.statement", s("delete")),
        ("sql.tables.write", l(&["public.t2_a", "t29_b", "t3"])),
    ]);
    let probe = index::Probe {
        protocol: "postgres",
        subject: &id.subject,
        groups: &id.groups,
        extra_groups: &[],
        resource: "payments-prod",
        facts: &f,
    };
    let mut c = Ids::new();
    p.index.candidates(&probe, &mut c);
    assert_eq!(c.as_slice(), [2, 29]);
    assert_eq!(decide(&p, &f).rules, ["r2", "r29"]);
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
fn glob_literal_prefixes() {
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("r1_*", Some("r1_"), &["r1_", "r1_x"]),
        ("r1_a", Some("r1_a"), &["r1_a"]),
        ("pay[0-9]*", Some("pay"), &["pay7", "pay0x"]),
        ("a{b,c}*", Some("a"), &["ab", "acx"]),
        ("a\\*b", Some("a"), &["a*b"]),
        ("a?c", Some("a"), &["abc"]),
        // `**` may match nothing, but never the separator before it.
        ("a/**", Some("a/"), &["a/", "a/b/c"]),
        ("a/**/b", Some("a/"), &["a/b", "a/x/b"]),
        ("*_log", None, &["x_log"]),
        ("**/a", None, &["a", "x/a"]),
        ("*", None, &[""]),
        ("", None, &[""]),
    ];
    for (pat, prefix, matches) in cases {
        let m = globset::GlobBuilder::new(pat)
            .literal_separator(false)
            .build()
            .unwrap()
            .compile_matcher();
        let fast = rule::Pattern::new(pat, m.clone());
        assert_eq!(fast.literal_prefix(), *prefix, "{pat}");
        for t in *matches {
            assert!(m.is_match(t) && fast.is_match(t), "{pat} should match {t}");
        }
    }
    let m = globset::GlobBuilder::new("a/**")
        .literal_separator(false)
        .build()
        .unwrap()
        .compile_matcher();
    assert!(
        !m.is_match("a"),
        "globset's a/** does not match a (no trailing-slash trim needed)"
    );
}

// -------------------------------------------- indexed evaluation against a full scan

/// Values policies and requests are drawn from: qualified and unqualified names in several
/// spellings, glob prefixes that nest (`r`, `r1`, `r1_`), non-ASCII text.
const WORDS: &[&str] = &[
    "users",
    "public.users",
    "PUBLIC.Users",
    "\"users\"",
    "r1_a",
    "public.r1_a",
    "R1_A",
    "r12_b",
    "audit.r1_b",
    "x.y.r1_a",
    "r1",
    "r",
    "ré_x",
    "public.ré",
    "r1_a/b",
    "s1_a",
    "delete",
    "select",
    "",
];

/// Glob patterns with and without literal prefixes, qualified and not.
const GLOBS: &[&str] = &[
    "r1_*",
    "r1*",
    "r*",
    "r12_*",
    "r1_a",
    "audit.*",
    "audit.r1_*",
    "x.y.*",
    "public.*",
    "ré*",
    "r?_a",
    "[rs]1_*",
    "{r,s}1_*",
    "r1_a/**",
    "r1_\\*",
    "*_a",
    "*",
    "",
    "del*",
    "sel?ct",
    "\"users*",
    "USERS",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

fn glob_pat() -> impl Strategy<Value = String> {
    prop::sample::select(GLOBS).prop_map(str::to_owned)
}

/// One matcher on a text fact, as a JSON value.
fn text_matcher(list: bool) -> BoxedStrategy<serde_json::Value> {
    use serde_json::json;
    let mut ops: Vec<BoxedStrategy<serde_json::Value>> = vec![
        word().prop_map(|w| json!(w)).boxed(),
        prop::collection::vec(word(), 0..3)
            .prop_map(|ws| json!({ "in": ws }))
            .boxed(),
        glob_pat().prop_map(|g| json!({ "glob": g })).boxed(),
        prop::collection::vec(glob_pat(), 0..3)
            .prop_map(|gs| json!({ "glob": gs }))
            .boxed(),
        glob_pat()
            .prop_map(|g| json!({ "not": { "glob": g } }))
            .boxed(),
        word().prop_map(|w| json!({ "not": w })).boxed(),
        Just(json!({ "regex": "^r1" })).boxed(),
        any::<bool>().prop_map(|b| json!({ "exists": b })).boxed(),
    ];
    if list {
        ops.push(
            prop::collection::vec(word(), 0..3)
                .prop_map(|ws| json!({ "contains_any": ws }))
                .boxed(),
        );
        ops.push(
            prop::collection::vec(word(), 0..3)
                .prop_map(|ws| json!({ "contains_all": ws }))
                .boxed(),
        );
        ops.push(
            (glob_pat(), word())
                .prop_map(|(g, w)| json!({ "glob": g, "contains_any": [w] }))
                .boxed(),
        );
        ops.push((0i64..3).prop_map(|n| json!({ "gt": n })).boxed());
    } else {
        ops.push(
            (glob_pat(), word())
                .prop_map(|(g, w)| json!({ "glob": g, "not": w }))
                .boxed(),
        );
    }
    prop::strategy::Union::new(ops).boxed()
}

/// A random rule: an action, some fact matchers, maybe identity and resource matchers.
fn random_rule() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    let facts = (
        prop::option::of(text_matcher(false)),
        prop::option::of(text_matcher(true)),
        prop::option::of(text_matcher(true)),
        prop::option::of(text_matcher(false)),
        prop::option::of(prop_oneof![
            any::<bool>().prop_map(|b| json!(b)),
            Just(json!({ "not": true })),
        ]),
    );
    let identity = prop::option::of(prop_oneof![
        Just(json!({ "groups_any": ["dba"] })),
        Just(json!({ "groups_any": ["dev", "oncall"] })),
        Just(json!({ "subject": "alice" })),
        Just(json!({ "subject": ["bob", "al*"] })),
        Just(json!({ "groups_all": ["dev"] })),
    ]);
    let resource = prop::option::of(prop_oneof![
        Just(json!({ "protocol": "postgres" })),
        Just(json!({ "protocol": ["ssh", "postgres"] })),
        Just(json!({ "name": "payments-prod" })),
        Just(json!({ "name": "pay*", "protocol": "ssh" })),
    ]);
    (0..8usize, facts, identity, resource, any::<bool>()).prop_map(
        |(action, (st, wr, rd, cm, unb), identity, resource, by_grant)| {
            let mut rule = match action {
                0 => json!({ "action": "allow" }),
                1 => json!({ "action": "deny", "message": "no" }),
                2 => json!({ "action": "approve", "approvers": ["dba"] }),
                3 => json!({ "action": "approve", "approvers": ["sec"], "needed": 2 }),
                4 => json!({ "action": "mask", "profile": "pii" }),
                5 => json!({ "action": "mask", "profile": "cards" }),
                6 => json!({ "action": "deny" }),
                _ => json!({ "action": "approve", "approvers": ["sec", "dba"], "message": "ask" }),
            };
            let mut facts = serde_json::Map::new();
            for (name, m) in [
                ("sql.statement", st),
                ("sql.tables.write", wr),
                ("sql.tables.read", rd),
                ("sql.comment", cm),
                ("sql.unbounded", unb),
            ] {
                if let Some(m) = m {
                    facts.insert(name.to_owned(), m);
                }
            }
            if !facts.is_empty() {
                rule["facts"] = serde_json::Value::Object(facts);
            }
            if let Some(i) = identity {
                rule["identity"] = i;
            }
            if let Some(r) = resource {
                rule["resource"] = r;
            }
            if by_grant {
                rule["enabled_by_grant"] = json!(true);
            }
            rule
        },
    )
}

fn random_request() -> impl Strategy<Value = (Facts, Vec<String>, bool, bool, bool)> {
    let text = || prop::option::of(word());
    let list = || prop::option::of(prop::collection::vec(word(), 0..4));
    (
        (
            text(),
            list(),
            list(),
            text(),
            prop::option::of(any::<bool>()),
        ),
        prop::sample::subsequence(vec!["dba", "dev", "oncall"], 0..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|((st, wr, rd, cm, unb), groups, grant, postgres, bob)| {
            let mut f = Facts::new();
            if let Some(v) = st {
                f.insert("sql.statement", v);
            }
            if let Some(v) = wr {
                f.insert("sql.tables.write", v);
            }
            if let Some(v) = rd {
                f.insert("sql.tables.read", v);
            }
            if let Some(v) = cm {
                f.insert("sql.comment", v);
            }
            if let Some(v) = unb {
                f.insert("sql.unbounded", v);
            }
            let groups = groups.into_iter().map(str::to_owned).collect();
            (f, groups, grant, postgres, bob)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The index only narrows: the decision equals the one from visiting every rule, for
    /// random policies (glob prefixes, qualified names, negations) and requests.
    #[test]
    fn indexed_evaluation_equals_a_full_scan(
        rules in prop::collection::vec(random_rule(), 0..24),
        requests in prop::collection::vec(random_request(), 1..6),
    ) {
        let rules: Vec<serde_json::Value> = rules
            .into_iter()
            .enumerate()
            .map(|(i, mut r)| {
                r["id"] = serde_json::json!(format!("r{i}"));
                r
            })
            .collect();
        let doc = serde_json::json!({ "rules": rules }).to_string();
        let p = Policy::builder()
            .fact_schema(SCHEMA)
            .format(Format::Json)
            .build(&doc);
        let p = match p {
            Ok(p) => p,
            Err(e) => panic!("{e}\n{doc}"),
        };
        for (f, groups, grant, postgres, bob) in &requests {
            let id = Identity::new(if *bob { "bob" } else { "alice" }, AuthMethod::Trust)
                .with_groups(groups.iter().cloned());
            let r = if *postgres { db() } else { Resource::new("payments-db", "ssh") };
            let mut g = Grant::new(
                "g",
                id.subject.clone(),
                Timestamp::EPOCH,
                Timestamp::from_unix_secs(i64::MAX / 2_000_000),
            );
            g.rules = p.rules().step_by(2).map(|r| r.id.to_owned()).collect();
            g.groups = vec!["oncall".into()];
            let grants = if *grant { vec![g] } else { vec![] };
            let req = Request::new(&id, &r, f, noon()).with_grants(&grants);
            prop_assert_eq!(p.evaluate(&req), p.evaluate_with(&req, false), "{}", doc);
        }
    }

    /// Every string a glob matches starts with the literal prefix the index files it under,
    /// as globset compiles the pattern.
    #[test]
    fn glob_literal_prefixes_are_prefixes_of_every_match(
        pat in "[ab./*?\\[\\]{},!é-]{0,8}",
        texts in prop::collection::vec("[ab./é-]{0,8}", 1..16),
    ) {
        let Ok(g) = globset::GlobBuilder::new(&pat).literal_separator(false).build() else {
            return Ok(());
        };
        let m = g.compile_matcher();
        let fast = rule::Pattern::new(&pat, m.clone());
        let prefix = fast.literal_prefix();
        for t in texts.iter().map(String::as_str).chain([pat.as_str()]) {
            prop_assert_eq!(fast.is_match(t), m.is_match(t), "{} vs {}", pat, t);
            if let (true, Some(p)) = (m.is_match(t), prefix) {
                prop_assert!(t.starts_with(p), "{} matches {} without prefix {}", pat, t, p);
            }
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
