//! Rolling (by size, time, full index), index preallocation and trimming, retention by
//! time and by size, delayed deletion, and readers outliving deleted segments.


use kafka08::log::{Log, LogConfig, DELETED_FILE_SUFFIX};
use crate::support::logs::*;

#[test]
fn rolls_before_a_set_would_overflow_the_segment() {
    let dir = TempDir::new("roll-size");
    let (_c, clock) = mock_clock();
    let config = LogConfig { segment_bytes: 1000, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    let mut expected_bases = vec![0i64];
    let mut size_in_active = 0;
    let mut total = 0;
    for k in 0..20 {
        let set_len = set(k * 5, 5).len();
        if size_in_active + set_len > 1000 {
            expected_bases.push(k as i64 * 5);
            size_in_active = 0;
        }
        log.append(set(k * 5, 5), true).unwrap();
        size_in_active += set_len;
        total += set_len as u64;
    }
    let segs = log.segments();
    assert_eq!(segs.iter().map(|s| s.base_offset).collect::<Vec<_>>(), expected_bases);
    assert!(expected_bases.len() > 3);
    assert!(segs.iter().all(|s| s.size <= 1000));
    assert_eq!(segs.iter().map(|s| s.size).sum::<u64>(), total);
    let set_len = set(0, 5).len();
    // A set that exactly fills a segment does not roll.
    let dir2 = TempDir::new("roll-exact");
    let (_c2, clock2) = mock_clock();
    let log2 = open(dir2.path(), LogConfig { segment_bytes: 2 * set_len, ..LogConfig::default() }, clock2);
    log2.append(set(0, 5), true).unwrap();
    log2.append(set(5, 5), true).unwrap();
    assert_eq!(log2.num_segments(), 1);
    log2.append(set(10, 5), true).unwrap();
    assert_eq!(log2.num_segments(), 2);
}

#[test]
fn rolls_a_non_empty_segment_older_than_segment_ms() {
    let dir = TempDir::new("roll-time");
    let (c, clock) = mock_clock();
    let config = LogConfig { segment_ms: 1000, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    // An empty segment never rolls by time (its age counts from its creation, as 0.8.2).
    c.advance_ms(400);
    log.append(set(0, 1), true).unwrap();
    assert_eq!(log.num_segments(), 1);
    c.advance_ms(600);
    log.append(set(1, 1), true).unwrap();
    assert_eq!(log.num_segments(), 1, "exactly segment_ms is not past it");
    c.advance_ms(1);
    log.append(set(2, 1), true).unwrap();
    assert_eq!(log.segments().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 2]);
    c.advance_ms(999);
    log.append(set(3, 1), true).unwrap();
    assert_eq!(log.num_segments(), 2);
}

#[test]
fn jitter_rolls_earlier_but_never_before_segment_ms_minus_jitter() {
    let dir = TempDir::new("roll-jitter");
    let (c, clock) = mock_clock();
    let config = LogConfig { segment_ms: 1000, segment_jitter_ms: 500, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    log.append(set(0, 1), true).unwrap();
    c.advance_ms(500);
    log.append(set(1, 1), true).unwrap();
    assert_eq!(log.num_segments(), 1, "jitter is below min(jitter, segment_ms)");
    c.advance_ms(501);
    log.append(set(2, 1), true).unwrap();
    assert_eq!(log.num_segments(), 2);
}

#[test]
fn active_index_is_preallocated_and_trimmed_on_roll_and_close() {
    let dir = TempDir::new("index-prealloc");
    let (_c, clock) = mock_clock();
    let config = LogConfig { segment_bytes: 2000, max_index_size: 1000, index_interval_bytes: 100, ..LogConfig::default() };
    let log = open(dir.path(), config.clone(), clock.clone());
    let segs = log.segments();
    assert_eq!(file_len(&segs[0].index_path), 1000 / 8 * 8, "rounded down to whole entries");
    for k in 0..12 {
        log.append(set(k * 4, 4), true).unwrap();
    }
    let segs = log.segments();
    assert!(segs.len() >= 2);
    for s in &segs[..segs.len() - 1] {
        assert!(s.index_entries > 0);
        assert_eq!(file_len(&s.index_path), s.index_entries as u64 * 8, "rolled index trimmed");
    }
    let active = segs.last().unwrap();
    assert_eq!(file_len(&active.index_path), 1000 / 8 * 8);
    log.close().unwrap();
    let active_entries = log.segments().last().unwrap().index_entries as u64;
    assert_eq!(file_len(&active.index_path), active_entries * 8, "closed index trimmed");
    drop(log);
    // Reopened: the active index is preallocated again.
    let log = Log::open(dir.path(), config, 0, true, clock).unwrap();
    assert_eq!(file_len(&log.segments().last().unwrap().index_path), 1000 / 8 * 8);
}

#[test]
fn a_full_index_rolls_the_segment() {
    let dir = TempDir::new("index-full");
    let (_c, clock) = mock_clock();
    // Two index entries per segment; an entry is added on every append after the first.
    let config = LogConfig { max_index_size: 16, index_interval_bytes: 0, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    for k in 0..7 {
        log.append(set(k, 1), true).unwrap();
    }
    // Appends 0,1,2 fill segment 0 (entries for 1 and 2), 3 rolls.
    assert_eq!(log.segments().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 3, 6]);
    assert_eq!(log.segments()[0].index_entries, 2);
}

#[test]
fn roll_flushes_the_finished_segment_in_the_background() {
    let dir = TempDir::new("roll-flush");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    log.append(set(0, 3), true).unwrap();
    assert_eq!(log.recovery_point(), 0);
    log.roll().unwrap();
    log.roll().unwrap(); // rolling an empty segment does nothing
    assert_eq!(log.num_segments(), 2);
    log.append(set(3, 2), true).unwrap();
    log.close().unwrap(); // waits for the background flush
    assert_eq!(log.recovery_point(), 3);
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 5);
}

#[test]
fn flush_interval_messages_flushes_on_append() {
    let dir = TempDir::new("flush-interval");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig { flush_interval_messages: 5, ..LogConfig::default() }, clock);
    log.append(set(0, 3), true).unwrap();
    assert_eq!((log.recovery_point(), log.unflushed_messages()), (0, 3));
    log.append(set(3, 3), true).unwrap();
    assert_eq!((log.recovery_point(), log.unflushed_messages()), (6, 0));
}

#[test]
fn retention_by_time_deletes_segments_last_modified_before_retention_ms() {
    let dir = TempDir::new("retention-time");
    let (c, clock) = mock_clock();
    let config = LogConfig { retention_ms: 10_000, file_delete_delay_ms: 0, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    for k in 0..4 {
        log.append(set(k * 2, 2), true).unwrap();
        log.roll().unwrap();
        c.advance_ms(4000);
    }
    log.append(set(8, 2), true).unwrap();
    // Segments 0,2,4,6 modified at t, t+4s, t+8s, t+12s; segment 8 at t+16s; now t+16s.
    assert_eq!(log.num_segments(), 5);
    assert_eq!(log.delete_old_segments().unwrap(), 2, "segments 0 and 2 are older than 10s");
    assert_eq!(log.log_start_offset(), 4);
    c.advance_ms(4000);
    assert_eq!(log.delete_old_segments().unwrap(), 1);
    assert_eq!(log.log_start_offset(), 6);
    // Everything expired, the active segment included: a new empty one is rolled first.
    c.advance_ms(100_000);
    assert_eq!(log.delete_old_segments().unwrap(), 2);
    assert_eq!(log.segments().iter().map(|s| (s.base_offset, s.size)).collect::<Vec<_>>(), vec![(10, 0)]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
    assert_eq!(file_names(dir.path()), vec!["00000000000000000010.index", "00000000000000000010.log"]);
    // An empty active segment is never deleted.
    c.advance_ms(100_000);
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    log.append(set(10, 1), true).unwrap();
    assert_eq!(consume(&log, 10, 1 << 20), vec![(10, value(10))]);
}

#[test]
fn retention_by_size_keeps_the_log_at_least_retention_bytes() {
    let dir = TempDir::new("retention-size");
    let (_c, clock) = mock_clock();
    let set_len = set(0, 2).len() as i64;
    // Five segments of one set each.
    let config = LogConfig { retention_bytes: 2 * set_len + 10, file_delete_delay_ms: 0, ..LogConfig::default() };
    let log = open(dir.path(), config.clone(), clock);
    for k in 0..5 {
        log.append(set(k * 2, 2), true).unwrap();
        log.roll().unwrap();
    }
    // Size 5 * set_len; diff = 3 * set_len - 10: two whole segments fit in it.
    assert_eq!(log.delete_old_segments().unwrap(), 2);
    assert_eq!(log.log_start_offset(), 4);
    assert_eq!(log.size_in_bytes() as i64, 3 * set_len);
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    // Unlimited: nothing.
    log.update_config(LogConfig { retention_bytes: -1, ..config.clone() });
    assert_eq!(log.delete_old_segments().unwrap(), 0);
    // Zero: everything, a new empty active segment remains.
    log.update_config(LogConfig { retention_bytes: 0, ..config });
    assert_eq!(log.delete_old_segments().unwrap(), 3);
    assert_eq!((log.num_segments(), log.size_in_bytes(), log.log_start_offset()), (1, 0, 10));
}

#[test]
fn compacted_logs_are_left_to_the_cleaner() {
    let dir = TempDir::new("retention-compact");
    let (c, clock) = mock_clock();
    let config = LogConfig {
        retention_ms: 1,
        cleanup_policy: kafka08::log::CleanupPolicy::Compact,
        ..LogConfig::default()
    };
    let log = open(dir.path(), config, clock);
    log.append(set(0, 2), true).unwrap();
    log.roll().unwrap();
    c.advance_ms(10_000);
    assert_eq!(log.delete_old_segments().unwrap(), 0);
}

#[test]
fn deleted_segments_are_renamed_then_removed_after_the_delay() {
    let dir = TempDir::new("delete-delay");
    let (c, clock) = mock_clock();
    let config = LogConfig { retention_ms: 1000, file_delete_delay_ms: 60_000, ..LogConfig::default() };
    let log = open(dir.path(), config.clone(), clock.clone());
    log.append(set(0, 2), true).unwrap();
    log.roll().unwrap();
    log.append(set(2, 2), true).unwrap();
    c.advance_ms(500);
    log.append(set(4, 1), true).unwrap(); // segment 2 modified later than segment 0
    c.advance_ms(600);
    assert_eq!(log.delete_old_segments().unwrap(), 1);
    let names = file_names(dir.path());
    assert!(names.contains(&format!("00000000000000000000.log{}", DELETED_FILE_SUFFIX)), "{:?}", names);
    assert!(names.contains(&format!("00000000000000000000.index{}", DELETED_FILE_SUFFIX)), "{:?}", names);
    assert!(!names.contains(&"00000000000000000000.log".to_string()));
    assert_eq!(log.pending_deletes(), 1);
    c.advance_ms(59_999);
    assert_eq!(log.delete_expired_files(), 0);
    c.advance_ms(1);
    assert_eq!(log.delete_expired_files(), 1);
    assert!(file_names(dir.path()).iter().all(|n| !n.ends_with(DELETED_FILE_SUFFIX)));

    // Leftover .deleted files from a previous run are removed on open.
    log.append(set(5, 1), true).unwrap();
    c.advance_ms(2000);
    log.delete_old_segments().unwrap();
    drop(log);
    assert!(file_names(dir.path()).iter().any(|n| n.ends_with(DELETED_FILE_SUFFIX)));
    let _log = Log::open(dir.path(), config, 0, true, clock).unwrap();
    assert!(file_names(dir.path()).iter().all(|n| !n.ends_with(DELETED_FILE_SUFFIX)));
}

#[test]
fn a_reader_keeps_reading_a_region_whose_segment_was_deleted() {
    let dir = TempDir::new("reader-survives");
    let (c, clock) = mock_clock();
    let config = LogConfig { retention_ms: 1000, file_delete_delay_ms: 0, ..LogConfig::default() };
    let log = open(dir.path(), config, clock);
    log.append(set(0, 10), true).unwrap();
    log.roll().unwrap();
    c.advance_ms(500);
    log.append(set(10, 1), true).unwrap();
    let region = log.read(3, 1 << 20, None).unwrap();
    let before = region.read_bytes().unwrap();
    let segments_before = log.log_segments();
    c.advance_ms(600);
    assert_eq!(log.delete_old_segments().unwrap(), 1);
    assert!(!segments_before[0].log_path().exists() || segments_before[0].log_path().to_string_lossy().ends_with(".deleted"));
    assert!(!dir.join("00000000000000000000.log").exists());
    assert!(!dir.join("00000000000000000000.log.deleted").exists(), "removed at once with no delay");
    // The region (and the old segment list) still read the old bytes.
    assert_eq!(region.read_bytes().unwrap(), before);
    assert_eq!(shallow_offsets(&before), (3..10).collect::<Vec<i64>>());
    assert_eq!(segments_before[0].read(0, None, 1 << 20).unwrap().unwrap().read_bytes().unwrap().len(), 10 * entry_size(0));
    // The log itself no longer has those offsets.
    assert_eq!(log.read(3, 100, None).unwrap_err().error_code().code(), 1);
}

#[test]
/// Index entries live in memory and reach the file on flush, roll and close; between
/// those no index holds a descriptor, so a partition costs one (its log), as in 0.8.2,
/// and 10,000 partitions fit a 20,000-descriptor limit.
fn no_index_keeps_a_descriptor_open() {
    let dir = TempDir::new("index-fds");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig { index_interval_bytes: 0, ..LogConfig::default() }, clock.clone());
    for k in 0..5 {
        log.append(set(k * 2, 2), true).unwrap();
        log.append(set(k * 2 + 1, 1), true).unwrap();
        log.roll().unwrap();
    }
    let open_in_dir = |suffix: &str| {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p.starts_with(dir.path()) && p.to_string_lossy().ends_with(suffix))
            .count()
    };
    log.flush().unwrap(); // waits for the background flushes of the rolls
    assert_eq!(log.num_segments(), 6);
    assert_eq!(open_in_dir(".log"), 6);
    assert_eq!(open_in_dir(".index"), 0);
    // A closed index is reopened when written again (truncation makes a segment active).
    log.truncate_to(3).unwrap();
    assert_eq!(open_in_dir(".index"), 0);
    log.append(set(100, 1), true).unwrap();
    log.append(set(101, 1), true).unwrap();
    log.close().unwrap();
    drop(log);
    let log = Log::open(dir.path(), LogConfig::default(), 0, true, clock).unwrap();
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(consume(&log, 0, 1 << 20).len(), 5);
    assert_eq!(open_in_dir(".index"), 0);
    // Index entries written after the reopen reach the file on flush.
    log.append(set(102, 3), true).unwrap();
    log.flush().unwrap();
    assert_eq!(open_in_dir(".index"), 0);
}

#[test]
fn a_loaded_segment_is_as_old_as_its_file_mtime() {
    let dir = TempDir::new("mtime");
    let (c, clock) = mock_clock();
    let config = LogConfig { retention_ms: 60_000, file_delete_delay_ms: 0, ..LogConfig::default() };
    let log = open(dir.path(), config.clone(), clock.clone());
    log.append(set(0, 2), true).unwrap();
    log.roll().unwrap();
    log.append(set(2, 2), true).unwrap();
    log.close().unwrap();
    drop(log);
    // Segment 0 last written at 1_000_000_000 ms, segment 2 at 1_000_100_000 ms (wall clock).
    let at = |ms: u64| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let f = std::fs::File::options().write(true).open(dir.join("00000000000000000000.log")).unwrap();
    f.set_modified(at(1_000_000_000)).unwrap();
    let f = std::fs::File::options().write(true).open(dir.join("00000000000000000002.log")).unwrap();
    f.set_modified(at(1_000_100_000)).unwrap();
    c.set_ms(1_000_100_000);
    let log = Log::open(dir.path(), config, 0, true, clock).unwrap();
    let segs = log.segments();
    assert_eq!((segs[0].last_modified_ms, segs[1].last_modified_ms), (1_000_000_000, 1_000_100_000));
    assert_eq!(log.offsets_before(1_000_050_000, 10), vec![0]);
    assert_eq!(log.delete_old_segments().unwrap(), 1, "segment 0 is 100 s old");
    assert_eq!(log.log_start_offset(), 2);
}

/// What reaches the disk, counted by completed fsyncs (a SIGKILLed writer cannot show it:
/// the page cache survives): none without a flush, one per flush, and the segment a roll
/// finishes is fsynced in the background before `close` returns.
#[test]
fn flush_and_roll_fsync_the_segments() {
    let dir = TempDir::new("fsyncs");
    let (_c, clock) = mock_clock();
    let log = open(dir.path(), LogConfig::default(), clock);
    let fsyncs = |log: &Log| log.segments().iter().map(|s| s.fsyncs).collect::<Vec<_>>();
    log.append(set(0, 3), true).unwrap();
    assert_eq!(fsyncs(&log), vec![0], "no flush interval reached: no fsync");
    log.flush().unwrap();
    assert_eq!(fsyncs(&log), vec![1]);
    log.append(set(3, 2), true).unwrap();
    log.roll().unwrap();
    log.append(set(5, 1), true).unwrap();
    log.close().unwrap();
    assert_eq!(fsyncs(&log), vec![2, 0], "the rolled segment was fsynced, the new one not yet");
    log.flush().unwrap();
    assert_eq!(fsyncs(&log), vec![2, 1]);
}
