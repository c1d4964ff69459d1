//! `guard-gateway demo`: a throwaway PostgreSQL with PII, a gateway in front of it with the
//! demo policy, and the URLs to try it.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::jwt::DemoIssuer;
use crate::pgcluster::{PgCluster, PgClusterOptions, free_port};

/// The demo's policy.
pub const POLICY: &str = include_str!("../demo/policy.toml");
/// The demo's mask profile.
pub const PII_PROFILE: &str = include_str!("../demo/pii.toml");
/// The demo's schema and data.
pub const SCHEMA: &str = include_str!("../demo/schema.sql");

/// How long the demo's tokens stay valid (they must outlive any demo run).
const TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Everything the demo started; dropping it stops the database and removes its files.
#[derive(Debug)]
pub struct Demo {
    /// The throwaway PostgreSQL.
    pub cluster: PgCluster,
    /// Directory with the configuration, policy, keys and audit log.
    pub dir: tempfile::TempDir,
    /// The gateway's configuration.
    pub config: Config,
    /// Postgres listener port.
    pub port: u16,
    /// Admin API port.
    pub admin_port: u16,
    /// `AGENT_URL`.
    pub agent_url: String,
    /// `ADMIN_URL`.
    pub admin_url: String,
    /// `UPSTREAM_URL`.
    pub upstream_url: String,
    /// `ADMIN_API`.
    pub admin_api: String,
    /// `APPROVER_TOKEN`.
    pub approver_token: String,
}

impl Demo {
    /// Starts the database, loads the schema and writes the configuration. `port` fixes the
    /// gateway's Postgres port.
    ///
    /// # Errors
    /// PostgreSQL could not be started or set up.
    pub fn prepare(port: Option<u16>) -> Result<Demo> {
        let cluster = PgCluster::start_with(&PgClusterOptions::default())?;
        cluster.create_database("shop")?;
        cluster
            .psql("shop", SCHEMA)
            .context("loading the demo schema")?;
        let dir = tempfile::Builder::new().prefix("guard-demo-").tempdir()?;
        let d = dir.path();
        let issuer = DemoIssuer::generate("https://demo.guard.invalid", "guard");
        std::fs::write(d.join("jwks.json"), issuer.jwks())?;
        std::fs::write(d.join("policy.toml"), POLICY)?;
        std::fs::write(d.join("pii.toml"), PII_PROFILE)?;
        std::fs::write(d.join("upstream.pw"), cluster.password())?;
        let (cert, key) = crate::tls::self_signed(&["localhost", "127.0.0.1"])?;
        std::fs::write(d.join("tls.crt"), cert)?;
        std::fs::write(d.join("tls.key"), key)?;
        let ops = crate::pgcluster::random_token(32);
        std::fs::write(d.join("ops.token"), &ops)?;
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let admin_port = free_port()?;
        let cfg = format!(
            r#"# Written by `guard-gateway demo`.
[[listeners]]
protocol = "postgres"
address = "127.0.0.1:{port}"
tls_cert = "tls.crt"
tls_key = "tls.key"

[[resources]]
name = "shop"
protocol = "postgres"
host = "127.0.0.1"
port = {upstream}
database = "shop"
user = "postgres"
password = {{ file = "upstream.pw" }}
labels = {{ env = "demo" }}

[[identity.oidc]]
issuer = "https://demo.guard.invalid"
audience = "guard"
jwks_file = "jwks.json"

[policy]
file = "policy.toml"
dangerous_allow_opaque_groups = ["admins"]

[masking.profiles]
pii = "pii.toml"

[recording]
dir = "recordings"

[admin]
address = "127.0.0.1:{admin_port}"
ops_token = {{ file = "ops.token" }}
approver_groups = ["dba"]

[audit]
file = "audit.jsonl"
"#,
            upstream = cluster.port(),
        );
        let path = d.join("gateway.toml");
        std::fs::write(&path, cfg)?;
        let config = Config::load(&path).map_err(|errs| {
            anyhow::anyhow!(
                "demo configuration: {}",
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        let agent = issuer.mint("agent", &["agents"], TOKEN_TTL);
        let admin = issuer.mint("admin", &["admins"], TOKEN_TTL);
        let approver = issuer.mint("approver", &["dba"], TOKEN_TTL);
        Ok(Demo {
            agent_url: format!("postgresql://agent:{agent}@127.0.0.1:{port}/shop?sslmode=require"),
            admin_url: format!("postgresql://admin:{admin}@127.0.0.1:{port}/shop?sslmode=require"),
            upstream_url: cluster.url("shop"),
            admin_api: format!("http://127.0.0.1:{admin_port}"),
            approver_token: approver,
            cluster,
            dir,
            config,
            port,
            admin_port,
        })
    }

    /// The lines scripts read, then `READY`.
    pub fn ready_lines(&self) -> String {
        format!(
            "AGENT_URL={}\nADMIN_URL={}\nUPSTREAM_URL={}\nADMIN_API={}\nAPPROVER_TOKEN={}\nREADY\n",
            self.agent_url, self.admin_url, self.upstream_url, self.admin_api, self.approver_token
        )
    }

    /// What people read.
    pub fn help(&self) -> String {
        format!(
            r#"
guard demo is running (Ctrl-C stops it and removes everything).

  As an agent (PII masked; unbounded writes, DROP, TRUNCATE, server access, DO refused; DDL, PII copies held):
    psql "$AGENT_URL"          e.g.  SELECT * FROM customers;   DELETE FROM orders;
  As an admin (unmasked):
    psql "$ADMIN_URL"
  Straight to PostgreSQL, bypassing the gateway (for comparison):
    psql "$UPSTREAM_URL"
  Approve a held statement (the agent's psql prints its id):
    guard-gateway approvals list --api {api} --token "$APPROVER_TOKEN"
    guard-gateway approvals approve ID --api {api} --token "$APPROVER_TOKEN"

  Files (config, policy, audit log, recordings): {dir}
"#,
            api = self.admin_api,
            dir = self.dir.path().display()
        )
    }
}
