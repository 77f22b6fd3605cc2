//! The log cleaner in real brokers on a real ZooKeeper: a compacted topic replicated on
//! two brokers (keyless produce refused, fetches of the compacted log, the follower ending
//! with the leader's bytes), and `__consumer_offsets` compacted after thousands of commits
//! of one group, so a restarted coordinator loads a handful of records.

use crate::support;

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, OffsetCommitPartition, OffsetCommitRequest, OffsetCommitTopic, OffsetFetchRequest, OffsetFetchTopic, RequestHeader};
use kafka08::common::{ErrorCode, Properties, OFFSETS_TOPIC};
use kafka08::log::{parse_checkpoint, CLEANER_CHECKPOINT_FILE};
use kafka08::message::{deep_iter, encode_messages, shallow_iter, CompressionCodec, Message};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);

fn produce(addr: &str, topic: &str, set: Bytes) -> api::ProduceResponsePartition {
    let req = api::ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topics: vec![api::ProduceTopic { topic: topic.into(), partitions: vec![api::ProducePartition { partition: 0, message_set: set }] }],
    };
    try_call(addr, &req).expect("a produce response").topics[0].partitions[0]
}

/// The leader's messages from offset 0 up to the high watermark: (offset, key, value).
fn fetch_all(addr: &str, topic: &str) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let req = api::FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            topics: vec![api::FetchTopic { topic: topic.into(), partitions: vec![api::FetchPartition { partition: 0, fetch_offset: offset, max_bytes: 1 << 20 }] }],
        };
        let resp = try_call(addr, &req).expect("a fetch response");
        let p = &resp.topics[0].partitions[0];
        assert_eq!(p.error_code, ErrorCode::NoError);
        let before = out.len();
        for e in deep_iter(p.message_set.clone()) {
            let e = e.unwrap();
            if e.offset < offset {
                continue;
            }
            let s = |b: Option<Bytes>| String::from_utf8(b.unwrap().to_vec()).unwrap();
            out.push((e.offset, s(e.message.key()), s(e.message.value())));
            offset = e.offset + 1;
        }
        if out.len() == before {
            return out;
        }
    }
}

/// Every shallow entry (its bytes, offset prefix included) of a partition's log on disk.
fn entries_on_disk(log_dir: &Path) -> Vec<Bytes> {
    let mut names: Vec<_> = std::fs::read_dir(log_dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let bytes = Bytes::from(std::fs::read(&p).unwrap());
        for e in shallow_iter(bytes.clone()) {
            let e = e.unwrap();
            out.push(bytes.slice(e.position..e.position + e.size()));
        }
    }
    out
}

fn cleaner_checkpoint(data_dir: &Path, topic: &str) -> Option<i64> {
    let text = std::fs::read_to_string(data_dir.join(CLEANER_CHECKPOINT_FILE)).ok()?;
    parse_checkpoint(&text).ok()?.into_iter().find(|(tp, _)| tp.topic == topic).map(|(_, o)| o)
}

fn leader_index(cluster: &Cluster, topic: &str) -> usize {
    let md = try_call(&cluster.brokers[0].addr(), &api::MetadataRequest { topics: vec![topic.into()] }).unwrap();
    let leader = md.topics[0].partitions[0].leader;
    cluster.brokers.iter().position(|b| b.id == leader).unwrap()
}

#[test]
fn compacted_topic_is_cleaned_on_leader_and_follower_to_the_same_bytes() {
    let cluster = Cluster::start(2, &[("log.cleaner.backoff.ms", "100"), ("log.segment.delete.delay.ms", "0")]);
    let topic = "table";
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = kafka08::zk::ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        let mut props = Properties::new();
        props.set("cleanup.policy", "compact");
        props.set("segment.bytes", "4096");
        props.set("segment.ms", "2000");
        props.set("min.cleanable.dirty.ratio", "0.01");
        kafka08::admin::create_topic(&zk, topic, 1, 2, &props).await.unwrap();
    });
    cluster.wait_for_leaders(topic, 1);
    let li = leader_index(&cluster, topic);
    let leader = cluster.brokers[li].addr();

    // A message without a key is refused with 2 (CorruptMessage), as later Kafka does.
    let keyless = encode_messages(CompressionCodec::None, &[Message::new(None, Some(b"v"), CompressionCodec::None)], 0);
    let r = produce(&leader, topic, keyless);
    assert_eq!((r.error_code, r.base_offset), (ErrorCode::InvalidMessage, -1));

    let mut latest: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for batch in 0..60 {
        let codec = [CompressionCodec::None, CompressionCodec::Gzip, CompressionCodec::Snappy][batch % 3];
        let msgs: Vec<(String, String)> = (0..20).map(|j| (format!("k{}", (batch * 20 + j) % 37), format!("v{}-{}", batch, j))).collect();
        let set = encode_messages(
            codec,
            &msgs.iter().map(|(k, v)| Message::new(Some(k.as_bytes()), Some(v.as_bytes()), CompressionCodec::None)).collect::<Vec<_>>(),
            0,
        );
        let r = produce(&leader, topic, set);
        assert_eq!(r.error_code, ErrorCode::NoError);
        for (j, (k, v)) in msgs.into_iter().enumerate() {
            latest.insert(k, (r.base_offset + j as i64, v));
        }
    }
    // Let both active segments get older than segment.ms (2 s), so the next message rolls
    // a new one on each and every earlier message is in closed, cleanable segments on both.
    std::thread::sleep(Duration::from_millis(2500));
    let last = produce(&leader, topic, encode_messages(CompressionCodec::None, &[Message::new(Some(b"last"), Some(b"x"), CompressionCodec::None)], 0));
    assert_eq!(last.error_code, ErrorCode::NoError);
    let dirs: Vec<_> = cluster.brokers.iter().map(|b| b.data_dir()).collect();
    wait_until("both replicas cleaned up to the last message", DEADLINE, || {
        dirs.iter().all(|d| cleaner_checkpoint(d, topic) == Some(last.base_offset))
    });

    // Consumers see exactly the latest value of each key, at its original offset.
    let got = fetch_all(&leader, topic);
    let mut expect: Vec<(i64, String, String)> = latest.into_iter().map(|(k, (o, v))| (o, k, v)).collect();
    expect.sort();
    expect.push((last.base_offset, "last".into(), "x".into()));
    assert_eq!(got, expect);

    // And the follower holds the same bytes, entry for entry (segment files may split
    // differently: each replica rolls on its own).
    let leader_entries = entries_on_disk(&dirs[li].join("table-0"));
    let follower_entries = entries_on_disk(&dirs[1 - li].join("table-0"));
    assert_eq!(leader_entries.len(), follower_entries.len());
    assert!(leader_entries == follower_entries, "the follower's log differs from its leader's");
}

/// OffsetCommit v1 calls on one connection.
struct Conn(TcpStream, i32);

impl Conn {
    fn call<R: ApiRequest>(&mut self, req: &R) -> R::Response {
        self.1 += 1;
        let h = RequestHeader::new(R::API_KEY, 1, self.1, Some("cleaner-test"));
        self.0.write_all(&api::encode_request(&h, req).unwrap()).unwrap();
        let mut size = [0u8; 4];
        self.0.read_exact(&mut size).unwrap();
        let mut buf = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
        self.0.read_exact(&mut buf).unwrap();
        api::decode_response::<R::Response>(1, Bytes::from(buf)).unwrap().1
    }
}

#[test]
fn offsets_topic_is_compacted_so_a_new_coordinator_loads_only_live_offsets() {
    let mut cluster = Cluster::start(
        1,
        &[
            ("log.cleaner.backoff.ms", "100"),
            ("log.segment.delete.delay.ms", "0"),
            ("offsets.topic.num.partitions", "1"),
            ("offsets.topic.replication.factor", "1"),
            ("offsets.topic.segment.bytes", "8192"),
        ],
    );
    cluster.create_topic("events", 1, 1);
    let addr = cluster.brokers[0].addr();
    // The first ConsumerMetadata creates the offsets topic.
    wait_until("a coordinator", DEADLINE, || {
        try_call(&addr, &api::ConsumerMetadataRequest { group: "g".into() }).is_some_and(|r| r.error_code == ErrorCode::NoError)
    });
    let commit = |offset: i64| OffsetCommitRequest {
        group: "g".into(),
        generation_id: -1,
        consumer_id: String::new(),
        topics: vec![OffsetCommitTopic {
            topic: "events".into(),
            partitions: vec![OffsetCommitPartition { partition: 0, offset, timestamp: -1, metadata: "m".into() }],
        }],
    };
    let mut conn = Conn(TcpStream::connect(&addr).unwrap(), 0);
    conn.0.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let commits = 3000;
    for i in 0..commits {
        let r = conn.call(&commit(i));
        assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError, "commit {}", i);
    }
    let log_dir = cluster.brokers[0].data_dir().join(format!("{}-0", OFFSETS_TOPIC));
    let records = |dir: &Path| -> usize {
        entries_on_disk(dir).into_iter().map(|e| deep_iter(e).count()).sum()
    };
    wait_until("the offsets partition compacted", DEADLINE, || records(&log_dir) < 300);

    // A new coordinator (the broker restarted) reads a few hundred records at most, not
    // the 3000 commits, and answers the latest offset.
    cluster.brokers[0].restart();
    let fetch = OffsetFetchRequest { group: "g".into(), topics: vec![OffsetFetchTopic { topic: "events".into(), partitions: vec![0] }] };
    wait_until("the offset loaded", DEADLINE, || {
        let Ok(s) = TcpStream::connect(&addr) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let mut c = Conn(s, 0);
        let r = c.call(&fetch);
        let p = &r.topics[0].partitions[0];
        p.error_code == ErrorCode::NoError && p.offset == commits - 1
    });
    let log = cluster.brokers[0].log();
    let loaded: Vec<usize> = log
        .lines()
        .filter_map(|l| l.split("Finished loading ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(loaded.last().is_some_and(|n| *n < 300), "records loaded at each start: {:?}", loaded);
}
