//! The high-level consumer: 0.8.2's `ZookeeperConsumerConnector` (docs/zookeeper-layout.md,
//! consumer groups), ZooKeeper-coordinated group membership with the Java layout, so kafka08 consumers
//! and Java 0.8 consumers split one group's partitions without overlap.
//!
//! ```no_run
//! # async fn run() -> Result<(), kafka08::consumer::zk::ConsumerError> {
//! use kafka08::consumer::zk::{ConsumerConfig, ZookeeperConsumerConnector};
//! let config = ConsumerConfig::from_pairs(&[("group.id", "g"), ("zookeeper.connect", "127.0.0.1:2181")])?;
//! let connector = ZookeeperConsumerConnector::create(config).await?;
//! let mut streams = connector.create_message_streams(&[("my-topic".to_string(), 1)].into()).await?;
//! let mut stream = streams.remove("my-topic").unwrap().remove(0);
//! while let Some(message) = stream.next().await {
//!     let message = message?;
//!     println!("{} {} {}", message.partition, message.offset, message.value.is_some());
//! }
//! connector.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Parts, one file each:
//! - [`config`]: `ConsumerConfig`, the 0.8.2 keys and defaults.
//! - [`topic_count`]: subscriptions (static or whitelist/blacklist) and the member znode.
//! - [`assignor`]: range and roundrobin, pure functions over a group snapshot.
//! - `connector`: registration, watches, the rebalance loop, commits, shutdown.
//! - `fetcher`: leader finding and one fetcher task per leader broker.
//! - `stream`: the bounded chunk queues and the message iterators.
//! - `offsets`: committed offsets in ZooKeeper or through the Kafka offset coordinator.
//!
//! Where 0.8.2 had known rebalance bugs this keeps the observable layout and fixes the bug:
//! a consumer that runs out of `rebalance.max.retries` keeps retrying in the background
//! (KAFKA-4228) instead of idling while registered; each attempt re-reads the membership and
//! backs off with jitter so concurrent joins converge; partitions are claimed before their
//! offsets are read (so a previous owner's last commit is seen); claims that fail are always
//! released; only owner znodes of our own session are deleted; streams never hand out a
//! message of a partition after it was released.

pub mod assignor;
pub mod config;
mod connector;
mod error;
mod fetcher;
mod offsets;
mod stream;
pub mod topic_count;

pub use assignor::{assign, AssignmentContext};
pub use config::{AssignmentStrategy, AutoOffsetReset, ConsumerConfig, OffsetsStorage};
pub use connector::{CommitOffsetFn, ZookeeperConsumerConnector};
pub use error::ConsumerError;
pub use offsets::NO_OFFSET;
pub use stream::{KafkaStream, MessageAndMetadata};
pub use topic_count::{TopicCount, TopicFilter};

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// 64 random bits from the standard library's per-process random hash keys mixed with the
/// clock (no extra dependency for consumer ids and backoff jitter).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// This host's name (`InetAddress.getLocalHost.getHostName` in 0.8), "localhost" if unknown.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(s) if !s.is_empty() => s.to_string(),
        _ => "localhost".into(),
    }
}

/// 0.8.2's consumer id: `<group>_<consumer.id>`, or `<group>_<host>-<ms>-<8 hex digits>`
/// (the first 8 hex digits of a random 64-bit value, as 0.8.2 took from a UUID's high bits).
pub fn make_consumer_id(group: &str, configured: Option<&str>) -> String {
    match configured {
        Some(id) => format!("{}_{}", group, id),
        None => {
            let hex = format!("{:016x}", random_u64());
            format!("{}_{}-{}-{}", group, hostname(), now_ms(), &hex[..8])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_ids_follow_082() {
        assert_eq!(make_consumer_id("g", Some("c1")), "g_c1");
        let id = make_consumer_id("grp", None);
        let rest = id.strip_prefix("grp_").unwrap();
        let parts: Vec<&str> = rest.rsplitn(3, '-').collect();
        assert_eq!(parts[0].len(), 8);
        assert!(parts[0].chars().all(|c| c.is_ascii_hexdigit()));
        assert!(parts[1].parse::<i64>().unwrap() > 1_400_000_000_000);
        assert_eq!(parts[2], hostname());
        assert_ne!(make_consumer_id("grp", None), make_consumer_id("grp", None));
    }
}
