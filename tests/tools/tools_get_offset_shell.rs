//! `bin/kafka-run-class.sh kafka.tools.GetOffsetShell` against a live broker: 0.8.2's
//! `topic:partition:offset` lines for latest, earliest and several offsets.

use crate::support;

use std::time::Duration;
use support::cluster::Cluster;
use support::producer::TestProducer;

fn shell(args: &[&str]) -> support::Output {
    let mut a = vec!["kafka.tools.GetOffsetShell"];
    a.extend_from_slice(args);
    support::run_with_env("bin/kafka-run-class.sh", &a, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

#[test]
fn prints_topic_partition_offset_lines() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("g", 2, 1);
    let bl = cluster.bootstrap();
    let mut p = TestProducer::new(vec![cluster.brokers[0].addr()], "g");
    for i in 0..7 {
        p.send(0, &format!("m{i}"), Duration::from_secs(20)).unwrap();
    }
    let out = shell(&["--broker-list", &bl, "--topic", "g", "--time", "-1"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "g:0:7\ng:1:0\n");
    let out = shell(&["--broker-list", &bl, "--topic", "g", "--time", "-2", "--partitions", "0"]);
    assert_eq!(out.stdout, "g:0:0\n");
    let out = shell(&["--broker-list", &bl, "--topic", "g", "--time", "-1", "--offsets", "5", "--partitions", "0"]);
    assert_eq!(out.stdout, "g:0:7,0\n", "latest then segment base offsets, descending");
    // Errors: unknown partition, missing flag, unknown topic.
    let out = shell(&["--broker-list", &bl, "--topic", "g", "--time", "-1", "--partitions", "9"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Error: partition 9 does not exist"), "{}", out.all());
    let out = shell(&["--broker-list", &bl, "--topic", "g"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Missing required argument \"[time]\""), "{}", out.all());
    let md_off = Cluster::start(1, &[("auto.create.topics.enable", "false")]);
    let out = shell(&["--broker-list", &md_off.bootstrap(), "--topic", "nosuch", "--time", "-1"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no valid topic metadata for topic: nosuch"), "{}", out.all());
}
