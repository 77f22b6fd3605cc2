//! What the high-level consumer reports to its caller.

use crate::zk::ZkError;
use std::fmt;

/// An error of the ZooKeeper consumer connector or one of its streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerError {
    /// A configuration value is missing or invalid; the message names the key.
    Config(String),
    /// `consumer.timeout.ms` passed without a message (0.8's `ConsumerTimeoutException`).
    /// The stream stays usable.
    Timeout,
    /// Message streams can be created once per connector (as in 0.8).
    StreamsAlreadyCreated,
    /// The connector is shut down.
    ShutDown,
    /// A stored message failed its CRC or could not be decompressed; it is skipped.
    InvalidMessage { topic: String, partition: i32, offset: i64, reason: String },
    /// A message at `offset` is larger than `fetch.message.max.bytes`; the partition stalls
    /// there until the fetch size is raised (0.8's `MessageSizeTooLargeException`).
    MessageSizeTooLarge { topic: String, partition: i32, offset: i64, fetch_size: i32 },
    /// A subscription that cannot be served (bad stream count, bad regex, ...).
    Subscription(String),
    /// ZooKeeper failed.
    Zk(ZkError),
    /// Committing or fetching offsets failed.
    Offsets(String),
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsumerError::Config(m) => write!(f, "invalid consumer configuration: {}", m),
            ConsumerError::Timeout => write!(f, "consumer timed out waiting for a message"),
            ConsumerError::StreamsAlreadyCreated => {
                write!(f, "ZookeeperConsumerConnector can create message streams at most once")
            }
            ConsumerError::ShutDown => write!(f, "the consumer connector is shut down"),
            ConsumerError::InvalidMessage { topic, partition, offset, reason } => {
                write!(f, "invalid message at offset {} of [{},{}]: {}", offset, topic, partition, reason)
            }
            ConsumerError::MessageSizeTooLarge { topic, partition, offset, fetch_size } => write!(
                f,
                "found a message larger than the maximum fetch size of this consumer on topic {} partition {} at fetch offset {}. Increase the fetch size ({}), or decrease the maximum message size the broker will allow.",
                topic, partition, offset, fetch_size
            ),
            ConsumerError::Subscription(m) => write!(f, "{}", m),
            ConsumerError::Zk(e) => write!(f, "zookeeper: {}", e),
            ConsumerError::Offsets(m) => write!(f, "offsets: {}", m),
        }
    }
}

impl std::error::Error for ConsumerError {}

impl From<crate::zk::QueryError> for ConsumerError {
    fn from(e: crate::zk::QueryError) -> Self {
        match e {
            crate::zk::QueryError::Zk(e) => ConsumerError::Zk(e),
            crate::zk::QueryError::Corrupt(why) => ConsumerError::Zk(ZkError::Other(why)),
        }
    }
}

impl From<ZkError> for ConsumerError {
    fn from(e: ZkError) -> Self {
        ConsumerError::Zk(e)
    }
}
