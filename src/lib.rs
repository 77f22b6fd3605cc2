//! kafka08: a Kafka 0.8.2 broker cluster in Rust, faithful to 0.8's ZooKeeper architecture.
//!
//! # Codemap
//! - [`common`]: wire error codes, `TopicPartition`, `.properties` files, the clock, the Java
//!   hashes and `Utils.abs` partition choices depend on, and `config_def` — the one
//!   machinery behind every config (broker, topic overrides, producer, consumer): a table of
//!   keys with type, default, range and doc line.
//! - [`message`]: message format v0, message sets over `Bytes`, codecs, offset assignment.
//! - [`log`]: segments (`.log` + `.index`), logs, the log manager, retention, flush,
//!   recovery, checkpoints, the log cleaner (compaction) — 0.8.2's on-disk layout byte
//!   for byte.
//! - [`api`]: typed 0.8.2 requests and responses and their byte codec (sans-io).
//! - [`controller`]: the elected controller: one event loop, leader selection, epoch-fenced state writes.
//! - [`server`]: the broker: KafkaApis, replica manager, fetchers, registration, config changes.
//! - [`zk`]: the ZooKeeper session, znode paths and JSON documents; nothing else spells them.
//! - [`admin`]: replica assignment (0.8.2 algorithm) and topic administration.
//! - [`network`]: the socket server (frames in, ordered responses out, `sendfile` for log
//!   bytes) and `BrokerConnection`, the request/response client.
//! - [`producer`]: the 0.8.2 producer (partitioner, per-leader requests, retries, sync/async modes).
//! - [`consumer`]: `SimpleConsumer`, the leader-following `PartitionReader`, and the
//!   ZooKeeper high-level consumer (group membership, rebalance, range/roundrobin, offsets).
//! - [`metrics`]: counters, gauges and timers the broker updates, rendered as Prometheus
//!   text under the JMX exporter's names for 0.8.2's MBeans, and the endpoint serving them.
//! - [`manager`]: the cluster web console (pages, charts, actions through `admin`).
//! - [`tools`]: the 0.8.2 command-line tools (the `kafka08` binary dispatches to them).
//!
//! # Invariants that are absences
//! - `message` and `api` do no I/O: bytes in, bytes out; every decoder returns an error,
//!   never panics.
//! - `log` never talks to ZooKeeper or the network; it knows file layouts and nothing else.
//! - `network` never parses a request body or a message set; `zk` alone spells znode paths.
//! - The replica fetcher (`server::fetcher`) knows no replica manager: it follows a
//!   `FollowerLog` and fetches from a `LeaderEndPoint`.
//! - `log::` in a path is the logging crate; this crate's module is always `crate::log`.
//! - Binaries hold no logic: `src/bin/kafka08.rs` only picks a tool.

pub mod admin;
pub mod api;
pub mod common;
pub mod consumer;
pub mod controller;
pub mod log;
pub mod manager;
pub mod message;
pub mod metrics;
pub mod network;
pub mod producer;
pub mod server;
pub mod tools;
pub mod zk;
