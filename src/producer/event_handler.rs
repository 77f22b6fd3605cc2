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
use super::metadata::{BrokerPartitionInfo, PartitionAndLeader};
use super::partitioner::{partition_for_key, Random};
use super::KeyedMessage;
use crate::api::{ProducePartition, ProduceRequest, ProduceTopic};
use crate::common::ErrorCode;
use crate::message::{encode_messages, CompressionCodec, Message};
use crate::network::BrokerConnection;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A message ready to send: its wire form, built once per `handle`.
#[derive(Debug, Clone)]
struct Serialized {
    topic: String,
    partition_key: Option<Bytes>,
    message: Message,
}

/// What one attempt left over.
#[derive(Default)]
struct Attempt {
    /// To retry, in their original order per partition.
    retry: Vec<Serialized>,
    /// Per topic-partition (or topic) reason for the retry list.
    failures: Vec<SendFailure>,
    /// Broker errors that retrying cannot fix.
    fatal: Vec<SendFailure>,
}

impl Attempt {
    fn fail(&mut self, topic: &str, partition: Option<i32>, messages: Vec<Serialized>, reason: String) {
        self.failures.push(SendFailure { topic: topic.to_string(), partition, messages: messages.len(), reason });
        self.retry.extend(messages);
    }
}

/// Errors a resend cannot fix: 0.8.2 retried them too, only to fail the same way.
fn is_fatal(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::MessageSizeTooLarge | ErrorCode::MessageSetSizeTooLarge | ErrorCode::InvalidTopic)
}

/// `topic -> partition -> messages`, per leader broker.
type PerBroker = BTreeMap<i32, BTreeMap<(String, i32), Vec<Serialized>>>;

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
        let mut outstanding: Vec<Serialized> = events
            .into_iter()
            .map(|e| {
                let message = Message::new(e.key.as_deref(), e.value.as_deref(), CompressionCodec::None);
                let partition_key = e.part_key.or(e.key);
                Serialized { topic: e.topic, partition_key, message }
            })
            .collect();
        let attempts_allowed = self.config.message_send_max_retries + 1;
        let mut attempts = 0;
        let mut fatal = Vec::new();
        let mut failures = Vec::new();
        while attempts < attempts_allowed && !outstanding.is_empty() {
            self.topics_to_refresh.extend(outstanding.iter().map(|m| m.topic.clone()));
            let interval = self.config.topic_metadata_refresh_interval_ms;
            let due = match self.last_refresh {
                None => true,
                Some(t) => t.elapsed() > Duration::from_millis(interval.max(0) as u64),
            };
            if interval >= 0 && due {
                let topics: Vec<String> = std::mem::take(&mut self.topics_to_refresh).into_iter().collect();
                self.refresh(&topics).await;
                self.last_refresh = Some(Instant::now());
            }
            attempts += 1;
            let attempt = self.dispatch(std::mem::take(&mut outstanding)).await;
            outstanding = attempt.retry;
            failures = attempt.failures;
            fatal.extend(attempt.fatal);
            if !outstanding.is_empty() && attempts < attempts_allowed {
                log::info!(
                    "Back off for {} ms before retrying send. Remaining retries = {}",
                    self.config.retry_backoff_ms,
                    attempts_allowed - attempts
                );
                tokio::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
                let topics: BTreeSet<String> = outstanding.iter().map(|m| m.topic.clone()).collect();
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

    /// Refresh metadata of `topics` (errors are logged, as 0.8.2 swallows them) and forget
    /// the sticky null-key partitions.
    async fn refresh(&mut self, topics: &[String]) {
        if let Err(e) = self.info.update_info(topics, &mut self.rng).await {
            log::warn!("{}", e);
        }
        self.sticky.clear();
    }

    /// One attempt: partition, group by leader, send one request per broker.
    async fn dispatch(&mut self, messages: Vec<Serialized>) -> Attempt {
        let mut attempt = Attempt::default();
        let mut per_broker: PerBroker = BTreeMap::new();
        // Topic-level failures, collected per topic so each is reported once.
        let mut unplaced: BTreeMap<String, (String, Vec<Serialized>)> = BTreeMap::new();
        let mut no_leader: BTreeMap<(String, i32), Vec<Serialized>> = BTreeMap::new();
        let mut topic_partitions: HashMap<String, Result<Vec<PartitionAndLeader>, String>> = HashMap::new();
        for m in messages {
            if !topic_partitions.contains_key(&m.topic) {
                let p = self.info.partitions(&m.topic, &mut self.rng).await;
                topic_partitions.insert(m.topic.clone(), p);
            }
            let chosen = match &topic_partitions[&m.topic] {
                Ok(partitions) => self.choose_partition(&m, partitions),
                Err(e) => Err(e.clone()),
            };
            match chosen {
                Ok((partition, Some(leader))) => {
                    per_broker.entry(leader).or_default().entry((m.topic.clone(), partition)).or_default().push(m)
                }
                Ok((partition, None)) => no_leader.entry((m.topic.clone(), partition)).or_default().push(m),
                Err(reason) => unplaced.entry(m.topic.clone()).or_insert_with(|| (reason, Vec::new())).1.push(m),
            }
        }
        for (topic, (reason, msgs)) in unplaced {
            attempt.fail(&topic, None, msgs, reason);
        }
        for ((topic, partition), msgs) in no_leader {
            log::warn!("Failed to send data since partition [{},{}] has no leader", topic, partition);
            attempt.fail(&topic, Some(partition), msgs, "no leader for the partition".to_string());
        }
        for (broker, partitions) in per_broker {
            self.send_to_broker(broker, partitions, &mut attempt).await;
        }
        attempt
    }

    /// The partition for `m` and its leader (0.8.2 `getPartition`).
    fn choose_partition(
        &mut self,
        m: &Serialized,
        partitions: &[PartitionAndLeader],
    ) -> Result<(i32, Option<i32>), String> {
        let n = partitions.len() as i32;
        let partition = match &m.partition_key {
            Some(key) => partition_for_key(self.config.partitioner, self.config.key_serializer, key, n),
            None => match self.sticky.get(&m.topic) {
                // Not re-checked: a leaderless sticky partition fails at send and the retry's
                // refresh picks again (0.8.2).
                Some(&p) => p,
                None => {
                    let available: Vec<i32> =
                        partitions.iter().filter(|p| p.leader.is_some()).map(|p| p.partition).collect();
                    if available.is_empty() {
                        return Err(format!("LeaderNotAvailable: no leader for any partition in topic {}", m.topic));
                    }
                    let p = available[self.rng.below(available.len())];
                    self.sticky.insert(m.topic.clone(), p);
                    p
                }
            },
        };
        let leader = partitions.iter().find(|p| p.partition == partition).and_then(|p| p.leader);
        match partitions.iter().any(|p| p.partition == partition) {
            true => Ok((partition, leader)),
            false => Err(format!("Invalid partition id: {} for topic {}", partition, m.topic)),
        }
    }

    async fn send_to_broker(
        &mut self,
        broker: i32,
        partitions: BTreeMap<(String, i32), Vec<Serialized>>,
        attempt: &mut Attempt,
    ) {
        let mut topics: BTreeMap<&str, Vec<ProducePartition>> = BTreeMap::new();
        for ((topic, partition), msgs) in &partitions {
            let codec = self.config.codec_for(topic);
            let wire: Vec<Message> = msgs.iter().map(|m| m.message.clone()).collect();
            let message_set = encode_messages(codec, &wire, 0);
            topics.entry(topic.as_str()).or_default().push(ProducePartition { partition: *partition, message_set });
        }
        let request = ProduceRequest {
            acks: self.config.required_acks,
            timeout_ms: self.config.request_timeout_ms,
            topics: topics.into_iter().map(|(t, p)| ProduceTopic { topic: t.to_string(), partitions: p }).collect(),
        };
        let address = self.info.broker(broker).map(|b| format!("{}:{}", b.host, b.port));
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
                let reason = format!(
                    "sending to broker {} ({}) failed: {}",
                    broker,
                    address.as_deref().unwrap_or("unknown address"),
                    e
                );
                log::warn!("{}", reason);
                for ((topic, partition), msgs) in partitions {
                    attempt.fail(&topic, Some(partition), msgs, reason.clone());
                }
                return;
            }
        };
        let Some(response) = response else { return };
        let mut status: HashMap<(&str, i32), ErrorCode> = HashMap::new();
        for t in &response.topics {
            for p in &t.partitions {
                status.insert((t.topic.as_str(), p.partition), p.error_code);
            }
        }
        let mut failed = Vec::new();
        for ((topic, partition), msgs) in partitions {
            match status.get(&(topic.as_str(), partition)).copied() {
                Some(ErrorCode::NoError) => {}
                Some(code) if is_fatal(code) => {
                    attempt.fatal.push(SendFailure {
                        topic: topic.clone(),
                        partition: Some(partition),
                        messages: msgs.len(),
                        reason: format!("broker {} answered {}", broker, code),
                    });
                }
                Some(code) => failed.push((topic, partition, msgs, format!("broker {} answered {}", broker, code))),
                None => failed.push((topic, partition, msgs, format!("broker {} sent no status for it", broker))),
            }
        }
        if !failed.is_empty() {
            let summary: Vec<String> = failed.iter().map(|(t, p, _, r)| format!("[{},{}]: {}", t, p, r)).collect();
            log::warn!("Produce request to broker {} failed for {}", broker, summary.join(", "));
        }
        for (topic, partition, msgs, reason) in failed {
            attempt.fail(&topic, Some(partition), msgs, reason);
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
