//! Integration tests, area `broker`: One broker against a real ZooKeeper: the wire protocol, bad input, registration, config, offsets and replication between brokers.
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod broker_cleaner;
mod broker_hardening;
mod broker_live_config;
mod broker_protocol;
mod broker_replication;
mod broker_slow_disk;
mod broker_zk;
mod network_server;
mod offsets_api;
mod offsets_interop;
mod server_config;
mod server_config_dedupe;
mod simple_consumer_read;
