//! Choosing a partition (0.8.2 `DefaultPartitioner`, `ByteArrayPartitioner`, and the
//! null-key branch of `DefaultEventHandler.getPartition`).
//!
//! A keyed message goes to `abs(hash(key)) % partitions`, where `abs` is 0.8.2's
//! `Utils.abs` (`|n|`, and 0 for `Int.MinValue`; KAFKA-1469) and the count includes partitions that have
//! no leader right now, so a key keeps its partition across leader failures.
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
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Java `String.hashCode` over the key decoded as UTF-8 (invalid sequences become U+FFFD,
/// as Java's decoder does).
pub fn java_string_hash_code(key: &[u8]) -> i32 {
    crate::admin::java_string_hash(&String::from_utf8_lossy(key))
}

/// `java.util.Arrays.hashCode(byte[])`: `h = 31*h + b` over signed bytes, from 1.
pub fn java_bytes_hash_code(key: &[u8]) -> i32 {
    key.iter().fold(1i32, |h, &b| h.wrapping_mul(31).wrapping_add(b as i8 as i32))
}

/// 0.8.2 `Utils.abs`: `if (n == Int.MinValue) 0 else math.abs(n)` (KAFKA-1469). Masking
/// with `0x7fffffff` instead sends every key with a negative hash elsewhere than a Java
/// 0.8.2 producer does.
pub fn abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
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

    #[test]
    fn string_keys_hash_as_java_strings() {
        // "hello".hashCode() == 99162322; "".hashCode() == 0; "polygenelubricants".hashCode()
        // == Integer.MIN_VALUE, which Utils.abs maps to 0.
        assert_eq!(java_string_hash_code(b"hello"), 99162322);
        assert_eq!(java_string_hash_code(b""), 0);
        assert_eq!(java_string_hash_code(b"polygenelubricants"), i32::MIN);
        assert_eq!(partition_for_key(PartitionerClass::Default, Serializer::String, b"polygenelubricants", 7), 0);
        assert_eq!(partition_for_key(PartitionerClass::Default, Serializer::String, b"hello", 3), 99162322 % 3);
    }

    #[test]
    fn byte_keys_hash_as_arrays_hash_code() {
        // Arrays.hashCode(new byte[]{}) == 1; {-1} == 31 - 1 == 30; {1,2} == (31+1)*31+2 == 994.
        assert_eq!(java_bytes_hash_code(&[]), 1);
        assert_eq!(java_bytes_hash_code(&[0xff]), 30);
        assert_eq!(java_bytes_hash_code(&[1, 2]), 994);
        assert_eq!(partition_for_key(PartitionerClass::Default, Serializer::Bytes, &[1, 2], 5), 994 % 5);
        assert_eq!(partition_for_key(PartitionerClass::ByteArray, Serializer::String, &[1, 2], 5), 994 % 5);
    }

    #[test]
    fn utils_abs_is_a_mask() {
        assert_eq!(abs(-1), i32::MAX);
        assert_eq!(abs(i32::MIN), 0);
        assert_eq!(abs(5), 5);
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
