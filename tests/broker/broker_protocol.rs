//! One real broker process driven over the wire, with the test acting as its controller
//! (LeaderAndIsr + UpdateMetadata): produce, fetch, offsets, metadata, long poll, and every
//! kind of bad input answered with 0.8.2's error code or a closed connection — while the
//! broker keeps serving everyone else.

use crate::support;

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, Broker, RequestHeader};
use kafka08::common::ErrorCode;
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::kafka::KafkaBroker;
use support::ZkServer;

/// How long a broker may take to close a connection it refuses.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

struct Conn {
    s: TcpStream,
    cid: i32,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { s, cid: 0 }
    }

    fn send_only<R: ApiRequest>(&mut self, req: &R) -> i32 {
        self.cid += 1;
        let h = RequestHeader::new(R::API_KEY, 0, self.cid, Some("test"));
        self.s.write_all(&api::encode_request(&h, req).unwrap()).unwrap();
        self.cid
    }

    fn read_frame(&mut self) -> Option<Vec<u8>> {
        let mut size = [0u8; 4];
        self.s.read_exact(&mut size).ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
        self.s.read_exact(&mut buf).ok()?;
        Some(buf)
    }

    fn call<R: ApiRequest>(&mut self, req: &R) -> R::Response {
        let cid = self.send_only(req);
        let frame = self.read_frame().expect("a response");
        let (h, body) = api::decode_response::<R::Response>(0, Bytes::from(frame)).unwrap();
        assert_eq!(h.correlation_id, cid);
        body
    }

    /// True when the broker closed this connection (EOF or reset) within
    /// [`CLOSE_DEADLINE`]. A broker that keeps the connection open without answering (a
    /// read timeout) or that answers is not a close.
    fn closed(&mut self) -> bool {
        self.s.set_read_timeout(Some(CLOSE_DEADLINE)).unwrap();
        let mut b = [0u8; 1];
        match self.s.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::BrokenPipe
            ),
        }
    }
}

fn state(topic: &str, partition: i32, leader: i32, replicas: Vec<i32>, leader_epoch: i32) -> api::PartitionState {
    api::PartitionState { topic: topic.into(), partition, controller_epoch: 1, leader, leader_epoch, isr: vec![leader], zk_version: 0, replicas }
}

/// Act as the controller: broker 1 leads t-0 and t-1; broker 2 (not running) leads t-2,
/// which broker 1 follows.
fn make_leader(c: &mut Conn, b: &KafkaBroker) {
    let me = Broker::new(1, "127.0.0.1", b.port as i32);
    let other = Broker::new(2, "127.0.0.1", 1);
    let states = vec![state("t", 0, 1, vec![1], 0), state("t", 1, 1, vec![1], 0), state("t", 2, 2, vec![2, 1], 0)];
    // Broker 1 is the only broker, so the controller ZooKeeper elects (epoch 1): its
    // controller requests are believed once the election is written.
    let mut r = None;
    support::wait_until("broker 1 elected controller", Duration::from_secs(60), || {
        let x = c.call(&api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: states.clone(), leaders: vec![me.clone(), other.clone()] });
        let elected = x.error_code != ErrorCode::StaleControllerEpoch;
        r = Some(x);
        elected
    });
    let r = r.unwrap();
    assert_eq!(r.error_code, ErrorCode::NoError);
    assert!(r.partitions.iter().all(|p| p.error_code == ErrorCode::NoError), "{:?}", r);
    let r = c.call(&api::UpdateMetadataRequest { controller_id: 1, controller_epoch: 1, partition_states: states, alive_brokers: vec![me] });
    assert_eq!(r.error_code, ErrorCode::NoError);
}

fn produce(topic: &str, partition: i32, acks: i16, set: Bytes) -> api::ProduceRequest {
    api::ProduceRequest {
        acks,
        timeout_ms: 1000,
        topics: vec![api::ProduceTopic { topic: topic.into(), partitions: vec![api::ProducePartition { partition, message_set: set }] }],
    }
}

fn fetch(topic: &str, partition: i32, offset: i64, max_wait_ms: i32) -> api::FetchRequest {
    api::FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: 1,
        topics: vec![api::FetchTopic { topic: topic.into(), partitions: vec![api::FetchPartition { partition, fetch_offset: offset, max_bytes: 1 << 20 }] }],
    }
}

fn msgs(n: usize, prefix: &str) -> Vec<Message> {
    (0..n).map(|i| Message::new(None, Some(format!("{prefix}{i}").as_bytes()), CompressionCodec::None)).collect()
}

fn values(set: &Bytes) -> Vec<(i64, String)> {
    kafka08::message::deep_iter(set.clone())
        .map(|e| e.unwrap())
        .map(|e| (e.offset, String::from_utf8(e.message.value().unwrap().to_vec()).unwrap()))
        .collect()
}

#[test]
fn produce_fetch_offsets_metadata_round_trip() {
    let zks = ZkServer::start();
    let b = KafkaBroker::start(1, &zks.connect_string(), &[]);
    let mut c = Conn::new(&b.addr());
    make_leader(&mut c, &b);

    // Metadata: the broker and the topic with its leaders; t-2's leader is not alive → 5.
    let md = c.call(&api::MetadataRequest { topics: vec!["t".into()] });
    assert_eq!(md.brokers, vec![Broker::new(1, "127.0.0.1", b.port as i32)]);
    let t = &md.topics[0];
    assert_eq!((t.error_code, t.partitions.len()), (ErrorCode::NoError, 3));
    let p2 = t.partitions.iter().find(|p| p.partition == 2).unwrap();
    assert_eq!((p2.error_code, p2.leader), (ErrorCode::LeaderNotAvailable, -1));

    for (i, codec) in [CompressionCodec::None, CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4].into_iter().enumerate() {
        let r = c.call(&produce("t", 0, 1, encode_messages(codec, &msgs(5, &format!("c{i}-")), 0)));
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.error_code, p.base_offset), (ErrorCode::NoError, 5 * i as i64));
    }
    let f = c.call(&fetch("t", 0, 0, 0));
    let p = &f.topics[0].partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (ErrorCode::NoError, 20));
    let got = values(&p.message_set);
    assert_eq!(got.len(), 20);
    for (i, (off, v)) in got.iter().enumerate() {
        assert_eq!(*off, i as i64);
        assert_eq!(*v, format!("c{}-{}", i / 5, i % 5));
    }
    // Fetch from inside a compressed wrapper lands on it (consumers drop the earlier ones).
    let f = c.call(&fetch("t", 0, 7, 0));
    assert_eq!(values(&f.topics[0].partitions[0].message_set)[0].0, 5);

    let o = c.call(&api::OffsetsRequest {
        replica_id: -1,
        topics: vec![api::OffsetsTopic {
            topic: "t".into(),
            partitions: vec![
                api::OffsetsPartition { partition: 0, time: api::LATEST_TIME, max_offsets: 1 },
                api::OffsetsPartition { partition: 1, time: api::EARLIEST_TIME, max_offsets: 1 },
            ],
        }],
    });
    let mut ps = o.topics[0].partitions.clone();
    ps.sort_by_key(|p| p.partition);
    assert_eq!(ps[0].offsets, vec![20]);
    assert_eq!(ps[1].offsets, vec![0]);
}

#[test]
fn long_poll_fetch_is_woken_by_an_append() {
    let zks = ZkServer::start();
    let b = KafkaBroker::start(1, &zks.connect_string(), &[]);
    let mut c = Conn::new(&b.addr());
    make_leader(&mut c, &b);
    let mut consumer = Conn::new(&b.addr());
    let started = Instant::now();
    let cid = consumer.send_only(&fetch("t", 1, 0, 10_000));
    // The fetch is parked: nothing is answered while the partition is empty (a broker that
    // answered at once would show it here, well inside max_wait).
    consumer.s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut first = [0u8; 1];
    let early = consumer.s.peek(&mut first);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "the fetch was answered before anything was appended: {early:?}"
    );
    consumer.s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.call(&produce("t", 1, 1, encode_messages(CompressionCodec::None, &msgs(1, "late"), 0)));
    let frame = consumer.read_frame().unwrap();
    let (h, f) = api::decode_response::<api::FetchResponse>(0, Bytes::from(frame)).unwrap();
    assert_eq!(h.correlation_id, cid);
    assert_eq!(values(&f.topics[0].partitions[0].message_set), vec![(0, "late0".to_string())]);
    assert!(started.elapsed() < Duration::from_secs(9), "woken by the append, not by max_wait");
    // With nothing arriving, max_wait_ms ends the poll with an empty set.
    let started = Instant::now();
    let f = consumer.call(&fetch("t", 1, 1, 300));
    assert!(f.topics[0].partitions[0].message_set.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));
}

/// A broker led by the test (see `make_leader`), with message.max.bytes = 2000.
fn broker_for_bad_input() -> (ZkServer, KafkaBroker, Conn) {
    let zks = ZkServer::start();
    let b = KafkaBroker::start(1, &zks.connect_string(), &[("message.max.bytes", "2000")]);
    let mut c = Conn::new(&b.addr());
    make_leader(&mut c, &b);
    (zks, b, c)
}

/// After the bad input: the same connection (if it survived) and a fresh one are served,
/// and nothing bad was written.
fn still_serving(b: &KafkaBroker, c: Option<&mut Conn>) {
    let ok = encode_messages(CompressionCodec::None, &msgs(1, "ok"), 0);
    let mut fresh = Conn::new(&b.addr());
    let r = fresh.call(&produce("t", 0, 1, ok));
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
    let f = fresh.call(&fetch("t", 0, 0, 0));
    assert_eq!(values(&f.topics[0].partitions[0].message_set), vec![(0, "ok0".to_string())], "only the good message was stored");
    if let Some(c) = c {
        assert_eq!(c.call(&api::MetadataRequest { topics: vec![] }).brokers.len(), 1);
    }
}

fn closes_only_its_connection(bytes: &[u8]) {
    let (_zk, b, mut c) = broker_for_bad_input();
    let mut bad = Conn::new(&b.addr());
    bad.s.write_all(bytes).unwrap();
    assert!(bad.closed(), "the connection is closed");
    still_serving(&b, Some(&mut c));
}

#[test]
fn garbage_bytes_close_the_connection_and_the_broker_keeps_serving() {
    closes_only_its_connection(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

#[test]
fn a_2gb_frame_size_closes_the_connection_and_the_broker_keeps_serving() {
    closes_only_its_connection(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
}

#[test]
fn a_negative_frame_size_closes_the_connection() {
    closes_only_its_connection(&[0xff, 0xff, 0xff, 0xf0]);
}

#[test]
fn a_truncated_request_closes_or_waits_and_the_broker_keeps_serving() {
    // A whole frame whose request body is cut short: undecodable, closed.
    closes_only_its_connection(&[0, 0, 0, 6, 0, 3, 0, 0, 0, 1]);
    // A frame that announces more bytes than ever arrive: the broker waits for the rest
    // while serving everyone else.
    let (_zk, b, mut c) = broker_for_bad_input();
    let mut partial = Conn::new(&b.addr());
    partial.s.write_all(&[0, 0, 0, 40, 0, 3, 0, 0, 0, 0, 0, 1]).unwrap();
    partial.s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 1];
    assert!(partial.s.read(&mut buf).is_err(), "no answer to a partial frame");
    still_serving(&b, Some(&mut c));
}

#[test]
fn an_unknown_api_key_or_version_closes_the_connection() {
    closes_only_its_connection(&[0, 0, 0, 10, 0, 99, 0, 0, 0, 0, 0, 1, 0, 0]);
    closes_only_its_connection(&[0, 0, 0, 12, 0, 3, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn a_produce_with_a_bad_crc_gets_error_2() {
    let (_zk, b, mut c) = broker_for_bad_input();
    let mut set = encode_messages(CompressionCodec::None, &msgs(1, "x"), 0).to_vec();
    let last = set.len() - 1;
    set[last] ^= 0xff;
    assert_eq!(c.call(&produce("t", 0, 1, Bytes::from(set))).topics[0].partitions[0].error_code, ErrorCode::InvalidMessage);
    still_serving(&b, Some(&mut c));
}

#[test]
fn a_message_over_message_max_bytes_gets_error_10() {
    let (_zk, b, mut c) = broker_for_bad_input();
    let big = Message::new(None, Some(&vec![7u8; 3000]), CompressionCodec::None);
    let r = c.call(&produce("t", 0, 1, encode_messages(CompressionCodec::None, &[big], 0)));
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::MessageSizeTooLarge);
    still_serving(&b, Some(&mut c));
}

#[test]
fn a_fetch_for_an_unknown_topic_gets_error_3() {
    let (_zk, b, mut c) = broker_for_bad_input();
    assert_eq!(c.call(&fetch("nosuch", 0, 0, 0)).topics[0].partitions[0].error_code, ErrorCode::UnknownTopicOrPartition);
    assert_eq!(c.call(&produce("nosuch", 0, 1, encode_messages(CompressionCodec::None, &msgs(1, "x"), 0))).topics[0].partitions[0].error_code, ErrorCode::UnknownTopicOrPartition);
    assert_eq!(c.call(&fetch("t", 0, 999, 0)).topics[0].partitions[0].error_code, ErrorCode::OffsetOutOfRange);
    still_serving(&b, Some(&mut c));
}

#[test]
fn a_produce_to_a_broker_that_is_not_the_leader_gets_error_6() {
    let (_zk, b, mut c) = broker_for_bad_input();
    // Broker 1 follows t-2 (broker 2 leads it).
    assert_eq!(c.call(&produce("t", 2, 1, encode_messages(CompressionCodec::None, &msgs(1, "x"), 0))).topics[0].partitions[0].error_code, ErrorCode::NotLeaderForPartition);
    assert_eq!(c.call(&fetch("t", 2, 0, 0)).topics[0].partitions[0].error_code, ErrorCode::NotLeaderForPartition);
    still_serving(&b, Some(&mut c));
}

#[test]
fn a_stale_controller_epoch_is_refused_with_11() {
    let (_zk, b, mut c) = broker_for_bad_input();
    let stale = c.call(&api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 0, partition_states: vec![], leaders: vec![] });
    assert_eq!(stale.error_code, ErrorCode::StaleControllerEpoch);
    let stale = c.call(&api::UpdateMetadataRequest { controller_id: 1, controller_epoch: 0, partition_states: vec![], alive_brokers: vec![] });
    assert_eq!(stale.error_code, ErrorCode::StaleControllerEpoch);
    still_serving(&b, Some(&mut c));
}

#[test]
fn acks_0_gets_no_response_and_a_failed_acks_0_produce_closes_the_connection() {
    let (_zk, b, _c) = broker_for_bad_input();
    let mut a0 = Conn::new(&b.addr());
    a0.send_only(&produce("t", 1, 0, encode_messages(CompressionCodec::None, &msgs(1, "fire"), 0)));
    // The next answer on this connection is for the next request.
    let md = a0.call(&api::MetadataRequest { topics: vec![] });
    assert_eq!(md.brokers.len(), 1);
    a0.send_only(&produce("nosuch", 0, 0, encode_messages(CompressionCodec::None, &msgs(1, "x"), 0)));
    assert!(a0.closed());
    let f = Conn::new(&b.addr()).call(&fetch("t", 1, 0, 0));
    assert_eq!(values(&f.topics[0].partitions[0].message_set), vec![(0, "fire0".to_string())]);
}

#[test]
fn stop_replica_with_delete_removes_the_partition_and_its_log() {
    let (_zk, b, mut c) = broker_for_bad_input();
    c.call(&produce("t", 1, 1, encode_messages(CompressionCodec::None, &msgs(3, "d"), 0)));
    let dir = b.data_dir().join("t-1");
    assert!(dir.exists());
    let r = c.call(&api::StopReplicaRequest { controller_id: 1, controller_epoch: 1, delete_partitions: true, partitions: vec![kafka08::common::TopicPartition::new("t", 1)] });
    assert_eq!(r.error_code, ErrorCode::NoError);
    assert!(!dir.exists(), "the log directory is deleted");
    assert_eq!(c.call(&fetch("t", 1, 0, 0)).topics[0].partitions[0].error_code, ErrorCode::UnknownTopicOrPartition);
    // Without delete the data stays.
    let r = c.call(&api::StopReplicaRequest { controller_id: 1, controller_epoch: 1, delete_partitions: false, partitions: vec![kafka08::common::TopicPartition::new("t", 0)] });
    assert_eq!(r.error_code, ErrorCode::NoError);
    assert!(b.data_dir().join("t-0").exists());
}
