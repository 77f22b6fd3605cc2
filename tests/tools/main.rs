//! Integration tests, area `tools`: The 0.8.2 scripts and tools under bin/ and zk-scripts/: flags, output line for line, the quickstart and the runbook.
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod admin_server_scripts;
mod admin_topics;
mod cluster_fixed_ports;
mod cluster_scripts;
mod dump_log_segments;
mod manager_console;
mod preferred_replica_election;
mod quickstart;
mod reassign_partitions_command;
mod runbook;
mod runbook_pages;
mod tools_console_consumer;
mod tools_console_producer;
mod tools_consumer_offset_checker;
mod tools_flags;
mod tools_get_offset_shell;
mod tools_mirror_maker;
mod tools_offsets;
mod tools_perf;
mod tools_replay_log_producer;
mod tools_shells;
mod topics_command;
mod zk_scripts;
