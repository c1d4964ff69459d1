//! A bounded, sharded CLOCK cache of classifications.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::Classification;

const SHARDS: usize = 16;

/// What a key maps to.
#[derive(Clone)]
pub(crate) enum Entry {
    /// The classification (under an exact key).
    Value(Arc<Classification>),
    /// The classification under a normalized key, with its statements' spans in the key's
    /// coordinates, so that a hit from a text with other literals gets its own spans.
    Shared(Arc<Classification>, Arc<[Option<Range<usize>>]>),
    /// The normalized form was seen, but its facts depend on constants: look up the exact text.
    ExactOnly,
}

struct Slot {
    hash: u64,
    tag: u8,
    key: Box<str>,
    entry: Entry,
    referenced: bool,
}

/// The map is keyed by the (keyed, SipHash) hash of tag and text, computed once per lookup;
/// a slot is only a hit when its tag and full text also match, so a hash collision is a miss,
/// never a wrong answer.
#[derive(Default)]
struct Shard {
    map: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    slots: Vec<Slot>,
    hand: usize,
}

/// Uses an already computed hash as is.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed; fold anything else for completeness.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
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

    fn hash(&self, tag: u8, key: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u8(tag);
        h.write(key.as_bytes());
        h.finish()
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        // The modulo keeps the index in range; the low bits feed the shard's own map.
        #[allow(clippy::cast_possible_truncation)]
        let i = ((hash >> 32) as usize) % SHARDS;
        &self.shards[i]
    }

    /// The entry for `key` in namespace `tag`, marking it recently used.
    pub(crate) fn get(&self, tag: u8, key: &str) -> Option<Entry> {
        if self.per_shard == 0 {
            return None;
        }
        let hash = self.hash(tag, key);
        // A poisoned lock only means another thread panicked mid-update of plain data.
        let mut s = self.shard(hash).lock().unwrap_or_else(|e| e.into_inner());
        let i = *s.map.get(&hash)?;
        let slot = s.slots.get_mut(i)?;
        if slot.tag != tag || *slot.key != *key {
            return None;
        }
        slot.referenced = true;
        Some(slot.entry.clone())
    }

    /// Stores `entry` for `key` in namespace `tag`, evicting by CLOCK when full.
    pub(crate) fn insert(&self, tag: u8, key: &str, entry: Entry) {
        if self.per_shard == 0 {
            return;
        }
        let cap = self.per_shard;
        let hash = self.hash(tag, key);
        let mut guard = self.shard(hash).lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut *guard;
        let new = Slot {
            hash,
            tag,
            key: key.into(),
            entry,
            referenced: false,
        };
        if let Some(&i) = s.map.get(&hash) {
            // Same key, or a colliding one: the newer entry takes the slot.
            if let Some(slot) = s.slots.get_mut(i) {
                *slot = new;
            }
            return;
        }
        if s.slots.len() < cap {
            s.map.insert(hash, s.slots.len());
            s.slots.push(new);
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
            let old = std::mem::replace(&mut s.slots[h], new);
            s.map.remove(&old.hash);
            s.map.insert(hash, h);
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
            c.insert(b'N', &format!("k{i}"), value());
            // Keep k0 hot.
            assert!(c.get(b'N', "k0").is_some(), "hot key evicted at {i}");
        }
        assert!(c.len() <= 32 + SHARDS);
        assert!(c.get(b'N', "k1").is_none());
        assert!(c.get(b'E', "k0").is_none(), "namespaces are separate");
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let c = Cache::new(0);
        c.insert(b'N', "a", value());
        assert!(c.get(b'N', "a").is_none());
    }
}
