//! Who is connecting: OIDC bearer tokens verified with guard-core, static users.
//!
//! # Where an issuer's signing keys come from
//!
//! guard-core verifies a token against a JWKS document it is handed (it does no IO); this module
//! is what hands it one. Each `[[identity.oidc]]` issuer names exactly one source:
//!
//! - `jwks_file`: read at start and at every reload (SIGHUP or `POST /reload`). Keeping the file
//!   fresh is the deployment's business.
//! - `jwks_url`: fetched over HTTPS (rustls; the system's root certificates, or only those of
//!   `jwks_ca_file`), at most [`MAX_JWKS_RESPONSE_BYTES`] and [`JWKS_FETCH_TIMEOUT`] per fetch,
//!   without credentials and without following redirects to plain http:
//!   - at start: the gateway refuses to start (and `check --config` fails) when the first fetch
//!     fails, naming the issuer and the URL;
//!   - every `jwks_refresh` (default 10 minutes), in a background task of [`Gateway::run`];
//!   - at every reload;
//!   - when a token of this issuer names a key id (`kid`) the current set does not hold: the
//!     keys are fetched again, at most once per [`UNKNOWN_KID_REFETCH_INTERVAL`] per issuer, so
//!     a flood of made-up key ids cannot make the gateway hammer the identity provider, and the
//!     token is verified again against the new set. This is what lets a key rotation at the
//!     provider take effect without touching the gateway.
//!
//!   A failed refresh (after start) keeps the last good key set and logs a warning with the
//!   issuer, the URL and the reason; a token is never logged.
//!
//! Verification never waits for a fetch: each issuer's keys sit behind an `Arc` that a finished
//! fetch swaps, so sessions keep verifying against the previous set meanwhile. Only the caller
//! whose token names an unknown key waits for the refetch it causes (or for the one already
//! under way). Fetches are numbered when they start, and a fetch that finishes after a newer one
//! has installed its keys is dropped, so an old document never replaces a newer one.
//!
//! [`Gateway::run`]: crate::Gateway::run

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, TryLockError, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use guard_core::Identity;
use guard_core::oidc::{OidcConfig, TokenError, TokenVerifier};

use crate::config::{Config, OidcIssuerConfig};
use crate::gateway::{Runtime, Shared, lock, now_ts};

/// The largest JWKS response accepted, in bytes (guard-core's own limit on the document).
pub(crate) const MAX_JWKS_RESPONSE_BYTES: usize = guard_core::oidc::MAX_JWKS_BYTES;
/// How long one JWKS fetch may take, from connecting to the last byte.
pub(crate) const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The least time between two fetches of one issuer's keys caused by unknown key ids.
pub(crate) const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How many callers may wait for one issuer's fetch under way for an unknown key id; more fail
/// at once (each waiting caller holds a thread, and the fetch may take [`JWKS_FETCH_TIMEOUT`]).
const MAX_UNKNOWN_KID_WAITERS: usize = 32;
/// The longest the background refresher sleeps before looking at the issuers again (a reload
/// may have replaced them).
const REFRESHER_MAX_SLEEP: Duration = Duration::from_secs(30);

/// One trusted issuer and its current keys.
pub(crate) struct Issuer {
    config: OidcConfig,
    source: KeySource,
    keys: RwLock<Arc<KeySet>>,
    /// When the last fetch caused by an unknown key id started. Held during that fetch, so
    /// concurrent callers with unknown key ids wait for it rather than start their own.
    unknown_kid_fetch: Mutex<Option<Instant>>,
    /// Callers waiting for `unknown_kid_fetch`.
    unknown_kid_waiters: AtomicUsize,
    /// When the background refresher fetches this issuer's keys next.
    next_refresh: Mutex<Instant>,
    /// Numbers fetches in the order they start.
    fetches: AtomicU64,
}

/// A verifier and the number of the fetch that produced it (0: the file, or the first fetch).
struct KeySet {
    verifier: TokenVerifier,
    fetch: u64,
}

enum KeySource {
    /// Read at start and at every reload only.
    File,
    Url(UrlSource),
}

struct UrlSource {
    url: reqwest::Url,
    client: reqwest::Client,
    refresh: Duration,
}

/// Builds every configured issuer: reads its JWKS file, or fetches its JWKS URL now.
///
/// `previous` is the runtime a reload replaces: an issuer whose URL cannot be fetched keeps
/// the keys it had there (with a warning) instead of failing the reload. At start there is no
/// previous runtime, and a failed fetch is an error.
///
/// # Errors
/// A JWKS file is unreadable or invalid, a CA file is invalid, or a first fetch failed.
pub(crate) fn load_issuers(
    config: &Config,
    previous: Option<&Runtime>,
) -> Result<Vec<Arc<Issuer>>> {
    let mut out = Vec::new();
    for o in &config.identity.oidc {
        let issuer = o.issuer.get_ref();
        let mut c = OidcConfig::new(issuer.clone(), o.audience.clone());
        c.groups_claim.clone_from(&o.groups_claim);
        c.subject_claim.clone_from(&o.subject_claim);
        let (source, keys) = match (&o.jwks_file, &o.jwks_url) {
            (Some(file), None) => {
                let path = config.path(file);
                let jwks = std::fs::read_to_string(&path)
                    .with_context(|| format!("issuer {issuer}: reading JWKS {}", path.display()))?;
                let verifier = TokenVerifier::new(c.clone(), &jwks).map_err(|e| {
                    anyhow::anyhow!("issuer {issuer}: JWKS {}: {e}", path.display())
                })?;
                (KeySource::File, Arc::new(KeySet { verifier, fetch: 0 }))
            }
            (None, Some(_)) => {
                let source = url_source(config, o)?;
                let fetched =
                    blocking(|rt| rt.block_on(fetch_verifier(&source, &c))).and_then(|r| r);
                let keys = match fetched {
                    Ok(verifier) => {
                        tracing::info!(issuer = %issuer, url = %source.url, "fetched the JWKS");
                        Arc::new(KeySet { verifier, fetch: 0 })
                    }
                    Err(e) => match previous.and_then(|p| p.keys_like(&c, &source)) {
                        Some(old) => {
                            tracing::warn!(issuer = %issuer, url = %source.url,
                                error = %format!("{e:#}"),
                                "cannot fetch the JWKS; keeping the previous keys");
                            old
                        }
                        None => {
                            return Err(e.context(format!(
                                "issuer {issuer}: cannot fetch its JWKS from {}",
                                source.url
                            )));
                        }
                    },
                };
                (KeySource::Url(source), keys)
            }
            // Config::parse refuses both and neither.
            _ => bail!("issuer {issuer}: exactly one of `jwks_file` or `jwks_url` is needed"),
        };
        let refresh = match &source {
            KeySource::Url(u) => u.refresh,
            KeySource::File => REFRESHER_MAX_SLEEP,
        };
        out.push(Arc::new(Issuer {
            config: c,
            source,
            // Fetches of this issuer are numbered after those of the keys it starts with.
            fetches: AtomicU64::new(keys.fetch),
            keys: RwLock::new(keys),
            unknown_kid_fetch: Mutex::new(None),
            unknown_kid_waiters: AtomicUsize::new(0),
            next_refresh: Mutex::new(Instant::now() + refresh),
        }));
    }
    Ok(out)
}

/// Verifies a bearer token against every configured issuer. When the token's (unverified)
/// issuer is one whose keys come from a URL and it names a key id the gateway does not know,
/// the keys are fetched again first (rate-limited; see the module docs), so this call can
/// wait for up to [`JWKS_FETCH_TIMEOUT`].
///
/// # Errors
/// No issuer accepts it (the error of the last one tried, or "no OIDC issuer configured").
pub(crate) fn verify_token(shared: &Shared, token: &str) -> Result<Identity> {
    let rt = shared.runtime();
    let token = token.trim();
    let now = now_ts();
    let mut last = None;
    let mut stale = Vec::new();
    for issuer in &rt.issuers {
        let keys = issuer.keys();
        match keys.verifier.verify(token, now) {
            Ok(id) => return Ok(id),
            Err(e) => {
                if matches!(e, TokenError::UnknownKey { .. })
                    && matches!(issuer.source, KeySource::Url(_))
                    && unverified_issuer(token).as_deref() == Some(issuer.config.issuer.as_str())
                {
                    stale.push((issuer, keys.fetch));
                }
                last = Some(e);
            }
        }
    }
    for (issuer, seen) in stale {
        if issuer.refetch_for_unknown_kid(seen) {
            match issuer.keys().verifier.verify(token, now) {
                Ok(id) => return Ok(id),
                Err(e) => last = Some(e),
            }
        }
    }
    match last {
        Some(e) => bail!("token refused: {e}"),
        None => bail!("no OIDC issuer is configured, and the user is not a static user"),
    }
}

/// Starts the task that fetches every URL issuer's keys again each `jwks_refresh`. It follows
/// reloads (it reads the current runtime each round) and ends with the gateway.
pub(crate) fn spawn_refresher(shared: &Arc<Shared>) -> tokio::task::JoinHandle<()> {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    tokio::spawn(async move {
        loop {
            let Some(shared) = weak.upgrade() else { return };
            let rt = shared.runtime();
            drop(shared);
            for issuer in &rt.issuers {
                let KeySource::Url(source) = &issuer.source else {
                    continue;
                };
                let now = Instant::now();
                {
                    let mut next = lock(&issuer.next_refresh);
                    if *next > now {
                        continue;
                    }
                    *next = now + source.refresh;
                }
                match issuer.fetch().await {
                    Ok(()) => tracing::debug!(issuer = %issuer.config.issuer, url = %source.url,
                        "refreshed the JWKS"),
                    Err(e) => tracing::warn!(issuer = %issuer.config.issuer, url = %source.url,
                        error = %format!("{e:#}"),
                        "cannot refresh the JWKS; keeping the previous keys"),
                }
            }
            let now = Instant::now();
            let wake = rt
                .issuers
                .iter()
                .filter(|i| matches!(i.source, KeySource::Url(_)))
                .map(|i| *lock(&i.next_refresh))
                .fold(now + REFRESHER_MAX_SLEEP, Instant::min);
            drop(rt);
            tokio::time::sleep_until(wake.into()).await;
        }
    })
}

/// Authenticates an admin API caller: a bearer token (OIDC) or HTTP Basic credentials of a
/// static user.
///
/// # Errors
/// Neither is valid.
pub(crate) fn authenticate_http(shared: &Shared, authorization: &str) -> Result<Identity> {
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return verify_token(shared, token);
    }
    if let Some(b64) = authorization.strip_prefix("Basic ") {
        let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim())?;
        let raw = String::from_utf8(raw)?;
        let Some((user, password)) = raw.split_once(':') else {
            bail!("malformed Basic credentials")
        };
        let rt = shared.runtime();
        if let Some(u) = rt.users.get(user)
            && u.secret.verify_password(password.as_bytes())
        {
            return Ok(
                Identity::new(user, guard_core::AuthMethod::Password).with_groups(u.groups.clone())
            );
        }
        bail!("invalid user or password");
    }
    bail!("expected an Authorization header with a Bearer token or Basic credentials")
}

impl Issuer {
    fn keys(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Fetches the keys from the URL and installs them, unless a fetch that started later has
    /// installed its keys meanwhile.
    async fn fetch(&self) -> Result<()> {
        let KeySource::Url(source) = &self.source else {
            return Ok(());
        };
        let number = self.fetches.fetch_add(1, Ordering::Relaxed) + 1;
        let verifier = fetch_verifier(source, &self.config).await?;
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.fetch < number {
            *keys = Arc::new(KeySet {
                verifier,
                fetch: number,
            });
        }
        Ok(())
    }

    /// Called when a token of this issuer names an unknown key id and the keys seen were those
    /// of fetch `seen`: fetches again unless one ran less than
    /// [`UNKNOWN_KID_REFETCH_INTERVAL`] ago. Returns whether the keys changed since `seen`.
    fn refetch_for_unknown_kid(&self, seen: u64) -> bool {
        let KeySource::Url(source) = &self.source else {
            return false;
        };
        let rate_limited = |last: &Option<Instant>| {
            let limited = last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_REFETCH_INTERVAL);
            if limited {
                tracing::debug!(issuer = %self.config.issuer,
                    "unknown key id, but the JWKS was fetched for that less than 30s ago");
            }
            limited
        };
        // Without blocking: nothing to do when the keys changed already or the rate limit
        // holds; and no waiting when too many callers wait already.
        let _waiting = match self.unknown_kid_fetch.try_lock() {
            Ok(last) => {
                if self.keys().fetch != seen {
                    return true;
                }
                if rate_limited(&last) {
                    return false;
                }
                None
            }
            Err(TryLockError::WouldBlock) => {
                let waiting = Waiting::enter(&self.unknown_kid_waiters);
                if waiting.0 > MAX_UNKNOWN_KID_WAITERS {
                    return false;
                }
                Some(waiting)
            }
            Err(TryLockError::Poisoned(_)) => None,
        };
        let outcome = blocking(|rt| {
            // Waits for a fetch another caller started for the same reason.
            let mut last = lock(&self.unknown_kid_fetch);
            if self.keys().fetch != seen {
                return true;
            }
            if rate_limited(&last) {
                return false;
            }
            *last = Some(Instant::now());
            match rt.block_on(self.fetch()) {
                Ok(()) => tracing::info!(issuer = %self.config.issuer, url = %source.url,
                    "fetched the JWKS again for a token with an unknown key id"),
                Err(e) => tracing::warn!(issuer = %self.config.issuer, url = %source.url,
                    error = %format!("{e:#}"),
                    "cannot fetch the JWKS for a token with an unknown key id; keeping the \
                     previous keys"),
            }
            self.keys().fetch != seen
        });
        match outcome {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot run a JWKS fetch");
                false
            }
        }
    }
}

/// Counts a waiting caller while it lives: `.0` is the count with it.
struct Waiting<'a>(usize, &'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        Waiting(count.fetch_add(1, Ordering::SeqCst) + 1, count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.1.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Runtime {
    /// The keys of this runtime's issuer that has the same configuration as `config` and
    /// fetches from the same URL as `source`.
    fn keys_like(&self, config: &OidcConfig, source: &UrlSource) -> Option<Arc<KeySet>> {
        self.issuers
            .iter()
            .find(|i| {
                i.config == *config && matches!(&i.source, KeySource::Url(u) if u.url == source.url)
            })
            .map(|i| i.keys())
    }
}

/// The URL source of issuer `o`: its URL (checked again), refresh period and HTTP client.
fn url_source(config: &Config, o: &OidcIssuerConfig) -> Result<UrlSource> {
    let issuer = o.issuer.get_ref();
    let raw = o
        .jwks_url
        .as_ref()
        .map(|u| u.get_ref().as_str())
        .unwrap_or_default();
    let url = crate::config::check_jwks_url(raw, o.dangerous_allow_http_jwks)
        .map_err(|e| anyhow::anyhow!("issuer {issuer}: {e}"))?;
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("guard-gateway/", env!("CARGO_PKG_VERSION")))
        .timeout(JWKS_FETCH_TIMEOUT)
        .connect_timeout(JWKS_FETCH_TIMEOUT)
        .https_only(!o.dangerous_allow_http_jwks)
        .redirect(reqwest::redirect::Policy::limited(5))
        // Fetches may run on different tokio runtimes (start, reloads, the refresher): keep no
        // connection that belongs to one of them.
        .pool_max_idle_per_host(0);
    if let Some(ca) = &o.jwks_ca_file {
        let path = config.path(ca);
        let pem = std::fs::read(&path)
            .with_context(|| format!("issuer {issuer}: reading {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("issuer {issuer}: parsing {}", path.display()))?;
        if certs.is_empty() {
            bail!(
                "issuer {issuer}: {} holds no PEM certificate",
                path.display()
            );
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    let client = b
        .build()
        .with_context(|| format!("issuer {issuer}: setting up the HTTPS client"))?;
    Ok(UrlSource {
        url,
        client,
        refresh: o.jwks_refresh(),
    })
}

/// Fetches the JWKS document and builds a verifier from it.
async fn fetch_verifier(source: &UrlSource, config: &OidcConfig) -> Result<TokenVerifier> {
    let body = fetch_jwks(&source.client, &source.url).await?;
    TokenVerifier::new(config.clone(), &body).map_err(|e| anyhow::anyhow!("{e}"))
}

/// GETs `url` and returns the body: a 2xx status, at most [`MAX_JWKS_RESPONSE_BYTES`], UTF-8.
async fn fetch_jwks(client: &reqwest::Client, url: &reqwest::Url) -> Result<String> {
    let mut resp = client
        .get(url.clone())
        .header(
            reqwest::header::ACCEPT,
            "application/json, application/jwk-set+json",
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("the server answered {status}");
    }
    let too_large = |len: u64| {
        anyhow::anyhow!(
            "the response is larger than the limit of {MAX_JWKS_RESPONSE_BYTES} bytes ({len} \
             bytes or more)"
        )
    };
    if let Some(len) = resp.content_length()
        && len > MAX_JWKS_RESPONSE_BYTES as u64
    {
        return Err(too_large(len));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| anyhow::anyhow!("reading the response: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_JWKS_RESPONSE_BYTES {
            return Err(too_large((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| anyhow::anyhow!("the response is not UTF-8"))
}

/// An error and its causes on one line (reqwest's own message omits the cause, such as
/// "connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Runs `f`, which blocks on futures with the runtime handle it is given, without stalling the
/// caller's tokio runtime: on a multi-threaded runtime the worker hands its other tasks over
/// first (`block_in_place`); elsewhere (no runtime, or a current-thread one) `f` runs on a
/// scoped thread with a runtime of its own, and the caller's thread waits for it.
fn blocking<R: Send>(f: impl FnOnce(&tokio::runtime::Handle) -> R + Send) -> Result<R> {
    if let Ok(h) = tokio::runtime::Handle::try_current()
        && h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    {
        return Ok(tokio::task::block_in_place(|| f(&h)));
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            // A worker thread drives IO and timers, so `Handle::block_on` works here.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .context("starting a runtime for a JWKS fetch")?;
            Ok(f(rt.handle()))
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// The `iss` claim of a token, unverified: only used to decide whether fetching that issuer's
/// keys again could help a token naming an unknown key, never to trust anything.
fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > guard_core::oidc::MAX_TOKEN_BYTES {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that needs the runtime's timer, so it only completes on a driven runtime.
    async fn timed() -> u32 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        7
    }

    #[test]
    fn blocking_works_outside_a_runtime() {
        assert_eq!(blocking(|rt| rt.block_on(timed())).unwrap(), 7);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn blocking_works_on_a_current_thread_runtime() {
        assert_eq!(blocking(|rt| rt.block_on(timed())).unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn blocking_lets_other_tasks_run_on_a_multi_thread_runtime() {
        // One worker, and `blocking` runs on it (in a task, not in the test's `block_on`): the
        // other task can only run meanwhile if the worker handed its tasks over.
        let (tx, rx) = std::sync::mpsc::channel();
        let other = tokio::spawn(async move {
            let v = timed().await;
            tx.send(v).unwrap();
        });
        let got = tokio::spawn(async move {
            blocking(move |_| rx.recv_timeout(Duration::from_secs(5))).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(got, Ok(7));
        other.await.unwrap();
    }

    #[test]
    fn the_unverified_issuer_is_read_from_the_payload() {
        let issuer = crate::jwt::DemoIssuer::generate("https://idp.test", "guard");
        let token = issuer.mint("carol", &[], Duration::from_secs(60));
        assert_eq!(
            unverified_issuer(&token).as_deref(),
            Some("https://idp.test")
        );
        assert_eq!(unverified_issuer("not-a-token"), None);
        assert_eq!(unverified_issuer("a.!!!.c"), None);
        let no_iss = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"{\"sub\":\"x\"}");
        assert_eq!(unverified_issuer(&format!("a.{no_iss}.c")), None);
        let huge = "a".repeat(guard_core::oidc::MAX_TOKEN_BYTES + 1);
        assert_eq!(unverified_issuer(&huge), None);
    }

    #[test]
    fn error_chains_name_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = anyhow::Error::new(io).context("connecting");
        let chained: &dyn std::error::Error = e.as_ref();
        assert_eq!(error_chain(chained), "connecting: refused");
    }
}
