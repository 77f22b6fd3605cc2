//! Foreign 0.8 clients against a 3-broker kafka08 cluster: kcat (librdkafka) in 0.8 mode
//! with every codec and with default options (ApiVersions), kafka-python 3.0.12 with
//! api_version=(0,8,2), pykafka 2.8.0 discovering brokers from ZooKeeper, and the `kafka`
//! crate. Each produces and consumes exactly its own messages back.

use crate::support;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use support::cluster::Cluster;

const KCAT_08: &[&str] = &["-X", "api.version.request=false", "-X", "broker.version.fallback=0.8.2.2"];

fn kcat_produce(bootstrap: &str, topic: &str, extra: &[&str], lines: &str) {
    let mut child = Command::new("kcat")
        .args(["-b", bootstrap, "-t", topic, "-P", "-X", "queue.buffering.max.ms=20"])
        .args(extra)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat (installed by zk-scripts/install.sh)");
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kcat produce failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn kcat_consume(bootstrap: &str, topic: &str, extra: &[&str], expect: usize) -> Vec<String> {
    let out = Command::new("kcat")
        .args(["-b", bootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-q", "-c", &expect.to_string()])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "kcat consume failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect()
}

fn assert_exactly(got: Vec<String>, want: &[String]) {
    let mut counts: HashMap<&str, i32> = HashMap::new();
    for w in want {
        *counts.entry(w).or_default() += 1;
    }
    assert_eq!(got.len(), want.len(), "message count");
    for g in &got {
        let c = counts.get_mut(g.as_str()).unwrap_or_else(|| panic!("unexpected message {g:?}"));
        *c -= 1;
        assert!(*c >= 0, "duplicate message {g:?}");
    }
}

#[test]
fn kcat_in_08_mode_round_trips_100k_messages_with_every_codec() {
    let cluster = Cluster::start(3, &[]);
    let bootstrap = cluster.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4"] {
        let topic = format!("kcat-{codec}");
        cluster.create_topic(&topic, 3, 2);
        let want: Vec<String> = (0..100_000).map(|i| format!("{codec}-{i:06}-payload")).collect();
        let mut args = KCAT_08.to_vec();
        args.extend(["-z", codec]);
        kcat_produce(&bootstrap, &topic, &args, &(want.join("\n") + "\n"));
        let got = kcat_consume(&bootstrap, &topic, KCAT_08, want.len());
        assert_exactly(got, &want);
    }
}

#[test]
fn kcat_with_default_options_uses_api_versions_and_round_trips() {
    let cluster = Cluster::start(3, &[]);
    cluster.create_topic("kcat-default", 3, 1);
    let want: Vec<String> = (0..1000).map(|i| format!("d-{i}")).collect();
    kcat_produce(&cluster.bootstrap(), "kcat-default", &[], &(want.join("\n") + "\n"));
    assert_exactly(kcat_consume(&cluster.bootstrap(), "kcat-default", &[], want.len()), &want);
}

fn venv_python() -> std::path::PathBuf {
    support::project_root().join(".venv/bin/python")
}

#[test]
fn kafka_python_082_produces_and_consumes_by_assignment() {
    let cluster = Cluster::start(3, &[]);
    cluster.create_topic("kp", 3, 2);
    let out = Command::new(venv_python())
        .arg(support::project_root().join("tests/interop/kafka_python_roundtrip.py"))
        .args([&cluster.bootstrap(), "kp", "2000"])
        .output()
        .expect("the venv from zk-scripts/install.sh");
    assert!(out.status.success(), "kafka-python: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK 2000"));
}

#[test]
fn pykafka_discovers_brokers_from_zookeeper_and_round_trips() {
    let cluster = Cluster::start(3, &[]);
    cluster.create_topic("pk", 3, 2);
    let out = Command::new(venv_python())
        .arg(support::project_root().join("tests/interop/pykafka_roundtrip.py"))
        .args([&cluster.zk.connect_string(), "pk", "500"])
        .output()
        .expect("the venv from zk-scripts/install.sh");
    assert!(out.status.success(), "pykafka: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK 500"));
}

#[test]
fn kafka_rust_crate_produces_and_consumes() {
    use kafka::consumer::{Consumer, FetchOffset};
    use kafka::producer::{Producer, Record, RequiredAcks};
    let cluster = Cluster::start(3, &[]);
    cluster.create_topic("kr", 3, 2);
    let hosts: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    let mut producer = Producer::from_hosts(hosts.clone())
        .with_ack_timeout(std::time::Duration::from_secs(5))
        .with_required_acks(RequiredAcks::All)
        .create()
        .expect("kafka crate producer");
    let want: Vec<String> = (0..3000).map(|i| format!("kr-{i}")).collect();
    for w in &want {
        producer.send(&Record::from_value("kr", w.as_bytes())).expect("send");
    }
    let mut consumer = Consumer::from_hosts(hosts)
        .with_topic("kr".to_string())
        .with_fallback_offset(FetchOffset::Earliest)
        .with_offset_storage(None)
        .create()
        .expect("kafka crate consumer");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while got.len() < want.len() && std::time::Instant::now() < deadline {
        for ms in consumer.poll().expect("poll").iter() {
            for m in ms.messages() {
                got.push(String::from_utf8(m.value.to_vec()).unwrap());
            }
        }
    }
    assert_exactly(got, &want);
}

#[test]
fn pykafka_balanced_consumer_in_its_own_group_reads_everything_and_commits() {
    let cluster = Cluster::start(3, &[("offsets.topic.num.partitions", "4")]);
    cluster.create_topic("pb", 3, 2);
    let out = Command::new(venv_python())
        .arg(support::project_root().join("tests/interop/pykafka_balanced.py"))
        .args([&cluster.zk.connect_string(), "pb", "300", "pykafka-group"])
        .output()
        .expect("the venv from zk-scripts/install.sh");
    assert!(out.status.success(), "pykafka balanced: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Every partition's commit is exactly its log end (pykafka commits the next offset to
    // read), and the log ends add up to the 300 messages produced.
    let partitions: Vec<(i64, i64)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("P "))
        .map(|l| {
            let f: Vec<i64> = l.split(' ').map(|x| x.parse().expect("a number")).collect();
            (f[1], f[2])
        })
        .collect();
    assert_eq!(partitions.len(), 3, "{stdout}");
    assert!(partitions.iter().all(|(committed, end)| committed == end), "{stdout}");
    assert_eq!(partitions.iter().map(|(_, end)| end).sum::<i64>(), 300, "{stdout}");
    assert!(stdout.contains("OK 300 300"), "{stdout}");
}
