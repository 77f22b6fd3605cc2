//! Everything kafka08 knows about ZooKeeper: paths ([`paths`]) and the JSON documents
//! ([`json`]) of docs/zookeeper-layout.md, the session ([`client`]), and the controller's
//! batched partition state reads and epoch-fenced writes ([`state`]), and the typed reads
//! every other module uses (0.8.2 `ZkUtils`, [`utils`]). No other module
//! spells a znode path.

pub use client::{Stat, WatchFuture, ZkClient, ZkError, ZkResult};
pub use utils::{QueryError, QueryResult};

/// The log target of the ZooKeeper client crate, for tools that set its level in their
/// default log filter (it is chatty at info).
pub const CLIENT_LOG_TARGET: &str = "zookeeper_client";

pub mod client;
pub mod json;
pub mod paths;
pub mod state;
pub mod utils;
