//! Log cleaner throughput and memory. Builds a compacted log (default 1 GiB of 100-byte
//! values under 100,000 keys, 100 MiB segments), then in one run:
//!
//! 1. a plain sequential copy of the same segment files (read + write in 256 KiB chunks,
//!    the cleaner's default buffer), the floor any cleaner is measured against;
//! 2. one cleaning pass over the whole log in a child process with the broker's default
//!    cleaner settings (500 MB dedupe buffer, 1 thread, unthrottled), whose peak RSS is
//!    read back with `getrusage(RUSAGE_CHILDREN)`.
//!
//! Prints MB/s of log bytes for both and the ratio cleaner/plain. The cleaner reads the
//! dirty log twice (building the key map, then copying what it keeps), so 0.5 is its
//! ceiling with free CPU.
//!
//! ```text
//! cargo bench --bench log_cleaner                 # 1 GiB
//! KAFKA08_BENCH_BYTES=256M cargo bench --bench log_cleaner
//! KAFKA08_BENCH_DIR=/some/fs ...                  # default: the temp dir
//! ```

use kafka08::common::SystemClock;
use kafka08::log::{clean_log, CleanerConfig, CleanupPolicy, Log, LogConfig};
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const CHILD_ENV: &str = "KAFKA08_BENCH_CLEANER_CHILD";
const KEYS: u64 = 100_000;
const VALUE_SIZE: usize = 100;
const MESSAGES_PER_SET: usize = 200;

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

fn config() -> LogConfig {
    LogConfig { segment_bytes: 100 << 20, cleanup_policy: CleanupPolicy::Compact, file_delete_delay_ms: 0, ..LogConfig::default() }
}

fn child(dir: &Path) {
    let log = Log::open(dir, config(), 0, true, Arc::new(SystemClock)).expect("open the log");
    let size = log.size_in_bytes();
    let started = Instant::now();
    let stats = clean_log(&log, 0, &CleanerConfig::default()).expect("clean");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} {} {} {} {} {}",
        size, secs, stats.bytes_read, stats.bytes_written, stats.messages_read, stats.messages_kept
    );
}

fn main() {
    let dir_env = std::env::var(CHILD_ENV).ok();
    if let Some(d) = dir_env {
        child(Path::new(&d));
        return;
    }
    let bytes = std::env::var("KAFKA08_BENCH_BYTES")
        .ok()
        .or_else(|| std::env::args().skip(1).find(|a| !a.starts_with('-')))
        .and_then(|s| parse_size(&s))
        .unwrap_or(1 << 30);
    let base = std::env::var("KAFKA08_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let root = base.join(format!("kafka08-bench-cleaner-{}", std::process::id()));
    let dir = root.join("table-0");
    std::fs::create_dir_all(&dir).expect("bench dir");
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(root.clone());

    // Build the log.
    let started = Instant::now();
    {
        let log = Log::open(&dir, config(), 0, false, Arc::new(SystemClock)).expect("open");
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let value = vec![b'v'; VALUE_SIZE];
        while log.size_in_bytes() < bytes {
            let msgs: Vec<Message> = (0..MESSAGES_PER_SET)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("key-{:08}", x % KEYS);
                    Message::new(Some(key.as_bytes()), Some(&value), CompressionCodec::None)
                })
                .collect();
            log.append(encode_messages(CompressionCodec::None, &msgs, 0), true).expect("append");
        }
        log.roll().expect("roll");
        log.flush().expect("flush");
        log.close().expect("close");
    }
    let segments: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        v.sort();
        v
    };
    let log_bytes: u64 = segments.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    println!(
        "log: {:.0} MiB in {} segments, {} keys, {}-byte values (built in {:.1} s)",
        log_bytes as f64 / (1 << 20) as f64,
        segments.len(),
        KEYS,
        VALUE_SIZE,
        started.elapsed().as_secs_f64()
    );

    // 1. Plain sequential read + write of the same bytes.
    let copy = root.join("plain-copy");
    let started = Instant::now();
    {
        let mut out = std::fs::File::create(&copy).expect("copy file");
        let mut buf = vec![0u8; 256 * 1024];
        for p in &segments {
            let mut f = std::fs::File::open(p).expect("segment");
            loop {
                let n = f.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).expect("write");
            }
        }
        out.sync_all().expect("fsync");
    }
    let plain_secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&copy);
    let mb = log_bytes as f64 / 1e6;
    println!("plain read+write: {:.1} MB/s ({:.2} s)", mb / plain_secs, plain_secs);

    // 2. The cleaner, in a child process so its peak RSS is its own.
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(CHILD_ENV, &dir)
        .output()
        .expect("run the cleaner child");
    assert!(out.status.success(), "cleaner child failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = line.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    let (size, secs, read, written, msgs_read, msgs_kept) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    // SAFETY: getrusage fills the struct we pass; RUSAGE_CHILDREN covers the child above.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    println!(
        "cleaner: {:.1} MB/s of log ({:.2} s; read {:.0} MB, wrote {:.1} MB; kept {} of {} messages)",
        size / 1e6 / secs,
        secs,
        read / 1e6,
        written / 1e6,
        msgs_kept,
        msgs_read
    );
    println!("ratio cleaner/plain: {:.2}", (size / 1e6 / secs) / (mb / plain_secs));
    println!("cleaner process peak RSS: {:.0} MiB (dedupe buffer 500 MB, allocated, touched as needed)", usage.ru_maxrss as f64 / 1024.0);
}
