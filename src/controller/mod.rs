//! The controller (`kafka.controller`): one broker at a time, elected through the ephemeral
//! `/controller` znode, assigns partition leaders, writes leader/ISR state to ZooKeeper and
//! tells brokers with LeaderAndIsr and UpdateMetadata (docs/zookeeper-layout.md).
//!
//! - [`KafkaController::start`] → [`ControllerHandle`]: every broker runs it at startup,
//!   before registering itself; it takes part in the election and, once elected, runs the
//!   controller as a single event loop (`kafka_controller`).
//! - [`selector`]: leader selection as pure functions (new partition, offline, preferred
//!   replica, controlled shutdown, ISR removal), and which partitions a preferred replica
//!   election or the automatic leader rebalance moves.
//! - [`context`]: the in-memory model and the requests built from it.
//! - [`change`]: the decision core, one routine for every change of partition states
//!   (failover, elections, broker failure and start-up, controlled shutdown, preferred
//!   election, rebalance, reassignment) and every pass of a topic deletion, as a pure step
//!   returning effects (reads, fenced writes, requests to brokers, znode deletes), and the
//!   loop that performs them through a [`store::ControllerStore`] (ZooKeeper, or in memory
//!   with injected errors for tests) and a [`channel::RequestSink`] (the channels).
//! - [`zk_store`] (`zk::state`): batched state reads, and state writes fenced by the controller epoch
//!   (a ZooKeeper `multi` guarded by the version of `/controller_epoch`).
//! - [`channel`]: one queue and task per live broker, in-order delivery with retries.
//!
//! Controlled shutdown goes through [`ControllerHandle::controlled_shutdown`], which
//! the broker's ControlledShutdown request handler calls.
//!
//! Preferred replica election (`/admin/preferred_replica_election`), the automatic leader
//! rebalance (`auto.leader.rebalance.enable`) and ISR change notifications from leaders
//! (`/isr_change_notification`, 0.9's layout) are events of the same loop.
//!
//! Partition reassignment (`/admin/reassign_partitions`) is `reassignment` and topic deletion
//! (`/admin/delete_topics`, with `delete.topic.enable`) is `deletion`, child modules of the
//! event loop: their steps are decided by the pure `reassignment_step` and `deletion_step`
//! and carried out by `change` like every other state change; a deletion writes no leader
//! or ISR (its state znodes are deleted).

pub mod change;
pub mod channel;
pub mod context;
#[cfg(test)]
mod core_tests;
mod kafka_controller;
pub mod selector;
pub mod store;
/// The controller's ZooKeeper state access lives with the rest of ZooKeeper, in `zk::state`.
pub use crate::zk::state as zk_store;

pub use channel::{RequestSink, RETRY_BACKOFF};
pub use context::{ControllerContext, ControllerRequest, LeaderIsrAndControllerEpoch, RequestBatch};
pub use kafka_controller::{
    ControlledShutdownError, ControllerConfig, ControllerHandle, ControllerStats, KafkaController, DEFAULT_MESSAGE_QUEUE_SIZE,
    SHUTDOWN_TIMEOUT,
};
pub use zk_store::{EpochFence, FenceError, StateRead, StateWrite, WriteOutcome};
