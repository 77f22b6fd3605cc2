//! `zk-scripts/cluster.sh up --fixed-ports` gives the ports its usage text documents (and
//! 0.8.2's quickstart uses): ZooKeeper on 2181, broker <id> on 9092+<id>, so a runbook that
//! says `localhost:2181` and `localhost:9092` runs as written. These ports are fixed by
//! design, so the test first waits (with a deadline) until nothing else holds them.

use crate::support;

use kafka08::api;
use std::time::Duration;
use support::cluster::try_call;
use support::local_cluster::{cluster_sh, Down};
use support::{port_in_use, run_with_env, TempDir};

const PORTS: [u16; 3] = [2181, 9092, 9093];

#[test]
fn fixed_ports_are_zookeeper_2181_and_broker_id_on_9092_plus_id() {
    let mut busy = Vec::new();
    let free = support::eventually(Duration::from_secs(60), || {
        busy = PORTS.iter().copied().filter(|p| port_in_use(*p)).collect();
        busy.is_empty()
    });
    assert!(free, "ports {busy:?} stayed in use for a minute; --fixed-ports needs 2181, 9092 and 9093");
    let tmp = TempDir::new("cluster-fixed");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);

    let up = cluster_sh(&dir, &["up", "-n", "2", "--fixed-ports"]);
    assert_eq!(up.code, Some(0), "{}", up.all());
    assert!(up.stdout.contains("zookeeper.connect=127.0.0.1:2181\n"), "{}", up.all());
    assert!(up.stdout.contains("metadata.broker.list=127.0.0.1:9092,127.0.0.1:9093\n"), "{}", up.all());
    assert!(up.stdout.contains("broker 0 127.0.0.1:9092 pid "), "{}", up.all());
    assert!(up.stdout.contains("broker 1 127.0.0.1:9093 pid "), "{}", up.all());

    // The servers really are there: ZooKeeper answers on 2181, each broker is registered
    // with its port, and Metadata on 9092 lists both.
    assert!(support::zk_mode(2181).is_some(), "no ZooKeeper serving on 2181");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ports: Vec<i32> = rt.block_on(async {
        let z = kafka08::zk::ZkClient::connect("localhost:2181", Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        let mut out = Vec::new();
        for id in 0..2 {
            let (data, _) = z.get_data(&kafka08::zk::paths::broker(id)).await.unwrap().expect("registered");
            out.push(kafka08::zk::json::BrokerRegistration::parse(&data).unwrap().port);
        }
        out
    });
    assert_eq!(ports, vec![9092, 9093]);
    let mut brokers = Vec::new();
    let listed = support::eventually(Duration::from_secs(60), || {
        brokers = try_call("localhost:9092", &api::MetadataRequest { topics: vec![] }).map(|m| m.brokers).unwrap_or_default();
        brokers.sort_by_key(|b| b.id);
        brokers.len() == 2
    });
    assert!(listed, "Metadata on localhost:9092 lists {brokers:?}");
    assert_eq!(brokers, vec![api::Broker::new(0, "127.0.0.1", 9092), api::Broker::new(1, "127.0.0.1", 9093)]);
    // A runbook line as written.
    let list = run_with_env(
        "bin/kafka-topics.sh",
        &["--zookeeper", "localhost:2181", "--list"],
        None,
        &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    );
    assert_eq!(list.code, Some(0), "{}", list.all());

    let down = cluster_sh(&dir, &["down"]);
    assert_eq!(down.code, Some(0), "{}", down.all());
    for p in PORTS {
        assert!(!port_in_use(p), "port {p} still in use after down");
    }
}
