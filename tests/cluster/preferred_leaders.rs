//! Leadership back to the preferred replicas after a broker restart: with
//! `bin/kafka-preferred-replica-election.sh` (one partition from a file, then all), and by
//! itself with `auto.leader.rebalance.enable`; and the ISR a restarted follower rejoins
//! reaching every broker's TopicMetadata answer (0.8.2 left it stale, KAFKA-1367).

use crate::support;

use kafka08::api;
use kafka08::zk::json::{ControllerRegistration, TopicAssignment};
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::producer::{assert_no_loss, read_until_complete, TestProducer};
use support::{run_with_env, wait_until, TempDir};

const TOPIC: &str = "pref";
const PARTITIONS: i32 = 6;

fn settings(auto_rebalance: bool) -> Vec<(&'static str, &'static str)> {
    vec![
        ("zookeeper.session.timeout.ms", "4000"),
        ("replica.fetch.wait.max.ms", "100"),
        ("controlled.shutdown.enable", "false"),
        ("auto.leader.rebalance.enable", if auto_rebalance { "true" } else { "false" }),
        ("leader.imbalance.check.interval.seconds", "5"),
    ]
}

/// `/controller`'s broker id and the topic's assignment, from ZooKeeper.
fn controller_and_assignment(cluster: &Cluster) -> (i32, BTreeMap<i32, Vec<i32>>) {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        let (c, _) = zk.get_data(paths::CONTROLLER).await.unwrap().expect("a controller");
        let (a, _) = zk.get_data(&paths::topic(TOPIC)).await.unwrap().expect("the topic");
        (ControllerRegistration::parse(&c).unwrap().brokerid, TopicAssignment::parse(&a).unwrap().partitions)
    })
}

fn election_node_exists(cluster: &Cluster) -> bool {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        zk.exists(paths::PREFERRED_REPLICA_ELECTION).await.unwrap().is_some()
    })
}

/// Partition → (leader, isr) as the broker at `addr` answers TopicMetadata.
fn metadata(addr: &str) -> Option<BTreeMap<i32, (i32, Vec<i32>)>> {
    let md = try_call(addr, &api::MetadataRequest { topics: vec![TOPIC.to_string()] })?;
    let t = md.topics.into_iter().find(|t| t.topic == TOPIC)?;
    Some(t.partitions.into_iter().map(|p| (p.partition, (p.leader, p.isr))).collect())
}

fn running_addrs(cluster: &mut Cluster) -> Vec<String> {
    cluster.broker_addrs().into_iter().map(|(_, a)| a).collect()
}

/// Every running broker answers with these leaders (a partition → leader check).
fn all_brokers_see(cluster: &mut Cluster, check: impl Fn(&BTreeMap<i32, (i32, Vec<i32>)>) -> bool) -> bool {
    let addrs = running_addrs(cluster);
    addrs.iter().all(|a| metadata(a).is_some_and(|m| m.len() == PARTITIONS as usize && check(&m)))
}

/// Start three brokers, create the topic (replication 3), kill a broker that is not the
/// controller and restart it: it rejoins every ISR and leads nothing. Returns the cluster,
/// the restarted broker's id and the assignment.
fn restarted_broker_leads_nothing(auto_rebalance: bool) -> (Cluster, i32, BTreeMap<i32, Vec<i32>>) {
    let settings = settings(auto_rebalance);
    let mut cluster = Cluster::start(3, &settings);
    cluster.create_topic(TOPIC, PARTITIONS, 3);
    cluster.wait_for_full_isr(TOPIC, PARTITIONS, 3);
    let (controller, assignment) = controller_and_assignment(&cluster);
    let victim = (1..=3).find(|id| *id != controller).unwrap();
    let index = (victim - 1) as usize;
    cluster.brokers[index].kill();
    wait_until("no partition led by the killed broker", Duration::from_secs(60), || {
        all_brokers_see(&mut cluster, |m| m.values().all(|(leader, _)| *leader != victim && *leader >= 0))
    });
    cluster.brokers[index].restart();
    (cluster, victim, assignment)
}

fn preferred(assignment: &BTreeMap<i32, Vec<i32>>, p: i32) -> i32 {
    assignment[&p][0]
}

#[test]
fn the_election_tool_moves_one_partition_then_all_back_and_no_acknowledged_message_is_lost() {
    let (mut cluster, victim, assignment) = restarted_broker_leads_nothing(false);

    // The rejoined follower's ISR reaches every broker's metadata, not only ZooKeeper.
    wait_until("every broker's metadata shows the full ISR of every partition", Duration::from_secs(60), || {
        all_brokers_see(&mut cluster, |m| m.values().all(|(_, isr)| isr.len() == 3))
    });
    let addrs = running_addrs(&mut cluster);
    let before = metadata(&addrs[0]).unwrap();
    assert!(before.values().all(|(leader, _)| *leader != victim), "auto rebalance is off: {before:?}");

    // An acks=-1 producer runs through both elections.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<BTreeMap<i32, Vec<String>>>> = Arc::default();
    let producer = {
        let (stop, acked, addrs) = (stop.clone(), acked.clone(), addrs.clone());
        std::thread::spawn(move || {
            let mut p = TestProducer::new(addrs, TOPIC);
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let partition = i % PARTITIONS;
                let value = format!("m{i:06}");
                if p.send(partition, &value, Duration::from_secs(30)).is_some() {
                    acked.lock().unwrap().entry(partition).or_default().push(value);
                }
                i += 1;
            }
        })
    };
    wait_until("the producer got acknowledgements", Duration::from_secs(30), || {
        acked.lock().unwrap().values().map(Vec::len).sum::<usize>() >= 20
    });

    let victims: Vec<i32> = (0..PARTITIONS).filter(|p| preferred(&assignment, *p) == victim).collect();
    assert_eq!(victims.len(), 2, "{assignment:?}");
    let (one, other) = (victims[0], victims[1]);
    let dir = TempDir::new("pref-election");
    let file = dir.join("one.json");
    std::fs::write(&file, format!(r#"{{"partitions":[{{"topic":"{TOPIC}","partition":{one}}}]}}"#)).unwrap();
    let zk = cluster.zk.connect_string();
    let env = [("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))];
    let script = "bin/kafka-preferred-replica-election.sh";
    let out = run_with_env(script, &["--zookeeper", &zk, "--path-to-json-file", file.to_str().unwrap()], None, &env);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(
        out.stdout.lines().last(),
        Some(format!("Successfully started preferred replica election for partitions Set([{TOPIC},{one}])").as_str())
    );
    wait_until("the listed partition is led by its preferred replica everywhere", Duration::from_secs(30), || {
        all_brokers_see(&mut cluster, |m| m[&one].0 == victim)
    });
    wait_until("the election znode is deleted", Duration::from_secs(30), || !election_node_exists(&cluster));
    // The election is over; the partition not listed did not move.
    let after_one = metadata(&running_addrs(&mut cluster)[0]).unwrap();
    assert_ne!(after_one[&other].0, victim, "only the listed partition moves: {after_one:?}");

    let out = run_with_env(script, &["--zookeeper", &zk], None, &env);
    assert_eq!(out.code, Some(0), "{}", out.all());
    wait_until("every partition is led by its preferred replica everywhere", Duration::from_secs(30), || {
        all_brokers_see(&mut cluster, |m| m.iter().all(|(p, (leader, _))| *leader == preferred(&assignment, *p)))
    });
    wait_until("the election znode is deleted", Duration::from_secs(30), || !election_node_exists(&cluster));

    // Keep producing a little on the new leaders, then check every acknowledged message.
    let acked_before: usize = acked.lock().unwrap().values().map(Vec::len).sum();
    wait_until("the producer keeps getting acknowledgements", Duration::from_secs(30), || {
        acked.lock().unwrap().values().map(Vec::len).sum::<usize>() >= acked_before + 12
    });
    stop.store(true, Ordering::SeqCst);
    producer.join().unwrap();
    let bootstrap = running_addrs(&mut cluster);
    for (partition, values) in acked.lock().unwrap().iter() {
        let stored = read_until_complete(&bootstrap, TOPIC, *partition, values, Duration::from_secs(30));
        assert_no_loss(values, &stored);
    }
    cluster.assert_replicas_agree(TOPIC);
}

#[test]
fn with_auto_rebalance_leadership_returns_to_the_restarted_broker_by_itself() {
    let (mut cluster, victim, assignment) = restarted_broker_leads_nothing(true);
    // It prefers 2 of 6 partitions and leads none (100 % > 10 %): the 5 s check moves them.
    wait_until("every partition is led by its preferred replica everywhere", Duration::from_secs(60), || {
        all_brokers_see(&mut cluster, |m| m.iter().all(|(p, (leader, _))| *leader == preferred(&assignment, *p)))
    });
    let m = metadata(&running_addrs(&mut cluster)[0]).unwrap();
    assert_eq!(m.values().filter(|(leader, _)| *leader == victim).count(), 2, "{m:?}");
}
