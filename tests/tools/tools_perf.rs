//! The 0.8.2 performance tools against a real one-broker cluster:
//! `bin/kafka-producer-perf-test.sh`, `bin/kafka-consumer-perf-test.sh`,
//! `bin/kafka-simple-consumer-perf-test.sh` and `kafka-run-class.sh
//! kafka.tools.TestEndToEndLatency` — what they store and read, and their output lines,
//! field by field, as 0.8.2 printed them.

use crate::support;

use kafka08::api::{OffsetsPartition, OffsetsRequest, OffsetsTopic};
use regex::Regex;
use support::cluster::{try_call, Cluster};

const PRODUCER_HEADER: &str = "start.time, end.time, compression, message.size, batch.size, total.data.sent.in.MB, MB.sec, total.data.sent.in.nMsg, nMsg.sec";
const CONSUMER_HEADER: &str = "start.time, end.time, fetch.size, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec";
const DETAILED_HEADER: &str = "time, fetch.size, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec";
/// `yyyy-MM-dd HH:mm:ss:SSS`, the default `--date-format`.
const DATE: &str = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3}";
const FIXED4: &str = r"\d+\.\d{4}";

fn tool(script: &str, args: &[&str]) -> support::Output {
    support::run_with_env(script, args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

fn run_class(class: &str, args: &[&str]) -> support::Output {
    let mut a = vec![class];
    a.extend_from_slice(args);
    tool("bin/kafka-run-class.sh", &a)
}

/// The log-end offset of each partition.
fn log_ends(cluster: &Cluster, topic: &str, partitions: i32) -> Vec<i64> {
    (0..partitions)
        .map(|p| {
            let req = OffsetsRequest {
                replica_id: -1,
                topics: vec![OffsetsTopic {
                    topic: topic.into(),
                    partitions: vec![OffsetsPartition { partition: p, time: -1, max_offsets: 1 }],
                }],
            };
            let r = try_call(&cluster.brokers[0].addr(), &req).expect("offsets answer");
            r.topics[0].partitions[0].offsets[0]
        })
        .collect()
}

/// The summary line's fields after checking its shape.
fn summary_fields(line: &str, re: &str) -> Vec<String> {
    let caps = Regex::new(re).unwrap().captures(line).unwrap_or_else(|| panic!("{line:?} does not match {re}"));
    caps.iter().skip(1).map(|c| c.map_or(String::new(), |m| m.as_str().to_string())).collect()
}

#[test]
fn perf_tools_send_and_read_every_message_and_print_0_8_2_lines() {
    let cluster = Cluster::start(1, &[]);
    let bl = cluster.bootstrap();
    let zk = cluster.zk.connect_string();
    cluster.create_topic("perf", 2, 1);

    // Producer: 5000 messages of 100 bytes, acks=1; header, then one summary line.
    let out = tool("bin/kafka-producer-perf-test.sh", &["--broker-list", &bl, "--topics", "perf", "--messages", "5000", "--request-num-acks", "1"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.all());
    assert_eq!(lines[0], PRODUCER_HEADER);
    let producer_re = format!(r"^({DATE}), ({DATE}), (\d+), (\d+), (\d+), (\d+\.\d{{2}}), ({FIXED4}), (\d+), ({FIXED4})$");
    let f = summary_fields(lines[1], &producer_re);
    assert_eq!(&f[2..6], &["0", "100", "200", "0.48"], "codec, size, batch, MB (5000 * 100 B): {}", lines[1]);
    assert_eq!(f[7], "5000");
    let ends = log_ends(&cluster, "perf", 2);
    assert_eq!(ends.iter().sum::<i64>(), 5000, "the topic holds exactly the messages sent: {ends:?}");
    assert!(ends.iter().all(|&e| e > 0), "messages are spread over the partitions: {ends:?}");

    // --hide-header, two threads, snappy, small batches, seq-id messages: 1000 more.
    let out = tool(
        "bin/kafka-producer-perf-test.sh",
        &[
            "--broker-list", &bl, "--topics", "perf", "--messages", "1000", "--threads", "2", "--batch-size", "50",
            "--compression-codec", "2", "--initial-message-id", "0", "--hide-header", "--request-num-acks", "-1",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "no header: {}", out.all());
    let f = summary_fields(lines[0], &producer_re);
    assert_eq!(&f[2..5], &["2", "100", "50"]);
    assert_eq!(f[7], "1000");
    let ends = log_ends(&cluster, "perf", 2);
    assert_eq!(ends.iter().sum::<i64>(), 6000);

    // Missing required flag: 0.8.2's one line, then the usage; exit 1.
    let out = tool("bin/kafka-producer-perf-test.sh", &["--broker-list", &bl, "--topics", "perf"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr.lines().next(), Some("Missing required argument \"[messages]\""), "{}", out.all());
    assert!(out.stderr.contains("--new-producer"), "usage follows: {}", out.all());
    let out = tool("bin/kafka-producer-perf-test.sh", &["--broker-list", &bl, "--topics", "perf", "--messages", "1", "--compression-codec", "7"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr.lines().next(), Some("7 is an unknown compression codec"), "{}", out.all());

    // High-level consumer: reads all 6000 from the beginning (its group is new).
    let out = tool("bin/kafka-consumer-perf-test.sh", &["--zookeeper", &zk, "--topic", "perf", "--group", "pg", "--threads", "2"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.all());
    assert_eq!(lines[0], CONSUMER_HEADER);
    let consumer_re = format!(r"^({DATE}), ({DATE}), (\d+), ({FIXED4}), ({FIXED4}), (\d+), ({FIXED4})$");
    let f = summary_fields(lines[1], &consumer_re);
    assert_eq!(f[2], "1048576", "fetch.size");
    assert_eq!(f[3], "0.5722", "MB: 6000 * 100 B");
    assert_eq!(f[5], "6000", "data.consumed.in.nMsg");

    // The same group again: 0.8.2 deletes the group's znodes first, so it reads everything
    // again; one stream that stops at --messages; detailed lines every 2000 messages.
    let out = tool(
        "bin/kafka-consumer-perf-test.sh",
        &["--zookeeper", &zk, "--topic", "perf", "--group", "pg", "--threads", "1", "--messages", "6000", "--reporting-interval", "2000", "--show-detailed-stats"],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], DETAILED_HEADER, "{}", out.all());
    let detail_re = Regex::new(&format!(r"^{DATE}, 0, 1048576, {FIXED4}, (?:{FIXED4}|Infinity|NaN), (\d+), (?:{FIXED4}|Infinity|NaN)$")).unwrap();
    let counts: Vec<String> = lines[1..]
        .iter()
        .map(|l| detail_re.captures(l).unwrap_or_else(|| panic!("{l:?}: {}", out.all()))[1].to_string())
        .collect();
    assert_eq!(counts, ["2000", "4000", "6000", "6000"], "three interval lines and the stream's final line");

    // Simple consumer: one partition from its broker; reads what partition 0 holds.
    let server = format!("kafka://{}", cluster.brokers[0].addr());
    let out = tool("bin/kafka-simple-consumer-perf-test.sh", &["--server", &server, "--topic", "perf", "--partition", "0"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.all());
    assert_eq!(lines[0], CONSUMER_HEADER);
    let f = summary_fields(lines[1], &consumer_re);
    assert_eq!(f[5], ends[0].to_string(), "partition 0 holds {} messages", ends[0]);
    let out = tool("bin/kafka-simple-consumer-perf-test.sh", &["--server", "localhost:1", "--topic", "perf"]);
    assert_eq!(out.code, Some(1), "{}", out.all());

    // End-to-end latency: positional arguments, 0.8.2's lines.
    cluster.create_topic("lat", 1, 1);
    let out = run_class("kafka.tools.TestEndToEndLatency", &[&bl, &zk, "lat", "20", "10", "1"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.all());
    assert!(Regex::new(r"^0\t\d+\.\d+(E-?\d+)?$").unwrap().is_match(lines[0]), "{}", out.all());
    assert!(Regex::new(&format!(r"^Avg latency: {FIXED4} ms$")).unwrap().is_match(lines[1]), "{}", out.all());
    assert_eq!(lines[2], "");
    assert!(Regex::new(r"^Percentiles: 50th = \d+, 99th = \d+, 99\.9th = \d+$").unwrap().is_match(lines[3]), "{}", out.all());
    assert_eq!(log_ends(&cluster, "lat", 1), [20], "one message per round");
    let out = run_class("kafka.tools.TestEndToEndLatency", &[&bl, &zk, "lat", "20"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr.trim(),
        "USAGE: java kafka.tools.TestEndToEndLatency$ broker_list zookeeper_connect topic num_messages consumer_fetch_max_wait producer_acks"
    );
}
