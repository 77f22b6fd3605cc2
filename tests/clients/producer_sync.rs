//! The producer in sync mode against real brokers: every codec with acks 1, -1 and 0 to a
//! 3-partition topic (read back exactly, keys on their hashed partitions, batches stored
//! with the codec), null-key stickiness until a metadata refresh, and a clear error naming
//! the partitions when retries run out.

use crate::support;

use bytes::Bytes;
use kafka08::api::{self, FetchPartition, FetchRequest, FetchTopic};
use kafka08::common::{ErrorCode, Properties};
use kafka08::consumer::{PartitionReader, ReaderConfig, SimpleConsumer};
use kafka08::message::{shallow_iter, CompressionCodec};
use kafka08::producer::{
    parse_broker_list, KeyedMessage, Producer, ProducerError, STRING_ENCODER,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::cluster::{try_call, Cluster};
use support::{free_port, wait_until};

/// Where a Java 0.8.2 producer puts the string keys `key-0` .. `key-36` among 3 partitions
/// (`DefaultPartitioner` with `StringEncoder` keys: `Utils.abs(String.hashCode) % 3`),
/// computed with Java 17's `String.hashCode` and 0.8.2's `Utils.abs`, not with our code.
const JAVA_STRING_KEY_PARTITIONS: [i32; 37] =
    [2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2];

/// The byte-array keys `k0` .. `k9` among 3 partitions: `Utils.abs(Arrays.hashCode) % 3`,
/// computed with Java 17.
const JAVA_BYTES_KEY_PARTITIONS_OF_3: [i32; 10] = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];

const FAST: &[(&str, &str)] = &[("zookeeper.session.timeout.ms", "4000"), ("controlled.shutdown.enable", "false")];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn props(bootstrap: &str, pairs: &[(&str, &str)]) -> Properties {
    let mut p = Properties::new();
    p.set("metadata.broker.list", bootstrap);
    for (k, v) in pairs {
        p.set(*k, *v);
    }
    p
}

/// Every message of `topic`/`partition` up to its high watermark, as (offset, key, value).
async fn read_all(bootstrap: &str, topic: &str, partition: i32) -> Vec<(i64, Option<Bytes>, Bytes)> {
    let config = ReaderConfig { max_wait_ms: 0, client_id: "producer-test".into(), ..ReaderConfig::default() };
    let mut reader = PartitionReader::new(parse_broker_list(bootstrap).unwrap(), topic, partition, config);
    let end = reader.latest_offset().await.expect("latest offset");
    let mut out = Vec::new();
    while reader.offset() < end {
        let f = reader.fetch().await.expect("fetch");
        out.extend(f.messages.into_iter().map(|m| (m.offset, m.key(), m.value().unwrap_or_default())));
    }
    out
}

/// Wait until the high watermarks of `topic`'s partitions add up to `total`: with acks=1
/// the followers (and so the high watermark) may still be catching up when `send` returns.
async fn wait_for_high_watermarks(bootstrap: &str, topic: &str, partitions: i32, total: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut sum = 0;
        for p in 0..partitions {
            let mut reader =
                PartitionReader::new(parse_broker_list(bootstrap).unwrap(), topic, p, ReaderConfig::default());
            sum += reader.latest_offset().await.expect("latest offset");
        }
        if sum == total {
            return;
        }
        assert!(Instant::now() < deadline, "{topic}: high watermarks add up to {sum}, not {total}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The codec ids of the stored (shallow) entries of a partition, from its leader.
async fn stored_codecs(bootstrap: &str, topic: &str, partition: i32) -> Vec<u8> {
    let md =
        try_call(bootstrap.split(',').next().unwrap(), &api::MetadataRequest { topics: vec![topic.into()] }).unwrap();
    let leader = md.topics[0].partitions.iter().find(|p| p.partition == partition).unwrap().leader;
    let b = md.brokers.iter().find(|b| b.id == leader).unwrap();
    let mut c = SimpleConsumer::new(b.host.clone(), b.port as u16, Duration::from_secs(10), 65536, "codec-check");
    let r = c
        .fetch_request(&FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            topics: vec![FetchTopic {
                topic: topic.into(),
                partitions: vec![FetchPartition { partition, fetch_offset: 0, max_bytes: 1 << 20 }],
            }],
        })
        .await
        .unwrap();
    let p = &r.topics[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::NoError);
    shallow_iter(p.message_set.clone()).map(|e| e.unwrap().message.codec_id()).collect()
}

#[test]
fn sync_producer_with_every_codec_and_acks_1_all_and_0_delivers_keyed_messages_to_their_partitions() {
    let cluster = Cluster::start(3, FAST);
    let bootstrap = cluster.bootstrap();
    let rt = runtime();
    // acks=0 too: requests without responses (send_oneway), read back all the same.
    for (acks, name) in [("1", "one"), ("-1", "all"), ("0", "none")] {
        for codec in ["none", "gzip", "snappy", "lz4"] {
            let topic = format!("sync-{name}-{codec}");
            cluster.create_topic(&topic, 3, 3);
            let producer = Producer::from_properties(&props(
                &bootstrap,
                &[
                    ("request.required.acks", acks),
                    ("compression.codec", codec),
                    ("key.serializer.class", STRING_ENCODER),
                    ("client.id", "sync-test"),
                ],
            ))
            .unwrap();
            let mut sent: Vec<(String, String)> = Vec::new();
            rt.block_on(async {
                for batch in 0..6 {
                    let msgs: Vec<KeyedMessage> = (0..50)
                        .map(|i| {
                            let n = batch * 50 + i;
                            let (k, v) = (format!("key-{}", n % 37), format!("{}-{}-value-{}", acks, codec, n));
                            sent.push((k.clone(), v.clone()));
                            KeyedMessage::with_key(topic.clone(), k, v)
                        })
                        .collect();
                    producer.send(msgs).await.unwrap_or_else(|e| panic!("{topic}: {e}"));
                }
                producer.close().await.unwrap();
            });
            rt.block_on(wait_for_high_watermarks(&bootstrap, &topic, 3, sent.len() as i64));
            let mut stored: Vec<(String, String)> = Vec::new();
            for p in 0..3 {
                let msgs = rt.block_on(read_all(&bootstrap, &topic, p));
                let offsets: Vec<i64> = msgs.iter().map(|m| m.0).collect();
                assert_eq!(offsets, (0..msgs.len() as i64).collect::<Vec<_>>(), "{topic}-{p}: contiguous offsets");
                for (_, key, value) in msgs {
                    let key = key.expect("keyed");
                    let n: usize = std::str::from_utf8(&key).ok().and_then(|k| k.strip_prefix("key-")).and_then(|n| n.parse().ok()).expect("key-<n>");
                    let expected = JAVA_STRING_KEY_PARTITIONS[n];
                    assert_eq!(expected, p, "{topic}: key {:?} stored in partition {p}", key);
                    stored.push((String::from_utf8(key.to_vec()).unwrap(), String::from_utf8(value.to_vec()).unwrap()));
                }
                let want = CompressionCodec::parse(codec).unwrap() as u8;
                let codecs = rt.block_on(stored_codecs(&bootstrap, &topic, p));
                assert!(
                    !codecs.is_empty() && codecs.iter().all(|c| *c == want),
                    "{topic}-{p}: stored codecs {codecs:?}"
                );
            }
            // Order within a key is kept (one key, one partition, requests in order).
            let mut by_key_sent: HashMap<&str, Vec<&str>> = HashMap::new();
            for (k, v) in &sent {
                by_key_sent.entry(k).or_default().push(v);
            }
            let mut by_key_stored: HashMap<&str, Vec<&str>> = HashMap::new();
            for (k, v) in &stored {
                by_key_stored.entry(k).or_default().push(v);
            }
            assert_eq!(by_key_sent, by_key_stored, "{topic}: exactly what was sent, in order per key");
        }
    }
}

#[test]
fn same_key_same_partition_and_null_keys_stick_until_a_metadata_refresh() {
    let cluster = Cluster::start(3, FAST);
    let bootstrap = cluster.bootstrap();
    let rt = runtime();
    cluster.create_topic("keys", 3, 2);
    cluster.create_topic("sticky", 3, 2);
    cluster.create_topic("refreshing", 3, 2);
    rt.block_on(async {
        // Two producers (bytes keys, the default) agree on every key's partition.
        for round in 0..2 {
            let producer = Producer::from_properties(&props(&bootstrap, &[("request.required.acks", "1")])).unwrap();
            for i in 0..30 {
                producer
                    .send_one(KeyedMessage::with_key("keys", format!("k{}", i % 10), format!("r{round}-{i}")))
                    .await
                    .unwrap();
            }
            producer.close().await.unwrap();
        }
        wait_for_high_watermarks(&bootstrap, "keys", 3, 60).await;
        let mut seen: HashMap<Bytes, i32> = HashMap::new();
        let mut total = 0;
        for p in 0..3 {
            for (_, key, _) in read_all(&bootstrap, "keys", p).await {
                let key = key.unwrap();
                total += 1;
                assert_eq!(*seen.entry(key.clone()).or_insert(p), p, "key {:?} in two partitions", key);
                let n: usize = std::str::from_utf8(&key).ok().and_then(|k| k.strip_prefix('k')).and_then(|n| n.parse().ok()).expect("k<n>");
                assert_eq!(JAVA_BYTES_KEY_PARTITIONS_OF_3[n], p, "key {:?}", key);
            }
        }
        assert_eq!(total, 60);
        assert!(seen.values().collect::<std::collections::HashSet<_>>().len() > 1, "10 keys spread over partitions");

        // Null keys: one random partition, kept while the metadata is not refreshed.
        let producer = Producer::from_properties(&props(&bootstrap, &[("request.required.acks", "1")])).unwrap();
        for i in 0..60 {
            producer.send_one(KeyedMessage::new("sticky", format!("s{i}"))).await.unwrap();
        }
        producer.close().await.unwrap();
        wait_for_high_watermarks(&bootstrap, "sticky", 3, 60).await;
        let mut counts = Vec::new();
        for p in 0..3 {
            counts.push(read_all(&bootstrap, "sticky", p).await.len());
        }
        assert_eq!(
            counts.iter().filter(|c| **c > 0).count(),
            1,
            "null-key messages stick to one partition: {counts:?}"
        );
        assert_eq!(counts.iter().sum::<usize>(), 60);

        // topic.metadata.refresh.interval.ms=0 refreshes before every send, and each refresh
        // picks the partition again.
        let producer = Producer::from_properties(&props(
            &bootstrap,
            &[("request.required.acks", "1"), ("topic.metadata.refresh.interval.ms", "0")],
        ))
        .unwrap();
        for i in 0..60 {
            producer.send_one(KeyedMessage::new("refreshing", format!("r{i}"))).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        producer.close().await.unwrap();
        wait_for_high_watermarks(&bootstrap, "refreshing", 3, 60).await;
        let mut counts = Vec::new();
        for p in 0..3 {
            counts.push(read_all(&bootstrap, "refreshing", p).await.len());
        }
        assert!(counts.iter().filter(|c| **c > 0).count() > 1, "a refresh re-picks the partition: {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), 60);
    });
}

#[test]
fn retries_exhausted_on_a_leaderless_partition_fail_with_an_error_naming_it() {
    let mut cluster = Cluster::start(2, FAST);
    let bootstrap1 = cluster.brokers[0].addr();
    let rt = runtime();
    let zk = rt
        .block_on(kafka08::zk::ZkClient::connect(
            &cluster.zk.connect_string(),
            Duration::from_secs(6),
            Duration::from_secs(10),
        ))
        .unwrap();
    // Partition 0 lives on broker 1 only, partition 1 on broker 2 only.
    let assignment: kafka08::admin::ReplicaAssignment = [(0, vec![1]), (1, vec![2])].into_iter().collect();
    rt.block_on(kafka08::admin::create_topic_with_assignment(&zk, "orphan", &assignment, &Properties::new())).unwrap();
    cluster.wait_for_leaders("orphan", 2);
    cluster.brokers[1].kill();
    wait_until("broker 1 reports partition 1 leaderless", Duration::from_secs(30), || {
        try_call(&bootstrap1, &api::MetadataRequest { topics: vec!["orphan".into()] })
            .is_some_and(|m| m.topics[0].partitions.iter().any(|p| p.partition == 1 && p.leader == -1))
    });
    // Keys with a known partition (bytes keys: abs(Arrays.hashCode) % 2, worked out with
    // Java: "k0" is 31 * (31 + 107) + 48 = 4326 → 0, "k1" 4327 → 1).
    let (k0, k1) = ("k0".to_string(), "k1".to_string());
    let producer = Producer::from_properties(&props(
        &bootstrap1,
        &[("request.required.acks", "1"), ("message.send.max.retries", "2"), ("retry.backoff.ms", "200")],
    ))
    .unwrap();
    rt.block_on(async {
        producer
            .send_one(KeyedMessage::with_key("orphan", k0.clone(), "fine"))
            .await
            .expect("partition 0 has a leader");
        let started = Instant::now();
        let err = producer
            .send(vec![
                KeyedMessage::with_key("orphan", k1.clone(), "lost-1"),
                KeyedMessage::with_key("orphan", k1.clone(), "lost-2"),
                KeyedMessage::with_key("orphan", k0.clone(), "also-fine"),
            ])
            .await
            .expect_err("partition 1 has no leader");
        match &err {
            ProducerError::FailedToSend { attempts, failures } => {
                assert_eq!(*attempts, 3, "message.send.max.retries=2 means 3 attempts");
                assert_eq!(failures.len(), 1, "{err}");
                assert_eq!(failures[0].topic, "orphan");
                assert_eq!(failures[0].partition, Some(1));
                assert_eq!(failures[0].messages, 2);
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("[orphan,1]") && text.contains("after 3 tries"), "{text}");
        assert!(started.elapsed() >= Duration::from_millis(400), "two backoffs of retry.backoff.ms");
        // A message over the broker's message.max.bytes fails at once: resending cannot help.
        let big = vec![b'x'; 1_100_000];
        match producer.send_one(KeyedMessage::with_key("orphan", k0.clone(), big)).await {
            Err(ProducerError::FailedToSend { attempts: 1, failures }) => {
                assert_eq!((failures[0].topic.as_str(), failures[0].partition), ("orphan", Some(0)));
                assert!(failures[0].reason.contains("MessageSizeTooLarge"), "{}", failures[0].reason);
            }
            other => panic!("expected MessageSizeTooLarge without retries, got {other:?}"),
        }
        producer.close().await.unwrap();
        let stored: Vec<Bytes> = read_all(&bootstrap1, "orphan", 0).await.into_iter().map(|m| m.2).collect();
        assert_eq!(
            stored,
            vec![Bytes::from("fine"), Bytes::from("also-fine")],
            "the partition with a leader got its messages"
        );
    });
}

#[test]
fn no_reachable_broker_is_an_error_naming_the_topic() {
    let dead = format!("127.0.0.1:{}", free_port());
    let producer_props =
        props(&dead, &[("message.send.max.retries", "1"), ("retry.backoff.ms", "10"), ("request.timeout.ms", "2000")]);
    let rt = runtime();
    rt.block_on(async {
        let producer = Producer::from_properties(&producer_props).unwrap();
        let err = producer.send_one(KeyedMessage::new("nowhere", "x")).await.unwrap_err();
        match &err {
            ProducerError::FailedToSend { attempts: 2, failures } => {
                assert_eq!(failures[0].topic, "nowhere");
                assert_eq!(failures[0].partition, None);
                assert!(failures[0].reason.contains(&dead), "{err}");
            }
            other => panic!("unexpected {other:?}"),
        }
        producer.close().await.unwrap();
        assert_eq!(producer.send_one(KeyedMessage::new("nowhere", "x")).await, Err(ProducerError::Closed));
    });
}
