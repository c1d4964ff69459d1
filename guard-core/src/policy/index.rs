//! The rule index: which rules could possibly match a request, found without visiting the
//! others.
//!
//! Each rule lands in one bucket: per protocol when it names protocols, else the any-protocol
//! bucket. Within a bucket, a rule is filed under one set of values it requires, one of:
//!
//! - a fact it requires to equal (or contain) one of a few values (`equals`, `in`,
//!   `contains_any`, `contains_all`, not under `not`);
//! - its literal subjects (`identity.subject` without glob characters);
//! - its `identity.groups_any`;
//! - its literal resource names.
//!
//! Among a rule's options the index takes the one whose values the fewest rules of the policy
//! share (so `sql.tables.write = t7` wins over `sql.statement = delete` when many rules name
//! `delete`); integer and boolean facts come last, as they select little.
//!
//! Other rules are visited for every request of the bucket. A request visits the always-list
//! plus the rules filed under its facts' values, its subject, each of its groups (including
//! groups added by grants) and its resource name. The index only narrows: every candidate is
//! then checked with all of its matchers.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::rule::{Cond, Rule, Scalar, last_part};
use crate::{FactType, FactValue, Facts};

/// The index's maps hash with a fast non-cryptographic hash (the multiply-rotate hash rustc
/// uses). Their keys come from the policy (trusted); requests only look keys up, so a chosen
/// request value can at worst land in one of the policy's own, fixed buckets.
type Map<V> = HashMap<String, V, BuildHasherDefault<FastHasher>>;

#[derive(Debug, Default, Clone, Copy)]
struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    by_protocol: Map<Bucket>,
    any_protocol: Bucket,
}

#[derive(Debug, Default)]
struct Bucket {
    always: Vec<u32>,
    by_fact: Vec<FactIndex>,
    by_subject: Map<Vec<u32>>,
    by_group: Map<Vec<u32>>,
    by_name: Map<Vec<u32>>,
}

#[derive(Debug)]
struct FactIndex {
    name: &'static str,
    qualified: bool,
    by_value: Map<Vec<u32>>,
}

/// Where a rule is filed within its bucket.
enum Key {
    Always,
    Fact {
        name: &'static str,
        qualified: bool,
        values: Vec<String>,
    },
    Subject(Vec<String>),
    Group(Vec<String>),
    Name(Vec<String>),
}

/// What a request offers the index.
pub(crate) struct Probe<'a> {
    pub(crate) protocol: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) groups: &'a [String],
    pub(crate) extra_groups: &'a [&'a str],
    pub(crate) resource: &'a str,
    pub(crate) facts: &'a Facts,
}

impl Index {
    pub(crate) fn new(rules: &[Rule]) -> Self {
        let mut index = Index::default();
        let keys = choose_keys(rules);
        for (i, (rule, key)) in rules.iter().zip(keys).enumerate() {
            // The document size limit keeps the rule count far below u32::MAX.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if rule.protocols.is_empty() {
                index.any_protocol.file(i, &key);
            } else {
                let mut protos = rule.protocols.clone();
                protos.sort();
                protos.dedup();
                for p in protos {
                    index.by_protocol.entry(p).or_default().file(i, &key);
                }
            }
        }
        index
    }

    /// Indices of the rules that may match, ascending, without duplicates.
    pub(crate) fn candidates(&self, probe: &Probe<'_>, out: &mut Vec<u32>) {
        out.clear();
        self.any_protocol.collect(probe, out);
        if let Some(b) = self.by_protocol.get(probe.protocol) {
            b.collect(probe, out);
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
    fn file(&mut self, i: u32, key: &Key) {
        let push = |map: &mut Map<Vec<u32>>, values: &[String]| {
            for v in values {
                map.entry(v.clone()).or_default().push(i);
            }
        };
        match key {
            Key::Always => self.always.push(i),
            Key::Subject(v) => push(&mut self.by_subject, v),
            Key::Group(v) => push(&mut self.by_group, v),
            Key::Name(v) => push(&mut self.by_name, v),
            Key::Fact {
                name,
                qualified,
                values,
            } => {
                let pos = match self.by_fact.iter().position(|f| f.name == *name) {
                    Some(p) => p,
                    None => {
                        self.by_fact.push(FactIndex {
                            name,
                            qualified: *qualified,
                            by_value: Map::default(),
                        });
                        self.by_fact.len() - 1
                    }
                };
                push(&mut self.by_fact[pos].by_value, values);
            }
        }
    }

    fn collect(&self, probe: &Probe<'_>, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.always);
        let mut add = |hit: Option<&Vec<u32>>| {
            if let Some(rules) = hit {
                out.extend_from_slice(rules);
            }
        };
        if !self.by_subject.is_empty() {
            add(self.by_subject.get(probe.subject));
        }
        if !self.by_group.is_empty() {
            probe
                .groups
                .iter()
                .for_each(|g| add(self.by_group.get(g.as_str())));
            probe
                .extra_groups
                .iter()
                .for_each(|g| add(self.by_group.get(*g)));
        }
        if !self.by_name.is_empty() {
            add(self.by_name.get(probe.resource));
        }
        let mut scratch = String::new();
        for f in &self.by_fact {
            let Some(v) = probe.facts.get(f.name) else {
                continue;
            };
            let mut lookup = |s: &str| {
                let hit = if f.qualified {
                    f.by_value.get(normal_part(last_part(s), &mut scratch))
                } else {
                    f.by_value.get(s)
                };
                add(hit);
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

/// A qualified-name part as the index files it: no double quotes, ASCII lowercase. Borrows
/// when the part is already normal, else writes into `scratch`.
fn normal_part<'a>(s: &'a str, scratch: &'a mut String) -> &'a str {
    let trimmed = s.trim_matches('"');
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        scratch.clear();
        scratch.push_str(trimmed);
        scratch.make_ascii_lowercase();
        scratch
    } else {
        trimmed
    }
}

/// Every way a rule could be filed, with the dimension's penalty (booleans and integers
/// select little however rare their values look in the policy).
fn options(rule: &Rule) -> Vec<(u32, Key)> {
    let mut out = Vec::new();
    for check in &rule.facts {
        let Some(values) = required_values(&check.cond) else {
            continue;
        };
        let mut scratch = String::new();
        let keys: Vec<String> = values
            .iter()
            .map(|s| match s {
                Scalar::Str(x) if check.def.qualified => {
                    normal_part(last_part(x), &mut scratch).to_owned()
                }
                Scalar::Str(x) => x.clone(),
                Scalar::Bool(b) => b.to_string(),
                Scalar::Int(n) => n.to_string(),
            })
            .collect();
        let penalty = match check.def.ty {
            FactType::Str | FactType::List => 0,
            FactType::Int => 1_000,
            FactType::Bool => 10_000,
        };
        out.push((
            penalty,
            Key::Fact {
                name: check.def.name,
                qualified: check.def.qualified,
                values: keys,
            },
        ));
    }
    let literals = |pats: &[super::rule::Pattern]| -> Option<Vec<String>> {
        if pats.is_empty() {
            return None;
        }
        pats.iter()
            .map(|p| p.literal().map(str::to_owned))
            .collect()
    };
    if let Some(s) = literals(&rule.subjects) {
        out.push((0, Key::Subject(s)));
    }
    if !rule.groups_any.is_empty() {
        out.push((0, Key::Group(rule.groups_any.clone())));
    }
    if let Some(n) = literals(&rule.names) {
        out.push((0, Key::Name(n)));
    }
    out
}

/// The (dimension, value) pairs a key files a rule under.
fn slots(key: &Key) -> Vec<(&str, &str)> {
    let (dim, values) = match key {
        Key::Always => return Vec::new(),
        Key::Fact { name, values, .. } => (*name, values),
        Key::Subject(v) => ("\0subject", v),
        Key::Group(v) => ("\0group", v),
        Key::Name(v) => ("\0name", v),
    };
    values.iter().map(|v| (dim, v.as_str())).collect()
}

/// Chooses each rule's key: the option whose values the fewest rules share (so a request
/// visits few rules whatever value it carries), plus the dimension's penalty.
fn choose_keys(rules: &[Rule]) -> Vec<Key> {
    let all: Vec<Vec<(u32, Key)>> = rules.iter().map(options).collect();
    let mut freq: HashMap<(&str, &str), u32> = HashMap::new();
    for opts in &all {
        for (_, key) in opts {
            for slot in slots(key) {
                *freq.entry(slot).or_default() += 1;
            }
        }
    }
    let cost = |penalty: u32, key: &Key| -> u32 {
        slots(key)
            .iter()
            .map(|s| freq.get(s).copied().unwrap_or(0))
            .sum::<u32>()
            + penalty
    };
    let costs: Vec<Option<usize>> = all
        .iter()
        .map(|opts| {
            opts.iter()
                .enumerate()
                .min_by_key(|(i, (penalty, key))| (cost(*penalty, key), *i))
                .map(|(i, _)| i)
        })
        .collect();
    drop(freq);
    all.into_iter()
        .zip(costs)
        .map(|(opts, best)| match best {
            Some(i) => opts.into_iter().nth(i).map_or(Key::Always, |(_, k)| k),
            None => Key::Always,
        })
        .collect()
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
