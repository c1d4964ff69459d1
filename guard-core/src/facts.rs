//! Facts: the protocol-neutral description of one action.
//!
//! A protocol crate (guard-sql, guard-k8s, guard-ssh) turns one request into [`Facts`]: a map from
//! namespaced names such as `sql.statement` or `k8s.verb` to typed values. Policies are written
//! against fact names, so one policy language covers every protocol.
//!
//! Each protocol crate publishes the names and types it produces as a [`FactSchema`]; the
//! embedding program hands the union of schemas to the policy compiler, which refuses rules that
//! name an unknown fact or compare a fact with a value of the wrong type.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The type of a fact's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactType {
    /// A UTF-8 string.
    Str,
    /// A list of strings (for example the tables a statement writes).
    List,
    /// A boolean.
    Bool,
    /// A signed 64-bit integer.
    Int,
}

impl fmt::Display for FactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FactType::Str => "string",
            FactType::List => "list of strings",
            FactType::Bool => "boolean",
            FactType::Int => "integer",
        })
    }
}

/// One typed fact value.
///
/// Serialized as the plain JSON value: a string, an array of strings, a boolean or an integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    /// A string value.
    Str(String),
    /// A list of strings, in the order the protocol crate found them.
    List(Vec<String>),
    /// A boolean value.
    Bool(bool),
    /// An integer value.
    Int(i64),
}

impl FactValue {
    /// The type of this value.
    pub fn ty(&self) -> FactType {
        match self {
            FactValue::Str(_) => FactType::Str,
            FactValue::List(_) => FactType::List,
            FactValue::Bool(_) => FactType::Bool,
            FactValue::Int(_) => FactType::Int,
        }
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FactValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list, if this is a list value.
    pub fn as_list(&self) -> Option<&[String]> {
        match self {
            FactValue::List(l) => Some(l),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FactValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            FactValue::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for FactValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactValue::Str(s) => f.write_str(s),
            FactValue::List(l) => write!(f, "[{}]", l.join(", ")),
            FactValue::Bool(b) => write!(f, "{b}"),
            FactValue::Int(i) => write!(f, "{i}"),
        }
    }
}

impl From<&str> for FactValue {
    fn from(v: &str) -> Self {
        FactValue::Str(v.to_owned())
    }
}

impl From<String> for FactValue {
    fn from(v: String) -> Self {
        FactValue::Str(v)
    }
}

impl From<Vec<String>> for FactValue {
    fn from(v: Vec<String>) -> Self {
        FactValue::List(v)
    }
}

impl From<&[&str]> for FactValue {
    fn from(v: &[&str]) -> Self {
        FactValue::List(v.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<bool> for FactValue {
    fn from(v: bool) -> Self {
        FactValue::Bool(v)
    }
}

impl From<i64> for FactValue {
    fn from(v: i64) -> Self {
        FactValue::Int(v)
    }
}

/// The facts of one action: namespaced names mapped to typed values.
///
/// Names are kept in sorted order, so iteration and `Debug` output are deterministic.
///
/// # Examples
///
/// ```
/// use guard_core::{FactValue, Facts};
///
/// let mut facts = Facts::new();
/// facts.insert("sql.statement", "delete");
/// facts.insert("sql.unbounded", true);
/// facts.insert("sql.tables.write", vec!["users".to_owned()]);
/// assert_eq!(facts.get("sql.statement"), Some(&FactValue::from("delete")));
/// assert_eq!(facts.len(), 3);
/// ```
///
/// Serialized as a JSON object from names to plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Facts {
    map: BTreeMap<Cow<'static, str>, FactValue>,
}

impl Facts {
    /// An empty set of facts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing any earlier value, and returns `&mut self` for chaining.
    pub fn insert(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<FactValue>,
    ) -> &mut Self {
        self.map.insert(name.into(), value.into());
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&FactValue> {
        self.map.get(name)
    }

    /// Removes `name` and returns its value, if it was set.
    pub fn remove(&mut self, name: &str) -> Option<FactValue> {
        self.map.remove(name)
    }

    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The number of facts.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no facts.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The facts in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FactValue)> {
        self.map.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Adds every fact of `other`, replacing values of names both have.
    pub fn extend(&mut self, other: Facts) {
        self.map.extend(other.map);
    }
}

impl<N: Into<Cow<'static, str>>, V: Into<FactValue>> FromIterator<(N, V)> for Facts {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut facts = Facts::new();
        for (n, v) in iter {
            facts.insert(n, v);
        }
        facts
    }
}

/// The declaration of one fact a protocol crate produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactDef {
    /// The namespaced name, such as `sql.statement`.
    pub name: &'static str,
    /// The type of its value.
    pub ty: FactType,
    /// What the fact means, in one sentence (rendered in `guard-gateway check` output and docs).
    pub doc: &'static str,
    /// Whether the values are dotted qualified names (`public.users`): policy matchers then
    /// treat an unqualified name (`users`) as "in any schema" and a qualified one as "only
    /// there", comparing parts ASCII-case-insensitively without double quotes.
    pub qualified: bool,
}

impl FactDef {
    /// A fact declaration; `const` so crates can publish schemas as statics.
    pub const fn new(name: &'static str, ty: FactType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            doc,
            qualified: false,
        }
    }

    /// A fact whose values (a string, or each element of a list) are dotted qualified names,
    /// such as the tables a statement touches.
    ///
    /// # Examples
    ///
    /// ```
    /// use guard_core::{FactDef, FactType};
    ///
    /// static TABLES: FactDef =
    ///     FactDef::names("sql.tables.write", FactType::List, "tables the statement writes");
    /// assert!(TABLES.qualified);
    /// ```
    pub const fn names(name: &'static str, ty: FactType, doc: &'static str) -> Self {
        Self {
            name,
            ty,
            doc,
            qualified: true,
        }
    }

    /// The same declaration, marked as holding qualified names (see [`FactDef::names`]).
    pub const fn qualified(mut self) -> Self {
        self.qualified = true;
        self
    }
}

/// The facts one protocol crate produces, published as a static slice
/// (for example `guard_sql::FACTS`).
pub type FactSchema = &'static [FactDef];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_iterates_in_order() {
        let mut f = Facts::new();
        f.insert("b", 1i64).insert("a", "x").insert("b", 2i64);
        let names: Vec<_> = f.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(f.get("b").and_then(FactValue::as_int), Some(2));
        assert!(f.get("c").is_none());
    }

    #[test]
    fn value_types_and_display() {
        assert_eq!(FactValue::from(true).ty(), FactType::Bool);
        assert_eq!(FactValue::from(&["a", "b"][..]).to_string(), "[a, b]");
        assert_eq!(FactValue::from("s").as_str(), Some("s"));
        assert_eq!(FactValue::from(3i64).as_str(), None);
    }

    #[test]
    fn facts_round_trip_through_json() {
        let mut f = Facts::new();
        f.insert("a", "x")
            .insert("b", true)
            .insert("c", 3i64)
            .insert("d", &["t"][..]);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"{"a":"x","b":true,"c":3,"d":["t"]}"#);
        assert_eq!(serde_json::from_str::<Facts>(&json).unwrap(), f);
    }

    #[test]
    fn facts_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Facts>();
        check::<FactValue>();
        check::<FactDef>();
    }
}
