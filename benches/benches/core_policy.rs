//! One policy decision with 10, 100 and 1,000 rules (guard-core).
//!
//! The policies are synthetic but shaped like real ones: most rules name a protocol and a table
//! or statement kind (the index files them under those values), a few match on identity or
//! time only (visited for every request), and a few are mask rules. The request is a DELETE on
//! one table by a member of `dev`; 1 to 3 rules match. Two variants of it: the same statement
//! also reading eight tables (two of them allowed by statement rules filed under their table
//! glob's prefix), and an identity in 40 groups. The expected verdicts are asserted before
//! timing.
//!
//! Run: `cargo bench -p guard-benches --bench core_policy -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_main};
use guard_core::{
    AuthMethod, FactDef, FactType, Facts, Grant, Identity, Policy, Request, Resource, Timestamp,
    Verdict,
};

static SCHEMA: &[FactDef] = &[
    FactDef::new("sql.statement", FactType::Str, "statement kind"),
    FactDef::new("sql.effect", FactType::Str, "effect"),
    FactDef::names("sql.tables.write", FactType::List, "tables written"),
    FactDef::names("sql.tables.read", FactType::List, "tables read"),
    FactDef::new("sql.unbounded", FactType::Bool, "no WHERE"),
    FactDef::new("k8s.verb", FactType::Str, "verb"),
    FactDef::new("ssh.command", FactType::Str, "command"),
];

const STATEMENTS: &[&str] = &[
    "select",
    "insert",
    "update",
    "delete",
    "truncate",
    "drop_table",
];

/// A policy of `n` rules.
fn policy_text(n: usize) -> String {
    let mut s = String::from("default = \"deny\"\n");
    for i in 0..n {
        let rule = match i % 10 {
            // Table rules: allow writes of one table to one team, deny another, approve a third.
            0..=2 => format!(
                "action = \"allow\"\nidentity = {{ groups_any = [\"team{}\"] }}\n\
                 resource = {{ protocol = \"postgres\" }}\n\
                 facts = {{ \"sql.tables.write\" = {{ contains_any = [\"t{i}\"] }} }}",
                i % 7
            ),
            3 => format!(
                "action = \"deny\"\nmessage = \"t{i} is append-only\"\n\
                 resource = {{ protocol = \"postgres\" }}\n\
                 facts = {{ \"sql.tables.write\" = {{ contains_any = [\"t{i}\"] }}, \
                 \"sql.statement\" = {{ in = [\"update\", \"delete\"] }} }}"
            ),
            4 => format!(
                "action = \"approve\"\napprovers = [\"dba\"]\n\
                 resource = {{ protocol = \"postgres\", labels = {{ env = \"prod\" }} }}\n\
                 facts = {{ \"sql.tables.write\" = {{ contains_any = [\"public.t{i}\"] }} }}"
            ),
            5 => format!(
                "action = \"allow\"\nresource = {{ protocol = \"postgres\" }}\n\
                 facts = {{ \"sql.statement\" = \"{}\", \"sql.tables.read\" = \
                 {{ glob = \"r{i}_*\" }} }}",
                STATEMENTS[i % STATEMENTS.len()]
            ),
            // Other protocols: never visited for a Postgres request.
            6 => format!(
                "action = \"deny\"\nresource = {{ protocol = \"kubernetes\" }}\n\
                 facts = {{ \"k8s.verb\" = \"v{i}\" }}"
            ),
            7 => format!(
                "action = \"allow\"\nresource = {{ protocol = \"ssh\" }}\n\
                 facts = {{ \"ssh.command\" = {{ glob = \"c{i}*\" }} }}"
            ),
            // Identity and time only: visited for every request of the protocol.
            8 if i % 20 == 8 => format!(
                "action = \"deny\"\nidentity = {{ subject = \"banned-{i}\" }}\n\
                 resource = {{ protocol = \"postgres\" }}"
            ),
            // One mask rule per database.
            8 => format!(
                "action = \"mask\"\nprofile = \"pii{}\"\nresource = {{ name = \"db-{i}\" }}",
                i % 3
            ),
            _ => "action = \"deny\"\ntime = { days = [\"sun\"], hours = \"02:00-03:00\" }\n\
                  resource = { protocol = \"postgres\" }\n\
                  facts = { \"sql.effect\" = \"ddl\" }"
                .to_owned(),
        };
        s.push_str(&format!("\n[[rule]]\nid = \"r{i}\"\n{rule}\n"));
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_policy/decide");
    let identity =
        Identity::new("alice", AuthMethod::Password).with_groups(["dev", "team0", "team3"]);
    let resource = Resource::new("db-18", "postgres").with_label("env", "prod");
    // 2024-01-01 (a Monday) 12:00 UTC.
    let now = Timestamp::from_unix_secs(1_704_110_400);
    let mut grant = Grant::new(
        "g1",
        "alice",
        now,
        now.saturating_add(Duration::from_secs(60)),
    );
    grant.groups = vec!["team5".into()];
    let grants = [grant];
    for n in [10usize, 100, 1000] {
        let policy = Policy::builder()
            .fact_schema(SCHEMA)
            .build(&policy_text(n))
            .unwrap();
        assert_eq!(policy.len(), n);
        // Rule r0 (team0 may write t0) allows; r3 would deny updates of t3 only.
        let mut facts = Facts::new();
        facts.insert("sql.statement", "delete");
        facts.insert("sql.effect", "write");
        facts.insert("sql.tables.write", vec!["public.t0".to_owned()]);
        facts.insert("sql.tables.read", vec!["public.t0".to_owned()]);
        facts.insert("sql.unbounded", false);
        let req = Request::new(&identity, &resource, &facts, now).with_grants(&grants);
        let d = policy.evaluate(&req);
        assert_eq!(d.verdict, Verdict::Allow, "{}", d.explain);
        assert_eq!(d.rules, ["r0"]);
        // The mask rule of db-18 exists from 100 rules on.
        let masks: &[&str] = if n < 100 { &[] } else { &["pii0"] };
        assert_eq!(d.masks, masks, "{}", d.explain);
        // A statement on an append-only table is denied.
        let mut denied = facts.clone();
        denied.insert("sql.tables.write", vec!["t3".to_owned()]);
        let d = policy.evaluate(&req.with_facts(&denied));
        assert!(d.is_deny(), "{}", d.explain);

        group.bench_with_input(BenchmarkId::new("rules", n), &n, |b, _| {
            b.iter(|| black_box(policy.evaluate(black_box(&req))))
        });

        // The same DELETE also reading eight tables, two of which the statement rules r15 and
        // r45 (DELETE, reads `r15_*` / `r45_*`) allow: every table is looked up in the index.
        let mut reads = facts.clone();
        reads.insert(
            "sql.tables.read",
            [
                "public.t0",
                "public.r15_orders",
                "r45_items",
                "audit.t7",
                "public.customers",
                "r1",
                "reports.r999",
                "\"R15_Orders\"",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
        let req_reads = req.with_facts(&reads);
        let d = policy.evaluate(&req_reads);
        assert_eq!(d.verdict, Verdict::Allow, "{}", d.explain);
        let allowed: &[&str] = if n < 100 {
            &["r0"]
        } else {
            &["r0", "r15", "r45"]
        };
        assert_eq!(d.rules, allowed, "{}", d.explain);
        assert_eq!(d.masks, masks, "{}", d.explain);
        group.bench_with_input(BenchmarkId::new("rules_reads", n), &n, |b, _| {
            b.iter(|| black_box(policy.evaluate(black_box(&req_reads))))
        });

        // The same request by an identity in 40 groups (as directory-backed tokens often
        // carry), including a `team*` group of every table rule.
        let many = Identity::new("alice", AuthMethod::Password).with_groups(
            (0..36)
                .map(|g| format!("directory-group-{g}"))
                .chain(["dev", "team0", "team3", "team6"].map(str::to_owned)),
        );
        let req_groups = Request::new(&many, &resource, &facts, now).with_grants(&grants);
        let d = policy.evaluate(&req_groups);
        assert_eq!(d.verdict, Verdict::Allow, "{}", d.explain);
        assert_eq!(d.rules, ["r0"], "{}", d.explain);
        assert_eq!(d.masks, masks, "{}", d.explain);
        group.bench_with_input(BenchmarkId::new("rules_groups", n), &n, |b, _| {
            b.iter(|| black_box(policy.evaluate(black_box(&req_groups))))
        });
    }
    group.finish();
}

// `criterion_group!` generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
