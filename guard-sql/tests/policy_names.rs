//! The qualified-name contract (CONTRACTS.md "Facts"): a policy matcher on an unqualified table
//! or function name matches it in any schema, a qualified one only there. guard-sql publishes
//! its table and function facts as qualified names, so this holds for real classifications.

use guard_core::{AuthMethod, Identity, Policy, Request, Resource, Timestamp};
use guard_sql::classify::Classifier;

const POLICY: &str = r#"
default = "allow"

[[rule]]
id = "users-writes"
action = "deny"
message = "writes to users need a DBA"
facts = { "sql.tables.write" = { contains_any = ["users"] } }

[[rule]]
id = "audit-writes"
action = "deny"
message = "audit.log is append-only"
facts = { "sql.tables.write" = { contains_any = ["audit.log"] }, "sql.statement" = { not = "insert" } }

[[rule]]
id = "no-file-reads"
action = "deny"
message = "no server file access"
facts = { "sql.functions.dangerous" = { contains_any = ["pg_read_file"] } }
"#;

fn verdict(policy: &Policy, classifier: &Classifier, sql: &str) -> &'static str {
    let identity = Identity::new("agent", AuthMethod::Password);
    let resource = Resource::new("app", "postgres");
    let facts = classifier
        .classify(sql)
        .statement_facts(0)
        .expect("one statement");
    let now = Timestamp::from_unix_secs(1_700_000_000);
    policy
        .evaluate(&Request::new(&identity, &resource, &facts, now))
        .verdict
        .kind()
}

#[test]
fn unqualified_policy_names_match_in_any_schema_and_qualified_only_there() {
    let mut builder = Policy::builder();
    builder.fact_schema(guard_sql::FACTS);
    let policy = builder.build(POLICY).expect("policy compiles");
    let cl = Classifier::new();

    assert_eq!(
        verdict(&policy, &cl, "DELETE FROM users WHERE id = 1"),
        "deny"
    );
    assert_eq!(
        verdict(&policy, &cl, "DELETE FROM public.users WHERE id = 1"),
        "deny"
    );
    assert_eq!(
        verdict(&policy, &cl, "UPDATE app.users SET a = 1 WHERE id = 2"),
        "deny"
    );
    assert_eq!(
        verdict(&policy, &cl, "DELETE FROM users_archive WHERE id = 1"),
        "allow"
    );
    assert_eq!(verdict(&policy, &cl, "SELECT * FROM public.users"), "allow");

    assert_eq!(
        verdict(&policy, &cl, "DELETE FROM audit.log WHERE id = 1"),
        "deny"
    );
    assert_eq!(
        verdict(&policy, &cl, "DELETE FROM other.log WHERE id = 1"),
        "allow"
    );
    assert_eq!(
        verdict(&policy, &cl, "INSERT INTO audit.log VALUES (1)"),
        "allow"
    );

    assert_eq!(
        verdict(&policy, &cl, "SELECT pg_read_file('/etc/passwd')"),
        "deny"
    );
    assert_eq!(
        verdict(
            &policy,
            &cl,
            "SELECT pg_catalog.pg_read_file('/etc/passwd')"
        ),
        "deny"
    );
}
