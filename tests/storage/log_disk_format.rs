//! The on-disk bytes are 0.8.2's: 20-digit file names, `.log` files holding exactly the
//! appended message sets, `.index` files holding exactly the expected 8-byte entries, and a
//! directory laid out by hand the 0.8.2 way is served.


use bytes::Bytes;
use kafka08::log::{Log, LogConfig};
use kafka08::message::{CompressionCodec, Message, MessageSetBuilder};
use crate::support::logs::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// CRC32 (IEEE, as zlib computes it) of the bytes after the crc field of `message(i)`:
/// magic 00, attributes 00, key length + "k{i}", value length + "message-{i:06}".
/// Computed once, outside this crate, with
/// `python3 -c 'import zlib,struct; k=b"k0"; v=b"message-000000";
///   print(hex(zlib.crc32(bytes([0,0])+struct.pack(">i",len(k))+k+struct.pack(">i",len(v))+v)))'`
/// (and so on for each i), so the expectations below do not come from our encoder.
const MESSAGE_CRCS: [u32; 25] = [
    0x2ac6a16d, 0x8a2311a3, 0xb07cc6b0, 0x1099767e, 0xc4c36896, // 0..=4
    0x6426d858, 0x5e790f4b, 0xfe9cbf85, 0x2dbc34da, 0x8d598414, // 5..=9
    0xe4199821, 0x44fc28ef, 0x7ea3fffc, 0xde464f32, 0x0a1c51da, // 10..=14
    0xaaf9e114, 0x90a63607, 0x304386c9, 0xe3630d96, 0x4386bd58, // 15..=19
    0x609d8628, 0xc07836e6, 0xfa27e1f5, 0x5ac2513b, 0x8e984fd3, // 20..=24
];

/// The 0.8.2 on-disk entry of `message(i)` at `offset`, laid out by hand from message format
/// v0: offset int64, size int32, crc uint32, magic int8 = 0, attributes int8 = 0 (no
/// compression), key (int32 length + bytes), value (int32 length + bytes).
/// For i < 10 that is 8 + 4 + 30 = 42 bytes (key "k0".."k9"), for 10 <= i < 100, 43.
fn entry_bytes(offset: i64, i: usize) -> Vec<u8> {
    let key = format!("k{}", i).into_bytes();
    let value = value(i).into_bytes();
    let size = 4 + 1 + 1 + 4 + key.len() + 4 + value.len();
    let mut out = Vec::new();
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&(size as i32).to_be_bytes());
    out.extend_from_slice(&MESSAGE_CRCS[i].to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(key.len() as i32).to_be_bytes());
    out.extend_from_slice(&key);
    out.extend_from_slice(&(value.len() as i32).to_be_bytes());
    out.extend_from_slice(&value);
    out
}

/// Hand-laid entries of `message(i)` for `i` in `messages`, at offsets from `first_offset`.
fn entries_bytes(first_offset: i64, messages: std::ops::Range<usize>) -> Vec<u8> {
    messages.enumerate().flat_map(|(n, i)| entry_bytes(first_offset + n as i64, i)).collect()
}

#[test]
fn the_hand_laid_entry_is_the_082_layout() {
    // Anchors `entry_bytes` to a literal: message(0) at offset 0.
    assert_eq!(
        entry_bytes(0, 0),
        hex("0000000000000000 0000001e 2ac6a16d 00 00 00000002 6b30 0000000e 6d6573736167652d303030303030")
    );
    assert_eq!(entry_bytes(0, 9).len(), 42);
    assert_eq!(entry_bytes(0, 10).len(), 43);
    assert_eq!(entry_bytes(0, 10).len(), entry_size(10), "the support helper agrees on sizes");
}

#[test]
fn golden_single_message_segment() {
    let dir = TempDir::new("golden");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    // The message "hello", null key. A producer sends any offset; the log writes 0.
    let m = Message::new(None, Some(b"hello"), CompressionCodec::None);
    let mut b = MessageSetBuilder::new();
    b.push(12345, &m);
    log.append(b.finish(), true).unwrap();
    log.close().unwrap();
    assert_eq!(file_names(dir.path()), vec!["00000000000000000000.index", "00000000000000000000.log"]);
    assert_eq!(
        std::fs::read(dir.join("00000000000000000000.log")).unwrap(),
        hex("0000000000000000 00000013 87A77AB2 00 00 FFFFFFFF 00000005 68656C6C6F")
    );
    assert_eq!(std::fs::read(dir.join("00000000000000000000.index")).unwrap(), Vec::<u8>::new());
}

#[test]
fn segment_files_are_named_by_20_digit_base_offsets() {
    let dir = TempDir::new("names");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.truncate_fully_and_start_at(1234567).unwrap();
    log.append(set(0, 2), true).unwrap();
    log.roll().unwrap();
    log.append(set(2, 1), true).unwrap();
    assert_eq!(
        file_names(dir.path()).into_iter().filter(|n| !n.ends_with(".deleted")).collect::<Vec<_>>(),
        vec![
            "00000000000001234567.index",
            "00000000000001234567.log",
            "00000000000001234569.index",
            "00000000000001234569.log"
        ]
    );
    let big = 9_223_372_036_854_775_000i64;
    log.truncate_fully_and_start_at(big).unwrap();
    log.append(set(0, 1), true).unwrap();
    assert!(dir.join("09223372036854775000.log").exists());
}

/// The index entries 0.8.2 `LogSegment.append` would write: an entry (first offset of the
/// set, its position) whenever more than `interval` bytes were appended since the last.
fn expected_index(sets: &[(i64, usize)], interval: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut since = 0usize;
    let mut position = 0usize;
    for (first_offset, len) in sets {
        if since > interval {
            out.extend_from_slice(&(*first_offset as u32).to_be_bytes());
            out.extend_from_slice(&(position as u32).to_be_bytes());
            since = 0;
        }
        since += len;
        position += len;
    }
    out
}

#[test]
fn log_and_index_bytes_are_exactly_the_sets_and_the_082_entries() {
    let dir = TempDir::new("bytes");
    let (_c, clock) = mock_clock();
    let interval = 150;
    let config = LogConfig { index_interval_bytes: interval, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    // Sets of these sizes, 24 messages in all; each producer set carries offsets 0..n-1 and
    // the log must rewrite them to its own next offsets.
    let set_sizes = [1usize, 3, 2, 6, 1, 4, 2, 5];
    let mut sets = Vec::new();
    let mut next = 0usize;
    for n in set_sizes {
        let info = log.append(set(next, n), true).unwrap();
        assert_eq!(info.first_offset, next as i64);
        sets.push((next as i64, entries_bytes(next as i64, next..next + n).len()));
        next += n;
    }
    log.close().unwrap();
    assert_eq!(std::fs::read(dir.join("00000000000000000000.log")).unwrap(), entries_bytes(0, 0..24));
    // By hand (0.8.2 `LogSegment.append`: if more than `interval` bytes were appended since
    // the last entry, add (first offset of this set, its position), then count the set):
    //   set at offset:   0    1    4    6   12   13   17   19
    //   bytes:          42  126   84  254   43  172   86  215   (entries of 42 / 43 bytes)
    //   position:        0   42  168  252  506  549  721  807
    //   since before:    0   42  168   84  338   43  215   86
    // so entries (4, 168), (12, 506), (17, 721).
    let index = std::fs::read(dir.join("00000000000000000000.index")).unwrap();
    assert_eq!(index, hex("00000004 000000a8 0000000c 000001fa 00000011 000002d1"));
    assert_eq!(index, expected_index(&sets, interval));
}

#[test]
fn a_compressed_set_is_stored_as_the_brokers_own_wrapper() {
    use std::io::Read;
    let dir = TempDir::new("compressed-bytes");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 2), true).unwrap();
    log.append(set_with(CompressionCodec::Gzip, 2, 3), true).unwrap();
    log.close().unwrap();
    let stored = std::fs::read(dir.join("00000000000000000000.log")).unwrap();
    // Two plain entries, then one gzip wrapper entry. gzip output is not unique, so the
    // wrapper is checked field by field and its value inflated with flate2 (not our codec).
    assert_eq!(&stored[..84], &entries_bytes(0, 0..2)[..]);
    let w = &stored[84..];
    assert_eq!(&w[..8], &4i64.to_be_bytes(), "a wrapper carries its last inner offset");
    let size = i32::from_be_bytes(w[8..12].try_into().unwrap()) as usize;
    assert_eq!(w.len(), 12 + size, "nothing after the wrapper");
    let crc = u32::from_be_bytes(w[12..16].try_into().unwrap());
    assert_eq!(crc, crc32fast::hash(&w[16..]), "crc over magic..value");
    assert_eq!(&w[16..18], &[0, 1], "magic 0, attributes 1 = gzip");
    assert_eq!(&w[18..22], &[0xff; 4], "null key");
    let value_len = i32::from_be_bytes(w[22..26].try_into().unwrap()) as usize;
    assert_eq!(26 + value_len, w.len());
    let mut inner = Vec::new();
    flate2::read::GzDecoder::new(&w[26..]).read_to_end(&mut inner).unwrap();
    assert_eq!(inner, entries_bytes(2, 2..5), "inner offsets are the absolute offsets 2..=4");
}

#[test]
fn a_directory_laid_out_by_a_082_broker_is_served() {
    let dir = TempDir::new("foreign");
    // Two segments written by hand: 0..=4 and 5..=9, with a hand-made index on the first.
    let s0 = entries_bytes(0, 0..5);
    let s1 = entries_bytes(5, 5..10);
    std::fs::write(dir.join("00000000000000000000.log"), &s0).unwrap();
    let second_position = 2 * 42; // offset 2 follows two 42-byte entries
    let mut index = Vec::new();
    index.extend_from_slice(&2u32.to_be_bytes());
    index.extend_from_slice(&(second_position as u32).to_be_bytes());
    std::fs::write(dir.join("00000000000000000000.index"), &index).unwrap();
    std::fs::write(dir.join("00000000000000000005.log"), &s1).unwrap();
    // 0.8.2 leaves the active index preallocated with zeros if it crashed.
    std::fs::write(dir.join("00000000000000000005.index"), vec![0u8; 1024]).unwrap();

    let (_c, clock) = mock_clock();
    let log = Log::open(dir.path(), LogConfig::default(), 10, true, clock).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.num_segments()), (0, 10, 2));
    assert_eq!(log.segments()[0].index_entries, 1, "the hand-made index was trusted after checking");
    assert_eq!(consume(&log, 0, 1 << 20), (0..10).map(|i| (i as i64, value(i))).collect::<Vec<_>>());
    let r = log.read(3, 1 << 20, None).unwrap();
    assert_eq!(r.position as usize, 3 * 42);
    log.append(set(10, 1), true).unwrap();
    assert_eq!(log.log_end_offset(), 11);
    log.close().unwrap();
    let mut expected = s1.clone();
    expected.extend_from_slice(&entry_bytes(10, 10));
    assert_eq!(std::fs::read(dir.join("00000000000000000005.log")).unwrap(), expected);
    assert_eq!(std::fs::read(dir.join("00000000000000000000.index")).unwrap(), index, "untouched");
    let _ = Bytes::new();
}
