//! Typed reads of the znodes of docs/zookeeper-layout.md (0.8.2 `ZkUtils`): brokers,
//! topics and their assignments, partition states, topic configs, consumer offsets and
//! owners, admin requests. Every module that reads these znodes goes through here, so each
//! document is parsed in one place with one error policy: a missing node is `None`, a node
//! that does not parse is [`QueryError::Corrupt`] naming the path (callers that must go on,
//! like the controller and the broker, log it and use their defaults).

use super::json::{
    parse_config_change_notification, BrokerRegistration, ConsumerRegistration, ControllerRegistration, PartitionList, PartitionState,
    TopicAssignment, TopicConfig,
};
use super::{paths, WatchFuture, ZkClient, ZkError, ZkResult};
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

    /// Every partition as 0.8.2's `ZkUtils.getAllPartitions` listed them: topics in the
    /// order ZooKeeper lists `/brokers/topics`, each topic's partitions in the order it
    /// lists `/brokers/topics/<t>/partitions` (the assignment's ids, for a topic whose
    /// partition znodes the controller has not made yet: 0.8.2 failed on it).
    pub async fn all_partitions_as_listed(&self) -> QueryResult<Vec<TopicPartition>> {
        let mut out = Vec::new();
        for topic in self.get_children(paths::BROKER_TOPICS).await?.unwrap_or_default() {
            let listed = self.get_children(&paths::topic_partitions(&topic)).await?;
            let ids: Vec<i32> = match listed {
                Some(children) => children.iter().filter_map(|c| c.parse().ok()).collect(),
                None => self.topic_assignment(&topic).await?.map(|a| a.keys().copied().collect()).unwrap_or_default(),
            };
            out.extend(ids.into_iter().map(|p| TopicPartition::new(topic.clone(), p)));
        }
        Ok(out)
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
        partition_list(paths::PREFERRED_REPLICA_ELECTION, &data).map(Some)
    }
}

/// One `/config/changes/config_change_<seq>` notification, by name and sequence number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigChange {
    pub seq: i64,
    pub name: String,
}

/// Config change notifications among `children`, oldest first; other names are skipped.
fn config_changes(children: Vec<String>) -> Vec<ConfigChange> {
    let mut out: Vec<ConfigChange> = children
        .into_iter()
        .filter_map(|c| c.strip_prefix(paths::CONFIG_CHANGE_PREFIX).and_then(|n| n.parse::<i64>().ok()).map(|seq| ConfigChange { seq, name: c }))
        .collect();
    out.sort();
    out
}

fn corrupt(path: &str, why: impl fmt::Display) -> QueryError {
    QueryError::Corrupt(format!("{}: {}", path, why))
}

/// A watched read: what the node holds (`Ok(None)`: no node, `Err(Corrupt)`: unreadable)
/// and the wake-up for its next change, armed whatever the node holds.
pub type Watched<T> = (QueryResult<Option<T>>, WatchFuture);

/// Who holds `/controller`: the broker id it names and the session owning the ephemeral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerNode {
    pub broker_id: i32,
    pub session: i64,
}

fn numeric_children(parent: &str, children: Vec<String>) -> Vec<i32> {
    let mut ids: Vec<i32> = children
        .into_iter()
        .filter_map(|c| match c.parse::<i32>() {
            Ok(id) => Some(id),
            Err(_) => {
                log::warn!("ignoring {}/{}: not a number", parent, c);
                None
            }
        })
        .collect();
    ids.sort_unstable();
    ids
}

fn partition_list(path: &str, data: &[u8]) -> QueryResult<Vec<TopicPartition>> {
    let list = PartitionList::parse(data).map_err(|e| corrupt(path, e))?;
    Ok(list.partitions.into_iter().map(|e| TopicPartition::new(e.topic, e.partition)).collect())
}

/// `/admin/reassign_partitions`'s entries, in the node's order; an entry without replicas
/// is corrupt, as 0.8.2 threw on it.
fn reassignment_entries(data: &[u8]) -> QueryResult<Vec<(TopicPartition, Vec<i32>)>> {
    let path = paths::REASSIGN_PARTITIONS;
    let list = PartitionList::parse(data).map_err(|e| corrupt(path, e))?;
    let mut out = Vec::with_capacity(list.partitions.len());
    for e in list.partitions {
        let Some(replicas) = e.replicas else {
            return Err(corrupt(path, format!("no replicas for partition {} of topic {}", e.partition, e.topic)));
        };
        out.push((TopicPartition::new(e.topic, e.partition), replicas));
    }
    Ok(out)
}

impl ZkClient {
    /// `/controller` and a wake-up for its next change.
    pub async fn watch_controller(&self) -> ZkResult<Watched<ControllerNode>> {
        let (data, fired) = self.watch_data(paths::CONTROLLER).await?;
        let read = match data {
            None => Ok(None),
            Some((data, stat)) => ControllerRegistration::parse(&data)
                .map(|r| Some(ControllerNode { broker_id: r.brokerid, session: stat.ephemeral_owner }))
                .map_err(|e| corrupt(paths::CONTROLLER, e)),
        };
        Ok((read, fired))
    }

    /// Registered broker ids, ascending, and a wake-up for the next change of the list.
    pub async fn watch_broker_ids(&self) -> ZkResult<(Vec<i32>, WatchFuture)> {
        let (children, fired) = self.watch_children(paths::BROKER_IDS).await?;
        Ok((numeric_children(paths::BROKER_IDS, children.unwrap_or_default()), fired))
    }

    /// Registrations of `ids` with each znode's czxid (a broker that re-registered between
    /// two reads keeps its id, not its czxid: KAFKA-1120), batched; vanished ones are
    /// skipped, unreadable ones logged and skipped.
    pub async fn brokers_with_czxid(&self, ids: &[i32]) -> ZkResult<Vec<(Broker, i64)>> {
        let nodes: Vec<String> = ids.iter().map(|id| paths::broker(*id)).collect();
        let mut out = Vec::with_capacity(ids.len());
        for ((id, path), data) in ids.iter().zip(&nodes).zip(super::state::read_many_stat(self, &nodes).await?) {
            let Some((data, stat)) = data else { continue };
            match BrokerRegistration::parse(&data) {
                Ok(r) => out.push((Broker::new(*id, r.host, r.port), stat.czxid)),
                Err(e) => log::error!("ignoring broker {}: {}", id, corrupt(path, e)),
            }
        }
        Ok(out)
    }

    /// Every topic, sorted, and a wake-up for the next change of the list.
    pub async fn watch_topics(&self) -> ZkResult<(Vec<String>, WatchFuture)> {
        let (children, fired) = self.watch_children(paths::BROKER_TOPICS).await?;
        let mut topics = children.unwrap_or_default();
        topics.sort();
        Ok((topics, fired))
    }

    /// A topic's assignment and a wake-up for its next change.
    pub async fn watch_topic_assignment(&self, topic: &str) -> ZkResult<Watched<Assignment>> {
        let path = paths::topic(topic);
        let (data, fired) = self.watch_data(&path).await?;
        let read = match data {
            None => Ok(None),
            Some((data, _)) => TopicAssignment::parse(&data).map(|a| Some(a.partitions)).map_err(|e| corrupt(&path, e)),
        };
        Ok((read, fired))
    }

    /// The pending preferred replica election and a wake-up for its next change.
    pub async fn watch_preferred_replica_election(&self) -> ZkResult<Watched<Vec<TopicPartition>>> {
        let (data, fired) = self.watch_data(paths::PREFERRED_REPLICA_ELECTION).await?;
        let read = match data {
            None => Ok(None),
            Some((data, _)) => partition_list(paths::PREFERRED_REPLICA_ELECTION, &data).map(Some),
        };
        Ok((read, fired))
    }

    /// The running reassignment with the node's version (for a conditional rewrite), and
    /// a wake-up for its next change.
    pub async fn watch_partitions_being_reassigned(&self) -> ZkResult<Watched<(Vec<(TopicPartition, Vec<i32>)>, i32)>> {
        let (data, fired) = self.watch_data(paths::REASSIGN_PARTITIONS).await?;
        let read = match data {
            None => Ok(None),
            Some((data, stat)) => reassignment_entries(&data).map(|r| Some((r, stat.version))),
        };
        Ok((read, fired))
    }

    /// Pending ISR change notifications (child names) and a wake-up for new ones.
    pub async fn watch_isr_change_notifications(&self) -> ZkResult<(Vec<String>, WatchFuture)> {
        let (children, fired) = self.watch_children(paths::ISR_CHANGE_NOTIFICATION).await?;
        let mut names = children.unwrap_or_default();
        names.sort();
        Ok((names, fired))
    }

    /// The partitions the notifications `names` announce, batched; vanished ones are
    /// skipped, unreadable ones logged and skipped.
    pub async fn isr_change_notifications(&self, names: &[String]) -> ZkResult<Vec<TopicPartition>> {
        let nodes: Vec<String> = names.iter().map(|c| paths::isr_change_notification(c)).collect();
        let mut out = Vec::new();
        for (path, data) in nodes.iter().zip(super::state::read_many(self, &nodes).await?) {
            let Some((data, _)) = data else { continue };
            match partition_list(path, &data) {
                Ok(tps) => out.extend(tps),
                Err(e) => log::warn!("ignoring an isr change notification: {}", e),
            }
        }
        Ok(out)
    }

    /// Rewrite a topic's assignment (unconditional, as 0.8.2's controller); a topic
    /// deleted meanwhile is not an error.
    pub async fn write_topic_assignment(&self, topic: &str, assignment: &Assignment) -> ZkResult<()> {
        match self.set_data(&paths::topic(topic), &TopicAssignment::new(assignment.clone()).to_bytes(), None).await {
            Ok(_) | Err(ZkError::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Delete the notifications `names` (batched; gone already is fine).
    pub async fn delete_isr_change_notifications(&self, names: &[String]) -> ZkResult<()> {
        let nodes: Vec<String> = names.iter().map(|c| paths::isr_change_notification(c)).collect();
        super::state::delete_many(self, &nodes).await
    }

    /// A broker's registration and a wake-up for its next change (`None`: not registered).
    pub async fn watch_broker(&self, id: i32) -> QueryResult<(Option<Broker>, WatchFuture)> {
        let path = paths::broker(id);
        let (data, fired) = self.watch_data(&path).await?;
        let Some((data, _)) = data else { return Ok((None, fired)) };
        let r = BrokerRegistration::parse(&data).map_err(|e| corrupt(&path, e))?;
        Ok((Some(Broker::new(id, r.host, r.port)), fired))
    }

    /// Every registration as written (host, port, metrics port), vanished and unreadable
    /// ones skipped: what an operator's console shows.
    pub async fn broker_registrations(&self) -> QueryResult<BTreeMap<i32, BrokerRegistration>> {
        let mut out = BTreeMap::new();
        for id in self.broker_ids().await? {
            let path = paths::broker(id);
            if let Some((data, _)) = self.get_data(&path).await? {
                match BrokerRegistration::parse(&data) {
                    Ok(r) => {
                        out.insert(id, r);
                    }
                    Err(e) => log::warn!("ignoring broker {}: {}", id, corrupt(&path, e)),
                }
            }
        }
        Ok(out)
    }

    /// Whether `/brokers/topics/<topic>` exists.
    pub async fn topic_exists(&self, topic: &str) -> QueryResult<bool> {
        Ok(self.exists(&paths::topic(topic)).await?.is_some())
    }

    /// Partition ids under `/brokers/topics/<topic>/partitions`, ascending (non-numeric
    /// children skipped).
    pub async fn topic_partition_ids(&self, topic: &str) -> QueryResult<Vec<i32>> {
        Ok(sorted_ids(self.get_children(&paths::topic_partitions(topic)).await?.unwrap_or_default()))
    }

    /// The children of `/brokers/topics/<topic>/partitions` as named (`None`: no such
    /// node), for the controller's first state znodes.
    pub async fn topic_partition_nodes(&self, topic: &str) -> ZkResult<Option<Vec<String>>> {
        self.get_children(&paths::topic_partitions(topic)).await
    }

    /// A partition's state with its znode version (`None`: no state znode).
    pub async fn partition_state_versioned(&self, topic: &str, partition: i32) -> QueryResult<Option<(PartitionState, i32)>> {
        let path = paths::partition_state(topic, partition);
        let Some((data, stat)) = self.get_data(&path).await? else { return Ok(None) };
        let s = PartitionState::parse(&data).map_err(|e| corrupt(&path, e))?;
        Ok(Some((s, stat.version)))
    }

    /// Whether `/admin/delete_topics/<topic>` exists.
    pub async fn is_marked_for_deletion(&self, topic: &str) -> QueryResult<bool> {
        Ok(self.exists(&paths::delete_topic_marker(topic)).await?.is_some())
    }

    /// Topics marked for deletion and a wake-up for the next change of the list.
    pub async fn watch_topics_marked_for_deletion(&self) -> QueryResult<(Vec<String>, WatchFuture)> {
        let (children, fired) = self.watch_children(paths::DELETE_TOPICS).await?;
        let mut topics = children.unwrap_or_default();
        topics.sort();
        Ok((topics, fired))
    }

    /// `/admin/reassign_partitions` as written: target replicas per partition, in the
    /// node's order (`None`: no reassignment running). An entry without replicas is
    /// corrupt, as 0.8.2 threw on it.
    pub async fn partitions_being_reassigned(&self) -> QueryResult<Option<Vec<(TopicPartition, Vec<i32>)>>> {
        let Some((data, _)) = self.get_data(paths::REASSIGN_PARTITIONS).await? else { return Ok(None) };
        reassignment_entries(&data).map(Some)
    }

    /// Whether `/consumers/<group>` exists.
    pub async fn consumer_group_exists(&self, group: &str) -> QueryResult<bool> {
        Ok(self.exists(&paths::consumer_group(group)).await?.is_some())
    }

    /// Whether `group` has an offsets node (it committed at least once).
    pub async fn consumer_group_has_offsets(&self, group: &str) -> QueryResult<bool> {
        Ok(self.exists(&paths::consumer_offsets(group)).await?.is_some())
    }

    /// Whether `group` has an offsets node for `topic`.
    pub async fn consumer_topic_has_offsets(&self, group: &str, topic: &str) -> QueryResult<bool> {
        Ok(self.exists(&paths::consumer_offsets_topic(group, topic)).await?.is_some())
    }

    /// The offset node's text as written (`None`: none committed), for tools that copy
    /// offsets verbatim.
    pub async fn consumer_offset_text(&self, group: &str, topic: &str, partition: i32) -> QueryResult<Option<String>> {
        Ok(self.get_data(&paths::consumer_offset(group, topic, partition)).await?.map(|(d, _)| String::from_utf8_lossy(&d).into_owned()))
    }

    /// Registered members (consumer ids) of `group`, sorted.
    pub async fn consumer_ids(&self, group: &str) -> QueryResult<Vec<String>> {
        let mut ids = self.get_children(&paths::consumer_ids(group)).await?.unwrap_or_default();
        ids.sort();
        Ok(ids)
    }

    /// A member's registration (`None`: it left).
    pub async fn consumer_registration(&self, group: &str, consumer_id: &str) -> QueryResult<Option<ConsumerRegistration>> {
        let path = paths::consumer_id(group, consumer_id);
        let Some((data, _)) = self.get_data(&path).await? else { return Ok(None) };
        ConsumerRegistration::parse(&data).map(Some).map_err(|e| corrupt(&path, e))
    }

    /// The session holding a member's ephemeral registration (`None`: not registered).
    pub async fn consumer_registration_session(&self, group: &str, consumer_id: &str) -> QueryResult<Option<i64>> {
        Ok(self.exists(&paths::consumer_id(group, consumer_id)).await?.map(|s| s.ephemeral_owner))
    }

    /// Config change notifications, oldest first, and a wake-up for the next change.
    pub async fn watch_config_changes(&self) -> QueryResult<(Vec<ConfigChange>, WatchFuture)> {
        let (children, fired) = self.watch_children(paths::CONFIG_CHANGES).await?;
        Ok((config_changes(children.unwrap_or_default()), fired))
    }

    /// The topic a notification names (`None`: it is gone or names nothing).
    pub async fn config_change_topic(&self, change: &ConfigChange) -> QueryResult<Option<String>> {
        Ok(self.get_data(&paths::config_change(&change.name)).await?.and_then(|(d, _)| parse_config_change_notification(&d)))
    }

    /// When a notification was created, in ms since the epoch (`None`: it is gone).
    pub async fn config_change_ctime(&self, change: &ConfigChange) -> QueryResult<Option<i64>> {
        Ok(self.exists(&paths::config_change(&change.name)).await?.map(|s| s.ctime))
    }

    /// Delete a notification (0.8.2 purges expired ones); gone already is fine.
    pub async fn delete_config_change(&self, change: &ConfigChange) -> QueryResult<()> {
        self.delete(&paths::config_change(&change.name)).await?;
        Ok(())
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
    fn config_changes_are_oldest_first_and_skip_strangers() {
        let c = config_changes(vec!["config_change_0000000010".into(), "x".into(), "config_change_0000000002".into()]);
        assert_eq!(c.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![2, 10]);
        assert_eq!(c[0].name, "config_change_0000000002");
    }

    #[test]
    fn broker_ids_are_numeric_and_ascending() {
        assert_eq!(sorted_ids(vec!["10".into(), "2".into(), "x".into(), "1".into()]), vec![1, 2, 10]);
    }
}
