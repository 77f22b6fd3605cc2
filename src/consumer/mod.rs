//! The 0.8.2 consumers (`kafka.consumer`).
//!
//! - [`simple`]: `SimpleConsumer` (one broker, explicit fetches and offsets, async) and
//!   `PartitionReader` (one partition, following its leader).
//! - [`zk`]: the ZooKeeper-coordinated high-level consumer (0.8's
//!   `ZookeeperConsumerConnector`): group membership, range/roundrobin rebalance, streams.

pub mod simple;
pub mod zk;

pub use simple::{
    decode_fetched, ConsumerError, FetchedMessages, MessageAndOffset, PartitionReader, ReaderConfig, SimpleConsumer,
};
