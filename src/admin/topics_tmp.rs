//! TEMPORARY: minimal topic creation for broker auto-create until the admin branch lands.
use super::assignment::{assign_replicas_to_brokers, time_seeded_random};
use crate::common::Properties;
use crate::zk::{json, paths, ZkClient, ZkError};
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum AdminError {
    TopicExists(String),
    Other(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::TopicExists(t) => write!(f, "Topic \"{}\" already exists.", t),
            AdminError::Other(s) => f.write_str(s),
        }
    }
}

pub async fn create_topic(zk: &ZkClient, topic: &str, partitions: i32, rf: i32, config: &Properties) -> Result<(), AdminError> {
    let other = |e: ZkError| AdminError::Other(e.to_string());
    let brokers: Vec<i32> = zk.get_children(paths::BROKER_IDS).await.map_err(other)?.unwrap_or_default().iter().filter_map(|b| b.parse().ok()).collect();
    let assignment = assign_replicas_to_brokers(&brokers, partitions, rf, -1, -1, time_seeded_random()).map_err(|e| AdminError::Other(e.to_string()))?;
    let cfg: BTreeMap<String, String> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    zk.update_persistent(&paths::topic_config(topic), &json::TopicConfig::new(cfg).to_bytes()).await.map_err(other)?;
    match zk.create_persistent(&paths::topic(topic), &json::TopicAssignment::new(assignment).to_bytes()).await {
        Ok(()) => Ok(()),
        Err(ZkError::NodeExists) => Err(AdminError::TopicExists(topic.to_string())),
        Err(e) => Err(other(e)),
    }
}
