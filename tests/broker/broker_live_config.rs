//! Configuration a user sets on a running broker, seen end to end on the real process:
//! retention (`log.retention.ms`, `log.retention.bytes`, `log.segment.bytes`, the topic
//! override `retention.ms` given at creation or with `kafka-topics.sh --alter --config`)
//! deletes old segments within a deadline and moves the earliest offset; `--override
//! key=value` on `bin/kafka-server-start.sh` takes effect; and `advertised.host.name` /
//! `advertised.port` are what the broker registers in ZooKeeper and what Metadata answers,
//! so a client that bootstraps through the real address goes on through the advertised one.

use crate::support;

use kafka08::api::{self, EARLIEST_TIME};
use kafka08::common::ErrorCode;
use kafka08::zk::{json, paths, ZkClient};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::kafka::KafkaBroker;
use support::producer::TestProducer;
use support::{free_port, run_with_env, wait_until, Output, TempDir, ZkServer};

const DEADLINE: Duration = Duration::from_secs(60);

fn topics_sh(zk: &str, args: &[&str]) -> Output {
    let mut a = vec!["--zookeeper", zk];
    a.extend_from_slice(args);
    let out = run_with_env("bin/kafka-topics.sh", &a, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))]);
    assert_eq!(out.code, Some(0), "kafka-topics.sh {args:?}: {}", out.all());
    out
}

/// The partition's earliest offset (Offsets, time -2), if the broker answers it.
fn earliest_offset(addr: &str, topic: &str) -> Option<i64> {
    let r = try_call(
        addr,
        &api::OffsetsRequest {
            replica_id: -1,
            topics: vec![api::OffsetsTopic {
                topic: topic.into(),
                partitions: vec![api::OffsetsPartition { partition: 0, time: EARLIEST_TIME, max_offsets: 1 }],
            }],
        },
    )?;
    let p = r.topics.first()?.partitions.first()?;
    (p.error_code == ErrorCode::NoError).then(|| p.offsets.first().copied()).flatten()
}

/// The `.log` files of partition 0 of `topic` (any suffix), sorted.
fn segment_files(broker: &KafkaBroker, topic: &str) -> Vec<String> {
    let dir = broker.data_dir().join(format!("{topic}-0"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".log")).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn dir_log_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// `count` acks=-1 messages of ~200 bytes to partition 0 of `topic`: with 1 KiB segments,
/// about five messages a segment.
fn produce(addr: &str, topic: &str, count: usize) {
    let mut p = TestProducer::new(vec![addr.to_string()], topic);
    for i in 0..count {
        let value = format!("{topic}-{i:04}-{}", "x".repeat(180));
        assert!(p.send(0, &value, DEADLINE).is_some(), "message {i} to {topic} not acknowledged");
    }
}

#[test]
fn a_running_broker_deletes_segments_past_retention_ms_and_the_topic_override_at_creation_and_by_alter() {
    let zk = ZkServer::start();
    // The broker default keeps a week; log.retention.ms would win over hours if set, so
    // here only the topic overrides shorten it.
    let broker = KafkaBroker::start(
        1,
        &zk.connect_string(),
        &[
            ("log.segment.bytes", "1024"),
            ("log.retention.hours", "168"),
            ("log.retention.check.interval.ms", "200"),
            ("log.segment.delete.delay.ms", "0"),
            ("auto.create.topics.enable", "false"),
        ],
    );
    let zkc = zk.connect_string();
    topics_sh(&zkc, &["--create", "--topic", "short", "--partitions", "1", "--replication-factor", "1", "--config", "retention.ms=1000"]);
    topics_sh(&zkc, &["--create", "--topic", "kept", "--partitions", "1", "--replication-factor", "1"]);
    produce(&broker.addr(), "short", 40);
    produce(&broker.addr(), "kept", 40);
    let kept_segments = segment_files(&broker, "kept");
    assert!(kept_segments.len() >= 5, "1 KiB segments roll: {kept_segments:?}");

    // "short" (retention.ms=1000 from its creation): every segment but the active one
    // ages out and is deleted; the earliest offset leaves 0.
    wait_until("the override retention.ms=1000 deletes short's old segments", DEADLINE, || {
        let files = segment_files(&broker, "short");
        files.len() == 1 && files[0] != "00000000000000000000.log" && earliest_offset(&broker.addr(), "short").is_some_and(|o| o > 0)
    });
    // "kept" has the week-long default and went through the same retention checks.
    assert_eq!(earliest_offset(&broker.addr(), "kept"), Some(0));
    assert_eq!(segment_files(&broker, "kept"), kept_segments, "the broker default keeps a week");

    // Now shorten "kept" with --alter --config: the running broker picks the change up.
    topics_sh(&zkc, &["--alter", "--topic", "kept", "--config", "retention.ms=1000"]);
    wait_until("retention.ms=1000 set by --alter deletes kept's old segments", DEADLINE, || {
        segment_files(&broker, "kept").len() == 1 && earliest_offset(&broker.addr(), "kept").is_some_and(|o| o > 0)
    });
}

/// A one-broker cluster with 1 KiB segments, retention checked every 200 ms and deleted
/// segments removed at once, plus `extra`; `topic` created with one partition.
fn retention_broker(extra: &[(&str, &str)], topic: &str) -> (ZkServer, KafkaBroker) {
    let zk = ZkServer::start();
    let mut props =
        vec![("log.segment.bytes", "1024"), ("log.retention.check.interval.ms", "200"), ("log.segment.delete.delay.ms", "0")];
    props.extend_from_slice(extra);
    let broker = KafkaBroker::start(1, &zk.connect_string(), &props);
    topics_sh(&zk.connect_string(), &["--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1"]);
    (zk, broker)
}

#[test]
fn a_running_broker_applies_log_retention_ms_over_hours() {
    // log.retention.ms wins over log.retention.hours (0.8.2's precedence: ms, minutes, hours).
    let (_zk, by_time) = retention_broker(&[("log.retention.hours", "168"), ("log.retention.ms", "1000")], "timed");
    produce(&by_time.addr(), "timed", 30);
    wait_until("log.retention.ms=1000 deletes old segments", DEADLINE, || {
        segment_files(&by_time, "timed").len() == 1 && earliest_offset(&by_time.addr(), "timed").is_some_and(|o| o > 0)
    });
}

#[test]
fn a_running_broker_applies_log_retention_bytes() {
    // By size: 0.8.2 deletes the oldest segments while the log stays at least
    // log.retention.bytes without them, so at most retention + one segment remains.
    let (_zk, by_size) = retention_broker(&[("log.retention.bytes", "3000")], "sized");
    produce(&by_size.addr(), "sized", 60);
    let dir = by_size.data_dir().join("sized-0");
    let mut left = 0;
    wait_until("log.retention.bytes=3000 deletes the oldest segments", DEADLINE, || {
        left = dir_log_bytes(&dir);
        left <= 3000 + 1024 && earliest_offset(&by_size.addr(), "sized").is_some_and(|o| o > 0)
    });
    assert!(left >= 3000, "only segments whose loss keeps the log at 3000 bytes or more go: {left} bytes left");
}

/// A broker started by `bin/kafka-server-start.sh`, killed on drop.
struct ScriptBroker(Child);

impl Drop for ScriptBroker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn registration(zk: &str, id: i32) -> Option<json::BrokerRegistration> {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let z = ZkClient::connect(zk, Duration::from_secs(6), Duration::from_secs(10)).await.ok()?;
        let (data, _) = z.get_data(&paths::broker(id)).await.ok()??;
        json::BrokerRegistration::parse(&data).ok()
    })
}

#[test]
fn overrides_on_kafka_server_start_take_effect() {
    let zk = ZkServer::start();
    let dir = TempDir::new("override");
    let port = free_port();
    // The file says broker 1 on some other port; the overrides must win.
    let props = dir.join("server.properties");
    std::fs::write(
        &props,
        format!(
            "broker.id=1\nport={}\nhost.name=127.0.0.1\nlog.dirs={}\nzookeeper.connect=127.0.0.1:1\n",
            free_port(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = Command::new(support::project_root().join("bin/kafka-server-start.sh"))
        .arg(&props)
        .args(["--override", "broker.id=7"])
        .args(["--override", &format!("port={port}")])
        .args(["--override", &format!("zookeeper.connect={}", zk.connect_string())])
        .env("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))
        .env("KAFKA08_EXIT_WITH_PARENT", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("kafka-server-start.sh");
    let _broker = ScriptBroker(child);
    let addr = format!("127.0.0.1:{port}");
    let mut reg = None;
    let registered = support::eventually(DEADLINE, || {
        reg = registration(&zk.connect_string(), 7);
        reg.is_some()
    });
    assert!(
        registered,
        "broker 7 never registered in the overridden ZooKeeper: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    assert_eq!(reg.unwrap().port, port as i32);
    assert!(registration(&zk.connect_string(), 1).is_none(), "broker.id from the file was overridden");
    let mut brokers = Vec::new();
    let answered = support::eventually(DEADLINE, || {
        brokers = try_call(&addr, &api::MetadataRequest { topics: vec![] }).map(|m| m.brokers).unwrap_or_default();
        !brokers.is_empty()
    });
    assert!(answered, "no Metadata answer listing a broker on the overridden port {port}");
    assert_eq!(brokers, vec![api::Broker::new(7, "127.0.0.1", port as i32)]);
}

/// A TCP forwarder from a port of its own to the address in `target` (a NAT or port
/// mapping in front of the broker; the target is set once the broker has its port):
/// counts the connections it carried. Lives as long as the test process.
fn forwarder(target: Arc<Mutex<String>>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            let to = target.lock().unwrap().clone();
            let Ok(outbound) = TcpStream::connect(&to) else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            };
            let (Ok(i2), Ok(o2)) = (inbound.try_clone(), outbound.try_clone()) else { continue };
            pipe(i2, o2);
            pipe(outbound, inbound);
        }
    });
    (port, count)
}

#[test]
fn advertised_host_and_port_are_registered_answered_and_used_by_clients() {
    let zk = ZkServer::start();
    // The broker listens on 127.0.0.1:<its port>; clients are to reach it as
    // localhost:<forwarder port>.
    let target = Arc::new(Mutex::new(String::new()));
    let (advertised_port, carried) = forwarder(target.clone());
    let advertised = advertised_port.to_string();
    let broker = KafkaBroker::start(
        1,
        &zk.connect_string(),
        &[("advertised.host.name", "localhost"), ("advertised.port", advertised.as_str())],
    );
    *target.lock().unwrap() = broker.addr();

    let reg = registration(&zk.connect_string(), 1).expect("registered");
    assert_eq!((reg.host.as_str(), reg.port), ("localhost", advertised_port as i32), "what /brokers/ids/1 holds");

    let real_addr = broker.addr();
    // (A broker learns the live brokers from the controller's UpdateMetadata, as in 0.8.2.)
    let mut brokers = Vec::new();
    let answered = support::eventually(DEADLINE, || {
        brokers = try_call(&real_addr, &api::MetadataRequest { topics: vec![] }).map(|m| m.brokers).unwrap_or_default();
        !brokers.is_empty()
    });
    assert!(answered, "Metadata never listed a broker");
    assert_eq!(brokers, vec![api::Broker::new(1, "localhost", advertised_port as i32)]);

    // A client bootstrapped through the real address produces and reads through the
    // advertised one.
    topics_sh(&zk.connect_string(), &["--create", "--topic", "adv", "--partitions", "1", "--replication-factor", "1"]);
    let before = carried.load(Ordering::SeqCst);
    let mut producer = TestProducer::new(vec![real_addr.clone()], "adv");
    for i in 0..5 {
        assert!(producer.send(0, &format!("via-advertised-{i}"), DEADLINE).is_some());
    }
    assert!(carried.load(Ordering::SeqCst) > before, "the producer never used the advertised address");
    let stored = support::producer::read_partition(&[real_addr], "adv", 0, DEADLINE);
    assert_eq!(stored.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(), (0..5).map(|i| format!("via-advertised-{i}")).collect::<Vec<_>>());
    drop(broker);
}
