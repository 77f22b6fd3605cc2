//! The controller (`kafka.controller`): one broker at a time, elected through the ephemeral
//! `/controller` znode, assigns partition leaders, writes leader/ISR state to ZooKeeper and
//! tells brokers with LeaderAndIsr and UpdateMetadata (zookeeper-layout spec §4, §8).
//!
//! - [`KafkaController::start`] → [`ControllerHandle`]: every broker runs it at startup,
//!   before registering itself; it takes part in the election and, once elected, runs the
//!   controller as a single event loop (`kafka_controller`).
//! - [`selector`]: leader selection as pure functions (new partition, offline, preferred
//!   replica, controlled shutdown, ISR removal).
//! - [`context`]: the in-memory model and the requests built from it.
//! - [`zk_store`]: batched state reads, and state writes fenced by the controller epoch
//!   (a ZooKeeper `multi` guarded by the version of `/controller_epoch`).
//! - `channel`: one queue and task per live broker, in-order delivery with retries.
//!
//! Controlled shutdown (§8.6) goes through [`ControllerHandle::controlled_shutdown`], which
//! the broker's ControlledShutdown request handler calls.
//!
//! Not yet here (zookeeper-layout spec): partition reassignment (§8.7), preferred replica
//! election and auto rebalance (§8.8), topic deletion (§8.9).

mod channel;
pub mod context;
mod kafka_controller;
pub mod selector;
pub mod zk_store;

pub use channel::RETRY_BACKOFF;
pub use context::{ControllerContext, ControllerRequest, LeaderIsrAndControllerEpoch, RequestBatch};
pub use kafka_controller::{
    ControlledShutdownError, ControllerConfig, ControllerHandle, ControllerStats, KafkaController, DEFAULT_MESSAGE_QUEUE_SIZE,
    SHUTDOWN_TIMEOUT,
};
pub use zk_store::{EpochFence, FenceError, StateRead, StateWrite, WriteOutcome};
