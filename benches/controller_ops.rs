//! Controller operations on many partitions (issue 11), on a 3-broker cluster with a real
//! ZooKeeper: a preferred replica election of N partitions, from writing
//! `/admin/preferred_replica_election` (what `kafka-preferred-replica-election.sh` does)
//! to the last leader moved as ZooKeeper's state znodes show it, next to a controlled
//! shutdown (SIGTERM) of the broker leading the same N partitions, timed the same way.
//!
//! `cargo bench --bench controller_ops` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_PARTITIONS: comma-separated partition counts (default 1000,10000).

#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use kafka08::common::{Properties, TopicPartition};
use kafka08::zk::json::{PartitionEntry, PartitionList};
use kafka08::zk::state::{read_partition_states, StateRead};
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::cluster::Cluster;

const DEADLINE: Duration = Duration::from_secs(900);

/// Poll the state znodes (batched multi reads) until every partition satisfies `done`;
/// the instant it was first seen.
fn wait_states(
    rt: &tokio::runtime::Runtime,
    zk: &ZkClient,
    partitions: &[TopicPartition],
    what: &str,
    done: impl Fn(i32, &[i32]) -> bool,
) -> Instant {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reads = rt.block_on(read_partition_states(zk, partitions)).expect("read states");
        if reads.iter().all(|r| matches!(r, StateRead::Present(s, _) if done(s.leader, &s.isr))) {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{what}: not reached within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(n: usize) {
    let mut c = Cluster::start(3, &[("auto.leader.rebalance.enable", "false")]);
    let rt = Cluster::runtime();
    let zk = rt.block_on(ZkClient::connect(&c.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let controller = rt.block_on(zk.controller_id()).unwrap().expect("a controller");
    let ids: Vec<i32> = c.brokers.iter().map(|b| b.id).filter(|i| *i != controller).collect();
    let (x, y) = (ids[0], ids[1]);
    let xi = c.brokers.iter().position(|b| b.id == x).unwrap();
    let topic = format!("ops{n}");
    let assignment: BTreeMap<i32, Vec<i32>> = (0..n as i32).map(|p| (p, vec![x, y])).collect();
    let partitions: Vec<TopicPartition> = (0..n as i32).map(|p| TopicPartition::new(topic.clone(), p)).collect();
    let t = Instant::now();
    rt.block_on(kafka08::admin::create_topic_with_assignment(&zk, &topic, &assignment, &Properties::new())).unwrap();
    wait_states(&rt, &zk, &partitions, "created, full ISR", |l, isr| l == x && isr.contains(&y));
    let created = t.elapsed();

    // Controlled shutdown of x, the leader of all N.
    let t0 = Instant::now();
    let (addr_zk, parts) = (c.zk.connect_string(), partitions.clone());
    let mover = std::thread::spawn(move || {
        let rt = Cluster::runtime();
        let zk = rt.block_on(ZkClient::connect(&addr_zk, Duration::from_secs(6), Duration::from_secs(10))).unwrap();
        wait_states(&rt, &zk, &parts, "controlled shutdown", |l, _| l == y)
    });
    let code = c.brokers[xi].stop_within(DEADLINE);
    let exited = t0.elapsed();
    let shutdown = mover.join().unwrap() - t0;
    assert_eq!(code, Some(0));

    // Back, and in every ISR again: its preferred leaderships are to be returned.
    c.brokers[xi].restart();
    wait_states(&rt, &zk, &partitions, "restarted replica in every ISR", |l, isr| l == y && isr.contains(&x));

    // The preferred replica election of all N, as the tool writes it.
    let doc = PartitionList {
        version: 1,
        partitions: partitions
            .iter()
            .map(|tp| PartitionEntry { topic: tp.topic.clone(), partition: tp.partition, replicas: None })
            .collect(),
    };
    let t0 = Instant::now();
    rt.block_on(zk.create_persistent(paths::PREFERRED_REPLICA_ELECTION, &doc.to_bytes())).unwrap();
    let election = wait_states(&rt, &zk, &partitions, "preferred election", |l, _| l == x) - t0;

    println!(
        "N={n:>6}: created in {:>6} ms; preferred election {:>6} ms ({:>6.1} µs/partition); controlled shutdown: leaders moved in {:>6} ms ({:>6.1} µs/partition), process exited in {:>6} ms",
        created.as_millis(),
        election.as_millis(),
        election.as_secs_f64() * 1e6 / n as f64,
        shutdown.as_millis(),
        shutdown.as_secs_f64() * 1e6 / n as f64,
        exited.as_millis()
    );
}

fn main() {
    let counts: Vec<usize> = std::env::var("KAFKA08_BENCH_PARTITIONS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("== controller operations on a 3-broker cluster (replication factor 2, one broker leads all N)");
    for n in counts {
        run(n);
    }
}
