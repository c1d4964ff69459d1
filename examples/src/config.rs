//! The gateway configuration: one TOML file (see `examples/gateway.toml` for a commented sample).
//!
//! Unknown fields are refused everywhere. Relative paths are resolved against the directory of
//! the configuration file. Secrets (upstream passwords, tokens) are never inline: they come from
//! an environment variable or a file, and print as `<redacted>` in every `Debug` output.
//! [`Config::load`] checks everything it can without starting anything and reports
//! errors with the file, line and column they refer to.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Client-facing listeners.
    #[serde(default)]
    pub listeners: Vec<ListenerConfig>,
    /// Upstream systems clients reach through the gateway.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
    /// How clients authenticate.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// The policy document and how it is enforced.
    pub policy: PolicyConfig,
    /// Mask profiles.
    #[serde(default)]
    pub masking: MaskingConfig,
    /// Session recording.
    #[serde(default)]
    pub recording: Option<RecordingConfig>,
    /// The admin API.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// The audit log (one JSON line per decision).
    #[serde(default)]
    pub audit: Option<AuditConfig>,
    /// Approval waiting.
    #[serde(default)]
    pub approvals: ApprovalsConfig,
    /// Prometheus metrics (served by the admin API at `/metrics`).
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The directory relative paths are resolved against (the configuration file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// A client-facing listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Protocol spoken on this listener: `postgres`.
    pub protocol: Spanned<String>,
    /// Address to bind, for example `127.0.0.1:6432`.
    pub address: Spanned<String>,
    /// PEM certificate chain for TLS towards clients (SSLRequest).
    #[serde(default)]
    pub tls_cert: Option<Spanned<PathBuf>>,
    /// PEM private key for `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<Spanned<PathBuf>>,
    /// Accept cleartext passwords and tokens over unencrypted connections. Weakens the guard.
    #[serde(default)]
    pub dangerous_allow_plaintext_auth: bool,
    /// Threads that run client sessions, each session pinned to one of them (its two sockets
    /// and tasks on one event loop, no cross-thread wake-ups per statement). Default: one per
    /// CPU. `0` runs sessions on the runtime that calls `Gateway::run` instead.
    #[serde(default)]
    pub session_threads: Option<usize>,
    /// How long a connection may take to authenticate, from its first byte (TLS handshake
    /// included; as PostgreSQL's `authentication_timeout`). Default `60s`.
    #[serde(default = "default_login_timeout", with = "duration_str")]
    pub login_timeout: Duration,
    /// The most sessions one identity may have open at once (each holds an upstream
    /// connection: a runaway agent could otherwise take every one the server allows). The
    /// next login is refused with SQLSTATE 53300. Default: no limit.
    #[serde(default)]
    pub max_sessions_per_identity: Option<usize>,
}

fn default_login_timeout() -> Duration {
    Duration::from_secs(60)
}

/// One upstream system.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ResourceConfig {
    /// Name clients use (the Postgres `database` startup parameter).
    pub name: Spanned<String>,
    /// `postgres`.
    pub protocol: Spanned<String>,
    /// Upstream host name or address, or the directory of the server's Unix-domain socket
    /// (an absolute path, as in libpq: `/var/run/postgresql`).
    pub host: String,
    /// Upstream port.
    #[serde(default = "default_pg_port")]
    pub port: u16,
    /// Upstream database name.
    pub database: String,
    /// Upstream user the gateway logs in as.
    pub user: String,
    /// Upstream password (absent for `trust`).
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// TLS towards the upstream (default `disable`).
    #[serde(default)]
    pub tls: Option<Spanned<UpstreamTls>>,
    /// PEM CA bundle for `tls = "verify-full"` (system roots are not used).
    #[serde(default)]
    pub tls_ca: Option<Spanned<PathBuf>>,
    /// Labels the policy can match (`env = "prod"`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ResourceConfig {
    /// The TLS mode towards the upstream.
    pub fn tls_mode(&self) -> UpstreamTls {
        self.tls.as_ref().map(|t| *t.get_ref()).unwrap_or_default()
    }
}

fn default_pg_port() -> u16 {
    5432
}

/// TLS mode towards an upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UpstreamTls {
    /// No TLS.
    #[default]
    Disable,
    /// TLS without certificate verification (encrypts, does not authenticate the server).
    DangerousRequireNoVerify,
    /// TLS with verification of the certificate chain against `tls_ca` and the host name.
    VerifyFull,
}

/// Where a secret comes from.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecretSource {
    /// An environment variable holding the secret.
    #[serde(default)]
    pub env: Option<String>,
    /// A file holding the secret (trailing newline removed).
    #[serde(default)]
    pub file: Option<Spanned<PathBuf>>,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSource")
            .field("env", &self.env)
            .field("file", &self.file.as_ref().map(|s| s.get_ref()))
            .finish()
    }
}

impl SecretSource {
    /// Reads the secret now (at start and at every reload).
    ///
    /// # Errors
    /// The variable is unset, the file unreadable, or neither/both are configured.
    pub fn resolve(&self, base: &Path) -> anyhow::Result<Secret> {
        match (&self.env, &self.file) {
            (Some(var), None) => std::env::var(var)
                .map(Secret::new)
                .map_err(|_| anyhow::anyhow!("environment variable {var} is not set")),
            (None, Some(file)) => {
                let p = base.join(file.get_ref());
                let s = std::fs::read_to_string(&p)
                    .map_err(|e| anyhow::anyhow!("reading secret file {}: {e}", p.display()))?;
                Ok(Secret::new(s.trim_end_matches(['\n', '\r']).to_owned()))
            }
            _ => anyhow::bail!("a secret needs exactly one of `env` or `file`"),
        }
    }
}

/// A secret string: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How clients authenticate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IdentityConfig {
    /// Trusted OIDC issuers (the client's password is a JWT).
    #[serde(default)]
    pub oidc: Vec<OidcIssuerConfig>,
    /// Static users (demos and tests).
    #[serde(default)]
    pub users: Vec<StaticUserConfig>,
}

/// A trusted OIDC issuer.
///
/// Its signing keys (a JWKS document) come from exactly one of `jwks_file` (read at start and
/// at every reload) or `jwks_url` (fetched at start, every `jwks_refresh`, at every reload, and
/// when a token names a key id the gateway does not know, at most once per 30 seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OidcIssuerConfig {
    /// Expected `iss`.
    pub issuer: Spanned<String>,
    /// Expected `aud`.
    pub audience: String,
    /// The issuer's JWKS document on disk.
    #[serde(default)]
    pub jwks_file: Option<Spanned<PathBuf>>,
    /// The issuer's JWKS endpoint (its discovery document's `jwks_uri`); `https://` only,
    /// unless `dangerous_allow_http_jwks`.
    #[serde(default)]
    pub jwks_url: Option<Spanned<String>>,
    /// Accept an `http://` `jwks_url`: anyone on the path can then substitute their own keys
    /// and mint tokens the gateway accepts. For tests against a local server only.
    #[serde(default)]
    pub dangerous_allow_http_jwks: bool,
    /// PEM CA certificates that `jwks_url`'s server certificate must chain to, instead of the
    /// system's root certificates (an identity provider behind a private CA).
    #[serde(default)]
    pub jwks_ca_file: Option<Spanned<PathBuf>>,
    /// How often `jwks_url` is fetched again (`30s`, `10m`, `1h`; default 10 minutes, at
    /// least 1 second). See [`OidcIssuerConfig::jwks_refresh`].
    #[serde(default)]
    pub jwks_refresh: Option<Spanned<String>>,
    /// Claim holding the groups list.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Claim naming the subject.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
}

/// The refresh period of a `jwks_url` when `jwks_refresh` is not set.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(600);
/// The shortest `jwks_refresh` accepted.
pub const MIN_JWKS_REFRESH: Duration = Duration::from_secs(1);

impl OidcIssuerConfig {
    /// The refresh period of `jwks_url` ([`DEFAULT_JWKS_REFRESH`] when unset; a value that does
    /// not parse is refused by [`Config::parse`], so it cannot reach here from a loaded file).
    pub fn jwks_refresh(&self) -> Duration {
        self.jwks_refresh
            .as_ref()
            .and_then(|s| parse_duration(s.get_ref()).ok())
            .unwrap_or(DEFAULT_JWKS_REFRESH)
            .max(MIN_JWKS_REFRESH)
    }
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}
fn default_subject_claim() -> String {
    "sub".to_owned()
}

/// A static user.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StaticUserConfig {
    /// User name (the Postgres `user` startup parameter).
    pub name: Spanned<String>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// A PostgreSQL-style SCRAM secret:
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
    /// (`guard-gateway hash-password` prints one).
    pub password_hash: Spanned<String>,
}

impl fmt::Debug for StaticUserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticUserConfig")
            .field("name", self.name.get_ref())
            .field("groups", &self.groups)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// The policy document and its enforcement mode.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// The policy document (TOML, YAML or JSON).
    pub file: Spanned<PathBuf>,
    /// Shadow mode: decide, log and record, never refuse or hold.
    #[serde(default)]
    pub audit_only: bool,
    /// Groups (`"*"`: everyone) whose statements the policy may allow even when the gateway
    /// cannot tell what they do: `DO` blocks, `CALL`, functions or operators it does not know,
    /// SQL passed as a string, an `EXECUTE` of a statement it did not see prepared, text it
    /// cannot parse. For everyone else the gateway refuses such a statement when the policy
    /// would let it run (a rule may still hold it for a person to approve). Membership given
    /// by an active grant counts. Weakens the guard.
    #[serde(default)]
    pub dangerous_allow_opaque_groups: Vec<String>,
}

/// Mask profiles.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MaskingConfig {
    /// Apply masks (a policy's mask rules name these profiles).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Profile name -> profile file.
    #[serde(default)]
    pub profiles: BTreeMap<String, Spanned<PathBuf>>,
}

fn default_true() -> bool {
    true
}

/// Session recording.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RecordingConfig {
    /// Directory of the file sink.
    pub dir: Spanned<PathBuf>,
    /// Write-ahead: a statement is forwarded only once its input is recorded; a sink failure
    /// ends the session.
    #[serde(default = "default_true")]
    pub strict: bool,
}

/// The admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AdminConfig {
    /// Address to bind.
    pub address: Spanned<String>,
    /// Token for operational endpoints (health, metrics, reload, sessions).
    #[serde(default)]
    pub ops_token: Option<SecretSource>,
    /// Groups whose members may approve.
    #[serde(default)]
    pub approver_groups: Vec<String>,
}

/// The audit log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditConfig {
    /// JSON-lines file, appended to.
    pub file: Spanned<PathBuf>,
}

/// Approval waiting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApprovalsConfig {
    /// How long a held statement waits when the policy names no timeout (`30s`, `5m`, `1h`).
    #[serde(default = "default_approval_timeout", with = "duration_str")]
    pub timeout: Duration,
    /// The longest grant a request may ask for (`POST /grants` with a longer `for` is refused):
    /// elevation is just in time, and an approver in a hurry should not be able to hand out a
    /// standing one.
    #[serde(default = "default_max_grant", with = "duration_str")]
    pub max_grant_duration: Duration,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            timeout: default_approval_timeout(),
            max_grant_duration: default_max_grant(),
        }
    }
}

fn default_approval_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_max_grant() -> Duration {
    Duration::from_secs(12 * 3600)
}

/// Prometheus metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Serve `/metrics` on the admin API.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: true }
    }
}

/// A configuration error with its position.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The file the error is in.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl Config {
    /// Reads and validates a configuration file (not the files it names; see
    /// [`crate::gateway::check`]).
    ///
    /// # Errors
    /// Every problem found, each with file, line and column.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let src = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }]
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&src, &path.display().to_string(), &base)
    }

    /// The settings in effect that weaken the guard (every `dangerous_...` one, shadow mode,
    /// recording that is not write-ahead), one line each, for `check` and the startup log.
    pub fn weakened(&self) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.listeners {
            if l.dangerous_allow_plaintext_auth {
                out.push(format!(
                    "listener {}: dangerous_allow_plaintext_auth (passwords and tokens may cross \
                     the network in clear)",
                    l.address.get_ref()
                ));
            }
        }
        for o in &self.identity.oidc {
            if o.dangerous_allow_http_jwks {
                out.push(format!(
                    "issuer {}: dangerous_allow_http_jwks (keys fetched over http can be \
                     substituted)",
                    o.issuer.get_ref()
                ));
            }
        }
        let groups = &self.policy.dangerous_allow_opaque_groups;
        if !groups.is_empty() {
            out.push(format!(
                "policy: dangerous_allow_opaque_groups = [{}] (their statements may run where \
                 the gateway cannot see what they do)",
                groups.join(", ")
            ));
        }
        if self.policy.audit_only {
            out.push("policy: audit_only (nothing is refused or held)".to_owned());
        }
        if self.recording.as_ref().is_some_and(|r| !r.strict) {
            out.push(
                "recording: strict = false (statements run even when they cannot be recorded)"
                    .to_owned(),
            );
        }
        out
    }

    /// Parses and validates configuration text. `file` names it in errors; `base_dir` resolves
    /// relative paths.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(src: &str, file: &str, base_dir: &Path) -> Result<Config, Vec<ConfigError>> {
        let mut cfg: Config = toml::from_str(src).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(src, s.start)).unwrap_or((0, 0));
            vec![ConfigError {
                file: file.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }]
        })?;
        cfg.base_dir = base_dir.to_path_buf();
        let mut errs = Vec::new();
        let mut err = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_col(src, span.start);
            errs.push(ConfigError {
                file: file.to_owned(),
                line,
                column,
                message,
            });
        };
        for l in &cfg.listeners {
            if l.protocol.get_ref() != "postgres" {
                err(
                    l.protocol.span(),
                    format!("unknown listener protocol `{}`", l.protocol.get_ref()),
                );
            }
            if l.address.get_ref().parse::<SocketAddr>().is_err() {
                err(
                    l.address.span(),
                    format!("`{}` is not an ip:port address", l.address.get_ref()),
                );
            }
            if l.tls_cert.is_some() != l.tls_key.is_some() {
                let span = l
                    .tls_cert
                    .as_ref()
                    .or(l.tls_key.as_ref())
                    .map(|s| s.span())
                    .unwrap_or(0..0);
                err(span, "`tls_cert` and `tls_key` go together".to_owned());
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for r in &cfg.resources {
            if r.protocol.get_ref() != "postgres" {
                err(
                    r.protocol.span(),
                    format!("unknown resource protocol `{}`", r.protocol.get_ref()),
                );
            }
            if !names.insert(r.name.get_ref().clone()) {
                err(
                    r.name.span(),
                    format!("duplicate resource name `{}`", r.name.get_ref()),
                );
            }
            if let Some(p) = &r.password
                && p.env.is_some() == p.file.is_some()
            {
                err(
                    r.name.span(),
                    "resource password needs exactly one of `env` or `file`".to_owned(),
                );
            }
            if let Some(tls) = &r.tls
                && r.host.starts_with('/')
                && *tls.get_ref() != UpstreamTls::Disable
            {
                err(
                    tls.span(),
                    format!(
                        "`host = \"{}\"` is a Unix-socket directory, where PostgreSQL speaks \
                         no TLS: remove `tls` or connect over TCP",
                        r.host
                    ),
                );
            }
            if r.tls_mode() == UpstreamTls::VerifyFull && r.tls_ca.is_none() {
                err(
                    r.name.span(),
                    "`tls = \"verify-full\"` needs `tls_ca`".to_owned(),
                );
            }
        }
        let mut users = std::collections::BTreeSet::new();
        for u in &cfg.identity.users {
            if !users.insert(u.name.get_ref().clone()) {
                err(
                    u.name.span(),
                    format!("duplicate user `{}`", u.name.get_ref()),
                );
            }
            if !u.password_hash.get_ref().starts_with("SCRAM-SHA-256$") {
                err(
                    u.password_hash.span(),
                    "password_hash must be a SCRAM-SHA-256 secret (see `guard-gateway hash-password`)"
                        .to_owned(),
                );
            }
        }
        for o in &cfg.identity.oidc {
            check_oidc_issuer(o, &mut err);
        }
        if let Some(a) = &cfg.admin
            && a.address.get_ref().parse::<SocketAddr>().is_err()
        {
            err(
                a.address.span(),
                format!("`{}` is not an ip:port address", a.address.get_ref()),
            );
        }
        // Files named by the configuration must exist.
        let base = cfg.base_dir.clone();
        let mut must_exist = |p: &Spanned<PathBuf>, what: &str| {
            let full = base.join(p.get_ref());
            if !full.exists() {
                err(
                    p.span(),
                    format!("{what} {} does not exist", full.display()),
                );
            }
        };
        must_exist(&cfg.policy.file, "policy file");
        for p in cfg.masking.profiles.values() {
            must_exist(p, "mask profile");
        }
        for l in &cfg.listeners {
            for p in l.tls_cert.iter().chain(l.tls_key.iter()) {
                must_exist(p, "TLS file");
            }
        }
        for o in &cfg.identity.oidc {
            if let Some(p) = &o.jwks_file {
                must_exist(p, "JWKS file");
            }
            if let Some(p) = &o.jwks_ca_file {
                must_exist(p, "CA file");
            }
        }
        for r in &cfg.resources {
            if let Some(p) = &r.tls_ca {
                must_exist(p, "CA file");
            }
        }
        if errs.is_empty() { Ok(cfg) } else { Err(errs) }
    }

    /// Resolves a configured path against the configuration's directory.
    pub fn path(&self, p: &Spanned<PathBuf>) -> PathBuf {
        self.base_dir.join(p.get_ref())
    }

    /// The resource named `name`.
    pub fn resource(&self, name: &str) -> Option<&ResourceConfig> {
        self.resources.iter().find(|r| r.name.get_ref() == name)
    }
}

/// The checks of one OIDC issuer that need no IO: where its keys come from, and whether the
/// URL is one the gateway will fetch.
fn check_oidc_issuer(o: &OidcIssuerConfig, err: &mut impl FnMut(std::ops::Range<usize>, String)) {
    match (&o.jwks_file, &o.jwks_url) {
        (Some(_), Some(url)) => err(
            url.span(),
            "an OIDC issuer takes exactly one of `jwks_file` or `jwks_url`, not both".to_owned(),
        ),
        (None, None) => err(
            o.issuer.span(),
            format!(
                "OIDC issuer `{}` needs `jwks_file` or `jwks_url`",
                o.issuer.get_ref()
            ),
        ),
        (Some(_), None) => {
            for (name, span) in [
                ("jwks_ca_file", o.jwks_ca_file.as_ref().map(Spanned::span)),
                ("jwks_refresh", o.jwks_refresh.as_ref().map(Spanned::span)),
            ] {
                if let Some(span) = span {
                    err(span, format!("`{name}` only applies to `jwks_url`"));
                }
            }
        }
        (None, Some(url)) => {
            if let Err(message) = check_jwks_url(url.get_ref(), o.dangerous_allow_http_jwks) {
                err(url.span(), message);
            }
        }
    }
    if let Some(r) = &o.jwks_refresh {
        match parse_duration(r.get_ref()) {
            Err(message) => err(r.span(), message),
            Ok(d) if d < MIN_JWKS_REFRESH => err(
                r.span(),
                format!(
                    "`jwks_refresh` must be at least {}s",
                    MIN_JWKS_REFRESH.as_secs()
                ),
            ),
            Ok(_) => {}
        }
    }
}

/// Whether `url` is a JWKS URL the gateway fetches: absolute, `https` (or `http` when
/// `allow_http`), with a host and without credentials (they would end up in logs).
///
/// # Errors
/// Why it is refused.
pub fn check_jwks_url(url: &str, allow_http: bool) -> Result<reqwest::Url, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(format!(
                "`jwks_url` must be an https:// URL, not `{url}` (anyone on the path of plain \
                 http could substitute their own keys; `dangerous_allow_http_jwks = true` \
                 allows it, for tests only)"
            ));
        }
        other => {
            return Err(format!(
                "`jwks_url` must be an https:// URL, not a `{other}:` URL"
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("`jwks_url` must not carry credentials".to_owned());
    }
    Ok(parsed)
}

/// 1-based line and column of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
    (line, col)
}

/// Parses `30s`, `5m`, `2h`, `1d` (a bare number is seconds).
///
/// # Errors
/// Not a number followed by one of s, m, h, d.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 5m, 2h"))?;
    let mul = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("`{s}` is not a duration like 30s, 5m, 2h")),
    };
    Ok(Duration::from_secs(n.saturating_mul(mul)))
}

/// `d` in the largest of the units `parse_duration` reads that divides it (`12h`, `90m`).
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".to_owned(),
        _ if s.is_multiple_of(86400) => format!("{}d", s / 86400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

mod duration_str {
    use serde::Deserialize;
    use std::time::Duration;

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back() {
        for s in ["0s", "45s", "90m", "12h", "2d"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
    }

    const MINIMAL: &str = r#"
[policy]
file = "Cargo.toml"
"#;

    fn base() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn minimal_config_parses() {
        let c = Config::parse(MINIMAL, "t.toml", &base()).expect("parses");
        assert!(c.listeners.is_empty());
        assert_eq!(c.approvals.timeout, Duration::from_secs(300));
    }

    #[test]
    fn unknown_field_is_refused_with_its_line() {
        let src = "[policy]\nfile = \"Cargo.toml\"\nbogus = 1\n";
        let e = Config::parse(src, "t.toml", &base()).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 3, "{}", e[0]);
        assert!(e[0].message.contains("bogus"), "{}", e[0]);
    }

    #[test]
    fn semantic_errors_point_at_the_value() {
        let src = "[policy]\nfile = \"Cargo.toml\"\n\n[[listeners]]\nprotocol = \"postgres\"\naddress = \"nope\"\n";
        let e = Config::parse(src, "t.toml", &base()).unwrap_err();
        assert_eq!((e[0].line, e[0].column), (6, 11), "{}", e[0]);
        assert!(e[0].to_string().starts_with("t.toml:6:11: "));
    }

    #[test]
    fn missing_policy_file_is_reported() {
        let src = "[policy]\nfile = \"no-such-file.toml\"\n";
        let e = Config::parse(src, "t.toml", &base()).unwrap_err();
        assert_eq!(e[0].line, 2);
        assert!(e[0].message.contains("does not exist"));
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        let src = "[policy]\nfile = \"Cargo.toml\"\n[[identity.users]]\nname = \"a\"\npassword_hash = \"SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB\"\n";
        let c = Config::parse(src, "t.toml", &base()).expect("parses");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("AAAA"), "{dbg}");
    }

    #[test]
    fn the_sample_configuration_parses() {
        let p = base().join("gateway.toml");
        let c = Config::load(&p).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.resources.len(), 1);
        assert_eq!(c.identity.users.len(), 1);
        assert!(c.recording.as_ref().is_some_and(|r| r.strict));
    }

    /// Parses a minimal configuration with one OIDC issuer whose table holds `issuer` (line 4)
    /// and then `lines` (from line 6 on).
    fn oidc(lines: &str) -> Result<Config, Vec<ConfigError>> {
        let src = format!(
            "[policy]\nfile = \"Cargo.toml\"\n[[identity.oidc]]\nissuer = \"https://idp\"\n\
             audience = \"guard\"\n{lines}"
        );
        Config::parse(&src, "t.toml", &base())
    }

    fn oidc_err(lines: &str) -> (usize, usize, String) {
        let e = oidc(lines).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        (e[0].line, e[0].column, e[0].message.clone())
    }

    #[test]
    fn oidc_issuers_take_a_jwks_file_or_an_https_url() {
        let c = oidc("jwks_file = \"Cargo.toml\"\n").expect("file");
        assert!(c.identity.oidc[0].jwks_url.is_none());
        let c = oidc("jwks_url = \"https://idp.example/keys\"\n").expect("url");
        assert_eq!(c.identity.oidc[0].jwks_refresh(), DEFAULT_JWKS_REFRESH);
        let c = oidc("jwks_url = \"https://idp.example/keys\"\njwks_refresh = \"90s\"\n")
            .expect("refresh");
        assert_eq!(c.identity.oidc[0].jwks_refresh(), Duration::from_secs(90));
        oidc("jwks_url = \"http://127.0.0.1:1/k\"\ndangerous_allow_http_jwks = true\n")
            .expect("http with the flag");
        oidc("jwks_url = \"https://idp/k\"\njwks_ca_file = \"Cargo.toml\"\n").expect("CA");
    }

    #[test]
    fn oidc_source_errors_point_at_the_value() {
        let (l, c, m) = oidc_err("jwks_file = \"Cargo.toml\"\njwks_url = \"https://idp/k\"\n");
        assert_eq!((l, c), (7, 12), "{m}");
        assert!(m.contains("exactly one of"), "{m}");
        let (l, c, m) = oidc_err("");
        assert_eq!((l, c), (4, 10), "{m}");
        assert!(m.contains("needs `jwks_file` or `jwks_url`"), "{m}");
        let (l, c, m) = oidc_err("jwks_url = \"http://idp/k\"\n");
        assert_eq!((l, c), (6, 12), "{m}");
        assert!(m.contains("dangerous_allow_http_jwks"), "{m}");
        let (_, _, m) = oidc_err("jwks_url = \"ftp://idp/k\"\ndangerous_allow_http_jwks = true\n");
        assert!(m.contains("`ftp:`"), "{m}");
        let (_, _, m) = oidc_err("jwks_url = \"https://user:pw@idp/k\"\n");
        assert!(m.contains("credentials") && !m.contains("pw"), "{m}");
        let (_, _, m) = oidc_err("jwks_url = \"not a url\"\n");
        assert!(m.contains("not a valid URL"), "{m}");
        let (l, c, m) = oidc_err("jwks_url = \"https://idp/k\"\njwks_refresh = \"0s\"\n");
        assert_eq!((l, c), (7, 16), "{m}");
        assert!(m.contains("at least 1s"), "{m}");
        let (_, _, m) = oidc_err("jwks_url = \"https://idp/k\"\njwks_refresh = \"soon\"\n");
        assert!(m.contains("not a duration"), "{m}");
        let (l, _, m) = oidc_err("jwks_file = \"Cargo.toml\"\njwks_refresh = \"1m\"\n");
        assert_eq!(l, 7, "{m}");
        assert!(m.contains("only applies to `jwks_url`"), "{m}");
        let (_, _, m) = oidc_err("jwks_url = \"https://idp/k\"\njwks_ca_file = \"nope.pem\"\n");
        assert!(m.contains("does not exist"), "{m}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
