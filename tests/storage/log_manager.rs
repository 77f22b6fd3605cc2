//! LogManager over several data directories: balance, locks (in-process and against
//! another process), clean shutdown and reload, unclean reload, retention and flushing,
//! the background thread.


use kafka08::common::{Clock, MockClock, TopicPartition};
use kafka08::log::{
    LogConfig, LogError, LogManager, CLEAN_SHUTDOWN_FILE, LOCK_FILE, RECOVERY_POINT_CHECKPOINT_FILE,
};
use crate::support::child;
use crate::support::logs::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOCK_CHILD_ENV: &str = "KAFKA08_LOG_MANAGER_LOCK_CHILD_DIR";

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn manager(dirs: &[PathBuf], clock: Arc<dyn Clock>) -> LogManager {
    LogManager::open(dirs, LogConfig::default(), HashMap::new(), clock).unwrap()
}

fn eventually(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < deadline, "timed out waiting for {}", what);
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn new_partitions_are_balanced_over_the_data_directories() {
    let tmp = TempDir::new("mgr-balance");
    let dirs = vec![tmp.join("a"), tmp.join("b")];
    let (_c, clock) = mock_clock();
    let m = manager(&dirs, clock);
    assert!(dirs.iter().all(|d| d.is_dir()), "missing directories are created");
    for p in 0..6 {
        m.create_log(&tp("t", p), LogConfig::default()).unwrap();
    }
    let count = |d: &PathBuf| std::fs::read_dir(d).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!((count(&dirs[0]), count(&dirs[1])), (3, 3));
    assert!(dirs[0].join("t-0").is_dir() && dirs[1].join("t-1").is_dir(), "alternating, first dir first");
    // Idempotent.
    let a = m.create_log(&tp("t", 0), LogConfig::default()).unwrap();
    let b = m.get_log(&tp("t", 0)).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(m.all_logs().len(), 6);
    assert!(m.get_log(&tp("t", 9)).is_none());
    m.shutdown().unwrap();
}

#[test]
fn placement_counts_deleted_and_reloaded_logs() {
    let tmp = TempDir::new("mgr-balance-delete");
    let dirs = vec![tmp.join("a"), tmp.join("b")];
    let (_c, clock) = mock_clock();
    let m = manager(&dirs, clock.clone());
    for p in 0..4 {
        m.create_log(&tp("t", p), LogConfig::default()).unwrap();
    }
    // a: t-0 t-2, b: t-1 t-3. Two deletions in b make it the emptier one.
    assert!(m.delete_log(&tp("t", 1)).unwrap() && m.delete_log(&tp("t", 3)).unwrap());
    assert!(!m.delete_log(&tp("t", 3)).unwrap());
    m.create_log(&tp("u", 0), LogConfig::default()).unwrap();
    m.create_log(&tp("u", 1), LogConfig::default()).unwrap();
    assert!(dirs[1].join("u-0").is_dir() && dirs[1].join("u-1").is_dir(), "both in the emptier directory");
    m.shutdown().unwrap();
    // A log folder found at load time counts too.
    std::fs::create_dir_all(dirs[1].join("v-9")).unwrap();
    let m = manager(&dirs, clock);
    assert_eq!(m.all_logs().len(), 5);
    m.create_log(&tp("w", 0), LogConfig::default()).unwrap();
    assert!(dirs[0].join("w-0").is_dir(), "b holds 3 logs after the reload, a 2");
    m.shutdown().unwrap();
}

#[test]
fn a_locked_directory_is_refused_with_its_name() {
    let tmp = TempDir::new("mgr-lock");
    let dirs = vec![tmp.join("a"), tmp.join("b")];
    let (_c, clock) = mock_clock();
    let first = manager(&dirs, clock.clone());
    assert!(dirs[0].join(LOCK_FILE).exists());
    let err = LogManager::open(&dirs[1..], LogConfig::default(), HashMap::new(), clock.clone()).unwrap_err();
    assert!(matches!(err, LogError::DirLocked { .. }), "{}", err);
    assert!(err.to_string().contains("/b"), "{}", err);
    first.shutdown().unwrap();
    // Released on shutdown.
    let again = manager(&dirs, clock);
    again.shutdown().unwrap();
}

/// The child process: try to open a manager on the directory, report, exit.
fn lock_child() -> ! {
    let dir = PathBuf::from(std::env::var(LOCK_CHILD_ENV).expect("the parent names the directory"));
    match LogManager::open(&[dir], LogConfig::default(), HashMap::new(), Arc::new(MockClock::new(0))) {
        Ok(m) => {
            println!("LOCKED");
            m.shutdown().unwrap();
        }
        Err(e) => println!("REFUSED {}", e),
    }
    child::exit()
}

const LOCK_TEST: &str = "another_process_cannot_take_a_locked_directory";

fn lock_in_child(dir: &std::path::Path) -> String {
    let out = child::command(module_path!(), LOCK_TEST).env(LOCK_CHILD_ENV, dir).output().unwrap();
    child::assert_finished(out.status, &String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    // libtest prints "test <name> ... " before the child's own line.
    stdout
        .lines()
        .find_map(|l| l.find("LOCKED").or_else(|| l.find("REFUSED")).map(|i| l[i..].to_string()))
        .unwrap_or_default()
}

#[test]
fn another_process_cannot_take_a_locked_directory() {
    if child::is_child(module_path!(), LOCK_TEST) {
        lock_child();
    }
    let tmp = TempDir::new("mgr-lock-process");
    let dir = tmp.join("data");
    let (_c, clock) = mock_clock();
    let m = manager(std::slice::from_ref(&dir), clock);
    let answer = lock_in_child(&dir);
    assert!(answer.starts_with("REFUSED"), "{:?}", answer);
    assert!(answer.contains("another process"), "{:?}", answer);
    m.shutdown().unwrap();
    assert!(lock_in_child(&dir).starts_with("LOCKED"));
}

#[test]
fn clean_shutdown_writes_the_marker_and_checkpoints_and_reload_restores_every_log() {
    let tmp = TempDir::new("mgr-reload");
    let dirs = vec![tmp.join("a"), tmp.join("b")];
    let (_c, clock) = mock_clock();
    let m = manager(&dirs, clock.clone());
    let mut expected = HashMap::new();
    for (i, t) in [tp("alpha", 0), tp("alpha", 1), tp("beta-x", 0)].into_iter().enumerate() {
        let log = m.create_log(&t, LogConfig { segment_bytes: 500, ..LogConfig::default() }).unwrap();
        for k in 0..(5 + i * 3) {
            log.append(set(k * 2, 2), true).unwrap();
        }
        expected.insert(t.clone(), consume(&log, 0, 1 << 20));
    }
    m.shutdown().unwrap();
    m.shutdown().unwrap(); // a second call does nothing
    for d in &dirs {
        assert!(d.join(CLEAN_SHUTDOWN_FILE).exists());
    }
    let checkpoints: String = dirs
        .iter()
        .map(|d| std::fs::read_to_string(d.join(RECOVERY_POINT_CHECKPOINT_FILE)).unwrap())
        .collect();
    assert!(checkpoints.contains("alpha 0 10\n"), "{}", checkpoints);
    assert!(checkpoints.contains("alpha 1 16\n"), "{}", checkpoints);
    assert!(checkpoints.contains("beta-x 0 22\n"), "{}", checkpoints);
    let a = std::fs::read_to_string(dirs[0].join(RECOVERY_POINT_CHECKPOINT_FILE)).unwrap();
    assert_eq!(a, "0\n2\nalpha 0 10\nbeta-x 0 22\n");

    // Something that is not a partition folder is skipped.
    std::fs::create_dir_all(dirs[0].join("lost+found")).unwrap();
    let m = manager(&dirs, clock);
    for d in &dirs {
        assert!(!d.join(CLEAN_SHUTDOWN_FILE).exists(), "marker removed after loading");
    }
    assert_eq!(m.all_logs().len(), 3);
    for (t, msgs) in &expected {
        let log = m.get_log(t).unwrap();
        assert_eq!(&consume(&log, 0, 1 << 20), msgs, "{}", t);
        assert_eq!(log.recovery_point(), log.log_end_offset());
    }
    m.shutdown().unwrap();
}

#[test]
fn without_a_clean_shutdown_logs_are_recovered_past_the_checkpoint() {
    let tmp = TempDir::new("mgr-unclean");
    let dirs = vec![tmp.join("a")];
    let (_c, clock) = mock_clock();
    let m = manager(&dirs, clock.clone());
    let log = m.create_log(&tp("t", 0), LogConfig::default()).unwrap();
    log.append(set(0, 5), true).unwrap();
    log.flush().unwrap();
    m.checkpoint_recovery_points().unwrap();
    log.append(set(5, 5), true).unwrap();
    let path = log.segments()[0].log_path.clone();
    drop(log);
    drop(m); // a crash, as far as the disk is concerned
    assert!(!dirs[0].join(CLEAN_SHUTDOWN_FILE).exists());
    // Garbage past the recovery point is found and cut.
    let good = file_len(&path);
    std::fs::OpenOptions::new().append(true).open(&path).map(|mut f| std::io::Write::write_all(&mut f, &[1u8; 30])).unwrap().unwrap();
    let m = manager(&dirs, clock);
    let log = m.get_log(&tp("t", 0)).unwrap();
    assert_eq!(file_len(&path), good);
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(log.recovery_point(), 5, "from the checkpoint");
    m.shutdown().unwrap();
}

#[test]
fn the_same_partition_in_two_directories_is_an_error() {
    let tmp = TempDir::new("mgr-dup");
    let dirs = vec![tmp.join("a"), tmp.join("b")];
    std::fs::create_dir_all(dirs[0].join("t-0")).unwrap();
    std::fs::create_dir_all(dirs[1].join("t-0")).unwrap();
    let (_c, clock) = mock_clock();
    let err = LogManager::open(&dirs, LogConfig::default(), HashMap::new(), clock.clone()).unwrap_err();
    assert!(matches!(err, LogError::DuplicateLog { .. }), "{}", err);
    // The locks were released with the failed manager.
    let m = manager(&dirs[..1], clock);
    m.shutdown().unwrap();
    let err = LogManager::open(&[dirs[0].clone(), dirs[0].clone()], LogConfig::default(), HashMap::new(), Arc::new(MockClock::new(0)))
        .unwrap_err();
    assert!(err.to_string().contains("Duplicate log directory"), "{}", err);
}

#[test]
fn topic_configs_apply_to_loaded_logs_and_updates_reach_existing_ones() {
    let tmp = TempDir::new("mgr-config");
    let dirs = vec![tmp.join("a")];
    let (_c, clock) = mock_clock();
    let m = manager(&dirs, clock.clone());
    m.create_log(&tp("small", 0), LogConfig::default()).unwrap();
    m.create_log(&tp("other", 0), LogConfig::default()).unwrap();
    m.shutdown().unwrap();
    let small = LogConfig { segment_bytes: 300, ..LogConfig::default() };
    let mut topics = HashMap::new();
    topics.insert("small".to_string(), small.clone());
    let m = LogManager::open(&dirs, LogConfig::default(), topics, clock).unwrap();
    assert_eq!(m.get_log(&tp("small", 0)).unwrap().config().segment_bytes, 300);
    assert_eq!(m.get_log(&tp("other", 0)).unwrap().config().segment_bytes, LogConfig::default().segment_bytes);
    m.update_topic_config("other", Some(small));
    assert_eq!(m.get_log(&tp("other", 0)).unwrap().config().segment_bytes, 300);
    m.update_topic_config("small", None);
    assert_eq!(m.get_log(&tp("small", 0)).unwrap().config().segment_bytes, LogConfig::default().segment_bytes);
    m.shutdown().unwrap();
}

#[test]
fn cleanup_and_flush_follow_each_logs_config_and_the_clock() {
    let tmp = TempDir::new("mgr-cleanup");
    let dirs = vec![tmp.join("a"), tmp.join("b")];
    let clock = MockClock::new(1_000_000);
    let m = manager(&dirs, Arc::new(clock.clone()));
    let expiring = m
        .create_log(&tp("expiring", 0), LogConfig { retention_ms: 1000, flush_ms: 500, file_delete_delay_ms: 0, ..LogConfig::default() })
        .unwrap();
    let kept = m.create_log(&tp("kept", 0), LogConfig::default()).unwrap();
    for log in [&expiring, &kept] {
        log.append(set(0, 3), true).unwrap();
        log.roll().unwrap();
        log.append(set(3, 3), true).unwrap();
    }
    // (A roll flushes the finished segment in the background: up to 3 may be flushed.)
    m.flush_dirty_logs();
    assert!(expiring.recovery_point() < 6 && kept.recovery_point() < 6, "nothing is due yet");
    clock.advance_ms(500);
    m.flush_dirty_logs();
    assert_eq!(expiring.recovery_point(), 6);
    assert!(kept.recovery_point() < 6);
    clock.advance_ms(600);
    assert_eq!(m.cleanup_logs(), 2);
    assert_eq!((expiring.log_start_offset(), expiring.log_end_offset()), (6, 6));
    assert_eq!(kept.log_start_offset(), 0);
    assert!(m.delete_log(&tp("kept", 0)).unwrap());
    assert!(!m.delete_log(&tp("kept", 0)).unwrap());
    assert!(!kept.dir().exists());
    assert!(m.get_log(&tp("kept", 0)).is_none());
    m.shutdown().unwrap();
    let reopened = manager(&dirs, Arc::new(clock));
    assert_eq!(reopened.all_logs().len(), 1);
    reopened.shutdown().unwrap();
}

#[test]
fn background_thread_checkpoints_flushes_and_stops_at_shutdown() {
    let tmp = TempDir::new("mgr-background");
    let dirs = vec![tmp.join("a")];
    let clock = MockClock::new(1_000_000);
    let m = Arc::new(manager(&dirs, Arc::new(clock.clone())));
    let log = m.create_log(&tp("t", 0), LogConfig { flush_ms: 0, ..LogConfig::default() }).unwrap();
    log.append(set(0, 4), true).unwrap();
    m.start_background(60_000, 20, 20);
    m.start_background(1, 1, 1); // a second start is ignored
    eventually("the flusher moves the recovery point", Duration::from_secs(10), || log.recovery_point() == 4);
    let checkpoint = dirs[0].canonicalize().unwrap().join(RECOVERY_POINT_CHECKPOINT_FILE);
    eventually("the checkpoint is written", Duration::from_secs(10), || {
        std::fs::read_to_string(&checkpoint).map(|s| s.contains("t 0 4")).unwrap_or(false)
    });
    // Shutdown joins the thread before it flushes and closes the logs.
    m.shutdown().unwrap();
    assert!(dirs[0].join(CLEAN_SHUTDOWN_FILE).exists());
}
