//! The 0.8.2 consumers (`kafka.consumer`).
//!
//! - [`simple`]: `SimpleConsumer` (one broker, explicit fetches and offsets, async) and
//!   `PartitionReader` (one partition, following its leader).

pub mod simple;

pub use simple::{
    decode_fetched, ConsumerError, FetchedMessages, MessageAndOffset, PartitionReader, ReaderConfig, SimpleConsumer,
};
