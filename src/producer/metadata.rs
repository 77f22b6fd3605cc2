//! The producer's view of the cluster (0.8.2 `BrokerPartitionInfo` and
//! `ClientUtils.fetchTopicMetadata`): Metadata requests to the `metadata.broker.list`
//! brokers, tried in a shuffled order until one answers, and a cache of the answers.

use super::partitioner::Random;
use crate::api::{Broker, MetadataRequest, MetadataResponse, TopicMetadata};
use crate::common::ErrorCode;
use crate::network::BrokerConnection;
use std::collections::HashMap;
use std::time::Duration;

/// A partition and its leader's broker id, if it has a live leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionAndLeader {
    pub partition: i32,
    pub leader: Option<i32>,
}

/// Ask the `bootstrap` brokers, in random order, for the metadata of `topics` (empty = all)
/// and return the first answer. The error names every broker tried.
pub async fn fetch_topic_metadata(
    bootstrap: &[(String, u16)],
    topics: &[String],
    client_id: &str,
    timeout: Duration,
    rng: &mut Random,
) -> Result<MetadataResponse, String> {
    let mut order: Vec<usize> = (0..bootstrap.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let request = MetadataRequest { topics: topics.to_vec() };
    let mut errors = Vec::new();
    for i in order {
        let (host, port) = &bootstrap[i];
        let result = match BrokerConnection::connect(host, *port, timeout).await {
            Ok(mut conn) => conn.send(client_id, &request).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(r) => return Ok(r),
            Err(e) => {
                log::warn!(
                    "Fetching topic metadata for topics {:?} from broker {}:{} failed: {}",
                    topics,
                    host,
                    port,
                    e
                );
                errors.push(format!("{}:{}: {}", host, port, e));
            }
        }
    }
    Err(format!("fetching topic metadata for topics {:?} from brokers [{}] failed", topics, errors.join(", ")))
}

/// The cache of topic metadata and broker addresses.
#[derive(Debug)]
pub struct BrokerPartitionInfo {
    bootstrap: Vec<(String, u16)>,
    client_id: String,
    timeout: Duration,
    topics: HashMap<String, TopicMetadata>,
    brokers: HashMap<i32, Broker>,
}

impl BrokerPartitionInfo {
    pub fn new(bootstrap: Vec<(String, u16)>, client_id: String, timeout: Duration) -> BrokerPartitionInfo {
        BrokerPartitionInfo { bootstrap, client_id, timeout, topics: HashMap::new(), brokers: HashMap::new() }
    }

    /// Refresh the metadata of `topics`. A topic answered with an error is not cached (it is
    /// fetched again on next use), as in 0.8.2; every live broker's address is remembered.
    pub async fn update_info(&mut self, topics: &[String], rng: &mut Random) -> Result<(), String> {
        let response = fetch_topic_metadata(&self.bootstrap, topics, &self.client_id, self.timeout, rng).await?;
        for b in response.brokers {
            self.brokers.insert(b.id, b);
        }
        for tmd in response.topics {
            if tmd.error_code == ErrorCode::NoError {
                for p in &tmd.partitions {
                    if p.error_code == ErrorCode::LeaderNotAvailable {
                        log::warn!(
                            "Error while fetching metadata for partition [{},{}]: {}",
                            tmd.topic,
                            p.partition,
                            p.error_code
                        );
                    }
                }
                self.topics.insert(tmd.topic.clone(), tmd);
            } else {
                log::warn!("Error while fetching metadata for topic {}: {}", tmd.topic, tmd.error_code);
                self.topics.remove(&tmd.topic);
            }
        }
        Ok(())
    }

    /// The partitions of `topic` sorted by id, fetching its metadata if it is not cached
    /// (0.8.2 `getBrokerPartitionInfo`). Errors say why no partition list is available.
    pub async fn partitions(&mut self, topic: &str, rng: &mut Random) -> Result<Vec<PartitionAndLeader>, String> {
        if !self.topics.contains_key(topic) {
            let requested = vec![topic.to_string()];
            let response =
                fetch_topic_metadata(&self.bootstrap, &requested, &self.client_id, self.timeout, rng).await?;
            let error = response.topics.iter().find(|t| t.topic == topic).map(|t| t.error_code);
            for b in &response.brokers {
                self.brokers.insert(b.id, b.clone());
            }
            for tmd in response.topics {
                if tmd.error_code == ErrorCode::NoError {
                    self.topics.insert(tmd.topic.clone(), tmd);
                }
            }
            if !self.topics.contains_key(topic) {
                return Err(match error {
                    Some(code) => format!("topic metadata error {}", code),
                    None => format!("Failed to fetch topic metadata for topic: {}", topic),
                });
            }
        }
        let tmd = &self.topics[topic];
        if tmd.partitions.is_empty() {
            return Err(format!("topic metadata for {} has no partitions", topic));
        }
        let mut out: Vec<PartitionAndLeader> = tmd
            .partitions
            .iter()
            .map(|p| PartitionAndLeader {
                partition: p.partition,
                leader: (p.leader >= 0 && self.brokers.contains_key(&p.leader)).then_some(p.leader),
            })
            .collect();
        out.sort_by_key(|p| p.partition);
        Ok(out)
    }

    /// The address of broker `id` as the metadata gave it.
    pub fn broker(&self, id: i32) -> Option<&Broker> {
        self.brokers.get(&id)
    }
}
