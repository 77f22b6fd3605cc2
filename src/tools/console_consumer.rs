//! `kafka.tools.ConsoleConsumer` (`bin/kafka-console-consumer.sh --zookeeper ...`): a
//! high-level consumer printing one message per line, with 0.8.2's flags and behaviour
//! (generated group removed at exit, `--from-beginning` refused on a group with offsets
//! unless `--delete-consumer-offsets`).
//!
//! `--csv-reporter-enabled` and `--metrics-dir` are accepted for 0.8.2 command lines and
//! write nothing (kafka08 has no CSV metrics reporter; brokers expose Prometheus metrics).
//! `--formatter` accepts only 0.8.2's `DefaultMessageFormatter`.

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use crate::common::Properties;
use crate::consumer::zk::{ConsumerConfig, ConsumerError, TopicFilter, ZookeeperConsumerConnector};
use crate::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

/// 0.8.2's default formatter (value, or key + `key.separator` + value with `print.key`).
const DEFAULT_FORMATTER: &str = "kafka.tools.DefaultMessageFormatter";

fn parser() -> OptionParser {
    OptionParser::new("The console consumer is a tool that reads data from Kafka and outputs it to standard output.")
        .arg("topic", "The topic id to consume on.", "topic")
        .arg("whitelist", "Whitelist of topics to include for consumption.", "whitelist")
        .arg("blacklist", "Blacklist of topics to exclude from consumption.", "blacklist")
        .arg("consumer.config", "Consumer config properties file.", "config file")
        .arg("zookeeper", "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over.", "urls")
        .arg("group", "The group id to consume on.", "gid")
        .arg_default("fetch-size", "The amount of data to fetch in a single request.", "size", (1024 * 1024).to_string())
        .arg_default("min-fetch-bytes", "The min number of bytes each fetch request waits for.", "bytes", "1")
        .arg_default("max-wait-ms", "The max amount of time each fetch request waits.", "ms", "100")
        .arg_default("socket-buffer-size", "The size of the tcp RECV size.", "size", (2 * 1024 * 1024).to_string())
        .arg_default("socket-timeout-ms", "The socket timeout used for the connection to the broker", "ms", "30000")
        .arg_default("refresh-leader-backoff-ms", "Backoff time before refreshing metadata", "ms", "200")
        .arg_default("consumer-timeout-ms", "consumer throws timeout exception after waiting this much of time without incoming messages", "prop", "-1")
        .arg_default("formatter", "The name of a class to use for formatting kafka messages for display.", "class", DEFAULT_FORMATTER)
        .arg("property", "", "prop")
        .flag("delete-consumer-offsets", "If specified, the consumer path in zookeeper is deleted when starting up")
        .flag("from-beginning", "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message.")
        .arg_default("autocommit.interval.ms", "The time interval at which to save the current offset in ms", "ms", "60000")
        .arg("max-messages", "The maximum number of messages to consume before exiting. If not set, consumption is continual.", "num_messages")
        .flag("skip-message-on-error", "If there is an error when processing a message, skip it instead of halt.")
        .flag("csv-reporter-enabled", "If set, the CSV metrics reporter will be enabled")
        .arg("metrics-dir", "If csv-reporter-enable is set, and this parameter isset, the csv metrics will be outputed here", "metrics dictory")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["zookeeper"])?;
    super::options::require_known_class(&opts, "formatter", &[DEFAULT_FORMATTER])?;
    let chosen = ["topic", "whitelist", "blacklist"].iter().filter(|o| opts.has(o)).count();
    if chosen != 1 {
        return Err(UsageError("Exactly one of whitelist/blacklist/topic is required.".into()).into());
    }
    let mut props = Properties::new();
    if let Some(f) = opts.value("consumer.config") {
        props = Properties::load(std::path::Path::new(f)).map_err(|e| ToolError::Failed(e.to_string()))?;
    }
    let mut formatter_props = Properties::new();
    for kv in opts.values("property") {
        let (k, v) = kv.split_once('=').ok_or_else(|| UsageError(format!("Invalid property {} (expected key=value)", kv)))?;
        formatter_props.set(k, v);
    }
    let generated = !opts.has("group") && !props.contains("group.id");
    let group = match opts.value("group") {
        Some(g) => g.to_string(),
        None => props.get("group.id").map(str::to_string).unwrap_or_else(|| format!("console-consumer-{}", random_below(100_000))),
    };
    props.set("group.id", group.clone());
    props.set("zookeeper.connect", opts.value("zookeeper").unwrap_or(""));
    props.set("auto.offset.reset", if opts.has("from-beginning") { "smallest" } else { "largest" });
    for (key, opt) in [
        ("socket.receive.buffer.bytes", "socket-buffer-size"),
        ("socket.timeout.ms", "socket-timeout-ms"),
        ("auto.commit.interval.ms", "autocommit.interval.ms"),
        ("fetch.message.max.bytes", "fetch-size"),
        ("fetch.min.bytes", "min-fetch-bytes"),
        ("fetch.wait.max.ms", "max-wait-ms"),
        ("refresh.leader.backoff.ms", "refresh-leader-backoff-ms"),
        ("consumer.timeout.ms", "consumer-timeout-ms"),
    ] {
        if !props.contains(key) || opts.values(opt).len() > 0 {
            props.set(key, opts.value(opt).unwrap_or(""));
        }
    }
    props.set("auto.commit.enable", "true");
    let max_messages: Option<u64> = opts.parse_value("max-messages")?;
    let skip_errors = opts.has("skip-message-on-error");
    let print_key = formatter_props.get("print.key").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let key_separator = formatter_props.get("key.separator").unwrap_or("\t").to_string();
    let line_separator = formatter_props.get("line.separator").unwrap_or("\n").to_string();
    let config = ConsumerConfig::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?;
    let zk_connect = props.get("zookeeper.connect").unwrap_or("").to_string();
    let filter = if let Some(t) = opts.value("topic") {
        None.ok_or(t.to_string())
    } else if let Some(w) = opts.value("whitelist") {
        Ok(TopicFilter::whitelist(w).map_err(|e| ToolError::Failed(e.to_string()))?)
    } else {
        Ok(TopicFilter::blacklist(opts.value("blacklist").unwrap_or("")).map_err(|e| ToolError::Failed(e.to_string()))?)
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| ToolError::Failed(e.to_string()))?;
    let result = rt.block_on(async {
        let zk = ZkClient::connect(&zk_connect, Duration::from_secs(30), Duration::from_secs(30)).await.map_err(|e| ToolError::Failed(e.to_string()))?;
        let group_dir = paths::consumer_group(&group);
        if opts.has("from-beginning") && !opts.has("delete-consumer-offsets") {
            if zk.consumer_group_has_offsets(&group).await.map_err(|e| ToolError::Failed(e.to_string()))? {
                return Err(ToolError::Failed(format!(
                    "Found previous offset information for this group {}. Please use --delete-consumer-offsets to delete previous offsets metadata",
                    group
                )));
            }
        }
        if opts.has("delete-consumer-offsets") {
            zk.delete_recursive(&group_dir).await.map_err(|e| ToolError::Failed(e.to_string()))?;
        }
        let connector = ZookeeperConsumerConnector::create(config).await.map_err(|e| ToolError::Failed(e.to_string()))?;
        let mut stream = match filter {
            Err(topic) => {
                let mut m = BTreeMap::new();
                m.insert(topic.clone(), 1usize);
                let mut streams = connector.create_message_streams(&m).await.map_err(|e| ToolError::Failed(e.to_string()))?;
                streams.remove(&topic).and_then(|mut v| v.pop()).ok_or_else(|| ToolError::Failed("no stream".into()))?
            }
            Ok(f) => connector.create_message_streams_by_filter(f, 1).await.map_err(|e| ToolError::Failed(e.to_string()))?.pop().ok_or_else(|| ToolError::Failed("no stream".into()))?,
        };
        let mut count = 0u64;
        let stdout = std::io::stdout();
        let mut failure = None;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| ToolError::Failed(e.to_string()))?;
        loop {
            if max_messages.is_some_and(|m| count >= m) {
                break;
            }
            let next = tokio::select! {
                n = stream.next() => n,
                _ = tokio::signal::ctrl_c() => None,
                _ = term.recv() => None,
            };
            match next {
                None => break,
                Some(Err(ConsumerError::Timeout)) => break,
                Some(Err(e)) => {
                    if skip_errors {
                        eprintln!("Error processing message, skipping this message: {}", e);
                        continue;
                    }
                    failure = Some(e.to_string());
                    break;
                }
                Some(Ok(m)) => {
                    let mut out = stdout.lock();
                    let mut line = Vec::new();
                    if print_key {
                        line.extend_from_slice(m.key.as_deref().unwrap_or(b"null"));
                        line.extend_from_slice(key_separator.as_bytes());
                    }
                    line.extend_from_slice(m.value.as_deref().unwrap_or(b"null"));
                    line.extend_from_slice(line_separator.as_bytes());
                    if out.write_all(&line).and_then(|_| out.flush()).is_err() {
                        break; // stdout closed (a pipe to `head`)
                    }
                    count += 1;
                }
            }
        }
        connector.shutdown().await;
        eprintln!("Consumed {} messages", count);
        if generated {
            let _ = zk.delete_recursive(&group_dir).await;
        }
        match failure {
            Some(f) => Err(ToolError::Failed(format!("Error processing message, stopping consumer: {}", f))),
            None => Ok(()),
        }
    });
    result
}

fn random_below(n: u64) -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    (t ^ (std::process::id() as u64).rotate_left(17)) % n
}
