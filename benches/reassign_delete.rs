//! Reassignment and deletion benchmarks, against real brokers and a real ZooKeeper, driven
//! by the 0.8.2 tools as an operator runs them:
//!
//! 1. Moving N small partitions (one message each, replication factor 2) off a broker:
//!    wall time from starting `kafka-reassign-partitions.sh --execute` until `--verify`
//!    says every partition completed successfully (polled every 250 ms; also the time
//!    until `/admin/reassign_partitions` is gone and the old broker holds no directory).
//! 2. Deleting a topic of N partitions (replication factor 2 over 3 brokers): from starting
//!    `kafka-topics.sh --delete` until no znode of the topic and no directory on any
//!    broker remain.
//!
//! `cargo bench --bench reassign_delete` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_PARTITIONS: the partition count N (default 1000).

#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use kafka08::common::Properties;
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::cluster::Cluster;
use support::producer::TestProducer;

const SETTINGS: &[(&str, &str)] = &[("delete.topic.enable", "true"), ("auto.create.topics.enable", "false")];
const DEADLINE: Duration = Duration::from_secs(1800);

fn tool(c: &Cluster, script: &str, args: &[&str]) -> support::Output {
    let connect = c.zk.connect_string();
    let mut all = vec!["--zookeeper", connect.as_str()];
    all.extend_from_slice(args);
    support::run_with_env(script, &all, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

fn dirs(c: &Cluster, broker: i32, topic: &str) -> usize {
    let b = c.brokers.iter().find(|b| b.id == broker).unwrap();
    std::fs::read_dir(b.data_dir())
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().rsplit_once('-').is_some_and(|(t, p)| t == topic && p.parse::<u32>().is_ok()))
                .count()
        })
        .unwrap_or(0)
}

fn exists(rt: &tokio::runtime::Runtime, zk: &ZkClient, path: &str) -> bool {
    rt.block_on(zk.exists(path)).unwrap().is_some()
}

/// Create `topic` with `assignment`, wait until every partition has its full ISR, and put
/// one message in each partition.
fn create_small_partitions(c: &Cluster, rt: &tokio::runtime::Runtime, zk: &ZkClient, topic: &str, assignment: &BTreeMap<i32, Vec<i32>>) -> Duration {
    let t = Instant::now();
    rt.block_on(kafka08::admin::create_topic_with_assignment(zk, topic, assignment, &Properties::new())).unwrap();
    c.wait_for_leaders(topic, assignment.len() as i32);
    let mut producer = TestProducer::new(c.brokers.iter().map(|b| b.addr()).collect(), topic);
    for p in assignment.keys() {
        producer.send(*p, &format!("m{p}"), Duration::from_secs(60)).expect("acknowledged");
    }
    let deadline = Instant::now() + DEADLINE;
    for (p, replicas) in assignment {
        loop {
            let st = rt.block_on(kafka08::admin::fetch_partition_state(zk, topic, *p)).unwrap();
            if st.is_some_and(|s| s.isr.len() == replicas.len()) {
                break;
            }
            assert!(Instant::now() < deadline, "{topic}-{p} never got its full ISR");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    t.elapsed()
}

fn part_move(c: &Cluster, rt: &tokio::runtime::Runtime, zk: &ZkClient, n: usize) {
    println!("== 1. moving {n} small partitions off broker 3 (replication factor 2, one message each)");
    let topic = "bench-move";
    // Every partition has a replica on broker 3, half of them as leader.
    let assignment: BTreeMap<i32, Vec<i32>> =
        (0..n as i32).map(|p| (p, if p % 2 == 0 { vec![3, 1 + (p / 2) % 2] } else { vec![1 + (p / 2) % 2, 3] })).collect();
    let created = create_small_partitions(c, rt, zk, topic, &assignment);
    println!("created and filled in {} ms", created.as_millis());
    // Broker 3's place goes to the broker of 1 and 2 the partition does not have.
    let plan: Vec<String> = assignment
        .iter()
        .map(|(p, r)| {
            let new: Vec<String> = r.iter().map(|b| if *b == 3 { if r.contains(&1) { 2 } else { 1 } } else { *b }).map(|b| b.to_string()).collect();
            format!(r#"{{"topic":"{topic}","partition":{p},"replicas":[{}]}}"#, new.join(","))
        })
        .collect();
    let dir = support::TempDir::new("bench-reassign");
    let file = dir.join("move.json");
    std::fs::write(&file, format!(r#"{{"version":1,"partitions":[{}]}}"#, plan.join(","))).unwrap();
    let file = file.to_str().unwrap();

    let t0 = Instant::now();
    let out = tool(c, "bin/kafka-reassign-partitions.sh", &["--execute", "--reassignment-json-file", file]);
    assert!(out.success(), "{}", out.all());
    let executed = t0.elapsed();
    let mut verifies = 0;
    let verified = loop {
        let out = tool(c, "bin/kafka-reassign-partitions.sh", &["--verify", "--reassignment-json-file", file]);
        verifies += 1;
        assert!(!out.stdout.contains("failed"), "{}", out.all());
        if out.stdout.matches("completed successfully").count() == n {
            break t0.elapsed();
        }
        assert!(t0.elapsed() < DEADLINE, "not complete after {DEADLINE:?}: {}", out.stdout.lines().nth(1).unwrap_or(""));
        std::thread::sleep(Duration::from_millis(250));
    };
    while exists(rt, zk, paths::REASSIGN_PARTITIONS) || dirs(c, 3, topic) > 0 {
        assert!(t0.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(50));
    }
    let cleaned = t0.elapsed();
    println!(
        "N={n}: --execute returned in {} ms; --verify all completed at {} ms ({verifies} runs of --verify); znode gone and broker 3 empty at {} ms ({:.2} ms/partition)",
        executed.as_millis(),
        verified.as_millis(),
        cleaned.as_millis(),
        verified.as_secs_f64() * 1e3 / n as f64
    );
}

fn part_delete(c: &Cluster, rt: &tokio::runtime::Runtime, zk: &ZkClient, n: usize) {
    println!("== 2. deleting a topic of {n} small partitions (replication factor 2 over 3 brokers, one message each)");
    let topic = "bench-delete";
    let assignment: BTreeMap<i32, Vec<i32>> = (0..n as i32).map(|p| (p, vec![1 + p % 3, 1 + (p + 1) % 3])).collect();
    let created = create_small_partitions(c, rt, zk, topic, &assignment);
    println!("created and filled in {} ms", created.as_millis());
    let t0 = Instant::now();
    let out = tool(c, "bin/kafka-topics.sh", &["--delete", "--topic", topic]);
    assert!(out.success(), "{}", out.all());
    let marked = t0.elapsed();
    let gone = |path: &str| !exists(rt, zk, path);
    let (mut znodes_at, mut dirs_at) = (None, None);
    loop {
        if znodes_at.is_none()
            && gone(&paths::topic(topic))
            && gone(&paths::topic_config(topic))
            && gone(&paths::delete_topic_marker(topic))
        {
            znodes_at = Some(t0.elapsed());
        }
        if dirs_at.is_none() && (1..=3).all(|b| dirs(c, b, topic) == 0) {
            dirs_at = Some(t0.elapsed());
        }
        if znodes_at.is_some() && dirs_at.is_some() {
            break;
        }
        assert!(t0.elapsed() < DEADLINE, "topic not deleted after {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = t0.elapsed();
    println!(
        "N={n}: --delete returned in {} ms; every directory gone at {} ms; every znode gone at {} ms; done at {} ms ({:.2} ms/partition)",
        marked.as_millis(),
        dirs_at.unwrap().as_millis(),
        znodes_at.unwrap().as_millis(),
        done.as_millis(),
        done.as_secs_f64() * 1e3 / n as f64
    );
}

fn main() {
    let n: usize = std::env::var("KAFKA08_BENCH_PARTITIONS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(1000);
    let c = Cluster::start(3, SETTINGS);
    let rt = Cluster::runtime();
    let zk = rt.block_on(ZkClient::connect(&c.zk.connect_string(), Duration::from_secs(30), Duration::from_secs(30))).unwrap();
    part_move(&c, &rt, &zk, n);
    part_delete(&c, &rt, &zk, n);
}
