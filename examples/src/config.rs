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
    /// Upstream host.
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
    /// TLS towards the upstream.
    #[serde(default)]
    pub tls: UpstreamTls,
    /// PEM CA bundle for `tls = "verify-full"` (system roots are not used).
    #[serde(default)]
    pub tls_ca: Option<Spanned<PathBuf>>,
    /// Labels the policy can match (`env = "prod"`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OidcIssuerConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// The issuer's JWKS document on disk (re-read at every reload; fetching it over HTTPS is
    /// left to the deployment, for example a sidecar that refreshes the file).
    pub jwks_file: Spanned<PathBuf>,
    /// Claim holding the groups list.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Claim naming the subject.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
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
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig {
            timeout: default_approval_timeout(),
        }
    }
}

fn default_approval_timeout() -> Duration {
    Duration::from_secs(300)
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
            if r.tls == UpstreamTls::VerifyFull && r.tls_ca.is_none() {
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
            must_exist(&o.jwks_file, "JWKS file");
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert!(parse_duration("5 parsecs").is_err());
    }
}
