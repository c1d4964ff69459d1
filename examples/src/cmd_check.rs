//! `guard-gateway check --policy FILE` / `check --config FILE`: validate a policy document, or a
//! whole gateway configuration (and the policy, profiles, keys and files it names), and print a
//! summary.
//!
//! The policy is compiled exactly as the gateway compiles it (against the fact schemas of the
//! protocol crates), so a document that passes here loads there. Errors name the file, line,
//! column and rule, and the command exits with status 2.
//!
//! ```sh
//! cargo run -p guard-gateway -- check --policy examples/policy.toml
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use guard_core::{DefaultAction, FactSchema, Format, Policy};

/// The fact schemas every policy is compiled against.
pub(crate) const SCHEMAS: &[FactSchema] = &[guard_sql::FACTS];

/// Arguments of `guard-gateway check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// A policy document to validate (TOML, YAML or JSON, by extension; TOML otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// A gateway configuration to validate, with everything it names (policy, mask profiles,
    /// static users, JWKS files, TLS files, credentials).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Print every rule, not only the summary.
    #[arg(long)]
    pub(crate) rules: bool,
}

/// Runs `check`: prints the summary and returns when everything given is valid; prints the
/// reason on stderr and exits with status 2 when something is refused; returns an error
/// (status 1) for usage and IO errors.
pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<()> {
    if args.policy.is_none() && args.config.is_none() {
        anyhow::bail!("nothing to check: pass --policy FILE or --config FILE");
    }
    let mut refused = false;
    if let Some(path) = &args.policy {
        match check_policy(path, args.rules)? {
            Ok(summary) => print!("{summary}"),
            Err(message) => {
                eprintln!("{message}");
                refused = true;
            }
        }
    }
    if let Some(path) = &args.config {
        if !path.is_file() {
            anyhow::bail!("cannot read configuration {}", path.display());
        }
        // Every problem `check_config` reports (syntax with FILE:LINE:COLUMN, a policy or
        // profile it names, a missing secret file) is a refusal of the document: status 2.
        match guard_gateway::cli::check_config(path) {
            Ok(summary) => println!("{summary}"),
            Err(e) => {
                eprintln!("{e:#}");
                refused = true;
            }
        }
    }
    if refused {
        std::process::exit(2);
    }
    Ok(())
}

/// Compiles the policy at `path`: `Ok(Ok(summary))` when valid, `Ok(Err(message))` when the
/// document is refused (message starts with `FILE:LINE:COLUMN:`), `Err` when it cannot be read.
pub(crate) fn check_policy(
    path: &Path,
    list_rules: bool,
) -> anyhow::Result<Result<String, String>> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy {}", path.display()))?;
    let format = Format::from_path(path).unwrap_or(Format::Toml);
    let mut builder = Policy::builder();
    builder.format(format);
    for schema in SCHEMAS {
        builder.fact_schema(schema);
    }
    let policy = match builder.build(&source) {
        Ok(p) => p,
        Err(e) => {
            let at = match e.line_column() {
                Some((line, column)) => format!("{}:{line}:{column}", path.display()),
                None => path.display().to_string(),
            };
            return Ok(Err(format!("{at}: error: {e}")));
        }
    };
    Ok(Ok(summary(path, format, &policy, list_rules)))
}

fn summary(path: &Path, format: Format, policy: &Policy, list_rules: bool) -> String {
    let mut by_action: BTreeMap<&str, usize> = BTreeMap::new();
    let mut facts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut grant_only = 0;
    for r in policy.rules() {
        *by_action.entry(r.action).or_default() += 1;
        for f in &r.facts {
            *facts.entry(f).or_default() += 1;
        }
        grant_only += usize::from(r.enabled_by_grant);
    }
    let actions = ["allow", "deny", "approve", "mask"]
        .iter()
        .map(|a| format!("{} {a}", by_action.get(a).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ");
    let default = match policy.default_action() {
        DefaultAction::Allow => "allow",
        _ => "deny",
    };
    let mut out = format!(
        "{}: ok ({format}): {} rules ({actions}); default {default}\n",
        path.display(),
        policy.len()
    );
    if grant_only > 0 {
        out.push_str(&format!(
            "  {grant_only} rule(s) apply only while a grant enables them\n"
        ));
    }
    if !facts.is_empty() {
        let list = facts
            .iter()
            .map(|(f, n)| format!("{f} ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("  facts used: {list}\n"));
    }
    out.push_str(&format!(
        "  index: {} of {} rules are visited for every request\n",
        policy.unindexed_rules(),
        policy.len()
    ));
    if list_rules {
        for r in policy.rules() {
            let grant = if r.enabled_by_grant { " [grant]" } else { "" };
            out.push_str(&format!("  {:<8} {}{grant}", r.action, r.id));
            if !r.description.is_empty() {
                out.push_str(&format!(": {}", r.description));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_sample_policy_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.toml");
        let summary = check_policy(&path, true).unwrap().unwrap();
        assert!(
            summary.contains(": ok (TOML): 18 rules (5 allow, 9 deny, 2 approve, 2 mask)"),
            "{summary}"
        );
        assert!(summary.contains("sql.unbounded (1)"), "{summary}");
        assert!(summary.contains("break-glass-ddl [grant]"), "{summary}");
    }

    #[test]
    fn a_broken_policy_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "p.toml",
            "[[rule]]\nid = \"a\"\naction = \"deny\"\nfacts = { \"sql.statment\" = \"drop\" }\n",
        );
        let msg = check_policy(&p, false).unwrap().unwrap_err();
        assert!(msg.starts_with(&format!("{}:4:", p.display())), "{msg}");
        assert!(msg.contains("unknown fact \"sql.statment\""), "{msg}");

        let y = write(
            &dir,
            "p.yaml",
            "rules:\n  - id: b\n    action: allow\n    bogus: 1\n",
        );
        let msg = check_policy(&y, false).unwrap().unwrap_err();
        assert!(msg.starts_with(&format!("{}:4:", y.display())), "{msg}");
        assert!(msg.contains("rule \"b\""), "{msg}");

        assert!(check_policy(&dir.path().join("missing.toml"), false).is_err());
    }
}
