//! `guard-gateway verify` and `guard-gateway replay`: check and read session recordings.
//!
//! ```text
//! guard-gateway verify 2025/11/26/s-1.jsonl --key recordings.pub
//! guard-gateway replay 2025/11/26/s-1.jsonl            # timeline, or terminal playback
//! guard-gateway replay 2025/11/26/s-1.jsonl --json     # one JSON object per event
//! guard-gateway replay 2025/11/26/s-1.jsonl --speed 4  # terminal playback, 4x
//! guard-gateway replay 2025/11/26/s-1.jsonl --cast > s-1.cast   # asciinema v2
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use guard_record::{Event, Protocol, SignatureStatus};

/// The recording subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum RecordCommand {
    /// Verify a session recording: hash chain, seal, and (with --key) the seal's signature.
    ///
    /// Exit status: 0 intact and sealed (and signed by KEY when --key is given); 1 altered:
    /// a changed, removed, inserted or reordered line, a replaced or edited seal, a missing,
    /// foreign or invalid signature, or bytes that are not a recording; 3 truncated: no seal
    /// (the session is still running, or the writer stopped); 2 the file or key could not be
    /// read, or bad arguments. On failure the message names the first bad line (1-based).
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Replay a session recording: a timeline for database and Kubernetes sessions, real-time
    /// playback for terminal (SSH) sessions, JSON Lines with --json, asciinema v2 with --cast.
    Replay(ReplayArgs),
}

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The recording (`.jsonl`).
    file: PathBuf,
    /// The trusted Ed25519 public key: 64 hex digits, base64 of the 32 bytes, or a PEM
    /// `PUBLIC KEY` block (`openssl pkey -pubout`).
    #[arg(long, value_name = "PUBLIC_KEY")]
    key: Option<PathBuf>,
}

/// Arguments of `replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The recording (`.jsonl`).
    file: PathBuf,
    /// Print one JSON object per event (seq, t_us, time, identity, kind, detail).
    #[arg(long, conflicts_with = "cast")]
    json: bool,
    /// Terminal playback speed factor (2 plays twice as fast).
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    speed: f64,
    /// Longest pause in terminal playback, in seconds (before the speed factor applies).
    #[arg(long, value_name = "SECS")]
    max_idle: Option<f64>,
    /// Print the timeline even for a terminal session.
    #[arg(long)]
    timeline: bool,
    /// Write the terminal channels as an asciinema v2 `.cast` file to stdout.
    #[arg(long)]
    cast: bool,
    /// Only this terminal channel.
    #[arg(long)]
    channel: Option<u32>,
}

/// Runs a recording subcommand; exits with its status.
pub(crate) fn run(cmd: RecordCommand) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = match cmd {
        RecordCommand::Verify(args) => verify(&args, &mut stdout.lock(), &mut stderr.lock()),
        RecordCommand::Replay(args) => replay(
            &args,
            &mut stdout.lock(),
            &mut stderr.lock(),
            &mut RealSleep,
        ),
    };
    let code = match code {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    };
    std::io::stdout().flush().ok();
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn verify(args: &VerifyArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<i32> {
    let key = match &args.key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read key file {}", path.display()))?;
            Some(
                guard_record::parse_verifying_key(&text)
                    .with_context(|| format!("key file {}", path.display()))?,
            )
        }
        None => None,
    };
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    match guard_record::verify(file, key.as_ref()) {
        Ok(s) => {
            let signature = match s.signature {
                SignatureStatus::Trusted => "signed by the trusted key".to_owned(),
                SignatureStatus::ValidUntrusted { key } => format!(
                    "signed by key {} (valid; give --key to check who signed)",
                    guard_record::format_verifying_key(
                        &guard_record::VerifyingKey::from_bytes(&key)
                            .context("key was checked by verify")?
                    )
                    .trim_end()
                ),
                _ => "unsigned".to_owned(),
            };
            writeln!(
                out,
                "{}: intact: session {}, {} events, {} bytes, {}.{:06} s, {}{}{}",
                args.file.display(),
                s.session,
                s.events,
                s.bytes,
                s.duration_us / 1_000_000,
                s.duration_us % 1_000_000,
                signature,
                if s.dropped > 0 {
                    format!(", {} events dropped", s.dropped)
                } else {
                    String::new()
                },
                if s.capped { ", size cap reached" } else { "" },
            )?;
            Ok(0)
        }
        Err(e) => {
            writeln!(err, "{}: {e}", args.file.display())?;
            Ok(e.exit_code())
        }
    }
}

/// Sleeps between terminal frames (a trait so tests do not wait).
pub(crate) trait Sleep {
    fn sleep(&mut self, d: Duration);
}

struct RealSleep;

impl Sleep for RealSleep {
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

fn replay(
    args: &ReplayArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    sleeper: &mut dyn Sleep,
) -> anyhow::Result<i32> {
    anyhow::ensure!(
        args.speed.is_finite() && args.speed > 0.0,
        "--speed must be a positive number"
    );
    let open = || {
        std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))
    };
    // Replay shows untrusted recordings too, but says so first.
    if let Err(e) = guard_record::verify(open()?, None) {
        writeln!(
            err,
            "warning: {}: does not verify: {e}",
            args.file.display()
        )?;
    }
    if args.cast {
        let mut opts = guard_record::CastOptions::new();
        opts.channel(args.channel);
        guard_record::write_cast(open()?, out, &opts)?;
        return Ok(0);
    }
    let protocol = guard_record::read_events(open()?)
        .next()
        .and_then(|e| match e {
            Ok(r) => match r.event {
                Event::SessionStart(s) => Some(s.protocol),
                _ => None,
            },
            Err(_) => None,
        });
    if args.json || args.timeline || protocol != Some(Protocol::Ssh) {
        guard_record::write_timeline(open()?, out, args.json)?;
        return Ok(0);
    }
    let max_idle = args.max_idle.map(Duration::from_secs_f64);
    let mut last = 0u64;
    for frame in guard_record::terminal_frames(open()?, args.channel) {
        let (t, bytes) = frame?;
        let mut gap = Duration::from_micros(t.saturating_sub(last));
        if let Some(m) = max_idle {
            gap = gap.min(m);
        }
        sleeper.sleep(gap.div_f64(args.speed));
        out.write_all(&bytes)?;
        out.flush()?;
        last = t;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../guard-record/testdata/example.jsonl"
    );
    const EXAMPLE_PUB: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../guard-record/testdata/example.pub"
    );

    fn run_verify(file: PathBuf, key: Option<PathBuf>) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = match verify(&VerifyArgs { file, key }, &mut out, &mut err) {
            Ok(c) => c,
            Err(e) => {
                err.extend_from_slice(format!("{e:#}").as_bytes());
                2
            }
        };
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn verify_exit_codes() {
        let (code, out, _) = run_verify(EXAMPLE.into(), Some(EXAMPLE_PUB.into()));
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("intact: session 2f6c9a1e-example, 9 events"),
            "{out}"
        );
        assert!(out.contains("signed by the trusted key"), "{out}");

        let dir = tempfile::tempdir().unwrap();
        let good = std::fs::read(EXAMPLE).unwrap();
        // A flipped byte on line 2 (a statement's text) is found at line 3's link.
        let mut bad = good.clone();
        let pos = bad.windows(9).position(|w| w == b"customers").unwrap();
        bad[pos] = b'C';
        let path = dir.path().join("flipped.jsonl");
        std::fs::write(&path, &bad).unwrap();
        let (code, _, err) = run_verify(path, None);
        assert_eq!(code, 1);
        assert!(err.contains("line 3: hash chain broken"), "{err}");

        let cut = good.len() - 300;
        let path = dir.path().join("cut.jsonl");
        std::fs::write(&path, &good[..cut]).unwrap();
        let (code, _, err) = run_verify(path, None);
        assert_eq!(code, 3);
        assert!(
            err.contains("line 10: recording is truncated mid-line"),
            "{err}"
        );

        let other = dir.path().join("other.pub");
        std::fs::write(&other, "ab".repeat(32)).unwrap();
        let (code, _, err) = run_verify(EXAMPLE.into(), Some(other));
        assert_ne!(code, 0, "{err}");

        let (code, _, err) = run_verify(dir.path().join("missing.jsonl"), None);
        assert_eq!(code, 2, "{err}");
    }

    struct Recorded(Vec<Duration>);
    impl Sleep for Recorded {
        fn sleep(&mut self, d: Duration) {
            self.0.push(d);
        }
    }

    fn replay_args(file: PathBuf) -> ReplayArgs {
        ReplayArgs {
            file,
            json: false,
            speed: 1.0,
            max_idle: None,
            timeline: false,
            cast: false,
            channel: None,
        }
    }

    #[test]
    fn replay_database_timeline_and_json() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = replay(
            &replay_args(EXAMPLE.into()),
            &mut out,
            &mut err,
            &mut Recorded(vec![]),
        )
        .unwrap();
        assert_eq!(code, 0);
        assert!(err.is_empty());
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 9);
        assert!(text.contains("alice"));
        assert!(text.contains("deny [no-role-changes]"));
        let mut args = replay_args(EXAMPLE.into());
        args.json = true;
        let mut out = Vec::new();
        replay(&args, &mut out, &mut err, &mut Recorded(vec![])).unwrap();
        for l in String::from_utf8(out).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["seq"].is_u64() && v["kind"].is_string());
        }
    }

    #[test]
    fn replay_terminal_in_scaled_real_time() {
        use guard_core::{AuthMethod, Identity, Resource, Timestamp};
        use guard_record::*;
        let sink = MemorySink::new();
        let start = SessionStart::new(
            "tty",
            Timestamp::from_unix_secs(0),
            Identity::new("bob", AuthMethod::Password),
            Resource::new("host", "ssh"),
            Protocol::Ssh,
            "gw",
        );
        let mut rec = SessionRecorder::start(sink.clone(), &RecorderConfig::new(), start).unwrap();
        for (t, s) in [
            (1_000_000u64, "$ "),
            (3_000_000, "ls\r\n"),
            (3_500_000, "a b\r\n"),
        ] {
            let data = guard_record::Bytes(s.as_bytes().to_vec());
            rec.record(
                t,
                &Event::Output(Output::ChannelData {
                    channel: 0,
                    stderr: false,
                    data,
                }),
            )
            .unwrap();
        }
        // Left unsealed on purpose: replay warns but still plays.
        drop(rec);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tty.jsonl");
        std::fs::write(&path, sink.contents()).unwrap();
        let mut args = replay_args(path);
        args.speed = 2.0;
        args.max_idle = Some(1.5);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut sleeps = Recorded(vec![]);
        replay(&args, &mut out, &mut err, &mut sleeps).unwrap();
        assert_eq!(out, b"$ ls\r\na b\r\n");
        assert!(String::from_utf8(err).unwrap().contains("truncated"));
        assert_eq!(
            sleeps.0,
            [
                Duration::from_millis(500),
                Duration::from_millis(750),
                Duration::from_millis(250)
            ]
        );
        args.speed = 0.0;
        assert!(replay(&args, &mut out, &mut Vec::new(), &mut sleeps).is_err());
    }
}
