//! The log cleaner (0.8.2 `kafka.log.LogCleaner` + `LogCleanerManager`): background
//! threads that compact logs whose `cleanup.policy` is `compact`, keeping the latest
//! message of every key with its original offset.
//!
//! - Each thread repeatedly takes the dirtiest compacted log whose dirty ratio (bytes
//!   past its cleaner checkpoint, up to the active segment, over its total bytes) exceeds
//!   its `min.cleanable.dirty.ratio`, cleans it ([`Cleaner::clean`]) and moves the
//!   checkpoint; with nothing to do it sleeps `log.cleaner.backoff.ms`. The active
//!   segment is never cleaned.
//! - Checkpoints live in `cleaner-offset-checkpoint` in each data directory, in 0.8.2's
//!   offset checkpoint text format, so a data directory moves between 0.8.2 and kafka08.
//! - Cleaning runs on these threads only (never the async workers), reads and writes at
//!   most `log.cleaner.io.max.bytes.per.second` over all threads, and takes the log's lock
//!   only for the swap. A log being deleted has its cleaning aborted first; a truncation
//!   voids the pass that overlaps it and pulls the checkpoint back.
//! - A log that fails to clean (corrupt data, a dedupe buffer too small for one entry) is
//!   reported and left alone for a while; 0.8.2's thread died instead and cleaning stopped
//!   for every log (KAFKA-1755).

mod clean;
mod offset_map;

pub use clean::{CleanError, CleanStats, Cleaner, Throttler};
pub use offset_map::{SkimpyOffsetMap, BYTES_PER_ENTRY};

use super::checkpoint::OffsetCheckpoint;
use super::log::{Log, LogError};
use crate::common::TopicPartition;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The cleaner's checkpoint file, one per data directory (0.8.2 name and format).
pub const CLEANER_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// How long a log that failed to clean is left alone (at least the backoff).
const UNCLEANABLE_RETRY: Duration = Duration::from_secs(60);

/// The broker-wide cleaner settings (0.8.2 `CleanerConfig`, from the `log.cleaner.*` keys).
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.threads`.
    pub num_threads: usize,
    /// `log.cleaner.dedupe.buffer.size`, split evenly over the threads.
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.io.buffer.load.factor`: how full a dedupe map may get.
    pub dedupe_buffer_load_factor: f64,
    /// `log.cleaner.io.buffer.size`, split over the threads, half to read, half to write.
    pub io_buffer_size: usize,
    /// `log.cleaner.io.max.bytes.per.second`.
    pub max_io_bytes_per_second: f64,
    /// `log.cleaner.backoff.ms`.
    pub backoff_ms: u64,
    /// `log.cleaner.enable`.
    pub enable_cleaner: bool,
}

impl Default for CleanerConfig {
    /// 0.8.2's defaults, except that the cleaner is on (0.8.2 shipped it off, which left
    /// its own `__consumer_offsets` uncompacted; later Kafka turned it on).
    fn default() -> CleanerConfig {
        CleanerConfig {
            num_threads: 1,
            dedupe_buffer_size: 500 * 1024 * 1024,
            dedupe_buffer_load_factor: 0.9,
            io_buffer_size: 512 * 1024,
            max_io_bytes_per_second: f64::MAX,
            backoff_ms: 15_000,
            enable_cleaner: true,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A compacted log and how dirty it is (0.8.2 `LogToClean`).
#[derive(Debug, Clone)]
pub struct LogToClean {
    pub tp: TopicPartition,
    pub log: Arc<Log>,
    pub first_dirty_offset: i64,
    pub clean_bytes: u64,
    pub dirty_bytes: u64,
}

impl LogToClean {
    /// `first_dirty` is the checkpoint, reset to the log start when outside the log (a
    /// log recreated or truncated away; 0.8.2 KAFKA-1641).
    pub fn new(tp: TopicPartition, log: Arc<Log>, checkpoint: Option<i64>) -> LogToClean {
        let segments = log.log_segments();
        let start = segments.first().map_or(0, |s| s.base_offset());
        let active = segments.last().map_or(0, |s| s.base_offset());
        let first_dirty = match checkpoint {
            Some(c) if c >= start && c <= log.log_end_offset() => c,
            _ => start,
        };
        let mut clean_bytes = 0;
        let mut dirty_bytes = 0;
        for (i, s) in segments.iter().enumerate() {
            if s.base_offset() >= active {
                break;
            }
            let next = segments.get(i + 1).map_or(i64::MAX, |n| n.base_offset());
            if next <= first_dirty {
                clean_bytes += s.size();
            } else {
                dirty_bytes += s.size();
            }
        }
        LogToClean { tp, log, first_dirty_offset: first_dirty, clean_bytes, dirty_bytes }
    }

    pub fn total_bytes(&self) -> u64 {
        self.clean_bytes + self.dirty_bytes
    }

    pub fn cleanable_ratio(&self) -> f64 {
        if self.total_bytes() == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / self.total_bytes() as f64
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Logs being cleaned; true when asked to abort.
    in_progress: HashMap<TopicPartition, bool>,
    uncleanable: HashMap<TopicPartition, Instant>,
    stopped: bool,
}

/// Where the cleaner finds the logs (the log manager's current set).
pub type LogSource = Arc<dyn Fn() -> Vec<(TopicPartition, Arc<Log>)> + Send + Sync>;

/// The cleaner: its threads, checkpoints and the logs in progress.
pub struct LogCleaner {
    config: CleanerConfig,
    logs: LogSource,
    checkpoints: HashMap<PathBuf, OffsetCheckpoint>,
    state: Mutex<State>,
    changed: Condvar,
    throttler: Arc<Throttler>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    passes: AtomicU64,
}

impl std::fmt::Debug for LogCleaner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCleaner").field("config", &self.config).finish()
    }
}

impl LogCleaner {
    /// A cleaner over `dirs` (each gets its `cleaner-offset-checkpoint`) and the logs
    /// `logs` returns. No thread runs until [`LogCleaner::startup`].
    pub fn new(config: CleanerConfig, dirs: &[PathBuf], logs: LogSource) -> Result<LogCleaner, LogError> {
        let mut checkpoints = HashMap::new();
        for d in dirs {
            checkpoints.insert(d.clone(), OffsetCheckpoint::new(&d.join(CLEANER_CHECKPOINT_FILE))?);
        }
        Ok(LogCleaner {
            throttler: Arc::new(Throttler::new(config.max_io_bytes_per_second)),
            config,
            logs,
            checkpoints,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            passes: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &CleanerConfig {
        &self.config
    }

    /// Start `log.cleaner.threads` threads.
    pub fn startup(self: &Arc<Self>) {
        let mut threads = lock(&self.threads);
        for id in 0..self.config.num_threads.max(1) {
            let me = self.clone();
            match std::thread::Builder::new().name(format!("kafka-log-cleaner-thread-{}", id)).spawn(move || me.run(id)) {
                Ok(h) => threads.push(h),
                Err(e) => ::log::error!("cannot start log cleaner thread {}: {}", id, e),
            }
        }
    }

    /// Stop the threads, aborting the passes in progress (their `.cleaned` files are
    /// removed; nothing is swapped half-way).
    pub fn shutdown(&self) {
        {
            let mut s = lock(&self.state);
            s.stopped = true;
            for v in s.in_progress.values_mut() {
                *v = true;
            }
        }
        self.changed.notify_all();
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.threads));
        for h in handles {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }

    /// Passes completed so far (every thread, every log).
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Acquire)
    }

    /// Abort the cleaning of `tp` if one is running and wait until it has stopped (0.8.2
    /// `abortCleaning`, before a log is deleted).
    pub fn abort_cleaning(&self, tp: &TopicPartition) {
        let mut s = lock(&self.state);
        if let Some(v) = s.in_progress.get_mut(tp) {
            *v = true;
        }
        while s.in_progress.contains_key(tp) {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.uncleanable.remove(tp);
    }

    fn dir_of(log: &Log) -> Option<PathBuf> {
        log.dir().parent().map(Path::to_path_buf)
    }

    /// Every checkpoint of every data directory.
    pub fn checkpoints(&self) -> HashMap<TopicPartition, i64> {
        let mut all = HashMap::new();
        for (dir, cp) in &self.checkpoints {
            match cp.read() {
                Ok(m) => all.extend(m),
                Err(e) => ::log::warn!("{} in {}; cleaning its logs from their start", e, dir.display()),
            }
        }
        all
    }

    /// 0.8.2 `updateCheckpoints`: set (or, with None, drop) `tp`'s checkpoint in `dir`,
    /// keeping only the entries of logs that still exist.
    fn update_checkpoint(&self, dir: &Path, tp: &TopicPartition, offset: Option<i64>) {
        let Some(cp) = self.checkpoints.get(dir) else { return };
        let live: Vec<TopicPartition> = (self.logs)()
            .into_iter()
            .filter(|(_, l)| Self::dir_of(l).as_deref() == Some(dir))
            .map(|(tp, _)| tp)
            .collect();
        let mut map = cp.read().unwrap_or_default();
        map.retain(|k, _| live.contains(k));
        match offset {
            Some(o) => {
                map.insert(tp.clone(), o);
            }
            None => {
                map.remove(tp);
            }
        }
        if let Err(e) = cp.write(&map) {
            ::log::error!("cannot write the cleaner checkpoint in {}: {}", dir.display(), e);
        }
    }

    /// Pull checkpoints back to where logs were truncated, so re-appended messages count
    /// as dirty (0.8.2 `maybeTruncateCheckpoint`).
    fn apply_truncations(&self, logs: &[(TopicPartition, Arc<Log>)], checkpoints: &mut HashMap<TopicPartition, i64>) {
        for (tp, log) in logs {
            if let Some(t) = log.take_truncated_to() {
                if checkpoints.get(tp).is_some_and(|c| *c > t) {
                    checkpoints.insert(tp.clone(), t);
                    if let Some(dir) = Self::dir_of(log) {
                        self.update_checkpoint(&dir, tp, Some(t));
                    }
                }
            }
        }
    }

    /// 0.8.2 `grabFilthiestLog`: the compacted log with the highest dirty ratio above its
    /// `min.cleanable.dirty.ratio`, not being cleaned nor recently failed; marked in
    /// progress.
    pub fn grab_filthiest_log(&self) -> Option<LogToClean> {
        let logs = (self.logs)();
        let mut checkpoints = self.checkpoints();
        self.apply_truncations(&logs, &mut checkpoints);
        let mut s = lock(&self.state);
        if s.stopped {
            return None;
        }
        let now = Instant::now();
        s.uncleanable.retain(|_, until| *until > now);
        let best = logs
            .into_iter()
            .filter(|(tp, log)| log.config().compact() && !s.in_progress.contains_key(tp) && !s.uncleanable.contains_key(tp))
            .map(|(tp, log)| {
                let cp = checkpoints.get(&tp).copied();
                LogToClean::new(tp, log, cp)
            })
            .filter(|l| l.total_bytes() > 0 && l.cleanable_ratio() > l.log.config().min_cleanable_ratio)
            .max_by(|a, b| a.cleanable_ratio().total_cmp(&b.cleanable_ratio()))?;
        s.in_progress.insert(best.tp.clone(), false);
        Some(best)
    }

    fn aborted(&self, tp: &TopicPartition) -> bool {
        let s = lock(&self.state);
        s.stopped || s.in_progress.get(tp).copied().unwrap_or(true)
    }

    /// 0.8.2 `doneCleaning`: the pass is over; move the checkpoint when it succeeded.
    fn done_cleaning(&self, ltc: &LogToClean, result: &Result<CleanStats, CleanError>) {
        if let Ok(stats) = result {
            if stats.end_offset > ltc.first_dirty_offset {
                if let Some(dir) = Self::dir_of(&ltc.log) {
                    self.update_checkpoint(&dir, &ltc.tp, Some(stats.end_offset));
                }
            }
        }
        let mut s = lock(&self.state);
        s.in_progress.remove(&ltc.tp);
        if let Err(e) = result {
            if !matches!(e, CleanError::Aborted) {
                s.uncleanable.insert(ltc.tp.clone(), Instant::now() + UNCLEANABLE_RETRY.max(Duration::from_millis(self.config.backoff_ms)));
            }
        }
        drop(s);
        self.passes.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_all();
    }

    /// Sleep up to `d`; true when stopped meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut s = lock(&self.state);
        loop {
            if s.stopped {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Clean the filthiest log once; false when there was none.
    pub fn clean_one(&self, cleaner: &mut Cleaner) -> bool {
        let Some(ltc) = self.grab_filthiest_log() else { return false };
        ::log::info!(
            "Beginning cleaning of log {} from offset {} ({:.1}% dirty).",
            ltc.log.name(),
            ltc.first_dirty_offset,
            ltc.cleanable_ratio() * 100.0
        );
        let tp = ltc.tp.clone();
        let result = cleaner.clean(&ltc.log, ltc.first_dirty_offset, &|| self.aborted(&tp));
        match &result {
            Ok(stats) => ::log::info!(
                "Log {} cleaned up to offset {}: read {} bytes ({} messages), wrote {} bytes ({} messages), {} swaps, {} keys ({:.1}% of the dedupe map) in {:.3} s",
                ltc.log.name(),
                stats.end_offset,
                stats.bytes_read,
                stats.messages_read,
                stats.bytes_written,
                stats.messages_kept,
                stats.swaps,
                stats.map_keys,
                stats.map_utilization * 100.0,
                stats.elapsed.as_secs_f64()
            ),
            Err(CleanError::Aborted) => ::log::info!("Cleaning of log {} aborted.", ltc.log.name()),
            Err(e) => ::log::error!("Error cleaning log {}; leaving it alone for a while: {}", ltc.log.name(), e),
        }
        self.done_cleaning(&ltc, &result);
        true
    }

    /// A cleaner (map and buffers) sleeping through this cleaner's throttle.
    fn new_cleaner(self: &Arc<Self>) -> Cleaner {
        let me = Arc::downgrade(self);
        Cleaner::new(
            self.config.clone(),
            self.throttler.clone(),
            Box::new(move |d| me.upgrade().is_none_or(|c| c.sleep(d))),
        )
    }

    fn run(self: Arc<Self>, id: usize) {
        ::log::info!("Cleaner {}: starting", id);
        let mut cleaner = self.new_cleaner();
        loop {
            if lock(&self.state).stopped {
                break;
            }
            if !self.clean_one(&mut cleaner) && self.sleep(Duration::from_millis(self.config.backoff_ms)) {
                break;
            }
        }
        ::log::info!("Cleaner {}: stopped", id);
    }

    /// Wait until `tp`'s checkpoint reaches `offset` or `timeout` passes (0.8.2
    /// `awaitCleaned`, for tests and tools); true when it did.
    pub fn await_cleaned(&self, tp: &TopicPartition, offset: i64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.checkpoints().get(tp).is_some_and(|c| *c >= offset) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let s = lock(&self.state);
            let _ = self.changed.wait_timeout(s, (deadline - now).min(Duration::from_millis(100)));
        }
    }
}

/// One pass over one log outside the cleaner threads (tests, tools): clean `log` from
/// `first_dirty` with `config`'s map and buffers, unthrottled.
pub fn clean_log(log: &Log, first_dirty: i64, config: &CleanerConfig) -> Result<CleanStats, CleanError> {
    let mut cleaner = Cleaner::new(config.clone(), Arc::new(Throttler::new(f64::MAX)), Box::new(|_| false));
    cleaner.clean(log, first_dirty, &|| false)
}
