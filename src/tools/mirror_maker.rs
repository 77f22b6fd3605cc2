//! `kafka.tools.MirrorMaker` (`bin/kafka-mirror-maker.sh --consumer.config c.properties
//! --producer.config p.properties --whitelist 'a,b'`): copies the topics a filter selects
//! from a source cluster (read by a ZooKeeper high-level consumer) to the same topic names
//! on a target cluster (written by 0.8.2 producers), with 0.8.2's flags and shape:
//!
//! - one connector per `--consumer.config` (0.8.2 accepted several: one per source
//!   cluster), each with `--num.streams` wildcard streams, one consumer task per stream;
//! - a data channel of `--num.producers` bounded queues of `--queue.size` messages; a keyed
//!   message goes to queue `abs(Arrays.hashCode(key)) % num.producers` (so one key stays
//!   on one producer, in order), an unkeyed one round-robin, as 0.8.2's `DataChannel`;
//! - one producer per queue, `client.id` = `<client.id>-<i>`, with 0.8.2 `OldProducer`'s
//!   `partitioner.class` default `kafka.producer.ByteArrayPartitioner` (a key's target
//!   partition is `abs(Arrays.hashCode(key)) % partitions`; no key: the producer's sticky
//!   random partition). The source key and value are copied as they are.
//!
//! Where 0.8.2 lost data this does not: 0.8.2 committed the consumer's offsets for messages
//! still waiting in the data channel or the async producer's queue, so a stop or a crash
//! dropped them, and an async producer's failed batch was only logged. Here a commit (the
//! consumer's auto-commit, the commit before a rebalance releases partitions, the commit at
//! shutdown; all per `auto.commit.enable`) writes for each partition only the offset below
//! which every message was acknowledged by the target ([`AckTracker`]). Producers send
//! synchronously, in batches of what is queued (up to `batch.num.messages`), whatever
//! `producer.type` says, so the acknowledgement is known. SIGTERM or SIGINT: stop taking
//! messages, send everything in the channel, commit, exit 0. A send that fails after the
//! producer's retries, or a stream that fails, stops the mirror maker as 0.8.2 did (its
//! thread died and it exited), but only after committing what was acknowledged, exit 1.
//!
//! Duplicates remain possible, never loss: messages in flight when a rebalance moves
//! their partition, or when the process is killed, are copied again by the next owner.

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use crate::common::{Properties, TopicPartition};
use crate::consumer::zk::{ConsumerConfig, KafkaStream, TopicFilter, ZookeeperConsumerConnector};
use crate::common::abs;
use crate::producer::partitioner::{java_bytes_hash_code, Random};
use crate::producer::{KeyedMessage, Producer, ProducerConfig, BYTE_ARRAY_PARTITIONER};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// More producers than this is a typo, not a deployment (each is a task and connections).
pub const MAX_PRODUCERS: usize = 1024;
/// Upper bound of `--queue.size` (messages per producer queue, held in memory).
pub const MAX_QUEUE_SIZE: usize = 10_000_000;

fn parser() -> OptionParser {
    OptionParser::new("Continuously copy data between two Kafka clusters.")
        .arg(
            "consumer.config",
            "Consumer config to consume from a source cluster. You may specify multiple of these.",
            "config file",
        )
        .arg("producer.config", "Embedded producer config.", "config file")
        .flag("new.producer", "Use the new producer implementation.")
        .arg_default("num.producers", "Number of producer instances", "Integer: Number of producers", "1")
        .arg_default("num.streams", "Number of consumption streams.", "Integer: Number of threads", "1")
        .arg_default(
            "queue.size",
            "Number of messages that are buffered between the consumer and producer",
            "Integer: Queue size in terms of number of messages",
            "10000",
        )
        .arg("whitelist", "Whitelist of topics to mirror.", "Java regex (String)")
        .arg("blacklist", "Blacklist of topics to mirror.", "Java regex (String)")
        .flag("help", "Print this message.")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, args.is_empty(), opts))
}

/// For each partition, the offsets handed to the producers and not yet acknowledged, and
/// one past the highest offset handed over. A commit may write `min(in flight)`, or `next`
/// when nothing is in flight: every message below it has reached the target. (A message
/// the stream has returned but the consumer task has not recorded yet is at or above
/// `next`, or was already recorded once in an earlier rebalance generation, so the bound
/// never passes it.)
#[derive(Debug, Default)]
pub struct AckTracker {
    partitions: Mutex<HashMap<TopicPartition, PartitionAcks>>,
}

#[derive(Debug, Default)]
struct PartitionAcks {
    next: i64,
    in_flight: BTreeSet<i64>,
}

impl AckTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, PartitionAcks>> {
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The message at `offset` was handed to a producer.
    pub fn record(&self, tp: &TopicPartition, offset: i64) {
        let mut m = self.lock();
        let p = match m.get_mut(tp) {
            Some(p) => p,
            None => m.entry(tp.clone()).or_default(),
        };
        p.in_flight.insert(offset);
        p.next = p.next.max(offset + 1);
    }

    /// The target acknowledged the message at `offset`.
    pub fn ack(&self, tp: &TopicPartition, offset: i64) {
        if let Some(p) = self.lock().get_mut(tp) {
            p.in_flight.remove(&offset);
        }
    }

    /// The offset a commit may write for `tp`; `None` if nothing of it went through us.
    pub fn committable(&self, tp: &TopicPartition) -> Option<i64> {
        self.lock().get(tp).map(|p| p.in_flight.first().copied().unwrap_or(p.next))
    }
}

/// One message on its way from a stream to a producer.
struct Record {
    tracker: Arc<AckTracker>,
    tp: TopicPartition,
    offset: i64,
    message: KeyedMessage,
}

/// 0.8.2's `DataChannel`: one bounded queue per producer.
#[derive(Clone)]
struct DataChannel {
    queues: Vec<mpsc::Sender<Record>>,
    counter: Arc<AtomicI32>,
}

impl DataChannel {
    async fn put(&self, record: Record) -> Result<(), String> {
        let n = self.queues.len() as i32;
        let id = match &record.message.key {
            Some(key) => queue_for_key(key, n),
            None => abs(self.counter.fetch_add(1, Ordering::Relaxed)) % n,
        };
        self.queues[id as usize].send(record).await.map_err(|_| "the producers have stopped".to_string())
    }
}

/// The producer queue of a keyed message: `Utils.abs(Arrays.hashCode(key)) % n`.
pub fn queue_for_key(key: &[u8], n: i32) -> i32 {
    abs(java_bytes_hash_code(key)) % n
}

/// The producer properties for producer `i`, as 0.8.2 built them: `client.id` suffixed
/// with `-<i>`, `partitioner.class` defaulting to `ByteArrayPartitioner`. With
/// `--new.producer`, the new producer's main keys are read as their old names.
pub fn producer_properties(base: &Properties, i: usize, new_producer: bool) -> Properties {
    let mut props = base.clone();
    if new_producer {
        for (new, old) in [
            ("bootstrap.servers", "metadata.broker.list"),
            ("acks", "request.required.acks"),
            ("retries", "message.send.max.retries"),
            ("compression.type", "compression.codec"),
        ] {
            if let Some(v) = base.get(new) {
                if !props.contains(old) {
                    let v = if new == "acks" && v.trim() == "all" { "-1" } else { v };
                    props.set(old, v.to_string());
                }
                props.remove(new);
            }
        }
    }
    let client_id = base.get("client.id").unwrap_or("").to_string();
    props.set("client.id", format!("{}-{}", client_id, i));
    if !props.contains("partitioner.class") {
        props.set("partitioner.class", BYTE_ARRAY_PARTITIONER);
    }
    // Acknowledgements decide what is committed: always send synchronously (batching is
    // done here, from the data channel).
    props.set("producer.type", "sync");
    props
}

fn positive(opts: &Options, name: &str, max: usize) -> Result<usize, UsageError> {
    let v: i64 = opts.parse_value(name)?.unwrap_or(1);
    if v < 1 || v as u64 > max as u64 {
        return Err(UsageError(format!("The value of {} must be between 1 and {} (got {})", name, max, v)));
    }
    Ok(v as usize)
}

fn load(path: &str) -> Result<Properties, ToolError> {
    Properties::load(Path::new(path)).map_err(|e| ToolError::Failed(format!("Cannot read {}: {}", path, e)))
}

fn run(p: &OptionParser, no_args: bool, opts: Options) -> Result<(), ToolError> {
    if no_args {
        return Err(UsageError(p.summary().to_string()).into());
    }
    if opts.has("help") {
        print!("{}", p.usage());
        return Ok(());
    }
    p.check_required(&opts, &["consumer.config", "producer.config"])?;
    if ["whitelist", "blacklist"].iter().filter(|o| opts.has(o)).count() != 1 {
        // 0.8.2 printed this on stdout (println) and exited 1; stderr gets it too, where
        // every other kafka08 tool reports a bad command line.
        let line = "Exactly one of whitelist or blacklist is required.";
        println!("{}", line);
        return Err(ToolError::Failed(line.into()));
    }
    let num_producers = positive(&opts, "num.producers", MAX_PRODUCERS)?;
    let num_streams = positive(&opts, "num.streams", crate::consumer::zk::topic_count::MAX_STREAMS)?;
    let queue_size = positive(&opts, "queue.size", MAX_QUEUE_SIZE)?;
    let filter = match (opts.value("whitelist"), opts.value("blacklist")) {
        (Some(w), _) => TopicFilter::whitelist(w),
        (_, b) => TopicFilter::blacklist(b.unwrap_or("")),
    }
    .map_err(|e| ToolError::Failed(e.to_string()))?;
    let new_producer = opts.has("new.producer");
    let producer_base = load(opts.value("producer.config").unwrap_or(""))?;
    let mut producer_configs = Vec::with_capacity(num_producers);
    for i in 0..num_producers {
        let props = producer_properties(&producer_base, i, new_producer);
        producer_configs.push(ProducerConfig::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?);
    }
    let mut consumer_configs = Vec::new();
    for path in opts.values("consumer.config") {
        let props = load(path)?;
        consumer_configs.push(ConsumerConfig::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?);
    }
    super::perf::init_tool_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mirrormaker")
        .enable_all()
        .build()
        .map_err(|e| ToolError::Failed(e.to_string()))?;
    rt.block_on(mirror(consumer_configs, producer_configs, filter, num_streams, queue_size))
}

async fn mirror(
    consumer_configs: Vec<ConsumerConfig>,
    producer_configs: Vec<ProducerConfig>,
    filter: TopicFilter,
    num_streams: usize,
    queue_size: usize,
) -> Result<(), ToolError> {
    use tokio::signal::unix::{signal, SignalKind};
    let failed = |e: &dyn std::fmt::Display| ToolError::Failed(e.to_string());
    // Installed first: a signal during start-up is seen once the streams run.
    let mut term = signal(SignalKind::terminate()).map_err(|e| failed(&e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| failed(&e))?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let fail = {
        let failure = failure.clone();
        let stop_tx = stop_tx.clone();
        move |msg: String| {
            log::error!("{}", msg);
            failure.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(msg);
            let _ = stop_tx.send(true);
        }
    };

    // Producers and the channel first: streams start handing out messages at once.
    let mut senders = Vec::new();
    let mut producer_tasks = Vec::new();
    for (i, config) in producer_configs.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(queue_size);
        senders.push(tx);
        let batch = config.batch_num_messages.max(1);
        let producer = Producer::new(config);
        producer_tasks.push(tokio::spawn(produce(i, rx, producer, batch, fail.clone())));
    }
    let channel = DataChannel { queues: senders, counter: Arc::new(AtomicI32::new(Random::new().next_u32() as i32)) };

    let mut connectors = Vec::new();
    let mut consumer_tasks = Vec::new();
    for config in consumer_configs {
        let connector = match ZookeeperConsumerConnector::create(config).await {
            Ok(c) => c,
            Err(e) => {
                log::error!("Unable to create stream - shutting down mirror maker.");
                shutdown_all(&connectors).await;
                return Err(failed(&e));
            }
        };
        let tracker = Arc::new(AckTracker::default());
        let t = tracker.clone();
        connector.set_commit_offsets(Arc::new(move |tp, _consumed| t.committable(tp)));
        connectors.push(connector.clone());
        let streams = match connector.create_message_streams_by_filter(filter.clone(), num_streams).await {
            Ok(s) => s,
            Err(e) => {
                log::error!("Unable to create stream - shutting down mirror maker.");
                shutdown_all(&connectors).await;
                return Err(failed(&e));
            }
        };
        for stream in streams {
            let n = consumer_tasks.len();
            consumer_tasks.push(tokio::spawn(consume(
                n,
                stream,
                channel.clone(),
                tracker.clone(),
                stop_rx.clone(),
                fail.clone(),
            )));
        }
    }
    // The consumer tasks hold the only senders: when they end, the producers drain the
    // queues and end.
    drop(channel);

    tokio::select! {
        _ = term.recv() => log::info!("SIGTERM: shutting down"),
        _ = int.recv() => log::info!("SIGINT: shutting down"),
        _ = stop_rx.wait_for(|s| *s) => {}
    }
    let _ = stop_tx.send(true);
    // Flush: every message taken from a stream goes to the target before the commit. A
    // second signal stops waiting (what was acknowledged is still committed below).
    let flush = async {
        for t in consumer_tasks {
            let _ = t.await;
        }
        for t in producer_tasks {
            let _ = t.await;
        }
    };
    tokio::select! {
        _ = flush => {}
        _ = term.recv() => log::warn!("second signal: not waiting for messages in flight (they are not committed)"),
        _ = int.recv() => log::warn!("second signal: not waiting for messages in flight (they are not committed)"),
    }
    shutdown_all(&connectors).await;
    let failure = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
    match failure {
        Some(msg) => Err(ToolError::Failed(msg)),
        None => {
            log::info!("Kafka mirror maker shutdown successfully");
            Ok(())
        }
    }
}

async fn shutdown_all(connectors: &[ZookeeperConsumerConnector]) {
    for c in connectors {
        c.shutdown().await;
    }
}

/// 0.8.2's `ConsumerThread`: stream → data channel, until stopped.
async fn consume(
    n: usize,
    mut stream: KafkaStream,
    channel: DataChannel,
    tracker: Arc<AckTracker>,
    mut stop: watch::Receiver<bool>,
    fail: impl Fn(String),
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            n = stream.next() => n,
        };
        let m = match next {
            None => return,
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                fail(format!(
                    "[mirrormaker-consumer-{}] Stream unexpectedly exited: {}; stopping the whole mirror maker.",
                    n, e
                ));
                return;
            }
        };
        let tp = TopicPartition::new(m.topic.clone(), m.partition);
        tracker.record(&tp, m.offset);
        let message = KeyedMessage { topic: m.topic, key: m.key, part_key: None, value: m.value };
        let record = Record { tracker: tracker.clone(), tp, offset: m.offset, message };
        if let Err(e) = channel.put(record).await {
            fail(format!("[mirrormaker-consumer-{}] {}", n, e));
            return;
        }
    }
}

/// 0.8.2's `ProducerThread`: data channel → target, acknowledging into the trackers. After
/// a failed send it only drains its queue (nothing more is acknowledged, so nothing past
/// the failure is committed).
async fn produce(i: usize, mut rx: mpsc::Receiver<Record>, producer: Producer, batch: usize, fail: impl Fn(String)) {
    let mut failed = false;
    let mut acks = Vec::with_capacity(batch);
    let mut messages = Vec::with_capacity(batch);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(r) = next {
            acks.push((r.tracker, r.tp, r.offset));
            messages.push(r.message);
            next = if messages.len() < batch { rx.try_recv().ok() } else { None };
        }
        if failed {
            acks.clear();
            messages.clear();
            continue;
        }
        match producer.send(std::mem::take(&mut messages)).await {
            Ok(()) => {
                for (tracker, tp, offset) in acks.drain(..) {
                    tracker.ack(&tp, offset);
                }
            }
            Err(e) => {
                acks.clear();
                failed = true;
                fail(format!("[mirrormaker-producer-{}] Producer thread failure due to {}; stopping the whole mirror maker.", i, e));
            }
        }
    }
    if let Err(e) = producer.close().await {
        log::warn!("[mirrormaker-producer-{}] close: {}", i, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_bound_is_the_lowest_unacknowledged_offset() {
        let t = AckTracker::default();
        let tp = TopicPartition::new("t", 0);
        assert_eq!(t.committable(&tp), None);
        for o in 5..10 {
            t.record(&tp, o);
        }
        assert_eq!(t.committable(&tp), Some(5));
        // Acknowledged out of order (two producers): the bound waits for offset 5.
        t.ack(&tp, 7);
        t.ack(&tp, 6);
        assert_eq!(t.committable(&tp), Some(5));
        t.ack(&tp, 5);
        assert_eq!(t.committable(&tp), Some(8));
        t.ack(&tp, 8);
        t.ack(&tp, 9);
        assert_eq!(t.committable(&tp), Some(10));
        // A rebalance re-fetches from an older committed offset: the bound does not go back
        // for messages already acknowledged, and holds at a re-sent one still in flight.
        t.record(&tp, 8);
        assert_eq!(t.committable(&tp), Some(8));
        t.ack(&tp, 8);
        assert_eq!(t.committable(&tp), Some(10));
        assert_eq!(t.committable(&TopicPartition::new("t", 1)), None);
    }

    #[test]
    fn keyed_messages_keep_their_producer() {
        // Arrays.hashCode({1,2}) == 994.
        assert_eq!(queue_for_key(&[1, 2], 4), 994 % 4);
        assert_eq!(queue_for_key(b"k", 1), 0);
        for n in 1..8 {
            assert!((0..n).contains(&queue_for_key(b"some key", n)));
        }
    }

    #[test]
    fn producer_properties_follow_082() {
        let mut base = Properties::new();
        base.set("metadata.broker.list", "h:1");
        base.set("producer.type", "async");
        let p = producer_properties(&base, 2, false);
        assert_eq!(p.get("client.id"), Some("-2"));
        assert_eq!(p.get("partitioner.class"), Some(BYTE_ARRAY_PARTITIONER));
        assert_eq!(p.get("producer.type"), Some("sync"));
        base.set("client.id", "mm");
        base.set("partitioner.class", "kafka.producer.DefaultPartitioner");
        let p = producer_properties(&base, 0, false);
        assert_eq!(p.get("client.id"), Some("mm-0"));
        assert_eq!(p.get("partitioner.class"), Some("kafka.producer.DefaultPartitioner"));
        let mut newp = Properties::new();
        newp.set("bootstrap.servers", "h:2");
        newp.set("acks", "all");
        let p = producer_properties(&newp, 0, true);
        assert_eq!(p.get("metadata.broker.list"), Some("h:2"));
        assert_eq!(p.get("request.required.acks"), Some("-1"));
        assert!(!p.contains("bootstrap.servers"));
        assert!(ProducerConfig::from_properties(&p).is_ok());
    }

    #[test]
    fn bad_command_lines_exit_1() {
        assert_eq!(main(&[]), 1);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(main(&s(&["--consumer.config", "c", "--producer.config", "p"])), 1);
        assert_eq!(main(&s(&["--consumer.config", "c", "--producer.config", "p", "--whitelist", "a", "--blacklist", "b"])), 1);
        assert_eq!(main(&s(&["--producer.config", "p", "--whitelist", "a"])), 1);
        assert_eq!(main(&s(&["--help"])), 0);
    }
}
