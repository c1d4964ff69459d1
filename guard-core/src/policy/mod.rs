//! The policy: compiled once from a document, evaluated for every request.

mod compile;
mod document;
mod error;
mod index;
mod rule;

use std::time::Duration;

pub use error::{BuildError, Format};

use crate::{Decision, FactSchema, FactType, Facts, Grant, Identity, Resource, Timestamp, Verdict};
use index::Index;
use rule::{Action, Rule, Subject};

/// The largest policy document accepted, in bytes (checked before parsing).
pub const MAX_POLICY_BYTES: usize = 8 << 20;

/// What a policy decides when no allow, deny or approve rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DefaultAction {
    /// Refuse (the default: fail closed).
    #[default]
    Deny,
    /// Let it through.
    Allow,
}

/// One request to decide: who, on what, doing what, when, with which grants.
///
/// # Examples
///
/// ```
/// # use guard_core::*;
/// let id = Identity::new("alice", AuthMethod::Trust);
/// let db = Resource::new("db", "postgres");
/// let facts = Facts::new();
/// let grants: Vec<Grant> = Vec::new();
/// let req = Request::new(&id, &db, &facts, Timestamp::EPOCH).with_grants(&grants);
/// assert!(req.grants.is_empty());
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Request<'a> {
    /// Who is asking.
    pub identity: &'a Identity,
    /// What they are reaching.
    pub resource: &'a Resource,
    /// What they are doing, as facts from a protocol crate.
    pub facts: &'a Facts,
    /// The time of the request (the caller reads the clock).
    pub now: Timestamp,
    /// Grants to consider; those not active at `now`, for another subject or another resource
    /// are ignored, so passing every grant of the subject is safe.
    pub grants: &'a [Grant],
}

impl<'a> Request<'a> {
    /// A request without grants.
    pub fn new(
        identity: &'a Identity,
        resource: &'a Resource,
        facts: &'a Facts,
        now: Timestamp,
    ) -> Self {
        Self {
            identity,
            resource,
            facts,
            now,
            grants: &[],
        }
    }

    /// The same request with these grants.
    pub fn with_grants(mut self, grants: &'a [Grant]) -> Self {
        self.grants = grants;
        self
    }

    /// The same request with other facts (one request value per session, new facts per
    /// statement).
    pub fn with_facts(mut self, facts: &'a Facts) -> Self {
        self.facts = facts;
        self
    }
}

/// A summary of one compiled rule (for `guard-gateway check`, admin APIs and docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleInfo<'a> {
    /// The rule id.
    pub id: &'a str,
    /// Its description.
    pub description: &'a str,
    /// `allow`, `deny`, `approve` or `mask`.
    pub action: &'static str,
    /// Whether it only applies while a grant enables it.
    pub enabled_by_grant: bool,
    /// The fact names its matchers use, in document order.
    pub facts: Vec<&'static str>,
}

/// A compiled policy: immutable, `Send + Sync`, cheap to share behind an `Arc`. Reloading
/// means building a new one.
///
/// # Examples
///
/// ```
/// use guard_core::*;
///
/// static FACTS: &[FactDef] = &[FactDef::new("sql.statement", FactType::Str, "statement kind")];
/// let policy = Policy::builder()
///     .fact_schema(FACTS)
///     .build(r#"
///         [[rule]]
///         id = "no-drop"
///         action = "deny"
///         message = "DROP is not allowed here"
///         facts = { "sql.statement" = "drop" }
///     "#)
///     .unwrap();
/// assert_eq!(policy.len(), 1);
/// ```
#[derive(Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    index: Index,
    /// Every fact some rule reads, with its declared type, sorted by name.
    referenced: Vec<(&'static str, FactType)>,
    default: DefaultAction,
    default_message: String,
}

/// Builds a [`Policy`]: collects fact schemas and options, then compiles a document.
#[derive(Debug, Clone, Default)]
pub struct PolicyBuilder {
    schemas: Vec<FactSchema>,
    default: Option<DefaultAction>,
    format: Format,
}

impl PolicyBuilder {
    /// Adds the facts one protocol crate publishes (for example `guard_sql::FACTS`). Rules may
    /// only name facts of the schemas added.
    pub fn fact_schema(&mut self, schema: FactSchema) -> &mut Self {
        self.schemas.push(schema);
        self
    }

    /// What to decide when no deciding rule matches. Overrides the document's `default`;
    /// without either, the policy denies.
    pub fn default_action(&mut self, action: DefaultAction) -> &mut Self {
        self.default = Some(action);
        self
    }

    /// The document's syntax (TOML unless set; see [`Format::from_path`]).
    pub fn format(&mut self, format: Format) -> &mut Self {
        self.format = format;
        self
    }

    /// Compiles `source`.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the rule and its line and column: syntax errors and unknown
    /// fields, duplicate ids, unknown facts, type mismatches, bad globs and regexes, invalid
    /// actions or time windows; or [`BuildError::TooLarge`] before any parsing.
    pub fn build(&self, source: &str) -> Result<Policy, BuildError> {
        if source.len() > MAX_POLICY_BYTES {
            return Err(BuildError::TooLarge {
                len: source.len(),
                limit: MAX_POLICY_BYTES,
            });
        }
        let schema = compile::merge_schemas(&self.schemas)?;
        let doc = compile::parse(source, self.format)?;
        let compiled = compile::compile(source, doc, &schema)?;
        let default = self.default.unwrap_or(match compiled.default_allow {
            Some(true) => DefaultAction::Allow,
            _ => DefaultAction::Deny,
        });
        let index = Index::new(&compiled.rules);
        let mut referenced: Vec<(&'static str, FactType)> = compiled
            .rules
            .iter()
            .flat_map(|r| r.facts.iter().map(|f| (f.def.name, f.def.ty)))
            .collect();
        referenced.sort_unstable_by_key(|(n, _)| *n);
        referenced.dedup_by_key(|(n, _)| *n);
        Ok(Policy {
            rules: compiled.rules,
            index,
            referenced,
            default,
            default_message: compiled
                .default_message
                .unwrap_or_else(|| "no rule allows this".to_owned()),
        })
    }
}

impl Policy {
    /// A builder with no schemas, TOML syntax and no default override.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the policy has no rules (every decision is the default).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The default decision.
    pub fn default_action(&self) -> DefaultAction {
        self.default
    }

    /// The rules, in document order.
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(|r| RuleInfo {
            id: &r.id,
            description: &r.description,
            action: r.action.kind(),
            enabled_by_grant: r.enabled_by_grant,
            facts: r.facts.iter().map(|f| f.def.name).collect(),
        })
    }

    /// How many rules every request visits because the index cannot file them under a fact
    /// value (see DESIGN.md); the rest are visited only when the request's protocol and facts
    /// can match them.
    pub fn unindexed_rules(&self) -> usize {
        self.index.unindexed()
    }

    /// Decides one request. Never fails: anything unexpected (a fact whose type differs from
    /// its schema) is a deny with a reason.
    ///
    /// Every matching rule counts; deny beats approve beats allow; mask rules never decide but
    /// their profiles accumulate; when no deciding rule matches, the default decides.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        self.evaluate_with(req, true)
    }

    /// [`Policy::evaluate`], optionally visiting every rule instead of the index's candidates
    /// (tests check both give the same decision).
    fn evaluate_with(&self, req: &Request<'_>, use_index: bool) -> Decision {
        // Grants that apply: active at `now`, for this subject, on this resource.
        let mut extra_groups: Vec<&str> = Vec::new();
        let mut enabled: Vec<&str> = Vec::new();
        let mut grant_ids: Vec<String> = Vec::new();
        for g in req.grants {
            if g.applies_to(req.identity, req.resource, req.now) {
                extra_groups.extend(g.groups.iter().map(String::as_str));
                enabled.extend(g.rules.iter().map(String::as_str));
                grant_ids.push(g.id.clone());
            }
        }
        let subject = Subject {
            identity: req.identity,
            extra_groups: &extra_groups,
        };

        // A fact whose type differs from its schema (a protocol crate bug or a stale schema)
        // would make matchers silently miss: refuse instead.
        for (name, value) in req.facts.iter() {
            if let Ok(i) = self.referenced.binary_search_by(|(n, _)| (*n).cmp(name)) {
                let declared = self.referenced[i].1;
                if value.ty() != declared {
                    let message = format!(
                        "fact {name} is {}, but its schema declares {declared}",
                        value.ty()
                    );
                    return Decision {
                        explain: format!("denied: {message}"),
                        verdict: Verdict::Deny {
                            rules: Vec::new(),
                            message,
                        },
                        rules: Vec::new(),
                        masks: Vec::new(),
                        matched: Vec::new(),
                        grants: grant_ids,
                        defaulted: false,
                    };
                }
            }
        }

        let mut candidates = Vec::new();
        if use_index {
            let probe = index::Probe {
                protocol: &req.resource.protocol,
                subject: &req.identity.subject,
                groups: &req.identity.groups,
                extra_groups: &extra_groups,
                resource: &req.resource.name,
                facts: req.facts,
            };
            self.index.candidates(&probe, &mut candidates);
        } else {
            // Fewer than u32::MAX rules: see Index::new.
            candidates.extend((0..self.rules.len()).map(|i| u32::try_from(i).unwrap_or(u32::MAX)));
        }

        let mut matched = Vec::new();
        let (mut deny, mut approve, mut allow) = (Vec::new(), Vec::new(), Vec::new());
        let mut masks: Vec<String> = Vec::new();
        for &i in &candidates {
            let Some(rule) = self.rules.get(i as usize) else {
                continue;
            };
            if rule.enabled_by_grant && !enabled.contains(&rule.id.as_str()) {
                continue;
            }
            if !rule.matches(&subject, req.resource, req.facts, req.now) {
                continue;
            }
            matched.push(rule.id.clone());
            match &rule.action {
                Action::Deny => deny.push(rule),
                Action::Approve { .. } => approve.push(rule),
                Action::Allow => allow.push(rule),
                Action::Mask { profile } => {
                    if !masks.contains(profile) {
                        masks.push(profile.clone());
                    }
                }
            }
        }
        let ids = |rs: &[&Rule]| rs.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let mask_note = if masks.is_empty() {
            String::new()
        } else {
            format!("; masks: {}", masks.join(", "))
        };

        if !deny.is_empty() {
            let message = messages(&deny, |r| format!("denied by policy rule {}", r.id));
            let rules = ids(&deny);
            return Decision {
                explain: format!("denied by {}: {message}", name_rules(&rules)),
                verdict: Verdict::Deny {
                    rules: rules.clone(),
                    message,
                },
                rules,
                masks,
                matched,
                grants: grant_ids,
                defaulted: false,
            };
        }
        if !approve.is_empty() {
            let mut approvers: Vec<String> = Vec::new();
            let mut needed = 1;
            let mut timeout = Duration::MAX;
            for r in &approve {
                if let Action::Approve {
                    approvers: a,
                    needed: n,
                    timeout: t,
                } = &r.action
                {
                    for g in a {
                        if !approvers.contains(g) {
                            approvers.push(g.clone());
                        }
                    }
                    needed = needed.max(*n);
                    timeout = timeout.min(*t);
                }
            }
            let rules = ids(&approve);
            let message = messages(&approve, |_| String::new());
            let why = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            return Decision {
                explain: format!(
                    "approval by {needed} of [{}] needed by {}{why}{mask_note}",
                    approvers.join(", "),
                    name_rules(&rules)
                ),
                verdict: Verdict::Approve {
                    rules: rules.clone(),
                    approvers,
                    needed,
                    timeout,
                },
                rules,
                masks,
                matched,
                grants: grant_ids,
                defaulted: false,
            };
        }
        if !allow.is_empty() {
            let rules = ids(&allow);
            return Decision {
                explain: format!("allowed by {}{mask_note}", name_rules(&rules)),
                verdict: Verdict::Allow,
                rules,
                masks,
                matched,
                grants: grant_ids,
                defaulted: false,
            };
        }
        let (verdict, explain) = match self.default {
            DefaultAction::Allow => (
                Verdict::Allow,
                format!("allowed by default: no rule matched{mask_note}"),
            ),
            DefaultAction::Deny => (
                Verdict::Deny {
                    rules: Vec::new(),
                    message: self.default_message.clone(),
                },
                format!("denied by default: {}", self.default_message),
            ),
        };
        Decision {
            verdict,
            rules: Vec::new(),
            masks,
            matched,
            grants: grant_ids,
            defaulted: true,
            explain,
        }
    }
}

fn name_rules(rules: &[String]) -> String {
    if rules.len() == 1 {
        format!("rule {}", rules[0])
    } else {
        format!("rules {}", rules.join(", "))
    }
}

/// The rules' messages joined with "; ", using `fallback` for rules without one.
fn messages(rules: &[&Rule], fallback: impl Fn(&Rule) -> String) -> String {
    let mut out: Vec<String> = Vec::new();
    for r in rules {
        let m = r.message.clone().unwrap_or_else(|| fallback(r));
        if !m.is_empty() && !out.contains(&m) {
            out.push(m);
        }
    }
    out.join("; ")
}

#[cfg(test)]
mod tests;
