//! A throwaway PostgreSQL cluster: `initdb` with SCRAM passwords on a free loopback port.
//!
//! Used by the end-to-end tests and by `guard-gateway demo`. The cluster lives in a fresh
//! temporary directory; when this process runs as root it runs `initdb`, `pg_ctl` and the
//! server as the `postgres` system user (through `runuser`), because `initdb` refuses root.
//!
//! Clean-up is tied to the process, not only to `Drop`: a small watchdog shell waits on a pipe
//! whose write end only this process holds. When the [`PgCluster`] is dropped, or the process
//! exits in any way (a static shared by a test binary is never dropped), the pipe closes and the
//! watchdog stops the server and removes the directory.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::{Context, Result, bail};

/// The superuser that `initdb` creates.
pub const SUPERUSER: &str = "postgres";

/// Options for [`PgCluster::start`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PgClusterOptions {
    /// A fixed port; `None` picks a free loopback port.
    pub port: Option<u16>,
    /// PEM certificate and key: when set, the server accepts TLS (`ssl = on`).
    pub tls: Option<(String, String)>,
    /// Extra `postgresql.conf` lines.
    pub extra_conf: Vec<String>,
}

/// A running throwaway PostgreSQL cluster. Stopped and removed on drop.
pub struct PgCluster {
    dir: PathBuf,
    bindir: PathBuf,
    port: u16,
    password: String,
    run_as: Option<String>,
    watchdog: Option<(Child, ChildStdin)>,
}

impl std::fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCluster")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl PgCluster {
    /// Creates and starts a cluster with default options.
    ///
    /// # Errors
    /// A PostgreSQL binary is missing (the message names the Debian package), or `initdb` or
    /// the server failed (the message carries their output).
    pub fn start() -> Result<Self> {
        Self::start_with(&PgClusterOptions::default())
    }

    /// Creates and starts a cluster.
    ///
    /// # Errors
    /// As [`PgCluster::start`].
    pub fn start_with(opts: &PgClusterOptions) -> Result<Self> {
        let bindir = pg_bindir()?;
        let run_as = if running_as_root() {
            if Command::new("runuser").arg("--help").output().is_err() {
                bail!("`runuser` not found: install the Debian package util-linux");
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        let base = std::env::temp_dir();
        let dir = tempdir_in(&base)?;
        let password = random_token(24);
        let mut cluster = PgCluster {
            dir: dir.clone(),
            bindir,
            port: 0,
            password,
            run_as,
            watchdog: None,
        };
        // Everything below runs with clean-up armed.
        cluster.arm_watchdog()?;
        cluster.init(opts)?;
        Ok(cluster)
    }

    fn arm_watchdog(&mut self) -> Result<()> {
        let pg_ctl = self.bindir.join("pg_ctl");
        let data = self.dir.join("data");
        let stop = match &self.run_as {
            Some(user) => format!(
                "runuser -u {user} -- {} -D {} -m immediate stop",
                sh_quote(&pg_ctl.to_string_lossy()),
                sh_quote(&data.to_string_lossy())
            ),
            None => format!(
                "{} -D {} -m immediate stop",
                sh_quote(&pg_ctl.to_string_lossy()),
                sh_quote(&data.to_string_lossy())
            ),
        };
        let script = format!(
            "read _ignored; if [ -f {pid} ]; then {stop} >/dev/null 2>&1; fi; rm -rf {dir}",
            pid = sh_quote(&data.join("postmaster.pid").to_string_lossy()),
            dir = sh_quote(&self.dir.to_string_lossy()),
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning the clean-up watchdog (sh)")?;
        let stdin = child.stdin.take().context("watchdog stdin")?;
        self.watchdog = Some((child, stdin));
        Ok(())
    }

    fn init(&mut self, opts: &PgClusterOptions) -> Result<()> {
        let data = self.dir.join("data");
        let pwfile = self.dir.join("pwfile");
        fs::write(&pwfile, format!("{}\n", self.password))?;
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user)?;
            std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
        }
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .arg("-U")
            .arg(SUPERUSER)
            .arg("--auth=scram-sha-256")
            .arg("--pwfile")
            .arg(&pwfile)
            .arg("--no-sync")
            .arg("-E")
            .arg("UTF8")
            .arg("--locale=C")
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = fs::remove_file(&pwfile);
        let mut conf = vec![
            "listen_addresses = '127.0.0.1'".to_owned(),
            format!("unix_socket_directories = '{}'", self.dir.display()),
            "fsync = off".to_owned(),
            "synchronous_commit = off".to_owned(),
            "full_page_writes = off".to_owned(),
            "max_connections = 300".to_owned(),
            "shared_buffers = 32MB".to_owned(),
            "log_min_messages = warning".to_owned(),
            "password_encryption = 'scram-sha-256'".to_owned(),
        ];
        if let Some((cert, key)) = &opts.tls {
            let cert_path = data.join("server.crt");
            let key_path = data.join("server.key");
            fs::write(&cert_path, cert)?;
            fs::write(&key_path, key)?;
            fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600))?;
            if let Some(user) = &self.run_as {
                let (uid, gid) = user_ids(user)?;
                std::os::unix::fs::chown(&cert_path, Some(uid), Some(gid))?;
                std::os::unix::fs::chown(&key_path, Some(uid), Some(gid))?;
            }
            conf.push("ssl = on".to_owned());
        }
        conf.extend(opts.extra_conf.iter().cloned());
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))?;
        writeln!(
            f,
            "\n# guard-gateway throwaway cluster\n{}",
            conf.join("\n")
        )?;
        drop(f);

        let mut last_err = String::new();
        for _attempt in 0..3 {
            let port = match opts.port {
                Some(p) => p,
                None => free_port()?,
            };
            let out = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .arg("-o")
                .arg(format!("-p {port}"))
                .arg("-w")
                .arg("-t")
                .arg("60")
                .arg("start")
                .output()
                .context("running pg_ctl start")?;
            if out.status.success() {
                self.port = port;
                return Ok(());
            }
            last_err = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            if opts.port.is_some() {
                break;
            }
        }
        bail!("the PostgreSQL server did not start: {last_err}")
    }

    /// A command for a PostgreSQL binary, run as the `postgres` user when we are root.
    fn command(&self, bin: &str) -> Command {
        let path = self.bindir.join(bin);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(path);
                c.current_dir("/");
                c
            }
            None => Command::new(path),
        }
    }

    /// The server's loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host (always `127.0.0.1`).
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The directory holding the cluster (data, log, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The PostgreSQL binaries directory.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// A libpq URI for the superuser and `database`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.password, self.port
        )
    }

    /// Runs SQL through `psql` as the superuser; returns its standard output.
    ///
    /// # Errors
    /// `psql` is missing or the SQL failed (`ON_ERROR_STOP`).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let out = Command::new(psql_path(&self.bindir))
            .arg("-X")
            .arg("-q")
            .arg("-A")
            .arg("-t")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(SUPERUSER)
            .arg("-d")
            .arg(database)
            .arg("-c")
            .arg(sql)
            .env("PGPASSWORD", &self.password)
            .env("PGSSLMODE", "disable")
            .output()
            .context("running psql (Debian package postgresql-client-15)")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a database owned by the superuser.
    ///
    /// # Errors
    /// As [`PgCluster::psql`].
    pub fn create_database(&self, name: &str) -> Result<()> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(())
    }

    /// Stops the server immediately (as if it crashed) without removing anything.
    ///
    /// # Errors
    /// `pg_ctl stop` failed.
    pub fn kill(&self) -> Result<()> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-m")
            .arg("immediate")
            .arg("stop")
            .output()?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
///
/// # Errors
/// No PostgreSQL server binaries were found; the message names the Debian package.
pub fn pg_bindir() -> Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Ok(rd) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        versions.sort();
        versions.reverse();
        candidates.extend(versions.into_iter().map(|v| v.join("bin")));
    }
    for c in candidates {
        if c.join("initdb").exists() && c.join("pg_ctl").exists() && c.join("postgres").exists() {
            return Ok(c);
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the Debian \
         package postgresql-15 (apt-get install postgresql-15)"
    )
}

/// `psql` from `bindir` when present, else from `PATH`.
pub fn psql_path(bindir: &Path) -> PathBuf {
    let p = bindir.join("psql");
    if p.exists() { p } else { PathBuf::from("psql") }
}

/// A free TCP port on 127.0.0.1 (bound then released).
///
/// # Errors
/// Binding failed.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A random token of `n` alphanumeric characters.
pub fn random_token(n: usize) -> String {
    use rand::Rng;
    use rand::distributions::Alphanumeric;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn user_ids(user: &str) -> Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return Ok((f[2].parse()?, f[3].parse()?));
        }
    }
    bail!("system user `{user}` not found (it comes with the Debian package postgresql-15)")
}

fn tempdir_in(base: &Path) -> Result<PathBuf> {
    for _ in 0..16 {
        let p = base.join(format!("guard-pg-{}", random_token(10)));
        match fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).context(format!("creating {}", p.display())),
        }
    }
    bail!(
        "could not create a temporary directory in {}",
        base.display()
    )
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
