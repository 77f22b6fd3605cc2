//! Partition reassignment on the admin side, as 0.8.2's `ReassignPartitionsCommand` and
//! the `ZkUtils` helpers it used (docs/zookeeper-layout.md, `/admin/reassign_partitions`):
//! the JSON files the tool reads and prints, the proposal of `--generate`, the checks made
//! before `--execute` writes the admin znode, and the status `--verify` reports.
//!
//! Where 0.8.2 was lax we refuse instead, before writing anything: a partition or topic that
//! does not exist (0.8.2 logged and skipped it), a replica on a broker that is not
//! registered (0.8.2's controller failed the partition later, silently), an empty or
//! malformed file. The pure functions take what was read from ZooKeeper as plain data.

use super::assignment::assign_replicas_to_brokers;
use super::topics::{AdminError, AdminResult, ReplicaAssignment};
use crate::common::{java_string_hash, scala_collection_order, scala_mutable_hash_order, topic_and_partition_hash, TopicPartition};
use crate::zk::json::{PartitionEntry, PartitionList};
use crate::zk::{paths, ZkClient, ZkError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One partition and its target replica list (RAR), first = new preferred replica.
pub type Reassignment = Vec<(TopicPartition, Vec<i32>)>;

/// What `--verify` reports for a partition (0.8.2 `ReassignmentStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReassignmentStatus {
    Completed,
    InProgress,
    /// Not in progress and the assignment is not the target: the current replicas.
    Failed(Vec<i32>),
}

fn bad_json(input: &str) -> AdminError {
    AdminError::Corrupt(format!("Can't parse json string: {}", input))
}

fn int_of(v: &Value) -> Option<i32> {
    v.as_i64().and_then(|n| i32::try_from(n).ok())
}

/// A reassignment file or znode (`{"version":1,"partitions":[{"topic":..,"partition":..,
/// "replicas":[..]}]}`), in file order and without removing duplicates (0.8.2
/// `parsePartitionReassignmentDataWithoutDedup`), so that duplicates can be refused.
pub fn parse_reassignment_json(input: &str) -> AdminResult<Reassignment> {
    let doc: Value = serde_json::from_str(input).map_err(|_| bad_json(input))?;
    let Some(obj) = doc.as_object() else { return Err(bad_json(input)) };
    let Some(partitions) = obj.get("partitions") else { return Ok(Vec::new()) };
    let Some(list) = partitions.as_array() else { return Err(bad_json(input)) };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let field = |name: &str| entry.get(name);
        let (Some(topic), Some(partition), Some(replicas)) = (
            field("topic").and_then(Value::as_str),
            field("partition").and_then(int_of),
            field("replicas").and_then(Value::as_array),
        ) else {
            return Err(AdminError::Corrupt(format!(
                "Each partition needs a string \"topic\", an int \"partition\" and an int array \"replicas\": {}",
                entry
            )));
        };
        let replicas: Option<Vec<i32>> = replicas.iter().map(int_of).collect();
        let Some(replicas) = replicas else {
            return Err(AdminError::Corrupt(format!("Replica ids must be ints: {}", entry)));
        };
        out.push((TopicPartition::new(topic, partition), replicas));
    }
    Ok(out)
}

/// A `--topics-to-move-json-file` (`{"version":1,"topics":[{"topic":"foo"}]}`), in file order.
pub fn parse_topics_json(input: &str) -> AdminResult<Vec<String>> {
    let doc: Value = serde_json::from_str(input).map_err(|_| bad_json(input))?;
    let Some(obj) = doc.as_object() else { return Err(bad_json(input)) };
    let Some(topics) = obj.get("topics") else { return Ok(Vec::new()) };
    let Some(list) = topics.as_array() else { return Err(bad_json(input)) };
    list.iter()
        .map(|t| {
            t.get("topic")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| AdminError::Corrupt(format!("Each topic needs a string \"topic\": {}", t)))
        })
        .collect()
}

/// The JSON 0.8.2 printed and wrote (`ZkUtils.getPartitionReassignmentZkData`): compact,
/// `version` then `partitions`, each `topic`, `partition`, `replicas`.
pub fn reassignment_json(partitions: &Reassignment) -> String {
    let list = PartitionList {
        version: 1,
        partitions: partitions
            .iter()
            .map(|(tp, r)| PartitionEntry { topic: tp.topic.clone(), partition: tp.partition, replicas: Some(r.clone()) })
            .collect(),
    };
    String::from_utf8_lossy(&list.to_bytes()).into_owned()
}

/// Scala's `Seq.distinct` of the repeated elements, in order of their second appearance.
fn duplicates<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut seen = BTreeSet::new();
    let mut dup = Vec::new();
    for i in items {
        if !seen.insert(i.clone()) && !dup.contains(i) {
            dup.push(i.clone());
        }
    }
    dup
}

fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}

/// The checks of `--generate`'s inputs: a broker list without duplicates, of registered
/// brokers; topics without duplicates, each existing.
pub fn check_generate_input(
    brokers: &[i32],
    topics: &[String],
    live: &[i32],
    existing: &BTreeMap<String, ReplicaAssignment>,
) -> AdminResult<()> {
    let dup = duplicates(brokers);
    if !dup.is_empty() {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "Broker list contains duplicate entries: {}",
            join(&dup, ",")
        )));
    }
    let unknown: Vec<i32> = brokers.iter().copied().filter(|b| !live.contains(b)).collect();
    if !unknown.is_empty() {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "Broker list contains brokers that are not registered: {}",
            join(&unknown, ",")
        )));
    }
    if topics.is_empty() {
        return Err(AdminError::TopicNotFound("The list of topics to move is empty".to_string()));
    }
    let dup = duplicates(topics);
    if !dup.is_empty() {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "List of topics to reassign contains duplicate entries: {}",
            dup.join(",")
        )));
    }
    if let Some(t) = topics.iter().find(|t| !existing.contains_key(*t)) {
        return Err(AdminError::TopicNotFound(format!("Topic {} does not exist", t)));
    }
    Ok(())
}

/// `--generate`'s proposal: each topic's partitions assigned afresh over `brokers` with
/// its current replication factor (0.8.2 `AdminUtils.assignReplicasToBrokers`, random
/// start), listed as 0.8.2 listed its `mutable.Map` of them: topics in the order its
/// `groupBy` of the current assignment gave, each topic's partitions in the order of the
/// assigner's `mutable.HashMap`, the whole in `mutable.HashMap` order.
pub fn propose_reassignment(
    brokers: &[i32],
    topics: &[String],
    current: &BTreeMap<String, ReplicaAssignment>,
    mut random: impl FnMut(usize) -> usize,
) -> AdminResult<Reassignment> {
    let listed = current_reassignment(topics, current);
    let mut first_seen: Vec<String> = Vec::new();
    for (tp, _) in &listed {
        if !first_seen.contains(&tp.topic) {
            first_seen.push(tp.topic.clone());
        }
    }
    let grouped = scala_collection_order(scala_mutable_hash_order(first_seen, |t| java_string_hash(t)), |t| java_string_hash(t));
    let mut out = Vec::new();
    for topic in grouped {
        let Some(parts) = current.get(&topic) else { continue };
        let rf = parts.values().next().map_or(0, Vec::len) as i32;
        let assigned = assign_replicas_to_brokers(brokers, parts.len() as i32, rf, -1, -1, &mut random)?;
        let assigned = scala_mutable_hash_order(assigned.into_iter().collect(), |(p, _)| *p);
        out.extend(assigned.into_iter().map(|(p, r)| (TopicPartition::new(topic.clone(), p), r)));
    }
    Ok(scala_mutable_hash_order(out, |(tp, _)| topic_and_partition_hash(&tp.topic, tp.partition)))
}

/// The current assignment of `topics` (those that exist) as 0.8.2's
/// `ZkUtils.getReplicaAssignmentForTopics` listed it, for the rollback block: a
/// `mutable.HashMap` filled topic by topic in the order given, each topic's partitions in
/// the order its parsed znode JSON iterated them.
pub fn current_reassignment(topics: &[String], current: &BTreeMap<String, ReplicaAssignment>) -> Reassignment {
    let mut items = Vec::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for topic in topics {
        let Some(parts) = current.get(topic) else { continue };
        if !done.insert(topic) {
            continue;
        }
        let keys = scala_collection_order(parts.keys().map(|p| p.to_string()).collect(), |k: &String| java_string_hash(k));
        for key in keys {
            let p: i32 = key.parse().unwrap_or_default();
            items.push((TopicPartition::new(topic.clone(), p), parts.get(&p).cloned().unwrap_or_default()));
        }
    }
    scala_mutable_hash_order(items, |(tp, _)| topic_and_partition_hash(&tp.topic, tp.partition))
}

/// `partitions` in the order 0.8.2's immutable `Map[TopicAndPartition, Seq[Int]]` built
/// from them iterated (`toMap`: a partition named again keeps its first place and takes
/// the last list): how it wrote `/admin/reassign_partitions` and printed and verified a
/// reassignment.
pub fn scala_map_order(partitions: Reassignment) -> Reassignment {
    let mut merged: Reassignment = Vec::with_capacity(partitions.len());
    let mut at: std::collections::HashMap<TopicPartition, usize> = std::collections::HashMap::with_capacity(partitions.len());
    for (tp, r) in partitions {
        match at.get(&tp) {
            Some(&i) => merged[i].1 = r,
            None => {
                at.insert(tp.clone(), merged.len());
                merged.push((tp, r));
            }
        }
    }
    scala_collection_order(merged, |(tp, _)| topic_and_partition_hash(&tp.topic, tp.partition))
}

/// The checks of `--execute`, in 0.8.2's order and with its messages, then ours: not
/// empty; no partition twice; no broker twice in a list; every partition exists; every
/// replica on a registered broker; every list non-empty.
pub fn check_reassignment(
    file: &str,
    partitions: &Reassignment,
    existing: &BTreeMap<String, ReplicaAssignment>,
    live: &[i32],
) -> AdminResult<()> {
    if partitions.is_empty() {
        return Err(AdminError::InvalidReplicaAssignment(format!("Partition reassignment data file {} is empty", file)));
    }
    let tps: Vec<TopicPartition> = partitions.iter().map(|(tp, _)| tp.clone()).collect();
    let dup = duplicates(&tps);
    if !dup.is_empty() {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "Partition reassignment contains duplicate topic partitions: {}",
            join(&dup, ",")
        )));
    }
    let dup_entries: Vec<String> = partitions
        .iter()
        .filter_map(|(tp, r)| {
            let d = duplicates(r);
            (!d.is_empty()).then(|| format!("{} contains multiple entries for {}", tp, join(&d, ",")))
        })
        .collect();
    if !dup_entries.is_empty() {
        return Err(AdminError::InvalidReplicaAssignment(format!(
            "Partition replica lists may not contain duplicate entries: {}",
            dup_entries.join(". ")
        )));
    }
    for (tp, replicas) in partitions {
        match existing.get(&tp.topic) {
            None => {
                return Err(AdminError::TopicNotFound(format!(
                    "Partition {} cannot be reassigned since topic {} doesn't exist",
                    tp, tp.topic
                )))
            }
            Some(parts) if !parts.contains_key(&tp.partition) => {
                return Err(AdminError::TopicNotFound(format!(
                    "Partition {} cannot be reassigned since it doesn't exist",
                    tp
                )))
            }
            Some(_) => {}
        }
        if replicas.is_empty() {
            return Err(AdminError::InvalidReplicaAssignment(format!("Partition {} has an empty replica list", tp)));
        }
        let unknown: Vec<i32> = replicas.iter().copied().filter(|b| !live.contains(b)).collect();
        if !unknown.is_empty() {
            return Err(AdminError::InvalidReplicaAssignment(format!(
                "Partition {} cannot be reassigned to brokers that are not registered: {}",
                tp,
                join(&unknown, ",")
            )));
        }
    }
    Ok(())
}

/// 0.8.2 `checkIfPartitionReassignmentSucceeded`: in the admin znode ⇒ in progress; else
/// completed if the assignment is the target, failed otherwise.
pub fn reassignment_status(
    target: &[i32],
    in_progress: bool,
    current: Option<&Vec<i32>>,
) -> ReassignmentStatus {
    if in_progress {
        return ReassignmentStatus::InProgress;
    }
    match current {
        Some(c) if c.as_slice() == target => ReassignmentStatus::Completed,
        other => ReassignmentStatus::Failed(other.cloned().unwrap_or_default()),
    }
}

/// The content of `/admin/reassign_partitions`; empty when there is none. A node that does
/// not parse is an error (0.8.2 threw on it too).
pub async fn partitions_being_reassigned(zk: &ZkClient) -> AdminResult<Reassignment> {
    Ok(zk.partitions_being_reassigned().await?.unwrap_or_default())
}

/// Create `/admin/reassign_partitions` with `partitions` (0.8.2
/// `ReassignPartitionsCommand.reassignPartitions`); refused when a reassignment is running.
pub async fn start_reassignment(zk: &ZkClient, partitions: &Reassignment) -> AdminResult<()> {
    let data = reassignment_json(partitions);
    match zk.create_persistent(paths::REASSIGN_PARTITIONS, data.as_bytes()).await {
        Ok(()) => Ok(()),
        Err(ZkError::NodeExists) => {
            let running = partitions_being_reassigned(zk).await.unwrap_or_default();
            // 0.8.2 formatted its Map[TopicAndPartition, ReassignedPartitionsContext]: the
            // case class prints its replica List and its (unset) ISR listener.
            // Iterated as 0.8.2's immutable Map iterated (insertion order up to four).
            let running = scala_map_order(running);
            let shown: Vec<String> = running
                .iter()
                .map(|(tp, r)| format!("{} -> ReassignedPartitionsContext(List({}),null)", tp, join(r, ", ")))
                .collect();
            Err(AdminError::InvalidReplicaAssignment(format!(
                "Partition reassignment currently in progress for Map({}). Aborting operation",
                shown.join(", ")
            )))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    fn cluster() -> BTreeMap<String, ReplicaAssignment> {
        BTreeMap::from([("foo".to_string(), BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3])]))])
    }

    #[test]
    fn reassignment_json_round_trips_in_082s_layout() {
        let r = vec![(tp("foo", 1), vec![1, 2, 3]), (tp("bar", 0), vec![4])];
        let text = reassignment_json(&r);
        assert_eq!(
            text,
            r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[1,2,3]},{"topic":"bar","partition":0,"replicas":[4]}]}"#
        );
        assert_eq!(parse_reassignment_json(&text).unwrap(), r);
        // The tool's own help shows spaces and newlines; key order is free.
        let loose = "{\"partitions\":\n\t[{\"topic\": \"foo\",\n\t  \"partition\": 1,\n\t  \"replicas\": [1,2,3] }],\n\"version\":1\n}";
        assert_eq!(parse_reassignment_json(loose).unwrap(), vec![(tp("foo", 1), vec![1, 2, 3])]);
        assert!(parse_reassignment_json("{\"version\":1}").unwrap().is_empty());
    }

    #[test]
    fn malformed_reassignment_and_topic_files_are_refused_with_a_message() {
        assert_eq!(parse_reassignment_json("{nope").unwrap_err().to_string(), "Can't parse json string: {nope");
        assert!(parse_reassignment_json("[1]").is_err());
        assert!(parse_reassignment_json(r#"{"partitions":[{"topic":"a","partition":0}]}"#).is_err());
        assert!(parse_reassignment_json(r#"{"partitions":[{"topic":"a","partition":0,"replicas":[1.5]}]}"#).is_err());
        assert!(parse_reassignment_json(r#"{"partitions":[{"topic":"a","partition":3000000000,"replicas":[1]}]}"#).is_err());
        assert_eq!(parse_topics_json(r#"{"version":1,"topics":[{"topic":"a"},{"topic":"b"}]}"#).unwrap(), vec!["a", "b"]);
        assert!(parse_topics_json(r#"{"topics":[{"name":"a"}]}"#).is_err());
        assert!(parse_topics_json("").is_err());
    }

    #[test]
    fn execute_refuses_082s_bad_inputs_with_its_messages() {
        let live = [1, 2, 3, 4];
        let check = |r: Reassignment| check_reassignment("f.json", &r, &cluster(), &live).map_err(|e| e.to_string());
        assert!(check(vec![(tp("foo", 0), vec![3, 4])]).is_ok());
        assert_eq!(check(vec![]).unwrap_err(), "Partition reassignment data file f.json is empty");
        assert_eq!(
            check(vec![(tp("foo", 0), vec![3]), (tp("foo", 0), vec![4])]).unwrap_err(),
            "Partition reassignment contains duplicate topic partitions: [foo,0]"
        );
        assert_eq!(
            check(vec![(tp("foo", 0), vec![3, 3]), (tp("foo", 1), vec![1, 4, 1])]).unwrap_err(),
            "Partition replica lists may not contain duplicate entries: [foo,0] contains multiple entries for 3. [foo,1] contains multiple entries for 1"
        );
        assert_eq!(
            check(vec![(tp("bar", 0), vec![1])]).unwrap_err(),
            "Partition [bar,0] cannot be reassigned since topic bar doesn't exist"
        );
        assert_eq!(check(vec![(tp("foo", 7), vec![1])]).unwrap_err(), "Partition [foo,7] cannot be reassigned since it doesn't exist");
        assert_eq!(
            check(vec![(tp("foo", 0), vec![1, 9])]).unwrap_err(),
            "Partition [foo,0] cannot be reassigned to brokers that are not registered: 9"
        );
        assert!(check(vec![(tp("foo", 0), vec![])]).is_err());
    }

    #[test]
    fn generate_refuses_duplicates_unknown_brokers_and_topics() {
        let topics = vec!["foo".to_string()];
        let live = [1, 2, 3];
        assert!(check_generate_input(&[1, 2], &topics, &live, &cluster()).is_ok());
        assert_eq!(
            check_generate_input(&[1, 2, 1], &topics, &live, &cluster()).unwrap_err().to_string(),
            "Broker list contains duplicate entries: 1"
        );
        assert!(check_generate_input(&[1, 5], &topics, &live, &cluster()).is_err());
        let twice = vec!["foo".to_string(), "foo".to_string()];
        assert_eq!(
            check_generate_input(&[1, 2], &twice, &live, &cluster()).unwrap_err().to_string(),
            "List of topics to reassign contains duplicate entries: foo"
        );
        assert!(check_generate_input(&[1, 2], &["nope".to_string()], &live, &cluster()).is_err());
        assert!(check_generate_input(&[1, 2], &[], &live, &cluster()).is_err());
    }

    #[test]
    fn the_proposal_keeps_each_topics_replication_factor_and_uses_only_the_listed_brokers() {
        let foo = ["foo".to_string()];
        // Listed in Scala mutable.HashMap order, as 0.8.2 printed them: [foo,1] first.
        let p = propose_reassignment(&[2, 3, 4], &foo, &cluster(), |_| 0).unwrap();
        assert_eq!(p, vec![(tp("foo", 1), vec![3, 4]), (tp("foo", 0), vec![2, 3])]);
        let too_few = propose_reassignment(&[4], &foo, &cluster(), |_| 0).unwrap_err();
        assert_eq!(too_few.to_string(), "replication factor: 2 larger than available brokers: 1");
        assert_eq!(current_reassignment(&foo, &cluster()), vec![(tp("foo", 1), vec![2, 3]), (tp("foo", 0), vec![1, 2])]);
        // A topic the list does not name is not listed.
        assert_eq!(current_reassignment(&[], &cluster()), vec![]);
    }

    #[test]
    fn a_reassignment_is_ordered_as_scalas_immutable_map_of_it() {
        // Up to four: the file's order, a partition named again keeps its place, last list wins.
        let r = vec![(tp("foo", 1), vec![1]), (tp("bar", 0), vec![2]), (tp("foo", 1), vec![3])];
        assert_eq!(scala_map_order(r), vec![(tp("foo", 1), vec![3]), (tp("bar", 0), vec![2])]);
        // Beyond: the hash order Scala 2.11 printed for Set([w,0]..[w,4]) built in reverse.
        let five: Reassignment = (0..5).rev().map(|p| (tp("w", p), vec![1])).collect();
        let order: Vec<i32> = scala_map_order(five).iter().map(|(tp, _)| tp.partition).collect();
        assert_eq!(order, [1, 0, 3, 2, 4]);
    }

    #[test]
    fn status_is_in_progress_while_listed_then_completed_or_failed() {
        assert_eq!(reassignment_status(&[1, 2], true, Some(&vec![1, 2, 3])), ReassignmentStatus::InProgress);
        assert_eq!(reassignment_status(&[1, 2], false, Some(&vec![1, 2])), ReassignmentStatus::Completed);
        // Order matters, as 0.8.2 compared the lists.
        assert_eq!(reassignment_status(&[1, 2], false, Some(&vec![2, 1])), ReassignmentStatus::Failed(vec![2, 1]));
        assert_eq!(reassignment_status(&[1, 2], false, None), ReassignmentStatus::Failed(vec![]));
    }
}
