//! Shared helpers for the end-to-end tests: one throwaway PostgreSQL per test binary, and a
//! gateway per test in front of it (its own tokio runtime on a thread).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use guard_gateway::config::Config;
use guard_gateway::jwt::DemoIssuer;
use guard_gateway::pgcluster::PgCluster;

/// The cluster shared by every test of this binary (cleaned up when the process exits).
pub fn cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| match PgCluster::start() {
        Ok(c) => c,
        Err(e) => panic!("cannot start the throwaway PostgreSQL: {e:#}"),
    })
}

/// A fresh database in the shared cluster, named after the test.
pub fn fresh_database(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{prefix}_{}", N.fetch_add(1, Ordering::SeqCst));
    cluster()
        .create_database(&name)
        .unwrap_or_else(|e| panic!("create database {name}: {e:#}"));
    name
}

/// The password of the static users the test gateways know.
pub const ALICE_PW: &str = "alice-secret-pw";
pub const BOB_PW: &str = "bob-secret-pw";

/// The policy most tests use: agents may not run unbounded writes, DROP or TRUNCATE; DDL needs
/// a dba's approval; agents see PII masked.
pub const AGENT_POLICY: &str = r#"
default = "allow"

[[rule]]
id = "no-unparsable"
action = "deny"
message = "statements that do not parse are refused"
facts = { "sql.unparsable" = true }

[[rule]]
id = "no-unbounded-writes"
action = "deny"
message = "unbounded DELETE/UPDATE is not allowed"
identity = { groups_any = ["agents"] }
facts = { "sql.unbounded" = true, "sql.commands" = { contains_any = ["delete", "update", "merge"] } }

[[rule]]
id = "no-drop"
action = "deny"
message = "DROP and TRUNCATE are not allowed"
identity = { groups_any = ["agents"] }
facts = { "sql.commands" = { contains_any = ["drop", "truncate", "drop_database"] } }

[[rule]]
id = "ddl-needs-approval"
action = "approve"
approvers = ["dba"]
timeout = "3s"
identity = { groups_any = ["agents"] }
facts = { "sql.effect" = "ddl" }

[[rule]]
id = "mask-pii"
action = "mask"
profile = "pii"
identity = { groups_any = ["agents"] }
"#;

/// A `pii` profile with detectors only (no column rules).
pub const DETECTORS_ONLY_PROFILE: &str = r#"
detectors = ["email", "us_ssn", "credit_card", "phone"]
default_strategy = { kind = "redact" }
"#;

/// The mask profile `pii`.
pub const PII_PROFILE: &str = r#"
detectors = ["email", "us_ssn", "credit_card", "phone"]
default_strategy = { kind = "redact" }

[[columns]]
column = "*.customers.ssn"
strategy = { kind = "redact" }

[[columns]]
column = "card_number"
strategy = { kind = "partial", keep_last = 4 }
"#;

/// Options for [`TestGateway::start`].
#[derive(Clone)]
pub struct Opts {
    pub policy: String,
    pub audit_only: bool,
    pub approval_timeout: &'static str,
    /// Another upstream than the shared cluster: (port, superuser password).
    pub upstream: Option<(u16, String)>,
    /// PEM CA to verify the upstream's certificate with (`tls = "verify-full"`).
    pub upstream_tls_ca: Option<String>,
    /// The upstream `host` (default `127.0.0.1`; a directory: the server's Unix socket).
    pub upstream_host: Option<String>,
    /// The upstream user (default `postgres`).
    pub upstream_user: Option<String>,
    /// The mask profile `pii` (default [`PII_PROFILE`]).
    pub pii_profile: &'static str,
    /// `[policy] dangerous_allow_opaque_groups` (default none).
    pub opaque_groups: &'static [&'static str],
    /// The listener's `login_timeout` (default `60s`).
    pub login_timeout: &'static str,
    /// The listener's `max_sessions_per_identity` (default none).
    pub max_sessions_per_identity: Option<usize>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            policy: AGENT_POLICY.to_owned(),
            audit_only: false,
            approval_timeout: "5s",
            upstream: None,
            upstream_tls_ca: None,
            upstream_host: None,
            upstream_user: None,
            pii_profile: PII_PROFILE,
            opaque_groups: &[],
            login_timeout: "60s",
            max_sessions_per_identity: None,
        }
    }
}

/// A policy that allows everything (for pgbench and load tests).
pub const ALLOW_ALL: &str = "default = \"allow\"\n";

/// A gateway in front of database `db` of the shared cluster.
pub struct TestGateway {
    pub port: u16,
    pub admin_port: u16,
    pub db: String,
    pub dir: tempfile::TempDir,
    pub issuer: DemoIssuer,
    pub gateway: guard_gateway::Gateway,
    pub ca_pem: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestGateway {
    pub fn start(db: &str, opts: Opts) -> TestGateway {
        let c = cluster();
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let issuer = DemoIssuer::generate("https://idp.test", "guard");
        std::fs::write(d.join("jwks.json"), issuer.jwks()).unwrap();
        std::fs::write(d.join("policy.toml"), &opts.policy).unwrap();
        std::fs::write(d.join("pii.toml"), opts.pii_profile).unwrap();
        let (upstream_port, upstream_pw) = opts
            .upstream
            .clone()
            .unwrap_or_else(|| (c.port(), c.password().to_owned()));
        std::fs::write(d.join("upstream.pw"), &upstream_pw).unwrap();
        let upstream_tls = match &opts.upstream_tls_ca {
            Some(ca) => {
                std::fs::write(d.join("upstream-ca.pem"), ca).unwrap();
                "tls = \"verify-full\"\ntls_ca = \"upstream-ca.pem\"\n".to_owned()
            }
            None => String::new(),
        };
        let (cert, key) = guard_gateway::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
        std::fs::write(d.join("tls.crt"), &cert).unwrap();
        std::fs::write(d.join("tls.key"), &key).unwrap();
        let secret = |pw: &str| {
            guard_sql::pg::auth::ScramSecret::from_password(
                pw.as_bytes(),
                b"0123456789abcdef",
                4096,
            )
            .to_string()
        };
        // Bound here and handed to the gateway's runtime: a port picked now and bound later
        // could be taken by another test in between.
        let bind = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
            l.set_nonblocking(true).unwrap();
            let port = l.local_addr().unwrap().port();
            (l, port)
        };
        let (listener, port) = bind();
        let (admin_listener, admin_port) = bind();
        let cfg = format!(
            r#"
[[listeners]]
protocol = "postgres"
address = "127.0.0.1:{port}"
tls_cert = "tls.crt"
tls_key = "tls.key"
login_timeout = "{login_timeout}"{max_sessions}

[[resources]]
name = "app"
protocol = "postgres"
host = "{upstream_host}"
port = {upstream_port}
database = "{db}"
user = "{upstream_user}"
password = {{ file = "upstream.pw" }}
labels = {{ env = "test" }}
{upstream_tls}

[[identity.oidc]]
issuer = "https://idp.test"
audience = "guard"
jwks_file = "jwks.json"

[[identity.users]]
name = "alice"
groups = ["agents"]
password_hash = "{alice}"

[[identity.users]]
name = "bob"
groups = ["dba"]
password_hash = "{bob}"

[policy]
file = "policy.toml"
audit_only = {audit_only}
dangerous_allow_opaque_groups = {opaque_groups:?}

[masking.profiles]
pii = "pii.toml"

[admin]
address = "127.0.0.1:{admin_port}"
approver_groups = ["dba"]

[audit]
file = "audit.jsonl"

[recording]
dir = "recordings"
strict = true

[approvals]
timeout = "{timeout}"
"#,
            upstream_port = upstream_port,
            upstream_host = opts.upstream_host.as_deref().unwrap_or("127.0.0.1"),
            upstream_user = opts.upstream_user.as_deref().unwrap_or("postgres"),
            alice = secret(ALICE_PW),
            bob = secret(BOB_PW),
            audit_only = opts.audit_only,
            opaque_groups = opts.opaque_groups,
            login_timeout = opts.login_timeout,
            max_sessions = opts
                .max_sessions_per_identity
                .map(|n| format!("\nmax_sessions_per_identity = {n}"))
                .unwrap_or_default(),
            timeout = opts.approval_timeout,
        );
        std::fs::write(d.join("gateway.toml"), cfg).unwrap();
        let config = match Config::load(&d.join("gateway.toml")) {
            Ok(c) => c,
            Err(errs) => panic!(
                "config: {}",
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        let gateway = guard_gateway::build_gateway(config).expect("build gateway");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let gw = gateway.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let a = tokio::net::TcpListener::from_std(admin_listener).unwrap();
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                let mut admin_stop = stop_rx.clone();
                let admin = tokio::spawn(guard_gateway::admin::serve(gw.clone(), a, async move {
                    let _ = admin_stop.wait_for(|s| *s).await;
                }));
                ready_tx.send(()).unwrap();
                gw.run(l, async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
                let _ = stop_tx.send(true);
                let _ = admin.await;
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("gateway ready");
        TestGateway {
            port,
            admin_port,
            db: db.to_owned(),
            dir,
            issuer,
            gateway,
            ca_pem: cert,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// A libpq URI for a static user (SCRAM, no TLS needed).
    pub fn user_url(&self, user: &str, pw: &str) -> String {
        format!(
            "postgresql://{user}:{pw}@127.0.0.1:{}/app?sslmode=disable",
            self.port
        )
    }

    /// A libpq URI with a token as password (TLS).
    pub fn token_url(&self, token: &str) -> String {
        format!(
            "postgresql://agent:{token}@127.0.0.1:{}/app?sslmode=require",
            self.port
        )
    }

    pub fn token(&self, subject: &str, groups: &[&str]) -> String {
        self.issuer.mint(subject, groups, Duration::from_secs(3600))
    }

    pub fn audit_log(&self) -> String {
        self.gateway.flush_audit();
        std::fs::read_to_string(self.dir.path().join("audit.jsonl")).unwrap_or_default()
    }

    /// Every recording file of this gateway, with its text.
    pub fn recordings(&self) -> Vec<(PathBuf, String)> {
        fn walk(p: &Path, out: &mut Vec<(PathBuf, String)>) {
            let Ok(rd) = std::fs::read_dir(p) else { return };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    out.push((p.clone(), std::fs::read_to_string(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir.path().join("recordings"), &mut out);
        out
    }

    /// The recordings, once one of them holds a session end (sessions seal theirs shortly
    /// after the client goes; waits up to 2.5 s).
    pub fn sealed_recordings(&self) -> Vec<(PathBuf, String)> {
        let mut recs = Vec::new();
        for _ in 0..50 {
            recs = self.recordings();
            if recs.iter().any(|(_, t)| t.contains("\"session_end\"")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        recs
    }

    pub fn admin(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs psql against `url` with `sql` (-X -A -t, ON_ERROR_STOP off, one -c per statement).
pub fn psql(url: &str, sql: &[&str]) -> Output {
    let mut cmd = Command::new("psql");
    cmd.arg("-X").arg("-A").arg("-t").arg("-d").arg(url);
    for s in sql {
        cmd.arg("-c").arg(s);
    }
    cmd.output()
        .expect("running psql (Debian package postgresql-client-15)")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Seeds a customers table with PII.
pub fn seed_customers(db: &str) {
    cluster()
        .psql(
            db,
            "CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text, \
             card_number text, phone text, note text); \
             INSERT INTO customers VALUES \
             (1, 'Ada', 'ada@example.com', '123-45-6789', '4111 1111 1111 1111', '+1 415 555 0100', 'vip'), \
             (2, 'Bob', 'bob@example.org', '234-56-7890', '5500 0000 0000 0004', '+1 212 555 0199', 'mail me at bob@example.org');",
        )
        .expect("seed");
}

pub fn path(p: &Path) -> PathBuf {
    p.to_path_buf()
}
