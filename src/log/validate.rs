//! The append path's shallow validation over a plain slice.
//!
//! It answers exactly what [`crate::message::analyze`] answers for a set that passes, but
//! without building a `Message` (a shared `Bytes` slice, two atomic reference-count updates)
//! per entry, which cost about a tenth of `Log::append` in `benches/linear_write_speed.rs`.
//! On anything it would refuse it gives up and the caller runs `analyze`, so every error
//! (and its wire code) still comes from the message module. The unit tests below pin the
//! equivalence on random and corrupted sets.

use crate::message::{AppendInfo, CompressionCodec, LOG_OVERHEAD, MIN_MESSAGE_SIZE};

const CRC_END: usize = 4;
const MAGIC_AT: usize = 4;
const ATTRIBUTES_AT: usize = 5;
const KEY_SIZE_AT: usize = 6;

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `Some(info)` iff `analyze(set, max_message_size)` is `Ok(info)`; `None` otherwise (and
/// possibly, never in practice, for a set `analyze` accepts).
pub(crate) fn analyze_fast(set: &[u8], max_message_size: usize) -> Option<AppendInfo> {
    let mut info = AppendInfo {
        valid_bytes: 0,
        shallow_count: 0,
        first_offset: -1,
        last_offset: -1,
        codec: CompressionCodec::None,
        monotonic: true,
    };
    let mut pos = 0usize;
    while set.len() - pos >= LOG_OVERHEAD {
        let offset = i64::from_be_bytes(set[pos..pos + 8].try_into().ok()?);
        let size = be_i32(set, pos + 8);
        if size < MIN_MESSAGE_SIZE as i32 {
            return None;
        }
        let size = size as usize;
        if set.len() - pos - LOG_OVERHEAD < size {
            break; // a partial trailing entry ends the set, as in `analyze`
        }
        if LOG_OVERHEAD + size > max_message_size {
            return None;
        }
        let m = &set[pos + LOG_OVERHEAD..pos + LOG_OVERHEAD + size];
        // Structure, as `Message::validate`: key and value lengths add up to the size.
        let key_len = be_i32(m, KEY_SIZE_AT);
        if key_len < -1 {
            return None;
        }
        let value_len_at = KEY_SIZE_AT + 4 + key_len.max(0) as usize;
        if value_len_at + 4 > size {
            return None;
        }
        let value_len = be_i32(m, value_len_at);
        if value_len < -1 || value_len_at + 4 + value_len.max(0) as usize != size {
            return None;
        }
        let stored = u32::from_be_bytes(m[..CRC_END].try_into().ok()?);
        if stored != crc32fast::hash(&m[MAGIC_AT..]) || m[MAGIC_AT] != 0 {
            return None;
        }
        let codec = CompressionCodec::from_id(m[ATTRIBUTES_AT] & 0x07).ok()?;
        if codec != CompressionCodec::None {
            info.codec = codec;
        }
        if info.shallow_count == 0 {
            info.first_offset = offset;
        } else if offset <= info.last_offset {
            info.monotonic = false;
        }
        info.last_offset = offset;
        info.shallow_count += 1;
        pos += LOG_OVERHEAD + size;
    }
    info.valid_bytes = pos;
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{analyze, encode_messages, Message, MessageSetBuilder};
    use bytes::Bytes;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_set(rng: &mut XorShift) -> Vec<u8> {
        let mut b = MessageSetBuilder::new();
        for _ in 0..rng.below(6) {
            let key = (rng.below(3) > 0).then(|| vec![b'k'; rng.below(5) as usize]);
            let value = (rng.below(4) > 0).then(|| vec![b'v'; rng.below(40) as usize]);
            let m = Message::new(key.as_deref(), value.as_deref(), CompressionCodec::None);
            b.push(rng.below(10) as i64, &m);
        }
        let mut out = b.finish().to_vec();
        if rng.below(3) == 0 {
            let codec = [CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4][rng.below(3) as usize];
            let msgs = [Message::new(None, Some(b"inner"), CompressionCodec::None)];
            out.extend_from_slice(&encode_messages(codec, &msgs, rng.below(100) as i64));
        }
        out
    }

    fn check(set: &[u8], max: usize) {
        let slow = analyze(&Bytes::copy_from_slice(set), max);
        let fast = analyze_fast(set, max);
        match (&slow, &fast) {
            (Ok(a), Some(b)) => assert_eq!(a, b),
            (Err(_), None) => {}
            _ => panic!("analyze {:?} but analyze_fast {:?} for {:?}", slow, fast, set),
        }
    }

    #[test]
    fn agrees_with_analyze_on_random_and_corrupted_sets() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for _ in 0..3000 {
            let mut set = random_set(&mut rng);
            let max = if rng.below(5) == 0 { 20 + rng.below(60) as usize } else { 1_000_012 };
            check(&set, max);
            if !set.is_empty() {
                // Flip, truncate, or append garbage.
                match rng.below(3) {
                    0 => {
                        let i = rng.below(set.len() as u64) as usize;
                        set[i] ^= 1 << rng.below(8);
                    }
                    1 => set.truncate(rng.below(set.len() as u64) as usize),
                    _ => set.extend((0..rng.below(30)).map(|_| rng.next() as u8)),
                }
                check(&set, max);
            }
        }
    }

    #[test]
    fn agrees_on_hand_made_edge_cases() {
        let m = Message::new(Some(b"k"), Some(b"v"), CompressionCodec::None);
        let mut b = MessageSetBuilder::new();
        b.push(5, &m).push(5, &m).push(3, &m);
        let set = b.finish().to_vec();
        check(&set, 1_000_012);
        assert!(!analyze_fast(&set, 1_000_012).unwrap().monotonic);
        check(&[], 100);
        check(&[0u8; 11], 100);
        check(&[0u8; 12], 100);
        // Bad magic with a good CRC; unknown codec with a good CRC.
        for (at, v) in [(4usize, 1u8), (5, 6)] {
            let mut raw = m.as_bytes().to_vec();
            raw[at] = v;
            let crc = crc32fast::hash(&raw[4..]);
            raw[..4].copy_from_slice(&crc.to_be_bytes());
            let mut b = MessageSetBuilder::new();
            b.push_raw(0, &raw);
            check(&b.finish(), 1_000_012);
        }
    }
}
