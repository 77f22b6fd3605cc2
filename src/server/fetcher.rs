//! Replica fetchers (0.8.2 `ReplicaFetcherManager` / `ReplicaFetcherThread`):
//! `num.replica.fetchers` tasks per leader broker (a partition goes to fetcher
//! `hash(topic, partition) % n`, as 0.8.2's `getFetcherId`), each fetching its partitions
//! with `replica_id` = our id, appending with the leader's offsets and tracking the
//! leader's high watermark.

use super::config::KafkaConfig;
use super::replica_manager::ReplicaManager;
use crate::api::{self, Broker, FetchPartition, FetchRequest, FetchTopic, OffsetsPartition, OffsetsRequest, OffsetsTopic};
use crate::common::{ErrorCode, TopicPartition};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;

struct Assignment {
    broker: Broker,
    /// Partition → next offset to fetch.
    partitions: BTreeMap<TopicPartition, i64>,
    /// Partitions still being compared with the leader: our log end offset when we
    /// became follower. Below it we append nothing; we compare (see `reconcile`).
    verify: HashMap<TopicPartition, i64>,
}

struct Fetcher {
    state: Mutex<Assignment>,
    wake: Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

pub struct FetcherManager {
    replica_manager: Weak<ReplicaManager>,
    config: Arc<KafkaConfig>,
    /// Keyed by (leader broker id, fetcher id).
    fetchers: Mutex<HashMap<(i32, usize), Arc<Fetcher>>>,
}

/// 0.8.2 `AbstractFetcherManager.getFetcherId`: `abs(31 * topic.hashCode + partition) %
/// numFetchers`, with Java's string hash.
fn fetcher_id(tp: &TopicPartition, n: usize) -> usize {
    let h = crate::admin::java_string_hash(&tp.topic).wrapping_mul(31).wrapping_add(tp.partition);
    (h.unsigned_abs() as usize) % n.max(1)
}

impl FetcherManager {
    pub fn new(replica_manager: Weak<ReplicaManager>, config: Arc<KafkaConfig>) -> FetcherManager {
        FetcherManager { replica_manager, config, fetchers: Mutex::new(HashMap::new()) }
    }

    /// Start fetching `tp` from `leader` at `offset` (replacing any earlier assignment).
    /// Our log holds data up to `verify_to` (its end offset); from `offset` to there it is
    /// compared with the leader's before anything is truncated or appended.
    pub fn add(&self, tp: TopicPartition, leader: Broker, offset: i64, verify_to: i64) {
        self.remove(std::slice::from_ref(&tp));
        let id = fetcher_id(&tp, self.config.num_replica_fetchers.max(1) as usize);
        let mut map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.entry((leader.id, id)).or_insert_with(|| {
            Arc::new(Fetcher {
                state: Mutex::new(Assignment { broker: leader.clone(), partitions: BTreeMap::new(), verify: HashMap::new() }),
                wake: Notify::new(),
                task: Mutex::new(None),
            })
        });
        {
            let mut st = f.state.lock().unwrap_or_else(|e| e.into_inner());
            st.broker = leader;
            if verify_to > offset {
                st.verify.insert(tp.clone(), verify_to);
            }
            st.partitions.insert(tp, offset);
        }
        let mut task = f.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            *task = Some(tokio::spawn(run(f.clone(), self.replica_manager.clone(), self.config.clone())));
        }
        f.wake.notify_one();
    }

    pub fn remove(&self, tps: &[TopicPartition]) {
        let map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        for f in map.values() {
            let mut st = f.state.lock().unwrap_or_else(|e| e.into_inner());
            for tp in tps {
                st.partitions.remove(tp);
                st.verify.remove(tp);
            }
        }
    }

    /// Partitions currently being fetched, with their next offsets.
    pub fn assigned(&self) -> Vec<(TopicPartition, i32, i64)> {
        let map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for ((id, _), f) in map.iter() {
            let st = f.state.lock().unwrap_or_else(|e| e.into_inner());
            out.extend(st.partitions.iter().map(|(tp, o)| (tp.clone(), *id, *o)));
        }
        out
    }

    pub fn shutdown(&self) {
        let map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        for f in map.values() {
            if let Some(t) = f.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                t.abort();
            }
        }
    }
}

async fn run(f: Arc<Fetcher>, rm: Weak<ReplicaManager>, config: Arc<KafkaConfig>) {
    let backoff = Duration::from_millis(config.replica_fetch_backoff_ms.max(10) as u64);
    let socket_timeout = Duration::from_millis(config.replica_socket_timeout_ms.max(1000) as u64);
    let mut conn: Option<crate::network::BrokerConnection> = None;
    loop {
        let (broker, work, verify) = {
            let st = f.state.lock().unwrap_or_else(|e| e.into_inner());
            (st.broker.clone(), st.partitions.clone(), st.verify.clone())
        };
        if work.is_empty() {
            conn = None;
            f.wake.notified().await;
            continue;
        }
        let Some(rm) = rm.upgrade() else { return };
        if conn.is_none() {
            match crate::network::BrokerConnection::connect(&broker.host, broker.port as u16, socket_timeout).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    log::warn!("Broker {} cannot connect to leader {} at {}:{}: {}", rm.broker_id, broker.id, broker.host, broker.port, e);
                    drop(rm);
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
        }
        let mut topics: BTreeMap<String, Vec<FetchPartition>> = BTreeMap::new();
        for (tp, off) in &work {
            topics.entry(tp.topic.clone()).or_default().push(FetchPartition {
                partition: tp.partition,
                fetch_offset: *off,
                max_bytes: config.replica_fetch_max_bytes,
            });
        }
        let req = FetchRequest {
            replica_id: rm.broker_id,
            max_wait_ms: config.replica_fetch_wait_max_ms,
            min_bytes: config.replica_fetch_min_bytes,
            topics: topics.into_iter().map(|(topic, partitions)| FetchTopic { topic, partitions }).collect(),
        };
        let client_id = format!("ReplicaFetcherThread-0-{}", broker.id);
        let c = conn.as_mut().expect("connected above");
        let resp = match tokio::time::timeout(socket_timeout + Duration::from_millis(config.replica_fetch_wait_max_ms as u64), c.send(&client_id, &req)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                log::warn!("Broker {} fetch from leader {} failed: {}", rm.broker_id, broker.id, e);
                conn = None;
                drop(rm);
                tokio::time::sleep(backoff).await;
                continue;
            }
            Err(_) => {
                conn = None;
                continue;
            }
        };
        let mut any_error = false;
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.topic.clone(), p.partition);
                let expected = work.get(&tp).copied();
                // Only act if the partition is still assigned at the offset we asked for.
                let still = f.state.lock().unwrap_or_else(|e| e.into_inner()).partitions.get(&tp).copied();
                if still.is_none() || still != expected {
                    continue;
                }
                let Some(part) = rm.partition(&tp) else { continue };
                match p.error_code {
                    ErrorCode::NoError => {
                        let mut set = p.message_set;
                        if let (Some(&verify_to), Some(from)) = (verify.get(&tp), expected) {
                            match reconcile(&part.log, from, verify_to, &set) {
                                Ok(Reconciled::Matched { next }) => {
                                    // Everything the leader sent equals ours: keep comparing.
                                    part.set_follower_high_watermark(p.high_watermark.min(next));
                                    set_offset(&f, &tp, expected, next);
                                    continue;
                                }
                                Ok(Reconciled::Resolved { truncate_to, rest }) => {
                                    if truncate_to < part.log.log_end_offset() {
                                        log::info!(
                                            "Broker {} truncates {} to offset {}: leader {} differs from there (our log ended at {})",
                                            rm.broker_id, tp, truncate_to, broker.id, verify_to
                                        );
                                        if let Err(e) = part.log.truncate_to(truncate_to) {
                                            log::error!("Broker {} cannot truncate {}: {}", rm.broker_id, tp, e);
                                            any_error = true;
                                            continue;
                                        }
                                        part.clamp_high_watermark();
                                    }
                                    f.state.lock().unwrap_or_else(|e| e.into_inner()).verify.remove(&tp);
                                    set = rest;
                                }
                                Err(e) => {
                                    log::error!("Broker {} cannot compare {} with leader {}: {}", rm.broker_id, tp, broker.id, e);
                                    any_error = true;
                                    continue;
                                }
                            }
                        }
                        if !set.is_empty() {
                            match part.log.append(set, false) {
                                Ok(_) => {}
                                Err(e) => {
                                    log::error!("Broker {} cannot append replicated data to {}: {}", rm.broker_id, tp, e);
                                    any_error = true;
                                    continue;
                                }
                            }
                        }
                        let leo = part.log.log_end_offset();
                        part.set_fetcher_lag(p.high_watermark - leo);
                        part.set_follower_high_watermark(p.high_watermark);
                        set_offset(&f, &tp, expected, leo);
                        rm.notify_progress();
                    }
                    ErrorCode::OffsetOutOfRange => {
                        let c = conn.as_mut().expect("connected");
                        match handle_out_of_range(c, &rm, &part, &tp).await {
                            Ok(new_offset) => {
                                f.state.lock().unwrap_or_else(|e| e.into_inner()).verify.remove(&tp);
                                set_offset(&f, &tp, expected, new_offset)
                            }
                            Err(e) => {
                                log::warn!("Broker {} cannot reset {} after offset out of range: {}", rm.broker_id, tp, e);
                                any_error = true;
                            }
                        }
                    }
                    other => {
                        log::debug!("Broker {} fetch of {} from {} answered {}", rm.broker_id, tp, broker.id, other);
                        any_error = true;
                    }
                }
            }
        }
        drop(rm);
        if any_error {
            tokio::time::sleep(backoff).await;
        }
    }
}

/// What comparing our log with a fetch response from the new leader decided.
#[derive(Debug, PartialEq)]
enum Reconciled {
    /// Every complete entry the leader sent is byte-identical to ours; compare again from
    /// `next` (still below our log end).
    Matched { next: i64 },
    /// Our log agrees with the leader's below `truncate_to` and not from there (or the
    /// leader's log ends there): truncate to it and append `rest` (the leader's entries
    /// from that point on, possibly empty). Comparison is over.
    Resolved { truncate_to: i64, rest: Bytes },
}

/// Compare the leader's entries (a fetch response from `from`) with ours from `from` to
/// our log end `verify_to`, entry by entry and byte for byte (offset, size, message).
/// Followers store the leader's entries verbatim, so replicas that agree hold identical
/// bytes; the first entry that differs (or our data the leader does not have) marks where
/// our log must be cut.
fn reconcile(log: &crate::log::Log, from: i64, verify_to: i64, leader_set: &Bytes) -> Result<Reconciled, String> {
    use crate::message::shallow_iter;
    let mut leader_entries = shallow_iter(leader_set.clone()).peekable();
    let complete_len = {
        let mut it = shallow_iter(leader_set.clone());
        for e in it.by_ref() {
            e.map_err(|e| format!("leader sent a bad entry: {e}"))?;
        }
        it.position()
    };
    if complete_len == 0 {
        if leader_set.is_empty() {
            // The leader's log ends at `from`: whatever we hold past it, it lacks.
            return Ok(Reconciled::Resolved { truncate_to: from, rest: Bytes::new() });
        }
        return Err(format!("the leader's entry at offset {from} is larger than replica.fetch.max.bytes"));
    }
    let ours = log
        .read(from, complete_len, None)
        .map_err(|e| e.to_string())?
        .read_bytes()
        .map_err(|e| e.to_string())?;
    let mut our_entries = shallow_iter(ours);
    let mut matched_end = from;
    while let Some(Ok(l)) = leader_entries.next() {
        let diverged = |matched_end: i64| -> Reconciled {
            // Cut where our agreement ends, or earlier if the leader's entry is a
            // compressed wrapper whose inner messages start before that.
            let first_inner = if l.message.is_compressed() {
                crate::message::deep_iter(leader_set.slice(l.position..l.position + l.size()))
                    .next()
                    .and_then(|e| e.ok())
                    .map_or(l.offset, |e| e.offset)
            } else {
                l.offset
            };
            Reconciled::Resolved { truncate_to: matched_end.min(first_inner), rest: leader_set.slice(l.position..complete_len) }
        };
        match our_entries.next() {
            Some(Ok(o)) if o.offset == l.offset && o.message.as_bytes() == l.message.as_bytes() => {
                matched_end = l.offset + 1;
            }
            Some(_) => return Ok(diverged(matched_end)),
            // Ours ended: either our log end (everything we hold matched) or an entry of
            // ours larger than the leader's (so different).
            None => return Ok(diverged(matched_end)),
        }
        if matched_end >= verify_to {
            return Ok(Reconciled::Resolved { truncate_to: verify_to, rest: leader_set.slice(l.position + l.size()..complete_len) });
        }
    }
    Ok(Reconciled::Matched { next: matched_end })
}

fn set_offset(f: &Fetcher, tp: &TopicPartition, expected: Option<i64>, new_offset: i64) {
    let mut st = f.state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(o) = st.partitions.get_mut(tp) {
        if Some(*o) == expected {
            *o = new_offset;
        }
    }
}

/// 0.8.2 `handleOffsetOutOfRange`: if the leader's log end is behind ours (an unclean
/// election), truncate to it; otherwise our log is too old: start over at the leader's
/// earliest offset.
async fn handle_out_of_range(
    conn: &mut crate::network::BrokerConnection,
    rm: &ReplicaManager,
    part: &super::partition::Partition,
    tp: &TopicPartition,
) -> Result<i64, String> {
    let ask = |time: i64| OffsetsRequest {
        replica_id: rm.broker_id,
        topics: vec![OffsetsTopic { topic: tp.topic.clone(), partitions: vec![OffsetsPartition { partition: tp.partition, time, max_offsets: 1 }] }],
    };
    let first = |r: api::OffsetsResponse| -> Result<i64, String> {
        r.topics
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.error_code == ErrorCode::NoError)
            .and_then(|p| p.offsets.first().copied())
            .ok_or_else(|| "leader gave no offset".to_string())
    };
    let client_id = format!("ReplicaFetcherThread-0-{}", part.leader());
    let latest = first(conn.send(&client_id, &ask(api::LATEST_TIME)).await.map_err(|e| e.to_string())?)?;
    let leo = part.log.log_end_offset();
    if latest < leo {
        part.log.truncate_to(latest).map_err(|e| e.to_string())?;
        part.clamp_high_watermark();
        return Ok(latest);
    }
    let earliest = first(conn.send(&client_id, &ask(api::EARLIEST_TIME)).await.map_err(|e| e.to_string())?)?;
    part.log.truncate_fully_and_start_at(earliest).map_err(|e| e.to_string())?;
    part.clamp_high_watermark();
    Ok(earliest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::{Clock as _, SystemClock};
    use crate::log::{Log, LogConfig};
    use crate::message::{encode_messages, CompressionCodec, Message};

    struct Dir(std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn new_log(name: &str) -> (Dir, Log) {
        let d = std::env::temp_dir().join(format!("kafka08-reconcile-{}-{}-{}", name, std::process::id(), SystemClock.now_ms()));
        let log = Log::open(&d.join("t-0"), LogConfig::default(), 0, false, Arc::new(SystemClock)).unwrap();
        (Dir(d), log)
    }

    /// Uncompressed entries `first..first+values.len()`.
    fn set(first: i64, values: &[&str]) -> Bytes {
        let ms: Vec<Message> = values.iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
        encode_messages(CompressionCodec::None, &ms, first)
    }

    fn cat(a: &Bytes, b: &Bytes) -> Bytes {
        let mut v = a.to_vec();
        v.extend_from_slice(b);
        Bytes::from(v)
    }

    #[test]
    fn follower_keeps_entries_the_leader_also_holds() {
        // KAFKA-1211: our high watermark is 2 but we hold 0..5, as does the new leader
        // (which has 2 more). Nothing may be cut; the leader's extra entries are appended.
        let (_d, log) = new_log("keep");
        log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
        let leader = set(2, &["c", "d", "e", "f", "g"]);
        match reconcile(&log, 2, 5, &leader).unwrap() {
            Reconciled::Resolved { truncate_to, rest } => {
                assert_eq!(truncate_to, 5);
                assert_eq!(rest, set(5, &["f", "g"]));
            }
            other => panic!("{other:?}"),
        }
        // The leader has exactly what we have: resolved, nothing to append.
        assert_eq!(reconcile(&log, 2, 5, &set(2, &["c", "d", "e"])).unwrap(), Reconciled::Resolved { truncate_to: 5, rest: Bytes::new() });
        // A partial response (fetch size) that matches: keep comparing from its end.
        let partial = set(2, &["c", "d"]);
        let cut = Bytes::copy_from_slice(&cat(&partial, &set(4, &["e"]))[..partial.len() + 20]);
        assert_eq!(reconcile(&log, 2, 5, &cut).unwrap(), Reconciled::Matched { next: 4 });
    }

    #[test]
    fn follower_cuts_at_the_first_difference_or_where_the_leader_ends() {
        let (_d, log) = new_log("cut");
        log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
        // The leader's log ends at 3: our 3 and 4 were never committed.
        assert_eq!(reconcile(&log, 3, 5, &Bytes::new()).unwrap(), Reconciled::Resolved { truncate_to: 3, rest: Bytes::new() });
        // The leader wrote something else at 3 (we held an uncommitted tail of an old leader).
        let leader = set(2, &["c", "X", "Y", "Z"]);
        match reconcile(&log, 2, 5, &leader).unwrap() {
            Reconciled::Resolved { truncate_to, rest } => {
                assert_eq!(truncate_to, 3);
                assert_eq!(rest, set(3, &["X", "Y", "Z"]));
                log.truncate_to(truncate_to).unwrap();
                log.append(rest, false).unwrap();
                assert_eq!(log.log_end_offset(), 6);
            }
            other => panic!("{other:?}"),
        }
        // The leader's differing entry is a compressed wrapper starting before our
        // agreement ends: cut at its first inner offset so offsets stay contiguous.
        let (_d2, log2) = new_log("wrap");
        log2.append(set(0, &["a", "b", "c", "d"]), false).unwrap();
        let inner: Vec<Message> = ["p", "q"].iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
        let wrapper = encode_messages(CompressionCodec::Gzip, &inner, 1); // offsets 1..2, wrapper offset 2
        match reconcile(&log2, 2, 4, &wrapper).unwrap() {
            Reconciled::Resolved { truncate_to, .. } => assert_eq!(truncate_to, 1),
            other => panic!("{other:?}"),
        }
        // An entry larger than the fetch size is an error, not a truncation.
        let big = set(2, &["c"]);
        assert!(reconcile(&log2, 2, 4, &big.slice(..big.len() - 1)).is_err());
    }

    #[test]
    fn fetcher_ids_follow_082_and_spread_partitions() {
        // Java: "test".hashCode() = 3556498; 31 * 3556498 + 1 = 110251439.
        assert_eq!(fetcher_id(&TopicPartition::new("test", 1), 4), 110_251_439 % 4);
        let ids: std::collections::HashSet<usize> = (0..32).map(|p| fetcher_id(&TopicPartition::new("t", p), 4)).collect();
        assert_eq!(ids.len(), 4);
        assert!((0..100).all(|p| fetcher_id(&TopicPartition::new("x", p), 1) == 0));
    }
}
