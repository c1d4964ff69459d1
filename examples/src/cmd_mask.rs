//! `guard-gateway mask`: masks standard input to standard output, or reports findings.
//!
//! ```text
//! guard-gateway mask [--profile FILE] [--findings] [--detectors a,b] [--strategy S]
//! ```
//!
//! With `--findings`, one JSON object per line, in input order:
//! `{"start": S, "end": E, "detector": "NAME"}` (byte offsets into the input, E exclusive)
//! for each region that would be masked; overlapping detections are merged into one region
//! named after the winner (highest priority, then longest, then earliest).

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use guard_mask::{Masker, Profile, Strategy};

/// Arguments of `guard-gateway mask`.
#[derive(Debug, clap::Args)]
pub(crate) struct MaskArgs {
    /// Masking profile (TOML, or JSON when the file name ends in .json).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Write findings as JSON lines instead of the masked stream.
    #[arg(long)]
    findings: bool,
    /// Built-in detectors to run, comma-separated (default: the profile's, or all).
    #[arg(long, value_delimiter = ',')]
    detectors: Vec<String>,
    /// Strategy for every detector: redact[:LABEL], partial[:N], hash[:LEN], shape, null,
    /// empty.
    #[arg(long)]
    strategy: Option<Strategy>,
    /// File holding the key for hash and shape (default: $GUARD_MASK_KEY).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Read size in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    chunk: usize,
    /// List the built-in detectors and exit.
    #[arg(long)]
    list: bool,
}

/// Runs `guard-gateway mask`.
pub(crate) fn run(args: MaskArgs) -> anyhow::Result<()> {
    if args.list {
        for name in guard_mask::builtin_names() {
            println!(
                "{name:<22} {}",
                guard_mask::describe(name).unwrap_or_default()
            );
        }
        return Ok(());
    }
    let mut profile = match &args.profile {
        Some(path) => load_profile(path)?,
        None => Profile::default(),
    };
    if !args.detectors.is_empty() {
        profile.detectors = Some(args.detectors.clone());
    }
    if let Some(s) = &args.strategy {
        profile.default_strategy = s.clone();
        profile.strategies.clear();
    }
    let key = match &args.key_file {
        Some(p) => std::fs::read(p).with_context(|| format!("reading key file {}", p.display()))?,
        None => std::env::var("GUARD_MASK_KEY")
            .map(String::into_bytes)
            .unwrap_or_default(),
    };
    let masker = Masker::builder().profile(profile).hash_key(&key).build()?;

    let mut stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    // Masked chunks (about `--chunk` bytes each) are larger than this buffer and go straight
    // to stdout without another copy; findings lines and small reads are gathered here.
    let mut w = std::io::BufWriter::with_capacity(16 * 1024, stdout);
    let mut s = masker.stream();
    let mut buf = vec![0u8; args.chunk.max(1)];
    let mut out = Vec::with_capacity(buf.len() + 4096);
    let mut found = Vec::new();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading standard input"),
        };
        if args.findings {
            s.push_findings(&buf[..n], &mut found);
            write_findings(&mut w, &mut found)?;
        } else {
            s.push(&buf[..n], &mut out);
            w.write_all(&out)?;
            out.clear();
        }
    }
    if args.findings {
        s.finish_findings(&mut found);
        write_findings(&mut w, &mut found)?;
    } else {
        s.finish(&mut out);
        w.write_all(&out)?;
    }
    w.flush()?;
    Ok(())
}

fn write_findings(w: &mut impl Write, found: &mut Vec<guard_mask::Finding>) -> anyhow::Result<()> {
    for f in found.drain(..) {
        writeln!(
            w,
            "{{\"start\": {}, \"end\": {}, \"detector\": {}}}",
            f.start,
            f.end,
            serde_json::to_string(&*f.detector)?
        )?;
    }
    Ok(())
}

fn load_profile(path: &std::path::Path) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading profile {}", path.display()))?;
    let profile = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
    };
    Ok(profile)
}
