//! The throwaway PostgreSQL harness itself: SCRAM login works, clean-up happens on drop.

mod support;

use guard_gateway::pgcluster::PgCluster;

#[test]
fn shared_cluster_answers_queries_with_scram_login() {
    let db = support::fresh_database("harness");
    let out = support::cluster()
        .psql(&db, "SELECT current_setting('password_encryption'), 40 + 2")
        .expect("psql");
    assert_eq!(out.trim(), "scram-sha-256|42");
}

#[test]
fn wrong_password_is_refused() {
    let c = support::cluster();
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &c.port().to_string(),
            "-U",
            "postgres",
        ])
        .args(["-d", "postgres", "-c", "SELECT 1"])
        .env("PGPASSWORD", "not-the-password")
        .env("PGSSLMODE", "disable")
        .output()
        .expect("psql");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password authentication failed"));
}

#[test]
fn drop_stops_the_server_and_removes_the_directory() {
    let c = PgCluster::start().expect("start");
    let dir = c.dir().to_path_buf();
    let port = c.port();
    assert!(dir.join("data").exists());
    drop(c);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
