//! `kafka.tools.GetOffsetShell`: offsets of a topic's partitions before a time, one
//! `topic:partition:offset[,offset...]` line per partition, as 0.8.2 printed them.

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use crate::api::{MetadataRequest, OffsetsPartition, OffsetsRequest, OffsetsTopic};
use crate::network::BrokerConnection;
use std::time::Duration;

fn parser() -> OptionParser {
    OptionParser::new("An interactive shell for getting consumer offsets.")
        .arg("broker-list", "REQUIRED: The list of hostname and port of the server to connect to.", "hostname:port,...,hostname:port")
        .arg("topic", "REQUIRED: The topic to get offset from.", "topic")
        .arg_default("partitions", "comma separated list of partition ids. If not specified, it will find offsets for all partitions", "partition ids", "")
        .arg("time", "timestamp of the offsets before that", "timestamp/-1(latest)/-2(earliest)")
        .arg_default("offsets", "number of offsets returned", "count", "1")
        .arg_default("max-wait-ms", "The max amount of time each fetch request waits.", "ms", "1000")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

/// `host:port` pairs of a `--broker-list`.
pub fn parse_broker_list(list: &str) -> Result<Vec<(String, u16)>, UsageError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|hp| {
            let (h, p) = hp.rsplit_once(':').ok_or_else(|| UsageError(format!("Invalid broker address {} (expected host:port)", hp)))?;
            let port = p.parse::<u16>().map_err(|_| UsageError(format!("Invalid port in broker address {}", hp)))?;
            Ok((h.to_string(), port))
        })
        .collect()
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["broker-list", "topic", "time"])?;
    let brokers = parse_broker_list(opts.value("broker-list").unwrap_or(""))?;
    if brokers.is_empty() {
        return Err(UsageError("Missing required argument \"[broker-list]\"".into()).into());
    }
    let topic = opts.value("topic").unwrap_or("").to_string();
    let time: i64 = opts.parse_value("time")?.unwrap_or(-1);
    let n: i32 = opts.parse_value("offsets")?.unwrap_or(1);
    let max_wait: u64 = opts.parse_value("max-wait-ms")?.unwrap_or(1000);
    let wanted: Option<Vec<i32>> = match opts.value("partitions").unwrap_or("") {
        "" => None,
        list => Some(
            list.split(',')
                .map(|x| x.trim().parse::<i32>().map_err(|_| UsageError(format!("Invalid partition id {}", x))))
                .collect::<Result<_, _>>()?,
        ),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| ToolError::Failed(e.to_string()))?;
    rt.block_on(async move {
        let timeout = Duration::from_millis(max_wait.max(1000));
        let mut metadata = None;
        for (h, port) in &brokers {
            if let Ok(mut c) = BrokerConnection::connect(h, *port, timeout).await {
                if let Ok(md) = c.send("GetOffsetShell", &MetadataRequest { topics: vec![topic.clone()] }).await {
                    metadata = Some(md);
                    break;
                }
            }
        }
        let md = metadata.ok_or_else(|| ToolError::Failed("Error: cannot fetch topic metadata from any broker in the broker list".into()))?;
        let tm = match md.topics.iter().find(|t| t.topic == topic) {
            Some(t) if t.error_code == crate::common::ErrorCode::NoError || !t.partitions.is_empty() => t.clone(),
            _ => {
                return Err(ToolError::Failed(format!(
                    "Error: no valid topic metadata for topic: {},  probably the topic does not exist, run kafka-list-topic.sh to verify",
                    topic
                )))
            }
        };
        let partitions: Vec<i32> = wanted.unwrap_or_else(|| tm.partitions.iter().map(|p| p.partition).collect());
        let mut failed = false;
        for pid in partitions {
            let Some(pm) = tm.partitions.iter().find(|p| p.partition == pid) else {
                eprintln!("Error: partition {} does not exist", pid);
                failed = true;
                continue;
            };
            let Some(leader) = md.brokers.iter().find(|b| b.id == pm.leader) else {
                eprintln!("Error: partition {} does not have a leader. Skip getting offsets", pid);
                failed = true;
                continue;
            };
            let req = OffsetsRequest {
                replica_id: -1,
                topics: vec![OffsetsTopic { topic: topic.clone(), partitions: vec![OffsetsPartition { partition: pid, time, max_offsets: n }] }],
            };
            let offsets = match BrokerConnection::connect(&leader.host, leader.port as u16, Duration::from_secs(10)).await {
                Ok(mut c) => c.send("GetOffsetShell", &req).await.ok(),
                Err(_) => None,
            };
            match offsets.and_then(|r| r.topics.into_iter().flat_map(|t| t.partitions).find(|p| p.partition == pid)) {
                Some(p) => println!("{}:{}:{}", topic, pid, p.offsets.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(",")),
                None => {
                    eprintln!("Error: cannot get offsets of partition {} from broker {}", pid, leader.id);
                    failed = true;
                }
            }
        }
        if failed {
            Err(ToolError::Failed(String::new()))
        } else {
            Ok(())
        }
    })
}
