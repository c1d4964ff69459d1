//! The serde schema of a policy document (one schema for TOML, YAML and JSON).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    /// Schema version; only 1 exists.
    #[serde(default)]
    pub(crate) version: Option<u32>,
    /// What happens when no allow/deny/approve rule matches.
    #[serde(default)]
    pub(crate) default: Option<DefaultDoc>,
    /// The message of a default deny.
    #[serde(default)]
    pub(crate) default_message: Option<String>,
    /// The rules, in document order (`[[rule]]` in TOML, `rules:` in YAML/JSON).
    #[serde(default, rename = "rule", alias = "rules")]
    pub(crate) rules: Vec<RuleDoc>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DefaultDoc {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ActionDoc {
    Allow,
    Deny,
    Approve,
    Mask,
}

/// One rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDoc {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) action: ActionDoc,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) approvers: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) needed: Option<u32>,
    #[serde(default)]
    pub(crate) timeout: Option<DurationDoc>,
    #[serde(default)]
    pub(crate) profile: Option<String>,
    #[serde(default)]
    pub(crate) enabled_by_grant: bool,
    #[serde(default)]
    pub(crate) identity: Option<IdentityDoc>,
    #[serde(default)]
    pub(crate) resource: Option<ResourceDoc>,
    /// Fact matchers, kept generic: nested tables (`sql.statement = ...` unquoted in TOML)
    /// are flattened into dotted names by the compiler.
    #[serde(default)]
    pub(crate) facts: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub(crate) time: Option<TimeDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum DurationDoc {
    Secs(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityDoc {
    #[serde(default)]
    pub(crate) subject: Option<OneOrMany>,
    #[serde(default)]
    pub(crate) groups_any: Vec<String>,
    #[serde(default)]
    pub(crate) groups_all: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceDoc {
    #[serde(default)]
    pub(crate) name: Option<OneOrMany>,
    #[serde(default)]
    pub(crate) protocol: Option<OneOrMany>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeDoc {
    #[serde(default)]
    pub(crate) days: Vec<String>,
    #[serde(default)]
    pub(crate) hours: Option<String>,
    #[serde(default)]
    pub(crate) utc_offset: Option<String>,
}
