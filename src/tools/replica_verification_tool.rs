//! `kafka.tools.ReplicaVerificationTool` (`bin/kafka-replica-verification.sh`): fetch every
//! replica of the matching partitions (as the debugging consumer) and compare them message
//! by message, offset and checksum, up to each replica's high watermark; every
//! `--report-interval-ms` print the largest lag between the verified offset and the high
//! watermark. Runs until killed, as 0.8.2's did; a replica whose offsets disagree ends it
//! with exit code 1.

use super::get_offset_shell::parse_broker_list;
use super::options::{run_tool, usage_and_die, OptionParser, Options, ToolError, UsageError};
use super::simple_consumer_shell::fetch_metadata;
use crate::api::{Broker, FetchPartition, FetchRequest, FetchTopic, DEBUGGING_REPLICA_ID};
use crate::common::{ErrorCode, TopicPartition};
use crate::consumer::simple::SimpleConsumer;
use crate::consumer::zk::TopicFilter;
use crate::message::shallow_iter;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const SUMMARY: &str = "Validate that all replicas for a set of topics have the same data.";
const CLIENT_ID: &str = "replicaVerificationTool";

fn parser() -> OptionParser {
    OptionParser::new(SUMMARY)
        .arg("broker-list", "REQUIRED: The list of hostname and port of the server to connect to.", "hostname:port,...,hostname:port")
        .arg_default("fetch-size", "The fetch size of each request.", "bytes", (1024 * 1024).to_string())
        .arg_default("max-wait-ms", "The max amount of time each fetch request waits.", "ms", "1000")
        .arg_default("topic-white-list", "White list of topics to verify replica consistency. Defaults to all topics.", "Java regex (String)", ".*")
        .arg_default("time", "Timestamp for getting the initial offsets.", "timestamp/-1(latest)/-2(earliest)", "-1")
        .arg_default("report-interval-ms", "The reporting interval.", "ms", "30000")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    if args.is_empty() {
        return usage_and_die(&p, SUMMARY);
    }
    run_tool(&p, args, |opts| run(&p, opts))
}

/// 0.8.2's `yyyy-MM-dd HH:mm:ss,SSS` in local time.
fn now_string() -> String {
    super::perf::DateFormat::new("yyyy-MM-dd HH:mm:ss,SSS").expect("a valid pattern").format(super::perf::now_ms())
}

/// 0.8.2 `TopicAndPartition.toString`.
fn tp_string(tp: &TopicPartition) -> String {
    format!("[{},{}]", tp.topic, tp.partition)
}

/// What one replica returned for a partition in this round.
#[derive(Debug, Clone)]
pub struct ReplicaData {
    pub high_watermark: i64,
    pub messages: Bytes,
}

/// 0.8.2 `ReplicaBuffer`: the next offset to verify per partition and the last report.
pub struct ReplicaBuffer {
    pub fetch_offsets: BTreeMap<TopicPartition, i64>,
    expected_replicas: HashMap<TopicPartition, usize>,
    report_interval: Duration,
    last_report: Instant,
    max_lag: i64,
    offset_with_max_lag: i64,
    max_lag_partition: Option<TopicPartition>,
}

/// How a round of verification ended for the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// Offsets differ between replicas: 0.8.2 exits with status 1.
    OffsetMismatch,
}

impl ReplicaBuffer {
    pub fn new(fetch_offsets: BTreeMap<TopicPartition, i64>, expected_replicas: HashMap<TopicPartition, usize>, report_interval: Duration) -> ReplicaBuffer {
        ReplicaBuffer {
            fetch_offsets,
            expected_replicas,
            report_interval,
            last_report: Instant::now(),
            max_lag: -1,
            offset_with_max_lag: -1,
            max_lag_partition: None,
        }
    }

    /// 0.8.2 `verifyCheckSum`: walk the replicas' message sets in step, up to each one's
    /// high watermark; print mismatches (to stdout, as 0.8.2); move each partition's offset
    /// past what all replicas hold; then report the max lag if the interval has passed.
    /// `fetched` maps each partition to (replica id, data), replica ids ascending.
    pub fn verify(&mut self, fetched: &BTreeMap<TopicPartition, Vec<(i32, ReplicaData)>>, out: &mut dyn FnMut(String)) -> Result<Verdict, String> {
        self.max_lag = -1;
        for (tp, replicas) in fetched {
            let expected = self.expected_replicas.get(tp).copied().unwrap_or(0);
            if replicas.len() != expected {
                return Err(format!("fetched {} replicas for {}, but expected {} replicas", replicas.len(), tp_string(tp), expected));
            }
            let mut iters: Vec<(i32, i64, crate::message::ShallowIter)> =
                replicas.iter().map(|(id, d)| (*id, d.high_watermark, shallow_iter(d.messages.clone()))).collect();
            let max_hw = replicas.iter().map(|(_, d)| d.high_watermark).max().unwrap_or(-1);
            let mut in_all = true;
            while in_all {
                // (replica, offset, next offset, checksum) of the first replica this step.
                let mut first: Option<(i32, i64, i64, u32)> = None;
                for (id, hw, it) in iters.iter_mut() {
                    match it.next() {
                        Some(Ok(entry)) => {
                            if entry.offset >= *hw {
                                in_all = false;
                                continue;
                            }
                            let checksum = entry.message.crc();
                            match first {
                                None => first = Some((*id, entry.offset, entry.offset + 1, checksum)),
                                Some((fid, foffset, _, fchecksum)) => {
                                    if foffset != entry.offset {
                                        out(format!(
                                            "{}: partition {}: replica {}'s offset {} doesn't match replica {}'s offset {}",
                                            now_string(),
                                            tp_string(tp),
                                            fid,
                                            foffset,
                                            id,
                                            entry.offset
                                        ));
                                        return Ok(Verdict::OffsetMismatch);
                                    }
                                    if fchecksum != checksum {
                                        out(format!(
                                            "{}: partition {} has unmatched checksum at offset {}; replica {}'s checksum {}; replica {}'s checksum {}",
                                            now_string(),
                                            tp_string(tp),
                                            entry.offset,
                                            fid,
                                            fchecksum,
                                            id,
                                            checksum
                                        ));
                                    }
                                }
                            }
                        }
                        Some(Err(e)) => {
                            return Err(format!(
                                "Error in processing replica {} in partition {} at offset {}: {}",
                                id,
                                tp_string(tp),
                                self.fetch_offsets.get(tp).copied().unwrap_or(-1),
                                e
                            ))
                        }
                        None => in_all = false,
                    }
                }
                if in_all {
                    if let Some((_, _, next, _)) = first {
                        self.fetch_offsets.insert(tp.clone(), next);
                    } else {
                        in_all = false;
                    }
                }
            }
            let offset = self.fetch_offsets.get(tp).copied().unwrap_or(-1);
            if max_hw - offset > self.max_lag {
                self.offset_with_max_lag = offset;
                self.max_lag = max_hw - offset;
                self.max_lag_partition = Some(tp.clone());
            }
        }
        if self.last_report.elapsed() > self.report_interval {
            out(format!(
                "{}: max lag is {} for partition {} at offset {} among {} paritions",
                now_string(),
                self.max_lag,
                self.max_lag_partition.as_ref().map_or("null".to_string(), tp_string),
                self.offset_with_max_lag,
                self.expected_replicas.len()
            ));
            self.last_report = Instant::now();
        }
        Ok(Verdict::Continue)
    }
}

fn failed(msg: impl Into<String>) -> ToolError {
    ToolError::Failed(msg.into())
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["broker-list"])?;
    let brokers = parse_broker_list(opts.value("broker-list").unwrap_or(""))?;
    if brokers.is_empty() {
        return Err(UsageError("Please provide valid host:port like host1:9091,host2:9092".into()).into());
    }
    let regex = opts.value("topic-white-list").unwrap_or(".*").to_string();
    let filter = TopicFilter::whitelist(&regex).map_err(|_| failed(format!("{} is an invalid regex.", regex)))?;
    let fetch_size: i32 = opts.parse_value("fetch-size")?.unwrap_or(1024 * 1024);
    let max_wait_ms: i32 = opts.parse_value("max-wait-ms")?.unwrap_or(1000);
    let time: i64 = opts.parse_value("time")?.unwrap_or(-1);
    let report_interval: u64 = opts.parse_value("report-interval-ms")?.unwrap_or(30_000);
    if fetch_size <= 0 {
        return Err(UsageError(format!("Invalid fetch size {} (must be positive)", fetch_size)).into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| failed(e.to_string()))?;
    rt.block_on(async move {
        let md = fetch_metadata(&brokers, &[], CLIENT_ID, Duration::from_millis(max_wait_ms.max(1000) as u64)).await?;
        let broker_map: HashMap<i32, Broker> = md.brokers.iter().map(|b| (b.id, b.clone())).collect();
        let mut per_broker: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        let mut expected: HashMap<TopicPartition, usize> = HashMap::new();
        let mut leaders: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for t in md.topics.iter().filter(|t| filter.is_topic_allowed(&t.topic, false)) {
            for pm in &t.partitions {
                let tp = TopicPartition::new(t.topic.clone(), pm.partition);
                for r in &pm.replicas {
                    per_broker.entry(*r).or_default().push(tp.clone());
                }
                expected.insert(tp.clone(), pm.replicas.len());
                if pm.leader < 0 {
                    return Err(failed(format!("Error: partition {} has no leader", tp_string(&tp))));
                }
                leaders.entry(pm.leader).or_default().push(tp);
            }
        }
        if per_broker.is_empty() {
            return Err(failed(format!("Error: no partition of a topic matching {} to verify", regex)));
        }
        let broker = |id: i32| broker_map.get(&id).cloned().ok_or_else(|| failed(format!("Error: broker {} is not in the metadata", id)));
        // Initial offsets from each partition's leader (an ordinary offsets request).
        let mut offsets = BTreeMap::new();
        for (id, tps) in &leaders {
            let b = broker(*id)?;
            let mut c = SimpleConsumer::new(b.host.clone(), b.port as u16, Duration::from_millis(10_000), 100_000, CLIENT_ID);
            for tp in tps {
                let o = c
                    .offsets_before(&tp.topic, tp.partition, time, 1)
                    .await
                    .map_err(|e| failed(format!("Error: cannot get the initial offset of {} from broker {}: {}", tp_string(tp), id, e)))?;
                let first = o.first().copied().ok_or_else(|| failed(format!("Error: broker {} returned no offset for {}", id, tp_string(tp))))?;
                offsets.insert(tp.clone(), first);
            }
        }
        let mut buffer = ReplicaBuffer::new(offsets, expected, Duration::from_millis(report_interval));
        let socket_timeout = Duration::from_millis(30_000 + max_wait_ms.max(0) as u64);
        let mut fetchers: Vec<(i32, Vec<TopicPartition>, Option<SimpleConsumer>)> = Vec::new();
        for (id, tps) in per_broker {
            let b = broker(id)?;
            fetchers.push((id, tps, Some(SimpleConsumer::new(b.host.clone(), b.port as u16, socket_timeout, 256_000, CLIENT_ID))));
        }
        println!("{}: verification process is started.", now_string());
        loop {
            // One round: every broker's fetcher fetches its partitions at the current
            // offsets, all in parallel; then one verification over everything fetched.
            let mut handles = Vec::new();
            for (id, tps, consumer) in fetchers.iter_mut() {
                let mut c = consumer.take().expect("consumer returned after each round");
                let request = FetchRequest {
                    replica_id: DEBUGGING_REPLICA_ID,
                    max_wait_ms,
                    min_bytes: 1,
                    topics: tps
                        .iter()
                        .map(|tp| FetchTopic {
                            topic: tp.topic.clone(),
                            partitions: vec![FetchPartition { partition: tp.partition, fetch_offset: buffer.fetch_offsets.get(tp).copied().unwrap_or(0), max_bytes: fetch_size }],
                        })
                        .collect(),
                };
                let id = *id;
                handles.push(tokio::spawn(async move {
                    let r = c.fetch_request(&request).await;
                    (id, c, r)
                }));
            }
            let mut fetched: BTreeMap<TopicPartition, Vec<(i32, ReplicaData)>> = BTreeMap::new();
            for (n, h) in handles.into_iter().enumerate() {
                let (id, c, r) = h.await.map_err(|e| failed(format!("Error: fetcher failed: {}", e)))?;
                fetchers[n].2 = Some(c);
                let tps = &fetchers[n].1;
                let mut got: HashMap<TopicPartition, ReplicaData> = HashMap::new();
                match r {
                    Ok(resp) => {
                        for t in resp.topics {
                            for p in t.partitions {
                                let data = if p.error_code == ErrorCode::NoError {
                                    ReplicaData { high_watermark: p.high_watermark, messages: p.message_set }
                                } else {
                                    ReplicaData { high_watermark: p.high_watermark, messages: Bytes::new() }
                                };
                                got.insert(TopicPartition::new(t.topic.clone(), p.partition), data);
                            }
                        }
                    }
                    // A broker that does not answer: verification of its partitions waits
                    // until it is back (0.8.2 stores an empty set with high watermark -1).
                    Err(e) => log::warn!("fetch from broker {} failed: {}", id, e),
                }
                for tp in tps {
                    let d = got.remove(tp).unwrap_or(ReplicaData { high_watermark: -1, messages: Bytes::new() });
                    fetched.entry(tp.clone()).or_default().push((id, d));
                }
            }
            let verdict = buffer.verify(&fetched, &mut |line| println!("{}", line)).map_err(failed)?;
            if verdict == Verdict::OffsetMismatch {
                return Err(failed(String::new()));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{encode_messages, CompressionCodec, Message};

    fn set(first: i64, values: &[&str]) -> Bytes {
        let msgs: Vec<Message> = values.iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
        encode_messages(CompressionCodec::None, &msgs, first)
    }

    fn buffer(tp: &TopicPartition, replicas: usize) -> ReplicaBuffer {
        ReplicaBuffer::new(BTreeMap::from([(tp.clone(), 0)]), HashMap::from([(tp.clone(), replicas)]), Duration::ZERO)
    }

    #[test]
    fn matching_replicas_advance_to_the_high_watermark_and_report_082s_line() {
        let tp = TopicPartition::new("t", 0);
        let mut b = buffer(&tp, 2);
        let fetched = BTreeMap::from([(
            tp.clone(),
            vec![
                (1, ReplicaData { high_watermark: 3, messages: set(0, &["a", "b", "c", "d"]) }),
                (2, ReplicaData { high_watermark: 3, messages: set(0, &["a", "b", "c"]) }),
            ],
        )]);
        let mut lines = Vec::new();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(b.verify(&fetched, &mut |l| lines.push(l)).unwrap(), Verdict::Continue);
        assert_eq!(b.fetch_offsets[&tp], 3);
        assert_eq!(lines.len(), 1);
        let (date, rest) = lines[0].split_at(23);
        assert_eq!(date.len(), "2015-01-01 00:00:00,000".len());
        assert_eq!(rest, ": max lag is 0 for partition [t,0] at offset 3 among 1 paritions");
    }

    #[test]
    fn checksum_and_offset_mismatches_are_reported() {
        let tp = TopicPartition::new("t", 0);
        let mut b = buffer(&tp, 2);
        let fetched = BTreeMap::from([(
            tp.clone(),
            vec![
                (1, ReplicaData { high_watermark: 2, messages: set(0, &["a", "b"]) }),
                (2, ReplicaData { high_watermark: 2, messages: set(0, &["a", "X"]) }),
            ],
        )]);
        let mut lines = Vec::new();
        assert_eq!(b.verify(&fetched, &mut |l| lines.push(l)).unwrap(), Verdict::Continue);
        assert!(lines[0].contains(": partition [t,0] has unmatched checksum at offset 1; replica 1's checksum "), "{lines:?}");
        let mut b = buffer(&tp, 2);
        let fetched = BTreeMap::from([(
            tp.clone(),
            vec![
                (1, ReplicaData { high_watermark: 9, messages: set(0, &["a"]) }),
                (2, ReplicaData { high_watermark: 9, messages: set(5, &["a"]) }),
            ],
        )]);
        let mut lines = Vec::new();
        assert_eq!(b.verify(&fetched, &mut |l| lines.push(l)).unwrap(), Verdict::OffsetMismatch);
        assert!(lines[0].ends_with(": partition [t,0]: replica 1's offset 0 doesn't match replica 2's offset 5"), "{lines:?}");
    }
}
