//! The sparse offset index of one segment (0.8.2 `kafka.log.OffsetIndex`), byte for byte:
//! a file of 8-byte entries, each a 4-byte big-endian offset relative to the segment's
//! base offset and a 4-byte big-endian position in the `.log` file.
//!
//! 0.8.2 memory-maps the file; here the entries live in a `Vec` (lookups take a short read
//! lock) and are written to the file with `pwrite` when the index is flushed, trimmed or
//! resized. Entries not yet written are lost in a crash, which costs nothing: a segment
//! past the recovery point has its index rebuilt, and flushing writes the entries first.
//!
//! The active segment's file is preallocated to the maximum index size (zeros) and trimmed
//! to its entries when the segment is rolled or closed, as 0.8.2 does. A loaded file is
//! never trusted: trailing zero entries are not entries, and entries that do not increase,
//! point past the log, or a size that is not a multiple of 8 make it damaged (the caller
//! deletes it and rebuilds from the log).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

/// Bytes per index entry.
pub const INDEX_ENTRY_SIZE: usize = 8;

/// One index entry as absolute values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPosition {
    pub offset: i64,
    pub position: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawEntry {
    relative_offset: u32,
    position: u32,
}

/// Why a loaded index file cannot be used.
#[derive(Debug)]
pub enum IndexLoadError {
    Missing,
    Damaged(String),
    Io(io::Error),
}

impl std::fmt::Display for IndexLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexLoadError::Missing => write!(f, "index file is missing"),
            IndexLoadError::Damaged(why) => write!(f, "index file is damaged: {}", why),
            IndexLoadError::Io(e) => write!(f, "cannot read index file: {}", e),
        }
    }
}

/// Parse index file bytes the way a loader must: stop at the first all-zero entry (the
/// preallocated tail; no real entry is ever (0, 0): the base offset sits at position 0 and
/// 0.8.2 never indexes it), and require what follows to be zeros too. Returns the entries
/// as absolute offsets, or why the bytes are damaged. `log_size` bounds the positions.
pub fn parse_index_bytes(bytes: &[u8], base_offset: i64, log_size: u64) -> Result<Vec<OffsetPosition>, String> {
    Ok(parse_raw(bytes, log_size)?
        .into_iter()
        .map(|e| OffsetPosition { offset: base_offset + e.relative_offset as i64, position: e.position })
        .collect())
}

/// Every 8-byte entry of an index file as it stands, unvalidated (for DumpLogSegments,
/// which shows a damaged index rather than refusing it). A trailing partial entry is
/// ignored.
pub fn raw_index_entries(bytes: &[u8], base_offset: i64) -> Vec<OffsetPosition> {
    bytes
        .chunks_exact(INDEX_ENTRY_SIZE)
        .map(|c| OffsetPosition {
            offset: base_offset + u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64,
            position: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

fn parse_raw(bytes: &[u8], log_size: u64) -> Result<Vec<RawEntry>, String> {
    if !bytes.len().is_multiple_of(INDEX_ENTRY_SIZE) {
        return Err(format!("size {} is not a multiple of {}", bytes.len(), INDEX_ENTRY_SIZE));
    }
    let mut out: Vec<RawEntry> = Vec::new();
    let mut chunks = bytes.chunks_exact(INDEX_ENTRY_SIZE);
    for (i, c) in chunks.by_ref().enumerate() {
        let rel = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let pos = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
        if rel == 0 && pos == 0 {
            // The preallocated tail: everything from here on must be zeros.
            let rest = &bytes[(i + 1) * INDEX_ENTRY_SIZE..];
            if rest.iter().any(|b| *b != 0) {
                return Err(format!("entry {} is zero but non-zero entries follow", i));
            }
            break;
        }
        if rel == 0 || rel > i32::MAX as u32 {
            return Err(format!("entry {} has relative offset {}", i, rel));
        }
        if let Some(prev) = out.last() {
            if rel <= prev.relative_offset || pos <= prev.position {
                return Err(format!(
                    "entry {} ({}, {}) does not follow ({}, {})",
                    i, rel, pos, prev.relative_offset, prev.position
                ));
            }
        }
        if pos as u64 > log_size {
            return Err(format!("entry {} points at position {} past the log size {}", i, pos, log_size));
        }
        out.push(RawEntry { relative_offset: rel, position: pos });
    }
    Ok(out)
}

/// Where the file's last data extent ends (`len` when the file system cannot tell):
/// past it the file is a hole, which reads as zeros.
fn data_end(file: &File, len: u64) -> u64 {
    use std::os::unix::io::AsRawFd;
    let fd = file.as_raw_fd();
    let mut end = 0u64;
    let mut at = 0i64;
    while (at as u64) < len {
        // SAFETY: lseek on a descriptor we own; it only moves the file position.
        let data = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if data < 0 {
            return if io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) { end } else { len };
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        if hole < 0 {
            return len;
        }
        end = (hole as u64).min(len);
        at = hole;
    }
    end
}

fn round_down(size: usize) -> usize {
    size / INDEX_ENTRY_SIZE * INDEX_ENTRY_SIZE
}

/// File-side state: the descriptor (opened only while the file is written: entries live in
/// memory and reach the file on flush, roll and close, so a segment costs one descriptor,
/// its log, as in 0.8.2 where the index is only a mapping), how many entries are on disk
/// and the file's length.
#[derive(Debug)]
struct IndexIo {
    path: PathBuf,
    file: Option<File>,
    written: usize,
    file_len: u64,
}

impl IndexIo {
    fn file(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().read(true).write(true).open(&self.path)?);
        }
        Ok(self.file.as_ref().expect("opened above"))
    }
}

#[derive(Debug)]
pub struct OffsetIndex {
    base_offset: i64,
    entries: RwLock<Vec<RawEntry>>,
    max_entries: AtomicUsize,
    io: Mutex<IndexIo>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OffsetIndex {
    /// A new, empty index at `path` (an existing file is replaced), preallocated to
    /// `max_index_size` rounded down to whole entries.
    pub fn create(path: &Path, base_offset: i64, max_index_size: usize) -> io::Result<OffsetIndex> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        let len = round_down(max_index_size.max(INDEX_ENTRY_SIZE)) as u64;
        file.set_len(len)?;
        Ok(OffsetIndex {
            base_offset,
            entries: RwLock::new(Vec::new()),
            max_entries: AtomicUsize::new(len as usize / INDEX_ENTRY_SIZE),
            io: Mutex::new(IndexIo { path: path.to_path_buf(), file: None, written: 0, file_len: len }),
        })
    }

    /// Load an existing index file, checking it against the log it indexes.
    pub fn load(path: &Path, base_offset: i64, log_size: u64) -> Result<OffsetIndex, IndexLoadError> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(IndexLoadError::Missing),
            Err(e) => return Err(IndexLoadError::Io(e)),
        };
        let len = file.metadata().map_err(IndexLoadError::Io)?.len();
        if len % INDEX_ENTRY_SIZE as u64 != 0 {
            return Err(IndexLoadError::Damaged(format!("size {} is not a multiple of {}", len, INDEX_ENTRY_SIZE)));
        }
        // Only the part with data is read: an active index is preallocated sparse (10 MB
        // by default) and its hole reads as zeros, so reading it whole cost ~10 ms per
        // partition when a broker with thousands of them restarted.
        let data_len = (data_end(&file, len) as usize).div_ceil(INDEX_ENTRY_SIZE) * INDEX_ENTRY_SIZE;
        let mut bytes = vec![0u8; data_len.min(len as usize)];
        file.read_exact_at(&mut bytes, 0).map_err(IndexLoadError::Io)?;
        let entries = parse_raw(&bytes, log_size).map_err(IndexLoadError::Damaged)?;
        let n = entries.len();
        Ok(OffsetIndex {
            base_offset,
            entries: RwLock::new(entries),
            max_entries: AtomicUsize::new(len as usize / INDEX_ENTRY_SIZE),
            io: Mutex::new(IndexIo { path: path.to_path_buf(), file: None, written: n, file_len: len }),
        })
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn path(&self) -> PathBuf {
        lock(&self.io).path.clone()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read_entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn max_entries(&self) -> usize {
        self.max_entries.load(Ordering::Acquire)
    }

    /// No room for another entry (0.8.2 `isFull`; the log rolls when it is).
    pub fn is_full(&self) -> bool {
        self.len() >= self.max_entries()
    }

    /// The file's current length (preallocated while active, trimmed otherwise).
    pub fn file_size(&self) -> u64 {
        lock(&self.io).file_len
    }

    fn read_entries(&self) -> std::sync::RwLockReadGuard<'_, Vec<RawEntry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_entries(&self) -> std::sync::RwLockWriteGuard<'_, Vec<RawEntry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    fn to_absolute(&self, e: RawEntry) -> OffsetPosition {
        OffsetPosition { offset: self.base_offset + e.relative_offset as i64, position: e.position }
    }

    /// The last entry, or (base offset, 0) when there is none.
    pub fn last_entry(&self) -> OffsetPosition {
        match self.read_entries().last() {
            Some(e) => self.to_absolute(*e),
            None => OffsetPosition { offset: self.base_offset, position: 0 },
        }
    }

    /// The largest entry whose offset is <= `target`, or (base offset, 0) when there is none
    /// (0.8.2 `lookup`).
    pub fn lookup(&self, target: i64) -> OffsetPosition {
        let rel = target - self.base_offset;
        if rel <= 0 {
            return OffsetPosition { offset: self.base_offset, position: 0 };
        }
        let rel = rel.min(u32::MAX as i64) as u32;
        let entries = self.read_entries();
        let idx = entries.partition_point(|e| e.relative_offset <= rel);
        if idx == 0 {
            OffsetPosition { offset: self.base_offset, position: 0 }
        } else {
            self.to_absolute(entries[idx - 1])
        }
    }

    /// All entries (absolute offsets), for tools and tests.
    pub fn entries(&self) -> Vec<OffsetPosition> {
        self.read_entries().iter().map(|e| self.to_absolute(*e)).collect()
    }

    /// Add an entry. Offsets and positions must increase; an offset that does not fit in
    /// the 4-byte relative field, or a full index, is refused (the caller rolls first).
    pub fn append(&self, offset: i64, position: u32) -> Result<(), String> {
        let rel = offset - self.base_offset;
        if rel <= 0 || rel > i32::MAX as i64 {
            return Err(format!("offset {} cannot be indexed relative to base offset {}", offset, self.base_offset));
        }
        let rel = rel as u32;
        let max = self.max_entries();
        let mut entries = self.write_entries();
        if entries.len() >= max {
            return Err(format!("attempt to append to a full index ({} entries)", entries.len()));
        }
        if let Some(last) = entries.last() {
            if rel <= last.relative_offset || position <= last.position {
                return Err(format!(
                    "attempt to append an offset ({}) at position {} no larger than the last ({}, {})",
                    offset,
                    position,
                    self.base_offset + last.relative_offset as i64,
                    last.position
                ));
            }
        }
        entries.push(RawEntry { relative_offset: rel, position });
        Ok(())
    }

    /// Write the entries not yet on disk.
    fn write_pending(&self, io: &mut IndexIo) -> io::Result<()> {
        let pending: Vec<u8> = {
            let entries = self.read_entries();
            if io.written >= entries.len() {
                io.written = entries.len();
                return Ok(());
            }
            let mut buf = Vec::with_capacity((entries.len() - io.written) * INDEX_ENTRY_SIZE);
            for e in &entries[io.written..] {
                buf.extend_from_slice(&e.relative_offset.to_be_bytes());
                buf.extend_from_slice(&e.position.to_be_bytes());
            }
            buf
        };
        let at = (io.written * INDEX_ENTRY_SIZE) as u64;
        io.file()?.write_all_at(&pending, at)?;
        io.written += pending.len() / INDEX_ENTRY_SIZE;
        io.file_len = io.file_len.max(at + pending.len() as u64);
        Ok(())
    }

    /// Write pending entries and fsync. A released descriptor (a rolled segment flushed in
    /// the background) is opened for the occasion only.
    pub fn flush(&self) -> io::Result<()> {
        let mut io = lock(&self.io);
        let result = self.write_pending(&mut io).and_then(|_| io.file()?.sync_data());
        io.file = None;
        result
    }

    /// Cut the file to exactly its entries (0.8.2 `trimToValidSize`, on roll and close).
    pub fn trim_to_valid_size(&self) -> io::Result<()> {
        let mut io = lock(&self.io);
        self.write_pending(&mut io)?;
        let n = self.len();
        let len = (n * INDEX_ENTRY_SIZE) as u64;
        if io.file_len != len {
            io.file()?.set_len(len)?;
            io.file_len = len;
        }
        io.file = None;
        self.max_entries.store(n, Ordering::Release);
        Ok(())
    }

    /// Preallocate (or shrink) the file to `size` rounded down to whole entries (at least
    /// one), never below the existing entries (0.8.2 `resize`, when a segment becomes active).
    pub fn resize(&self, size: usize) -> io::Result<()> {
        let mut io = lock(&self.io);
        self.write_pending(&mut io)?;
        let n = self.len();
        let len = round_down(size.max(INDEX_ENTRY_SIZE)).max(n * INDEX_ENTRY_SIZE) as u64;
        if io.file_len != len {
            io.file()?.set_len(len)?;
            io.file_len = len;
        }
        io.file = None;
        self.max_entries.store(len as usize / INDEX_ENTRY_SIZE, Ordering::Release);
        Ok(())
    }

    /// Remove every entry whose offset is >= `offset` (0.8.2 `truncateTo`). The removed
    /// entries are zeroed on disk so a crash cannot bring them back.
    pub fn truncate_to(&self, offset: i64) -> io::Result<()> {
        let mut io = lock(&self.io);
        let n = {
            let mut entries = self.write_entries();
            let rel = offset - self.base_offset;
            let keep = if rel <= 0 {
                0
            } else {
                let rel = rel.min(u32::MAX as i64) as u32;
                entries.partition_point(|e| e.relative_offset < rel)
            };
            entries.truncate(keep);
            keep
        };
        if io.written > n {
            let keep_len = (n * INDEX_ENTRY_SIZE) as u64;
            let file_len = io.file_len;
            let file = io.file()?;
            file.set_len(keep_len)?;
            file.set_len(file_len)?;
            io.written = n;
            io.file = None;
        }
        Ok(())
    }

    /// Remove all entries.
    pub fn truncate(&self) -> io::Result<()> {
        self.truncate_to(self.base_offset)
    }

    /// Close the descriptor until the index is written to again (a rolled segment's).
    pub fn release_file(&self) {
        lock(&self.io).file = None;
    }

    /// Rename the file (a segment being deleted becomes `.deleted`).
    pub fn rename(&self, to: &Path) -> io::Result<()> {
        let mut io = lock(&self.io);
        std::fs::rename(&io.path, to)?;
        io.path = to.to_path_buf();
        Ok(())
    }

    /// Remove the file. A missing file is not an error.
    pub fn delete(&self) -> io::Result<()> {
        let io = lock(&self.io);
        match std::fs::remove_file(&io.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp directory removed on drop.
    struct TmpDir(PathBuf);
    impl std::ops::Deref for TmpDir {
        type Target = PathBuf;
        fn deref(&self) -> &PathBuf {
            &self.0
        }
    }
    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tmpdir(name: &str) -> TmpDir {
        let d = std::env::temp_dir().join(format!("kafka08-index-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }

    fn bytes_of(entries: &[(u32, u32)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (o, p) in entries {
            b.extend_from_slice(&o.to_be_bytes());
            b.extend_from_slice(&p.to_be_bytes());
        }
        b
    }

    #[test]
    fn a_sparse_preallocated_index_loads_from_its_data_and_garbage_in_the_tail_is_caught() {
        let d = tmpdir("sparse");
        let path = d.join("00000000000000000000.index");
        let f = File::create(&path).unwrap();
        f.set_len(10 << 20).unwrap(); // preallocated, a hole
        f.write_all_at(&bytes_of(&[(3, 100), (7, 300)]), 0).unwrap();
        assert!(data_end(&f, 10 << 20) < 1 << 20, "only the first block holds data");
        let idx = OffsetIndex::load(&path, 0, 1000).unwrap();
        assert_eq!((idx.len(), idx.max_entries()), (2, (10 << 20) / 8));
        assert_eq!(idx.lookup(8).position, 300);
        // A stray non-zero byte deep in the preallocated tail is still seen.
        f.write_all_at(&[1], 5 << 20).unwrap();
        assert!(matches!(OffsetIndex::load(&path, 0, 1000), Err(IndexLoadError::Damaged(_))));
    }

    #[test]
    fn lookup_finds_largest_entry_at_or_below_target() {
        let d = tmpdir("lookup");
        let idx = OffsetIndex::create(&d.join("a.index"), 100, 80).unwrap();
        assert_eq!(idx.max_entries(), 10);
        assert_eq!(idx.lookup(500), OffsetPosition { offset: 100, position: 0 });
        idx.append(110, 1000).unwrap();
        idx.append(120, 2000).unwrap();
        idx.append(130, 3000).unwrap();
        assert_eq!(idx.lookup(0), OffsetPosition { offset: 100, position: 0 });
        assert_eq!(idx.lookup(109), OffsetPosition { offset: 100, position: 0 });
        assert_eq!(idx.lookup(110), OffsetPosition { offset: 110, position: 1000 });
        assert_eq!(idx.lookup(125), OffsetPosition { offset: 120, position: 2000 });
        assert_eq!(idx.lookup(i64::MAX), OffsetPosition { offset: 130, position: 3000 });
        assert_eq!(idx.last_entry(), OffsetPosition { offset: 130, position: 3000 });
        // Non-increasing offsets or positions are refused.
        assert!(idx.append(130, 4000).is_err());
        assert!(idx.append(140, 3000).is_err());
        assert!(idx.append(100, 0).is_err());
        assert!(idx.append(100 + i32::MAX as i64 + 1, 5000).is_err());
    }

    #[test]
    fn file_is_preallocated_rounded_and_trimmed_to_exact_bytes() {
        let d = tmpdir("trim");
        let p = d.join("b.index");
        let idx = OffsetIndex::create(&p, 5, 8 * 4 + 5).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 32);
        idx.append(6, 100).unwrap();
        idx.append(9, 300).unwrap();
        idx.flush().unwrap();
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(on_disk.len(), 32);
        assert_eq!(&on_disk[..16], &bytes_of(&[(1, 100), (4, 300)])[..]);
        assert!(on_disk[16..].iter().all(|b| *b == 0));
        idx.trim_to_valid_size().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), bytes_of(&[(1, 100), (4, 300)]));
        assert!(idx.is_full());
        idx.resize(64).unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 64);
        assert_eq!(idx.max_entries(), 8);
        assert!(!idx.is_full());
    }

    #[test]
    fn full_index_refuses_entries() {
        let d = tmpdir("full");
        let idx = OffsetIndex::create(&d.join("c.index"), 0, 16).unwrap();
        idx.append(1, 10).unwrap();
        assert!(!idx.is_full());
        idx.append(2, 20).unwrap();
        assert!(idx.is_full());
        assert!(idx.append(3, 30).is_err());
    }

    #[test]
    fn truncate_to_drops_entries_at_or_above_and_zeroes_them_on_disk() {
        let d = tmpdir("truncate");
        let p = d.join("d.index");
        let idx = OffsetIndex::create(&p, 0, 64).unwrap();
        for i in 1..=4 {
            idx.append(i * 10, i as u32 * 100).unwrap();
        }
        idx.flush().unwrap();
        idx.truncate_to(30).unwrap();
        assert_eq!(idx.entries().iter().map(|e| e.offset).collect::<Vec<_>>(), vec![10, 20]);
        let on_disk = std::fs::read(&p).unwrap();
        assert_eq!(on_disk.len(), 64);
        assert_eq!(&on_disk[..16], &bytes_of(&[(10, 100), (20, 200)])[..]);
        assert!(on_disk[16..].iter().all(|b| *b == 0));
        idx.truncate_to(25).unwrap();
        assert_eq!(idx.len(), 2);
        idx.truncate().unwrap();
        assert!(idx.is_empty());
        idx.append(5, 50).unwrap();
        idx.trim_to_valid_size().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), bytes_of(&[(5, 50)]));
    }

    #[test]
    fn parse_treats_zero_tail_as_no_entries_and_rejects_damage() {
        let good = bytes_of(&[(3, 100), (7, 250), (0, 0), (0, 0)]);
        assert_eq!(
            parse_index_bytes(&good, 1000, 300).unwrap(),
            vec![OffsetPosition { offset: 1003, position: 100 }, OffsetPosition { offset: 1007, position: 250 }]
        );
        assert_eq!(parse_index_bytes(&[0u8; 64], 0, 0).unwrap(), vec![]);
        assert_eq!(parse_index_bytes(&[], 0, 0).unwrap(), vec![]);
        // Size not a multiple of 8.
        assert!(parse_index_bytes(&good[..12], 0, 300).is_err());
        // Offsets not increasing.
        assert!(parse_index_bytes(&bytes_of(&[(7, 100), (3, 250)]), 0, 300).is_err());
        // Positions not increasing.
        assert!(parse_index_bytes(&bytes_of(&[(3, 250), (7, 250)]), 0, 300).is_err());
        // Position past the log.
        assert!(parse_index_bytes(&bytes_of(&[(3, 100), (7, 301)]), 0, 300).is_err());
        // A non-zero entry after the zero tail.
        assert!(parse_index_bytes(&bytes_of(&[(3, 100), (0, 0), (9, 200)]), 0, 300).is_err());
        // Relative offset 0 at a non-zero position, or one that overflows an int.
        assert!(parse_index_bytes(&bytes_of(&[(0, 100)]), 0, 300).is_err());
        assert!(parse_index_bytes(&bytes_of(&[(0x8000_0000, 100)]), 0, 300).is_err());
    }

    #[test]
    fn load_round_trips_and_reports_missing_and_damaged() {
        let d = tmpdir("load");
        let p = d.join("e.index");
        assert!(matches!(OffsetIndex::load(&p, 0, 0), Err(IndexLoadError::Missing)));
        let idx = OffsetIndex::create(&p, 50, 80).unwrap();
        idx.append(60, 100).unwrap();
        idx.append(70, 200).unwrap();
        idx.flush().unwrap();
        drop(idx);
        // Untrimmed (crash while active): zero tail ignored.
        let idx = OffsetIndex::load(&p, 50, 1000).unwrap();
        assert_eq!(idx.entries().len(), 2);
        assert_eq!(idx.lookup(65), OffsetPosition { offset: 60, position: 100 });
        // Positions past a shorter log: damaged.
        assert!(matches!(OffsetIndex::load(&p, 50, 150), Err(IndexLoadError::Damaged(_))));
        std::fs::write(&p, [1u8; 13]).unwrap();
        assert!(matches!(OffsetIndex::load(&p, 50, 1000), Err(IndexLoadError::Damaged(_))));
    }
}
