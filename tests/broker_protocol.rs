//! One real broker process driven over the wire, with the test acting as its controller
//! (LeaderAndIsr + UpdateMetadata): produce, fetch, offsets, metadata, long poll, and every
//! kind of bad input answered with 0.8.2's error code or a closed connection — while the
//! broker keeps serving everyone else.

mod support;

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, Broker, RequestHeader};
use kafka08::common::ErrorCode;
use kafka08::message::{encode_messages, shallow_iter, CompressionCodec, Message};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::kafka::KafkaBroker;
use support::ZkServer;

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

    /// True when the broker closed this connection (EOF) within the deadline.
    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.s.read(&mut b), Ok(0) | Err(_))
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
    let r = c.call(&api::LeaderAndIsrRequest { controller_id: 9, controller_epoch: 1, partition_states: states.clone(), leaders: vec![me.clone(), other] });
    assert_eq!(r.error_code, ErrorCode::NoError);
    assert!(r.partitions.iter().all(|p| p.error_code == ErrorCode::NoError), "{:?}", r);
    let r = c.call(&api::UpdateMetadataRequest { controller_id: 9, controller_epoch: 1, partition_states: states, alive_brokers: vec![me] });
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
    std::thread::sleep(Duration::from_millis(200));
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

#[test]
fn bad_input_gets_082_errors_and_the_broker_keeps_serving() {
    let zks = ZkServer::start();
    let b = KafkaBroker::start(1, &zks.connect_string(), &[("message.max.bytes", "2000")]);
    let mut c = Conn::new(&b.addr());
    make_leader(&mut c, &b);

    // Bad CRC → 2.
    let mut set = encode_messages(CompressionCodec::None, &msgs(1, "x"), 0).to_vec();
    let last = set.len() - 1;
    set[last] ^= 0xff;
    assert_eq!(c.call(&produce("t", 0, 1, Bytes::from(set))).topics[0].partitions[0].error_code, ErrorCode::InvalidMessage);
    // Over message.max.bytes → 10.
    let big = Message::new(None, Some(&vec![7u8; 3000]), CompressionCodec::None);
    let r = c.call(&produce("t", 0, 1, encode_messages(CompressionCodec::None, &[big], 0)));
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::MessageSizeTooLarge);
    // Unknown topic: fetch → 3, produce → 3.
    assert_eq!(c.call(&fetch("nosuch", 0, 0, 0)).topics[0].partitions[0].error_code, ErrorCode::UnknownTopicOrPartition);
    assert_eq!(c.call(&produce("nosuch", 0, 1, encode_messages(CompressionCodec::None, &msgs(1, "x"), 0))).topics[0].partitions[0].error_code, ErrorCode::UnknownTopicOrPartition);
    // Not the leader (broker 1 follows t-2) → 6, for produce and for a consumer's fetch.
    assert_eq!(c.call(&produce("t", 2, 1, encode_messages(CompressionCodec::None, &msgs(1, "x"), 0))).topics[0].partitions[0].error_code, ErrorCode::NotLeaderForPartition);
    assert_eq!(c.call(&fetch("t", 2, 0, 0)).topics[0].partitions[0].error_code, ErrorCode::NotLeaderForPartition);
    // Offset out of range → 1.
    assert_eq!(c.call(&fetch("t", 0, 999, 0)).topics[0].partitions[0].error_code, ErrorCode::OffsetOutOfRange);
    // A stale controller epoch → 11.
    let stale = c.call(&api::LeaderAndIsrRequest { controller_id: 9, controller_epoch: 0, partition_states: vec![], leaders: vec![] });
    assert_eq!(stale.error_code, ErrorCode::StaleControllerEpoch);
    // The produce that failed wrote nothing.
    assert!(c.call(&fetch("t", 0, 0, 0)).topics[0].partitions[0].message_set.is_empty());

    // acks=0: success gets no response (the next answer is for the next request); a failure
    // closes the connection.
    let mut a0 = Conn::new(&b.addr());
    a0.send_only(&produce("t", 0, 0, encode_messages(CompressionCodec::None, &msgs(1, "fire"), 0)));
    let md = a0.call(&api::MetadataRequest { topics: vec![] });
    assert_eq!(md.brokers.len(), 1);
    a0.send_only(&produce("nosuch", 0, 0, encode_messages(CompressionCodec::None, &msgs(1, "x"), 0)));
    assert!(a0.closed());

    // Garbage, a 2 GB frame size, a truncated request, an unknown API key, a bad version,
    // a negative size: each closes only its own connection.
    let garbage: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0x7f, 0xff, 0xff, 0xff, 1, 2, 3],
        // A whole frame whose request body is cut short.
        vec![0, 0, 0, 6, 0, 3, 0, 0, 0, 1],
        // A frame that announces more bytes than ever arrive.
        vec![0, 0, 0, 40, 0, 3, 0, 0, 0, 0, 0, 1],
        {
            let mut v = vec![0, 0, 0, 10, 0, 99, 0, 0, 0, 0, 0, 1, 0, 0];
            v[3] = 10;
            v
        },
        vec![0, 0, 0, 12, 0, 3, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        vec![0xff, 0xff, 0xff, 0xf0],
    ];
    for (i, g) in garbage.iter().enumerate() {
        let mut bad = Conn::new(&b.addr());
        bad.s.write_all(g).unwrap();
        if i == 3 {
            // Incomplete: the broker waits for the rest; the client gives up.
            bad.s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let mut buf = [0u8; 1];
            assert!(bad.s.read(&mut buf).is_err(), "a truncated request gets no answer");
            continue;
        }
        assert!(bad.closed(), "input {} should close its connection", i);
    }
    // Everyone else is still served.
    let f = c.call(&fetch("t", 0, 0, 0));
    assert_eq!(values(&f.topics[0].partitions[0].message_set), vec![(0, "fire0".to_string())]);
    let mut fresh = Conn::new(&b.addr());
    assert_eq!(fresh.call(&api::MetadataRequest { topics: vec![] }).brokers.len(), 1);
    let shallow: Vec<_> = shallow_iter(f.topics[0].partitions[0].message_set.clone()).collect();
    assert_eq!(shallow.len(), 1);
}
