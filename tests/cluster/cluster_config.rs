//! Topic config overrides reach the broker: at topic creation from `/config/topics/<t>`,
//! and live through `/config/changes` notifications (kafka-topics.sh --alter --config).
//! Also: unknown server.properties keys are warned about, not fatal.

use crate::support;

use bytes::Bytes;
use kafka08::api;
use kafka08::common::{ErrorCode, Properties};
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::wait_until;

fn produce_code(addr: &str, topic: &str, value_len: usize) -> Option<ErrorCode> {
    let m = Message::new(None, Some(&vec![b'v'; value_len]), CompressionCodec::None);
    let req = api::ProduceRequest {
        acks: 1,
        timeout_ms: 1000,
        topics: vec![api::ProduceTopic { topic: topic.into(), partitions: vec![api::ProducePartition { partition: 0, message_set: Bytes::from(encode_messages(CompressionCodec::None, &[m], 0)) }] }],
    };
    try_call(addr, &req).map(|r| r.topics[0].partitions[0].error_code)
}

#[test]
fn topic_overrides_apply_at_creation_and_live_on_change() {
    let cluster = Cluster::start(1, &[("some.unknown.key", "x")]);
    assert!(cluster.brokers[0].log().contains("some.unknown.key"), "unknown keys are warned about");
    let rt = Cluster::runtime();
    let zk = rt.block_on(kafka08::zk::ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let mut props = Properties::new();
    props.set("max.message.bytes", "200");
    rt.block_on(kafka08::admin::create_topic(&zk, "small", 1, 1, &props)).unwrap();
    cluster.wait_for_leaders("small", 1);
    let addr = cluster.brokers[0].addr();
    assert_eq!(produce_code(&addr, "small", 100), Some(ErrorCode::NoError));
    assert_eq!(produce_code(&addr, "small", 300), Some(ErrorCode::MessageSizeTooLarge));

    // Raise the limit with a config change: applied live, no restart.
    let mut props = Properties::new();
    props.set("max.message.bytes", "100000");
    rt.block_on(kafka08::admin::change_topic_config(&zk, "small", &props)).unwrap();
    wait_until("the new limit is applied", Duration::from_secs(30), || produce_code(&addr, "small", 300) == Some(ErrorCode::NoError));
}

#[test]
fn metadata_auto_creates_topics_as_configured() {
    let cluster = Cluster::start(2, &[("num.partitions", "3"), ("default.replication.factor", "2")]);
    let addr = cluster.brokers[0].addr();
    let md = try_call(&addr, &api::MetadataRequest { topics: vec!["auto".into()] }).unwrap();
    // 0.8.2: the first answer for a just-created topic is LeaderNotAvailable.
    assert!(matches!(md.topics[0].error_code, ErrorCode::LeaderNotAvailable | ErrorCode::NoError), "{:?}", md);
    cluster.wait_for_leaders("auto", 3);
    let md = try_call(&addr, &api::MetadataRequest { topics: vec!["auto".into()] }).unwrap();
    assert!(md.topics[0].partitions.iter().all(|p| p.replicas.len() == 2));
    // An illegal name is refused with 17.
    let md = try_call(&addr, &api::MetadataRequest { topics: vec!["bad name!".into()] }).unwrap();
    assert_eq!(md.topics[0].error_code, ErrorCode::InvalidTopic);

    let off = Cluster::start(1, &[("auto.create.topics.enable", "false")]);
    let md = try_call(&off.brokers[0].addr(), &api::MetadataRequest { topics: vec!["nope".into()] }).unwrap();
    assert_eq!(md.topics[0].error_code, ErrorCode::UnknownTopicOrPartition);
}

#[test]
fn several_replica_fetchers_per_leader_replicate_every_partition() {
    let mut cluster = Cluster::start(2, &[("num.replica.fetchers", "3"), ("replica.fetch.wait.max.ms", "100")]);
    cluster.create_topic("multi", 6, 2);
    let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    let mut p = support::producer::TestProducer::new(bootstrap.clone(), "multi");
    for part in 0..6 {
        for i in 0..20 {
            p.send(part, &format!("p{part}-{i}"), Duration::from_secs(30)).expect("acks=-1 needs the follower's fetch");
        }
    }
    for part in 0..6 {
        let got = support::producer::read_partition(&bootstrap, "multi", part, Duration::from_secs(30));
        assert_eq!(got.len(), 20);
    }
    // acks=-1 also succeeds against an ISR shrunk to the leader: require that every
    // follower stayed in the ISR and holds the leader's bytes.
    cluster.wait_for_full_isr("multi", 6, 2);
    cluster.assert_replicas_agree("multi");
}
