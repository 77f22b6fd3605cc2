//! Helpers shared by the high-level consumer tests (`hlc_*`): consumer configs, a
//! multi-thread runtime, ZooKeeper reads of the group's znodes, producing numbered values.
#![allow(dead_code)]

use super::producer::TestProducer;
use kafka08::consumer::zk::ConsumerConfig;
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Cluster tests in one binary run one at a time: two cores are shared with builds.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A config for `group` with the test defaults (smallest, no auto-commit unless asked)
/// and `extra` keys on top.
pub fn config(zk: &str, group: &str, extra: &[(&str, &str)]) -> ConsumerConfig {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("group.id", group),
        ("zookeeper.connect", zk),
        ("auto.offset.reset", "smallest"),
        ("auto.commit.enable", "false"),
        ("rebalance.backoff.ms", "500"),
        ("zookeeper.session.timeout.ms", "6000"),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        pairs.push((k, v));
    }
    ConsumerConfig::from_pairs(&pairs).expect("valid consumer config")
}

pub async fn zk_client(connect: &str) -> ZkClient {
    ZkClient::connect(connect, Duration::from_secs(10), Duration::from_secs(10)).await.expect("connect to zookeeper")
}

/// `/consumers/<g>/owners/<t>`: partition → owning thread id.
pub async fn owners(zk: &ZkClient, group: &str, topic: &str) -> BTreeMap<i32, String> {
    let mut out = BTreeMap::new();
    let children = zk.get_children(&paths::consumer_owners_topic(group, topic)).await.expect("zk").unwrap_or_default();
    for c in children {
        let Ok(p) = c.parse::<i32>() else { continue };
        if let Some((data, _)) = zk.get_data(&paths::consumer_owner(group, topic, p)).await.expect("zk") {
            out.insert(p, String::from_utf8_lossy(&data).into_owned());
        }
    }
    out
}

/// `/consumers/<g>/ids` children.
pub async fn members(zk: &ZkClient, group: &str) -> Vec<String> {
    let mut m = zk.get_children(&paths::consumer_ids(group)).await.expect("zk").unwrap_or_default();
    m.sort();
    m
}

/// `/consumers/<g>/offsets/<t>/<p>` as a number, `None` when absent.
pub async fn committed(zk: &ZkClient, group: &str, topic: &str, partition: i32) -> Option<i64> {
    zk.get_data(&paths::consumer_offset(group, topic, partition))
        .await
        .expect("zk")
        .map(|(d, _)| String::from_utf8_lossy(&d).trim().parse().expect("decimal offset"))
}

/// Produce `values[i]` to partition `partitions[i % len]`, each acknowledged (acks=-1).
pub fn produce(bootstrap: &str, topic: &str, partitions: &[i32], values: &[String]) {
    let mut p = TestProducer::new(bootstrap.split(',').map(String::from).collect(), topic);
    for (i, v) in values.iter().enumerate() {
        let partition = partitions[i % partitions.len()];
        p.send(partition, v, Duration::from_secs(30)).unwrap_or_else(|| panic!("{} not acknowledged", v));
    }
}

pub fn values(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{}-{}", prefix, i)).collect()
}
