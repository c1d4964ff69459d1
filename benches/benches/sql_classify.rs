//! SQL classification: cold (cache miss) and cached (normalized-form hit) costs.
//!
//! Targets (issue 3): a cold typical OLTP statement <= 20 us p50, a repeated statement (same
//! normalized form) <= 1 us. Run with
//! `cargo bench -p guard-benches --bench sql_classify -- --warm-up-time 1 --measurement-time 3`.
//!
//! - `cold/*`: what a gateway pays the first time it sees a statement: `Classifier::classify`
//!   on a classifier whose cache does not hold it (normalized key, both cache lookups, parse,
//!   walk, insertion). Each iteration gets a fresh, empty classifier, built outside the timed
//!   part and dropped outside it too.
//! - `uncached/*`: `classify_uncached`, the parse and walk alone.
//! - `baseline_pg_query_parse/*`: pg_query's parse alone (C parser, protobuf encoding in C,
//!   prost decoding, pg_query's own `ParseResult` summary), which both include.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_main};
use guard_sql::classify::{Classifier, Effect, StatementKind};

/// Typical OLTP statements, with the kind and effect each must classify as.
const OLTP: &[(&str, &str, StatementKind, Effect)] = &[
    (
        "select_by_id",
        "SELECT id, name, email FROM users WHERE id = 42",
        StatementKind::Select,
        Effect::Read,
    ),
    (
        "join_select",
        "SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id \
         WHERE o.created_at > now() - interval '1 day' ORDER BY o.id DESC LIMIT 50",
        StatementKind::Select,
        Effect::Read,
    ),
    (
        "insert",
        "INSERT INTO orders (user_id, total, status) VALUES (7, 19.99, 'new') RETURNING id",
        StatementKind::Insert,
        Effect::Write,
    ),
    (
        "update",
        "UPDATE accounts SET balance = balance - 10, updated_at = now() WHERE id = 7",
        StatementKind::Update,
        Effect::Write,
    ),
    (
        "delete",
        "DELETE FROM sessions WHERE expires_at < $1",
        StatementKind::Delete,
        Effect::Write,
    ),
];

fn bench(c: &mut Criterion) {
    let classifier = Classifier::new();
    for (name, sql, kind, effect) in OLTP {
        // A fast wrong answer is not a result.
        let cold = classifier.classify_uncached(sql);
        assert_eq!(cold.statements.len(), 1);
        assert_eq!(cold.statements[0].kind, *kind, "{name}");
        assert_eq!(cold.statements[0].effect, *effect, "{name}");
        assert!(!cold.statements[0].opaque, "{name}");
        c.bench_function(&format!("sql_classify/cold/{name}"), |b| {
            b.iter_batched(
                Classifier::new,
                |fresh| {
                    let c = fresh.classify(black_box(sql));
                    (fresh, c)
                },
                BatchSize::SmallInput,
            )
        });
        c.bench_function(&format!("sql_classify/uncached/{name}"), |b| {
            b.iter(|| classifier.classify_uncached(black_box(sql)))
        });
        // Baseline: pg_query's parse alone (C parser, protobuf round trip, its own summary),
        // which the cold path includes.
        assert!(pg_query::parse(sql, 0).is_ok());
        c.bench_function(
            &format!("sql_classify/baseline_pg_query_parse/{name}"),
            |b| b.iter(|| pg_query::parse(black_box(sql), 0)),
        );
    }
    for (name, sql, kind, _) in OLTP {
        let warm = classifier.classify(sql);
        assert_eq!(warm.statements[0].kind, *kind);
        c.bench_function(&format!("sql_classify/cached/{name}"), |b| {
            b.iter(|| classifier.classify(black_box(sql)))
        });
    }
    // Same normalized form, other constants: still a cache hit.
    let a = classifier.classify("SELECT id, name, email FROM users WHERE id = 42");
    let other = "SELECT id, name, email FROM users WHERE id = 43";
    assert!(std::sync::Arc::ptr_eq(&a, &classifier.classify(other)));
    c.bench_function("sql_classify/cached/select_other_constant", |b| {
        b.iter(|| classifier.classify(black_box(other)))
    });
}

// The macro generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
