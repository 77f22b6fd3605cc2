//! Choosing a partition (0.8.2 `DefaultPartitioner`, `ByteArrayPartitioner`, and the
//! null-key branch of `DefaultEventHandler.getPartition`).
//!
//! A keyed message goes to `abs(hash(key)) % partitions`, where `abs` is 0.8.2's
//! `Utils.abs` ([`crate::common::abs`]: `Int.MinValue` maps to 0, every other value to its
//! absolute value — KAFKA-1469) and the count includes partitions that have no leader
//! right now, so a key keeps its partition across leader failures.
//!
//! The hash: 0.8.2's `DefaultPartitioner` uses the key object's `hashCode`. For `String`
//! keys (`key.serializer.class=kafka.serializer.StringEncoder`) that is
//! `String.hashCode`, reproduced here over the UTF-8-decoded key bytes, so a kafka08 and a
//! Java 0.8.2 producer put the same string key in the same partition. For `byte[]` keys
//! Java's `hashCode` is the object's identity (different for equal keys: a known 0.8
//! pitfall); kafka08 instead hashes the bytes deterministically as
//! `java.util.Arrays.hashCode(byte[])`, which is exactly what 0.8.2's
//! `ByteArrayPartitioner` does.

use super::config::{PartitionerClass, Serializer};
use crate::common::{abs, java_bytes_hash, java_string_hash};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Java `String.hashCode` over the key decoded as UTF-8 (invalid sequences become U+FFFD,
/// as Java's decoder does).
pub fn java_string_hash_code(key: &[u8]) -> i32 {
    java_string_hash(&String::from_utf8_lossy(key))
}

/// `java.util.Arrays.hashCode(byte[])`: `h = 31*h + b` over signed bytes, from 1.
pub fn java_bytes_hash_code(key: &[u8]) -> i32 {
    java_bytes_hash(key)
}

/// The partition for a keyed message among `num_partitions` (> 0).
pub fn partition_for_key(
    partitioner: PartitionerClass,
    key_serializer: Serializer,
    key: &[u8],
    num_partitions: i32,
) -> i32 {
    let hash = match (partitioner, key_serializer) {
        (PartitionerClass::Default, Serializer::String) => java_string_hash_code(key),
        _ => java_bytes_hash_code(key),
    };
    abs(hash) % num_partitions
}

/// A small xorshift generator for the null-key partition choice; seeded per producer from
/// the process's random hash keys (no extra dependency).
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    pub fn new() -> Random {
        let seed = RandomState::new().build_hasher().finish();
        Random(seed | 1)
    }

    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 32) as u32
    }

    /// Uniform-enough index below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.next_u32() as usize % n
    }
}

impl Default for Random {
    fn default() -> Self {
        Random::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Java 0.8.2's partition for a `String` key (`DefaultPartitioner` with
    /// `StringEncoder`): `"key".hashCode()` and `Utils.abs(hashCode) % n` for n = 1, 2, 3,
    /// 7, 10, 50, printed by a JVM (Java 17 `String.hashCode`, 0.8.2's `Utils.abs`), not
    /// computed by the code under test.
    const STRING_KEYS: &[(&str, i32, [i32; 6])] = &[
        ("", 0, [0, 0, 0, 0, 0, 0]),
        ("a", 97, [0, 1, 1, 6, 7, 47]),
        ("hello", 99162322, [0, 0, 1, 0, 2, 22]),
        ("key-0", 101943362, [0, 0, 2, 3, 2, 12]),
        ("key-7", 101943369, [0, 1, 0, 3, 9, 19]),
        ("order-1001", 708180863, [0, 1, 2, 5, 3, 13]),
        // Negative hashCodes: `n & 0x7fffffff` put these elsewhere (my-group: 2 of 3, not 0).
        ("my-group", -1906497762, [0, 0, 0, 1, 2, 12]),
        ("user-42", -147182656, [0, 0, 1, 5, 6, 6]),
        ("zzzzzzzzzz", -1580979136, [0, 0, 1, 2, 6, 36]),
        // UTF-16 code units, not UTF-8 bytes.
        ("\u{e9}t\u{e9}", 227742, [0, 0, 0, 4, 2, 42]),
        ("\u{65e5}\u{672c}", 835047, [0, 1, 0, 3, 7, 47]),
        // hashCode == Int.MinValue: Utils.abs gives 0.
        ("polygenelubricants", i32::MIN, [0, 0, 0, 0, 0, 0]),
        ("GydZG_", i32::MIN, [0, 0, 0, 0, 0, 0]),
        ("DESIGNING WORKHOUSES", i32::MIN, [0, 0, 0, 0, 0, 0]),
    ];

    /// Java 0.8.2's partition for the same keys' UTF-8 bytes as `byte[]` keys
    /// (`ByteArrayPartitioner`: `Utils.abs(Arrays.hashCode(key)) % n`), printed by a JVM.
    const BYTE_KEYS: &[(&str, i32, [i32; 6])] = &[
        ("", 1, [0, 1, 1, 1, 1, 1]),
        ("a", 128, [0, 0, 2, 2, 8, 28]),
        ("hello", 127791473, [0, 1, 2, 5, 3, 23]),
        ("my-group", 581015071, [0, 1, 1, 0, 1, 21]),
        ("order-1001", -1088770496, [0, 0, 2, 2, 6, 46]),
        ("\u{e9}t\u{e9}", -30187949, [0, 1, 2, 1, 9, 49]),
        ("GydZG_", -1259979967, [0, 1, 1, 1, 7, 17]),
        ("DESIGNING WORKHOUSES", -1936132735, [0, 1, 1, 5, 5, 35]),
    ];

    const COUNTS: [i32; 6] = [1, 2, 3, 7, 10, 50];

    #[test]
    fn string_keys_go_where_a_java_0_8_2_producer_puts_them() {
        for (key, hash, partitions) in STRING_KEYS {
            assert_eq!(java_string_hash_code(key.as_bytes()), *hash, "hashCode of {:?}", key);
            for (n, want) in COUNTS.iter().zip(partitions) {
                let got = partition_for_key(PartitionerClass::Default, Serializer::String, key.as_bytes(), *n);
                assert_eq!(got, *want, "{:?} on {} partitions", key, n);
            }
        }
    }

    #[test]
    fn byte_keys_go_where_a_java_0_8_2_producer_puts_them() {
        for (key, hash, partitions) in BYTE_KEYS {
            assert_eq!(java_bytes_hash_code(key.as_bytes()), *hash, "Arrays.hashCode of {:?}", key);
            for (n, want) in COUNTS.iter().zip(partitions) {
                // ByteArrayPartitioner, and DefaultPartitioner over byte keys, which kafka08
                // hashes the same way (see the module doc).
                for (class, ser) in [
                    (PartitionerClass::ByteArray, Serializer::String),
                    (PartitionerClass::ByteArray, Serializer::Bytes),
                    (PartitionerClass::Default, Serializer::Bytes),
                ] {
                    let got = partition_for_key(class, ser, key.as_bytes(), *n);
                    assert_eq!(got, *want, "{:?} on {} partitions ({:?}, {:?})", key, n, class, ser);
                }
            }
        }
    }

    #[test]
    fn random_spreads_over_partitions() {
        let mut r = Random::new();
        let mut seen = [0usize; 3];
        for _ in 0..300 {
            seen[r.below(3)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{:?}", seen);
    }
}
