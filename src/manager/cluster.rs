//! What the console reads, as plain serialisable views: ZooKeeper (brokers, controller,
//! topics, partition states, configs, consumer groups and their ZooKeeper offsets), the
//! brokers' wire protocol (log end offsets, Kafka-stored offsets) and their metrics
//! endpoints (sizes, byte counters). Every broker call has a deadline and a failure only
//! leaves its cells empty, so a page still shows what it can with a broker down.

use crate::admin;
use crate::api::{self, Broker, ConsumerMetadataRequest, OffsetFetchRequest, OffsetFetchTopic, OffsetsPartition, OffsetsRequest, OffsetsTopic};
use crate::common::ErrorCode;
use crate::network::BrokerConnection;
use crate::zk::{QueryError, ZkClient};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Deadline of one call to a broker (wire or metrics).
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest metrics page read from a broker.
const MAX_METRICS_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct BrokerView {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub metrics_port: Option<i32>,
    pub controller: bool,
    pub leaders: usize,
    pub partitions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub under_replicated: bool,
    pub offline: bool,
    pub log_end: Option<i64>,
    pub size: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopicView {
    pub name: String,
    pub partitions: Vec<PartitionView>,
    pub replication_factor: usize,
    pub under_replicated: usize,
    pub offline: usize,
    pub size: Option<f64>,
    pub config: BTreeMap<String, String>,
    pub marked_for_deletion: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupPartitionView {
    pub topic: String,
    pub partition: i32,
    pub zookeeper_offset: Option<i64>,
    pub kafka_offset: Option<i64>,
    pub log_end: Option<i64>,
    pub lag: Option<i64>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub name: String,
    pub members: Vec<String>,
    pub partitions: Vec<GroupPartitionView>,
    pub total_lag: Option<i64>,
}

/// One scrape of a broker's metrics endpoint: the samples the console uses.
#[derive(Debug, Clone, Default)]
pub struct BrokerSample {
    pub bytes_in: f64,
    pub bytes_out: f64,
    pub messages_in_by_topic: HashMap<String, f64>,
    pub log_size: HashMap<(String, i32), f64>,
}

pub async fn brokers(zk: &ZkClient) -> Result<Vec<BrokerView>, String> {
    let controller = zk.controller_id().await.ok().flatten().unwrap_or(-1);
    let mut out = Vec::new();
    for (id, r) in zk.broker_registrations().await.map_err(|e| e.to_string())? {
        out.push(BrokerView {
            id,
            host: r.host,
            port: r.port,
            metrics_port: r.metrics_port,
            controller: id == controller,
            leaders: 0,
            partitions: 0,
        });
    }
    out.sort_by_key(|b| b.id);
    Ok(out)
}

/// Every topic from ZooKeeper, with log ends and sizes where the brokers answer.
pub async fn topics(zk: &ZkClient, brokers: &[BrokerView], samples: &HashMap<i32, BrokerSample>) -> Result<Vec<TopicView>, String> {
    let names = admin::list_topics(zk).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for name in names {
        if let Some(t) = topic(zk, &name, brokers, samples, false).await? {
            out.push(t);
        }
    }
    Ok(out)
}

pub async fn topic(
    zk: &ZkClient,
    name: &str,
    brokers: &[BrokerView],
    samples: &HashMap<i32, BrokerSample>,
    with_log_ends: bool,
) -> Result<Option<TopicView>, String> {
    let Some(d) = admin::describe_topic(zk, name).await.map_err(|e| e.to_string())? else { return Ok(None) };
    let live: Vec<i32> = brokers.iter().map(|b| b.id).collect();
    let mut partitions = Vec::new();
    for p in &d.partitions {
        let leader = p.leader.unwrap_or(-1);
        let size = samples.get(&leader).and_then(|s| s.log_size.get(&(name.to_string(), p.partition)).copied());
        partitions.push(PartitionView {
            partition: p.partition,
            leader,
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
            under_replicated: p.leader.is_some() && p.is_under_replicated(),
            offline: p.is_unavailable(&live),
            log_end: None,
            size,
        });
    }
    if with_log_ends {
        let wanted: Vec<(String, i32, i32)> = partitions.iter().map(|p| (name.to_string(), p.partition, p.leader)).collect();
        let ends = log_ends(brokers, &wanted).await;
        for p in &mut partitions {
            p.log_end = ends.get(&(name.to_string(), p.partition)).copied();
        }
    }
    let size = partitions.iter().map(|p| p.size).sum::<Option<f64>>();
    Ok(Some(TopicView {
        name: name.to_string(),
        replication_factor: d.replication_factor(),
        under_replicated: partitions.iter().filter(|p| p.under_replicated).count(),
        offline: partitions.iter().filter(|p| p.offline).count(),
        size,
        partitions,
        config: d.config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        marked_for_deletion: admin::is_marked_for_deletion(zk, name).await.unwrap_or(false),
    }))
}

/// Count leaders and partitions per broker from the topics.
pub fn count_partitions(brokers: &mut [BrokerView], topics: &[TopicView]) {
    for b in brokers.iter_mut() {
        b.leaders = topics.iter().flat_map(|t| &t.partitions).filter(|p| p.leader == b.id).count();
        b.partitions = topics.iter().flat_map(|t| &t.partitions).filter(|p| p.replicas.contains(&b.id)).count();
    }
}

pub async fn group_names(zk: &ZkClient) -> Result<Vec<String>, String> {
    zk.consumer_groups().await.map_err(|e| e.to_string())
}

/// A group's members, committed offsets (ZooKeeper and Kafka), owners and lag.
pub async fn group(zk: &ZkClient, name: &str, brokers: &[BrokerView]) -> Result<Option<GroupView>, String> {
    let z = |e: crate::zk::QueryError| e.to_string();
    if !zk.consumer_group_exists(name).await.map_err(z)? {
        return Ok(None);
    }
    let members = zk.consumer_ids(name).await.map_err(z)?;
    let mut topics: Vec<String> = zk.consumer_offset_topics(name).await.map_err(z)?.unwrap_or_default();
    for t in zk.consumer_owner_topics(name).await.map_err(z)? {
        if !topics.contains(&t) {
            topics.push(t);
        }
    }
    topics.sort();
    let mut partitions = Vec::new();
    let mut wanted = Vec::new();
    for t in &topics {
        let Some(assignment) = admin::fetch_assignment(zk, t).await.map_err(|e| e.to_string())? else { continue };
        for p in assignment.keys() {
            let zookeeper_offset = match zk.consumer_offset(name, t, *p).await {
                Ok(o) => o,
                Err(QueryError::Corrupt(_)) => None,
                Err(e) => return Err(e.to_string()),
            };
            let owner = zk.consumer_owner(name, t, *p).await.map_err(z)?;
            let leader = admin::fetch_partition_state(zk, t, *p).await.ok().flatten().map(|s| s.leader).unwrap_or(-1);
            wanted.push((t.clone(), *p, leader));
            partitions.push(GroupPartitionView { topic: t.clone(), partition: *p, zookeeper_offset, kafka_offset: None, log_end: None, lag: None, owner });
        }
    }
    let ends = log_ends(brokers, &wanted).await;
    // Kafka-stored offsets only when the offsets topic exists: asking a coordinator would
    // otherwise create it, and a console only looks.
    let kafka = if admin::topic_exists(zk, crate::common::OFFSETS_TOPIC).await.unwrap_or(false) {
        kafka_offsets(name, brokers, &topics, &partitions).await
    } else {
        HashMap::new()
    };
    for p in &mut partitions {
        let key = (p.topic.clone(), p.partition);
        p.log_end = ends.get(&key).copied();
        p.kafka_offset = kafka.get(&key).copied();
        // As ConsumerOffsetChecker: the Kafka-stored offset first, then ZooKeeper's.
        let committed = p.kafka_offset.or(p.zookeeper_offset).filter(|o| *o >= 0);
        p.lag = match (committed, p.log_end) {
            (Some(c), Some(e)) => Some((e - c).max(0)),
            _ => None,
        };
    }
    let total_lag = if partitions.is_empty() { None } else { partitions.iter().map(|p| p.lag).sum::<Option<i64>>() };
    Ok(Some(GroupView { name: name.to_string(), members, partitions, total_lag }))
}

fn broker_of(brokers: &[BrokerView], id: i32) -> Option<&BrokerView> {
    brokers.iter().find(|b| b.id == id)
}

/// Log end offsets (Offsets API, latest) of `(topic, partition, leader)`, asked of each leader.
pub async fn log_ends(brokers: &[BrokerView], wanted: &[(String, i32, i32)]) -> HashMap<(String, i32), i64> {
    let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<i32>>> = BTreeMap::new();
    for (t, p, l) in wanted {
        by_leader.entry(*l).or_default().entry(t.clone()).or_default().push(*p);
    }
    let mut out = HashMap::new();
    for (leader, topics) in by_leader {
        let Some(b) = broker_of(brokers, leader) else { continue };
        let Ok(port) = u16::try_from(b.port) else { continue };
        let Ok(mut c) = BrokerConnection::connect(&b.host, port, BROKER_TIMEOUT).await else { continue };
        let req = OffsetsRequest {
            replica_id: -1,
            topics: topics
                .iter()
                .map(|(t, ps)| OffsetsTopic {
                    topic: t.clone(),
                    partitions: ps.iter().map(|p| OffsetsPartition { partition: *p, time: api::LATEST_TIME, max_offsets: 1 }).collect(),
                })
                .collect(),
        };
        if let Ok(Ok(r)) = tokio::time::timeout(BROKER_TIMEOUT, c.send("kafka08-manager", &req)).await {
            for t in r.topics {
                for p in t.partitions {
                    if let (ErrorCode::NoError, Some(o)) = (p.error_code, p.offsets.first()) {
                        out.insert((t.topic.clone(), p.partition), *o);
                    }
                }
            }
        }
    }
    out
}

/// Offsets the group's coordinator holds (OffsetFetch v1).
async fn kafka_offsets(group: &str, brokers: &[BrokerView], topics: &[String], partitions: &[GroupPartitionView]) -> HashMap<(String, i32), i64> {
    let mut out = HashMap::new();
    let mut coordinator: Option<Broker> = None;
    for b in brokers {
        let Ok(port) = u16::try_from(b.port) else { continue };
        let Ok(mut c) = BrokerConnection::connect(&b.host, port, BROKER_TIMEOUT).await else { continue };
        if let Ok(Ok(r)) = tokio::time::timeout(BROKER_TIMEOUT, c.send("kafka08-manager", &ConsumerMetadataRequest { group: group.to_string() })).await {
            if r.error_code == ErrorCode::NoError {
                coordinator = Some(r.coordinator);
                break;
            }
        }
    }
    let Some(co) = coordinator else { return out };
    let Ok(port) = u16::try_from(co.port) else { return out };
    let Ok(mut c) = BrokerConnection::connect(&co.host, port, BROKER_TIMEOUT).await else { return out };
    let req = OffsetFetchRequest {
        group: group.to_string(),
        topics: topics
            .iter()
            .map(|t| OffsetFetchTopic { topic: t.clone(), partitions: partitions.iter().filter(|p| &p.topic == t).map(|p| p.partition).collect() })
            .collect(),
    };
    if let Ok(Ok(r)) = tokio::time::timeout(BROKER_TIMEOUT, c.send_versioned("kafka08-manager", 1, &req)).await {
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

/// Scrape one broker's metrics endpoint (plain HTTP/1.0 GET, bounded in time and size).
pub async fn scrape(host: &str, port: u16) -> Option<BrokerSample> {
    let body = tokio::time::timeout(BROKER_TIMEOUT, async {
        let mut s = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        let req = format!("GET /metrics HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain;version=0.0.4\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        (&mut s).take(MAX_METRICS_BYTES as u64).read_to_end(&mut buf).await.ok()?;
        Some(buf)
    })
    .await
    .ok()??;
    let text = String::from_utf8_lossy(&body);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.") || !head.split_whitespace().nth(1).is_some_and(|c| c == "200") {
        return None;
    }
    Some(parse_sample(body))
}

/// `name{labels} value` lines of the text format, for the few series the console uses.
pub fn parse_sample(body: &str) -> BrokerSample {
    let mut s = BrokerSample::default();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let label = |key: &str| -> Option<String> {
            labels.split("\",").find_map(|kv| kv.split_once("=\"").filter(|(k, _)| k.trim_start_matches(',') == key).map(|(_, v)| v.trim_end_matches('"').to_string()))
        };
        match name {
            "kafka_server_brokertopicmetrics_bytesin_total" if labels.is_empty() => s.bytes_in = value,
            "kafka_server_brokertopicmetrics_bytesout_total" if labels.is_empty() => s.bytes_out = value,
            "kafka_server_brokertopicmetrics_messagesin_total" => {
                if let Some(t) = label("topic") {
                    s.messages_in_by_topic.insert(t, value);
                }
            }
            "kafka_log_log_size" => {
                if let (Some(t), Some(p)) = (label("topic"), label("partition").and_then(|p| p.parse().ok())) {
                    s.log_size.insert((t, p), value);
                }
            }
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_reads_the_series_it_draws_from_a_scrape() {
        let s = parse_sample(
            "# TYPE x counter\nkafka_server_brokertopicmetrics_bytesin_total 120\nkafka_server_brokertopicmetrics_bytesin_total{topic=\"a\"} 7\n\
             kafka_server_brokertopicmetrics_messagesin_total{topic=\"a\"} 3\nkafka_log_log_size{topic=\"a.b\",partition=\"2\"} 4096.0\n",
        );
        assert_eq!(s.bytes_in, 120.0);
        assert_eq!(s.messages_in_by_topic.get("a"), Some(&3.0));
        assert_eq!(s.log_size.get(&("a.b".to_string(), 2)), Some(&4096.0));
    }
}
