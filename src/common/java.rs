//! The few Java/Scala functions whose exact results are part of 0.8.2's contracts: which
//! partition a key goes to, which offsets partition holds a group, which fetcher thread
//! serves a partition, the order a `Hashtable` iterates in. Kept here so the server, the
//! producer and the admin tools share one copy (0.8.2 `kafka.utils.Utils`).

/// Java `String.hashCode`: over UTF-16 code units, `h = 31*h + c` with wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `java.util.Arrays.hashCode(byte[])`: `h = 31*h + b` over signed bytes, from 1.
pub fn java_bytes_hash(bytes: &[u8]) -> i32 {
    bytes.iter().fold(1i32, |h, &b| h.wrapping_mul(31).wrapping_add(b as i8 as i32))
}

/// 0.8.2 `Utils.abs`: `if (n == Int.MinValue) 0 else math.abs(n)` (KAFKA-1469, in the
/// 0.8.2.0 release). Not `n & 0x7fffffff`, which differs for every negative `n` but
/// `Int.MinValue`.
pub fn abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

/// Scala's `MurmurHash3.productHash` of a two-field case class: the `hashCode` of 0.8.2's
/// `TopicAndPartition(topic: String, partition: Int)`.
pub fn topic_and_partition_hash(topic: &str, partition: i32) -> i32 {
    fn mix(h: u32, data: u32) -> u32 {
        let k = data.wrapping_mul(0xcc9e2d51).rotate_left(15).wrapping_mul(0x1b873593);
        (h ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xe6546b64)
    }
    let mut h = 0xcafebabe_u32;
    h = mix(h, java_string_hash(topic) as u32);
    h = mix(h, partition as u32);
    // finalizeHash(h, arity 2): avalanche(h ^ 2).
    h ^= 2;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85ebca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2ae35);
    h ^= h >> 16;
    h as i32
}

/// The order a Scala immutable `Set` (or `Map`, by key) built by adding `items` one by one
/// iterates in, which is the order 0.8.2's tools printed such a collection and wrote it
/// as JSON: duplicates dropped; up to four elements in insertion order (`Set1`..`Set4`);
/// beyond, the hash trie's order (each 5-bit group of the improved hash, lowest first).
pub fn scala_collection_order<T: PartialEq>(items: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.len() <= 4 {
        return out;
    }
    // `HashSet.improve` of Scala 2.10 and 2.11.
    let improve = |code: i32| -> u32 {
        let mut h = (code as u32).wrapping_add(!((code as u32) << 9));
        h ^= h >> 14;
        h = h.wrapping_add(h << 4);
        h ^ (h >> 10)
    };
    let trie_key = |h: u32| (0..7).fold(0u64, |key, level| (key << 5) | u64::from((h >> (5 * level)) & 31));
    // Stable: equal hashes (a collision bucket) keep their insertion order.
    out.sort_by_cached_key(|item| trie_key(improve(hash(item))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_and_partition_hash_matches_the_case_class() {
        // `TopicAndPartition(..).hashCode` printed by Scala 2.11.
        assert_eq!(topic_and_partition_hash("t", 0), -1995633424);
        assert_eq!(topic_and_partition_hash("pref", 3), 291630623);
        assert_eq!(topic_and_partition_hash("__consumer_offsets", 17), -317152986);
    }

    #[test]
    fn scala_collections_iterate_as_scala_prints_them() {
        // `(1 to 10).toSet` prints Set(5, 10, 1, 6, 9, 2, 7, 3, 8, 4); an Int's hash is itself.
        assert_eq!(scala_collection_order((1..=10).collect(), |i: &i32| *i), [5, 10, 1, 6, 9, 2, 7, 3, 8, 4]);
        let tps = |list: &[(&str, i32)]| list.iter().map(|(t, p)| (t.to_string(), *p)).collect::<Vec<_>>();
        let order = |items| scala_collection_order(items, |(t, p): &(String, i32)| topic_and_partition_hash(t, *p));
        // Up to four: insertion order, duplicates dropped.
        assert_eq!(order(tps(&[("t", 1), ("t", 0), ("t", 1)])), tps(&[("t", 1), ("t", 0)]));
        // Printed by Scala 2.11 for the same case class.
        let pref: Vec<(String, i32)> = (0..8).map(|p| ("pref".to_string(), p)).collect();
        assert_eq!(order(pref), tps(&[("pref", 4), ("pref", 7), ("pref", 5), ("pref", 1), ("pref", 6), ("pref", 3), ("pref", 0), ("pref", 2)]));
        let six = tps(&[("u", 0), ("u", 1), ("u", 2), ("t", 0), ("t", 1), ("t", 2)]);
        assert_eq!(order(six), tps(&[("u", 1), ("u", 2), ("t", 1), ("t", 2), ("t", 0), ("u", 0)]));
    }

    #[test]
    fn string_hash_matches_the_jvm() {
        // Values printed by `"...".hashCode()` on a JVM.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("my-group"), -1906497762);
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        // UTF-16 code units, not UTF-8 bytes.
        assert_eq!(java_string_hash("\u{e9}t\u{e9}"), 227742);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn bytes_hash_matches_arrays_hash_code() {
        // Arrays.hashCode(new byte[]{}) == 1; {-1} == 31 - 1 == 30; {1,2} == (31+1)*31+2 == 994.
        assert_eq!(java_bytes_hash(&[]), 1);
        assert_eq!(java_bytes_hash(&[0xff]), 30);
        assert_eq!(java_bytes_hash(&[1, 2]), 994);
        assert_eq!(java_bytes_hash("order-1001".as_bytes()), -1088770496);
    }

    #[test]
    fn abs_is_utils_abs_of_0_8_2() {
        assert_eq!(abs(5), 5);
        assert_eq!(abs(0), 0);
        assert_eq!(abs(-1), 1);
        assert_eq!(abs(-1906497762), 1906497762);
        assert_eq!(abs(i32::MAX), i32::MAX);
        assert_eq!(abs(-i32::MAX), i32::MAX);
        assert_eq!(abs(i32::MIN), 0);
    }
}
