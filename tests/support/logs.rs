//! Helpers shared by the log storage tests (`log_*`): deterministic values and message
//! sets, a mock clock, small-segment configs, and readers of a log's files.
#![allow(dead_code)]

#[allow(unused_imports)] // not every test binary uses it through this module
pub use super::TempDir;

use bytes::Bytes;
use kafka08::common::{Clock, MockClock};
use kafka08::log::{Log, LogConfig};
use kafka08::message::{deep_iter, encode_messages, shallow_iter, CompressionCodec, Message};
use std::path::Path;
use std::sync::Arc;

/// xorshift64*: a tiny deterministic PRNG (no `rand` dependency).
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

pub fn value(i: usize) -> String {
    format!("message-{:06}", i)
}

pub fn message(i: usize) -> Message {
    Message::new(Some(format!("k{}", i).as_bytes()), Some(value(i).as_bytes()), CompressionCodec::None)
}

/// Messages `from..from+n` as an uncompressed set (producer offsets 0..n-1).
pub fn set(from: usize, n: usize) -> Bytes {
    set_with(CompressionCodec::None, from, n)
}

pub fn set_with(codec: CompressionCodec, from: usize, n: usize) -> Bytes {
    let msgs: Vec<Message> = (from..from + n).map(message).collect();
    encode_messages(codec, &msgs, 0)
}

/// Bytes of one uncompressed entry made by [`message`].
pub fn entry_size(i: usize) -> usize {
    12 + message(i).size()
}

pub fn mock_clock() -> (MockClock, Arc<dyn Clock>) {
    let c = MockClock::new(1_000_000);
    (c.clone(), Arc::new(c))
}

pub fn small_config() -> LogConfig {
    LogConfig { segment_bytes: 1024, max_index_size: 4096, index_interval_bytes: 64, ..LogConfig::default() }
}

pub fn open(dir: &Path, config: LogConfig, clock: Arc<dyn Clock>) -> Log {
    Log::open(dir, config, 0, true, clock).unwrap()
}

/// Every message in the log from `from` on, deep (offset, value), read with `max_bytes`
/// per fetch the way a consumer does (skipping inner offsets below the one asked for and
/// dropping a partial trailing entry).
pub fn consume(log: &Log, from: i64, max_bytes: usize) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let region = log.read(next, max_bytes, None).unwrap();
        let bytes = region.read_bytes().unwrap();
        let before = next;
        for e in deep_iter(bytes) {
            let e = e.unwrap();
            e.message.validate().unwrap();
            if e.offset < next {
                continue;
            }
            let v = e.message.value().map(|v| String::from_utf8(v.to_vec()).unwrap()).unwrap_or_default();
            out.push((e.offset, v));
            next = e.offset + 1;
        }
        assert!(next > before, "no progress at offset {} with max_bytes {}", next, max_bytes);
    }
    out
}

/// Shallow offsets of a byte region.
pub fn shallow_offsets(bytes: &Bytes) -> Vec<i64> {
    shallow_iter(bytes.clone()).map(|e| e.unwrap().offset).collect()
}

pub fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

/// Names of the files in a directory, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    v.sort();
    v
}
