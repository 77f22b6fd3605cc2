//! Replica fetchers (0.8.2 `ReplicaFetcherManager` / `ReplicaFetcherThread`):
//! `num.replica.fetchers` tasks per leader broker (a partition goes to fetcher
//! `hash(topic, partition) % n`, as 0.8.2's `getFetcherId`), each fetching its partitions
//! with `replica_id` = our id, appending with the leader's offsets and tracking the
//! leader's high watermark.

use super::config::KafkaConfig;
use super::replica_manager::ReplicaManager;
use crate::api::{self, Broker, FetchPartition, FetchRequest, FetchTopic, OffsetsPartition, OffsetsRequest, OffsetsTopic};
use crate::common::{ErrorCode, TopicPartition};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;

struct Assignment {
    broker: Broker,
    /// Partition → next offset to fetch.
    partitions: BTreeMap<TopicPartition, i64>,
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
    pub fn add(&self, tp: TopicPartition, leader: Broker, offset: i64) {
        self.remove(std::slice::from_ref(&tp));
        let id = fetcher_id(&tp, self.config.num_replica_fetchers.max(1) as usize);
        let mut map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.entry((leader.id, id)).or_insert_with(|| {
            Arc::new(Fetcher {
                state: Mutex::new(Assignment { broker: leader.clone(), partitions: BTreeMap::new() }),
                wake: Notify::new(),
                task: Mutex::new(None),
            })
        });
        {
            let mut st = f.state.lock().unwrap_or_else(|e| e.into_inner());
            st.broker = leader;
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
        let (broker, work) = {
            let st = f.state.lock().unwrap_or_else(|e| e.into_inner());
            (st.broker.clone(), st.partitions.clone())
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
                        if !p.message_set.is_empty() {
                            match part.log.append(p.message_set, false) {
                                Ok(_) => {}
                                Err(e) => {
                                    log::error!("Broker {} cannot append replicated data to {}: {}", rm.broker_id, tp, e);
                                    any_error = true;
                                    continue;
                                }
                            }
                        }
                        let leo = part.log.log_end_offset();
                        part.set_follower_high_watermark(p.high_watermark);
                        set_offset(&f, &tp, expected, leo);
                        rm.notify_progress();
                    }
                    ErrorCode::OffsetOutOfRange => {
                        let c = conn.as_mut().expect("connected");
                        match handle_out_of_range(c, &rm, &part, &tp).await {
                            Ok(new_offset) => set_offset(&f, &tp, expected, new_offset),
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

    #[test]
    fn fetcher_ids_follow_082_and_spread_partitions() {
        // Java: "test".hashCode() = 3556498; 31 * 3556498 + 1 = 110251439.
        assert_eq!(fetcher_id(&TopicPartition::new("test", 1), 4), 110_251_439 % 4);
        let ids: std::collections::HashSet<usize> = (0..32).map(|p| fetcher_id(&TopicPartition::new("t", p), 4)).collect();
        assert_eq!(ids.len(), 4);
        assert!((0..100).all(|p| fetcher_id(&TopicPartition::new("x", p), 1) == 0));
    }
}
