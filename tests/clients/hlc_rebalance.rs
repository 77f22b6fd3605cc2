//! Rebalance edge cases of the high-level consumer against a real ZooKeeper and real
//! brokers: retries exhausted (KAFKA-4228) and partition leaders moving under a consumer.

use crate::support;

use crate::support::hlc::*;
use kafka08::consumer::zk::{ConsumerError, KafkaStream, ZookeeperConsumerConnector};
use kafka08::zk::paths;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::cluster::Cluster;

async fn take_values(stream: &mut KafkaStream, n: usize, deadline: Duration) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let end = Instant::now() + deadline;
    while out.len() < n {
        assert!(Instant::now() < end, "only {} of {} distinct messages within {:?}", out.len(), n, deadline);
        match stream.next().await {
            Some(Ok(m)) => {
                out.insert(String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned());
            }
            Some(Err(ConsumerError::Timeout)) => {}
            other => panic!("stream ended: {:?}", other),
        }
    }
    out
}

/// 0.8.2 gave up after `rebalance.max.retries` and stayed registered owning nothing until
/// the next ZooKeeper event (KAFKA-4228). Here the streams are returned, and the consumer
/// keeps retrying in the background until the blocking owner goes — with no other event.
#[test]
fn a_consumer_that_exhausts_its_retries_keeps_trying_until_it_owns_its_partitions() {
    let _serial = serial();
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("stuck", 2, 1);
    produce(&cluster.bootstrap(), "stuck", &[0, 1], &values("s", 0..4));
    let zk_connect = cluster.zk.connect_string();
    let rt = runtime();
    rt.block_on(async {
        let ghost = zk_client(&zk_connect).await;
        let owner = paths::consumer_owner("stuck", "stuck", 1);
        ghost.create_ephemeral_expect_conflict(&owner, b"stuck_ghost-0").await.unwrap();

        let c = ZookeeperConsumerConnector::create(config(
            &zk_connect,
            "stuck",
            &[
                ("consumer.id", "live"),
                ("rebalance.max.retries", "2"),
                ("rebalance.backoff.ms", "200"),
                ("consumer.timeout.ms", "200"),
            ],
        ))
        .await
        .unwrap();
        // The failed rebalance attempts end: the streams come back (empty) instead of the
        // call hanging.
        let mut s = tokio::time::timeout(
            Duration::from_secs(60),
            c.create_message_streams(&BTreeMap::from([("stuck".to_string(), 1)])),
        )
        .await
        .expect("create_message_streams returned after its failed rebalance attempts")
        .unwrap()
        .remove("stuck")
        .unwrap()
        .remove(0);
        assert!(
            c.owned_partitions().is_empty(),
            "no partial ownership after failed attempts: {:?}",
            c.owned_partitions()
        );
        assert_eq!(owners(&ghost, "stuck", "stuck").await, BTreeMap::from([(1, "stuck_ghost-0".to_string())]));

        // Still retrying well past the retry budget.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(c.owned_partitions().is_empty());
        ghost.delete(&owner).await.unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while owners(&ghost, "stuck", "stuck").await
            != BTreeMap::from([(0, "stuck_live-0".into()), (1, "stuck_live-0".into())])
        {
            assert!(Instant::now() < end, "the consumer never claimed its partitions after the owner went away");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(take_values(&mut s, 4, Duration::from_secs(30)).await, values("s", 0..4).into_iter().collect());
        c.shutdown().await;
    });
}

/// Leaders move (a broker dies): the fetchers find the new leaders and nothing
/// acknowledged is missed.
#[test]
fn partitions_follow_their_leader_to_another_broker_without_loss() {
    let _serial = serial();
    let mut cluster = Cluster::start(2, &[]);
    cluster.create_topic("moving", 4, 2);
    let zk_connect = cluster.zk.connect_string();
    let bootstrap = cluster.bootstrap();
    produce(&bootstrap, "moving", &[0, 1, 2, 3], &values("before", 0..40));
    let rt = runtime();
    let (c, mut s) = rt.block_on(async {
        let c = ZookeeperConsumerConnector::create(config(&zk_connect, "movers", &[("consumer.timeout.ms", "200")]))
            .await
            .unwrap();
        let mut s = c
            .create_message_streams(&BTreeMap::from([("moving".to_string(), 1)]))
            .await
            .unwrap()
            .remove("moving")
            .unwrap()
            .remove(0);
        assert_eq!(
            take_values(&mut s, 40, Duration::from_secs(30)).await,
            values("before", 0..40).into_iter().collect()
        );
        (c, s)
    });
    cluster.brokers[0].kill();
    cluster.wait_for_leaders("moving", 4);
    let survivor = cluster.brokers[1].addr();
    produce(&survivor, "moving", &[0, 1, 2, 3], &values("after", 0..40));
    rt.block_on(async {
        let got = take_values(&mut s, 40, Duration::from_secs(60)).await;
        let want: BTreeSet<String> = values("after", 0..40).into_iter().collect();
        assert!(
            want.is_subset(&got),
            "missing after the leader moved: {:?}",
            want.difference(&got).collect::<Vec<_>>()
        );
        assert_eq!(c.owned_partitions().len(), 4);
        c.shutdown().await;
    });
}
