//! Recovery on open: a clean shutdown re-scans nothing; an unclean one re-validates from
//! the recovery point and cuts at the first invalid byte; indexes are never trusted;
//! leftovers are cleaned; follower truncation.


use kafka08::log::{Log, LogConfig};
use kafka08::message::{shallow_iter, CompressionCodec, MessageSetBuilder};
use crate::support::logs::*;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

fn config() -> LogConfig {
    LogConfig { segment_bytes: 1000, index_interval_bytes: 100, ..LogConfig::default() }
}

/// A closed log of `n` messages, one per set.
fn build(dir: &Path, n: usize) -> Vec<(i64, String)> {
    let (_c, clock) = mock_clock();
    let log = Log::open(dir, config(), 0, true, clock).unwrap();
    for i in 0..n {
        log.append(set(i, 1), true).unwrap();
    }
    log.flush().unwrap();
    log.close().unwrap();
    (0..n).map(|i| (i as i64, value(i))).collect()
}

fn reopen(dir: &Path, recovery_point: i64, clean: bool) -> Log {
    let (_c, clock) = mock_clock();
    Log::open(dir, config(), recovery_point, clean, clock).unwrap()
}

fn flip_byte(path: &Path, at: u64) {
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8; 1];
    use std::io::Read;
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0xFF]).unwrap();
}

/// Position of the entry holding `offset` in the last segment.
fn position_in(log: &Log, offset: i64) -> (std::path::PathBuf, u64) {
    let r = log.read(offset, 1, None).unwrap();
    let seg = log.segments().into_iter().rev().find(|s| s.base_offset <= offset).unwrap();
    (seg.log_path, r.position)
}

#[test]
fn a_clean_reopen_does_not_rescan_but_an_unclean_one_truncates_at_corruption() {
    let dir = TempDir::new("clean-vs-unclean");
    let all = build(dir.path(), 60);
    let log = reopen(dir.path(), 60, true);
    assert!(log.num_segments() >= 3);
    let last_base = log.segments().last().unwrap().base_offset;
    let target = last_base + 2;
    let (path, pos) = position_in(&log, target);
    drop(log);
    // Corrupt the value of message `target` (past every recovery point we will give).
    flip_byte(&path, pos + entry_size(target as usize) as u64 - 1);

    // Clean shutdown: nothing re-scanned, the corruption goes unnoticed.
    let log = reopen(dir.path(), 0, true);
    assert_eq!(log.log_end_offset(), 60);
    assert_eq!(log.recovery_point(), 60, "after a clean shutdown the recovery point is the log end");
    let bytes = log.read(target, 1 << 20, None).unwrap().read_bytes().unwrap();
    let first = shallow_iter(bytes).next().unwrap().unwrap();
    assert_eq!(first.offset, target);
    assert!(first.message.validate().is_err(), "corrupt message served as stored");
    drop(log);

    // Unclean shutdown with a recovery point before it: cut there.
    let log = reopen(dir.path(), last_base, false);
    assert_eq!(log.log_end_offset(), target);
    assert_eq!(log.recovery_point(), last_base);
    assert_eq!(consume(&log, 0, 1 << 20), all[..target as usize].to_vec());
    assert_eq!(file_len(&path), pos);
    // And it can be appended to.
    log.append(set(1000, 1), true).unwrap();
    assert_eq!(consume(&log, target, 1 << 20), vec![(target, value(1000))]);
}

#[test]
fn garbage_after_the_last_message_is_cut() {
    let dir = TempDir::new("garbage");
    let all = build(dir.path(), 10);
    let path = dir.join("00000000000000000000.log");
    let good = file_len(&path);
    let mut rng = XorShift::new(7);
    for (k, garbage) in [vec![0u8; 7], vec![0u8; 40], (0..100).map(|_| rng.below(256) as u8).collect::<Vec<u8>>()]
        .into_iter()
        .enumerate()
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&garbage).unwrap();
        drop(f);
        let log = reopen(dir.path(), 0, false);
        assert_eq!(file_len(&path), good, "case {}", k);
        assert_eq!(log.log_end_offset(), 10);
        assert_eq!(consume(&log, 0, 1 << 20), all);
    }
    // A partial last entry (a crash mid-write) is cut too.
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&set(10, 1)[..20]).unwrap();
    drop(f);
    let log = reopen(dir.path(), 0, false);
    assert_eq!(file_len(&path), good);
    assert_eq!(log.log_end_offset(), 10);
}

#[test]
fn a_tail_that_does_not_parse_is_recovered_even_after_a_clean_shutdown() {
    let dir = TempDir::new("unparsable-tail");
    let all = build(dir.path(), 10);
    let path = dir.join("00000000000000000000.log");
    let good = file_len(&path);
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0u8; 40]).unwrap(); // an entry header with size 0
    drop(f);
    let log = reopen(dir.path(), 10, true);
    assert_eq!((file_len(&path), log.log_end_offset()), (good, 10));
    assert_eq!(consume(&log, 0, 1 << 20), all);
}

#[test]
fn offsets_that_do_not_increase_end_the_valid_log() {
    let dir = TempDir::new("bad-offsets");
    build(dir.path(), 3);
    let path = dir.join("00000000000000000000.log");
    let good = file_len(&path);
    let mut b = MessageSetBuilder::new();
    b.push(1, &message(9)); // valid CRC, but offset 1 again
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&b.finish()).unwrap();
    drop(f);
    let log = reopen(dir.path(), 0, false);
    assert_eq!((file_len(&path), log.log_end_offset()), (good, 3));
}

#[test]
fn corruption_in_an_earlier_segment_deletes_the_later_ones() {
    let dir = TempDir::new("middle");
    let all = build(dir.path(), 60);
    let log = reopen(dir.path(), 60, true);
    let segs = log.segments();
    assert!(segs.len() >= 3);
    let (path, pos) = position_in(&log, segs[1].base_offset + 1);
    drop(log);
    flip_byte(&path, pos + 20);
    let log = reopen(dir.path(), segs[1].base_offset, false);
    assert_eq!(log.num_segments(), 2);
    assert_eq!(log.log_end_offset(), segs[1].base_offset + 1);
    assert_eq!(consume(&log, 0, 1 << 20), all[..(segs[1].base_offset + 1) as usize].to_vec());
    // The active segment's index is preallocated again for appends.
    assert_eq!(file_len(&log.segments()[1].index_path), config().max_index_size as u64 / 8 * 8);
}

#[test]
fn segments_before_the_recovery_point_are_not_rescanned() {
    let dir = TempDir::new("before-rp");
    build(dir.path(), 60);
    let log = reopen(dir.path(), 60, true);
    let segs = log.segments();
    let (path, pos) = position_in(&log, 1);
    drop(log);
    flip_byte(&path, pos + 20);
    let log = reopen(dir.path(), segs[1].base_offset, false);
    assert_eq!(log.log_end_offset(), 60, "segment 0 is below the recovery point");
    drop(log);
    let log = reopen(dir.path(), 0, false);
    assert_eq!(log.log_end_offset(), 1, "recovering from 0 finds it");
    assert_eq!(log.num_segments(), 1);
}

#[test]
fn missing_damaged_or_lying_indexes_are_rebuilt() {
    let dir = TempDir::new("index-rebuild");
    let all = build(dir.path(), 60);
    let log = reopen(dir.path(), 60, true);
    let first = log.segments()[0].clone();
    assert!(first.index_entries > 0);
    drop(log);
    let index = std::fs::read(&first.index_path).unwrap();

    let check = |what: &str| {
        let log = reopen(dir.path(), 60, true);
        let seg = log.segments()[0].clone();
        assert!(seg.index_entries > 0, "{}: rebuilt", what);
        let rebuilt = std::fs::read(&seg.index_path).unwrap();
        assert_eq!(rebuilt.len(), seg.index_entries * 8, "{}: trimmed", what);
        for o in 0..60 {
            let r = log.read(o, 1 << 20, None).unwrap().read_bytes().unwrap();
            assert_eq!(shallow_offsets(&r)[0], o, "{}: offset {}", what, o);
        }
        assert_eq!(consume(&log, 0, 1 << 20), all, "{}", what);
    };

    std::fs::remove_file(&first.index_path).unwrap();
    check("deleted");
    std::fs::write(&first.index_path, &index[..5]).unwrap();
    check("truncated to 5 bytes");
    // An entry pointing past the log.
    let mut lying = index.clone();
    lying.extend_from_slice(&1000u32.to_be_bytes());
    lying.extend_from_slice(&100_000u32.to_be_bytes());
    std::fs::write(&first.index_path, &lying).unwrap();
    check("position past the log");
    // Entries out of order.
    let mut swapped = index.clone();
    swapped.extend_from_slice(&index[..8]);
    std::fs::write(&first.index_path, &swapped).unwrap();
    check("offsets not increasing");
    // An entry that lies about the offset at a position is caught by neither check but
    // only makes lookups scan: reads still find every offset.
    let mut wrong = index.clone();
    wrong[3] = wrong[3].wrapping_add(1);
    std::fs::write(&first.index_path, &wrong).unwrap();
    let log = reopen(dir.path(), 60, true);
    assert_eq!(consume(&log, 0, 1 << 20), all);
}

#[test]
fn leftover_files_are_cleaned_and_interrupted_swaps_completed() {
    let dir = TempDir::new("leftovers");
    build(dir.path(), 5);
    std::fs::write(dir.join("00000000000000000100.log.deleted"), b"x").unwrap();
    std::fs::write(dir.join("00000000000000000100.index.deleted"), b"x").unwrap();
    std::fs::write(dir.join("00000000000000000000.log.cleaned"), b"x").unwrap();
    std::fs::write(dir.join("00000000000000000200.index"), b"").unwrap(); // orphan
    std::fs::write(dir.join("00000000000000000000.index.swap"), b"x").unwrap();
    // A swapped-in log at 5 (the cleaner's output): becomes the segment, its index rebuilt.
    let swapped = kafka08::message::encode_messages(CompressionCodec::None, &[message(5), message(6)], 5);
    std::fs::write(dir.join("00000000000000000005.log.swap"), &swapped).unwrap();
    std::fs::write(dir.join("00000000000000000005.index"), b"stale").unwrap();
    let log = reopen(dir.path(), 0, false);
    assert_eq!(
        file_names(dir.path()),
        vec![
            "00000000000000000000.index",
            "00000000000000000000.log",
            "00000000000000000005.index",
            "00000000000000000005.log"
        ]
    );
    assert_eq!(log.log_end_offset(), 7);
    assert_eq!(consume(&log, 0, 1 << 20).len(), 7);
}

#[test]
fn a_missing_folder_or_empty_folder_starts_at_zero() {
    let dir = TempDir::new("fresh");
    let path = dir.join("t-0");
    let log = reopen(&path, 0, false);
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.num_segments()), (0, 0, 1));
    assert_eq!(log.topic_partition().unwrap().topic, "t");
    assert!(path.join("00000000000000000000.log").exists());
}

#[test]
fn truncate_to_cuts_the_log_for_a_follower() {
    let dir = TempDir::new("truncate");
    let all = build(dir.path(), 60);
    let log = reopen(dir.path(), 60, true);
    let bases: Vec<i64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert!(bases.len() >= 3);
    // Past the end: nothing.
    log.truncate_to(60).unwrap();
    log.truncate_to(100).unwrap();
    assert_eq!(log.log_end_offset(), 60);
    // Inside the second segment: later segments go, the second is cut and is active.
    let target = bases[1] + 3;
    log.truncate_to(target).unwrap();
    assert_eq!(log.log_end_offset(), target);
    assert_eq!(log.recovery_point(), target);
    assert_eq!(log.segments().iter().map(|s| s.base_offset).collect::<Vec<_>>(), bases[..2].to_vec());
    assert_eq!(consume(&log, 0, 1 << 20), all[..target as usize].to_vec());
    assert_eq!(file_len(&log.segments()[1].index_path), config().max_index_size as u64 / 8 * 8);
    log.append(set(500, 2), true).unwrap();
    assert_eq!(consume(&log, target, 1 << 20), vec![(target, value(500)), (target + 1, value(501))]);
    // Exactly at a segment base: that segment becomes empty.
    log.truncate_to(bases[1]).unwrap();
    assert_eq!(log.segments().last().unwrap().size, 0);
    assert_eq!(log.log_end_offset(), bases[1]);
    // Below the log start: emptied and restarted there.
    log.truncate_fully_and_start_at(30).unwrap();
    log.append(set(0, 1), true).unwrap();
    log.truncate_to(10).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.num_segments()), (10, 10, 1));
    assert!(log.truncate_to(-1).is_err());
    drop(log);
    // Survives a reopen.
    let log = reopen(dir.path(), 0, false);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
}

#[test]
fn truncating_inside_a_compressed_wrapper_drops_the_wrapper() {
    let dir = TempDir::new("truncate-compressed");
    let (_c, clock) = mock_clock();
    let log = Log::open(dir.path(), config(), 0, true, clock).unwrap();
    log.append(set(0, 2), true).unwrap();
    log.append(set_with(CompressionCodec::Snappy, 2, 4), true).unwrap();
    log.truncate_to(4).unwrap();
    // 0.8.2: the log end offset is the target, the wrapper holding 2..=5 is gone.
    assert_eq!(log.log_end_offset(), 4);
    let r = log.read(0, 1 << 20, None).unwrap().read_bytes().unwrap();
    assert_eq!(shallow_offsets(&r), vec![0, 1]);
}

#[test]
fn recovery_rebuilds_index_entries_for_compressed_wrappers_at_their_first_offset() {
    let dir = TempDir::new("recover-compressed");
    let (_c, clock) = mock_clock();
    let cfg = LogConfig { index_interval_bytes: 10, ..LogConfig::default() };
    let log = Log::open(dir.path(), cfg.clone(), 0, true, clock.clone()).unwrap();
    for k in 0..5 {
        log.append(set_with(CompressionCodec::Gzip, k * 4, 4), true).unwrap();
    }
    log.close().unwrap();
    drop(log);
    let index_path = dir.join("00000000000000000000.index");
    std::fs::remove_file(&index_path).unwrap();
    let log = Log::open(dir.path(), cfg, 0, true, clock).unwrap();
    let entries = log.log_segments()[0].index().entries();
    assert_eq!(entries.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![4, 8, 12, 16]);
    for o in 0..20 {
        let r = log.read(o, 1 << 20, None).unwrap().read_bytes().unwrap();
        assert_eq!(shallow_offsets(&r)[0], o / 4 * 4 + 3, "offset {} lands on its wrapper", o);
    }
}
