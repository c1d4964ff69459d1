//! Inputs the `sql_classify` fuzz target once failed on, checked with the target's invariants:
//! no panic; cached (twice) and uncached classifications of the same text are identical.

use guard_sql::classify::{Classifier, Dialect};

/// (name, bytes, text classified just before it, which the bug needed in the cache).
const CASES: &[(&str, &[u8], &str)] = &[(
    // A NUL byte inside a string literal normalized to the same cache key as the literal
    // without it; pg_query refuses any NUL, so the cached answer was wrong.
    "nul-in-literal-shares-normalized-key",
    include_bytes!("../testdata/fuzz-sql_classify/nul-in-literal-shares-normalized-key"),
    "SELECT DO_read_file('x'), set_cEEonfig('rore', 'x', false)",
)];

#[test]
fn fuzz_regressions() {
    for (name, bytes, before) in CASES {
        let sql = std::str::from_utf8(bytes).expect("fuzz inputs here are UTF-8");
        for dialect in [Dialect::Postgres, Dialect::MySql] {
            let cl = Classifier::builder().dialect(dialect).build();
            cl.classify(before);
            let uncached = cl.classify_uncached(sql);
            assert_eq!(*cl.classify(sql), uncached, "{name}");
            assert_eq!(*cl.classify(sql), uncached, "{name}");
        }
    }
}

/// Inputs on which the MySQL parser (sqlparser 0.55) backtracked exponentially: 3.6 s, 14 s and
/// 21 s each in a release build, found as the fuzz target's slow units. sqlparser 0.64 remembers
/// where a speculative parse failed and reads each in about a millisecond; a regression shows
/// as this test taking tens of seconds.
#[test]
fn mysql_inputs_that_once_took_seconds() {
    let cases: [&[u8]; 3] = [
        include_bytes!("../testdata/fuzz-sql_classify/mysql-slow-case-chain"),
        include_bytes!("../testdata/fuzz-sql_classify/mysql-slow-set-chain"),
        include_bytes!("../testdata/fuzz-sql_classify/mysql-slow-set-case-dollar"),
    ];
    let cl = Classifier::builder().dialect(Dialect::MySql).build();
    for bytes in cases {
        let sql = std::str::from_utf8(bytes).expect("fuzz inputs here are UTF-8");
        let uncached = cl.classify_uncached(sql);
        assert_eq!(uncached.statements.len(), 1, "{sql}");
        assert_eq!(*cl.classify(sql), uncached);
    }
}
