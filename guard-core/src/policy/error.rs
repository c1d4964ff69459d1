//! [`BuildError`]: why a policy document was refused.

use std::fmt;

/// The syntax of a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// TOML (rules as `[[rule]]` tables).
    #[default]
    Toml,
    /// YAML (rules as a `rules:` list).
    Yaml,
    /// JSON (rules as a `"rules"` array).
    Json,
}

impl Format {
    /// The format a file name's extension implies (`.toml`, `.yaml`/`.yml`, `.json`).
    ///
    /// # Examples
    ///
    /// ```
    /// use guard_core::Format;
    /// assert_eq!(Format::from_path("policy.yml"), Some(Format::Yaml));
    /// assert_eq!(Format::from_path("policy.txt"), None);
    /// ```
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Option<Format> {
        let ext = path.as_ref().extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Toml => "TOML",
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        })
    }
}

/// Why a policy document was refused. Always the policy author's fault (the gateway refuses
/// to start or reload, exit status 2 for `guard-gateway check`, HTTP 400 for an admin API).
///
/// Every variant about a rule names the rule's id and a 1-based line and column: for syntax
/// errors the parser's position, otherwise the position of the rule's id (or of the offending
/// fact name within the rule, when it can be found).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The document is larger than [`MAX_POLICY_BYTES`](crate::MAX_POLICY_BYTES).
    #[error("policy document is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The document does not parse, or does not fit the schema (unknown field, wrong type).
    #[error("{format} error at line {line}, column {column}{}{}: {message}",
        fmt_rule(.rule.as_deref()), fmt_path(path))]
    Syntax {
        /// The document's format.
        format: Format,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The rule it happened in, when known.
        rule: Option<String>,
        /// Where in the document, such as `rule[2].facts` (empty when unknown).
        path: String,
        /// What the parser reported.
        message: String,
    },
    /// The document's `version` is not 1.
    #[error("unsupported policy version {version}, expected 1")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// Two rules have the same id.
    #[error("rule {rule:?} at line {line}, column {column}: id used by an earlier rule")]
    DuplicateId {
        /// The id.
        rule: String,
        /// 1-based line of the second use.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A matcher names a fact no schema declares.
    #[error("rule {rule:?} at line {line}, column {column}: unknown fact {fact:?}")]
    UnknownFact {
        /// The rule.
        rule: String,
        /// The fact name.
        fact: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A matcher compares a fact with a value or operator that does not fit its type.
    #[error("rule {rule:?} at line {line}, column {column}: fact {fact:?}: {message}")]
    TypeMismatch {
        /// The rule.
        rule: String,
        /// The fact name.
        fact: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// A glob or regular expression does not compile.
    #[error("rule {rule:?} at line {line}, column {column}: bad pattern {pattern:?}: {message}")]
    BadPattern {
        /// The rule.
        rule: String,
        /// The pattern.
        pattern: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the compiler reported.
        message: String,
    },
    /// Anything else wrong with a rule: action fields, time windows, durations, ids.
    #[error("rule {rule:?} at line {line}, column {column}: {message}")]
    InvalidRule {
        /// The rule.
        rule: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Two fact schemas handed to the builder declare the same name differently.
    #[error("fact {fact:?} is declared twice with different types")]
    SchemaConflict {
        /// The fact name.
        fact: String,
    },
}

impl BuildError {
    /// The rule the error is about, if any.
    pub fn rule(&self) -> Option<&str> {
        match self {
            BuildError::Syntax { rule, .. } => rule.as_deref(),
            BuildError::DuplicateId { rule, .. }
            | BuildError::UnknownFact { rule, .. }
            | BuildError::TypeMismatch { rule, .. }
            | BuildError::BadPattern { rule, .. }
            | BuildError::InvalidRule { rule, .. } => Some(rule),
            BuildError::TooLarge { .. }
            | BuildError::UnsupportedVersion { .. }
            | BuildError::SchemaConflict { .. } => None,
        }
    }

    /// The 1-based line and column the error points at, if any.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match self {
            BuildError::Syntax { line, column, .. }
            | BuildError::DuplicateId { line, column, .. }
            | BuildError::UnknownFact { line, column, .. }
            | BuildError::TypeMismatch { line, column, .. }
            | BuildError::BadPattern { line, column, .. }
            | BuildError::InvalidRule { line, column, .. } => Some((*line, *column)),
            BuildError::TooLarge { .. }
            | BuildError::UnsupportedVersion { .. }
            | BuildError::SchemaConflict { .. } => None,
        }
    }

    /// HTTP status an admin API answers with when a submitted policy is refused.
    pub fn http_status(&self) -> u16 {
        match self {
            BuildError::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

fn fmt_rule(rule: Option<&str>) -> String {
    rule.map(|r| format!(" in rule {r:?}")).unwrap_or_default()
}

fn fmt_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(" ({path})")
    }
}
