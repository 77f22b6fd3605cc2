//! The cleaner's dedupe map (0.8.2 `SkimpyOffsetMap`): key → latest offset, in one fixed
//! buffer of `log.cleaner.dedupe.buffer.size / log.cleaner.threads` bytes that never grows
//! with the number of keys. A full map is not an error: the cleaner stops building it
//! there and cleans the rest of the log in a later pass.
//!
//! Each slot is a 16-byte key hash and an 8-byte offset (0.8.2: MD5 + offset, 24 bytes).
//! The hash is two independent SipHash values keyed at random per map, so two keys share
//! a slot (and the older one's latest value would be taken as superseded) with probability
//! about n²/2¹²⁹, and a producer cannot construct keys that collide, as it could with an
//! unkeyed hash. Open addressing with linear probing; an all-zero hash marks an empty slot
//! (real hashes are never all zero).
//!
//! Only the slots a pass needs are used and zeroed ([`SkimpyOffsetMap::clear`] is told how
//! many offsets the pass can see at most), so a small dirty section neither costs the time
//! to clear nor the resident memory of the whole buffer.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const HASH_SIZE: usize = 16;
/// Bytes per slot: hash and offset.
pub const BYTES_PER_ENTRY: usize = HASH_SIZE + 8;

pub struct SkimpyOffsetMap {
    buf: Vec<u8>,
    /// Slots in `buf`.
    capacity: usize,
    /// Slots in use by this pass (a prefix of `buf`).
    slots: usize,
    /// Slots any pass has used (the prefix of `buf` that may hold stale entries); the
    /// rest is still the allocator's untouched zero pages, not resident.
    high_water: usize,
    entries: usize,
    k1: RandomState,
    k2: RandomState,
    /// The highest offset put since the last clear, or -1.
    latest_offset: i64,
}

impl std::fmt::Debug for SkimpyOffsetMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkimpyOffsetMap").field("capacity", &self.capacity).field("slots", &self.slots).field("entries", &self.entries).finish()
    }
}

impl SkimpyOffsetMap {
    /// A map in `memory` bytes (at least one slot). The buffer is allocated zeroed and
    /// only the pages a pass touches become resident. [`SkimpyOffsetMap::clear`] it
    /// before use.
    pub fn new(memory: usize) -> SkimpyOffsetMap {
        let capacity = (memory / BYTES_PER_ENTRY).max(1);
        SkimpyOffsetMap {
            buf: vec![0u8; capacity * BYTES_PER_ENTRY],
            capacity,
            // Unusable (every put refused) until the first `clear` sizes it.
            slots: 1,
            high_water: 1,
            entries: 0,
            k1: RandomState::new(),
            k2: RandomState::new(),
            latest_offset: -1,
        }
    }

    /// The most slots the buffer holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Slots in use this pass.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Distinct keys put since the last clear.
    pub fn size(&self) -> usize {
        self.entries
    }

    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    /// Fraction of this pass's slots in use.
    pub fn utilization(&self) -> f64 {
        self.entries as f64 / self.slots as f64
    }

    /// Empty the map for a pass that will put at most `max_distinct_keys` keys (an upper
    /// bound; the number of offsets in the dirty section), filled to at most
    /// `load_factor`. Uses the smallest slot count that can hold them, or all of them.
    pub fn clear(&mut self, max_distinct_keys: usize, load_factor: f64) {
        let lf = if load_factor > 0.0 && load_factor <= 1.0 { load_factor } else { 0.9 };
        let want = ((max_distinct_keys as f64 / lf).ceil() as usize).saturating_add(1);
        self.slots = want.clamp(1, self.capacity);
        // Zero only what a pass may have written: never-used pages stay untouched.
        self.buf[..self.high_water * BYTES_PER_ENTRY].fill(0);
        self.high_water = self.high_water.max(self.slots);
        self.entries = 0;
        self.latest_offset = -1;
    }

    fn hash(&self, key: &[u8]) -> [u8; HASH_SIZE] {
        let mut h1 = self.k1.build_hasher();
        h1.write(key);
        let mut h2 = self.k2.build_hasher();
        h2.write(key);
        let mut out = [0u8; HASH_SIZE];
        out[..8].copy_from_slice(&(h1.finish() | 1).to_le_bytes());
        out[8..].copy_from_slice(&h2.finish().to_le_bytes());
        out
    }

    fn start_slot(&self, hash: &[u8; HASH_SIZE]) -> usize {
        let h = u64::from_le_bytes(hash[8..16].try_into().expect("8 bytes"));
        // Multiply-shift onto [0, slots): no modulo bias worth the name, no division.
        ((h as u128 * self.slots as u128) >> 64) as usize
    }

    /// The slot holding `hash`, or the empty slot where it would go.
    fn find(&self, hash: &[u8; HASH_SIZE]) -> (usize, bool) {
        let mut slot = self.start_slot(hash);
        loop {
            let at = slot * BYTES_PER_ENTRY;
            let stored = &self.buf[at..at + HASH_SIZE];
            if stored == hash {
                return (slot, true);
            }
            if stored.iter().all(|b| *b == 0) {
                return (slot, false);
            }
            slot += 1;
            if slot == self.slots {
                slot = 0;
            }
        }
    }

    /// Whether one more new key fits without passing `load_factor` of this pass's slots.
    pub fn has_room_for(&self, new_keys: usize, load_factor: f64) -> bool {
        let limit = ((self.slots as f64 * load_factor) as usize).min(self.slots - 1).max(1);
        self.entries + new_keys <= limit
    }

    /// Record that `key`'s latest offset is `offset`. Returns false, changing nothing,
    /// when the key is new and every slot but one is taken (callers stop well before, at
    /// the load factor; the free slot keeps probing finite).
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let hash = self.hash(key);
        let (slot, found) = self.find(&hash);
        if !found {
            if self.entries + 1 >= self.slots {
                return false;
            }
            self.entries += 1;
        }
        let at = slot * BYTES_PER_ENTRY;
        self.buf[at..at + HASH_SIZE].copy_from_slice(&hash);
        self.buf[at + HASH_SIZE..at + BYTES_PER_ENTRY].copy_from_slice(&offset.to_be_bytes());
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        let hash = self.hash(key);
        match self.find(&hash) {
            (slot, true) => {
                let at = slot * BYTES_PER_ENTRY + HASH_SIZE;
                Some(i64::from_be_bytes(self.buf[at..at + 8].try_into().expect("8 bytes")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_offset_per_key_wins() {
        let mut m = SkimpyOffsetMap::new(24 * 1000);
        m.clear(100, 0.9);
        for i in 0..300i64 {
            assert!(m.put(format!("k{}", i % 50).as_bytes(), i));
        }
        assert_eq!(m.size(), 50);
        for k in 0..50i64 {
            assert_eq!(m.get(format!("k{}", k).as_bytes()), Some(250 + k));
        }
        assert_eq!(m.get(b"absent"), None);
        assert_eq!(m.latest_offset(), 299);
        m.clear(10, 0.9);
        assert_eq!(m.size(), 0);
        assert_eq!(m.get(b"k1"), None);
        assert_eq!(m.latest_offset(), -1);
    }

    #[test]
    fn the_buffer_never_grows_and_a_full_map_refuses_new_keys() {
        let mut m = SkimpyOffsetMap::new(24 * 10);
        assert_eq!(m.capacity(), 10);
        m.clear(1_000_000, 0.75);
        assert_eq!(m.slots(), 10, "never more slots than the buffer holds");
        let mut put = 0;
        for i in 0..100 {
            if !m.has_room_for(1, 0.75) {
                break;
            }
            assert!(m.put(format!("key-{}", i).as_bytes(), i));
            put += 1;
        }
        assert_eq!(put, 7, "stops at the load factor");
        // Past the load factor put still works up to one free slot, then refuses.
        assert!(m.put(b"x1", 100));
        assert!(m.put(b"x2", 101));
        assert!(!m.put(b"x3", 102));
        assert_eq!(m.get(b"x3"), None);
        // An existing key can always be updated.
        assert!(m.put(b"x1", 200));
        assert_eq!(m.get(b"x1"), Some(200));
        assert_eq!(m.buf.len(), 240);
    }

    #[test]
    fn a_small_pass_uses_few_slots() {
        let mut m = SkimpyOffsetMap::new(24 * 100_000);
        m.clear(9, 0.9);
        assert_eq!(m.slots(), 11);
        for i in 0..9 {
            assert!(m.has_room_for(1, 0.9));
            m.put(&[i as u8], i);
        }
        for i in 0..9 {
            assert_eq!(m.get(&[i as u8]), Some(i));
        }
        // A later, larger pass sees none of the small pass's keys.
        m.clear(50_000, 0.9);
        assert!(m.slots() > 50_000);
        assert_eq!(m.get(&[3]), None);
    }
}
