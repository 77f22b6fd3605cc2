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
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch, Semaphore};

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
///
/// Messages move in batches: a consumer task records a batch's offsets, partition by
/// partition, under one lock each ([`AckTracker::slot`] is looked up once per run of one
/// partition), and a producer acknowledges what one send carried the same way.
#[derive(Debug, Default)]
pub struct AckTracker {
    partitions: Mutex<HashMap<TopicPartition, Arc<AckSlot>>>,
}

/// One partition's acknowledgements (see [`AckTracker`]).
#[derive(Debug, Default)]
pub struct AckSlot(Mutex<PartitionAcks>);

#[derive(Debug, Default)]
struct PartitionAcks {
    next: i64,
    /// Offsets handed over and not yet known to be below the commit bound, in increasing
    /// order, each with whether the target acknowledged it. The first is never
    /// acknowledged (acknowledged ones are popped from the front). A stream hands out a
    /// partition's offsets in increasing order, so a record is a push at the back; only a
    /// re-fetch after a rebalance inserts further in.
    in_flight: VecDeque<(i64, bool)>,
}

impl PartitionAcks {
    fn record(&mut self, offset: i64) {
        match self.in_flight.back() {
            Some(&(last, _)) if offset <= last => match self.in_flight.binary_search_by_key(&offset, |e| e.0) {
                // In flight again (re-fetched).
                Ok(i) => self.in_flight[i].1 = false,
                Err(i) => self.in_flight.insert(i, (offset, false)),
            },
            _ => self.in_flight.push_back((offset, false)),
        }
        self.next = self.next.max(offset + 1);
    }

    fn ack(&mut self, offset: i64) {
        // Acknowledgements mostly come in order: look at the front first.
        let i = match self.in_flight.front() {
            Some(&(first, _)) if first == offset => 0,
            _ => match self.in_flight.binary_search_by_key(&offset, |e| e.0) {
                Ok(i) => i,
                Err(_) => return,
            },
        };
        self.in_flight[i].1 = true;
        while self.in_flight.front().is_some_and(|e| e.1) {
            self.in_flight.pop_front();
        }
    }

    fn committable(&self) -> i64 {
        self.in_flight.front().map_or(self.next, |e| e.0)
    }
}

impl AckSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, PartitionAcks> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The messages at `offsets` of this partition were handed to a producer.
    pub fn record(&self, offsets: impl IntoIterator<Item = i64>) {
        let mut p = self.lock();
        for o in offsets {
            p.record(o);
        }
    }

    /// The target acknowledged the messages at `offsets` of this partition.
    pub fn ack(&self, offsets: impl IntoIterator<Item = i64>) {
        let mut p = self.lock();
        for o in offsets {
            p.ack(o);
        }
    }
}

impl AckTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, Arc<AckSlot>>> {
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The acknowledgements of `tp`, created empty on first use.
    pub fn slot(&self, topic: &str, partition: i32) -> Arc<AckSlot> {
        let mut m = self.lock();
        let tp = TopicPartition::new(topic, partition);
        m.entry(tp).or_default().clone()
    }

    /// The message at `offset` was handed to a producer.
    pub fn record(&self, tp: &TopicPartition, offset: i64) {
        self.slot(&tp.topic, tp.partition).record([offset]);
    }

    /// The target acknowledged the message at `offset`.
    pub fn ack(&self, tp: &TopicPartition, offset: i64) {
        let slot = self.lock().get(tp).cloned();
        if let Some(slot) = slot {
            slot.ack([offset]);
        }
    }

    /// The offset a commit may write for `tp`; `None` if nothing of it went through us.
    pub fn committable(&self, tp: &TopicPartition) -> Option<i64> {
        let slot = self.lock().get(tp).cloned();
        slot.map(|s| s.lock().committable())
    }
}

/// Messages of one partition on their way from a stream to a producer (with their
/// offsets), and that partition's acknowledgements: one reference to them per run, not
/// per message (its count would bounce between the consumer's and the producer's cores).
struct Run {
    slot: Arc<AckSlot>,
    records: Vec<(i64, KeyedMessage)>,
}

/// Add a message of the partition `slot` to `runs`: to the last run if it is that
/// partition's.
fn push_record(runs: &mut Vec<Run>, slot: &Arc<AckSlot>, offset: i64, message: KeyedMessage) {
    match runs.last_mut() {
        Some(run) if Arc::ptr_eq(&run.slot, slot) => run.records.push((offset, message)),
        _ => runs.push(Run { slot: slot.clone(), records: vec![(offset, message)] }),
    }
}

/// Most messages a consumer task takes from its stream at once (what is already fetched;
/// it never waits to fill a batch). Also bounded by `--queue.size`.
const MAX_TAKE: usize = 1000;

/// One producer's queue: batches of records, bounded to `--queue.size` messages by a
/// semaphore (a permit per message, given back as the producer takes them).
struct Queue {
    tx: mpsc::UnboundedSender<Vec<Run>>,
    room: Arc<Semaphore>,
}

/// 0.8.2's `DataChannel`: one bounded queue per producer.
#[derive(Clone)]
struct DataChannel {
    queues: Arc<Vec<Queue>>,
    counter: Arc<AtomicI32>,
}

impl DataChannel {
    /// Hand the `count` messages of `runs` to the producers, each to its queue, waiting
    /// for room; in order within each queue.
    async fn put(&self, runs: Vec<Run>, count: usize) -> Result<(), String> {
        let n = self.queues.len();
        if n == 1 {
            return self.put_in(0, runs, count).await;
        }
        // An unkeyed message goes round-robin: the batch takes as many turns at once.
        let unkeyed = runs.iter().flat_map(|r| &r.records).filter(|(_, m)| m.key.is_none()).count() as i32;
        let mut turn = self.counter.fetch_add(unkeyed, Ordering::Relaxed);
        let mut split: Vec<(Vec<Run>, usize)> = (0..n).map(|_| (Vec::new(), 0)).collect();
        for run in runs {
            for (offset, message) in run.records {
                let id = match &message.key {
                    Some(key) => queue_for_key(key, n as i32),
                    None => {
                        let id = abs(turn) % n as i32;
                        turn = turn.wrapping_add(1);
                        id
                    }
                };
                let (runs, count) = &mut split[id as usize];
                push_record(runs, &run.slot, offset, message);
                *count += 1;
            }
        }
        for (i, (runs, count)) in split.into_iter().enumerate() {
            if count > 0 {
                self.put_in(i, runs, count).await?;
            }
        }
        Ok(())
    }

    async fn put_in(&self, i: usize, runs: Vec<Run>, count: usize) -> Result<(), String> {
        let q = &self.queues[i];
        let stopped = || "the producers have stopped".to_string();
        // A batch never exceeds --queue.size (see `consume`), so it always fits.
        q.room.acquire_many(count as u32).await.map_err(|_| stopped())?.forget();
        q.tx.send(runs).map_err(|_| stopped())
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
    let mut queues = Vec::new();
    let mut producer_tasks = Vec::new();
    for (i, config) in producer_configs.into_iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(queue_size));
        queues.push(Queue { tx, room: room.clone() });
        let batch = config.batch_num_messages.max(1);
        let producer = Producer::new(config);
        producer_tasks.push(tokio::spawn(produce(i, rx, room, producer, batch, fail.clone())));
    }
    let channel = DataChannel { queues: Arc::new(queues), counter: Arc::new(AtomicI32::new(Random::new().next_u32() as i32)) };
    let take = MAX_TAKE.min(queue_size);

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
                take,
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

/// 0.8.2's `ConsumerThread`: stream → data channel, until stopped. Takes what the stream
/// has ready (up to [`MAX_TAKE`] and `--queue.size` messages) as one batch: its offsets
/// are recorded in the tracker, then it goes to the producers' queues.
async fn consume(
    n: usize,
    mut stream: KafkaStream,
    channel: DataChannel,
    tracker: Arc<AckTracker>,
    mut stop: watch::Receiver<bool>,
    fail: impl Fn(String),
    take: usize,
) {
    // The slot of the partition last seen: a batch is mostly runs of one partition.
    let mut last: Option<(String, i32, Arc<AckSlot>)> = None;
    let mut batch: Vec<Run> = Vec::new();
    let mut taken = 0;
    loop {
        let mut next = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            n = stream.next() => Some(n),
        };
        // Then, without waiting, what the stream already holds.
        let mut end: Option<Option<String>> = None;
        while let Some(item) = next.take() {
            match item {
                None => end = Some(None),
                Some(Err(e)) => end = Some(Some(format!("[mirrormaker-consumer-{}] Stream unexpectedly exited: {}; stopping the whole mirror maker.", n, e))),
                Some(Ok(m)) => {
                    let slot = match &last {
                        Some((topic, partition, slot)) if *partition == m.partition && *topic == m.topic => slot.clone(),
                        _ => {
                            let slot = tracker.slot(&m.topic, m.partition);
                            last = Some((m.topic.clone(), m.partition, slot.clone()));
                            slot
                        }
                    };
                    let message = KeyedMessage { topic: m.topic, key: m.key, part_key: None, value: m.value };
                    push_record(&mut batch, &slot, m.offset, message);
                    taken += 1;
                    if taken < take {
                        next = stream.try_next().map(Some);
                    }
                }
            }
        }
        if taken > 0 {
            for run in &batch {
                run.slot.record(run.records.iter().map(|r| r.0));
            }
            if let Err(e) = channel.put(std::mem::take(&mut batch), std::mem::take(&mut taken)).await {
                fail(format!("[mirrormaker-consumer-{}] {}", n, e));
                return;
            }
        }
        match end {
            None => {}
            Some(None) => return,
            Some(Some(msg)) => {
                fail(msg);
                return;
            }
        }
    }
}

/// 0.8.2's `ProducerThread`: data channel → target, acknowledging into the trackers. Sends
/// what is queued, up to `batch` (`batch.num.messages`) messages at a time. After a failed
/// send it only drains its queue (nothing more is acknowledged, so nothing past the
/// failure is committed).
async fn produce(i: usize, mut rx: mpsc::UnboundedReceiver<Vec<Run>>, room: Arc<Semaphore>, producer: Producer, batch: usize, fail: impl Fn(String)) {
    let mut failed = false;
    // Taken from the queue, not yet sent (their permits are given back as they are sent).
    let mut pending: VecDeque<Run> = VecDeque::new();
    let mut pending_count = 0;
    let count = |runs: &[Run]| runs.iter().map(|r| r.records.len()).sum::<usize>();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(b) => {
                    pending_count += count(&b);
                    pending.extend(b);
                }
                None => break,
            }
        }
        while pending_count < batch {
            match rx.try_recv() {
                Ok(b) => {
                    pending_count += count(&b);
                    pending.extend(b);
                }
                Err(_) => break,
            }
        }
        // Up to `batch` messages, a run split where the batch ends.
        let mut messages = Vec::with_capacity(batch.min(pending_count));
        let mut offsets = Vec::with_capacity(messages.capacity());
        let mut acks: Vec<(Arc<AckSlot>, usize)> = Vec::new();
        while messages.len() < batch {
            let Some(mut run) = pending.pop_front() else { break };
            let room_left = batch - messages.len();
            if run.records.len() > room_left {
                let rest = run.records.split_off(room_left);
                pending.push_front(Run { slot: run.slot.clone(), records: rest });
            }
            acks.push((run.slot, run.records.len()));
            for (offset, message) in run.records {
                offsets.push(offset);
                messages.push(message);
            }
        }
        pending_count -= messages.len();
        room.add_permits(messages.len());
        if failed {
            continue;
        }
        match producer.send(messages).await {
            Ok(()) => {
                let mut at = 0;
                for (slot, len) in acks {
                    slot.ack(offsets[at..at + len].iter().copied());
                    at += len;
                }
            }
            Err(e) => {
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
        // A re-fetch below what is in flight goes in front of it; a duplicate of one in
        // flight is in flight once.
        for o in [20, 21, 22, 15, 21] {
            t.record(&tp, o);
        }
        assert_eq!(t.committable(&tp), Some(15));
        t.ack(&tp, 20);
        t.ack(&tp, 15);
        assert_eq!(t.committable(&tp), Some(21));
        t.ack(&tp, 21);
        t.ack(&tp, 22);
        assert_eq!(t.committable(&tp), Some(23));
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
