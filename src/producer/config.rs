//! `ProducerConfig`: the 0.8.2 producer's `.properties` keys and defaults
//! (`kafka.producer.ProducerConfig`, `SyncProducerConfigShared`, `AsyncProducerConfig`).
//!
//! A value that does not parse, or is out of 0.8.2's range, is a [`ConfigError`] naming the
//! key. Keys this producer does not know are logged and ignored, as 0.8.2's
//! `VerifiableProperties.verify` does.

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

/// Every key [`ProducerConfig::from_properties`] reads.
pub const PRODUCER_CONFIG_KEYS: &[&str] = &[
    "metadata.broker.list",
    "request.required.acks",
    "request.timeout.ms",
    "producer.type",
    "serializer.class",
    "key.serializer.class",
    "partitioner.class",
    "compression.codec",
    "compressed.topics",
    "message.send.max.retries",
    "retry.backoff.ms",
    "topic.metadata.refresh.interval.ms",
    "queue.buffering.max.ms",
    "queue.buffering.max.messages",
    "queue.enqueue.timeout.ms",
    "batch.num.messages",
    "send.buffer.bytes",
    "client.id",
];

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

/// The 0.8.2 producer configuration. Fields are public so that tools can set them after
/// parsing (as the console producer maps its flags onto properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `metadata.broker.list` (required): `host1:port1,host2:port2`, used only for Metadata
    /// requests; data goes to the leaders the metadata names.
    pub broker_list: Vec<(String, u16)>,
    /// `request.required.acks` (0): 0 none, 1 leader, -1 every in-sync replica.
    pub required_acks: i16,
    /// `request.timeout.ms` (10000): the ack timeout sent to the broker; also bounds each
    /// request on the socket (plus [`SOCKET_TIMEOUT_MARGIN`]).
    pub request_timeout_ms: i32,
    /// `producer.type` (sync).
    pub producer_type: ProducerType,
    /// `serializer.class` (DefaultEncoder).
    pub serializer: Serializer,
    /// `key.serializer.class` (= `serializer.class`).
    pub key_serializer: Serializer,
    /// `partitioner.class` (DefaultPartitioner).
    pub partitioner: PartitionerClass,
    /// `compression.codec` (none): by name (none, gzip, snappy, lz4) or number (0-3).
    pub compression_codec: CompressionCodec,
    /// `compressed.topics` (empty = every topic when a codec is set).
    pub compressed_topics: Vec<String>,
    /// `message.send.max.retries` (3).
    pub message_send_max_retries: u32,
    /// `retry.backoff.ms` (100).
    pub retry_backoff_ms: u64,
    /// `topic.metadata.refresh.interval.ms` (600000); negative: refresh only after failures.
    pub topic_metadata_refresh_interval_ms: i64,
    /// `queue.buffering.max.ms` (5000), async only.
    pub queue_buffering_max_ms: u64,
    /// `queue.buffering.max.messages` (10000), async only.
    pub queue_buffering_max_messages: usize,
    /// `queue.enqueue.timeout.ms` (-1): -1 blocks while the queue is full, 0 fails at once,
    /// > 0 waits that long.
    pub queue_enqueue_timeout_ms: i64,
    /// `batch.num.messages` (200), async only.
    pub batch_num_messages: usize,
    /// `send.buffer.bytes` (102400). Accepted and range-checked; the socket keeps the
    /// system's buffer size (the shared `BrokerConnection` exposes no socket options).
    pub send_buffer_bytes: i32,
    /// `client.id` ("").
    pub client_id: String,
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
        let broker_list = match props.get("metadata.broker.list") {
            None => return Err(ConfigError::new("metadata.broker.list", "missing required property")),
            Some(v) => parse_broker_list(v).map_err(|m| ConfigError::new("metadata.broker.list", m))?,
        };
        let required_acks: i16 = int(props, "request.required.acks", 0, i16::MIN as i64, i16::MAX as i64)? as i16;
        if required_acks > 1 {
            log::warn!("request.required.acks={} (wait for N replicas) is deprecated in 0.8.2", required_acks);
        }
        let request_timeout_ms = int(props, "request.timeout.ms", 10000, 1, i32::MAX as i64)? as i32;
        let producer_type = match props.get("producer.type").map(str::trim).unwrap_or("sync") {
            "sync" => ProducerType::Sync,
            "async" => ProducerType::Async,
            other => {
                return Err(ConfigError::new(
                    "producer.type",
                    format!("invalid value {}, valid values are sync/async", other),
                ))
            }
        };
        let serializer = parse_serializer("serializer.class", props.get("serializer.class"))?;
        let key_serializer = match props.get("key.serializer.class") {
            None => serializer,
            Some(v) => parse_serializer("key.serializer.class", Some(v))?,
        };
        let partitioner = match props.get("partitioner.class").map(str::trim).unwrap_or(DEFAULT_PARTITIONER) {
            DEFAULT_PARTITIONER => PartitionerClass::Default,
            BYTE_ARRAY_PARTITIONER => PartitionerClass::ByteArray,
            other => {
                return Err(ConfigError::new(
                    "partitioner.class",
                    format!("{} is not supported (use {} or {})", other, DEFAULT_PARTITIONER, BYTE_ARRAY_PARTITIONER),
                ))
            }
        };
        let compression_codec = match props.get("compression.codec") {
            None => CompressionCodec::None,
            Some(v) => CompressionCodec::parse(v).ok_or_else(|| {
                ConfigError::new("compression.codec", format!("{} is an unknown compression codec", v))
            })?,
        };
        let compressed_topics = props.get("compressed.topics").map(parse_csv).unwrap_or_default();
        let message_send_max_retries = int(props, "message.send.max.retries", 3, 0, i32::MAX as i64)? as u32;
        let retry_backoff_ms = int(props, "retry.backoff.ms", 100, 0, i32::MAX as i64)? as u64;
        let topic_metadata_refresh_interval_ms =
            int(props, "topic.metadata.refresh.interval.ms", 600000, i32::MIN as i64, i32::MAX as i64)?;
        let queue_buffering_max_ms = int(props, "queue.buffering.max.ms", 5000, 0, i32::MAX as i64)? as u64;
        let queue_buffering_max_messages =
            int(props, "queue.buffering.max.messages", 10000, 1, i32::MAX as i64)? as usize;
        let queue_enqueue_timeout_ms = int(props, "queue.enqueue.timeout.ms", -1, i32::MIN as i64, i32::MAX as i64)?;
        let batch_num_messages = int(props, "batch.num.messages", 200, 1, i32::MAX as i64)? as usize;
        if batch_num_messages > queue_buffering_max_messages {
            return Err(ConfigError::new(
                "batch.num.messages",
                format!(
                    "Batch size = {} can't be larger than queue size = {}",
                    batch_num_messages, queue_buffering_max_messages
                ),
            ));
        }
        let send_buffer_bytes = int(props, "send.buffer.bytes", 100 * 1024, 1, i32::MAX as i64)? as i32;
        let client_id = props.get("client.id").unwrap_or("").to_string();
        validate_client_id(&client_id)?;
        Ok(ProducerConfig {
            broker_list,
            required_acks,
            request_timeout_ms,
            producer_type,
            serializer,
            key_serializer,
            partitioner,
            compression_codec,
            compressed_topics,
            message_send_max_retries,
            retry_backoff_ms,
            topic_metadata_refresh_interval_ms,
            queue_buffering_max_ms,
            queue_buffering_max_messages,
            queue_enqueue_timeout_ms,
            batch_num_messages,
            send_buffer_bytes,
            client_id,
        })
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

fn int(props: &Properties, key: &str, default: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
    let v = match props.get(key) {
        None => return Ok(default),
        Some(v) => v.trim(),
    };
    let n: i64 = v.parse().map_err(|_| ConfigError::new(key, format!("{:?} is not a number", v)))?;
    if n < min || n > max {
        return Err(ConfigError::new(key, format!("{} is not in the range [{}, {}]", n, min, max)));
    }
    Ok(n)
}

fn parse_serializer(key: &str, value: Option<&str>) -> Result<Serializer, ConfigError> {
    match value.map(str::trim).unwrap_or(DEFAULT_ENCODER) {
        DEFAULT_ENCODER => Ok(Serializer::Bytes),
        STRING_ENCODER => Ok(Serializer::String),
        other => Err(ConfigError::new(
            key,
            format!("{} is not supported (use {} or {})", other, DEFAULT_ENCODER, STRING_ENCODER),
        )),
    }
}

/// `host1:port1,host2:port2` (0.8.2 `ClientUtils.parseBrokerList`).
pub fn parse_broker_list(s: &str) -> Result<Vec<(String, u16)>, String> {
    let mut out = Vec::new();
    for entry in parse_csv(s) {
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

/// 0.8.2 `Utils.parseCsvList`: split at commas with surrounding spaces, drop empty items.
fn parse_csv(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect()
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
            ("client.id", "console-producer"),
        ]))
        .unwrap();
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
