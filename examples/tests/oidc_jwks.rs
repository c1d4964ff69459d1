//! OIDC issuers whose keys come from a `jwks_url`: a small HTTP(S) server started here serves the
//! JWKS document and counts the requests it gets; tokens log in through the gateway with the
//! real `psql` over TLS, against the shared throwaway PostgreSQL 15.

mod support;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guard_gateway::config::Config;
use guard_gateway::jwt::DemoIssuer;
use guard_gateway::pgcluster::free_port;
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "guard";

/// What the JWKS server shares with the test.
struct ServerState {
    body: Mutex<Vec<u8>>,
    requests: AtomicUsize,
    /// Send a Content-Length header (otherwise the body ends when the connection closes).
    content_length: AtomicBool,
    /// Read the request, then answer nothing (until the server stops).
    stall: AtomicBool,
}

/// An HTTP/1.1 server (plain, or TLS with a given certificate) answering every request with
/// the current body, on its own thread and runtime. Dropping it closes the port.
struct JwksServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JwksServer {
    fn start(body: &str, tls: Option<Arc<rustls::ServerConfig>>) -> JwksServer {
        let state = Arc::new(ServerState {
            body: Mutex::new(body.as_bytes().to_vec()),
            requests: AtomicUsize::new(0),
            content_length: AtomicBool::new(true),
            stall: AtomicBool::new(false),
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        acc = listener.accept() => {
                            let Ok((sock, _)) = acc else { continue };
                            let st = st.clone();
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                match acceptor {
                                    Some(a) => {
                                        if let Ok(s) = a.accept(sock).await {
                                            answer(s, &st).await;
                                        }
                                    }
                                    None => answer(sock, &st).await,
                                }
                            });
                        }
                    }
                }
            });
        });
        JwksServer {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/jwks.json", self.addr)
    }

    fn serve(&self, body: &str) {
        *self.state.body.lock().unwrap() = body.as_bytes().to_vec();
    }

    fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    st: &ServerState,
) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
        if req.len() > 16 * 1024 {
            return;
        }
    }
    st.requests.fetch_add(1, Ordering::SeqCst);
    if st.stall.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let body = st.body.lock().unwrap().clone();
    let mut head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n".to_owned();
    if st.content_length.load(Ordering::SeqCst) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(&body).await;
    let _ = s.shutdown().await;
}

/// A JWKS document holding the keys of all `issuers`.
fn jwks(issuers: &[&DemoIssuer]) -> String {
    let keys: Vec<serde_json::Value> = issuers
        .iter()
        .flat_map(|i| {
            let doc: serde_json::Value = serde_json::from_str(&i.jwks()).unwrap();
            doc["keys"].as_array().unwrap().clone()
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

fn token(issuer: &DemoIssuer, subject: &str) -> String {
    issuer.mint(subject, &["agents"], Duration::from_secs(3600))
}

/// A configuration with one OIDC issuer described by `oidc` (the lines after `audience`).
fn write_config(dir: &Path, port: u16, db: &str, oidc: &str) -> std::path::PathBuf {
    let c = cluster();
    let (cert, key) = guard_gateway::tls::self_signed(&["localhost", "127.0.0.1"]).unwrap();
    std::fs::write(dir.join("tls.crt"), cert).unwrap();
    std::fs::write(dir.join("tls.key"), key).unwrap();
    std::fs::write(dir.join("policy.toml"), ALLOW_ALL).unwrap();
    std::fs::write(dir.join("upstream.pw"), c.password()).unwrap();
    let cfg = format!(
        r#"[[listeners]]
protocol = "postgres"
address = "127.0.0.1:{port}"
tls_cert = "tls.crt"
tls_key = "tls.key"

[[resources]]
name = "app"
protocol = "postgres"
host = "127.0.0.1"
port = {upstream}
database = "{db}"
user = "postgres"
password = {{ file = "upstream.pw" }}

[[identity.oidc]]
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
{oidc}

[policy]
file = "policy.toml"
"#,
        upstream = c.port(),
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn load(path: &Path) -> Config {
    Config::load(path).unwrap_or_else(|errs| {
        panic!(
            "{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// A gateway serving on its own runtime thread (like the shared harness, with our config).
struct Running {
    port: u16,
    gateway: guard_gateway::Gateway,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Builds (this is where the first fetch happens) and starts a gateway for `oidc`.
    fn start(prefix: &str, oidc: &str) -> Running {
        let db = fresh_database(prefix);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port().unwrap();
        let config = load(&write_config(dir.path(), port, &db, oidc));
        let gateway =
            guard_gateway::build_gateway(config).unwrap_or_else(|e| panic!("build gateway: {e:#}"));
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
                let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap();
                ready_tx.send(()).unwrap();
                gw.run(l, async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Running {
            port,
            gateway,
            _dir: dir,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Logs in with `token` and runs `SELECT 1`: whether that worked, and psql's stderr.
    fn login(&self, token: &str) -> (bool, String) {
        let url = format!(
            "postgresql://agent:{token}@127.0.0.1:{}/app?sslmode=require",
            self.port
        );
        let o = psql(&url, &["SELECT 1"]);
        (o.status.success() && stdout(&o) == "1\n", stderr(&o))
    }

    fn assert_login(&self, token: &str) {
        let (ok, err) = self.login(token);
        assert!(ok, "login refused: {err}");
    }

    fn assert_refused(&self, token: &str) {
        let (ok, err) = self.login(token);
        assert!(!ok, "login accepted");
        assert!(err.contains("authentication failed"), "{err}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn http_oidc(server: &JwksServer, extra: &str) -> String {
    format!(
        "jwks_url = \"{}\"\ndangerous_allow_http_jwks = true\n{extra}",
        server.url("http")
    )
}

#[test]
fn a_token_signed_with_a_key_from_the_url_logs_in() {
    let idp = DemoIssuer::generate(ISSUER, AUDIENCE);
    let server = JwksServer::start(&jwks(&[&idp]), None);
    let gw = Running::start("jwks_login", &http_oidc(&server, ""));
    assert_eq!(server.requests(), 1, "one fetch at start");
    gw.assert_login(&token(&idp, "carol"));
    // A token from a key the issuer never published is refused.
    let stranger = DemoIssuer::generate(ISSUER, AUDIENCE);
    gw.assert_refused(&token(&stranger, "mallory"));
}

#[test]
fn a_rotated_key_is_fetched_when_a_token_names_it() {
    let old = DemoIssuer::generate(ISSUER, AUDIENCE);
    let server = JwksServer::start(&jwks(&[&old]), None);
    let gw = Running::start("jwks_rotation", &http_oidc(&server, ""));
    gw.assert_login(&token(&old, "carol"));
    assert_eq!(server.requests(), 1);

    // The identity provider rotates: it publishes a new key next to the old one.
    let new = DemoIssuer::generate(ISSUER, AUDIENCE);
    server.serve(&jwks(&[&old, &new]));
    gw.assert_login(&token(&new, "carol"));
    assert_eq!(server.requests(), 2, "one fetch for the unknown kid");
    // Both keys work now, without further fetches.
    gw.assert_login(&token(&old, "dave"));
    gw.assert_login(&token(&new, "erin"));
    assert_eq!(server.requests(), 2);
}

#[test]
fn unknown_kids_cause_at_most_one_fetch_per_30_seconds() {
    let idp = DemoIssuer::generate(ISSUER, AUDIENCE);
    let server = JwksServer::start(&jwks(&[&idp]), None);
    let gw = Running::start("jwks_ratelimit", &http_oidc(&server, ""));
    assert_eq!(server.requests(), 1);

    // A token claiming another issuer never makes this issuer's keys be fetched.
    let elsewhere = DemoIssuer::generate("https://elsewhere.test", AUDIENCE);
    gw.assert_refused(&token(&elsewhere, "mallory"));
    assert_eq!(server.requests(), 1);

    // A flood of tokens naming made-up key ids, some at the same time.
    let bogus: Vec<String> = (0..16)
        .map(|_| token(&DemoIssuer::generate(ISSUER, AUDIENCE), "mallory"))
        .collect();
    std::thread::scope(|s| {
        for chunk in bogus.chunks(4) {
            let gw = &gw;
            s.spawn(move || {
                for t in chunk {
                    gw.assert_refused(t);
                }
            });
        }
    });
    assert_eq!(server.requests(), 2, "one fetch for the whole flood");

    // The real key still works, and a genuinely new key is not fetched before the 30 s are
    // up: the rate limit holds for everyone.
    gw.assert_login(&token(&idp, "carol"));
    let new = DemoIssuer::generate(ISSUER, AUDIENCE);
    server.serve(&jwks(&[&idp, &new]));
    gw.assert_refused(&token(&new, "carol"));
    assert_eq!(server.requests(), 2);
}

#[test]
fn the_gateway_refuses_to_start_when_the_first_fetch_fails() {
    let db = fresh_database("jwks_down_at_start");
    let dir = tempfile::tempdir().unwrap();
    let nobody = free_port().unwrap();
    let url = format!("http://127.0.0.1:{nobody}/jwks.json");
    let path = write_config(
        dir.path(),
        free_port().unwrap(),
        &db,
        &format!("jwks_url = \"{url}\"\ndangerous_allow_http_jwks = true\n"),
    );
    let e = format!(
        "{:#}",
        guard_gateway::build_gateway(load(&path)).unwrap_err()
    );
    assert!(e.contains(ISSUER), "{e}");
    assert!(e.contains(&url), "{e}");
    assert!(e.to_lowercase().contains("refused"), "{e}");
    // `check --config` fetches too, so it tells the operator before a deployment does.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guard-gateway"))
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&url), "{err}");
}

#[test]
fn when_the_server_goes_down_the_last_keys_keep_working() {
    let idp = DemoIssuer::generate(ISSUER, AUDIENCE);
    let mut server = JwksServer::start(&jwks(&[&idp]), None);
    let gw = Running::start(
        "jwks_down_later",
        &http_oidc(&server, "jwks_refresh = \"1s\"\n"),
    );
    let t = token(&idp, "carol");
    gw.assert_login(&t);
    // The background refresher fetches every second.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.requests() < 3 {
        assert!(std::time::Instant::now() < deadline, "no periodic refresh");
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    // Refreshes now fail (connection refused); the keys stay.
    std::thread::sleep(Duration::from_millis(2500));
    gw.assert_login(&t);
    // A reload fetches again, fails, and keeps the keys too.
    gw.gateway.reload().unwrap();
    gw.assert_login(&t);
    // An unknown kid with the server down: refused promptly, old keys unaffected.
    gw.assert_refused(&token(&DemoIssuer::generate(ISSUER, AUDIENCE), "mallory"));
    gw.assert_login(&t);
}

#[test]
fn a_reload_fetches_the_keys_again() {
    let old = DemoIssuer::generate(ISSUER, AUDIENCE);
    let server = JwksServer::start(&jwks(&[&old]), None);
    let gw = Running::start("jwks_reload", &http_oidc(&server, ""));
    assert_eq!(server.requests(), 1);
    let new = DemoIssuer::generate(ISSUER, AUDIENCE);
    server.serve(&jwks(&[&new]));
    gw.gateway.reload().unwrap();
    assert_eq!(server.requests(), 2);
    gw.assert_login(&token(&new, "carol"));
    assert_eq!(server.requests(), 2, "the reload brought the new key");
    // The old key is gone from the issuer's set, so its tokens are refused now (after one
    // rate-limited fetch to make sure).
    gw.assert_refused(&token(&old, "carol"));
}

#[test]
fn an_oversized_response_is_refused() {
    let idp = DemoIssuer::generate(ISSUER, AUDIENCE);
    // A valid document padded past 1 MiB.
    let mut doc: serde_json::Value = serde_json::from_str(&jwks(&[&idp])).unwrap();
    doc["padding"] = serde_json::Value::String("x".repeat(1024 * 1024 + 1));
    let server = JwksServer::start(&doc.to_string(), None);
    for declared in [true, false] {
        server
            .state
            .content_length
            .store(declared, Ordering::SeqCst);
        let db = fresh_database("jwks_oversized");
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            dir.path(),
            free_port().unwrap(),
            &db,
            &http_oidc(&server, ""),
        );
        let e = format!(
            "{:#}",
            guard_gateway::build_gateway(load(&path)).unwrap_err()
        );
        assert!(e.contains("larger than the limit"), "{e}");
    }
    // The same document without the padding is accepted.
    server.serve(&jwks(&[&idp]));
    let gw = Running::start("jwks_oversized_ok", &http_oidc(&server, ""));
    gw.assert_login(&token(&idp, "carol"));
}

#[test]
fn a_server_that_does_not_answer_times_out() {
    let idp = DemoIssuer::generate(ISSUER, AUDIENCE);
    let server = JwksServer::start(&jwks(&[&idp]), None);
    server.state.stall.store(true, Ordering::SeqCst);
    let db = fresh_database("jwks_stall");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        free_port().unwrap(),
        &db,
        &http_oidc(&server, ""),
    );
    let started = std::time::Instant::now();
    let e = format!(
        "{:#}",
        guard_gateway::build_gateway(load(&path)).unwrap_err()
    );
    let took = started.elapsed();
    assert!(e.contains("timed out"), "{e}");
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert_eq!(server.requests(), 1);
}

#[test]
fn https_with_a_private_ca() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let tls = guard_gateway::tls::server_config_pem(
        leaf.pem().as_bytes(),
        leaf_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let idp = DemoIssuer::generate(ISSUER, AUDIENCE);
    let server = JwksServer::start(&jwks(&[&idp]), Some(tls));

    // Trusting the private CA: the fetch works and tokens log in.
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("idp-ca.pem");
    std::fs::File::create(&ca_file)
        .unwrap()
        .write_all(ca.pem().as_bytes())
        .unwrap();
    let gw = Running::start(
        "jwks_https",
        &format!(
            "jwks_url = \"{}\"\njwks_ca_file = \"{}\"\n",
            server.url("https"),
            ca_file.display()
        ),
    );
    gw.assert_login(&token(&idp, "carol"));
    assert_eq!(server.requests(), 1);

    // With the system's roots only, the certificate is not trusted: no start.
    let db = fresh_database("jwks_https_untrusted");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        free_port().unwrap(),
        &db,
        &format!("jwks_url = \"{}\"\n", server.url("https")),
    );
    let e = format!(
        "{:#}",
        guard_gateway::build_gateway(load(&path)).unwrap_err()
    );
    assert!(e.contains(&server.url("https")), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert_eq!(
        server.requests(),
        1,
        "the TLS handshake failed before any request"
    );
}

#[test]
fn check_refuses_an_http_url_without_the_dangerous_flag() {
    let db = fresh_database("jwks_check_http");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        6432,
        &db,
        "jwks_url = \"http://idp.test/jwks.json\"\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guard-gateway"))
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // Line 19 of the written file, at the value.
    assert!(err.contains("gateway.toml:19:12: "), "{err}");
    assert!(err.contains("https://"), "{err}");
    assert!(err.contains("dangerous_allow_http_jwks"), "{err}");

    // Both sources, or neither, are refused the same way.
    let path = write_config(
        dir.path(),
        6432,
        &db,
        "jwks_url = \"https://idp.test/jwks.json\"\njwks_file = \"policy.toml\"\n",
    );
    let e = guard_gateway::cli::check_config(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("gateway.toml:19:12: "), "{e}");
    assert!(e.contains("exactly one of"), "{e}");
    let path = write_config(dir.path(), 6432, &db, "");
    let e = guard_gateway::cli::check_config(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("gateway.toml:17:10: "), "{e}");
    assert!(e.contains("needs `jwks_file` or `jwks_url`"), "{e}");
}
