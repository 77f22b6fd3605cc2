//! The logs of a broker across its data directories (0.8.2 `kafka.log.LogManager`):
//! directory locks, loading with recovery, creation balanced over directories, deletion,
//! retention, time-based flushing, recovery-point checkpoints and clean shutdown.

use super::checkpoint::{OffsetCheckpoint, RECOVERY_POINT_CHECKPOINT_FILE};
use super::cleaner::{CleanerConfig, LogCleaner, LogSource};
use super::config::LogConfig;
use super::lock::DirLock;
use super::log::{Log, LogError};
use crate::common::{Clock, TopicPartition};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Present in a data directory after a clean shutdown (0.8.2 `Log.CleanShutdownFile`).
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";

/// How often the background thread removes `.deleted` segments whose delay has passed.
const FILE_DELETE_CHECK_MS: i64 = 1000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug)]
struct DataDir {
    path: PathBuf,
    checkpoint: OffsetCheckpoint,
}

#[derive(Debug)]
struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: JoinHandle<()>,
}

#[derive(Debug)]
pub struct LogManager {
    dirs: Vec<DataDir>,
    default_config: LogConfig,
    topic_configs: RwLock<HashMap<String, LogConfig>>,
    logs: RwLock<HashMap<TopicPartition, Arc<Log>>>,
    /// Serializes creation and deletion (0.8.2 `logCreationOrDeletionLock`), and holds
    /// how many logs each of `dirs` has (in their order), so that placing a new log does
    /// not walk every log (which made creating 10,000 partitions quadratic).
    create_lock: Mutex<Vec<usize>>,
    locks: Mutex<Vec<DirLock>>,
    clock: Arc<dyn Clock>,
    background: Mutex<Option<Background>>,
    cleaner: Mutex<Option<Arc<LogCleaner>>>,
    shut_down: AtomicBool,
}

impl LogManager {
    /// Take every directory (creating missing ones), lock it, and load every
    /// `<topic>-<partition>` folder in it with the recovery points of its checkpoint. A
    /// directory with `.kafka_cleanshutdown` was shut down cleanly: its logs are not
    /// re-scanned, and the marker is removed once they are loaded. Directories load in
    /// parallel, one thread each. `topic_configs` overrides `default_config` per topic.
    pub fn open(
        dirs: &[PathBuf],
        default_config: LogConfig,
        topic_configs: HashMap<String, LogConfig>,
        clock: Arc<dyn Clock>,
    ) -> Result<LogManager, LogError> {
        if dirs.is_empty() {
            return Err(LogError::InvalidArgument("log.dirs names no directory".into()));
        }
        let mut seen = HashSet::new();
        let mut locks = Vec::new();
        let mut data_dirs = Vec::new();
        for dir in dirs {
            if !dir.exists() {
                log::info!("Log directory '{}' not found, creating it.", dir.display());
                std::fs::create_dir_all(dir)
                    .map_err(LogError::io(format!("Failed to create data directory {}", dir.display())))?;
            }
            if !dir.is_dir() {
                return Err(LogError::InvalidArgument(format!("{} is not a readable log directory.", dir.display())));
            }
            let canonical = dir
                .canonicalize()
                .map_err(LogError::io(format!("cannot resolve log directory {}", dir.display())))?;
            if !seen.insert(canonical.clone()) {
                return Err(LogError::InvalidArgument(format!(
                    "Duplicate log directory found: {}",
                    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
            locks.push(DirLock::acquire(&canonical)?);
            let checkpoint = OffsetCheckpoint::new(&canonical.join(RECOVERY_POINT_CHECKPOINT_FILE))?;
            data_dirs.push(DataDir { path: canonical, checkpoint });
        }

        let manager = LogManager {
            dirs: data_dirs,
            default_config,
            topic_configs: RwLock::new(topic_configs),
            logs: RwLock::new(HashMap::new()),
            create_lock: Mutex::new(Vec::new()),
            locks: Mutex::new(locks),
            clock,
            background: Mutex::new(None),
            cleaner: Mutex::new(None),
            shut_down: AtomicBool::new(false),
        };
        manager.load_logs()?;
        Ok(manager)
    }

    fn load_logs(&self) -> Result<(), LogError> {
        type Loaded = Result<Vec<(TopicPartition, Arc<Log>)>, LogError>;
        let results: Vec<Loaded> = std::thread::scope(|scope| {
            let handles: Vec<_> = self.dirs.iter().map(|d| scope.spawn(move || self.load_dir(d))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(LogError::InvalidArgument("log loading thread panicked".into()))))
                .collect()
        });
        let mut logs = self.logs.write().unwrap_or_else(|p| p.into_inner());
        for result in results {
            for (tp, log) in result? {
                if let Some(previous) = logs.get(&tp) {
                    return Err(LogError::DuplicateLog {
                        tp,
                        first: previous.dir().to_path_buf(),
                        second: log.dir().to_path_buf(),
                    });
                }
                logs.insert(tp, log);
            }
        }
        let counts = self.dirs.iter().map(|d| logs.values().filter(|l| l.dir().parent() == Some(&d.path)).count()).collect();
        *lock(&self.create_lock) = counts;
        drop(logs);
        for d in &self.dirs {
            let marker = d.path.join(CLEAN_SHUTDOWN_FILE);
            if marker.exists() {
                std::fs::remove_file(&marker).map_err(LogError::io(format!("cannot remove {}", marker.display())))?;
            }
        }
        Ok(())
    }

    fn load_dir(&self, d: &DataDir) -> Result<Vec<(TopicPartition, Arc<Log>)>, LogError> {
        let clean_shutdown = d.path.join(CLEAN_SHUTDOWN_FILE).exists();
        if !clean_shutdown {
            log::info!("Found no clean shutdown marker in {}: recovering logs past their recovery points", d.path.display());
        }
        // A damaged checkpoint only costs time: recover everything from the start.
        let recovery_points = d.checkpoint.read().unwrap_or_else(|e| {
            log::error!("{}; recovering every log in {} from offset 0", e, d.path.display());
            HashMap::new()
        });
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(&d.path).map_err(LogError::io(format!("cannot list {}", d.path.display())))?;
        for entry in entries {
            let entry = entry.map_err(LogError::io(format!("cannot list {}", d.path.display())))?;
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let tp = match TopicPartition::parse_dir_name(&name) {
                Some(tp) => tp,
                None => {
                    log::warn!("Skipping {}: not a <topic>-<partition> log folder", entry.path().display());
                    continue;
                }
            };
            let config = self.config_for(&tp.topic);
            let recovery_point = recovery_points.get(&tp).copied().unwrap_or(0);
            let log = Log::open(&entry.path(), config, recovery_point, clean_shutdown, self.clock.clone())?;
            out.push((tp, Arc::new(log)));
        }
        Ok(out)
    }

    fn config_for(&self, topic: &str) -> LogConfig {
        self.topic_configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .cloned()
            .unwrap_or_else(|| self.default_config.clone())
    }

    /// The data directories (canonical paths), in configuration order.
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    pub fn default_config(&self) -> &LogConfig {
        &self.default_config
    }

    /// Apply a topic's new configuration to the manager and to its existing logs (0.8.2
    /// `TopicConfigManager`); `None` returns the topic to the defaults.
    pub fn update_topic_config(&self, topic: &str, config: Option<LogConfig>) {
        {
            let mut configs = self.topic_configs.write().unwrap_or_else(|p| p.into_inner());
            match &config {
                Some(c) => configs.insert(topic.to_string(), c.clone()),
                None => configs.remove(topic),
            };
        }
        let config = config.unwrap_or_else(|| self.default_config.clone());
        for (tp, log) in self.all_logs() {
            if tp.topic == topic {
                log.update_config(config.clone());
            }
        }
    }

    pub fn get_log(&self, tp: &TopicPartition) -> Option<Arc<Log>> {
        self.logs.read().unwrap_or_else(|p| p.into_inner()).get(tp).cloned()
    }

    /// Every log, in no particular order.
    pub fn all_logs(&self) -> Vec<(TopicPartition, Arc<Log>)> {
        self.logs.read().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn logs_in_dir(&self, dir: &Path) -> Vec<(TopicPartition, Arc<Log>)> {
        self.all_logs().into_iter().filter(|(_, l)| l.dir().parent() == Some(dir)).collect()
    }

    /// The log of `tp`, created in the data directory holding the fewest partitions if it
    /// does not exist yet (0.8.2 `createLog` + `nextLogDir`; ties go to the directory listed
    /// first).
    /// A topic name that breaks 0.8.2's rules, or a negative partition, is refused before
    /// any path is built from it.
    pub fn create_log(&self, tp: &TopicPartition, config: LogConfig) -> Result<Arc<Log>, LogError> {
        check_topic_partition(tp)?;
        let mut counts = lock(&self.create_lock);
        if let Some(log) = self.get_log(tp) {
            return Ok(log);
        }
        counts.resize(self.dirs.len(), 0);
        // The first of the directories with the fewest logs.
        let (i, _) = counts.iter().enumerate().min_by_key(|(_, n)| **n).expect("at least one data directory");
        let dir = &self.dirs[i];
        let log = Arc::new(Log::open(&dir.path.join(tp.dir_name()), config, 0, false, self.clock.clone())?);
        log::info!("Created log for partition {} in {}.", tp, dir.path.display());
        self.logs.write().unwrap_or_else(|p| p.into_inner()).insert(tp.clone(), log.clone());
        counts[i] += 1;
        Ok(log)
    }

    /// Start the log cleaner's threads (0.8.2 starts them with the log manager when
    /// `log.cleaner.enable`). Does nothing when disabled, already started or shut down.
    pub fn start_cleaner(self: &Arc<Self>, config: CleanerConfig) -> Result<(), LogError> {
        if !config.enable_cleaner || self.shut_down.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut slot = lock(&self.cleaner);
        if slot.is_some() {
            return Ok(());
        }
        let weak = Arc::downgrade(self);
        let logs: LogSource = Arc::new(move || weak.upgrade().map(|m| m.all_logs()).unwrap_or_default());
        let cleaner = Arc::new(LogCleaner::new(config, &self.log_dirs(), logs)?);
        cleaner.startup();
        *slot = Some(cleaner);
        Ok(())
    }

    /// The running log cleaner, if any.
    pub fn cleaner(&self) -> Option<Arc<LogCleaner>> {
        lock(&self.cleaner).clone()
    }

    fn stop_cleaner(&self) {
        let cleaner = lock(&self.cleaner).take();
        if let Some(c) = cleaner {
            c.shutdown();
        }
    }

    /// Remove the log of `tp` and its folder; false when there was none. A cleaning of it
    /// in progress is aborted first (0.8.2 `abortCleaning`).
    pub fn delete_log(&self, tp: &TopicPartition) -> Result<bool, LogError> {
        if let Some(c) = self.cleaner() {
            c.abort_cleaning(tp);
        }
        let removed = {
            let mut counts = lock(&self.create_lock);
            let removed = self.logs.write().unwrap_or_else(|p| p.into_inner()).remove(tp);
            if let Some(log) = &removed {
                if let Some(i) = self.dirs.iter().position(|d| log.dir().parent() == Some(&d.path)) {
                    if let Some(n) = counts.get_mut(i) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            removed
        };
        match removed {
            None => Ok(false),
            Some(log) => {
                log.delete()?;
                log::info!("Deleted log for partition {} in {}.", tp, log.dir().display());
                Ok(true)
            }
        }
    }

    /// Write every directory's recovery points (0.8.2 `checkpointRecoveryPointOffsets`).
    pub fn checkpoint_recovery_points(&self) -> Result<(), LogError> {
        for d in &self.dirs {
            self.checkpoint_dir(d)?;
        }
        Ok(())
    }

    fn checkpoint_dir(&self, d: &DataDir) -> Result<(), LogError> {
        let points: HashMap<TopicPartition, i64> =
            self.logs_in_dir(&d.path).into_iter().map(|(tp, log)| (tp, log.recovery_point())).collect();
        d.checkpoint.write(&points)
    }

    /// Retention over every log; returns the number of segments deleted. A failing log is
    /// reported and skipped.
    pub fn cleanup_logs(&self) -> usize {
        let mut total = 0;
        for (tp, log) in self.all_logs() {
            match log.delete_old_segments() {
                Ok(n) => total += n,
                Err(e) => log::error!("Retention failed for {}: {}", tp, e),
            }
        }
        if total > 0 {
            log::debug!("Log cleanup completed. {} files deleted", total);
        }
        total
    }

    /// Flush every log whose last flush is at least its `flush.ms` ago (0.8.2
    /// `flushDirtyLogs`).
    pub fn flush_dirty_logs(&self) {
        let now = self.clock.now_ms();
        for (tp, log) in self.all_logs() {
            let since = now.saturating_sub(log.last_flush_ms());
            if since >= log.config().flush_ms {
                if let Err(e) = log.flush() {
                    log::error!("Error flushing topic {}: {}", tp, e);
                }
            }
        }
    }

    /// Remove `.deleted` segments whose delay has passed, in every log.
    pub fn delete_expired_files(&self) -> usize {
        self.all_logs().iter().map(|(_, l)| l.delete_expired_files()).sum()
    }

    /// Run retention, time-based flushing and recovery-point checkpoints in a background
    /// thread, each at its interval (<= 0 disables one), until [`LogManager::shutdown`].
    /// Segments renamed `.deleted` are removed there too, once their delay has passed.
    pub fn start_background(
        self: &Arc<Self>,
        retention_check_interval_ms: i64,
        flush_scheduler_interval_ms: i64,
        checkpoint_interval_ms: i64,
    ) {
        let mut background = lock(&self.background);
        if background.is_some() || self.shut_down.load(Ordering::Acquire) {
            return;
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let weak: Weak<LogManager> = Arc::downgrade(self);
        let thread_stop = stop.clone();
        let spawned = std::thread::Builder::new().name("kafka-log-manager".into()).spawn(move || {
            let interval = |ms: i64| if ms <= 0 { None } else { Some(Duration::from_millis(ms as u64)) };
            // (period, next due) for retention, flush, checkpoint, file deletion.
            let mut tasks: Vec<(Option<Duration>, Option<Instant>)> = [
                retention_check_interval_ms,
                flush_scheduler_interval_ms,
                checkpoint_interval_ms,
                FILE_DELETE_CHECK_MS,
            ]
            .iter()
            .map(|ms| {
                let p = interval(*ms);
                (p, p.and_then(|p| Instant::now().checked_add(p)))
            })
            .collect();
            let (stopped, cv) = &*thread_stop;
            loop {
                let now = Instant::now();
                let next_due = tasks.iter().filter_map(|t| t.1).min();
                // Wake at least every second: `checked_add` of a huge interval is None.
                let wait = next_due.map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now)).min(Duration::from_secs(1));
                {
                    let guard = lock(stopped);
                    if *guard {
                        return;
                    }
                    let (guard, _) = cv.wait_timeout(guard, wait).unwrap_or_else(|p| p.into_inner());
                    if *guard {
                        return;
                    }
                }
                let manager = match weak.upgrade() {
                    Some(m) => m,
                    None => return,
                };
                let now = Instant::now();
                for (i, (period, due)) in tasks.iter_mut().enumerate() {
                    let (Some(p), Some(d)) = (*period, *due) else { continue };
                    if d > now {
                        continue;
                    }
                    match i {
                        0 => {
                            manager.cleanup_logs();
                        }
                        1 => manager.flush_dirty_logs(),
                        2 => {
                            if let Err(e) = manager.checkpoint_recovery_points() {
                                log::error!("Recovery point checkpoint failed: {}", e);
                            }
                        }
                        _ => {
                            manager.delete_expired_files();
                        }
                    }
                    *due = now.checked_add(p);
                }
            }
        });
        match spawned {
            Ok(handle) => *background = Some(Background { stop, handle }),
            Err(e) => log::error!("cannot start the log manager's background thread: {}", e),
        }
    }

    fn stop_background(&self) {
        let background = lock(&self.background).take();
        if let Some(b) = background {
            let (stopped, cv) = &*b.stop;
            *lock(stopped) = true;
            cv.notify_all();
            if b.handle.thread().id() != std::thread::current().id() {
                let _ = b.handle.join();
            }
        }
    }

    /// Stop the background work, then per directory: flush and close every log, write the
    /// recovery points, write `.kafka_cleanshutdown`; finally release the directory locks.
    /// Later calls do nothing. Every directory is attempted; the first error is returned.
    pub fn shutdown(&self) -> Result<(), LogError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.stop_cleaner();
        self.stop_background();
        let mut first_error = None;
        for d in &self.dirs {
            let mut dir_ok = true;
            for (tp, log) in self.logs_in_dir(&d.path) {
                if let Err(e) = log.flush().and_then(|_| log.close()) {
                    log::error!("Error closing log {}: {}", tp, e);
                    dir_ok = false;
                    first_error.get_or_insert(e);
                }
            }
            if let Err(e) = self.checkpoint_dir(d) {
                dir_ok = false;
                first_error.get_or_insert(e);
            }
            // Only a directory whose logs all reached the disk may skip recovery next time.
            if dir_ok {
                let marker = d.path.join(CLEAN_SHUTDOWN_FILE);
                if let Err(e) = std::fs::File::create(&marker) {
                    first_error.get_or_insert(LogError::io(format!("cannot create {}", marker.display()))(e));
                }
            }
        }
        lock(&self.locks).clear();
        log::info!("Shutdown complete.");
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl Drop for LogManager {
    fn drop(&mut self) {
        // Never leave the background thread running; an un-shut-down manager is a crash
        // as far as the disk is concerned (no clean shutdown marker).
        self.stop_cleaner();
        self.stop_background();
    }
}/// The folder of a partition is `<topic>-<partition>` inside a data directory only when the
/// topic is a legal 0.8.2 name (no '/', not "..") and the partition is not negative.
pub fn check_topic_partition(tp: &TopicPartition) -> Result<(), LogError> {
    crate::common::validate_topic_name(&tp.topic)
        .map_err(|why| LogError::InvalidTopicPartition(format!("partition {}: {}", tp, why)))?;
    if tp.partition < 0 {
        return Err(LogError::InvalidTopicPartition(format!("partition {}: a partition number is never negative", tp)));
    }
    Ok(())
}



#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::SystemClock;

    #[test]
    fn a_topic_name_that_would_leave_the_data_directory_is_refused() {
        let root = std::env::temp_dir().join(format!("kafka08-mgr-names-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let data = root.join("data");
        let mgr = LogManager::open(&[data.clone()], LogConfig::default(), HashMap::new(), Arc::new(SystemClock)).unwrap();
        for tp in [
            TopicPartition::new("../escaped", 0),
            TopicPartition::new("..", 0),
            TopicPartition::new("a/b", 0),
            TopicPartition::new("", 0),
            TopicPartition::new("ok", -1),
        ] {
            let e = mgr.create_log(&tp, LogConfig::default()).map(|_| ()).unwrap_err();
            assert_eq!(e.error_code(), crate::common::ErrorCode::InvalidTopic, "{}", e);
        }
        assert!(!root.join("escaped-0").exists(), "a folder was made outside log.dirs");
        assert!(!data.join("a").exists());
        assert!(mgr.create_log(&TopicPartition::new("ok.topic_1-x", 0), LogConfig::default()).is_ok());
        mgr.shutdown().unwrap();
        let _ = std::fs::remove_dir_all(&root);
    }
}
