//! A broker that no single client, packet or slow reader can crash, stall, starve or
//! mislead (issue 12): forged controller requests, topic names used as paths, and the
//! memory a small request may make a broker hold.

use crate::support;

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, Broker, RequestHeader};
use kafka08::common::{ErrorCode, TopicPartition};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::cluster::{elected_controller, try_call, Cluster};
use support::kafka::KafkaBroker;
use support::{wait_until, ZkServer};

fn call<R: ApiRequest>(addr: &str, req: &R) -> R::Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let h = RequestHeader::new(R::API_KEY, 0, 1, Some("test"));
    s.write_all(&api::encode_request(&h, req).unwrap()).unwrap();
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    api::decode_response::<R::Response>(0, Bytes::from(buf)).unwrap().1
}

fn state(topic: &str, replicas: Vec<i32>, controller_epoch: i32) -> api::PartitionState {
    let leader = replicas[0];
    api::PartitionState { topic: topic.into(), partition: 0, controller_epoch, leader, leader_epoch: 0, isr: vec![leader], zk_version: 0, replicas }
}

/// Item 10: a LeaderAndIsr topic name is a folder name; `../escaped` from the real
/// controller must not create a folder outside `log.dirs` (17, InvalidTopic), and the
/// broker keeps serving the legal partition of the same request.
#[test]
fn leader_and_isr_topic_name_never_leaves_the_data_directory() {
    let zk = ZkServer::start();
    let b = KafkaBroker::start(1, &zk.connect_string(), &[]);
    let (controller_id, epoch) = elected_controller(&zk);
    let me = Broker::new(1, "127.0.0.1", b.port as i32);
    let states = vec![state("../escaped", vec![1], epoch), state("a/b", vec![1], epoch), state("legal", vec![1], epoch)];
    let r = call(&b.addr(), &api::LeaderAndIsrRequest { controller_id, controller_epoch: epoch, partition_states: states, leaders: vec![me] });
    assert_eq!(r.error_code, ErrorCode::NoError, "{r:?}");
    let code = |t: &str| r.partitions.iter().find(|p| p.topic == t).map(|p| p.error_code);
    assert_eq!(code("../escaped"), Some(ErrorCode::InvalidTopic), "{r:?}");
    assert_eq!(code("a/b"), Some(ErrorCode::InvalidTopic), "{r:?}");
    assert_eq!(code("legal"), Some(ErrorCode::NoError), "{r:?}");
    let outside = b.data_dir().parent().unwrap().join("escaped-0");
    assert!(!outside.exists(), "{} was created outside log.dirs", outside.display());
    assert!(!b.data_dir().join("a").exists());
    assert!(b.data_dir().join("legal-0").is_dir());
    let r = call(
        &b.addr(),
        &api::StopReplicaRequest { controller_id, controller_epoch: epoch, delete_partitions: true, partitions: vec![TopicPartition::new("../data", 0)] },
    );
    assert_eq!(r.partitions.first().map(|p| p.error_code), Some(ErrorCode::InvalidTopic), "{r:?}");
    assert!(b.data_dir().join("legal-0").is_dir());
}

/// Item 11: a forged controller request (any id, an epoch far ahead, or the right epoch
/// under another id) gets 11 and changes nothing; the real controller is still obeyed.
#[test]
fn forged_controller_requests_get_11_and_the_real_controller_is_still_obeyed() {
    let c = Cluster::start(2, &[]);
    let (controller_id, epoch) = elected_controller(&c.zk);
    c.create_topic("kept", 1, 2);
    let addr = c.brokers[0].addr();
    let kept = TopicPartition::new("kept", 0);

    let r = call(&addr, &api::StopReplicaRequest { controller_id, controller_epoch: i32::MAX, delete_partitions: true, partitions: vec![kept.clone()] });
    assert_eq!(r.error_code, ErrorCode::StaleControllerEpoch, "a StopReplica with epoch 2^31-1 was believed: {r:?}");
    let other = if controller_id == 1 { 2 } else { 1 };
    let r = call(&addr, &api::StopReplicaRequest { controller_id: other, controller_epoch: epoch, delete_partitions: true, partitions: vec![kept.clone()] });
    assert_eq!(r.error_code, ErrorCode::StaleControllerEpoch, "a StopReplica from a broker that is not the controller was believed: {r:?}");
    let r = call(&addr, &api::UpdateMetadataRequest { controller_id: 77, controller_epoch: epoch + 1, partition_states: vec![], alive_brokers: vec![] });
    assert_eq!(r.error_code, ErrorCode::StaleControllerEpoch, "{r:?}");
    let r = call(
        &addr,
        &api::LeaderAndIsrRequest { controller_id: 77, controller_epoch: epoch + 1, partition_states: vec![state("kept", vec![1, 2], epoch + 1)], leaders: vec![] },
    );
    assert_eq!(r.error_code, ErrorCode::StaleControllerEpoch, "{r:?}");

    // Nothing changed: the log is still there and served, and the real controller's next
    // decisions (a new topic) still reach this broker.
    assert!(c.brokers[0].data_dir().join("kept-0").is_dir());
    c.create_topic("after", 2, 2);
    let md = try_call(&addr, &api::MetadataRequest { topics: vec!["kept".into(), "after".into()] }).expect("metadata");
    assert!(md.topics.iter().all(|t| t.error_code == ErrorCode::NoError && t.partitions.iter().all(|p| p.leader >= 0)), "{md:?}");
    assert!(c.brokers[0].data_dir().join("after-0").is_dir() && c.brokers[0].data_dir().join("after-1").is_dir());
}

/// A field of `/proc/<pid>/status` in kB (VmHWM: peak RSS; VmPeak: peak virtual size).
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.trim_start_matches(':').trim().trim_end_matches("kB").trim().parse().ok()))
        .unwrap_or(0)
}

/// The (tx, rx) queue lengths of the loopback TCP socket bound to `local_port` and
/// connected to `remote_port`, from `/proc/net/tcp`.
fn tcp_queues(local_port: u16, remote_port: u16) -> Option<(u64, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let port = |a: &str| a.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
        if f.len() < 5 || port(f[1]) != Some(local_port) || port(f[2]) != Some(remote_port) {
            return None;
        }
        let (tx, rx) = f[4].split_once(':')?;
        Some((u64::from_str_radix(tx, 16).ok()?, u64::from_str_radix(rx, 16).ok()?))
    })
}

/// True when the broker closed `s` (EOF or reset) within 30 s; false if it answered or
/// stayed silent.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

/// Item 3: a frame that announces `socket.request.max.bytes` (100 MB) and sends a byte
/// costs the broker a small buffer, not its declared size: forty such connections.
#[test]
fn partial_frames_do_not_reserve_their_declared_size() {
    let zk = ZkServer::start();
    let b = KafkaBroker::start(1, &zk.connect_string(), &[]);
    let pid = b.pid().unwrap();
    let before = proc_status_kb(pid, "VmSize");
    let mut conns = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(b.addr()).unwrap();
        s.write_all(&(100 * 1024 * 1024i32).to_be_bytes()).unwrap();
        s.write_all(&[0u8; 16]).unwrap();
        conns.push(s);
    }
    // Wait until the broker has read every byte sent (its side of each connection has
    // nothing left queued), then look at its address space.
    let ports: Vec<u16> = conns.iter().map(|s| s.local_addr().unwrap().port()).collect();
    wait_until("the broker read every partial frame", Duration::from_secs(30), || {
        ports.iter().all(|&p| tcp_queues(b.port, p).is_some_and(|(_, rx)| rx == 0))
    });
    let after = proc_status_kb(pid, "VmSize");
    let grew_mb = after.saturating_sub(before) / 1024;
    eprintln!(
        "broker VmSize {} MB -> {} MB (+{} MB), peak RSS {} MB, with 40 partial 100 MB frames",
        before / 1024,
        after / 1024,
        grew_mb,
        proc_status_kb(pid, "VmHWM") / 1024
    );
    assert!(grew_mb < 1000, "40 partial frames grew the broker's address space by {grew_mb} MB");
    drop(conns);
    assert!(try_call(&b.addr(), &api::MetadataRequest { topics: vec![] }).is_some(), "still serving");
}

/// Item 1: one 1 MB OffsetFetch v1 naming 25,000 partitions of a 32,000-byte topic expanded
/// to 1.6 GB of names in the broker. It is refused like an undecodable request, the broker's
/// peak RSS stays small and it serves the next client.
#[test]
fn a_request_naming_a_huge_topic_once_per_partition_is_refused_without_expanding_it() {
    let zk = ZkServer::start();
    let b = KafkaBroker::start(1, &zk.connect_string(), &[]);
    let pid = b.pid().unwrap();
    let topic = "t".repeat(32_000);
    let req = api::OffsetFetchRequest { group: "g".into(), topics: vec![api::OffsetFetchTopic { topic, partitions: (0..25_000).collect() }] };
    let h = RequestHeader::new(api::ApiKey::OffsetFetch, 1, 1, Some("test"));
    let frame = api::encode_request(&h, &req).unwrap();
    assert!(frame.len() < 1 << 20);
    let before = proc_status_kb(pid, "VmHWM");
    let mut s = TcpStream::connect(b.addr()).unwrap();
    s.write_all(&frame).unwrap();
    let closed = closed_by_peer(&mut s);
    let after = proc_status_kb(pid, "VmHWM");
    eprintln!("broker peak RSS {} MB -> {} MB for one OffsetFetch v1 of 25,000 x 32,000-byte names", before / 1024, after / 1024);
    assert!(closed, "the broker answered a request that expands to 800 MB of names");
    assert!(after < before + 200 * 1024, "peak RSS went from {} MB to {} MB", before / 1024, after / 1024);
    assert!(try_call(&b.addr(), &api::MetadataRequest { topics: vec![] }).is_some(), "still serving");
}

/// Item 1, below the cap: a request may name 2,000 partitions of an 8,000-byte topic
/// (16 MB if every entry carried its own copy of the name, just under
/// `MAX_EXPANDED_TOPIC_BYTES`). The broker answers each kind of such request (every
/// partition unknown: 3) while its peak RSS grows by far less than one copy per entry:
/// names are borrowed from the request or shared, never copied per partition.
#[test]
fn requests_just_under_the_expansion_cap_share_their_topic_names() {
    let zk = ZkServer::start();
    let b = KafkaBroker::start(1, &zk.connect_string(), &[]);
    let pid = b.pid().unwrap();
    let topic = "n".repeat(8_000);
    let partitions: Vec<i32> = (0..2_000).collect();
    assert!(topic.len() * partitions.len() < api::MAX_EXPANDED_TOPIC_BYTES);
    let unknown = ErrorCode::UnknownTopicOrPartition;
    // Warm up the paths (allocator arenas, threads) with one partition before measuring.
    let warm = api::OffsetsRequest {
        replica_id: -1,
        topics: vec![api::OffsetsTopic { topic: "x".into(), partitions: vec![api::OffsetsPartition { partition: 0, time: -1, max_offsets: 1 }] }],
    };
    support::wire::call(&b.addr(), &warm);
    let before = proc_status_kb(pid, "VmHWM");

    let r = support::wire::request(
        &b.addr(),
        1,
        &api::OffsetFetchRequest { group: "g".into(), topics: vec![api::OffsetFetchTopic { topic: topic.clone(), partitions: partitions.clone() }] },
        Duration::from_secs(60),
    )
    .expect("OffsetFetch v1 answered");
    assert_eq!(r.topics.len(), 1);
    assert!(r.topics[0].partitions.len() == 2_000 && r.topics[0].partitions.iter().all(|p| p.error_code == unknown), "OffsetFetch: {:?}", &r.topics[0].partitions[..1]);

    let r = support::wire::call(
        &b.addr(),
        &api::OffsetsRequest {
            replica_id: -1,
            topics: vec![api::OffsetsTopic { topic: topic.clone(), partitions: partitions.iter().map(|&partition| api::OffsetsPartition { partition, time: -1, max_offsets: 1 }).collect() }],
        },
    );
    assert!(r.topics[0].partitions.len() == 2_000 && r.topics[0].partitions.iter().all(|p| p.error_code == unknown), "Offsets");

    let r = support::wire::call(
        &b.addr(),
        &api::FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            topics: vec![api::FetchTopic { topic: topic.clone(), partitions: partitions.iter().map(|&partition| api::FetchPartition { partition, fetch_offset: 0, max_bytes: 1024 }).collect() }],
        },
    );
    assert!(r.topics[0].partitions.len() == 2_000 && r.topics[0].partitions.iter().all(|p| p.error_code == unknown), "Fetch");

    let r = support::wire::call(
        &b.addr(),
        &api::ProduceRequest {
            acks: 1,
            timeout_ms: 1_000,
            topics: vec![api::ProduceTopic { topic: topic.clone(), partitions: partitions.iter().map(|&partition| api::ProducePartition { partition, message_set: Bytes::new() }).collect() }],
        },
    );
    assert!(r.topics[0].partitions.len() == 2_000 && r.topics[0].partitions.iter().all(|p| p.error_code == unknown), "Produce");

    let after = proc_status_kb(pid, "VmHWM");
    eprintln!("broker peak RSS {} kB -> {} kB over OffsetFetch v1, Offsets, Fetch and Produce naming 2,000 partitions of an 8,000-byte topic", before, after);
    assert!(after < before + 8 * 1024, "peak RSS grew by {} kB: names were copied per partition (one copy is 16,000 kB)", after - before);
}

/// Item 2: eight gzip wrappers inflating to 32 MiB each (a 60 KB request) are refused with
/// 10 after at most the inflate budget, and the broker's peak RSS stays bounded; a corrupt
/// wrapper is 2; a legal compressed set is still appended.
#[test]
fn a_compression_bomb_is_refused_with_10_within_a_bounded_budget() {
    let c = Cluster::start(1, &[]);
    c.create_topic("z", 1, 1);
    let b = &c.brokers[0];
    let pid = b.pid().unwrap();
    use kafka08::message::{encode_messages, CompressionCodec, Message, MessageSetBuilder};
    let one = encode_messages(CompressionCodec::None, &[Message::new(None, Some(&vec![0u8; 64 * 1024 - 26]), CompressionCodec::None)], 0);
    let member = kafka08::message::codec::compress(CompressionCodec::Gzip, &one);
    let bomb = Message::new(None, Some(&member.repeat(512)), CompressionCodec::Gzip);
    let mut set = MessageSetBuilder::new();
    for i in 0..8 {
        set.push(i, &bomb);
    }
    let produce = |set: Bytes| api::ProduceRequest {
        acks: 1,
        timeout_ms: 10_000,
        topics: vec![api::ProduceTopic { topic: "z".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: set }] }],
    };
    let before = proc_status_kb(pid, "VmHWM");
    let r = call(&b.addr(), &produce(set.finish()));
    let after = proc_status_kb(pid, "VmHWM");
    eprintln!("broker peak RSS {} MB -> {} MB for 8 x 32 MiB gzip wrappers", before / 1024, after / 1024);
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::MessageSizeTooLarge, "{r:?}");
    assert!(after < before + 300 * 1024, "peak RSS went from {} MB to {} MB", before / 1024, after / 1024);

    let corrupt = Message::new(None, Some(b"\x1f\x8bnot really gzip"), CompressionCodec::Gzip);
    let r = call(&b.addr(), &produce(encode_messages(CompressionCodec::None, &[corrupt], 0)));
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::InvalidMessage, "{r:?}");
    let legal = encode_messages(CompressionCodec::Gzip, &[Message::new(None, Some(b"fine"), CompressionCodec::None)], 0);
    let r = call(&b.addr(), &produce(legal));
    assert_eq!((r.topics[0].partitions[0].error_code, r.topics[0].partitions[0].base_offset), (ErrorCode::NoError, 0), "{r:?}");
}

/// Item 4: a client that stops reading its socket (zero window) with responses pending
/// must not keep a stopped broker from exiting, cleanly (marker written, deregistered).
#[test]
fn a_client_that_stops_reading_does_not_hold_the_broker_shutdown() {
    let c = Cluster::start(1, &[]);
    c.create_topic("slow", 1, 1);
    let addr = c.brokers[0].addr();
    use kafka08::message::{encode_messages, CompressionCodec, Message};
    let value = vec![7u8; 100_000];
    for _ in 0..8 {
        let msgs: Vec<Message> = (0..10).map(|_| Message::new(None, Some(&value), CompressionCodec::None)).collect();
        let r = call(
            &addr,
            &api::ProduceRequest {
                acks: 1,
                timeout_ms: 10_000,
                topics: vec![api::ProduceTopic { topic: "slow".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: encode_messages(CompressionCodec::None, &msgs, 0) }] }],
            },
        );
        assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
    }
    // 60 fetches of 8 MB each, never read: the broker's writer fills the socket and stops.
    let mut s = TcpStream::connect(&addr).unwrap();
    let fetch = api::FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        topics: vec![api::FetchTopic { topic: "slow".into(), partitions: vec![api::FetchPartition { partition: 0, fetch_offset: 0, max_bytes: 8 << 20 }] }],
    };
    for cid in 0..60 {
        let h = RequestHeader::new(api::ApiKey::Fetch, 0, cid, Some("slow-reader"));
        s.write_all(&api::encode_request(&h, &fetch).unwrap()).unwrap();
    }
    // The broker wrote until both socket buffers were full (its send queue and our
    // receive queue hold what the window allows).
    let port = s.local_addr().unwrap().port();
    wait_until("the broker's writes to back up", Duration::from_secs(60), || {
        tcp_queues(port, c.brokers[0].port).is_some_and(|(_, rx)| rx > 64 << 10) && tcp_queues(c.brokers[0].port, port).is_some_and(|(tx, _)| tx > 64 << 10)
    });
    let mut c = c;
    let started = std::time::Instant::now();
    let code = c.brokers[0].stop();
    eprintln!("broker stopped {:?} after SIGTERM with a zero-window client", started.elapsed());
    assert_eq!(code, Some(0));
    let data = c.brokers[0].data_dir();
    assert!(data.join(kafka08::log::CLEAN_SHUTDOWN_FILE).exists(), "no clean-shutdown marker in {}", data.display());
    assert!(c.brokers[0].log().contains("shut down completed"));
    drop(s);
}

/// Item 6: clients flooding ZooKeeper-backed requests (OffsetFetch v0 naming 10,000
/// partitions, each a ZooKeeper read) must not hold the broker-wide request permits
/// (`queued.max.requests`) that other clients, followers and the controller need.
#[test]
fn a_flood_of_zookeeper_backed_requests_does_not_starve_other_requests() {
    let c = Cluster::start(1, &[("queued.max.requests", "2")]);
    c.create_topic("t", 1, 1);
    let addr = c.brokers[0].addr();
    let flood = api::OffsetFetchRequest { group: "g".into(), topics: vec![api::OffsetFetchTopic { topic: "t".into(), partitions: (0..10_000).collect() }] };
    let mut flooders = Vec::new();
    for _ in 0..24 {
        let mut s = TcpStream::connect(&addr).unwrap();
        for cid in 0..2 {
            let h = RequestHeader::new(api::ApiKey::OffsetFetch, 0, cid, Some("flood"));
            s.write_all(&api::encode_request(&h, &flood).unwrap()).unwrap();
        }
        flooders.push(s);
    }
    let offsets = api::OffsetsRequest {
        replica_id: -1,
        topics: vec![api::OffsetsTopic { topic: "t".into(), partitions: vec![api::OffsetsPartition { partition: 0, time: -1, max_offsets: 1 }] }],
    };
    // Answered while the flood runs: a generous liveness deadline, not a speed check
    // (the flood keeps the two permits busy for tens of seconds without the fix).
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&api::encode_request(&RequestHeader::new(api::ApiKey::Offsets, 0, 7, Some("test")), &offsets).unwrap()).unwrap();
    let mut size = [0u8; 4];
    let asked = std::time::Instant::now();
    let answered = s.read_exact(&mut size).is_ok();
    eprintln!("Offsets answered: {answered} after {:?} during the flood", asked.elapsed());
    assert!(answered, "an Offsets request waited behind the OffsetFetch v0 flood");
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    let (_, r) = api::decode_response::<api::OffsetsResponse>(0, Bytes::from(buf)).unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
    drop(flooders);
}

/// Item 9: an acks=-1 produce is answered for the leader epoch it was appended in. Broker
/// 1 leads x-0 and x-1 (ISR 1 and 2, broker 2 not fetching), so the produce waits; x-0
/// then moves to broker 2, whose empty log makes broker 1 truncate the message away, and
/// back to broker 1 (ISR 1 alone), where another message takes its offset. When x-1 times
/// out, x-0 must not be answered NoError for the message that is gone.
#[test]
fn an_acks_all_produce_whose_leader_lost_and_regained_leadership_is_not_acknowledged() {
    let zk = ZkServer::start();
    let b1 = KafkaBroker::start(1, &zk.connect_string(), &[]);
    let b2 = KafkaBroker::start(2, &zk.connect_string(), &[]);
    let (controller_id, epoch) = elected_controller(&zk);
    let brokers = [Broker::new(1, "127.0.0.1", b1.port as i32), Broker::new(2, "127.0.0.1", b2.port as i32)];
    let lai = |b: &KafkaBroker, partition: i32, leader: i32, leader_epoch: i32, isr: Vec<i32>| {
        let st = api::PartitionState { topic: "x".into(), partition, controller_epoch: epoch, leader, leader_epoch, isr, zk_version: 0, replicas: vec![1, 2] };
        let r = call(&b.addr(), &api::LeaderAndIsrRequest { controller_id, controller_epoch: epoch, partition_states: vec![st], leaders: vec![brokers[leader as usize - 1].clone()] });
        assert!(r.error_code == ErrorCode::NoError && r.partitions.iter().all(|p| p.error_code == ErrorCode::NoError), "{r:?}");
    };
    use kafka08::message::{encode_messages, shallow_iter, CompressionCodec, Message};
    let set = |v: &str| encode_messages(CompressionCodec::None, &[Message::new(None, Some(v.as_bytes()), CompressionCodec::None)], 0);
    lai(&b1, 0, 1, 0, vec![1, 2]);
    lai(&b1, 1, 1, 0, vec![1, 2]);
    let waiting = {
        let addr = b1.addr();
        let req = api::ProduceRequest {
            acks: -1,
            timeout_ms: 8_000,
            topics: vec![api::ProduceTopic {
                topic: "x".into(),
                partitions: vec![api::ProducePartition { partition: 0, message_set: set("lost") }, api::ProducePartition { partition: 1, message_set: set("waits") }],
            }],
        };
        std::thread::spawn(move || call(&addr, &req))
    };
    let log_end = |b: &KafkaBroker| {
        let o = call(&b.addr(), &api::OffsetsRequest { replica_id: -2, topics: vec![api::OffsetsTopic { topic: "x".into(), partitions: vec![api::OffsetsPartition { partition: 0, time: -1, max_offsets: 1 }] }] });
        o.topics[0].partitions[0].offsets.first().copied().unwrap_or(-1)
    };
    wait_until("the acks=-1 message appended on broker 1", Duration::from_secs(30), || log_end(&b1) == 1);
    lai(&b2, 0, 2, 1, vec![2]);
    lai(&b1, 0, 2, 1, vec![2]);
    wait_until("broker 1 truncated x-0 to broker 2's empty log", Duration::from_secs(30), || log_end(&b1) == 0);
    lai(&b1, 0, 1, 2, vec![1]);
    let r = call(
        &b1.addr(),
        &api::ProduceRequest { acks: 1, timeout_ms: 1000, topics: vec![api::ProduceTopic { topic: "x".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: set("other") }] }] },
    );
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);

    let r = waiting.join().unwrap();
    let x0 = r.topics[0].partitions.iter().find(|p| p.partition == 0).unwrap();
    let f = call(&b1.addr(), &api::FetchRequest { replica_id: -1, max_wait_ms: 0, min_bytes: 0, topics: vec![api::FetchTopic { topic: "x".into(), partitions: vec![api::FetchPartition { partition: 0, fetch_offset: 0, max_bytes: 1 << 20 }] }] });
    let stored: Vec<String> = shallow_iter(f.topics[0].partitions[0].message_set.clone())
        .map(|e| String::from_utf8_lossy(&e.unwrap().message.value().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(stored, vec!["other".to_string()], "the acks=-1 message was truncated");
    assert_ne!(x0.error_code, ErrorCode::NoError, "acknowledged a message that was truncated: {r:?}");
    assert_eq!(x0.error_code, ErrorCode::NotLeaderForPartition, "{r:?}");
}

/// Item 5: a fetch may not park for 2^31 ms (0.8.2 let it, holding its connection's
/// answers behind it); it is answered, empty, once the capped wait passes — while a fetch
/// on a partition that moves is still answered at once.
#[test]
fn a_long_poll_is_capped_and_an_append_still_wakes_its_fetch() {
    let c = Cluster::start(1, &[]);
    c.create_topic("quiet", 1, 1);
    c.create_topic("busy", 1, 1);
    let addr = c.brokers[0].addr();
    let fetch = |topic: &str| api::FetchRequest {
        replica_id: -1,
        max_wait_ms: i32::MAX,
        min_bytes: 1,
        topics: vec![api::FetchTopic { topic: topic.into(), partitions: vec![api::FetchPartition { partition: 0, fetch_offset: 0, max_bytes: 1 << 20 }] }],
    };
    let parked = {
        let (addr, req) = (addr.clone(), fetch("quiet"));
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            s.write_all(&api::encode_request(&RequestHeader::new(api::ApiKey::Fetch, 0, 1, Some("test")), &req).unwrap()).unwrap();
            let mut size = [0u8; 4];
            let answered = s.read_exact(&mut size).is_ok();
            answered
        })
    };
    let busy = {
        let (addr, req) = (addr.clone(), fetch("busy"));
        std::thread::spawn(move || call(&addr, &req))
    };
    use kafka08::message::{encode_messages, CompressionCodec, Message};
    let set = encode_messages(CompressionCodec::None, &[Message::new(None, Some(b"wake"), CompressionCodec::None)], 0);
    // Produce until the busy fetch has its message (it may not be parked yet at first).
    wait_until("the busy long poll answered by an append", Duration::from_secs(30), || {
        let r = call(&addr, &api::ProduceRequest { acks: 1, timeout_ms: 1000, topics: vec![api::ProduceTopic { topic: "busy".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: set.clone() }] }] });
        assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
        busy.is_finished()
    });
    let r = busy.join().unwrap();
    assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
    assert!(!r.topics[0].partitions[0].message_set.is_empty());
    assert!(parked.join().unwrap(), "a fetch with max_wait 2^31-1 ms was not answered within 60 s");
}

/// Item 8: a follower 45 MB behind on each of three partitions (replica.fetch.max.bytes
/// 50 MB) catches up: its leader's answer to one fetch would be 135 MB, past the 100 MiB a
/// response could have, and the follower retried the same undecodable fetch for ever.
#[test]
fn a_follower_far_behind_on_many_partitions_catches_up() {
    let mut c = Cluster::start(2, &[("replica.fetch.max.bytes", "50000000")]);
    c.create_topic("behind", 3, 2);
    c.brokers[1].kill();
    let leader = c.brokers[0].addr();
    wait_until("broker 1 leads every partition", Duration::from_secs(60), || {
        try_call(&leader, &api::MetadataRequest { topics: vec!["behind".into()] })
            .is_some_and(|m| m.topics[0].partitions.len() == 3 && m.topics[0].partitions.iter().all(|p| p.leader == 1))
    });
    use kafka08::message::{encode_messages, CompressionCodec, Message};
    let value = vec![b'x'; 90_000];
    let msgs: Vec<Message> = (0..10).map(|_| Message::new(None, Some(&value), CompressionCodec::None)).collect();
    let set = encode_messages(CompressionCodec::None, &msgs, 0);
    for _ in 0..50 {
        let r = call(
            &leader,
            &api::ProduceRequest {
                acks: 1,
                timeout_ms: 10_000,
                topics: vec![api::ProduceTopic { topic: "behind".into(), partitions: (0..3).map(|p| api::ProducePartition { partition: p, message_set: set.clone() }).collect() }],
            },
        );
        assert!(r.topics[0].partitions.iter().all(|p| p.error_code == ErrorCode::NoError), "{r:?}");
    }
    let log_ends = |addr: &str| {
        let o = try_call(addr, &api::OffsetsRequest { replica_id: -2, topics: vec![api::OffsetsTopic { topic: "behind".into(), partitions: (0..3).map(|p| api::OffsetsPartition { partition: p, time: -1, max_offsets: 1 }).collect() }] });
        o.map(|o| o.topics[0].partitions.iter().map(|p| p.offsets.first().copied().unwrap_or(-1)).collect::<Vec<i64>>())
    };
    assert_eq!(log_ends(&leader), Some(vec![500, 500, 500]));
    c.brokers[1].restart();
    let follower = c.brokers[1].addr();
    wait_until("the follower caught up on every partition", Duration::from_secs(120), || log_ends(&follower) == Some(vec![500, 500, 500]));
}
