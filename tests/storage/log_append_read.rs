//! Log append and read round trips: offsets, truncated reads, max offset, segment
//! boundaries, compressed sets, follower appends, error codes.


use bytes::{BufMut, Bytes, BytesMut};
use kafka08::common::SystemClock;
use kafka08::log::{Log, LogConfig, LogError};
use kafka08::message::{deep_iter, shallow_iter, CompressionCodec, Message, MessageSetBuilder};
use crate::support::logs::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn leader_append_assigns_offsets_from_the_log_end() {
    let dir = TempDir::new("append");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
    for k in 0..3 {
        let info = log.append(set(k * 5, 5), true).unwrap();
        assert_eq!((info.first_offset, info.last_offset), (k as i64 * 5, k as i64 * 5 + 4));
        assert_eq!((info.message_count, info.shallow_count), (5, 5));
        assert_eq!(info.valid_bytes, info.appended_bytes);
        assert_eq!(info.codec, CompressionCodec::None);
    }
    assert_eq!(log.log_end_offset(), 15);
    let got = consume(&log, 0, 1 << 20);
    assert_eq!(got, (0..15).map(|i| (i as i64, value(i))).collect::<Vec<_>>());
    // Reading from the middle starts exactly there.
    let region = log.read(7, 1 << 20, None).unwrap();
    assert_eq!(shallow_offsets(&region.read_bytes().unwrap()), (7..15).collect::<Vec<i64>>());
}

#[test]
fn a_set_without_a_complete_entry_appends_nothing_and_a_partial_tail_is_dropped() {
    let dir = TempDir::new("empty");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    let info = log.append(Bytes::new(), true).unwrap();
    assert_eq!((info.first_offset, info.last_offset, info.message_count), (-1, -1, 0));
    let s = set(0, 1);
    let info = log.append(s.slice(..s.len() - 1), true).unwrap();
    assert_eq!(info.first_offset, -1);
    assert_eq!((log.log_end_offset(), log.size_in_bytes()), (0, 0));

    let s = set(0, 3);
    let info = log.append(s.slice(..s.len() - 5), true).unwrap();
    assert_eq!((info.first_offset, info.last_offset, info.shallow_count), (0, 1, 2));
    assert_eq!(log.size_in_bytes() as usize, entry_size(0) + entry_size(1));
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn max_bytes_cuts_inside_a_message_like_0_8() {
    let dir = TempDir::new("maxbytes");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 10), true).unwrap();
    let all = log.read(0, 1 << 20, None).unwrap().read_bytes().unwrap();
    let e = entry_size(0);
    for max in [1, 11, 12, e - 1, e, e + 1, 3 * e + 7] {
        let region = log.read(0, max, None).unwrap();
        assert_eq!(region.length, max);
        let bytes = region.read_bytes().unwrap();
        assert_eq!(&bytes[..], &all[..max], "a prefix of the stored bytes");
        assert_eq!(shallow_offsets(&bytes).len(), max / e, "only complete entries parse");
    }
    assert_eq!(log.read(0, 0, None).unwrap().length, 0);
    // A consumer with a small fetch size still gets through everything.
    assert_eq!(consume(&log, 0, e + 5).len(), 10);
}

#[test]
fn max_offset_ends_the_region_before_that_offset() {
    let dir = TempDir::new("maxoffset");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 10), true).unwrap();
    let r = log.read(2, 1 << 20, Some(6)).unwrap().read_bytes().unwrap();
    assert_eq!(shallow_offsets(&r), vec![2, 3, 4, 5]);
    assert_eq!(log.read(2, 1 << 20, Some(2)).unwrap().length, 0);
    // A high watermark below the fetch offset gives nothing (0.8.2 threw instead).
    assert_eq!(log.read(5, 1 << 20, Some(3)).unwrap().length, 0);
    let r = log.read(8, 1 << 20, Some(10)).unwrap().read_bytes().unwrap();
    assert_eq!(shallow_offsets(&r), vec![8, 9]);
}

#[test]
fn reads_cross_segment_boundaries() {
    let dir = TempDir::new("segments");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), small_config(), clock);
    for k in 0..40 {
        log.append(set(k * 3, 3), true).unwrap();
    }
    assert!(log.num_segments() >= 5, "{} segments", log.num_segments());
    let segs = log.segments();
    for w in segs.windows(2) {
        assert!(w[0].size <= 1024);
        assert!(w[0].base_offset < w[1].base_offset);
    }
    // Every offset reads back as itself, and a region never spans two segments.
    for o in 0..120i64 {
        let region = log.read(o, 1 << 20, None).unwrap();
        let offs = shallow_offsets(&region.read_bytes().unwrap());
        assert_eq!(offs[0], o);
        let seg = segs.iter().rev().find(|s| s.base_offset <= o).unwrap();
        let next_base = segs.iter().find(|s| s.base_offset > o).map_or(120, |s| s.base_offset);
        assert_eq!(*offs.last().unwrap(), next_base - 1, "region ends with segment {}", seg.base_offset);
    }
    assert_eq!(consume(&log, 0, 1 << 20), (0..120).map(|i| (i as i64, value(i))).collect::<Vec<_>>());
    assert_eq!(consume(&log, 0, 100).len(), 120);
}

#[test]
fn log_end_gives_an_empty_region_and_outside_the_log_is_offset_out_of_range() {
    let dir = TempDir::new("oor");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    let r = log.read(0, 100, None).unwrap();
    assert_eq!(r.length, 0);
    log.append(set(0, 4), true).unwrap();
    assert_eq!(log.read(4, 100, None).unwrap().length, 0);
    let e = log.read(5, 100, None).unwrap_err();
    assert!(matches!(e, LogError::OffsetOutOfRange { offset: 5, log_start: 0, log_end: 4 }), "{}", e);
    assert_eq!(e.error_code().code(), 1);
    let e = log.read(-1, 100, None).unwrap_err();
    assert_eq!(e.error_code().code(), 1);

    log.truncate_fully_and_start_at(100).unwrap();
    assert_eq!(log.read(99, 100, None).unwrap_err().error_code().code(), 1);
    assert_eq!(log.read(100, 100, None).unwrap().length, 0);
}

#[test]
fn compressed_sets_get_offsets_and_the_wrapper_carries_the_last() {
    let dir = TempDir::new("compressed");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 2), true).unwrap();
    for (k, codec) in [CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4].into_iter().enumerate() {
        let base = 2 + k as i64 * 3;
        let info = log.append(set_with(codec, base as usize, 3), true).unwrap();
        assert_eq!((info.first_offset, info.last_offset, info.message_count), (base, base + 2, 3));
        assert_eq!((info.shallow_count, info.codec), (1, codec));
    }
    assert_eq!(log.log_end_offset(), 11);
    let all = log.read(0, 1 << 20, None).unwrap().read_bytes().unwrap();
    assert_eq!(shallow_offsets(&all), vec![0, 1, 4, 7, 10]);
    let deep: Vec<i64> = deep_iter(all.clone()).map(|e| e.unwrap().offset).collect();
    assert_eq!(deep, (0..11).collect::<Vec<_>>());
    // An inner offset lands on its wrapper.
    for (o, wrapper) in [(2, 4), (3, 4), (4, 4), (5, 7), (9, 10)] {
        let r = log.read(o, 1 << 20, None).unwrap().read_bytes().unwrap();
        assert_eq!(shallow_offsets(&r)[0], wrapper, "offset {}", o);
    }
    assert_eq!(consume(&log, 3, 1 << 20), (3..11).map(|i| (i as i64, value(i))).collect::<Vec<_>>());
}

#[test]
fn follower_appends_keep_the_leaders_offsets() {
    let dir = TempDir::new("follower");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    let mut b = MessageSetBuilder::new();
    for i in 0..5 {
        b.push(10 + i, &message(i as usize));
    }
    let info = log.append(b.finish(), false).unwrap();
    assert_eq!((info.first_offset, info.last_offset, info.message_count), (10, 14, 15));
    assert_eq!(log.log_end_offset(), 15);
    let r = log.read(0, 1 << 20, None).unwrap().read_bytes().unwrap();
    assert_eq!(shallow_offsets(&r), vec![10, 11, 12, 13, 14]);

    // A compressed wrapper from the leader is stored as is.
    let wrapper = {
        let msgs: Vec<Message> = (0..3).map(message).collect();
        kafka08::message::encode_messages(CompressionCodec::Gzip, &msgs, 15)
    };
    let info = log.append(wrapper.clone(), false).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (17, 17));
    assert_eq!(log.log_end_offset(), 18);
    let r = log.read(16, 1 << 20, None).unwrap().read_bytes().unwrap();
    assert_eq!(&r[..], &wrapper[..]);

    // Offsets below the log end, or not increasing, are refused.
    let mut b = MessageSetBuilder::new();
    b.push(17, &message(0));
    let e = log.append(b.finish(), false).unwrap_err();
    assert!(matches!(e, LogError::OutOfOrderOffsets { first_offset: 17, log_end: 18 }), "{}", e);
    assert_eq!(e.error_code().code(), -1);
    let mut b = MessageSetBuilder::new();
    b.push(20, &message(0)).push(19, &message(1));
    assert!(matches!(log.append(b.finish(), false), Err(LogError::OutOfOrderOffsets { .. })));
    assert_eq!(log.log_end_offset(), 18);
}

#[test]
fn refused_sets_map_to_082_error_codes_and_write_nothing() {
    let dir = TempDir::new("errors");
    let (_c, clock) = mock_clock();
    let config = LogConfig { segment_bytes: 200, max_message_size: 100, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    // Set larger than a segment: 18.
    let e = log.append(set(0, 8), true).unwrap_err();
    assert!(matches!(e, LogError::SetTooLarge { .. }), "{}", e);
    assert_eq!(e.error_code().code(), 18);
    // Message larger than message.max.bytes: 10.
    let big = Message::new(None, Some(&[7u8; 200]), CompressionCodec::None);
    let mut b = MessageSetBuilder::new();
    b.push(0, &big);
    assert_eq!(log.append(b.finish(), true).unwrap_err().error_code().code(), 10);
    // Bad CRC: 2.
    let mut bad = BytesMut::from(&set(0, 1)[..]);
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    assert_eq!(log.append(bad.freeze(), true).unwrap_err().error_code().code(), 2);
    // Size below the 14-byte minimum: 2.
    let mut tiny = BytesMut::new();
    tiny.put_i64(0);
    tiny.put_i32(3);
    tiny.put_slice(&[0, 0, 0]);
    assert_eq!(log.append(tiny.freeze(), true).unwrap_err().error_code().code(), 2);
    assert_eq!((log.log_end_offset(), log.size_in_bytes()), (0, 0));
}

#[test]
fn shared_buffers_are_not_modified_by_offset_assignment() {
    let dir = TempDir::new("shared");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 3), true).unwrap();
    let s = set(3, 2);
    let keep = s.clone();
    log.append(s, true).unwrap();
    assert_eq!(shallow_offsets(&keep), vec![0, 1], "the caller's copy keeps its offsets");
    assert_eq!(consume(&log, 0, 1 << 20).len(), 5);
}

#[test]
fn concurrent_readers_only_see_complete_entries() {
    let dir = TempDir::new("concurrent");
    let config = LogConfig { segment_bytes: 16 * 1024, ..LogConfig::default() };
    let log = Arc::new(Log::open(dir.path(), config, 0, true, Arc::new(SystemClock)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let log = log.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(Ordering::Acquire) || reads == 0 {
                    let end = log.log_end_offset();
                    let start = log.log_start_offset();
                    if end == start {
                        continue;
                    }
                    let from = start + (reads as i64 % (end - start));
                    let r = log.read(from, 1 << 20, None).unwrap().read_bytes().unwrap();
                    let mut consumed = 0;
                    for e in shallow_iter(r.clone()) {
                        let e = e.unwrap();
                        e.message.validate().unwrap();
                        consumed += e.size();
                    }
                    assert_eq!(consumed, r.len(), "a region without max_bytes ends on an entry boundary");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for k in 0..400 {
        log.append(set(k * 4, 4), true).unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(consume(&log, 0, 1 << 20).len(), 1600);
}

#[test]
fn offsets_before_follows_fetch_offsets_before() {
    let dir = TempDir::new("offsets-before");
    let (c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    // Empty log: a single empty segment.
    assert_eq!(log.offsets_before(-1, 10), vec![0]);
    assert_eq!(log.offsets_before(-2, 10), vec![0]);
    c.set_ms(1000);
    log.append(set(0, 5), true).unwrap(); // segment 0, modified at 1000
    log.roll().unwrap();
    c.set_ms(2000);
    log.append(set(5, 5), true).unwrap(); // segment 5, modified at 2000
    log.roll().unwrap();
    c.set_ms(3000);
    log.append(set(10, 5), true).unwrap(); // segment 10, modified at 3000
    c.set_ms(4000);
    // (0,1000) (5,2000) (10,3000) (15,now=4000)
    assert_eq!(log.offsets_before(-1, 1), vec![15]);
    assert_eq!(log.offsets_before(-1, 10), vec![15, 10, 5, 0]);
    assert_eq!(log.offsets_before(-2, 10), vec![0]);
    assert_eq!(log.offsets_before(2500, 10), vec![5, 0]);
    assert_eq!(log.offsets_before(2000, 1), vec![5]);
    assert_eq!(log.offsets_before(999, 10), Vec::<i64>::new());
    assert_eq!(log.offsets_before(5000, 2), vec![15, 10]);
    assert_eq!(log.offsets_before(-1, 0), Vec::<i64>::new());
    // An empty active segment contributes its base offset only.
    log.roll().unwrap();
    assert_eq!(log.offsets_before(-1, 10), vec![15, 10, 5, 0]);
}

#[test]
fn sets_validated_side_by_side_get_the_offsets_of_the_order_they_are_written_in() {
    // A leader numbers a set while validating it, from the log end offset it sees then;
    // another append may be written first, and the set is then numbered again.
    let dir = TempDir::new("prepared");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    let first = log.prepare_append(set(0, 3), true).unwrap();
    let second = log.prepare_append(set(3, 2), true).unwrap();
    let compressed = log.prepare_append(set_with(CompressionCodec::Gzip, 5, 2), true).unwrap();
    assert!(!first.may_block() && compressed.may_block());
    let info = log.commit_append(second).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 1));
    let info = log.commit_append(first).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (2, 4));
    let info = log.commit_append(compressed).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (5, 6));
    let values: Vec<String> = [3, 4, 0, 1, 2, 5, 6].iter().map(|&i| value(i)).collect();
    assert_eq!(consume(&log, 0, 1 << 20), values.into_iter().enumerate().map(|(o, v)| (o as i64, v)).collect::<Vec<_>>());
    // And a restart finds the same offsets on disk.
    drop(log);
    let (_c, clock) = mock_clock();
    let log = Log::open(dir.path(), LogConfig::default(), 0, false, clock).unwrap();
    assert_eq!(log.log_end_offset(), 7);
    assert_eq!(consume(&log, 0, 1 << 20).iter().map(|(o, _)| *o).collect::<Vec<_>>(), (0..7).collect::<Vec<i64>>());
}

#[test]
fn concurrent_leader_appends_get_distinct_consecutive_offsets() {
    let dir = TempDir::new("concurrent-appends");
    let log = Arc::new(open(dir.path(), LogConfig::default(), Arc::new(SystemClock)));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for k in 0..200 {
                    let from = (t * 200 + k) * 3;
                    let info = log.append(set(from, 3), true).unwrap();
                    got.push((info.first_offset, from));
                }
                got
            })
        })
        .collect();
    let mut firsts: Vec<(i64, usize)> = threads.into_iter().flat_map(|h| h.join().unwrap()).collect();
    firsts.sort_unstable();
    assert_eq!(firsts.iter().map(|(o, _)| *o).collect::<Vec<_>>(), (0..800).map(|k| k * 3).collect::<Vec<i64>>());
    let got = consume(&log, 0, 1 << 30);
    assert_eq!(got.len(), 2400);
    for (first, from) in firsts {
        for i in 0..3 {
            assert_eq!(got[first as usize + i], (first + i as i64, value(from + i)));
        }
    }
}
