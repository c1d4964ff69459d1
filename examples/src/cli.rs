//! The gateway's own subcommands: `run`, `demo`, `approvals`, `grants`, `hash-password`, and
//! `check --config`. `main.rs` only dispatches to these.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::config::Config;

/// `run --config FILE`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The gateway configuration (TOML).
    #[arg(long, short)]
    pub config: PathBuf,
}

/// `demo [--port P]`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The gateway's Postgres port (other ports are chosen free).
    #[arg(long)]
    pub port: Option<u16>,
}

/// `approvals list|approve ID|deny ID`.
#[derive(Debug, clap::Args)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    action: ApprovalsAction,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ApprovalsAction {
    /// Pending approvals.
    List,
    /// Approve (as the identity behind --token).
    Approve {
        /// Approval id.
        id: u64,
    },
    /// Deny.
    Deny {
        /// Approval id.
        id: u64,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `grants list|request|revoke`.
#[derive(Debug, clap::Args)]
pub struct GrantsArgs {
    #[command(subcommand)]
    action: GrantsAction,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, clap::Subcommand)]
enum GrantsAction {
    /// Every grant.
    List,
    /// Ask for a just-in-time grant; an approver's approval starts it.
    Request {
        /// Groups to add, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Grant-enabled rules to turn on, comma-separated.
        #[arg(long, value_delimiter = ',')]
        rules: Vec<String>,
        /// How long (`30m`, `2h`).
        #[arg(long = "for")]
        duration: String,
        /// Why (shown to approvers, recorded).
        #[arg(long)]
        reason: String,
        /// Only on this resource.
        #[arg(long)]
        resource: Option<String>,
    },
    /// Revoke a grant now.
    Revoke {
        /// Grant id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
struct ApiArgs {
    /// The admin API, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "GUARD_API", global = true)]
    api: Option<String>,
    /// Your credential: an OIDC token, or `user:password` of a static user.
    #[arg(long, env = "GUARD_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

/// `hash-password`: reads a password on stdin, prints a SCRAM-SHA-256 secret for
/// `identity.users.password_hash`.
#[derive(Debug, clap::Args)]
pub struct HashPasswordArgs {
    /// PBKDF2 iterations.
    #[arg(long, default_value_t = 4096)]
    pub iterations: u32,
}

/// Validates a whole gateway configuration and the files it names (policy, mask profiles,
/// keys, credentials). Returns a summary.
///
/// # Errors
/// Every problem, with file, line and column where known.
pub fn check_config(path: &std::path::Path) -> Result<String> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(errs) => bail!(
            "{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    crate::gateway::check(&config)?;
    let c = &config;
    let mut summary = format!(
        "{}: ok ({} listener(s), {} resource(s), {} OIDC issuer(s), {} static user(s), {} mask profile(s))",
        path.display(),
        c.listeners.len(),
        c.resources.len(),
        c.identity.oidc.len(),
        c.identity.users.len(),
        c.masking.profiles.len()
    );
    for w in c.weakened() {
        summary.push_str("\n  weakened: ");
        summary.push_str(&w);
    }
    Ok(summary)
}

/// Sets up logging to stderr (`RUST_LOG`, default `info`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

/// `run`: serves until SIGINT/SIGTERM; SIGHUP reloads.
///
/// # Errors
/// The configuration is invalid or a listener cannot be bound.
pub fn run(args: RunArgs) -> Result<()> {
    init_tracing();
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(errs) => bail!(
            "{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(serve(config))
}

async fn serve(config: Config) -> Result<()> {
    for w in config.weakened() {
        tracing::warn!("the configuration weakens the guard: {w}");
    }
    let gw = crate::gateway::build_gateway(config)?;
    let addr = gw.shared.listener.address.get_ref().clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "postgres listener");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(admin) = &gw.config().admin {
        let a = admin.address.get_ref().clone();
        let l = tokio::net::TcpListener::bind(&a)
            .await
            .with_context(|| format!("binding {a}"))?;
        tracing::info!(addr = %a, "admin API");
        let mut rx = stop_rx.clone();
        tokio::spawn(crate::admin::serve(gw.clone(), l, async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
    }
    let reloader = gw.clone();
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            if let Err(e) = reloader.reload() {
                tracing::error!(error = %format!("{e:#}"), "reload failed; keeping the old configuration");
            }
        }
    });
    gw.run(listener, shutdown_signal()).await?;
    let _ = stop_tx.send(true);
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// `demo`.
///
/// # Errors
/// PostgreSQL or the gateway could not be started.
pub fn demo(args: DemoArgs) -> Result<()> {
    let demo = crate::demo::Demo::prepare(args.port)?;
    let rt = tokio::runtime::Runtime::new()?;
    let config = demo.config.clone();
    let lines = demo.ready_lines();
    let help = demo.help();
    rt.block_on(async move {
        let gw = crate::gateway::build_gateway(config)?;
        let addr = gw.shared.listener.address.get_ref().clone();
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let admin_addr = gw
            .config()
            .admin
            .as_ref()
            .map(|a| a.address.get_ref().clone())
            .unwrap_or_default();
        let admin = tokio::net::TcpListener::bind(&admin_addr).await?;
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(crate::admin::serve(gw.clone(), admin, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        }));
        let mut out = std::io::stdout().lock();
        out.write_all(lines.as_bytes())?;
        out.write_all(help.as_bytes())?;
        out.flush()?;
        drop(out);
        gw.run(listener, shutdown_signal()).await?;
        let _ = stop_tx.send(true);
        anyhow::Ok(())
    })?;
    drop(rt);
    eprintln!("stopping PostgreSQL and removing the demo's files");
    drop(demo);
    Ok(())
}

/// `approvals ...`.
///
/// # Errors
/// The API refused or could not be reached.
pub fn approvals(args: ApprovalsArgs) -> Result<()> {
    let (api, token) = args.api.resolve()?;
    let (method, path, body) = match args.action {
        ApprovalsAction::List => {
            let (status, body) = http("GET", &api, "/approvals", &token, None)?;
            if !(200..300).contains(&status) {
                return print_response((status, body));
            }
            let list: Vec<serde_json::Value> = serde_json::from_str(&body)?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ID\tREQUESTER\tRESOURCE\tRULES\tSUMMARY");
            for a in list {
                let r = &a["request"];
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    a["id"],
                    r["requester"]["subject"].as_str().unwrap_or("?"),
                    r["resource"]["name"].as_str().unwrap_or("?"),
                    r["rules"]
                        .as_array()
                        .map(|v| v
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(","))
                        .unwrap_or_default(),
                    r["summary"].as_str().unwrap_or("").replace('\n', " "),
                );
            }
            return Ok(());
        }
        ApprovalsAction::Approve { id } => ("POST", format!("/approvals/{id}/approve"), None),
        ApprovalsAction::Deny { id, reason } => (
            "POST",
            format!("/approvals/{id}/deny"),
            Some(serde_json::json!({"reason": reason})),
        ),
    };
    print_response(http(method, &api, &path, &token, body)?)
}

/// `grants ...`.
///
/// # Errors
/// The API refused or could not be reached.
pub fn grants(args: GrantsArgs) -> Result<()> {
    let (api, token) = args.api.resolve()?;
    let (method, path, body) = match args.action {
        GrantsAction::List => ("GET", "/grants".to_owned(), None),
        GrantsAction::Request {
            groups,
            rules,
            duration,
            reason,
            resource,
        } => (
            "POST",
            "/grants".to_owned(),
            Some(serde_json::json!({
                "groups": groups, "rules": rules, "for": duration, "reason": reason, "resource": resource
            })),
        ),
        GrantsAction::Revoke { id } => ("POST", format!("/grants/{id}/revoke"), None),
    };
    print_response(http(method, &api, &path, &token, body)?)
}

/// `hash-password`.
///
/// # Errors
/// Reading stdin failed.
pub fn hash_password(args: HashPasswordArgs) -> Result<()> {
    let mut pw = String::new();
    std::io::stdin().read_to_string(&mut pw)?;
    let pw = pw.trim_end_matches(['\n', '\r']);
    let salt: [u8; 16] = rand::random();
    let s = guard_sql::pg::auth::ScramSecret::from_password(pw.as_bytes(), &salt, args.iterations);
    println!("{s}");
    Ok(())
}

impl ApiArgs {
    fn resolve(self) -> Result<(String, String)> {
        let api = self.api.context("--api URL (or GUARD_API) is required")?;
        let token = self
            .token
            .context("--token T (or GUARD_TOKEN) is required")?;
        Ok((api, token))
    }
}

fn print_response((status, body): (u16, String)) -> Result<()> {
    let pretty = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(body);
    if (200..300).contains(&status) {
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{pretty}");
        Ok(())
    } else {
        bail!("HTTP {status}: {pretty}")
    }
}

/// A minimal blocking HTTP/1.1 client for the admin API (plain HTTP on loopback or behind a
/// TLS-terminating proxy). Returns the status and the body.
///
/// # Errors
/// Connection or protocol failure.
pub fn http(
    method: &str,
    api: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> Result<(u16, String)> {
    let hostport = api
        .strip_prefix("http://")
        .context("--api must be an http:// URL")?
        .trim_end_matches('/');
    let auth = if token.contains(':') && !token.contains('.') {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(token)
        )
    } else {
        format!("Bearer {token}")
    };
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s =
        TcpStream::connect(hostport).with_context(|| format!("connecting to {hostport}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: {auth}\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let resp = String::from_utf8_lossy(&resp);
    let (head, rest) = resp
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("malformed HTTP status line")?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
