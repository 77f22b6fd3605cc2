//! `kafka.admin.PreferredReplicaLeaderElectionCommand`
//! (`bin/kafka-preferred-replica-election.sh`): ask the controller to move leadership of
//! some or all partitions back to their preferred replica (the first in the assignment) by
//! writing `/admin/preferred_replica_election`, with 0.8.2's flags, file format and output.
//!
//! Unlike 0.8.2, which printed a stack trace and exited 0 on failure (and silently
//! skipped partitions that do not exist), every failure is one line on stdout,
//! `Failed to start preferred replica election: <0.8.2's message>`, exit code 1, and
//! nothing is written.

use super::options::{parse_admin_args, usage_and_die, OptionParser};
use super::topics_command::connect;
use super::ToolOutput;
use crate::common::{scala_collection_order, topic_and_partition_hash, TopicPartition};
use crate::zk::json::{PartitionEntry, PartitionList};
use crate::zk::{paths, QueryError, ZkClient, ZkError};
use std::collections::BTreeSet;

const SUMMARY: &str = "This tool causes leadership for each partition to be transferred back to the 'preferred replica', it can be used to balance leadership among the servers.";

fn parser() -> OptionParser {
    OptionParser::new(SUMMARY)
        .arg(
            "path-to-json-file",
            "The JSON file with the list of partitions for which preferred replica leader election should be done, in the following format - \n{\"partitions\":\n\t[{\"topic\": \"foo\", \"partition\": 1},\n\t {\"topic\": \"foobar\", \"partition\": 2}]\n}\nDefaults to all existing partitions",
            "list of partitions for which preferred replica leader election needs to be triggered",
        )
        .arg(
            "zookeeper",
            "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over.",
            "urls",
        )
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    let opts = match parse_admin_args(&p, args, SUMMARY) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if let Err(e) = p.check_required(&opts, &["zookeeper"]) {
        return usage_and_die(&p, &e.0);
    }
    // The file is read and checked before connecting, as 0.8.2 parsed it first.
    let requested = match opts.value("path-to-json-file") {
        None => None,
        Some(file) => match std::fs::read(file)
            .map_err(|e| format!("{} ({})", file, io_reason(&e)))
            .and_then(|data| parse_election_data(&data))
        {
            Ok(set) => Some(set),
            Err(message) => return failed(&message).print(),
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return failed(&format!("cannot start the runtime: {}", e)).print(),
    };
    runtime.block_on(async {
        let zk = match connect(opts.value("zookeeper").unwrap_or_default()).await {
            Ok(zk) => zk,
            Err(line) => {
                eprintln!("{}", line);
                return 1;
            }
        };
        elect(&zk, requested).await.print()
    })
}

/// The tool's one line for a failure, as the console shows it too.
pub fn failed(message: &str) -> ToolOutput {
    ToolOutput { lines: vec![format!("Failed to start preferred replica election: {}", message)], ok: false }
}

/// The command once its input is read (`None`: every partition, as without
/// `--path-to-json-file`): what the tool prints, and whether it succeeded.
pub async fn elect(zk: &ZkClient, requested: Option<Vec<TopicPartition>>) -> ToolOutput {
    let mut lines = Vec::new();
    match start_election(zk, requested, &mut lines).await {
        Ok(partitions) => {
            lines.push(format!("Successfully started preferred replica election for partitions {}", scala_set(&partitions)));
            ToolOutput { lines, ok: true }
        }
        Err(message) => {
            lines.extend(failed(&message).lines);
            ToolOutput { lines, ok: false }
        }
    }
}

/// Java's `FileNotFoundException` reason for the common cases.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// 0.8.2 `parsePreferredReplicaElectionData`: `{"partitions":[{"topic":..,"partition":..}]}`;
/// duplicates are refused. The partitions in the file's order.
pub fn parse_election_data(data: &[u8]) -> Result<Vec<TopicPartition>, String> {
    const EMPTY: &str = "Preferred replica election data is empty";
    let value: serde_json::Value = serde_json::from_slice(data).map_err(|_| EMPTY.to_string())?;
    let list = value.get("partitions").and_then(|p| p.as_array()).ok_or_else(|| EMPTY.to_string())?;
    let mut seen = BTreeSet::new();
    let mut listed = Vec::with_capacity(list.len());
    let mut duplicates = Vec::new();
    for entry in list {
        let topic = entry.get("topic").and_then(|t| t.as_str());
        let partition = entry.get("partition").and_then(|p| p.as_i64()).and_then(|p| i32::try_from(p).ok());
        let (Some(topic), Some(partition)) = (topic, partition) else {
            return Err(format!(
                "Preferred replica election data has an entry without a string \"topic\" and an int \"partition\": {}",
                entry
            ));
        };
        let tp = TopicPartition::new(topic, partition);
        if !seen.insert(tp.clone()) {
            if !duplicates.contains(&tp) {
                duplicates.push(tp);
            }
        } else {
            listed.push(tp);
        }
    }
    if !duplicates.is_empty() {
        let names: Vec<String> = duplicates.iter().map(bracketed).collect();
        return Err(format!("Preferred replica election data contains duplicate partitions: {}", names.join(",")));
    }
    Ok(listed)
}

/// 0.8.2 `TopicAndPartition.toString`.
fn bracketed(tp: &TopicPartition) -> String {
    format!("[{},{}]", tp.topic, tp.partition)
}

/// The order 0.8.2's `Set[TopicAndPartition]` of `partitions` (added in this order)
/// iterated in: how it printed the set and listed it in the znode's JSON.
fn scala_set_order(partitions: Vec<TopicPartition>) -> Vec<TopicPartition> {
    scala_collection_order(partitions, |tp| topic_and_partition_hash(&tp.topic, tp.partition))
}

/// A Scala `Set` of `TopicAndPartition`s as 0.8.2 printed it (`partitions` in set order).
fn scala_set(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions.iter().map(bracketed).collect();
    format!("Set({})", names.join(", "))
}

/// Check the partitions exist (all partitions when `requested` is `None`), then create
/// `/admin/preferred_replica_election`; a present node means an election in progress.
async fn start_election(
    zk: &ZkClient,
    requested: Option<Vec<TopicPartition>>,
    out: &mut Vec<String>,
) -> Result<Vec<TopicPartition>, String> {
    let partitions = match requested {
        Some(requested) => {
            let topics: BTreeSet<&str> = requested.iter().map(|tp| tp.topic.as_str()).collect();
            let mut known = BTreeSet::new();
            for topic in topics {
                if let Some(parts) = topic_partitions(zk, topic).await? {
                    known.extend(parts.into_iter().map(|p| TopicPartition::new(topic, p)));
                }
            }
            if let Some(missing) = requested.iter().find(|tp| !known.contains(*tp)) {
                let topic_known = known.iter().any(|tp| tp.topic == missing.topic);
                return Err(if topic_known {
                    format!("partition {} doesn't exist", bracketed(missing))
                } else {
                    format!("partition {} doesn't exist since topic {} doesn't exist", bracketed(missing), missing.topic)
                });
            }
            requested
        }
        // 0.8.2 `ZkUtils.getAllPartitions`: topics and partitions as ZooKeeper lists them.
        None => zk.all_partitions_as_listed().await.map_err(|e| e.to_string())?,
    };
    let partitions = scala_set_order(partitions);
    let doc = PartitionList {
        version: 1,
        partitions: partitions
            .iter()
            .map(|tp| PartitionEntry { topic: tp.topic.clone(), partition: tp.partition, replicas: None })
            .collect(),
    };
    let json = doc.to_bytes();
    match zk.create_persistent(paths::PREFERRED_REPLICA_ELECTION, &json).await {
        Ok(()) => {
            out.push(format!("Created preferred replica election path with {}", String::from_utf8_lossy(&json)));
            Ok(partitions)
        }
        Err(ZkError::NodeExists) => {
            let current = match zk.preferred_replica_election().await {
                Ok(Some(partitions)) => scala_set(&scala_set_order(partitions)),
                Ok(None) => "Set()".into(), // finished between our create and our read
                Err(QueryError::Corrupt(why)) => why,
                Err(e) => return Err(e.to_string()),
            };
            Err(format!("Preferred replica leader election currently in progress for {}. Aborting operation", current))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The partition ids of `topic`, `None` when it does not exist.
async fn topic_partitions(zk: &ZkClient, topic: &str) -> Result<Option<Vec<i32>>, String> {
    Ok(zk.topic_assignment(topic).await.map_err(|e| e.to_string())?.map(|a| a.keys().copied().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter().map(|(t, p)| TopicPartition::new(*t, *p)).collect()
    }

    #[test]
    fn parses_082_election_files() {
        let data = br#"{"partitions":[{"topic": "foo", "partition": 1}, {"topic": "foobar", "partition": 2}]}"#;
        assert_eq!(parse_election_data(data), Ok(set(&[("foo", 1), ("foobar", 2)])));
        assert_eq!(scala_set(&set(&[("foo", 1), ("foobar", 2)])), "Set([foo,1], [foobar,2])");
        // The file's order, as 0.8.2's small sets kept it.
        let data = br#"{"partitions":[{"topic":"t","partition":1},{"topic":"t","partition":0}]}"#;
        assert_eq!(scala_set(&scala_set_order(parse_election_data(data).unwrap())), "Set([t,1], [t,0])");
    }

    #[test]
    fn refuses_bad_json_missing_partitions_wrong_types_and_duplicates() {
        let empty = Err("Preferred replica election data is empty".to_string());
        assert_eq!(parse_election_data(b"{not json"), empty);
        assert_eq!(parse_election_data(br#"{"version":1}"#), empty);
        assert!(parse_election_data(br#"{"partitions":[{"topic":"t","partition":"0"}]}"#).unwrap_err().contains("int \"partition\""));
        assert_eq!(
            parse_election_data(br#"{"partitions":[{"topic":"t","partition":0},{"topic":"t","partition":0},{"topic":"t","partition":0}]}"#),
            Err("Preferred replica election data contains duplicate partitions: [t,0]".to_string())
        );
    }
}
