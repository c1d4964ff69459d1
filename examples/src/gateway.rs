//! The gateway: shared state built once from a [`Config`], the accept loop, reloads.
//!
//! ```no_run
//! # async fn demo(config: guard_gateway::config::Config) -> anyhow::Result<()> {
//! let gateway = guard_gateway::gateway::build_gateway(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! gateway.run(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use guard_core::approval::{ApprovalStore, MemoryApprovalStore};
use guard_core::{Grant, GrantStore, Identity, MemoryGrantStore, Policy, Resource, Timestamp};
use guard_sql::pg::auth::ScramSecret;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::config::{Config, ListenerConfig, ResourceConfig, Secret, UpstreamTls};

/// A running gateway's shared state; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

/// What every session shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) rt: RwLock<Arc<Runtime>>,
    pub(crate) listener: ListenerConfig,
    pub(crate) client_tls: Option<tokio_rustls::TlsAcceptor>,
    pub(crate) cancel: Mutex<HashMap<i32, CancelTarget>>,
    pub(crate) sessions: Mutex<BTreeMap<u64, SessionEntry>>,
    pub(crate) next_session: AtomicU64,
    pub(crate) metrics: crate::metrics::Metrics,
    pub(crate) audit: Option<Mutex<AuditLog>>,
    pub(crate) approvals: Arc<MemoryApprovalStore>,
    pub(crate) approval_changed: Arc<tokio::sync::Notify>,
    pub(crate) grants: Arc<dyn GrantStore>,
    /// Pending grant requests: approval id -> the grant to start when it is approved.
    pub(crate) grant_requests: Mutex<HashMap<u64, Grant>>,
    pub(crate) catalog: crate::catalog::CatalogCache,
    pub(crate) classifier: guard_sql::classify::Classifier,
    /// This gateway instance's id (in recording names).
    pub(crate) instance: String,
    /// Where sessions run (`None`: on the runtime of `Gateway::run`).
    pub(crate) session_threads: Option<crate::workers::SessionThreads>,
}

/// The longest an audit line stays buffered while the gateway runs.
pub(crate) const AUDIT_FLUSH: std::time::Duration = std::time::Duration::from_millis(200);

/// The audit log: JSON lines, buffered.
pub(crate) struct AuditLog {
    out: std::io::BufWriter<std::fs::File>,
    last_flush: std::time::Instant,
}

impl AuditLog {
    fn flush(&mut self) {
        use std::io::Write;
        if let Err(e) = self.out.flush() {
            tracing::error!(error = %e, "audit log write failed");
        }
        self.last_flush = std::time::Instant::now();
    }
}

/// The parts of the configuration that a reload replaces.
pub(crate) struct Runtime {
    pub(crate) policy: Arc<Policy>,
    pub(crate) resources: HashMap<String, Arc<UpstreamRt>>,
    pub(crate) users: HashMap<String, StaticUser>,
    /// Trusted OIDC issuers and their current keys.
    pub(crate) issuers: Vec<Arc<crate::identity::Issuer>>,
    pub(crate) maskers: HashMap<String, Arc<guard_mask::Masker>>,
    /// Names of the mask profiles that have column rules (a COPY TO STDOUT under one of them
    /// is refused: see masking.rs).
    pub(crate) column_rule_profiles: std::collections::HashSet<String>,
}

/// A resource with its credentials resolved.
pub(crate) struct UpstreamRt {
    pub(crate) resource: Resource,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
    pub(crate) user: String,
    pub(crate) password: Option<Secret>,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

/// A static user.
pub(crate) struct StaticUser {
    pub(crate) groups: Vec<String>,
    pub(crate) secret: ScramSecret,
}

/// Where a client's CancelRequest goes.
#[derive(Clone)]
pub(crate) struct CancelTarget {
    pub(crate) secret: Vec<u8>,
    pub(crate) upstream: Arc<UpstreamRt>,
    pub(crate) upstream_pid: i32,
    pub(crate) upstream_secret: Vec<u8>,
    /// The session's [`crate::decide::Decider::cancels`].
    pub(crate) cancels: Arc<tokio::sync::watch::Sender<u64>>,
}

/// A live session, for the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub id: u64,
    /// Who.
    pub subject: String,
    /// Which resource.
    pub resource: String,
    /// Client address.
    pub peer: String,
    /// Start, microseconds since the Unix epoch.
    pub started_us: i64,
}

pub(crate) struct SessionEntry {
    pub(crate) info: SessionInfo,
    pub(crate) kill: watch::Sender<bool>,
}

/// Builds a gateway from a validated configuration: compiles the policy, resolves credentials,
/// loads TLS material, reads or fetches the OIDC issuers' keys (JWKS). Binds nothing.
///
/// # Errors
/// The policy does not compile, a secret cannot be read, TLS files are invalid, a JWKS cannot
/// be read or fetched.
pub fn build_gateway(config: Config) -> Result<Gateway> {
    let rt = load_runtime(&config, None)?;
    let listener = config
        .listeners
        .iter()
        .find(|l| l.protocol.get_ref() == "postgres")
        .cloned()
        .context("the configuration has no postgres listener")?;
    let client_tls = match (&listener.tls_cert, &listener.tls_key) {
        (Some(c), Some(k)) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(
            &config.path(c),
            &config.path(k),
        )?)),
        _ => None,
    };
    let audit = match &config.audit {
        Some(a) => {
            let p = config.path(&a.file);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("opening audit log {}", p.display()))?;
            Some(Mutex::new(AuditLog {
                out: std::io::BufWriter::with_capacity(64 * 1024, file),
                last_flush: std::time::Instant::now(),
            }))
        }
        None => None,
    };
    let approvals = Arc::new(MemoryApprovalStore::new());
    let approval_changed = Arc::new(tokio::sync::Notify::new());
    let waker = approval_changed.clone();
    approvals
        .subscribe(Arc::new(move |_, _| waker.notify_waiters()))
        .map_err(|e| anyhow::anyhow!("approval store: {e}"))?;
    let threads = listener.session_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let session_threads = if threads == 0 {
        None
    } else {
        Some(crate::workers::SessionThreads::start(threads).context("starting session threads")?)
    };
    Ok(Gateway {
        shared: Arc::new(Shared {
            config,
            rt: RwLock::new(Arc::new(rt)),
            listener,
            client_tls,
            cancel: Mutex::new(HashMap::new()),
            sessions: Mutex::new(BTreeMap::new()),
            next_session: AtomicU64::new(1),
            metrics: crate::metrics::Metrics::default(),
            audit,
            approvals,
            approval_changed,
            grants: Arc::new(MemoryGrantStore::new()),
            grant_requests: Mutex::new(HashMap::new()),
            catalog: crate::catalog::CatalogCache::default(),
            classifier: guard_sql::classify::Classifier::new(),
            instance: crate::pgcluster::random_token(8),
            session_threads,
        }),
    })
}

/// Loads everything a gateway needs from `config` without opening logs or binding: the
/// policy, mask profiles, JWKS files (and JWKS URLs, fetched once), static users, upstream
/// credentials and TLS material.
///
/// # Errors
/// The first problem found.
pub fn check(config: &Config) -> Result<()> {
    load_runtime(config, None)?;
    for l in &config.listeners {
        if let (Some(c), Some(k)) = (&l.tls_cert, &l.tls_key) {
            crate::tls::server_config(&config.path(c), &config.path(k))?;
        }
    }
    Ok(())
}

/// Builds the gateway from `config` and serves `listener` until `shutdown` completes.
///
/// # Errors
/// As [`build_gateway`], or accepting failed.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    build_gateway(config)?.run(listener, shutdown).await
}

impl Gateway {
    /// Writes out the audit lines still buffered (they are written at least every 200 ms
    /// while the gateway runs, when a session ends, and when it stops).
    pub fn flush_audit(&self) {
        self.shared.flush_audit();
    }

    /// Serves Postgres clients on `listener` until `shutdown` completes. Sessions already
    /// running are told to end when it does. While it runs, OIDC issuers with a `jwks_url`
    /// have their keys fetched again every `jwks_refresh`.
    ///
    /// # Errors
    /// Accepting failed in a way that is not per-connection.
    pub async fn run(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let refresher = crate::identity::spawn_refresher(&self.shared);
        let shared = self.shared.clone();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(AUDIT_FLUSH);
            loop {
                tick.tick().await;
                shared.flush_audit();
            }
        });
        let result = self.serve(listener, shutdown).await;
        refresher.abort();
        flusher.abort();
        self.shared.flush_audit();
        result
    }

    async fn serve(&self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                acc = listener.accept() => {
                    let (sock, peer) = match acc {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = sock.set_nodelay(true);
                    let shared = self.shared.clone();
                    let Some(threads) = &self.shared.session_threads else {
                        tokio::spawn(session(shared, sock, peer));
                        continue;
                    };
                    // The socket moves to the event loop of the session's thread.
                    match sock.into_std() {
                        Ok(std) => {
                            threads.pick().spawn(async move {
                                match TcpStream::from_std(std) {
                                    Ok(sock) => session(shared, sock, peer).await,
                                    Err(e) => tracing::warn!(%peer, error = %e, "cannot register a client socket"),
                                }
                            });
                        }
                        Err(e) => tracing::warn!(%peer, error = %e, "cannot hand a client socket over"),
                    }
                }
            }
        }
        let sessions: Vec<watch::Sender<bool>> = lock(&self.shared.sessions)
            .values()
            .map(|s| s.kill.clone())
            .collect();
        for k in sessions {
            let _ = k.send(true);
        }
        Ok(())
    }

    /// Re-reads the policy, static users, upstream credentials and JWKS files, and fetches
    /// JWKS URLs again; live sessions keep running and use the new runtime from their next
    /// statement. An issuer whose JWKS URL cannot be fetched keeps its previous keys (with a
    /// warning), so an identity provider's outage does not stop a policy reload.
    ///
    /// # Errors
    /// The new configuration does not load; the old one stays in force.
    pub fn reload(&self) -> Result<()> {
        let previous = self.shared.runtime();
        let rt = load_runtime(&self.shared.config, Some(&previous))?;
        *self
            .shared
            .rt
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(rt);
        // Column names and user types are learned again (a renamed table, an altered type),
        // and the sessions' result plans made from them are made again.
        self.shared.catalog.clear();
        tracing::info!("reloaded policy, users, credentials and OIDC keys; catalog caches cleared");
        Ok(())
    }

    /// The live sessions.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        lock(&self.shared.sessions)
            .values()
            .map(|s| s.info.clone())
            .collect()
    }

    /// Ends a session; returns whether it existed.
    pub fn kill_session(&self, id: u64) -> bool {
        lock(&self.shared.sessions)
            .get(&id)
            .map(|s| s.kill.send(true).is_ok())
            .unwrap_or(false)
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Prometheus text exposition of the gateway's metrics.
    pub fn metrics_text(&self) -> String {
        self.shared
            .metrics
            .render(lock(&self.shared.sessions).len())
    }
}

/// One client session to its end.
async fn session(shared: Arc<Shared>, sock: TcpStream, peer: SocketAddr) {
    if let Err(e) = crate::pgproxy::serve(shared, sock, peer).await {
        tracing::debug!(%peer, error = %format!("{e:#}"), "session ended with an error");
    }
}

impl Shared {
    pub(crate) fn runtime(&self) -> Arc<Runtime> {
        self.rt
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Registers a session; `None` when `identity` already has the listener's
    /// `max_sessions_per_identity` sessions.
    pub(crate) fn register_session(
        &self,
        identity: &Identity,
        resource: &str,
        peer: SocketAddr,
    ) -> Option<(u64, watch::Receiver<bool>)> {
        let mut sessions = lock(&self.sessions);
        if let Some(max) = self.listener.max_sessions_per_identity {
            let open = (sessions.values())
                .filter(|s| s.info.subject == identity.subject)
                .count();
            if open >= max {
                return None;
            }
        }
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        sessions.insert(
            id,
            SessionEntry {
                info: SessionInfo {
                    id,
                    subject: identity.subject.clone(),
                    resource: resource.to_owned(),
                    peer: peer.to_string(),
                    started_us: now_us(),
                },
                kill: tx,
            },
        );
        Some((id, rx))
    }

    /// The grants of `subject` active at `now`; none when the store fails (fail closed: a
    /// grant only ever adds permissions).
    pub(crate) fn active_grants(&self, subject: &str, now: Timestamp) -> Vec<Grant> {
        match self.grants.active(subject, now) {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "grant store failed; evaluating without grants");
                Vec::new()
            }
        }
    }

    pub(crate) fn unregister_session(&self, id: u64) {
        lock(&self.sessions).remove(&id);
        self.flush_audit();
    }

    /// Appends one line to the audit log (if configured). Lines are buffered and written
    /// at most [`AUDIT_FLUSH`] after they were added (by the next line or the gateway's
    /// flusher), when a session ends, and at shutdown: one write per batch, not per statement.
    /// The audit log is a log, not the write-ahead record: that is the session recording.
    pub(crate) fn audit<T: serde::Serialize + ?Sized>(&self, line: &T) {
        thread_local! {
            /// The line at hand, serialized before the log is locked (whole lines only reach
            /// the log, and the session threads do not wait on each other's serialization).
            static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        if let Some(f) = &self.audit {
            use std::io::Write;
            LINE.with_borrow_mut(|buf| {
                buf.clear();
                let written = serde_json::to_writer(&mut *buf, line)
                    .map_err(std::io::Error::from)
                    .and_then(|()| {
                        buf.push(b'\n');
                        let mut f = lock(f);
                        let w = f.out.write_all(buf);
                        if f.last_flush.elapsed() >= AUDIT_FLUSH {
                            f.flush();
                        }
                        w
                    });
                if let Err(e) = written {
                    tracing::error!(error = %e, "audit log write failed");
                }
                if buf.capacity() > 64 * 1024 {
                    // A long statement's line: do not keep its buffer.
                    *buf = Vec::new();
                }
            });
        }
    }

    /// Whether an audit log is configured.
    pub(crate) fn audit_enabled(&self) -> bool {
        self.audit.is_some()
    }

    /// Writes out buffered audit lines.
    pub(crate) fn flush_audit(&self) {
        if let Some(f) = &self.audit {
            lock(f).flush();
        }
    }
}

fn load_runtime(config: &Config, previous: Option<&Runtime>) -> Result<Runtime> {
    let policy_path = config.path(&config.policy.file);
    let src = std::fs::read_to_string(&policy_path)
        .with_context(|| format!("reading policy {}", policy_path.display()))?;
    let mut b = Policy::builder();
    b.fact_schema(guard_sql::FACTS);
    if let Some(f) = guard_core::Format::from_path(&policy_path) {
        b.format(f);
    }
    let policy = b.build(&src).map_err(|e| match e.line_column() {
        Some((line, column)) => anyhow::anyhow!("{}:{line}:{column}: {e}", policy_path.display()),
        None => anyhow::anyhow!("{}: {e}", policy_path.display()),
    })?;
    let mut resources = HashMap::new();
    for r in &config.resources {
        resources.insert(r.name.get_ref().clone(), Arc::new(upstream_rt(config, r)?));
    }
    let mut users = HashMap::new();
    for u in &config.identity.users {
        let secret = ScramSecret::parse(u.password_hash.get_ref()).map_err(|e| {
            anyhow::anyhow!("user {}: invalid password_hash: {e}", u.name.get_ref())
        })?;
        users.insert(
            u.name.get_ref().clone(),
            StaticUser {
                groups: u.groups.clone(),
                secret,
            },
        );
    }
    let issuers = crate::identity::load_issuers(config, previous)?;
    let (maskers, column_rule_profiles) = crate::masking::load_maskers(config)?;
    Ok(Runtime {
        policy: Arc::new(policy),
        resources,
        users,
        issuers,
        maskers,
        column_rule_profiles,
    })
}

fn upstream_rt(config: &Config, r: &ResourceConfig) -> Result<UpstreamRt> {
    let mut resource = Resource::new(r.name.get_ref().clone(), "postgres");
    for (k, v) in &r.labels {
        resource = resource.with_label(k.clone(), v.clone());
    }
    let password = match &r.password {
        Some(p) => Some(
            p.resolve(&config.base_dir)
                .with_context(|| format!("resource {}", r.name.get_ref()))?,
        ),
        None => None,
    };
    let tls = match r.tls_mode() {
        UpstreamTls::Disable => None,
        UpstreamTls::DangerousRequireNoVerify => Some(crate::tls::client_config_no_verify()?),
        UpstreamTls::VerifyFull => {
            let ca = r.tls_ca.as_ref().context("verify-full needs tls_ca")?;
            let pem = std::fs::read(config.path(ca))?;
            Some(crate::tls::client_config_verify(&pem)?)
        }
    };
    Ok(UpstreamRt {
        resource,
        host: r.host.clone(),
        port: r.port,
        database: r.database.clone(),
        user: r.user.clone(),
        password,
        tls,
    })
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The current time for policy evaluation.
pub(crate) fn now_ts() -> Timestamp {
    Timestamp::from_unix_micros(now_us())
}

/// Locks a mutex, continuing after a poisoning panic (every critical section here leaves its
/// map consistent: single inserts and removes).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
