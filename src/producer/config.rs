//! `ProducerConfig`: the 0.8.2 producer's `.properties` keys and defaults
//! (`kafka.producer.ProducerConfig`, `SyncProducerConfigShared`, `AsyncProducerConfig`).
//!
//! A value that does not parse, or is out of 0.8.2's range, is a [`ConfigError`] naming the
//! key. Keys this producer does not know are logged and ignored, as 0.8.2's
//! `VerifiableProperties.verify` does.

use crate::common::config_def::{config_struct, parse_csv_list, word_config_value, ConfigValue, KeyError};
use crate::common::Properties;
use crate::message::CompressionCodec;
use std::fmt;
use std::time::Duration;

/// 0.8.2 `kafka.serializer.DefaultEncoder` (bytes as given).
pub const DEFAULT_ENCODER: &str = "kafka.serializer.DefaultEncoder";
/// 0.8.2 `kafka.serializer.StringEncoder` (UTF-8 strings).
pub const STRING_ENCODER: &str = "kafka.serializer.StringEncoder";
/// 0.8.2 `kafka.producer.DefaultPartitioner`.
pub const DEFAULT_PARTITIONER: &str = "kafka.producer.DefaultPartitioner";
/// 0.8.2 `kafka.producer.ByteArrayPartitioner`.
pub const BYTE_ARRAY_PARTITIONER: &str = "kafka.producer.ByteArrayPartitioner";

/// Every key [`ProducerConfig::from_properties`] reads (the names of its key table).
pub const PRODUCER_CONFIG_KEYS: &[&str] = ProducerConfig::KEYS;

/// `producer.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerType {
    /// `send` returns once the messages are acknowledged (or failed after the retries).
    Sync,
    /// `send` queues; a background task sends batches.
    Async,
}

/// How message payloads are handed in. The Rust API takes bytes either way; the choice
/// matters to the partitioner, which hashes string keys as Java's `String.hashCode` so that
/// a keyed message lands where a 0.8.2 Java producer with `StringEncoder` keys puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serializer {
    /// `kafka.serializer.DefaultEncoder`.
    Bytes,
    /// `kafka.serializer.StringEncoder`.
    String,
}

/// `partitioner.class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionerClass {
    /// `kafka.producer.DefaultPartitioner`: `abs(key.hashCode) % partitions`.
    Default,
    /// `kafka.producer.ByteArrayPartitioner`: `abs(Arrays.hashCode(key)) % partitions`.
    ByteArray,
}

/// A configuration value that cannot be used, naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { key: key.to_string(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

word_config_value!(ProducerType, "string", |raw| format!("invalid value {}, valid values are sync/async", raw), {
    ProducerType::Sync => "sync",
    ProducerType::Async => "async",
});

word_config_value!(Serializer, "class", |raw| format!("{} is not supported (use {} or {})", raw, DEFAULT_ENCODER, STRING_ENCODER), {
    Serializer::Bytes => DEFAULT_ENCODER,
    Serializer::String => STRING_ENCODER,
});

word_config_value!(
    PartitionerClass,
    "class",
    |raw| format!("{} is not supported (use {} or {})", raw, DEFAULT_PARTITIONER, BYTE_ARRAY_PARTITIONER),
    { PartitionerClass::Default => DEFAULT_PARTITIONER, PartitionerClass::ByteArray => BYTE_ARRAY_PARTITIONER }
);

/// `metadata.broker.list`: `host1:port1,host2:port2`.
impl ConfigValue for Vec<(String, u16)> {
    const TYPE: &'static str = "list";
    fn parse_value(raw: &str) -> Result<Self, String> {
        parse_broker_list(raw)
    }
    fn render(&self) -> String {
        self.iter().map(|(h, p)| format!("{}:{}", h, p)).collect::<Vec<_>>().join(",")
    }
}

const INT: Option<(i64, i64)> = Some((i32::MIN as i64, i32::MAX as i64));
const MAX: u64 = i32::MAX as u64;

config_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    /// The 0.8.2 producer configuration, one line per key. Fields are public so that tools
    /// can set them after parsing (as the console producer maps its flags onto properties).
    pub struct ProducerConfig {
        /// Used only for Metadata requests; data goes to the leaders the metadata names.
        "metadata.broker.list" => broker_list: Vec<(String, u16)> = None, None, read if true, "The brokers to bootstrap metadata from: host1:port1,host2:port2 (required).";
        /// 0 none, 1 leader, -1 every in-sync replica.
        "request.required.acks" => required_acks: i16 = Some(0), Some((i16::MIN, i16::MAX)), read if true, "When a produce request counts as complete: 0 never waits, 1 the leader's write, -1 every in-sync replica.";
        /// Also bounds each request on the socket (plus [`SOCKET_TIMEOUT_MARGIN`]).
        "request.timeout.ms" => request_timeout_ms: i32 = Some(10000), Some((1, i32::MAX)), read if true, "The time the broker waits for acks before sending an error to the client.";
        "producer.type" => producer_type: ProducerType = Some(ProducerType::Sync), None, read if true, "sync: send each request at once; async: batch in a background thread.";
        "serializer.class" => serializer: Serializer = Some(Serializer::Bytes), None, read if true, "The encoder of messages: kafka.serializer.DefaultEncoder (bytes) or StringEncoder.";
        "key.serializer.class" => key_serializer: Serializer = Some(serializer), None, read if true, "The encoder of keys (default: serializer.class).";
        "partitioner.class" => partitioner: PartitionerClass = Some(PartitionerClass::Default), None, read if true, "Which partition a keyed message goes to: DefaultPartitioner (key hash) or ByteArrayPartitioner.";
        /// By name (none, gzip, snappy, lz4) or number (0-3).
        "compression.codec" => compression_codec: CompressionCodec = Some(CompressionCodec::None), None, read if true, "The compression codec of produced data: none, gzip or snappy.";
        /// Empty: every topic when a codec is set.
        "compressed.topics" => compressed_topics: Vec<String> = Some(Vec::new()), None, read if true, "The topics to compress (empty: all when a codec is set).";
        "message.send.max.retries" => message_send_max_retries: u32 = Some(3), Some((0, i32::MAX as u32)), read if true, "How many times a failed send is retried (duplicates possible).";
        "retry.backoff.ms" => retry_backoff_ms: u64 = Some(100), Some((0, MAX)), read if true, "The time to wait before refreshing metadata and retrying a failed send.";
        /// Negative: refresh only after failures.
        "topic.metadata.refresh.interval.ms" => topic_metadata_refresh_interval_ms: i64 = Some(600000), INT, read if true, "How often topic metadata is refreshed (negative: only after a failure).";
        /// Async only.
        "queue.buffering.max.ms" => queue_buffering_max_ms: u64 = Some(5000), Some((0, MAX)), read if true, "Async: the maximum time data is buffered before it is sent.";
        /// Async only.
        "queue.buffering.max.messages" => queue_buffering_max_messages: usize = Some(10000), Some((1, i32::MAX as usize)), read if true, "Async: the maximum number of messages queued before the producer blocks or drops.";
        /// -1 blocks while the queue is full, 0 fails at once, > 0 waits that long.
        "queue.enqueue.timeout.ms" => queue_enqueue_timeout_ms: i64 = Some(-1), INT, read if true, "Async: how long to block when the queue is full (-1: forever, 0: drop at once).";
        /// Async only. 0.8.2's new producer's key; its old producer (this one) had one
        /// request at a time, the default here.
        "max.in.flight.requests.per.connection" => max_in_flight: usize = Some(1), Some((1, i32::MAX as usize)), read if true, "Async: how many produce requests may await their answers on one broker connection (a partition waits for its previous request's answer, so retries keep its order).";
        /// Async only.
        "batch.num.messages" => batch_num_messages: usize = Some(200), Some((1, i32::MAX as usize)), read if true, "Async: the number of messages sent in one batch.";
        /// Accepted and range-checked; the socket keeps the system's buffer size (the shared
        /// `BrokerConnection` exposes no socket options).
        "send.buffer.bytes" => send_buffer_bytes: i32 = Some(100 * 1024), Some((1, i32::MAX)), read if true, "The socket write buffer size.";
        "client.id" => client_id: String = Some(String::new()), None, read if true, "A name for this client, sent with every request.";
    }
    extra {}
}

/// Added to `request.timeout.ms` for the client-side socket timeout. 0.8.2 used exactly
/// `request.timeout.ms` for both, so an acks=-1 request answered with RequestTimedOut at the
/// deadline could instead time out on the client and be resent as a duplicate.
pub const SOCKET_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

impl ProducerConfig {
    /// The 0.8.2 defaults with `metadata.broker.list` = `brokers`.
    pub fn new(brokers: &str) -> Result<ProducerConfig, ConfigError> {
        let mut p = Properties::new();
        p.set("metadata.broker.list", brokers);
        ProducerConfig::from_properties(&p)
    }

    /// Read a producer `.properties` (0.8.2 keys and defaults).
    pub fn from_properties(props: &Properties) -> Result<ProducerConfig, ConfigError> {
        for (k, _) in props.iter() {
            if !PRODUCER_CONFIG_KEYS.contains(&k) {
                log::warn!("Property {} is not valid", k);
            }
        }
        let c = ProducerConfig::read_keys(props).map_err(|e| match e {
            KeyError::Missing { key } => ConfigError::new(&key, "missing required property"),
            KeyError::Invalid { key, value, reason } => ConfigError::new(&key, format!("{:?}: {}", value, reason)),
        })?;
        if c.required_acks > 1 {
            log::warn!("request.required.acks={} (wait for N replicas) is deprecated in 0.8.2", c.required_acks);
        }
        if c.batch_num_messages > c.queue_buffering_max_messages {
            return Err(ConfigError::new(
                "batch.num.messages",
                format!(
                    "Batch size = {} can't be larger than queue size = {}",
                    c.batch_num_messages, c.queue_buffering_max_messages
                ),
            ));
        }
        validate_client_id(&c.client_id)?;
        Ok(c)
    }

    /// The codec a batch for `topic` is sent with (0.8.2 `groupMessagesToSet`): the
    /// configured codec for every topic when `compressed.topics` is empty, else only for the
    /// topics it lists.
    pub fn codec_for(&self, topic: &str) -> CompressionCodec {
        if self.compression_codec == CompressionCodec::None
            || self.compressed_topics.is_empty()
            || self.compressed_topics.iter().any(|t| t == topic)
        {
            self.compression_codec
        } else {
            CompressionCodec::None
        }
    }

    /// How long one request may take on the socket.
    pub fn socket_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms as u64) + SOCKET_TIMEOUT_MARGIN
    }
}

/// `host1:port1,host2:port2` (0.8.2 `ClientUtils.parseBrokerList`).
pub fn parse_broker_list(s: &str) -> Result<Vec<(String, u16)>, String> {
    let mut out = Vec::new();
    for entry in parse_csv_list(s) {
        let (host, port) = entry.rsplit_once(':').ok_or_else(|| format!("{:?} is not host:port", entry))?;
        let port: u16 =
            port.parse().ok().filter(|p| *p > 0).ok_or_else(|| format!("{:?} has an invalid port", entry))?;
        if host.is_empty() {
            return Err(format!("{:?} has no host", entry));
        }
        out.push((host.to_string(), port));
    }
    if out.is_empty() {
        return Err("no brokers given".to_string());
    }
    Ok(out)
}


/// 0.8.2 `Config.validateChars("client.id", ...)`.
fn validate_client_id(id: &str) -> Result<(), ConfigError> {
    if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
        Ok(())
    } else {
        Err(ConfigError::new(
            "client.id",
            format!("{} is illegal, contains a character other than ASCII alphanumerics, '.', '_' and '-'", id),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        let mut p = Properties::new();
        p.set("metadata.broker.list", "localhost:9092");
        for (k, v) in pairs {
            p.set(*k, *v);
        }
        p
    }

    #[test]
    fn defaults_are_0_8_2s() {
        let c = ProducerConfig::from_properties(&props(&[])).unwrap();
        assert_eq!(c.broker_list, vec![("localhost".to_string(), 9092)]);
        assert_eq!(c.required_acks, 0);
        assert_eq!(c.request_timeout_ms, 10000);
        assert_eq!(c.producer_type, ProducerType::Sync);
        assert_eq!(c.serializer, Serializer::Bytes);
        assert_eq!(c.key_serializer, Serializer::Bytes);
        assert_eq!(c.partitioner, PartitionerClass::Default);
        assert_eq!(c.compression_codec, CompressionCodec::None);
        assert!(c.compressed_topics.is_empty());
        assert_eq!(c.message_send_max_retries, 3);
        assert_eq!(c.retry_backoff_ms, 100);
        assert_eq!(c.topic_metadata_refresh_interval_ms, 600000);
        assert_eq!(c.queue_buffering_max_ms, 5000);
        assert_eq!(c.queue_buffering_max_messages, 10000);
        assert_eq!(c.queue_enqueue_timeout_ms, -1);
        assert_eq!(c.batch_num_messages, 200);
        assert_eq!(c.max_in_flight, 1);
        assert_eq!(c.send_buffer_bytes, 102400);
        assert_eq!(c.client_id, "");
    }

    #[test]
    fn values_are_read_and_codecs_by_name_or_number() {
        let c = ProducerConfig::from_properties(&props(&[
            ("metadata.broker.list", "a:1, b:2"),
            ("request.required.acks", "-1"),
            ("producer.type", "async"),
            ("serializer.class", STRING_ENCODER),
            ("compression.codec", "2"),
            ("compressed.topics", "x , y,"),
            ("queue.enqueue.timeout.ms", "0"),
            ("max.in.flight.requests.per.connection", "5"),
            ("client.id", "console-producer"),
        ]))
        .unwrap();
        assert_eq!(c.max_in_flight, 5);
        assert_eq!(c.broker_list, vec![("a".to_string(), 1), ("b".to_string(), 2)]);
        assert_eq!(c.required_acks, -1);
        assert_eq!(c.producer_type, ProducerType::Async);
        assert_eq!(c.key_serializer, Serializer::String, "key.serializer.class defaults to serializer.class");
        assert_eq!(c.compression_codec, CompressionCodec::Snappy);
        assert_eq!(c.compressed_topics, vec!["x", "y"]);
        assert_eq!(c.codec_for("x"), CompressionCodec::Snappy);
        assert_eq!(c.codec_for("z"), CompressionCodec::None);
        for (v, codec) in [
            ("none", CompressionCodec::None),
            ("gzip", CompressionCodec::Gzip),
            ("lz4", CompressionCodec::Lz4),
            ("3", CompressionCodec::Lz4),
        ] {
            let c = ProducerConfig::from_properties(&props(&[("compression.codec", v)])).unwrap();
            assert_eq!(c.compression_codec, codec);
            assert_eq!(c.codec_for("any"), codec);
        }
    }

    #[test]
    fn the_shipped_producer_properties_parse() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/producer.properties");
        let c = ProducerConfig::from_properties(&Properties::load(&path).unwrap()).unwrap();
        assert_eq!(c.broker_list, vec![("localhost".to_string(), 9092)]);
        assert_eq!(c.producer_type, ProducerType::Sync);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        for (k, v) in [
            ("metadata.broker.list", "nohost"),
            ("metadata.broker.list", "h:notaport"),
            ("request.required.acks", "all"),
            ("request.timeout.ms", "0"),
            ("producer.type", "fast"),
            ("serializer.class", "com.example.MyEncoder"),
            ("key.serializer.class", "x"),
            ("partitioner.class", "com.example.MyPartitioner"),
            ("compression.codec", "zstd"),
            ("message.send.max.retries", "-1"),
            ("retry.backoff.ms", "soon"),
            ("queue.buffering.max.messages", "0"),
            ("batch.num.messages", "20000"),
            ("max.in.flight.requests.per.connection", "0"),
            ("client.id", "has space"),
        ] {
            let e = ProducerConfig::from_properties(&props(&[(k, v)])).unwrap_err();
            assert_eq!(e.key, k, "{}={} gave {}", k, v, e);
            assert!(e.to_string().contains(k));
        }
        let e = ProducerConfig::from_properties(&Properties::new()).unwrap_err();
        assert_eq!(e.key, "metadata.broker.list");
    }
}
