//! The async producer with `max.in.flight.requests.per.connection` = 5, through a proxy in
//! front of the broker (`support::kafka_proxy`) that counts produce requests awaiting their
//! answers: requests for other partitions go on the wire before earlier answers, while a
//! partition with a request in flight waits, so a retried batch keeps its partition's
//! order when the connection drops, a request is lost or the leader moves (controlled
//! shutdown of its broker). The default of 1 still sends one request at a time.

use crate::support;

use kafka08::common::Properties;
use kafka08::producer::partitioner::partition_for_key;
use kafka08::producer::{BlockingProducer, KeyedMessage, PartitionerClass, Serializer};
use std::time::Duration;
use support::cluster::Cluster;
use support::kafka_proxy::KafkaProxy;
use support::producer::{assert_no_loss, read_partition};
use support::kafka::KafkaBroker;
use support::{wait_until, ZkServer};

const PARTITIONS: i32 = 3;
const BATCH: usize = 100;
/// Batches per partition.
const ROUNDS: usize = 4;

/// One broker whose metadata sends clients through `proxy`, and `topic` on it.
fn broker_behind(proxy: &KafkaProxy, topic: &str) -> Cluster {
    let cluster = brokers_behind(&[proxy]);
    cluster.create_topic(topic, PARTITIONS, 1);
    cluster
}

/// Broker i + 1 behind `proxies[i]`.
fn brokers_behind(proxies: &[&KafkaProxy]) -> Cluster {
    // Not Cluster::start: its wait needs the controller's requests through the proxies,
    // which learn the brokers' addresses only once the brokers run.
    let zk = ZkServer::start();
    let brokers: Vec<KafkaBroker> = proxies
        .iter()
        .enumerate()
        .map(|(i, proxy)| {
            let broker = KafkaBroker::start(i as i32 + 1, &zk.connect_string(), &[("advertised.port", &proxy.port.to_string())]);
            proxy.set_target(&broker.addr());
            broker
        })
        .collect();
    Cluster { brokers, zk }
}

fn producer(cluster: &Cluster, in_flight: Option<&str>) -> BlockingProducer {
    producer_with_acks(cluster, in_flight, "1")
}

fn producer_with_acks(cluster: &Cluster, in_flight: Option<&str>, acks: &str) -> BlockingProducer {
    let mut p = Properties::new();
    p.set("metadata.broker.list", cluster.bootstrap());
    p.set("producer.type", "async");
    p.set("request.required.acks", acks);
    p.set("batch.num.messages", BATCH.to_string());
    // Batches are cut by size only (close sends the rest).
    p.set("queue.buffering.max.ms", "600000");
    p.set("message.send.max.retries", "5");
    p.set("retry.backoff.ms", "100");
    if let Some(n) = in_flight {
        p.set("max.in.flight.requests.per.connection", n);
    }
    BlockingProducer::from_properties(&p).expect("producer")
}

/// Messages in batches of one partition each, round robin (batch j to partition j % 3),
/// and the values sent to each partition in order.
fn workload(topic: &str) -> (Vec<KeyedMessage>, Vec<Vec<String>>) {
    workload_over(topic, PARTITIONS)
}

fn workload_over(topic: &str, partitions: i32) -> (Vec<KeyedMessage>, Vec<Vec<String>>) {
    let keys: Vec<String> = (0..partitions)
        .map(|p| {
            (0..)
                .map(|i| format!("key-{i}"))
                .find(|k| partition_for_key(PartitionerClass::Default, Serializer::Bytes, k.as_bytes(), partitions) == p)
                .unwrap()
        })
        .collect();
    let mut messages = Vec::new();
    let mut sent = vec![Vec::new(); partitions as usize];
    for batch in 0..ROUNDS * partitions as usize {
        let p = batch % partitions as usize;
        for i in 0..BATCH {
            let value = format!("p{p}-{:05}", batch * BATCH + i);
            messages.push(KeyedMessage::new(topic, value.clone()).partition_key(keys[p].clone()));
            sent[p].push(value);
        }
    }
    (messages, sent)
}

fn assert_every_partition_in_order(cluster: &Cluster, topic: &str, sent: &[Vec<String>]) {
    let bootstrap: Vec<String> = cluster.brokers.iter().filter(|b| b.pid().is_some()).map(|b| b.addr()).collect();
    for (p, values) in sent.iter().enumerate() {
        let stored = read_partition(&bootstrap, topic, p as i32, Duration::from_secs(60));
        let stored: Vec<(i64, String)> = stored.into_iter().collect();
        assert_no_loss(values, &stored);
        assert!(stored.iter().all(|(_, v)| v.starts_with(&format!("p{p}-"))), "partition {p} holds only its messages");
    }
}

#[test]
fn other_partitions_pipeline_and_order_survives_a_dropped_connection() {
    let proxy = KafkaProxy::start();
    let cluster = broker_behind(&proxy, "pipelined");
    let (messages, sent) = workload("pipelined");
    let producer = producer(&cluster, Some("5"));
    let held = proxy.hold_answers();
    producer.send(messages).expect("queued");
    // One request per partition on the wire, none answered: only a pipelining producer
    // gets here (one request at a time would wait for the held answer forever).
    wait_until("3 produce requests in flight on one connection", Duration::from_secs(60), || {
        proxy.max_produce_in_flight() >= PARTITIONS as usize
    });
    assert_eq!(
        proxy.max_produce_in_flight(),
        PARTITIONS as usize,
        "a partition with a request in flight is not in the next one"
    );
    // The broker goes away with three requests in flight: each is retried, in order.
    proxy.cut();
    drop(held);
    producer.close().expect("every message acknowledged after the retries");
    assert_eq!(producer.failed_message_count(), 0);
    assert_every_partition_in_order(&cluster, "pipelined", &sent);
}

#[test]
fn a_lost_request_is_resent_before_its_partitions_next_batch() {
    let proxy = KafkaProxy::start();
    let cluster = broker_behind(&proxy, "lost");
    let (messages, sent) = workload("lost");
    let producer = producer(&cluster, Some("5"));
    let held = proxy.hold_answers();
    // The first batch (partition 0) never reaches the broker; the next ones do, and the
    // producer meets their answers where it waits for the first one's.
    proxy.drop_next_produce();
    producer.send(messages).expect("queued");
    wait_until("the lost request and two more sent", Duration::from_secs(60), || {
        proxy.dropped() == 1 && proxy.max_produce_in_flight() >= 2
    });
    drop(held);
    producer.close().expect("every message acknowledged after the retries");
    assert_eq!(producer.failed_message_count(), 0);
    // Partition 0's second batch went out only after its first one was resent and
    // acknowledged: a later batch of partition 0 is never stored before the first.
    assert_every_partition_in_order(&cluster, "lost", &sent);
}

#[test]
fn by_default_one_request_is_in_flight_at_a_time() {
    let proxy = KafkaProxy::start();
    let cluster = broker_behind(&proxy, "one-at-a-time");
    let (messages, sent) = workload("one-at-a-time");
    let producer = producer(&cluster, None);
    producer.send(messages).expect("queued");
    producer.close().expect("every message acknowledged");
    assert!(proxy.produce_requests() >= ROUNDS * PARTITIONS as usize, "{} requests", proxy.produce_requests());
    assert_eq!(proxy.max_produce_in_flight(), 1);
    assert_every_partition_in_order(&cluster, "one-at-a-time", &sent);
}

#[test]
fn with_acks_0_requests_are_written_and_forgotten() {
    let proxy = KafkaProxy::start();
    let cluster = broker_behind(&proxy, "no-acks");
    let (messages, sent) = workload("no-acks");
    let producer = producer_with_acks(&cluster, Some("5"), "0");
    producer.send(messages).expect("queued");
    producer.close().expect("every request written");
    for (p, values) in sent.iter().enumerate() {
        let mut stored = Vec::new();
        wait_until(&format!("partition {p} holds its {} messages", values.len()), Duration::from_secs(60), || {
            stored = read_partition(&[cluster.bootstrap()], "no-acks", p as i32, Duration::from_secs(60));
            stored.len() >= values.len()
        });
        assert_no_loss(values, &stored);
    }
    // Everything went through the proxy, and no produce answer was awaited.
    assert!(proxy.produce_requests() >= ROUNDS * PARTITIONS as usize, "{} requests", proxy.produce_requests());
    assert_eq!(proxy.max_produce_in_flight(), 0, "acks=0 requests await no answer");
}

/// The leader of `topic`-`partition` as broker `addr` knows it.
fn leader_of(addr: &str, topic: &str, partition: i32) -> Option<i32> {
    let md = support::wire::try_call(addr, &kafka08::api::MetadataRequest { topics: vec![topic.to_string()] })?;
    let p = md.topics.first()?.partitions.iter().find(|p| p.partition == partition)?;
    (p.leader >= 0).then_some(p.leader)
}

#[test]
fn a_partition_whose_leader_moves_keeps_its_order_while_the_other_pipelines() {
    let proxies = [KafkaProxy::start(), KafkaProxy::start()];
    let mut cluster = brokers_behind(&[&proxies[0], &proxies[1]]);
    cluster.create_topic("moving", 2, 2);
    cluster.wait_for_full_isr("moving", 2, 2);
    let first = cluster.brokers[0].addr();
    let moving = leader_of(&first, "moving", 0).expect("a leader");
    let (mover, stayer) = if moving == 1 { (0, 1) } else { (1, 0) };
    let (messages, sent) = workload_over("moving", 2);
    let half = messages.len() / 2;
    let (first_half, second_half) = (messages[..half].to_vec(), messages[half..].to_vec());
    let mut p = Properties::new();
    p.set("metadata.broker.list", cluster.bootstrap());
    p.set("producer.type", "async");
    p.set("request.required.acks", "-1");
    p.set("batch.num.messages", BATCH.to_string());
    p.set("queue.buffering.max.ms", "600000");
    p.set("message.send.max.retries", "10");
    p.set("retry.backoff.ms", "200");
    p.set("max.in.flight.requests.per.connection", "5");
    let producer = BlockingProducer::from_properties(&p).expect("producer");
    // Answers of the broker that keeps its partitions wait, so that the moved partition's
    // requests join them there.
    let held = proxies[stayer].hold_answers();
    producer.send(first_half).expect("queued");
    wait_until("partition 0 written to its first leader", Duration::from_secs(60), || proxies[mover].produce_requests() >= 1);
    // Controlled shutdown: partition 0's leadership moves to the other broker.
    cluster.brokers[mover].stop();
    producer.send(second_half).expect("queued");
    wait_until("partition 0's requests pipelined behind partition 1's on the new leader", Duration::from_secs(60), || {
        proxies[stayer].max_produce_in_flight() >= 2
    });
    drop(held);
    producer.close().expect("every message acknowledged after the retries");
    assert_eq!(producer.failed_message_count(), 0);
    assert_eq!(leader_of(&cluster.brokers[stayer].addr(), "moving", 0), Some(stayer as i32 + 1));
    assert_every_partition_in_order(&cluster, "moving", &sent);
}
