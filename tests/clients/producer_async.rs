//! The producer in async mode (through `BlockingProducer`): batches of
//! `batch.num.messages`, a send after `queue.buffering.max.ms` without waiting for a full
//! batch, `close()` flushing everything queued, and a full queue with
//! `queue.enqueue.timeout.ms` 0 (at once) or > 0 (after waiting) reported to the caller.

use crate::support;

use bytes::Bytes;
use kafka08::api::{FetchPartition, FetchRequest, FetchTopic};
use kafka08::common::{ErrorCode, Properties};
use kafka08::consumer::{PartitionReader, ReaderConfig, SimpleConsumer};
use kafka08::message::{deep_iter, shallow_iter};
use kafka08::producer::{parse_broker_list, BlockingProducer, KeyedMessage, ProducerError};
use std::time::{Duration, Instant};
use support::cluster::Cluster;
use support::{free_port, wait_until};

fn props(bootstrap: &str, pairs: &[(&str, &str)]) -> Properties {
    let mut p = Properties::new();
    p.set("metadata.broker.list", bootstrap);
    p.set("producer.type", "async");
    for (k, v) in pairs {
        p.set(*k, *v);
    }
    p
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Values of a partition up to its high watermark.
fn read_values(bootstrap: &str, topic: &str, partition: i32) -> Vec<Bytes> {
    runtime().block_on(async {
        let config = ReaderConfig { max_wait_ms: 0, ..ReaderConfig::default() };
        let mut reader = PartitionReader::new(parse_broker_list(bootstrap).unwrap(), topic, partition, config);
        let end = reader.latest_offset().await.unwrap();
        let mut out = Vec::new();
        while reader.offset() < end {
            out.extend(reader.fetch().await.unwrap().messages.into_iter().map(|m| m.value().unwrap()));
        }
        out
    })
}

/// The number of messages inside each stored (shallow) entry of partition 0 on `broker`.
fn stored_batches(broker: &str, topic: &str) -> Vec<usize> {
    let (host, port) = parse_broker_list(broker).unwrap().remove(0);
    runtime().block_on(async {
        let mut c = SimpleConsumer::new(host, port, Duration::from_secs(10), 65536, "batches");
        let r = c
            .fetch_request(&FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 0,
                topics: vec![FetchTopic {
                    topic: topic.into(),
                    partitions: vec![FetchPartition { partition: 0, fetch_offset: 0, max_bytes: 8 << 20 }],
                }],
            })
            .await
            .unwrap();
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, ErrorCode::NoError);
        shallow_iter(p.message_set.clone())
            .map(|e| {
                let e = e.unwrap();
                let start = e.position;
                deep_iter(p.message_set.slice(start..start + e.size())).count()
            })
            .collect()
    })
}

#[test]
fn async_producer_sends_full_batches_and_close_flushes_the_rest() {
    let cluster = Cluster::start(1, &[]);
    let bootstrap = cluster.bootstrap();
    cluster.create_topic("batched", 1, 1);
    cluster.create_topic("timed", 1, 1);

    // Gzip makes each produce request one stored wrapper, so the stored entries show the
    // batches. A queue time of a minute: only full batches and close() send.
    let producer = BlockingProducer::from_properties(&props(
        &bootstrap,
        &[
            ("request.required.acks", "1"),
            ("compression.codec", "gzip"),
            ("batch.num.messages", "200"),
            ("queue.buffering.max.ms", "60000"),
        ],
    ))
    .unwrap();
    for i in 0..1050 {
        producer.send_one(KeyedMessage::new("batched", format!("b{i}"))).unwrap();
    }
    wait_until("five full batches are sent", Duration::from_secs(30), || {
        read_values(&bootstrap, "batched", 0).len() == 1000
    });
    let started = Instant::now();
    producer.close().unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "close flushes at once, not after the queue time");
    let values = read_values(&bootstrap, "batched", 0);
    assert_eq!(values, (0..1050).map(|i| Bytes::from(format!("b{i}"))).collect::<Vec<_>>());
    assert_eq!(stored_batches(&bootstrap, "batched"), vec![200, 200, 200, 200, 200, 50]);
    assert_eq!(producer.send_one(KeyedMessage::new("batched", "late")), Err(ProducerError::Closed));

    // A batch that never fills is sent after queue.buffering.max.ms, before close.
    let producer = BlockingProducer::from_properties(&props(
        &bootstrap,
        &[("request.required.acks", "1"), ("batch.num.messages", "200"), ("queue.buffering.max.ms", "300")],
    ))
    .unwrap();
    producer.send((0..5).map(|i| KeyedMessage::new("timed", format!("t{i}"))).collect()).unwrap();
    wait_until("the partial batch is sent after the queue time", Duration::from_secs(10), || {
        read_values(&bootstrap, "timed", 0).len() == 5
    });
    producer.close().unwrap();
}

#[test]
fn a_full_queue_is_an_error_with_enqueue_timeout_0_and_after_waiting_with_a_positive_one() {
    // Nothing listens at the bootstrap address, so the send task is stuck in retries with
    // its batch while the queue fills up: at most batch (10) + queue (10) messages fit.
    let dead = format!("127.0.0.1:{}", free_port());
    for (timeout, min_wait) in [("0", Duration::ZERO), ("300", Duration::from_millis(300))] {
        let producer = BlockingProducer::from_properties(&props(
            &dead,
            &[
                ("queue.buffering.max.messages", "10"),
                ("batch.num.messages", "10"),
                ("queue.enqueue.timeout.ms", timeout),
                ("message.send.max.retries", "1"),
                ("retry.backoff.ms", "1000"),
            ],
        ))
        .unwrap();
        let mut accepted = 0;
        let mut error = None;
        let mut waited = Duration::ZERO;
        for i in 0..21 {
            let started = Instant::now();
            match producer.send_one(KeyedMessage::new("full", format!("f{i}"))) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    waited = started.elapsed();
                    error = Some(e);
                    break;
                }
            }
        }
        match error {
            Some(ProducerError::QueueFull { ref topic, enqueued: 0 }) => assert_eq!(topic, "full"),
            other => panic!(
                "queue.enqueue.timeout.ms={timeout}: expected QueueFull, got {other:?} after {accepted} accepted"
            ),
        }
        assert!((10..=20).contains(&accepted), "accepted {accepted}");
        assert!(waited >= min_wait, "waited {waited:?} for room with queue.enqueue.timeout.ms={timeout}");
        // Everything accepted is still attempted at close, and its failure reported.
        match producer.close() {
            Err(ProducerError::AsyncSendFailed { messages, .. }) => assert_eq!(messages, accepted as u64),
            other => panic!("expected the background failures to be reported, got {other:?}"),
        }
    }
}

/// One `send` call handing in more messages than the queue holds: the queue takes what
/// fits (whole chunks move at once, but never past `queue.buffering.max.messages`) and the
/// error says how many of this call's messages were queued; exactly those are attempted.
#[test]
fn one_send_larger_than_the_queue_queues_what_fits_and_says_how_many() {
    let dead = format!("127.0.0.1:{}", free_port());
    let producer = BlockingProducer::from_properties(&props(
        &dead,
        &[
            ("queue.buffering.max.messages", "10"),
            ("batch.num.messages", "10"),
            ("queue.enqueue.timeout.ms", "0"),
            ("message.send.max.retries", "1"),
            ("retry.backoff.ms", "1000"),
        ],
    ))
    .unwrap();
    let messages: Vec<KeyedMessage> = (0..50).map(|i| KeyedMessage::new("big", format!("m{i}"))).collect();
    let enqueued = match producer.send(messages) {
        Err(ProducerError::QueueFull { topic, enqueued }) => {
            assert_eq!(topic, "big");
            enqueued
        }
        other => panic!("expected QueueFull, got {other:?}"),
    };
    // The queue (10) and at most one batch the send task took out of it (10).
    assert!((10..=20).contains(&enqueued), "enqueued {enqueued}");
    match producer.close() {
        Err(ProducerError::AsyncSendFailed { messages, .. }) => assert_eq!(messages, enqueued as u64),
        other => panic!("expected the background failures to be reported, got {other:?}"),
    }
}

/// The async queue moves a `send` call's messages at once, but batches still hold
/// `batch.num.messages`: one call of 1,050 messages is sent as five batches of 200 and,
/// at close, one of 50, in order.
#[test]
fn one_large_send_is_still_sent_in_batches_of_batch_num_messages() {
    let cluster = Cluster::start(1, &[]);
    let bootstrap = cluster.bootstrap();
    cluster.create_topic("chunked", 1, 1);
    let producer = BlockingProducer::from_properties(&props(
        &bootstrap,
        &[
            ("request.required.acks", "1"),
            ("compression.codec", "gzip"),
            ("batch.num.messages", "200"),
            ("queue.buffering.max.messages", "2000"),
            ("queue.buffering.max.ms", "60000"),
        ],
    ))
    .unwrap();
    producer.send((0..1050).map(|i| KeyedMessage::new("chunked", format!("c{i}"))).collect()).unwrap();
    wait_until("five full batches are sent", Duration::from_secs(30), || {
        read_values(&bootstrap, "chunked", 0).len() == 1000
    });
    producer.close().unwrap();
    let values = read_values(&bootstrap, "chunked", 0);
    assert_eq!(values, (0..1050).map(|i| Bytes::from(format!("c{i}"))).collect::<Vec<_>>());
    assert_eq!(stored_batches(&bootstrap, "chunked"), vec![200, 200, 200, 200, 200, 50]);
}
