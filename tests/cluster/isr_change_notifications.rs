//! A leader announces the ISR changes of one shrink or expand pass to the controller in a
//! few `/isr_change_notification` znodes, not one per partition (0.9.0's flood of the
//! controller, KAFKA-2406), and every broker's TopicMetadata still learns them.

use crate::support;

use kafka08::api;
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::wait_until;

const TOPIC: &str = "many-isrs";
const PARTITIONS: i32 = 200;

/// Partition → (leader, isr) as the broker at `addr` answers TopicMetadata.
fn metadata(addr: &str) -> Option<BTreeMap<i32, (i32, Vec<i32>)>> {
    let md = try_call(addr, &api::MetadataRequest { topics: vec![TOPIC.to_string()] })?;
    let t = md.topics.into_iter().find(|t| t.topic == TOPIC)?;
    Some(t.partitions.into_iter().map(|p| (p.partition, (p.leader, p.isr))).collect())
}

/// How many children `/isr_change_notification` has had created and deleted so far.
fn notification_churn(zk: &ZkClient, rt: &tokio::runtime::Runtime) -> i32 {
    rt.block_on(zk.exists(paths::ISR_CHANGE_NOTIFICATION)).unwrap().map_or(0, |s| s.cversion)
}

#[test]
fn one_shrink_pass_over_many_partitions_is_announced_in_a_few_notifications() {
    // A long session: the paused follower stays registered, so its leaders shrink the
    // ISRs themselves (the controller would otherwise do it for a dead broker).
    let extra = [
        ("zookeeper.session.timeout.ms", "30000"),
        ("replica.lag.time.max.ms", "1500"),
        ("replica.fetch.wait.max.ms", "100"),
        ("auto.leader.rebalance.enable", "false"),
    ];
    let cluster = Cluster::start(2, &extra);
    cluster.create_topic(TOPIC, PARTITIONS, 2);
    let addrs: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    wait_until("every broker's metadata shows both replicas in every ISR", Duration::from_secs(120), || {
        addrs.iter().all(|a| metadata(a).is_some_and(|m| m.len() == PARTITIONS as usize && m.values().all(|(_, isr)| isr.len() == 2)))
    });
    let led_by_1: Vec<i32> = metadata(&addrs[0]).unwrap().into_iter().filter(|(_, (l, _))| *l == 1).map(|(p, _)| p).collect();
    assert!(led_by_1.len() >= 20, "broker 1 leads {} partitions", led_by_1.len());

    let rt = Cluster::runtime();
    let zk = rt.block_on(ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let before = notification_churn(&zk, &rt);
    cluster.brokers[1].pause();
    wait_until("broker 1's metadata shows it alone in the ISR of every partition it leads", Duration::from_secs(60), || {
        metadata(&addrs[0]).is_some_and(|m| led_by_1.iter().all(|p| m[p].1 == vec![1]))
    });
    // The controller deletes what it has read; each notification counts twice (create, delete).
    wait_until("the controller consumed the notifications", Duration::from_secs(30), || {
        rt.block_on(zk.get_children(paths::ISR_CHANGE_NOTIFICATION)).unwrap().unwrap_or_default().is_empty()
    });
    let notifications = (notification_churn(&zk, &rt) - before) / 2;
    assert!(
        notifications >= 1 && (notifications as usize) * 4 <= led_by_1.len(),
        "{} ISR shrinks were announced in {} notifications",
        led_by_1.len(),
        notifications
    );

    // The follower comes back: the expansions reach every broker's metadata too.
    cluster.brokers[1].resume();
    wait_until("every broker's metadata shows both replicas in every ISR again", Duration::from_secs(120), || {
        addrs.iter().all(|a| metadata(a).is_some_and(|m| m.values().all(|(_, isr)| isr.len() == 2)))
    });
}
