//! COPY statements: options read as PostgreSQL reads them (both syntaxes, its defaults and
//! refusals) and the SELECT whose Describe gives COPY's columns.

use guard_sql::copy::{
    CopyDirection, CopyFormat, CopyHeader, CopyOptions, CopySqlError, ForceQuote, copy_select,
};

fn opts(sql: &str) -> CopyOptions {
    CopyOptions::from_sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn err(sql: &str) -> CopySqlError {
    match CopyOptions::from_sql(sql) {
        Ok(o) => panic!("{sql}: accepted as {o:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_per_format() {
    let t = opts("COPY t TO STDOUT");
    assert_eq!(t, CopyOptions::text());
    assert_eq!((t.delimiter, t.null.as_slice()), (b'\t', &b"\\N"[..]));
    let c = opts("COPY t TO STDOUT (FORMAT csv)");
    assert_eq!(c, CopyOptions::csv());
    assert_eq!(
        (c.delimiter, c.null.as_slice(), c.quote, c.escape),
        (b',', &b""[..], b'"', b'"')
    );
    assert_eq!(
        opts("COPY t TO STDOUT (FORMAT binary)"),
        CopyOptions::binary()
    );
    assert_eq!(opts("COPY t FROM STDIN").direction, CopyDirection::From);
}

#[test]
fn modern_and_legacy_spellings_agree() {
    let pairs = [
        (
            "COPY t TO STDOUT (FORMAT csv, HEADER)",
            "COPY t TO STDOUT CSV HEADER",
        ),
        (
            "COPY t TO STDOUT (FORMAT binary)",
            "COPY t TO STDOUT BINARY",
        ),
        (
            "COPY t TO STDOUT (FORMAT binary)",
            "COPY BINARY t TO STDOUT",
        ),
        (
            "COPY t TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'x', QUOTE '''', ESCAPE '\\')",
            "COPY t TO STDOUT WITH CSV DELIMITER ';' NULL 'x' QUOTE '''' ESCAPE '\\'",
        ),
        (
            "COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE *)",
            "COPY t TO STDOUT CSV FORCE QUOTE *",
        ),
        (
            "COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE (a, \"B\"))",
            "COPY t TO STDOUT CSV FORCE QUOTE a, \"B\"",
        ),
        (
            "COPY t TO STDOUT (DELIMITER '|')",
            "COPY t TO STDOUT USING DELIMITERS '|'",
        ),
        (
            "COPY t TO STDOUT (ENCODING 'LATIN1')",
            "COPY t TO STDOUT ENCODING 'LATIN1'",
        ),
    ];
    for (modern, legacy) in pairs {
        assert_eq!(opts(modern), opts(legacy), "{modern} vs {legacy}");
    }
    let o = opts("COPY t TO STDOUT CSV FORCE QUOTE a, \"B\"");
    assert_eq!(
        o.force_quote,
        ForceQuote::Columns(vec!["a".into(), "B".into()])
    );
    assert_eq!(
        opts("COPY t TO STDOUT (ENCODING 'LATIN1')")
            .encoding
            .as_deref(),
        Some("LATIN1")
    );
}

#[test]
fn header_values_follow_def_get_boolean() {
    for (v, want) in [
        ("", CopyHeader::Present),
        (" true", CopyHeader::Present),
        (" ON", CopyHeader::Present),
        (" 1", CopyHeader::Present),
        (" false", CopyHeader::Absent),
        (" off", CopyHeader::Absent),
        (" 0", CopyHeader::Absent),
    ] {
        let sql = format!("COPY t TO STDOUT (FORMAT csv, HEADER{v})");
        assert_eq!(opts(&sql).header, want, "{sql}");
    }
    assert_eq!(
        opts("COPY t FROM STDIN (FORMAT csv, HEADER match)").header,
        CopyHeader::Match
    );
    assert!(matches!(
        err("COPY t TO STDOUT (FORMAT csv, HEADER match)"),
        CopySqlError::Conflict { .. }
    ));
    assert!(matches!(
        err("COPY t TO STDOUT (HEADER 2)"),
        CopySqlError::BadValue { .. }
    ));
    assert!(matches!(
        err("COPY t TO STDOUT (HEADER 'maybe')"),
        CopySqlError::BadValue { .. }
    ));
    // Text format takes a header since PostgreSQL 15; binary does not.
    assert_eq!(
        opts("COPY t TO STDOUT (HEADER)").header,
        CopyHeader::Present
    );
    assert!(matches!(
        err("COPY t TO STDOUT (FORMAT binary, HEADER)"),
        CopySqlError::Conflict { .. }
    ));
}

/// Whether an error is the expected one.
type Check = fn(&CopySqlError) -> bool;

#[test]
fn refusals() {
    let cases: &[(&str, Check)] = &[
        (
            "COPY t TO STDOUT (FOO 1)",
            |e| matches!(e, CopySqlError::UnknownOption { name } if name == "foo"),
        ),
        ("COPY t TO STDOUT (FORMAT csv, FORMAT text)", |e| {
            matches!(e, CopySqlError::Redundant { .. })
        }),
        ("COPY t TO STDOUT (FORMAT xml)", |e| {
            matches!(
                e,
                CopySqlError::BadValue {
                    option: "format",
                    ..
                }
            )
        }),
        ("COPY t TO STDOUT (FORMAT 'CSV')", |e| {
            matches!(e, CopySqlError::BadValue { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER ',,')", |e| {
            matches!(e, CopySqlError::BadValue { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER 'é')", |e| {
            matches!(e, CopySqlError::BadValue { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER 'a')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER '\\')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER E'\\n')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (NULL E'a\\rb')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER ',', NULL 'a,b')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (FORMAT binary, DELIMITER ',')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (FORMAT binary, NULL 'x')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (QUOTE '''')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (ESCAPE '\\')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (FORCE_QUOTE *)", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t FROM STDIN (FORMAT csv, FORCE_QUOTE *)", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (FORMAT csv, QUOTE ',')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t TO STDOUT (FORMAT csv, NULL '\"')", |e| {
            matches!(e, CopySqlError::Conflict { .. })
        }),
        ("COPY t FROM STDIN (FORMAT csv, FORCE_NULL (a))", |e| {
            matches!(e, CopySqlError::Unsupported { .. })
        }),
        ("COPY t FROM STDIN (FORMAT csv, FORCE_NOT_NULL (a))", |e| {
            matches!(e, CopySqlError::Unsupported { .. })
        }),
        ("COPY t FROM STDIN (DEFAULT 'd')", |e| {
            matches!(e, CopySqlError::Unsupported { .. })
        }),
        ("COPY t TO STDOUT (ENCODING 'SJIS')", |e| {
            matches!(e, CopySqlError::Unsupported { .. })
        }),
        ("COPY t TO STDOUT (ENCODING 'win932')", |e| {
            matches!(e, CopySqlError::Unsupported { .. })
        }),
        ("COPY t TO STDOUT (DELIMITER)", |e| {
            matches!(e, CopySqlError::BadValue { .. })
        }),
        ("SELECT 1", |e| matches!(e, CopySqlError::NotCopy)),
        ("COPY t TO STDOUT; COPY u TO STDOUT", |e| {
            matches!(e, CopySqlError::MultipleStatements { count: 2 })
        }),
        ("COPY t TO STDOUT (FORMAT", |e| {
            matches!(e, CopySqlError::Unparsable { .. })
        }),
    ];
    for (sql, ok) in cases {
        let e = err(sql);
        assert!(ok(&e), "{sql}: {e:?}");
        assert!(!e.to_string().is_empty());
        assert_eq!(e.sqlstate().len(), 5);
    }
}

#[test]
fn layout_neutral_options_are_accepted() {
    assert_eq!(opts("COPY t FROM STDIN (FREEZE)").format, CopyFormat::Text);
    assert_eq!(
        opts("COPY t FROM STDIN (FORMAT csv, ON_ERROR ignore)").format,
        CopyFormat::Csv
    );
    assert!(matches!(
        err("COPY t FROM STDIN (ON_ERROR maybe)"),
        CopySqlError::BadValue { .. }
    ));
}

/// Checks that `s` parses as one statement of the expected kind.
fn parses_as(s: &str, kind: &str) {
    let p =
        pg_query::parse(s, pg_query::ParserOptions::DEFAULT).unwrap_or_else(|e| panic!("{s}: {e}"));
    assert_eq!(p.protobuf.stmts.len(), 1, "{s}");
    let node = p.protobuf.stmts[0]
        .stmt
        .as_ref()
        .unwrap()
        .node
        .as_ref()
        .unwrap();
    let dbg = format!("{node:?}");
    assert!(dbg.starts_with(kind), "{s}: {dbg:.60}");
}

#[test]
fn select_for_a_table() {
    let cases = [
        (
            "COPY users TO STDOUT",
            r#"SELECT * FROM ONLY "users""#,
            true,
        ),
        (
            "COPY Public.Users TO STDOUT CSV",
            r#"SELECT * FROM ONLY "public"."users""#,
            true,
        ),
        (
            "COPY db.s.t (b, a) TO STDOUT",
            r#"SELECT "b", "a" FROM ONLY "db"."s"."t""#,
            false,
        ),
        (
            r#"COPY "We""ird Name" ("Col ""1""", x) TO STDOUT (FORMAT binary)"#,
            r#"SELECT "Col ""1""", "x" FROM ONLY "We""ird Name""#,
            false,
        ),
        ("COPY BINARY t TO STDOUT", r#"SELECT * FROM ONLY "t""#, true),
        (
            "COPY \"select\" (\"from\") TO STDOUT",
            r#"SELECT "from" FROM ONLY "select""#,
            false,
        ),
    ];
    for (sql, want, all) in cases {
        let s = copy_select(sql).unwrap().unwrap();
        assert_eq!(s.sql, want, "{sql}");
        assert_eq!(s.all_columns, all, "{sql}");
        parses_as(&s.sql, "SelectStmt");
    }
}

#[test]
fn select_for_a_query_is_its_text() {
    let cases = [
        ("COPY (SELECT 1) TO STDOUT", "SELECT 1", "SelectStmt"),
        (
            "/* c */ copy -- x\n ( select a, (b) from t where (c) ) to stdout with csv",
            "select a, (b) from t where (c)",
            "SelectStmt",
        ),
        (
            "COPY (VALUES (1, ')'), (2, '(')) TO STDOUT",
            "VALUES (1, ')'), (2, '(')",
            "SelectStmt",
        ),
        ("COPY (TABLE t) TO STDOUT", "TABLE t", "SelectStmt"),
        (
            "COPY (DELETE FROM t WHERE a > 1 RETURNING a) TO STDOUT",
            "DELETE FROM t WHERE a > 1 RETURNING a",
            "DeleteStmt",
        ),
        (
            "COPY (SELECT ')' AS \")\") TO STDOUT;",
            "SELECT ')' AS \")\"",
            "SelectStmt",
        ),
    ];
    for (sql, want, kind) in cases {
        let s = copy_select(sql).unwrap().unwrap();
        assert_eq!(s.sql, want, "{sql}");
        assert!(!s.all_columns);
        parses_as(&s.sql, kind);
    }
}

#[test]
fn no_select_for_other_copies_and_statements() {
    for sql in [
        "COPY t FROM STDIN",
        "COPY t TO '/tmp/x'",
        "COPY t TO PROGRAM 'cat'",
        "COPY (SELECT 1) TO '/tmp/x'",
        "SELECT 1",
        "INSERT INTO t VALUES (1)",
    ] {
        assert_eq!(copy_select(sql).unwrap(), None, "{sql}");
    }
    assert!(copy_select("COPY t TO STDOUT; SELECT 1").is_err());
    assert!(copy_select("COPY (SELECT TO STDOUT").is_err());
    let deep = format!("COPY (SELECT {}1) TO STDOUT", "1 + ".repeat(5000));
    assert!(matches!(
        copy_select(&deep),
        Err(CopySqlError::Unparsable { .. })
    ));
}
