//! A real cluster for integration tests: one ZooKeeper and N kafka08 brokers (the
//! controller elected among them), with helpers to create topics and wait for leaders.

use super::kafka::KafkaBroker;
pub use super::wire::try_call;
use super::{wait_until, ZkServer};
use kafka08::api;
use std::time::Duration;

pub struct Cluster {
    pub brokers: Vec<KafkaBroker>,
    pub zk: ZkServer,
}

impl Cluster {
    pub fn start(n: i32, extra: &[(&str, &str)]) -> Cluster {
        let zk = ZkServer::start();
        let brokers = (1..=n).map(|id| KafkaBroker::start(id, &zk.connect_string(), extra)).collect();
        let c = Cluster { brokers, zk };
        let n = n as usize;
        wait_until("every broker knows every broker", Duration::from_secs(60), || {
            c.brokers.iter().all(|b| try_call(&b.addr(), &api::MetadataRequest { topics: vec![] }).is_some_and(|m| m.brokers.len() == n))
        });
        c
    }

    pub fn bootstrap(&self) -> String {
        self.brokers.iter().map(|b| b.addr()).collect::<Vec<_>>().join(",")
    }

    /// A runtime with a worker thread of its own, so that a ZooKeeper client created in it
    /// keeps its session alive (pings) between `block_on` calls.
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
    }

    /// Create a topic through the admin API, then wait until every partition has a leader
    /// known to every broker.
    pub fn create_topic(&self, topic: &str, partitions: i32, rf: i32) {
        let rt = Cluster::runtime();
        rt.block_on(async {
            let zk = kafka08::zk::ZkClient::connect(&self.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
            kafka08::admin::create_topic(&zk, topic, partitions, rf, &kafka08::common::Properties::new()).await.expect("create topic");
        });
        self.wait_for_leaders(topic, partitions);
    }

    pub fn wait_for_leaders(&self, topic: &str, partitions: i32) {
        wait_until(&format!("leaders for {topic}"), Duration::from_secs(60), || {
            self.brokers.iter().filter(|b| b.pid().is_some()).all(|b| {
                try_call(&b.addr(), &api::MetadataRequest { topics: vec![topic.to_string()] }).is_some_and(|m| {
                    m.topics.first().is_some_and(|t| t.partitions.len() == partitions as usize && t.partitions.iter().all(|p| p.leader >= 0))
                })
            })
        });
    }
}

/// The brokers of one cluster in a chroot of a ZooKeeper server owned by the test: two
/// clusters on one ZooKeeper (`127.0.0.1:PORT/src` and `/dst`), as a mirror maker copies
/// between. The brokers create their chroot at start-up (0.8.2, KAFKA-404).
pub struct ChrootCluster {
    pub brokers: Vec<KafkaBroker>,
    /// `127.0.0.1:PORT/chroot`: what this cluster's brokers, consumers and tools are given.
    pub zk_connect: String,
}

impl ChrootCluster {
    pub fn start(zk: &ZkServer, chroot: &str, n: i32, extra: &[(&str, &str)]) -> ChrootCluster {
        let zk_connect = format!("{}{}", zk.connect_string(), chroot);
        let brokers = (1..=n).map(|id| KafkaBroker::start(id, &zk_connect, extra)).collect();
        let c = ChrootCluster { brokers, zk_connect };
        let n = n as usize;
        wait_until(&format!("every broker in {chroot} knows every broker"), Duration::from_secs(60), || {
            c.brokers.iter().all(|b| try_call(&b.addr(), &api::MetadataRequest { topics: vec![] }).is_some_and(|m| m.brokers.len() == n))
        });
        c
    }

    pub fn bootstrap(&self) -> String {
        self.brokers.iter().map(|b| b.addr()).collect::<Vec<_>>().join(",")
    }

    /// Create a topic in this cluster's chroot, then wait for its leaders.
    pub fn create_topic(&self, topic: &str, partitions: i32, rf: i32) {
        let rt = Cluster::runtime();
        rt.block_on(async {
            let zk = kafka08::zk::ZkClient::connect(&self.zk_connect, Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
            kafka08::admin::create_topic(&zk, topic, partitions, rf, &kafka08::common::Properties::new()).await.expect("create topic");
        });
        self.wait_for_leaders(topic, partitions);
    }

    pub fn wait_for_leaders(&self, topic: &str, partitions: i32) {
        wait_until(&format!("leaders for {topic}"), Duration::from_secs(60), || {
            self.brokers.iter().filter(|b| b.pid().is_some()).all(|b| {
                try_call(&b.addr(), &api::MetadataRequest { topics: vec![topic.to_string()] }).is_some_and(|m| {
                    m.topics.first().is_some_and(|t| t.partitions.len() == partitions as usize && t.partitions.iter().all(|p| p.leader >= 0))
                })
            })
        });
    }
}

/// The entries of `topic`-`partition` that the broker at `addr` holds below `until`, as
/// (offset, message bytes), read with the debugging replica id (-2), which any replica
/// answers. `None` if the broker does not answer. A replica only serves up to its own high
/// watermark, so a follower that has not yet heard the leader's may return fewer.
pub fn replica_entries(addr: &str, topic: &str, partition: i32, until: i64) -> Option<Vec<(i64, bytes::Bytes)>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < until {
        let f = try_call(
            addr,
            &api::FetchRequest {
                replica_id: api::DEBUGGING_REPLICA_ID,
                max_wait_ms: 0,
                min_bytes: 0,
                topics: vec![api::FetchTopic {
                    topic: topic.into(),
                    partitions: vec![api::FetchPartition { partition, fetch_offset: offset, max_bytes: 1 << 20 }],
                }],
            },
        )?;
        let p = f.topics.first()?.partitions.first()?;
        if p.error_code != kafka08::common::ErrorCode::NoError {
            return None;
        }
        let before = offset;
        for e in kafka08::message::shallow_iter(p.message_set.clone()).flatten() {
            if e.offset >= until {
                break;
            }
            offset = e.offset + 1;
            out.push((e.offset, e.message.as_bytes().clone()));
        }
        if offset == before {
            break;
        }
    }
    Some(out)
}

/// Leader, replicas and the leader's high watermark of every partition of `topic`, from
/// the metadata and a fetch at the leader.
fn partition_layout(bootstrap: &[String], topic: &str) -> Option<Vec<(i32, i32, Vec<i32>, i64)>> {
    let md = bootstrap.iter().find_map(|a| try_call(a, &api::MetadataRequest { topics: vec![topic.to_string()] }))?;
    let t = md.topics.iter().find(|t| t.topic == topic)?;
    let mut out = Vec::new();
    for p in &t.partitions {
        let leader = md.brokers.iter().find(|b| b.id == p.leader)?;
        let f = try_call(
            &format!("{}:{}", leader.host, leader.port),
            &api::FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 0,
                topics: vec![api::FetchTopic {
                    topic: topic.into(),
                    partitions: vec![api::FetchPartition { partition: p.partition, fetch_offset: 0, max_bytes: 0 }],
                }],
            },
        )?;
        let hw = f.topics.first()?.partitions.first()?.high_watermark;
        out.push((p.partition, p.leader, p.replicas.clone(), hw));
    }
    Some(out)
}

/// Wait until every replica of every partition of `topic` holds exactly the leader's
/// entries below the leader's high watermark (same offsets, same message bytes), so a
/// follower that diverged cannot hide until the next failover. `brokers` maps broker ids
/// to their addresses; every replica must be among them and running.
pub fn assert_replicas_agree(brokers: &[(i32, String)], topic: &str, deadline: Duration) {
    let bootstrap: Vec<String> = brokers.iter().map(|(_, a)| a.clone()).collect();
    let addr_of = |id: i32| brokers.iter().find(|(b, _)| *b == id).map(|(_, a)| a.clone());
    let mut problem = String::from("no metadata");
    let agreed = super::eventually(deadline, || {
        let Some(layout) = partition_layout(&bootstrap, topic) else {
            problem = "no metadata or no answer from a leader".into();
            return false;
        };
        for (partition, leader, replicas, hw) in layout {
            let Some(expected) = addr_of(leader).and_then(|a| replica_entries(&a, topic, partition, hw)) else {
                problem = format!("[{topic},{partition}]: leader {leader} did not answer");
                return false;
            };
            if hw > 0 && expected.last().map(|e| e.0) != Some(hw - 1) {
                problem = format!("[{topic},{partition}]: leader {leader} serves up to {:?}, its high watermark is {hw}", expected.last().map(|e| e.0));
                return false;
            }
            for r in replicas.iter().filter(|r| **r != leader) {
                let Some(got) = addr_of(*r).and_then(|a| replica_entries(&a, topic, partition, hw)) else {
                    problem = format!("[{topic},{partition}]: replica {r} did not answer");
                    return false;
                };
                if got != expected {
                    let first_diff = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(got.len().min(expected.len()));
                    problem = format!(
                        "[{topic},{partition}]: replica {r} has {} entries below the high watermark {hw}, the leader {leader} {}; first difference at entry {first_diff}",
                        got.len(),
                        expected.len()
                    );
                    return false;
                }
            }
        }
        true
    });
    assert!(agreed, "replicas of {topic} still differ after {deadline:?}: {problem}");
}

impl Cluster {
    /// Ids and addresses of the brokers that are running.
    pub fn broker_addrs(&mut self) -> Vec<(i32, String)> {
        self.brokers.iter_mut().filter_map(|b| b.is_running().then(|| (b.id, b.addr()))).collect()
    }

    /// [`assert_replicas_agree`] over this cluster's running brokers.
    pub fn assert_replicas_agree(&mut self, topic: &str) {
        let brokers = self.broker_addrs();
        assert_replicas_agree(&brokers, topic, Duration::from_secs(60));
    }
}

impl Cluster {
    /// Wait until every partition of `topic` has `replicas` brokers in its ISR as
    /// ZooKeeper's state znodes hold it (what the leader and the controller wrote).
    pub fn wait_for_full_isr(&self, topic: &str, partitions: i32, replicas: usize) {
        let rt = Cluster::runtime();
        let zk = rt
            .block_on(kafka08::zk::ZkClient::connect(&self.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)))
            .expect("zookeeper");
        let isr = |partition: i32| -> Option<Vec<i32>> {
            let path = kafka08::zk::paths::partition_state(topic, partition);
            let (data, _) = rt.block_on(zk.get_data(&path)).ok()??;
            kafka08::zk::json::PartitionState::parse(&data).ok().map(|s| s.isr)
        };
        wait_until(&format!("every partition of {topic} has {replicas} replicas in its ISR"), Duration::from_secs(60), || {
            (0..partitions).all(|p| isr(p).is_some_and(|isr| isr.len() == replicas))
        });
    }
}

/// The elected controller's id and epoch, once both are in ZooKeeper.
pub fn elected_controller(zk: &ZkServer) -> (i32, i32) {
    let rt = Cluster::runtime();
    let client = rt.block_on(async {
        kafka08::zk::ZkClient::connect(&zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk")
    });
    let mut found = None;
    wait_until("a controller and its epoch in ZooKeeper", Duration::from_secs(60), || {
        if let Ok((Some(id), Some(epoch))) = rt.block_on(client.controller_and_epoch()) {
            found = Some((id, epoch));
        }
        found.is_some()
    });
    found.unwrap()
}
