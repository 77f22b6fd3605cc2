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

#[cfg(test)]
mod tests {
    use super::*;

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
