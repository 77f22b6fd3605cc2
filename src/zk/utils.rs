//! Typed reads of the znodes of docs/zookeeper-layout.md (0.8.2 `ZkUtils`): brokers,
//! topics and their assignments, partition states, topic configs, consumer offsets and
//! owners, admin requests. Every module that reads these znodes goes through here, so each
//! document is parsed in one place with one error policy: a missing node is `None`, a node
//! that does not parse is [`QueryError::Corrupt`] naming the path (callers that must go on,
//! like the controller and the broker, log it and use their defaults).

use super::json::{BrokerRegistration, ControllerRegistration, PartitionList, PartitionState, TopicAssignment, TopicConfig};
use super::{paths, ZkClient, ZkError};
use crate::api::Broker;
use crate::common::{Properties, TopicPartition};
use std::collections::BTreeMap;
use std::fmt;

/// Why a typed read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Zk(ZkError),
    /// The node exists but does not hold what the layout says: "<path>: <why>".
    Corrupt(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Zk(e) => write!(f, "{}", e),
            QueryError::Corrupt(why) => write!(f, "{}", why),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<ZkError> for QueryError {
    fn from(e: ZkError) -> Self {
        QueryError::Zk(e)
    }
}

pub type QueryResult<T> = Result<T, QueryError>;

/// Replicas per partition, as `/brokers/topics/<topic>` holds them.
pub type Assignment = BTreeMap<i32, Vec<i32>>;

/// `/config/topics/<topic>`'s JSON as properties. A node without JSON (blank) holds no
/// overrides, as 0.8.2 read it.
pub fn parse_topic_config(topic: &str, data: &[u8]) -> QueryResult<Properties> {
    let mut props = Properties::new();
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(props);
    }
    let config =
        TopicConfig::parse(data).map_err(|e| QueryError::Corrupt(format!("{}: {}", paths::topic_config(topic), e)))?;
    for (k, v) in config.config {
        props.set(k, v);
    }
    Ok(props)
}

fn sorted_ids(children: Vec<String>) -> Vec<i32> {
    let mut ids: Vec<i32> = children.iter().filter_map(|c| c.parse::<i32>().ok()).collect();
    ids.sort_unstable();
    ids
}

impl ZkClient {
    /// Registered broker ids, ascending (0.8.2 `getSortedBrokerList`); non-numeric
    /// children are skipped.
    pub async fn broker_ids(&self) -> QueryResult<Vec<i32>> {
        Ok(sorted_ids(self.get_children(paths::BROKER_IDS).await?.unwrap_or_default()))
    }

    /// A broker's registration (`None`: not registered).
    pub async fn broker(&self, id: i32) -> QueryResult<Option<Broker>> {
        let path = paths::broker(id);
        let Some((data, _)) = self.get_data(&path).await? else { return Ok(None) };
        let r = BrokerRegistration::parse(&data).map_err(|e| QueryError::Corrupt(format!("{}: {}", path, e)))?;
        Ok(Some(Broker::new(id, r.host, r.port)))
    }

    /// Every readable registration (0.8.2 `getAllBrokersInCluster`): vanished ones are
    /// skipped, unreadable ones logged and skipped.
    pub async fn brokers(&self) -> QueryResult<BTreeMap<i32, Broker>> {
        let mut out = BTreeMap::new();
        for id in self.broker_ids().await? {
            match self.broker(id).await {
                Ok(Some(b)) => {
                    out.insert(id, b);
                }
                Ok(None) => {}
                Err(QueryError::Corrupt(why)) => log::warn!("ignoring broker {}: {}", id, why),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The controller's broker id (`None`: no controller).
    pub async fn controller_id(&self) -> QueryResult<Option<i32>> {
        let Some((data, _)) = self.get_data(paths::CONTROLLER).await? else { return Ok(None) };
        let r = ControllerRegistration::parse(&data)
            .map_err(|e| QueryError::Corrupt(format!("{}: {}", paths::CONTROLLER, e)))?;
        Ok(Some(r.brokerid))
    }

    /// Every topic under `/brokers/topics`, sorted.
    pub async fn topics(&self) -> QueryResult<Vec<String>> {
        let mut topics = self.get_children(paths::BROKER_TOPICS).await?.unwrap_or_default();
        topics.sort();
        Ok(topics)
    }

    /// A topic's assignment (`None`: no such topic), partition ids as written.
    pub async fn topic_assignment(&self, topic: &str) -> QueryResult<Option<Assignment>> {
        let path = paths::topic(topic);
        let Some((data, _)) = self.get_data(&path).await? else { return Ok(None) };
        let a = TopicAssignment::parse(&data).map_err(|e| QueryError::Corrupt(format!("{}: {}", path, e)))?;
        Ok(Some(a.partitions))
    }

    /// A partition's leader and ISR (`None`: no state znode yet).
    pub async fn partition_state(&self, topic: &str, partition: i32) -> QueryResult<Option<PartitionState>> {
        let path = paths::partition_state(topic, partition);
        let Some((data, _)) = self.get_data(&path).await? else { return Ok(None) };
        PartitionState::parse(&data).map(Some).map_err(|e| QueryError::Corrupt(format!("{}: {}", path, e)))
    }

    /// A partition's leader, `None` when it has none (no or unreadable state, leader -1),
    /// as 0.8.2 `getLeaderForPartition`.
    pub async fn partition_leader(&self, topic: &str, partition: i32) -> QueryResult<Option<i32>> {
        match self.partition_state(topic, partition).await {
            Ok(s) => Ok(s.map(|s| s.leader).filter(|l| *l >= 0)),
            Err(QueryError::Corrupt(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A topic's config overrides (empty: none, or no node); see [`parse_topic_config`].
    pub async fn topic_config(&self, topic: &str) -> QueryResult<Properties> {
        match self.get_data(&paths::topic_config(topic)).await? {
            None => Ok(Properties::new()),
            Some((data, _)) => parse_topic_config(topic, &data),
        }
    }

    /// Topics with config overrides (children of `/config/topics`).
    pub async fn topics_with_config(&self) -> QueryResult<Vec<String>> {
        let mut topics = self.get_children(paths::CONFIG_TOPICS).await?.unwrap_or_default();
        topics.sort();
        Ok(topics)
    }

    /// Consumer groups under `/consumers`, sorted.
    pub async fn consumer_groups(&self) -> QueryResult<Vec<String>> {
        let mut groups = self.get_children(paths::CONSUMERS).await?.unwrap_or_default();
        groups.sort();
        Ok(groups)
    }

    /// Topics with committed offsets of `group` (`None`: the group has no offsets node).
    pub async fn consumer_offset_topics(&self, group: &str) -> QueryResult<Option<Vec<String>>> {
        Ok(self.get_children(&paths::consumer_offsets(group)).await?.map(|mut t| {
            t.sort();
            t
        }))
    }

    /// Partitions with a committed offset of `group` in `topic`, ascending.
    pub async fn consumer_offset_partitions(&self, group: &str, topic: &str) -> QueryResult<Vec<i32>> {
        Ok(sorted_ids(self.get_children(&paths::consumer_offsets_topic(group, topic)).await?.unwrap_or_default()))
    }

    /// Topics some consumer of `group` owns partitions of.
    pub async fn consumer_owner_topics(&self, group: &str) -> QueryResult<Vec<String>> {
        let mut t = self.get_children(&paths::consumer_owners(group)).await?.unwrap_or_default();
        t.sort();
        Ok(t)
    }

    /// The offset `group` committed for a partition (`None`: none committed).
    pub async fn consumer_offset(&self, group: &str, topic: &str, partition: i32) -> QueryResult<Option<i64>> {
        let path = paths::consumer_offset(group, topic, partition);
        let Some((data, _)) = self.get_data(&path).await? else { return Ok(None) };
        let text = String::from_utf8_lossy(&data);
        text.trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| QueryError::Corrupt(format!("{}: not an offset: {:?}", path, text)))
    }

    /// The consumer thread owning a partition for `group` (`None`: unowned).
    pub async fn consumer_owner(&self, group: &str, topic: &str, partition: i32) -> QueryResult<Option<String>> {
        Ok(self
            .get_data(&paths::consumer_owner(group, topic, partition))
            .await?
            .map(|(data, _)| String::from_utf8_lossy(&data).into_owned()))
    }

    /// The partitions of a pending preferred replica election (`None`: none pending).
    pub async fn preferred_replica_election(&self) -> QueryResult<Option<Vec<TopicPartition>>> {
        let Some((data, _)) = self.get_data(paths::PREFERRED_REPLICA_ELECTION).await? else { return Ok(None) };
        let list = PartitionList::parse(&data)
            .map_err(|e| QueryError::Corrupt(format!("{}: {}", paths::PREFERRED_REPLICA_ELECTION, e)))?;
        Ok(Some(list.partitions.into_iter().map(|e| TopicPartition::new(e.topic, e.partition)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_config_is_parsed_once_with_one_policy() {
        let props = parse_topic_config("t", br#"{"version":1,"config":{"cleanup.policy":"compact"}}"#).unwrap();
        assert_eq!(props.get("cleanup.policy"), Some("compact"));
        assert!(parse_topic_config("t", b"  \n").unwrap().iter().next().is_none(), "blank: no overrides");
        match parse_topic_config("t", b"{not json") {
            Err(QueryError::Corrupt(why)) => assert!(why.starts_with("/config/topics/t: "), "{}", why),
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn broker_ids_are_numeric_and_ascending() {
        assert_eq!(sorted_ids(vec!["10".into(), "2".into(), "x".into(), "1".into()]), vec![1, 2, 10]);
    }
}
