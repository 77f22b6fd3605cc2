//! Linear write speed, in the spirit of 0.8's `TestLinearWriteSpeed`: the same volume of
//! 100-byte messages in sets of 200 written (a) with plain appends to a file and (b) through
//! `Log::append` (CRC validation, offset assignment, index, one write per set), no fsync in
//! either, on the same filesystem. Prints MB/s for both and the ratio log/plain.
//!
//! ```text
//! cargo bench --bench linear_write_speed                      # 1 GiB
//! KAFKA08_BENCH_BYTES=256M cargo bench --bench linear_write_speed
//! cargo bench --bench linear_write_speed -- 512M              # or as an argument
//! KAFKA08_BENCH_DIR=/some/fs ...                              # default: the temp dir
//! ```
//!
//! Sets are prepared before timing, in batches, each as its own buffer (a produce request's
//! set arrives that way), so only the write paths are timed. Batches alternate between the
//! two writers so both meet the same page-cache and writeback conditions.

use bytes::Bytes;
use kafka08::common::SystemClock;
use kafka08::log::{Log, LogConfig};
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGE_SIZE: usize = 100;
const MESSAGES_PER_SET: usize = 200;
const BATCH_BYTES: usize = 64 * 1024 * 1024;

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; the first other argument, if any, is the volume.
    let arg = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let total = arg
        .as_deref()
        .and_then(parse_size)
        .or_else(|| std::env::var("KAFKA08_BENCH_BYTES").ok().as_deref().and_then(parse_size))
        .unwrap_or(1 << 30);
    let base = std::env::var("KAFKA08_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    let dir = base.join(format!("kafka08-linear-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // One set of 200 messages with 100-byte pseudo-random payloads.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let messages: Vec<Message> = (0..MESSAGES_PER_SET)
        .map(|_| {
            let payload: Vec<u8> = (0..MESSAGE_SIZE)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            Message::new(None, Some(&payload), CompressionCodec::None)
        })
        .collect();
    let template = encode_messages(CompressionCodec::None, &messages, 0);
    let set_len = template.len();
    let sets_total = (total as usize).div_ceil(set_len);
    let sets_per_batch = (BATCH_BYTES / set_len).max(1);

    let mut plain = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("plain.log")).unwrap();
    // No roll (its background fsync) inside the run: the largest segment 0.8 allows.
    let config = LogConfig { segment_bytes: i32::MAX as usize, ..LogConfig::default() };
    let log = Log::open(&dir.join("bench-0"), config, 0, true, Arc::new(SystemClock)).unwrap();

    println!(
        "linear write: {} MiB as {} sets of {} messages of {} bytes ({} bytes per set) in {}",
        (sets_total * set_len) >> 20,
        sets_total,
        MESSAGES_PER_SET,
        MESSAGE_SIZE,
        set_len,
        dir.display()
    );
    let (mut plain_time, mut log_time) = (Duration::ZERO, Duration::ZERO);
    let mut written = 0usize;
    let mut batch_no = 0;
    while written < sets_total {
        let n = sets_per_batch.min(sets_total - written);
        let batch: Vec<Bytes> = (0..n).map(|_| Bytes::from(template.to_vec())).collect();
        // Both writers free the buffers they wrote, inside the timing.
        let mut time_plain = |batch: Vec<Bytes>| {
            let t = Instant::now();
            for s in batch {
                plain.write_all(&s).unwrap();
            }
            t.elapsed()
        };
        let time_log = |batch: Vec<Bytes>| {
            let t = Instant::now();
            for s in batch {
                log.append(s, true).unwrap();
            }
            t.elapsed()
        };
        // Alternate which goes first.
        let copy: Vec<Bytes> = (0..n).map(|_| Bytes::from(template.to_vec())).collect();
        if batch_no % 2 == 0 {
            plain_time += time_plain(copy);
            log_time += time_log(batch);
        } else {
            log_time += time_log(batch);
            plain_time += time_plain(copy);
        }
        written += n;
        batch_no += 1;
    }
    let bytes = (sets_total * set_len) as u64;
    assert_eq!(log.size_in_bytes(), bytes);
    assert_eq!(log.log_end_offset() as usize, sets_total * MESSAGES_PER_SET);
    let (p, l) = (mb_per_s(bytes, plain_time), mb_per_s(bytes, log_time));
    println!("plain file append: {:>9.1} MB/s ({:.3} s)", p, plain_time.as_secs_f64());
    println!("Log::append:       {:>9.1} MB/s ({:.3} s)", l, log_time.as_secs_f64());
    println!("ratio log/plain:   {:>9.3}", l / p);
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}
