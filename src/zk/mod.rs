//! Everything kafka08 knows about ZooKeeper: paths ([`paths`]) and the JSON documents
//! ([`json`]) of zookeeper-layout spec §1–§7, and the session ([`client`]). No other module
//! spells a znode path.

pub use client::{Stat, WatchFuture, ZkClient, ZkError, ZkResult};

pub mod client;
pub mod json;
pub mod paths;
