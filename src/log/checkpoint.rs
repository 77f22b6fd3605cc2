//! Offset checkpoint files (0.8.2 `kafka.server.OffsetCheckpoint`): the recovery point of
//! every log in a data directory, and the high watermarks the replica manager keeps.
//!
//! Text, as 0.8.2 writes it:
//! ```text
//! 0
//! <number of entries>
//! <topic> <partition> <offset>
//! ...
//! ```
//! Written to `<file>.tmp`, fsynced, then renamed over the file, so a crash leaves either
//! the old or the new file, never a torn one.

use super::log::LogError;
use crate::common::TopicPartition;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The log manager's file of log recovery points, one per data directory.
pub const RECOVERY_POINT_CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
/// The replica manager's file of high watermarks, one per data directory.
pub const REPLICATION_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";

const CURRENT_VERSION: i32 = 0;

/// The text of a checkpoint holding `offsets` (entries sorted by topic and partition, so
/// the file is stable; 0.8.2 writes them in hash-map order, which any reader accepts).
pub fn format_checkpoint(offsets: &HashMap<TopicPartition, i64>) -> String {
    let mut entries: Vec<(&TopicPartition, &i64)> = offsets.iter().collect();
    entries.sort();
    let mut s = format!("{}\n{}\n", CURRENT_VERSION, entries.len());
    for (tp, offset) in entries {
        s.push_str(&format!("{} {} {}\n", tp.topic, tp.partition, offset));
    }
    s
}

/// Parse checkpoint text (0.8.2 `OffsetCheckpoint.read`): an empty file, or one with only
/// the version line, holds nothing; anything malformed is an error, never a panic.
pub fn parse_checkpoint(text: &str) -> Result<HashMap<TopicPartition, i64>, String> {
    let mut lines = text.lines();
    let version = match lines.next() {
        None => return Ok(HashMap::new()),
        Some(l) => l.trim().parse::<i32>().map_err(|_| format!("bad version line '{}'", l))?,
    };
    if version != CURRENT_VERSION {
        return Err(format!("Unrecognized version of the highwatermark checkpoint file: {}", version));
    }
    let expected = match lines.next() {
        None => return Ok(HashMap::new()),
        Some(l) => l.trim().parse::<usize>().map_err(|_| format!("bad entry count line '{}'", l))?,
    };
    let mut offsets = HashMap::new();
    for line in lines {
        let pieces: Vec<&str> = line.split_whitespace().collect();
        if pieces.len() != 3 {
            return Err(format!("Malformed line in offset checkpoint file: '{}'.", line));
        }
        let partition = pieces[1].parse::<i32>().map_err(|_| format!("Malformed line in offset checkpoint file: '{}'.", line))?;
        let offset = pieces[2].parse::<i64>().map_err(|_| format!("Malformed line in offset checkpoint file: '{}'.", line))?;
        offsets.insert(TopicPartition::new(pieces[0], partition), offset);
    }
    if offsets.len() != expected {
        return Err(format!("Expected {} entries but found only {}", expected, offsets.len()));
    }
    Ok(offsets)
}

/// One checkpoint file. Writes are serialized.
#[derive(Debug)]
pub struct OffsetCheckpoint {
    path: PathBuf,
    lock: Mutex<()>,
}

impl OffsetCheckpoint {
    /// Open the checkpoint at `path`, creating an empty file if there is none and removing
    /// a leftover `.tmp` (as 0.8.2's constructor does).
    pub fn new(path: &Path) -> Result<OffsetCheckpoint, LogError> {
        let _ = std::fs::remove_file(tmp_path(path));
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(LogError::io(format!("cannot create checkpoint file {}", path.display())))?;
        Ok(OffsetCheckpoint { path: path.to_path_buf(), lock: Mutex::new(()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replace the file's content with `offsets`, atomically.
    pub fn write(&self, offsets: &HashMap<TopicPartition, i64>) -> Result<(), LogError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let tmp = tmp_path(&self.path);
        let err = |what: &str| LogError::io(format!("cannot {} checkpoint {}", what, self.path.display()));
        let write_tmp = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(format_checkpoint(offsets).as_bytes())?;
            f.sync_all()
        };
        write_tmp().map_err(err("write"))?;
        std::fs::rename(&tmp, &self.path).map_err(err("rename the new"))?;
        // Make the rename itself durable.
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// The offsets in the file; a missing or empty file holds none.
    pub fn read(&self) -> Result<HashMap<TopicPartition, i64>, LogError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(LogError::io(format!("cannot read checkpoint {}", self.path.display()))(e)),
        };
        parse_checkpoint(&text).map_err(|reason| LogError::BadCheckpoint { path: self.path.clone(), reason })
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn golden_text() {
        let mut m = HashMap::new();
        m.insert(tp("test", 1), 42);
        m.insert(tp("my-topic", 0), 0);
        m.insert(tp("test", 0), 1234567890123);
        assert_eq!(format_checkpoint(&m), "0\n3\nmy-topic 0 0\ntest 0 1234567890123\ntest 1 42\n");
        assert_eq!(format_checkpoint(&HashMap::new()), "0\n0\n");
        assert_eq!(parse_checkpoint("0\n3\nmy-topic 0 0\ntest 0 1234567890123\ntest 1 42\n").unwrap(), m);
    }

    #[test]
    fn parse_is_lenient_where_082_is_and_strict_elsewhere() {
        assert!(parse_checkpoint("").unwrap().is_empty());
        assert!(parse_checkpoint("0\n").unwrap().is_empty());
        assert_eq!(parse_checkpoint("0\n1\nt  3\t7\n").unwrap()[&tp("t", 3)], 7);
        for bad in ["1\n0\n", "x\n", "0\ny\n", "0\n2\nt 0 1\n", "0\n1\nt 0\n", "0\n1\nt x 1\n", "0\n1\nt 0 1 2\n", "0\n1\nt 0 z\n"] {
            assert!(parse_checkpoint(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn write_is_atomic_and_read_round_trips() {
        let d = std::env::temp_dir().join(format!("kafka08-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let path = d.join(RECOVERY_POINT_CHECKPOINT_FILE);
        std::fs::write(tmp_path(&path), "junk").unwrap();
        let c = OffsetCheckpoint::new(&path).unwrap();
        assert!(!tmp_path(&path).exists(), "leftover .tmp removed");
        assert!(path.exists(), "created empty");
        assert!(c.read().unwrap().is_empty());
        let mut m = HashMap::new();
        m.insert(tp("a", 0), 5);
        c.write(&m).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n1\na 0 5\n");
        assert_eq!(c.read().unwrap(), m);
        std::fs::write(&path, "0\n2\na 0 5\n").unwrap();
        let e = c.read().unwrap_err();
        assert!(matches!(e, LogError::BadCheckpoint { .. }), "{}", e);
        assert!(e.to_string().contains(RECOVERY_POINT_CHECKPOINT_FILE));
        let _ = std::fs::remove_dir_all(&d);
    }
}
