//! `guard-gateway demo --port P`: the printed lines, what each URL does, clean-up on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn psql(url: &str, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args(["-X", "-A", "-t", "-d", url, "-c", sql])
        .output()
        .expect("psql")
}

#[test]
fn demo_prints_working_urls_and_cleans_up() {
    let port = guard_gateway::pgcluster::free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_guard-gateway"))
        .args(["demo", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut vars = std::collections::BTreeMap::new();
    let mut order = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut files_dir = None;
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("READY in time");
        if line == "READY" {
            order.push("READY".to_owned());
            break;
        }
        if let Some((k, v)) = line.split_once('=') {
            order.push(k.to_owned());
            vars.insert(k.to_owned(), v.to_owned());
        }
    }
    assert_eq!(
        order,
        [
            "AGENT_URL",
            "ADMIN_URL",
            "UPSTREAM_URL",
            "ADMIN_API",
            "APPROVER_TOKEN",
            "READY"
        ]
    );
    for line in rx.iter().take(20) {
        if let Some(d) = line
            .trim()
            .strip_prefix("Files (config, policy, audit log, recordings): ")
        {
            files_dir = Some(std::path::PathBuf::from(d));
            break;
        }
    }
    let agent = &vars["AGENT_URL"];
    assert!(
        agent.contains(&format!(":{port}/")) && agent.ends_with("sslmode=require"),
        "{agent}"
    );

    let o = psql(
        agent,
        "SELECT email, ssn FROM customers ORDER BY id LIMIT 1",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("ada@example.com") && !out.contains("123-45-6789"),
        "{out}"
    );
    let o = psql(agent, "DELETE FROM orders");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-unbounded-writes"));
    // A write that reads a masked column is held for a dba (the client gives up waiting),
    // and so is keeping its value in a setting that current_setting() would read back.
    for sql in [
        "UPDATE customers SET note = ssn WHERE id = 1",
        "SELECT set_config('x.y', translate(ssn, '0123456789', 'abcdefghij'), false) FROM customers",
    ] {
        let o = Command::new("timeout")
            .args(["3", "psql", "-X", "-A", "-t", agent, "-c"])
            .arg(sql)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("held for approval") && err.contains("pii-copies-need-approval"),
            "{sql}: {err}"
        );
    }
    // The gateway logs in as a superuser: what reaches past the database is refused for
    // agents, and so is what the gateway cannot see into (admins may run it).
    let escape = "COPY (SELECT 1) TO PROGRAM 'touch /tmp/guard-demo-escaped'";
    for (sql, why) in [
        (escape, "no-server-escape"),
        ("SELECT pg_read_file('PG_VERSION')", "no-server-escape"),
        ("SELECT lo_import('/etc/hostname')", "no-server-escape"),
        ("SET ROLE postgres", "no-role-switch"),
        (
            "CREATE POLICY p ON customers USING (true)",
            "no-role-changes",
        ),
        (
            "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO public",
            "no-role-changes",
        ),
        ("SELECT rolpassword FROM pg_authid", "no-server-escape"),
        ("SELECT query FROM pg_stat_activity", "no-server-escape"),
        ("DO $$ BEGIN PERFORM 1; END $$", "DO block"),
        // An unbounded write is one however it is dressed.
        (
            "MERGE INTO orders o USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE",
            "no-unbounded-writes",
        ),
        ("EXPLAIN ANALYZE DELETE FROM orders", "no-unbounded-writes"),
        (
            "WITH d AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM d",
            "no-unbounded-writes",
        ),
    ] {
        let o = psql(agent, sql);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{sql}: {err}");
    }
    assert!(!std::path::Path::new("/tmp/guard-demo-escaped").exists());
    // pg_dump as an agent: a masked dump once it leaves out subscriptions (their connection
    // strings hold passwords, which agents may not read).
    let o = Command::new("pg_dump").arg(agent).output().unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no-server-escape"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("pg_dump")
        .args(["--no-subscriptions", agent])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = String::from_utf8_lossy(&o.stdout);
    assert!(
        dump.contains("\t[REDACTED]\t") && !dump.contains("123-45-6789"),
        "{dump}"
    );
    let o = psql(&vars["ADMIN_URL"], "DO $$ BEGIN PERFORM 1; END $$");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = psql(
        &vars["ADMIN_URL"],
        "SELECT email FROM customers ORDER BY id LIMIT 1",
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ada@example.com\n");
    let o = psql(&vars["UPSTREAM_URL"], "SELECT count(*) FROM orders");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "40\n");
    let (status, body) = guard_gateway::cli::http(
        "GET",
        &vars["ADMIN_API"],
        "/approvals",
        &vars["APPROVER_TOKEN"],
        None,
    )
    .expect("admin API");
    assert_eq!(status, 200, "{body}");

    // SIGTERM (as Ctrl-C would) stops everything and removes the files.
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "{s:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the demo did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = files_dir.expect("the demo names its directory");
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
