//! Shared pieces of the controller tests (`controller_election`, `controller_partitions`).
//!
//! - [`FakeBroker`]: a TCP listener that decodes controller requests with
//!   `api::decode_request`, records them and answers with empty successes; it registers
//!   in `/brokers/ids/<id>` on a ZooKeeper session of its own.
//! - `eventually!` / `wait_for!`: poll an async condition until a deadline.
#![allow(dead_code, unused_macros)]

use crate::support;

use bytes::BytesMut;
use kafka08::api::{
    decode_request, encode_response, split_frame, LeaderAndIsrRequest, LeaderAndIsrResponse, PartitionResult, Request,
    RequestHeader, StopReplicaResponse, UpdateMetadataRequest, UpdateMetadataResponse,
};
use kafka08::common::{ErrorCode, TopicPartition};
use kafka08::controller::{ControllerConfig, ControllerHandle, KafkaController};
use kafka08::zk::json::BrokerRegistration;
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Deadline for anything the controller does in reaction to a change.
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// Poll `$cond` (an expression that may `.await`) until it is true; panic at the deadline.
macro_rules! eventually {
    ($what:expr, $deadline:expr, $cond:expr) => {{
        let deadline: std::time::Duration = $deadline;
        let end = std::time::Instant::now() + deadline;
        loop {
            if $cond {
                break;
            }
            if std::time::Instant::now() >= end {
                panic!("timed out after {:?} waiting until {}", deadline, $what);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
}

/// Poll `$value` (an `Option`, may `.await`) until it is `Some`; its content.
macro_rules! wait_for {
    ($what:expr, $deadline:expr, $value:expr) => {{
        let deadline: std::time::Duration = $deadline;
        let end = std::time::Instant::now() + deadline;
        loop {
            if let Some(v) = $value {
                break v;
            }
            if std::time::Instant::now() >= end {
                panic!("timed out after {:?} waiting for {}", deadline, $what);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
}

pub async fn connect(zk: &support::ZkServer) -> ZkClient {
    // RUST_LOG=kafka08=debug shows the controller's decisions of a failing test.
    let _ = env_logger::builder().is_test(true).try_init();
    ZkClient::connect(&zk.connect_string(), SESSION_TIMEOUT, SESSION_TIMEOUT).await.expect("connect to zookeeper")
}

/// Controller settings for tests: short back-offs and socket timeouts.
pub fn test_config() -> ControllerConfig {
    ControllerConfig {
        socket_timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(200),
        ..ControllerConfig::default()
    }
}

/// A controller on a session of its own; shut down (and its session closed) on drop.
pub struct TestController {
    pub handle: ControllerHandle,
    pub zk: ZkClient,
}

impl TestController {
    pub async fn start(zk: &support::ZkServer, broker_id: i32) -> TestController {
        let client = connect(zk).await;
        let handle = KafkaController::start(client.clone(), broker_id, test_config());
        TestController { handle, zk: client }
    }

    /// A controller whose ZooKeeper connection goes through `proxy`.
    pub async fn start_via(proxy: &ZkProxy, broker_id: i32) -> TestController {
        let client = ZkClient::connect(&proxy.connect_string(), SESSION_TIMEOUT, SESSION_TIMEOUT)
            .await
            .expect("connect via proxy");
        let handle = KafkaController::start(client.clone(), broker_id, test_config());
        TestController { handle, zk: client }
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

/// Create `/brokers/topics/<topic>` with raw assignment JSON, as the admin tool does.
pub async fn create_topic(zk: &ZkClient, topic: &str, assignment_json: &str) {
    zk.create_persistent(&paths::topic(topic), assignment_json.as_bytes()).await.expect("create topic");
}

/// A state znode as raw JSON plus its version.
pub async fn read_state(zk: &ZkClient, topic: &str, partition: i32) -> Option<(serde_json::Value, i32)> {
    let (data, stat) = zk.get_data(&paths::partition_state(topic, partition)).await.expect("read state")?;
    let json: serde_json::Value = serde_json::from_slice(&data).expect("state is json");
    Some((json, stat.version))
}

/// Checks the 0.8.2 field set and returns (leader, leader_epoch, isr, controller_epoch).
pub fn state_fields(json: &serde_json::Value) -> (i64, i64, Vec<i64>, i64) {
    let keys: BTreeSet<&str> = json.as_object().expect("object").keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["controller_epoch", "isr", "leader", "leader_epoch", "version"].into_iter().collect(),
        "state znode fields: {}",
        json
    );
    assert_eq!(json["version"], 1);
    let isr = json["isr"].as_array().expect("isr array").iter().map(|v| v.as_i64().expect("int")).collect();
    (
        json["leader"].as_i64().expect("int"),
        json["leader_epoch"].as_i64().expect("int"),
        isr,
        json["controller_epoch"].as_i64().expect("int"),
    )
}

pub async fn controller_epoch_znode(zk: &ZkClient) -> Option<(i64, i32)> {
    let (data, stat) = zk.get_data(paths::CONTROLLER_EPOCH).await.expect("read epoch")?;
    Some((std::str::from_utf8(&data).expect("utf-8").parse().expect("decimal"), stat.version))
}

/// A broker that only listens: records controller requests, answers success.
pub struct FakeBroker {
    pub id: i32,
    pub port: u16,
    received: Arc<Mutex<Vec<(RequestHeader, Request)>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
    session: Option<ZkClient>,
}

impl FakeBroker {
    pub async fn start(id: i32) -> FakeBroker {
        FakeBroker::start_on(id, 0).await
    }

    /// Listen on a given port (0: any).
    pub async fn start_on(id: i32, port: u16) -> FakeBroker {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let (r, t) = (received.clone(), tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let conn = tokio::spawn(serve(socket, r.clone()));
                t.lock().unwrap().push(conn);
            }
        });
        FakeBroker { id, port, received, tasks, accept, session: None }
    }

    /// Register `/brokers/ids/<id>` on a session of its own.
    pub async fn register(&mut self, zk: &support::ZkServer) {
        let session = connect(zk).await;
        let registration = BrokerRegistration::new("127.0.0.1", self.port as i32, -1, 1_428_512_949_385);
        session
            .create_ephemeral_expect_conflict(&paths::broker(self.id), &registration.to_bytes())
            .await
            .expect("register");
        self.session = Some(session);
    }

    /// Start and register.
    pub async fn live(id: i32, zk: &support::ZkServer) -> FakeBroker {
        let mut b = FakeBroker::start(id).await;
        b.register(zk).await;
        b
    }

    /// The broker restarts between two looks of the controller: on a new session, its
    /// registration is deleted and created again in one ZooKeeper transaction, so
    /// `/brokers/ids` never lacks it and only the znode's czxid tells (KAFKA-1120).
    pub async fn bounce(&mut self, zk: &support::ZkServer) {
        use zookeeper_client as zkc;
        let session = connect(zk).await;
        let registration = BrokerRegistration::new("127.0.0.1", self.port as i32, -1, 1_428_512_949_386);
        let client = session.raw();
        let mut multi = client.new_multi_writer();
        let path = paths::broker(self.id);
        multi.add_delete(&path, None).expect("delete op");
        multi
            .add_create(&path, &registration.to_bytes(), &zkc::CreateMode::Ephemeral.with_acls(zkc::Acls::anyone_all()))
            .expect("create op");
        multi.commit().await.expect("re-register in one transaction");
        // The old session closes without touching the new registration.
        self.session = Some(session);
    }

    /// The broker dies: its registration goes (deleted, then its session closed).
    pub async fn kill(&mut self) {
        if let Some(session) = self.session.take() {
            session.delete(&paths::broker(self.id)).await.expect("deregister");
        }
    }

    /// Api names of the requests received, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.received().iter().map(|(h, _)| h.api_key.name()).collect()
    }

    pub fn received(&self) -> Vec<(RequestHeader, Request)> {
        self.received.lock().unwrap().clone()
    }

    pub fn leader_and_isr(&self) -> Vec<LeaderAndIsrRequest> {
        self.received()
            .into_iter()
            .filter_map(|(_, r)| match r {
                Request::LeaderAndIsr(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    pub fn update_metadata(&self) -> Vec<UpdateMetadataRequest> {
        self.received()
            .into_iter()
            .filter_map(|(_, r)| match r {
                Request::UpdateMetadata(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The latest LeaderAndIsr entry received for a partition.
    pub fn latest_leader_and_isr(&self, topic: &str, partition: i32) -> Option<kafka08::api::PartitionState> {
        self.leader_and_isr()
            .into_iter()
            .flat_map(|r| r.partition_states)
            .rfind(|s| s.topic == topic && s.partition == partition)
    }

    /// The latest UpdateMetadata entry received for a partition, with the alive brokers.
    pub fn latest_metadata(&self, topic: &str, partition: i32) -> Option<(kafka08::api::PartitionState, Vec<i32>)> {
        self.update_metadata().into_iter().rev().find_map(|r| {
            let brokers = r.alive_brokers.iter().map(|b| b.id).collect();
            r.partition_states.into_iter().find(|s| s.topic == topic && s.partition == partition).map(|s| (s, brokers))
        })
    }

    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

async fn serve(mut socket: tokio::net::TcpStream, received: Arc<Mutex<Vec<(RequestHeader, Request)>>>) {
    let mut buf = BytesMut::new();
    loop {
        loop {
            let payload = match split_frame(&mut buf, 100 << 20) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(_) => return,
            };
            let Ok((header, request)) = decode_request(payload) else { return };
            let c = header.correlation_id;
            let response = match &request {
                Request::LeaderAndIsr(r) => encode_response(
                    c,
                    &LeaderAndIsrResponse {
                        error_code: ErrorCode::NoError,
                        partitions: r
                            .partition_states
                            .iter()
                            .map(|s| PartitionResult {
                                topic: s.topic.clone(),
                                partition: s.partition,
                                error_code: ErrorCode::NoError,
                            })
                            .collect(),
                    },
                ),
                Request::UpdateMetadata(_) => {
                    encode_response(c, &UpdateMetadataResponse { error_code: ErrorCode::NoError })
                }
                Request::StopReplica(r) => encode_response(
                    c,
                    &StopReplicaResponse {
                        error_code: ErrorCode::NoError,
                        partitions: r
                            .partitions
                            .iter()
                            .map(|tp: &TopicPartition| PartitionResult {
                                topic: tp.topic.clone(),
                                partition: tp.partition,
                                error_code: ErrorCode::NoError,
                            })
                            .collect(),
                    },
                ),
                _ => return,
            };
            received.lock().unwrap().push((header, request));
            let Ok(bytes) = response else { return };
            if socket.write_all(&bytes).await.is_err() {
                return;
            }
        }
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A TCP proxy in front of ZooKeeper that can cut a client off (a network partition), so
/// its session expires on the server while the process runs on.
pub struct ZkProxy {
    port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl ZkProxy {
    pub async fn start(zk: &support::ZkServer) -> ZkProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let target = zk.connect_string();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let (c, conns) = (cut.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let target = target.clone();
                conns.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        ZkProxy { port, cut, connections, accept }
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Drop every connection and refuse new ones.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn heal(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for ZkProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}
