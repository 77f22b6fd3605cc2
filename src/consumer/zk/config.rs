//! `ConsumerConfig`: the 0.8.2 high-level consumer keys and defaults (0.8.2
//! `kafka.consumer.ConsumerConfig` + `ZKConfig`). A bad value is an error naming
//! the key; an unknown key is logged and ignored (0.8's `VerifiableProperties.verify`).

use super::error::ConsumerError;
use crate::common::Properties;
use std::time::Duration;

/// Where a fetch starts when there is no valid committed offset (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOffsetReset {
    Smallest,
    Largest,
}

/// `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentStrategy {
    Range,
    RoundRobin,
}

/// `offsets.storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetsStorage {
    Zookeeper,
    Kafka,
}

/// Every key 0.8.2's consumer reads (others are warned about).
pub const KNOWN_KEYS: &[&str] = &[
    "group.id",
    "consumer.id",
    "zookeeper.connect",
    "zookeeper.session.timeout.ms",
    "zookeeper.connection.timeout.ms",
    "zookeeper.sync.time.ms",
    "socket.timeout.ms",
    "socket.receive.buffer.bytes",
    "fetch.message.max.bytes",
    "num.consumer.fetchers",
    "auto.commit.enable",
    "auto.commit.interval.ms",
    "queued.max.message.chunks",
    "rebalance.max.retries",
    "fetch.min.bytes",
    "fetch.wait.max.ms",
    "rebalance.backoff.ms",
    "refresh.leader.backoff.ms",
    "offsets.channel.backoff.ms",
    "offsets.channel.socket.timeout.ms",
    "offsets.commit.max.retries",
    "offsets.storage",
    "dual.commit.enabled",
    "auto.offset.reset",
    "consumer.timeout.ms",
    "client.id",
    "exclude.internal.topics",
    "partition.assignment.strategy",
];

/// Bounds of our own (0.8.2 has none): a queue of more chunks than this is a typo, and
/// each chunk may hold `fetch.message.max.bytes` per partition.
pub const MAX_QUEUED_CHUNKS: i32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    pub group_id: String,
    /// `consumer.id`; generated (`<host>-<ms>-<hex8>`) when absent.
    pub consumer_id: Option<String>,
    pub zookeeper_connect: String,
    pub zookeeper_session_timeout_ms: u64,
    pub zookeeper_connection_timeout_ms: u64,
    pub zookeeper_sync_time_ms: u64,
    pub socket_timeout_ms: u64,
    /// Accepted for compatibility; the OS default buffer is used.
    pub socket_receive_buffer_bytes: i32,
    pub fetch_message_max_bytes: i32,
    /// Accepted for compatibility: kafka08 runs one fetcher task per leader broker.
    pub num_consumer_fetchers: i32,
    pub auto_commit_enable: bool,
    pub auto_commit_interval_ms: u64,
    pub queued_max_message_chunks: usize,
    pub rebalance_max_retries: u32,
    pub fetch_min_bytes: i32,
    pub fetch_wait_max_ms: i32,
    pub rebalance_backoff_ms: u64,
    pub refresh_leader_backoff_ms: u64,
    pub offsets_channel_backoff_ms: u64,
    pub offsets_channel_socket_timeout_ms: u64,
    pub offsets_commit_max_retries: u32,
    pub offsets_storage: OffsetsStorage,
    pub dual_commit_enabled: bool,
    pub auto_offset_reset: AutoOffsetReset,
    /// `consumer.timeout.ms`; negative = wait forever.
    pub consumer_timeout_ms: i64,
    pub client_id: String,
    pub exclude_internal_topics: bool,
    pub partition_assignment_strategy: AssignmentStrategy,
}

fn bad(key: &str, value: &str, why: &str) -> ConsumerError {
    ConsumerError::Config(format!("invalid value {:?} for configuration {}: {}", value, key, why))
}

fn int<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    props: &Properties,
    key: &str,
    default: T,
    min: T,
) -> Result<T, ConsumerError> {
    let v = props.parse_or(key, default).map_err(|e| ConsumerError::Config(e.to_string()))?;
    if v < min {
        return Err(bad(key, &v.to_string(), &format!("must be at least {}", min)));
    }
    Ok(v)
}

fn boolean(props: &Properties, key: &str, default: bool) -> Result<bool, ConsumerError> {
    Ok(props.parse_bool(key).map_err(|e| ConsumerError::Config(e.to_string()))?.unwrap_or(default))
}

/// 0.8.2 `Config.validateChars`: ASCII alphanumerics, '.', '_' and '-' (empty allowed).
fn validate_chars(key: &str, value: &str) -> Result<(), ConsumerError> {
    if value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
        Ok(())
    } else {
        Err(ConsumerError::Config(format!(
            "{} {} is illegal, contains a character other than ASCII alphanumerics, '.', '_' and '-'",
            key, value
        )))
    }
}

impl ConsumerConfig {
    /// Read a consumer configuration from 0.8.2 keys.
    pub fn from_properties(props: &Properties) -> Result<ConsumerConfig, ConsumerError> {
        for (k, _) in props.iter() {
            if !KNOWN_KEYS.contains(&k) {
                log::warn!("Property {} is not valid", k);
            }
        }
        let required = |key: &str| -> Result<String, ConsumerError> {
            props
                .get(key)
                .map(|v| v.trim().to_string())
                .ok_or_else(|| ConsumerError::Config(format!("Missing required property '{}'", key)))
        };
        let group_id = required("group.id")?;
        validate_chars("group.id", &group_id)?;
        let zookeeper_connect = required("zookeeper.connect")?;
        if zookeeper_connect.is_empty() {
            return Err(bad("zookeeper.connect", "", "must name at least one host:port"));
        }
        let consumer_id = props.get("consumer.id").map(|s| s.trim().to_string());
        if let Some(id) = &consumer_id {
            if id.is_empty() || id.contains('/') {
                return Err(bad("consumer.id", id, "must be non-empty and contain no '/'"));
            }
        }
        let session: u64 = int(props, "zookeeper.session.timeout.ms", 6000, 1)?;
        let connection: u64 = int(props, "zookeeper.connection.timeout.ms", session, 1)?;
        let sync: u64 = int(props, "zookeeper.sync.time.ms", 2000, 0)?;
        let socket_timeout_ms: u64 = int(props, "socket.timeout.ms", 30_000, 1)?;
        // 0.8.2 meant to require socket.timeout.ms >= fetch.wait.max.ms, but its `require`
        // ran before the field was initialised and never failed; such configs worked, so
        // they are accepted (a fetch's own timeout is socket.timeout.ms + fetch.wait.max.ms).
        let fetch_wait_max_ms: i32 = int(props, "fetch.wait.max.ms", 100, 0)?;
        let queued: i32 = int(props, "queued.max.message.chunks", 2, 1)?;
        if queued > MAX_QUEUED_CHUNKS {
            return Err(bad(
                "queued.max.message.chunks",
                &queued.to_string(),
                &format!("must be at most {}", MAX_QUEUED_CHUNKS),
            ));
        }
        let offsets_storage = match props.get("offsets.storage").map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("zookeeper") => OffsetsStorage::Zookeeper,
            Some("kafka") => OffsetsStorage::Kafka,
            Some(other) => {
                return Err(ConsumerError::Config(format!(
                    "Wrong value {} of offsets.storage in consumer config; Valid values are 'zookeeper' and 'kafka'",
                    other
                )))
            }
        };
        let auto_offset_reset = match props.get("auto.offset.reset").map(str::trim) {
            None | Some("largest") => AutoOffsetReset::Largest,
            Some("smallest") => AutoOffsetReset::Smallest,
            Some(other) => {
                return Err(ConsumerError::Config(format!(
                    "Wrong value {} of auto.offset.reset in ConsumerConfig; Valid values are smallest and largest",
                    other
                )))
            }
        };
        // 0.8.2 silently used range for anything but "roundrobin"; a typo here would
        // change the group's split without a word, so it is refused.
        let partition_assignment_strategy = match props.get("partition.assignment.strategy").map(str::trim) {
            None | Some("range") => AssignmentStrategy::Range,
            Some("roundrobin") => AssignmentStrategy::RoundRobin,
            Some(other) => {
                return Err(ConsumerError::Config(format!(
                    "Wrong value {} of partition.assignment.strategy in consumer config; Valid values are 'range' and 'roundrobin'",
                    other
                )))
            }
        };
        let client_id = props.get("client.id").map(|s| s.trim().to_string()).unwrap_or_else(|| group_id.clone());
        validate_chars("client.id", &client_id)?;
        Ok(ConsumerConfig {
            group_id,
            consumer_id,
            zookeeper_connect,
            zookeeper_session_timeout_ms: session,
            zookeeper_connection_timeout_ms: connection,
            zookeeper_sync_time_ms: sync,
            socket_timeout_ms,
            socket_receive_buffer_bytes: int(props, "socket.receive.buffer.bytes", 64 * 1024, 1)?,
            fetch_message_max_bytes: int(props, "fetch.message.max.bytes", 1024 * 1024, 1)?,
            num_consumer_fetchers: int(props, "num.consumer.fetchers", 1, 1)?,
            auto_commit_enable: boolean(props, "auto.commit.enable", true)?,
            auto_commit_interval_ms: int(props, "auto.commit.interval.ms", 60_000, 1)?,
            queued_max_message_chunks: queued as usize,
            rebalance_max_retries: int(props, "rebalance.max.retries", 4, 1)?,
            fetch_min_bytes: int(props, "fetch.min.bytes", 1, 0)?,
            fetch_wait_max_ms,
            rebalance_backoff_ms: int(props, "rebalance.backoff.ms", sync, 0)?,
            refresh_leader_backoff_ms: int(props, "refresh.leader.backoff.ms", 200, 0)?,
            offsets_channel_backoff_ms: int(props, "offsets.channel.backoff.ms", 1000, 0)?,
            offsets_channel_socket_timeout_ms: int(props, "offsets.channel.socket.timeout.ms", 10_000, 1)?,
            offsets_commit_max_retries: int(props, "offsets.commit.max.retries", 5, 0)?,
            offsets_storage,
            dual_commit_enabled: boolean(props, "dual.commit.enabled", offsets_storage == OffsetsStorage::Kafka)?,
            auto_offset_reset,
            consumer_timeout_ms: int(props, "consumer.timeout.ms", -1i64, i64::MIN)?,
            client_id,
            exclude_internal_topics: boolean(props, "exclude.internal.topics", true)?,
            partition_assignment_strategy,
        })
    }

    /// Convenience for `from_properties` over `key=value` pairs.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<ConsumerConfig, ConsumerError> {
        let mut p = Properties::new();
        for (k, v) in pairs {
            p.set(*k, *v);
        }
        ConsumerConfig::from_properties(&p)
    }

    /// `consumer.timeout.ms` as a duration (`None` = block forever).
    pub fn consumer_timeout(&self) -> Option<Duration> {
        (self.consumer_timeout_ms >= 0).then(|| Duration::from_millis(self.consumer_timeout_ms as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("group.id", "g"), ("zookeeper.connect", "127.0.0.1:2181")]
    }

    #[test]
    fn defaults_are_082s() {
        let c = ConsumerConfig::from_pairs(&base()).unwrap();
        assert_eq!(c.zookeeper_session_timeout_ms, 6000);
        assert_eq!(c.zookeeper_connection_timeout_ms, 6000);
        assert!(c.auto_commit_enable);
        assert_eq!(c.auto_commit_interval_ms, 60_000);
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Largest);
        assert_eq!(c.consumer_timeout_ms, -1);
        assert_eq!(c.consumer_timeout(), None);
        assert_eq!(c.fetch_message_max_bytes, 1_048_576);
        assert_eq!((c.fetch_min_bytes, c.fetch_wait_max_ms), (1, 100));
        assert_eq!(c.queued_max_message_chunks, 2);
        assert_eq!((c.rebalance_max_retries, c.rebalance_backoff_ms), (4, 2000));
        assert_eq!(c.refresh_leader_backoff_ms, 200);
        assert_eq!(c.partition_assignment_strategy, AssignmentStrategy::Range);
        assert_eq!(c.offsets_storage, OffsetsStorage::Zookeeper);
        assert!(!c.dual_commit_enabled);
        assert!(c.exclude_internal_topics);
        assert_eq!(c.client_id, "g");
        assert_eq!(c.consumer_id, None);
    }

    #[test]
    fn derived_defaults_follow_their_sources() {
        let mut p = base();
        p.extend([
            ("zookeeper.session.timeout.ms", "4000"),
            ("zookeeper.sync.time.ms", "300"),
            ("offsets.storage", "kafka"),
        ]);
        let c = ConsumerConfig::from_pairs(&p).unwrap();
        assert_eq!(c.zookeeper_connection_timeout_ms, 4000);
        assert_eq!(c.rebalance_backoff_ms, 300);
        assert!(c.dual_commit_enabled, "dual commit defaults on with kafka storage");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&str, &str)] = &[
            ("auto.offset.reset", "earliest"),
            ("offsets.storage", "redis"),
            ("partition.assignment.strategy", "sticky"),
            ("fetch.message.max.bytes", "lots"),
            ("queued.max.message.chunks", "0"),
            ("auto.commit.enable", "yes"),
            ("rebalance.max.retries", "0"),
            ("group.id", "a b"),
            ("client.id", "x/y"),
            ("zookeeper.session.timeout.ms", "-5"),
        ];
        for (k, v) in cases {
            let mut p = base();
            p.retain(|(pk, _)| pk != k);
            p.push((k, v));
            let e = ConsumerConfig::from_pairs(&p).unwrap_err().to_string();
            assert!(e.contains(k), "error for {}={} does not name the key: {}", k, v, e);
        }
        let e = ConsumerConfig::from_pairs(&[("zookeeper.connect", "h:1")]).unwrap_err().to_string();
        assert!(e.contains("group.id"), "{}", e);
        let e = ConsumerConfig::from_pairs(&[("group.id", "g")]).unwrap_err().to_string();
        assert!(e.contains("zookeeper.connect"), "{}", e);
        let mut p = base();
        p.extend([("fetch.wait.max.ms", "5000"), ("socket.timeout.ms", "1000")]);
        assert!(ConsumerConfig::from_pairs(&p).is_ok(), "0.8.2 never enforced socket.timeout.ms >= fetch.wait.max.ms");
    }

    #[test]
    fn consumer_timeout_is_a_duration_when_non_negative() {
        let mut p = base();
        p.push(("consumer.timeout.ms", "250"));
        assert_eq!(ConsumerConfig::from_pairs(&p).unwrap().consumer_timeout(), Some(Duration::from_millis(250)));
    }
}
