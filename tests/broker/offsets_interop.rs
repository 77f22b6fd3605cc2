//! kafka-python 3.0.12 against kafka08 consumer offsets: with `api_version=(0,8,2)` it
//! finds the coordinator (ConsumerMetadata) and uses OffsetCommit/OffsetFetch v1 (the
//! `__consumer_offsets` log); with `(0,8,1)` it uses v0 on any broker (ZooKeeper).

use crate::support;

use std::process::Command;
use std::time::Duration;
use support::cluster::Cluster;

fn kafka_python_offsets(cluster: &Cluster, version: &str, group: &str, topic: &str, partitions: i32) -> Vec<String> {
    let out = Command::new(support::project_root().join(".venv/bin/python"))
        .arg(support::project_root().join("tests/interop/kafka_python_offsets.py"))
        .args([&cluster.bootstrap(), version, group, topic, &partitions.to_string()])
        .output()
        .expect("the venv from zk-scripts/install.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "kafka-python {version}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().any(|l| l == "OK"), "{stdout}");
    let mut lines: Vec<String> = stdout.lines().filter(|l| l.starts_with("COMMITTED ")).map(String::from).collect();
    lines.sort();
    lines
}

fn zk_get(cluster: &Cluster, path: &str) -> Option<String> {
    Cluster::runtime().block_on(async {
        let zk = kafka08::zk::ZkClient::connect(
            &cluster.zk.connect_string(),
            Duration::from_secs(6),
            Duration::from_secs(10),
        )
        .await
        .expect("zk");
        zk.get_data(path).await.expect("zk read").map(|(d, _)| String::from_utf8(d).expect("utf-8"))
    })
}

#[test]
fn kafka_python_082_commits_and_fetches_kafka_stored_offsets() {
    let cluster =
        Cluster::start(3, &[("offsets.topic.num.partitions", "6"), ("offsets.topic.replication.factor", "2")]);
    cluster.create_topic("kpo", 3, 2);
    let lines = kafka_python_offsets(&cluster, "0.8.2", "kp-group", "kpo", 3);
    assert_eq!(
        lines,
        vec!["COMMITTED kpo 0 1000 meta-0", "COMMITTED kpo 1 1001 meta-1", "COMMITTED kpo 2 1002 meta-2"]
    );
    // Kafka-stored: nothing in ZooKeeper; the offsets topic exists.
    assert_eq!(zk_get(&cluster, "/consumers/kp-group/offsets/kpo/0"), None);
    assert!(zk_get(&cluster, "/brokers/topics/__consumer_offsets").is_some());
}

#[test]
fn kafka_python_081_commits_and_fetches_zookeeper_offsets() {
    let cluster = Cluster::start(3, &[]);
    cluster.create_topic("kpz", 3, 2);
    let lines = kafka_python_offsets(&cluster, "0.8.1", "kz-group", "kpz", 3);
    // v0 keeps no metadata.
    assert_eq!(lines, vec!["COMMITTED kpz 0 1000 -", "COMMITTED kpz 1 1001 -", "COMMITTED kpz 2 1002 -"]);
    for p in 0..3 {
        assert_eq!(zk_get(&cluster, &format!("/consumers/kz-group/offsets/kpz/{p}")), Some((1000 + p).to_string()));
    }
    // ZooKeeper offsets need no offsets topic.
    assert_eq!(zk_get(&cluster, "/brokers/topics/__consumer_offsets"), None);
}
