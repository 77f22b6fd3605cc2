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
pub fn scala_collection_order<T: std::hash::Hash + Eq + Clone>(items: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        if seen.insert(item.clone()) {
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

/// The order a Scala 2.10/2.11 `mutable.HashMap` iterates its keys in after they were put
/// in `items`' order (a key put again keeps its place): 0.8.2's
/// `ZkUtils.getReplicaAssignmentForTopics` returned one, so its tools listed a topic's
/// current assignment in this order. Buckets are the top bits of `byteswap32` of the hash
/// rotated by the first table's seed, new entries go to the front of their bucket, the
/// table doubles past 0.75 full, and iteration runs from the last bucket to the first.
pub fn scala_mutable_hash_order<T: std::hash::Hash + Eq + Clone>(items: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
    fn index(code: i32, len: usize) -> usize {
        let ones = (len - 1) as u32;
        let byteswap32 = |v: u32| v.wrapping_mul(0x9e3775cd).swap_bytes().wrapping_mul(0x9e3775cd);
        // The rotation is the seed taken from the first table (16 buckets); a resize keeps it.
        let improved = byteswap32(code as u32).rotate_right(4) as i32;
        ((improved >> (32 - ones.count_ones())) as u32 & ones) as usize
    }
    let mut keys: Vec<T> = Vec::with_capacity(items.len());
    let mut hashes: Vec<i32> = Vec::with_capacity(items.len());
    // Bucket chains of indexes into `keys`, head first.
    let mut table: Vec<Vec<usize>> = vec![Vec::new(); 16];
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        if !seen.insert(item.clone()) {
            continue;
        }
        let h = hash(&item);
        let at = index(h, table.len());
        table[at].insert(0, keys.len());
        keys.push(item);
        hashes.push(h);
        if keys.len() > table.len() * 3 / 4 {
            let mut bigger: Vec<Vec<usize>> = vec![Vec::new(); table.len() * 2];
            for chain in table.iter().rev() {
                for &k in chain {
                    let at = index(hashes[k], bigger.len());
                    bigger[at].insert(0, k);
                }
            }
            table = bigger;
        }
    }
    let order: Vec<usize> = table.iter().rev().flatten().copied().collect();
    let mut slots: Vec<Option<T>> = keys.into_iter().map(Some).collect();
    order.into_iter().filter_map(|k| slots[k].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Topics a (70 partitions), bb (100) and t (30) put into one `mutable.HashMap`, as
    /// Scala 2.11 iterates it (three resizes).
    const BIG_MAP_ORDER: &str = "[bb,82] [t,7] [bb,39] [bb,7] [bb,24] [bb,80] [bb,5] [bb,8] [t,18] [bb,59] [bb,90] [bb,38] [bb,31] [bb,89] [a,37] [a,6] [bb,68] [bb,84] [a,57] [bb,17] [a,4] [bb,0] [bb,30] [bb,37] [bb,99] [bb,87] [a,42] [a,47] [t,23] [a,20] [bb,29] [a,45] [bb,22] [a,36] [bb,21] [bb,76] [bb,55] [bb,23] [bb,83] [bb,14] [a,51] [a,63] [a,68] [a,34] [bb,41] [bb,79] [bb,48] [bb,72] [t,8] [bb,64] [a,8] [bb,62] [bb,50] [bb,33] [bb,95] [a,28] [bb,11] [bb,3] [bb,53] [a,21] [a,27] [t,16] [a,53] [bb,73] [t,13] [bb,60] [bb,47] [bb,96] [bb,27] [bb,46] [t,26] [bb,69] [a,56] [bb,94] [bb,81] [t,25] [a,39] [a,66] [bb,2] [t,6] [t,3] [a,29] [a,9] [t,0] [a,61] [t,1] [bb,91] [t,22] [bb,4] [bb,74] [t,4] [a,7] [bb,65] [t,15] [t,2] [a,11] [t,11] [a,40] [bb,70] [t,12] [a,15] [bb,42] [bb,78] [a,55] [t,9] [t,17] [a,50] [a,46] [a,3] [t,14] [a,23] [a,48] [bb,1] [a,10] [bb,52] [a,62] [a,22] [bb,77] [bb,9] [bb,88] [bb,35] [bb,61] [a,59] [bb,49] [bb,20] [bb,54] [t,27] [bb,34] [a,26] [bb,71] [t,21] [t,29] [a,5] [bb,58] [a,41] [bb,45] [a,35] [a,14] [bb,15] [a,54] [bb,63] [a,38] [bb,6] [bb,18] [a,16] [a,30] [bb,32] [a,52] [a,24] [bb,92] [t,28] [a,17] [a,25] [bb,66] [bb,25] [a,60] [bb,16] [a,49] [a,67] [bb,19] [a,65] [bb,86] [t,19] [a,43] [a,58] [bb,36] [a,64] [bb,67] [bb,10] [t,20] [bb,57] [bb,40] [bb,28] [bb,43] [t,5] [t,24] [bb,51] [bb,13] [a,19] [bb,12] [a,31] [bb,93] [bb,56] [a,18] [a,13] [bb,85] [a,33] [t,10] [a,69] [bb,26] [a,0] [a,44] [a,32] [a,1] [bb,75] [bb,97] [bb,98] [a,12] [bb,44] [a,2]";

    #[test]
    fn scala_mutable_hash_maps_iterate_as_scala_prints_them() {
        // 0.8.2's getReplicaAssignmentForTopics: per topic, partitions put in the order the
        // parsed JSON map iterates its string keys; printed by Scala 2.11.
        let put = |topics: &[(&str, i32)]| {
            let mut items = Vec::new();
            for (t, n) in topics {
                let keys = scala_collection_order((0..*n).map(|p| p.to_string()).collect(), |k: &String| java_string_hash(k));
                items.extend(keys.iter().map(|k| (t.to_string(), k.parse::<i32>().unwrap())));
            }
            let ordered = scala_mutable_hash_order(items, |(t, p): &(String, i32)| topic_and_partition_hash(t, *p));
            ordered.iter().map(|(t, p)| format!("[{t},{p}]")).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(put(&[("foo", 2)]), "[foo,1] [foo,0]");
        assert_eq!(put(&[("foo", 6)]), "[foo,1] [foo,5] [foo,4] [foo,0] [foo,2] [foo,3]");
        assert_eq!(
            put(&[("foo", 20)]),
            "[foo,16] [foo,1] [foo,7] [foo,9] [foo,10] [foo,12] [foo,13] [foo,8] [foo,19] [foo,18] [foo,5] [foo,15] [foo,4] [foo,17] [foo,11] [foo,6] [foo,0] [foo,2] [foo,3] [foo,14]"
        );
        assert_eq!(
            put(&[("reassign", 3), ("other", 4)]),
            "[other,3] [reassign,1] [reassign,0] [other,0] [other,1] [other,2] [reassign,2]"
        );
        assert_eq!(put(&[("a", 70), ("bb", 100), ("t", 30)]), BIG_MAP_ORDER);
        // Int keys (broker ids), an Int's hash being itself; printed by Scala 2.11.
        assert_eq!(scala_mutable_hash_order(vec![3, 2, -1], |i| *i), [-1, 2, 3]);
        assert_eq!(scala_mutable_hash_order((1..=14).collect(), |i| *i), [8, 11, 2, 5, 14, 4, 13, 7, 1, 10, 9, 3, 12, 6]);
        // A parsed JSON object's keys ("0".."11"), as Scala's immutable Map iterates them.
        let keys = scala_collection_order((0..12).map(|p| p.to_string()).collect(), |k: &String| java_string_hash(k));
        assert_eq!(keys.join(" "), "8 4 11 9 5 10 6 1 0 2 7 3");
        assert_eq!(
            put(&[("t", 40)]),
            "[t,7] [t,33] [t,37] [t,18] [t,23] [t,8] [t,30] [t,13] [t,16] [t,32] [t,26] [t,31] [t,25] [t,6] [t,3] [t,0] [t,1] [t,22] [t,4] [t,2] [t,15] [t,11] [t,12] [t,17] [t,9] [t,14] [t,27] [t,29] [t,21] [t,39] [t,35] [t,38] [t,28] [t,19] [t,34] [t,20] [t,5] [t,24] [t,36] [t,10]"
        );
    }

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
