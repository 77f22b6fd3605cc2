//! One cleaning pass over one log (0.8.2 `kafka.log.Cleaner`): build the dedupe map over
//! the dirty section, then rewrite the closed segments up to where the map reaches, group
//! by group, each group into one `.cleaned` segment that is swapped in.
//!
//! What is kept, message by message (compressed wrappers are opened):
//! - a keyed message unless the map holds a later offset for its key;
//! - a tombstone (null value) unless it is also in a segment last modified before the
//!   delete horizon (the last clean segment's time minus `delete.retention.ms`);
//! - a message without a key, always. Produce refuses them on compacted topics, but a log
//!   switched to `compact`, or written by 0.8.2, may hold some: 0.8.2's cleaner thread died
//!   on the first one (KAFKA-1755); later Kafka drops them. Keeping them loses nothing.
//!
//! A compressed wrapper whose messages are all kept is copied as it is; one partly kept is
//! recompressed with its own codec (0.8.2 could not clean compressed messages at all);
//! one wholly superseded disappears. The result depends only on which messages are kept,
//! so a leader and a follower that cleaned at different moments end with the same bytes.
//!
//! Bounded memory: the map is a fixed buffer. When it fills, the pass ends at the last
//! message it holds (mid-segment if need be), cleans up to there, and the next pass starts
//! from there. Reads and writes go through buffers of `log.cleaner.io.buffer.size`, grown
//! only for a message larger than that, and through the shared I/O throttle.

use super::offset_map::SkimpyOffsetMap;
use super::CleanerConfig;
use crate::log::index::OffsetPosition;
use crate::log::log::{Log, LogError};
use crate::log::segment::{LogSegment, CLEANED_FILE_SUFFIX};
use crate::message::{codec, deep_iter, shallow_iter, Entry, Message, MessageSetBuilder, LOG_OVERHEAD, MIN_MESSAGE_SIZE};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a pass stopped without finishing.
#[derive(Debug)]
pub enum CleanError {
    /// Asked to stop (shutdown, log deleted).
    Aborted,
    /// One compressed wrapper holds more messages than the whole dedupe map can take.
    MapTooSmall { offset: i64, messages: usize, slots: usize },
    Corrupt { segment: String, position: u64, what: String },
    Log(LogError),
}

impl fmt::Display for CleanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CleanError::Aborted => f.write_str("cleaning aborted"),
            CleanError::MapTooSmall { offset, messages, slots } => write!(
                f,
                "the entry at offset {} holds {} messages, more than the dedupe buffer's {} slots (raise log.cleaner.dedupe.buffer.size)",
                offset, messages, slots
            ),
            CleanError::Corrupt { segment, position, what } => write!(f, "{} at position {}: {}", segment, position, what),
            CleanError::Log(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CleanError {}

impl From<LogError> for CleanError {
    fn from(e: LogError) -> Self {
        CleanError::Log(e)
    }
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> CleanError {
    move |e| CleanError::Log(LogError::io(context)(e))
}

/// 0.8.2 `kafka.utils.Throttler`, shared by every cleaner thread: above the rate, sleep
/// until the bytes done fit it again.
#[derive(Debug)]
pub struct Throttler {
    bytes_per_second: f64,
    window: Mutex<(Instant, f64)>,
}

const THROTTLE_CHECK: Duration = Duration::from_millis(100);

impl Throttler {
    pub fn new(bytes_per_second: f64) -> Throttler {
        Throttler { bytes_per_second, window: Mutex::new((Instant::now(), 0.0)) }
    }

    /// How long to sleep after `bytes` more of I/O (zero when under the rate).
    pub fn observe(&self, bytes: usize) -> Duration {
        if !(self.bytes_per_second > 0.0) || !self.bytes_per_second.is_finite() {
            return Duration::ZERO;
        }
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.1 += bytes as f64;
        let elapsed = w.0.elapsed();
        if elapsed < THROTTLE_CHECK {
            return Duration::ZERO;
        }
        let wanted = Duration::from_secs_f64(w.1 / self.bytes_per_second);
        *w = (Instant::now(), 0.0);
        wanted.saturating_sub(elapsed)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default)]
pub struct CleanStats {
    /// The checkpoint after this pass: every message below it has been deduplicated.
    pub end_offset: i64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub messages_read: u64,
    pub messages_kept: u64,
    /// Segment groups swapped in.
    pub swaps: usize,
    /// Keys in the dedupe map, and how full it was.
    pub map_keys: usize,
    pub map_utilization: f64,
    pub elapsed: Duration,
}

/// Everything one cleaner thread owns: its map and buffers.
pub struct Cleaner {
    config: CleanerConfig,
    map: SkimpyOffsetMap,
    throttler: Arc<Throttler>,
    /// Sleeps for the throttle; returns true when the cleaner must stop.
    sleep: Box<dyn Fn(Duration) -> bool + Send>,
}

impl fmt::Debug for Cleaner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cleaner").field("map", &self.map).finish()
    }
}

/// One complete shallow entry read from a segment: the entry and its raw bytes.
struct RawEntry {
    entry: Entry,
    raw: Bytes,
    position: u64,
}

impl Cleaner {
    /// A cleaner with a map of `config.dedupe_buffer_size / config.num_threads` bytes.
    pub fn new(config: CleanerConfig, throttler: Arc<Throttler>, sleep: Box<dyn Fn(Duration) -> bool + Send>) -> Cleaner {
        let memory = config.dedupe_buffer_size / config.num_threads.max(1);
        Cleaner { map: SkimpyOffsetMap::new(memory), config, throttler, sleep }
    }

    fn io_buffer(&self) -> usize {
        (self.config.io_buffer_size / self.config.num_threads.max(1) / 2).max(4096)
    }

    /// Sleep off `bytes` of I/O above the rate, in slices, so an abort (a log being
    /// deleted waits for it) is noticed within 100 ms.
    fn throttle(&self, bytes: usize, abort: &dyn Fn() -> bool) -> Result<(), CleanError> {
        let mut left = self.throttler.observe(bytes);
        while !left.is_zero() {
            let slice = left.min(THROTTLE_CHECK);
            if (self.sleep)(slice) || abort() {
                return Err(CleanError::Aborted);
            }
            left -= slice;
        }
        Ok(())
    }

    /// Walk the complete shallow entries of `segment` (as of its size now) from position
    /// 0, a buffer at a time, calling `f` until it returns false. Returns the bytes read.
    fn for_each_entry(
        &self,
        segment: &LogSegment,
        abort: &dyn Fn() -> bool,
        mut f: impl FnMut(RawEntry) -> Result<bool, CleanError>,
    ) -> Result<u64, CleanError> {
        let mut bytes_read = 0u64;
        let size = segment.size();
        let file = segment.file();
        let name = segment.log_path().display().to_string();
        let mut pos = 0u64;
        let mut want = self.io_buffer();
        while pos < size {
            if abort() {
                return Err(CleanError::Aborted);
            }
            let n = (want as u64).min(size - pos) as usize;
            let mut buf = vec![0u8; n];
            let mut got = 0;
            while got < n {
                match file.read_at(&mut buf[got..], pos + got as u64) {
                    Ok(0) => break,
                    Ok(k) => got += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_err(format!("cannot read {}", name))(e)),
                }
            }
            buf.truncate(got);
            bytes_read += got as u64;
            self.throttle(got, abort)?;
            let chunk = Bytes::from(buf);
            let mut iter = shallow_iter(chunk.clone());
            let mut any = false;
            for e in iter.by_ref() {
                let entry = e.map_err(|e| CleanError::Corrupt { segment: name.clone(), position: pos, what: e.to_string() })?;
                let start = entry.position;
                let raw = chunk.slice(start..start + entry.size());
                let position = pos + start as u64;
                any = true;
                if !f(RawEntry { entry, raw, position })? {
                    return Ok(bytes_read);
                }
            }
            if !any {
                // One entry larger than the buffer: read exactly that entry next time.
                if chunk.len() < LOG_OVERHEAD {
                    return Err(CleanError::Corrupt { segment: name, position: pos, what: "truncated entry header".into() });
                }
                let msize = i32::from_be_bytes(chunk[8..12].try_into().expect("4 bytes"));
                let need = LOG_OVERHEAD as u64 + msize.max(0) as u64;
                if msize < MIN_MESSAGE_SIZE as i32 || pos + need > size || need as usize <= chunk.len() {
                    return Err(CleanError::Corrupt {
                        segment: name,
                        position: pos,
                        what: format!("entry of size {} does not fit the segment", msize),
                    });
                }
                want = need as usize;
                continue;
            }
            pos += iter.position() as u64;
            want = self.io_buffer();
        }
        Ok(bytes_read)
    }

    /// One pass over `log` whose messages below `first_dirty` are already deduplicated.
    /// Cleans only closed segments. `abort` is polled between buffers.
    pub fn clean(&mut self, log: &Log, first_dirty: i64, abort: &dyn Fn() -> bool) -> Result<CleanStats, CleanError> {
        let started = Instant::now();
        let mut stats = CleanStats::default();
        // Read before anything else: a truncation from here on voids this pass's swaps.
        let truncations = log.truncation_count();
        let segments = log.log_segments();
        let upper = segments.last().map_or(0, |s| s.base_offset());
        if first_dirty >= upper {
            stats.end_offset = first_dirty;
            return Ok(stats);
        }
        let end = self.build_offset_map(&segments, first_dirty, upper, abort, &mut stats)?;
        stats.end_offset = end;
        stats.map_keys = self.map.size();
        stats.map_utilization = self.map.utilization();

        let config = log.config();
        let delete_horizon = match segments.iter().rposition(|s| s.base_offset() < first_dirty) {
            None => 0,
            Some(i) => segments[i].last_modified_ms().saturating_sub(config.delete_retention_ms),
        };
        let to_clean: Vec<Arc<LogSegment>> = segments.iter().filter(|s| s.base_offset() < end).cloned().collect();
        let bases: Vec<i64> = segments.iter().map(|s| s.base_offset()).collect();
        for group in group_segments_by_size(&to_clean, &bases, config.segment_bytes, config.max_index_size) {
            if self.clean_segments(log, &group, delete_horizon, truncations, abort, &mut stats)? {
                stats.swaps += 1;
            } else {
                // The log changed under us (truncated, segments deleted): stop; the next
                // pass starts from a fresh look at it.
                ::log::info!("Log {} changed during cleaning; abandoning this pass", log.name());
                return Err(CleanError::Aborted);
            }
        }
        stats.elapsed = started.elapsed();
        Ok(stats)
    }

    /// 0.8.2 `buildOffsetMap`, bounded: put every keyed message from `first_dirty` up to
    /// the active segment (`upper`) in the map, stopping before an entry that might not
    /// fit. Returns the offset up to which the map holds every key.
    fn build_offset_map(
        &mut self,
        segments: &[Arc<LogSegment>],
        first_dirty: i64,
        upper: i64,
        abort: &dyn Fn() -> bool,
        stats: &mut CleanStats,
    ) -> Result<i64, CleanError> {
        let lf = self.config.dedupe_buffer_load_factor;
        let range = (upper - first_dirty).max(0) as usize;
        self.map.clear(range, lf);
        let start = segments.partition_point(|s| s.base_offset() <= first_dirty).saturating_sub(1);
        let mut end = first_dirty;
        let mut full = false;
        let mut map = std::mem::replace(&mut self.map, SkimpyOffsetMap::new(0));
        let result: Result<(), CleanError> = (|| {
            for segment in segments[start..].iter().take_while(|s| s.base_offset() < upper) {
                stats.bytes_read += self.for_each_entry(segment, abort, |e| {
                    if e.entry.offset < first_dirty {
                        return Ok(true);
                    }
                    if !e.entry.message.is_compressed() {
                        // The common case, without the allocation of a leaf list.
                        if !map.has_room_for(1, lf) {
                            full = true;
                            return Ok(false);
                        }
                        if let Some(key) = e.entry.message.key() {
                            map.put(&key, e.entry.offset);
                        }
                        end = e.entry.offset + 1;
                        return Ok(true);
                    }
                    let leaves = leaves_of(&e);
                    let n = leaves.as_ref().map_or(0, |l| l.len());
                    if !map.has_room_for(n, lf) {
                        if map.size() == 0 {
                            return Err(CleanError::MapTooSmall { offset: e.entry.offset, messages: n, slots: map.slots() });
                        }
                        full = true;
                        return Ok(false);
                    }
                    for leaf in leaves.iter().flatten() {
                        if leaf.offset >= first_dirty {
                            if let Some(key) = leaf.message.key() {
                                map.put(&key, leaf.offset);
                            }
                        }
                    }
                    end = e.entry.offset + 1;
                    Ok(true)
                })?;
                if full {
                    break;
                }
            }
            Ok(())
        })();
        self.map = map;
        result?;
        Ok(if full { end } else { upper })
    }

    /// 0.8.2 `cleanSegments`: write the kept messages of `group` into one `.cleaned`
    /// segment at the group's base offset, fsync it, give it the last-modified time of the
    /// segments it replaces, and swap it in. Returns false when the log no longer allows
    /// the swap.
    ///
    /// The cleaned segment replaces the group up to the last segment it kept a message of,
    /// so its offsets reach into every segment it replaces: recovery of an interrupted swap
    /// can tell exactly which old segments it covers (see `Log::load_segments`). Each later
    /// segment of the group, wholly superseded, is swapped for an empty segment of its own.
    fn clean_segments(
        &mut self,
        log: &Log,
        group: &[Arc<LogSegment>],
        delete_horizon: i64,
        truncations: u64,
        abort: &dyn Fn() -> bool,
        stats: &mut CleanStats,
    ) -> Result<bool, CleanError> {
        let config = log.config();
        let base = group[0].base_offset();
        let cleaned = LogSegment::create_with_suffix(log.dir(), base, CLEANED_FILE_SUFFIX, &config, 0, log.clock())
            .map_err(io_err(format!("cannot create the cleaned segment {} of {}", base, log.name())))?;
        let contributed = match self.clean_into(&cleaned, group, delete_horizon, config.index_interval_bytes, abort, stats) {
            Ok(c) => c,
            Err(e) => {
                let _ = cleaned.delete();
                return Err(e);
            }
        };
        let covered = contributed.iter().rposition(|c| *c).map_or(1, |j| j + 1);
        if !self.swap_in(log, cleaned, &group[..covered], truncations)? {
            return Ok(false);
        }
        for old in group[covered..].iter().filter(|s| s.size() > 0) {
            let empty = LogSegment::create_with_suffix(log.dir(), old.base_offset(), CLEANED_FILE_SUFFIX, &config, 0, log.clock())
                .map_err(io_err(format!("cannot create the cleaned segment {} of {}", old.base_offset(), log.name())))?;
            if !self.swap_in(log, empty, std::slice::from_ref(old), truncations)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Finish a `.cleaned` segment (index trimmed, fsynced, timestamped) and swap it in
    /// for `old`.
    fn swap_in(&self, log: &Log, cleaned: LogSegment, old: &[Arc<LogSegment>], truncations: u64) -> Result<bool, CleanError> {
        let finished = (|| {
            cleaned.close().map_err(io_err(format!("cannot trim {}", cleaned.index_path().display())))?;
            cleaned.flush().map_err(io_err(format!("cannot flush {}", cleaned.log_path().display())))?;
            let modified = old.last().map_or(0, |s| s.last_modified_ms());
            cleaned
                .set_last_modified_everywhere(modified)
                .map_err(io_err(format!("cannot set the time of {}", cleaned.log_path().display())))
        })();
        if let Err(e) = finished {
            let _ = cleaned.delete();
            return Err(e);
        }
        ::log::info!(
            "Swapping in cleaned segment {} for segment(s) {} in log {}.",
            cleaned.base_offset(),
            old.iter().map(|s| s.base_offset().to_string()).collect::<Vec<_>>().join(","),
            log.name()
        );
        Ok(log.replace_cleaned_segments(cleaned, old, truncations)?)
    }

    /// 0.8.2 `cleanInto`, for every segment of the group.
    fn clean_into(
        &self,
        dest: &LogSegment,
        group: &[Arc<LogSegment>],
        delete_horizon: i64,
        index_interval: usize,
        abort: &dyn Fn() -> bool,
        stats: &mut CleanStats,
    ) -> Result<Vec<bool>, CleanError> {
        let cap = self.io_buffer();
        let mut contributed = vec![false; group.len()];
        let mut out = BytesMut::with_capacity(cap);
        let mut index: Vec<OffsetPosition> = Vec::new();
        let mut since_index = 0usize;
        let map = &self.map;
        let end = stats.end_offset;
        let write_out = |out: &mut BytesMut, index: &mut Vec<OffsetPosition>, written: &mut u64| -> Result<(), CleanError> {
            if out.is_empty() {
                return Ok(());
            }
            dest.append_chunk(out, index)
                .map_err(io_err(format!("cannot write {}", dest.log_path().display())))?;
            *written += out.len() as u64;
            self.throttle(out.len(), abort)?;
            out.clear();
            index.clear();
            Ok(())
        };
        for (i, old) in group.iter().enumerate() {
            let retain_deletes = old.last_modified_ms() > delete_horizon;
            stats.bytes_read += self.for_each_entry(old, abort, |e| {
                let kept = retained(map, &e, retain_deletes, end, &mut stats.messages_read, &mut stats.messages_kept);
                if let Some((first_offset, bytes)) = kept {
                    contributed[i] = true;
                    let position = dest.size() + out.len() as u64;
                    if since_index > index_interval && position <= u32::MAX as u64 {
                        index.push(OffsetPosition { offset: first_offset, position: position as u32 });
                        since_index = 0;
                    }
                    out.extend_from_slice(&bytes);
                    since_index += bytes.len();
                    if out.len() >= cap {
                        write_out(&mut out, &mut index, &mut stats.bytes_written)?;
                    }
                }
                Ok(true)
            })?;
        }
        write_out(&mut out, &mut index, &mut stats.bytes_written)?;
        Ok(contributed)
    }

    /// The map, for tests.
    pub fn map(&self) -> &SkimpyOffsetMap {
        &self.map
    }
}

/// The leaf messages of an entry (itself, or a wrapper's contents); None for a wrapper
/// that does not decompress.
fn leaves_of(e: &RawEntry) -> Option<Vec<Entry>> {
    if !e.entry.message.is_compressed() {
        return Some(vec![e.entry.clone()]);
    }
    deep_iter(e.raw.clone()).collect::<Result<Vec<_>, _>>().ok()
}

/// Whether to keep a message. A tombstone past the delete horizon goes only below `end`
/// (the map's reach): every older value of its key there is removed by this same pass. A
/// tombstone above `end` (the rest of a segment where a full map stopped) is not in the
/// map, so older values of its key survive this pass, and so must it.
fn keep_message(map: &SkimpyOffsetMap, m: &Message, offset: i64, retain_deletes: bool, end: i64) -> bool {
    let Some(key) = m.key() else { return true };
    let redundant = map.get(&key).is_some_and(|latest| offset < latest);
    let obsolete_delete = !retain_deletes && m.value_size() < 0 && offset < end;
    !redundant && !obsolete_delete
}

/// What of this entry to write: (offset of its first message, bytes), or None.
fn retained(
    map: &SkimpyOffsetMap,
    e: &RawEntry,
    retain_deletes: bool,
    end: i64,
    read: &mut u64,
    kept_count: &mut u64,
) -> Option<(i64, Bytes)> {
    if !e.entry.message.is_compressed() {
        *read += 1;
        if keep_message(map, &e.entry.message, e.entry.offset, retain_deletes, end) {
            *kept_count += 1;
            return Some((e.entry.offset, e.raw.clone()));
        }
        return None;
    }
    let Some(leaves) = leaves_of(e) else {
        ::log::warn!("Keeping an undecompressable message at offset {} (position {}) as it is", e.entry.offset, e.position);
        return Some((e.entry.offset, e.raw.clone()));
    };
    *read += leaves.len() as u64;
    let kept: Vec<&Entry> = leaves.iter().filter(|l| keep_message(map, &l.message, l.offset, retain_deletes, end)).collect();
    *kept_count += kept.len() as u64;
    if kept.is_empty() {
        return None;
    }
    let first = kept[0].offset;
    if kept.len() == leaves.len() {
        return Some((first, e.raw.clone()));
    }
    let Ok(codec) = e.entry.message.codec() else { return Some((e.entry.offset, e.raw.clone())) };
    let mut inner = MessageSetBuilder::with_capacity(kept.iter().map(|l| l.size()).sum());
    for l in &kept {
        inner.push(l.offset, &l.message);
    }
    let compressed = codec::compress(codec, &inner.finish());
    let wrapper = Message::new(None, Some(&compressed), codec);
    let mut out = BytesMut::with_capacity(LOG_OVERHEAD + wrapper.size());
    out.put_i64(kept.last().expect("not empty").offset);
    out.put_i32(wrapper.size() as i32);
    out.put_slice(wrapper.as_bytes());
    Some((first, out.freeze()))
}

/// 0.8.2 `groupSegmentsBySize`: consecutive segments whose total size stays below
/// `segment.bytes`, whose indexes fit one index, and whose offsets fit the 4-byte relative
/// offsets of one segment. `bases` are the base offsets of the whole log (to bound each
/// segment's last offset by the next one's base).
fn group_segments_by_size(
    segments: &[Arc<LogSegment>],
    bases: &[i64],
    max_size: usize,
    max_index_size: usize,
) -> Vec<Vec<Arc<LogSegment>>> {
    let next_base = |s: &LogSegment| {
        let i = bases.partition_point(|b| *b <= s.base_offset());
        bases.get(i).copied().unwrap_or(i64::MAX)
    };
    let mut groups = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let first = &segments[i];
        let mut group = vec![first.clone()];
        let mut log_size = first.size();
        let mut index_size = first.index().file_size();
        i += 1;
        while i < segments.len() {
            let s = &segments[i];
            let last_offset = next_base(s).saturating_sub(1);
            if log_size + s.size() < max_size as u64
                && index_size + s.index().file_size() < max_index_size as u64
                && last_offset - first.base_offset() <= i32::MAX as i64
            {
                log_size += s.size();
                index_size += s.index().file_size();
                group.push(s.clone());
                i += 1;
            } else {
                break;
            }
        }
        groups.push(group);
    }
    groups
}
