//! The rule index: which rules could possibly match a request, found without visiting the
//! others.
//!
//! Each rule lands in one bucket: per protocol when it names protocols, else the any-protocol
//! bucket. Within a bucket, a rule is filed under one set of values it requires, one of:
//!
//! - a fact it requires to equal (or contain) one of a few values (`equals`, `in`,
//!   `contains_any`, `contains_all`, not under `not`);
//! - a fact it requires to match one of a few globs (`glob`, not under `not`), when each glob
//!   has a literal prefix (`r1_*`, `audit.*`, `pay[0-9]*`): filed under the prefixes, and
//!   found by looking up each of the request value's heads whose length some prefix has;
//! - its literal subjects (`identity.subject` without glob characters);
//! - its `identity.groups_any`;
//! - its literal resource names.
//!
//! Among a rule's options the index takes the one whose values the fewest rules of the policy
//! share (so `sql.tables.write = t7` wins over `sql.statement = delete` when many rules name
//! `delete`); a prefix also counts the rules filed under its own shorter prefixes and a
//! penalty that shrinks as it grows (a prefix admits more values than one value does);
//! integer and boolean facts come last, as they select little.
//!
//! Other rules are visited for every request of the bucket. A request visits the always-list
//! plus the rules filed under its facts' values (and their prefixes), its subject, each of its
//! groups (including groups added by grants) and its resource name. The index only narrows:
//! every candidate is then checked with all of its matchers.
//!
//! Prefixes are compared exactly as the glob would see the value: the whole value, or its last
//! dotted part for an unqualified glob on a qualified-name fact (see `glob_matches` in
//! `rule.rs`), byte for byte (globs are case-sensitive and see double quotes).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::Ids;
use super::rule::{Cond, FactCheck, GlobPat, Rule, Scalar, last_part};
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
    by_prefix: Vec<PrefixIndex>,
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

/// Rules filed under literal glob prefixes of one fact, as globs of one kind see its values.
#[derive(Debug)]
struct PrefixIndex {
    name: &'static str,
    /// Whether the globs see the value's last dotted part (unqualified globs on a
    /// qualified-name fact) rather than the whole value.
    last_part: bool,
    /// The distinct prefix lengths in bytes, ascending.
    lengths: Vec<usize>,
    /// Bit `b` set: some prefix starts with byte `b` (values starting otherwise skip the
    /// lookups).
    first_bytes: [u64; 4],
    by_prefix: Map<Vec<u32>>,
}

/// Where a rule is filed within its bucket.
enum Key {
    Always,
    Fact {
        name: &'static str,
        qualified: bool,
        values: Vec<String>,
    },
    /// Under glob prefixes: `(last_part, prefix)` pairs (see [`PrefixIndex`]).
    Prefix {
        name: &'static str,
        prefixes: Vec<(bool, String)>,
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
    pub(crate) fn candidates(&self, probe: &Probe<'_>, out: &mut Ids) {
        out.clear();
        self.any_protocol.collect(probe, out);
        if let Some(b) = self.by_protocol.get(probe.protocol) {
            b.collect(probe, out);
        }
        out.sort_dedup();
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
            Key::Prefix { name, prefixes } => {
                for (last, prefix) in prefixes {
                    let found = self
                        .by_prefix
                        .iter()
                        .position(|f| f.name == *name && f.last_part == *last);
                    let pos = match found {
                        Some(p) => p,
                        None => {
                            self.by_prefix.push(PrefixIndex {
                                name,
                                last_part: *last,
                                lengths: Vec::new(),
                                first_bytes: [0; 4],
                                by_prefix: Map::default(),
                            });
                            self.by_prefix.len() - 1
                        }
                    };
                    let index = &mut self.by_prefix[pos];
                    let rules = index.by_prefix.entry(prefix.clone()).or_default();
                    // Two globs of one rule may share a prefix: file the rule once.
                    if rules.last() != Some(&i) {
                        rules.push(i);
                    }
                    if let Err(at) = index.lengths.binary_search(&prefix.len()) {
                        index.lengths.insert(at, prefix.len());
                    }
                    // Prefixes are never empty (see `glob_prefix`).
                    if let Some(&b) = prefix.as_bytes().first() {
                        index.first_bytes[usize::from(b >> 6)] |= 1 << (b & 63);
                    }
                }
            }
        }
    }

    fn collect(&self, probe: &Probe<'_>, out: &mut Ids) {
        out.extend_from_slice(&self.always);
        if !self.by_subject.is_empty() {
            add(out, self.by_subject.get(probe.subject));
        }
        if !self.by_group.is_empty() {
            for g in probe.groups {
                add(out, self.by_group.get(g.as_str()));
            }
            for g in probe.extra_groups {
                add(out, self.by_group.get(*g));
            }
        }
        if !self.by_name.is_empty() {
            add(out, self.by_name.get(probe.resource));
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
                add(out, hit);
            };
            match v {
                FactValue::Str(s) => lookup(s),
                FactValue::List(l) => l.iter().for_each(|s| lookup(s)),
                FactValue::Bool(b) => lookup(if *b { "true" } else { "false" }),
                FactValue::Int(n) => lookup(&n.to_string()),
            }
        }
        for f in &self.by_prefix {
            let Some(v) = probe.facts.get(f.name) else {
                continue;
            };
            match v {
                FactValue::Str(s) => f.lookup(s, out),
                FactValue::List(l) => l.iter().for_each(|s| f.lookup(s, out)),
                // Globs only compile on string and list facts.
                FactValue::Bool(_) | FactValue::Int(_) => {}
            }
        }
    }
}

impl PrefixIndex {
    /// Adds the rules filed under every prefix of `value` (as the globs see it).
    fn lookup(&self, value: &str, out: &mut Ids) {
        let seen = if self.last_part {
            last_part(value)
        } else {
            value
        };
        let Some(&b) = seen.as_bytes().first() else {
            return;
        };
        if self.first_bytes[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
            return;
        }
        for &len in &self.lengths {
            if len > seen.len() {
                break;
            }
            // A cut inside a character cannot equal a prefix (prefixes are whole strings).
            if let Some(head) = seen.get(..len) {
                add(out, self.by_prefix.get(head));
            }
        }
    }
}

fn add(out: &mut Ids, hit: Option<&Vec<u32>>) {
    if let Some(rules) = hit {
        out.extend_from_slice(rules);
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
        cond_options(check, &check.cond, &mut out);
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

/// The options a condition on one fact offers: one per condition that must hold (every
/// member of an `All`), none under `not`.
fn cond_options(check: &FactCheck, cond: &Cond, out: &mut Vec<(u32, Key)>) {
    match cond {
        Cond::All(all) => {
            for c in all {
                cond_options(check, c, out);
            }
        }
        Cond::Glob(pats) => {
            let prefixes: Option<Vec<(bool, String)>> = pats
                .iter()
                .map(|p| glob_prefix(p, check.def.qualified))
                .collect();
            if let Some(prefixes) = prefixes
                && !prefixes.is_empty()
            {
                out.push((
                    0,
                    Key::Prefix {
                        name: check.def.name,
                        prefixes,
                    },
                ));
            }
        }
        _ => {
            let Some(values) = required_values(cond) else {
                return;
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
    }
}

/// How a glob sees a value of its fact (whole, or the last part) and the literal prefix of
/// everything it matches; None when it has no such prefix (never an empty one: the lookup
/// skips values by their first byte).
fn glob_prefix(p: &GlobPat, qualified_fact: bool) -> Option<(bool, String)> {
    let last = qualified_fact && !p.qualified;
    p.matcher
        .literal_prefix()
        .filter(|s| !s.is_empty())
        .map(|s| (last, s.to_owned()))
}

/// A dimension rules are filed under, for counting how many rules share a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dim {
    Fact(&'static str),
    Prefix(&'static str, bool),
    Subject,
    Group,
    Name,
}

/// The (dimension, value) pairs a key files a rule under.
fn slots(key: &Key) -> Vec<(Dim, &str)> {
    let (dim, values) = match key {
        Key::Always => return Vec::new(),
        Key::Prefix { name, prefixes } => {
            return prefixes
                .iter()
                .map(|(last, p)| (Dim::Prefix(name, *last), p.as_str()))
                .collect();
        }
        Key::Fact { name, values, .. } => (Dim::Fact(name), values),
        Key::Subject(v) => (Dim::Subject, v),
        Key::Group(v) => (Dim::Group, v),
        Key::Name(v) => (Dim::Name, v),
    };
    values.iter().map(|v| (dim, v.as_str())).collect()
}

/// At most this many shorter prefixes are looked up when estimating a prefix's cost (a bound
/// on build time for documents with very many prefix lengths; the estimate only guides).
const MAX_COST_LENGTHS: usize = 64;

/// Chooses each rule's key: the option whose values the fewest rules share (so a request
/// visits few rules whatever value it carries), plus the dimension's penalty.
fn choose_keys(rules: &[Rule]) -> Vec<Key> {
    let all: Vec<Vec<(u32, Key)>> = rules.iter().map(options).collect();
    let mut freq: HashMap<(Dim, &str), u32> = HashMap::new();
    let mut lengths: HashMap<Dim, Vec<usize>> = HashMap::new();
    for opts in &all {
        for (_, key) in opts {
            for (dim, value) in slots(key) {
                *freq.entry((dim, value)).or_default() += 1;
                if let Dim::Prefix(..) = dim {
                    lengths.entry(dim).or_default().push(value.len());
                }
            }
        }
    }
    for l in lengths.values_mut() {
        l.sort_unstable();
        l.dedup();
    }
    let slot_cost = |dim: Dim, value: &str| -> u32 {
        let Dim::Prefix(..) = dim else {
            return freq.get(&(dim, value)).copied().unwrap_or(0);
        };
        // A value with this prefix also starts with every shorter prefix of it.
        let shared: u32 = lengths
            .get(&dim)
            .map(|ls| {
                ls.iter()
                    .take_while(|&&l| l <= value.len())
                    .take(MAX_COST_LENGTHS)
                    .filter_map(|&l| value.get(..l))
                    .map(|head| freq.get(&(dim, head)).copied().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0);
        let short = match value.len() {
            0 | 1 => 8,
            2 => 4,
            3 => 2,
            _ => 1,
        };
        shared + short
    };
    let cost = |penalty: u32, key: &Key| -> u32 {
        slots(key)
            .iter()
            .map(|&(dim, value)| slot_cost(dim, value))
            .fold(penalty, u32::saturating_add)
    };
    let best: Vec<Option<usize>> = all
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
        .zip(best)
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
        _ => None,
    }
}
