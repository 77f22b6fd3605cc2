//! `kafka-run-class.sh kafka.tools.ConsumerOffsetChecker`: 0.8.2's table of a group's
//! offsets, log sizes, lag and owners.

use crate::support;

use std::time::Duration;
use support::cluster::Cluster;
use support::producer::TestProducer;

#[test]
fn prints_the_082_offset_table() {
    let cluster = Cluster::start(1, &[("offsets.topic.num.partitions", "2"), ("offsets.topic.replication.factor", "1")]);
    cluster.create_topic("c", 2, 1);
    let mut p = TestProducer::new(vec![cluster.brokers[0].addr()], "c");
    for i in 0..5 {
        p.send(0, &format!("m{i}"), Duration::from_secs(20)).unwrap();
    }
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = kafka08::zk::ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        zk.update_persistent("/consumers/grp/offsets/c/0", b"3").await.unwrap();
        zk.create_persistent("/consumers/grp/owners/c/0", b"grp_host-1-abcdef01-0").await.unwrap();
    });
    let out = support::run_with_env(
        "bin/kafka-run-class.sh",
        &["kafka.tools.ConsumerOffsetChecker", "--zookeeper", &cluster.zk.connect_string(), "--group", "grp"],
        None,
        &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let fmt = |c: [&str; 7]| format!("{:<15} {:<30} {:<3} {:<15} {:<15} {:<15} {}", c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], fmt(["Group", "Topic", "Pid", "Offset", "logSize", "Lag", "Owner"]));
    assert_eq!(lines[1], fmt(["grp", "c", "0", "3", "5", "2", "grp_host-1-abcdef01-0"]));
    assert_eq!(lines[2], fmt(["grp", "c", "1", "-1", "0", "unknown", "none"]));
    assert_eq!(lines.len(), 3);
    // 0.8.2's script by its own name (lag scripts call it so) prints the same table.
    let by_name = support::run_with_env(
        "bin/kafka-consumer-offset-checker.sh",
        &["--zookeeper", &cluster.zk.connect_string(), "--group", "grp"],
        None,
        &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    );
    assert_eq!((by_name.code, by_name.stdout.as_str()), (Some(0), out.stdout.as_str()), "{}", by_name.all());
    // --topic narrows the table; --broker-info adds 0.8.2's broker list after it.
    let checker = |extra: &[&str]| {
        let zk = cluster.zk.connect_string();
        let mut args = vec!["kafka.tools.ConsumerOffsetChecker", "--zookeeper", zk.as_str(), "--group", "grp"];
        args.extend_from_slice(extra);
        support::run_with_env("bin/kafka-run-class.sh", &args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
    };
    let out = checker(&["--topic", "c", "--broker-info"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let broker = &cluster.brokers[0];
    assert_eq!(
        out.stdout,
        format!("{}\n{}\n{}\nBROKER INFO\n{} -> {}\n", lines[0], lines[1], lines[2], broker.id, broker.addr())
    );
    let out = checker(&["--topic", "nosuchtopic"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, format!("{}\n", lines[0]), "a topic without partitions has no rows");
    let out = support::run_with_env("bin/kafka-run-class.sh", &["kafka.tools.ConsumerOffsetChecker", "--group", "grp"], None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Missing required argument \"[zookeeper]\""));
}

/// The partitions' leaders as 0.8.2 handled them: a leader that is not registered (here
/// -1, its only replica stopped) gets 0.8.2's one line and no row, and --broker-info lists
/// the registered leaders asked, in the order 0.8.2's Scala map of them iterated.
#[test]
fn broker_info_lists_the_leaders_asked_and_an_offline_partition_has_no_row() {
    let mut cluster = Cluster::start(3, &[("offsets.topic.num.partitions", "1"), ("offsets.topic.replication.factor", "1")]);
    let rt = Cluster::runtime();
    let zk = rt.block_on(kafka08::zk::ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    // Partition 0 on broker 3, 1 on broker 2, 2 on broker 1.
    let assignment = std::collections::BTreeMap::from([(0, vec![3]), (1, vec![2]), (2, vec![1])]);
    rt.block_on(kafka08::admin::create_topic_with_assignment(&zk, "d", &assignment, &kafka08::common::Properties::new())).unwrap();
    cluster.wait_for_leaders("d", 3);
    rt.block_on(zk.update_persistent("/consumers/grp/offsets/d/0", b"0")).unwrap();
    cluster.brokers[0].kill();
    support::wait_until("partition 2 offline", Duration::from_secs(60), || {
        rt.block_on(zk.partition_state("d", 2)).ok().flatten().is_some_and(|s| s.leader == -1)
    });
    let out = support::run_with_env(
        "bin/kafka-run-class.sh",
        &["kafka.tools.ConsumerOffsetChecker", "--zookeeper", &cluster.zk.connect_string(), "--group", "grp", "--broker-info"],
        None,
        &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let fmt = |c: [&str; 7]| format!("{:<15} {:<30} {:<3} {:<15} {:<15} {:<15} {}", c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
    let expected = [
        fmt(["Group", "Topic", "Pid", "Offset", "logSize", "Lag", "Owner"]),
        fmt(["grp", "d", "0", "0", "0", "0", "none"]),
        fmt(["grp", "d", "1", "-1", "0", "unknown", "none"]),
        "Could not parse broker info due to null".to_string(),
        "BROKER INFO".to_string(),
        format!("2 -> {}", cluster.brokers[1].addr()),
        format!("3 -> {}", cluster.brokers[2].addr()),
    ];
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected, "{}", out.all());
}
