//! A fixed workload for instruction-count profiling of the cold classification path:
//! `valgrind --tool=callgrind target/release/examples/profile_classify MODE N`, where MODE is
//! `cold` (the classifier's cache-miss path), `uncached` (parse and walk only) or `parse`
//! (pg_query::parse alone), over the bench's OLTP statements.

use guard_sql::classify::Classifier;

const OLTP: &[&str] = &[
    "SELECT id, name, email FROM users WHERE id = 42",
    "SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id \
     WHERE o.created_at > now() - interval '1 day' ORDER BY o.id DESC LIMIT 50",
    "INSERT INTO orders (user_id, total, status) VALUES (7, 19.99, 'new') RETURNING id",
    "UPDATE accounts SET balance = balance - 10, updated_at = now() WHERE id = 7",
    "DELETE FROM sessions WHERE expires_at < $1",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "cold".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let only: Option<usize> = args.next().and_then(|s| s.parse().ok());
    let classifier = Classifier::new();
    let mut total = 0usize;
    for i in 0..n {
        for (j, sql) in OLTP.iter().enumerate() {
            if only.is_some_and(|o| o != j) {
                continue;
            }
            total += match mode.as_str() {
                "cold" => {
                    classifier.clear_cache();
                    classifier.classify(sql).statements.len()
                }
                "uncached" => classifier.classify_uncached(sql).statements.len(),
                "parse" => pg_query::parse(sql, 0)
                    .map(|p| p.protobuf.stmts.len())
                    .unwrap_or(0),
                other => panic!("unknown mode {other}"),
            };
        }
        let _ = i;
    }
    println!("{total}");
}
