//! A `server.properties` that Kafka 0.8.2 started with starts a kafka08 broker:
//! `log.cleanup.policy=dedupe` (the value 0.8.1's docs gave; 0.8.2 read every value but
//! `compact` as delete) used to be accepted by the broker's config and then refused by a
//! second parse of the log keys, so the broker exited during start-up.

use crate::support;

use std::time::Duration;
use support::cluster::Cluster;
use support::producer::{read_partition, TestProducer};

#[test]
fn a_broker_with_log_cleanup_policy_dedupe_starts_and_serves() {
    // `Cluster::start` panics (with the broker's log) if the broker exits during start-up.
    let c = Cluster::start(1, &[("log.cleanup.policy", "dedupe"), ("log.cleaner.enable", "false")]);
    assert!(c.brokers[0].log().contains("started ("), "{}", c.brokers[0].log());
    c.create_topic("dedupe", 1, 1);
    let bootstrap = vec![c.bootstrap()];
    let mut p = TestProducer::new(bootstrap.clone(), "dedupe");
    for v in ["k1", "k1", "k2"] {
        p.send(0, v, Duration::from_secs(30)).expect("acknowledged");
    }
    let stored: Vec<String> = read_partition(&bootstrap, "dedupe", 0, Duration::from_secs(30)).into_iter().map(|(_, v)| v).collect();
    assert_eq!(stored, ["k1", "k1", "k2"]);
}
