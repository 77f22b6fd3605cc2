//! The `.lock` file that keeps two brokers off one data directory.
//!
//! 0.8.2 takes `FileChannel.tryLock()` on `<dir>/.lock`, which on Linux is an exclusive
//! whole-file POSIX record lock (`fcntl(F_SETLK)`, `l_len = 0`). We take the same lock, so a
//! real 0.8.2 broker and kafka08 exclude each other. POSIX locks belong to the process, so
//! a second manager in the same process would get it again (and closing any descriptor of
//! the file would drop it): a process-wide registry refuses that case first.

use super::log::LogError;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The lock file in every data directory (0.8.2 `LogManager.LockFile`).
pub const LOCK_FILE: &str = ".lock";

fn registry() -> &'static Mutex<HashSet<PathBuf>> {
    static REGISTRY: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashSet::new()))
}

/// An exclusive lock on a data directory, released on drop.
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    file: File,
}

fn setlk(file: &File, lock_type: libc::c_int) -> std::io::Result<()> {
    // SAFETY: `flock` is a plain C struct; all-zero is a valid value we then fill in.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = lock_type as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    // SAFETY: the descriptor is open for the lifetime of `file`; `fl` outlives the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl as *const libc::flock) };
    if rc == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl DirLock {
    /// Lock `dir` (which must exist) or say clearly who holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, LogError> {
        let dir = dir
            .canonicalize()
            .map_err(LogError::io(format!("cannot resolve log directory {}", dir.display())))?;
        {
            let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
            if !reg.insert(dir.clone()) {
                return Err(LogError::DirLocked { dir, reason: "already locked by a log manager in this process".into() });
            }
        }
        let release = |dir: &PathBuf| {
            registry().lock().unwrap_or_else(|p| p.into_inner()).remove(dir);
        };
        let path = dir.join(LOCK_FILE);
        let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
            Ok(f) => f,
            Err(e) => {
                release(&dir);
                return Err(LogError::io(format!("cannot open {}", path.display()))(e));
            }
        };
        if let Err(e) = setlk(&file, libc::F_WRLCK) {
            release(&dir);
            let reason = match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EACCES) => format!("locked by another process ({})", e),
                _ => e.to_string(),
            };
            return Err(LogError::DirLocked { dir, reason });
        }
        Ok(DirLock { dir, file })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = setlk(&self.file, libc::F_UNLCK);
        registry().lock().unwrap_or_else(|p| p.into_inner()).remove(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_process_is_refused_until_the_first_is_dropped() {
        let d = std::env::temp_dir().join(format!("kafka08-lock-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let first = DirLock::acquire(&d).unwrap();
        let err = DirLock::acquire(&d).unwrap_err();
        assert!(matches!(err, LogError::DirLocked { .. }));
        assert!(err.to_string().contains(&d.canonicalize().unwrap().display().to_string()), "{}", err);
        drop(first);
        let again = DirLock::acquire(&d).unwrap();
        assert!(d.join(LOCK_FILE).exists());
        drop(again);
        let _ = std::fs::remove_dir_all(&d);
    }
}
