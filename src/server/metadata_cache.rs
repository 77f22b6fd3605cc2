//! The broker's view of the cluster, filled by the controller's UpdateMetadata requests
//! (0.8.2 `MetadataCache`); Metadata requests are answered from it.

use crate::api::{Broker, PartitionMetadata, PartitionState, TopicMetadata, UpdateMetadataRequest};
use crate::common::ErrorCode;
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

/// Leader id the 0.8.2 controller sends for a partition of a topic being deleted.
pub const LEADER_DURING_DELETE: i32 = -2;

#[derive(Debug, Default)]
pub struct MetadataCache {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    brokers: BTreeMap<i32, Broker>,
    topics: HashMap<String, BTreeMap<i32, PartitionState>>,
}

impl MetadataCache {
    pub fn new() -> MetadataCache {
        MetadataCache::default()
    }

    pub fn update(&self, req: &UpdateMetadataRequest) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.brokers = req.alive_brokers.iter().map(|b| (b.id, b.clone())).collect();
        for s in &req.partition_states {
            if s.leader == LEADER_DURING_DELETE {
                if let Some(parts) = inner.topics.get_mut(&s.topic) {
                    parts.remove(&s.partition);
                    if parts.is_empty() {
                        inner.topics.remove(&s.topic);
                    }
                }
            } else {
                inner.topics.entry(s.topic.clone()).or_default().insert(s.partition, s.clone());
            }
        }
    }

    pub fn alive_brokers(&self) -> Vec<Broker> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).brokers.values().cloned().collect()
    }

    pub fn broker(&self, id: i32) -> Option<Broker> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).brokers.get(&id).cloned()
    }

    pub fn contains_topic(&self, topic: &str) -> bool {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).topics.contains_key(topic)
    }

    pub fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.inner.read().unwrap_or_else(|e| e.into_inner()).topics.keys().cloned().collect();
        t.sort();
        t
    }

    pub fn partition_state(&self, topic: &str, partition: i32) -> Option<PartitionState> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).topics.get(topic).and_then(|p| p.get(&partition)).cloned()
    }

    /// Metadata of a known topic, with 0.8.2's partition errors: no live leader → 5 (leader
    /// -1); a replica or ISR member down → 9 with only the live ones listed.
    pub fn topic_metadata(&self, topic: &str) -> Option<TopicMetadata> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let parts = inner.topics.get(topic)?;
        let alive = |id: &i32| inner.brokers.contains_key(id);
        let partitions = parts
            .values()
            .map(|s| {
                let replicas: Vec<i32> = s.replicas.iter().copied().filter(alive).collect();
                let isr: Vec<i32> = s.isr.iter().copied().filter(alive).collect();
                let leader_alive = s.leader >= 0 && alive(&s.leader);
                let error_code = if !leader_alive {
                    ErrorCode::LeaderNotAvailable
                } else if replicas.len() < s.replicas.len() || isr.len() < s.isr.len() {
                    ErrorCode::ReplicaNotAvailable
                } else {
                    ErrorCode::NoError
                };
                PartitionMetadata {
                    error_code,
                    partition: s.partition,
                    leader: if leader_alive { s.leader } else { -1 },
                    replicas,
                    isr,
                }
            })
            .collect();
        Some(TopicMetadata { error_code: ErrorCode::NoError, topic: topic.to_string(), partitions })
    }
}
