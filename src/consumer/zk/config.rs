//! `ConsumerConfig`: the 0.8.2 high-level consumer keys and defaults (0.8.2
//! `kafka.consumer.ConsumerConfig` + `ZKConfig`). A bad value is an error naming
//! the key; an unknown key is logged and ignored (0.8's `VerifiableProperties.verify`).

use super::error::ConsumerError;
use crate::common::config_def::{config_struct, word_config_value, KeyError};
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

/// Every key 0.8.2's consumer reads (others are warned about): the names of its key table.
pub const KNOWN_KEYS: &[&str] = ConsumerConfig::KEYS;

/// Bounds of our own (0.8.2 has none): a queue of more chunks than this is a typo, and
/// each chunk may hold `fetch.message.max.bytes` per partition.
pub const MAX_QUEUED_CHUNKS: i32 = 10_000;

/// The 0.8.2 sentence for a bad value of an enumerated key (kept verbatim: scripts grep it).
fn wrong_value(value: &str, key: &str, valid: &str) -> String {
    format!("Wrong value {} of {} in consumer config; Valid values are {}", value, key, valid)
}

word_config_value!(OffsetsStorage, "string", any case, |raw| wrong_value(raw, "offsets.storage", "'zookeeper' and 'kafka'"), {
    OffsetsStorage::Zookeeper => "zookeeper",
    OffsetsStorage::Kafka => "kafka",
});

word_config_value!(
    AutoOffsetReset,
    "string",
    |raw| format!("Wrong value {} of auto.offset.reset in ConsumerConfig; Valid values are smallest and largest", raw),
    { AutoOffsetReset::Largest => "largest", AutoOffsetReset::Smallest => "smallest" }
);

// 0.8.2 silently used range for anything but "roundrobin"; a typo here would change the
// group's split without a word, so it is refused.
word_config_value!(AssignmentStrategy, "string", |raw| wrong_value(raw, "partition.assignment.strategy", "'range' and 'roundrobin'"), {
    AssignmentStrategy::Range => "range",
    AssignmentStrategy::RoundRobin => "roundrobin",
});

const AT_LEAST_1: Option<(u64, u64)> = Some((1, u64::MAX));
const NON_NEGATIVE_I32: Option<(i32, i32)> = Some((0, i32::MAX));
const POSITIVE_I32: Option<(i32, i32)> = Some((1, i32::MAX));

config_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    /// The 0.8.2 high-level consumer's configuration, one line per key.
    pub struct ConsumerConfig {
        "group.id" => group_id: String = None, None, read if true, "The consumer group this process belongs to (required).";
        /// Generated (`<host>-<ms>-<hex8>`) when absent.
        "consumer.id" => consumer_id: Option<String> = None, None, read if true, "This consumer's id in the group (default: generated).";
        "zookeeper.connect" => zookeeper_connect: String = None, None, read if true, "ZooKeeper connection string: host:port pairs, comma-separated, optionally followed by a /chroot path (required).";
        "zookeeper.session.timeout.ms" => zookeeper_session_timeout_ms: u64 = Some(6000), AT_LEAST_1, read if true, "ZooKeeper session timeout.";
        "zookeeper.connection.timeout.ms" => zookeeper_connection_timeout_ms: u64 = Some(zookeeper_session_timeout_ms), AT_LEAST_1, read if true, "The max time the client waits to establish a connection to ZooKeeper (default: the session timeout).";
        "zookeeper.sync.time.ms" => zookeeper_sync_time_ms: u64 = Some(2000), None, read if true, "How far a ZooKeeper follower can be behind a ZooKeeper leader.";
        // 0.8.2 meant to require socket.timeout.ms >= fetch.wait.max.ms, but its `require`
        // ran before the field was initialised and never failed; such configs worked, so
        // they are accepted (a fetch's own timeout is socket.timeout.ms + fetch.wait.max.ms).
        "socket.timeout.ms" => socket_timeout_ms: u64 = Some(30_000), AT_LEAST_1, read if true, "The socket timeout for network requests.";
        /// Accepted for compatibility; the OS default buffer is used.
        "socket.receive.buffer.bytes" => socket_receive_buffer_bytes: i32 = Some(64 * 1024), POSITIVE_I32, read if true, "The socket receive buffer for network requests.";
        "fetch.message.max.bytes" => fetch_message_max_bytes: i32 = Some(1024 * 1024), POSITIVE_I32, read if true, "The number of bytes of messages to attempt to fetch for each partition.";
        /// Accepted for compatibility: kafka08 runs one fetcher task per leader broker.
        "num.consumer.fetchers" => num_consumer_fetchers: i32 = Some(1), POSITIVE_I32, read if true, "The number of fetcher threads.";
        "auto.commit.enable" => auto_commit_enable: bool = Some(true), None, read if true, "Periodically commit the offsets of consumed messages.";
        "auto.commit.interval.ms" => auto_commit_interval_ms: u64 = Some(60_000), AT_LEAST_1, read if true, "How often offsets are committed.";
        "queued.max.message.chunks" => queued_max_message_chunks: usize = Some(2), Some((1, MAX_QUEUED_CHUNKS as usize)), read if true, "The maximum number of message chunks buffered for consumption.";
        "rebalance.max.retries" => rebalance_max_retries: u32 = Some(4), Some((1, u32::MAX)), read if true, "How many times a rebalance is attempted before giving up.";
        "fetch.min.bytes" => fetch_min_bytes: i32 = Some(1), NON_NEGATIVE_I32, read if true, "The minimum amount of data the server returns for a fetch request.";
        "fetch.wait.max.ms" => fetch_wait_max_ms: i32 = Some(100), NON_NEGATIVE_I32, read if true, "The maximum time the server blocks before answering a fetch without fetch.min.bytes.";
        "rebalance.backoff.ms" => rebalance_backoff_ms: u64 = Some(zookeeper_sync_time_ms), None, read if true, "The backoff between rebalance retries (default: zookeeper.sync.time.ms).";
        "refresh.leader.backoff.ms" => refresh_leader_backoff_ms: u64 = Some(200), None, read if true, "The backoff before finding a new leader for a partition that lost its own.";
        "offsets.channel.backoff.ms" => offsets_channel_backoff_ms: u64 = Some(1000), None, read if true, "The backoff before reconnecting the offsets channel or retrying a failed offset fetch or commit.";
        "offsets.channel.socket.timeout.ms" => offsets_channel_socket_timeout_ms: u64 = Some(10_000), AT_LEAST_1, read if true, "The socket timeout for offset fetch and commit responses.";
        "offsets.commit.max.retries" => offsets_commit_max_retries: u32 = Some(5), None, read if true, "How many times a failed offset commit is retried (on shutdown only the final commit).";
        "offsets.storage" => offsets_storage: OffsetsStorage = Some(OffsetsStorage::Zookeeper), None, read if true, "Where offsets are committed: zookeeper or kafka.";
        "dual.commit.enabled" => dual_commit_enabled: bool = Some(offsets_storage == OffsetsStorage::Kafka), None, read if true, "With kafka storage, also commit offsets to ZooKeeper (for migration).";
        "auto.offset.reset" => auto_offset_reset: AutoOffsetReset = Some(AutoOffsetReset::Largest), None, read if true, "Where to start without a valid committed offset: smallest or largest.";
        /// Negative: wait forever.
        "consumer.timeout.ms" => consumer_timeout_ms: i64 = Some(-1), None, read if true, "Throw a timeout to the consumer when no message arrives for this long (-1: never).";
        "client.id" => client_id: String = Some(group_id.clone()), None, read if true, "A name for this client, sent with every request (default: group.id).";
        "exclude.internal.topics" => exclude_internal_topics: bool = Some(true), None, read if true, "Keep internal topics (such as offsets) out of wildcard subscriptions.";
        "partition.assignment.strategy" => partition_assignment_strategy: AssignmentStrategy = Some(AssignmentStrategy::Range), None, read if true, "How partitions are split among a group's streams: range or roundrobin.";
    }
    extra {}
}

fn bad(key: &str, value: &str, why: &str) -> ConsumerError {
    ConsumerError::Config(format!("invalid value {:?} for configuration {}: {}", value, key, why))
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
        let c = ConsumerConfig::read_keys(props).map_err(|e| match e {
            KeyError::Missing { key } => ConsumerError::Config(format!("Missing required property '{}'", key)),
            // The enumerated keys answer with 0.8.2's own sentence, which names the key.
            KeyError::Invalid { key, reason, .. } if reason.starts_with("Wrong value") => {
                debug_assert!(reason.contains(&key));
                ConsumerError::Config(reason)
            }
            KeyError::Invalid { key, value, reason } => bad(&key, &value, &reason),
        })?;
        validate_chars("group.id", &c.group_id)?;
        if c.zookeeper_connect.is_empty() {
            return Err(bad("zookeeper.connect", "", "must name at least one host:port"));
        }
        if let Some(id) = &c.consumer_id {
            if id.is_empty() || id.contains('/') {
                return Err(bad("consumer.id", id, "must be non-empty and contain no '/'"));
            }
        }
        validate_chars("client.id", &c.client_id)?;
        Ok(c)
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
