//! Per-log configuration (0.8.2 `kafka.log.LogConfig`), built from the broker's
//! `server.properties` keys (0.8.2 `KafkaConfig` + `KafkaServer.createLogManager`) and then
//! overridden per topic with the 0.8.2 topic-level keys (`/config/topics/<topic>`).

use crate::common::{Properties, PropertiesError};
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

    fn parse(key: &str, value: &str) -> Result<CleanupPolicy, PropertiesError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "delete" => Ok(CleanupPolicy::Delete),
            "compact" => Ok(CleanupPolicy::Compact),
            _ => Err(PropertiesError::BadValue(key.into(), value.into(), "expected delete or compact".into())),
        }
    }
}

/// The 0.8.2 per-topic configuration keys (`LogConfig.ConfigNames`), in 0.8.2's order.
pub const TOPIC_CONFIG_NAMES: &[&str] = &[
    "segment.bytes",
    "segment.ms",
    "segment.jitter.ms",
    "segment.index.bytes",
    "flush.messages",
    "flush.ms",
    "retention.bytes",
    "retention.ms",
    "max.message.bytes",
    "index.interval.bytes",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "min.cleanable.dirty.ratio",
    "cleanup.policy",
    "unclean.leader.election.enable",
    "min.insync.replicas",
];

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

const MS_PER_MINUTE: i64 = 60 * 1000;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;

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

fn bad(key: &str, value: &str, what: &str) -> PropertiesError {
    PropertiesError::BadValue(key.into(), value.into(), what.into())
}

/// A typed value in an inclusive range (0.8.2 `VerifiableProperties.get*InRange`).
fn in_range<T>(props: &Properties, key: &str, min: T, max: T) -> Result<Option<T>, PropertiesError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match props.parse::<T>(key)? {
        None => Ok(None),
        Some(v) if v < min || v > max => {
            Err(bad(key, props.get(key).unwrap_or(""), &format!("expected a value in [{}, {}]", min, max)))
        }
        Some(v) => Ok(Some(v)),
    }
}

/// A retention time: at least 1, or -1 for unlimited.
fn retention_value(props: &Properties, key: &str) -> Result<Option<i64>, PropertiesError> {
    match props.parse::<i64>(key)? {
        None => Ok(None),
        Some(v) if v == -1 || (1..=i32::MAX as i64).contains(&v) => Ok(Some(v)),
        Some(_) => Err(bad(key, props.get(key).unwrap_or(""), "expected -1 (unlimited) or a value in [1, 2147483647]")),
    }
}

fn ratio(props: &Properties, key: &str) -> Result<Option<f64>, PropertiesError> {
    match props.parse::<f64>(key)? {
        None => Ok(None),
        Some(v) if (0.0..=1.0).contains(&v) => Ok(Some(v)),
        Some(_) => Err(bad(key, props.get(key).unwrap_or(""), "expected a ratio in [0, 1]")),
    }
}

fn scaled(v: i64, unit: i64) -> i64 {
    if v < 0 {
        v
    } else {
        v.saturating_mul(unit)
    }
}

impl LogConfig {
    /// The default log configuration from broker properties (0.8.2 `KafkaConfig` keys,
    /// ranges and precedence: `log.roll.ms` over `log.roll.hours`, `log.retention.ms` over
    /// `.minutes` over `.hours`, `log.flush.interval.ms` defaulting to
    /// `log.flush.scheduler.interval.ms`). Errors name the offending key.
    pub fn from_broker_properties(props: &Properties) -> Result<LogConfig, PropertiesError> {
        let d = LogConfig::default();
        let int_max = i32::MAX as i64;

        let segment_ms = match in_range::<i64>(props, "log.roll.ms", 1, int_max)? {
            Some(ms) => ms,
            None => in_range::<i64>(props, "log.roll.hours", 1, int_max)?.map_or(d.segment_ms, |h| h * MS_PER_HOUR),
        };
        let segment_jitter_ms = match in_range::<i64>(props, "log.roll.jitter.ms", 0, int_max)? {
            Some(ms) => ms,
            None => in_range::<i64>(props, "log.roll.jitter.hours", 0, int_max)?.map_or(0, |h| h * MS_PER_HOUR),
        };
        let retention_ms = match retention_value(props, "log.retention.ms")? {
            Some(ms) => ms,
            None => match retention_value(props, "log.retention.minutes")? {
                Some(m) => scaled(m, MS_PER_MINUTE),
                None => retention_value(props, "log.retention.hours")?.map_or(d.retention_ms, |h| scaled(h, MS_PER_HOUR)),
            },
        };
        let flush_scheduler = props.parse_or::<i64>("log.flush.scheduler.interval.ms", i64::MAX)?;
        let cleanup_policy = match props.get("log.cleanup.policy") {
            Some(v) => CleanupPolicy::parse("log.cleanup.policy", v)?,
            None => d.cleanup_policy,
        };
        Ok(LogConfig {
            segment_bytes: in_range::<usize>(props, "log.segment.bytes", 14, i32::MAX as usize)?.unwrap_or(d.segment_bytes),
            segment_ms,
            segment_jitter_ms,
            max_index_size: in_range::<usize>(props, "log.index.size.max.bytes", 4, i32::MAX as usize)?
                .unwrap_or(d.max_index_size),
            index_interval_bytes: in_range::<usize>(props, "log.index.interval.bytes", 0, i32::MAX as usize)?
                .unwrap_or(d.index_interval_bytes),
            flush_interval_messages: in_range::<i64>(props, "log.flush.interval.messages", 1, i64::MAX)?
                .unwrap_or(d.flush_interval_messages),
            flush_ms: props.parse_or::<i64>("log.flush.interval.ms", flush_scheduler)?,
            retention_bytes: props.parse_or::<i64>("log.retention.bytes", d.retention_bytes)?,
            retention_ms,
            max_message_size: in_range::<usize>(props, "message.max.bytes", 0, i32::MAX as usize)?
                .unwrap_or(d.max_message_size),
            file_delete_delay_ms: in_range::<i64>(props, "log.segment.delete.delay.ms", 0, i64::MAX)?
                .unwrap_or(d.file_delete_delay_ms),
            delete_retention_ms: props.parse_or::<i64>("log.cleaner.delete.retention.ms", d.delete_retention_ms)?,
            min_cleanable_ratio: ratio(props, "log.cleaner.min.cleanable.ratio")?.unwrap_or(d.min_cleanable_ratio),
            cleanup_policy,
            unclean_leader_election_enable: props
                .parse_bool("unclean.leader.election.enable")?
                .unwrap_or(d.unclean_leader_election_enable),
            min_insync_replicas: in_range::<i32>(props, "min.insync.replicas", 1, i32::MAX)?
                .unwrap_or(d.min_insync_replicas),
        })
    }

    /// This configuration with a topic's overrides applied (0.8.2 `LogConfig.fromProps(defaults,
    /// overrides)` after `validateNames` and `validateMinInSyncReplicas`). An unknown key is
    /// an error naming it.
    pub fn with_topic_overrides(&self, overrides: &Properties) -> Result<LogConfig, LogConfigError> {
        validate_topic_config_names(overrides)?;
        let p = overrides;
        let mut c = self.clone();
        let int_max = i32::MAX as usize;
        if let Some(v) = in_range::<usize>(p, "segment.bytes", 14, int_max)? {
            c.segment_bytes = v;
        }
        if let Some(v) = in_range::<i64>(p, "segment.ms", 1, i64::MAX)? {
            c.segment_ms = v;
        }
        if let Some(v) = in_range::<i64>(p, "segment.jitter.ms", 0, i64::MAX)? {
            c.segment_jitter_ms = v;
        }
        if let Some(v) = in_range::<usize>(p, "segment.index.bytes", 8, int_max)? {
            c.max_index_size = v;
        }
        if let Some(v) = in_range::<i64>(p, "flush.messages", 0, i64::MAX)? {
            c.flush_interval_messages = v;
        }
        if let Some(v) = in_range::<i64>(p, "flush.ms", 0, i64::MAX)? {
            c.flush_ms = v;
        }
        if let Some(v) = p.parse::<i64>("retention.bytes")? {
            c.retention_bytes = v;
        }
        if let Some(v) = p.parse::<i64>("retention.ms")? {
            c.retention_ms = v;
        }
        if let Some(v) = in_range::<usize>(p, "max.message.bytes", 0, int_max)? {
            c.max_message_size = v;
        }
        if let Some(v) = in_range::<usize>(p, "index.interval.bytes", 0, int_max)? {
            c.index_interval_bytes = v;
        }
        if let Some(v) = p.parse::<i64>("delete.retention.ms")? {
            c.delete_retention_ms = v;
        }
        if let Some(v) = in_range::<i64>(p, "file.delete.delay.ms", 0, i64::MAX)? {
            c.file_delete_delay_ms = v;
        }
        if let Some(v) = ratio(p, "min.cleanable.dirty.ratio")? {
            c.min_cleanable_ratio = v;
        }
        if let Some(v) = p.get("cleanup.policy") {
            c.cleanup_policy = CleanupPolicy::parse("cleanup.policy", v)?;
        }
        if let Some(v) = p.parse_bool("unclean.leader.election.enable")? {
            c.unclean_leader_election_enable = v;
        }
        if let Some(v) = in_range::<i32>(p, "min.insync.replicas", 1, i32::MAX)? {
            c.min_insync_replicas = v;
        }
        Ok(c)
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
    fn empty_broker_properties_give_082_defaults() {
        let c = LogConfig::from_broker_properties(&Properties::new()).unwrap();
        assert_eq!(c, LogConfig::default());
        assert_eq!(c.segment_bytes, 1073741824);
        assert_eq!(c.segment_ms, 168 * 3600 * 1000);
        assert_eq!(c.max_index_size, 10485760);
        assert_eq!(c.index_interval_bytes, 4096);
        assert_eq!(c.flush_interval_messages, i64::MAX);
        assert_eq!(c.flush_ms, i64::MAX);
        assert_eq!(c.retention_ms, 168 * 3600 * 1000);
        assert_eq!(c.retention_bytes, -1);
        assert_eq!(c.max_message_size, 1000012);
        assert_eq!(c.file_delete_delay_ms, 60000);
        assert_eq!(c.cleanup_policy, CleanupPolicy::Delete);
        assert!(c.unclean_leader_election_enable);
        assert_eq!(c.min_insync_replicas, 1);
    }

    #[test]
    fn broker_keys_and_their_precedence() {
        let p = parse_properties(
            "log.segment.bytes=1024\nlog.roll.hours=2\nlog.retention.hours=5\nlog.retention.minutes=7\n\
             log.index.size.max.bytes=4100\nlog.index.interval.bytes=10\nlog.flush.interval.messages=3\n\
             log.flush.scheduler.interval.ms=900\nlog.retention.bytes=5000\nmessage.max.bytes=2000\n\
             log.segment.delete.delay.ms=0\nlog.cleanup.policy=compact\nunclean.leader.election.enable=false\n\
             min.insync.replicas=2\nlog.roll.jitter.hours=1\n",
        );
        let c = LogConfig::from_broker_properties(&p).unwrap();
        assert_eq!(c.segment_bytes, 1024);
        assert_eq!(c.segment_ms, 2 * 3600 * 1000);
        assert_eq!(c.segment_jitter_ms, 3600 * 1000);
        assert_eq!(c.retention_ms, 7 * 60 * 1000, "minutes override hours");
        assert_eq!(c.max_index_size, 4100);
        assert_eq!(c.max_index_size_rounded(), 4096);
        assert_eq!(c.index_interval_bytes, 10);
        assert_eq!(c.flush_interval_messages, 3);
        assert_eq!(c.flush_ms, 900, "flush.interval.ms defaults to the scheduler interval");
        assert_eq!(c.retention_bytes, 5000);
        assert_eq!(c.max_message_size, 2000);
        assert_eq!(c.file_delete_delay_ms, 0);
        assert_eq!(c.cleanup_policy, CleanupPolicy::Compact);
        assert!(!c.unclean_leader_election_enable);
        assert_eq!(c.min_insync_replicas, 2);

        let p = parse_properties("log.roll.hours=2\nlog.roll.ms=500\nlog.retention.minutes=7\nlog.retention.ms=99\nlog.flush.interval.ms=5\n");
        let c = LogConfig::from_broker_properties(&p).unwrap();
        assert_eq!(c.segment_ms, 500);
        assert_eq!(c.retention_ms, 99);
        assert_eq!(c.flush_ms, 5);

        let c = LogConfig::from_broker_properties(&parse_properties("log.retention.hours=-1\n")).unwrap();
        assert_eq!(c.retention_ms, -1);
    }

    #[test]
    fn bad_broker_values_name_the_key() {
        for (text, key) in [
            ("log.segment.bytes=abc\n", "log.segment.bytes"),
            ("log.segment.bytes=13\n", "log.segment.bytes"),
            ("log.roll.hours=0\n", "log.roll.hours"),
            ("log.retention.hours=0\n", "log.retention.hours"),
            ("log.cleanup.policy=shred\n", "log.cleanup.policy"),
            ("min.insync.replicas=0\n", "min.insync.replicas"),
            ("log.flush.interval.messages=0\n", "log.flush.interval.messages"),
            ("unclean.leader.election.enable=yes\n", "unclean.leader.election.enable"),
        ] {
            let err = LogConfig::from_broker_properties(&parse_properties(text)).unwrap_err().to_string();
            assert!(err.contains(key), "{} -> {}", text, err);
        }
    }

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
