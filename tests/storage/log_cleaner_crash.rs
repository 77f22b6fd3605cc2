//! Crash safety of the log cleaner with a real process: the test binary re-executes itself
//! as a child that appends keyed messages (reporting each append; a SIGKILL loses nothing written, page cache and all) and
//! cleans the log over and over; the parent SIGKILLs it at a random moment (often during
//! a cleaning or a swap), reopens the log as after an unclean shutdown, and checks that
//! the latest message of every key it was told about is there, that nothing else is
//! invented or duplicated, and that offsets only increase.


use bytes::Bytes;
use kafka08::common::SystemClock;
use kafka08::log::{clean_log, CleanerConfig, CleanupPolicy, Log, LogConfig};
use kafka08::message::{deep_iter, encode_messages, shallow_iter, CompressionCodec, Message};
use crate::support::child;
use crate::support::logs::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_DIR_ENV: &str = "KAFKA08_CLEANER_CRASH_CHILD_DIR";
const CHILD_SEED_ENV: &str = "KAFKA08_CLEANER_CRASH_CHILD_SEED";

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 4 * 1024,
        index_interval_bytes: 256,
        cleanup_policy: CleanupPolicy::Compact,
        file_delete_delay_ms: 0,
        ..LogConfig::default()
    }
}

/// The key of the message at `offset`: mostly one of 40 hot keys, sometimes its own.
fn key_for(offset: i64) -> String {
    if offset % 7 == 3 {
        format!("unique-{}", offset)
    } else {
        format!("hot-{}", (offset.wrapping_mul(2654435761)) % 40)
    }
}

fn value_for(offset: i64) -> String {
    format!("value-of-offset-{}", offset)
}

/// The child process (see `support::child`): appends and cleans until it is killed.
fn cleaner_crash_child() -> ! {
    let dir = std::env::var(CHILD_DIR_ENV).expect("the parent names the log directory");
    let seed: u64 = std::env::var(CHILD_SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = XorShift::new(seed);
    let log = Log::open(Path::new(&dir), config(), 0, false, Arc::new(SystemClock)).unwrap();
    let cleaner = CleanerConfig { dedupe_buffer_size: 256 * kafka08::log::cleaner::BYTES_PER_ENTRY, io_buffer_size: 8192, ..CleanerConfig::default() };
    let stdout = std::io::stdout();
    loop {
        for _ in 0..1 + rng.below(100) {
            let next = log.log_end_offset();
            let n = 1 + rng.below(5) as i64;
            let msgs: Vec<Message> = (next..next + n)
                .map(|o| Message::new(Some(key_for(o).as_bytes()), Some(value_for(o).as_bytes()), CompressionCodec::None))
                .collect();
            let codec = if rng.below(3) == 0 { CompressionCodec::Gzip } else { CompressionCodec::None };
            let info = log.append(encode_messages(codec, &msgs, 0), true).unwrap();
            assert_eq!((info.first_offset, info.last_offset), (next, next + n - 1));
            let mut out = stdout.lock();
            writeln!(out, "APPENDED {}", info.last_offset).unwrap();
            out.flush().unwrap();
        }
        // A small map: passes stop part-way, so swaps happen in every part of the log.
        let mut first_dirty = log.log_start_offset();
        let active = log.log_segments().last().unwrap().base_offset();
        while first_dirty < active {
            first_dirty = clean_log(&log, first_dirty, &cleaner).unwrap().end_offset;
            let mut out = stdout.lock();
            writeln!(out, "PASS {}", first_dirty).unwrap();
            out.flush().unwrap();
        }
    }
}

/// Run the child until it has printed `kill_after` lines, wait `delay`, SIGKILL it, and
/// return the highest offset it reported appended.
fn run_and_kill(dir: &Path, seed: u64, kill_after: usize, delay: Duration) -> i64 {
    let stderr_path = dir.with_extension("stderr");
    let mut child = child::command(module_path!(), CRASH_TEST)
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut flushed = -1i64;
    let mut seen = 0;
    let mut killed = false;
    for line in lines {
        let line = line.unwrap();
        seen += 1;
        if let Some(o) = line.strip_prefix("APPENDED ") {
            let o: i64 = o.trim().parse().unwrap();
            assert!(o > flushed);
            flushed = o;
        }
        if seen == kill_after && !killed {
            let until = Instant::now() + delay;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            // SAFETY: plain syscall on the pid of our own child.
            let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
            assert_eq!(rc, 0);
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    assert!(killed, "the child stopped by itself ({:?}) after {} lines:\n{}", status, seen, stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{}", stderr);
    flushed
}

/// Every message of the log, in order, checked: valid, offsets increasing, keys and values
/// the ones written at those offsets.
fn check_contents(log: &Log) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut last = -1i64;
    let mut last_shallow = -1i64;
    for seg in log.log_segments() {
        let bytes = Bytes::from(std::fs::read(seg.log_path()).unwrap());
        assert_eq!(bytes.len() as u64, seg.size(), "segment {} ends on an entry boundary", seg.base_offset());
        let mut consumed = 0;
        for e in shallow_iter(bytes.clone()) {
            let e = e.unwrap();
            e.message.validate().unwrap();
            assert!(e.offset > last_shallow);
            last_shallow = e.offset;
            consumed += e.size();
        }
        assert_eq!(consumed, bytes.len());
        for e in deep_iter(bytes) {
            let e = e.unwrap();
            assert!(e.offset > last, "offset {} after {}: a message twice or out of order", e.offset, last);
            last = e.offset;
            let key = String::from_utf8(e.message.key().unwrap().to_vec()).unwrap();
            let value = String::from_utf8(e.message.value().unwrap().to_vec()).unwrap();
            assert_eq!(key, key_for(e.offset));
            assert_eq!(value, value_for(e.offset));
            out.push((e.offset, key));
        }
    }
    out
}

const CRASH_TEST: &str = "sigkilled_cleaner_keeps_the_latest_message_of_every_key";

#[test]
fn sigkilled_cleaner_keeps_the_latest_message_of_every_key() {
    if child::is_child(module_path!(), CRASH_TEST) {
        cleaner_crash_child();
    }
    let mut rng = XorShift::new(0xc1ea_4e12);
    for iteration in 0..16 {
        let tmp = TempDir::new("cleaner-crash");
        let dir = tmp.join("compacted-0");
        let mut reported = -1i64;
        for round in 0..2 {
            let kill_after = 5 + rng.below(150) as usize;
            let delay = Duration::from_micros(rng.below(20_000));
            let flushed = run_and_kill(&dir, rng.next_u64(), kill_after, delay);
            let names = file_names(&dir);
            for suffix in [".cleaned", ".swap", ".deleted"] {
                if names.iter().any(|n| n.ends_with(suffix)) {
                    eprintln!("iteration {} round {}: killed with {} files present", iteration, round, suffix);
                }
            }
            assert!(flushed >= reported, "iteration {} round {}", iteration, round);
            reported = flushed;
        }
        let log = Log::open(&dir, config(), 0, false, Arc::new(SystemClock)).unwrap();
        assert!(log.log_end_offset() > reported, "log end {} but {} was reported appended", log.log_end_offset(), reported);
        let names = file_names(&dir);
        assert!(names.iter().all(|n| !n.ends_with(".swap") && !n.ends_with(".cleaned")), "{:?}", names);
        let got = check_contents(&log);
        // The latest reported message of every key, or a later one of the same key.
        let mut latest_reported: HashMap<String, i64> = HashMap::new();
        for o in 0..=reported {
            latest_reported.insert(key_for(o), o);
        }
        let mut latest_found: HashMap<&str, i64> = HashMap::new();
        for (o, k) in &got {
            latest_found.insert(k, *o);
        }
        for (k, o) in &latest_reported {
            let found = latest_found.get(k.as_str()).copied();
            assert!(found.is_some_and(|f| f >= *o), "iteration {}: key {} written at {} but found {:?}", iteration, k, o, found);
        }
        // And it still cleans and takes appends.
        let cleaner = CleanerConfig { dedupe_buffer_size: 1 << 20, ..CleanerConfig::default() };
        clean_log(&log, log.log_start_offset(), &cleaner).unwrap();
        let end = log.log_end_offset();
        let m = Message::new(Some(key_for(end).as_bytes()), Some(value_for(end).as_bytes()), CompressionCodec::None);
        assert_eq!(log.append(encode_messages(CompressionCodec::None, &[m], 0), true).unwrap().first_offset, end);
        check_contents(&log);
    }
}
