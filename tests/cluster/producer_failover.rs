//! The producer with acks=-1 across a leader failover: three brokers, replication factor
//! 3, the leader killed while messages stream and restarted later. Every message the
//! producer acknowledged must be stored afterwards, in order.

use crate::support;

use kafka08::api;
use kafka08::common::Properties;
use kafka08::consumer::{PartitionReader, ReaderConfig};
use kafka08::producer::{parse_broker_list, BlockingProducer, KeyedMessage};
use kafka08::zk::{json, ZkClient};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::producer::{assert_no_loss, read_until_complete};
use support::wait_until;

const FAST: &[(&str, &str)] = &[
    ("zookeeper.session.timeout.ms", "4000"),
    ("replica.fetch.wait.max.ms", "100"),
    ("controlled.shutdown.enable", "false"),
];

/// The Isr as the leader wrote it in ZooKeeper (metadata responses carry the controller's
/// stale copy, KAFKA-1367).
fn zk_isr(cluster: &Cluster, topic: &str) -> Vec<i32> {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))
            .await
            .unwrap();
        let (data, _) =
            zk.get_data(&format!("/brokers/topics/{topic}/partitions/0/state")).await.unwrap().expect("state znode");
        json::PartitionState::parse(&data).unwrap().isr
    })
}

fn partition_state(addr: &str, topic: &str) -> Option<api::PartitionMetadata> {
    try_call(addr, &api::MetadataRequest { topics: vec![topic.to_string()] })
        .and_then(|m| m.topics.into_iter().next())
        .and_then(|t| t.partitions.into_iter().find(|p| p.partition == 0))
}

#[test]
fn acks_all_producer_loses_nothing_acknowledged_across_a_leader_failover() {
    let mut cluster = Cluster::start(3, FAST);
    let addrs: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    cluster.create_topic("failover", 1, 3);
    wait_until("all three replicas in the Isr", Duration::from_secs(30), || zk_isr(&cluster, "failover").len() == 3);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let producer = {
        let (stop, acked, failed) = (stop.clone(), acked.clone(), failed.clone());
        let mut props = Properties::new();
        props.set("metadata.broker.list", cluster.bootstrap());
        props.set("request.required.acks", "-1");
        props.set("request.timeout.ms", "5000");
        props.set("message.send.max.retries", "30");
        props.set("retry.backoff.ms", "300");
        props.set("client.id", "failover-test");
        std::thread::spawn(move || {
            let p = BlockingProducer::from_properties(&props).unwrap();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                // Two messages per request, so a failover can hit a request mid-way.
                let values = [format!("m{i:06}"), format!("m{:06}", i + 1)];
                i += 2;
                let msgs = values.iter().map(|v| KeyedMessage::new("failover", v.clone())).collect();
                match p.send(msgs) {
                    Ok(()) => acked.lock().unwrap().extend(values),
                    Err(e) => {
                        eprintln!("send failed: {e}");
                        failed.lock().unwrap().extend(values);
                    }
                }
            }
            p.close().unwrap();
        })
    };
    let acked_count = || acked.lock().unwrap().len();

    wait_until("200 messages acknowledged", Duration::from_secs(60), || acked_count() >= 200);
    let leader = partition_state(&addrs[0], "failover").unwrap().leader;
    let idx = cluster.brokers.iter().position(|b| b.id == leader).unwrap();
    cluster.brokers[idx].kill();
    let before_kill = acked_count();
    wait_until("200 more acknowledged from the new leader", Duration::from_secs(90), || {
        acked_count() >= before_kill + 200
    });
    let live: Vec<String> = cluster.brokers.iter().filter(|b| b.id != leader).map(|b| b.addr()).collect();
    let new_leader = partition_state(&live[0], "failover").unwrap().leader;
    assert!(new_leader >= 0 && new_leader != leader, "a new leader: {new_leader}");

    cluster.brokers[idx].restart();
    wait_until("the restarted broker rejoins the Isr", Duration::from_secs(60), || {
        zk_isr(&cluster, "failover").contains(&leader)
    });
    let after_restart = acked_count();
    wait_until("100 more acknowledged", Duration::from_secs(60), || acked_count() >= after_restart + 100);
    stop.store(true, Ordering::SeqCst);
    producer.join().unwrap();

    let acked = acked.lock().unwrap().clone();
    let stored = read_until_complete(&addrs, "failover", 0, &acked, Duration::from_secs(60));
    assert_no_loss(&acked, &stored);
    eprintln!("acknowledged {}, failed {}, stored {}", acked.len(), failed.lock().unwrap().len(), stored.len());

    // The simple consumer's reader sees exactly the same log.
    let mine = Cluster::runtime().block_on(async {
        let config = ReaderConfig { max_wait_ms: 0, ..ReaderConfig::default() };
        let mut reader = PartitionReader::new(parse_broker_list(&cluster.bootstrap()).unwrap(), "failover", 0, config);
        let end = reader.latest_offset().await.unwrap();
        let mut out = Vec::new();
        while reader.offset() < end {
            for m in reader.fetch().await.unwrap().messages {
                out.push((m.offset, String::from_utf8(m.value().unwrap().to_vec()).unwrap()));
            }
        }
        out
    });
    assert_eq!(mine, stored);
    // And every replica holds the leader's bytes.
    cluster.assert_replicas_agree("failover");
}
