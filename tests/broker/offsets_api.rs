//! Consumer offsets on real brokers and a real ZooKeeper: OffsetCommit/OffsetFetch v0
//! (ZooKeeper) and v1 (`__consumer_offsets`), and ConsumerMetadata (docs/wire-protocol.md,
//! docs/zookeeper-layout.md).

use crate::support;

use kafka08::api::{
    self, ApiRequest, ConsumerMetadataRequest, FetchPartition, FetchRequest, FetchResponse, FetchTopic,
    OffsetCommitPartition, OffsetCommitRequest, OffsetCommitTopic, OffsetFetchRequest, OffsetFetchResponsePartition,
    OffsetFetchTopic,
};
use kafka08::common::{ErrorCode, OFFSETS_TOPIC};
use kafka08::message::deep_iter;
use kafka08::server::{offsets_record, partition_for};
use kafka08::zk::ZkClient;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::cluster::Cluster;
use support::{eventually, wait_until};

const DEADLINE: Duration = Duration::from_secs(60);

/// One request at `version` on a fresh connection; `None` if the broker is unreachable
/// or closes the connection.
fn call<R: ApiRequest>(addr: &str, version: i16, req: &R) -> Option<R::Response> {
    support::wire::request(addr, version, req, support::wire::REQUEST_TIMEOUT)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn commit_req(group: &str, entries: &[(&str, i32, i64, i64, &str)]) -> OffsetCommitRequest {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitPartition>> = BTreeMap::new();
    for (t, p, offset, timestamp, metadata) in entries {
        topics.entry(t).or_default().push(OffsetCommitPartition {
            partition: *p,
            offset: *offset,
            timestamp: *timestamp,
            metadata: metadata.to_string(),
        });
    }
    OffsetCommitRequest {
        group: group.into(),
        generation_id: -1,
        consumer_id: String::new(),
        topics: topics.into_iter().map(|(t, partitions)| OffsetCommitTopic { topic: t.into(), partitions }).collect(),
    }
}

fn fetch_req(group: &str, tps: &[(&str, i32)]) -> OffsetFetchRequest {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in tps {
        topics.entry(t).or_default().push(*p);
    }
    OffsetFetchRequest {
        group: group.into(),
        topics: topics.into_iter().map(|(t, partitions)| OffsetFetchTopic { topic: t.into(), partitions }).collect(),
    }
}

/// Commit, answer as (topic, partition) → error code.
fn commit(addr: &str, version: i16, req: &OffsetCommitRequest) -> BTreeMap<(String, i32), ErrorCode> {
    let resp = call(addr, version, req).expect("an OffsetCommit response");
    resp.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| ((t.topic.clone(), p.partition), p.error_code)))
        .collect()
}

fn fetch(addr: &str, version: i16, req: &OffsetFetchRequest) -> BTreeMap<(String, i32), OffsetFetchResponsePartition> {
    let resp = call(addr, version, req).expect("an OffsetFetch response");
    resp.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| ((t.topic.clone(), p.partition), p.clone())))
        .collect()
}

fn k(t: &str, p: i32) -> (String, i32) {
    (t.to_string(), p)
}

fn zk_get(cluster: &Cluster, path: &str) -> Option<String> {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))
            .await
            .expect("zk");
        zk.get_data(path).await.expect("zk read").map(|(d, _)| String::from_utf8(d).expect("utf-8 znode"))
    })
}

fn zk_children(cluster: &Cluster, path: &str) -> Vec<String> {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))
            .await
            .expect("zk");
        let mut c = zk.get_children(path).await.expect("zk read").unwrap_or_default();
        c.sort();
        c
    })
}

/// Ask live brokers for the group's coordinator until one answers 0; the first calls on a
/// fresh cluster create the offsets topic and answer 15.
fn coordinator(cluster: &Cluster, group: &str) -> api::Broker {
    let mut found = None;
    wait_until(&format!("a coordinator for {group}"), DEADLINE, || {
        for b in cluster.brokers.iter().filter(|b| b.pid().is_some()) {
            if let Some(r) = call(&b.addr(), 0, &ConsumerMetadataRequest { group: group.into() }) {
                if r.error_code == ErrorCode::NoError {
                    found = Some(r.coordinator);
                    return true;
                }
                assert_eq!(r.error_code, ErrorCode::ConsumerCoordinatorNotAvailable, "ConsumerMetadata error");
                assert_eq!((r.coordinator.id, r.coordinator.host.as_str(), r.coordinator.port), (-1, "", -1));
            }
        }
        false
    });
    found.unwrap()
}

fn addr_of(b: &api::Broker) -> String {
    format!("{}:{}", b.host, b.port)
}

/// v1 fetch from the current coordinator until the answer is not 14/15/16 (loading or
/// moving), then return it.
fn fetch_v1_settled(
    cluster: &Cluster,
    req: &OffsetFetchRequest,
) -> BTreeMap<(String, i32), OffsetFetchResponsePartition> {
    let mut last = BTreeMap::new();
    let settled = eventually(DEADLINE, || {
        let c = coordinator(cluster, &req.group);
        let Some(resp) = call(&addr_of(&c), 1, req) else { return false };
        last = resp
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| ((t.topic.clone(), p.partition), p.clone())))
            .collect();
        last.values().all(|p| {
            !matches!(
                p.error_code,
                ErrorCode::OffsetsLoadInProgress
                    | ErrorCode::NotCoordinatorForConsumer
                    | ErrorCode::ConsumerCoordinatorNotAvailable
            )
        })
    });
    assert!(settled, "OffsetFetch v1 kept answering loading/not-coordinator: {last:?}");
    last
}

fn assert_offset(
    got: &BTreeMap<(String, i32), OffsetFetchResponsePartition>,
    t: &str,
    p: i32,
    offset: i64,
    metadata: &str,
    code: ErrorCode,
) {
    let e = got.get(&k(t, p)).unwrap_or_else(|| panic!("no entry for {t}-{p} in {got:?}"));
    assert_eq!((e.offset, e.metadata.as_str(), e.error_code), (offset, metadata, code), "{t}-{p}");
}

#[test]
fn v0_commit_and_fetch_round_trip_through_zookeeper_and_survive_a_restart() {
    let mut cluster = Cluster::start(1, &[("offset.metadata.max.bytes", "16")]);
    cluster.create_topic("zt", 2, 1);
    let addr = cluster.brokers[0].addr();

    let got = commit(&addr, 0, &commit_req("zg", &[("zt", 0, 42, -1, "hello"), ("zt", 1, 7, -1, "")]));
    assert_eq!(got, BTreeMap::from([(k("zt", 0), ErrorCode::NoError), (k("zt", 1), ErrorCode::NoError)]));
    // Decimal text, nothing else; the metadata is not stored (docs/zookeeper-layout.md).
    assert_eq!(zk_get(&cluster, "/consumers/zg/offsets/zt/0").as_deref(), Some("42"));
    assert_eq!(zk_get(&cluster, "/consumers/zg/offsets/zt/1").as_deref(), Some("7"));
    assert_eq!(zk_children(&cluster, "/consumers/zg/offsets/zt"), vec!["0", "1"]);

    // Metadata longer than offset.metadata.max.bytes (16): 12, nothing written; the other
    // partition of the same request is stored. An unknown topic is 3.
    let got = commit(
        &addr,
        0,
        &commit_req(
            "zg",
            &[("zt", 0, 43, -1, "this is seventeen"), ("zt", 1, 8, -1, "sixteen chars ok"), ("nosuch", 0, 1, -1, "")],
        ),
    );
    assert_eq!(
        got,
        BTreeMap::from([
            (k("zt", 0), ErrorCode::OffsetMetadataTooLarge),
            (k("zt", 1), ErrorCode::NoError),
            (k("nosuch", 0), ErrorCode::UnknownTopicOrPartition)
        ])
    );
    assert_eq!(zk_get(&cluster, "/consumers/zg/offsets/zt/0").as_deref(), Some("42"));
    assert_eq!(zk_get(&cluster, "/consumers/zg/offsets/zt/1").as_deref(), Some("8"));
    assert_eq!(zk_get(&cluster, "/consumers/zg/offsets/nosuch/0"), None);

    let check = |addr: &str| {
        let got = fetch(addr, 0, &fetch_req("zg", &[("zt", 0), ("zt", 1), ("zt", 5), ("nosuch", 0)]));
        assert_offset(&got, "zt", 0, 42, "", ErrorCode::NoError);
        assert_offset(&got, "zt", 1, 8, "", ErrorCode::NoError);
        // Nothing committed: -1 with 3 (0.8.2 v0); unknown topic the same.
        assert_offset(&got, "zt", 5, -1, "", ErrorCode::UnknownTopicOrPartition);
        assert_offset(&got, "nosuch", 0, -1, "", ErrorCode::UnknownTopicOrPartition);
        // Another group has nothing.
        let other = fetch(addr, 0, &fetch_req("other", &[("zt", 0)]));
        assert_offset(&other, "zt", 0, -1, "", ErrorCode::UnknownTopicOrPartition);
    };
    check(&addr);

    // A node written by someone else (a Java consumer) is read the same way.
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))
            .await
            .unwrap();
        zk.update_persistent("/consumers/java/offsets/zt/1", b"50793695368").await.unwrap();
    });
    let got = fetch(&addr, 0, &fetch_req("java", &[("zt", 1)]));
    assert_offset(&got, "zt", 1, 50793695368, "", ErrorCode::NoError);

    cluster.brokers[0].restart();
    cluster.wait_for_leaders("zt", 2);
    check(&cluster.brokers[0].addr());
}

#[test]
fn consumer_metadata_with_default_settings_creates_50_compacted_offsets_partitions() {
    let cluster = Cluster::start(1, &[]);
    let addr = cluster.brokers[0].addr();
    // A fresh cluster: the first call creates the topic and answers 15.
    let first = call(&addr, 0, &ConsumerMetadataRequest { group: "g".into() }).expect("response");
    assert_eq!(first.error_code, ErrorCode::ConsumerCoordinatorNotAvailable);
    let c = coordinator(&cluster, "g");
    assert_eq!((c.id, addr_of(&c)), (1, addr.clone()));
    assert_eq!(zk_children(&cluster, "/brokers/topics/__consumer_offsets/partitions").len(), 50);
    let assignment: serde_json::Value =
        serde_json::from_str(&zk_get(&cluster, "/brokers/topics/__consumer_offsets").unwrap()).unwrap();
    let parts = assignment["partitions"].as_object().unwrap();
    assert_eq!(parts.len(), 50);
    // Replication min(offsets.topic.replication.factor = 3, live brokers = 1).
    assert!(parts.values().all(|r| r.as_array().unwrap().len() == 1));
    let config: serde_json::Value =
        serde_json::from_str(&zk_get(&cluster, "/config/topics/__consumer_offsets").unwrap()).unwrap();
    assert_eq!(config["config"]["cleanup.policy"], "compact");
    assert_eq!(config["config"]["segment.bytes"], "104857600");
    assert_eq!(config["version"], 1);
}

#[test]
fn consumer_metadata_names_the_leader_of_the_groups_offsets_partition() {
    let mut cluster =
        Cluster::start(3, &[("offsets.topic.num.partitions", "5"), ("offsets.topic.replication.factor", "2")]);
    let groups = ["g1", "my-group", "kp-group", "polygenelubricants", "console", "x", "yy"];
    let check_all = |cluster: &Cluster| {
        for g in groups {
            let c = coordinator(cluster, g);
            let p = partition_for(g, 5);
            let state: serde_json::Value = serde_json::from_str(
                &zk_get(cluster, &format!("/brokers/topics/__consumer_offsets/partitions/{p}/state"))
                    .expect("state znode"),
            )
            .unwrap();
            assert_eq!(c.id as i64, state["leader"].as_i64().unwrap(), "coordinator of {g} (offsets partition {p})");
            let b = cluster.brokers.iter().find(|b| b.id == c.id).unwrap();
            assert_eq!(addr_of(&c), b.addr());
        }
    };
    check_all(&cluster);
    assert_eq!(zk_children(&cluster, "/brokers/topics/__consumer_offsets/partitions").len(), 5);
    let assignment: serde_json::Value =
        serde_json::from_str(&zk_get(&cluster, "/brokers/topics/__consumer_offsets").unwrap()).unwrap();
    assert!(assignment["partitions"].as_object().unwrap().values().all(|r| r.as_array().unwrap().len() == 2));
    let config: serde_json::Value =
        serde_json::from_str(&zk_get(&cluster, "/config/topics/__consumer_offsets").unwrap()).unwrap();
    assert_eq!(config["config"]["cleanup.policy"], "compact");

    // The coordinator follows leadership: kill the coordinator of g1, ask again.
    let c = coordinator(&cluster, "g1");
    let i = cluster.brokers.iter().position(|b| b.id == c.id).unwrap();
    cluster.brokers[i].kill();
    wait_until("g1's coordinator moves", DEADLINE, || coordinator(&cluster, "g1").id != c.id);
    check_all(&cluster);
}

fn offsets_topic_records(
    addr: &str,
    partition: i32,
) -> Vec<(i64, offsets_record::GroupTopicPartition, Option<offsets_record::OffsetAndMetadata>)> {
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        topics: vec![FetchTopic {
            topic: OFFSETS_TOPIC.into(),
            partitions: vec![FetchPartition { partition, fetch_offset: 0, max_bytes: 1 << 20 }],
        }],
    };
    let resp: FetchResponse = call(addr, 0, &req).expect("fetch response");
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::NoError);
    deep_iter(p.message_set.clone())
        .map(|e| {
            let e = e.unwrap();
            let key = offsets_record::decode_key(e.message.key().expect("offset records have keys")).unwrap();
            (e.offset, key, e.message.value().map(|v| offsets_record::decode_value(v).unwrap()))
        })
        .collect()
}

/// The codec of each shallow entry of an offsets partition.
fn offsets_topic_codecs(addr: &str, partition: i32) -> Vec<u8> {
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        topics: vec![FetchTopic {
            topic: OFFSETS_TOPIC.into(),
            partitions: vec![FetchPartition { partition, fetch_offset: 0, max_bytes: 1 << 20 }],
        }],
    };
    let resp: FetchResponse = call(addr, 0, &req).expect("fetch response");
    kafka08::message::shallow_iter(resp.topics[0].partitions[0].message_set.clone())
        .map(|e| e.unwrap().message.codec_id())
        .collect()
}

#[test]
fn v1_commit_and_fetch_round_trip_through_the_offsets_topic_and_survive_a_restart() {
    // gzip: every commit is one compressed wrapper (0.8.2's "atomic" commits), which the
    // reload must open.
    let mut cluster = Cluster::start(
        1,
        &[
            ("offsets.topic.num.partitions", "3"),
            ("offset.metadata.max.bytes", "16"),
            ("offsets.topic.compression.codec", "1"),
        ],
    );
    cluster.create_topic("kt", 3, 1);
    let group = "kg";
    let c = coordinator(&cluster, group);
    let addr = addr_of(&c);
    // Nothing committed yet: -1, "", 0 (v1 differs from v0 here); an unknown partition is 3.
    let got = fetch_v1_settled(&cluster, &fetch_req(group, &[("kt", 0), ("kt", 9), ("nosuch", 0)]));
    assert_offset(&got, "kt", 0, -1, "", ErrorCode::NoError);
    assert_offset(&got, "kt", 9, -1, "", ErrorCode::UnknownTopicOrPartition);
    assert_offset(&got, "nosuch", 0, -1, "", ErrorCode::UnknownTopicOrPartition);

    let before = now_ms();
    let got = commit(
        &addr,
        1,
        &commit_req(
            group,
            &[("kt", 0, 100, -1, "m0"), ("kt", 1, 200, 1_400_000_000_000, ""), ("kt", 2, 300, -1, "seventeen chars!!")],
        ),
    );
    assert_eq!(
        got,
        BTreeMap::from([
            (k("kt", 0), ErrorCode::NoError),
            (k("kt", 1), ErrorCode::NoError),
            (k("kt", 2), ErrorCode::OffsetMetadataTooLarge)
        ])
    );
    let want = |got: &BTreeMap<(String, i32), OffsetFetchResponsePartition>| {
        assert_offset(got, "kt", 0, 100, "m0", ErrorCode::NoError);
        assert_offset(got, "kt", 1, 200, "", ErrorCode::NoError);
        // Oversized metadata: neither logged nor cached.
        assert_offset(got, "kt", 2, -1, "", ErrorCode::NoError);
    };
    want(&fetch(&addr, 1, &fetch_req(group, &[("kt", 0), ("kt", 1), ("kt", 2)])));
    // v0 and v1 offsets are separate namespaces.
    let v0 = fetch(&addr, 0, &fetch_req(group, &[("kt", 0)]));
    assert_offset(&v0, "kt", 0, -1, "", ErrorCode::UnknownTopicOrPartition);
    assert!(zk_get(&cluster, "/consumers/kg").is_none());

    // The records in __consumer_offsets, in 0.8.2's format, read by a plain consumer fetch.
    let offsets_partition = partition_for(group, 3);
    let records = offsets_topic_records(&addr, offsets_partition);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(offsets_topic_codecs(&addr, offsets_partition), vec![1], "one gzip wrapper");
    let by_tp: BTreeMap<i32, &offsets_record::OffsetAndMetadata> =
        records.iter().map(|(_, key, v)| (key.partition, v.as_ref().unwrap())).collect();
    assert!(records.iter().all(|(_, key, _)| key.group == group && key.topic == "kt"));
    assert_eq!((by_tp[&0].offset, by_tp[&0].metadata.as_str()), (100, "m0"));
    // -1 became the receive time; an explicit timestamp is kept.
    assert!(by_tp[&0].timestamp >= before && by_tp[&0].timestamp <= now_ms(), "{:?}", by_tp[&0]);
    assert_eq!((by_tp[&1].offset, by_tp[&1].timestamp), (200, 1_400_000_000_000));

    // A later commit wins.
    assert_eq!(
        commit(&addr, 1, &commit_req(group, &[("kt", 0, 101, -1, "m1")])),
        BTreeMap::from([(k("kt", 0), ErrorCode::NoError)])
    );

    // kill -9 and restart: the cache is rebuilt from the log (possibly after 14s).
    cluster.brokers[0].restart();
    let got = fetch_v1_settled(&cluster, &fetch_req(group, &[("kt", 0), ("kt", 1), ("kt", 2)]));
    assert_offset(&got, "kt", 0, 101, "m1", ErrorCode::NoError);
    assert_offset(&got, "kt", 1, 200, "", ErrorCode::NoError);
    assert_offset(&got, "kt", 2, -1, "", ErrorCode::NoError);
    // And a clean restart too.
    cluster.brokers[0].stop();
    cluster.brokers[0].restart();
    let got = fetch_v1_settled(&cluster, &fetch_req(group, &[("kt", 0), ("kt", 1)]));
    assert_offset(&got, "kt", 0, 101, "m1", ErrorCode::NoError);
    assert_offset(&got, "kt", 1, 200, "", ErrorCode::NoError);
}

#[test]
fn v1_offsets_survive_the_coordinator_dying_and_only_the_coordinator_answers() {
    let mut cluster = Cluster::start(
        3,
        &[
            ("offsets.topic.num.partitions", "4"),
            ("offsets.topic.replication.factor", "3"),
            ("offsets.commit.required.acks", "-1"),
        ],
    );
    cluster.create_topic("ft", 2, 2);
    let group = "failover-group";
    let c = coordinator(&cluster, group);
    let offsets_partition = partition_for(group, 4);
    cluster.wait_for_leaders(OFFSETS_TOPIC, 4);

    // Every broker hosts a replica of the offsets partition (RF 3): the others are
    // followers and answer 16 to commits and fetches.
    for b in cluster.brokers.iter().filter(|b| b.id != c.id) {
        // (15 until the broker hosts its replica, as 0.8.2 mapped 3.)
        wait_until(&format!("broker {} answers commits with 16", b.id), DEADLINE, || {
            let got = commit(&b.addr(), 1, &commit_req(group, &[("ft", 0, 1, -1, "")]));
            assert_ne!(got[&k("ft", 0)], ErrorCode::NoError);
            got == BTreeMap::from([(k("ft", 0), ErrorCode::NotCoordinatorForConsumer)])
        });
        let got = fetch(&b.addr(), 1, &fetch_req(group, &[("ft", 0)]));
        assert_offset(&got, "ft", 0, -1, "", ErrorCode::NotCoordinatorForConsumer);
    }

    // Commit with acks -1: answered once every ISR member has it.
    let got = commit(&addr_of(&c), 1, &commit_req(group, &[("ft", 0, 10, -1, "a"), ("ft", 1, 20, -1, "b")]));
    assert_eq!(got, BTreeMap::from([(k("ft", 0), ErrorCode::NoError), (k("ft", 1), ErrorCode::NoError)]));
    let got = fetch(&addr_of(&c), 1, &fetch_req(group, &[("ft", 0), ("ft", 1)]));
    assert_offset(&got, "ft", 0, 10, "a", ErrorCode::NoError);
    assert_offset(&got, "ft", 1, 20, "b", ErrorCode::NoError);

    // The coordinator dies: the new leader of the offsets partition loads its replica.
    let i = cluster.brokers.iter().position(|b| b.id == c.id).unwrap();
    cluster.brokers[i].kill();
    wait_until("a new coordinator", DEADLINE, || coordinator(&cluster, group).id != c.id);
    let got = fetch_v1_settled(&cluster, &fetch_req(group, &[("ft", 0), ("ft", 1)]));
    assert_offset(&got, "ft", 0, 10, "a", ErrorCode::NoError);
    assert_offset(&got, "ft", 1, 20, "b", ErrorCode::NoError);

    // Commits go on at the new coordinator, and the old one comes back as a follower
    // (16), its cache dropped.
    let c2 = coordinator(&cluster, group);
    let got = commit(&addr_of(&c2), 1, &commit_req(group, &[("ft", 0, 11, -1, "a2")]));
    assert_eq!(got, BTreeMap::from([(k("ft", 0), ErrorCode::NoError)]));
    cluster.brokers[i].restart();
    let old = cluster.brokers[i].addr();
    wait_until("the old coordinator follows", DEADLINE, || {
        call(&old, 1, &fetch_req(group, &[("ft", 0)]))
            .is_some_and(|r| r.topics[0].partitions[0].error_code == ErrorCode::NotCoordinatorForConsumer)
    });
    let records = offsets_topic_records(&addr_of(&coordinator(&cluster, group)), offsets_partition);
    assert_eq!(records.last().and_then(|(_, _, v)| v.as_ref()).map(|v| v.offset), Some(11));
    let got = fetch_v1_settled(&cluster, &fetch_req(group, &[("ft", 0), ("ft", 1)]));
    assert_offset(&got, "ft", 0, 11, "a2", ErrorCode::NoError);
    assert_offset(&got, "ft", 1, 20, "b", ErrorCode::NoError);
}

#[test]
fn v1_commit_times_out_with_7_when_a_follower_in_the_isr_stops_fetching() {
    let cluster = Cluster::start(
        2,
        &[
            ("offsets.topic.num.partitions", "1"),
            ("offsets.topic.replication.factor", "2"),
            ("offsets.commit.timeout.ms", "1000"),
            ("replica.lag.time.max.ms", "30000"),
        ],
    );
    cluster.create_topic("tt", 1, 1);
    let group = "slow";
    let c = coordinator(&cluster, group);
    wait_until("both replicas in the offsets partition's ISR", DEADLINE, || {
        zk_get(&cluster, "/brokers/topics/__consumer_offsets/partitions/0/state").is_some_and(|s| {
            serde_json::from_str::<serde_json::Value>(&s).unwrap()["isr"].as_array().unwrap().len() == 2
        })
    });
    // Wait until the cache is loaded, then commit once normally.
    fetch_v1_settled(&cluster, &fetch_req(group, &[("tt", 0)]));
    assert_eq!(
        commit(&addr_of(&c), 1, &commit_req(group, &[("tt", 0, 5, -1, "")])),
        BTreeMap::from([(k("tt", 0), ErrorCode::NoError)])
    );

    let follower = cluster.brokers.iter().find(|b| b.id != c.id).unwrap();
    follower.pause();
    let started = std::time::Instant::now();
    let got = commit(&addr_of(&c), 1, &commit_req(group, &[("tt", 0, 6, -1, "")]));
    follower.resume();
    assert_eq!(got, BTreeMap::from([(k("tt", 0), ErrorCode::RequestTimedOut)]));
    assert!(started.elapsed() >= Duration::from_millis(900), "answered after {:?}", started.elapsed());
    // Not acknowledged, so not cached: the fetch still says 5.
    let got = fetch(&addr_of(&c), 1, &fetch_req(group, &[("tt", 0)]));
    assert_offset(&got, "tt", 0, 5, "", ErrorCode::NoError);
    // With the follower back, commits work again.
    wait_until("a commit succeeds again", DEADLINE, || {
        commit(&addr_of(&c), 1, &commit_req(group, &[("tt", 0, 7, -1, "")]))
            == BTreeMap::from([(k("tt", 0), ErrorCode::NoError)])
    });
}

#[test]
fn v1_offsets_older_than_the_retention_are_expired_and_tombstoned() {
    let mut cluster = Cluster::start(
        1,
        &[
            ("offsets.topic.num.partitions", "2"),
            ("offsets.retention.minutes", "1"),
            ("offsets.retention.check.interval.ms", "300"),
        ],
    );
    cluster.create_topic("et", 2, 1);
    let group = "expiring";
    let c = coordinator(&cluster, group);
    fetch_v1_settled(&cluster, &fetch_req(group, &[("et", 0)]));
    let old = now_ms() - 2 * 60_000;
    let got = commit(&addr_of(&c), 1, &commit_req(group, &[("et", 0, 1, old, "old"), ("et", 1, 2, -1, "fresh")]));
    assert_eq!(got, BTreeMap::from([(k("et", 0), ErrorCode::NoError), (k("et", 1), ErrorCode::NoError)]));
    wait_until("the old offset expires", DEADLINE, || {
        fetch(&addr_of(&c), 1, &fetch_req(group, &[("et", 0)]))[&k("et", 0)].offset == -1
    });
    let got = fetch(&addr_of(&c), 1, &fetch_req(group, &[("et", 0), ("et", 1)]));
    assert_offset(&got, "et", 0, -1, "", ErrorCode::NoError);
    assert_offset(&got, "et", 1, 2, "fresh", ErrorCode::NoError);
    // The log holds a tombstone (null value) for it after the value.
    let records = offsets_topic_records(&addr_of(&c), partition_for(group, 2));
    let last_for_0 = records.iter().rev().find(|(_, key, _)| key.partition == 0).unwrap();
    assert!(last_for_0.2.is_none(), "{records:?}");
    // Reloaded after a restart, it stays gone.
    cluster.brokers[0].restart();
    let got = fetch_v1_settled(&cluster, &fetch_req(group, &[("et", 0), ("et", 1)]));
    assert_offset(&got, "et", 0, -1, "", ErrorCode::NoError);
    assert_offset(&got, "et", 1, 2, "fresh", ErrorCode::NoError);
}
