//! `bin/kafka-replay-log-producer.sh` (`kafka.tools.ReplayLogProducer`): replays a topic
//! into another with keys and values as they were, `--messages` per stream; a missing
//! required flag is 0.8.2's usage error with exit 1.

use crate::support;

use kafka08::producer::{BlockingProducer, KeyedMessage};
use std::collections::BTreeMap;
use std::time::Duration;
use support::cluster::Cluster;
use support::producer::read_keyed_partition;
use support::run_with_env;

const INPUT: &str = "replay-in";
const OUTPUT: &str = "replay-out";

fn replay(args: &[&str]) -> support::Output {
    run_with_env("bin/kafka-replay-log-producer.sh", args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

/// (key, value) → how many times, over every partition of `topic`.
fn contents(c: &Cluster, topic: &str, partitions: i32) -> BTreeMap<(Option<String>, String), usize> {
    let mut out = BTreeMap::new();
    for p in 0..partitions {
        for kv in read_keyed_partition(&c.brokers[0].addr(), topic, p) {
            *out.entry(kv).or_default() += 1;
        }
    }
    out
}

#[test]
fn replays_a_topic_into_another_with_keys_and_values() {
    let c = Cluster::start(1, &[]);
    c.create_topic(INPUT, 2, 1);
    c.create_topic(OUTPUT, 3, 1);
    let mut props = kafka08::common::Properties::new();
    props.set("metadata.broker.list", c.bootstrap());
    props.set("request.required.acks", "-1");
    let producer = BlockingProducer::from_properties(&props).expect("producer");
    let mut sent = Vec::new();
    for i in 0..40 {
        // Keyed and unkeyed messages, and a key with an empty value.
        let m = match i % 4 {
            0 => KeyedMessage::new(INPUT, format!("plain-{i}")).partition_key(i.to_string()),
            1 => KeyedMessage::with_key(INPUT, format!("key-{}", i % 5), String::new()),
            _ => KeyedMessage::with_key(INPUT, format!("key-{}", i % 5), format!("value-{i}")),
        };
        sent.push(m);
    }
    producer.send(sent).expect("produce the input");
    let want = contents(&c, INPUT, 2);
    assert_eq!(want.values().sum::<usize>(), 40);

    let zk = c.zk.connect_string();
    let out = replay(&[
        "--zookeeper",
        &zk,
        "--broker-list",
        &c.bootstrap(),
        "--inputtopic",
        INPUT,
        "--outputtopic",
        OUTPUT,
        "--messages",
        "40",
        "--sync",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(contents(&c, OUTPUT, 3), want, "every message replayed once, key and value as they were");

    // Without --sync the producer batches in the background; the tool still waits for
    // every message before it exits. Two threads and no --messages: each stream replays
    // everything it gets, and ends 10 s after its last message (consumer.timeout.ms). The
    // group's offsets of the first run were deleted, so the output holds everything twice.
    let out = replay(&[
        "--zookeeper",
        &zk,
        "--broker-list",
        &c.bootstrap(),
        "--inputtopic",
        INPUT,
        "--outputtopic",
        OUTPUT,
        "--threads",
        "2",
        "--property",
        "acks=all",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let twice: BTreeMap<_, _> = want.iter().map(|(k, n)| (k.clone(), n * 2)).collect();
    support::wait_until("the second replay is readable", Duration::from_secs(30), || contents(&c, OUTPUT, 3) == twice);
}

#[test]
fn a_missing_required_flag_is_082s_usage_error() {
    for (args, first_line) in [
        (&[][..], "Missing required argument \"[broker-list]\""),
        (&["--broker-list", "localhost:9092"][..], "Missing required argument \"[inputtopic]\""),
        (&["--inputtopic", "a", "--outputtopic", "b"][..], "Missing required argument \"[broker-list]\""),
        (&["--broker-list", "localhost", "--inputtopic", "a", "--outputtopic", "b"][..], "Please provide valid host:port like host1:9091,host2:9092"),
        (&["--broker-list", "localhost:9092", "--inputtopic", "a"][..], "Missing required argument \"[outputtopic]\""),
        (&["--broker-list", "localhost:9092", "--inputtopic", "a", "--outputtopic", "b", "--messages", "x"][..], "Cannot parse argument 'x' of option messages"),
    ] {
        let out = replay(args);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.all());
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(out.stderr.lines().next(), Some(first_line), "{args:?}: {}", out.all());
        assert!(out.stderr.contains("--outputtopic <output-topic>"), "the usage follows: {}", out.all());
        assert!(out.stderr.contains("(default: 127.0.0.1:2181)"), "{}", out.all());
    }
}
