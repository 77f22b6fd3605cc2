//! Everything kafka08 knows about ZooKeeper: paths ([`paths`]) and the JSON documents
//! ([`json`]) of zookeeper-layout spec §1–§7. No other module spells a znode path.

pub mod json;
pub mod paths;
