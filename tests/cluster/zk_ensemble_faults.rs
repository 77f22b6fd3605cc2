//! Brokers on a three-node ZooKeeper ensemble ride out the ensemble's own faults: its
//! leader stopped and restarted (a quorum remains, a new leader is elected) and a member
//! that brokers are connected to stopped and restarted (they move to another member), each
//! shorter than the session timeout. Nothing may notice: no broker session expires (each
//! `/brokers/ids/<id>` keeps its ephemeral owner), no controller change, no leader change
//! (every partition's leader, leader epoch and controller epoch, and `/controller_epoch`,
//! stay as they were), and an acks=-1 producer running throughout loses nothing.

use crate::support;

use kafka08::zk::{json, paths, ZkClient};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use support::cluster::{assert_replicas_agree, Cluster};
use support::kafka::KafkaBroker;
use support::producer::{assert_no_loss, read_until_complete, TestProducer};
use support::{four_letter, wait_until, ZkEnsemble};

const TOPIC: &str = "ensemble";
const PARTITIONS: i32 = 3;
/// Long enough that a leader election or a reconnect on a loaded two-core machine fits
/// inside it with room to spare; the ensemble's tickTime of 2 s allows up to 40 s.
const SESSION_TIMEOUT_MS: &str = "15000";

/// What must not change while the ensemble has its faults.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    /// Broker id → the session that owns its registration znode.
    sessions: BTreeMap<i32, i64>,
    controller: Option<i32>,
    controller_epoch: Option<String>,
    /// Partition → (leader, leader epoch, controller epoch of the leader's election).
    leaders: BTreeMap<i32, (i32, i32, i32)>,
}

struct Zk {
    rt: tokio::runtime::Runtime,
    zk: ZkClient,
}

impl Zk {
    fn connect(connect: &str) -> Zk {
        let rt = Cluster::runtime();
        let zk = rt
            .block_on(ZkClient::connect(connect, Duration::from_secs(30), Duration::from_secs(30)))
            .expect("zookeeper");
        Zk { rt, zk }
    }

    /// One consistent-enough reading, or `None` while the test's own client cannot read
    /// (its member is down too).
    fn observe(&self) -> Option<Observed> {
        self.rt.block_on(async {
            let mut sessions = BTreeMap::new();
            for id in 1..=3 {
                let (_, stat) = self.zk.get_data(&paths::broker(id)).await.ok()??;
                sessions.insert(id, stat.ephemeral_owner);
            }
            let controller = match self.zk.get_data(paths::CONTROLLER).await.ok()? {
                Some((data, _)) => json::ControllerRegistration::parse(&data).ok().map(|c| c.brokerid),
                None => None,
            };
            let controller_epoch = self
                .zk
                .get_data(paths::CONTROLLER_EPOCH)
                .await
                .ok()?
                .map(|(d, _)| String::from_utf8_lossy(&d).into_owned());
            let mut leaders = BTreeMap::new();
            for p in 0..PARTITIONS {
                let (data, _) = self.zk.get_data(&paths::partition_state(TOPIC, p)).await.ok()??;
                let s = json::PartitionState::parse(&data).ok()?;
                leaders.insert(p, (s.leader, s.leader_epoch, s.controller_epoch));
            }
            Some(Observed { sessions, controller, controller_epoch, leaders })
        })
    }
}

/// The session ids (`sid=0x…` in `cons`) connected to ensemble member `n` right now.
fn sessions_on(ensemble: &ZkEnsemble, n: usize) -> BTreeSet<i64> {
    let out = four_letter(ensemble.client_port(n), "cons").unwrap_or_default();
    out.split("sid=0x")
        .skip(1)
        .filter_map(|rest| {
            let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            u64::from_str_radix(&hex, 16).ok().map(|v| v as i64)
        })
        .collect()
}

/// An acks=-1 producer in a thread: partitions in turn, one message per request, each
/// retried until acknowledged. A message not acknowledged within a minute fails the test.
struct Background {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(i32, String)>>>,
    handle: Option<thread::JoinHandle<Result<(), String>>>,
}

impl Background {
    fn start(bootstrap: Vec<String>) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (stop.clone(), acked.clone());
        let handle = thread::spawn(move || {
            let mut producer = TestProducer::new(bootstrap, TOPIC);
            let mut n = 0usize;
            while !s.load(Ordering::SeqCst) {
                let partition = (n % PARTITIONS as usize) as i32;
                let value = format!("m-{n:06}");
                if producer.send(partition, &value, Duration::from_secs(60)).is_none() {
                    return Err(format!("{value} to partition {partition} not acknowledged within 60 s"));
                }
                a.lock().unwrap().push((partition, value));
                n += 1;
            }
            Ok(())
        });
        Background { stop, acked, handle: Some(handle) }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Wait until `more` further messages are acknowledged: the cluster still takes writes.
    fn wait_progress(&self, more: usize, what: &str) {
        let from = self.count();
        wait_until(&format!("{more} more acks=-1 messages acknowledged {what}"), Duration::from_secs(60), || {
            self.count() >= from + more
        });
    }

    fn finish(mut self) -> Vec<(i32, String)> {
        self.stop.store(true, Ordering::SeqCst);
        let result = self.handle.take().expect("running").join().expect("producer thread");
        if let Err(e) = result {
            panic!("the producer stalled: {e}");
        }
        self.acked.lock().unwrap().clone()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[test]
fn brokers_ride_out_a_zookeeper_leader_restart_and_a_member_loss_without_expiry_churn_or_loss() {
    let ensemble = ZkEnsemble::start();
    let connect = ensemble.connect_string();
    let extra = [("zookeeper.session.timeout.ms", SESSION_TIMEOUT_MS), ("default.replication.factor", "3")];
    let brokers: Vec<KafkaBroker> = (1..=3).map(|id| KafkaBroker::start(id, &connect, &extra)).collect();
    let addrs: Vec<(i32, String)> = brokers.iter().map(|b| (b.id, b.addr())).collect();
    let bootstrap: Vec<String> = addrs.iter().map(|(_, a)| a.clone()).collect();

    let zk = Zk::connect(&connect);
    zk.rt
        .block_on(kafka08::admin::create_topic(&zk.zk, TOPIC, PARTITIONS, 3, &kafka08::common::Properties::new()))
        .expect("create topic");
    // Settled: every partition led, the full ISR in ZooKeeper, a controller.
    wait_until("every partition has a leader and a full ISR", Duration::from_secs(60), || {
        zk.rt.block_on(async {
            for p in 0..PARTITIONS {
                let Ok(Some((data, _))) = zk.zk.get_data(&paths::partition_state(TOPIC, p)).await else { return false };
                match json::PartitionState::parse(&data) {
                    Ok(s) if s.leader >= 0 && s.isr.len() == 3 => {}
                    _ => return false,
                }
            }
            true
        })
    });
    let producer = Background::start(bootstrap.clone());
    producer.wait_progress(30, "before any fault");
    let before = zk.observe().expect("read the cluster's state");
    assert!(before.controller.is_some(), "{before:?}");
    let broker_sessions: BTreeSet<i64> = before.sessions.values().copied().collect();

    // 1. Stop the ensemble's leader: the other two elect a new one; clients connected to
    //    the old leader reconnect elsewhere. Then bring it back (it rejoins as a follower).
    let old_leader = support::eventually(Duration::from_secs(30), || ensemble.leader().is_some())
        .then(|| ensemble.leader())
        .flatten()
        .expect("the ensemble has a leader");
    ensemble.stop_member(old_leader);
    wait_until("the two remaining members elect a leader", Duration::from_secs(60), || {
        ensemble.leader().is_some_and(|l| l != old_leader)
    });
    producer.wait_progress(30, "while the old ZooKeeper leader is down");
    ensemble.start_member(old_leader);
    wait_until("the old leader serves again", Duration::from_secs(60), || ensemble.mode(old_leader).is_some());
    producer.wait_progress(30, "after the old ZooKeeper leader is back");
    assert_eq!(zk.observe().as_ref(), Some(&before), "state changed across a ZooKeeper leader restart");

    // 2. Stop a member some broker is connected to (a follower if one has a broker, so no
    //    election this time): those brokers lose their connection and must move to another
    //    member within the session timeout.
    let mut victim = None;
    wait_until("some member holds a broker session", Duration::from_secs(30), || {
        let leader = ensemble.leader();
        let holding: Vec<usize> =
            (1..=3).filter(|&n| !sessions_on(&ensemble, n).is_disjoint(&broker_sessions)).collect();
        victim = holding.iter().copied().find(|&n| Some(n) != leader).or_else(|| holding.first().copied());
        victim.is_some()
    });
    let victim = victim.expect("found");
    let moved: BTreeSet<i64> = sessions_on(&ensemble, victim).intersection(&broker_sessions).copied().collect();
    assert!(!moved.is_empty());
    ensemble.stop_member(victim);
    wait_until(
        &format!("the brokers' sessions {moved:x?} reconnect to the other members"),
        Duration::from_secs(60),
        || {
            let elsewhere: BTreeSet<i64> =
                (1..=3).filter(|&n| n != victim).flat_map(|n| sessions_on(&ensemble, n)).collect();
            moved.is_subset(&elsewhere)
        },
    );
    producer.wait_progress(30, "after brokers moved to another ZooKeeper member");
    ensemble.start_member(victim);
    wait_until("the stopped member serves again", Duration::from_secs(60), || ensemble.mode(victim).is_some());
    producer.wait_progress(30, "after the member is back");

    let acked = producer.finish();
    assert_eq!(zk.observe().as_ref(), Some(&before), "state changed across a member loss");
    for (id, addr) in &addrs {
        let log = std::fs::read_to_string(brokers[(*id - 1) as usize].log_path()).unwrap_or_default();
        assert!(!log.to_lowercase().contains("session expired"), "broker {id} ({addr}) saw its session expire");
    }
    for p in 0..PARTITIONS {
        let want: Vec<String> = acked.iter().filter(|(q, _)| *q == p).map(|(_, v)| v.clone()).collect();
        let stored = read_until_complete(&bootstrap, TOPIC, p, &want, Duration::from_secs(60));
        assert_no_loss(&want, &stored);
    }
    assert_replicas_agree(&addrs, TOPIC, Duration::from_secs(60));
    eprintln!("{} messages acknowledged with acks=-1 across the faults, none lost", acked.len());
}
