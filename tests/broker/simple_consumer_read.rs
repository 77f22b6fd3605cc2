//! `SimpleConsumer` and `PartitionReader` against real brokers: everything read back
//! (plain and compressed batches, from the middle of a wrapper), earliest/latest offsets and
//! `offsets_before`, a fetch size too small for one message reported and then grown, broker
//! errors per partition, and a reader that follows its partition to a new leader.

use crate::support;

use bytes::Bytes;
use kafka08::common::{ErrorCode, Properties};
use kafka08::consumer::{ConsumerError, PartitionReader, ReaderConfig, SimpleConsumer};
use kafka08::producer::{parse_broker_list, KeyedMessage, Producer};
use std::time::Duration;
use support::cluster::Cluster;

const FAST: &[(&str, &str)] = &[
    ("zookeeper.session.timeout.ms", "4000"),
    ("replica.fetch.wait.max.ms", "100"),
    ("controlled.shutdown.enable", "false"),
];

fn producer(bootstrap: &str, pairs: &[(&str, &str)]) -> Producer {
    let mut p = Properties::new();
    p.set("metadata.broker.list", bootstrap);
    for (k, v) in pairs {
        p.set(*k, *v);
    }
    Producer::from_properties(&p).unwrap()
}

fn value(i: i64) -> Bytes {
    Bytes::from(format!("value-{i:04}"))
}

#[test]
fn simple_consumer_reads_everything_back_and_answers_offsets() {
    let cluster = Cluster::start(1, &[]);
    let bootstrap = cluster.bootstrap();
    cluster.create_topic("sc", 1, 1);
    let rt = Cluster::runtime();
    rt.block_on(async {
        // Offsets 0..500 plain, 500..1000 in five gzip wrappers of 100.
        for (codec, range) in [("none", 0..500), ("gzip", 500..1000)] {
            let p = producer(&bootstrap, &[("request.required.acks", "1"), ("compression.codec", codec)]);
            for chunk in range.collect::<Vec<i64>>().chunks(100) {
                p.send(chunk.iter().map(|i| KeyedMessage::new("sc", value(*i))).collect()).await.unwrap();
            }
            p.close().await.unwrap();
        }
        let (host, port) = parse_broker_list(&bootstrap).unwrap().remove(0);
        let mut c = SimpleConsumer::new(host, port, Duration::from_secs(10), 64 * 1024, "sc-test");

        let md = c.metadata(&["sc".to_string()]).await.unwrap();
        assert_eq!(md.topics[0].partitions.len(), 1);
        assert_eq!(md.topics[0].partitions[0].leader, 1);
        assert_eq!(c.earliest_offset("sc", 0).await.unwrap(), 0);
        assert_eq!(c.latest_offset("sc", 0).await.unwrap(), 1000);
        assert_eq!(c.offsets_before("sc", 0, -1, 10).await.unwrap(), vec![1000, 0], "log end, then segment bases");
        assert_eq!(c.offsets_before("sc", 0, -2, 10).await.unwrap(), vec![0]);

        // Everything, with a fetch size that cuts entries (and wrappers) in the middle.
        let mut offset = 0;
        let mut got = Vec::new();
        let mut fetches = 0;
        while offset < 1000 {
            let f = c.fetch("sc", 0, offset, 4096, 0, 0).await.unwrap();
            assert_eq!(f.high_watermark, 1000);
            assert!(f.valid_bytes <= f.size_in_bytes && f.size_in_bytes <= 4096);
            offset = f.next_offset();
            got.extend(f.messages.into_iter().map(|m| (m.offset, m.value().unwrap())));
            fetches += 1;
        }
        assert!(fetches > 2);
        assert_eq!(got, (0..1000).map(|i| (i, value(i))).collect::<Vec<_>>());

        // From the middle of a compressed wrapper: the earlier inner messages are dropped.
        let f = c.fetch("sc", 0, 750, 1 << 20, 0, 0).await.unwrap();
        assert_eq!(f.messages.first().map(|m| m.offset), Some(750));
        assert_eq!(f.messages.len(), 250);

        // A fetch size below one message is reported, and growing it gets the message.
        match c.fetch("sc", 0, 3, 20, 0, 0).await {
            Err(ConsumerError::MessageTooLarge { offset: 3, fetch_size: 20, .. }) => {}
            other => panic!("expected MessageTooLarge, got {other:?}"),
        }
        match c.fetch("sc", 0, 600, 200, 0, 0).await {
            Err(e @ ConsumerError::MessageTooLarge { .. }) => {
                assert!(e.to_string().contains("Increase the fetch size"))
            }
            other => panic!("a gzip wrapper larger than 200 bytes: {other:?}"),
        }
        let f = c.fetch("sc", 0, 600, 400_000, 0, 0).await.unwrap();
        assert_eq!(f.messages[0].offset, 600);

        // Nothing new at the end (long poll ends after max_wait), errors per partition.
        let f = c.fetch("sc", 0, 1000, 1 << 20, 100, 1).await.unwrap();
        assert!(f.is_empty() && f.next_offset() == 1000);
        match c.fetch("sc", 0, 5000, 1 << 20, 0, 0).await {
            Err(ConsumerError::Broker { error: ErrorCode::OffsetOutOfRange, .. }) => {}
            other => panic!("expected OffsetOutOfRange, got {other:?}"),
        }
        match c.fetch("sc", 7, 0, 1 << 20, 0, 0).await {
            Err(e @ ConsumerError::Broker { error: ErrorCode::UnknownTopicOrPartition, .. }) => {
                assert!(e.is_leader_change())
            }
            other => panic!("expected UnknownTopicOrPartition, got {other:?}"),
        }
        // The consumer keeps working after errors.
        assert_eq!(c.latest_offset("sc", 0).await.unwrap(), 1000);
    });
}

#[test]
fn partition_reader_follows_its_partition_to_a_new_leader() {
    let mut cluster = Cluster::start(3, FAST);
    let bootstrap = cluster.bootstrap();
    cluster.create_topic("moving", 1, 3);
    let rt = Cluster::runtime();
    let p = producer(
        &bootstrap,
        &[("request.required.acks", "-1"), ("message.send.max.retries", "30"), ("retry.backoff.ms", "300")],
    );
    let mut reader = PartitionReader::new(
        parse_broker_list(&bootstrap).unwrap(),
        "moving",
        0,
        ReaderConfig { max_wait_ms: 0, fetch_size: 2000, client_id: "mover".into(), ..ReaderConfig::default() },
    );
    let mut got = Vec::new();
    let old_leader = rt.block_on(async {
        for chunk in (0..300).collect::<Vec<i64>>().chunks(50) {
            p.send(chunk.iter().map(|i| KeyedMessage::new("moving", value(*i))).collect()).await.unwrap();
        }
        while reader.offset() < 100 {
            got.extend(reader.fetch().await.unwrap().messages.into_iter().map(|m| (m.offset, m.value().unwrap())));
        }
        reader.leader().expect("reading from a leader")
    });
    let idx = cluster.brokers.iter().position(|b| b.id == old_leader).unwrap();
    cluster.brokers[idx].kill();
    rt.block_on(async {
        // The producer finds the new leader too; the reader continues where it stopped.
        for chunk in (300..400).collect::<Vec<i64>>().chunks(50) {
            p.send(chunk.iter().map(|i| KeyedMessage::new("moving", value(*i))).collect()).await.unwrap();
        }
        while reader.offset() < 400 {
            got.extend(reader.fetch().await.unwrap().messages.into_iter().map(|m| (m.offset, m.value().unwrap())));
        }
        p.close().await.unwrap();
    });
    assert_eq!(got, (0..400).map(|i| (i, value(i))).collect::<Vec<_>>(), "every message once, in order");
    let new_leader = reader.leader().expect("a leader");
    assert_ne!(new_leader, old_leader, "the reader moved to the new leader");
    assert_eq!(rt.block_on(reader.latest_offset()).unwrap(), 400);
    assert_eq!(rt.block_on(reader.earliest_offset()).unwrap(), 0);
}
