//! Replication under failure (issue 4), on real broker processes: the seed walkthrough,
//! acks=-1 durability across repeated leader and controller kills, ISR shrink/expand with a
//! stalled follower, unclean leader election on and off, and a leader whose ZooKeeper
//! session expired coming back as a follower.

use crate::support;

use kafka08::zk::{json, ZkClient};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::producer::{assert_no_loss, read_until_complete, TestProducer};
use support::wait_until;

const FAST: &[(&str, &str)] = &[("zookeeper.session.timeout.ms", "4000"), ("replica.fetch.wait.max.ms", "100"), ("controlled.shutdown.enable", "false")];

struct Zk {
    rt: tokio::runtime::Runtime,
    zk: ZkClient,
}

impl Zk {
    fn new(cluster: &Cluster) -> Zk {
        let rt = Cluster::runtime();
        let zk = rt.block_on(ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
        Zk { rt, zk }
    }
    fn state(&self, topic: &str, p: i32) -> json::PartitionState {
        let data = self.rt.block_on(self.zk.get_data(&format!("/brokers/topics/{topic}/partitions/{p}/state"))).unwrap().expect("state").0;
        json::PartitionState::parse(&data).unwrap()
    }
    fn controller(&self) -> Option<i32> {
        let (data, _) = self.rt.block_on(self.zk.get_data("/controller")).ok()??;
        json::ControllerRegistration::parse(&data).ok().map(|c| c.brokerid)
    }
}

fn index_of(cluster: &Cluster, id: i32) -> usize {
    cluster.brokers.iter().position(|b| b.id == id).unwrap()
}

fn addrs(cluster: &Cluster) -> Vec<String> {
    cluster.brokers.iter().map(|b| b.addr()).collect()
}

#[test]
fn seed_walkthrough_kill_the_leader_and_everything_stays_consumable() {
    let mut cluster = Cluster::start(3, FAST);
    let zk = Zk::new(&cluster);
    cluster.create_topic("my-replicated-topic", 1, 3);
    wait_until("Isr of all three", Duration::from_secs(30), || zk.state("my-replicated-topic", 0).isr.len() == 3);
    let mut p = TestProducer::new(addrs(&cluster), "my-replicated-topic");
    let acked: Vec<String> = (0..100).map(|i| format!("seed-{i}")).collect();
    for a in &acked {
        p.send(0, a, Duration::from_secs(30)).expect("acknowledged");
    }
    let leader = zk.state("my-replicated-topic", 0).leader;
    let idx = index_of(&cluster, leader);
    cluster.brokers[idx].kill();
    wait_until("a new leader, the dead broker out of the Isr", Duration::from_secs(30), || {
        let s = zk.state("my-replicated-topic", 0);
        s.leader >= 0 && s.leader != leader && !s.isr.contains(&leader)
    });
    let live: Vec<String> = cluster.brokers.iter().filter(|b| b.id != leader).map(|b| b.addr()).collect();
    assert_no_loss(&acked, &read_until_complete(&live, "my-replicated-topic", 0, &acked, Duration::from_secs(30)));
    cluster.brokers[idx].restart();
    wait_until("the restarted broker rejoins the Isr", Duration::from_secs(60), || zk.state("my-replicated-topic", 0).isr.contains(&leader));
    cluster.assert_replicas_agree("my-replicated-topic");
}

/// Produce a numbered sequence with acks=-1 in the background while `disrupt` runs; then
/// check every acknowledged number is stored, in order, and that every replica holds the
/// leader's bytes. `disrupt` gets a checkpoint to call after each round: it waits until the
/// producer has been acknowledged again since the previous one, so a cluster that stops
/// taking writes in the middle of the chaos fails the test there.
fn produce_through(cluster: &mut Cluster, topic: &str, disrupt: impl FnOnce(&mut Cluster, &dyn Fn(&str))) {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let producer = {
        let (stop, acked, bootstrap, topic) = (stop.clone(), acked.clone(), addrs(cluster), topic.to_string());
        std::thread::spawn(move || {
            let mut p = TestProducer::new(bootstrap, &topic);
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let v = format!("n-{i:08}");
                if p.send(0, &v, Duration::from_secs(60)).is_some() {
                    acked.lock().unwrap().push(v);
                }
                i += 1;
            }
            p.retries
        })
    };
    let last_checkpoint = Mutex::new(0usize);
    let checkpoint = |what: &str| {
        let since = *last_checkpoint.lock().unwrap();
        wait_until(&format!("{what}: the producer is acknowledged again"), Duration::from_secs(60), || {
            acked.lock().unwrap().len() >= since + 5
        });
        *last_checkpoint.lock().unwrap() = acked.lock().unwrap().len();
    };
    disrupt(cluster, &checkpoint);
    // After the last disruption the cluster serves again.
    let after = acked.lock().unwrap().len();
    wait_until("the producer is acknowledged again after the disruptions", Duration::from_secs(60), || acked.lock().unwrap().len() >= after + 20);
    stop.store(true, Ordering::SeqCst);
    let retries = producer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    let stored = read_until_complete(&addrs(cluster), topic, 0, &acked, Duration::from_secs(60));
    assert_no_loss(&acked, &stored);
    cluster.assert_replicas_agree(topic);
    eprintln!("{topic}: {} acknowledged, {} stored, {retries} retries", acked.len(), stored.len());
}

#[test]
fn acks_all_survives_five_leader_kills() {
    let mut cluster = Cluster::start(3, FAST);
    let zk = Zk::new(&cluster);
    cluster.create_topic("durable", 1, 3);
    wait_until("Isr of all three", Duration::from_secs(30), || zk.state("durable", 0).isr.len() == 3);
    produce_through(&mut cluster, "durable", |cluster, checkpoint| {
        for round in 0..5 {
            let s = zk.state("durable", 0);
            let idx = index_of(cluster, s.leader);
            cluster.brokers[idx].kill();
            wait_until(&format!("round {round}: new leader"), Duration::from_secs(30), || {
                let n = zk.state("durable", 0);
                n.leader >= 0 && n.leader != s.leader
            });
            cluster.brokers[idx].restart();
            wait_until(&format!("round {round}: Isr of three again"), Duration::from_secs(60), || zk.state("durable", 0).isr.len() == 3);
            checkpoint(&format!("round {round}"));
        }
    });
}

#[test]
fn acks_all_survives_five_controller_kills() {
    let mut cluster = Cluster::start(3, FAST);
    let zk = Zk::new(&cluster);
    cluster.create_topic("durable-ctl", 1, 3);
    wait_until("Isr of all three", Duration::from_secs(30), || zk.state("durable-ctl", 0).isr.len() == 3);
    produce_through(&mut cluster, "durable-ctl", |cluster, checkpoint| {
        for round in 0..5 {
            let ctl = zk.controller().expect("a controller");
            let idx = index_of(cluster, ctl);
            cluster.brokers[idx].kill();
            wait_until(&format!("round {round}: new controller"), Duration::from_secs(30), || zk.controller().is_some_and(|c| c != ctl));
            cluster.brokers[idx].restart();
            wait_until(&format!("round {round}: Isr of three again"), Duration::from_secs(60), || zk.state("durable-ctl", 0).isr.len() == 3);
            checkpoint(&format!("round {round}"));
        }
    });
}

#[test]
fn isr_shrinks_for_a_stalled_follower_and_grows_back() {
    let extra = [("zookeeper.session.timeout.ms", "20000"), ("replica.lag.time.max.ms", "2000"), ("replica.fetch.wait.max.ms", "100")];
    let cluster = Cluster::start(3, &extra);
    let zk = Zk::new(&cluster);
    cluster.create_topic("lag", 1, 3);
    wait_until("Isr of all three", Duration::from_secs(30), || zk.state("lag", 0).isr.len() == 3);
    let s = zk.state("lag", 0);
    let follower = *s.isr.iter().find(|id| **id != s.leader).unwrap();
    let f = &cluster.brokers[index_of(&cluster, follower)];
    f.pause();
    wait_until("Isr shrinks without the stalled follower", Duration::from_secs(15), || !zk.state("lag", 0).isr.contains(&follower));
    let shrunk = zk.state("lag", 0);
    assert_eq!((shrunk.leader, shrunk.leader_epoch), (s.leader, s.leader_epoch), "the leader's own write keeps leader and epoch");
    f.resume();
    wait_until("Isr grows back", Duration::from_secs(30), || zk.state("lag", 0).isr.contains(&follower));
}

#[test]
fn unclean_leader_election_on_and_off() {
    let cluster = Cluster::start(3, FAST);
    let mut cluster = cluster;
    let zk = Zk::new(&cluster);
    let rt = Cluster::runtime();
    let admin = rt.block_on(ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let mut strict = kafka08::common::Properties::new();
    strict.set("unclean.leader.election.enable", "false");
    // Both topics on brokers 1 (preferred leader) and 2.
    let assignment: kafka08::admin::ReplicaAssignment = [(0, vec![1, 2])].into_iter().collect();
    rt.block_on(kafka08::admin::create_topic_with_assignment(&admin, "unclean-on", &assignment, &kafka08::common::Properties::new())).unwrap();
    rt.block_on(kafka08::admin::create_topic_with_assignment(&admin, "unclean-off", &assignment, &strict)).unwrap();
    for t in ["unclean-on", "unclean-off"] {
        cluster.wait_for_leaders(t, 1);
        wait_until("Isr [1,2]", Duration::from_secs(30), || zk.state(t, 0).isr.len() == 2);
    }
    // Broker 2 dies: it leaves the Isr. Then broker 1 (the last Isr member) dies.
    cluster.brokers[1].kill();
    for t in ["unclean-on", "unclean-off"] {
        wait_until("Isr [1]", Duration::from_secs(30), || zk.state(t, 0).isr == vec![1]);
    }
    cluster.brokers[0].kill();
    let ok = support::eventually(Duration::from_secs(30), || zk.state("unclean-off", 0).leader == -1 && zk.state("unclean-on", 0).leader == -1);
    assert!(ok, "no leader while nothing of the Isr lives: on {:?} off {:?} controller {:?}", zk.state("unclean-on", 0), zk.state("unclean-off", 0), zk.controller());
    // Broker 2 (outside the Isr) returns: only the topic that allows it elects it.
    cluster.brokers[1].restart();
    wait_until("unclean election picks broker 2", Duration::from_secs(30), || zk.state("unclean-on", 0).leader == 2);
    let off = zk.state("unclean-off", 0);
    assert_eq!(off.leader, -1, "unclean election disabled: {:?}", off);
    assert_eq!(off.isr, vec![1], "the last Isr member is remembered");
    // Broker 1 returns: the strict topic gets its leader back.
    cluster.brokers[0].restart();
    wait_until("the Isr member leads again", Duration::from_secs(30), || zk.state("unclean-off", 0).leader == 1);
}

#[test]
fn a_leader_whose_session_expired_comes_back_as_a_follower() {
    let cluster = Cluster::start(3, FAST);
    let zk = Zk::new(&cluster);
    cluster.create_topic("expire", 1, 3);
    wait_until("Isr of all three", Duration::from_secs(30), || zk.state("expire", 0).isr.len() == 3);
    let s = zk.state("expire", 0);
    let old = &cluster.brokers[index_of(&cluster, s.leader)];
    old.pause();
    wait_until("another leader after the session expired", Duration::from_secs(30), || {
        let n = zk.state("expire", 0);
        n.leader >= 0 && n.leader != s.leader
    });
    let new_leader = zk.state("expire", 0).leader;
    old.resume();
    // The old leader now refuses produce (not leader) and rejoins as a follower.
    let set = kafka08::message::encode_messages(kafka08::message::CompressionCodec::None, &[kafka08::message::Message::new(None, Some(b"x"), kafka08::message::CompressionCodec::None)], 0);
    let req = kafka08::api::ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topics: vec![kafka08::api::ProduceTopic { topic: "expire".into(), partitions: vec![kafka08::api::ProducePartition { partition: 0, message_set: set }] }],
    };
    wait_until("the old leader refuses produce", Duration::from_secs(30), || {
        try_call(&old.addr(), &req).is_some_and(|r| r.topics[0].partitions[0].error_code == kafka08::common::ErrorCode::NotLeaderForPartition)
    });
    wait_until("it rejoins the Isr as a follower", Duration::from_secs(60), || {
        let n = zk.state("expire", 0);
        n.isr.contains(&s.leader) && n.leader == new_leader
    });
}
