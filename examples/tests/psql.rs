//! End to end with the real `psql` against a real PostgreSQL 15 through the gateway.

mod support;

use support::*;

#[test]
fn static_user_scram_login_and_queries() {
    let db = fresh_database("psql_login");
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["SELECT 1 + 1", "SELECT current_user"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "2\npostgres\n");
}

#[test]
fn application_name_upstream_names_the_identity() {
    let db = fresh_database("psql_appname");
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "guard:alice\n");
}

#[test]
fn a_connection_that_does_not_log_in_in_time_is_dropped() {
    use std::io::{Read, Write};
    let db = fresh_database("psql_login_timeout");
    let gw = TestGateway::start(
        &db,
        Opts {
            login_timeout: "1s",
            ..Opts::default()
        },
    );
    let started = std::time::Instant::now();
    // One says nothing; one starts the password exchange and stalls.
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    let mut startup = Vec::new();
    let body = b"\0\x03\0\0user\0bob\0database\0x\0\0";
    startup.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    startup.extend_from_slice(body);
    stalled.write_all(&startup).unwrap();
    for s in [&mut idle, &mut stalled] {
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut rest = Vec::new();
        // The gateway closes the connection (an EOF, after whatever it had sent).
        s.read_to_end(&mut rest).expect("closed, not timed out");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // Logging in in time still works.
    let o = psql(&gw.user_url("alice", ALICE_PW), &["SELECT 'in'"]);
    assert_eq!(stdout(&o), "in\n", "{}", stderr(&o));
}

#[test]
fn wrong_password_is_refused() {
    let db = fresh_database("psql_wrongpw");
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(&gw.user_url("alice", "nope"), &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("password authentication failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn token_login_over_tls() {
    let db = fresh_database("psql_token");
    let gw = TestGateway::start(&db, Opts::default());
    let t = gw.token("carol", &["agents"]);
    let o = psql(
        &gw.token_url(&t),
        &[
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            "SHOW ssl",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("guard:carol\n"), "{}", stdout(&o));
}

#[test]
fn token_without_tls_is_refused() {
    let db = fresh_database("psql_token_plain");
    let gw = TestGateway::start(&db, Opts::default());
    let t = gw.token("carol", &["agents"]);
    let url = format!(
        "postgresql://agent:{t}@127.0.0.1:{}/app?sslmode=disable",
        gw.port
    );
    let o = psql(&url, &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("TLS"), "{}", stderr(&o));
}

#[test]
fn expired_or_forged_token_is_refused() {
    let db = fresh_database("psql_token_bad");
    let gw = TestGateway::start(&db, Opts::default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = gw
        .issuer
        .mint_claims("carol", &["agents"], now - 7200, now - 3600);
    let o = psql(&gw.token_url(&expired), &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("authentication failed"),
        "{}",
        stderr(&o)
    );
    let other = guard_gateway::jwt::DemoIssuer::generate("https://idp.test", "guard");
    let forged = other.mint("carol", &["dba"], std::time::Duration::from_secs(60));
    let o = psql(&gw.token_url(&forged), &["SELECT 1"]);
    assert!(!o.status.success());
}

#[test]
fn unknown_resource_is_refused() {
    let db = fresh_database("psql_nores");
    let gw = TestGateway::start(&db, Opts::default());
    let url = format!(
        "postgresql://alice:{ALICE_PW}@127.0.0.1:{}/nope?sslmode=disable",
        gw.port
    );
    let o = psql(&url, &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no resource named"), "{}", stderr(&o));
}

#[test]
fn denied_statement_keeps_session_usable_outside_a_transaction() {
    let db = fresh_database("psql_deny");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["DELETE FROM customers", "SELECT count(*) FROM customers"],
    );
    let err = stderr(&o);
    assert!(err.contains("no-unbounded-writes"), "{err}");
    assert!(err.contains("42501") || err.contains("denied"), "{err}");
    assert!(stdout(&o).contains('2'), "{}", stdout(&o));
    assert_eq!(
        cluster()
            .psql(&db, "SELECT count(*) FROM customers")
            .unwrap()
            .trim(),
        "2"
    );
    let audit = gw.audit_log();
    assert!(
        audit.lines().any(|l| l.contains("\"verdict\":\"deny\"")),
        "{audit}"
    );
}

#[test]
fn denied_statement_inside_a_transaction_aborts_it_on_both_sides() {
    let db = fresh_database("psql_deny_tx");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    // One psql session, one string per -c: BEGIN; insert; denied; select (fails: aborted);
    // ROLLBACK; then the insert must be gone and the session usable.
    let script = "BEGIN;\n\
                  INSERT INTO customers (id, name) VALUES (3, 'Cy');\n\
                  DROP TABLE customers;\n\
                  SELECT 'after-deny';\n\
                  ROLLBACK;\n\
                  SELECT 'usable', count(*) FROM customers;\n";
    let mut child = std::process::Command::new("psql")
        .args(["-X", "-A", "-t", "-d", &gw.user_url("alice", ALICE_PW)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(err.contains("no-drop"), "{err}");
    assert!(
        err.contains("current transaction is aborted"),
        "the upstream must be aborted too: {err}"
    );
    assert!(!out.contains("after-deny"), "{out}");
    assert!(out.contains("usable|2"), "{out}");
}

#[test]
fn multi_statement_string_is_refused_whole() {
    let db = fresh_database("psql_multi");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["INSERT INTO customers (id, name) VALUES (9, 'Zed'); TRUNCATE customers"],
    );
    assert!(stderr(&o).contains("no-drop"), "{}", stderr(&o));
    // Nothing of the string ran: the INSERT is not there either.
    assert_eq!(
        cluster()
            .psql(&db, "SELECT count(*) FROM customers")
            .unwrap()
            .trim(),
        "2"
    );
}

#[test]
fn a_prepared_statement_the_gateway_lost_track_of_is_not_run_blind() {
    let db = fresh_database("psql_lost_prepared");
    seed_customers(&db);
    // The policy allows by default. DEALLOCATE fails on the server inside an aborted
    // transaction, so the server keeps `d` while the gateway forgot it: its EXECUTE is one
    // the gateway cannot see into, and is refused rather than decided as harmless.
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &[
            "PREPARE d AS DELETE FROM customers",
            "BEGIN",
            "SELECT 1/0",
            "DEALLOCATE d",
            "ROLLBACK",
            "EXECUTE d",
        ],
    );
    let err = stderr(&o);
    assert!(
        err.contains("prepared statement the gateway does not know"),
        "{err}"
    );
    assert_eq!(
        cluster()
            .psql(&db, "SELECT count(*) FROM customers")
            .unwrap()
            .trim(),
        "2"
    );
}

#[test]
fn audit_only_mode_refuses_nothing_but_logs_the_denial() {
    let db = fresh_database("psql_shadow");
    seed_customers(&db);
    let gw = TestGateway::start(
        &db,
        Opts {
            audit_only: true,
            ..Opts::default()
        },
    );
    let o = psql(&gw.user_url("alice", ALICE_PW), &["DELETE FROM customers"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        cluster()
            .psql(&db, "SELECT count(*) FROM customers")
            .unwrap()
            .trim(),
        "0"
    );
    let audit = gw.audit_log();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"verdict\":\"deny\"") && l.contains("\"enforced\":false")),
        "{audit}"
    );
}

#[test]
fn masking_in_rows_by_column_rule_and_detector() {
    let db = fresh_database("psql_mask");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["SELECT id, email, ssn, card_number, note FROM customers ORDER BY id"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("ada@example.com"), "{out}");
    assert!(!out.contains("123-45-6789"), "{out}");
    assert!(!out.contains("4111 1111 1111 1111"), "{out}");
    assert!(out.contains("1111"), "partial keeps the last four: {out}");
    assert!(!out.contains("bob@example.org"), "{out}");
    // Admins (dba) see everything.
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &["SELECT email, ssn FROM customers WHERE id = 1"],
    );
    assert_eq!(
        stdout(&o),
        "ada@example.com|123-45-6789\n",
        "{}",
        stderr(&o)
    );
}

#[test]
fn values_computed_from_rule_columns_are_redacted() {
    let db = fresh_database("psql_mask_derived");
    seed_customers(&db);
    // Statements the gateway cannot see into run here (the setting that lets them is on for
    // agents): what they return is masked all the same.
    let gw = TestGateway::start(
        &db,
        Opts {
            opaque_groups: &["agents"],
            ..Opts::default()
        },
    );
    let alice = gw.user_url("alice", ALICE_PW);
    let run = |sql: &[&str]| {
        let o = psql(&alice, sql);
        assert!(o.status.success(), "{sql:?}: {}", stderr(&o));
        stdout(&o)
    };
    // A computed column carries no source column for `*.customers.ssn` to match, and the
    // detectors do not know `9876-54-321`: a computed column that refers to a rule's column
    // is redacted whole; one that does not (length(name), count(*)) is not.
    assert_eq!(
        run(&[
            "SELECT id, reverse(ssn) AS r, translate(ssn, '0123456789', 'abcdefghij'), \
             length(name), name FROM customers WHERE id = 1"
        ]),
        "1|[REDACTED]|[REDACTED]|3|Ada\n"
    );
    assert_eq!(
        run(&["SELECT count(*), max(length(name)) FROM customers WHERE ssn IS NOT NULL"]),
        "2|3\n"
    );
    // Where the result columns cannot be told apart (a subquery in FROM), all computed
    // columns of such a statement are.
    assert_eq!(
        run(&[
            "SELECT length(n), s FROM (SELECT name n, reverse(ssn) s FROM customers WHERE id = 1) x"
        ]),
        "[REDACTED]|[REDACTED]\n"
    );
    // UNION outputs, CTE expressions, whole rows, subqueries, a name rule (card_number).
    assert_eq!(
        run(&["SELECT ssn FROM customers WHERE id = 1 UNION ALL SELECT 'x'"]),
        "[REDACTED]\n[REDACTED]\n"
    );
    assert_eq!(
        run(&[
            "WITH x AS (SELECT reverse(card_number) r FROM customers WHERE id = 2) SELECT r FROM x"
        ]),
        "[REDACTED]\n"
    );
    assert_eq!(
        run(&["SELECT to_json(c) FROM customers c WHERE id = 1"]),
        "[REDACTED]\n"
    );
    assert_eq!(
        run(&["SELECT (SELECT reverse(ssn) FROM customers WHERE id = 2) AS s"]),
        "[REDACTED]\n"
    );
    // Prepared and run later, and COPY of a query: the same.
    assert_eq!(
        run(&[
            "PREPARE p AS SELECT reverse(ssn) FROM customers WHERE id = 1",
            "EXECUTE p"
        ]),
        "PREPARE\n[REDACTED]\n"
    );
    assert_eq!(
        run(&["COPY (SELECT id, reverse(ssn) FROM customers ORDER BY id) TO STDOUT"]),
        "1\t[REDACTED]\n2\t[REDACTED]\n"
    );
    // Rows computed where the statement's text does not show: a cursor declared earlier, a
    // function whose body is unknown to the gateway.
    assert_eq!(
        run(&[
            "BEGIN",
            "DECLARE c CURSOR FOR SELECT id, reverse(ssn) FROM customers WHERE id = 1",
            "FETCH ALL c",
            "COMMIT"
        ]),
        "BEGIN\nDECLARE CURSOR\n1|[REDACTED]\nCOMMIT\n"
    );
    cluster()
        .psql(
            &db,
            "CREATE FUNCTION ssn_backwards(int) RETURNS text LANGUAGE sql \
             AS 'SELECT reverse(ssn) FROM customers WHERE id = $1'",
        )
        .expect("create function");
    assert_eq!(run(&["SELECT ssn_backwards(1)"]), "[REDACTED]\n");
    // Statements that refer to no rule column keep their computed columns, and so does an
    // `ssn` that is not customers' (the rule names its table).
    assert_eq!(
        run(&["SELECT upper(name), length(note) FROM customers WHERE id = 1"]),
        "ADA|3\n"
    );
    assert_eq!(
        run(&["SELECT reverse(ssn) FROM (VALUES ('123-45-6789')) v(ssn)"]),
        "9876-54-321\n"
    );
    // Admins (no mask profile) see the computed value.
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &["SELECT reverse(ssn) FROM customers WHERE id = 1"],
    );
    assert_eq!(stdout(&o), "9876-54-321\n", "{}", stderr(&o));
}

/// Column rules on table columns, and one on a column name alone, for the view tests.
const VIEW_RULES_PROFILE: &str = r#"
detectors = ["email"]
default_strategy = { kind = "redact" }

[[columns]]
column = "*.customers.note"
strategy = { kind = "redact" }

[[columns]]
column = "*.customers.phone"
strategy = { kind = "partial", keep_last = 4 }

[[columns]]
column = "ssn"
strategy = { kind = "redact" }

[[columns]]
column = "public.accounts.secret"
strategy = { kind = "redact" }
"#;

#[test]
fn rules_on_table_columns_hold_through_views_and_aliases() {
    let db = fresh_database("psql_mask_views");
    seed_customers(&db);
    cluster()
        .psql(
            &db,
            "CREATE VIEW cv AS SELECT id, note, phone AS tel, upper(note) AS loud, \
             length(note) AS n, ssn, name FROM customers; \
             CREATE VIEW cv2 AS SELECT id, tel, loud AS l2, name || '!' AS hi FROM cv; \
             CREATE MATERIALIZED VIEW cm AS SELECT id, note AS remark FROM customers; \
             CREATE VIEW whole AS SELECT id, to_json(c) AS j FROM customers c; \
             CREATE VIEW plain AS SELECT id, name, email FROM customers; \
             CREATE FUNCTION note_of(int) RETURNS text LANGUAGE sql \
             AS 'SELECT note FROM customers WHERE id = $1'; \
             CREATE VIEW fv AS SELECT id, note_of(id) AS x, length(name) AS k FROM customers; \
             CREATE FUNCTION peek(int, int) RETURNS text LANGUAGE sql \
             AS 'SELECT note FROM customers WHERE id = $1'; \
             CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = peek); \
             CREATE VIEW ov AS SELECT id, id ### 0 AS x FROM customers; \
             CREATE TABLE accounts (id int, secret text) PARTITION BY RANGE (id); \
             CREATE TABLE accounts_low PARTITION OF accounts FOR VALUES FROM (0) TO (100) \
             PARTITION BY LIST (id); \
             CREATE TABLE accounts_1 PARTITION OF accounts_low FOR VALUES IN (1); \
             INSERT INTO accounts VALUES (1, 'hunter2'); \
             CREATE VIEW av AS SELECT id, secret, upper(secret) AS s FROM accounts_1; \
             CREATE STATISTICS note_mcv (mcv) ON note, name FROM customers; \
             ANALYZE customers; \
             CREATE VIEW my_stats AS SELECT attname, histogram_bounds::text AS hb FROM pg_stats;",
        )
        .expect("views");
    // Statements the gateway cannot see into run here (the setting that lets them is on for
    // agents): what they return is masked all the same.
    let gw = TestGateway::start(
        &db,
        Opts {
            pii_profile: VIEW_RULES_PROFILE,
            opaque_groups: &["agents"],
            ..Opts::default()
        },
    );
    let alice = gw.user_url("alice", ALICE_PW);
    let run = |sql: &str| {
        let o = psql(&alice, &[sql]);
        assert!(o.status.success(), "{sql}: {}", stderr(&o));
        stdout(&o)
    };
    // A view's column passes a rule's table column on: the rule's strategy. It computes from
    // one: redacted whole. The view's own names (`tel`) do not matter.
    assert_eq!(
        run("SELECT id, note, tel, loud, n, name FROM cv WHERE id = 1"),
        "1|[REDACTED]|+* *** *** 0100|[REDACTED]|[REDACTED]|Ada\n"
    );
    // Through a view of a view, and a materialized view.
    assert_eq!(
        run("SELECT tel, l2, hi FROM cv2 WHERE id = 1"),
        "+* *** *** 0100|[REDACTED]|Ada!\n"
    );
    assert_eq!(run("SELECT remark FROM cm WHERE id = 2"), "[REDACTED]\n");
    // A whole-row value of the table computes from every column.
    assert_eq!(
        run("SELECT id, j FROM whole WHERE id = 1"),
        "1|[REDACTED]\n"
    );
    // A function whose body the gateway cannot see may read anything: what a view computes
    // with one is redacted (fail closed), and so are its other computed columns.
    assert_eq!(run("SELECT id, x FROM ov WHERE id = 1"), "1|[REDACTED]\n");
    // The same operator in a statement: it computes out of sight (sql.opaque).
    assert_eq!(
        run("SELECT id ### 0, id + 1 FROM customers WHERE id = 1"),
        "[REDACTED]|[REDACTED]\n"
    );
    assert_eq!(
        run("SELECT id, x, k FROM fv WHERE id = 1"),
        "1|[REDACTED]|[REDACTED]\n"
    );
    // A statement that computes from a view's column behind which a rule's column is:
    // redacted as if it named that column, also under the view's own names. Computed
    // columns over views that hide nothing keep their values.
    assert_eq!(
        run("SELECT id, reverse(note), tel || '' AS t2 FROM cv WHERE id = 1"),
        "1|[REDACTED]|[REDACTED]\n"
    );
    assert_eq!(
        run("SELECT upper(remark) FROM cm WHERE id = 2"),
        "[REDACTED]\n"
    );
    assert_eq!(
        run("SELECT reverse(l2) FROM public.cv2 WHERE id = 1"),
        "[REDACTED]\n"
    );
    assert_eq!(
        run("SELECT to_json(v) FROM cv v WHERE id = 1"),
        "[REDACTED]\n"
    );
    assert_eq!(
        run("SELECT upper(name), id + 1 FROM plain WHERE id = 1"),
        "ADA|2\n"
    );
    // Column by column where the text tells the result columns apart; all of them where not
    // (a subquery in FROM).
    assert_eq!(
        run("SELECT upper(name), reverse(note), note FROM cv WHERE id = 1"),
        "ADA|[REDACTED]|[REDACTED]\n"
    );
    assert_eq!(
        run("SELECT upper(x.name) FROM (SELECT name, note FROM cv WHERE id = 1) x"),
        "[REDACTED]\n"
    );
    // COPY of queries over a view and a materialized view.
    assert_eq!(
        run("COPY (SELECT id, note, tel FROM cv ORDER BY id) TO STDOUT"),
        "1\t[REDACTED]\t+* *** *** 0100\n2\t[REDACTED]\t+* *** *** 0199\n"
    );
    assert_eq!(
        run("COPY (SELECT * FROM cm ORDER BY id) TO STDOUT WITH (FORMAT csv)"),
        "1,[REDACTED]\n2,[REDACTED]\n"
    );
    // A rule on a partitioned table's column holds for its partitions, at every level, and
    // through views over them.
    assert_eq!(run("SELECT secret FROM accounts"), "[REDACTED]\n");
    assert_eq!(run("SELECT id, secret FROM accounts_1"), "1|[REDACTED]\n");
    assert_eq!(run("SELECT secret FROM accounts_low"), "[REDACTED]\n");
    assert_eq!(run("SELECT secret, s FROM av"), "[REDACTED]|[REDACTED]\n");
    assert_eq!(
        run("SELECT upper(secret), id FROM accounts_1"),
        "[REDACTED]|1\n"
    );
    // A rule on a column name alone holds for the column under another name, in a view or a
    // query.
    assert_eq!(run("SELECT ssn AS x FROM cv WHERE id = 1"), "[REDACTED]\n");
    assert_eq!(
        run("SELECT ssn AS x, note AS y, name AS z FROM customers WHERE id = 1"),
        "[REDACTED]|[REDACTED]|Ada\n"
    );
    // A view that reads no rule column keeps its values (the detectors still apply).
    assert_eq!(
        run("SELECT id, name, email FROM plain WHERE id = 1"),
        "1|Ada|[EMAIL]\n"
    );
    // A view redefined to pass a rule column on is followed once the cached lineage expires
    // (at most NAME_TTL); after a reload at once.
    cluster()
        .psql(
            &db,
            "CREATE OR REPLACE VIEW plain AS SELECT id, note AS name, email FROM customers",
        )
        .expect("redefine");
    gw.gateway.reload().unwrap();
    assert_eq!(
        run("SELECT id, name FROM plain WHERE id = 1"),
        "1|[REDACTED]\n"
    );
    // The planner's statistics sample every analyzed column's values: redacted under column
    // rules, directly, computed, and through a view; the rest of pg_stats is not.
    for sql in [
        "SELECT most_common_vals, histogram_bounds FROM pg_stats \
         WHERE tablename = 'customers' AND attname = 'note'",
        "SELECT histogram_bounds::text FROM pg_stats \
         WHERE tablename = 'customers' AND attname = 'note'",
        "SELECT hb FROM my_stats WHERE attname = 'note'",
        // Straight from the statistics tables, and through a set-returning function.
        "SELECT translate(s.stavalues1::text, 'aeiou', 'AEIOU') FROM pg_statistic s \
         JOIN pg_attribute a ON a.attrelid = s.starelid AND a.attnum = s.staattnum \
         WHERE a.attname = 'note' AND s.stavalues1 IS NOT NULL",
        "SELECT translate(m.values::text, 'aeiou', 'AEIOU') \
         FROM pg_statistic_ext_data d, pg_mcv_list_items(d.stxdmcv) m",
    ] {
        let out = run(sql);
        assert!(
            out.contains("[REDACTED]") && !out.to_lowercase().contains("vip"),
            "{sql}: {out}"
        );
    }
    assert_eq!(
        run(
            "SELECT attname, null_frac FROM pg_stats WHERE tablename = 'customers' AND attname = 'note'"
        ),
        "note|0\n"
    );
    // psql's own catalog queries (system views over pinned catalogs, built-in catalog
    // functions) come back as they are.
    for meta in ["\\l", "\\du", "\\d cv", "\\dv", "\\df"] {
        let out = run(meta);
        assert!(
            !out.is_empty() && !out.contains("[REDACTED]"),
            "{meta}: {out}"
        );
    }
    // Admins (no mask profile) see everything.
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &["SELECT note, tel, loud FROM cv WHERE id = 1"],
    );
    assert_eq!(stdout(&o), "vip|+1 415 555 0100|VIP\n", "{}", stderr(&o));
}

#[test]
fn errors_notices_and_notifications_do_not_reveal_masked_values() {
    let db = fresh_database("psql_mask_errors");
    seed_customers(&db);
    cluster()
        .psql(
            &db,
            "CREATE VIEW cv AS SELECT id, ssn AS s FROM customers; \
             CREATE FUNCTION shout(text) RETURNS int LANGUAGE plpgsql \
             AS 'BEGIN RAISE NOTICE ''%'', $1; RETURN 1; END'",
        )
        .expect("setup");
    // Statements the gateway cannot see into run here (the setting that lets them is on for
    // agents): what they return is masked all the same.
    let gw = TestGateway::start(
        &db,
        Opts {
            opaque_groups: &["agents"],
            ..Opts::default()
        },
    );
    let alice = gw.user_url("alice", ALICE_PW);
    let secrets = [
        "123-45-6789",
        "123456789",
        "9876-54-321",
        "vip",
        "ada@example.com",
    ];
    // What psql prints on stdout (notifications) and stderr (errors, notices) for `sql`
    // holds `want` and none of the secrets.
    let check = |sql: &[&str], want: &str| {
        let o = psql(&alice, sql);
        let out = format!("{}{}", stdout(&o), stderr(&o));
        assert!(out.contains(want), "{sql:?}: {out}");
        assert!(!secrets.iter().any(|s| out.contains(s)), "{sql:?}: {out}");
    };
    // A cast error quotes the value: redacted where the statement reads a rule's column,
    // the SQLSTATE and the message's shape stay.
    check(
        &[
            "\\set VERBOSITY verbose",
            "SELECT ssn::int FROM customers WHERE id = 1",
        ],
        "ERROR:  22P02: invalid input syntax for type integer: \"[REDACTED]\"",
    );
    // What the parser says of the statement's own text stays, and so does the one name a
    // statement wrote; a value cast to a name does not.
    check(
        &["SELECT ssn, nme FROM customers"],
        "ERROR:  column \"nme\" does not exist",
    );
    check(
        &["SELECT ssn::regclass FROM customers WHERE id = 1"],
        "ERROR:  relation \"[REDACTED]\" does not exist",
    );
    // Numbers are not quoted in messages.
    check(
        &["SELECT chr(replace(ssn, '-', '')::int) FROM customers WHERE id = 1"],
        "ERROR:  requested character too large for encoding: #",
    );
    check(
        &["SELECT reverse(ssn)::int FROM customers WHERE id = 1"],
        "ERROR:  invalid input syntax",
    );
    // Through a view.
    check(&["SELECT s::int FROM cv WHERE id = 1"], "\"[REDACTED]\"");
    // A statement that reads no rule column: the detectors scan the message.
    check(
        &["SELECT email::int FROM customers WHERE id = 1"],
        "\"[EMAIL]\"",
    );
    check(&["SELECT name::int FROM customers WHERE id = 1"], "\"Ada\"");
    // A constraint violation's detail quotes the whole row, columns the statement did not
    // name too.
    check(
        &[
            "\\set VERBOSITY verbose",
            "UPDATE customers SET id = NULL WHERE name = 'Ada'",
        ],
        "ERROR:  23502: null value in column",
    );
    // A function the gateway cannot see into raises what it likes: withheld.
    check(
        &["SELECT shout(note) FROM customers WHERE id = 1"],
        "NOTICE:  [REDACTED] (guard: withheld",
    );
    // Notification payloads: withheld under a profile with column rules.
    check(
        &[
            "LISTEN c",
            "SELECT pg_notify('c', note) FROM customers WHERE id = 1",
            "SELECT 1",
        ],
        "Asynchronous notification \"c\" with payload \"[REDACTED]",
    );
    // The admin (no profile) gets the server's words.
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &["SELECT ssn::int FROM customers WHERE id = 1"],
    );
    assert!(stderr(&o).contains("\"123-45-6789\""), "{}", stderr(&o));
}

#[test]
fn masking_in_copy_output() {
    let db = fresh_database("psql_copy_mask");
    seed_customers(&db);
    let gw = TestGateway::start(
        &db,
        Opts {
            pii_profile: DETECTORS_ONLY_PROFILE,
            ..Opts::default()
        },
    );
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &[
            "COPY customers TO STDOUT",
            "COPY customers TO STDOUT WITH (FORMAT csv)",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        !out.contains("ada@example.com") && !out.contains("123-45-6789"),
        "{out}"
    );
    assert!(out.contains("[EMAIL]"), "{out}");
    // A binary COPY is masked too: the columns are learned first (text values are their
    // bytes in binary format), and the session goes on.
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &[
            "COPY customers TO STDOUT WITH (FORMAT binary)",
            "SELECT count(*) FROM customers",
        ],
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.starts_with("PGCOPY\n\u{fffd}\r\n"), "{out:?}");
    assert!(
        !out.contains("ada@example.com") && out.contains("[EMAIL]"),
        "{out:?}"
    );
    assert!(out.ends_with("2\n"), "{out:?}");
}

#[test]
fn copy_out_under_column_rules_is_masked_column_by_column() {
    let db = fresh_database("psql_copy_rules");
    seed_customers(&db);
    cluster()
        .psql(
            &db,
            "CREATE TABLE cards (id int, card_number text, \
             shout text GENERATED ALWAYS AS (upper(card_number)) STORED); \
             INSERT INTO cards (id, card_number) VALUES (1, '4111 1111 1111 1111'); \
             CREATE SCHEMA other; \
             CREATE TABLE other.customers (ssn text, id int, note text); \
             INSERT INTO other.customers VALUES ('345-67-8901', 3, 'plain'), \
             ('456-78-9012', 4, E'tab\there'); \
             GRANT USAGE ON SCHEMA other TO PUBLIC;",
        )
        .expect("seed");
    let gw = TestGateway::start(&db, Opts::default());
    let url = gw.user_url("alice", ALICE_PW);

    // The same values as SELECT shows them, column by column: the rule on
    // `*.customers.ssn` redacts, the rule on `card_number` keeps the last four, detectors
    // mask the rest.
    let cols = "id, name, email, ssn, card_number, note";
    let select = psql(
        &url,
        &[&format!("SELECT {cols} FROM customers ORDER BY id")],
    );
    assert!(select.status.success(), "{}", stderr(&select));
    let expected = stdout(&select).replace('|', "\t");
    assert!(!expected.contains("123-45-6789") && expected.contains("[REDACTED]"));
    let o = psql(
        &url,
        &[&format!(
            "COPY (SELECT {cols} FROM customers ORDER BY id) TO STDOUT"
        )],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);

    // A whole table, in CSV with a header, inside a transaction block.
    let o = psql(
        &url,
        &[
            "BEGIN",
            "COPY customers TO STDOUT WITH (FORMAT csv, HEADER)",
            "COMMIT",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(',')).collect();
    assert_eq!(
        lines[0], "id,name,email,ssn,card_number,phone,note",
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    for l in &lines[1..] {
        assert!(l.contains(",[REDACTED],"), "{l}");
        assert!(l.contains("1111") || l.contains("0004"), "{l}");
        assert!(
            !l.contains("1111 1111 1111 1111") && !l.contains("@example."),
            "{l}"
        );
    }

    // The columns are learned on the client's own session: its search_path finds
    // other.customers, whose two columns are in another order; a value with a tab is
    // escaped as PostgreSQL escapes it.
    let o = psql(
        &url,
        &[
            "SET search_path TO other, public",
            "COPY customers TO STDOUT",
            "COPY customers (id) TO STDOUT",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "SET\n[REDACTED]\t3\tplain\n[REDACTED]\t4\ttab\\there\n3\n4\n",
        "{}",
        stderr(&o)
    );

    // Refused, each with a clear error, and the session goes on: a COPY among other
    // statements, a COPY whose table does not exist (the COPY's own error, once). A table with a generated column copied without a column list is masked (COPY
    // leaves the generated column out, and so does what the gateway learned).
    let o = psql(
        &url,
        &[
            "SELECT 1; COPY customers TO STDOUT",
            "COPY cards TO STDOUT",
            "COPY nosuch TO STDOUT",
            "COPY cards (id, card_number) TO STDOUT",
        ],
    );
    let err = stderr(&o);
    assert_eq!(err.matches("need the COPY's columns").count(), 1, "{err}");
    assert_eq!(err.matches("generated columns").count(), 0, "{err}");
    assert_eq!(err.matches("\"nosuch\" does not exist").count(), 1, "{err}");
    let out = stdout(&o);
    assert!(
        !out.contains("4111 1111 1111 1111") && !out.contains("123-45-6789"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    for line in out.lines() {
        assert!(line.starts_with("1\t") && line.ends_with("1111"), "{out}");
        assert_eq!(line.split('\t').count(), 2, "{out}");
    }

    // Audit-only mode refuses nothing the policy says, and masking still holds.
    let audit = TestGateway::start(
        &db,
        Opts {
            audit_only: true,
            ..Opts::default()
        },
    );
    let o = psql(
        &audit.user_url("alice", ALICE_PW),
        &["COPY customers (id, ssn) TO STDOUT"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1\t[REDACTED]\n2\t[REDACTED]\n");
    // An identity without masks copies freely.
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &["COPY customers (ssn) TO STDOUT"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("123-45-6789"));
}

#[test]
fn upstream_password_never_reaches_client_or_logs() {
    let db = fresh_database("psql_secret");
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(&gw.user_url("alice", ALICE_PW), &["SHOW ALL"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pw = cluster().password();
    assert!(!stdout(&o).contains(pw));
    assert!(!stderr(&o).contains(pw));
    assert!(!gw.audit_log().contains(pw));
    assert!(!format!("{:?}", gw.gateway.config()).contains(pw));
}

#[test]
fn hold_then_timeout_refuses() {
    let db = fresh_database("psql_hold_timeout");
    let gw = TestGateway::start(&db, Opts::default());
    let started = std::time::Instant::now();
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["CREATE TABLE t_hold (id int)", "SELECT 'still-usable'"],
    );
    let err = stderr(&o);
    assert!(err.contains("held for approval"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(stdout(&o).contains("still-usable"));
    assert!(started.elapsed() >= std::time::Duration::from_secs(3));
    assert!(
        cluster()
            .psql(&db, "SELECT to_regclass('t_hold') IS NULL")
            .unwrap()
            .trim()
            == "t"
    );
}

#[test]
fn recording_is_sealed_masked_and_free_of_credentials() {
    let db = fresh_database("psql_recording");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &[
            "SELECT email, ssn FROM customers ORDER BY id",
            "DELETE FROM customers",
            "CREATE ROLE rec_test_role PASSWORD 'leak-me-not'",
        ],
    );
    assert!(stderr(&o).contains("no-unbounded-writes"), "{}", stderr(&o));
    // The session has ended when psql exits; give the gateway a moment to seal.
    let recs = gw.sealed_recordings();
    assert_eq!(recs.len(), 1, "one session, one recording");
    let (path, text) = &recs[0];
    let summary = guard_record::verify(std::fs::File::open(path).unwrap(), None).expect("verifies");
    assert!(summary.events >= 6, "{summary:?}");
    assert!(text.contains("SELECT email, ssn FROM customers"), "{text}");
    assert!(text.contains("\"verdict\":\"deny\""), "{text}");
    assert!(
        text.contains("[EMAIL]") || text.contains("[REDACTED]"),
        "rows are recorded masked: {text}"
    );
    for secret in [
        "ada@example.com",
        "123-45-6789",
        ALICE_PW,
        "leak-me-not",
        cluster().password(),
    ] {
        assert!(!text.contains(secret), "{secret} in the recording: {text}");
    }
}

/// `psql` with `PGOPTIONS` set.
fn psql_with_options(url: &str, options: &str, sql: &str) -> std::process::Output {
    std::process::Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGOPTIONS", options)
        .output()
        .unwrap()
}

/// A policy on startup facts: agents may set parameters but not ask for read-write mode;
/// physical replication is refused to everyone.
fn startup_policy() -> String {
    format!(
        r#"{AGENT_POLICY}
[[rule]]
id = "no-read-write-startup"
action = "deny"
message = "agents may not start sessions in read-write mode"
identity = {{ groups_any = ["agents"] }}
facts = {{ "sql.statement" = "startup", "sql.read_write" = true }}

[[rule]]
id = "work-mem-needs-approval"
action = "approve"
approvers = ["dba"]
timeout = "2s"
identity = {{ groups_any = ["agents"] }}
facts = {{ "sql.statement" = "startup", "sql.settings" = {{ contains_any = ["work_mem"] }} }}

[[rule]]
id = "no-physical-replication"
action = "deny"
message = "physical replication goes around the gateway"
facts = {{ "sql.replication" = "physical" }}
"#
    )
}

#[test]
fn startup_options_are_decided_as_facts_and_passed_on_when_allowed() {
    let db = fresh_database("psql_startup_opts");
    let gw = TestGateway::start(
        &db,
        Opts {
            policy: startup_policy(),
            ..Opts::default()
        },
    );
    let alice = gw.user_url("alice", ALICE_PW);
    // Allowed: the setting reaches the upstream session, escapes and all.
    let o = psql_with_options(
        &alice,
        r#"-c search_path="my\ schema",public --statement-timeout=7s"#,
        "SELECT current_setting('search_path') || '|' || current_setting('statement_timeout')",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "\"my schema\",public|7s\n");
    // Refused by the policy, naming the rule; nothing reached the upstream.
    let o = psql_with_options(&alice, "-c default_transaction_read_only=off", "SELECT 1");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no-read-write-startup"),
        "{}",
        stderr(&o)
    );
    // The same for a member of another group: allowed.
    let o = psql_with_options(
        &gw.user_url("bob", BOB_PW),
        "-c default_transaction_read_only=off",
        "SHOW default_transaction_read_only",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "off\n");
    // Switches that set no parameter are not passed on.
    let o = psql_with_options(&alice, "-B 100", "SELECT 1");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not supported"), "{}", stderr(&o));
    let o = psql_with_options(&alice, "-c work_mem", "SELECT 1");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("requires a value"), "{}", stderr(&o));
    // application_name carries the identity: not even at startup.
    let o = psql_with_options(&alice, "-c application_name=guard:bob", "SELECT 1");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("application_name"), "{}", stderr(&o));
    // Held for approval: the client waits, is told, and is refused when nobody approves.
    let started = std::time::Instant::now();
    let o = psql_with_options(&alice, "-c work_mem=64MB", "SELECT 1");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("held for approval"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    // Every startup decision is in the audit log.
    let audit = gw.audit_log();
    assert!(audit.contains("\"via\":\"startup\""), "{audit}");
    assert!(audit.contains("no-read-write-startup"), "{audit}");
}

#[test]
fn replication_connections_are_decided_by_the_policy() {
    let db = fresh_database("psql_startup_repl");
    let gw = TestGateway::start(
        &db,
        Opts {
            policy: startup_policy(),
            ..Opts::default()
        },
    );
    // Agents see masked data; a replication stream cannot be masked.
    let url = format!("{}&replication=database", gw.user_url("alice", ALICE_PW));
    let o = psql(&url, &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot be masked"), "{}", stderr(&o));
    // bob (dba) may open a logical walsender: SQL runs in it, and replication commands are
    // statements the policy decides (they do not parse as SQL: refused here).
    let url = format!("{}&replication=database", gw.user_url("bob", BOB_PW));
    let o = psql(&url, &["SELECT 40 + 2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");
    let o = psql(&url, &["IDENTIFY_SYSTEM"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-unparsable"), "{}", stderr(&o));
    // Physical replication: refused by its rule.
    let url = format!("{}&replication=true", gw.user_url("bob", BOB_PW));
    let o = psql(&url, &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no-physical-replication"),
        "{}",
        stderr(&o)
    );
    // A value the server would not accept either.
    let url = format!("{}&replication=maybe", gw.user_url("bob", BOB_PW));
    let o = psql(&url, &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("invalid value for parameter"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn set_application_name_is_refused_and_the_identity_stays() {
    let db = fresh_database("psql_set_appname");
    let gw = TestGateway::start(&db, Opts::default());
    let name = "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &[
            // A plain SET (drivers send one when they connect) is answered, but what it sets
            // is bob's name; other ways of setting it are refused.
            "SET application_name = 'guard:alice'",
            name,
            "SET application_name = 'x'; SELECT 1",
            "SELECT set_config('application_name', 'x', false)",
            "BEGIN",
            "SET LOCAL application_name TO 'y'",
            name,
            "COMMIT",
            "RESET application_name",
            "SHOW application_name",
        ],
    );
    let err = stderr(&o);
    assert_eq!(err.matches("cannot be changed").count(), 2, "{err}");
    assert_eq!(
        stdout(&o),
        "SET\nguard:bob\nBEGIN\nSET\nguard:bob\nCOMMIT\nRESET\nguard:bob\n",
        "{err}"
    );
}

#[test]
fn reload_applies_a_new_policy_to_live_sessions() {
    let db = fresh_database("psql_reload");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    // One psql session reading statements from a pipe, so the reload happens between two.
    let mut child = std::process::Command::new("psql")
        .args(["-X", "-A", "-t", "-d", &gw.user_url("alice", ALICE_PW)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"SELECT 'before', count(*) FROM customers;\n")
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let stricter = format!(
        "{AGENT_POLICY}\n[[rule]]\nid = \"no-customers\"\naction = \"deny\"\nmessage = \"customers are off limits\"\nfacts = {{ \"sql.tables\" = {{ contains_any = [\"customers\"] }} }}\n"
    );
    std::fs::write(gw.dir.path().join("policy.toml"), stricter).unwrap();
    let (status, body) = guard_gateway::cli::http(
        "POST",
        &gw.admin(),
        "/reload",
        &format!("bob:{BOB_PW}"),
        None,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    stdin
        .write_all(b"SELECT 'after', count(*) FROM customers;\n")
        .unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(stdout(&o).contains("before|2"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("after"), "{}", stdout(&o));
    assert!(stderr(&o).contains("no-customers"), "{}", stderr(&o));
}

#[test]
fn run_subcommand_serves_and_sighup_reloads() {
    let db = fresh_database("psql_run");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    // The same configuration, on other ports, served by `guard-gateway run`.
    let d = gw.dir.path();
    let port = guard_gateway::pgcluster::free_port().unwrap();
    let admin = guard_gateway::pgcluster::free_port().unwrap();
    let cfg = std::fs::read_to_string(d.join("gateway.toml"))
        .unwrap()
        .replace(
            &format!("127.0.0.1:{}\"", gw.port),
            &format!("127.0.0.1:{port}\""),
        )
        .replace(
            &format!("127.0.0.1:{}\"", gw.admin_port),
            &format!("127.0.0.1:{admin}\""),
        )
        .replace("audit.jsonl", "audit-run.jsonl");
    std::fs::write(d.join("run.toml"), cfg).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_guard-gateway"))
        .args(["run", "--config"])
        .arg(d.join("run.toml"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("postgresql://alice:{ALICE_PW}@127.0.0.1:{port}/app?sslmode=disable");
    let mut ok = false;
    for _ in 0..100 {
        if psql(&url, &["SELECT 1"]).status.success() {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "guard-gateway run serves");
    let o = psql(&url, &["SELECT count(*) FROM customers"]);
    assert_eq!(stdout(&o), "2\n", "{}", stderr(&o));
    let stricter = format!(
        "{AGENT_POLICY}\n[[rule]]\nid = \"no-customers\"\naction = \"deny\"\nmessage = \"off limits\"\nfacts = {{ \"sql.tables\" = {{ contains_any = [\"customers\"] }} }}\n"
    );
    std::fs::write(d.join("policy.toml"), stricter).unwrap();
    let st = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut refused = false;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if stderr(&psql(&url, &["SELECT count(*) FROM customers"])).contains("no-customers") {
            refused = true;
            break;
        }
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(refused, "SIGHUP reloaded the policy");
}

#[test]
fn unresolvable_column_sources_are_redacted_under_column_rules() {
    let db = fresh_database("psql_catalog_down");
    seed_customers(&db);
    // An upstream role that may hold one connection: the session takes it, so the catalog
    // side connection that resolves `schema.table.column` fails.
    cluster()
        .psql(
            &db,
            &format!(
                "CREATE ROLE guard_one_conn LOGIN CONNECTION LIMIT 1 PASSWORD '{}'; \
                 GRANT SELECT ON customers TO guard_one_conn",
                cluster().password()
            ),
        )
        .unwrap();
    let gw = TestGateway::start(
        &db,
        Opts {
            upstream_user: Some("guard_one_conn".to_owned()),
            ..Opts::default()
        },
    );
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["SELECT name, ssn, 'literal' FROM customers ORDER BY id"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The rule on *.customers.ssn might have matched either column: both are redacted; so
    // is a value with no source column, as `customers` might be a view whose columns hide a
    // rule's column.
    assert_eq!(
        stdout(&o),
        "[REDACTED]|[REDACTED]|[REDACTED]\n[REDACTED]|[REDACTED]|[REDACTED]\n"
    );
    // With the catalog reachable, only the ruled column is.
    let gw = TestGateway::start(&db, Opts::default());
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["SELECT name, ssn, 'literal' FROM customers ORDER BY id"],
    );
    assert_eq!(
        stdout(&o),
        "Ada|[REDACTED]|literal\nBob|[REDACTED]|literal\n"
    );
}

#[test]
fn a_reload_learns_column_sources_again() {
    let db = fresh_database("psql_rename");
    cluster()
        .psql(
            &db,
            "CREATE TABLE other (id int, ssn text); INSERT INTO other VALUES (1, 'plainvalue');",
        )
        .unwrap();
    let gw = TestGateway::start(&db, Opts::default());
    let url = gw.user_url("alice", ALICE_PW);
    // `other.ssn` is no rule's column.
    let o = psql(&url, &["SELECT ssn FROM other"]);
    assert_eq!(stdout(&o), "plainvalue\n", "{}", stderr(&o));
    // Renamed to a table a column rule names (`*.customers.ssn`): what the gateway learned of
    // the column's source is trusted for up to 30 s, and learned again at once after a reload.
    cluster()
        .psql(&db, "ALTER TABLE other RENAME TO customers")
        .unwrap();
    gw.gateway.reload().unwrap();
    let o = psql(&url, &["SELECT ssn FROM customers"]);
    assert_eq!(stdout(&o), "[REDACTED]\n", "{}", stderr(&o));
}

/// The gateway reads statements as a server with `standard_conforming_strings` on and an
/// ASCII-safe client encoding does (guard_sql::lexing). With it off, the server ends the first
/// string of `SELECT 'a\', '; DELETE FROM orders; --'` at the second quote and runs the DELETE,
/// where the gateway sees a SELECT of two strings: what changes either setting is refused, a
/// login where the server reads otherwise is not served, and a session where it changes anyway
/// (a DO block of a group allowed opaque statements) has every later statement refused.
#[test]
fn the_server_reads_statements_as_the_gateway_does() {
    let db = fresh_database("psql_lexing");
    cluster()
        .psql(
            &db,
            "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 5)",
        )
        .unwrap();
    let rows = || cluster().psql(&db, "SELECT count(*) FROM orders").unwrap();
    let gw = TestGateway::start(
        &db,
        Opts {
            opaque_groups: &["dba"],
            ..Opts::default()
        },
    );
    let alice = gw.user_url("alice", ALICE_PW);
    let smuggled = "SELECT 'a\\', '; DELETE FROM orders; --'";
    let o = psql(&alice, &["SET standard_conforming_strings = off", smuggled]);
    assert!(
        stderr(&o).contains("changes standard_conforming_strings"),
        "{}",
        stderr(&o)
    );
    // Still on: a SELECT of two strings for the gateway and the server alike.
    assert_eq!(stdout(&o), "a\\|; DELETE FROM orders; --\n");
    for (sql, setting) in [
        (
            "SELECT set_config('standard_conforming_strings', 'off', false)",
            "standard_conforming_strings",
        ),
        (
            "ALTER ROLE postgres SET standard_conforming_strings = off",
            "standard_conforming_strings",
        ),
        (
            "SET standard_conforming_strings = off; SELECT 1",
            "standard_conforming_strings",
        ),
        ("SET client_encoding = 'SJIS'", "client_encoding"),
        ("SET NAMES 'BIG5'", "client_encoding"),
    ] {
        let o = psql(&alice, &[sql]);
        assert!(
            stderr(&o).contains(&format!("changes {setting}")),
            "{sql}: {}",
            stderr(&o)
        );
    }
    for sql in [
        "SET standard_conforming_strings = on",
        "SET standard_conforming_strings TO DEFAULT",
        "RESET standard_conforming_strings",
        "SET client_encoding = 'LATIN1'",
        "SET NAMES 'UTF8'",
    ] {
        let o = psql(&alice, &[sql]);
        assert!(o.status.success(), "{sql}: {}", stderr(&o));
    }
    // At login: a startup setting, a client encoding, a database default.
    for (var, value, told) in [
        (
            "PGOPTIONS",
            "-c standard_conforming_strings=off",
            "standard_conforming_strings = off",
        ),
        ("PGCLIENTENCODING", "SJIS", "client_encoding = SJIS"),
    ] {
        let o = std::process::Command::new("psql")
            .args(["-X", "-A", "-t", "-d", &alice, "-c", "SELECT 1"])
            .env(var, value)
            .output()
            .unwrap();
        assert!(
            !o.status.success() && stderr(&o).contains(told),
            "{var}: {}",
            stderr(&o)
        );
    }
    cluster()
        .psql(
            &db,
            &format!("ALTER DATABASE {db} SET standard_conforming_strings = off"),
        )
        .unwrap();
    let o = psql(&alice, &["SELECT 1"]);
    assert!(
        stderr(&o).contains("reads statements with standard_conforming_strings = off"),
        "{}",
        stderr(&o)
    );
    cluster()
        .psql(
            &db,
            &format!("ALTER DATABASE {db} RESET standard_conforming_strings"),
        )
        .unwrap();
    // Changed where the gateway cannot see (a DO block, allowed for dba): every later
    // statement of the session is refused.
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &[
            "DO $$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); END $$",
            smuggled,
            "SET standard_conforming_strings = on",
        ],
    );
    assert_eq!(
        stderr(&o)
            .matches("reads statements with standard_conforming_strings = off")
            .count(),
        2,
        "{}",
        stderr(&o)
    );
    assert_eq!(rows(), "5\n");
}

/// Logs in as alice over a raw connection with extra startup parameters (libpq sends none of
/// its own; drivers such as asyncpg's `server_settings` do) and runs `sql`: the text of what
/// came back (error messages, row values).
fn raw_login(port: u16, extra: &[(&'static str, &'static str)], sql: &str) -> String {
    use guard_sql::pg::auth::ScramClient;
    use guard_sql::pg::{
        Authentication, BackendDecoder, BackendMessage, Decoded, Limits, PgStr, ProtocolVersion,
        Query, SaslInitialResponse, SaslResponse, StartupMessage,
    };
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let pg = |v: &'static str| PgStr::try_new(v.as_bytes()).unwrap();
    let mut params = vec![("user", "alice"), ("database", "app")];
    params.extend_from_slice(extra);
    let mut out = Vec::new();
    StartupMessage::encode_params(
        ProtocolVersion::V3_0,
        params.iter().map(|(k, v)| (pg(k), pg(v))),
        &mut out,
    );
    s.write_all(&out).unwrap();
    let mut scram = ScramClient::new(ALICE_PW.as_bytes(), "cmF3IGxvZ2luIG5vbmNl").unwrap();
    let mut dec = BackendDecoder::new(Limits::default());
    let (mut buf, mut text, mut asked) = (Vec::new(), String::new(), false);
    loop {
        let mut chunk = [0u8; 8192];
        let n = s.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return text;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Decoded::Message { len, msg }) = dec.decode(&buf) {
            let mut reply = Vec::new();
            match msg {
                BackendMessage::Authentication(Authentication::Sasl { .. }) => {
                    let first = scram.client_first();
                    SaslInitialResponse {
                        mechanism: pg("SCRAM-SHA-256"),
                        data: Some(first.as_bytes()),
                    }
                    .encode(&mut reply);
                }
                BackendMessage::Authentication(Authentication::SaslContinue { data }) => {
                    let fin = scram.handle_server_first(data).unwrap();
                    SaslResponse {
                        data: fin.as_bytes(),
                    }
                    .encode(&mut reply);
                }
                BackendMessage::Authentication(Authentication::SaslFinal { data }) => {
                    scram.handle_server_final(data).unwrap();
                }
                BackendMessage::ErrorResponse(_) => {
                    text.push_str(&String::from_utf8_lossy(&buf[..len]));
                }
                BackendMessage::DataRow(r) => {
                    for v in r.values.iter().flatten() {
                        text.push_str(&String::from_utf8_lossy(v));
                        text.push('\n');
                    }
                }
                BackendMessage::ReadyForQuery(_) if asked => return text,
                BackendMessage::ReadyForQuery(_) => {
                    asked = true;
                    Query {
                        sql: PgStr::try_new(sql.as_bytes()).unwrap(),
                    }
                    .encode(&mut reply);
                }
                _ => {}
            }
            buf.drain(..len);
            s.write_all(&reply).unwrap();
        }
    }
}

/// Startup parameters other than the routine ones are settings the server applies at login:
/// the gateway decides them as it decides `options`. `role=postgres` is a role switch,
/// `session_replication_role=replica` (triggers and foreign keys off) a superuser setting;
/// routine ones (DateStyle) and harmless ones (search_path) pass and reach the server.
#[test]
fn startup_parameters_are_decided_like_options() {
    let db = fresh_database("psql_startup_params");
    let policy = format!(
        "{AGENT_POLICY}
[[rule]]
id = \"no-role-switch\"
action = \"deny\"
facts = {{ \"sql.role_change\" = true }}

[[rule]]
id = \"no-superuser-settings\"
action = \"deny\"
facts = {{ \"sql.danger\" = {{ contains_any = [\"server_control\"] }} }}
"
    );
    let gw = TestGateway::start(
        &db,
        Opts {
            policy,
            ..Opts::default()
        },
    );
    let got = raw_login(gw.port, &[("role", "postgres")], "SELECT 1");
    assert!(got.contains("no-role-switch"), "{got}");
    let got = raw_login(
        gw.port,
        &[("session_replication_role", "replica")],
        "SHOW session_replication_role",
    );
    assert!(got.contains("no-superuser-settings"), "{got}");
    let got = raw_login(
        gw.port,
        &[
            ("DateStyle", "SQL, DMY"),
            ("search_path", "pg_temp, public"),
        ],
        "SELECT current_setting('DateStyle') || ' / ' || current_setting('search_path')",
    );
    assert_eq!(got, "SQL, DMY / pg_temp, public\n");
}
