//! `kafka.tools.TestEndToEndLatency` (run through `bin/kafka-run-class.sh`): send
//! `num_messages` messages one at a time and time each until the high-level consumer
//! hands it out. 0.8.2's positional arguments and output:
//!
//! ```text
//! USAGE: java kafka.tools.TestEndToEndLatency$ broker_list zookeeper_connect topic num_messages consumer_fetch_max_wait producer_acks
//! 0<TAB>3.141592      <- message number, a tab, latency in ms; every 1000th message
//! Avg latency: 2.7183 ms
//!                       <- an empty line (0.8.2 printed "...ms\n" with println)
//! Percentiles: 50th = 2, 99th = 4, 99.9th = 4
//! ```
//!
//! As in 0.8.2 the consumer is in group `<topic>` with `auto.offset.reset=largest`, does not
//! auto-commit and commits once at the end; the message is "hello there beautiful".
//! 0.8.2 slept 5 s hoping the consumer's fetcher had found the log end before the first
//! send (or the first message was skipped and the tool hung); here the group's offsets are
//! set to the current log end before the consumer starts, so nothing is skipped, no old
//! message is mistaken for a new one, and no sleep is needed. A message that does not
//! arrive within [`RECEIVE_TIMEOUT`] is an error instead of a hang.

use super::perf::{init_tool_logging, java_double, jfixed};
use crate::common::Properties;
use crate::consumer::simple::SimpleConsumer;
use crate::consumer::zk::{ConsumerConfig, ZookeeperConsumerConnector};
use crate::producer::{fetch_topic_metadata, parse_broker_list, partitioner::Random, KeyedMessage, Producer, ProducerConfig};
use crate::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const USAGE: &str = "USAGE: java kafka.tools.TestEndToEndLatency$ broker_list zookeeper_connect topic num_messages consumer_fetch_max_wait producer_acks";

/// How long one message may take before the run is declared failed.
pub const RECEIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for the topic's partitions to have leaders (a new topic is created on
/// first metadata request when the brokers auto-create topics).
const LEADER_WAIT: Duration = Duration::from_secs(30);

const MESSAGE: &[u8] = b"hello there beautiful";

pub fn main(args: &[String]) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", USAGE);
        return 0;
    }
    if let Some(flag) = args.iter().find(|a| a.starts_with("--")) {
        eprintln!("{} is not a recognized option", flag.trim_start_matches('-'));
        eprintln!("{}", USAGE);
        return 1;
    }
    if args.len() != 6 {
        eprintln!("{}", USAGE);
        return 1;
    }
    match parse_and_run(args) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{}", msg);
            1
        }
    }
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value.trim().parse().map_err(|_| format!("Error: {} must be a number, not {:?}\n{}", name, value, USAGE))
}

fn parse_and_run(args: &[String]) -> Result<(), String> {
    let broker_list = args[0].clone();
    let zk_connect = args[1].clone();
    let topic = args[2].clone();
    let num_messages: usize = number("num_messages", &args[3])?;
    let fetch_max_wait: i32 = number("consumer_fetch_max_wait", &args[4])?;
    let acks: i16 = number("producer_acks", &args[5])?;
    if num_messages == 0 {
        return Err(format!("Error: num_messages must be at least 1\n{}", USAGE));
    }
    if fetch_max_wait < 0 {
        return Err(format!("Error: consumer_fetch_max_wait must not be negative\n{}", USAGE));
    }
    crate::common::validate_topic_name(&topic).map_err(|e| format!("Error: {}", e))?;
    let bootstrap = parse_broker_list(&broker_list).map_err(|e| format!("Error: invalid broker_list {}: {}", broker_list, e))?;

    let mut consumer_props = Properties::new();
    consumer_props.set("group.id", topic.clone());
    consumer_props.set("auto.commit.enable", "false");
    consumer_props.set("auto.offset.reset", "largest");
    consumer_props.set("zookeeper.connect", zk_connect.clone());
    consumer_props.set("fetch.wait.max.ms", fetch_max_wait.to_string());
    consumer_props.set("socket.timeout.ms", 1_201_000.to_string());
    let consumer_config = ConsumerConfig::from_properties(&consumer_props).map_err(|e| format!("Error: {}", e))?;
    let mut producer_props = Properties::new();
    producer_props.set("metadata.broker.list", broker_list.clone());
    producer_props.set("request.required.acks", acks.to_string());
    producer_props.set("producer.type", "sync");
    let producer_config = ProducerConfig::from_properties(&producer_props).map_err(|e| format!("Error: {}", e))?;
    init_tool_logging();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let partitions = wait_for_leaders(&bootstrap, &topic).await?;
        start_at_log_end(&zk_connect, &topic, &partitions).await?;
        let connector = ZookeeperConsumerConnector::create(consumer_config).await.map_err(|e| format!("Error: {}", e))?;
        let result = measure(&connector, producer_config, &topic, partitions.len(), num_messages).await;
        if result.is_ok() {
            if let Err(e) = connector.commit_offsets().await {
                log::warn!("committing offsets failed: {}", e);
            }
        }
        connector.shutdown().await;
        result
    })
}

/// Partition id -> leader (host, port), once every partition has one.
async fn wait_for_leaders(bootstrap: &[(String, u16)], topic: &str) -> Result<BTreeMap<i32, (String, u16)>, String> {
    let deadline = Instant::now() + LEADER_WAIT;
    let mut rng = Random::new();
    let mut last = String::new();
    loop {
        match fetch_topic_metadata(bootstrap, &[topic.to_string()], "", Duration::from_secs(10), &mut rng).await {
            Ok(md) => {
                let brokers: BTreeMap<i32, (String, u16)> =
                    md.brokers.iter().map(|b| (b.id, (b.host.clone(), b.port as u16))).collect();
                if let Some(t) = md.topics.iter().find(|t| t.topic == topic) {
                    let leaders: BTreeMap<i32, Option<(String, u16)>> =
                        t.partitions.iter().map(|p| (p.partition, brokers.get(&p.leader).cloned())).collect();
                    if !leaders.is_empty() && leaders.values().all(Option::is_some) {
                        return Ok(leaders.into_iter().map(|(p, l)| (p, l.expect("checked above"))).collect());
                    }
                    last = format!("topic {} has no leader for some partition ({})", topic, t.error_code);
                }
            }
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            return Err(format!("Error: topic {} is not available: {}", topic, last));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Store each partition's log-end offset as the group's committed offset (0.8.2's ZooKeeper
/// offset layout), so the consumer starts exactly there.
async fn start_at_log_end(zk_connect: &str, topic: &str, partitions: &BTreeMap<i32, (String, u16)>) -> Result<(), String> {
    let zk = ZkClient::connect(zk_connect, Duration::from_secs(30), Duration::from_secs(30))
        .await
        .map_err(|e| format!("Error: cannot connect to ZooKeeper at {}: {}", zk_connect, e))?;
    for (partition, (host, port)) in partitions {
        let mut c = SimpleConsumer::new(host.clone(), *port, Duration::from_secs(30), 64 * 1024, "");
        let end = c
            .latest_offset(topic, *partition)
            .await
            .map_err(|e| format!("Error: cannot get the log end of [{},{}]: {}", topic, partition, e))?;
        zk.update_persistent(&paths::consumer_offset(topic, topic, *partition), end.to_string().as_bytes())
            .await
            .map_err(|e| format!("Error: cannot store the start offset of [{},{}]: {}", topic, partition, e))?;
    }
    Ok(())
}

async fn measure(
    connector: &ZookeeperConsumerConnector,
    producer_config: ProducerConfig,
    topic: &str,
    partition_count: usize,
    num_messages: usize,
) -> Result<(), String> {
    let mut wanted = BTreeMap::new();
    wanted.insert(topic.to_string(), 1usize);
    let mut stream = connector
        .create_message_streams(&wanted)
        .await
        .map_err(|e| format!("Error: {}", e))?
        .remove(topic)
        .and_then(|mut v| v.pop())
        .ok_or_else(|| "Error: no stream".to_string())?;
    // Every partition must be ours, or a message could go where this member cannot see it.
    let deadline = Instant::now() + LEADER_WAIT;
    while connector.owned_partitions().keys().filter(|tp| tp.topic == topic).count() < partition_count {
        if Instant::now() >= deadline {
            return Err(format!("Error: the consumer does not own every partition of {} (another member in group {}?)", topic, topic));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let producer = Producer::new(producer_config);
    let mut total_ns = 0f64;
    let mut latencies: Vec<u64> = Vec::with_capacity(num_messages);
    for i in 0..num_messages {
        let begin = Instant::now();
        // 0.8.2's new producer sent without waiting for the ack: send and receive together.
        let send = producer.send_one(KeyedMessage::new(topic, MESSAGE));
        let receive = tokio::time::timeout(RECEIVE_TIMEOUT, stream.next());
        let (sent, received) = tokio::join!(send, receive);
        sent.map_err(|e| format!("Error: sending message {} failed: {}", i, e))?;
        match received {
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("Error: receiving message {} failed: {}", i, e)),
            Ok(None) => return Err("Error: the consumer was shut down".into()),
            Err(_) => return Err(format!("Error: message {} was not received within {} s", i, RECEIVE_TIMEOUT.as_secs())),
        }
        let elapsed = begin.elapsed().as_nanos() as u64;
        if i % 1000 == 0 {
            println!("{}\t{}", i, java_double(elapsed as f64 / 1000.0 / 1000.0));
        }
        total_ns += elapsed as f64;
        latencies.push(elapsed / 1000 / 1000);
    }
    let _ = producer.close().await;
    println!("Avg latency: {} ms\n", jfixed(total_ns / num_messages as f64 / 1000.0 / 1000.0, 4));
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!("Percentiles: 50th = {}, 99th = {}, 99.9th = {}", at(0.5), at(0.99), at(0.999));
    Ok(())
}
