//! The on-disk bytes are 0.8.2's: 20-digit file names, `.log` files holding exactly the
//! appended message sets, `.index` files holding exactly the expected 8-byte entries, and a
//! directory laid out by hand the 0.8.2 way is served.


use bytes::Bytes;
use kafka08::log::{Log, LogConfig};
use kafka08::message::{encode_messages, CompressionCodec, Message, MessageSetBuilder};
use crate::support::logs::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
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
    let mut rng = XorShift::new(42);
    let mut expected_log = Vec::new();
    let mut sets = Vec::new();
    let mut next = 0usize;
    for _ in 0..40 {
        let n = 1 + rng.below(6) as usize;
        // What the log will store: the producer's set with offsets rewritten to next..
        let msgs: Vec<Message> = (next..next + n).map(message).collect();
        let stored = encode_messages(CompressionCodec::None, &msgs, next as i64);
        expected_log.extend_from_slice(&stored);
        sets.push((next as i64, stored.len()));
        let info = log.append(set(next, n), true).unwrap();
        assert_eq!(info.first_offset, next as i64);
        next += n;
    }
    log.close().unwrap();
    assert_eq!(std::fs::read(dir.join("00000000000000000000.log")).unwrap(), expected_log);
    let index = std::fs::read(dir.join("00000000000000000000.index")).unwrap();
    assert!(!index.is_empty());
    assert_eq!(index, expected_index(&sets, interval));
}

#[test]
fn a_compressed_set_is_stored_as_the_brokers_own_wrapper() {
    let dir = TempDir::new("compressed-bytes");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 2), true).unwrap();
    log.append(set_with(CompressionCodec::Gzip, 2, 3), true).unwrap();
    log.close().unwrap();
    let msgs: Vec<Message> = (2..5).map(message).collect();
    let mut expected = encode_messages(CompressionCodec::None, &(0..2).map(message).collect::<Vec<_>>(), 0).to_vec();
    expected.extend_from_slice(&encode_messages(CompressionCodec::Gzip, &msgs, 2));
    assert_eq!(std::fs::read(dir.join("00000000000000000000.log")).unwrap(), expected);
}

#[test]
fn a_directory_laid_out_by_a_082_broker_is_served() {
    let dir = TempDir::new("foreign");
    // Two segments written by hand: 0..=4 and 5..=9, with a hand-made index on the first.
    let s0 = encode_messages(CompressionCodec::None, &(0..5).map(message).collect::<Vec<_>>(), 0);
    let s1 = encode_messages(CompressionCodec::None, &(5..10).map(message).collect::<Vec<_>>(), 5);
    std::fs::write(dir.join("00000000000000000000.log"), &s0).unwrap();
    let second_position = entry_size(0) * 2;
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
    assert_eq!(r.position as usize, 3 * entry_size(0));
    log.append(set(10, 1), true).unwrap();
    assert_eq!(log.log_end_offset(), 11);
    log.close().unwrap();
    let mut expected = s1.to_vec();
    expected.extend_from_slice(&encode_messages(CompressionCodec::None, &[message(10)], 10));
    assert_eq!(std::fs::read(dir.join("00000000000000000005.log")).unwrap(), expected);
    assert_eq!(std::fs::read(dir.join("00000000000000000000.index")).unwrap(), index, "untouched");
    let _ = Bytes::new();
}
