//! Replica fetchers (0.8.2 `ReplicaFetcherManager` / `ReplicaFetcherThread`):
//! `num.replica.fetchers` tasks per leader broker (a partition goes to fetcher
//! `hash(topic, partition) % n`, as 0.8.2's `getFetcherId`), each fetching its partitions
//! with `replica_id` = our id, appending with the leader's offsets and tracking the
//! leader's high watermark.
//!
//! The fetcher sees two things through traits, so its logic (compare with the new
//! leader, truncate, append, recover from offset-out-of-range) runs in unit tests against
//! an in-memory leader: the partition it follows ([`FollowerLog`], implemented by
//! `Partition`) and the leader it fetches from ([`LeaderEndPoint`], implemented over the
//! broker connection by [`BrokerEndPoint`]). It knows nothing of the replica manager: it
//! is given each partition's log when told to follow it, and a callback for progress.

use super::config::KafkaConfig;
use crate::api::{
    self, Broker, FetchPartition, FetchRequest, FetchResponse, FetchTopic, OffsetsPartition, OffsetsRequest,
    OffsetsTopic,
};
use crate::common::{ErrorCode, TopicPartition};
use crate::network::BrokerConnection;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// What a replica fetcher needs of a partition it follows.
pub trait FollowerLog: Send + Sync {
    fn log_end_offset(&self) -> i64;
    /// Our whole entries from `from`, at most `max_bytes` of them (shallow, as stored).
    fn read(&self, from: i64, max_bytes: usize) -> Result<Bytes, String>;
    /// Append entries that carry the leader's offsets.
    fn append_as_follower(&self, set: Bytes) -> Result<(), String>;
    /// Whether an append may wait for the disk (an fsync when `flush.messages` is set):
    /// such appends run on the blocking pool, not on the async workers that also keep
    /// the other connections and the ZooKeeper session going.
    fn append_may_block(&self) -> bool {
        true
    }
    /// Cut the log at `offset`, keeping the high watermark at or below the new end.
    fn truncate_to(&self, offset: i64) -> Result<(), String>;
    /// Drop everything and start the log at `offset` (our log is older than the leader's
    /// start), keeping the high watermark at or below the new end.
    fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), String>;
    /// The leader's high watermark as a fetch response carried it (capped by our log end).
    fn set_leader_high_watermark(&self, high_watermark: i64);
}

/// Why a request to the leader failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndPointError {
    /// No answer within the socket timeout: retry at once on a new connection.
    TimedOut,
    /// Could not connect, or the connection failed: back off before retrying.
    Failed(String),
}

impl std::fmt::Display for EndPointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndPointError::TimedOut => f.write_str("timed out"),
            EndPointError::Failed(why) => f.write_str(why),
        }
    }
}

/// The leader as a replica fetcher sees it: a 0.8 broker answering Fetch and Offsets.
pub trait LeaderEndPoint: Send {
    fn fetch(&mut self, request: &FetchRequest) -> impl Future<Output = Result<FetchResponse, EndPointError>> + Send;
    /// The first offset the leader reports for `time` (`api::LATEST_TIME`: its log end,
    /// `api::EARLIEST_TIME`: its log start).
    fn offset_before(&mut self, tp: &TopicPartition, time: i64) -> impl Future<Output = Result<i64, EndPointError>> + Send;
}

/// A leader broker over a [`BrokerConnection`], connected on first use and again after a
/// failure.
pub struct BrokerEndPoint {
    replica_id: i32,
    broker: Broker,
    socket_timeout: Duration,
    /// Added to the socket timeout for a fetch, which the leader may hold that long.
    fetch_wait: Duration,
    conn: Option<BrokerConnection>,
}

impl BrokerEndPoint {
    pub fn new(replica_id: i32, broker: Broker, socket_timeout: Duration, fetch_wait: Duration) -> BrokerEndPoint {
        BrokerEndPoint { replica_id, broker, socket_timeout, fetch_wait, conn: None }
    }

    /// Follow the leader to a new address (a re-registered broker); drops the connection
    /// when it changed.
    pub fn set_broker(&mut self, broker: Broker) {
        if broker != self.broker {
            self.broker = broker;
            self.conn = None;
        }
    }

    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    fn client_id(&self) -> String {
        format!("ReplicaFetcherThread-0-{}", self.broker.id)
    }

    async fn send<R: crate::api::ApiRequest>(&mut self, request: &R, timeout: Duration) -> Result<R::Response, EndPointError> {
        self.send_with_limit(request, timeout, crate::api::DEFAULT_MAX_REQUEST_SIZE).await
    }

    /// Send `request` and read an answer of at most `max_response` bytes.
    async fn send_with_limit<R: crate::api::ApiRequest>(
        &mut self,
        request: &R,
        timeout: Duration,
        max_response: usize,
    ) -> Result<R::Response, EndPointError> {
        if self.conn.is_none() {
            let b = &self.broker;
            let c = BrokerConnection::connect(&b.host, b.port as u16, self.socket_timeout).await.map_err(|e| {
                EndPointError::Failed(format!("cannot connect to leader {} at {}:{}: {}", b.id, b.host, b.port, e))
            })?;
            self.conn = Some(c);
        }
        let client_id = self.client_id();
        let conn = self.conn.as_mut().expect("connected above");
        conn.set_max_response_size(max_response);
        match tokio::time::timeout(timeout, conn.send(&client_id, request)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.conn = None;
                Err(EndPointError::Failed(format!("request to leader {} failed: {}", self.broker.id, e)))
            }
            Err(_) => {
                self.conn = None;
                Err(EndPointError::TimedOut)
            }
        }
    }
}

impl LeaderEndPoint for BrokerEndPoint {
    async fn fetch(&mut self, request: &FetchRequest) -> Result<FetchResponse, EndPointError> {
        let timeout = self.socket_timeout + self.fetch_wait;
        let limit = max_fetch_response_size(request);
        self.send_with_limit(request, timeout, limit).await
    }

    async fn offset_before(&mut self, tp: &TopicPartition, time: i64) -> Result<i64, EndPointError> {
        let request = OffsetsRequest {
            replica_id: self.replica_id,
            topics: vec![OffsetsTopic {
                topic: tp.topic.clone(),
                partitions: vec![OffsetsPartition { partition: tp.partition, time, max_offsets: 1 }],
            }],
        };
        let timeout = self.socket_timeout;
        let r: api::OffsetsResponse = self.send(&request, timeout).await?;
        r.topics
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.error_code == ErrorCode::NoError)
            .and_then(|p| p.offsets.first().copied())
            .ok_or_else(|| EndPointError::Failed("leader gave no offset".to_string()))
    }
}

/// One followed partition in a fetcher.
#[derive(Clone)]
struct Followed {
    /// The next offset to fetch.
    offset: i64,
    /// While comparing with the leader: our log end offset when we became follower.
    /// Below it we append nothing; we compare (see `reconcile`).
    verify_to: Option<i64>,
    log: Arc<dyn FollowerLog>,
}

struct Assignment {
    broker: Broker,
    partitions: BTreeMap<TopicPartition, Followed>,
}

struct Fetcher {
    state: Mutex<Assignment>,
    wake: Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Fetcher {
    fn new(broker: Broker) -> Fetcher {
        Fetcher {
            state: Mutex::new(Assignment { broker, partitions: BTreeMap::new() }),
            wake: Notify::new(),
            task: Mutex::new(None),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Assignment> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What every fetcher of a broker shares.
#[derive(Clone)]
struct FetcherContext {
    broker_id: i32,
    config: Arc<KafkaConfig>,
    /// Called after replicated data was appended (long polls and acks=-1 wait on it).
    on_progress: Arc<dyn Fn() + Send + Sync>,
}

pub struct FetcherManager {
    ctx: FetcherContext,
    /// Keyed by (leader broker id, fetcher id).
    fetchers: Mutex<HashMap<(i32, usize), Arc<Fetcher>>>,
}

/// 0.8.2 `AbstractFetcherManager.getFetcherId`: `Utils.abs(31 * topic.hashCode +
/// partition) % numFetchers`, with Java's string hash.
fn fetcher_id(tp: &TopicPartition, n: usize) -> usize {
    let h = crate::common::java_string_hash(&tp.topic).wrapping_mul(31).wrapping_add(tp.partition);
    crate::common::abs(h) as usize % n.max(1)
}

impl FetcherManager {
    /// Fetchers for broker `broker_id`; `on_progress` is called after each append of
    /// replicated data.
    pub fn new(broker_id: i32, config: Arc<KafkaConfig>, on_progress: Arc<dyn Fn() + Send + Sync>) -> FetcherManager {
        FetcherManager { ctx: FetcherContext { broker_id, config, on_progress }, fetchers: Mutex::new(HashMap::new()) }
    }

    /// Start fetching `tp` into `log` from `leader` at `offset` (replacing any earlier
    /// assignment). Our log holds data up to `verify_to` (its end offset); from `offset`
    /// to there it is compared with the leader's before anything is truncated or appended.
    pub fn add(&self, tp: TopicPartition, leader: Broker, offset: i64, verify_to: i64, log: Arc<dyn FollowerLog>) {
        self.remove(std::slice::from_ref(&tp));
        let id = fetcher_id(&tp, self.ctx.config.num_replica_fetchers.max(1) as usize);
        let mut map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.entry((leader.id, id)).or_insert_with(|| Arc::new(Fetcher::new(leader.clone())));
        {
            let mut st = f.state();
            st.broker = leader;
            st.partitions.insert(tp, Followed { offset, verify_to: (verify_to > offset).then_some(verify_to), log });
        }
        let mut task = f.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            *task = Some(tokio::spawn(run(f.clone(), self.ctx.clone())));
        }
        f.wake.notify_one();
    }

    pub fn remove(&self, tps: &[TopicPartition]) {
        let map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        for f in map.values() {
            let mut st = f.state();
            for tp in tps {
                st.partitions.remove(tp);
            }
        }
    }

    /// Partitions currently being fetched, with their leader and next offsets.
    pub fn assigned(&self) -> Vec<(TopicPartition, i32, i64)> {
        let map = self.fetchers.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for ((id, _), f) in map.iter() {
            let st = f.state();
            out.extend(st.partitions.iter().map(|(tp, p)| (tp.clone(), *id, p.offset)));
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

/// The largest answer `req` can get from a kafka08 leader: every partition's max_bytes,
/// but no more than the leader's per-response cap (or one partition's max_bytes), plus
/// the headers. The network client's 100 MiB default refused larger answers, and the
/// follower repeated the same fetch for ever.
fn max_fetch_response_size(req: &FetchRequest) -> usize {
    let (mut sum, mut largest, mut headers) = (0usize, 0usize, 1024usize);
    for t in &req.topics {
        headers += 2 + t.topic.len() + 4;
        for p in &t.partitions {
            let want = p.max_bytes.max(0) as usize;
            sum = sum.saturating_add(want);
            largest = largest.max(want);
            headers += 18;
        }
    }
    sum.min(largest.max(super::apis::MAX_FETCH_RESPONSE_BYTES)).saturating_add(headers).max(crate::api::DEFAULT_MAX_REQUEST_SIZE)
}

/// The fetch tasks hold the logs they follow: they end with their manager (the replica
/// manager that owns it), as 0.8.2's fetcher threads ended with the broker.
impl Drop for FetcherManager {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn run(f: Arc<Fetcher>, ctx: FetcherContext) {
    let backoff = Duration::from_millis(ctx.config.replica_fetch_backoff_ms.max(10) as u64);
    let socket_timeout = Duration::from_millis(ctx.config.replica_socket_timeout_ms.max(1000) as u64);
    let fetch_wait = Duration::from_millis(ctx.config.replica_fetch_wait_max_ms.max(0) as u64);
    let broker = f.state().broker.clone();
    let mut leader = BrokerEndPoint::new(ctx.broker_id, broker, socket_timeout, fetch_wait);
    loop {
        let (broker, idle) = {
            let st = f.state();
            (st.broker.clone(), st.partitions.is_empty())
        };
        if idle {
            leader.disconnect();
            f.wake.notified().await;
            continue;
        }
        leader.set_broker(broker);
        match fetch_round(&f, &mut leader, &ctx).await {
            Round::Done => {}
            Round::Retry => continue,
            Round::Backoff => tokio::time::sleep(backoff).await,
        }
    }
}

/// How a fetch round ended.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    Done,
    /// The request timed out: send again at once.
    Retry,
    /// The request or a partition failed: wait `replica.fetch.backoff.ms` first.
    Backoff,
}

/// One fetch request for every followed partition, and what its answer does to each.
async fn fetch_round<L: LeaderEndPoint>(f: &Fetcher, leader: &mut L, ctx: &FetcherContext) -> Round {
    let (leader_id, work) = {
        let st = f.state();
        (st.broker.id, st.partitions.clone())
    };
    let mut topics: BTreeMap<String, Vec<FetchPartition>> = BTreeMap::new();
    for (tp, p) in &work {
        topics.entry(tp.topic.clone()).or_default().push(FetchPartition {
            partition: tp.partition,
            fetch_offset: p.offset,
            max_bytes: ctx.config.replica_fetch_max_bytes,
        });
    }
    let req = FetchRequest {
        replica_id: ctx.broker_id,
        max_wait_ms: ctx.config.replica_fetch_wait_max_ms,
        min_bytes: ctx.config.replica_fetch_min_bytes,
        topics: topics.into_iter().map(|(topic, partitions)| FetchTopic { topic, partitions }).collect(),
    };
    let resp = match leader.fetch(&req).await {
        Ok(r) => r,
        Err(EndPointError::TimedOut) => return Round::Retry,
        Err(EndPointError::Failed(e)) => {
            log::warn!("Broker {} fetch from leader {} failed: {}", ctx.broker_id, leader_id, e);
            return Round::Backoff;
        }
    };
    let mut any_error = false;
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.topic.clone(), p.partition);
            let Some(asked) = work.get(&tp) else { continue };
            // Only act if the partition is still assigned at the offset we asked for.
            if !still_at(f, &tp, asked.offset) {
                continue;
            }
            match follow(ctx.broker_id, leader_id, &tp, asked, p, leader).await {
                Ok((next, progressed)) => {
                    update(f, &tp, asked.offset, next);
                    if progressed {
                        (ctx.on_progress)();
                    }
                }
                Err(()) => any_error = true,
            }
        }
    }
    if any_error {
        Round::Backoff
    } else {
        Round::Done
    }
}

fn still_at(f: &Fetcher, tp: &TopicPartition, offset: i64) -> bool {
    f.state().partitions.get(tp).is_some_and(|p| p.offset == offset)
}

/// Move `tp` on to `next` if it is still assigned at `expected`.
fn update(f: &Fetcher, tp: &TopicPartition, expected: i64, next: Position) {
    let mut st = f.state();
    if let Some(p) = st.partitions.get_mut(tp) {
        if p.offset == expected {
            p.offset = next.offset;
            p.verify_to = next.verify_to;
        }
    }
}

/// Where a followed partition stands after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    offset: i64,
    verify_to: Option<i64>,
}

/// What one partition of a fetch response does to the follower's log: compare with the
/// leader while verifying, truncate where they differ, append, take the leader's high
/// watermark; on offset-out-of-range ask the leader where its log starts or ends. Returns
/// where the partition now stands and whether data or the high watermark may have moved;
/// `Err` (logged here) means: back off and fetch the same offset again.
async fn follow<L: LeaderEndPoint>(
    broker_id: i32,
    leader_id: i32,
    tp: &TopicPartition,
    at: &Followed,
    p: api::FetchResponsePartition,
    leader: &mut L,
) -> Result<(Position, bool), ()> {
    let log = &at.log;
    match p.error_code {
        ErrorCode::NoError => {
            let mut set = p.message_set;
            if let Some(verify_to) = at.verify_to {
                match reconcile(log.as_ref(), at.offset, verify_to, &set) {
                    Ok(Reconciled::Matched { next }) => {
                        // Everything the leader sent equals ours: keep comparing.
                        log.set_leader_high_watermark(p.high_watermark.min(next));
                        return Ok((Position { offset: next, verify_to: Some(verify_to) }, false));
                    }
                    Ok(Reconciled::Resolved { truncate_to, rest }) => {
                        if truncate_to < log.log_end_offset() {
                            log::info!(
                                "Broker {} truncates {} to offset {}: leader {} differs from there (our log ended at {})",
                                broker_id, tp, truncate_to, leader_id, verify_to
                            );
                            if let Err(e) = log.truncate_to(truncate_to) {
                                log::error!("Broker {} cannot truncate {}: {}", broker_id, tp, e);
                                return Err(());
                            }
                        }
                        set = rest;
                    }
                    Err(e) => {
                        log::error!("Broker {} cannot compare {} with leader {}: {}", broker_id, tp, leader_id, e);
                        return Err(());
                    }
                }
            }
            if !set.is_empty() {
                let appended = if log.append_may_block() {
                    let log = log.clone();
                    tokio::task::spawn_blocking(move || log.append_as_follower(set))
                        .await
                        .unwrap_or_else(|e| Err(format!("the append stopped: {e}")))
                } else {
                    log.append_as_follower(set)
                };
                if let Err(e) = appended {
                    log::error!("Broker {} cannot append replicated data to {}: {}", broker_id, tp, e);
                    return Err(());
                }
            }
            log.set_leader_high_watermark(p.high_watermark);
            Ok((Position { offset: log.log_end_offset(), verify_to: None }, true))
        }
        ErrorCode::OffsetOutOfRange => match handle_out_of_range(log.as_ref(), tp, leader).await {
            Ok(offset) => Ok((Position { offset, verify_to: None }, false)),
            Err(e) => {
                log::warn!("Broker {} cannot reset {} after offset out of range: {}", broker_id, tp, e);
                Err(())
            }
        },
        other => {
            log::debug!("Broker {} fetch of {} from {} answered {}", broker_id, tp, leader_id, other);
            Err(())
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
fn reconcile(log: &dyn FollowerLog, from: i64, verify_to: i64, leader_set: &Bytes) -> Result<Reconciled, String> {
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
    let ours = log.read(from, complete_len)?;
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

/// 0.8.2 `handleOffsetOutOfRange`: if the leader's log end is behind ours (an unclean
/// election), truncate to it; otherwise our log is too old: start over at the leader's
/// earliest offset. Returns the offset to fetch next.
async fn handle_out_of_range<L: LeaderEndPoint>(log: &dyn FollowerLog, tp: &TopicPartition, leader: &mut L) -> Result<i64, String> {
    let latest = leader.offset_before(tp, api::LATEST_TIME).await.map_err(|e| e.to_string())?;
    if latest < log.log_end_offset() {
        log.truncate_to(latest)?;
        return Ok(latest);
    }
    let earliest = leader.offset_before(tp, api::EARLIEST_TIME).await.map_err(|e| e.to_string())?;
    log.truncate_fully_and_start_at(earliest)?;
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

    fn open_log(name: &str) -> (Dir, Arc<Log>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("kafka08-reconcile-{}-{}-{}-{}", name, std::process::id(), n, SystemClock.now_ms()));
        let log = Log::open(&d.join("t-0"), LogConfig::default(), 0, false, Arc::new(SystemClock)).unwrap();
        (Dir(d), Arc::new(log))
    }

    /// The follower side is the real `Partition` (its `FollowerLog` is what the broker runs).
    type TestFollower = crate::server::partition::Partition;

    fn new_log(name: &str) -> (Dir, Arc<TestFollower>) {
        let (d, log) = open_log(name);
        (d, Arc::new(TestFollower::new(TopicPartition::new("t", 0), log, 2, 0)))
    }

    /// A leader in memory: a real log per partition, served without sockets.
    struct MemLeader {
        logs: HashMap<TopicPartition, Arc<Log>>,
        high_watermark: i64,
        /// Answers to give instead of the next fetches.
        failures: Vec<EndPointError>,
        fetches: usize,
        /// Run while a fetch is out (before it is answered).
        on_fetch: Option<Box<dyn FnMut() + Send>>,
    }

    impl LeaderEndPoint for MemLeader {
        async fn fetch(&mut self, request: &FetchRequest) -> Result<FetchResponse, EndPointError> {
            self.fetches += 1;
            if let Some(hook) = self.on_fetch.as_mut() {
                hook();
            }
            if !self.failures.is_empty() {
                return Err(self.failures.remove(0));
            }
            let mut topics = Vec::new();
            for t in &request.topics {
                let mut partitions = Vec::new();
                for p in &t.partitions {
                    let log = &self.logs[&TopicPartition::new(t.topic.clone(), p.partition)];
                    let r = if p.fetch_offset < log.log_start_offset() || p.fetch_offset > log.log_end_offset() {
                        api::FetchResponsePartition { partition: p.partition, error_code: ErrorCode::OffsetOutOfRange, high_watermark: -1, message_set: Bytes::new() }
                    } else {
                        let set = log.read(p.fetch_offset, p.max_bytes as usize, None).unwrap().read_bytes().unwrap();
                        api::FetchResponsePartition { partition: p.partition, error_code: ErrorCode::NoError, high_watermark: self.high_watermark, message_set: set }
                    };
                    partitions.push(r);
                }
                topics.push(api::FetchResponseTopic { topic: t.topic.clone(), partitions });
            }
            Ok(FetchResponse { topics })
        }

        async fn offset_before(&mut self, tp: &TopicPartition, time: i64) -> Result<i64, EndPointError> {
            let log = &self.logs[tp];
            Ok(if time == api::LATEST_TIME { log.log_end_offset() } else { log.log_start_offset() })
        }
    }

    fn config() -> Arc<KafkaConfig> {
        Arc::new(KafkaConfig::with_defaults(2, "zk:2181").unwrap())
    }

    /// A fetcher following `t-0` of `leader` (broker 1) into `follower` from `offset`,
    /// comparing up to `verify_to`; and a counter of progress callbacks.
    fn fetcher(follower: &Arc<TestFollower>, offset: i64, verify_to: i64) -> (Fetcher, FetcherContext, Arc<std::sync::atomic::AtomicUsize>) {
        let f = Fetcher::new(Broker { id: 1, host: "leader".into(), port: 9092 });
        f.state().partitions.insert(
            TopicPartition::new("t", 0),
            Followed { offset, verify_to: (verify_to > offset).then_some(verify_to), log: follower.clone() },
        );
        let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let p = progress.clone();
        let ctx = FetcherContext {
            broker_id: 2,
            config: config(),
            on_progress: Arc::new(move || {
                p.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
        };
        (f, ctx, progress)
    }

    fn leader_with(values: &[&str]) -> (Dir, MemLeader) {
        let (d, log) = open_log("leader");
        if !values.is_empty() {
            log.append(set(0, values), false).unwrap();
        }
        let hw = log.log_end_offset();
        (d, MemLeader { logs: HashMap::from([(TopicPartition::new("t", 0), log)]), high_watermark: hw, failures: vec![], fetches: 0, on_fetch: None })
    }

    fn offset_of(f: &Fetcher) -> Position {
        let st = f.state();
        let p = &st.partitions[&TopicPartition::new("t", 0)];
        Position { offset: p.offset, verify_to: p.verify_to }
    }

    /// Fetch rounds until the follower stops moving (at most 20).
    async fn settle(f: &Fetcher, leader: &mut MemLeader, ctx: &FetcherContext) {
        for _ in 0..20 {
            let before = offset_of(f);
            assert_eq!(fetch_round(f, leader, ctx).await, Round::Done);
            if offset_of(f) == before {
                return;
            }
        }
        panic!("the follower never settled: {:?}", offset_of(f));
    }

    fn contents(log: &Log) -> Bytes {
        log.read(log.log_start_offset(), 1 << 20, None).unwrap().read_bytes().unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    #[test]
    fn follower_truncates_a_diverged_tail_and_then_holds_the_leaders_log() {
        runtime().block_on(async {
            // We led once and wrote d, e that never committed; the new leader wrote X, Y, Z.
            let (_d, follower) = new_log("diverged");
            follower.log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
            let (_l, mut leader) = leader_with(&["a", "b", "c", "X", "Y", "Z"]);
            let (f, ctx, progress) = fetcher(&follower, 2, 5);
            settle(&f, &mut leader, &ctx).await;
            let leader_log = &leader.logs[&TopicPartition::new("t", 0)];
            assert_eq!(contents(&follower.log), contents(leader_log));
            assert_eq!(offset_of(&f), Position { offset: 6, verify_to: None });
            assert_eq!(follower.high_watermark(), 6, "the leader's high watermark");
            assert!(progress.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        });
    }

    #[test]
    fn follower_keeps_a_tail_the_leader_also_holds_and_appends_only_what_is_new() {
        runtime().block_on(async {
            // KAFKA-1211: our high watermark (2) lags our log end (5); the leader holds the
            // same 0..5 and two more. Nothing may be cut.
            let (_d, follower) = new_log("same");
            follower.log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
            let (_l, mut leader) = leader_with(&["a", "b", "c", "d", "e", "f", "g"]);
            leader.high_watermark = 3;
            let (f, ctx, _) = fetcher(&follower, 2, 5);
            settle(&f, &mut leader, &ctx).await;
            assert_eq!(contents(&follower.log), contents(&leader.logs[&TopicPartition::new("t", 0)]));
            assert_eq!(follower.log.log_end_offset(), 7);
            assert_eq!(follower.high_watermark(), 3, "the leader's high watermark, not our log end");
        });
    }

    #[test]
    fn follower_behind_the_leaders_log_start_starts_over_there() {
        runtime().block_on(async {
            // Retention removed what we would fetch next: 0.8.2 starts at the leader's
            // earliest offset with an empty log.
            let (_d, follower) = new_log("old");
            follower.log.append(set(0, &["a", "b"]), false).unwrap();
            let (_l, mut leader) = leader_with(&[]);
            let leader_log = leader.logs[&TopicPartition::new("t", 0)].clone();
            leader_log.truncate_fully_and_start_at(10).unwrap();
            leader_log.append(set(10, &["k", "l", "m"]), false).unwrap();
            leader.high_watermark = 13;
            let (f, ctx, _) = fetcher(&follower, 2, 2);
            settle(&f, &mut leader, &ctx).await;
            assert_eq!(follower.log.log_start_offset(), 10);
            assert_eq!(follower.log.log_end_offset(), 13);
            assert_eq!(contents(&follower.log), contents(&leader_log));
            assert_eq!(follower.high_watermark(), 13);
        });
    }

    #[test]
    fn follower_ahead_of_the_leaders_log_end_truncates_to_it() {
        runtime().block_on(async {
            // An unclean election made a shorter log the leader's: fetching at our log end
            // is out of range; we cut back to the leader's end, then follow it.
            let (_d, follower) = new_log("ahead");
            follower.log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
            follower.set_leader_high_watermark(5);
            let (_l, mut leader) = leader_with(&["a", "b", "c"]);
            let (f, ctx, _) = fetcher(&follower, 5, 5);
            assert_eq!(fetch_round(&f, &mut leader, &ctx).await, Round::Done);
            assert_eq!(offset_of(&f), Position { offset: 3, verify_to: None });
            assert_eq!(follower.log.log_end_offset(), 3);
            assert_eq!(follower.high_watermark(), 3, "the high watermark never stays above the log end");
            leader.logs[&TopicPartition::new("t", 0)].append(set(3, &["P"]), false).unwrap();
            leader.high_watermark = 4;
            settle(&f, &mut leader, &ctx).await;
            assert_eq!(contents(&follower.log), contents(&leader.logs[&TopicPartition::new("t", 0)]));
        });
    }

    #[test]
    fn a_failed_fetch_backs_off_and_a_timed_out_one_retries_without_moving() {
        runtime().block_on(async {
            let (_d, follower) = new_log("fail");
            let (_l, mut leader) = leader_with(&["a"]);
            leader.failures = vec![EndPointError::Failed("connection reset".into()), EndPointError::TimedOut];
            let (f, ctx, progress) = fetcher(&follower, 0, 0);
            assert_eq!(fetch_round(&f, &mut leader, &ctx).await, Round::Backoff);
            assert_eq!(fetch_round(&f, &mut leader, &ctx).await, Round::Retry);
            assert_eq!(offset_of(&f).offset, 0);
            assert_eq!(progress.load(std::sync::atomic::Ordering::SeqCst), 0);
            assert_eq!(fetch_round(&f, &mut leader, &ctx).await, Round::Done);
            assert_eq!(offset_of(&f).offset, 1);
            assert_eq!(leader.fetches, 3);
        });
    }

    #[test]
    fn a_partition_reassigned_or_removed_while_its_fetch_is_out_is_left_alone() {
        runtime().block_on(async {
            let tp = TopicPartition::new("t", 0);
            let (_d, follower) = new_log("moved");
            let (_l, mut leader) = leader_with(&["a", "b"]);
            let (f, ctx, progress) = fetcher(&follower, 0, 0);
            let f = Arc::new(f);
            // A LeaderAndIsr re-added the partition at another offset while the fetch was
            // out: the answer (for offset 0) must neither append nor move it.
            let during = f.clone();
            let moved = tp.clone();
            leader.on_fetch = Some(Box::new(move || during.state().partitions.get_mut(&moved).unwrap().offset = 7));
            assert_eq!(fetch_round(&f, &mut leader, &ctx).await, Round::Done);
            assert_eq!(follower.log.log_end_offset(), 0);
            assert_eq!(offset_of(&f).offset, 7);
            // Became leader (removed) while the fetch was out: nothing appended, not re-added.
            f.state().partitions.get_mut(&tp).unwrap().offset = 0;
            let during = f.clone();
            let removed = tp.clone();
            leader.on_fetch = Some(Box::new(move || {
                during.state().partitions.remove(&removed);
            }));
            assert_eq!(fetch_round(&f, &mut leader, &ctx).await, Round::Done);
            assert_eq!(follower.log.log_end_offset(), 0);
            assert!(f.state().partitions.is_empty());
            assert_eq!(progress.load(std::sync::atomic::Ordering::SeqCst), 0);
        });
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
        log.log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
        let leader = set(2, &["c", "d", "e", "f", "g"]);
        match reconcile(log.as_ref(), 2, 5, &leader).unwrap() {
            Reconciled::Resolved { truncate_to, rest } => {
                assert_eq!(truncate_to, 5);
                assert_eq!(rest, set(5, &["f", "g"]));
            }
            other => panic!("{other:?}"),
        }
        // The leader has exactly what we have: resolved, nothing to append.
        assert_eq!(reconcile(log.as_ref(), 2, 5, &set(2, &["c", "d", "e"])).unwrap(), Reconciled::Resolved { truncate_to: 5, rest: Bytes::new() });
        // A partial response (fetch size) that matches: keep comparing from its end.
        let partial = set(2, &["c", "d"]);
        let cut = Bytes::copy_from_slice(&cat(&partial, &set(4, &["e"]))[..partial.len() + 20]);
        assert_eq!(reconcile(log.as_ref(), 2, 5, &cut).unwrap(), Reconciled::Matched { next: 4 });
    }

    #[test]
    fn follower_cuts_at_the_first_difference_or_where_the_leader_ends() {
        let (_d, log) = new_log("cut");
        log.log.append(set(0, &["a", "b", "c", "d", "e"]), false).unwrap();
        // The leader's log ends at 3: our 3 and 4 were never committed.
        assert_eq!(reconcile(log.as_ref(), 3, 5, &Bytes::new()).unwrap(), Reconciled::Resolved { truncate_to: 3, rest: Bytes::new() });
        // The leader wrote something else at 3 (we held an uncommitted tail of an old leader).
        let leader = set(2, &["c", "X", "Y", "Z"]);
        match reconcile(log.as_ref(), 2, 5, &leader).unwrap() {
            Reconciled::Resolved { truncate_to, rest } => {
                assert_eq!(truncate_to, 3);
                assert_eq!(rest, set(3, &["X", "Y", "Z"]));
                log.truncate_to(truncate_to).unwrap();
                log.append_as_follower(rest).unwrap();
                assert_eq!(log.log_end_offset(), 6);
            }
            other => panic!("{other:?}"),
        }
        // The leader's differing entry is a compressed wrapper starting before our
        // agreement ends: cut at its first inner offset so offsets stay contiguous.
        let (_d2, log2) = new_log("wrap");
        log2.log.append(set(0, &["a", "b", "c", "d"]), false).unwrap();
        let inner: Vec<Message> = ["p", "q"].iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
        let wrapper = encode_messages(CompressionCodec::Gzip, &inner, 1); // offsets 1..2, wrapper offset 2
        match reconcile(log2.as_ref(), 2, 4, &wrapper).unwrap() {
            Reconciled::Resolved { truncate_to, .. } => assert_eq!(truncate_to, 1),
            other => panic!("{other:?}"),
        }
        // An entry larger than the fetch size is an error, not a truncation.
        let big = set(2, &["c"]);
        assert!(reconcile(log2.as_ref(), 2, 4, &big.slice(..big.len() - 1)).is_err());
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
