//! `kafka.admin.ReassignPartitionsCommand` (`bin/kafka-reassign-partitions.sh`): propose
//! (`--generate`), start (`--execute`) and check (`--verify`) a partition reassignment,
//! with 0.8.2's flags, JSON and output lines (other tools parse them).
//!
//! As in 0.8.2, a failed command prints `Partitions reassignment failed due to <message>` to
//! stdout (0.8.2 added a stack trace, kafka08 does not); unlike 0.8.2, which exited 0, the
//! exit code is 1, and every input is checked before anything is written (see
//! `admin::check_reassignment`). Usage errors print the message and the usage to stderr.

use super::options::{parse_admin_args, usage_and_die, OptionParser, Options};
use super::topics_command::CONNECTION_TIMEOUT_ENV;
use crate::admin::{self, AdminError, ReassignmentStatus, ReplicaAssignment};
use crate::common::TopicPartition;
use super::ToolOutput;
use crate::zk::ZkClient;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const SUMMARY: &str = "This command moves topic partitions between replicas.";
const ZK_TIMEOUT_MS: u64 = 30_000;

fn parser() -> OptionParser {
    OptionParser::new(SUMMARY)
        .arg(
            "zookeeper",
            "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over.",
            "urls",
        )
        .flag(
            "generate",
            "Generate a candidate partition reassignment configuration. Note that this only generates a candidate assignment, it does not execute it.",
        )
        .flag("execute", "Kick off the reassignment as specified by the --reassignment-json-file option.")
        .flag("verify", "Verify if the reassignment completed as specified by the --reassignment-json-file option.")
        .arg(
            "reassignment-json-file",
            "The JSON file with the partition reassignment configurationThe format to use is - \n{\"partitions\":\n\t[{\"topic\": \"foo\",\n\t  \"partition\": 1,\n\t  \"replicas\": [1,2,3] }],\n\"version\":1\n}",
            "manual assignment json file path",
        )
        .arg(
            "topics-to-move-json-file",
            "Generate a reassignment configuration to move the partitions of the specified topics to the list of brokers specified by the --broker-list option. The format to use is - \n{\"topics\":\n\t[{\"topic\": \"foo\"},{\"topic\": \"foo1\"}],\n\"version\":1\n}",
            "topics to reassign json file path",
        )
        .arg(
            "broker-list",
            "The list of brokers to which the partitions need to be reassigned in the form \"0,1,2\". This is required if --topics-to-move-json-file is used to generate reassignment configuration",
            "brokerlist",
        )
}

enum Failure {
    Usage(String),
    Command(String),
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        Failure::Command(e.to_string())
    }
}

/// The tool's line for a failed command, as the console shows it too.
pub fn failed(message: &str) -> ToolOutput {
    ToolOutput { lines: vec![format!("Partitions reassignment failed due to {}", message)], ok: false }
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    let opts = match parse_admin_args(&p, args, SUMMARY) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let actions = ["generate", "execute", "verify"].iter().filter(|a| opts.has(a)).count();
    if actions != 1 {
        return usage_and_die(&p, "Command must include exactly one action: --generate, --execute or --verify");
    }
    if let Err(e) = p.check_required(&opts, &["zookeeper"]) {
        return usage_and_die(&p, &e.0);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {}", e);
            return 1;
        }
    };
    match runtime.block_on(run(&opts)) {
        Ok(output) => output.print(),
        Err(Failure::Usage(message)) => usage_and_die(&p, &message),
        Err(Failure::Command(message)) => failed(&message).print(),
    }
}

/// 0.8.2's checks of the options an action needs: `has` tells whether an option was
/// given (the console: whether its field was filled in). The message is the usage error.
pub fn check_options(action: &str, has: impl Fn(&str) -> bool) -> Result<(), String> {
    match action {
        "verify" if !has("reassignment-json-file") => Err(
            "If --verify option is used, command must include --reassignment-json-file that was used during the --execute option".into(),
        ),
        "generate" if !(has("topics-to-move-json-file") && has("broker-list")) => Err(
            "If --generate option is used, command must include both --topics-to-move-json-file and --broker-list options".into(),
        ),
        "execute" if !has("reassignment-json-file") => Err(
            "If --execute option is used, command must include --reassignment-json-file that was output during the --generate option".into(),
        ),
        _ => Ok(()),
    }
}

async fn run(opts: &Options) -> Result<ToolOutput, Failure> {
    let action = ["verify", "generate", "execute"].into_iter().find(|a| opts.has(a)).unwrap_or("execute");
    // Flag checks first: a usage error needs no ZooKeeper.
    check_options(action, |o| opts.has(o)).map_err(Failure::Usage)?;
    let zk = connect(opts.value("zookeeper").unwrap_or_default()).await?;
    let command = match action {
        "generate" => ReassignCommand::Generate {
            topics_json: read_file(opts.value("topics-to-move-json-file").unwrap_or_default())?,
            broker_list: opts.value("broker-list").unwrap_or_default().to_string(),
        },
        _ => {
            let file = opts.value("reassignment-json-file").unwrap_or_default();
            let json = read_file(file)?;
            if action == "verify" {
                ReassignCommand::Verify { json }
            } else {
                ReassignCommand::Execute { file: file.to_string(), json }
            }
        }
    };
    Ok(reassign(&zk, &command).await)
}

async fn connect(connect: &str) -> Result<ZkClient, Failure> {
    let ms = std::env::var(CONNECTION_TIMEOUT_ENV).ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(ZK_TIMEOUT_MS);
    let timeout = Duration::from_millis(ms.max(1));
    match tokio::time::timeout(
        timeout + Duration::from_secs(2),
        ZkClient::connect(connect, Duration::from_millis(ZK_TIMEOUT_MS), timeout),
    )
    .await
    {
        Ok(Ok(zk)) => Ok(zk),
        _ => Err(Failure::Command(format!("Unable to connect to zookeeper server within timeout: {}", timeout.as_millis()))),
    }
}

fn read_file(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Command(format!("{}: {}", path, e)))
}

/// One action of the tool with its files already read: what the tool and the console run.
#[derive(Debug, Clone)]
pub enum ReassignCommand {
    /// `--generate`: the `--topics-to-move-json-file` content and `--broker-list`.
    Generate { topics_json: String, broker_list: String },
    /// `--execute`: the file's name (0.8.2 named it in one message) and its content.
    Execute { file: String, json: String },
    /// `--verify`: the `--reassignment-json-file` content.
    Verify { json: String },
}

/// Run `command` against the cluster: the lines the tool prints, and whether it succeeded.
pub async fn reassign(zk: &ZkClient, command: &ReassignCommand) -> ToolOutput {
    let mut lines = Vec::new();
    let result = match command {
        ReassignCommand::Generate { topics_json, broker_list } => generate(zk, topics_json, broker_list, &mut lines).await,
        ReassignCommand::Execute { file, json } => execute(zk, file, json, &mut lines).await,
        ReassignCommand::Verify { json } => verify(zk, json, &mut lines).await,
    };
    match result {
        Ok(()) => ToolOutput { lines, ok: true },
        Err(Failure::Usage(message)) | Err(Failure::Command(message)) => {
            lines.extend(failed(&message).lines);
            ToolOutput { lines, ok: false }
        }
    }
}

/// The assignments of `topics` that exist.
async fn assignments(zk: &ZkClient, topics: impl IntoIterator<Item = &String>) -> Result<BTreeMap<String, ReplicaAssignment>, Failure> {
    let mut out = BTreeMap::new();
    for t in topics {
        if out.contains_key(t) {
            continue;
        }
        if let Some(a) = admin::fetch_assignment(zk, t).await? {
            out.insert(t.clone(), a);
        }
    }
    Ok(out)
}

async fn generate(zk: &ZkClient, topics_json: &str, list: &str, out: &mut Vec<String>) -> Result<(), Failure> {
    let brokers: Vec<i32> = list
        .split(',')
        .map(|b| admin::java_parse_int(b).ok_or_else(|| Failure::Command(format!("For input string: \"{}\"", b))))
        .collect::<Result<_, _>>()?;
    let topics = admin::parse_topics_json(topics_json)?;
    let current = assignments(zk, &topics).await?;
    let live = admin::live_brokers(zk).await?;
    admin::check_generate_input(&brokers, &topics, &live, &current)?;
    let proposed = admin::propose_reassignment(&brokers, &topics, &current, admin::time_seeded_random())?;
    out.push(format!("Current partition replica assignment\n\n{}", admin::reassignment_json(&admin::current_reassignment(&topics, &current))));
    out.push(format!("Proposed partition reassignment configuration\n\n{}", admin::reassignment_json(&proposed)));
    Ok(())
}

async fn execute(zk: &ZkClient, file: &str, json: &str, out: &mut Vec<String>) -> Result<(), Failure> {
    let partitions = admin::parse_reassignment_json(json)?;
    // The topics in the file's order (0.8.2: `.map(_._1.topic).distinct`).
    let mut topics: Vec<String> = Vec::new();
    for (tp, _) in &partitions {
        if !topics.contains(&tp.topic) {
            topics.push(tp.topic.clone());
        }
    }
    let current = assignments(zk, &topics).await?;
    let live = admin::live_brokers(zk).await?;
    admin::check_reassignment(file, &partitions, &current, &live)?;
    // Before starting, the current assignment, to roll back with.
    out.push(format!(
        "Current partition replica assignment\n\n{}\n\nSave this to use as the --reassignment-json-file option during rollback",
        admin::reassignment_json(&admin::current_reassignment(&topics, &current))
    ));
    let partitions = admin::scala_map_order(partitions);
    admin::start_reassignment(zk, &partitions).await?;
    out.push(format!("Successfully started reassignment of partitions {}", admin::reassignment_json(&partitions)));
    Ok(())
}

async fn verify(zk: &ZkClient, json: &str, out: &mut Vec<String>) -> Result<(), Failure> {
    // 0.8.2 read the file into an immutable Map: the last entry of a partition wins.
    let partitions = admin::scala_map_order(admin::parse_reassignment_json(json)?);
    let running: BTreeSet<_> = admin::partitions_being_reassigned(zk).await?.into_iter().map(|(tp, _)| tp).collect();
    let topics: BTreeSet<String> = partitions.iter().map(|(tp, _)| tp.topic.clone()).collect();
    let current = assignments(zk, &topics).await?;
    out.push("Status of partition reassignment:".to_string());
    // 0.8.2 printed each mismatch while it checked every partition, then every status.
    let statuses: Vec<(&TopicPartition, ReassignmentStatus)> = partitions
        .iter()
        .map(|(tp, target)| {
            let now = current.get(&tp.topic).and_then(|parts| parts.get(&tp.partition));
            (tp, admin::reassignment_status(target, running.contains(tp), now))
        })
        .collect();
    for ((tp, status), (_, target)) in statuses.iter().zip(&partitions) {
        if let ReassignmentStatus::Failed(assigned) = status {
            out.push(format!(
                "ERROR: Assigned replicas ({}) don't match the list of replicas for reassignment ({}) for partition {}",
                join(&assigned[..]),
                join(target),
                tp
            ));
        }
    }
    for (tp, status) in &statuses {
        out.push(match status {
            ReassignmentStatus::Completed => format!("Reassignment of partition {} completed successfully", tp),
            ReassignmentStatus::InProgress => format!("Reassignment of partition {} is still in progress", tp),
            ReassignmentStatus::Failed(_) => format!("Reassignment of partition {} failed", tp),
        });
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}
