//! A real cluster for integration tests: one ZooKeeper and N kafka08 brokers (the
//! controller elected among them), with helpers to create topics and wait for leaders.

use super::kafka::KafkaBroker;
use super::{wait_until, ZkServer};
use bytes::Bytes;
use kafka08::api::{self, ApiRequest, RequestHeader};
use std::io::{Read, Write};
use std::net::TcpStream;
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

/// One request on a fresh connection; `None` if the broker is unreachable or closes.
pub fn try_call<R: ApiRequest>(addr: &str, req: &R) -> Option<R::Response> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let h = RequestHeader::new(R::API_KEY, 0, 1, Some("test"));
    s.write_all(&api::encode_request(&h, req).ok()?).ok()?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let mut buf = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
    s.read_exact(&mut buf).ok()?;
    api::decode_response::<R::Response>(0, Bytes::from(buf)).ok().map(|(_, r)| r)
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
