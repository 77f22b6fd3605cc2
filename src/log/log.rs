//! A partition's log (0.8.2 `kafka.log.Log`): a folder of segments, appends to the last
//! one, reads from any, rolls, retention, truncation, flush and recovery.
//!
//! Concurrency: modifications (append, roll, truncate, retention) are serialized by one
//! mutex; readers take no lock beyond cloning the current segment list, which is
//! copy-on-write, so a reader holding an old list (or a `FetchRegion`) is undisturbed by
//! retention deleting segments under it. The log end offset is published after the bytes
//! are written.

use super::config::LogConfig;
use super::segment::{
    index_filename, log_filename, FetchRegion, IndexState, LogSegment, CLEANED_FILE_SUFFIX, DELETED_FILE_SUFFIX,
    INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, SWAP_FILE_SUFFIX,
};
use crate::common::{Clock, ErrorCode, TopicPartition};
use crate::message::{analyze, analyze_and_number, assign_numbered, AppendInfo, CompressionCodec, MessageError};
use bytes::{Bytes, BytesMut};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;

/// Why a log operation failed. [`LogError::error_code`] is the one place that maps these
/// to 0.8.2 wire error codes.
#[derive(Debug)]
pub enum LogError {
    /// The message set was refused by validation or offset assignment.
    Message(MessageError),
    /// A read outside [log start offset, log end offset].
    OffsetOutOfRange { offset: i64, log_start: i64, log_end: i64 },
    /// A set (after offset assignment) larger than `segment.bytes`.
    SetTooLarge { size: usize, max: usize },
    /// A follower append whose offsets do not increase or start below the log end offset
    /// (0.8.2 throws `IllegalArgumentException("Out of order offsets found ...")`).
    OutOfOrderOffsets { first_offset: i64, log_end: i64 },
    InvalidArgument(String),
    /// A partition whose topic name breaks 0.8.2's rules (`Topic.validate`) or whose number
    /// is negative: its folder name would not be `<topic>-<partition>` under a data
    /// directory (`../x` would escape it).
    InvalidTopicPartition(String),
    Io { context: String, source: io::Error },
    /// A log directory already locked by another broker (process) or log manager.
    DirLocked { dir: PathBuf, reason: String },
    /// The same partition found in two log directories.
    DuplicateLog { tp: TopicPartition, first: PathBuf, second: PathBuf },
    /// An offset checkpoint file that does not parse.
    BadCheckpoint { path: PathBuf, reason: String },
}

impl LogError {
    /// The 0.8.2 wire error code for a partition whose operation failed this way.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::Message(e) => e.error_code(),
            LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            LogError::SetTooLarge { .. } => ErrorCode::MessageSetSizeTooLarge,
            LogError::InvalidTopicPartition(_) => ErrorCode::InvalidTopic,
            _ => ErrorCode::Unknown,
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> LogError {
        let context = context.into();
        move |source| LogError::Io { context, source }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Message(e) => e.fmt(f),
            LogError::OffsetOutOfRange { offset, log_start, log_end } => write!(
                f,
                "Request for offset {} but we only have log segments in the range {} to {}.",
                offset, log_start, log_end
            ),
            LogError::SetTooLarge { size, max } => write!(
                f,
                "Message set size is {} bytes which exceeds the maximum configured segment size of {}.",
                size, max
            ),
            LogError::OutOfOrderOffsets { first_offset, log_end } => write!(
                f,
                "Out of order offsets found: first offset {} with log end offset {}",
                first_offset, log_end
            ),
            LogError::InvalidArgument(s) => f.write_str(s),
            LogError::InvalidTopicPartition(s) => f.write_str(s),
            LogError::Io { context, source } => write!(f, "{}: {}", context, source),
            LogError::DirLocked { dir, reason } => write!(
                f,
                "Failed to acquire lock on file .lock in {}. A Kafka instance in another process or thread is using this directory. ({})",
                dir.display(),
                reason
            ),
            LogError::DuplicateLog { tp, first, second } => write!(
                f,
                "Duplicate log directories found for {}: {}, {}!",
                tp,
                first.display(),
                second.display()
            ),
            LogError::BadCheckpoint { path, reason } => {
                write!(f, "Malformed offset checkpoint file {}: {}", path.display(), reason)
            }
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Message(e) => Some(e),
            LogError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<MessageError> for LogError {
    fn from(e: MessageError) -> Self {
        LogError::Message(e)
    }
}

/// What an append did (0.8.2 `LogAppendInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogAppendInfo {
    /// First offset appended: the first assigned offset (leader), or the first shallow
    /// offset as given (follower; for a compressed wrapper that is its last inner offset,
    /// as in 0.8.2). -1 when the set held no complete entry and nothing was written.
    pub first_offset: i64,
    /// Last offset appended (the log end offset is now this + 1); -1 when nothing.
    pub last_offset: i64,
    /// How far the log end offset moved: the number of messages appended by a leader,
    /// the offsets the leader assigned (gaps included) for a follower.
    pub message_count: u64,
    /// Complete shallow entries in the set as given.
    pub shallow_count: usize,
    /// Bytes of complete entries in the set as given (0.8.2 `validBytes`).
    pub valid_bytes: usize,
    /// Bytes written to the segment (differs after recompression).
    pub appended_bytes: usize,
    /// The codec of the last compressed entry, or none.
    pub codec: CompressionCodec,
}

/// A set validated by [`Log::prepare_append`], to be written by [`Log::commit_append`].
#[derive(Debug)]
pub struct PreparedAppend {
    set: PreparedSet,
    info: AppendInfo,
    /// The configuration it was validated under, also the one it is written under.
    config: Arc<LogConfig>,
}

#[derive(Debug)]
enum PreparedSet {
    /// Numbered from `numbered_from` (see `analyze_and_number`).
    Leader { buf: BytesMut, numbered_from: i64 },
    Follower(Bytes),
}

impl PreparedAppend {
    /// Whether committing it may block its thread for long: a compressed set is inflated
    /// and recompressed, and `flush.messages` may fsync.
    pub fn may_block(&self) -> bool {
        self.info.codec != CompressionCodec::None || self.config.flush_interval_messages != i64::MAX
    }
}

/// One segment as seen by tools and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    pub base_offset: i64,
    pub size: u64,
    pub log_path: PathBuf,
    pub index_path: PathBuf,
    pub index_entries: usize,
    pub index_file_size: u64,
    pub created_ms: i64,
    pub last_modified_ms: i64,
    /// Completed fsyncs of the segment since it was opened.
    pub fsyncs: u64,
}

/// State shared with the background flush started by a roll.
#[derive(Debug)]
struct Shared {
    /// Serializes every modification of the log.
    lock: Mutex<()>,
    next_offset: AtomicI64,
    recovery_point: AtomicI64,
    last_flush_ms: AtomicI64,
    /// Bumped by every truncation: the cleaner swaps in a segment only if no truncation
    /// happened since it started reading (what it read may be gone or rewritten).
    truncations: AtomicU64,
    /// The lowest offset truncated to since the cleaner last asked (i64::MAX: none); the
    /// cleaner lowers its checkpoint to it, so re-appended messages count as dirty.
    truncated_to: AtomicI64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Move the recovery point up to `offset` (call with the lock held). Never past the
    /// log end: a truncation may have happened while the flush ran.
    fn advance_recovery_point(&self, offset: i64, now: i64) {
        if offset > self.recovery_point.load(Ordering::Acquire) && offset <= self.next_offset.load(Ordering::Acquire) {
            self.recovery_point.store(offset, Ordering::Release);
            self.last_flush_ms.store(now, Ordering::Release);
        }
    }
}

/// A segment removed from the log, renamed `.deleted`, removed when due.
#[derive(Debug)]
struct PendingDelete {
    segment: Arc<LogSegment>,
    due_ms: i64,
}

type SegmentList = Arc<Vec<Arc<LogSegment>>>;

#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    topic_partition: Option<TopicPartition>,
    config: RwLock<Arc<LogConfig>>,
    segments: RwLock<SegmentList>,
    shared: Arc<Shared>,
    pending_deletes: Mutex<Vec<PendingDelete>>,
    pending_flushes: Mutex<Vec<JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
    rng: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Index of the segment with the largest base offset <= `offset`.
fn floor_index(segments: &[Arc<LogSegment>], offset: i64) -> Option<usize> {
    let n = segments.partition_point(|s| s.base_offset() <= offset);
    n.checked_sub(1)
}

/// 0.8.2 `logSegments(from, to)`: the segments that may hold offsets in [from, to).
fn segments_in_range(segments: &[Arc<LogSegment>], from: i64, to: i64) -> Vec<Arc<LogSegment>> {
    let start = floor_index(segments, from).unwrap_or(0);
    segments[start..].iter().take_while(|s| s.base_offset() < to).cloned().collect()
}

impl Log {
    /// Open (or create) the log in `dir`. Leftover `.deleted`/`.cleaned` files are removed
    /// and interrupted `.swap`s completed; every segment is opened and a missing or damaged
    /// index is rebuilt. Unless `clean_shutdown`, every segment from the one holding
    /// `recovery_point` on is re-validated: the log is cut at the first invalid byte and all
    /// later segments are deleted. After a clean shutdown nothing is re-scanned.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        recovery_point: i64,
        clean_shutdown: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<Log, LogError> {
        std::fs::create_dir_all(dir).map_err(LogError::io(format!("cannot create log directory {}", dir.display())))?;
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let seed = clock.now_ms() as u64 ^ (dir as *const Path as *const u8 as u64).rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15;
        let log = Log {
            dir: dir.to_path_buf(),
            topic_partition: TopicPartition::parse_dir_name(&name),
            config: RwLock::new(Arc::new(config.clone())),
            segments: RwLock::new(Arc::new(Vec::new())),
            shared: Arc::new(Shared {
                lock: Mutex::new(()),
                next_offset: AtomicI64::new(0),
                recovery_point: AtomicI64::new(recovery_point),
                last_flush_ms: AtomicI64::new(clock.now_ms()),
                truncations: AtomicU64::new(0),
                truncated_to: AtomicI64::new(i64::MAX),
            }),
            pending_deletes: Mutex::new(Vec::new()),
            pending_flushes: Mutex::new(Vec::new()),
            clock,
            rng: AtomicU64::new(seed | 1),
        };
        log.load_segments(&config, recovery_point, clean_shutdown)?;
        Ok(log)
    }

    fn load_segments(&self, config: &LogConfig, recovery_point: i64, clean_shutdown: bool) -> Result<(), LogError> {
        let dir = &self.dir;
        let list = |what: &str| -> Result<Vec<PathBuf>, LogError> {
            let mut files = Vec::new();
            let rd = std::fs::read_dir(dir).map_err(LogError::io(format!("cannot list {} ({})", dir.display(), what)))?;
            for e in rd {
                let e = e.map_err(LogError::io(format!("cannot list {}", dir.display())))?;
                if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                    files.push(e.path());
                }
            }
            Ok(files)
        };
        let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();

        // First pass: leftovers of deletes and compaction, interrupted swaps (0.8.2).
        let mut swapped = Vec::new();
        for path in list("cleanup")? {
            let name = file_name(&path);
            if name.ends_with(DELETED_FILE_SUFFIX) || name.ends_with(CLEANED_FILE_SUFFIX) {
                std::fs::remove_file(&path).map_err(LogError::io(format!("cannot delete {}", path.display())))?;
            } else if let Some(base) = name.strip_suffix(SWAP_FILE_SUFFIX) {
                if base.ends_with(INDEX_FILE_SUFFIX) {
                    let _ = std::fs::remove_file(&path);
                } else if let Some(stem) = base.strip_suffix(LOG_FILE_SUFFIX) {
                    let _ = std::fs::remove_file(dir.join(format!("{}{}", stem, INDEX_FILE_SUFFIX)));
                    log::info!("Found log file {} from interrupted swap operation, repairing.", path.display());
                    std::fs::rename(&path, dir.join(base))
                        .map_err(LogError::io(format!("Failed to rename file {}", path.display())))?;
                    if let Ok(b) = stem.parse::<i64>() {
                        swapped.push(b);
                    }
                }
            }
        }

        // Second pass: orphaned indexes, then the segments.
        let mut bases = Vec::new();
        for path in list("load")? {
            let name = file_name(&path);
            if let Some(stem) = name.strip_suffix(INDEX_FILE_SUFFIX) {
                if !dir.join(format!("{}{}", stem, LOG_FILE_SUFFIX)).exists() {
                    log::warn!("Found an orphaned index file, {}, with no corresponding log file.", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            } else if let Some(stem) = name.strip_suffix(LOG_FILE_SUFFIX) {
                match stem.parse::<i64>() {
                    Ok(base) if base >= 0 && stem.bytes().all(|b| b.is_ascii_digit()) => bases.push(base),
                    _ => log::warn!("Ignoring {}: not a segment file name", path.display()),
                }
            }
        }
        bases.sort_unstable();
        let mut segments = Vec::with_capacity(bases.len());
        for base in bases {
            let (segment, state) = LogSegment::open(dir, base, config, self.random_jitter(config), self.clock.clone())
                .map_err(LogError::io(format!("cannot open segment {}", log_filename(dir, base).display())))?;
            if let IndexState::Rebuilt { reason, truncated } = state {
                log::error!(
                    "Index of {} was not usable ({}); rebuilt it from the log{}",
                    segment.log_path().display(),
                    reason,
                    if truncated > 0 { format!(", cutting {} invalid bytes", truncated) } else { String::new() }
                );
            }
            segments.push(Arc::new(segment));
        }
        // A completed swap replaces every old segment whose offsets the swapped-in segment
        // covers; those not yet renamed `.deleted` when the process died go now (0.8.2 kept
        // them, and their messages were served twice: KAFKA-2118). The cleaner only swaps a
        // segment in for old segments it kept a message of (or for one old segment), so
        // "covered" is exactly the replaced group: the log is all old or all new there.
        for base in swapped {
            let Some(i) = segments.iter().position(|s| s.base_offset() == base) else { continue };
            let next = segments[i]
                .next_offset()
                .map_err(LogError::io(format!("cannot read {}", segments[i].log_path().display())))?;
            while i + 1 < segments.len() && segments[i + 1].base_offset() < next {
                let old = segments.remove(i + 1);
                ::log::info!("Deleting segment {} of {}: replaced by the swapped-in segment {}", old.base_offset(), self.name(), base);
                old.delete().map_err(LogError::io(format!("cannot delete {}", old.log_path().display())))?;
            }
        }

        if segments.is_empty() {
            let segment = LogSegment::create(dir, 0, config, self.random_jitter(config), self.clock.clone())
                .map_err(LogError::io(format!("cannot create segment in {}", dir.display())))?;
            segments.push(Arc::new(segment));
        } else if !clean_shutdown {
            self.recover_segments(&mut segments, config, recovery_point)?;
        }

        // Non-active indexes are exactly their entries (a crash right after a roll can
        // leave one preallocated); the active one gets room to grow.
        let n = segments.len();
        for (i, s) in segments.iter().enumerate() {
            let r = if i + 1 == n {
                s.preallocate_index()
            } else {
                // Trims only an index left preallocated, and closes its descriptor.
                s.close()
            };
            r.map_err(LogError::io(format!("cannot resize index {}", s.index_path().display())))?;
        }
        let active = segments.last().expect("at least one segment").clone();
        let read_err = LogError::io(format!("cannot read {}", active.log_path().display()));
        let next = match active.next_offset() {
            Ok(next) => next,
            // A tail that does not even parse (a "clean" shutdown that was not): recover the
            // active segment rather than refuse to start.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                log::warn!("{}; recovering the active segment of {}", e, self.name());
                let recovered = active.recover(config.max_message_size).and_then(|_| {
                    active.preallocate_index()?;
                    active.next_offset()
                });
                recovered.map_err(read_err)?
            }
            Err(e) => return Err(read_err(e)),
        };
        *self.segments.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(segments);
        self.shared.next_offset.store(next, Ordering::Release);
        let rp = if clean_shutdown { next } else { recovery_point.min(next) };
        self.shared.recovery_point.store(rp, Ordering::Release);
        log::debug!("Completed load of log {} with log end offset {}", self.name(), next);
        Ok(())
    }

    /// 0.8.2 `recoverLog` for an unclean shutdown.
    fn recover_segments(
        &self,
        segments: &mut Vec<Arc<LogSegment>>,
        config: &LogConfig,
        recovery_point: i64,
    ) -> Result<(), LogError> {
        let start = floor_index(segments, recovery_point).unwrap_or(0);
        let mut i = start;
        while i < segments.len() {
            let s = &segments[i];
            log::info!("Recovering unflushed segment {} in log {}.", s.base_offset(), self.name());
            let truncated = s
                .recover(config.max_message_size)
                .map_err(LogError::io(format!("cannot recover {}", s.log_path().display())))?;
            if truncated > 0 {
                let next = s.next_offset().unwrap_or(s.base_offset());
                log::warn!(
                    "Corruption found in segment {} of log {}, truncating to offset {}.",
                    s.base_offset(),
                    self.name(),
                    next
                );
                for later in segments.drain(i + 1..) {
                    self.async_delete_segment(later, config)?;
                }
                break;
            }
            i += 1;
        }
        Ok(())
    }

    /// The folder name, `<topic>-<partition>`.
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The partition parsed from the folder name, if it parses.
    pub fn topic_partition(&self) -> Option<&TopicPartition> {
        self.topic_partition.as_ref()
    }

    pub fn config(&self) -> Arc<LogConfig> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replace the configuration (topic config change). Segment and index sizes of existing
    /// segments are kept, as 0.8.2 does; new segments use the new values.
    pub fn update_config(&self, config: LogConfig) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }

    fn snapshot(&self) -> SegmentList {
        self.segments.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn replace_segments(&self, segments: Vec<Arc<LogSegment>>) {
        *self.segments.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(segments);
    }

    fn active_segment(&self) -> Arc<LogSegment> {
        self.snapshot().last().expect("a log always has a segment").clone()
    }

    /// A random roll jitter for a new segment (0.8.2 `LogConfig.randomSegmentJitter`).
    fn random_jitter(&self, config: &LogConfig) -> i64 {
        if config.segment_jitter_ms <= 0 {
            return 0;
        }
        // xorshift64*; no need for quality, only for spreading rolls apart.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 1;
        (r % config.segment_jitter_ms.min(config.segment_ms).max(1) as u64) as i64
    }

    pub fn log_end_offset(&self) -> i64 {
        self.shared.next_offset.load(Ordering::Acquire)
    }

    /// The base offset of the oldest segment.
    pub fn log_start_offset(&self) -> i64 {
        self.snapshot().first().map_or(0, |s| s.base_offset())
    }

    /// Every message below this offset is on disk (fsynced).
    pub fn recovery_point(&self) -> i64 {
        self.shared.recovery_point.load(Ordering::Acquire)
    }

    /// Messages appended but not yet flushed (0.8.2 `unflushedMessages`).
    pub fn unflushed_messages(&self) -> i64 {
        self.log_end_offset() - self.recovery_point()
    }

    /// When the recovery point last moved (the clock's time).
    pub fn last_flush_ms(&self) -> i64 {
        self.shared.last_flush_ms.load(Ordering::Acquire)
    }

    pub fn size_in_bytes(&self) -> u64 {
        self.snapshot().iter().map(|s| s.size()).sum()
    }

    pub fn num_segments(&self) -> usize {
        self.snapshot().len()
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.snapshot()
            .iter()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset(),
                size: s.size(),
                log_path: s.log_path(),
                index_path: s.index_path(),
                index_entries: s.index().len(),
                index_file_size: s.index().file_size(),
                created_ms: s.created_ms(),
                last_modified_ms: s.last_modified_ms(),
                fsyncs: s.fsyncs(),
            })
            .collect()
    }

    /// The segments themselves (shared), oldest first.
    pub fn log_segments(&self) -> Vec<Arc<LogSegment>> {
        self.snapshot().as_ref().clone()
    }

    /// Append a message set. Leader (`assign_offsets`): offsets are assigned from the log
    /// end offset (compressed sets are recompressed into one wrapper). Follower: the
    /// offsets given are kept and must increase from the log end offset on. A set with no
    /// complete entry appends nothing and answers first offset -1. The active segment is
    /// rolled first if the set would not fit, it is older than `segment.ms` (minus its
    /// jitter), or its index is full; the set is then written with one write.
    pub fn append(&self, set: Bytes, assign: bool) -> Result<LogAppendInfo, LogError> {
        self.commit_append(self.prepare_append(set, assign)?)
    }

    /// The first half of [`Log::append`], without the lock: every entry is validated in
    /// one pass which, for a leader, also writes the offsets it will most likely get (from
    /// the log end offset now), in place when the set's buffer is ours alone (the usual
    /// case for a request's only set), else in one copy. [`PreparedAppend::may_block`]
    /// then tells whether the commit may block its thread.
    pub fn prepare_append(&self, set: Bytes, assign: bool) -> Result<PreparedAppend, LogError> {
        let config = self.config();
        if !assign {
            let info = analyze(&set, config.max_message_size)?;
            return Ok(PreparedAppend { set: PreparedSet::Follower(set), info, config });
        }
        let mut buf = match set.try_into_mut() {
            Ok(b) => b,
            Err(b) => BytesMut::from(&b[..]),
        };
        let numbered_from = self.log_end_offset();
        let info = analyze_and_number(&mut buf, config.max_message_size, numbered_from)?;
        Ok(PreparedAppend { set: PreparedSet::Leader { buf, numbered_from }, info, config })
    }

    /// The second half of [`Log::append`], under the lock: offsets (renumbered only when
    /// another append moved the log end offset since the set was prepared, or the set is
    /// compressed), the roll, the write and a `flush.messages` fsync. `prepared` must come
    /// from this log's [`Log::prepare_append`].
    pub fn commit_append(&self, prepared: PreparedAppend) -> Result<LogAppendInfo, LogError> {
        let PreparedAppend { set, info, config } = prepared;
        if info.shallow_count == 0 {
            return Ok(LogAppendInfo {
                first_offset: -1,
                last_offset: -1,
                message_count: 0,
                shallow_count: 0,
                valid_bytes: 0,
                appended_bytes: 0,
                codec: info.codec,
            });
        }
        let _guard = self.shared.lock();
        let next = self.shared.next_offset.load(Ordering::Acquire);
        let (bytes, first_offset, last_offset) = match set {
            PreparedSet::Leader { buf, numbered_from } => {
                let a = assign_numbered(buf, &info, numbered_from, next, config.max_message_size)?;
                if config.compact() && a.keyless > 0 {
                    return Err(MessageError::KeylessOnCompactedTopic.into());
                }
                (a.bytes, a.first_offset, a.last_offset)
            }
            PreparedSet::Follower(set) => {
                if !info.monotonic || info.first_offset < next {
                    return Err(LogError::OutOfOrderOffsets { first_offset: info.first_offset, log_end: next });
                }
                (set.slice(..info.valid_bytes), info.first_offset, info.last_offset)
            }
        };
        if bytes.len() > config.segment_bytes {
            return Err(LogError::SetTooLarge { size: bytes.len(), max: config.segment_bytes });
        }
        let segment = self.maybe_roll(bytes.len(), last_offset, &config)?;
        segment
            .append(first_offset, &bytes)
            .map_err(LogError::io(format!("I/O exception in append to log '{}'", self.name())))?;
        self.shared.next_offset.store(last_offset + 1, Ordering::Release);

        if self.unflushed_messages() >= config.flush_interval_messages {
            self.flush_segments_to(last_offset + 1)?;
            self.shared.advance_recovery_point(last_offset + 1, self.clock.now_ms());
        }
        Ok(LogAppendInfo {
            first_offset,
            last_offset,
            message_count: (last_offset + 1 - next) as u64,
            shallow_count: info.shallow_count,
            valid_bytes: info.valid_bytes,
            appended_bytes: bytes.len(),
            codec: info.codec,
        })
    }

    /// Roll if the active segment cannot take `set_len` more bytes, is too old, has a full
    /// index, or cannot index `last_offset` (call with the lock held).
    fn maybe_roll(&self, set_len: usize, last_offset: i64, config: &LogConfig) -> Result<Arc<LogSegment>, LogError> {
        let active = self.active_segment();
        let size = active.size();
        if size == 0 {
            return Ok(active);
        }
        let now = self.clock.now_ms();
        let too_big = size as usize + set_len > config.segment_bytes;
        let too_old = now - active.created_ms() > config.segment_ms - active.roll_jitter_ms();
        let index_full = active.index().is_full();
        let offset_overflow = last_offset - active.base_offset() > i32::MAX as i64;
        if too_big || too_old || index_full || offset_overflow {
            self.roll_locked(config)
        } else {
            Ok(active)
        }
    }

    /// Start a new active segment at the log end offset. Rolling an empty active segment
    /// is a no-op.
    pub fn roll(&self) -> Result<(), LogError> {
        let _guard = self.shared.lock();
        let config = self.config();
        self.roll_locked(&config).map(|_| ())
    }

    fn roll_locked(&self, config: &LogConfig) -> Result<Arc<LogSegment>, LogError> {
        let segments = self.snapshot();
        let new_offset = self.shared.next_offset.load(Ordering::Acquire);
        let active = segments.last().expect("a log always has a segment");
        if active.base_offset() == new_offset {
            return Ok(active.clone());
        }
        active
            .close()
            .map_err(LogError::io(format!("cannot trim index {}", active.index_path().display())))?;
        let segment = Arc::new(
            LogSegment::create(&self.dir, new_offset, config, self.random_jitter(config), self.clock.clone())
                .map_err(LogError::io(format!("cannot roll {} at offset {}", self.name(), new_offset)))?,
        );
        let mut list = segments.as_ref().clone();
        list.push(segment.clone());
        self.replace_segments(list);
        log::info!("Rolled new log segment for '{}' at offset {}", self.name(), new_offset);

        // Flush the finished segments in the background (0.8.2 schedules `flush(newOffset)`),
        // so the append that rolled does not wait for a segment's worth of fsync.
        let to_flush = segments_in_range(&segments, self.recovery_point(), new_offset);
        let shared = self.shared.clone();
        let clock = self.clock.clone();
        let name = self.name();
        let spawned = std::thread::Builder::new().name(format!("flush-log-{}", name)).spawn(move || {
            for s in &to_flush {
                if let Err(e) = s.flush() {
                    log::error!("Error flushing segment {} of log {}: {}", s.base_offset(), name, e);
                    return;
                }
            }
            let _guard = shared.lock();
            shared.advance_recovery_point(new_offset, clock.now_ms());
        });
        let mut flushes = lock(&self.pending_flushes);
        flushes.retain(|h| !h.is_finished());
        match spawned {
            Ok(h) => flushes.push(h),
            Err(e) => log::warn!("cannot start the flush of {} after a roll: {}", self.name(), e),
        }
        Ok(segment)
    }

    /// Read up to `max_bytes` from the first entry with offset >= `start_offset`, ending
    /// before the first entry with offset >= `max_offset` (the high watermark for
    /// consumers) when given. `start_offset` equal to the log end offset gives an empty
    /// region; outside [log start, log end] is `OffsetOutOfRange`. The region may end in
    /// the middle of an entry (0.8: clients drop a partial trailing entry).
    pub fn read(&self, start_offset: i64, max_bytes: usize, max_offset: Option<i64>) -> Result<FetchRegion, LogError> {
        let next = self.shared.next_offset.load(Ordering::Acquire);
        let segments = self.snapshot();
        let empty_at_end = |segments: &[Arc<LogSegment>]| {
            let last = segments.last().expect("a log always has a segment");
            FetchRegion { file: last.file(), position: last.size(), length: 0 }
        };
        if start_offset == next {
            return Ok(empty_at_end(&segments));
        }
        let first = match floor_index(&segments, start_offset) {
            Some(i) if start_offset <= next => i,
            _ => {
                return Err(LogError::OffsetOutOfRange {
                    offset: start_offset,
                    log_start: segments.first().map_or(0, |s| s.base_offset()),
                    log_end: next,
                })
            }
        };
        // The segment found may hold nothing at or after the offset (its tail was
        // compacted or truncated away): continue with the next ones.
        for s in &segments[first..] {
            let region = s
                .read(start_offset, max_offset, max_bytes)
                .map_err(LogError::io(format!("cannot read {}", s.log_path().display())))?;
            if let Some(r) = region {
                return Ok(r);
            }
        }
        Ok(empty_at_end(&segments))
    }

    /// 0.8.2 `KafkaApis.fetchOffsetsBefore`: segment base offsets (and the log end offset
    /// when the last segment is non-empty) whose segment was last modified at or before
    /// `timestamp`; -1 = latest, -2 = earliest. At most `max_num_offsets`, descending.
    pub fn offsets_before(&self, timestamp: i64, max_num_offsets: usize) -> Vec<i64> {
        let segments = self.snapshot();
        let mut pairs: Vec<(i64, i64)> = segments.iter().map(|s| (s.base_offset(), s.last_modified_ms())).collect();
        if segments.last().is_some_and(|s| s.size() > 0) {
            pairs.push((self.log_end_offset(), self.clock.now_ms()));
        }
        let start: isize = match timestamp {
            -1 => pairs.len() as isize - 1,
            -2 => 0,
            t => pairs.iter().rposition(|(_, time)| *time <= t).map_or(-1, |i| i as isize),
        };
        let n = max_num_offsets.min((start + 1).max(0) as usize);
        let mut out: Vec<i64> = (0..n).map(|j| pairs[start as usize - j].0).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }

    /// fsync everything up to the log end offset and move the recovery point there.
    pub fn flush(&self) -> Result<(), LogError> {
        self.flush_to(self.log_end_offset())
    }

    /// fsync the segments holding offsets below `offset` and move the recovery point to it
    /// (0.8.2 `flush(offset)`). Background flushes started by rolls are waited for first.
    pub fn flush_to(&self, offset: i64) -> Result<(), LogError> {
        self.join_pending_flushes();
        if offset <= self.recovery_point() {
            return Ok(());
        }
        // 0.8.2 timed the segment flushes of `Log.flush` (LogFlushRateAndTimeMs).
        let start = std::time::Instant::now();
        self.flush_segments_to(offset)?;
        crate::metrics::LOG_FLUSH_STATS.record(start.elapsed());
        let _guard = self.shared.lock();
        self.shared.advance_recovery_point(offset, self.clock.now_ms());
        Ok(())
    }

    fn flush_segments_to(&self, offset: i64) -> Result<(), LogError> {
        for s in segments_in_range(&self.snapshot(), self.recovery_point(), offset) {
            s.flush().map_err(LogError::io(format!("cannot flush {}", s.log_path().display())))?;
        }
        Ok(())
    }

    /// Retention (0.8.2 `LogManager.cleanupExpiredSegments` + `cleanupSegmentsToMaintainSize`):
    /// delete the oldest segments last modified more than `retention.ms` ago, then the
    /// oldest while the log stays at least `retention.bytes` without them. The active
    /// segment goes too if it qualifies and is non-empty; a new empty one is rolled first.
    /// Compacted logs are left alone. Returns the number of segments deleted.
    pub fn delete_old_segments(&self) -> Result<usize, LogError> {
        self.delete_expired_files();
        let config = self.config();
        if config.compact() {
            return Ok(0);
        }
        let now = self.clock.now_ms();
        let mut deleted = 0;
        if config.retention_ms >= 0 {
            let retention_ms = config.retention_ms;
            deleted += self.delete_segments_while(&config, |s| now - s.last_modified_ms() > retention_ms)?;
        }
        if config.retention_bytes >= 0 {
            let size = self.size_in_bytes() as i64;
            if size >= config.retention_bytes {
                let mut diff = size - config.retention_bytes;
                deleted += self.delete_segments_while(&config, |s| {
                    let seg = s.size() as i64;
                    if diff - seg >= 0 {
                        diff -= seg;
                        true
                    } else {
                        false
                    }
                })?;
            }
        }
        Ok(deleted)
    }

    /// 0.8.2 `deleteOldSegments(predicate)`: the oldest segments matching, stopping at the
    /// first that does not, never an empty active segment.
    fn delete_segments_while(
        &self,
        config: &LogConfig,
        mut predicate: impl FnMut(&LogSegment) -> bool,
    ) -> Result<usize, LogError> {
        let _guard = self.shared.lock();
        let segments = self.snapshot();
        let last_base = segments.last().map(|s| s.base_offset());
        let n = segments
            .iter()
            .take_while(|s| predicate(s) && (Some(s.base_offset()) != last_base || s.size() > 0))
            .count();
        if n == 0 {
            return Ok(0);
        }
        if n == segments.len() {
            self.roll_locked(config)?;
        }
        let current = self.snapshot();
        self.replace_segments(current[n..].to_vec());
        for s in &current[..n] {
            self.async_delete_segment(s.clone(), config)?;
        }
        Ok(n)
    }

    /// 0.8.2 `asyncDeleteSegment`: rename to `.deleted` now, remove after
    /// `file.delete.delay.ms`. Readers holding the segment keep reading (open descriptor).
    fn async_delete_segment(&self, segment: Arc<LogSegment>, config: &LogConfig) -> Result<(), LogError> {
        log::info!("Scheduling log segment {} for log {} for deletion.", segment.base_offset(), self.name());
        segment
            .change_file_suffixes("", DELETED_FILE_SUFFIX)
            .map_err(LogError::io(format!("cannot rename {} for deletion", segment.log_path().display())))?;
        if config.file_delete_delay_ms <= 0 {
            segment.delete().map_err(LogError::io(format!("cannot delete {}", segment.log_path().display())))?;
        } else {
            let due_ms = self.clock.now_ms().saturating_add(config.file_delete_delay_ms);
            lock(&self.pending_deletes).push(PendingDelete { segment, due_ms });
        }
        Ok(())
    }

    /// Remove the `.deleted` files whose delay has passed; returns how many segments.
    pub fn delete_expired_files(&self) -> usize {
        let now = self.clock.now_ms();
        let due: Vec<PendingDelete> = {
            let mut pending = lock(&self.pending_deletes);
            let (due, keep) = std::mem::take(&mut *pending).into_iter().partition(|p| p.due_ms <= now);
            *pending = keep;
            due
        };
        for p in &due {
            if let Err(e) = p.segment.delete() {
                log::warn!("cannot delete {}: {}", p.segment.log_path().display(), e);
            }
        }
        due.len()
    }

    /// Segments renamed `.deleted` and not yet removed.
    pub fn pending_deletes(&self) -> usize {
        lock(&self.pending_deletes).len()
    }

    /// Follower truncation (0.8.2 `truncateTo`): drop every message at or above
    /// `target_offset`. Segments wholly above it are deleted, the one holding it is cut and
    /// becomes active, the log end offset becomes `target_offset`. No-op at or past the log
    /// end offset; below the log start offset the log is emptied and restarts there.
    pub fn truncate_to(&self, target_offset: i64) -> Result<(), LogError> {
        if target_offset < 0 {
            return Err(LogError::InvalidArgument(format!("Cannot truncate to a negative offset ({}).", target_offset)));
        }
        if self.log_start_offset() > target_offset {
            return self.truncate_fully_and_start_at(target_offset);
        }
        let _guard = self.shared.lock();
        let config = self.config();
        if self.log_end_offset() <= target_offset {
            return Ok(());
        }
        self.note_truncation(target_offset);
        let segments = self.snapshot();
        let keep = segments.partition_point(|s| s.base_offset() <= target_offset).max(1);
        self.replace_segments(segments[..keep].to_vec());
        for s in &segments[keep..] {
            self.async_delete_segment(s.clone(), &config)?;
        }
        let active = segments[keep - 1].clone();
        active
            .truncate_to(target_offset)
            .map_err(LogError::io(format!("cannot truncate {}", active.log_path().display())))?;
        active
            .preallocate_index()
            .map_err(LogError::io(format!("cannot resize {}", active.index_path().display())))?;
        self.shared.next_offset.store(target_offset, Ordering::Release);
        let rp = self.recovery_point().min(target_offset);
        self.shared.recovery_point.store(rp, Ordering::Release);
        Ok(())
    }

    /// Delete every segment and start again, empty, at `new_offset` (0.8.2
    /// `truncateFullyAndStartAt`, for a follower far behind or ahead of its leader).
    pub fn truncate_fully_and_start_at(&self, new_offset: i64) -> Result<(), LogError> {
        if new_offset < 0 {
            return Err(LogError::InvalidArgument(format!("Cannot start a log at a negative offset ({}).", new_offset)));
        }
        let _guard = self.shared.lock();
        self.note_truncation(new_offset);
        let config = self.config();
        let segments = self.snapshot();
        for s in segments.iter() {
            self.async_delete_segment(s.clone(), &config)?;
        }
        let segment = LogSegment::create(&self.dir, new_offset, &config, self.random_jitter(&config), self.clock.clone())
            .map_err(LogError::io(format!("cannot create a segment at {} in {}", new_offset, self.name())))?;
        self.replace_segments(vec![Arc::new(segment)]);
        self.shared.next_offset.store(new_offset, Ordering::Release);
        let rp = self.recovery_point().min(new_offset);
        self.shared.recovery_point.store(rp, Ordering::Release);
        Ok(())
    }

    /// Call with the lock held, before the segments change.
    fn note_truncation(&self, offset: i64) {
        self.shared.truncations.fetch_add(1, Ordering::AcqRel);
        self.shared.truncated_to.fetch_min(offset.max(0), Ordering::AcqRel);
    }

    /// How many truncations this log has seen (the cleaner compares before and after).
    pub fn truncation_count(&self) -> u64 {
        self.shared.truncations.load(Ordering::Acquire)
    }

    /// The lowest offset truncated to since the last call, if any (and forget it).
    pub fn take_truncated_to(&self) -> Option<i64> {
        let v = self.shared.truncated_to.swap(i64::MAX, Ordering::AcqRel);
        (v != i64::MAX).then_some(v)
    }

    /// 0.8.2 `replaceSegments`: swap in `cleaned` (written as `.cleaned` files, complete
    /// and fsynced) for the consecutive segments `old`, crash-safely: the cleaned files
    /// become `.swap` (from here recovery completes the swap), the old segments are
    /// renamed `.deleted` oldest first, then the `.swap` suffix is dropped. A kill at any
    /// moment leaves either the old segments or the cleaned one (see `load_segments`).
    /// Refused, removing the cleaned files, when `old` are no longer all in the log or a
    /// truncation happened since `truncations` was read; returns whether it swapped.
    /// Readers holding the old segments keep reading them (open descriptors).
    pub fn replace_cleaned_segments(
        &self,
        cleaned: LogSegment,
        old: &[Arc<LogSegment>],
        truncations: u64,
    ) -> Result<bool, LogError> {
        let _guard = self.shared.lock();
        let segments = self.snapshot();
        let start = old.first().and_then(|first| segments.iter().position(|s| Arc::ptr_eq(s, first)));
        let intact = match start {
            Some(i) => {
                i + old.len() < segments.len()
                    && old.iter().zip(&segments[i..]).all(|(a, b)| Arc::ptr_eq(a, b))
                    && cleaned.base_offset() == old[0].base_offset()
            }
            None => false,
        };
        if !intact || self.truncation_count() != truncations {
            let _ = cleaned.delete();
            return Ok(false);
        }
        let start = start.expect("checked above");
        let config = self.config();
        cleaned
            .change_file_suffixes(CLEANED_FILE_SUFFIX, SWAP_FILE_SUFFIX)
            .map_err(LogError::io(format!("cannot rename {} to .swap", cleaned.log_path().display())))?;
        let cleaned = Arc::new(cleaned);
        let mut list = segments[..start].to_vec();
        list.push(cleaned.clone());
        list.extend_from_slice(&segments[start + old.len()..]);
        self.replace_segments(list);
        for s in old {
            self.async_delete_segment(s.clone(), &config)?;
        }
        cleaned
            .change_file_suffixes(SWAP_FILE_SUFFIX, "")
            .map_err(LogError::io(format!("cannot rename {} from .swap", cleaned.log_path().display())))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(true)
    }

    fn join_pending_flushes(&self) {
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.pending_flushes));
        for h in handles {
            let _ = h.join();
        }
    }

    /// Trim every index to its entries and remove the `.deleted` files still pending.
    /// Does not flush (the log manager flushes first on shutdown, as 0.8.2).
    pub fn close(&self) -> Result<(), LogError> {
        self.join_pending_flushes();
        let _guard = self.shared.lock();
        for s in self.snapshot().iter() {
            s.close().map_err(LogError::io(format!("cannot close {}", s.log_path().display())))?;
        }
        for p in std::mem::take(&mut *lock(&self.pending_deletes)) {
            let _ = p.segment.delete();
        }
        Ok(())
    }

    /// Remove the log and its folder (0.8.2 `Log.delete`).
    pub fn delete(&self) -> Result<(), LogError> {
        self.join_pending_flushes();
        let _guard = self.shared.lock();
        for s in self.snapshot().iter() {
            let _ = s.delete();
        }
        for p in std::mem::take(&mut *lock(&self.pending_deletes)) {
            let _ = p.segment.delete();
        }
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(LogError::io(format!("cannot delete {}", self.dir.display()))(e))
            }
            _ => Ok(()),
        }
    }

    /// The paths a segment at `base_offset` has in this log.
    pub fn segment_paths(&self, base_offset: i64) -> (PathBuf, PathBuf) {
        (log_filename(&self.dir, base_offset), index_filename(&self.dir, base_offset))
    }
}
