//! Integration tests, area `cluster`: Clusters of brokers: the controller (election, partition state, controlled shutdown, failover) and durability under broker failures.
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod broker_soak;
mod cluster_config;
mod cluster_controlled_shutdown;
mod cluster_controller;
mod cluster_durability;
mod cluster_reassignment;
mod cluster_topic_deletion;
mod controller_bounced_broker;
mod controller_election;
mod controller_partitions;
mod isr_change_notifications;
mod isr_write_answer_lost;
mod metrics_endpoint;
mod preferred_leaders;
mod producer_failover;
mod zk_ensemble_faults;
