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
    /// Some rule has a time window.
    timed: bool,
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
        let timed = compiled.rules.iter().any(|r| r.time.is_some());
        Ok(Policy {
            timed,
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

    /// Whether a decision can change with the request's `now` alone: some rule has a time
    /// window. When it cannot, the decision is a function of the identity, the resource, the
    /// facts and the grants passed in, and a caller may reuse it for the same request (the
    /// gateway does, per session, while no grant is active).
    pub fn depends_on_time(&self) -> bool {
        self.timed
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
        if let Some((name, have, declared)) = self.mistyped(req.facts) {
            let message = format!("fact {name} is {have}, but its schema declares {declared}");
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

        let mut candidates = Ids::new();
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
            for i in 0..self.rules.len() {
                // Fewer than u32::MAX rules: see Index::new.
                candidates.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }

        // The matching rules, in document order, and how many of each deciding kind.
        let mut hits = Ids::new();
        let (mut denies, mut approves, mut allows) = (0usize, 0usize, 0usize);
        for &i in candidates.as_slice() {
            let Some(rule) = self.rules.get(i as usize) else {
                continue;
            };
            if rule.enabled_by_grant && !enabled.contains(&rule.id.as_str()) {
                continue;
            }
            if !rule.matches(&subject, req.resource, req.facts, req.now) {
                continue;
            }
            match rule.action {
                Action::Deny => denies += 1,
                Action::Approve { .. } => approves += 1,
                Action::Allow => allows += 1,
                Action::Mask { .. } => {}
            }
            hits.push(i);
        }
        let hit_rules = || {
            hits.as_slice()
                .iter()
                .filter_map(|&i| self.rules.get(i as usize))
        };
        let matched: Vec<String> = hit_rules().map(|r| r.id.clone()).collect();
        let mut masks: Vec<String> = Vec::new();
        for r in hit_rules() {
            if let Action::Mask { profile } = &r.action
                && !masks.contains(profile)
            {
                masks.push(profile.clone());
            }
        }
        let ids = |n: usize, kind: fn(&Action) -> bool| -> Vec<String> {
            let mut out = Vec::with_capacity(n);
            out.extend(
                hit_rules()
                    .filter(|r| kind(&r.action))
                    .map(|r| r.id.clone()),
            );
            out
        };

        if denies > 0 {
            let rules = ids(denies, |a| matches!(a, Action::Deny));
            let message = messages(hit_rules(), |a| matches!(a, Action::Deny), true);
            let mut explain = Explain::with_capacity(32 + message.len(), &rules);
            explain.push("denied by ");
            explain.rules(&rules);
            explain.push(": ");
            explain.push(&message);
            return Decision {
                explain: explain.0,
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
        if approves > 0 {
            let mut approvers: Vec<String> = Vec::new();
            let mut needed = 1;
            let mut timeout = Duration::MAX;
            for r in hit_rules() {
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
            let rules = ids(approves, |a| matches!(a, Action::Approve { .. }));
            let message = messages(hit_rules(), |a| matches!(a, Action::Approve { .. }), false);
            let mut explain = Explain::with_capacity(64 + message.len(), &rules);
            explain.push("approval by ");
            explain.push(itoa(needed, &mut [0; 10]));
            explain.push(" of [");
            explain.list(&approvers);
            explain.push("] needed by ");
            explain.rules(&rules);
            if !message.is_empty() {
                explain.push(": ");
                explain.push(&message);
            }
            explain.masks(&masks);
            return Decision {
                explain: explain.0,
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
        if allows > 0 {
            let rules = ids(allows, |a| matches!(a, Action::Allow));
            let mut explain = Explain::with_capacity(16, &rules);
            explain.push("allowed by ");
            explain.rules(&rules);
            explain.masks(&masks);
            return Decision {
                explain: explain.0,
                verdict: Verdict::Allow,
                rules,
                masks,
                matched,
                grants: grant_ids,
                defaulted: false,
            };
        }
        let (verdict, explain) = match self.default {
            DefaultAction::Allow => {
                let mut explain = Explain::with_capacity(40, &masks);
                explain.push("allowed by default: no rule matched");
                explain.masks(&masks);
                (Verdict::Allow, explain.0)
            }
            DefaultAction::Deny => {
                let mut explain = Explain::with_capacity(20 + self.default_message.len(), &[]);
                explain.push("denied by default: ");
                explain.push(&self.default_message);
                (
                    Verdict::Deny {
                        rules: Vec::new(),
                        message: self.default_message.clone(),
                    },
                    explain.0,
                )
            }
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

    /// The first fact (in name order) whose value's type differs from the type the policy's
    /// rules declare for it: (name, its type, the declared type).
    fn mistyped<'f>(&self, facts: &'f Facts) -> Option<(&'f str, FactType, FactType)> {
        // Both lists are sorted by name: walk them together.
        let mut declared = self.referenced.iter().peekable();
        for (name, value) in facts.iter() {
            while let Some((d, _)) = declared.peek() {
                if *d < name {
                    declared.next();
                } else {
                    break;
                }
            }
            match declared.peek() {
                Some((d, ty)) if *d == name => {
                    if value.ty() != *ty {
                        return Some((name, value.ty(), *ty));
                    }
                }
                Some(_) => {}
                None => return None,
            }
        }
        None
    }
}

/// Rule indices, kept inline up to a few dozen (the usual candidate count) so that a decision
/// does not allocate for them.
pub(crate) struct Ids {
    inline: [u32; Ids::INLINE],
    len: usize,
    spilled: Vec<u32>,
}

impl Ids {
    const INLINE: usize = 48;

    pub(crate) fn new() -> Self {
        Self {
            inline: [0; Self::INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, i: u32) {
        if self.spilled.is_empty() && self.len < Self::INLINE {
            self.inline[self.len] = i;
            self.len += 1;
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.push(i);
        }
    }

    pub(crate) fn extend_from_slice(&mut self, ids: &[u32]) {
        if self.spilled.is_empty() && self.len + ids.len() <= Self::INLINE {
            self.inline[self.len..self.len + ids.len()].copy_from_slice(ids);
            self.len += ids.len();
        } else {
            if self.spilled.is_empty() {
                self.spilled.extend_from_slice(&self.inline[..self.len]);
            }
            self.spilled.extend_from_slice(ids);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.spilled.clear();
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }

    /// Sorts ascending and removes duplicates.
    pub(crate) fn sort_dedup(&mut self) {
        if self.spilled.is_empty() {
            let s = &mut self.inline[..self.len];
            s.sort_unstable();
            let mut kept = 0;
            for i in 0..s.len() {
                if kept == 0 || s[i] != s[kept - 1] {
                    s[kept] = s[i];
                    kept += 1;
                }
            }
            self.len = kept;
        } else {
            self.spilled.sort_unstable();
            self.spilled.dedup();
        }
    }
}

/// An explanation sentence, written piece by piece (no format machinery on the hot path).
struct Explain(String);

impl Explain {
    fn with_capacity(fixed: usize, names: &[String]) -> Self {
        let names: usize = names.iter().map(|n| n.len() + 2).sum();
        Self(String::with_capacity(fixed + names + 16))
    }

    fn push(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn list(&mut self, items: &[String]) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.0.push_str(", ");
            }
            self.0.push_str(item);
        }
    }

    /// `rule a` or `rules a, b`.
    fn rules(&mut self, rules: &[String]) {
        self.0
            .push_str(if rules.len() == 1 { "rule " } else { "rules " });
        self.list(rules);
    }

    /// `; masks: a, b` when there are masks.
    fn masks(&mut self, masks: &[String]) {
        if !masks.is_empty() {
            self.0.push_str("; masks: ");
            self.list(masks);
        }
    }
}

/// The decimal digits of `n`, written into `buf`.
fn itoa(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        // n % 10 < 10, so the cast cannot truncate.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or("0")
}

/// The messages of the matching rules of one kind, joined with "; " without repeats; a deny
/// rule without a message says which rule denied (`fallback`), other kinds add nothing.
fn messages<'r>(
    hits: impl Iterator<Item = &'r Rule>,
    kind: fn(&Action) -> bool,
    fallback: bool,
) -> String {
    let mut seen: Vec<std::borrow::Cow<'r, str>> = Vec::new();
    for r in hits.filter(|r| kind(&r.action)) {
        let m: std::borrow::Cow<'_, str> = match &r.message {
            Some(m) => m.as_str().into(),
            None if fallback => format!("denied by policy rule {}", r.id).into(),
            None => continue,
        };
        if !m.is_empty() && !seen.contains(&m) {
            seen.push(m);
        }
    }
    seen.join("; ")
}

#[cfg(test)]
mod tests;
