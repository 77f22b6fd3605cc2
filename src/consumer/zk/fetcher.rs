//! Fetchers for the partitions of one rebalance generation (0.8.2 `ConsumerFetcherManager`,
//! `ConsumerFetcherThread`, `LeaderFinderThread`).
//!
//! - A leader finder takes partitions without a leader, asks a live broker (from
//!   `/brokers/ids`) for metadata, and hands each partition to the fetcher of its leader;
//!   it sleeps `refresh.leader.backoff.ms` between rounds.
//! - One fetcher task per leader broker sends Fetch v0 for all its partitions at their fetch
//!   offsets and puts each non-empty message set into the owning stream's bounded queue
//!   (waiting while the queue is full: the stream's pace limits fetching, as in 0.8).
//! - Any partition error other than OffsetOutOfRange, or a broken connection, returns the
//!   partition(s) to the leader finder (a moved leader is found there). OffsetOutOfRange
//!   and an unknown start offset are reset per `auto.offset.reset` with an Offsets request.
//!
//! The fetch offset advances only after the chunk is in the queue, and only from the value
//! the fetch started at (compare-and-swap), so a partition handed from one fetcher to
//! another may be fetched twice (the stream skips what it already handed out) but never
//! skipped.
//!
//! A manager lives for one rebalance generation: [`FetcherManager::stop`] aborts every task
//! and waits for them, so nothing of the old generation touches a queue afterwards.

use super::config::{AutoOffsetReset, ConsumerConfig};
use super::stream::{Chunk, ChunkSender, PartitionTopicInfo};
use crate::api::{
    self, Broker, FetchPartition, FetchRequest, FetchTopic, MetadataRequest, OffsetsPartition, OffsetsRequest, OffsetsTopic,
    CONSUMER_REPLICA_ID, EARLIEST_TIME, LATEST_TIME,
};
use crate::common::{ErrorCode, TopicPartition};
use crate::message::shallow_iter;
use crate::network::BrokerConnection;
use crate::zk::{QueryError, ZkClient};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

fn valid_port(b: &Broker) -> bool {
    (0..=u16::MAX as i32).contains(&b.port)
}

/// Every broker registered under `/brokers/ids`, by id (unreadable registrations skipped).
pub(crate) async fn read_brokers(zk: &ZkClient) -> Result<Vec<Broker>, QueryError> {
    let mut out = Vec::new();
    for (id, b) in zk.brokers().await? {
        if valid_port(&b) {
            out.push(b);
        } else {
            log::warn!("skipping unreadable registration of broker {}", id);
        }
    }
    Ok(out)
}

/// What the fetchers need from the consumer config.
#[derive(Debug, Clone)]
pub(crate) struct FetchConfig {
    pub client_id: String,
    pub fetch_size: i32,
    pub min_bytes: i32,
    pub max_wait_ms: i32,
    pub socket_timeout: Duration,
    pub refresh_leader_backoff: Duration,
    pub auto_offset_reset: AutoOffsetReset,
}

impl FetchConfig {
    pub fn from_config(c: &ConsumerConfig) -> FetchConfig {
        FetchConfig {
            client_id: c.client_id.clone(),
            fetch_size: c.fetch_message_max_bytes,
            min_bytes: c.fetch_min_bytes,
            max_wait_ms: c.fetch_wait_max_ms,
            socket_timeout: Duration::from_millis(c.socket_timeout_ms),
            refresh_leader_backoff: Duration::from_millis(c.refresh_leader_backoff_ms),
            auto_offset_reset: c.auto_offset_reset,
        }
    }
}

/// Where a partition is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leader {
    /// Waiting for the leader finder.
    Unknown,
    Broker(i32),
    /// Stuck on a message it cannot read (too large for the fetch size, or corrupt); the
    /// stream has been told. Fetching it again would only repeat the error.
    Stalled,
}

struct Assigned {
    pti: Arc<PartitionTopicInfo>,
    queue: ChunkSender,
    leader: Leader,
}

#[derive(Default)]
struct State {
    partitions: HashMap<TopicPartition, Assigned>,
    fetchers: HashMap<i32, JoinHandle<()>>,
    stopped: bool,
}

struct Shared {
    cfg: FetchConfig,
    zk: ZkClient,
    state: Mutex<State>,
    finder_wake: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fetchers of one rebalance generation.
pub(crate) struct FetcherManager {
    shared: Arc<Shared>,
    finder: Option<JoinHandle<()>>,
}

impl FetcherManager {
    /// Start fetching `partitions` (each with the queue of the stream that owns it).
    pub fn start(
        zk: ZkClient,
        cfg: FetchConfig,
        partitions: Vec<(Arc<PartitionTopicInfo>, ChunkSender)>,
    ) -> FetcherManager {
        let state = State {
            partitions: partitions
                .into_iter()
                .map(|(pti, queue)| (pti.tp.clone(), Assigned { pti, queue, leader: Leader::Unknown }))
                .collect(),
            ..State::default()
        };
        let shared = Arc::new(Shared { cfg, zk, state: Mutex::new(state), finder_wake: Notify::new() });
        let finder = tokio::spawn(leader_finder(shared.clone()));
        FetcherManager { shared, finder: Some(finder) }
    }

    /// Wait, at most `limit`, until every partition handed to a fetcher knows its start
    /// offset. A consumer that stops as soon as it has read what it wanted (the console
    /// consumer's `--max-messages`) may otherwise stop while a partition with nothing to
    /// read is still asking its leader where to start, and commit no offset for it: 0.8.2
    /// left such a partition without an offset, so the group's lag read "unknown" and the
    /// next member started it over per `auto.offset.reset`.
    pub async fn settle_start_offsets(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut logged = false;
        loop {
            let pending: Vec<TopicPartition> = {
                let st = self.shared.lock();
                st.partitions
                    .iter()
                    .filter(|(_, a)| matches!(a.leader, Leader::Broker(_)) && a.pti.fetch_offset() < 0)
                    .map(|(tp, _)| tp.clone())
                    .collect()
            };
            if pending.is_empty() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                log::warn!("[{}] stopping before the start offset of {:?} is known", self.shared.cfg.client_id, pending);
                return;
            }
            if !logged {
                log::info!("[{}] waiting for the start offset of {:?} before stopping", self.shared.cfg.client_id, pending);
                logged = true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stop every task of this generation and wait until they are gone.
    pub async fn stop(mut self) {
        let mut handles = self.take_handles();
        for h in &handles {
            h.abort();
        }
        for h in handles.drain(..) {
            let _ = h.await;
        }
    }

    fn take_handles(&mut self) -> Vec<JoinHandle<()>> {
        let mut st = self.shared.lock();
        st.stopped = true;
        let mut handles: Vec<JoinHandle<()>> = st.fetchers.drain().map(|(_, h)| h).collect();
        handles.extend(self.finder.take());
        handles
    }
}

impl Drop for FetcherManager {
    fn drop(&mut self) {
        for h in self.take_handles() {
            h.abort();
        }
    }
}

async fn leader_finder(shared: Arc<Shared>) {
    loop {
        let leaderless: Vec<TopicPartition> = {
            let st = shared.lock();
            if st.stopped {
                return;
            }
            st.partitions.iter().filter(|(_, a)| a.leader == Leader::Unknown).map(|(tp, _)| tp.clone()).collect()
        };
        if leaderless.is_empty() {
            shared.finder_wake.notified().await;
            continue;
        }
        match find_leaders(&shared, &leaderless).await {
            Ok((brokers, leaders)) => {
                let mut st = shared.lock();
                if st.stopped {
                    return;
                }
                let mut moved = Vec::new();
                for tp in &leaderless {
                    let Some(leader) = leaders.get(tp).copied().filter(|l| *l >= 0) else {
                        continue;
                    };
                    let Some(broker) = brokers.get(&leader) else { continue };
                    let Some(a) = st.partitions.get_mut(tp) else { continue };
                    if a.leader != Leader::Unknown {
                        continue;
                    }
                    a.leader = Leader::Broker(leader);
                    moved.push((tp.clone(), leader));
                    st.fetchers
                        .entry(leader)
                        .or_insert_with(|| tokio::spawn(broker_fetcher(shared.clone(), broker.clone())));
                }
                if !moved.is_empty() {
                    log::info!("[{}] fetching {:?}", shared.cfg.client_id, moved);
                }
            }
            Err(e) => log::warn!("[{}] cannot find leaders for {:?}: {}", shared.cfg.client_id, leaderless, e),
        }
        tokio::time::sleep(shared.cfg.refresh_leader_backoff).await;
    }
}

/// Ask the registered brokers, one after another, for the topics' metadata.
async fn find_leaders(
    shared: &Shared,
    partitions: &[TopicPartition],
) -> Result<(HashMap<i32, Broker>, HashMap<TopicPartition, i32>), String> {
    let brokers = read_brokers(&shared.zk).await.map_err(|e| format!("reading /brokers/ids: {}", e))?;
    if brokers.is_empty() {
        return Err("no broker is registered".into());
    }
    let mut topics: Vec<String> = partitions.iter().map(|tp| tp.topic.clone()).collect();
    topics.sort();
    topics.dedup();
    let request = MetadataRequest { topics };
    // Start at a different broker each time so one dead broker does not stall every round.
    let start = (crate::consumer::zk::random_u64() % brokers.len() as u64) as usize;
    let mut last_error = String::new();
    for i in 0..brokers.len() {
        let b = &brokers[(start + i) % brokers.len()];
        let response = async {
            let mut conn = BrokerConnection::connect(&b.host, b.port as u16, shared.cfg.socket_timeout).await?;
            conn.send(&shared.cfg.client_id, &request).await
        };
        match response.await {
            Ok(md) => {
                let by_id: HashMap<i32, Broker> = md
                    .brokers
                    .iter()
                    .filter(|b| valid_port(b))
                    .map(|b| (b.id, b.clone()))
                    .collect();
                let mut leaders = HashMap::new();
                for t in &md.topics {
                    for p in &t.partitions {
                        leaders.insert(TopicPartition::new(t.topic.clone(), p.partition), p.leader);
                    }
                }
                return Ok((by_id, leaders));
            }
            Err(e) => last_error = format!("broker {} at {}:{}: {}", b.id, b.host, b.port, e),
        }
    }
    Err(last_error)
}

/// The partitions this fetcher serves right now.
fn my_partitions(shared: &Shared, broker: i32) -> Option<Vec<(TopicPartition, Arc<PartitionTopicInfo>, ChunkSender)>> {
    let mut st = shared.lock();
    if st.stopped {
        return None;
    }
    let mine: Vec<_> = st
        .partitions
        .iter()
        .filter(|(_, a)| a.leader == Leader::Broker(broker))
        .map(|(tp, a)| (tp.clone(), a.pti.clone(), a.queue.clone()))
        .collect();
    if mine.is_empty() {
        // Removed under the same lock the finder assigns under: a partition assigned after
        // this point finds no fetcher and starts a new one.
        st.fetchers.remove(&broker);
        return None;
    }
    Some(mine)
}

/// Return every partition of this fetcher to the leader finder and end the fetcher.
fn give_up(shared: &Shared, broker: i32, why: &str) {
    let mut st = shared.lock();
    let mut returned = Vec::new();
    for (tp, a) in st.partitions.iter_mut() {
        if a.leader == Leader::Broker(broker) {
            a.leader = Leader::Unknown;
            returned.push(tp.clone());
        }
    }
    st.fetchers.remove(&broker);
    drop(st);
    if !returned.is_empty() {
        log::warn!(
            "[{}] fetcher for broker {} stopped ({}); finding new leaders for {:?}",
            shared.cfg.client_id,
            broker,
            why,
            returned
        );
    }
    shared.finder_wake.notify_one();
}

/// Return one partition to the leader finder (if this fetcher still serves it).
fn return_partition(shared: &Shared, broker: i32, tp: &TopicPartition, error: ErrorCode) {
    let mut st = shared.lock();
    if let Some(a) = st.partitions.get_mut(tp) {
        if a.leader == Leader::Broker(broker) {
            a.leader = Leader::Unknown;
            log::info!("[{}] {} on broker {}: {:?}; finding its leader again", shared.cfg.client_id, tp, broker, error);
        }
    }
    drop(st);
    shared.finder_wake.notify_one();
}

fn stall(shared: &Shared, tp: &TopicPartition) {
    if let Some(a) = shared.lock().partitions.get_mut(tp) {
        a.leader = Leader::Stalled;
    }
}

/// Start offset per `auto.offset.reset`, asked of the leader (0.8.2 `handleOffsetOutOfRange`).
async fn reset_offset(conn: &mut BrokerConnection, cfg: &FetchConfig, tp: &TopicPartition) -> Result<i64, String> {
    let time = match cfg.auto_offset_reset {
        AutoOffsetReset::Smallest => EARLIEST_TIME,
        AutoOffsetReset::Largest => LATEST_TIME,
    };
    let req = OffsetsRequest {
        replica_id: CONSUMER_REPLICA_ID,
        topics: vec![OffsetsTopic {
            topic: tp.topic.clone(),
            partitions: vec![OffsetsPartition { partition: tp.partition, time, max_offsets: 1 }],
        }],
    };
    let resp = conn.send(&cfg.client_id, &req).await.map_err(|e| e.to_string())?;
    let p = resp
        .topics
        .iter()
        .filter(|t| t.topic == tp.topic)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition == tp.partition)
        .ok_or_else(|| format!("no offsets for {} in the response", tp))?;
    if p.error_code != ErrorCode::NoError {
        return Err(format!("{:?}", p.error_code));
    }
    p.offsets.first().copied().ok_or_else(|| format!("no offset returned for {}", tp))
}

async fn broker_fetcher(shared: Arc<Shared>, broker: Broker) {
    let cfg = shared.cfg.clone();
    let mut conn = match BrokerConnection::connect(&broker.host, broker.port as u16, cfg.socket_timeout).await {
        Ok(c) => c,
        Err(e) => {
            return give_up(&shared, broker.id, &format!("cannot connect to {}:{}: {}", broker.host, broker.port, e))
        }
    };
    // The server holds a fetch up to max_wait_ms before answering.
    conn.set_request_timeout(cfg.socket_timeout + Duration::from_millis(cfg.max_wait_ms.max(0) as u64));
    loop {
        let Some(parts) = my_partitions(&shared, broker.id) else {
            return;
        };
        // Partitions without a valid start offset (nothing committed) first.
        let mut ready = Vec::with_capacity(parts.len());
        for (tp, pti, queue) in parts {
            if pti.fetch_offset() < 0 {
                match reset_offset(&mut conn, &cfg, &tp).await {
                    Ok(o) => {
                        log::info!(
                            "[{}] {} has no valid offset; starting at {} ({:?})",
                            cfg.client_id,
                            tp,
                            o,
                            cfg.auto_offset_reset
                        );
                        pti.reset(o);
                    }
                    Err(e) if conn.is_broken() => return give_up(&shared, broker.id, &e),
                    Err(e) => {
                        log::warn!("[{}] cannot reset the offset of {}: {}", cfg.client_id, tp, e);
                        return_partition(&shared, broker.id, &tp, ErrorCode::Unknown);
                        continue;
                    }
                }
            }
            ready.push((tp, pti, queue));
        }
        if ready.is_empty() {
            tokio::time::sleep(cfg.refresh_leader_backoff).await;
            continue;
        }
        let mut by_topic: BTreeMap<&str, Vec<FetchPartition>> = BTreeMap::new();
        let mut started_at = HashMap::with_capacity(ready.len());
        for (tp, pti, _) in &ready {
            let offset = pti.fetch_offset();
            started_at.insert(tp.clone(), offset);
            by_topic.entry(tp.topic.as_str()).or_default().push(FetchPartition {
                partition: tp.partition,
                fetch_offset: offset,
                max_bytes: cfg.fetch_size,
            });
        }
        let request = FetchRequest {
            replica_id: CONSUMER_REPLICA_ID,
            max_wait_ms: cfg.max_wait_ms,
            min_bytes: cfg.min_bytes,
            topics: by_topic
                .into_iter()
                .map(|(t, partitions)| FetchTopic { topic: t.to_string(), partitions })
                .collect(),
        };
        conn.set_max_response_size(
            ready
                .len()
                .saturating_mul(cfg.fetch_size as usize + 1024)
                .saturating_add(1 << 16)
                .max(api::DEFAULT_MAX_REQUEST_SIZE),
        );
        let response = match conn.send(&cfg.client_id, &request).await {
            Ok(r) => r,
            Err(e) => return give_up(&shared, broker.id, &e.to_string()),
        };
        let ready: HashMap<TopicPartition, (Arc<PartitionTopicInfo>, ChunkSender)> =
            ready.into_iter().map(|(tp, pti, q)| (tp, (pti, q))).collect();
        for t in response.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.topic.clone(), p.partition);
                let Some((pti, queue)) = ready.get(&tp) else { continue };
                let fetch_offset = started_at[&tp];
                match p.error_code {
                    ErrorCode::NoError => {
                        let mut next = None;
                        let mut broken = false;
                        for e in shallow_iter(p.message_set.clone()) {
                            match e {
                                Ok(e) => next = Some(e.offset + 1),
                                Err(_) => {
                                    broken = true;
                                    break;
                                }
                            }
                        }
                        match next {
                            Some(next) => {
                                let chunk = Chunk::Data { pti: pti.clone(), fetch_offset, messages: p.message_set };
                                if queue.send(chunk).await.is_err() {
                                    // The application dropped this stream: nothing to deliver
                                    // to; the other partitions of this broker keep going.
                                    stall(&shared, &tp);
                                    continue;
                                }
                                // Only from where this fetch started: a reset or another
                                // fetcher's progress since then wins.
                                let _ = pti.compare_and_set_fetch_offset(fetch_offset, next);
                            }
                            None if broken => {
                                log::error!(
                                    "[{}] unreadable message set in {} at offset {}",
                                    cfg.client_id,
                                    tp,
                                    fetch_offset
                                );
                                let chunk = Chunk::Data { pti: pti.clone(), fetch_offset, messages: p.message_set };
                                stall(&shared, &tp);
                                let _ = queue.send(chunk).await;
                            }
                            None if p.message_set.len() >= cfg.fetch_size as usize => {
                                log::error!(
                                    "[{}] message at offset {} of {} is larger than fetch.message.max.bytes={}",
                                    cfg.client_id,
                                    fetch_offset,
                                    tp,
                                    cfg.fetch_size
                                );
                                stall(&shared, &tp);
                                let chunk = Chunk::TooLarge {
                                    pti: pti.clone(),
                                    offset: fetch_offset,
                                    fetch_size: cfg.fetch_size,
                                };
                                let _ = queue.send(chunk).await;
                            }
                            None => {}
                        }
                    }
                    ErrorCode::OffsetOutOfRange => match reset_offset(&mut conn, &cfg, &tp).await {
                        Ok(o) => {
                            log::warn!(
                                "[{}] offset {} of {} is out of range; resetting to {} ({:?})",
                                cfg.client_id,
                                fetch_offset,
                                tp,
                                o,
                                cfg.auto_offset_reset
                            );
                            pti.reset(o);
                        }
                        Err(e) if conn.is_broken() => return give_up(&shared, broker.id, &e),
                        Err(_) => return_partition(&shared, broker.id, &tp, ErrorCode::OffsetOutOfRange),
                    },
                    other => return_partition(&shared, broker.id, &tp, other),
                }
            }
        }
    }
}
