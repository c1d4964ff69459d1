//! Profiles: which detectors run, how each is masked, custom detectors, column and JSON rules.

use std::collections::BTreeMap;

use crate::strategy::Strategy;

/// A masking profile: the document a gateway configuration names (deserializable from TOML,
/// YAML or JSON with feature `serde`).
///
/// ```toml
/// detectors = ["credit_card", "email", "us_ssn"]   # omit for the whole catalog
/// default_strategy = { kind = "redact" }
/// [strategies]
/// credit_card = { kind = "partial", keep_last = 4 }
/// [[custom]]
/// name = "employee_id"
/// regex = "EMP-[0-9]{6}"
/// max_len = 10
/// [[columns]]
/// column = "*.users.ssn"
/// strategy = { kind = "null" }
/// # max_region = 131072                          # bytes; the default
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
#[non_exhaustive]
pub struct Profile {
    /// Built-in detectors to run; `None` runs the whole catalog.
    pub detectors: Option<Vec<String>>,
    /// Built-in detectors to leave out (applied after `detectors`).
    pub disable: Vec<String>,
    /// The strategy for detectors without their own entry in `strategies`.
    pub default_strategy: Strategy,
    /// Strategy per detector name (built-in or custom).
    pub strategies: BTreeMap<String, Strategy>,
    /// Regex detectors from configuration.
    pub custom: Vec<CustomDetector>,
    /// Keyword-list detectors from configuration.
    pub keywords: Vec<KeywordList>,
    /// Column rules for the gateway: the first rule whose pattern matches wins.
    pub columns: Vec<ColumnRule>,
    /// JSON rules: values at matching key paths are masked whole.
    pub json: Vec<JsonRule>,
    /// The longest region of overlapping detections masked as one; a longer one is masked
    /// in pieces (see [`MaskerBuilder::max_region`](crate::MaskerBuilder::max_region)).
    /// `None`: [`DEFAULT_MAX_REGION`](crate::DEFAULT_MAX_REGION).
    pub max_region: Option<usize>,
}

/// A regex detector from configuration.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct CustomDetector {
    /// Name reported in findings and used in `strategies`.
    pub name: String,
    /// The regex (regex crate syntax; no look-arounds or backreferences).
    pub regex: String,
    /// The longest match, in bytes. Required: it bounds what a stream holds back. Matches are
    /// cut at this length when the regex itself is unbounded.
    pub max_len: usize,
    /// Words (ASCII case-insensitive) of which one must appear shortly before a match.
    #[cfg_attr(feature = "serde", serde(default))]
    pub context: Vec<String>,
    /// How many bytes before the match are searched for a context word (at most 256).
    #[cfg_attr(feature = "serde", serde(default = "default_context_window"))]
    pub context_window: usize,
    /// Winner rule priority (built-ins: secrets 100-120, cards 90, identifiers 75-85, e-mail
    /// 70, phone 60, network 50).
    #[cfg_attr(feature = "serde", serde(default = "default_priority"))]
    pub priority: u8,
}

impl CustomDetector {
    /// A custom regex detector with no context words and priority 60.
    pub fn new(name: impl Into<String>, regex: impl Into<String>, max_len: usize) -> Self {
        CustomDetector {
            name: name.into(),
            regex: regex.into(),
            max_len,
            context: Vec::new(),
            context_window: default_context_window(),
            priority: default_priority(),
        }
    }

    /// Requires one of `words` within `window` bytes before each match.
    pub fn with_context(mut self, words: &[&str], window: usize) -> Self {
        self.context = words.iter().map(|w| (*w).to_owned()).collect();
        self.context_window = window;
        self
    }
}

/// A keyword-list detector (aho-corasick): every occurrence of a listed word is masked.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct KeywordList {
    /// Name reported in findings and used in `strategies`.
    pub name: String,
    /// The words.
    pub words: Vec<String>,
    /// Match ignoring ASCII case.
    #[cfg_attr(feature = "serde", serde(default))]
    pub case_insensitive: bool,
    /// Only whole words (no letter or digit right before or after).
    #[cfg_attr(feature = "serde", serde(default = "yes"))]
    pub whole_word: bool,
    /// Context words, as for [`CustomDetector`].
    #[cfg_attr(feature = "serde", serde(default))]
    pub context: Vec<String>,
    /// Context window in bytes (at most 256).
    #[cfg_attr(feature = "serde", serde(default = "default_context_window"))]
    pub context_window: usize,
    /// Winner rule priority.
    #[cfg_attr(feature = "serde", serde(default = "default_priority"))]
    pub priority: u8,
}

impl KeywordList {
    /// A whole-word, case-sensitive keyword list with priority 60.
    pub fn new<S: AsRef<str>>(name: impl Into<String>, words: &[S]) -> Self {
        KeywordList {
            name: name.into(),
            words: words.iter().map(|w| w.as_ref().to_owned()).collect(),
            case_insensitive: false,
            whole_word: true,
            context: Vec::new(),
            context_window: default_context_window(),
            priority: default_priority(),
        }
    }
}

/// "Always mask this column with X": `column` is a glob (`*`, `?`, ASCII case-insensitive)
/// over the column name (`ssn`, `*_token`: the result column's or its source column's), or,
/// when it contains dots, over the last segments of the qualified source column (`users.ssn`,
/// `public.users.*`, `*.*.password`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct ColumnRule {
    /// The pattern.
    pub column: String,
    /// What replaces every value of a matching column.
    pub strategy: Strategy,
}

impl ColumnRule {
    /// A column rule.
    pub fn new(column: impl Into<String>, strategy: Strategy) -> Self {
        ColumnRule {
            column: column.into(),
            strategy,
        }
    }

    /// Whether a statement that refers to `columns` (the last part of each reference; `*`
    /// for every column, as in `SELECT *` or a whole-row reference) of the relations `tables`
    /// (as written: `t`, `s.t`) may compute a value from a column this rule masks. A computed
    /// result column (`reverse(ssn)`, a `UNION`, a CTE's expression) names no source column,
    /// so [`matches`](Self::matches) cannot see it: a caller masks such columns whole when
    /// this holds. A rule on a column name alone holds for any table; a qualified one only
    /// when a table of the statement can be its table (a table written without its schema
    /// can be in any schema). Views and functions are not looked into.
    pub fn may_be_read_by<T: AsRef<str>, C: AsRef<str>>(
        &self,
        tables: &[T],
        columns: &[C],
    ) -> bool {
        let (rel, col) = match self.column.rsplit_once('.') {
            Some((rel, col)) => (Some(rel), col),
            None => (None, self.column.as_str()),
        };
        let named = columns.iter().any(|c| {
            let c = c.as_ref();
            c == "*" || glob(col.as_bytes(), c.as_bytes())
        });
        named
            && rel.is_none_or(|rel| {
                tables.iter().any(|t| {
                    rel.rsplit('.')
                        .zip(t.as_ref().rsplit('.'))
                        .all(|(p, s)| glob(p.as_bytes(), s.as_bytes()))
                })
            })
    }

    /// Whether this rule applies to result column `column`, whose source is `qualified`
    /// (`schema.table.column`) when known. A rule on a column name alone matches the result
    /// column's name or the source column's own name, so `SELECT ssn AS x` is still `ssn`.
    pub fn matches(&self, column: &str, qualified: Option<&str>) -> bool {
        let pat = self.column.as_str();
        if !pat.contains('.') {
            let source = qualified.and_then(|q| q.rsplit('.').next());
            return std::iter::once(column)
                .chain(source)
                .any(|c| glob(pat.as_bytes(), c.as_bytes()));
        }
        let Some(q) = qualified else { return false };
        let ps: Vec<&str> = pat.split('.').collect();
        let qs: Vec<&str> = q.split('.').collect();
        if qs.len() < ps.len() {
            return false;
        }
        let tail = &qs[qs.len() - ps.len()..];
        ps.iter()
            .zip(tail)
            .all(|(p, s)| glob(p.as_bytes(), s.as_bytes()))
    }
}

/// A JSON rule: values at key paths matching `path` are masked whole with `strategy`.
///
/// Paths are dot-separated segments; `*` matches one key or array index, `**` any number of
/// them, other segments are globs: `data.*` (a Kubernetes Secret), `items.*.data.*`,
/// `**.password`.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct JsonRule {
    /// The key path pattern.
    pub path: String,
    /// What replaces the value.
    pub strategy: Strategy,
}

impl JsonRule {
    /// A JSON rule.
    pub fn new(path: impl Into<String>, strategy: Strategy) -> Self {
        JsonRule {
            path: path.into(),
            strategy,
        }
    }

    /// Whether the rule's path pattern matches `path` (keys and array indices).
    pub fn matches<S: AsRef<str>>(&self, path: &[S]) -> bool {
        let pat: Vec<&str> = self.path.split('.').collect();
        path_match(&pat, path)
    }
}

impl Profile {
    /// The strategy of the first column rule matching `column` (and `qualified`, the
    /// `schema.table.column` the value comes from, when known).
    pub fn column_rule(&self, column: &str, qualified: Option<&str>) -> Option<&Strategy> {
        self.columns
            .iter()
            .find(|r| r.matches(column, qualified))
            .map(|r| &r.strategy)
    }
}

fn path_match<S: AsRef<str>>(pat: &[&str], path: &[S]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|k| path_match(rest, &path[k..])),
        Some((p, rest)) => match path.split_first() {
            Some((s, tail)) => glob(p.as_bytes(), s.as_ref().as_bytes()) && path_match(rest, tail),
            None => false,
        },
    }
}

/// `*` and `?` glob, ASCII case-insensitive.
pub(crate) fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

fn default_context_window() -> usize {
    32
}
fn default_priority() -> u8 {
    60
}
#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_by_statements() {
        let none: [&str; 0] = [];
        let name = ColumnRule::new("ssn", Strategy::Null);
        assert!(name.may_be_read_by(&none, &["ssn"]));
        assert!(name.may_be_read_by(&["anything"], &["SSN"]));
        assert!(name.may_be_read_by(&["t"], &["*"]));
        assert!(!name.may_be_read_by(&["customers"], &["id", "ssn_hash"]));
        let q = ColumnRule::new("*.customers.ssn", Strategy::Null);
        assert!(q.may_be_read_by(&["customers"], &["ssn"]));
        assert!(q.may_be_read_by(&["orders", "public.customers"], &["id", "ssn"]));
        assert!(q.may_be_read_by(&["shop.public.customers"], &["*"]));
        assert!(
            !q.may_be_read_by(&["orders"], &["ssn"]),
            "another table's ssn"
        );
        assert!(!q.may_be_read_by(&none, &["ssn"]));
        assert!(!q.may_be_read_by(&["customers"], &["id", "name"]));
        let t = ColumnRule::new("customers.card*", Strategy::Null);
        assert!(t.may_be_read_by(&["x.customers"], &["card_number"]));
        assert!(!t.may_be_read_by(&["customers_archive"], &["card_number"]));
        let s = ColumnRule::new("billing.customers.ssn", Strategy::Null);
        assert!(
            s.may_be_read_by(&["customers"], &["ssn"]),
            "schema unknown: may be it"
        );
        assert!(s.may_be_read_by(&["billing.customers"], &["ssn"]));
        assert!(!s.may_be_read_by(&["public.customers"], &["ssn"]));
        let all = ColumnRule::new("public.users.*", Strategy::Null);
        assert!(all.may_be_read_by(&["users"], &["created_at"]));
        assert!(!all.may_be_read_by(&["users"], &none));
    }

    #[test]
    fn globs_and_rules() {
        assert!(glob(b"*_token", b"API_TOKEN"));
        assert!(!glob(b"*_token", b"tokens"));
        let mut p = Profile::default();
        p.columns.push(ColumnRule::new("ssn", Strategy::Null));
        p.columns
            .push(ColumnRule::new("public.users.*", Strategy::partial(2)));
        p.columns
            .push(ColumnRule::new("*.card_*", Strategy::redact()));
        assert_eq!(p.column_rule("SSN", None), Some(&Strategy::Null));
        assert_eq!(
            p.column_rule("name", Some("public.users.name")),
            Some(&Strategy::partial(2))
        );
        assert_eq!(p.column_rule("name", Some("other.users.name")), None);
        assert_eq!(
            p.column_rule("card_no", Some("s.orders.card_no")),
            Some(&Strategy::redact())
        );
        assert_eq!(p.column_rule("name", None), None);
        // A name rule holds for the source column under another name (an alias).
        assert_eq!(
            p.column_rule("x", Some("hr.people.ssn")),
            Some(&Strategy::Null)
        );
        assert_eq!(p.column_rule("x", Some("hr.people.name")), None);
        let r = JsonRule::new("items.*.data.*", Strategy::redact());
        assert!(r.matches(&["items", "0", "data", "password"]));
        assert!(!r.matches(&["items", "0", "data"]));
        assert!(JsonRule::new("**.password", Strategy::redact()).matches(&["a", "b", "password"]));
    }
}
