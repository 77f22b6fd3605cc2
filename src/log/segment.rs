//! One segment of a log (0.8.2 `kafka.log.LogSegment` + `FileMessageSet`): a `.log` file
//! of message-set entries exactly as they were appended, and its `.index`.
//!
//! Concurrency: one appender (the log's append lock) and any number of readers. The
//! size is published after the bytes are written and index entries after that, so a
//! reader never sees a byte or an index entry that points past fully-written data.

use super::config::LogConfig;
use super::index::{IndexLoadError, OffsetIndex, OffsetPosition};
use crate::common::Clock;
use crate::message::{deep_iter, EntryHeader, Message, LOG_OVERHEAD, MIN_MESSAGE_SIZE};
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

pub const LOG_FILE_SUFFIX: &str = ".log";
pub const INDEX_FILE_SUFFIX: &str = ".index";
/// A segment removed from the log, waiting for `file.delete.delay.ms`.
pub const DELETED_FILE_SUFFIX: &str = ".deleted";
/// Leftovers of the 0.8.2 log cleaner (compaction); deleted on open.
pub const CLEANED_FILE_SUFFIX: &str = ".cleaned";
pub const SWAP_FILE_SUFFIX: &str = ".swap";

/// How many bytes a header scan reads at a time (a few index intervals' worth).
const SCAN_CHUNK: usize = 16 * 1024;
/// How many bytes recovery reads at a time.
const RECOVER_CHUNK: usize = 1024 * 1024;

/// The 20-digit zero-padded base offset that names a segment's files.
pub fn filename_prefix(offset: i64) -> String {
    format!("{:020}", offset)
}

pub fn log_filename(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{}{}", filename_prefix(offset), LOG_FILE_SUFFIX))
}

pub fn index_filename(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{}{}", filename_prefix(offset), INDEX_FILE_SUFFIX))
}

/// A byte range of a segment file, to be sent with `sendfile`. The file stays readable
/// even if the segment is deleted meanwhile (the descriptor keeps it alive).
#[derive(Debug, Clone)]
pub struct FetchRegion {
    pub file: Arc<File>,
    pub position: u64,
    pub length: usize,
}

impl FetchRegion {
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Read the region into memory (tests and tools; the broker uses `sendfile`). Returns
    /// fewer bytes only if the file was truncated under it.
    pub fn read_bytes(&self) -> io::Result<Bytes> {
        let mut buf = vec![0u8; self.length];
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], self.position + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(done);
        Ok(Bytes::from(buf))
    }
}

/// What happened to a segment's index when the segment was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    Loaded,
    /// The index was missing or damaged and was rebuilt from the log; `truncated` bytes of
    /// invalid data were cut from the end of the log while doing so.
    Rebuilt { reason: String, truncated: u64 },
}

fn corrupt(path: &Path, position: u64, what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{} at position {}: {}", path.display(), position, what))
}

/// Read as much of `buf` as the file has at `at` (short only at end of file).
fn read_full_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn mtime_ms(file: &File) -> Option<i64> {
    let m = file.metadata().ok()?.modified().ok()?;
    Some(m.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}

#[derive(Debug)]
pub struct LogSegment {
    base_offset: i64,
    log: Arc<File>,
    log_path: Mutex<PathBuf>,
    index: OffsetIndex,
    /// Bytes fully written (what readers may see).
    size: AtomicU64,
    created_ms: AtomicI64,
    last_modified_ms: AtomicI64,
    bytes_since_last_index_entry: AtomicUsize,
    index_interval_bytes: usize,
    max_index_size: usize,
    roll_jitter_ms: i64,
    clock: Arc<dyn Clock>,
    /// Completed fsyncs of this segment (log and index): what a flush promised is on disk
    /// only if this moved, which a test that SIGKILLs a writer cannot see from outside.
    fsyncs: AtomicU64,
}

impl LogSegment {
    /// A new, empty segment (existing files at its names are replaced). Its index is
    /// preallocated to the configured maximum.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        roll_jitter_ms: i64,
        clock: Arc<dyn Clock>,
    ) -> io::Result<LogSegment> {
        LogSegment::create_with_suffix(dir, base_offset, "", config, roll_jitter_ms, clock)
    }

    /// [`LogSegment::create`] with `suffix` after both file names (the cleaner writes
    /// `.cleaned` segments beside the ones they replace).
    pub fn create_with_suffix(
        dir: &Path,
        base_offset: i64,
        suffix: &str,
        config: &LogConfig,
        roll_jitter_ms: i64,
        clock: Arc<dyn Clock>,
    ) -> io::Result<LogSegment> {
        let with_suffix = |p: PathBuf| PathBuf::from(format!("{}{}", p.display(), suffix));
        let log_path = with_suffix(log_filename(dir, base_offset));
        let log = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&log_path)?;
        let index_path = with_suffix(index_filename(dir, base_offset));
        let index = OffsetIndex::create(&index_path, base_offset, config.max_index_size)?;
        let now = clock.now_ms();
        Ok(LogSegment {
            base_offset,
            log: Arc::new(log),
            log_path: Mutex::new(log_path),
            index,
            size: AtomicU64::new(0),
            created_ms: AtomicI64::new(now),
            last_modified_ms: AtomicI64::new(now),
            bytes_since_last_index_entry: AtomicUsize::new(0),
            index_interval_bytes: config.index_interval_bytes,
            max_index_size: config.max_index_size,
            roll_jitter_ms,
            clock,
            fsyncs: AtomicU64::new(0),
        })
    }

    /// Open an existing segment. Its index is loaded and checked against the log; a
    /// missing or damaged index is deleted and rebuilt (which re-validates the log and
    /// cuts it at the first invalid byte, as 0.8.2 `recover` does). The loaded index is
    /// left at its file size; the log resizes the active segment's.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        roll_jitter_ms: i64,
        clock: Arc<dyn Clock>,
    ) -> io::Result<(LogSegment, IndexState)> {
        let log_path = log_filename(dir, base_offset);
        let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let size = log.metadata()?.len();
        let index_path = index_filename(dir, base_offset);
        let now = clock.now_ms();
        let last_modified = mtime_ms(&log).unwrap_or(now);
        let (index, rebuild) = match OffsetIndex::load(&index_path, base_offset, size) {
            Ok(index) => (index, None),
            Err(IndexLoadError::Io(e)) => return Err(e),
            Err(e) => {
                let _ = std::fs::remove_file(&index_path);
                (OffsetIndex::create(&index_path, base_offset, config.max_index_size)?, Some(e.to_string()))
            }
        };
        let segment = LogSegment {
            base_offset,
            log: Arc::new(log),
            log_path: Mutex::new(log_path),
            index,
            size: AtomicU64::new(size),
            created_ms: AtomicI64::new(now),
            last_modified_ms: AtomicI64::new(last_modified),
            bytes_since_last_index_entry: AtomicUsize::new(0),
            index_interval_bytes: config.index_interval_bytes,
            max_index_size: config.max_index_size,
            roll_jitter_ms,
            clock,
            fsyncs: AtomicU64::new(0),
        };
        let state = match rebuild {
            None => IndexState::Loaded,
            Some(reason) => {
                let truncated = segment.recover(config.max_message_size)?;
                IndexState::Rebuilt { reason, truncated }
            }
        };
        Ok((segment, state))
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes of complete entries in the `.log` file.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    pub fn index(&self) -> &OffsetIndex {
        &self.index
    }

    /// The `.log` file, shared (readers keep it open across deletion).
    pub fn file(&self) -> Arc<File> {
        self.log.clone()
    }

    pub fn log_path(&self) -> PathBuf {
        self.log_path.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn index_path(&self) -> PathBuf {
        self.index.path()
    }

    /// When the segment was created or opened (the clock's time; 0.8.2 `created`).
    pub fn created_ms(&self) -> i64 {
        self.created_ms.load(Ordering::Acquire)
    }

    /// When the segment was last appended to (the clock's time), or the `.log` file's
    /// mtime for a segment loaded from disk. Retention by time uses this, as 0.8.2 does.
    pub fn last_modified_ms(&self) -> i64 {
        self.last_modified_ms.load(Ordering::Acquire)
    }

    pub fn set_last_modified_ms(&self, ms: i64) {
        self.last_modified_ms.store(ms, Ordering::Release);
    }

    /// The random amount by which this segment rolls earlier than `segment_ms`.
    pub fn roll_jitter_ms(&self) -> i64 {
        self.roll_jitter_ms
    }

    /// Write `set` at the end of the file with one positional write and publish the new
    /// size; returns the position it was written at. A failed write is cut off again, so
    /// the next append starts at the same position.
    fn write_at_end(&self, set: &[u8]) -> io::Result<u64> {
        let position = self.size.load(Ordering::Acquire);
        if let Err(e) = self.log.write_all_at(set, position) {
            let _ = self.log.set_len(position);
            return Err(e);
        }
        self.size.store(position + set.len() as u64, Ordering::Release);
        Ok(position)
    }

    /// Append a message set whose first offset is `first_offset` with one positional write.
    /// An index entry (first offset → position of the set) is added when more than
    /// `index.interval.bytes` were appended since the last one (0.8.2 `LogSegment.append`).
    pub fn append(&self, first_offset: i64, set: &[u8]) -> io::Result<()> {
        if set.is_empty() {
            return Ok(());
        }
        let position = self.write_at_end(set)?;
        if self.bytes_since_last_index_entry.load(Ordering::Relaxed) > self.index_interval_bytes {
            // Only refused for an offset that cannot be indexed (a follower jumping more
            // than 2^31 past the base offset); the index is sparse, so skipping is safe.
            if self.index.append(first_offset, position as u32).is_ok() {
                self.bytes_since_last_index_entry.store(0, Ordering::Relaxed);
            }
        }
        self.bytes_since_last_index_entry.fetch_add(set.len(), Ordering::Relaxed);
        self.last_modified_ms.store(self.clock.now_ms(), Ordering::Release);
        Ok(())
    }

    /// Append a chunk of entries (the cleaner's output) with one positional write, and the
    /// index entries the caller chose for it (absolute offsets and file positions); an
    /// entry the index refuses is skipped, the index being sparse.
    pub fn append_chunk(&self, set: &[u8], index_entries: &[OffsetPosition]) -> io::Result<()> {
        if set.is_empty() {
            return Ok(());
        }
        self.write_at_end(set)?;
        for e in index_entries {
            let _ = self.index.append(e.offset, e.position);
        }
        Ok(())
    }

    /// Keep `ms` as the last-modified time, in memory and as the `.log` file's mtime (so a
    /// restart sees it too; 0.8.2 `lastModified_=`). A cleaned segment takes the time of
    /// the last segment it replaces, so retention and tombstone expiry do not restart.
    pub fn set_last_modified_everywhere(&self, ms: i64) -> io::Result<()> {
        self.last_modified_ms.store(ms, Ordering::Release);
        let t = UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
        self.log.set_modified(t)
    }

    /// Walk entry headers from `from` while a whole header lies before `size`, calling
    /// `f(offset, position, message_size)` until it returns false. A size below the
    /// 14-byte minimum is corruption.
    fn scan_headers(&self, from: u64, size: u64, mut f: impl FnMut(i64, u64, usize) -> bool) -> io::Result<()> {
        let mut buf = vec![0u8; SCAN_CHUNK.min(size.saturating_sub(from) as usize).max(LOG_OVERHEAD)];
        let mut buf_start = 0u64;
        let mut buf_len = 0usize;
        let mut pos = from;
        // 0.8.2 `FileMessageSet.searchFor`: `position + LogOverhead < size`.
        while pos + (LOG_OVERHEAD as u64) < size {
            if pos < buf_start || pos + LOG_OVERHEAD as u64 > buf_start + buf_len as u64 {
                let want = buf.len().min((size - pos) as usize);
                let got = read_full_at(&self.log, &mut buf[..want], pos)?;
                if got < LOG_OVERHEAD {
                    // The file was truncated under us (a follower truncating): nothing more.
                    return Ok(());
                }
                buf_start = pos;
                buf_len = got;
            }
            let at = (pos - buf_start) as usize;
            let EntryHeader { offset, size: msize } = EntryHeader::parse(&buf[at..]).expect("12 bytes buffered");
            if msize < MIN_MESSAGE_SIZE as i32 {
                return Err(corrupt(&self.log_path(), pos, format!("invalid message size {}", msize)));
            }
            if !f(offset, pos, msize as usize) {
                return Ok(());
            }
            pos += (LOG_OVERHEAD + msize as usize) as u64;
        }
        Ok(())
    }

    /// The first entry with offset >= `target`, searching from the index entry at or below
    /// it (and not before `starting_position`); None when the segment has no such entry
    /// below `size`. A compressed wrapper carries its last inner offset, so an inner offset
    /// finds its wrapper.
    fn search(&self, target: i64, starting_position: u64, size: u64) -> io::Result<Option<OffsetPosition>> {
        let mapping = self.index.lookup(target);
        let from = (mapping.position as u64).max(starting_position);
        let mut found = None;
        self.scan_headers(from, size, |offset, pos, _| {
            if offset >= target {
                found = Some(OffsetPosition { offset, position: pos as u32 });
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }

    /// 0.8.2 `translateOffset`: the offset and position of the first entry with offset
    /// >= `target` at or after `starting_position`.
    pub fn translate_offset(&self, target: i64, starting_position: u64) -> io::Result<Option<OffsetPosition>> {
        self.search(target, starting_position, self.size())
    }

    /// The region to send for a fetch from `start_offset`: from the first entry with
    /// offset >= `start_offset` for at most `max_size` bytes, ending before the first entry
    /// with offset >= `max_offset` if given. None when the segment holds no entry at or
    /// after `start_offset`. The region may end inside an entry (0.8 behaviour).
    pub fn read(&self, start_offset: i64, max_offset: Option<i64>, max_size: usize) -> io::Result<Option<FetchRegion>> {
        let size = self.size();
        let start = match self.search(start_offset, 0, size)? {
            None => return Ok(None),
            Some(s) => s,
        };
        let start_pos = start.position as u64;
        let region = |length: usize| FetchRegion { file: self.log.clone(), position: start_pos, length };
        if max_size == 0 {
            return Ok(Some(region(0)));
        }
        let end = match max_offset {
            None => size,
            // An entry at or past `max_offset` ends the region; a `max_offset` at or below
            // the start gives an empty region (0.8.2 throws instead).
            Some(max_offset) => match self.search(max_offset, start_pos, size)? {
                Some(m) => m.position as u64,
                None => size,
            },
        };
        let length = (end.saturating_sub(start_pos)).min(max_size as u64) as usize;
        Ok(Some(region(length)))
    }

    /// The offset after the last entry (0.8.2 `nextOffset`): scans from the last index
    /// entry to the end.
    pub fn next_offset(&self) -> io::Result<i64> {
        let size = self.size();
        let mut last = None;
        self.scan_headers(self.index.last_entry().position as u64, size, |offset, pos, msize| {
            if pos + (LOG_OVERHEAD + msize) as u64 <= size {
                last = Some(offset);
            }
            true
        })?;
        Ok(last.map_or(self.base_offset, |o| o + 1))
    }

    /// Re-validate every entry (sizes, `max_message_size`, CRC, offsets increasing and not
    /// below the base offset), rebuild the index from scratch, and cut the log at the first
    /// invalid byte. Returns the number of bytes cut (0.8.2 `LogSegment.recover`).
    pub fn recover(&self, max_message_size: usize) -> io::Result<u64> {
        self.index.truncate()?;
        self.index.resize(self.max_index_size)?;
        let file_len = self.log.metadata()?.len();
        let mut valid = 0u64;
        let mut last_index_position = 0u64;
        let mut last_offset: Option<i64> = None;
        let mut chunk = Bytes::new();
        let mut chunk_start = 0u64;
        let path = self.log_path();
        let read_chunk = |at: u64, want: usize| -> io::Result<Bytes> {
            let mut buf = vec![0u8; want];
            let got = read_full_at(&self.log, &mut buf, at)?;
            buf.truncate(got);
            Ok(Bytes::from(buf))
        };
        loop {
            if valid + LOG_OVERHEAD as u64 > file_len {
                break;
            }
            let chunk_end = chunk_start + chunk.len() as u64;
            if valid < chunk_start || valid + LOG_OVERHEAD as u64 > chunk_end {
                chunk = read_chunk(valid, RECOVER_CHUNK.min((file_len - valid) as usize))?;
                chunk_start = valid;
                if chunk.len() < LOG_OVERHEAD {
                    break;
                }
            }
            let at = (valid - chunk_start) as usize;
            let EntryHeader { offset, size: msize } = EntryHeader::parse(&chunk[at..]).expect("12 bytes buffered");
            // 0.8.2 `FileMessageSet.iterator(maxMessageSize)` compares the message size
            // itself (without the 12-byte prefix) with the maximum.
            if msize < MIN_MESSAGE_SIZE as i32 || msize as usize > max_message_size {
                log::warn!("{}: invalid message size {} at position {}", path.display(), msize, valid);
                break;
            }
            let entry_len = LOG_OVERHEAD + msize as usize;
            let end = valid + entry_len as u64;
            if end > file_len {
                break;
            }
            if end > chunk_start + chunk.len() as u64 {
                chunk = read_chunk(valid, RECOVER_CHUNK.max(entry_len).min((file_len - valid) as usize))?;
                chunk_start = valid;
                if chunk.len() < entry_len {
                    break;
                }
            }
            let at = (valid - chunk_start) as usize;
            let message = match Message::from_bytes(chunk.slice(at + LOG_OVERHEAD..at + entry_len)) {
                Ok(m) => m,
                Err(_) => break,
            };
            if let Err(e) = message.validate() {
                log::warn!("{}: invalid message at position {}: {}", path.display(), valid, e);
                break;
            }
            if offset < self.base_offset || last_offset.is_some_and(|l| offset <= l) {
                log::warn!(
                    "{}: offset {} at position {} does not follow {:?} (base offset {})",
                    path.display(),
                    offset,
                    valid,
                    last_offset,
                    self.base_offset
                );
                break;
            }
            if valid - last_index_position > self.index_interval_bytes as u64 {
                // Index the first offset the entry holds (a wrapper's first inner offset,
                // as 0.8.2); the wrapper's own (last) offset is a correct fallback.
                let first = if message.is_compressed() {
                    deep_iter(chunk.slice(at..at + entry_len))
                        .next()
                        .and_then(|r| r.ok())
                        .map(|e| e.offset)
                        .filter(|o| *o <= offset && last_offset.is_none_or(|l| *o > l))
                        .unwrap_or(offset)
                } else {
                    offset
                };
                if self.index.append(first, valid as u32).is_ok() {
                    last_index_position = valid;
                }
            }
            last_offset = Some(offset);
            valid = end;
        }
        let truncated = file_len - valid;
        if truncated > 0 {
            log::warn!("{}: truncating {} invalid bytes at position {}", path.display(), truncated, valid);
            self.log.set_len(valid)?;
        }
        self.size.store(valid, Ordering::Release);
        self.bytes_since_last_index_entry.store((valid - last_index_position) as usize, Ordering::Relaxed);
        self.index.trim_to_valid_size()?;
        Ok(truncated)
    }

    /// Cut the segment before the first entry with offset >= `offset`; returns the bytes
    /// removed (0.8.2 `LogSegment.truncateTo`). The index is preallocated again: the
    /// segment is about to be the active one.
    pub fn truncate_to(&self, offset: i64) -> io::Result<u64> {
        let size = self.size();
        let mapping = match self.search(offset, 0, size)? {
            None => return Ok(0),
            Some(m) => m,
        };
        let position = mapping.position as u64;
        self.index.truncate_to(offset)?;
        self.index.resize(self.max_index_size)?;
        self.log.set_len(position)?;
        self.size.store(position, Ordering::Release);
        let now = self.clock.now_ms();
        if position == 0 {
            self.created_ms.store(now, Ordering::Release);
        }
        self.last_modified_ms.store(now, Ordering::Release);
        self.bytes_since_last_index_entry.store(0, Ordering::Relaxed);
        Ok(size - position)
    }

    /// Make the index ready for appends again (the segment becomes the active one).
    pub fn preallocate_index(&self) -> io::Result<()> {
        self.index.resize(self.max_index_size)
    }

    /// fsync the log and the index.
    pub fn flush(&self) -> io::Result<()> {
        crate::common::failpoint::fsync(|| self.log.sync_data())?;
        self.index.flush()?;
        self.fsyncs.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// How many flushes of this segment have completed.
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Acquire)
    }

    /// Trim the index to its entries (on roll and close) and close its descriptor until
    /// it is written to again.
    pub fn close(&self) -> io::Result<()> {
        self.index.trim_to_valid_size()?;
        self.index.release_file();
        Ok(())
    }

    /// Rename both files by replacing suffix `old` with `new` (e.g. "" → ".deleted").
    pub fn change_file_suffixes(&self, old: &str, new: &str) -> io::Result<()> {
        let rename = |p: PathBuf| -> PathBuf {
            let s = p.to_string_lossy().to_string();
            let stem = s.strip_suffix(old).unwrap_or(&s);
            PathBuf::from(format!("{}{}", stem, new))
        };
        {
            let mut log_path = self.log_path.lock().unwrap_or_else(|p| p.into_inner());
            let to = rename(log_path.clone());
            std::fs::rename(&*log_path, &to)?;
            *log_path = to;
        }
        let to = rename(self.index.path());
        self.index.rename(&to)
    }

    /// Remove both files (missing files are not an error).
    pub fn delete(&self) -> io::Result<()> {
        match std::fs::remove_file(self.log_path()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.index.delete()
    }
}
