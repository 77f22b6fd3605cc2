//! Topics in ZooKeeper, as 0.8.2 `kafka.admin.AdminUtils` kept them (see
//! docs/zookeeper-layout.md): create (automatic or manual assignment), add partitions, change the
//! config overrides, mark for deletion, and read back what `kafka-topics.sh --describe`
//! shows. The broker uses [`create_topic`] for auto-creation and the offsets topic.
//!
//! Checks run in 0.8.2's order, and every error's `Display` is the message 0.8.2's
//! exception carried (`getMessage`), `requirement failed: ` prefixes included, so the tool
//! can print `Error while executing topic command <message>` byte for byte.

use super::assignment::{assign_replicas_to_brokers, time_seeded_random, AssignmentError};
use super::java_order::JavaHashtable;
use crate::common::{validate_topic_name, Properties};
use crate::log::{LogConfig, TOPIC_CONFIG_NAMES};
use crate::zk::json::{config_change_notification, PartitionState, TopicAssignment, TopicConfig};
use crate::zk::{paths, QueryError, ZkClient, ZkError};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The 0.8.2 internal offsets topic (`OffsetManager.OffsetsTopicName`).
pub const OFFSETS_TOPIC_NAME: &str = "__consumer_offsets";

/// Partition id → replica list (first = preferred replica).
pub type ReplicaAssignment = BTreeMap<i32, Vec<i32>>;

/// Why an admin operation was refused. `Display` is 0.8.2's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// `/brokers/topics/<topic>` exists (0.8.2 `TopicExistsException`); holds the topic.
    TopicExists(String),
    /// The topic is not in ZooKeeper.
    TopicNotFound(String),
    /// The topic name breaks 0.8.2's rules (`InvalidTopicException`).
    InvalidTopic(String),
    InvalidPartitions(String),
    InvalidReplicationFactor(String),
    /// A manual assignment that is malformed or inconsistent.
    InvalidReplicaAssignment(String),
    /// An unknown per-topic key or a value that does not parse.
    InvalidConfig(String),
    /// A znode holds data that does not parse.
    Corrupt(String),
    Zk(ZkError),
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::TopicExists(topic) => write!(f, "Topic \"{}\" already exists.", topic),
            AdminError::TopicNotFound(m)
            | AdminError::InvalidTopic(m)
            | AdminError::InvalidPartitions(m)
            | AdminError::InvalidReplicationFactor(m)
            | AdminError::InvalidReplicaAssignment(m)
            | AdminError::InvalidConfig(m)
            | AdminError::Corrupt(m) => f.write_str(m),
            AdminError::Zk(e) => write!(f, "ZooKeeper error: {}", e),
        }
    }
}

impl std::error::Error for AdminError {}

impl From<QueryError> for AdminError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Zk(e) => AdminError::Zk(e),
            QueryError::Corrupt(why) => AdminError::Corrupt(why),
        }
    }
}

impl From<ZkError> for AdminError {
    fn from(e: ZkError) -> Self {
        AdminError::Zk(e)
    }
}

impl From<AssignmentError> for AdminError {
    fn from(e: AssignmentError) -> Self {
        match e {
            AssignmentError::BadPartitions(_) => AdminError::InvalidPartitions(e.to_string()),
            AssignmentError::BadReplicationFactor(_) | AssignmentError::ReplicationFactorTooLarge { .. } => {
                AdminError::InvalidReplicationFactor(e.to_string())
            }
        }
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

// ---------------------------------------------------------------------------------------
// Validation (pure)

/// 0.8.2 `Topic.validate`. The message of a name without a single legal character has two
/// spaces after "illegal," in 0.8.2 (its `None` branch), and so it has here.
pub fn validate_topic(topic: &str) -> AdminResult<()> {
    validate_topic_name(topic).map_err(|message| {
        let legal = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-';
        let length_ok = !topic.is_empty() && topic != "." && topic != ".." && topic.len() <= 255;
        if length_ok && !topic.chars().any(legal) {
            AdminError::InvalidTopic(format!(
                "topic name {} is illegal,  contains a character other than ASCII alphanumerics, '.', '_' and '-'",
                topic
            ))
        } else {
            AdminError::InvalidTopic(message)
        }
    })
}

/// The Java type 0.8.2's `LogConfig.fromProps` converted each per-topic key with, in the
/// order it did so (so the first bad value reported is 0.8.2's).
const CONFIG_VALUE_TYPES: &[(&str, JavaType)] = &[
    ("segment.bytes", JavaType::Int),
    ("segment.ms", JavaType::Long),
    ("segment.jitter.ms", JavaType::Long),
    ("segment.index.bytes", JavaType::Int),
    ("flush.messages", JavaType::Long),
    ("flush.ms", JavaType::Long),
    ("retention.bytes", JavaType::Long),
    ("retention.ms", JavaType::Long),
    ("max.message.bytes", JavaType::Int),
    ("index.interval.bytes", JavaType::Int),
    ("file.delete.delay.ms", JavaType::Int),
    ("delete.retention.ms", JavaType::Long),
    ("min.cleanable.dirty.ratio", JavaType::Double),
    ("cleanup.policy", JavaType::Str),
    ("unclean.leader.election.enable", JavaType::Bool),
    ("min.insync.replicas", JavaType::Int),
];

#[derive(Debug, Clone, Copy)]
enum JavaType {
    Int,
    Long,
    Double,
    Bool,
    Str,
}

/// Java `Integer.parseInt` / `Long.parseLong`: an optional sign and ASCII digits, no spaces.
fn java_parse_integer(s: &str, min: i64, max: i64) -> Option<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i128 = s.parse().ok()?;
    (v >= min as i128 && v <= max as i128).then_some(v as i64)
}

/// Java `Integer.parseInt`.
pub fn java_parse_int(s: &str) -> Option<i32> {
    java_parse_integer(s, i32::MIN as i64, i32::MAX as i64).map(|v| v as i32)
}

/// The message of Java's `NumberFormatException` (and of Scala's `toBoolean`).
fn for_input_string(s: &str) -> String {
    format!("For input string: \"{}\"", s)
}

fn check_java_value(value: &str, ty: JavaType) -> Result<(), String> {
    let ok = match ty {
        JavaType::Int => java_parse_int(value).is_some(),
        JavaType::Long => java_parse_integer(value, i64::MIN, i64::MAX).is_some(),
        // Double.parseDouble trims; Rust's parser takes the same decimal and exponent forms.
        JavaType::Double => {
            let t = value.trim();
            let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
            t.parse::<f64>().is_ok()
        }
        JavaType::Bool => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        JavaType::Str => true,
    };
    if ok {
        Ok(())
    } else if matches!(ty, JavaType::Double) && value.trim().is_empty() {
        Err("empty String".to_string())
    } else {
        Err(for_input_string(value))
    }
}

/// 0.8.2 `LogConfig.validate`: every key a per-topic key (met in `Properties` order, so the
/// unknown key named is the one 0.8.2 named), `min.insync.replicas` at least 1, every value
/// convertible as 0.8.2 converted it. Then the ranges kafka08's log enforces (stricter than
/// 0.8.2, which took e.g. `segment.bytes=1` or any `cleanup.policy`): refusing them here
/// beats a broker that cannot apply the topic's config later.
pub fn validate_config(config: &Properties) -> AdminResult<()> {
    let table = JavaHashtable::from_pairs(config.iter());
    for (key, _) in table.iter() {
        if !TOPIC_CONFIG_NAMES.contains(&key) {
            return Err(AdminError::InvalidConfig(format!("requirement failed: Unknown configuration \"{}\".", key)));
        }
    }
    if let Some(v) = config.get("min.insync.replicas") {
        match java_parse_int(v) {
            None => return Err(AdminError::InvalidConfig(for_input_string(v))),
            Some(n) if n < 1 => {
                return Err(AdminError::InvalidConfig(format!(
                    "Wrong value {} of min.insync.replicas in topic configuration;  Valid values are at least 1",
                    v
                )))
            }
            Some(_) => {}
        }
    }
    for (key, ty) in CONFIG_VALUE_TYPES {
        if let Some(v) = config.get(key) {
            check_java_value(v, *ty).map_err(AdminError::InvalidConfig)?;
        }
    }
    LogConfig::default().with_topic_overrides(config).map_err(|e| AdminError::InvalidConfig(e.to_string()))?;
    Ok(())
}

/// Java `String.split` with a one-character separator: no match gives the whole string,
/// trailing empty pieces are dropped.
pub(crate) fn java_split(s: &str, sep: char) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// Brokers of one manual-assignment entry (`b1:b2:b3`), each trimmed and read as Java's
/// `toInt` did (`NumberFormatException` text on failure).
fn parse_broker_list(entry: &str) -> AdminResult<Vec<i32>> {
    java_split(entry, ':')
        .into_iter()
        .map(|b| {
            let b = b.trim();
            java_parse_int(b).ok_or_else(|| AdminError::InvalidReplicaAssignment(for_input_string(b)))
        })
        .collect()
}

/// Brokers listed more than once, ascending.
fn duplicates(brokers: &[i32]) -> Vec<i32> {
    let mut seen = BTreeSet::new();
    let mut dups = BTreeSet::new();
    for b in brokers {
        if !seen.insert(*b) {
            dups.insert(*b);
        }
    }
    dups.into_iter().collect()
}

fn join(ids: &[i32], sep: &str) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// 0.8.2 `TopicCommand.parseReplicaAssignment`: `b1:b2,b3:b4,...`, one entry per partition
/// from 0, no broker twice in an entry, every entry the same length as the first.
pub fn parse_replica_assignment(s: &str) -> AdminResult<ReplicaAssignment> {
    let mut ret = ReplicaAssignment::new();
    for (i, entry) in java_split(s, ',').into_iter().enumerate() {
        let brokers = parse_broker_list(entry)?;
        let dups = duplicates(&brokers);
        if !dups.is_empty() {
            return Err(AdminError::InvalidReplicaAssignment(format!(
                "Partition replica lists may not contain duplicate entries: {}",
                join(&dups, ",")
            )));
        }
        let len = brokers.len();
        ret.insert(i as i32, brokers);
        if len != ret[&0].len() {
            // 0.8.2 printed the JVM array's identity ("[I@1b6d3586"); the entry is more useful.
            return Err(AdminError::InvalidReplicaAssignment(format!(
                "Partition {} has different replication factor: {}",
                i,
                entry.trim()
            )));
        }
    }
    Ok(ret)
}

/// Scala's `Map.toString` of an assignment, as 0.8.2's duplicate check printed it.
fn scala_map(assignment: &ReplicaAssignment) -> String {
    let entries: Vec<String> =
        assignment.iter().map(|(p, r)| format!("{} -> List({})", p, join(r, ", "))).collect();
    format!("Map({})", entries.join(", "))
}

// ---------------------------------------------------------------------------------------
// Reading

/// Live brokers: the ids registered under `/brokers/ids`, ascending (0.8.2
/// `ZkUtils.getSortedBrokerList`).
pub async fn live_brokers(zk: &ZkClient) -> AdminResult<Vec<i32>> {
    Ok(zk.broker_ids().await?)
}

/// Every topic under `/brokers/topics`, sorted.
pub async fn list_topics(zk: &ZkClient) -> AdminResult<Vec<String>> {
    Ok(zk.topics().await?)
}

pub async fn topic_exists(zk: &ZkClient, topic: &str) -> AdminResult<bool> {
    Ok(zk.topic_exists(topic).await?)
}

/// Whether `/admin/delete_topics/<topic>` exists.
pub async fn is_marked_for_deletion(zk: &ZkClient, topic: &str) -> AdminResult<bool> {
    Ok(zk.is_marked_for_deletion(topic).await?)
}

/// The assignment in `/brokers/topics/<topic>`, `None` when the topic does not exist.
pub async fn fetch_assignment(zk: &ZkClient, topic: &str) -> AdminResult<Option<ReplicaAssignment>> {
    Ok(zk.topic_assignment(topic).await?)
}

/// The overrides in `/config/topics/<topic>` (empty when there are none or no node).
pub async fn fetch_topic_config(zk: &ZkClient, topic: &str) -> AdminResult<Properties> {
    Ok(zk.topic_config(topic).await?)
}

/// Leader and ISR of a partition; `None` when there is no state znode or it does not parse
/// (0.8.2 `ZkUtils.getLeaderForPartition` gave `None` for both).
pub async fn fetch_partition_state(zk: &ZkClient, topic: &str, partition: i32) -> AdminResult<Option<PartitionState>> {
    match zk.partition_state(topic, partition).await {
        Ok(s) => Ok(s),
        Err(QueryError::Corrupt(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One partition as `--describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    pub partition: i32,
    /// Assigned replicas (AR), preferred first.
    pub replicas: Vec<i32>,
    /// The leader in the state znode (may be -1); `None` without a state znode.
    pub leader: Option<i32>,
    /// The ISR in the state znode; empty without one.
    pub isr: Vec<i32>,
}

impl PartitionDescription {
    /// 0.8.2's `--under-replicated-partitions` test: fewer in-sync replicas than assigned.
    pub fn is_under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }

    /// 0.8.2's `--unavailable-partitions` test: no leader, or a leader not registered.
    pub fn is_unavailable(&self, live_brokers: &[i32]) -> bool {
        match self.leader {
            None => true,
            Some(l) => !live_brokers.contains(&l),
        }
    }
}

/// A topic as `--describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub topic: String,
    /// In partition order.
    pub partitions: Vec<PartitionDescription>,
    /// The overrides in `/config/topics/<topic>`.
    pub config: Properties,
}

impl TopicDescription {
    /// The length of the first partition's replica list (0 for no partitions).
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }
}

/// Assignment, leader/ISR and config of a topic; `None` when it does not exist.
pub async fn describe_topic(zk: &ZkClient, topic: &str) -> AdminResult<Option<TopicDescription>> {
    let Some(assignment) = fetch_assignment(zk, topic).await? else {
        return Ok(None);
    };
    let mut partitions = Vec::with_capacity(assignment.len());
    for (partition, replicas) in assignment {
        let state = fetch_partition_state(zk, topic, partition).await?;
        partitions.push(PartitionDescription {
            partition,
            replicas,
            leader: state.as_ref().map(|s| s.leader),
            isr: state.map(|s| s.isr).unwrap_or_default(),
        });
    }
    let config = fetch_topic_config(zk, topic).await?;
    Ok(Some(TopicDescription { topic: topic.to_string(), partitions, config }))
}

// ---------------------------------------------------------------------------------------
// Writing

/// Create a topic with the default assignment over the live brokers (0.8.2
/// `AdminUtils.createTopic`): random start, `replication_factor` replicas per partition.
/// Returns the assignment written.
pub async fn create_topic(
    zk: &ZkClient,
    topic: &str,
    partitions: i32,
    replication_factor: i32,
    config: &Properties,
) -> AdminResult<ReplicaAssignment> {
    let brokers = live_brokers(zk).await?;
    let assignment = assign_replicas_to_brokers(&brokers, partitions, replication_factor, -1, -1, time_seeded_random())?;
    create_or_update(zk, topic, &assignment, config, false).await?;
    Ok(assignment)
}

/// Create a topic with the given assignment (0.8.2
/// `AdminUtils.createOrUpdateTopicPartitionAssignmentPathInZK`, `update = false`). The
/// brokers need not be registered, as in 0.8.2.
pub async fn create_topic_with_assignment(
    zk: &ZkClient,
    topic: &str,
    assignment: &ReplicaAssignment,
    config: &Properties,
) -> AdminResult<()> {
    create_or_update(zk, topic, assignment, config, false).await
}

async fn create_or_update(
    zk: &ZkClient,
    topic: &str,
    assignment: &ReplicaAssignment,
    config: &Properties,
    update: bool,
) -> AdminResult<()> {
    validate_topic(topic)?;
    validate_config(config)?;
    let sizes: BTreeSet<usize> = assignment.values().map(Vec::len).collect();
    if sizes.len() != 1 {
        return Err(AdminError::InvalidReplicaAssignment(
            "requirement failed: All partitions should have the same number of replicas.".to_string(),
        ));
    }
    if !update && topic_exists(zk, topic).await? {
        return Err(AdminError::TopicExists(topic.to_string()));
    }
    if assignment.values().any(|r| !duplicates(r).is_empty()) {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "requirement failed: Duplicate replica assignment found: {}",
            scala_map(assignment)
        )));
    }
    // The config first, always (even with no overrides), as 0.8.1+: a broker that sees the
    // topic appear finds its config already there. Not transactional with the assignment.
    write_topic_config(zk, topic, config).await?;
    let data = TopicAssignment::new(assignment.clone()).to_bytes();
    let path = paths::topic(topic);
    if update {
        zk.update_persistent(&path, &data).await?;
    } else {
        match zk.create_persistent(&path, &data).await {
            Ok(()) => {}
            Err(ZkError::NodeExists) => return Err(AdminError::TopicExists(topic.to_string())),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn write_topic_config(zk: &ZkClient, topic: &str, config: &Properties) -> AdminResult<()> {
    let map: BTreeMap<String, String> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    zk.update_persistent(&paths::topic_config(topic), &TopicConfig::new(map).to_bytes()).await?;
    Ok(())
}

/// Grow a topic to `num_partitions` (0.8.2 `AdminUtils.addPartitions`). Without a manual
/// assignment the new partitions are assigned over the registered brokers with the
/// existing replication factor, numbering on from the current count and — 0.8.2's quirk,
/// kept so the same cluster gets the same layout — with the *broker id* of partition 0's
/// first replica as the fixed start index and shift. A manual assignment string lists every
/// partition, old ones included; only the entries past the current count are used, and
/// their brokers must be registered. `config` is written back to `/config/topics/<topic>`
/// as 0.8.2 did (pass the topic's current overrides). Returns the added partitions.
pub async fn add_partitions(
    zk: &ZkClient,
    topic: &str,
    num_partitions: i32,
    replica_assignment: Option<&str>,
    config: &Properties,
) -> AdminResult<ReplicaAssignment> {
    let existing = match fetch_assignment(zk, topic).await? {
        Some(a) if !a.is_empty() => a,
        _ => return Err(AdminError::TopicNotFound(format!("The topic {} does not exist", topic))),
    };
    let first = existing.values().next().cloned().unwrap_or_default();
    let replication_factor = first.len();
    let to_add = num_partitions as i64 - existing.len() as i64;
    if to_add <= 0 {
        return Err(AdminError::InvalidPartitions("The number of partitions for a topic can only be increased".to_string()));
    }
    let brokers = live_brokers(zk).await?;
    let added = match replica_assignment.filter(|s| !s.is_empty()) {
        None => assign_replicas_to_brokers(
            &brokers,
            to_add as i32,
            replication_factor as i32,
            first.first().copied().unwrap_or(0).max(0),
            existing.len() as i32,
            time_seeded_random(),
        )?,
        Some(s) => manual_replica_assignment(s, &brokers, existing.len() as i32)?,
    };
    if added.values().any(|r| r.len() != replication_factor) {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "The replication factor in manual replication assignment  is not equal to the existing replication factor for the topic {}",
            replication_factor
        )));
    }
    let mut all = existing;
    all.extend(added.iter().map(|(p, r)| (*p, r.clone())));
    create_or_update(zk, topic, &all, config, true).await?;
    Ok(added)
}

/// 0.8.2 `AdminUtils.getManualReplicaAssignment`.
fn manual_replica_assignment(s: &str, available: &[i32], start_partition: i32) -> AdminResult<ReplicaAssignment> {
    let entries = java_split(s, ',');
    let keep = entries.len() as i64 - start_partition as i64;
    let entries = if keep <= 0 { &entries[..0] } else { &entries[entries.len() - keep as usize..] };
    let mut ret = ReplicaAssignment::new();
    for (i, (partition, entry)) in (start_partition..).zip(entries).enumerate() {
        let brokers = parse_broker_list(entry)?;
        let shown = format!("[{}]", join(&brokers, ", "));
        if brokers.is_empty() {
            return Err(AdminError::InvalidReplicationFactor("replication factor must be larger than 0".to_string()));
        }
        if !duplicates(&brokers).is_empty() {
            return Err(AdminError::InvalidReplicaAssignment(format!("duplicate brokers in replica assignment: {}", shown)));
        }
        if brokers.iter().any(|b| !available.contains(b)) {
            return Err(AdminError::InvalidReplicaAssignment(format!(
                "some specified brokers not available. specified brokers: {}available broker:Set({})",
                shown,
                join(available, ", ")
            )));
        }
        let len = brokers.len();
        ret.insert(partition, brokers);
        if len != ret[&start_partition].len() {
            return Err(AdminError::InvalidReplicaAssignment(format!(
                "partition {} has different replication factor: {}",
                i, shown
            )));
        }
    }
    Ok(ret)
}

/// Replace a topic's overrides and tell the brokers (0.8.2 `AdminUtils.changeTopicConfig`):
/// rewrite `/config/topics/<topic>` with exactly `config`, then create a
/// `/config/changes/config_change_<seq>` notification holding the topic as a JSON string.
pub async fn change_topic_config(zk: &ZkClient, topic: &str, config: &Properties) -> AdminResult<()> {
    if !topic_exists(zk, topic).await? {
        return Err(AdminError::TopicNotFound(format!("Topic \"{}\" does not exist.", topic)));
    }
    validate_config(config)?;
    write_topic_config(zk, topic, config).await?;
    zk.create_persistent_sequential(&paths::config_change_prefix(), &config_change_notification(topic)).await?;
    Ok(())
}

/// Create `/admin/delete_topics/<topic>` (empty data), as `kafka-topics.sh --delete` and
/// 0.8.2 `AdminUtils.deleteTopic` did. `Ok(false)` when it was already marked. The
/// controller acts on it only with `delete.topic.enable=true`.
pub async fn mark_topic_for_deletion(zk: &ZkClient, topic: &str) -> AdminResult<bool> {
    match zk.create_persistent(&paths::delete_topic_marker(topic), b"").await {
        Ok(()) => Ok(true),
        Err(ZkError::NodeExists) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::parse_properties;

    #[test]
    fn every_topic_key_has_its_0_8_2_conversion_check() {
        // The log's topic key table and 0.8.2's conversion order list the same keys, so a
        // key added to the table cannot skip the 0.8.2-exact check of the topics tool.
        let mut converted: Vec<&str> = CONFIG_VALUE_TYPES.iter().map(|(k, _)| *k).collect();
        let mut names = TOPIC_CONFIG_NAMES.to_vec();
        converted.sort_unstable();
        names.sort_unstable();
        assert_eq!(converted, names);
    }

    #[test]
    fn topic_names_as_082_with_its_double_space() {
        assert!(validate_topic("ok.topic_1-x").is_ok());
        assert_eq!(validate_topic("").unwrap_err().to_string(), "topic name is illegal, can't be empty");
        assert_eq!(
            validate_topic("a b").unwrap_err().to_string(),
            "topic name a b is illegal, contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        );
        assert_eq!(
            validate_topic("$$").unwrap_err().to_string(),
            "topic name $$ is illegal,  contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        );
        assert!(matches!(validate_topic(".."), Err(AdminError::InvalidTopic(_))));
    }

    #[test]
    fn config_errors_carry_082_messages() {
        let err = |text: &str| validate_config(&parse_properties(text)).unwrap_err().to_string();
        assert!(validate_config(&parse_properties("retention.ms=1000\ncleanup.policy=compact\n")).is_ok());
        assert!(validate_config(&Properties::new()).is_ok());
        assert_eq!(err("foo=1\n"), "requirement failed: Unknown configuration \"foo\".");
        assert_eq!(err("segment.bytes=abc\n"), "For input string: \"abc\"");
        assert_eq!(err("segment.bytes=99999999999\n"), "For input string: \"99999999999\"");
        assert_eq!(err("unclean.leader.election.enable=yes\n"), "For input string: \"yes\"");
        assert_eq!(
            err("min.insync.replicas=0\n"),
            "Wrong value 0 of min.insync.replicas in topic configuration;  Valid values are at least 1"
        );
        // Stricter than 0.8.2: ranges kafka08's log enforces.
        assert!(err("segment.bytes=13\n").contains("segment.bytes"));
        assert!(err("cleanup.policy=shred\n").contains("cleanup.policy"));
    }

    #[test]
    fn replica_assignment_strings() {
        let a = parse_replica_assignment("1:2, 2:3 ,3:1").unwrap();
        assert_eq!(a, BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3]), (2, vec![3, 1])]));
        assert_eq!(parse_replica_assignment("1,2,").unwrap().len(), 2, "trailing empty entries dropped as Java's split");
        assert_eq!(
            parse_replica_assignment("1:1").unwrap_err().to_string(),
            "Partition replica lists may not contain duplicate entries: 1"
        );
        assert_eq!(
            parse_replica_assignment("1:2,3").unwrap_err().to_string(),
            "Partition 1 has different replication factor: 3"
        );
        assert_eq!(parse_replica_assignment("1:x").unwrap_err().to_string(), "For input string: \"x\"");
        assert_eq!(parse_replica_assignment("1,,2").unwrap_err().to_string(), "For input string: \"\"");
    }

    #[test]
    fn manual_assignment_for_added_partitions_skips_existing_entries() {
        let a = manual_replica_assignment("0:1,1:0,1:2,2:0", &[0, 1, 2], 2).unwrap();
        assert_eq!(a, BTreeMap::from([(2, vec![1, 2]), (3, vec![2, 0])]));
        assert!(manual_replica_assignment("0:1", &[0, 1], 2).unwrap().is_empty());
        let e = manual_replica_assignment("0:1,5:1", &[0, 1], 1).unwrap_err().to_string();
        assert_eq!(e, "some specified brokers not available. specified brokers: [5, 1]available broker:Set(0, 1)");
        let e = manual_replica_assignment("0:1,1:1", &[0, 1], 1).unwrap_err().to_string();
        assert_eq!(e, "duplicate brokers in replica assignment: [1, 1]");
    }

    #[test]
    fn java_split_and_int_parsing() {
        assert_eq!(java_split("", ','), vec![""]);
        assert_eq!(java_split("a,,b,,", ','), vec!["a", "", "b"]);
        assert!(java_split(",,", ',').is_empty());
        assert_eq!(java_parse_int("+7"), Some(7));
        assert_eq!(java_parse_int("-2147483648"), Some(i32::MIN));
        assert_eq!(java_parse_int("2147483648"), None);
        assert_eq!(java_parse_int(" 1"), None);
        assert_eq!(java_parse_int("-"), None);
    }
}
