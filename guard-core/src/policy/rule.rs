//! Compiled rules and how one rule matches a request.

use std::time::Duration;

use globset::GlobMatcher;
use regex::Regex;

use crate::{FactDef, FactValue, Facts, Identity, Resource, Timestamp};

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) action: Action,
    pub(crate) message: Option<String>,
    pub(crate) enabled_by_grant: bool,
    pub(crate) subjects: Vec<Pattern>,
    pub(crate) groups_any: Vec<String>,
    pub(crate) groups_all: Vec<String>,
    pub(crate) names: Vec<Pattern>,
    pub(crate) protocols: Vec<String>,
    pub(crate) labels: Vec<(String, Vec<Pattern>)>,
    pub(crate) facts: Vec<FactCheck>,
    pub(crate) time: Option<TimeWindow>,
}

#[derive(Debug)]
pub(crate) enum Action {
    Allow,
    Deny,
    Approve {
        approvers: Vec<String>,
        needed: u32,
        timeout: Duration,
    },
    Mask {
        profile: String,
    },
}

impl Action {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Approve { .. } => "approve",
            Action::Mask { .. } => "mask",
        }
    }
}

/// A compiled glob. Most patterns in policies are literals, prefixes (`payments-*`) or
/// suffixes (`*-prod`): those are matched without running the glob automaton.
#[derive(Debug)]
pub(crate) enum Pattern {
    /// `*`
    Any,
    /// No metacharacter.
    Literal(String),
    /// `abc*` with no other metacharacter.
    Prefix(String),
    /// `*abc` with no other metacharacter.
    Suffix(String),
    /// Anything else (globset syntax).
    Glob(GlobMatcher),
}

impl Pattern {
    /// Classifies `pattern`, using `compiled` (the pattern compiled by globset, which also
    /// validated it) when no fast form applies.
    pub(crate) fn new(pattern: &str, compiled: GlobMatcher) -> Self {
        let meta = is_glob_meta;
        if pattern == "*" {
            return Pattern::Any;
        }
        if !pattern.contains(meta) {
            return Pattern::Literal(pattern.to_owned());
        }
        if let Some(prefix) = pattern.strip_suffix('*')
            && !prefix.contains(meta)
        {
            return Pattern::Prefix(prefix.to_owned());
        }
        if let Some(suffix) = pattern.strip_prefix('*')
            && !suffix.contains(meta)
        {
            return Pattern::Suffix(suffix.to_owned());
        }
        Pattern::Glob(compiled)
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Literal(l) => s == l,
            Pattern::Prefix(p) => s.starts_with(p.as_str()),
            Pattern::Suffix(p) => s.ends_with(p.as_str()),
            Pattern::Glob(g) => g.is_match(s),
        }
    }

    /// The literal text, if the pattern has no metacharacter (the index files such rules).
    pub(crate) fn literal(&self) -> Option<&str> {
        match self {
            Pattern::Literal(l) => Some(l),
            _ => None,
        }
    }

    /// A non-empty text every matching string starts with, if the pattern has one (the index
    /// files glob matchers under it). For a general glob it is the text before the first
    /// metacharacter (globset's `a/**` and `a/**/b` need the `/`: they match `a/` and `a/b`,
    /// never `a`), so it may be shorter than the longest such text but is never wrong.
    pub(crate) fn literal_prefix(&self) -> Option<&str> {
        let prefix = match self {
            Pattern::Any | Pattern::Suffix(_) => return None,
            Pattern::Literal(l) => l.as_str(),
            Pattern::Prefix(p) => p.as_str(),
            Pattern::Glob(g) => {
                let text = g.glob().glob();
                let end = text.find(is_glob_meta).unwrap_or(text.len());
                &text[..end]
            }
        };
        (!prefix.is_empty()).then_some(prefix)
    }
}

/// Whether `c` has a meaning in globset syntax (anything else matches itself).
fn is_glob_meta(c: char) -> bool {
    matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\')
}

/// One `facts` entry: a fact and the condition its value must meet.
#[derive(Debug)]
pub(crate) struct FactCheck {
    pub(crate) def: FactDef,
    pub(crate) cond: Cond,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar {
    Str(String),
    Bool(bool),
    Int(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug)]
pub(crate) struct GlobPat {
    pub(crate) matcher: Pattern,
    /// Whether the pattern names a qualified name (contains a dot): on a fact holding
    /// qualified names, an unqualified pattern is matched against the last part only.
    pub(crate) qualified: bool,
}

#[derive(Debug)]
pub(crate) enum Cond {
    Equals(Scalar),
    In(Vec<Scalar>),
    Glob(Vec<GlobPat>),
    Regex(Regex),
    Exists(bool),
    Cmp(CmpOp, i64),
    ContainsAny(Vec<String>),
    ContainsAll(Vec<String>),
    Not(Box<Cond>),
    All(Vec<Cond>),
}

/// The local time window in which a rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    /// Bit `d` set: the rule applies on weekday `d` (0 = Monday).
    pub(crate) days: u8,
    /// Minutes since local midnight, start inclusive, end exclusive; start > end wraps midnight.
    pub(crate) minutes: Option<(u32, u32)>,
    /// Offset of local time from UTC, in seconds.
    pub(crate) offset_secs: i64,
}

impl TimeWindow {
    pub(crate) fn contains(&self, now: Timestamp) -> bool {
        let local = now.as_unix_secs().saturating_add(self.offset_secs);
        let day_number = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (weekday 3 when Monday is 0).
        let weekday = (day_number + 3).rem_euclid(7) as u8;
        if self.days & (1 << weekday) == 0 {
            return false;
        }
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        match self.minutes {
            None => true,
            Some((start, end)) if start <= end => start <= minute && minute < end,
            Some((start, end)) => minute >= start || minute < end,
        }
    }
}

/// What one evaluation knows besides the request: groups added by grants.
pub(crate) struct Subject<'a> {
    pub(crate) identity: &'a Identity,
    pub(crate) extra_groups: &'a [&'a str],
}

impl Subject<'_> {
    fn in_group(&self, g: &str) -> bool {
        self.identity.in_group(g) || self.extra_groups.contains(&g)
    }
}

impl Rule {
    /// Whether every matcher of the rule holds. Cheapest checks first.
    pub(crate) fn matches(
        &self,
        subject: &Subject<'_>,
        resource: &Resource,
        facts: &Facts,
        now: Timestamp,
    ) -> bool {
        if !self.protocols.is_empty() && !self.protocols.contains(&resource.protocol) {
            return false;
        }
        if !self.names.is_empty() && !self.names.iter().any(|g| g.is_match(&resource.name)) {
            return false;
        }
        for (key, pats) in &self.labels {
            match resource.labels.get(key) {
                Some(v) if pats.iter().any(|g| g.is_match(v)) => {}
                _ => return false,
            }
        }
        if !self.subjects.is_empty()
            && !self
                .subjects
                .iter()
                .any(|g| g.is_match(&subject.identity.subject))
        {
            return false;
        }
        if !self.groups_any.is_empty() && !self.groups_any.iter().any(|g| subject.in_group(g)) {
            return false;
        }
        if !self.groups_all.iter().all(|g| subject.in_group(g)) {
            return false;
        }
        if let Some(w) = &self.time
            && !w.contains(now)
        {
            return false;
        }
        for check in &self.facts {
            // Types were checked against the schema before any rule was visited.
            if !check
                .cond
                .eval(facts.get(check.def.name), check.def.qualified)
            {
                return false;
            }
        }
        true
    }
}

impl Cond {
    /// Whether the condition holds for `value` (None: the fact is absent). The value's type
    /// was checked against the schema by the caller.
    pub(crate) fn eval(&self, value: Option<&FactValue>, qualified: bool) -> bool {
        match self {
            Cond::Exists(want) => value.is_some() == *want,
            Cond::Not(inner) => !inner.eval(value, qualified),
            Cond::All(all) => all.iter().all(|c| c.eval(value, qualified)),
            _ => match value {
                None => false,
                Some(v) => self.eval_present(v, qualified),
            },
        }
    }

    fn eval_present(&self, v: &FactValue, qualified: bool) -> bool {
        match self {
            Cond::Equals(s) => scalar_matches(s, v, qualified),
            Cond::In(set) => set.iter().any(|s| scalar_matches(s, v, qualified)),
            Cond::Glob(pats) => each_str(v, |x| pats.iter().any(|p| glob_matches(p, x, qualified))),
            Cond::Regex(re) => each_str(v, |x| re.is_match(x)),
            Cond::Cmp(op, n) => {
                let have = match v {
                    FactValue::Int(i) => *i,
                    FactValue::List(l) => i64::try_from(l.len()).unwrap_or(i64::MAX),
                    _ => return false,
                };
                match op {
                    CmpOp::Gt => have > *n,
                    CmpOp::Ge => have >= *n,
                    CmpOp::Lt => have < *n,
                    CmpOp::Le => have <= *n,
                }
            }
            Cond::ContainsAny(names) => {
                each_str(v, |x| names.iter().any(|n| name_eq(n, x, qualified)))
            }
            Cond::ContainsAll(names) => match v {
                FactValue::List(l) => names
                    .iter()
                    .all(|n| l.iter().any(|x| name_eq(n, x, qualified))),
                FactValue::Str(x) => names.iter().all(|n| name_eq(n, x, qualified)),
                _ => false,
            },
            Cond::Exists(_) | Cond::Not(_) | Cond::All(_) => self.eval(Some(v), qualified),
        }
    }
}

/// A string value matches if it does; a list matches if any element does.
fn each_str(v: &FactValue, mut f: impl FnMut(&str) -> bool) -> bool {
    match v {
        FactValue::Str(s) => f(s),
        FactValue::List(l) => l.iter().any(|s| f(s)),
        _ => false,
    }
}

fn scalar_matches(s: &Scalar, v: &FactValue, qualified: bool) -> bool {
    match (s, v) {
        (Scalar::Str(want), v) => each_str(v, |x| name_eq(want, x, qualified)),
        (Scalar::Bool(want), FactValue::Bool(b)) => want == b,
        (Scalar::Int(want), FactValue::Int(i)) => want == i,
        _ => false,
    }
}

/// Equality of a pattern name and a value. On facts holding qualified names
/// ([`FactDef::qualified`]) an unqualified pattern (`users`) matches the value in any schema
/// (`users`, `public.users`), a qualified one (`public.users`) only that one; parts compare
/// ASCII-case-insensitively with double quotes removed.
pub(crate) fn name_eq(pattern: &str, value: &str, qualified: bool) -> bool {
    if !qualified {
        return pattern == value;
    }
    if pattern.contains('.') {
        let mut p = pattern.split('.');
        let mut v = value.split('.');
        loop {
            match (p.next(), v.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if part_eq(a, b) => {}
                _ => return false,
            }
        }
    } else {
        part_eq(pattern, last_part(value))
    }
}

fn glob_matches(p: &GlobPat, value: &str, qualified: bool) -> bool {
    if qualified && !p.qualified {
        p.matcher.is_match(last_part(value))
    } else {
        p.matcher.is_match(value)
    }
}

/// The text after the last dot (all of it without a dot). A byte scan: cheaper than
/// `rsplit` for the short names facts hold, and a dot is never inside a multi-byte character.
pub(crate) fn last_part(value: &str) -> &str {
    match value.bytes().rposition(|b| b == b'.') {
        Some(dot) => &value[dot + 1..],
        None => value,
    }
}

fn part_eq(a: &str, b: &str) -> bool {
    a.trim_matches('"')
        .eq_ignore_ascii_case(b.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_parts() {
        assert_eq!(last_part("db.public.users"), "users");
        assert_eq!(last_part("users"), "users");
        assert_eq!(last_part("public."), "");
        assert_eq!(last_part(".users"), "users");
        assert_eq!(last_part("schéma.tâble"), "tâble");
        assert_eq!(last_part(""), "");
    }

    #[test]
    fn qualified_names() {
        assert!(name_eq("users", "users", true));
        assert!(name_eq("users", "public.users", true));
        assert!(name_eq("users", "db.public.users", true));
        assert!(name_eq("users", "\"Users\"", true));
        assert!(name_eq("public.users", "public.users", true));
        assert!(name_eq("public.users", "PUBLIC.\"users\"", true));
        assert!(!name_eq("public.users", "users", true));
        assert!(!name_eq("public.users", "audit.users", true));
        assert!(!name_eq("users", "public.users", false));
        assert!(!name_eq("users", "users_old", true));
    }

    #[test]
    fn time_window_weekday_and_hours() {
        // 2024-01-01 00:00 UTC was a Monday.
        let monday = Timestamp::from_unix_secs(1_704_067_200);
        let w = TimeWindow {
            days: 1,
            minutes: Some((9 * 60, 17 * 60)),
            offset_secs: 0,
        };
        assert!(!w.contains(monday));
        assert!(w.contains(monday.saturating_add(Duration::from_secs(9 * 3600))));
        assert!(!w.contains(monday.saturating_add(Duration::from_secs(17 * 3600))));
        // Tuesday is not in the mask.
        assert!(!w.contains(monday.saturating_add(Duration::from_secs(34 * 3600))));
        // +02:00: 07:00 UTC is 09:00 local.
        let w2 = TimeWindow {
            offset_secs: 7200,
            ..w.clone()
        };
        assert!(w2.contains(monday.saturating_add(Duration::from_secs(7 * 3600))));
        // A window across midnight.
        let night = TimeWindow {
            days: 0x7f,
            minutes: Some((22 * 60, 6 * 60)),
            offset_secs: 0,
        };
        assert!(night.contains(monday.saturating_add(Duration::from_secs(3600))));
        assert!(night.contains(monday.saturating_add(Duration::from_secs(23 * 3600))));
        assert!(!night.contains(monday.saturating_add(Duration::from_secs(12 * 3600))));
    }
}
