//! Fixed-seed property test: no message decoder panics on arbitrary input, and valid sets
//! survive every codec round trip.

use bytes::{Bytes, BytesMut};
use kafka08::message::{analyze, assign_offsets, codec, deep_iter, encode_messages, shallow_iter, CompressionCodec, Message};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const CODECS: [CompressionCodec; 4] = [CompressionCodec::None, CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4];

fn valid_set(rng: &mut XorShift) -> Bytes {
    let n = 1 + rng.below(6);
    let msgs: Vec<Message> = (0..n)
        .map(|_| {
            let key = if rng.below(2) == 0 { None } else { let n = rng.below(8); Some(rng.bytes(n)) };
            let value = if rng.below(10) == 0 { None } else { let n = rng.below(64); Some(rng.bytes(n)) };
            Message::new(key.as_deref(), value.as_deref(), CompressionCodec::None)
        })
        .collect();
    encode_messages(CODECS[rng.below(4)], &msgs, rng.below(100) as i64)
}

/// Run every decoder over `input`; only panics matter.
fn exercise(input: Bytes) {
    let _ = Message::parse(input.clone());
    if let Ok(m) = Message::from_bytes(input.clone()) {
        let _ = (m.key(), m.value(), m.codec(), m.is_valid(), m.value_size());
    }
    for e in shallow_iter(input.clone()).flatten() {
        let _ = (e.message.key(), e.message.value(), e.message.is_valid());
    }
    for e in deep_iter(input.clone()).take(10_000).flatten() {
        let _ = e.message.value();
    }
    if let Ok(info) = analyze(&input, 1_000_012) {
        let _ = assign_offsets(BytesMut::from(&input[..]), &info, 42, 1_000_012);
    }
    for c in CODECS {
        let _ = codec::decompress(c, &input);
    }
}

#[test]
fn no_decoder_panics_on_random_bytes() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..30_000 {
        let n = rng.below(96);
        let b = rng.bytes(n);
        exercise(Bytes::from(b));
    }
}

#[test]
fn no_decoder_panics_on_mutated_and_truncated_valid_sets() {
    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    for _ in 0..20_000 {
        let set = valid_set(&mut rng);
        let mut b = set.to_vec();
        match rng.below(4) {
            0 => {
                let cut = rng.below(b.len() + 1);
                b.truncate(cut);
            }
            1 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
            }
            2 => {
                // Corrupt a length field region specifically.
                let i = rng.below(b.len().min(24));
                b[i] ^= 0x80;
            }
            _ => {
                let n = rng.below(20);
                b.extend(rng.bytes(n))
            }
        }
        exercise(Bytes::from(b));
    }
}

#[test]
fn valid_sets_append_and_read_back_identically_with_every_codec() {
    let mut rng = XorShift(7);
    for _ in 0..500 {
        let set = valid_set(&mut rng);
        let before: Vec<(Option<Bytes>, Option<Bytes>)> =
            deep_iter(set.clone()).map(|e| e.unwrap()).map(|e| (e.message.key(), e.message.value())).collect();
        let info = analyze(&set, 1_000_012).unwrap();
        let a = assign_offsets(BytesMut::from(&set[..]), &info, 1000, 1_000_012).unwrap();
        let after: Vec<_> = deep_iter(a.bytes.clone()).map(|e| e.unwrap()).collect();
        assert_eq!(after.len(), before.len());
        for (i, e) in after.iter().enumerate() {
            assert_eq!(e.offset, 1000 + i as i64);
            assert_eq!((e.message.key(), e.message.value()), before[i]);
            assert!(e.message.is_valid());
        }
        assert_eq!(a.message_count as usize, before.len());
        assert_eq!(a.last_offset, 1000 + before.len() as i64 - 1);
    }
}
