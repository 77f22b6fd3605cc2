//! The 0.8.2 producer (`kafka.producer`): `metadata.broker.list` bootstrap through Metadata
//! requests, the default partitioner, one ProduceRequest per leader broker, compression,
//! retries with metadata refresh, and sync or async (queued, batched) sending.
//!
//! API: [`Producer`] is async (tokio) and shareable (`send(&self)`); the tools that run
//! their work inside `runtime.block_on` use it directly. [`BlockingProducer`] wraps it in a
//! runtime of its own for plain threads (a console producer reading stdin, a perf-test
//! thread); never call it from inside a tokio runtime.
//!
//! - [`ProducerConfig`]: 0.8.2 keys and defaults, a bad value is an error naming the key.
//! - [`KeyedMessage`]: 0.8.2's `KeyedMessage(topic, key, partKey, message)`.
//! - [`EventHandler`]: 0.8.2's `DefaultEventHandler` (partition, group, send, retry).
//! - [`ProducerError::FailedToSend`] names every topic-partition still unsent after the
//!   retries; sync mode never drops a message silently.

mod blocking;
mod config;
mod error;
mod event_handler;
mod metadata;
pub mod partitioner;
mod pipeline;
#[allow(clippy::module_inception)]
mod producer;

pub use blocking::BlockingProducer;
pub use config::{
    parse_broker_list, ConfigError, PartitionerClass, ProducerConfig, ProducerType, Serializer, BYTE_ARRAY_PARTITIONER,
    DEFAULT_ENCODER, DEFAULT_PARTITIONER, PRODUCER_CONFIG_KEYS, SOCKET_TIMEOUT_MARGIN, STRING_ENCODER,
};
pub use error::{ProducerError, SendFailure};
pub use event_handler::EventHandler;
pub use metadata::{fetch_topic_metadata, BrokerPartitionInfo, PartitionAndLeader};
pub use producer::Producer;

use bytes::Bytes;

/// One message to send: 0.8.2's `KeyedMessage`. The partition is chosen from `part_key`
/// when set, else from `key` (which is also stored with the message); with neither, from
/// the topic's sticky random partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedMessage {
    pub topic: String,
    pub key: Option<Bytes>,
    /// Chooses the partition without being stored (0.8.2 `partKey`).
    pub part_key: Option<Bytes>,
    pub value: Option<Bytes>,
}

impl KeyedMessage {
    /// A message without a key.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> KeyedMessage {
        KeyedMessage { topic: topic.into(), key: None, part_key: None, value: Some(value.into()) }
    }

    /// A keyed message.
    pub fn with_key(topic: impl Into<String>, key: impl Into<Bytes>, value: impl Into<Bytes>) -> KeyedMessage {
        KeyedMessage { topic: topic.into(), key: Some(key.into()), part_key: None, value: Some(value.into()) }
    }

    /// Set the partition key (not stored with the message).
    pub fn partition_key(mut self, part_key: impl Into<Bytes>) -> KeyedMessage {
        self.part_key = Some(part_key.into());
        self
    }
}
