//! `kafka.tools.ReplayLogProducer` (`bin/kafka-replay-log-producer.sh --broker-list H:P
//! --inputtopic A --outputtopic B`): reads a topic from the beginning with a ZooKeeper
//! high-level consumer and sends every message, key and value as they are, to another
//! topic, as 0.8.2 did:
//!
//! - the consumer group is `replay-log-producer`, deleted from ZooKeeper first (so every
//!   run starts at the earliest offsets: `auto.offset.reset=smallest`), with
//!   `consumer.timeout.ms=10000`, `fetch.message.max.bytes=1048576` and
//!   `socket.receive.buffer.bytes=2097152`;
//! - `--threads` streams of the input topic, each with its own producer; each stream
//!   replays at most `--messages` messages (default -1: all), and ends after 10 s without
//!   a message (logged as `consumer thread timing out`); the tool exits 0 when every
//!   stream has ended;
//! - a message that cannot be sent is logged (`Skipping this message`) and skipped;
//! - `--property key=value` goes to the producer. 0.8.2 built its new Java producer here
//!   (`bootstrap.servers` from `--broker-list`, `acks=1` by default); kafka08 runs its 0.8
//!   producer with the same meaning: the new producer's `acks`, `retries`,
//!   `compression.type`, `linger.ms` and `batch.size` are read as their 0.8 names, and 0.8
//!   producer keys are taken as they are. `--sync` waits for each message's
//!   acknowledgement; without it the producer batches in the background, and the tool
//!   waits for every batch before it exits.
//! - `--reporting-interval` is accepted and, as in 0.8.2, unused.
//!
//! 0.8.2 did not require `--outputtopic` (every send then failed and was skipped); here
//! its absence is a usage error like the other required flags.

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use crate::common::Properties;
use crate::consumer::zk::{ConsumerConfig, ConsumerError, KafkaStream, ZookeeperConsumerConnector};
use crate::producer::{KeyedMessage, Producer, ProducerConfig, BYTE_ARRAY_PARTITIONER};
use std::collections::BTreeMap;
use std::time::Duration;

/// 0.8.2's `ReplayLogProducer.GroupId`.
pub const GROUP_ID: &str = "replay-log-producer";

fn parser() -> OptionParser {
    OptionParser::new("Replays the messages of one topic into another.")
        .arg_default(
            "zookeeper",
            "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over.",
            "zookeeper url",
            "127.0.0.1:2181",
        )
        .arg("broker-list", "REQUIRED: the broker list must be specified.", "hostname:port")
        .arg("inputtopic", "REQUIRED: The topic to consume from.", "input-topic")
        .arg("outputtopic", "REQUIRED: The topic to produce to", "output-topic")
        .arg_default("messages", "The number of messages to send.", "count", "-1")
        .arg_default("threads", "Number of sending threads.", "threads", "1")
        .arg_default("reporting-interval", "Interval at which to print progress info.", "size", "5000")
        .arg(
            "property",
            "A mechanism to pass properties in the form key=value to the producer. This allows the user to override producer properties that are not exposed by the existing command line arguments",
            "producer properties",
        )
        .flag("sync", "If set message send requests to the brokers are synchronously, one at a time as they arrive.")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, run)
}

/// What the command line asks for.
struct Config {
    zk_connect: String,
    input_topic: String,
    output_topic: String,
    num_messages: i32,
    num_threads: usize,
    producer: ProducerConfig,
}

/// More streams than this is a typo, not a deployment.
const MAX_THREADS: i32 = 1024;

fn config(opts: &Options) -> Result<Config, ToolError> {
    // 0.8.2 checked broker-list and inputtopic (in that order), then the broker list.
    let p = parser();
    p.check_required(opts, &["broker-list", "inputtopic"])?;
    let broker_list = opts.value("broker-list").unwrap_or("").to_string();
    if !super::console_producer::valid_broker_list(&broker_list) {
        return Err(UsageError("Please provide valid host:port like host1:9091,host2:9092\n ".into()).into());
    }
    p.check_required(opts, &["outputtopic"])?;
    // jopt-simple converted these to Integer while parsing.
    let num_messages: i32 = opts.parse_value("messages")?.unwrap_or(-1);
    let num_threads: i32 = opts.parse_value("threads")?.unwrap_or(1);
    opts.parse_value::<i32>("reporting-interval")?;
    if !(1..=MAX_THREADS).contains(&num_threads) {
        return Err(UsageError(format!("The value of threads must be between 1 and {} (got {})", MAX_THREADS, num_threads)).into());
    }
    let props = producer_properties(&opts.values("property"), &broker_list, opts.has("sync"))?;
    let producer = ProducerConfig::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?;
    Ok(Config {
        zk_connect: opts.value("zookeeper").unwrap_or("127.0.0.1:2181").to_string(),
        input_topic: opts.value("inputtopic").unwrap_or("").to_string(),
        output_topic: opts.value("outputtopic").unwrap_or("").to_string(),
        num_messages,
        num_threads: num_threads as usize,
        producer,
    })
}

/// 0.8.2 `CommandLineUtils.parseKeyValueArgs` (Java's `split("=")`: trailing empty parts
/// dropped, so `k=` is `k` with an empty value; more than one `=` is refused).
pub fn parse_key_value_args(args: &[&str]) -> Result<Vec<(String, String)>, ToolError> {
    let mut out = Vec::new();
    for a in args {
        let mut parts: Vec<&str> = a.split('=').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        match parts.as_slice() {
            [] => {}
            [k] => out.push((k.to_string(), String::new())),
            [k, v] => out.push((k.to_string(), v.to_string())),
            _ => return Err(ToolError::Failed(format!("Invalid command line properties: {}", args.join(" ")))),
        }
    }
    Ok(out)
}

/// The producer's properties: `--property` pairs (the new producer's names read as their
/// 0.8 ones), the broker list last (0.8.2 set `bootstrap.servers` after the pairs), acks=1
/// unless given, keyed messages partitioned by their key's hash.
pub fn producer_properties(pairs: &[&str], broker_list: &str, sync: bool) -> Result<Properties, ToolError> {
    let mut props = Properties::new();
    for (k, v) in parse_key_value_args(pairs)? {
        let key = match k.as_str() {
            "acks" => "request.required.acks",
            "retries" => "message.send.max.retries",
            "compression.type" => "compression.codec",
            "linger.ms" => "queue.buffering.max.ms",
            "retry.backoff.ms" => "retry.backoff.ms",
            "bootstrap.servers" => continue,
            other => other,
        };
        let v = if key == "request.required.acks" && v.trim() == "all" { "-1".to_string() } else { v };
        props.set(key, v);
    }
    props.set("metadata.broker.list", broker_list);
    if !props.contains("request.required.acks") {
        props.set("request.required.acks", "1");
    }
    if !props.contains("partitioner.class") {
        props.set("partitioner.class", BYTE_ARRAY_PARTITIONER);
    }
    props.set("producer.type", if sync { "sync" } else { "async" });
    if !sync && !props.contains("queue.enqueue.timeout.ms") {
        // The new producer blocked when its buffer was full; so does this one.
        props.set("queue.enqueue.timeout.ms", "-1");
    }
    Ok(props)
}

fn run(opts: Options) -> Result<(), ToolError> {
    let config = config(&opts)?;
    super::perf::init_tool_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("replay-log-producer")
        .enable_all()
        .build()
        .map_err(|e| ToolError::Failed(e.to_string()))?;
    rt.block_on(replay(config))
}

async fn replay(config: Config) -> Result<(), ToolError> {
    let failed = |e: &dyn std::fmt::Display| ToolError::Failed(e.to_string());
    // "if there is no group specified then avoid polluting zookeeper with persistent group
    // data": the group's old offsets go, so the replay starts at the beginning.
    let zk = crate::zk::ZkClient::connect(&config.zk_connect, Duration::from_secs(30), Duration::from_secs(30))
        .await
        .map_err(|e| failed(&e))?;
    zk.delete_recursive(&crate::zk::paths::consumer_group(GROUP_ID)).await.map_err(|e| failed(&e))?;
    drop(zk);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let consumer = ConsumerConfig::from_pairs(&[
        ("group.id", GROUP_ID),
        ("zookeeper.connect", &config.zk_connect),
        ("consumer.timeout.ms", "10000"),
        ("auto.offset.reset", "smallest"),
        ("fetch.message.max.bytes", "1048576"),
        ("socket.receive.buffer.bytes", "2097152"),
    ])
    .map_err(|e| failed(&e))?;
    let connector = ZookeeperConsumerConnector::create(consumer).await.map_err(|e| failed(&e))?;
    let topic_count = BTreeMap::from([(config.input_topic.clone(), config.num_threads)]);
    let streams = match connector.create_message_streams(&topic_count).await {
        Ok(mut s) => s.remove(&config.input_topic).unwrap_or_default(),
        Err(e) => {
            connector.shutdown().await;
            return Err(failed(&e));
        }
    };
    let mut threads = Vec::new();
    for stream in streams {
        let producer = Producer::new(config.producer.clone());
        threads.push(tokio::spawn(replay_stream(stream, producer, config.output_topic.clone(), config.num_messages)));
    }
    for t in threads {
        let _ = t.await;
    }
    connector.shutdown().await;
    Ok(())
}

/// 0.8.2's `ZKConsumerThread`: up to `limit` messages (all if negative) of one stream to
/// the output topic, until the stream times out.
async fn replay_stream(mut stream: KafkaStream, producer: Producer, output_topic: String, limit: i32) -> u64 {
    log::info!("Starting consumer thread..");
    let mut count: u64 = 0;
    let mut taken: i64 = 0;
    while limit < 0 || taken < limit as i64 {
        let m = match stream.next().await {
            None => break,
            Some(Ok(m)) => m,
            Some(Err(ConsumerError::Timeout)) => {
                log::error!("consumer thread timing out");
                break;
            }
            Some(Err(e)) => {
                log::error!("consumer thread failed: {}", e);
                break;
            }
        };
        taken += 1;
        let message = KeyedMessage { topic: output_topic.clone(), key: m.key, part_key: None, value: m.value };
        match producer.send_one(message).await {
            Ok(()) => count += 1,
            Err(e) => log::error!("Skipping this message: {}", e),
        }
    }
    log::info!("Sent {} messages", count);
    if let Err(e) = producer.close().await {
        log::error!("Messages not sent before the producer closed: {}", e);
    }
    log::info!("thread finished execution !");
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_args_split_as_082() {
        let kv = parse_key_value_args(&["a=1", "b=", "c"]).map_err(|_| ()).unwrap();
        assert_eq!(kv, vec![("a".into(), "1".into()), ("b".into(), "".into()), ("c".into(), "".into())]);
        assert!(matches!(parse_key_value_args(&["a=1=2"]), Err(ToolError::Failed(m)) if m == "Invalid command line properties: a=1=2"));
    }

    #[test]
    fn producer_properties_take_the_new_producers_names() {
        let p = producer_properties(&["acks=all", "compression.type=gzip", "bootstrap.servers=x:1"], "h:9092", true)
            .map_err(|_| ())
            .unwrap();
        assert_eq!(p.get("metadata.broker.list"), Some("h:9092"));
        assert_eq!(p.get("request.required.acks"), Some("-1"));
        assert_eq!(p.get("compression.codec"), Some("gzip"));
        assert_eq!(p.get("producer.type"), Some("sync"));
        assert!(ProducerConfig::from_properties(&p).is_ok());
        let p = producer_properties(&[], "h:9092", false).map_err(|_| ()).unwrap();
        assert_eq!(p.get("request.required.acks"), Some("1"));
        assert_eq!(p.get("producer.type"), Some("async"));
        assert!(ProducerConfig::from_properties(&p).is_ok());
    }

    #[test]
    fn required_flags_in_082s_order() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(main(&[]), 1);
        assert_eq!(main(&s(&["--broker-list", "h:1"])), 1);
        assert_eq!(main(&s(&["--broker-list", "nohost", "--inputtopic", "a", "--outputtopic", "b"])), 1);
        assert_eq!(main(&s(&["--broker-list", "h:1", "--inputtopic", "a", "--outputtopic", "b", "--threads", "0"])), 1);
    }
}
