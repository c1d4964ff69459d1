//! Hostile shapes: deep nesting must give "unparsable", never a crash, on a 2 MiB stack (the
//! default of Rust and tokio threads; debug builds use the most stack per level).

use guard_sql::classify::{Classifier, StatementKind};

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("classification panicked");
}

#[test]
fn hundred_thousand_parentheses() {
    on_small_stack(|| {
        let sql = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let c = Classifier::new().classify(&sql);
        assert!(c.is_unparsable());
        assert_eq!(c.statements[0].kind, StatementKind::Unparsable);
    });
}

#[test]
fn long_operator_chains_are_refused_before_parsing() {
    on_small_stack(|| {
        let cl = Classifier::new();
        for n in [300, 1_000, 10_000, 100_000] {
            for op in [" || ", " + ", "::text::int", " COLLATE \"C\" "] {
                let sql = format!("SELECT {}", vec!["a"; n].join(op));
                let c = cl.classify(&sql);
                assert!(c.is_unparsable(), "{op} x {n} classified");
            }
            let minus = format!("SELECT {}1", "- ".repeat(n));
            assert!(cl.classify(&minus).is_unparsable());
            let not = format!("SELECT {}true", "NOT ".repeat(n));
            assert!(cl.classify(&not).is_unparsable());
            // AND/OR lists are flat in the parse tree: long ones are fine.
            let flat = format!("SELECT 1 WHERE {}", vec!["a AND NOT b"; n].join(" OR "));
            assert!(
                !cl.classify(&flat).is_unparsable(),
                "flat list of {n} refused"
            );
        }
    });
}

/// Every shape at every size up to past the bound: whatever the answer, no crash.
#[test]
fn nesting_shapes_near_the_bound_do_not_crash() {
    on_small_stack(|| {
        let cl = Classifier::builder().cache_entries(0).build();
        for n in (10..=400).step_by(15) {
            let shapes = [
                format!("SELECT {}", vec!["x"; n].join(" || ")),
                format!("SELECT {}1", "- ".repeat(n)),
                format!("SELECT {}1{}", "(1 + ".repeat(n), ")".repeat(n)),
                format!("SELECT {}1{}", "f(".repeat(n), ")".repeat(n)),
                format!("SELECT {}1{}", "(SELECT ".repeat(n), ")".repeat(n)),
                format!(
                    "SELECT {}1{}",
                    "CASE WHEN a THEN ".repeat(n),
                    " END".repeat(n)
                ),
                format!("SELECT {}1{}", "ARRAY[".repeat(n), "]".repeat(n)),
                format!("SELECT * FROM t{}", " JOIN t USING (a)".repeat(n)),
                format!("DELETE FROM t WHERE {}", vec!["a = 1"; n].join(" OR ")),
                format!("SELECT 1{}", " UNION SELECT 1".repeat(n)),
            ];
            for sql in shapes {
                let c = cl.classify(&sql);
                assert!(!c.statements.is_empty());
            }
        }
    });
}

#[test]
fn wide_but_flat_statements_are_classified() {
    on_small_stack(|| {
        let cl = Classifier::new();
        let rows: Vec<String> = (0..5_000)
            .map(|i| format!("({i}, 'name {i}', -{i}.5)"))
            .collect();
        let sql = format!("INSERT INTO t (a, b, c) VALUES {}", rows.join(", "));
        let c = cl.classify(&sql);
        assert!(!c.is_unparsable(), "{:?}", c.error);
        let list: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        let sql = format!("SELECT * FROM t WHERE id IN ({})", list.join(","));
        assert!(!cl.classify(&sql).is_unparsable());
    });
}
