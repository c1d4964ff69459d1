//! Load and failure: pgbench through the gateway, 200 concurrent sessions, TLS to the upstream
//! with certificate verification, the upstream dying mid-query.

mod support;

use std::process::Command;
use std::time::Duration;

use guard_gateway::pgcluster::{PgCluster, PgClusterOptions};
use support::*;
use tokio_postgres::NoTls;

fn allow_all() -> Opts {
    Opts {
        policy: ALLOW_ALL.to_owned(),
        ..Opts::default()
    }
}

#[test]
fn pgbench_init_and_select_only_through_the_gateway() {
    let db = fresh_database("bench");
    let gw = TestGateway::start(&db, allow_all());
    let url = gw.user_url("bob", BOB_PW);
    let o = Command::new("pgbench")
        .args(["-i", "-s", "1", "-q", &url])
        .output()
        .expect("pgbench (Debian package postgresql-contrib-15)");
    assert!(o.status.success(), "pgbench -i: {}", stderr(&o));
    for mode in ["simple", "extended", "prepared"] {
        let o = Command::new("pgbench")
            .args([
                "-S", "-c", "4", "-j", "2", "-T", "2", "-M", mode, "-n", &url,
            ])
            .output()
            .unwrap();
        let out = stdout(&o);
        assert!(
            o.status.success(),
            "pgbench -S -M {mode}: {}{out}",
            stderr(&o)
        );
        assert!(out.contains("number of failed transactions: 0"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sessions() {
    let db = fresh_database("many");
    let gw = TestGateway::start(&db, allow_all());
    let url = gw.user_url("bob", BOB_PW);
    let mut tasks = Vec::new();
    for i in 0..200i32 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (c, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(conn);
            let row = c
                .query_one("SELECT $1::int * 2, pg_backend_pid()", &[&i])
                .await
                .expect("query");
            assert_eq!(row.get::<_, i32>(0), i * 2);
            // Hold the session open until every one is connected.
            tokio::time::sleep(Duration::from_millis(300)).await;
            c
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    assert_eq!(gw.gateway.sessions().len(), 200);
    drop(clients);
}

#[test]
fn tls_to_the_upstream_with_certificate_verification() {
    let (cert, key) = guard_gateway::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let mut opts = PgClusterOptions::default();
    opts.tls = Some((cert.clone(), key));
    let tls_cluster = PgCluster::start_with(&opts).expect("TLS cluster");
    // Require TLS for TCP logins on that server.
    let hba = tls_cluster.dir().join("data/pg_hba.conf");
    let mut text = std::fs::read_to_string(&hba).unwrap();
    text = text.replace("host    all", "hostssl all");
    std::fs::write(&hba, text).unwrap();
    tls_cluster.psql("postgres", "SELECT pg_reload_conf()").ok();
    let gw = TestGateway::start(
        "postgres",
        Opts {
            policy: ALLOW_ALL.to_owned(),
            upstream: Some((tls_cluster.port(), tls_cluster.password().to_owned())),
            upstream_tls_ca: Some(cert),
            ..Opts::default()
        },
    );
    let o = psql(
        &gw.user_url("bob", BOB_PW),
        &["SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "t\n");

    // A certificate from another CA is refused.
    let (other, _) = guard_gateway::tls::self_signed(&["127.0.0.1"]).unwrap();
    let gw2 = TestGateway::start(
        "postgres",
        Opts {
            policy: ALLOW_ALL.to_owned(),
            upstream: Some((tls_cluster.port(), tls_cluster.password().to_owned())),
            upstream_tls_ca: Some(other),
            ..Opts::default()
        },
    );
    let o = psql(&gw2.user_url("bob", BOB_PW), &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("TLS"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_killed_mid_query_gives_the_client_an_error() {
    let own = PgCluster::start().expect("cluster");
    let gw = TestGateway::start(
        "postgres",
        Opts {
            policy: ALLOW_ALL.to_owned(),
            upstream: Some((own.port(), own.password().to_owned())),
            ..Opts::default()
        },
    );
    let (c, conn) = tokio_postgres::connect(&gw.user_url("bob", BOB_PW), NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let q = tokio::spawn(async move { c.query("SELECT pg_sleep(30)", &[]).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::spawn_blocking(move || own.kill())
        .await
        .unwrap()
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), q)
        .await
        .expect("the client hears about it")
        .unwrap();
    let e = r.unwrap_err();
    let text = format!("{e:?}");
    assert!(e.code().is_some() || e.is_closed(), "{text}");
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(gw.gateway.sessions().is_empty(), "the session is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_death_seals_the_recording() {
    let own = PgCluster::start().expect("cluster");
    let gw = TestGateway::start(
        "postgres",
        Opts {
            policy: ALLOW_ALL.to_owned(),
            upstream: Some((own.port(), own.password().to_owned())),
            ..Opts::default()
        },
    );
    let (c, conn) = tokio_postgres::connect(&gw.user_url("bob", BOB_PW), NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.simple_query("SELECT 1").await.unwrap();
    let q = tokio::spawn(async move { c.simple_query("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::spawn_blocking(move || own.kill())
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), q)
            .await
            .unwrap()
            .unwrap()
            .is_err()
    );
    let mut sealed = None;
    for _ in 0..100 {
        if let Some((p, t)) = gw
            .recordings()
            .into_iter()
            .find(|(_, t)| t.contains("session_end"))
        {
            sealed = Some((p, t));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (path, text) = sealed.expect("a sealed recording");
    assert!(text.contains("upstream closed the connection"), "{text}");
    guard_record::verify(std::fs::File::open(path).unwrap(), None).expect("the recording verifies");
}

#[test]
fn upstream_login_with_md5_cleartext_and_trust() {
    let own = PgCluster::start().expect("cluster");
    own.psql(
        "postgres",
        "SET password_encryption = 'md5'; CREATE ROLE u_md5 LOGIN PASSWORD 'md5-pw'; \
         RESET password_encryption; CREATE ROLE u_clear LOGIN PASSWORD 'clear-pw'; \
         CREATE ROLE u_trust LOGIN;",
    )
    .unwrap();
    let hba = own.dir().join("data/pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    let lines = "host all u_md5 127.0.0.1/32 md5\nhost all u_clear 127.0.0.1/32 password\n\
                 host all u_trust 127.0.0.1/32 trust\n";
    std::fs::write(&hba, format!("{lines}{text}")).unwrap();
    own.psql("postgres", "SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for (user, pw, method) in [
        ("u_md5", "md5-pw", "md5"),
        ("u_clear", "clear-pw", "password"),
        ("u_trust", "", "trust"),
    ] {
        let gw = TestGateway::start(
            "postgres",
            Opts {
                policy: ALLOW_ALL.to_owned(),
                upstream: Some((own.port(), pw.to_owned())),
                upstream_user: Some(user.to_owned()),
                ..Opts::default()
            },
        );
        let o = psql(&gw.user_url("bob", BOB_PW), &["SELECT current_user"]);
        assert!(o.status.success(), "{method}: {}", stderr(&o));
        assert_eq!(stdout(&o), format!("{user}\n"), "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_over_a_unix_socket() {
    let db = fresh_database("unix_up");
    seed_customers(&db);
    let gw = TestGateway::start(
        &db,
        Opts {
            upstream_host: Some(cluster().dir().display().to_string()),
            ..Opts::default()
        },
    );
    let (c, conn) = tokio_postgres::connect(&gw.user_url("alice", ALICE_PW), NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    // The upstream sees a Unix-socket client (no client address).
    let row = c
        .query_one("SELECT inet_client_addr() IS NULL", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    // Masking by source column needs the catalog lookup on a side connection: also over the
    // socket.
    let row = c
        .query_one("SELECT ssn FROM customers WHERE id = 1", &[])
        .await
        .unwrap();
    let ssn: String = row.get(0);
    assert!(!ssn.contains("123-45-6789"), "{ssn}");
    // A cancel goes to the upstream over the socket too.
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel_query(NoTls).await
    });
    let started = std::time::Instant::now();
    let e = c.query("SELECT pg_sleep(20)", &[]).await.unwrap_err();
    assert_eq!(
        e.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    canceller.await.unwrap().unwrap();
}

#[test]
fn a_socket_directory_that_holds_no_server_gives_the_client_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let gw = TestGateway::start(
        "postgres",
        Opts {
            policy: ALLOW_ALL.to_owned(),
            upstream_host: Some(empty.path().display().to_string()),
            ..Opts::default()
        },
    );
    let o = psql(&gw.user_url("bob", BOB_PW), &["SELECT 1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("upstream"), "{}", stderr(&o));
}
