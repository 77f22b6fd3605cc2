//! Two real brokers, the test acting as controller: the follower fetches from the leader
//! with its replica id, copies the leader's offsets, and an acks=-1 produce is answered once
//! both ISR members have the messages.

use crate::support;

use bytes::Bytes;
use kafka08::api::{self, Broker};
use kafka08::common::ErrorCode;
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::time::Duration;
use support::kafka::KafkaBroker;
use support::wire::call;
use support::{wait_until, ZkServer};


/// Partition 0 of `topic` at `addr` from offset 0, as `replica_id` (-1 consumer, -2
/// debugging consumer) fetches it: (message set, high watermark).
fn fetch_p0(addr: &str, topic: &str, replica_id: i32) -> (Bytes, i64) {
    let f = call(
        addr,
        &api::FetchRequest {
            replica_id,
            max_wait_ms: 0,
            min_bytes: 0,
            topics: vec![api::FetchTopic { topic: topic.into(), partitions: vec![api::FetchPartition { partition: 0, fetch_offset: 0, max_bytes: 1 << 20 }] }],
        },
    );
    let p = &f.topics[0].partitions[0];
    (p.message_set.clone(), p.high_watermark)
}

/// Log end offset of partition 0 of `topic` at `addr` (a debugging Offsets request, not
/// capped at the high watermark, answered by any replica).
fn log_end_p0(addr: &str, topic: &str) -> i64 {
    let o = call(addr, &api::OffsetsRequest { replica_id: -2, topics: vec![api::OffsetsTopic { topic: topic.into(), partitions: vec![api::OffsetsPartition { partition: 0, time: -1, max_offsets: 1 }] }] });
    o.topics[0].partitions[0].offsets[0]
}

/// The tests act as controller 1 at epoch 1, which broker 1 (started first) is elected;
/// its requests are believed once the election is in ZooKeeper.
fn wait_for_controller_1(addr: &str) {
    wait_until("broker 1 elected controller", Duration::from_secs(60), || {
        call(addr, &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![], leaders: vec![] }).error_code == ErrorCode::NoError
    });
}

#[test]
fn follower_copies_the_leader_and_acks_all_waits_for_it() {
    let zks = ZkServer::start();
    let b1 = KafkaBroker::start(1, &zks.connect_string(), &[]);
    let b2 = KafkaBroker::start(2, &zks.connect_string(), &[]);
    wait_for_controller_1(&b1.addr());
    let brokers = vec![Broker::new(1, "127.0.0.1", b1.port as i32), Broker::new(2, "127.0.0.1", b2.port as i32)];
    let st = api::PartitionState { topic: "r".into(), partition: 0, controller_epoch: 1, leader: 1, leader_epoch: 0, isr: vec![1, 2], zk_version: 0, replicas: vec![1, 2] };
    for b in [&b1, &b2] {
        let r = call(&b.addr(), &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st.clone()], leaders: vec![brokers[0].clone()] });
        assert_eq!(r.error_code, ErrorCode::NoError);
        call(&b.addr(), &api::UpdateMetadataRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st.clone()], alive_brokers: brokers.clone() });
    }
    let msgs: Vec<Message> = (0..10).map(|i| Message::new(None, Some(format!("m{i}").as_bytes()), CompressionCodec::None)).collect();
    for round in 0..3 {
        let r = call(
            &b1.addr(),
            &api::ProduceRequest {
                acks: -1,
                timeout_ms: 10_000,
                topics: vec![api::ProduceTopic { topic: "r".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: encode_messages(CompressionCodec::Snappy, &msgs, 0) }] }],
            },
        );
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.error_code, p.base_offset), (ErrorCode::NoError, round * 10));
    }
    // The follower holds the same messages at the same offsets (a debugging consumer,
    // replica id -2, may read a follower).
    let read = |addr: &str| -> Vec<(i64, Vec<u8>)> {
        kafka08::message::deep_iter(fetch_p0(addr, "r", -2).0).map(|e| e.unwrap()).map(|e| (e.offset, e.message.value().unwrap().to_vec())).collect()
    };
    wait_until("follower caught up", Duration::from_secs(20), || read(&b2.addr()).len() == 30);
    assert_eq!(read(&b1.addr()), read(&b2.addr()));
    // An ordinary consumer of the leader sees all 30 (high watermark = 30).
    let o = call(&b1.addr(), &api::OffsetsRequest { replica_id: -1, topics: vec![api::OffsetsTopic { topic: "r".into(), partitions: vec![api::OffsetsPartition { partition: 0, time: -1, max_offsets: 1 }] }] });
    assert_eq!(o.topics[0].partitions[0].offsets, vec![30]);
}

#[test]
fn isr_shrinks_when_a_follower_stalls_and_grows_back_in_the_state_znode() {
    use kafka08::zk::{json, ZkClient};
    let zks = ZkServer::start();
    let extra = [("replica.lag.time.max.ms", "2000"), ("replica.fetch.wait.max.ms", "200")];
    let b1 = KafkaBroker::start(1, &zks.connect_string(), &extra);
    let b2 = KafkaBroker::start(2, &zks.connect_string(), &extra);
    wait_for_controller_1(&b1.addr());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let zk = rt.block_on(ZkClient::connect(&zks.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let path = "/brokers/topics/s/partitions/0/state";
    rt.block_on(zk.create_persistent(path, &json::PartitionState::new(1, 0, vec![1, 2], 1).to_bytes())).unwrap();
    let brokers = vec![Broker::new(1, "127.0.0.1", b1.port as i32), Broker::new(2, "127.0.0.1", b2.port as i32)];
    let st = api::PartitionState { topic: "s".into(), partition: 0, controller_epoch: 1, leader: 1, leader_epoch: 0, isr: vec![1, 2], zk_version: 0, replicas: vec![1, 2] };
    for b in [&b1, &b2] {
        call(&b.addr(), &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st.clone()], leaders: vec![brokers[0].clone()] });
    }
    let isr = || json::PartitionState::parse(&rt.block_on(zk.get_data(path)).unwrap().unwrap().0).unwrap();
    b2.pause();
    wait_until("ISR shrinks to the leader", Duration::from_secs(20), || isr().isr == vec![1]);
    let shrunk = isr();
    assert_eq!((shrunk.leader, shrunk.leader_epoch, shrunk.controller_epoch), (1, 0, 1), "the leader keeps leader, epochs");
    b2.resume();
    wait_until("ISR grows back", Duration::from_secs(20), || isr().isr == vec![1, 2]);
}

/// KAFKA-1211, the race that lost an acknowledged message in a rolling restart: a follower
/// whose high watermark lags (it learns the leader's only on its next fetch) is told to
/// follow a new leader, and is elected leader itself before it fetched from that one.
/// 0.8.2 truncated to the high watermark on becoming a follower, so committed messages
/// were gone; we compare with the new leader before cutting anything.
#[test]
fn a_follower_elected_before_it_refetched_keeps_every_committed_message() {
    let zks = ZkServer::start();
    // Broker 3 long-polls for 9 s once caught up, so its high watermark stays behind the
    // leader's for the whole test (it is carried by fetch responses).
    let b1 = KafkaBroker::start(1, &zks.connect_string(), &[]);
    let b2 = KafkaBroker::start(2, &zks.connect_string(), &[]);
    wait_for_controller_1(&b1.addr());
    let b3 = KafkaBroker::start(3, &zks.connect_string(), &[("replica.fetch.wait.max.ms", "9000")]);
    let brokers: Vec<Broker> = [&b1, &b2, &b3].iter().map(|b| Broker::new(b.id, "127.0.0.1", b.port as i32)).collect();
    let state = |leader: i32, epoch: i32, isr: Vec<i32>| api::PartitionState {
        topic: "k".into(),
        partition: 0,
        controller_epoch: 1,
        leader,
        leader_epoch: epoch,
        isr,
        zk_version: 0,
        replicas: vec![1, 2, 3],
    };
    let lai = |b: &KafkaBroker, st: api::PartitionState| {
        let leader = brokers.iter().find(|x| x.id == st.leader).unwrap().clone();
        let r = call(&b.addr(), &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st], leaders: vec![leader] });
        assert_eq!(r.error_code, ErrorCode::NoError);
        assert!(r.partitions.iter().all(|p| p.error_code == ErrorCode::NoError), "{:?}", r.partitions);
    };
    for b in [&b1, &b2, &b3] {
        lai(b, state(1, 0, vec![1, 2, 3]));
    }
    let msgs: Vec<Message> = (0..10).map(|i| Message::new(None, Some(format!("m{i}").as_bytes()), CompressionCodec::None)).collect();
    let r = call(
        &b1.addr(),
        &api::ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topics: vec![api::ProduceTopic { topic: "k".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: encode_messages(CompressionCodec::None, &msgs, 0) }] }],
        },
    );
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError, "all three replicas hold the 10 messages");
    // (log end offset, high watermark) of broker `b`: a non-client Offsets request (replica
    // -2) is not capped at the high watermark; a debugging fetch reports the watermark.
    let held = |b: &KafkaBroker| -> (i64, i64) { (log_end_p0(&b.addr(), "k"), fetch_p0(&b.addr(), "k", -2).1) };
    let (n, hw) = held(&b3);
    assert_eq!(n, 10);
    assert!(hw < 10, "precondition: broker 3's high watermark lags the leader's (it is {hw})");
    let consumer_reads = |b: &KafkaBroker| -> usize { kafka08::message::deep_iter(fetch_p0(&b.addr(), "k", -1).0).count() };
    // Leadership moves to broker 2, which broker 3 cannot reach (paused), then to broker 3.
    b2.pause();
    lai(&b3, state(2, 1, vec![2, 3]));
    lai(&b3, state(3, 2, vec![3]));
    b2.resume();
    assert_eq!(held(&b3), (10, 10), "the new leader still holds every committed message");
    assert_eq!(consumer_reads(&b3), 10, "and serves them to consumers");
}

/// The other half of becoming a follower: an old leader holding messages nobody else got
/// (acks=1 while its follower was away) must drop exactly those and take the new leader's
/// messages at those offsets, so both replicas end identical.
#[test]
fn an_old_leader_drops_its_uncommitted_tail_and_copies_the_new_leader() {
    let zks = ZkServer::start();
    let b1 = KafkaBroker::start(1, &zks.connect_string(), &[]);
    let b2 = KafkaBroker::start(2, &zks.connect_string(), &[]);
    wait_for_controller_1(&b1.addr());
    let brokers: Vec<Broker> = [&b1, &b2].iter().map(|b| Broker::new(b.id, "127.0.0.1", b.port as i32)).collect();
    let lai = |b: &KafkaBroker, leader: i32, epoch: i32, isr: Vec<i32>| {
        let st = api::PartitionState { topic: "d".into(), partition: 0, controller_epoch: 1, leader, leader_epoch: epoch, isr, zk_version: 0, replicas: vec![1, 2] };
        let l = brokers.iter().find(|x| x.id == leader).unwrap().clone();
        let r = call(&b.addr(), &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st], leaders: vec![l] });
        assert_eq!(r.error_code, ErrorCode::NoError);
    };
    let produce = |b: &KafkaBroker, acks: i16, values: &[&str]| {
        let msgs: Vec<Message> = values.iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
        let r = call(
            &b.addr(),
            &api::ProduceRequest {
                acks,
                timeout_ms: 10_000,
                topics: vec![api::ProduceTopic { topic: "d".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: encode_messages(CompressionCodec::None, &msgs, 0) }] }],
            },
        );
        assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
    };
    // Every message of broker `b` up to its high watermark (a debugging fetch).
    let log_of = |b: &KafkaBroker| -> Vec<(i64, String)> {
        kafka08::message::deep_iter(fetch_p0(&b.addr(), "d", -2).0)
            .map(|e| e.unwrap())
            .map(|e| (e.offset, String::from_utf8(e.message.value().unwrap().to_vec()).unwrap()))
            .collect()
    };
    let leo = |b: &KafkaBroker| -> i64 { log_end_p0(&b.addr(), "d") };
    for b in [&b1, &b2] {
        lai(b, 1, 0, vec![1, 2]);
    }
    produce(&b1, -1, &["a", "b", "c", "d", "e"]);
    // Broker 2 is made leader; broker 1 has not heard yet and takes three more (acks=1).
    lai(&b2, 2, 1, vec![2]);
    produce(&b1, 1, &["x", "y", "z"]);
    assert_eq!((leo(&b1), leo(&b2)), (8, 5));
    produce(&b2, 1, &["n0", "n1"]);
    lai(&b1, 2, 1, vec![2]);
    wait_until("broker 1 matches the new leader", Duration::from_secs(20), || leo(&b1) == 7 && log_of(&b1).len() == 7);
    let want: Vec<(i64, String)> = ["a", "b", "c", "d", "e", "n0", "n1"].iter().enumerate().map(|(i, v)| (i as i64, v.to_string())).collect();
    assert_eq!(log_of(&b1), want);
    assert_eq!(log_of(&b2), want);
}
