//! Crash recovery with a real process: the test re-executes itself as a child that
//! appends numbered messages (flushing after every append) and reports each flushed
//! offset; the parent SIGKILLs it at a random moment, reopens the log as after an unclean
//! shutdown, and checks that everything reported is there, intact, and the log is usable.


use kafka08::common::SystemClock;
use kafka08::log::{Log, LogConfig};
use kafka08::message::{encode_messages, shallow_iter, CompressionCodec, Message};
use crate::support::child;
use crate::support::logs::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

const CHILD_DIR_ENV: &str = "KAFKA08_LOG_CRASH_CHILD_DIR";
const CHILD_SEED_ENV: &str = "KAFKA08_LOG_CRASH_CHILD_SEED";

fn crash_config() -> LogConfig {
    LogConfig { segment_bytes: 8 * 1024, index_interval_bytes: 256, flush_interval_messages: 1, ..LogConfig::default() }
}

fn value_for(offset: i64) -> String {
    format!("value-of-offset-{}", offset)
}

/// The child process: appends until it is killed (see `support::child`).
fn crash_child() -> ! {
    let dir = std::env::var(CHILD_DIR_ENV).expect("the parent names the log directory");
    let seed: u64 = std::env::var(CHILD_SEED_ENV).ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = XorShift::new(seed);
    let log = Log::open(Path::new(&dir), crash_config(), 0, false, Arc::new(SystemClock)).unwrap();
    let stdout = std::io::stdout();
    loop {
        let next = log.log_end_offset();
        let n = 1 + rng.below(6) as i64;
        let msgs: Vec<Message> = (next..next + n)
            .map(|o| Message::new(Some(o.to_string().as_bytes()), Some(value_for(o).as_bytes()), CompressionCodec::None))
            .collect();
        let codec = if rng.below(4) == 0 { CompressionCodec::Gzip } else { CompressionCodec::None };
        let fsyncs_before: u64 = log.segments().iter().map(|s| s.fsyncs).sum();
        let info = log.append(encode_messages(codec, &msgs, 0), true).unwrap();
        assert_eq!((info.first_offset, info.last_offset), (next, next + n - 1));
        // SIGKILL keeps the page cache, so the parent cannot tell written from flushed:
        // "FLUSHED" is only said after an fsync of the segment completed.
        let fsyncs_after: u64 = log.segments().iter().map(|s| s.fsyncs).sum();
        assert!(fsyncs_after > fsyncs_before, "append with flush did not fsync");
        let mut out = stdout.lock();
        writeln!(out, "FLUSHED {}", info.last_offset).unwrap();
        out.flush().unwrap();
    }
}

/// Run the child until it has reported `kill_after` flushes (plus whatever is in flight),
/// SIGKILL it, and return the highest offset it reported flushed.
fn run_and_kill(dir: &Path, seed: u64, kill_after: usize) -> i64 {
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
        if let Some(o) = line.strip_prefix("FLUSHED ") {
            let o: i64 = o.trim().parse().unwrap();
            assert!(o > flushed);
            flushed = o;
            seen += 1;
            if seen == kill_after && !killed {
                // SAFETY: plain syscall on the pid of our own child.
                let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
                assert_eq!(rc, 0);
                killed = true;
            }
        }
    }
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    assert!(killed, "the child stopped by itself ({:?}) after {} flushes:\n{}", status, seen, stderr);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{}", stderr);
    flushed
}

/// Every segment holds only complete, valid entries.
fn assert_segments_end_on_boundaries(log: &Log) {
    for seg in log.segments() {
        let bytes = std::fs::read(&seg.log_path).unwrap();
        assert_eq!(bytes.len() as u64, seg.size);
        let mut consumed = 0;
        for e in shallow_iter(bytes::Bytes::from(bytes.clone())) {
            let e = e.unwrap();
            e.message.validate().unwrap();
            consumed += e.size();
        }
        assert_eq!(consumed, bytes.len(), "segment {} ends on an entry boundary", seg.base_offset);
    }
}

const CRASH_TEST: &str = "sigkilled_writer_loses_nothing_it_reported_flushed";

#[test]
fn sigkilled_writer_loses_nothing_it_reported_flushed() {
    if child::is_child(module_path!(), CRASH_TEST) {
        crash_child();
    }
    let mut rng = XorShift::new(0x5eed_1234);
    for iteration in 0..3 {
        let tmp = TempDir::new("crash");
        let dir = tmp.join("crash-0");
        let mut reported = -1i64;
        // Two crashes on the same log: the second run recovers the first crash and goes on.
        for round in 0..2 {
            let kill_after = 5 + rng.below(120) as usize;
            let flushed = run_and_kill(&dir, rng.next_u64(), kill_after);
            assert!(flushed > reported, "iteration {} round {}", iteration, round);
            reported = flushed;
        }
        let log = Log::open(&dir, crash_config(), 0, false, Arc::new(SystemClock)).unwrap();
        assert!(
            log.log_end_offset() > reported,
            "iteration {}: log end {} but {} was reported flushed",
            iteration,
            log.log_end_offset(),
            reported
        );
        let got = consume(&log, 0, 1 << 20);
        assert_eq!(got.len() as i64, log.log_end_offset(), "offsets are contiguous from 0");
        for (i, (offset, value)) in got.iter().enumerate() {
            assert_eq!(*offset, i as i64);
            assert_eq!(value, &value_for(*offset));
        }
        assert_segments_end_on_boundaries(&log);
        // And it takes appends afterwards.
        let end = log.log_end_offset();
        let m = Message::new(None, Some(value_for(end).as_bytes()), CompressionCodec::None);
        let info = log.append(encode_messages(CompressionCodec::None, &[m], 0), true).unwrap();
        assert_eq!(info.first_offset, end);
        log.flush().unwrap();
        drop(log);
        let log = Log::open(&dir, crash_config(), 0, false, Arc::new(SystemClock)).unwrap();
        assert_eq!(log.log_end_offset(), end + 1);
    }
}
