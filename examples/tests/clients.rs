//! Other real clients through the gateway, unchanged: the PostgreSQL JDBC driver (Debian
//! `libpostgresql-jdbc-java`, run by the JDK's single-file launcher) and psycopg2 (Debian
//! `python3-psycopg2`). Each runs a small program against a gateway with the agent policy and
//! prints what it got; the test reads that. And pg_dump, whose dump comes out masked.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

const JDBC_JAR: &str = "/usr/share/java/postgresql.jar";

/// The JDBC program: masked rows, a prepared statement past the driver's server-prepare
/// threshold (5 executions, then a named statement and binary results), refusals in and out of
/// a transaction, a batch insert, and a result read with a fetch size (a portal suspended and
/// resumed).
const JDBC_PROGRAM: &str = r#"
import java.sql.*;

public class GuardJdbc {
    public static void main(String[] a) throws Exception {
        try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT email, ssn FROM customers ORDER BY id")) {
                while (r.next()) System.out.println("row " + r.getString(1) + " " + r.getString(2));
            }
            try (PreparedStatement p = c.prepareStatement("SELECT ssn, id FROM customers WHERE id = ?")) {
                for (int i = 0; i < 8; i++) {
                    p.setInt(1, 1);
                    try (ResultSet r = p.executeQuery()) {
                        r.next();
                        System.out.println("prepared " + i + " " + r.getString(1) + " " + r.getInt(2));
                    }
                }
            }
            try (Statement s = c.createStatement()) {
                s.executeUpdate("DELETE FROM customers");
                System.out.println("deleted everything");
            } catch (SQLException e) {
                System.out.println("refused " + e.getSQLState());
            }
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("DELETE FROM customers");
            } catch (SQLException e) {
                System.out.println("refused in a transaction " + e.getSQLState());
            }
            c.rollback();
            try (PreparedStatement p = c.prepareStatement(
                    "INSERT INTO customers (id, name, email) VALUES (?, ?, ?)")) {
                for (int i = 10; i < 13; i++) {
                    p.setInt(1, i);
                    p.setString(2, "n" + i);
                    p.setString(3, "n" + i + "@example.net");
                    p.addBatch();
                }
                System.out.println("batch " + p.executeBatch().length);
            }
            c.commit();
            try (Statement s = c.createStatement()) {
                s.setFetchSize(2);
                try (ResultSet r = s.executeQuery("SELECT email FROM customers ORDER BY id")) {
                    while (r.next()) System.out.println("fetched " + r.getString(1));
                }
            }
            c.commit();
            System.out.println("done");
        }
    }
}
"#;

#[test]
fn jdbc_driver_works_unchanged_with_masking_and_refusals() {
    // A static user (SCRAM), then an OIDC token as the password (cleartext over TLS).
    check_jdbc("clients_jdbc", |_| {
        ("alice".to_owned(), ALICE_PW.to_owned())
    });
    check_jdbc("clients_jdbc_token", |gw| {
        ("agent".to_owned(), gw.token("agent-7", &["agents"]))
    });
}

/// Runs [`JDBC_PROGRAM`] against a fresh database `db` as the agent `login` gives, and checks
/// what it printed.
fn check_jdbc(db: &str, login: impl Fn(&TestGateway) -> (String, String)) {
    assert!(
        Path::new(JDBC_JAR).is_file(),
        "install the JDBC driver: apt-get install libpostgresql-jdbc-java default-jdk-headless"
    );
    let db = fresh_database(db);
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("GuardJdbc.java");
    std::fs::write(&src, JDBC_PROGRAM).unwrap();
    // Over TLS (the driver does not verify the test certificate with sslmode=require).
    let url = format!(
        "jdbc:postgresql://127.0.0.1:{}/app?sslmode=require",
        gw.port
    );
    let (user, password) = login(&gw);
    let o = Command::new("java")
        .args(["-cp", JDBC_JAR])
        .arg(&src)
        .args([url.as_str(), user.as_str(), password.as_str()])
        .output()
        .expect("java (apt-get install default-jdk-headless)");
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..2],
        ["row [EMAIL] [REDACTED]", "row [EMAIL] [REDACTED]"],
        "{out}"
    );
    for i in 0..8 {
        assert!(
            lines.contains(&format!("prepared {i} [REDACTED] 1").as_str()),
            "{i}: {out}"
        );
    }
    assert!(lines.contains(&"refused 42501"), "{out}");
    assert!(lines.contains(&"refused in a transaction 42501"), "{out}");
    assert!(lines.contains(&"batch 3"), "{out}");
    assert_eq!(
        lines.iter().filter(|l| **l == "fetched [EMAIL]").count(),
        5,
        "{out}"
    );
    assert_eq!(lines.last(), Some(&"done"), "{out}");
    assert_eq!(
        cluster()
            .psql(&db, "SELECT count(*) FROM customers")
            .unwrap()
            .trim(),
        "5"
    );
}

/// The psycopg2 program: masked rows, a refusal that leaves the connection usable after a
/// rollback, executemany, a named (server-side) cursor and COPY TO STDOUT.
const PSYCOPG_PROGRAM: &str = r#"
import io, sys
import psycopg2

c = psycopg2.connect(sys.argv[1])
cur = c.cursor()
cur.execute("SELECT email, ssn FROM customers ORDER BY id")
for row in cur.fetchall():
    print("row", *row)
try:
    cur.execute("DELETE FROM customers")
    print("deleted everything")
except psycopg2.Error as e:
    print("refused", e.pgcode)
    c.rollback()
cur.executemany("INSERT INTO customers (id, name, note) VALUES (%s, %s, %s)",
                [(20, "x", "call 415-555-0100"), (21, "y", "none")])
c.commit()
named = c.cursor(name="guard_test")
named.itersize = 1
named.execute("SELECT ssn, note FROM customers ORDER BY id")
for row in named:
    print("named", *row)
named.close()
c.commit()
buf = io.StringIO()
cur.copy_expert("COPY (SELECT id, ssn FROM customers ORDER BY id) TO STDOUT", buf)
for line in buf.getvalue().splitlines():
    print("copy", line)
print("done")
"#;

#[test]
fn psycopg2_works_unchanged_with_masking_and_refusals() {
    let python = "/usr/bin/python3";
    let probe = Command::new(python)
        .args(["-c", "import psycopg2"])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "install psycopg2: apt-get install python3-psycopg2"
    );
    let db = fresh_database("clients_psycopg");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let o = Command::new(python)
        .args(["-c", PSYCOPG_PROGRAM, &gw.user_url("alice", ALICE_PW)])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let want = [
        "row [EMAIL] [REDACTED]",
        "row [EMAIL] [REDACTED]",
        "refused 42501",
        "named [REDACTED] vip",
        "named [REDACTED] mail me at [EMAIL]",
        "named None call [PHONE]",
        "named None none",
        "copy 1\t[REDACTED]",
        "copy 2\t[REDACTED]",
        "copy 20\t\\N",
        "copy 21\t\\N",
        "done",
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "{out}");
}

/// pg_dump through the gateway as a masked identity: its catalog queries, `set_config` through
/// `pg_settings`, a REPEATABLE READ snapshot and one COPY per table all pass; the dump comes
/// out masked, and restores into another database through another gateway.
#[test]
fn pg_dump_gives_a_masked_dump_that_restores() {
    let db = fresh_database("clients_pg_dump");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let o = Command::new(cluster().bindir().join("pg_dump"))
        .arg(gw.user_url("alice", ALICE_PW))
        .output()
        .unwrap();
    let dump = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        dump.contains("COPY public.customers (id, name, email, ssn, card_number, phone, note)"),
        "{dump}"
    );
    assert!(dump.contains("\n1\tAda\t[EMAIL]\t[REDACTED]\t"), "{dump}");
    for raw in [
        "ada@example.com",
        "123-45-6789",
        "234-56-7890",
        "4111 1111 1111 1111",
    ] {
        assert!(!dump.contains(raw), "{raw} in the dump");
    }
    // Restored through a gateway too: the dump's `SET standard_conforming_strings = on`,
    // `SET client_encoding = 'UTF8'` and `set_config('search_path', '', false)` pass.
    let restored = fresh_database("clients_pg_restore");
    let into = TestGateway::start(
        &restored,
        Opts {
            policy: ALLOW_ALL.to_owned(),
            ..Opts::default()
        },
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &dump).unwrap();
    let o = Command::new(cluster().bindir().join("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file.path())
        .arg(into.user_url("alice", ALICE_PW))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        cluster()
            .psql(
                &restored,
                "SELECT id, ssn, email FROM customers ORDER BY id"
            )
            .unwrap(),
        "1|[REDACTED]|[EMAIL]\n2|[REDACTED]|[EMAIL]\n"
    );
}
