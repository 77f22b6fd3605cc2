//! High-level consumer against a real ZooKeeper and a real broker, in process: committed
//! offsets in ZooKeeper survive a restart, `auto.offset.reset`, `consumer.timeout.ms`,
//! auto-commit, the member znode's Java layout, foreign (pykafka) members, wildcards.

use crate::support;

use crate::support::hlc::*;
use kafka08::consumer::zk::{ConsumerError, KafkaStream, MessageAndMetadata, TopicFilter, ZookeeperConsumerConnector};
use kafka08::zk::json::ConsumerRegistration;
use kafka08::zk::paths;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::cluster::Cluster;

fn value(m: &MessageAndMetadata) -> String {
    String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned()
}

/// Take `n` messages, failing after `deadline`.
async fn take(stream: &mut KafkaStream, n: usize, deadline: Duration) -> Vec<MessageAndMetadata> {
    let mut out = Vec::new();
    let end = Instant::now() + deadline;
    while out.len() < n {
        assert!(Instant::now() < end, "only {} of {} messages within {:?}: {:?}", out.len(), n, deadline, out);
        match stream.next().await {
            Some(Ok(m)) => out.push(m),
            Some(Err(ConsumerError::Timeout)) => {}
            other => panic!("stream ended: {:?}", other),
        }
    }
    out
}

/// Everything until `consumer.timeout.ms` passes without a message.
async fn drain(stream: &mut KafkaStream) -> Vec<MessageAndMetadata> {
    let mut out = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(m)) => out.push(m),
            Some(Err(ConsumerError::Timeout)) => return out,
            other => panic!("stream ended: {:?}", other),
        }
    }
}

fn one_topic(topic: &str, n: usize) -> BTreeMap<String, usize> {
    BTreeMap::from([(topic.to_string(), n)])
}

#[test]
fn committed_offsets_survive_a_consumer_restart() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("resume", 2, 1);
    let all = values("r", 0..10);
    produce(&cluster.bootstrap(), "resume", &[0, 1], &all);
    let zk_connect = cluster.zk.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        let a = ZookeeperConsumerConnector::create(config(&zk_connect, "g1", &[("consumer.id", "a")])).await.unwrap();
        assert_eq!(a.consumer_id(), "g1_a");
        let mut streams = a.create_message_streams(&one_topic("resume", 1)).await.unwrap();
        let mut s = streams.remove("resume").unwrap().remove(0);

        // The member znode is 0.8.2's JSON.
        let (data, stat) = zk.get_data(&paths::consumer_id("g1", "g1_a")).await.unwrap().expect("registered");
        assert!(stat.ephemeral_owner != 0, "the member znode is ephemeral");
        let reg = ConsumerRegistration::parse(&data).unwrap();
        assert_eq!((reg.version, reg.pattern.as_str()), (1, "static"));
        assert_eq!(reg.subscription, BTreeMap::from([("resume".to_string(), 1)]));
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.starts_with(r#"{"version":1,"subscription":{"resume":1},"pattern":"static","timestamp":""#),
            "{}",
            text
        );
        assert_eq!(owners(&zk, "g1", "resume").await, BTreeMap::from([(0, "g1_a-0".into()), (1, "g1_a-0".into())]));

        let first = take(&mut s, 6, Duration::from_secs(30)).await;
        a.commit_offsets().await.unwrap();
        for p in 0..2 {
            let next = first.iter().filter(|m| m.partition == p).map(|m| m.offset + 1).max();
            assert_eq!(committed(&zk, "g1", "resume", p).await, next, "partition {}", p);
        }
        a.shutdown().await;
        assert!(s.next().await.is_none(), "streams end at shutdown");
        assert!(owners(&zk, "g1", "resume").await.is_empty(), "shutdown released the owner znodes");
        assert!(members(&zk, "g1").await.is_empty(), "shutdown deleted the member znode");

        let b = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "g1",
            &[("consumer.id", "b"), ("consumer.timeout.ms", "1500")],
        ))
        .await
        .unwrap();
        let mut s =
            b.create_message_streams(&one_topic("resume", 1)).await.unwrap().remove("resume").unwrap().remove(0);
        let rest = drain(&mut s).await;
        let seen: BTreeSet<String> = first.iter().chain(rest.iter()).map(value).collect();
        assert_eq!(first.len() + rest.len(), 10, "no message twice: {:?} then {:?}", first, rest);
        assert_eq!(seen, all.iter().cloned().collect::<BTreeSet<_>>());
        for m in &rest {
            let committed_before =
                first.iter().filter(|f| f.partition == m.partition).map(|f| f.offset + 1).max().unwrap_or(0);
            assert!(m.offset >= committed_before, "{:?} resumed before the committed offset {}", m, committed_before);
        }
        b.shutdown().await;
    });
}

#[test]
fn auto_offset_reset_smallest_and_largest() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("reset", 1, 1);
    produce(&cluster.bootstrap(), "reset", &[0], &values("old", 0..3));
    let zk_connect = cluster.zk.connect_string();
    let bootstrap = cluster.bootstrap();
    let rt = runtime();
    rt.block_on(async {
        let small =
            ZookeeperConsumerConnector::create(config(&zk_connect, "small", &[("consumer.timeout.ms", "1500")]))
                .await
                .unwrap();
        let mut s =
            small.create_message_streams(&one_topic("reset", 1)).await.unwrap().remove("reset").unwrap().remove(0);
        let got: Vec<i64> = drain(&mut s).await.iter().map(|m| m.offset).collect();
        assert_eq!(got, vec![0, 1, 2]);
        small.shutdown().await;

        let large = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "large",
            &[("auto.offset.reset", "largest"), ("consumer.timeout.ms", "1500")],
        ))
        .await
        .unwrap();
        let mut s =
            large.create_message_streams(&one_topic("reset", 1)).await.unwrap().remove("reset").unwrap().remove(0);
        // Nothing old arrives; by the time the timeout passes the fetcher has its start offset.
        assert_eq!(s.next().await, Some(Err(ConsumerError::Timeout)));
        tokio::task::spawn_blocking(move || produce(&bootstrap, "reset", &[0], &values("new", 0..2))).await.unwrap();
        let got: Vec<(i64, String)> = drain(&mut s).await.iter().map(|m| (m.offset, value(m))).collect();
        assert_eq!(got, vec![(3, "new-0".to_string()), (4, "new-1".to_string())]);
        large.shutdown().await;
    });
}

#[test]
fn consumer_timeout_ends_iteration_and_the_stream_stays_usable() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("quiet", 1, 1);
    let zk_connect = cluster.zk.connect_string();
    let rt = runtime();
    let (c, stream) = rt.block_on(async {
        let c = ZookeeperConsumerConnector::create(config(&zk_connect, "quiet", &[("consumer.timeout.ms", "300")]))
            .await
            .unwrap();
        let s = c.create_message_streams(&one_topic("quiet", 1)).await.unwrap().remove("quiet").unwrap().remove(0);
        (c, s)
    });
    // 0.8's model: a consumer thread iterating (blocking) outside the runtime.
    let mut stream = stream;
    let t = Instant::now();
    assert_eq!(stream.next_blocking(), Some(Err(ConsumerError::Timeout)));
    let waited = t.elapsed();
    // At least consumer.timeout.ms; the upper bound only says it did not hang (two busy
    // cores can stretch the wait, so it is no measure of speed).
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(30), "waited {:?}", waited);
    produce(&cluster.bootstrap(), "quiet", &[0], &values("late", 0..1));
    let deadline = Instant::now() + Duration::from_secs(30);
    let got = loop {
        match stream.next_blocking() {
            Some(Ok(m)) => break m,
            Some(Err(ConsumerError::Timeout)) if Instant::now() < deadline => continue,
            other => panic!("no message within 30 s of producing it: {:?}", other),
        }
    };
    assert_eq!(value(&got), "late-0");
    let consumed: Vec<String> = (&mut stream).take_while(|m| m.is_ok()).map(|m| value(&m.unwrap())).collect();
    assert!(consumed.is_empty(), "iteration ends at the timeout: {:?}", consumed);
    rt.block_on(c.shutdown());
    assert_eq!(stream.next_blocking(), None);
}

trait NextBlocking {
    fn next_blocking(&mut self) -> Option<Result<MessageAndMetadata, ConsumerError>>;
}

impl NextBlocking for KafkaStream {
    fn next_blocking(&mut self) -> Option<Result<MessageAndMetadata, ConsumerError>> {
        Iterator::next(self)
    }
}

#[test]
fn auto_commit_writes_offsets_on_its_interval_and_at_shutdown() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("auto", 1, 1);
    produce(&cluster.bootstrap(), "auto", &[0], &values("a", 0..5));
    let zk_connect = cluster.zk.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        let c = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "auto",
            &[("auto.commit.enable", "true"), ("auto.commit.interval.ms", "300")],
        ))
        .await
        .unwrap();
        let mut s = c.create_message_streams(&one_topic("auto", 1)).await.unwrap().remove("auto").unwrap().remove(0);
        take(&mut s, 3, Duration::from_secs(30)).await;
        let end = Instant::now() + Duration::from_secs(10);
        while committed(&zk, "auto", "auto", 0).await != Some(3) {
            assert!(Instant::now() < end, "auto-commit did not store offset 3");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        take(&mut s, 1, Duration::from_secs(30)).await;
        c.shutdown().await;
        assert_eq!(committed(&zk, "auto", "auto", 0).await, Some(4), "shutdown commits with auto-commit on");
    });
}

#[test]
fn foreign_member_znodes_are_skipped_without_a_crash() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("shared", 2, 1);
    produce(&cluster.bootstrap(), "shared", &[0, 1], &values("s", 0..4));
    let zk_connect = cluster.zk.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        // pykafka's balanced consumer: id `<host>:<uuid>`, data the bare topic name; plus an
        // empty node, a truncated JSON, and JSON from some other version.
        for (id, data) in [
            ("web01:4f1e6c3a-1b2c-4d5e-8f90-123456789abc", &b"shared"[..]),
            ("empty", b""),
            ("truncated", br#"{"version":1,"subscr"#),
            ("numbers", br#"{"version":1,"subscription":{"shared":"two"},"pattern":"static"}"#),
        ] {
            zk.ensure_path(&paths::consumer_ids("mixed")).await.unwrap();
            zk.create_ephemeral_expect_conflict(&paths::consumer_id("mixed", id), data).await.unwrap();
        }
        let c = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "mixed",
            &[("consumer.timeout.ms", "1500"), ("consumer.id", "java")],
        ))
        .await
        .unwrap();
        let mut s =
            c.create_message_streams(&one_topic("shared", 1)).await.unwrap().remove("shared").unwrap().remove(0);
        assert_eq!(
            owners(&zk, "mixed", "shared").await,
            BTreeMap::from([(0, "mixed_java-0".into()), (1, "mixed_java-0".into())])
        );
        assert_eq!(drain(&mut s).await.len(), 4);
        // A foreign member leaving or joining triggers a rebalance that must not crash either.
        let before = c.rebalance_count();
        zk.delete(&paths::consumer_id("mixed", "empty")).await.unwrap();
        zk.create_ephemeral_expect_conflict(&paths::consumer_id("mixed", "web02:other"), b"shared").await.unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while c.rebalance_count() < before + 1 || c.owned_partitions().len() != 2 {
            assert!(Instant::now() < end, "no rebalance after the membership change, or partitions not owned again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(owners(&zk, "mixed", "shared").await.len(), 2);
        c.shutdown().await;
    });
}

#[test]
fn wildcard_streams_pick_up_new_matching_topics() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("wild-a", 1, 1);
    cluster.create_topic("tame", 1, 1);
    let zk_connect = cluster.zk.connect_string();
    let bootstrap = cluster.bootstrap();
    produce(&bootstrap, "wild-a", &[0], &values("a", 0..2));
    produce(&bootstrap, "tame", &[0], &values("t", 0..2));
    let rt = runtime();
    let (c, mut s, zk) = rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        let c = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "wild",
            &[("consumer.timeout.ms", "1000"), ("consumer.id", "w")],
        ))
        .await
        .unwrap();
        let mut streams =
            c.create_message_streams_by_filter(TopicFilter::whitelist("wild-.*").unwrap(), 1).await.unwrap();
        let s = streams.remove(0);
        let (data, _) = zk.get_data(&paths::consumer_id("wild", "wild_w")).await.unwrap().unwrap();
        let reg = ConsumerRegistration::parse(&data).unwrap();
        assert_eq!(reg.pattern, "white_list");
        assert_eq!(reg.subscription, BTreeMap::from([("wild-.*".to_string(), 1)]));
        (c, s, zk)
    });
    let got: BTreeSet<String> =
        rt.block_on(async { take(&mut s, 2, Duration::from_secs(30)).await }).iter().map(value).collect();
    assert_eq!(got, BTreeSet::from(["a-0".to_string(), "a-1".to_string()]));
    // Without auto-commit the application commits; uncommitted messages would be
    // delivered again after the rebalance the new topic causes.
    rt.block_on(c.commit_offsets()).unwrap();

    // A matching topic created later is consumed; the non-matching one never is.
    cluster.create_topic("wild-b", 2, 1);
    produce(&bootstrap, "wild-b", &[0, 1], &values("b", 0..4));
    rt.block_on(async {
        let end = Instant::now() + Duration::from_secs(30);
        while owners(&zk, "wild", "wild-b").await.len() < 2 {
            assert!(Instant::now() < end, "wild-b was not picked up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let got: BTreeSet<(String, String)> =
            take(&mut s, 4, Duration::from_secs(30)).await.iter().map(|m| (m.topic.clone(), value(m))).collect();
        assert_eq!(got, values("b", 0..4).into_iter().map(|v| ("wild-b".to_string(), v)).collect());
        assert_eq!(drain(&mut s).await, vec![]);
        assert!(owners(&zk, "wild", "tame").await.is_empty());
        c.shutdown().await;
    });
}

#[test]
fn dropping_one_stream_does_not_stop_the_others() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("two", 2, 1);
    let zk_connect = cluster.zk.connect_string();
    let bootstrap = cluster.bootstrap();
    let rt = runtime();
    rt.block_on(async {
        let c = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "two",
            &[("consumer.id", "x"), ("consumer.timeout.ms", "500")],
        ))
        .await
        .unwrap();
        let mut streams = c.create_message_streams(&one_topic("two", 2)).await.unwrap().remove("two").unwrap();
        assert_eq!(
            c.owned_partitions(),
            BTreeMap::from([
                (kafka08::common::TopicPartition::new("two", 0), "two_x-0".to_string()),
                (kafka08::common::TopicPartition::new("two", 1), "two_x-1".to_string())
            ])
        );
        let mut second = streams.pop().unwrap();
        drop(streams); // stream 0 (partition 0) is gone; both partitions live on one broker
        tokio::task::spawn_blocking(move || produce(&bootstrap, "two", &[0, 1], &values("d", 0..20))).await.unwrap();
        let got = take(&mut second, 10, Duration::from_secs(30)).await;
        assert!(got.iter().all(|m| m.partition == 1), "{:?}", got);

        // Dropping the last connector handle without shutdown() shuts it down anyway.
        drop(c);
        let zk = zk_client(&zk_connect).await;
        let end = Instant::now() + Duration::from_secs(10);
        while !members(&zk, "two").await.is_empty() || !owners(&zk, "two", "two").await.is_empty() {
            assert!(Instant::now() < end, "a dropped connector left its znodes");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(drain_until_end(&mut second).await, None);
    });
}

/// Skip what is left; `None` once the stream has ended. Fails the test if the stream has
/// not ended within a minute.
async fn drain_until_end(stream: &mut KafkaStream) -> Option<ConsumerError> {
    let drain = async {
        loop {
            match stream.next().await {
                Some(Ok(_)) | Some(Err(ConsumerError::Timeout)) => {}
                Some(Err(e)) => return Some(e),
                None => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drain).await.expect("the stream ended within 60 s")
}

/// A consumer that stops as soon as it has what it wanted (the console consumer's
/// `--max-messages`) still commits a start position for a partition that had nothing to
/// read, even while that partition's leader is slow to say where it starts. Before, the
/// commit skipped it and the group's lag for it read "unknown" (an operations runbook step
/// failed on this now and then).
#[test]
fn shutdown_commits_a_start_offset_for_a_partition_still_looking_it_up() {
    use kafka08::common::failpoint::OFFSETS_DELAY_ENV;
    use support::kafka::KafkaBroker;
    let _serial = serial();
    let zk = support::ZkServer::start();
    let brokers = vec![
        KafkaBroker::start(1, &zk.connect_string(), &[]),
        // Broker 2 answers consumers' Offsets requests 1.5 s late.
        KafkaBroker::start_with_env(2, &zk.connect_string(), &[], &[(OFFSETS_DELAY_ENV, "1500")]),
    ];
    let cluster = Cluster { brokers, zk };
    let zk_connect = cluster.zk.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        // Partition 0 led by broker 1, partition 1 by the slow broker 2.
        let assignment = BTreeMap::from([(0, vec![1]), (1, vec![2])]);
        kafka08::admin::create_topic_with_assignment(&zk, "quiet", &assignment, &kafka08::common::Properties::new())
            .await
            .unwrap();
    });
    cluster.wait_for_leaders("quiet", 2);
    produce(&cluster.bootstrap(), "quiet", &[0], &values("q", 0..3));
    rt.block_on(async {
        let zk = zk_client(&zk_connect).await;
        let c = ZookeeperConsumerConnector::create(config(&zk_connect, "stopper", &[("auto.commit.enable", "true")]))
            .await
            .unwrap();
        let mut s = c.create_message_streams(&one_topic("quiet", 1)).await.unwrap().remove("quiet").unwrap().remove(0);
        // Partition 0's messages arrive while partition 1 still waits for its start offset.
        let got = take(&mut s, 3, Duration::from_secs(30)).await;
        assert!(got.iter().all(|m| m.partition == 0), "{got:?}");
        c.shutdown().await;
        assert_eq!(committed(&zk, "stopper", "quiet", 0).await, Some(3), "what was read");
        assert_eq!(committed(&zk, "stopper", "quiet", 1).await, Some(0), "the empty partition's start");
    });
}
