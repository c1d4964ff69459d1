//! The rule index: which rules could possibly match a request, found without visiting the
//! others.
//!
//! Each rule lands in one bucket: per protocol when it names protocols, else the any-protocol
//! bucket. Within a bucket, a rule that requires a fact to equal one of a few values (`equals`,
//! `in`, `contains_any`, `contains_all` on a string, list, integer or boolean fact, not under
//! `not`) is filed under those values; other rules are always visited. A request visits the
//! always-list plus, for each indexed fact, the rules filed under the request's value(s).

use std::collections::HashMap;

use super::rule::{Cond, Rule, Scalar, last_part};
use crate::{FactType, FactValue, Facts};

#[derive(Debug, Default)]
pub(crate) struct Index {
    by_protocol: HashMap<String, Bucket>,
    any_protocol: Bucket,
}

#[derive(Debug, Default)]
struct Bucket {
    always: Vec<u32>,
    by_fact: Vec<FactIndex>,
}

#[derive(Debug)]
struct FactIndex {
    name: &'static str,
    qualified: bool,
    by_value: HashMap<String, Vec<u32>>,
}

impl Index {
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index = Index::default();
        for (i, rule) in rules.iter().enumerate() {
            // The index is built from at most u32::MAX rules: the document size limit keeps
            // the rule count far below that.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let key = index_key(rule);
            let buckets: Vec<&mut Bucket> = if rule.protocols.is_empty() {
                vec![&mut index.any_protocol]
            } else {
                let mut protos = rule.protocols.clone();
                protos.sort();
                protos.dedup();
                let mut out = Vec::new();
                for p in protos {
                    index.by_protocol.entry(p).or_default();
                }
                for (p, b) in index.by_protocol.iter_mut() {
                    if rule.protocols.contains(p) {
                        out.push(b);
                    }
                }
                out
            };
            for bucket in buckets {
                match &key {
                    None => bucket.always.push(i),
                    Some((name, qualified, values)) => {
                        let pos = match bucket.by_fact.iter().position(|f| f.name == *name) {
                            Some(p) => p,
                            None => {
                                bucket.by_fact.push(FactIndex {
                                    name,
                                    qualified: *qualified,
                                    by_value: HashMap::new(),
                                });
                                bucket.by_fact.len() - 1
                            }
                        };
                        for v in values {
                            bucket.by_fact[pos]
                                .by_value
                                .entry(v.clone())
                                .or_default()
                                .push(i);
                        }
                    }
                }
            }
        }
        index
    }

    /// Indices of the rules that may match, ascending, without duplicates.
    pub(crate) fn candidates(&self, protocol: &str, facts: &Facts, out: &mut Vec<u32>) {
        out.clear();
        self.any_protocol.collect(facts, out);
        if let Some(b) = self.by_protocol.get(protocol) {
            b.collect(facts, out);
        }
        out.sort_unstable();
        out.dedup();
    }

    /// How many rules are in always-visited lists (for diagnostics and tests).
    pub(crate) fn unindexed(&self) -> usize {
        self.any_protocol.always.len()
            + self
                .by_protocol
                .values()
                .map(|b| b.always.len())
                .sum::<usize>()
    }
}

impl Bucket {
    fn collect(&self, facts: &Facts, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.always);
        for f in &self.by_fact {
            let Some(v) = facts.get(f.name) else { continue };
            let mut lookup = |s: &str| {
                let hit = if f.qualified {
                    f.by_value.get(&normal_part(last_part(s)))
                } else {
                    f.by_value.get(s)
                };
                if let Some(rules) = hit {
                    out.extend_from_slice(rules);
                }
            };
            match v {
                FactValue::Str(s) => lookup(s),
                FactValue::List(l) => l.iter().for_each(|s| lookup(s)),
                FactValue::Bool(b) => lookup(if *b { "true" } else { "false" }),
                FactValue::Int(n) => lookup(&n.to_string()),
            }
        }
    }
}

/// A qualified-name part as the index files it: no double quotes, ASCII lowercase.
fn normal_part(s: &str) -> String {
    s.trim_matches('"').to_ascii_lowercase()
}

/// The fact and values to file a rule under, or None to visit it always. Prefers string
/// values (most selective), then integers, then booleans.
fn index_key(rule: &Rule) -> Option<(&'static str, bool, Vec<String>)> {
    let mut best: Option<(u8, &'static str, bool, Vec<String>)> = None;
    for check in &rule.facts {
        let Some(values) = required_values(&check.cond) else {
            continue;
        };
        let rank = match check.def.ty {
            FactType::Str | FactType::List => 3,
            FactType::Int => 2,
            FactType::Bool => 1,
        };
        let keys: Vec<String> = values
            .iter()
            .map(|s| match s {
                Scalar::Str(x) if check.def.qualified => normal_part(last_part(x)),
                Scalar::Str(x) => x.clone(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(n) => n.to_string(),
            })
            .collect();
        if best.as_ref().is_none_or(|(r, ..)| rank > *r) {
            best = Some((rank, check.def.name, check.def.qualified, keys));
        }
    }
    best.map(|(_, n, q, k)| (n, q, k))
}

/// Values one of which the fact must hold (or, for lists, contain) for the condition to hold.
fn required_values(c: &Cond) -> Option<Vec<Scalar>> {
    match c {
        Cond::Equals(s) => Some(vec![s.clone()]),
        Cond::In(set) if !set.is_empty() => Some(set.clone()),
        Cond::ContainsAny(names) if !names.is_empty() => {
            Some(names.iter().cloned().map(Scalar::Str).collect())
        }
        // Every name must be present, so filing under the first is enough.
        Cond::ContainsAll(names) => names.first().cloned().map(|n| vec![Scalar::Str(n)]),
        Cond::All(all) => all.iter().find_map(required_values),
        _ => None,
    }
}
