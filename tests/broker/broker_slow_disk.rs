//! A slow disk holds only the threads that wait for it (issue 12, item 7). With
//! `flush.messages` set every append fsyncs; if that fsync ran on one of the runtime's
//! async workers, a few slow fsyncs would hold all of them and the broker would stop
//! answering anyone — its other clients, its followers, the controller and its own
//! ZooKeeper session heartbeats. The fsyncs are slowed by the failpoint of
//! `kafka08::common::failpoint` (each logs when it starts and ends); the broker must
//! answer a Metadata request while as many delayed fsyncs as it has async workers are all
//! still running.

use crate::support;

use kafka08::api;
use kafka08::common::failpoint::FSYNC_DELAY_ENV;
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::net::TcpStream;
use std::time::Duration;
use support::cluster::elected_controller;
use support::kafka::KafkaBroker;
use support::{wait_until, wire, ZkServer};

/// Long enough that a Metadata round trip on a loaded machine fits in it many times over.
const FSYNC_DELAY_MS: &str = "10000";
const STARTED: &str = "failpoint: delayed fsync started";
const ENDED: &str = "failpoint: delayed fsync ended";

/// The runtime's async workers: tokio starts one per available CPU (the broker runs on
/// the same machine as the test).
fn async_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn count_in_log(b: &KafkaBroker, line: &str) -> usize {
    std::fs::read_to_string(b.log_path()).unwrap_or_default().matches(line).count()
}

fn one_message_set(value: &str) -> bytes::Bytes {
    encode_messages(CompressionCodec::None, &[Message::new(None, Some(value.as_bytes()), CompressionCodec::None)], 0)
}

fn create_topic(zk: &ZkServer, topic: &str, assignment: kafka08::admin::ReplicaAssignment) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = kafka08::zk::ZkClient::connect(&zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
        kafka08::admin::create_topic_with_assignment(&client, topic, &assignment, &kafka08::common::Properties::new()).await.expect("create topic");
    });
}

fn wait_for_leader(addr: &str, topic: &str, partitions: i32, leader: i32) {
    wait_until(&format!("broker {leader} leads every partition of {topic}"), Duration::from_secs(60), || {
        wire::try_call(addr, &api::MetadataRequest { topics: vec![topic.into()] }).is_some_and(|m| {
            m.topics.iter().any(|t| t.topic == topic && t.partitions.len() == partitions as usize && t.partitions.iter().all(|p| p.leader == leader))
        })
    });
}

/// Once `workers` delayed fsyncs have started on `b`, a Metadata request is answered
/// before any of them ends.
fn assert_answers_while_fsyncs_run(b: &KafkaBroker, workers: usize) {
    wait_until(&format!("{workers} delayed fsyncs running on broker {}", b.id), Duration::from_secs(60), || count_in_log(b, STARTED) >= workers);
    assert_eq!(count_in_log(b, ENDED), 0, "a delayed fsync ended before the test could ask: raise FSYNC_DELAY_MS");
    let answer = wire::request(&b.addr(), 0, &api::MetadataRequest { topics: vec![] }, Duration::from_secs(60));
    assert!(answer.is_some(), "broker {} did not answer a Metadata request", b.id);
    let ended = count_in_log(b, ENDED);
    assert_eq!(
        ended, 0,
        "broker {} answered Metadata only after {ended} delayed fsync(s) ended: the fsyncs held its async workers",
        b.id
    );
}

/// A leader with `flush.messages=1`: one produce per connection to partitions of their own,
/// one more than there are async workers, each append stuck in a slow fsync.
#[test]
fn a_slow_fsync_in_a_produce_holds_no_async_worker() {
    let workers = async_workers();
    let partitions = workers as i32 + 1;
    let zk = ZkServer::start();
    let b = KafkaBroker::start_with_env(1, &zk.connect_string(), &[("log.flush.interval.messages", "1")], &[(FSYNC_DELAY_ENV, FSYNC_DELAY_MS)]);
    create_topic(&zk, "slow", (0..partitions).map(|p| (p, vec![1])).collect());
    wait_for_leader(&b.addr(), "slow", partitions, 1);
    let mut producers = Vec::new();
    for p in 0..partitions {
        let mut s = TcpStream::connect(b.addr()).unwrap();
        let req = api::ProduceRequest {
            acks: 1,
            timeout_ms: 30_000,
            topics: vec![api::ProduceTopic { topic: "slow".into(), partitions: vec![api::ProducePartition { partition: p, message_set: one_message_set("v") }] }],
        };
        wire::send(&mut s, 0, p, &req).unwrap();
        producers.push(s);
    }
    assert_answers_while_fsyncs_run(&b, workers);
    // Every produce is still answered, without error, once its fsync is done.
    for mut s in producers {
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let frame = wire::read_frame(&mut s).expect("produce answered");
        let (_, r) = api::decode_response::<api::ProduceResponse>(0, frame).unwrap();
        assert_eq!(r.topics[0].partitions[0].error_code, kafka08::common::ErrorCode::NoError, "{r:?}");
    }
}

/// A follower with `flush.messages=1` and a replica fetcher per async worker and one more:
/// every fetcher's append is stuck in a slow fsync, and the follower still answers.
#[test]
fn a_slow_fsync_in_a_replica_fetcher_holds_no_async_worker() {
    let workers = async_workers();
    let fetchers = workers + 1;
    let partitions = 2 * fetchers as i32;
    let zk = ZkServer::start();
    let leader = KafkaBroker::start(1, &zk.connect_string(), &[]);
    let follower = KafkaBroker::start_with_env(
        2,
        &zk.connect_string(),
        &[("log.flush.interval.messages", "1"), ("num.replica.fetchers", &fetchers.to_string())],
        &[(FSYNC_DELAY_ENV, FSYNC_DELAY_MS)],
    );
    create_topic(&zk, "slow", (0..partitions).map(|p| (p, vec![1, 2])).collect());
    wait_for_leader(&leader.addr(), "slow", partitions, 1);
    let r = wire::call(
        &leader.addr(),
        &api::ProduceRequest {
            acks: 1,
            timeout_ms: 30_000,
            topics: vec![api::ProduceTopic {
                topic: "slow".into(),
                partitions: (0..partitions).map(|p| api::ProducePartition { partition: p, message_set: one_message_set("v") }).collect(),
            }],
        },
    );
    assert!(r.topics[0].partitions.iter().all(|p| p.error_code == kafka08::common::ErrorCode::NoError), "{r:?}");
    // Consecutive partitions go to consecutive fetchers, so every fetcher has data.
    assert_answers_while_fsyncs_run(&follower, workers);
}

/// StopReplica(delete) waits for the log's background flushes (started when a segment
/// rolls) before it removes the folder: one request per partition, each waiting for a
/// slow fsync, must not hold the async workers either.
#[test]
fn a_stop_replica_delete_waiting_for_a_slow_flush_holds_no_async_worker() {
    let workers = async_workers();
    let partitions = workers as i32 + 1;
    let zk = ZkServer::start();
    let b = KafkaBroker::start_with_env(1, &zk.connect_string(), &[("log.segment.bytes", "1024")], &[(FSYNC_DELAY_ENV, FSYNC_DELAY_MS)]);
    create_topic(&zk, "slow", (0..partitions).map(|p| (p, vec![1])).collect());
    wait_for_leader(&b.addr(), "slow", partitions, 1);
    let (controller_id, controller_epoch) = elected_controller(&zk);
    // Two 700-byte messages per partition: the second rolls the segment, whose flush then
    // runs (slowly) in the background.
    let big = "x".repeat(700);
    for _ in 0..2 {
        let r = wire::call(
            &b.addr(),
            &api::ProduceRequest {
                acks: 1,
                timeout_ms: 30_000,
                topics: vec![api::ProduceTopic {
                    topic: "slow".into(),
                    partitions: (0..partitions).map(|p| api::ProducePartition { partition: p, message_set: one_message_set(&big) }).collect(),
                }],
            },
        );
        assert!(r.topics[0].partitions.iter().all(|p| p.error_code == kafka08::common::ErrorCode::NoError), "{r:?}");
    }
    wait_until("a slow background flush per partition", Duration::from_secs(60), || count_in_log(&b, STARTED) >= partitions as usize);
    let mut stoppers = Vec::new();
    for p in 0..partitions {
        let mut s = TcpStream::connect(b.addr()).unwrap();
        let req = api::StopReplicaRequest {
            controller_id,
            controller_epoch,
            delete_partitions: true,
            partitions: vec![kafka08::common::TopicPartition::new("slow", p)],
        };
        wire::send(&mut s, 0, p, &req).unwrap();
        stoppers.push(s);
    }
    wait_until(&format!("{workers} StopReplica(delete) requests being handled"), Duration::from_secs(60), || {
        count_in_log(&b, "handling stop replica (delete=true)") >= workers
    });
    assert_answers_while_fsyncs_run(&b, workers);
    for mut s in stoppers {
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let frame = wire::read_frame(&mut s).expect("StopReplica answered");
        let (_, r) = api::decode_response::<api::StopReplicaResponse>(0, frame).unwrap();
        assert_eq!(r.error_code, kafka08::common::ErrorCode::NoError, "{r:?}");
    }
    for p in 0..partitions {
        assert!(!b.data_dir().join(format!("slow-{p}")).exists(), "slow-{p} still on disk");
    }
}

