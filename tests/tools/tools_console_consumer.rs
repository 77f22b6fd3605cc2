//! `bin/kafka-console-consumer.sh --zookeeper`: values one per line, `--max-messages`,
//! `consumer.timeout.ms`, generated groups removed at exit, `--from-beginning` refused on
//! a group with offsets unless `--delete-consumer-offsets`, `print.key`.

use crate::support;

use std::time::Duration;
use support::cluster::Cluster;
use support::producer::TestProducer;

fn consume(args: &[&str]) -> support::Output {
    support::run_with_env("bin/kafka-console-consumer.sh", args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

#[test]
fn console_consumer_behaves_as_082() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("cc", 1, 1);
    let zk = cluster.zk.connect_string();
    let mut p = TestProducer::new(vec![cluster.brokers[0].addr()], "cc");
    for v in ["This is a message", "This is another message", "third"] {
        p.send(0, v, Duration::from_secs(20)).unwrap();
    }
    let out = consume(&["--zookeeper", &zk, "--topic", "cc", "--from-beginning", "--max-messages", "3"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "This is a message\nThis is another message\nthird\n");
    assert!(out.stderr.contains("Consumed 3 messages"), "{}", out.all());
    let rt = Cluster::runtime();
    let z = rt.block_on(kafka08::zk::ZkClient::connect(&zk, Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let groups = rt.block_on(z.get_children("/consumers")).unwrap().unwrap_or_default();
    assert!(!groups.iter().any(|g| g.starts_with("console-consumer-")), "generated group removed: {:?}", groups);

    // A named group: consumer.timeout.ms ends it; offsets are committed and kept.
    let out = consume(&["--zookeeper", &zk, "--topic", "cc", "--group", "g1", "--from-beginning", "--consumer-timeout-ms", "3000"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout.lines().count(), 3);
    let off = rt.block_on(z.get_data("/consumers/g1/offsets/cc/0")).unwrap().expect("offset committed").0;
    assert_eq!(off, b"3");
    // --from-beginning on a group with offsets is refused, unless they are deleted.
    let out = consume(&["--zookeeper", &zk, "--topic", "cc", "--group", "g1", "--from-beginning", "--consumer-timeout-ms", "3000"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Found previous offset information for this group g1"), "{}", out.all());
    let out = consume(&["--zookeeper", &zk, "--topic", "cc", "--group", "g1", "--from-beginning", "--delete-consumer-offsets", "--max-messages", "1", "--property", "print.key=true", "--property", "key.separator=|"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "null|This is a message\n");

    // Whitelist and a flag error.
    let out = consume(&["--zookeeper", &zk, "--whitelist", "c.*", "--from-beginning", "--max-messages", "3"]);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.all());
    let out = consume(&["--zookeeper", &zk, "--topic", "cc", "--whitelist", "x"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Exactly one of whitelist/blacklist/topic is required."), "{}", out.all());
}

/// `--blacklist` reads every other topic; `--consumer.config` supplies the group and
/// `consumer.timeout.ms` (the flags keep their 0.8.2 defaults otherwise); the group named in
/// the file keeps its offsets; `--skip-message-on-error` is accepted.
#[test]
fn blacklist_and_consumer_config_as_082() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("bl-a", 1, 1);
    cluster.create_topic("bl-b", 1, 1);
    let zk = cluster.zk.connect_string();
    let mut a = TestProducer::new(vec![cluster.brokers[0].addr()], "bl-a");
    for v in ["a1", "a2", "a3"] {
        a.send(0, v, Duration::from_secs(20)).unwrap();
    }
    let mut b = TestProducer::new(vec![cluster.brokers[0].addr()], "bl-b");
    for v in ["b1", "b2"] {
        b.send(0, v, Duration::from_secs(20)).unwrap();
    }
    let out = consume(&["--zookeeper", &zk, "--blacklist", "bl-b", "--from-beginning", "--consumer-timeout-ms", "3000", "--skip-message-on-error"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "a1\na2\na3\n", "everything but the blacklisted topic");

    let dir = support::TempDir::new("cc-config");
    let config = dir.path().join("consumer.properties");
    std::fs::write(&config, "# as config/consumer.properties\ngroup.id=from-file\nconsumer.timeout.ms=2000\n").unwrap();
    let out = consume(&["--zookeeper", &zk, "--topic", "bl-b", "--from-beginning", "--consumer.config", config.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "ends on the file's consumer.timeout.ms: {}", out.all());
    assert_eq!(out.stdout, "b1\nb2\n");
    let rt = Cluster::runtime();
    let z = rt.block_on(kafka08::zk::ZkClient::connect(&zk, Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let off = rt.block_on(z.get_data("/consumers/from-file/offsets/bl-b/0")).unwrap().expect("the file's group keeps its offsets").0;
    assert_eq!(off, b"2");
    let out = consume(&["--zookeeper", &zk, "--topic", "bl-b", "--consumer.config", "/nonexistent/consumer.properties"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.all());
}
