//! `EventHandler`: 0.8.2's `DefaultEventHandler`, the part of the producer that actually
//! sends. Used directly by sync mode and by the background task of async mode.
//!
//! One `handle` call: serialize the messages once, then up to `message.send.max.retries + 1`
//! attempts. Each attempt picks a partition per message, groups the messages by the
//! partition's leader, and sends one ProduceRequest per leader broker (compressed per
//! `compression.codec` / `compressed.topics`). What failed (no leader, a broker error code,
//! a lost connection, a timeout) is retried after `retry.backoff.ms` and a metadata refresh
//! of the topics involved. Anything still unsent at the end is an error naming its
//! topic-partitions: never a silent drop.

use super::config::ProducerConfig;
use super::error::{ProducerError, SendFailure};
use super::metadata::BrokerPartitionInfo;
use super::partitioner::{partition_for_key, Random};
use super::KeyedMessage;
use crate::api::{ProducePartition, ProduceRequest, ProduceResponse, ProduceTopic};
use crate::common::ErrorCode;
use crate::message::codec::compress;
use crate::message::{CompressionCodec, Message, MessageSetBuilder};
use crate::network::BrokerConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A message of the batch being handled, by its position in it: the batch is kept as
/// given for the whole `handle` call, and each attempt encodes what is outstanding
/// straight into the per-partition sets.
pub(super) type Idx = u32;

/// What one attempt left over.
#[derive(Default)]
pub(super) struct Attempt {
    /// To retry; sorted back into the batch's order before the next attempt. Holds the
    /// messages of `failures` in the same order, each failure's `messages` in a row.
    pub(super) retry: Vec<Idx>,
    /// Per topic-partition (or topic) reason for the retry list.
    pub(super) failures: Vec<SendFailure>,
    /// Broker errors that retrying cannot fix.
    pub(super) fatal: Vec<SendFailure>,
}

impl Attempt {
    fn fail(&mut self, topic: &str, partition: Option<i32>, messages: Vec<Idx>, reason: String) {
        self.failures.push(SendFailure { topic: topic.to_string(), partition, messages: messages.len(), reason });
        self.retry.extend(messages);
    }
}

/// Errors a resend cannot fix: 0.8.2 retried them too, only to fail the same way.
fn is_fatal(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::MessageSizeTooLarge | ErrorCode::MessageSetSizeTooLarge | ErrorCode::InvalidTopic)
}

/// One partition's share of an attempt: its (uncompressed) set, encoded as messages are
/// placed, and which messages it holds (for the retry).
pub(super) struct PartitionSet {
    /// Index into the attempt's topic names.
    pub(super) topic: usize,
    pub(super) partition: i32,
    leader: i32,
    set: MessageSetBuilder,
    pub(super) messages: Vec<Idx>,
}

/// What one attempt placed: the sets per leader broker, what failed before sending, and
/// (with a hold rule) the messages that must wait for a later attempt.
pub(super) struct Placed<'a> {
    pub(super) attempt: Attempt,
    /// The topic names `PartitionSet::topic` indexes.
    pub(super) names: Vec<&'a str>,
    pub(super) per_broker: BTreeMap<i32, Vec<PartitionSet>>,
    /// In the order given.
    pub(super) held: Vec<Idx>,
}

/// Which partitions of a topic must wait (`true`), given the topic and its leader table;
/// an empty answer holds none.
pub(super) type HoldRule<'r> = &'r (dyn Fn(&str, &LeaderTable) -> Vec<bool> + Sync);

/// Indexed by partition id: `None` for an id the topic does not have, `Some(None)` for a
/// partition without a leader, `Some(Some(broker))` otherwise.
pub(super) type LeaderTable = Vec<Option<Option<i32>>>;

/// What an attempt knows of one topic, looked up once per attempt rather than per message.
struct TopicSlot<'a> {
    name: &'a str,
    /// The leader of each partition id (`None`: no such partition; `Some(None)`: no
    /// leader), and the number of partitions the key hash is taken over.
    leaders: Result<(LeaderTable, i32), String>,
    /// The partition null-key messages go to, once chosen.
    sticky: Option<i32>,
    /// Partition id → index of its `PartitionSet` (`usize::MAX`: none yet).
    set_of: Vec<usize>,
    /// Messages no partition could be chosen for, with the first reason.
    unplaced: Option<(String, Vec<Idx>)>,
    no_leader: BTreeMap<i32, Vec<Idx>>,
    /// Partition id → must wait (see [`HoldRule`]); shorter than the table: none held.
    held: Vec<bool>,
}

impl TopicSlot<'_> {
    fn unplace(&mut self, i: Idx, reason: impl FnOnce() -> String) {
        self.unplaced.get_or_insert_with(|| (reason(), Vec::new())).1.push(i);
    }
}

/// How a produce response judged one partition's set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Acked,
    /// A broker error a later attempt may not meet (after a metadata refresh).
    Retry(String),
    /// A broker error retrying cannot fix ([`is_fatal`]).
    Fatal(String),
}

/// Each partition's error code in `response`.
pub(super) fn response_status(response: &ProduceResponse) -> HashMap<(&str, i32), ErrorCode> {
    let mut status = HashMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            status.insert((t.topic.as_str(), p.partition), p.error_code);
        }
    }
    status
}

/// The verdict for a set given its partition's status in `broker`'s response.
pub(super) fn verdict(broker: i32, status: Option<ErrorCode>) -> Verdict {
    match status {
        Some(ErrorCode::NoError) => Verdict::Acked,
        Some(code) if is_fatal(code) => Verdict::Fatal(format!("broker {} answered {}", broker, code)),
        Some(code) => Verdict::Retry(format!("broker {} answered {}", broker, code)),
        None => Verdict::Retry(format!("broker {} sent no status for it", broker)),
    }
}

/// Log the partitions a produce request to `broker` must retry.
pub(super) fn log_failed<'a>(broker: i32, failed: impl Iterator<Item = (&'a str, i32, &'a str)>) {
    let summary: Vec<String> = failed.map(|(t, p, r)| format!("[{},{}]: {}", t, p, r)).collect();
    log::warn!("Produce request to broker {} failed for {}", broker, summary.join(", "));
}

pub struct EventHandler {
    config: Arc<ProducerConfig>,
    info: BrokerPartitionInfo,
    /// 0.8.2 `ProducerPool`: one connection per broker id, reopened after a failure.
    pool: HashMap<i32, BrokerConnection>,
    /// The partition null-key messages of a topic go to until the next metadata refresh.
    sticky: HashMap<String, i32>,
    topics_to_refresh: BTreeSet<String>,
    last_refresh: Option<Instant>,
    rng: Random,
}

impl EventHandler {
    pub fn new(config: Arc<ProducerConfig>) -> EventHandler {
        let info = BrokerPartitionInfo::new(
            config.broker_list.clone(),
            config.client_id.clone(),
            Duration::from_millis(config.request_timeout_ms as u64),
        );
        EventHandler {
            config,
            info,
            pool: HashMap::new(),
            sticky: HashMap::new(),
            topics_to_refresh: BTreeSet::new(),
            last_refresh: None,
            rng: Random::new(),
        }
    }

    /// Send `events`, retrying as configured. `Ok` means every message was acknowledged per
    /// `request.required.acks` (with acks=0: written to the socket).
    pub async fn handle(&mut self, events: Vec<KeyedMessage>) -> Result<(), ProducerError> {
        let mut outstanding: Vec<Idx> = (0..events.len() as Idx).collect();
        let attempts_allowed = self.config.message_send_max_retries + 1;
        let mut attempts = 0;
        let mut fatal = Vec::new();
        let mut failures = Vec::new();
        while attempts < attempts_allowed && !outstanding.is_empty() {
            self.refresh_if_due(&events, &outstanding).await;
            attempts += 1;
            let attempt = self.dispatch(&events, &outstanding).await;
            outstanding = attempt.retry;
            // Messages of one partition are retried in the order they were given.
            outstanding.sort_unstable();
            failures = attempt.failures;
            fatal.extend(attempt.fatal);
            if !outstanding.is_empty() && attempts < attempts_allowed {
                log::info!(
                    "Back off for {} ms before retrying send. Remaining retries = {}",
                    self.config.retry_backoff_ms,
                    attempts_allowed - attempts
                );
                tokio::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
                let topics: BTreeSet<String> = outstanding.iter().map(|&i| events[i as usize].topic.clone()).collect();
                self.refresh(&topics.into_iter().collect::<Vec<_>>()).await;
            }
        }
        if outstanding.is_empty() && fatal.is_empty() {
            return Ok(());
        }
        fatal.extend(failures);
        let err = ProducerError::FailedToSend { attempts, failures: fatal };
        log::error!("{}", err);
        Err(err)
    }

    /// Note the topics of `outstanding` for the periodic metadata refresh
    /// (`topic.metadata.refresh.interval.ms`) and refresh them when it is due.
    pub(super) async fn refresh_if_due(&mut self, events: &[KeyedMessage], outstanding: &[Idx]) {
        let interval = self.config.topic_metadata_refresh_interval_ms;
        let due = match self.last_refresh {
            None => true,
            Some(t) => t.elapsed() > Duration::from_millis(interval.max(0) as u64),
        };
        if interval >= 0 {
            // Names are collected per run of one topic, not per message.
            let mut last: Option<&str> = None;
            for &i in outstanding {
                let topic = events[i as usize].topic.as_str();
                if last != Some(topic) && !self.topics_to_refresh.contains(topic) {
                    self.topics_to_refresh.insert(topic.to_string());
                }
                last = Some(topic);
            }
        }
        if interval >= 0 && due {
            let topics: Vec<String> = std::mem::take(&mut self.topics_to_refresh).into_iter().collect();
            self.refresh(&topics).await;
            self.last_refresh = Some(Instant::now());
        }
    }

    /// Refresh metadata of `topics` (errors are logged, as 0.8.2 swallows them) and forget
    /// the sticky null-key partitions.
    pub(super) async fn refresh(&mut self, topics: &[String]) {
        if let Err(e) = self.info.update_info(topics, &mut self.rng).await {
            log::warn!("{}", e);
        }
        self.sticky.clear();
    }

    /// What this attempt needs of `topic`: its partitions' leaders (fetching the metadata
    /// if it is not cached) and its sticky partition.
    async fn topic_slot<'a>(&mut self, topic: &'a str, hold: Option<HoldRule<'_>>) -> TopicSlot<'a> {
        let leaders = self.info.partitions(topic, &mut self.rng).await.map(|partitions| {
            let max = partitions.iter().map(|p| p.partition).max().unwrap_or(-1);
            let mut table = vec![None; (max + 1).max(0) as usize];
            for p in &partitions {
                if p.partition >= 0 {
                    table[p.partition as usize] = Some(p.leader);
                }
            }
            (table, partitions.len() as i32)
        });
        let held = match (hold, &leaders) {
            (Some(rule), Ok((table, _))) => rule(topic, table),
            _ => Vec::new(),
        };
        TopicSlot {
            name: topic,
            leaders,
            sticky: self.sticky.get(topic).copied(),
            set_of: Vec::new(),
            unplaced: None,
            no_leader: BTreeMap::new(),
            held,
        }
    }

    /// One attempt: partition each message (0.8.2 `getPartition`), encode it into its
    /// partition's set, then send one request per leader broker.
    async fn dispatch(&mut self, events: &[KeyedMessage], messages: &[Idx]) -> Attempt {
        let Placed { mut attempt, names, per_broker, .. } = self.place(events, messages, None).await;
        for (broker, partitions) in per_broker {
            self.send_to_broker(broker, &names, partitions, &mut attempt).await;
        }
        attempt
    }

    /// Partition each message (0.8.2 `getPartition`) and encode it into its partition's
    /// set; a message whose partition `hold` says must wait is left in `held`.
    pub(super) async fn place<'a>(
        &mut self,
        events: &'a [KeyedMessage],
        messages: &[Idx],
        hold: Option<HoldRule<'_>>,
    ) -> Placed<'a> {
        let mut attempt = Attempt::default();
        let mut held = Vec::new();
        let mut topics: Vec<TopicSlot> = Vec::new();
        let mut sets: Vec<PartitionSet> = Vec::new();
        let mut current = usize::MAX;
        for &i in messages {
            let m = &events[i as usize];
            // Messages come in runs of one topic: compare with the last one before searching.
            if current == usize::MAX || topics[current].name != m.topic {
                current = match topics.iter().position(|t| t.name == m.topic) {
                    Some(t) => t,
                    None => {
                        let slot = self.topic_slot(&m.topic, hold).await;
                        topics.push(slot);
                        topics.len() - 1
                    }
                };
            }
            let slot = &mut topics[current];
            let (table, count) = match &slot.leaders {
                Ok((table, count)) => (table, *count),
                Err(e) => {
                    let e = e.clone();
                    slot.unplace(i, || e);
                    continue;
                }
            };
            let partition = match m.part_key.as_ref().or(m.key.as_ref()) {
                Some(key) => partition_for_key(self.config.partitioner, self.config.key_serializer, key, count),
                // Not re-checked: a leaderless sticky partition fails at send and the retry's
                // refresh picks again (0.8.2).
                None => match slot.sticky {
                    Some(p) => p,
                    None => {
                        let available: Vec<i32> = table
                            .iter()
                            .enumerate()
                            .filter(|(_, l)| matches!(l, Some(Some(_))))
                            .map(|(p, _)| p as i32)
                            .collect();
                        if available.is_empty() {
                            let name = slot.name;
                            slot.unplace(i, || format!("LeaderNotAvailable: no leader for any partition in topic {}", name));
                            continue;
                        }
                        let p = available[self.rng.below(available.len())];
                        self.sticky.insert(slot.name.to_string(), p);
                        slot.sticky = Some(p);
                        p
                    }
                },
            };
            if slot.held.get(partition as usize).copied().unwrap_or(false) {
                held.push(i);
                continue;
            }
            let leader = match usize::try_from(partition).ok().and_then(|p| table.get(p).copied().flatten()) {
                Some(leader) => leader,
                None => {
                    let name = slot.name;
                    slot.unplace(i, || format!("Invalid partition id: {} for topic {}", partition, name));
                    continue;
                }
            };
            let Some(leader) = leader else {
                slot.no_leader.entry(partition).or_default().push(i);
                continue;
            };
            let p = partition as usize;
            if slot.set_of.len() <= p {
                slot.set_of.resize(p + 1, usize::MAX);
            }
            if slot.set_of[p] == usize::MAX {
                slot.set_of[p] = sets.len();
                sets.push(PartitionSet {
                    topic: current,
                    partition,
                    leader,
                    set: MessageSetBuilder::new(),
                    messages: Vec::new(),
                });
            }
            let set = &mut sets[slot.set_of[p]];
            // Offsets 0.. within the set, as 0.8.2's producer wrote them.
            set.set.push_new(set.messages.len() as i64, m.key.as_deref(), m.value.as_deref());
            set.messages.push(i);
        }
        let mut order: Vec<usize> = (0..topics.len()).collect();
        order.sort_by_key(|&t| topics[t].name);
        for &t in &order {
            let slot = &mut topics[t];
            if let Some((reason, msgs)) = slot.unplaced.take() {
                attempt.fail(slot.name, None, msgs, reason);
            }
        }
        for &t in &order {
            let slot = &mut topics[t];
            for (partition, msgs) in std::mem::take(&mut slot.no_leader) {
                log::warn!("Failed to send data since partition [{},{}] has no leader", slot.name, partition);
                attempt.fail(slot.name, Some(partition), msgs, "no leader for the partition".to_string());
            }
        }
        let mut per_broker: BTreeMap<i32, Vec<PartitionSet>> = BTreeMap::new();
        for s in sets {
            per_broker.entry(s.leader).or_default().push(s);
        }
        let names: Vec<&str> = topics.iter().map(|t| t.name).collect();
        Placed { attempt, names, per_broker, held }
    }

    /// The ProduceRequest carrying `sets` (sorted here by topic and partition, their
    /// builders taken), compressed per `compression.codec` / `compressed.topics`.
    pub(super) fn build_request(&self, names: &[&str], sets: &mut [PartitionSet]) -> ProduceRequest {
        sets.sort_by(|a, b| (names[a.topic], a.partition).cmp(&(names[b.topic], b.partition)));
        let mut topics: Vec<ProduceTopic> = Vec::new();
        for s in sets.iter_mut() {
            let topic = names[s.topic];
            let codec = self.config.codec_for(topic);
            let inner = std::mem::take(&mut s.set).finish();
            let message_set = if codec == CompressionCodec::None {
                inner
            } else {
                // One wrapper holding the set, carrying the last inner offset (0.8.2).
                let compressed = compress(codec, &inner);
                let mut out = MessageSetBuilder::with_capacity(compressed.len() + 64);
                out.push(s.messages.len() as i64 - 1, &Message::new(None, Some(&compressed), codec));
                out.finish()
            };
            let partition = ProducePartition { partition: s.partition, message_set };
            match topics.last_mut() {
                Some(t) if t.topic == topic => t.partitions.push(partition),
                _ => topics.push(ProduceTopic { topic: topic.to_string(), partitions: vec![partition] }),
            }
        }
        ProduceRequest { acks: self.config.required_acks, timeout_ms: self.config.request_timeout_ms, topics }
    }

    pub(super) fn config(&self) -> &Arc<ProducerConfig> {
        &self.config
    }

    /// `broker`'s host and port as the metadata gave them.
    pub(super) fn broker_address(&self, broker: i32) -> Option<(String, i32)> {
        self.info.broker(broker).map(|b| (b.host.clone(), b.port))
    }

    /// The reason (logged here) for the messages of a request to `broker` that could not
    /// be sent or answered.
    pub(super) fn send_failed(&self, broker: i32, error: &str) -> String {
        let address = self.info.broker(broker).map(|b| format!("{}:{}", b.host, b.port));
        let reason = format!(
            "sending to broker {} ({}) failed: {}",
            broker,
            address.as_deref().unwrap_or("unknown address"),
            error
        );
        log::warn!("{}", reason);
        reason
    }

    async fn send_to_broker(&mut self, broker: i32, names: &[&str], mut sets: Vec<PartitionSet>, attempt: &mut Attempt) {
        let request = self.build_request(names, &mut sets);
        let config = self.config.clone();
        let result = match self.connection(broker).await {
            Err(e) => Err(e),
            Ok(conn) => {
                let client_id = config.client_id.as_str();
                if request.acks == 0 {
                    conn.send_oneway(client_id, &request).await.map(|_| None).map_err(|e| e.to_string())
                } else {
                    conn.send(client_id, &request).await.map(Some).map_err(|e| e.to_string())
                }
            }
        };
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.pool.remove(&broker);
                let reason = self.send_failed(broker, &e);
                for s in sets {
                    attempt.fail(names[s.topic], Some(s.partition), s.messages, reason.clone());
                }
                return;
            }
        };
        let Some(response) = response else { return };
        let status = response_status(&response);
        let mut failed = Vec::new();
        for s in sets {
            let topic = names[s.topic];
            match verdict(broker, status.get(&(topic, s.partition)).copied()) {
                Verdict::Acked => {}
                Verdict::Fatal(reason) => attempt.fatal.push(SendFailure {
                    topic: topic.to_string(),
                    partition: Some(s.partition),
                    messages: s.messages.len(),
                    reason,
                }),
                Verdict::Retry(reason) => failed.push((topic, s.partition, s.messages, reason)),
            }
        }
        if !failed.is_empty() {
            log_failed(broker, failed.iter().map(|(t, p, _, r)| (*t, *p, r.as_str())));
        }
        for (topic, partition, msgs, reason) in failed {
            attempt.fail(topic, Some(partition), msgs, reason);
        }
    }

    /// Close every broker connection (0.8.2 `ProducerPool.close`).
    pub fn close(&mut self) {
        self.pool.clear();
    }

    /// The pooled connection to `broker`, (re)connected if needed.
    async fn connection(&mut self, broker: i32) -> Result<&mut BrokerConnection, String> {
        let b = self.info.broker(broker).ok_or_else(|| format!("broker {} is not in the metadata", broker))?;
        let (host, port) = (b.host.clone(), b.port);
        let peer = format!("{}:{}", host, port);
        let reusable = self.pool.get(&broker).is_some_and(|c| !c.is_broken() && c.peer() == peer);
        if !reusable {
            self.pool.remove(&broker);
            let port = u16::try_from(port).map_err(|_| format!("broker {} has an invalid port {}", broker, port))?;
            let mut conn =
                BrokerConnection::connect(&host, port, Duration::from_millis(self.config.request_timeout_ms as u64))
                    .await
                    .map_err(|e| format!("cannot connect: {}", e))?;
            conn.set_request_timeout(self.config.socket_timeout());
            self.pool.insert(broker, conn);
        }
        Ok(self.pool.get_mut(&broker).expect("inserted above"))
    }
}
