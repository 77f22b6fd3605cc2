//! Committed offsets (docs/zookeeper-layout.md): in ZooKeeper
//! (`/consumers/<g>/offsets/<t>/<p>`, decimal text of the next offset to consume), or with
//! `offsets.storage=kafka` through the group's offset coordinator (ConsumerMetadata, then
//! OffsetCommit/OffsetFetch v1), also written to ZooKeeper when `dual.commit.enabled`; a
//! dual fetch takes the larger of the two.
//!
//! A ZooKeeper offset is only written when it differs from the last value written or read
//! for that partition (0.8.2's checkpoint cache), so an idle consumer does not rewrite
//! every offset node each auto-commit interval.

use super::config::{ConsumerConfig, OffsetsStorage};
use super::error::ConsumerError;
use super::fetcher::read_brokers;
use crate::api::{
    ConsumerMetadataRequest, OffsetCommitPartition, OffsetCommitRequest, OffsetCommitTopic, OffsetFetchRequest,
    OffsetFetchTopic, DEFAULT_GENERATION_ID, DEFAULT_TIMESTAMP,
};
use crate::common::{ErrorCode, TopicPartition};
use crate::network::BrokerConnection;
use crate::zk::QueryError;
use crate::zk::{paths, ZkClient};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// Offset meaning "nothing committed".
pub const NO_OFFSET: i64 = -1;

/// How many times one fetch of Kafka-stored offsets is tried before the rebalance attempt
/// gives up (0.8.2 retried until shutdown; a rebalance retry re-reads anyway).
const FETCH_ATTEMPTS: u32 = 5;

pub(crate) struct OffsetStore {
    group: String,
    client_id: String,
    storage: OffsetsStorage,
    dual_commit: bool,
    backoff: Duration,
    socket_timeout: Duration,
    coordinator: tokio::sync::Mutex<Option<BrokerConnection>>,
    zk_checkpoints: Mutex<HashMap<TopicPartition, i64>>,
}

fn group_topics<T>(items: impl IntoIterator<Item = (TopicPartition, T)>) -> BTreeMap<String, Vec<(i32, T)>> {
    let mut m: BTreeMap<String, Vec<(i32, T)>> = BTreeMap::new();
    for (tp, v) in items {
        m.entry(tp.topic).or_default().push((tp.partition, v));
    }
    m
}

impl OffsetStore {
    pub fn new(config: &ConsumerConfig) -> OffsetStore {
        OffsetStore {
            group: config.group_id.clone(),
            client_id: config.client_id.clone(),
            storage: config.offsets_storage,
            dual_commit: config.dual_commit_enabled,
            backoff: Duration::from_millis(config.offsets_channel_backoff_ms),
            socket_timeout: Duration::from_millis(config.offsets_channel_socket_timeout_ms),
            coordinator: tokio::sync::Mutex::new(None),
            zk_checkpoints: Mutex::new(HashMap::new()),
        }
    }

    fn checkpoints(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, i64>> {
        self.zk_checkpoints.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Committed offsets of `partitions` ([`NO_OFFSET`] where none).
    pub async fn fetch(
        &self,
        zk: &ZkClient,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, ConsumerError> {
        match self.storage {
            OffsetsStorage::Zookeeper => self.fetch_zk(zk, partitions).await,
            OffsetsStorage::Kafka => {
                let mut kafka = self.fetch_kafka(zk, partitions).await?;
                if self.dual_commit {
                    for (tp, o) in self.fetch_zk(zk, partitions).await? {
                        let e = kafka.entry(tp).or_insert(NO_OFFSET);
                        *e = (*e).max(o);
                    }
                }
                Ok(kafka)
            }
        }
    }

    /// Commit `offsets` (next offsets to consume). `retries` applies to the Kafka storage
    /// (0.8.2 retries `offsets.commit.max.retries` times during shutdown only).
    pub async fn commit(
        &self,
        zk: &ZkClient,
        offsets: &[(TopicPartition, i64)],
        retries: u32,
    ) -> Result<(), ConsumerError> {
        let offsets: Vec<(TopicPartition, i64)> = offsets.iter().filter(|(_, o)| *o >= 0).cloned().collect();
        if offsets.is_empty() {
            return Ok(());
        }
        match self.storage {
            OffsetsStorage::Zookeeper => self.commit_zk(zk, &offsets).await,
            OffsetsStorage::Kafka => {
                let kafka = self.commit_kafka(zk, &offsets, retries).await;
                if self.dual_commit {
                    self.commit_zk(zk, &offsets).await?;
                }
                kafka
            }
        }
    }

    async fn fetch_zk(
        &self,
        zk: &ZkClient,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, ConsumerError> {
        let mut out = HashMap::with_capacity(partitions.len());
        for tp in partitions {
            let offset = match zk.consumer_offset(&self.group, &tp.topic, tp.partition).await {
                Ok(o) => o.unwrap_or(NO_OFFSET),
                Err(QueryError::Corrupt(why)) => {
                    log::warn!("offset of {} for group {} is unreadable ({}); treating it as absent", tp, self.group, why);
                    NO_OFFSET
                }
                Err(QueryError::Zk(e)) => return Err(e.into()),
            };
            self.checkpoints().insert(tp.clone(), offset);
            out.insert(tp.clone(), offset);
        }
        Ok(out)
    }

    async fn commit_zk(&self, zk: &ZkClient, offsets: &[(TopicPartition, i64)]) -> Result<(), ConsumerError> {
        let mut first_error = None;
        for (tp, offset) in offsets {
            if self.checkpoints().get(tp) == Some(offset) {
                continue;
            }
            let path = paths::consumer_offset(&self.group, &tp.topic, tp.partition);
            match zk.update_persistent(&path, offset.to_string().as_bytes()).await {
                Ok(()) => {
                    self.checkpoints().insert(tp.clone(), *offset);
                    log::debug!("committed offset {} for {} (group {})", offset, tp, self.group);
                }
                Err(e) => {
                    log::warn!("cannot commit offset {} for {}: {}", offset, tp, e);
                    first_error.get_or_insert(ConsumerError::Zk(e));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// A connection to the group's coordinator (0.8.2 `ClientUtils.channelToOffsetManager`).
    async fn connect_coordinator(&self, zk: &ZkClient) -> Result<BrokerConnection, String> {
        let brokers = read_brokers(zk).await.map_err(|e| e.to_string())?;
        let mut last = "no broker is registered".to_string();
        for b in &brokers {
            let found = async {
                let mut conn =
                    BrokerConnection::connect(&b.host, b.port as u16, self.socket_timeout).await.map_err(|e| e.to_string())?;
                let r = conn
                    .send(&self.client_id, &ConsumerMetadataRequest { group: self.group.clone() })
                    .await
                    .map_err(|e| e.to_string())?;
                if r.error_code != ErrorCode::NoError {
                    return Err(format!("{:?}", r.error_code));
                }
                let port = u16::try_from(r.coordinator.port).map_err(|_| "bad coordinator port".to_string())?;
                BrokerConnection::connect(&r.coordinator.host, port, self.socket_timeout)
                    .await
                    .map_err(|e| e.to_string())
            };
            match found.await {
                Ok(c) => return Ok(c),
                Err(e) => last = format!("broker {}: {}", b.id, e),
            }
        }
        Err(last)
    }

    async fn fetch_kafka(
        &self,
        zk: &ZkClient,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>, ConsumerError> {
        let request = OffsetFetchRequest {
            group: self.group.clone(),
            topics: group_topics(partitions.iter().map(|tp| (tp.clone(), ())))
                .into_iter()
                .map(|(topic, ps)| OffsetFetchTopic { topic, partitions: ps.into_iter().map(|(p, _)| p).collect() })
                .collect(),
        };
        let mut last = String::new();
        for attempt in 0..FETCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(self.backoff).await;
            }
            let mut coord = self.coordinator.lock().await;
            if coord.as_ref().is_none_or(|c| c.is_broken()) {
                match self.connect_coordinator(zk).await {
                    Ok(c) => *coord = Some(c),
                    Err(e) => {
                        last = format!("no offset coordinator for group {}: {}", self.group, e);
                        continue;
                    }
                }
            }
            let conn = coord.as_mut().expect("connected above");
            let response = match conn.send_versioned(&self.client_id, 1, &request).await {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    *coord = None;
                    continue;
                }
            };
            let mut out = HashMap::new();
            let mut retry = None;
            for t in &response.topics {
                for p in &t.partitions {
                    let tp = TopicPartition::new(t.topic.clone(), p.partition);
                    match p.error_code {
                        ErrorCode::NoError => {
                            out.insert(tp, p.offset);
                        }
                        ErrorCode::UnknownTopicOrPartition => {
                            out.insert(tp, NO_OFFSET);
                        }
                        ErrorCode::NotCoordinatorForConsumer | ErrorCode::ConsumerCoordinatorNotAvailable => {
                            *coord = None;
                            retry = Some(p.error_code);
                        }
                        other => retry = Some(other),
                    }
                }
            }
            if let Some(code) = retry {
                last = format!("offset fetch answered {:?}", code);
                continue;
            }
            for tp in partitions {
                out.entry(tp.clone()).or_insert(NO_OFFSET);
            }
            return Ok(out);
        }
        Err(ConsumerError::Offsets(last))
    }

    async fn commit_kafka(
        &self,
        zk: &ZkClient,
        offsets: &[(TopicPartition, i64)],
        retries: u32,
    ) -> Result<(), ConsumerError> {
        let request = OffsetCommitRequest {
            group: self.group.clone(),
            generation_id: DEFAULT_GENERATION_ID,
            consumer_id: String::new(),
            topics: group_topics(offsets.iter().cloned())
                .into_iter()
                .map(|(topic, ps)| OffsetCommitTopic {
                    topic,
                    partitions: ps
                        .into_iter()
                        .map(|(partition, offset)| OffsetCommitPartition {
                            partition,
                            offset,
                            timestamp: DEFAULT_TIMESTAMP,
                            metadata: String::new(),
                        })
                        .collect(),
                })
                .collect(),
        };
        let mut last = String::new();
        for attempt in 0..=retries {
            if attempt > 0 {
                tokio::time::sleep(self.backoff).await;
            }
            let mut coord = self.coordinator.lock().await;
            if coord.as_ref().is_none_or(|c| c.is_broken()) {
                match self.connect_coordinator(zk).await {
                    Ok(c) => *coord = Some(c),
                    Err(e) => {
                        last = format!("no offset coordinator for group {}: {}", self.group, e);
                        continue;
                    }
                }
            }
            let conn = coord.as_mut().expect("connected above");
            match conn.send_versioned(&self.client_id, 1, &request).await {
                Ok(r) => {
                    let errors: Vec<(String, i32, ErrorCode)> = r
                        .topics
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.clone(), p.partition, p.error_code)))
                        .filter(|(_, _, e)| *e != ErrorCode::NoError)
                        .collect();
                    if errors.is_empty() {
                        return Ok(());
                    }
                    if errors.iter().any(|(_, _, e)| {
                        matches!(e, ErrorCode::NotCoordinatorForConsumer | ErrorCode::ConsumerCoordinatorNotAvailable)
                    }) {
                        *coord = None;
                    }
                    last = format!("offset commit errors: {:?}", errors);
                }
                Err(e) => {
                    last = e.to_string();
                    *coord = None;
                }
            }
        }
        Err(ConsumerError::Offsets(last))
    }
}
