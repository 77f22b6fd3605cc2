//! The README's main command, `zk-scripts/quickstart.sh`: Kafka 0.8.2's quickstart
//! walkthrough end to end, leaving nothing running.

use crate::support;

#[test]
fn the_quickstart_walkthrough_runs_green_and_leaves_nothing_running() {
    let out = support::run_with_env("zk-scripts/quickstart.sh", &[], None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let s = &out.stdout;
    for want in [
        "Created topic \"test\".",
        "This is a message\nThis is another message\n",
        "Created topic \"my-replicated-topic\".",
        "Topic:my-replicated-topic\tPartitionCount:1\tReplicationFactor:3\tConfigs:",
        "my test message 1\nmy test message 2\n",
        "Quickstart done.",
    ] {
        assert!(s.contains(want), "missing {want:?} in:\n{s}");
    }
    // The two describes: an Isr of three, then of two after the leader was killed.
    let describes: Vec<&str> = s.lines().filter(|l| l.starts_with("\tTopic: my-replicated-topic\tPartition: 0\tLeader: ")).collect();
    assert_eq!(describes.len(), 2, "{s}");
    let isr = |l: &str| l.rsplit("Isr: ").next().unwrap().split(',').count();
    let leader = |l: &str| l.split("Leader: ").nth(1).unwrap().split('\t').next().unwrap().to_string();
    assert_eq!(isr(describes[0]), 3);
    assert_eq!(isr(describes[1]), 2);
    assert_ne!(leader(describes[0]), leader(describes[1]));
    // Nothing left running from this walkthrough (ZooKeeper's watchdog notices its node is
    // gone within a second).
    let mut left = String::new();
    let clean = support::eventually(std::time::Duration::from_secs(10), || {
        let ps = std::process::Command::new("pgrep").args(["-af", "kafka08-quickstart"]).output().unwrap();
        left = String::from_utf8_lossy(&ps.stdout).trim().to_string();
        left.is_empty()
    });
    assert!(clean, "left running: {left}");
}
