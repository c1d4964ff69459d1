//! tokio-postgres through the gateway: extended protocol, prepared statements, pipelining,
//! binary format, COPY in and out, cancel, refusals in and out of transactions, approvals and
//! grants over the admin API.

mod support;

use std::time::Duration;

use support::*;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// Any value's binary form, as it came.
struct Raw(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for Raw {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn computed_values_from_rule_columns_are_redacted_in_binary_results() {
    let db = fresh_database("ext_derived");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    // tokio-postgres asks for binary results; the computed columns come back as text.
    let st = c
        .prepare("SELECT id, reverse(ssn), length(ssn), length(name) FROM customers WHERE id = $1")
        .await
        .unwrap();
    for _ in 0..2 {
        let row = c.query_one(&st, &[&1i32]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 1);
        assert_eq!(row.get::<_, String>(1), "[REDACTED]");
        assert_eq!(row.get::<_, String>(2), "[REDACTED]");
        assert_eq!(row.get::<_, i32>(3), 3);
    }
    // The same RowDescription under a statement that refers to no rule column is not.
    let row = c
        .query_one(
            "SELECT id, reverse(name), length(name), length(note) FROM customers WHERE id = $1",
            &[&1i32],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(1), "adA");
    assert_eq!(row.get::<_, i32>(2), 3);
    assert_eq!(row.get::<_, i32>(3), 3);
    // Through a view: its column passes customers.ssn on (the rule's strategy, retyped
    // text), or computes from it; a statement computing over the view's column too.
    cluster()
        .psql(
            &db,
            "CREATE VIEW cv AS SELECT id, ssn AS s, length(ssn) AS n, length(name) AS k FROM customers",
        )
        .unwrap();
    let row = c
        .query_one("SELECT s, n, k, length(s) FROM cv WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "[REDACTED]");
    assert_eq!(row.get::<_, String>(1), "[REDACTED]");
    assert_eq!(row.get::<_, i32>(2), 3);
    assert_eq!(row.get::<_, String>(3), "[REDACTED]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_fetched_in_batches_are_masked() {
    let db = fresh_database("ext_portal_batches");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let mut c = connect(&gw.user_url("alice", ALICE_PW)).await;
    // As JDBC's fetch size does: Bind in one unit, then Executes with a row limit, each in a
    // unit of its own that carries no RowDescription.
    let tx = c.transaction().await.unwrap();
    let st = tx
        .prepare("SELECT id, ssn, reverse(ssn), email FROM customers ORDER BY id")
        .await
        .unwrap();
    let portal = tx.bind(&st, &[]).await.unwrap();
    let mut seen = 0;
    for _ in 0..3 {
        for row in tx.query_portal(&portal, 1).await.unwrap() {
            seen += 1;
            let ssn: String = row.get(1);
            let rev: String = row.get(2);
            let email: String = row.get(3);
            assert_eq!((ssn.as_str(), rev.as_str()), ("[REDACTED]", "[REDACTED]"));
            assert!(!email.contains('@'), "{email}");
        }
    }
    assert_eq!(seen, 2);
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_binary_and_pipelined_queries() {
    let db = fresh_database("ext_prepared");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    // Binary results (tokio-postgres asks for binary): ints decode, masked text decodes as text.
    let st = c
        .prepare("SELECT id, email, ssn, name FROM customers WHERE id = $1")
        .await
        .unwrap();
    let row = c.query_one(&st, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, String>(3), "Ada");
    let email: String = row.get(1);
    let ssn: String = row.get(2);
    assert!(!email.contains("ada@example.com"), "{email}");
    assert!(!ssn.contains("123-45-6789"), "{ssn}");
    // Pipelining: several queries in flight on one connection.
    let (a, b, d) = tokio::join!(
        c.query_one("SELECT $1::int + 1", &[&41i32]),
        c.query_one("SELECT count(*) FROM customers", &[]),
        c.query_one(&st, &[&2i32]),
    );
    assert_eq!(a.unwrap().get::<_, i32>(0), 42);
    assert_eq!(b.unwrap().get::<_, i64>(0), 2);
    assert_eq!(d.unwrap().get::<_, String>(3), "Bob");
    // The unmasked identity sees the values.
    let admin = connect(&gw.user_url("bob", BOB_PW)).await;
    let row = admin
        .query_one("SELECT email FROM customers WHERE id = $1", &[&1i32])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "ada@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_in_extended_protocol_keeps_session_usable() {
    let db = fresh_database("ext_refuse");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    let mut c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let e = c.prepare("DROP TABLE customers").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{e}");
    assert!(
        e.to_string().contains("no-drop") || format!("{e:?}").contains("no-drop"),
        "{e:?}"
    );
    let e = c.execute("DELETE FROM customers", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(
        c.query_one("SELECT count(*) FROM customers", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        2
    );

    // Inside a transaction: the refusal aborts it on both sides.
    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO customers (id, name) VALUES (5, 'Eve')", &[])
        .await
        .unwrap();
    let e = tx.execute("TRUNCATE customers", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let e = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        e.code(),
        Some(&SqlState::IN_FAILED_SQL_TRANSACTION),
        "{e:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        c.query_one("SELECT count(*) FROM customers", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_in_and_masked_copy_out() {
    use futures::{SinkExt, TryStreamExt};
    let db = fresh_database("ext_copy");
    seed_customers(&db);
    let gw = TestGateway::start(
        &db,
        Opts {
            pii_profile: DETECTORS_ONLY_PROFILE,
            ..Opts::default()
        },
    );
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let sink = c
        .copy_in("COPY customers (id, name, email) FROM STDIN")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(
        b"10\tDan\tdan@example.com\n11\tEli\teli@example.com\n",
    ))
    .await
    .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let stream = c
        .copy_out("COPY (SELECT id, email FROM customers ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let text: String = chunks
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(!text.contains("@example."), "{text}");
    // Under a profile with column rules the columns are learned first (a hidden Parse and
    // Describe inside the client's batch), and the rows are masked column by column.
    drop(c);
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let stream = c
        .copy_out("COPY (SELECT id, ssn, email FROM customers ORDER BY id) TO STDOUT")
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let text: Vec<u8> = chunks.concat();
    assert_eq!(
        String::from_utf8_lossy(&text),
        "1\t[REDACTED]\t[EMAIL]\n2\t[REDACTED]\t[EMAIL]\n10\t\\N\t[EMAIL]\n11\t\\N\t[EMAIL]\n"
    );
    // A table without a column list: COPY leaves out generated columns, which `SELECT *`
    // returns; the gateway drops them from what it learned (by attribute number, past a
    // dropped column), so each column rule still lands on its own column.
    cluster()
        .psql(
            &db,
            "CREATE SCHEMA s2; \
             CREATE TABLE s2.customers (id int, gone text, \
               tag text GENERATED ALWAYS AS ('t' || id) STORED, ssn text, email text); \
             ALTER TABLE s2.customers DROP COLUMN gone; \
             INSERT INTO s2.customers (id, ssn, email) VALUES (1, '123-45-6789', 'x@example.com');",
        )
        .unwrap();
    let chunks: Vec<bytes::Bytes> = c
        .copy_out("COPY s2.customers TO STDOUT")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&chunks.concat()),
        "1\t[REDACTED]\t[EMAIL]\n"
    );
    assert_eq!(
        c.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0),
        1
    );
    assert_eq!(
        cluster()
            .psql(&db, "SELECT email FROM customers WHERE id = 10")
            .unwrap()
            .trim(),
        "dan@example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reaches_the_upstream() {
    let db = fresh_database("ext_cancel");
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let token = c.cancel_token();
    let started = std::time::Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(NoTls).await
    });
    let e = c.query("SELECT pg_sleep(20)", &[]).await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    canceller.await.unwrap().unwrap();
    // Usable afterwards.
    assert_eq!(
        c.query_one("SELECT 7", &[]).await.unwrap().get::<_, i32>(0),
        7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_then_approve_over_the_admin_api_completes() {
    let db = fresh_database("ext_approve");
    let gw = TestGateway::start(&db, slow_approvals());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let other = connect(&gw.user_url("alice", ALICE_PW)).await;
    // A query pipelined behind the held statement waits for it, then runs.
    let held = tokio::spawn(async move {
        let (a, b) = tokio::join!(
            c.batch_execute("CREATE TABLE approved_t (id int)"),
            c.query_one("SELECT count(*) FROM approved_t", &[])
        );
        a.and(b.map(|r| assert_eq!(r.get::<_, i64>(0), 0)))
    });
    // Find the approval as bob (dba).
    let api = gw.admin();
    let id = next_approval(&api, &format!("bob:{BOB_PW}"), &[]).await;
    // Other sessions are not blocked meanwhile.
    assert_eq!(
        other
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );
    // The requester cannot approve their own statement, nor can a non-approver.
    let (status, _) = http_blocking(
        "POST",
        &api,
        &format!("/approvals/{id}/approve"),
        &format!("alice:{ALICE_PW}"),
        None,
    )
    .await;
    assert!(status == 403 || status == 409, "{status}");
    let (status, body) = http_blocking(
        "POST",
        &api,
        &format!("/approvals/{id}/approve"),
        &format!("bob:{BOB_PW}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    held.await
        .unwrap()
        .expect("the held statement completes after approval");
    assert_eq!(
        cluster()
            .psql(&db, "SELECT to_regclass('approved_t') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_withdraws_a_held_statement() {
    let db = fresh_database("ext_cancel_held");
    let gw = TestGateway::start(&db, slow_approvals());
    let c = std::sync::Arc::new(connect(&gw.user_url("alice", ALICE_PW)).await);
    let token = c.cancel_token();
    let started = std::time::Instant::now();
    let held = {
        let c = c.clone();
        tokio::spawn(async move { c.batch_execute("CREATE TABLE withdrawn_t (id int)").await })
    };
    let api = gw.admin();
    let bob = format!("bob:{BOB_PW}");
    let id = next_approval(&api, &bob, &[]).await;
    token.cancel_query(NoTls).await.expect("cancel request");
    // Answered as PostgreSQL answers a cancelled statement, long before the 30 s timeout.
    let e = held.await.unwrap().unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The approval is withdrawn: approving it now runs nothing.
    withdrawn(&api, &bob, id, &db, "withdrawn_t").await;
    // The session goes on; a cancel with nothing held or running changes nothing.
    token.cancel_query(NoTls).await.expect("cancel request");
    // (The gateway passes it upstream on its own time: let it land before the next query.)
    tokio::time::sleep(Duration::from_millis(500)).await;
    let one = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(one.get::<_, i32>(0), 1);
    assert!(gw.audit_log().contains("approval_withdrawn"));

    // A client that goes away while its statement is held withdraws it too.
    let mut psql = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", &gw.user_url("alice", ALICE_PW), "-c"])
        .arg("CREATE TABLE abandoned_t (id int)")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("psql");
    let second = next_approval(&api, &bob, &[id]).await;
    psql.kill().unwrap();
    psql.wait().unwrap();
    let mut state = String::new();
    for _ in 0..100 {
        let (_, body) = http_blocking("GET", &api, "/approvals", &bob, None).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let a = v
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"].as_u64() == Some(second)).cloned());
        state = a.map_or("gone".to_owned(), |a| a["state"].to_string());
        if state != "\"pending\"" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(state, "\"pending\"", "the hold outlived its client");
    withdrawn(&api, &bob, second, &db, "abandoned_t").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_waiting_per_identity_are_bounded() {
    let db = fresh_database("ext_approval_bounds");
    let gw = TestGateway::start(&db, Opts::default());
    let api = gw.admin();
    let alice = format!("alice:{ALICE_PW}");
    let body = serde_json::json!({"groups": ["dba"], "for": "5m", "reason": "again"});
    for _ in 0..16 {
        let (status, resp) =
            http_blocking("POST", &api, "/grants", &alice, Some(body.clone())).await;
        assert_eq!(status, 202, "{resp}");
    }
    let (status, resp) = http_blocking("POST", &api, "/grants", &alice, Some(body.clone())).await;
    assert_eq!(status, 429, "{resp}");
    // Who sees them: alice (hers) and the approvers (dba), not another agent.
    let count = async |who: &str| {
        let (status, body) = http_blocking("GET", &api, "/approvals", who, None).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v.as_array().map_or(0, Vec::len)
    };
    assert_eq!(count(&alice).await, 16);
    assert_eq!(count(&format!("bob:{BOB_PW}")).await, 16);
    assert_eq!(count(&gw.token("carol", &["agents"])).await, 0);
    // A statement that needs approval is refused at once while 16 wait.
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let e = c
        .batch_execute("CREATE TABLE t17 (a int)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let msg = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(msg.contains("16 requests waiting"), "{msg}");
    // Others are not affected: bob may still ask.
    let (status, resp) = http_blocking(
        "POST",
        &api,
        "/grants",
        &format!("bob:{BOB_PW}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 202, "{resp}");
    // A statement too long for an approver to read is refused rather than held.
    let long = format!("CREATE TABLE t_long (a int) /* {} */", "x".repeat(1 << 20));
    let e = c.batch_execute(&long).await.unwrap_err();
    let msg = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(msg.contains("too long to be held"), "{msg}");
    let one = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(one.get::<_, i32>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_per_identity_are_bounded() {
    let db = fresh_database("ext_session_bound");
    let gw = TestGateway::start(
        &db,
        Opts {
            max_sessions_per_identity: Some(2),
            ..Opts::default()
        },
    );
    let url = gw.user_url("alice", ALICE_PW);
    let a = connect(&url).await;
    let b = connect(&url).await;
    let e = tokio_postgres::connect(&url, NoTls)
        .await
        .err()
        .expect("a third is refused");
    assert_eq!(e.code(), Some(&SqlState::TOO_MANY_CONNECTIONS), "{e:?}");
    // Another identity is not affected, and a session that ends makes room.
    let bob = connect(&gw.user_url("bob", BOB_PW)).await;
    assert_eq!(
        bob.query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );
    drop(a);
    let mut again = None;
    for _ in 0..100 {
        if let Ok((c, conn)) = tokio_postgres::connect(&url, NoTls).await {
            tokio::spawn(conn);
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = again.expect("room after a session ended");
    assert_eq!(
        again
            .query_one("SELECT 2", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        2
    );
    assert_eq!(
        b.query_one("SELECT 3", &[]).await.unwrap().get::<_, i32>(0),
        3
    );
}

/// The agent policy with holds that wait 30 s (time to approve or cancel them).
fn slow_approvals() -> Opts {
    Opts {
        approval_timeout: "30s",
        policy: AGENT_POLICY.replace("timeout = \"3s\"", "timeout = \"30s\""),
        ..Opts::default()
    }
}

/// Requests a grant (`body`) as `requester` and has `approver` approve it; the grant's id.
async fn granted(api: &str, requester: &str, approver: &str, body: serde_json::Value) -> String {
    let (status, resp) = http_blocking("POST", api, "/grants", requester, Some(body)).await;
    assert_eq!(status, 202, "{resp}");
    let id = serde_json::from_str::<serde_json::Value>(&resp).unwrap()["approval"]["id"]
        .as_u64()
        .unwrap();
    let (status, resp) = http_blocking(
        "POST",
        api,
        &format!("/approvals/{id}/approve"),
        approver,
        None,
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    serde_json::from_str::<serde_json::Value>(&resp).unwrap()["grant"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until `who` sees a pending approval whose id is not in `seen`; its id.
async fn next_approval(api: &str, who: &str, seen: &[u64]) -> u64 {
    for _ in 0..200 {
        let (status, body) = http_blocking("GET", api, "/approvals", who, None).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let new = (v.as_array().into_iter().flatten())
            .filter(|a| a["state"].as_str().is_none_or(|s| s == "pending"))
            .filter_map(|a| a["id"].as_u64())
            .find(|id| !seen.contains(id));
        if let Some(id) = new {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no approval was opened");
}

/// Approving `id` (as `who`) is refused because it was withdrawn, and what it held never ran:
/// table `table` of `db` does not exist.
async fn withdrawn(api: &str, who: &str, id: u64, db: &str, table: &str) {
    let (status, body) =
        http_blocking("POST", api, &format!("/approvals/{id}/approve"), who, None).await;
    assert_eq!(status, 409, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gone = format!("SELECT to_regclass('{table}') IS NULL");
    assert_eq!(cluster().psql(db, &gone).unwrap().trim(), "t");
}

/// Approves, as bob (dba), the first approval to be opened; its id.
async fn approve_first(api: &str) -> u64 {
    let bob = format!("bob:{BOB_PW}");
    let id = next_approval(api, &bob, &[]).await;
    let (status, body) =
        http_blocking("POST", api, &format!("/approvals/{id}/approve"), &bob, None).await;
    assert_eq!(status, 200, "{body}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_copy_out_under_column_rules_is_masked_after_approval() {
    let db = fresh_database("ext_copy_hold");
    seed_customers(&db);
    let policy = format!(
        "{AGENT_POLICY}\n[[rule]]\nid = \"copy-out-needs-approval\"\naction = \"approve\"\n\
         approvers = [\"dba\"]\ntimeout = \"30s\"\nidentity = {{ groups_any = [\"agents\"] }}\n\
         facts = {{ \"sql.copy.direction\" = \"out\" }}\n"
    );
    let gw = TestGateway::start(
        &db,
        Opts {
            approval_timeout: "30s",
            policy,
            ..Opts::default()
        },
    );
    let api = gw.admin();
    // Extended protocol: the probe goes out with the Execute, after the approval.
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let held = tokio::spawn(async move {
        use futures::TryStreamExt;
        let stream = c
            .copy_out("COPY (SELECT id, ssn FROM customers ORDER BY id) TO STDOUT")
            .await?;
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await?;
        Ok::<_, tokio_postgres::Error>(chunks.concat())
    });
    let first = approve_first(&api).await;
    let rows = held
        .await
        .unwrap()
        .expect("the held COPY runs after approval");
    assert_eq!(
        String::from_utf8_lossy(&rows),
        "1\t[REDACTED]\n2\t[REDACTED]\n"
    );
    // Simple protocol (psql): the probe is its own unit, sent after the approval.
    let url = gw.user_url("alice", ALICE_PW);
    let held = tokio::task::spawn_blocking(move || {
        psql(
            &url,
            &["COPY customers (id, ssn) TO STDOUT WITH (FORMAT csv)"],
        )
    });
    let second = approve_first(&api).await;
    assert_ne!(first, second);
    let o = held.await.unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1,[REDACTED]\n2,[REDACTED]\n");
}

const GRANT_POLICY: &str = r#"
default = "deny"
default_message = "not allowed without a grant"

[[rule]]
id = "reads"
action = "allow"
facts = { "sql.effect" = { in = ["read", "transaction", "session"] } }

[[rule]]
id = "writers-write"
action = "allow"
identity = { groups_any = ["writers"] }
facts = { "sql.effect" = "write" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_request_approval_revocation_and_expiry_bite_a_live_session() {
    let db = fresh_database("ext_grants");
    seed_customers(&db);
    let gw = TestGateway::start(
        &db,
        Opts {
            policy: GRANT_POLICY.to_owned(),
            ..Opts::default()
        },
    );
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let insert = c
        .prepare("INSERT INTO customers (id, name) VALUES ($1, 'g')")
        .await;
    // Without a grant the write is refused (at Parse already).
    let e = insert.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));

    let api = gw.admin();
    let alice = format!("alice:{ALICE_PW}");
    let bob = format!("bob:{BOB_PW}");
    let body = serde_json::json!({"groups": ["writers"], "for": "30m", "reason": "fix data"});
    let grant_id = granted(&api, &alice, &bob, body).await;

    // The same live session may now write; prepared once, decided again at every Execute.
    let st = c
        .prepare("INSERT INTO customers (id, name) VALUES ($1, 'g')")
        .await
        .unwrap();
    c.execute(&st, &[&20i32]).await.unwrap();

    let (status, resp) = http_blocking(
        "POST",
        &api,
        &format!("/grants/{grant_id}/revoke"),
        &alice,
        None,
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    let e = c.execute(&st, &[&21i32]).await.unwrap_err();
    assert_eq!(
        e.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "revocation bites at the next Execute"
    );

    // Grants are short: a request for longer than `max_grant_duration` (12h) is refused.
    for long in ["13h", "1d", "100000d"] {
        let body = serde_json::json!({"groups": ["writers"], "for": long, "reason": "forever"});
        let (status, resp) = http_blocking("POST", &api, "/grants", &alice, Some(body)).await;
        assert_eq!(status, 400, "{resp}");
        assert!(resp.contains("at most 12h"), "{resp}");
    }

    // A short grant expires on its own.
    let body = serde_json::json!({"groups": ["writers"], "for": "2s", "reason": "quick fix"});
    granted(&api, &alice, &bob, body).await;
    c.execute(&st, &[&22i32]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let e = c.execute(&st, &[&23i32]).await.unwrap_err();
    assert_eq!(
        e.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "expiry bites at the next Execute"
    );
    assert_eq!(
        cluster()
            .psql(&db, "SELECT count(*) FROM customers WHERE name = 'g'")
            .unwrap()
            .trim(),
        "2"
    );
}

/// Agents may hold statements the gateway cannot see into for approval; everything else is
/// allowed.
const OPAQUE_POLICY: &str = r#"
default = "allow"

[[rule]]
id = "agents-opaque-held"
action = "approve"
approvers = ["dba"]
timeout = "1s"
identity = { groups_any = ["agents"] }
facts = { "sql.opaque" = true, "sql.statement" = "call" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_the_gateway_cannot_see_into_are_refused_unless_a_dangerous_setting_lets_them() {
    let db = fresh_database("ext_opaque");
    seed_customers(&db);
    cluster()
        .psql(
            &db,
            "CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'; \
             CREATE PROCEDURE touch() LANGUAGE sql AS 'SELECT 1'",
        )
        .expect("setup");
    let gw = TestGateway::start(
        &db,
        Opts {
            policy: OPAQUE_POLICY.to_owned(),
            opaque_groups: &["dba"],
            ..Opts::default()
        },
    );
    let alice = connect(&gw.user_url("alice", ALICE_PW)).await;
    let bob = connect(&gw.user_url("bob", BOB_PW)).await;
    // Each refusal is a 42501 that says why, and the session goes on.
    let refused = async |c: &tokio_postgres::Client, sql: &str, why: &str| {
        let e = c.simple_query(sql).await.unwrap_err();
        let db = e.as_db_error().expect("an ErrorResponse");
        assert_eq!(db.code(), &SqlState::INSUFFICIENT_PRIVILEGE, "{sql}: {db}");
        assert!(db.message().contains(why), "{sql}: {}", db.message());
        let one = c.query_one("SELECT 1", &[]).await.unwrap();
        assert_eq!(one.get::<_, i32>(0), 1);
    };
    refused(&alice, "DO $$ BEGIN PERFORM 1; END $$", "DO block").await;
    refused(&alice, "SELECT add_one(1)", "not built in (add_one)").await;
    refused(
        &alice,
        "SELECT query_to_xml('SELECT ssn FROM customers', true, false, '')",
        "SQL given as a string",
    )
    .await;
    refused(&alice, "SELECT 1; SELECT add_one(2)", "add_one").await;
    // Parse is decided as a simple query is.
    let e = alice.prepare("SELECT add_one($1)").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    // Inside a transaction the refusal aborts it on both sides, as a failing statement does.
    alice.batch_execute("BEGIN").await.unwrap();
    let e = alice.simple_query("SELECT add_one(1)").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let e = alice.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    alice.batch_execute("ROLLBACK").await.unwrap();
    // A rule that holds such a statement for a person still does (here until it times out).
    let e = alice.simple_query("CALL touch()").await.unwrap_err();
    let msg = e.as_db_error().unwrap().message().to_owned();
    assert!(msg.contains("timed out"), "{msg}");

    // dba is listed in dangerous_allow_opaque_groups: the policy's allow holds for bob.
    bob.batch_execute("DO $$ BEGIN PERFORM 1; END $$")
        .await
        .unwrap();
    let two = bob.query_one("SELECT add_one(1)", &[]).await.unwrap();
    assert_eq!(two.get::<_, i32>(0), 2);
    bob.batch_execute("CALL touch()").await.unwrap();

    // Membership given by a grant counts, while the grant lasts.
    let api = gw.admin();
    let body = serde_json::json!({"groups": ["dba"], "for": "30m", "reason": "run add_one"});
    let auth = format!("alice:{ALICE_PW}");
    let grant = granted(&api, &auth, &format!("bob:{BOB_PW}"), body).await;
    let two = alice.query_one("SELECT add_one(1)", &[]).await.unwrap();
    assert_eq!(two.get::<_, i32>(0), 2);
    let (status, resp) = http_blocking(
        "POST",
        &api,
        &format!("/grants/{grant}/revoke"),
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    refused(&alice, "SELECT add_one(1)", "add_one").await;

    // The audit log names the refusals.
    let audit = gw.audit_log();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"verdict\":\"deny\"") && l.contains("add_one")),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_sessions_metrics_and_kill() {
    let db = fresh_database("ext_admin");
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    c.query_one("SELECT 1", &[]).await.unwrap();
    let api = gw.admin();
    let bob = format!("bob:{BOB_PW}");
    let (status, body) = http_blocking("GET", &api, "/metrics", &bob, None).await;
    assert_eq!(status, 200);
    assert!(body.contains("guard_sessions 1"), "{body}");
    assert!(
        body.contains("guard_statements_total{verdict=\"allow\"}"),
        "{body}"
    );
    // Latency histograms: decisions, and statements end to end (at least the SELECT's
    // batches: tokio-postgres prepares, then executes).
    let count = |name: &str| -> u64 {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_count ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}_count in {body}"))
    };
    assert!(count("guard_decision_seconds") >= 2, "{body}");
    assert!(count("guard_statement_seconds") >= 2, "{body}");
    assert!(
        body.contains("guard_statement_seconds_bucket{le=\"+Inf\"}"),
        "{body}"
    );
    let (status, _) =
        http_blocking("GET", &api, "/sessions", &format!("alice:{ALICE_PW}"), None).await;
    assert_eq!(status, 403, "agents are not operators");
    let (status, body) = http_blocking("GET", &api, "/sessions", &bob, None).await;
    assert_eq!(status, 200);
    let sessions: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = sessions[0]["id"].as_u64().unwrap();
    assert_eq!(sessions[0]["subject"], "alice");
    let (status, _) =
        http_blocking("POST", &api, &format!("/sessions/{id}/kill"), &bob, None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        c.query_one("SELECT 1", &[]).await.is_err(),
        "a killed session is closed"
    );
    let (status, _) = http_blocking("POST", &api, "/reload", &bob, None).await;
    assert_eq!(status, 200);
    let (status, _) = http_blocking("GET", &api, "/approvals", "nobody:wrong", None).await;
    assert_eq!(status, 401);
}

async fn http_blocking(
    method: &'static str,
    api: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let (api, path, token) = (api.to_owned(), path.to_owned(), token.to_owned());
    tokio::task::spawn_blocking(move || guard_gateway::cli::http(method, &api, &path, &token, body))
        .await
        .unwrap()
        .expect("admin API reachable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_parameters_are_recorded_masked() {
    let db = fresh_database("ext_bind_params");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    {
        let c = connect(&gw.user_url("alice", ALICE_PW)).await;
        let rows = c
            .query(
                "SELECT id FROM customers WHERE email = $1 OR name = $2",
                &[&"ada@example.com", &"Bob"],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
    }
    let recs = gw.sealed_recordings();
    let (_, text) = recs
        .iter()
        .find(|(_, t)| t.contains("WHERE email = $1"))
        .expect("the session's recording");
    // The parameters are there, in order (tokio-postgres sends them in binary format: base64
    // in the file), masked by the statement's profile (agents: pii).
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let expected = format!(
        r#""params":[{{"binary":"{}"}},{{"binary":"{}"}}]"#,
        b64("[EMAIL]"),
        b64("Bob")
    );
    assert!(text.contains(&expected), "{expected} in {text}");
    assert!(!text.contains(&b64("ada@example.com")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lines_are_written_within_the_flush_interval_while_a_session_is_open() {
    let db = fresh_database("ext_audit_flush");
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    c.simple_query("SELECT 'audit-flush-marker'").await.unwrap();
    // Read the file itself (not through the harness, which flushes first).
    let path = gw.dir.path().join("audit.jsonl");
    let mut seen = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if std::fs::read_to_string(&path)
            .unwrap_or_default()
            .contains("audit-flush-marker")
        {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "the line reached the file within 2 s while the session stayed open"
    );
    c.query_one("SELECT 1", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_rows_are_recorded_masked_in_both_directions() {
    use futures::{SinkExt, TryStreamExt};
    let db = fresh_database("ext_copy_rec");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    {
        let c = connect(&gw.user_url("alice", ALICE_PW)).await;
        let sink = c
            .copy_in("COPY customers (id, name, email) FROM STDIN")
            .await
            .unwrap();
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from_static(b"10\tDan\tdan@example.com\n"))
            .await
            .unwrap();
        assert_eq!(sink.finish().await.unwrap(), 1);
        let out: Vec<bytes::Bytes> = c
            .copy_out("COPY (SELECT id, name, ssn FROM customers ORDER BY id) TO STDOUT")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.concat()),
            "1\tAda\t[REDACTED]\n2\tBob\t[REDACTED]\n10\tDan\t\\N\n"
        );
    }
    let recs = gw.sealed_recordings();
    let (path, text) = recs
        .iter()
        .find(|(_, t)| t.contains("FROM STDIN"))
        .expect("the session's recording");
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    // The rows sent in, masked with the statement's profile (agents: pii, which finds the
    // email), and the rows sent out exactly as the client received them.
    let copy_in = format!(
        r#""type":"input","kind":"copy_data","data":"{}""#,
        b64("10\tDan\t[EMAIL]\n")
    );
    assert!(text.contains(&copy_in), "{copy_in} in {text}");
    let copy_out = format!(
        r#""type":"output","kind":"copy_data","data":"{}""#,
        b64("1\tAda\t[REDACTED]\n2\tBob\t[REDACTED]\n10\tDan\t\\N\n")
    );
    assert!(text.contains(&copy_out), "{copy_out} in {text}");
    assert!(
        text.contains(r#""tag":"COPY 3","rows":3,"bytes":44"#),
        "{text}"
    );
    assert!(!text.contains(&b64("dan@example.com")), "{text}");
    // The recording still verifies.
    guard_record::verify(std::fs::File::open(path).unwrap(), None).expect("intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_copy_out_is_masked_column_by_column() {
    use futures::TryStreamExt;
    use tokio_postgres::binary_copy::BinaryCopyOutStream;
    use tokio_postgres::types::Type;
    let db = fresh_database("ext_copy_bin");
    seed_customers(&db);
    cluster()
        .psql(
            &db,
            "CREATE TABLE profiles (id int, doc jsonb); \
             INSERT INTO profiles VALUES (1, '{\"mail\": \"ada@example.com\", \"n\": 7}'); \
             CREATE SCHEMA s4; CREATE TABLE s4.customers (id int, ssn int); \
             INSERT INTO s4.customers VALUES (1, 123456789);",
        )
        .unwrap();
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    // A column rule (ssn), detectors (email), and an int passed as it is: the binary rows
    // still decode with the columns' own types.
    let stream = c
        .copy_out(
            "COPY (SELECT id, ssn, email FROM customers ORDER BY id) TO STDOUT (FORMAT binary)",
        )
        .await
        .unwrap();
    let rows: Vec<_> = BinaryCopyOutStream::new(stream, &[Type::INT4, Type::TEXT, Type::TEXT])
        .try_collect()
        .await
        .unwrap();
    let got: Vec<(i32, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "[REDACTED]".into(), "[EMAIL]".into()),
            (2, "[REDACTED]".into(), "[EMAIL]".into()),
        ]
    );
    // jsonb: the detectors scan the JSON text after the version byte.
    let stream = c
        .copy_out("COPY profiles TO STDOUT (FORMAT binary)")
        .await
        .unwrap();
    let rows: Vec<_> = BinaryCopyOutStream::new(stream, &[Type::INT4, Type::JSONB])
        .try_collect()
        .await
        .unwrap();
    let doc: Raw = rows[0].get(1);
    assert_eq!(doc.0[0], 1, "jsonb version byte");
    let doc: serde_json::Value = serde_json::from_slice(&doc.0[1..]).unwrap();
    assert_eq!(doc, serde_json::json!({"mail": "[EMAIL]", "n": 7}));
    // A column rule on a column whose binary type cannot hold the masked text: refused with
    // an error in place of the data, and the session goes on.
    let e = match c
        .copy_out("COPY s4.customers TO STDOUT (FORMAT binary)")
        .await
    {
        Err(e) => e,
        Ok(stream) => stream
            .try_collect::<Vec<bytes::Bytes>>()
            .await
            .expect_err("cut off"),
    };
    assert_eq!(e.code(), Some(&SqlState::FEATURE_NOT_SUPPORTED), "{e}");
    let message = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("\"ssn\""), "{message}");
    assert_eq!(
        c.query_one("SELECT 1", &[]).await.unwrap().get::<_, i32>(0),
        1
    );
    // The recording has the masked binary COPY and the gateway's error for the one cut off.
    drop(c);
    let recs = gw.sealed_recordings();
    let (_, text) = recs
        .iter()
        .find(|(_, t)| t.contains("s4.customers"))
        .expect("the session's recording");
    assert!(text.contains(r#""kind":"copy_data""#), "{text}");
    assert!(
        text.contains(r#""type":"error","code":"0A000""#) && text.contains(r#""fault":"policy""#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_and_rows_of_text_are_scanned_in_both_formats() {
    let db = fresh_database("ext_arrays");
    seed_customers(&db);
    let gw = TestGateway::start(&db, Opts::default());
    // Binary format (tokio-postgres): the elements of a text[] are masked one by one.
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let row = c
        .query_one(
            "SELECT array_agg(email ORDER BY id), array_agg(note ORDER BY id), array_agg(id ORDER BY id) \
             FROM customers",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Vec<String>>(0),
        vec!["[EMAIL]".to_owned(), "[EMAIL]".to_owned()]
    );
    assert_eq!(
        row.get::<_, Vec<String>>(1),
        vec!["vip".to_owned(), "mail me at [EMAIL]".to_owned()]
    );
    assert_eq!(row.get::<_, Vec<i32>>(2), vec![1, 2]);
    // An array computed from a rule's column (`*.customers.ssn`) is redacted whole, as text.
    let row = c
        .query_one("SELECT array_agg(ssn ORDER BY id) FROM customers", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "[REDACTED]");
    // Text format (psql): arrays and row values.
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &[
            "SELECT array_agg(email ORDER BY id), ROW(id, email) FROM customers GROUP BY id, email ORDER BY id LIMIT 1",
        ],
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.contains("@example."), "{out}");
    assert_eq!(out, "{[EMAIL]}|(1,[EMAIL])\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_types_are_scanned_in_binary_format() {
    let db = fresh_database("ext_user_types");
    cluster()
        .psql(
            &db,
            "CREATE TYPE mood AS ENUM ('ok', 'sad'); \
             CREATE DOMAIN mail AS text; \
             CREATE TYPE contact AS (name text, address mail, m mood); \
             CREATE TABLE people (id int, d mail, c contact, cs contact[], m mood); \
             INSERT INTO people VALUES (1, 'ada@example.com', \
               ROW('Ada', 'ada@example.com', 'ok'), \
               ARRAY[ROW('Bob', 'bob@example.org', 'sad')::contact], 'ok');",
        )
        .unwrap();
    let gw = TestGateway::start(
        &db,
        Opts {
            pii_profile: DETECTORS_ONLY_PROFILE,
            ..Opts::default()
        },
    );
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    let row = c
        .query_one("SELECT d, c, cs, m FROM people", &[])
        .await
        .unwrap();
    let text = |i: usize| String::from_utf8_lossy(&row.get::<_, Raw>(i).0).into_owned();
    // A domain over text, a composite with a domain field, an array of composites: masked in
    // place; an enum passes as it is.
    assert_eq!(text(0), "[EMAIL]");
    for i in 1..3 {
        let t = text(i);
        assert!(
            !t.contains("@example.") && t.contains("[EMAIL]"),
            "{i}: {t:?}"
        );
    }
    assert_eq!(text(3), "ok");
    // Text format scans them too.
    let o = psql(
        &gw.user_url("alice", ALICE_PW),
        &["SELECT d, (c).address, (cs[1]).address, m FROM people"],
    );
    assert_eq!(stdout(&o), "[EMAIL]|[EMAIL]|[EMAIL]|ok\n", "{}", stderr(&o));
}

/// The values of the first column of a simple query's rows.
async fn simple_column(c: &tokio_postgres::Client, sql: &str) -> Vec<Option<String>> {
    c.simple_query(sql)
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_owned)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_plans_its_results_again_after_a_reload() {
    let db = fresh_database("ext_plan_reload");
    cluster()
        .psql(
            &db,
            "CREATE TABLE other (id int, ssn text); INSERT INTO other VALUES (1, 'plainvalue');",
        )
        .unwrap();
    let gw = TestGateway::start(&db, Opts::default());
    let c = connect(&gw.user_url("alice", ALICE_PW)).await;
    // `other.ssn` is no rule's column; run twice, so the session keeps the plan.
    for _ in 0..2 {
        assert_eq!(
            simple_column(&c, "SELECT ssn FROM other").await,
            [Some("plainvalue".into())]
        );
    }
    // Renamed to a table a column rule names (`*.customers.ssn`): the RowDescription is the
    // same bytes (same table OID, attribute number, name and type), but after a reload this
    // very session plans it again, and the rule applies.
    cluster()
        .psql(&db, "ALTER TABLE other RENAME TO customers")
        .unwrap();
    gw.gateway.reload().unwrap();
    assert_eq!(
        simple_column(&c, "SELECT ssn FROM customers").await,
        [Some("[REDACTED]".into())]
    );
    assert_eq!(
        simple_column(&c, "SELECT ssn FROM customers").await,
        [Some("[REDACTED]".into())]
    );
}
