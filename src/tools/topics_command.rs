//! `kafka.admin.TopicCommand` (`bin/kafka-topics.sh`): create, alter, list, describe and
//! mark for deletion topics directly in ZooKeeper, with 0.8.2's flags, checks and output.
//!
//! As in 0.8.2: usage errors print the message and the usage to stderr; a failing command
//! prints `Error while executing topic command <message>` to stdout (0.8.2 added a stack
//! trace, kafka08 does not). Unlike 0.8.2, which exited 0 after a failed command, kafka08
//! exits 1. A ZooKeeper that cannot be reached within the connection timeout (30 s, as
//! 0.8.2's `new ZkClient(zk, 30000, 30000)`) gives 0.8.2's one-line `ZkTimeoutException`.

use super::options::{usage_and_die, OptionParser, Options, UsageError};
use super::ToolOutput;
use crate::admin::{self, AdminError, JavaHashtable};
use crate::common::Properties;
use crate::zk::ZkClient;
use regex::Regex;
use std::io::Write;
use std::time::Duration;

const SUMMARY: &str = "Create, delete, describe, or change a topic.";

/// What a failed command's line starts with.
pub const COMMAND_ERROR_PREFIX: &str = "Error while executing topic command ";

/// Overrides the 30 s ZooKeeper connection timeout (kafka08 extension, for tests and
/// impatient operators).
pub const CONNECTION_TIMEOUT_ENV: &str = "KAFKA08_ZK_CONNECTION_TIMEOUT_MS";
const ZK_TIMEOUT_MS: u64 = 30_000;

fn parser() -> OptionParser {
    OptionParser::new(SUMMARY)
        .arg(
            "zookeeper",
            "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over.",
            "urls",
        )
        .flag("list", "List all available topics.")
        .flag("create", "Create a new topic.")
        .flag("delete", "Delete a topic")
        .flag("alter", "Alter the configuration for the topic.")
        .flag("describe", "List details for the given topics.")
        .flag("help", "Print usage information.")
        .arg(
            "topic",
            "The topic to be create, alter or describe. Can also accept a regular expression except for --create option",
            "topic",
        )
        .arg("config", CONFIG_DESCRIPTION, "name=value")
        .arg(
            "deleteConfig",
            "A topic configuration override to be removed for an existing topic (see the list of configurations under the --config option).",
            "name",
        )
        .arg(
            "partitions",
            "The number of partitions for the topic being created or altered (WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected",
            "# of partitions",
        )
        .arg("replication-factor", "The replication factor for each partition in the topic being created.", "replication factor")
        .arg(
            "replica-assignment",
            "A list of manual partition-to-broker assignments for the topic being created or altered.",
            "broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...",
        )
        .flag("under-replicated-partitions", "if set when describing topics, only show under replicated partitions")
        .flag("unavailable-partitions", "if set when describing topics, only show partitions whose leader is not available")
        .flag("topics-with-overrides", "if set when describing topics, only show topics that have overridden configs")
}

const CONFIG_DESCRIPTION: &str = "A topic configuration override for the topic being created or altered.The following is a list of valid configurations: \n\tsegment.bytes\n\tsegment.ms\n\tsegment.jitter.ms\n\tsegment.index.bytes\n\tflush.messages\n\tflush.ms\n\tretention.bytes\n\tretention.ms\n\tmax.message.bytes\n\tindex.interval.bytes\n\tdelete.retention.ms\n\tfile.delete.delay.ms\n\tmin.cleanable.dirty.ratio\n\tcleanup.policy\n\tunclean.leader.election.enable\n\tmin.insync.replicas\nSee the Kafka documentation for full details on the topic configs.";

const ACTIONS: &[&str] = &["create", "list", "alter", "describe", "delete"];

/// One line of the command's output (printed by `main`, shown by the console).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.push(format!($($arg)*))
    };
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    if args.is_empty() {
        return usage_and_die(&p, SUMMARY);
    }
    let opts = match p.parse(&modern_spellings(args)) {
        Ok(o) => o,
        Err(e) => return usage_and_die(&p, &e.0),
    };
    if opts.has("help") {
        let _ = write!(std::io::stdout().lock(), "{}\n{}", p.summary(), p.usage());
        return 0;
    }
    if let Err(e) = check_command(&opts) {
        return usage_and_die(&p, &e.0);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {}", e);
            return 1;
        }
    };
    runtime.block_on(run(&p, &opts))
}

/// The option was `--deleteConfig` in 0.8.1 and 0.8.2 documented it so; later releases
/// spell it `--delete-config`. Runbooks of either era work.
fn modern_spellings(args: &[String]) -> Vec<String> {
    args.iter()
        .map(|a| match a.strip_prefix("--delete-config") {
            Some(rest) if rest.is_empty() || rest.starts_with('=') => format!("--deleteConfig{}", rest),
            _ => a.clone(),
        })
        .collect()
}

/// Exactly one action, and 0.8.2's checks of the options.
fn check_command(opts: &Options) -> Result<(), UsageError> {
    if ACTIONS.iter().filter(|a| opts.has(a)).count() != 1 {
        return Err(UsageError("Command must include exactly one action: --list, --describe, --create, --alter or --delete".into()));
    }
    check_args(opts)
}

/// 0.8.2 `TopicCommandOptions.checkArgs`.
fn check_args(opts: &Options) -> Result<(), UsageError> {
    let require = |name: &str| {
        if opts.has(name) {
            Ok(())
        } else {
            Err(UsageError(format!("Missing required argument \"[{}]\"", name)))
        }
    };
    let invalid = |used: &str, others: &[&str]| {
        if opts.has(used) {
            if let Some(other) = others.iter().find(|o| opts.has(o)) {
                // The missing space before the second quote is 0.8.2's.
                return Err(UsageError(format!("Option \"[{}]\" can't be used with option\"[{}]\"", used, other)));
            }
        }
        Ok(())
    };
    require("zookeeper")?;
    if !opts.has("list") && !opts.has("describe") {
        require("topic")?;
    }
    invalid("config", &["describe", "list"])?;
    invalid("deleteConfig", &["create", "describe", "list"])?;
    invalid("partitions", &["describe", "list"])?;
    invalid("replication-factor", &["alter", "describe", "list"])?;
    // Later releases' form of this check: 0.8.2's also refused --replica-assignment with
    // --alter --partitions, which made adding partitions by hand impossible.
    invalid("replica-assignment", &["describe", "list"])?;
    if opts.has("create") {
        invalid("replica-assignment", &["partitions", "replication-factor"])?;
    }
    invalid("under-replicated-partitions", &["alter", "create", "list", "unavailable-partitions", "topics-with-overrides"])?;
    invalid("unavailable-partitions", &["alter", "create", "list", "under-replicated-partitions", "topics-with-overrides"])?;
    invalid("topics-with-overrides", &["alter", "create", "list", "under-replicated-partitions", "unavailable-partitions"])?;
    // jopt-simple converted these to Integer; a value that is not one is a usage error.
    opts.parse_value::<i32>("partitions")?;
    opts.parse_value::<i32>("replication-factor")?;
    Ok(())
}

/// How a command fails.
enum Failure {
    /// `CommandLineUtils.printUsageAndDie` inside a command.
    Usage(String),
    /// An exception: `Error while executing topic command <message>` on stdout.
    Command(String),
    /// Already reported on stdout; exit 1.
    Reported,
}

impl From<AdminError> for Failure {
    fn from(e: AdminError) -> Self {
        Failure::Command(e.to_string())
    }
}

/// `host[:port]` entries without a port get ZooKeeper's default 2181, as the Java client did.
fn normalize_connect(connect: &str) -> String {
    let (hosts, chroot) = crate::zk::paths::split_chroot(connect);
    let hosts: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| if h.contains(':') { h.to_string() } else { format!("{}:2181", h) })
        .collect();
    format!("{}{}", hosts.join(","), chroot)
}

/// Connect as 0.8.2's admin tools did (`new ZkClient(zk, 30000, 30000)`); the error is
/// the one line 0.8.2's ZkClient exception printed.
pub(super) async fn connect(zookeeper: &str) -> Result<ZkClient, String> {
    let connect = normalize_connect(zookeeper);
    let timeout = connection_timeout();
    match tokio::time::timeout(
        timeout + Duration::from_secs(2),
        ZkClient::connect(&connect, Duration::from_millis(ZK_TIMEOUT_MS), timeout),
    )
    .await
    {
        Ok(Ok(zk)) => Ok(zk),
        Ok(Err(e)) if !e.to_string().contains("Unable to connect") && !e.to_string().contains("timeout") => {
            Err(format!("Exception in thread \"main\" org.I0Itec.zkclient.exception.ZkException: {}", e))
        }
        _ => Err(format!(
            "Exception in thread \"main\" org.I0Itec.zkclient.exception.ZkTimeoutException: Unable to connect to zookeeper server within timeout: {}",
            timeout.as_millis()
        )),
    }
}

fn connection_timeout() -> Duration {
    let ms = std::env::var(CONNECTION_TIMEOUT_ENV).ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(ZK_TIMEOUT_MS);
    Duration::from_millis(ms.max(1))
}

async fn run(p: &OptionParser, opts: &Options) -> i32 {
    let zk = match connect(opts.value("zookeeper").unwrap_or_default()).await {
        Ok(zk) => zk,
        Err(line) => {
            eprintln!("{}", line);
            return 1;
        }
    };
    let mut out = Vec::new();
    let result = command(&zk, opts, &mut out).await;
    let mut printed = ToolOutput { lines: out, ok: true };
    match result {
        Ok(()) => printed.print(),
        Err(Failure::Usage(message)) => {
            printed.print();
            usage_and_die(p, &message)
        }
        Err(Failure::Command(message)) => {
            printed.lines.push(format!("{}{}", COMMAND_ERROR_PREFIX, message));
            printed.print();
            1
        }
        Err(Failure::Reported) => {
            printed.print();
            1
        }
    }
}

/// The action `opts` name, its lines in `out`.
async fn command(zk: &ZkClient, opts: &Options, out: &mut Vec<String>) -> Result<(), Failure> {
    if opts.has("create") {
        create_topic(zk, opts, out).await
    } else if opts.has("alter") {
        alter_topic(zk, opts, out).await
    } else if opts.has("list") {
        list_topics(zk, opts, out).await
    } else if opts.has("describe") {
        describe_topic(zk, opts, out).await
    } else {
        let deleted = delete_topics(zk, opts.value("topic").unwrap_or("null"), false).await;
        out.extend(deleted.lines);
        if deleted.ok {
            Ok(())
        } else {
            Err(Failure::Reported)
        }
    }
}

/// `kafka-topics.sh ARGS` against `zk` (`--zookeeper` is not needed): the same checks and
/// the lines the tool prints; a usage error is its message alone (the tool adds the usage).
pub async fn run_on(zk: &ZkClient, args: &[String]) -> ToolOutput {
    let mut args = modern_spellings(args);
    if !args.iter().any(|a| a == "--zookeeper") {
        args.extend(["--zookeeper".to_string(), "(connected)".to_string()]);
    }
    let opts = match parser().parse(&args).map_err(|e| e.0).and_then(|o| check_command(&o).map(|()| o).map_err(|e| e.0)) {
        Ok(o) => o,
        Err(usage) => return ToolOutput { lines: vec![usage], ok: false },
    };
    let mut lines = Vec::new();
    let result = command(zk, &opts, &mut lines).await;
    let ok = result.is_ok();
    match result {
        Ok(()) | Err(Failure::Reported) => {}
        Err(Failure::Usage(message)) => lines.push(message),
        Err(Failure::Command(message)) => lines.push(format!("{}{}", COMMAND_ERROR_PREFIX, message)),
    }
    ToolOutput { lines, ok }
}

/// 0.8.2 `TopicFilter`/`Whitelist`: commas mean `|`, spaces and surrounding quotes are
/// dropped, and a topic is selected when the whole name matches.
fn whitelist(spec: &str) -> Result<Regex, Failure> {
    let raw = spec.trim().replace(',', "|").replace(' ', "");
    let regex = raw.trim_start_matches(['"', '\'']).trim_end_matches(['"', '\'']);
    Regex::new(&format!("^(?:{})$", regex)).map_err(|_| Failure::Command(format!("{} is an invalid regex.", regex)))
}

async fn get_topics(zk: &ZkClient, opts: &Options) -> Result<Vec<String>, Failure> {
    get_topics_matching(zk, opts.value("topic")).await
}

async fn get_topics_matching(zk: &ZkClient, spec: Option<&str>) -> Result<Vec<String>, Failure> {
    let all = admin::list_topics(zk).await?;
    match spec {
        None => Ok(all),
        Some(spec) => {
            let filter = whitelist(spec)?;
            Ok(all.into_iter().filter(|t| filter.is_match(t)).collect())
        }
    }
}

/// Java `String.split("\\s*=\\s*")`: no match gives the whole string; trailing empty pieces
/// are dropped.
fn split_key_value(s: &str) -> Vec<&str> {
    let re = Regex::new(r"\s*=\s*").expect("constant regex");
    if !re.is_match(s) {
        return vec![s];
    }
    let mut parts: Vec<&str> = re.split(s).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// 0.8.2 `parseTopicConfigsToBeAdded`.
fn configs_to_add(opts: &Options) -> Result<Properties, Failure> {
    let pairs: Vec<Vec<&str>> = opts.values("config").into_iter().map(split_key_value).collect();
    if pairs.iter().any(|p| p.len() != 2) {
        return Err(Failure::Command(
            "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".".to_string(),
        ));
    }
    let mut props = Properties::new();
    for p in pairs {
        props.set(p[0].trim(), p[1].trim());
    }
    admin::validate_config(&props)?;
    Ok(props)
}

/// 0.8.2 `parseTopicConfigsToBeDeleted`: names only, each a per-topic key.
fn configs_to_delete(opts: &Options) -> Result<Vec<String>, Failure> {
    let names: Vec<String> = opts.values("deleteConfig").into_iter().map(|n| n.trim().to_string()).collect();
    let table = JavaHashtable::from_pairs(names.iter().map(|n| (n.as_str(), "")));
    for (name, _) in table.iter() {
        if !crate::log::TOPIC_CONFIG_NAMES.contains(&name) {
            return Err(Failure::Command(format!("requirement failed: Unknown configuration \"{}\".", name)));
        }
    }
    Ok(names)
}

fn int_option(opts: &Options, name: &str) -> Result<i32, Failure> {
    match opts.parse_value::<i32>(name) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Failure::Usage(format!("Missing required argument \"[{}]\"", name))),
        Err(e) => Err(Failure::Usage(e.0)),
    }
}

async fn create_topic(zk: &ZkClient, opts: &Options, out: &mut Vec<String>) -> Result<(), Failure> {
    let topic = opts.value("topic").unwrap_or_default();
    let config = configs_to_add(opts)?;
    if let Some(assignment) = opts.value("replica-assignment") {
        let assignment = admin::parse_replica_assignment(assignment)?;
        admin::create_topic_with_assignment(zk, topic, &assignment, &config).await?;
    } else {
        let partitions = int_option(opts, "partitions")?;
        let replication_factor = int_option(opts, "replication-factor")?;
        admin::create_topic(zk, topic, partitions, replication_factor, &config).await?;
    }
    say!(out, "Created topic \"{}\".", topic);
    Ok(())
}

fn to_properties(table: &JavaHashtable) -> Properties {
    let mut p = Properties::new();
    for (k, v) in table.iter() {
        p.set(k, v);
    }
    p
}

async fn alter_topic(zk: &ZkClient, opts: &Options, out: &mut Vec<String>) -> Result<(), Failure> {
    // 0.8.2 did nothing, silently, when no topic matched.
    for topic in get_topics(zk, opts).await? {
        let current = admin::fetch_topic_config(zk, &topic).await?;
        let mut configs = JavaHashtable::from_pairs(current.iter());
        if opts.has("config") || opts.has("deleteConfig") {
            let added = configs_to_add(opts)?;
            let deleted = configs_to_delete(opts)?;
            configs.put_all(&JavaHashtable::from_pairs(added.iter()));
            for name in &deleted {
                configs.remove(name);
            }
            admin::change_topic_config(zk, &topic, &to_properties(&configs)).await?;
            say!(out, "Updated config for topic \"{}\".", topic);
        }
        if opts.has("partitions") {
            if topic == admin::OFFSETS_TOPIC_NAME {
                return Err(Failure::Command("The number of partitions for the offsets topic cannot be changed.".to_string()));
            }
            say!(out, "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected");
            let partitions = int_option(opts, "partitions")?;
            admin::add_partitions(zk, &topic, partitions, opts.value("replica-assignment"), &to_properties(&configs)).await?;
            say!(out, "Adding partitions succeeded!");
        }
    }
    Ok(())
}

async fn list_topics(zk: &ZkClient, opts: &Options, out: &mut Vec<String>) -> Result<(), Failure> {
    for topic in get_topics(zk, opts).await? {
        if admin::is_marked_for_deletion(zk, &topic).await? {
            say!(out, "{} - marked for deletion", topic);
        } else {
            say!(out, "{}", topic);
        }
    }
    Ok(())
}

/// `--delete --topic SPEC`: mark every topic `spec` selects (a whitelist, as `--topic`
/// takes it; with `exact`, only the topic named `spec`, as the console deletes from a
/// topic's page). What the tool prints, and whether it succeeded.
pub async fn delete_topics(zk: &ZkClient, spec: &str, exact: bool) -> ToolOutput {
    let mut lines = Vec::new();
    let result = async {
        let topics = if exact {
            admin::list_topics(zk).await?.into_iter().filter(|t| t == spec).collect()
        } else {
            get_topics_matching(zk, Some(spec)).await?
        };
        if topics.is_empty() {
            // 0.8.2 printed this and exited 0; kafka08 exits 1 as for any failed command.
            lines.push(format!("Topic {} does not exist", spec));
            return Err(Failure::Reported);
        }
        for topic in topics {
            match admin::mark_topic_for_deletion(zk, &topic).await {
                Ok(true) => {
                    lines.push(format!("Topic {} is marked for deletion.", topic));
                    lines.push("Note: This will have no impact if delete.topic.enable is not set to true.".to_string());
                }
                Ok(false) => lines.push(format!("Topic {} is already marked for deletion.", topic)),
                Err(_) => return Err(Failure::Command(format!("Error while deleting topic {}", topic))),
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => ToolOutput { lines, ok: true },
        Err(Failure::Command(message)) | Err(Failure::Usage(message)) => {
            lines.push(format!("{}{}", COMMAND_ERROR_PREFIX, message));
            ToolOutput { lines, ok: false }
        }
        Err(Failure::Reported) => ToolOutput { lines, ok: false },
    }
}

async fn describe_topic(zk: &ZkClient, opts: &Options, out: &mut Vec<String>) -> Result<(), Failure> {
    let topics = get_topics(zk, opts).await?;
    let under_replicated = opts.has("under-replicated-partitions");
    let unavailable = opts.has("unavailable-partitions");
    let with_overrides = opts.has("topics-with-overrides");
    let live = admin::live_brokers(zk).await?;
    let describe_configs = !unavailable && !under_replicated;
    let describe_partitions = !with_overrides;
    for topic in topics {
        let Some(d) = admin::describe_topic(zk, &topic).await? else {
            say!(out, "Topic {} doesn't exist!", topic);
            continue;
        };
        if describe_configs && (!with_overrides || !d.config.is_empty()) {
            // A java.util.Properties printed in its own (hash table) order, as 0.8.2 did.
            let configs: Vec<String> =
                JavaHashtable::from_pairs(d.config.iter()).iter().map(|(k, v)| format!("{}={}", k, v)).collect();
            say!(
                out,
                "Topic:{}\tPartitionCount:{}\tReplicationFactor:{}\tConfigs:{}",
                topic,
                d.partitions.len(),
                d.replication_factor(),
                configs.join(",")
            );
        }
        if describe_partitions {
            for part in &d.partitions {
                let show = (!under_replicated && !unavailable)
                    || (under_replicated && part.is_under_replicated())
                    || (unavailable && part.is_unavailable(&live));
                if show {
                    let leader = part.leader.map_or_else(|| "none".to_string(), |l| l.to_string());
                    say!(
                        out,
                        "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                        topic,
                        part.partition,
                        leader,
                        join(&part.replicas),
                        join(&part.isr)
                    );
                }
            }
        }
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelist_is_082s_topic_filter() {
        let w = whitelist(" a.*, b ").ok().unwrap();
        assert!(w.is_match("abc"));
        assert!(w.is_match("b"));
        assert!(!w.is_match("xb"), "whole-name match");
        let w = whitelist("\"t1\"").ok().unwrap();
        assert!(w.is_match("t1"));
        match whitelist("(") {
            Err(Failure::Command(m)) => assert_eq!(m, "( is an invalid regex."),
            _ => panic!("expected an invalid regex"),
        }
    }

    #[test]
    fn key_value_split_is_javas() {
        assert_eq!(split_key_value("a = b"), vec!["a", "b"]);
        assert_eq!(split_key_value("a="), vec!["a"]);
        assert_eq!(split_key_value("a=b=c").len(), 3);
        assert_eq!(split_key_value("ab"), vec!["ab"]);
        assert!(split_key_value("=").is_empty());
    }

    #[test]
    fn connect_strings_get_the_default_port() {
        assert_eq!(normalize_connect("a,b:2182/kafka"), "a:2181,b:2182/kafka");
        assert_eq!(normalize_connect("127.0.0.1:5"), "127.0.0.1:5");
    }

    #[test]
    fn arg_checks_are_082s() {
        let p = parser();
        let check = |args: &[&str]| check_args(&p.parse(args).unwrap()).err().map(|e| e.0);
        assert_eq!(check(&["--list"]).as_deref(), Some("Missing required argument \"[zookeeper]\""));
        assert_eq!(check(&["--zookeeper", "z", "--create"]).as_deref(), Some("Missing required argument \"[topic]\""));
        assert_eq!(
            check(&["--zookeeper", "z", "--list", "--config", "a=b"]).as_deref(),
            Some("Option \"[config]\" can't be used with option\"[list]\"")
        );
        assert_eq!(
            check(&["--zookeeper", "z", "--create", "--topic", "t", "--replica-assignment", "1", "--partitions", "1"]).as_deref(),
            Some("Option \"[replica-assignment]\" can't be used with option\"[partitions]\"")
        );
        assert_eq!(check(&["--zookeeper", "z", "--alter", "--topic", "t", "--partitions", "3", "--replica-assignment", "1,1,1"]), None);
        assert!(check(&["--zookeeper", "z", "--create", "--topic", "t", "--partitions", "x"]).is_some());
    }
}
