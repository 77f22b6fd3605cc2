//! The log (`kafka.log`): a partition's messages on disk, in Kafka 0.8.2's layout, so a
//! data directory can move between a 0.8.2 broker and kafka08 in either direction.
//!
//! ```text
//! <log.dir>/
//!   .lock                               fcntl lock, one broker per directory
//!   .kafka_cleanshutdown                present after a clean shutdown
//!   recovery-point-offset-checkpoint    text: 0, count, "topic partition offset" lines
//!   replication-offset-checkpoint       same format (high watermarks; written by the server)
//!   cleaner-offset-checkpoint           same format (how far each compacted log is cleaned)
//!   <topic>-<partition>/
//!     00000000000000000000.log          message-set entries exactly as appended
//!     00000000000000000000.index        8-byte entries: 4-byte relative offset, 4-byte position
//!     <segment files>.cleaned / .swap / .deleted   the cleaner's swap and delayed deletes
//! ```
//!
//! - [`LogConfig`]: broker keys and per-topic overrides, 0.8.2 names and defaults.
//! - [`LogSegment`] + [`OffsetIndex`]: one `.log`/`.index` pair.
//! - [`Log`]: append (offset assignment, roll), read ([`FetchRegion`] for `sendfile`),
//!   retention, truncation, flush, crash recovery.
//! - [`OffsetCheckpoint`]: the checkpoint files.
//! - [`LogManager`]: all logs of a broker over its `log.dirs`, background retention/flush.
//! - [`LogCleaner`]: compaction of `cleanup.policy=compact` logs on background threads.
//!
//! This module never talks to ZooKeeper or the network; it knows file layouts and nothing
//! else. All failures are [`LogError`], mapped to wire codes by [`LogError::error_code`].

mod checkpoint;
pub mod cleaner;
mod config;
mod index;
mod lock;
#[allow(clippy::module_inception)]
mod log;
mod manager;
mod segment;

pub use checkpoint::{
    format_checkpoint, parse_checkpoint, OffsetCheckpoint, RECOVERY_POINT_CHECKPOINT_FILE, REPLICATION_CHECKPOINT_FILE,
};
pub use cleaner::{clean_log, CleanerConfig, LogCleaner, CLEANER_CHECKPOINT_FILE};
pub use config::{validate_topic_config_names, CleanupPolicy, LogConfig, LogConfigError, TopicOverrides, TOPIC_CONFIG_NAMES};
pub use index::{parse_index_bytes, raw_index_entries, IndexLoadError, OffsetIndex, OffsetPosition, INDEX_ENTRY_SIZE};
pub use lock::{DirLock, LOCK_FILE};
pub use log::{Log, LogAppendInfo, LogError, PreparedAppend, SegmentInfo};
pub use manager::{check_topic_partition, LogManager, CLEAN_SHUTDOWN_FILE};
pub use segment::{
    filename_prefix, index_filename, log_filename, FetchRegion, IndexState, LogSegment, CLEANED_FILE_SUFFIX,
    DELETED_FILE_SUFFIX, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, SWAP_FILE_SUFFIX,
};
