//! The Prometheus metrics endpoint (`metrics.http.port`) of real brokers, scraped in both
//! exposition formats and parsed by the Prometheus project's own parser
//! (`tests/metrics/parse_metrics.py`, prometheus_client in the project's venv): the
//! JMX exporter's names and types, counters that move by exactly what the test sent,
//! log sizes equal to the bytes on disk, under-replication that follows a killed
//! follower, and exactly one active controller.

use crate::support;

use kafka08::api;
use kafka08::metrics::REQUEST_TIMERS;
use kafka08::message::{encode_messages, CompressionCodec, Message};
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::kafka::KafkaBroker;
use support::{free_port, project_root, wait_until, ZkServer};

/// A cluster whose brokers each serve metrics on a port of their own.
fn start_cluster(n: i32) -> (Cluster, Vec<u16>) {
    let zk = ZkServer::start();
    let mut ports = Vec::new();
    let mut brokers = Vec::new();
    for id in 1..=n {
        let port = free_port();
        ports.push(port);
        let port = port.to_string();
        brokers.push(KafkaBroker::start(id, &zk.connect_string(), &[("metrics.http.port", &port), ("metrics.http.host", "127.0.0.1")]));
    }
    let c = Cluster { brokers, zk };
    wait_until("every broker knows every broker", Duration::from_secs(60), || {
        c.brokers.iter().all(|b| try_call(&b.addr(), &api::MetadataRequest { topics: vec![] }).is_some_and(|m| m.brokers.len() == n as usize))
    });
    (c, ports)
}

struct Scrape {
    types: HashMap<String, String>,
    samples: Vec<(String, HashMap<String, String>, f64)>,
}

impl Scrape {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && l.len() == labels.len() && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| *v)
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| panic!("no sample {}{:?}", name, labels))
    }
}

/// Scrape `port` in both formats through the Prometheus parser; panics if it does not parse.
fn scrape(port: u16) -> Scrape {
    let out = Command::new(project_root().join(".venv/bin/python"))
        .arg(project_root().join("tests/metrics/parse_metrics.py"))
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .expect("run parse_metrics.py (zk-scripts/install.sh sets up the venv)");
    assert!(out.status.success(), "the Prometheus parser refused the endpoint: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("parser output is JSON");
    let types = v["types"].as_object().expect("types").iter().map(|(k, t)| (k.clone(), t.as_str().unwrap_or("").to_string())).collect();
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| {
            let labels = s[1].as_object().expect("labels").iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect();
            (s[0].as_str().expect("name").to_string(), labels, s[2].as_f64().expect("value"))
        })
        .collect();
    Scrape { types, samples }
}

fn produce_request(topic: &str, partition: i32, value: &str) -> api::ProduceRequest {
    let set = encode_messages(CompressionCodec::None, &[Message::new(None, Some(value.as_bytes()), CompressionCodec::None)], 0);
    api::ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topics: vec![api::ProduceTopic { topic: topic.into(), partitions: vec![api::ProducePartition { partition, message_set: set }] }],
    }
}

fn fetch_request(topic: &str, partition: i32) -> api::FetchRequest {
    api::FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        topics: vec![api::FetchTopic { topic: topic.into(), partitions: vec![api::FetchPartition { partition, fetch_offset: 0, max_bytes: 1 << 20 }] }],
    }
}

/// Bytes of the `.log` files of one partition's folder.
fn bytes_on_disk(broker: &KafkaBroker, topic: &str, partition: i32) -> u64 {
    let dir = broker.data_dir().join(format!("{topic}-{partition}"));
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

#[test]
fn counters_move_by_exactly_what_was_produced_and_fetched_under_the_exporter_names() {
    let (cluster, ports) = start_cluster(1);
    let topic = "metered";
    cluster.create_topic(topic, 2, 1);
    let before = scrape(ports[0]);
    let produce_before = before.value("kafka_network_requestmetrics_requests_total", &[("request", "Produce")]);
    let timer_counts_before: Vec<f64> =
        REQUEST_TIMERS.iter().map(|(t, _)| before.value(&format!("{t}_count"), &[("request", "Produce")])).collect();

    // 7 + 5 messages of different sizes, one per request (the only broker leads both).
    let mut sent_bytes = [0u64; 2];
    let mut sent = [0u64; 2];
    for i in 0..12 {
        let partition = if i < 7 { 0 } else { 1 };
        let value = "x".repeat(10 + i * 3);
        let r = try_call(&cluster.brokers[0].addr(), &produce_request(topic, partition, &value)).expect("produce answer");
        assert_eq!(r.topics[0].partitions[0].error_code, kafka08::common::ErrorCode::NoError);
        // A one-message set: offset, size, crc, magic, attributes, null key, value.
        sent_bytes[partition as usize] += (8 + 4 + 4 + 1 + 1 + 4 + 4 + value.len()) as u64;
        sent[partition as usize] += 1;
    }

    // Consumer fetches of both partitions.
    let mut fetched = 0u64;
    for p in 0..2 {
        let r = try_call(&cluster.brokers[0].addr(), &fetch_request(topic, p)).expect("fetch");
        fetched += r.topics[0].partitions[0].message_set.len() as u64;
    }
    assert_eq!(fetched, sent_bytes[0] + sent_bytes[1], "a fetch from 0 returns every byte appended");

    // One failed partition each way: partition 9 does not exist.
    let r = try_call(&cluster.brokers[0].addr(), &produce_request(topic, 9, "lost")).expect("produce answer");
    assert_ne!(r.topics[0].partitions[0].error_code, kafka08::common::ErrorCode::NoError);
    let r = try_call(&cluster.brokers[0].addr(), &fetch_request(topic, 9)).expect("fetch answer");
    assert_ne!(r.topics[0].partitions[0].error_code, kafka08::common::ErrorCode::NoError);

    let m = scrape(ports[0]);
    let t = [("topic", topic)];
    assert_eq!(m.value("kafka_server_brokertopicmetrics_messagesin_total", &t), 12.0);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_messagesin_total", &[]), 12.0);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_bytesin_total", &t), (sent_bytes[0] + sent_bytes[1]) as f64);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_bytesin_total", &[]), (sent_bytes[0] + sent_bytes[1]) as f64);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_bytesout_total", &t), fetched as f64);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_bytesout_total", &[]), fetched as f64);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_failedproducerequests_total", &t), 1.0);
    assert_eq!(m.value("kafka_server_brokertopicmetrics_failedfetchrequests_total", &t), 1.0);
    assert_eq!(m.value("kafka_network_requestmetrics_requests_total", &[("request", "Produce")]) - produce_before, 13.0);
    assert_eq!(m.value("kafka_network_requestmetrics_requests_total", &[("request", "FetchConsumer")]), 3.0);
    assert_eq!(m.value("kafka_network_requestmetrics_requests_total", &[("request", "Fetch")]), 3.0);
    assert_eq!(m.value("kafka_network_requestmetrics_requests_total", &[("request", "FetchFollower")]), 0.0);
    assert_eq!(m.value("kafka_network_requestmetrics_totaltimems_count", &[("request", "Produce")]) - produce_before, 13.0);
    assert!(m.value("kafka_network_requestmetrics_totaltimems", &[("request", "Produce"), ("quantile", "0.99")]) > 0.0);
    // Every stage timer of 0.8.2's RequestMetrics counted each produce once.
    for ((timer, _), before) in REQUEST_TIMERS.iter().zip(&timer_counts_before) {
        assert_eq!(m.value(&format!("{timer}_count"), &[("request", "Produce")]) - before, 13.0, "{timer}");
        assert_eq!(m.value(&format!("{timer}_count"), &[("request", "FetchConsumer")]), 3.0, "{timer}");
        assert_eq!(m.types.get(*timer).map(String::as_str), Some("gauge"), "type of {timer}");
        for q in ["0.50", "0.75", "0.95", "0.98", "0.99", "0.999"] {
            assert!(m.get(timer, &[("request", "Produce"), ("quantile", q)]).is_some(), "{timer} {q}");
        }
    }

    // Log gauges: the bytes on disk, and the next offset.
    for p in 0..2 {
        let labels = [("topic", topic), ("partition", if p == 0 { "0" } else { "1" })];
        let on_disk = bytes_on_disk(&cluster.brokers[0], topic, p);
        assert_eq!(on_disk, sent_bytes[p as usize], "the log holds the produced sets byte for byte");
        assert_eq!(m.value("kafka_log_log_size", &labels), on_disk as f64);
        assert_eq!(m.value("kafka_log_log_logendoffset", &labels), sent[p as usize] as f64);
    }

    // Replica manager and controller gauges of a one-broker cluster.
    assert_eq!(m.value("kafka_server_replicamanager_partitioncount", &[]), 2.0);
    assert_eq!(m.value("kafka_server_replicamanager_leadercount", &[]), 2.0);
    assert_eq!(m.value("kafka_server_replicamanager_underreplicatedpartitions", &[]), 0.0);
    assert_eq!(m.value("kafka_controller_kafkacontroller_activecontrollercount", &[]), 1.0);
    assert_eq!(m.value("kafka_controller_kafkacontroller_offlinepartitionscount", &[]), 0.0);
    assert_eq!(m.value("kafka_server_replicafetchermanager_maxlag", &[("clientId", "Replica")]), 0.0);
    assert!(m.value("kafka_controller_controllerstats_leaderelectionrateandtimems_count", &[]) >= 1.0, "electing the new topic's leaders is timed");
    assert!(m.value("process_open_fds", &[]) > 0.0);
    assert!(m.value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(m.get("process_cpu_seconds_total", &[]).is_some());
    assert!(m.get("process_start_time_seconds", &[]).is_some());

    // Types as the exporter's rules declare them (the parser names a counter family
    // without its _total; an untyped family is "unknown").
    for (family, ty) in [
        ("kafka_server_brokertopicmetrics_messagesin", "counter"),
        ("kafka_server_replicamanager_isrshrinks", "counter"),
        ("kafka_controller_controllerstats_uncleanleaderelections", "counter"),
        ("kafka_server_replicamanager_underreplicatedpartitions", "gauge"),
        ("kafka_controller_kafkacontroller_activecontrollercount", "gauge"),
        ("kafka_network_requestmetrics_totaltimems", "gauge"),
        ("kafka_network_requestmetrics_totaltimems_count", "unknown"),
        ("kafka_network_requestchannel_requestqueuesize", "gauge"),
        ("kafka_log_log_size", "gauge"),
        ("kafka_log_logflushstats_logflushrateandtimems", "gauge"),
        ("process_cpu_seconds", "counter"),
    ] {
        assert_eq!(m.types.get(family).map(String::as_str), Some(ty), "type of {family}");
    }

    // A consumer's long poll at the log end waits its max_wait_ms in the purgatory: that is
    // remote time, not local time, and it is in the total.
    let wait_ms = 400;
    let mut long_poll = fetch_request(topic, 0);
    long_poll.max_wait_ms = wait_ms;
    long_poll.min_bytes = 1;
    long_poll.topics[0].partitions[0].fetch_offset = sent[0] as i64;
    let r = try_call(&cluster.brokers[0].addr(), &long_poll).expect("long poll");
    assert!(r.topics[0].partitions[0].message_set.is_empty());
    let consumer = |q: &'static str| [("request", "FetchConsumer"), ("quantile", q)];
    let mut last = None;
    wait_until("the long poll is timed", Duration::from_secs(30), || {
        let m = scrape(ports[0]);
        let counted = m.value("kafka_network_requestmetrics_remotetimems_count", &[("request", "FetchConsumer")]) == 4.0;
        last = Some(m);
        counted
    });
    let m = last.expect("a scrape");
    // The slowest of the four consumer fetches is the long poll (a bucket is within 1/8).
    let remote = m.value("kafka_network_requestmetrics_remotetimems", &consumer("0.999"));
    let total = m.value("kafka_network_requestmetrics_totaltimems", &consumer("0.999"));
    let local = m.value("kafka_network_requestmetrics_localtimems", &consumer("0.999"));
    assert!(remote >= wait_ms as f64 * 0.85, "remote time {remote} ms of a {wait_ms} ms long poll");
    assert!(total >= remote * 0.85, "total {total} ms below remote {remote} ms");
    assert!(local < wait_ms as f64 / 2.0, "the wait counted as local time: {local} ms");
}

#[test]
fn under_replicated_follows_a_killed_follower_and_exactly_one_broker_is_the_active_controller() {
    let (mut cluster, ports) = start_cluster(3);
    let topic = "guarded";
    cluster.create_topic(topic, 1, 3);
    wait_until("the ISR is complete", Duration::from_secs(30), || {
        try_call(&cluster.brokers[0].addr(), &api::MetadataRequest { topics: vec![topic.into()] })
            .is_some_and(|m| m.topics[0].partitions[0].isr.len() == 3)
    });

    let active: Vec<f64> = ports.iter().map(|p| scrape(*p).value("kafka_controller_kafkacontroller_activecontrollercount", &[])).collect();
    assert_eq!(active.iter().filter(|v| **v == 1.0).count(), 1, "exactly one active controller: {active:?}");
    assert_eq!(active.iter().sum::<f64>(), 1.0, "the others report 0: {active:?}");

    let md = try_call(&cluster.brokers[0].addr(), &api::MetadataRequest { topics: vec![topic.into()] }).expect("metadata");
    let leader = md.topics[0].partitions[0].leader;
    let leader_idx = cluster.brokers.iter().position(|b| b.id == leader).expect("leader is ours");
    let follower_idx = (0..3).find(|i| *i != leader_idx).expect("a follower");
    let under = |port: u16| scrape(port).value("kafka_server_replicamanager_underreplicatedpartitions", &[]);
    assert_eq!(under(ports[leader_idx]), 0.0);

    cluster.brokers[follower_idx].kill();
    wait_until("the leader reports the partition under-replicated", Duration::from_secs(60), || under(ports[leader_idx]) == 1.0);
    for (i, p) in ports.iter().enumerate() {
        if i != leader_idx && i != follower_idx {
            assert_eq!(under(*p), 0.0, "only a leader counts its under-replicated partitions");
        }
    }

    let expands_before = scrape(ports[leader_idx]).value("kafka_server_replicamanager_isrexpands_total", &[]);
    cluster.brokers[follower_idx].restart();
    wait_until("the partition is fully replicated again", Duration::from_secs(60), || under(ports[leader_idx]) == 0.0);
    let m = scrape(ports[leader_idx]);
    assert!(m.value("kafka_server_replicamanager_isrexpands_total", &[]) > expands_before, "the follower's return is an ISR expansion");
    assert!(m.value("kafka_network_requestmetrics_requests_total", &[("request", "FetchFollower")]) > 0.0, "followers fetch from the leader");
}
