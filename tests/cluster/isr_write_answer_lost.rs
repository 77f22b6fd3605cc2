//! A leader's ISR shrink that ZooKeeper applied but whose answer was lost (the connection
//! dropped the reply; the session survived). Found by the Jepsen-style partition tests in
//! `tests/hosts`: the leader kept its old ISR and zkVersion, ZooKeeper held the shrunk
//! one, and once the followers were back nothing ever wrote again, so ZooKeeper's ISR
//! (and every broker's metadata) stayed short for good: a later leader failure would
//! find no eligible leader among caught-up replicas (0.8.2's "Cached zkVersion not equal
//! to that in zookeeper", KAFKA-2729).

use crate::support;

use kafka08::zk::{json, ZkClient};
use std::time::Duration;
use support::cluster::Cluster;
use support::kafka::KafkaBroker;
use support::producer::{assert_no_loss, read_until_complete, TestProducer};
use support::zk_faults::ZkAnswerLoss;
use support::{wait_until, ZkServer};

const SETTINGS: &[(&str, &str)] = &[
    ("zookeeper.session.timeout.ms", "6000"),
    ("replica.lag.time.max.ms", "1000"),
    ("replica.fetch.wait.max.ms", "100"),
    ("controlled.shutdown.enable", "false"),
];

#[test]
fn an_isr_shrink_whose_answer_was_lost_is_adopted_and_the_isr_refills() {
    let zk = ZkServer::start();
    let proxy = ZkAnswerLoss::start(&zk.connect_string());
    // Broker 1, the leader, talks to ZooKeeper through the proxy; the others directly.
    let leader = KafkaBroker::start(1, &proxy.connect_string(), SETTINGS);
    let mut followers: Vec<KafkaBroker> = (2..=3).map(|id| KafkaBroker::start(id, &zk.connect_string(), SETTINGS)).collect();
    let rt = Cluster::runtime();
    let zkc = rt.block_on(ZkClient::connect(&zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).expect("zk");
    let assignment = [(0, vec![1, 2, 3])].into_iter().collect();
    rt.block_on(kafka08::admin::create_topic_with_assignment(&zkc, "lost-answer", &assignment, &kafka08::common::Properties::new())).expect("create");
    let path = kafka08::zk::paths::partition_state("lost-answer", 0);
    let state = || -> Option<json::PartitionState> {
        let (data, _) = rt.block_on(zkc.get_data(&path)).ok()??;
        json::PartitionState::parse(&data).ok()
    };
    wait_until("leader 1 with an ISR of three", Duration::from_secs(60), || state().is_some_and(|s| s.leader == 1 && s.isr.len() == 3));
    let bootstrap = vec![leader.addr()];
    let mut producer = TestProducer::new(bootstrap.clone(), "lost-answer");
    let mut acked: Vec<String> = (0..20).map(|i| format!("before-{i}")).collect();
    for v in &acked {
        producer.send(0, v, Duration::from_secs(30)).expect("acknowledged");
    }

    // The followers stall; the leader shrinks the ISR to itself, and the answer is lost.
    proxy.lose_next_set_data(&path);
    for f in &followers {
        f.pause();
    }
    wait_until("ZooKeeper holds the shrunk ISR", Duration::from_secs(30), || state().is_some_and(|s| s.isr == vec![1]));
    // Back at once, before the leader's next ISR pass could see them lagging and write
    // the same shrink again (which would reveal the outcome through a version mismatch).
    for f in &followers {
        f.resume();
    }
    wait_until("the answer to the leader's write was lost", Duration::from_secs(30), || proxy.lost());
    wait_until("the leader logged its write as failed", Duration::from_secs(30), || leader.log().contains("skip updating ISR"));

    // Both followers are back and caught up: ZooKeeper's ISR must be full again.
    wait_until("the ISR in ZooKeeper is full again", Duration::from_secs(30), || state().is_some_and(|s| s.isr.len() == 3));
    for i in 0..20 {
        let v = format!("after-{i}");
        producer.send(0, &v, Duration::from_secs(30)).expect("acknowledged");
        acked.push(v);
    }
    assert_no_loss(&acked, &read_until_complete(&bootstrap, "lost-answer", 0, &acked, Duration::from_secs(30)));
    for f in &mut followers {
        f.kill();
    }
}
