//! The log cleaner on real logs on disk: what compaction keeps, tombstone expiry,
//! compressed messages, a dedupe map smaller than the key set, the crash-safe swap's
//! recovery, readers of swapped-out segments, and the cleaner threads of a log manager.


use bytes::Bytes;
use kafka08::common::{Clock, SystemClock, TopicPartition};
use kafka08::log::{
    clean_log, parse_checkpoint, CleanerConfig, CleanupPolicy, Log, LogConfig, LogManager, CLEANER_CHECKPOINT_FILE,
};
use kafka08::message::{deep_iter, encode_messages, shallow_iter, CompressionCodec, Message};
use crate::support::logs::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

fn compact_config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 128,
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 24 * 3600 * 1000,
        file_delete_delay_ms: 0,
        min_cleanable_ratio: 0.01,
        ..LogConfig::default()
    }
}

fn cleaner_config() -> CleanerConfig {
    CleanerConfig { dedupe_buffer_size: 1 << 20, io_buffer_size: 64 * 1024, ..CleanerConfig::default() }
}

fn msg(key: &str, value: Option<&str>) -> Message {
    Message::new(Some(key.as_bytes()), value.map(|v| v.as_bytes()), CompressionCodec::None)
}

/// Append one message per call (so every roll point is the same as a producer's).
fn put(log: &Log, key: &str, value: Option<&str>) -> i64 {
    log.append(encode_messages(CompressionCodec::None, &[msg(key, value)], 0), true).unwrap().first_offset
}

/// Every message of the log in offset order: (offset, key, value), compressed wrappers
/// opened; also checks the shallow offsets strictly increase across all segments.
fn contents(log: &Log) -> Vec<(i64, Option<String>, Option<String>)> {
    let mut out = Vec::new();
    let mut last_shallow = -1;
    for seg in log.log_segments() {
        let bytes = std::fs::read(seg.log_path()).unwrap();
        let bytes = Bytes::from(bytes).slice(..seg.size() as usize);
        for e in shallow_iter(bytes.clone()) {
            let e = e.unwrap();
            e.message.validate().unwrap();
            assert!(e.offset > last_shallow, "offsets increase: {} after {}", e.offset, last_shallow);
            last_shallow = e.offset;
        }
        for e in deep_iter(bytes) {
            let e = e.unwrap();
            let s = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
            out.push((e.offset, s(e.message.key()), s(e.message.value())));
        }
    }
    out
}

/// The latest (offset, value) of each key among `writes` (offset, key, value).
fn latest(writes: &[(i64, String, Option<String>)]) -> BTreeMap<String, (i64, Option<String>)> {
    let mut m = BTreeMap::new();
    for (o, k, v) in writes {
        m.insert(k.clone(), (*o, v.clone()));
    }
    m
}

/// A fully cleaned log: below the active segment (which the cleaner never sees) the
/// latest write of each key written there, at its offset; then the active segment as
/// written.
fn expected(writes: &[(i64, String, Option<String>)], active_base: i64) -> Vec<(i64, Option<String>, Option<String>)> {
    let closed: Vec<_> = writes.iter().filter(|(o, _, _)| *o < active_base).cloned().collect();
    let mut v: Vec<_> = latest(&closed).into_iter().map(|(k, (o, v))| (o, Some(k), v)).collect();
    v.extend(writes.iter().filter(|(o, _, _)| *o >= active_base).map(|(o, k, v)| (*o, Some(k.clone()), v.clone())));
    v.sort();
    v
}

/// Clean until the whole log below the active segment is clean; returns the passes.
fn clean_fully(log: &Log, config: &CleanerConfig) -> usize {
    let mut first_dirty = log.log_start_offset();
    let mut passes = 0;
    loop {
        let active = log.log_segments().last().unwrap().base_offset();
        if first_dirty >= active {
            return passes;
        }
        let stats = clean_log(log, first_dirty, config).unwrap();
        assert!(stats.end_offset > first_dirty, "a pass makes progress");
        first_dirty = stats.end_offset;
        passes += 1;
        assert!(passes < 1000);
    }
}

#[test]
fn compaction_keeps_the_latest_value_of_each_key_at_its_original_offset() {
    let tmp = TempDir::new("clean-latest");
    let log = Log::open(&tmp.join("t-0"), compact_config(), 0, false, Arc::new(SystemClock)).unwrap();
    let mut writes = Vec::new();
    let mut rng = XorShift::new(7);
    for i in 0..600 {
        let k = format!("key-{}", rng.below(40));
        let v = if i % 17 == 5 { None } else { Some(format!("value-{}", i)) };
        let o = put(&log, &k, v.as_deref());
        writes.push((o, k, v));
    }
    let before = log.size_in_bytes();
    let segments_before = log.num_segments();
    assert!(segments_before > 10);
    let active_base = log.log_segments().last().unwrap().base_offset();
    clean_fully(&log, &cleaner_config());
    assert!(log.size_in_bytes() < before / 3, "{} -> {}", before, log.size_in_bytes());
    assert_eq!(log.log_end_offset(), 600, "the log end does not move");
    assert_eq!(log.log_start_offset(), 0, "the first segment keeps its base offset");

    // Below the active segment: exactly the latest message of every key (tombstones kept:
    // delete.retention.ms has not passed), each at the offset it was written at.
    let got = contents(&log);
    let clean: Vec<_> = got.iter().filter(|(o, _, _)| *o < active_base).cloned().collect();
    let expect_clean = expected(&writes, active_base);
    let expect_clean: Vec<_> = expect_clean.into_iter().filter(|(o, _, _)| *o < active_base).collect();
    assert_eq!(clean, expect_clean);
    // The active segment is untouched.
    let active: Vec<_> = got.iter().filter(|(o, _, _)| *o >= active_base).cloned().collect();
    let expect_active: Vec<_> =
        writes.iter().filter(|(o, _, _)| *o >= active_base).map(|(o, k, v)| (*o, Some(k.clone()), v.clone())).collect();
    assert_eq!(active, expect_active);

    // Fetches from any offset find the first message at or after it, across cleaned
    // segments and the gaps compaction left.
    let offsets: Vec<i64> = got.iter().map(|(o, _, _)| *o).collect();
    for start in 0..600 {
        let region = log.read(start, 1 << 20, None).unwrap();
        let bytes = region.read_bytes().unwrap();
        let first = deep_iter(bytes).next().unwrap().unwrap().offset;
        let expect = *offsets.iter().find(|o| **o >= start).unwrap();
        assert_eq!(first, expect, "fetch from {}", start);
    }

    // And the result survives a restart (indexes and all).
    drop(log);
    let log = Log::open(&tmp.join("t-0"), compact_config(), 600, true, Arc::new(SystemClock)).unwrap();
    assert_eq!(contents(&log), got);
    let log = {
        drop(log);
        Log::open(&tmp.join("t-0"), compact_config(), 0, false, Arc::new(SystemClock)).unwrap()
    };
    assert_eq!(contents(&log), got, "full recovery finds nothing to cut");
}

#[test]
fn tombstones_go_after_delete_retention_ms_with_the_values_they_deleted() {
    let tmp = TempDir::new("clean-tombstones");
    let (clock, dyn_clock) = mock_clock();
    let config = LogConfig { delete_retention_ms: 60_000, ..compact_config() };
    let log = Log::open(&tmp.join("t-0"), config, 0, false, dyn_clock).unwrap();
    for i in 0..100 {
        put(&log, &format!("k{}", i % 20), Some(&format!("v{}", i)));
    }
    for i in 0..10 {
        put(&log, &format!("k{}", i), None);
    }
    // Fill with other keys so the tombstones are in closed segments.
    for i in 0..60 {
        put(&log, &format!("other{}", i % 5), Some(&format!("o{}", i)));
    }
    let mut first_dirty = 0;
    let stats = clean_log(&log, first_dirty, &cleaner_config()).unwrap();
    first_dirty = stats.end_offset;
    let keys = |log: &Log| {
        let mut live: HashMap<String, Option<String>> = HashMap::new();
        for (_, k, v) in contents(log) {
            live.insert(k.unwrap(), v);
        }
        live
    };
    let after_first = keys(&log);
    for i in 0..10 {
        assert_eq!(after_first.get(&format!("k{}", i)), Some(&None), "tombstone of k{} kept for now", i);
    }

    // Time passes beyond delete.retention.ms; new writes become the last clean segment.
    clock.advance_ms(61_000);
    for i in 0..60 {
        put(&log, &format!("other{}", i % 5), Some(&format!("p{}", i)));
    }
    let active = log.log_segments().last().unwrap().base_offset();
    while first_dirty < active {
        first_dirty = clean_log(&log, first_dirty, &cleaner_config()).unwrap().end_offset;
    }
    // One more pass with a clean section that is newer than the tombstones.
    for i in 0..60 {
        put(&log, &format!("other{}", i % 5), Some(&format!("q{}", i)));
    }
    let active = log.log_segments().last().unwrap().base_offset();
    while first_dirty < active {
        first_dirty = clean_log(&log, first_dirty, &cleaner_config()).unwrap().end_offset;
    }
    let live = keys(&log);
    for i in 0..10 {
        assert!(!live.contains_key(&format!("k{}", i)), "k{} is gone entirely: {:?}", i, live.get(&format!("k{}", i)));
    }
    for i in 10..20 {
        assert!(live.get(&format!("k{}", i)).unwrap().is_some(), "k{} still has its value", i);
    }
}

#[test]
fn compressed_messages_are_cleaned_and_keep_their_codec() {
    for codec in [CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4] {
        let tmp = TempDir::new("clean-compressed");
        let log = Log::open(&tmp.join("t-0"), compact_config(), 0, false, Arc::new(SystemClock)).unwrap();
        let mut writes = Vec::new();
        for batch in 0..40 {
            let msgs: Vec<Message> = (0..5)
                .map(|j| msg(&format!("k{}", (batch * 5 + j) % 23), Some(&format!("{}-{}", batch, j))))
                .collect();
            let info = log.append(encode_messages(codec, &msgs, 0), true).unwrap();
            for (j, m) in msgs.iter().enumerate() {
                let k = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
                writes.push((info.first_offset + j as i64, k, m.value().map(|v| String::from_utf8(v.to_vec()).unwrap())));
            }
        }
        let active_base = log.log_segments().last().unwrap().base_offset();
        clean_fully(&log, &cleaner_config());
        let got = contents(&log);
        assert_eq!(got, expected(&writes, active_base), "{:?}", codec);
        // Every wrapper is still compressed with the codec it came with.
        for seg in log.log_segments() {
            let bytes = Bytes::from(std::fs::read(seg.log_path()).unwrap());
            for e in shallow_iter(bytes) {
                assert_eq!(e.unwrap().message.codec().unwrap(), codec);
            }
        }
    }
}

#[test]
fn more_keys_than_the_dedupe_buffer_holds_are_cleaned_in_several_passes() {
    let tmp = TempDir::new("clean-passes");
    let config = LogConfig { segment_bytes: 16 * 1024, ..compact_config() };
    let log = Log::open(&tmp.join("t-0"), config, 0, false, Arc::new(SystemClock)).unwrap();
    let mut writes = Vec::new();
    for round in 0..3 {
        for k in 0..1000 {
            let key = format!("key-{:04}", k);
            let v = Some(format!("r{}-{}", round, k));
            let o = put(&log, &key, v.as_deref());
            writes.push((o, key, v));
        }
    }
    // 200 slots: far fewer than the 1000 keys (and the 3000 offsets) of the log.
    let small = CleanerConfig { dedupe_buffer_size: 200 * kafka08::log::cleaner::BYTES_PER_ENTRY, ..cleaner_config() };
    let active_base = log.log_segments().last().unwrap().base_offset();
    let passes = clean_fully(&log, &small);
    assert!(passes >= 10, "{} passes", passes);
    let got = contents(&log);
    let expect = expected(&writes, active_base);
    assert_eq!(got.len(), expect.len());
    assert_eq!(got, expect);
}

#[test]
fn a_keyless_message_is_refused_on_a_compacted_log_with_error_2() {
    let tmp = TempDir::new("clean-keyless");
    let log = Log::open(&tmp.join("t-0"), compact_config(), 0, false, Arc::new(SystemClock)).unwrap();
    let keyless = Message::new(None, Some(b"v"), CompressionCodec::None);
    for codec in [CompressionCodec::None, CompressionCodec::Gzip] {
        let set = encode_messages(codec, &[msg("a", Some("1")), keyless.clone()], 0);
        let err = log.append(set, true).unwrap_err();
        assert_eq!(err.error_code().code(), 2, "{:?}: {}", codec, err);
        assert!(err.to_string().contains("without key"), "{}", err);
    }
    assert_eq!(log.log_end_offset(), 0, "nothing of a refused set is written");
    // A delete-policy log takes it; a follower append (the leader's data) too.
    let plain = Log::open(&tmp.join("p-0"), LogConfig::default(), 0, false, Arc::new(SystemClock)).unwrap();
    plain.append(encode_messages(CompressionCodec::None, &[keyless.clone()], 0), true).unwrap();
    log.append(encode_messages(CompressionCodec::None, &[keyless], 0), false).unwrap();
}

#[test]
fn keyless_messages_already_in_a_compacted_log_are_kept_and_do_not_stop_cleaning() {
    let tmp = TempDir::new("clean-keyless-kept");
    let dir = tmp.join("t-0");
    // Written while the topic was still delete-policy, then switched to compact.
    let log = Log::open(&dir, LogConfig { cleanup_policy: CleanupPolicy::Delete, ..compact_config() }, 0, false, Arc::new(SystemClock)).unwrap();
    for i in 0..200 {
        let m = if i % 10 == 0 {
            Message::new(None, Some(format!("keyless-{}", i).as_bytes()), CompressionCodec::None)
        } else {
            msg(&format!("k{}", i % 7), Some(&format!("v{}", i)))
        };
        log.append(encode_messages(CompressionCodec::None, &[m], 0), true).unwrap();
    }
    log.update_config(compact_config());
    let active_base = log.log_segments().last().unwrap().base_offset();
    clean_fully(&log, &cleaner_config());
    let got = contents(&log);
    for i in (0..200).step_by(10) {
        assert!(
            got.iter().any(|(o, k, v)| *o == i && k.is_none() && v.as_deref() == Some(&format!("keyless-{}", i))),
            "keyless message at {} kept",
            i
        );
    }
    assert!(got.iter().filter(|(o, k, _)| *o < active_base && k.is_some()).count() <= 7);
}

#[test]
fn readers_holding_swapped_out_segments_keep_reading_them() {
    let tmp = TempDir::new("clean-readers");
    let log = Log::open(&tmp.join("t-0"), compact_config(), 0, false, Arc::new(SystemClock)).unwrap();
    for i in 0..300 {
        put(&log, &format!("k{}", i % 3), Some(&format!("v{}", i)));
    }
    let region = log.read(0, 1500, None).unwrap();
    let before = region.read_bytes().unwrap();
    clean_fully(&log, &cleaner_config());
    assert_eq!(region.read_bytes().unwrap(), before, "the old file is still readable through the reader's descriptor");
    let names = file_names(&tmp.join("t-0"));
    assert!(names.iter().all(|n| !n.ends_with(".cleaned") && !n.ends_with(".swap")), "{:?}", names);
}

/// Recovery of a swap interrupted after the cleaned segment became `.swap`: the swap
/// wins and every old segment it covers goes (0.8.2 kept the later ones and served their
/// messages twice: KAFKA-2118).
#[test]
fn recovery_completes_an_interrupted_swap_and_drops_the_old_segments_it_covers() {
    let tmp = TempDir::new("clean-swap-recovery");
    let dir = tmp.join("t-0");
    // Every fifth message has a key of its own, so every segment keeps something.
    let key = |i: usize| if i % 5 == 0 { format!("unique-{}", i) } else { format!("k{}", i % 20) };
    let expect;
    let old_files: Vec<(i64, Vec<u8>)>;
    let next_cleaned_base;
    {
        let log = Log::open(&dir, compact_config(), 0, false, Arc::new(SystemClock)).unwrap();
        for i in 0..400 {
            put(&log, &key(i), Some(&format!("v{}", i)));
        }
        clean_fully(&log, &cleaner_config());
        for i in 400..500 {
            put(&log, &key(i), Some(&format!("v{}", i)));
        }
        log.flush().unwrap();
        // The segments before the second cleaning, which merges several into one.
        old_files = log.log_segments().iter().map(|s| (s.base_offset(), std::fs::read(s.log_path()).unwrap())).collect();
        clean_log(&log, log.log_start_offset(), &cleaner_config()).unwrap();
        expect = contents(&log);
        next_cleaned_base = log.log_segments()[1].base_offset();
    }
    // The state of a kill right after the first group's swap rename: its old segments are
    // all still there, the first one already renamed `.deleted`.
    let covered: Vec<&(i64, Vec<u8>)> = old_files.iter().filter(|(b, _)| *b < next_cleaned_base).collect();
    assert!(covered.len() >= 2, "the first group merged {} segments", covered.len());
    std::fs::rename(dir.join(format!("{:020}.log", 0)), dir.join(format!("{:020}.log.swap", 0))).unwrap();
    std::fs::write(dir.join(format!("{:020}.log.deleted", 0)), &covered[0].1).unwrap();
    for (base, bytes) in &covered[1..] {
        std::fs::write(dir.join(format!("{:020}.log", base)), bytes).unwrap();
    }
    let log = Log::open(&dir, compact_config(), 0, false, Arc::new(SystemClock)).unwrap();
    assert_eq!(contents(&log), expect, "the cleaned segment, and none of the old ones it replaced");
    let names = file_names(&dir);
    assert!(names.iter().all(|n| !n.ends_with(".swap") && !n.ends_with(".deleted")), "{:?}", names);
}

#[test]
fn log_manager_cleaner_threads_compact_and_checkpoint_in_082_format() {
    let tmp = TempDir::new("clean-manager");
    let data = tmp.join("data");
    let mut topics = HashMap::new();
    topics.insert("table".to_string(), compact_config());
    let manager =
        Arc::new(LogManager::open(&[data.clone()], LogConfig::default(), topics, Arc::new(SystemClock) as Arc<dyn Clock>).unwrap());
    let tp = TopicPartition::new("table", 0);
    let log = manager.create_log(&tp, compact_config()).unwrap();
    let plain = manager.create_log(&TopicPartition::new("plain", 0), LogConfig { segment_bytes: 2048, ..LogConfig::default() }).unwrap();
    for i in 0..500 {
        put(&log, &format!("k{}", i % 10), Some(&format!("v{}", i)));
        put(&plain, &format!("k{}", i % 10), Some(&format!("v{}", i)));
    }
    let plain_size = plain.size_in_bytes();
    let active = log.log_segments().last().unwrap().base_offset();
    manager.start_cleaner(CleanerConfig { backoff_ms: 50, ..cleaner_config() }).unwrap();
    let cleaner = manager.cleaner().unwrap();
    assert!(cleaner.await_cleaned(&tp, active, Duration::from_secs(30)), "cleaned up to the active segment");
    let text = std::fs::read_to_string(data.join(CLEANER_CHECKPOINT_FILE)).unwrap();
    assert_eq!(text, format!("0\n1\ntable 0 {}\n", active));
    assert_eq!(parse_checkpoint(&text).unwrap().get(&tp), Some(&active));
    let keys_below_active = contents(&log).iter().filter(|(o, _, _)| *o < active).count();
    assert!(keys_below_active <= 10, "{}", keys_below_active);
    assert_eq!(plain.size_in_bytes(), plain_size, "a delete-policy log is not compacted");
    // Deleting a log while the cleaner runs, then shutting down, leaves no thread behind.
    assert!(manager.delete_log(&tp).unwrap());
    manager.shutdown().unwrap();
    assert!(manager.cleaner().is_none());
}

/// DumpLogSegments reads a cleaned segment and its index like any other: every kept
/// message, index entries that match the log (the gaps compaction leaves are reported as
/// non-consecutive offsets, as 0.8.2 reports them for compacted topics).
#[test]
fn dump_log_segments_reads_cleaned_segments() {
    let tmp = TempDir::new("clean-dump");
    let dir = tmp.join("t-0");
    let log = Log::open(&dir, LogConfig { segment_bytes: 8192, ..compact_config() }, 0, false, Arc::new(SystemClock)).unwrap();
    for batch in 0..300 {
        let key = |j: usize| if j == 0 { format!("unique{}", batch) } else { format!("k{}", (batch * 4 + j) % 150) };
        let msgs: Vec<Message> = (0..4).map(|j| msg(&key(j), Some(&format!("v{}", batch)))).collect();
        let codec = if batch % 2 == 0 { CompressionCodec::Gzip } else { CompressionCodec::None };
        log.append(encode_messages(codec, &msgs, 0), true).unwrap();
    }
    clean_fully(&log, &cleaner_config());
    let first = &log.log_segments()[0];
    let kept: Vec<i64> = contents(&log).iter().map(|(o, _, _)| *o).filter(|o| *o < log.log_segments()[1].base_offset()).collect();
    assert!(first.index().len() > 0, "the cleaned segment is indexed");
    let files = format!("{},{}", first.log_path().display(), first.index_path().display());
    let out = std::process::Command::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bin/kafka-run-class.sh"))
        .args(["kafka.tools.DumpLogSegments", "--files", &files, "--deep-iteration"])
        .env("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout, stderr);
    let printed: Vec<i64> = stdout
        .lines()
        .filter(|l| l.contains("isvalid: true"))
        .filter_map(|l| l.strip_prefix("offset: ")?.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(printed, kept);
    assert!(!stderr.contains("Mismatches"), "{}", stderr);
}

/// A full map stops a pass inside a segment; a tombstone after that point (past the
/// delete horizon: its segment is older than the clean section, the clock having gone
/// back) is not in the map, so the older value of its key survives the pass, and the
/// tombstone must too, or the deleted value comes back.
#[test]
fn a_tombstone_beyond_a_full_maps_reach_is_kept_so_the_deleted_value_stays_deleted() {
    let tmp = TempDir::new("clean-tombstone-reach");
    let (clock, dyn_clock) = mock_clock();
    let config = LogConfig { delete_retention_ms: 1000, segment_bytes: 16 * 1024, ..compact_config() };
    let log = Log::open(&tmp.join("t-0"), config, 0, false, dyn_clock).unwrap();
    clock.set_ms(10_000);
    put(&log, "deleted", Some("old value"));
    for i in 0..20 {
        put(&log, &format!("first{}", i), Some("x"));
    }
    log.roll().unwrap();
    let mut first_dirty = 0;
    while first_dirty < log.log_segments().last().unwrap().base_offset() {
        first_dirty = clean_log(&log, first_dirty, &cleaner_config()).unwrap().end_offset;
    }
    clock.set_ms(0);
    for i in 0..100 {
        put(&log, &format!("unique{}", i), Some("y"));
    }
    let tombstone = put(&log, "deleted", None);
    for i in 0..10 {
        put(&log, &format!("after{}", i), Some("z"));
    }
    log.roll().unwrap();
    // 50 slots: the map fills long before the tombstone.
    let small = CleanerConfig { dedupe_buffer_size: 50 * kafka08::log::cleaner::BYTES_PER_ENTRY, ..cleaner_config() };
    let latest_of_deleted = |log: &Log| contents(log).into_iter().filter(|(_, k, _)| k.as_deref() == Some("deleted")).last();
    let active = log.log_segments().last().unwrap().base_offset();
    while first_dirty < active {
        let stats = clean_log(&log, first_dirty, &small).unwrap();
        first_dirty = stats.end_offset;
        let latest = latest_of_deleted(&log);
        assert!(
            latest.as_ref().is_none_or(|(o, _, v)| *o == tombstone && v.is_none()),
            "after a pass to {}: the deleted key reads {:?}",
            first_dirty,
            latest
        );
    }
}
