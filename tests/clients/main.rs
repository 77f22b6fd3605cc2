//! Integration tests, area `clients`: The client library: sync and async producers, the ZooKeeper high-level consumer and its groups, and foreign 0.8 clients against our brokers.
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod hlc_group;
mod hlc_kafka_offsets;
mod hlc_offsets;
mod hlc_rebalance;
mod interop_clients;
mod producer_async;
mod producer_in_flight;
mod producer_sync;
