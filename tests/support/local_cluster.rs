//! `zk-scripts/cluster.sh` (a local cluster of ZooKeeper + N brokers) run against a folder
//! of the test's own, with a guard that brings it down when the test ends or fails.

use super::{run_with_env, Output};
use std::path::Path;

/// `zk-scripts/cluster.sh ARGS` with `KAFKA08_CLUSTER_DIR=dir` and the test's binary.
pub fn cluster_sh(dir: &Path, args: &[&str]) -> Output {
    run_with_env(
        "zk-scripts/cluster.sh",
        args,
        None,
        &[("KAFKA08_CLUSTER_DIR", dir.to_str().expect("utf-8 path")), ("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    )
}

/// Runs `cluster.sh down` on drop, so a failing test leaves nothing running either.
pub struct Down<'a>(pub &'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = cluster_sh(self.0, &["down"]);
    }
}
