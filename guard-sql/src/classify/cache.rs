//! A bounded, sharded CLOCK cache of classifications.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use super::Classification;

const SHARDS: usize = 16;

/// What a key maps to.
#[derive(Clone)]
pub(crate) enum Entry {
    /// The classification.
    Value(Arc<Classification>),
    /// The normalized form was seen, but its facts depend on constants: look up the exact text.
    ExactOnly,
}

struct Slot {
    key: Box<str>,
    entry: Entry,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<Box<str>, usize>,
    slots: Vec<Slot>,
    hand: usize,
}

/// Sharded CLOCK (second-chance) cache: `Send + Sync`, bounded to `capacity` entries.
pub(crate) struct Cache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    hasher: RandomState,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        Cache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        // The modulo keeps the index in range.
        #[allow(clippy::cast_possible_truncation)]
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        &self.shards[i]
    }

    pub(crate) fn get(&self, key: &str) -> Option<Entry> {
        if self.per_shard == 0 {
            return None;
        }
        // A poisoned lock only means another thread panicked mid-update of plain data.
        let mut s = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        let i = *s.map.get(key)?;
        let slot = s.slots.get_mut(i)?;
        slot.referenced = true;
        Some(slot.entry.clone())
    }

    pub(crate) fn insert(&self, key: String, entry: Entry) {
        if self.per_shard == 0 {
            return;
        }
        let cap = self.per_shard;
        let mut guard = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut *guard;
        if let Some(&i) = s.map.get(key.as_str()) {
            if let Some(slot) = s.slots.get_mut(i) {
                slot.entry = entry;
                slot.referenced = true;
            }
            return;
        }
        let key: Box<str> = key.into_boxed_str();
        if s.slots.len() < cap {
            s.map.insert(key.clone(), s.slots.len());
            s.slots.push(Slot {
                key,
                entry,
                referenced: false,
            });
            return;
        }
        // Second chance: clear reference bits until an unreferenced slot comes up. Bounded by
        // two sweeps, since the first sweep clears every bit.
        for _ in 0..2 * cap {
            let h = s.hand % cap;
            s.hand = (h + 1) % cap;
            if s.slots[h].referenced {
                s.slots[h].referenced = false;
                continue;
            }
            let old = std::mem::replace(
                &mut s.slots[h],
                Slot {
                    key: key.clone(),
                    entry,
                    referenced: false,
                },
            );
            s.map.remove(&old.key);
            s.map.insert(key, h);
            return;
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).slots.len())
            .sum()
    }

    pub(crate) fn clear(&self) {
        for s in &self.shards {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Shard::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Dialect;

    fn value() -> Entry {
        Entry::Value(Arc::new(Classification::unparsable(
            Dialect::Postgres,
            "x".into(),
        )))
    }

    #[test]
    fn bounded_and_keeps_recently_used() {
        let c = Cache::new(32);
        for i in 0..1000 {
            c.insert(format!("k{i}"), value());
            // Keep k0 hot.
            assert!(c.get("k0").is_some(), "hot key evicted at {i}");
        }
        assert!(c.len() <= 32 + SHARDS);
        assert!(c.get("k1").is_none());
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let c = Cache::new(0);
        c.insert("a".into(), value());
        assert!(c.get("a").is_none());
    }
}
