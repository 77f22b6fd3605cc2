//! `bin/kafka-console-producer.sh`: one message per stdin line, sync and async, with
//! compression and `parse.key`, read back from the broker.

mod support;

use std::time::Duration;
use support::cluster::Cluster;
use support::producer::read_partition;

fn produce(args: &[&str], stdin: &str) -> support::Output {
    support::run_with_env("bin/kafka-console-producer.sh", args, Some(stdin), &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

#[test]
fn lines_become_messages() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("lines", 1, 1);
    let bl = cluster.bootstrap();
    let out = produce(&["--broker-list", &bl, "--topic", "lines"], "This is a message\nThis is another message\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let out = produce(&["--broker-list", &bl, "--topic", "lines", "--sync", "--compression-codec", "snappy", "--request-required-acks", "1"], "third\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let got: Vec<String> = read_partition(&[bl.clone()], "lines", 0, Duration::from_secs(30)).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, vec!["This is a message", "This is another message", "third"]);

    // parse.key: the key goes before the separator.
    let out = produce(&["--broker-list", &bl, "--topic", "lines", "--sync", "--property", "parse.key=true", "--property", "key.separator=:"], "k1:v1\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let last = read_partition(&[bl.clone()], "lines", 0, Duration::from_secs(30));
    assert_eq!(last.last().unwrap().1, "v1");

    // Bad flags: one line, usage, non-zero.
    let out = produce(&["--topic", "lines"], "");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Missing required argument \"[broker-list]\""), "{}", out.all());
    let out = produce(&["--broker-list", &bl, "--topic", "lines", "--compression-codec", "zip"], "x\n");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Unknown compression codec zip"), "{}", out.all());
}
