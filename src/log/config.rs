//! Per-log configuration (0.8.2 `kafka.log.LogConfig`): the broker's defaults
//! (`KafkaConfig::log_defaults`, from the broker key table) overridden per topic with the
//! 0.8.2 topic-level keys of [`TopicOverrides`] (`/config/topics/<topic>`).

use crate::common::config_def::{config_struct, word_config_value, KeyError};
use crate::common::{Properties, PropertiesError};
use crate::message::MIN_MESSAGE_SIZE;
use std::fmt;

/// What retention does with old segments. 0.8.2: `log.cleanup.policy` / `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    Delete,
    Compact,
}

impl CleanupPolicy {
    pub fn name(self) -> &'static str {
        match self {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
        }
    }

}

/// The 0.8.2 per-topic configuration keys (`LogConfig.ConfigNames`), in 0.8.2's order.
pub const TOPIC_CONFIG_NAMES: &[&str] = TopicOverrides::KEYS;

/// Why a per-topic override was refused.
#[derive(Debug)]
pub enum LogConfigError {
    /// A key that is not one of [`TOPIC_CONFIG_NAMES`] (0.8.2 `LogConfig.validateNames`).
    UnknownKey(String),
    Bad(PropertiesError),
}

impl fmt::Display for LogConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogConfigError::UnknownKey(k) => write!(f, "Unknown configuration \"{}\".", k),
            LogConfigError::Bad(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LogConfigError {}

impl From<PropertiesError> for LogConfigError {
    fn from(e: PropertiesError) -> Self {
        LogConfigError::Bad(e)
    }
}

/// Configuration of one log. Sizes are bytes, times milliseconds; `-1` retention means
/// unlimited.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Roll when the active segment would grow past this (`log.segment.bytes`).
    pub segment_bytes: usize,
    /// Roll a non-empty active segment this long after it was created (`log.roll.ms`/`.hours`).
    pub segment_ms: i64,
    /// Upper bound of the random amount subtracted from `segment_ms` per segment.
    pub segment_jitter_ms: i64,
    /// Size the active segment's index is preallocated to (`log.index.size.max.bytes`).
    pub max_index_size: usize,
    /// Bytes between two index entries (`log.index.interval.bytes`).
    pub index_interval_bytes: usize,
    /// Flush when this many messages are not yet flushed (`log.flush.interval.messages`).
    pub flush_interval_messages: i64,
    /// Flush a log whose last flush is older than this (`log.flush.interval.ms`).
    pub flush_ms: i64,
    /// Delete the oldest segments while the log is larger than this (`log.retention.bytes`).
    pub retention_bytes: i64,
    /// Delete segments last modified longer ago than this (`log.retention.{ms,minutes,hours}`).
    pub retention_ms: i64,
    /// Largest entry (12-byte prefix included) accepted on append (`message.max.bytes`).
    pub max_message_size: usize,
    /// Delay between renaming a deleted segment to `.deleted` and removing it.
    pub file_delete_delay_ms: i64,
    pub delete_retention_ms: i64,
    pub min_cleanable_ratio: f64,
    pub cleanup_policy: CleanupPolicy,
    pub unclean_leader_election_enable: bool,
    pub min_insync_replicas: i32,
}

const MS_PER_HOUR: i64 = 60 * 60 * 1000;

impl Default for LogConfig {
    /// The 0.8.2 broker defaults (what a `server.properties` without log keys gives).
    fn default() -> LogConfig {
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 24 * 7 * MS_PER_HOUR,
            segment_jitter_ms: 0,
            max_index_size: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            flush_interval_messages: i64::MAX,
            flush_ms: i64::MAX,
            retention_bytes: -1,
            retention_ms: 24 * 7 * MS_PER_HOUR,
            max_message_size: 1_000_000 + 12,
            file_delete_delay_ms: 60_000,
            delete_retention_ms: 24 * MS_PER_HOUR,
            min_cleanable_ratio: 0.5,
            cleanup_policy: CleanupPolicy::Delete,
            unclean_leader_election_enable: true,
            min_insync_replicas: 1,
        }
    }
}

word_config_value!(CleanupPolicy, "string", any case, |_raw| "expected delete or compact".to_string(), {
    CleanupPolicy::Delete => "delete",
    CleanupPolicy::Compact => "compact",
});

const INT_SIZE: Option<(i32, i32)> = Some((0, i32::MAX));
const NON_NEGATIVE_LONG: Option<(i64, i64)> = Some((0, i64::MAX));

config_struct! {
    #[derive(Debug, Clone, PartialEq)]
    /// A topic's overrides of the broker's log defaults (0.8.2 `LogConfig.ConfigNames`, in
    /// 0.8.2's order; the broker key each one overrides in the doc line). Only the keys
    /// present in `/config/topics/<topic>` are set.
    pub struct TopicOverrides {
        "segment.bytes" => segment_bytes: Option<i32> = None, Some((MIN_MESSAGE_SIZE as i32, i32::MAX)), read if true, "The segment file size of the log (log.segment.bytes).";
        "segment.ms" => segment_ms: Option<i64> = None, Some((1, i64::MAX)), read if true, "The time after which a segment is rolled even if not full (log.roll.hours).";
        "segment.jitter.ms" => segment_jitter_ms: Option<i64> = None, NON_NEGATIVE_LONG, read if true, "The maximum jitter subtracted from segment.ms (log.roll.jitter.hours).";
        "segment.index.bytes" => segment_index_bytes: Option<i32> = None, Some((8, i32::MAX)), read if true, "The size of the index that maps offsets to file positions (log.index.size.max.bytes).";
        "flush.messages" => flush_messages: Option<i64> = None, NON_NEGATIVE_LONG, read if true, "Force an fsync after this many messages (log.flush.interval.messages).";
        "flush.ms" => flush_ms: Option<i64> = None, NON_NEGATIVE_LONG, read if true, "Force an fsync after this much time (log.flush.interval.ms).";
        "retention.bytes" => retention_bytes: Option<i64> = None, None, read if true, "The size a log may reach before old segments are discarded (log.retention.bytes).";
        "retention.ms" => retention_ms: Option<i64> = None, None, read if true, "How long a log is retained before old segments are discarded (log.retention.minutes).";
        "max.message.bytes" => max_message_bytes: Option<i32> = None, INT_SIZE, read if true, "The largest message size allowed in this topic (message.max.bytes).";
        "index.interval.bytes" => index_interval_bytes: Option<i32> = None, INT_SIZE, read if true, "How often an index entry is added (log.index.interval.bytes).";
        "delete.retention.ms" => delete_retention_ms: Option<i64> = None, None, read if true, "How long delete markers are kept in a compacted log (log.cleaner.delete.retention.ms).";
        "file.delete.delay.ms" => file_delete_delay_ms: Option<i64> = None, NON_NEGATIVE_LONG, read if true, "The time to wait before deleting a file from the filesystem (log.segment.delete.delay.ms).";
        "min.cleanable.dirty.ratio" => min_cleanable_dirty_ratio: Option<f64> = None, Some((0.0, 1.0)), read if true, "How dirty a log must be before the cleaner compacts it (log.cleaner.min.cleanable.ratio).";
        "cleanup.policy" => cleanup_policy: Option<CleanupPolicy> = None, None, read if true, "delete or compact (log.cleanup.policy).";
        "unclean.leader.election.enable" => unclean_leader_election_enable: Option<bool> = None, None, read if true, "Whether a replica outside the ISR may become leader (unclean.leader.election.enable).";
        "min.insync.replicas" => min_insync_replicas: Option<i32> = None, Some((1, i32::MAX)), read if true, "The in-sync replicas an acks=-1 produce needs (min.insync.replicas).";
    }
    extra {}
}

impl LogConfig {
    /// This configuration with a topic's overrides applied (0.8.2 `LogConfig.fromProps(defaults,
    /// overrides)` after `validateNames` and `validateMinInSyncReplicas`). An unknown key is
    /// an error naming it. The broker's defaults come from `KafkaConfig::log_defaults`.
    pub fn with_topic_overrides(&self, overrides: &Properties) -> Result<LogConfig, LogConfigError> {
        validate_topic_config_names(overrides)?;
        let o = TopicOverrides::read_keys(overrides).map_err(|e| match e {
            KeyError::Missing { key } => PropertiesError::BadValue(key, String::new(), "missing".into()),
            KeyError::Invalid { key, value, reason } => PropertiesError::BadValue(key, value, reason),
        })?;
        let size = |v: i32| v.max(0) as usize;
        let c = self.clone();
        Ok(LogConfig {
            segment_bytes: o.segment_bytes.map_or(c.segment_bytes, size),
            segment_ms: o.segment_ms.unwrap_or(c.segment_ms),
            segment_jitter_ms: o.segment_jitter_ms.unwrap_or(c.segment_jitter_ms),
            max_index_size: o.segment_index_bytes.map_or(c.max_index_size, size),
            index_interval_bytes: o.index_interval_bytes.map_or(c.index_interval_bytes, size),
            flush_interval_messages: o.flush_messages.unwrap_or(c.flush_interval_messages),
            flush_ms: o.flush_ms.unwrap_or(c.flush_ms),
            retention_bytes: o.retention_bytes.unwrap_or(c.retention_bytes),
            retention_ms: o.retention_ms.unwrap_or(c.retention_ms),
            max_message_size: o.max_message_bytes.map_or(c.max_message_size, size),
            file_delete_delay_ms: o.file_delete_delay_ms.unwrap_or(c.file_delete_delay_ms),
            delete_retention_ms: o.delete_retention_ms.unwrap_or(c.delete_retention_ms),
            min_cleanable_ratio: o.min_cleanable_dirty_ratio.unwrap_or(c.min_cleanable_ratio),
            cleanup_policy: o.cleanup_policy.unwrap_or(c.cleanup_policy),
            unclean_leader_election_enable: o.unclean_leader_election_enable.unwrap_or(c.unclean_leader_election_enable),
            min_insync_replicas: o.min_insync_replicas.unwrap_or(c.min_insync_replicas),
        })
    }

    /// This configuration as 0.8.2 per-topic properties (every key of [`TOPIC_CONFIG_NAMES`]).
    pub fn to_topic_properties(&self) -> Properties {
        let mut p = Properties::new();
        p.set("segment.bytes", self.segment_bytes.to_string());
        p.set("segment.ms", self.segment_ms.to_string());
        p.set("segment.jitter.ms", self.segment_jitter_ms.to_string());
        p.set("segment.index.bytes", self.max_index_size.to_string());
        p.set("flush.messages", self.flush_interval_messages.to_string());
        p.set("flush.ms", self.flush_ms.to_string());
        p.set("retention.bytes", self.retention_bytes.to_string());
        p.set("retention.ms", self.retention_ms.to_string());
        p.set("max.message.bytes", self.max_message_size.to_string());
        p.set("index.interval.bytes", self.index_interval_bytes.to_string());
        p.set("delete.retention.ms", self.delete_retention_ms.to_string());
        p.set("file.delete.delay.ms", self.file_delete_delay_ms.to_string());
        p.set("min.cleanable.dirty.ratio", self.min_cleanable_ratio.to_string());
        p.set("cleanup.policy", self.cleanup_policy.name());
        p.set("unclean.leader.election.enable", self.unclean_leader_election_enable.to_string());
        p.set("min.insync.replicas", self.min_insync_replicas.to_string());
        p
    }

    /// The index size actually used: rounded down to a whole number of 8-byte entries
    /// (0.8.2 `OffsetIndex` `roundToExactMultiple(maxIndexSize, 8)`).
    pub fn max_index_size_rounded(&self) -> usize {
        self.max_index_size / 8 * 8
    }

    pub fn compact(&self) -> bool {
        self.cleanup_policy == CleanupPolicy::Compact
    }
}

/// 0.8.2 `LogConfig.validateNames`: every key must be a topic-level configuration.
pub fn validate_topic_config_names(props: &Properties) -> Result<(), LogConfigError> {
    for (k, _) in props.iter() {
        if !TOPIC_CONFIG_NAMES.contains(&k) {
            return Err(LogConfigError::UnknownKey(k.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::parse_properties;

    #[test]
    fn topic_overrides_apply_over_broker_defaults() {
        let base = LogConfig::default();
        let p = parse_properties(
            "segment.bytes=2048\nsegment.ms=100\nsegment.jitter.ms=5\nsegment.index.bytes=800\nflush.messages=1\n\
             flush.ms=10\nretention.bytes=99\nretention.ms=1000\nmax.message.bytes=500\nindex.interval.bytes=64\n\
             delete.retention.ms=7\nfile.delete.delay.ms=1\nmin.cleanable.dirty.ratio=0.25\ncleanup.policy=compact\n\
             unclean.leader.election.enable=false\nmin.insync.replicas=3\n",
        );
        let c = base.with_topic_overrides(&p).unwrap();
        assert_eq!(
            c,
            LogConfig {
                segment_bytes: 2048,
                segment_ms: 100,
                segment_jitter_ms: 5,
                max_index_size: 800,
                index_interval_bytes: 64,
                flush_interval_messages: 1,
                flush_ms: 10,
                retention_bytes: 99,
                retention_ms: 1000,
                max_message_size: 500,
                file_delete_delay_ms: 1,
                delete_retention_ms: 7,
                min_cleanable_ratio: 0.25,
                cleanup_policy: CleanupPolicy::Compact,
                unclean_leader_election_enable: false,
                min_insync_replicas: 3,
            }
        );
        // Round trip through the topic properties.
        assert_eq!(base.with_topic_overrides(&c.to_topic_properties()).unwrap(), c);
        // No overrides: unchanged.
        assert_eq!(base.with_topic_overrides(&Properties::new()).unwrap(), base);
    }

    #[test]
    fn unknown_or_bad_topic_keys_are_errors_naming_them() {
        let base = LogConfig::default();
        let err = base.with_topic_overrides(&parse_properties("retention.hours=1\n")).unwrap_err();
        assert!(matches!(err, LogConfigError::UnknownKey(ref k) if k == "retention.hours"));
        assert!(err.to_string().contains("retention.hours"));
        let err = base.with_topic_overrides(&parse_properties("min.insync.replicas=0\n")).unwrap_err();
        assert!(err.to_string().contains("min.insync.replicas"), "{}", err);
        let err = base.with_topic_overrides(&parse_properties("segment.bytes=big\n")).unwrap_err();
        assert!(err.to_string().contains("segment.bytes"), "{}", err);
        assert_eq!(TOPIC_CONFIG_NAMES.len(), 16);
    }
}
