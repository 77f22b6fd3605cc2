//! `kafka.tools.ConsumerOffsetChecker`: a group's committed offset, the log size and the
//! lag of every partition, in 0.8.2's table (Group, Topic, Pid, Offset, logSize, Lag,
//! Owner). Offsets come from the group's coordinator (OffsetFetch v1) first and from
//! ZooKeeper where the coordinator has none, as 0.8.2 did.

use super::options::{run_tool, OptionParser, Options, ToolError};
use crate::api::{self, Broker, ConsumerMetadataRequest, OffsetFetchRequest, OffsetFetchTopic, OffsetsPartition, OffsetsRequest, OffsetsTopic};
use crate::common::{scala_mutable_hash_order, ErrorCode};
use crate::network::BrokerConnection;
use crate::zk::{QueryError, ZkClient};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

fn parser() -> OptionParser {
    OptionParser::new("Check the offset of your consumers.")
        .arg("zookeeper", "ZooKeeper connect string.", "urls")
        .arg("topic", "Comma-separated list of consumer topics (all topics if absent).", "topic")
        .arg("group", "Consumer group.", "String")
        .arg_default("socket.timeout.ms", "Socket timeout to use when querying for offsets.", "Integer", "6000")
        .arg_default("retry.backoff.ms", "Retry back-off to use for failed offset queries.", "Integer", "3000")
        .flag("broker-info", "Print broker info")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(format!("Exiting due to: {}.", e))
}

fn row(cols: [&str; 7]) -> String {
    format!("{:<15} {:<30} {:<3} {:<15} {:<15} {:<15} {}", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["zookeeper", "group"])?;
    let group = opts.value("group").unwrap_or("").to_string();
    let zk_connect = opts.value("zookeeper").unwrap_or("").to_string();
    let timeout = Duration::from_millis(opts.parse_value::<u64>("socket.timeout.ms")?.unwrap_or(6000));
    let backoff = Duration::from_millis(opts.parse_value::<u64>("retry.backoff.ms")?.unwrap_or(3000));
    let topics_opt = opts.value("topic").map(|t| t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>());
    let broker_info = opts.has("broker-info");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(failed)?;
    rt.block_on(async move {
        let zk = ZkClient::connect(&zk_connect, Duration::from_secs(30), Duration::from_secs(30)).await.map_err(failed)?;
        let topics: BTreeSet<String> = match topics_opt {
            Some(t) => t.into_iter().collect(),
            None => {
                // 0.8.2 listed the topics of /consumers/<g>/owners only, which is empty once
                // the group stopped; committed offsets are listed too.
                let mut t: BTreeSet<String> = zk.consumer_owner_topics(&group).await.map_err(failed)?.into_iter().collect();
                t.extend(zk.consumer_offset_topics(&group).await.map_err(failed)?.unwrap_or_default());
                t
            }
        };
        let brokers = live_brokers(&zk).await?;
        let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for t in &topics {
            match zk.topic_assignment(t).await {
                Ok(Some(a)) => {
                    partitions.insert(t.clone(), a.keys().copied().collect());
                }
                Ok(None) | Err(QueryError::Corrupt(_)) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        let mut offsets = kafka_offsets(&group, &brokers, &partitions, timeout, backoff).await;
        for (t, ps) in &partitions {
            for p in ps {
                if offsets.contains_key(&(t.clone(), *p)) {
                    continue;
                }
                match zk.consumer_offset(&group, t, *p).await {
                    Ok(Some(o)) => {
                        offsets.insert((t.clone(), *p), o);
                    }
                    Ok(None) => {
                        if zk.consumer_topic_has_offsets(&group, t).await.map_err(failed)? {
                            offsets.insert((t.clone(), *p), -1);
                        }
                    }
                    Err(QueryError::Corrupt(_)) => {}
                    Err(e) => return Err(failed(e)),
                }
            }
        }
        println!("{}", row(["Group", "Topic", "Pid", "Offset", "logSize", "Lag", "Owner"]));
        let mut conns: HashMap<i32, BrokerConnection> = HashMap::new();
        // 0.8.2's `consumerMap`: every leader asked, in the order first asked, with whether
        // it is registered (a leader that is not is skipped without a line, as 0.8.2 did).
        let mut leaders_asked: Vec<i32> = Vec::new();
        for (t, ps) in &partitions {
            for p in ps {
                // The state znode's leader, -1 included (0.8.2 `getLeaderForPartition`).
                let leader = match zk.partition_state(t, *p).await {
                    Ok(Some(state)) => state.leader,
                    Ok(None) | Err(QueryError::Corrupt(_)) => {
                        println!("No broker for partition {} - {}", t, p);
                        continue;
                    }
                    Err(e) => return Err(failed(e)),
                };
                if !leaders_asked.contains(&leader) {
                    leaders_asked.push(leader);
                    if !brokers.contains_key(&leader) {
                        // 0.8.2's line, once per leader that is not registered.
                        println!("Could not parse broker info due to null");
                    }
                }
                let Some(b) = brokers.get(&leader) else { continue };
                if !conns.contains_key(&leader) {
                    match BrokerConnection::connect(&b.host, b.port as u16, timeout).await {
                        Ok(c) => {
                            conns.insert(leader, c);
                        }
                        Err(_) => continue,
                    }
                }
                let c = conns.get_mut(&leader).expect("inserted");
                let req = OffsetsRequest {
                    replica_id: -1,
                    topics: vec![OffsetsTopic { topic: t.clone(), partitions: vec![OffsetsPartition { partition: *p, time: api::LATEST_TIME, max_offsets: 1 }] }],
                };
                let Some(log_size) = c.send("ConsumerOffsetChecker", &req).await.ok().and_then(|r| r.topics.into_iter().flat_map(|x| x.partitions).next()).and_then(|x| x.offsets.first().copied()) else {
                    conns.remove(&leader);
                    continue;
                };
                let offset = offsets.get(&(t.clone(), *p)).copied();
                let (offset_s, lag_s) = match offset {
                    None => ("unknown".to_string(), "unknown".to_string()),
                    Some(-1) => ("-1".to_string(), "unknown".to_string()),
                    Some(o) => (o.to_string(), (log_size - o).to_string()),
                };
                let owner = zk.consumer_owner(&group, t, *p).await.map_err(failed)?.unwrap_or_else(|| "none".to_string());
                println!("{}", row([&group, t, &p.to_string(), &offset_s, &log_size.to_string(), &lag_s, &owner]));
            }
        }
        if broker_info {
            // The leaders asked, registered ones only, in the order 0.8.2's mutable.HashMap
            // of them iterated.
            println!("BROKER INFO");
            for id in scala_mutable_hash_order(leaders_asked, |id| *id) {
                if let Some(b) = brokers.get(&id) {
                    println!("{} -> {}:{}", id, b.host, b.port);
                }
            }
        }
        Ok(())
    })
}

async fn live_brokers(zk: &ZkClient) -> Result<BTreeMap<i32, Broker>, ToolError> {
    zk.brokers().await.map_err(failed)
}

/// Offsets the group's coordinator holds (OffsetFetch v1); partitions without one are left
/// out (the caller falls back to ZooKeeper). Unreachable coordinator: an empty map.
/// A coordinator still being chosen is asked again after `backoff` (`retry.backoff.ms`),
/// a bounded number of times where 0.8.2 retried forever.
async fn kafka_offsets(group: &str, brokers: &BTreeMap<i32, Broker>, partitions: &BTreeMap<String, Vec<i32>>, timeout: Duration, backoff: Duration) -> HashMap<(String, i32), i64> {
    let mut out = HashMap::new();
    let mut coordinator = None;
    'find: for _ in 0..5 {
        for b in brokers.values() {
            if let Ok(mut c) = BrokerConnection::connect(&b.host, b.port as u16, timeout).await {
                if let Ok(r) = c.send("ConsumerOffsetChecker", &ConsumerMetadataRequest { group: group.to_string() }).await {
                    if r.error_code == ErrorCode::NoError {
                        coordinator = Some(r.coordinator);
                        break 'find;
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
    }
    let Some(co) = coordinator else { return out };
    let Ok(mut c) = BrokerConnection::connect(&co.host, co.port as u16, timeout).await else { return out };
    let req = OffsetFetchRequest {
        group: group.to_string(),
        topics: partitions.iter().map(|(t, ps)| OffsetFetchTopic { topic: t.clone(), partitions: ps.clone() }).collect(),
    };
    if let Ok(r) = c.send_versioned("ConsumerOffsetChecker", 1, &req).await {
        for t in r.topics {
            for p in t.partitions {
                if p.error_code == ErrorCode::NoError && p.offset >= 0 {
                    out.insert((t.topic.clone(), p.partition), p.offset);
                }
            }
        }
    }
    out
}
