//! Integration tests, area `hosts`: a cluster across hosts (network namespaces with their
//! own addresses on a private bridge), network faults between them, Jepsen-style partition
//! tests and the runbooks across hosts. Needs root.
//!
//! One test binary per area, so the crate is linked a few times rather than once per
//! file; the shared test kit is `tests/support`.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod cluster_sh_hosts;
mod hosts_kit;
mod jepsen;
mod runbooks_across_hosts;
