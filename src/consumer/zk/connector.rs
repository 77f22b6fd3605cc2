//! `ZookeeperConsumerConnector` (docs/zookeeper-layout.md): registration, watches, the
//! rebalance loop, commits and shutdown.
//!
//! Tasks of one connector:
//! - watch loops (the group's `ids` children; each subscribed topic's `/brokers/topics/<t>`
//!   data; for wildcards `/brokers/topics` children): each change sets the "rebalance
//!   needed" flag and wakes the rebalance executor (events coalesce, as 0.8's watcher
//!   thread did, KAFKA-265);
//! - a session watcher: a new ZooKeeper session means our ephemerals are gone: stop handing
//!   out messages, re-register, rebalance;
//! - the rebalance executor, which runs [`Inner::synced_rebalance`] when the flag is set;
//! - the auto-committer (`auto.commit.interval.ms`).
//!
//! One rebalance attempt (docs/zookeeper-layout.md; fixes in the module door): make sure
//! we are registered; stop the fetchers, revoke the owned partitions (streams stop handing
//! them out), commit, release our owner znodes; read the group; assign; claim owner znodes
//! (any conflict ⇒ release what this attempt claimed, fail); read the committed offsets of
//! what we claimed; start the fetchers. Attempts repeat with jittered backoff until one
//! succeeds — after `rebalance.max.retries` failures in the background, never giving up.

use super::assignor::{assign, AssignmentContext};
use super::config::ConsumerConfig;
use super::error::ConsumerError;
use super::fetcher::{read_brokers, FetchConfig, FetcherManager};
use super::offsets::OffsetStore;
use super::stream::{ChunkSender, KafkaStream, PartitionTopicInfo};
use super::topic_count::{TopicCount, TopicFilter, MAX_STREAMS};
use super::{make_consumer_id, now_ms, random_u64};
use crate::common::{validate_topic_name, TopicPartition};
use crate::zk::QueryError;
use crate::zk::{paths, WatchFuture, ZkClient, ZkError};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// How long shutdown waits for a task to notice it (a ZooKeeper call in flight finishes).
const TASK_STOP_WAIT: Duration = Duration::from_secs(10);
/// How long shutdown waits for partitions still asking their leader where to start (at
/// most `socket.timeout.ms`), so it can commit a position for them too.
const START_OFFSET_WAIT: Duration = Duration::from_secs(5);
/// Pause before re-arming a watch after a ZooKeeper error.
const WATCH_RETRY: Duration = Duration::from_secs(1);
/// The executor wakes at least this often (0.8's watcher thread: every second).
const EXECUTOR_TICK: Duration = Duration::from_secs(1);

/// Where the streams' queues are, by the thread ids that own partitions.
#[derive(Clone)]
enum Queues {
    /// topic → one queue per stream (thread `<id>-n` of the topic is stream n).
    Static(BTreeMap<String, Vec<ChunkSender>>),
    /// stream n serves thread `<id>-n` of every matching topic.
    Wildcard(Vec<ChunkSender>),
}

impl Queues {
    fn queue_for(&self, topic: &str, thread: usize) -> Option<ChunkSender> {
        match self {
            Queues::Static(m) => m.get(topic).and_then(|q| q.get(thread)).cloned(),
            Queues::Wildcard(q) => q.get(thread).cloned(),
        }
    }
}

#[derive(Clone)]
struct Subscription {
    topic_count: TopicCount,
    queues: Queues,
}

/// What a commit writes for one owned partition: called with the partition and its
/// consumed offset; `None` leaves the partition's committed offset as it is.
pub type CommitOffsetFn = Arc<dyn Fn(&TopicPartition, i64) -> Option<i64> + Send + Sync>;

/// Held under the rebalance lock.
#[derive(Default)]
struct RebalanceState {
    fetchers: Option<FetcherManager>,
    /// Owner znodes we created and have not deleted: partition → thread id.
    claimed: BTreeMap<TopicPartition, String>,
}

enum WatchKind {
    Children,
    Data,
}

#[derive(Clone, Copy, Debug)]
enum OnChange {
    Rebalance(&'static str),
    WildcardTopics,
}

struct Inner {
    config: ConsumerConfig,
    consumer_id: String,
    /// `None` after shutdown, so the session closes with the last handle.
    zk: RwLock<Option<ZkClient>>,
    offsets: OffsetStore,
    shutting_down: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    rebalance_needed: AtomicBool,
    rebalance_wake: Notify,
    rebalance: tokio::sync::Mutex<RebalanceState>,
    /// The partitions of the current generation (what a commit covers).
    registry: Mutex<BTreeMap<TopicPartition, Arc<PartitionTopicInfo>>>,
    commit_lock: tokio::sync::Mutex<()>,
    /// Set by [`ZookeeperConsumerConnector::set_commit_offsets`].
    commit_source: Mutex<Option<CommitOffsetFn>>,
    subscription: Mutex<Option<Subscription>>,
    streams_created: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    topic_watches: Mutex<BTreeMap<String, JoinHandle<()>>>,
    broker_watch: Mutex<Option<JoinHandle<()>>>,
    rebalances: AtomicU64,
}

/// A member of a consumer group, coordinated through ZooKeeper as 0.8.2's
/// `ZookeeperConsumerConnector`. Cheap to clone; dropping the last handle without
/// [`shutdown`](Self::shutdown) starts a shutdown in the background.
#[derive(Clone)]
pub struct ZookeeperConsumerConnector {
    handle: Arc<Handle>,
}

/// The user's side: tasks hold `Inner`, users hold this, so the last user handle going
/// away is seen.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.inner.is_shutting_down() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let inner = self.inner.clone();
            rt.spawn(async move { inner.shutdown().await });
        } else {
            self.inner.begin_shutdown();
        }
    }
}

impl std::fmt::Debug for ZookeeperConsumerConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZookeeperConsumerConnector").field("consumer_id", &self.handle.inner.consumer_id).finish()
    }
}

impl ZookeeperConsumerConnector {
    /// Connect to ZooKeeper and start the auto-committer. Nothing is registered until
    /// streams are created.
    pub async fn create(config: ConsumerConfig) -> Result<ZookeeperConsumerConnector, ConsumerError> {
        let consumer_id = make_consumer_id(&config.group_id, config.consumer_id.as_deref());
        log::info!("[{}] connecting to zookeeper at {}", consumer_id, config.zookeeper_connect);
        let zk = ZkClient::connect(
            &config.zookeeper_connect,
            Duration::from_millis(config.zookeeper_session_timeout_ms),
            Duration::from_millis(config.zookeeper_connection_timeout_ms),
        )
        .await?;
        let (shutdown_tx, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            offsets: OffsetStore::new(&config),
            config,
            consumer_id,
            zk: RwLock::new(Some(zk)),
            shutting_down: AtomicBool::new(false),
            shutdown_tx,
            rebalance_needed: AtomicBool::new(false),
            rebalance_wake: Notify::new(),
            rebalance: tokio::sync::Mutex::new(RebalanceState::default()),
            registry: Mutex::new(BTreeMap::new()),
            commit_lock: tokio::sync::Mutex::new(()),
            commit_source: Mutex::new(None),
            subscription: Mutex::new(None),
            streams_created: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            topic_watches: Mutex::new(BTreeMap::new()),
            broker_watch: Mutex::new(None),
            rebalances: AtomicU64::new(0),
        });
        if inner.config.auto_commit_enable {
            log::info!(
                "[{}] starting auto committer every {} ms",
                inner.consumer_id,
                inner.config.auto_commit_interval_ms
            );
            let h = tokio::spawn(auto_commit(inner.clone()));
            inner.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(h);
        }
        Ok(ZookeeperConsumerConnector { handle: Arc::new(Handle { inner }) })
    }

    /// `<group>_<consumer.id>` or `<group>_<host>-<ms>-<hex8>`; thread ids append `-<n>`.
    pub fn consumer_id(&self) -> &str {
        &self.handle.inner.consumer_id
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.handle.inner.config
    }

    /// `n` streams per topic. Registers the member, watches the group and the topics, and
    /// runs the first rebalance before returning. At most once per connector.
    ///
    /// Unlike 0.8.2 (`ConsumerRebalanceFailedException`), running out of
    /// `rebalance.max.retries` here is not an error: the streams are returned and the
    /// rebalance goes on in the background until the member owns its share (KAFKA-4228).
    pub async fn create_message_streams(
        &self,
        topic_count: &BTreeMap<String, usize>,
    ) -> Result<BTreeMap<String, Vec<KafkaStream>>, ConsumerError> {
        if topic_count.is_empty() {
            return Err(ConsumerError::Subscription("no topic to consume".into()));
        }
        for (topic, n) in topic_count {
            validate_topic_name(topic).map_err(ConsumerError::Subscription)?;
            if *n == 0 || *n > MAX_STREAMS {
                return Err(ConsumerError::Subscription(format!(
                    "stream count {} for topic {} is not in 1..={}",
                    n, topic, MAX_STREAMS
                )));
            }
        }
        self.claim_stream_creation()?;
        let mut streams = BTreeMap::new();
        let mut queues = BTreeMap::new();
        for (topic, n) in topic_count {
            let (tx, rx): (Vec<_>, Vec<_>) = (0..*n).map(|_| self.new_stream()).unzip();
            queues.insert(topic.clone(), tx);
            streams.insert(topic.clone(), rx);
        }
        let sub = Subscription { topic_count: TopicCount::Static(topic_count.clone()), queues: Queues::Static(queues) };
        self.handle.inner.consume(sub).await?;
        Ok(streams)
    }

    /// `n` streams shared by every topic the filter allows, now and later (new matching
    /// topics are picked up as they are created). At most once per connector.
    pub async fn create_message_streams_by_filter(
        &self,
        filter: TopicFilter,
        n: usize,
    ) -> Result<Vec<KafkaStream>, ConsumerError> {
        if n == 0 || n > MAX_STREAMS {
            return Err(ConsumerError::Subscription(format!("stream count {} is not in 1..={}", n, MAX_STREAMS)));
        }
        self.claim_stream_creation()?;
        let (tx, rx): (Vec<_>, Vec<_>) = (0..n).map(|_| self.new_stream()).unzip();
        let sub =
            Subscription { topic_count: TopicCount::Wildcard { filter, streams: n }, queues: Queues::Wildcard(tx) };
        self.handle.inner.consume(sub).await?;
        Ok(rx)
    }

    fn claim_stream_creation(&self) -> Result<(), ConsumerError> {
        if self.handle.inner.is_shutting_down() {
            return Err(ConsumerError::ShutDown);
        }
        if self.handle.inner.streams_created.swap(true, Ordering::SeqCst) {
            return Err(ConsumerError::StreamsAlreadyCreated);
        }
        Ok(())
    }

    fn new_stream(&self) -> (ChunkSender, KafkaStream) {
        let c = &self.handle.inner.config;
        KafkaStream::new(
            c.queued_max_message_chunks,
            self.handle.inner.shutdown_tx.subscribe(),
            c.consumer_timeout(),
            &c.client_id,
        )
    }

    /// Commit the consumed offset of every owned partition.
    pub async fn commit_offsets(&self) -> Result<(), ConsumerError> {
        self.handle.inner.commit(0).await
    }

    /// Decide what every commit writes (auto-commit, the commit before a rebalance releases
    /// partitions, the commit at shutdown, [`commit_offsets`](Self::commit_offsets)):
    /// `f(partition, consumed offset)` gives the offset to commit, or `None` to leave the
    /// partition alone. For an application that hands messages on before they are done
    /// with (the mirror maker): commit only what was processed, not what was handed out,
    /// which is 0.8.2's data loss when such a consumer stops or crashes.
    pub fn set_commit_offsets(&self, f: CommitOffsetFn) {
        *self.handle.inner.commit_source.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// The partitions this member owns right now, with the owning thread id.
    pub fn owned_partitions(&self) -> BTreeMap<TopicPartition, String> {
        self.handle.inner.registry().iter().map(|(tp, pti)| (tp.clone(), pti.thread_id.clone())).collect()
    }

    /// How many rebalances completed (for monitoring and tests).
    pub fn rebalance_count(&self) -> u64 {
        self.handle.inner.rebalances.load(Ordering::SeqCst)
    }

    /// Stop fetching, commit (if `auto.commit.enable`), delete our owner and member znodes
    /// (so the group rebalances at once) and close the ZooKeeper session. Streams end.
    pub async fn shutdown(&self) {
        self.handle.inner.shutdown().await
    }
}

fn sleep_jittered(base_ms: u64) -> Duration {
    // Up to +50%: members that failed together do not retry in lock step.
    let jitter = if base_ms == 0 { 0 } else { random_u64() % (base_ms / 2 + 1) };
    Duration::from_millis(base_ms + jitter)
}

async fn arm(zk: &ZkClient, kind: &WatchKind, path: &str) -> Result<WatchFuture, ZkError> {
    match kind {
        WatchKind::Children => zk.watch_children(path).await.map(|(_, f)| f),
        WatchKind::Data => zk.watch_data(path).await.map(|(_, f)| f),
    }
}

impl Inner {
    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    fn zk(&self) -> Result<ZkClient, ConsumerError> {
        self.zk.read().unwrap_or_else(|e| e.into_inner()).clone().ok_or(ConsumerError::ShutDown)
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, BTreeMap<TopicPartition, Arc<PartitionTopicInfo>>> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn subscription(&self) -> Option<Subscription> {
        self.subscription.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn spawn(self: &Arc<Self>, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let h = tokio::spawn(fut);
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    }

    fn trigger(&self, why: &str) {
        log::debug!("[{}] rebalance needed: {}", self.consumer_id, why);
        self.rebalance_needed.store(true, Ordering::SeqCst);
        self.rebalance_wake.notify_one();
    }

    fn path(&self) -> String {
        paths::consumer_id(&self.config.group_id, &self.consumer_id)
    }

    /// Register, watch, rebalance (0.8.2 `consume` + `reinitializeConsumer`).
    async fn consume(self: &Arc<Self>, sub: Subscription) -> Result<(), ConsumerError> {
        *self.subscription.lock().unwrap_or_else(|e| e.into_inner()) = Some(sub.clone());
        let zk = self.zk()?;
        self.register(&zk, Duration::from_millis(self.config.zookeeper_session_timeout_ms * 2)).await?;

        // Watches are armed before the first rebalance reads the state they guard.
        let ids = paths::consumer_ids(&self.config.group_id);
        let first = arm(&zk, &WatchKind::Children, &ids).await?;
        self.spawn(watch_loop(
            self.clone(),
            WatchKind::Children,
            ids,
            first,
            OnChange::Rebalance("group membership changed"),
        ));
        match &sub.topic_count {
            TopicCount::Static(topics) => {
                for topic in topics.keys() {
                    self.watch_topic(&zk, topic).await?;
                }
            }
            TopicCount::Wildcard { .. } => {
                let first = arm(&zk, &WatchKind::Children, paths::BROKER_TOPICS).await?;
                self.spawn(watch_loop(
                    self.clone(),
                    WatchKind::Children,
                    paths::BROKER_TOPICS.to_string(),
                    first,
                    OnChange::WildcardTopics,
                ));
                self.refresh_wildcard_topics().await?;
            }
        }
        self.spawn(session_watcher(self.clone()));
        self.spawn(rebalance_executor(self.clone()));
        if !self.synced_rebalance(Some(self.config.rebalance_max_retries)).await && !self.is_shutting_down() {
            log::error!(
                "[{}] can't rebalance after {} retries; streams are returned and the consumer keeps retrying in the background",
                self.consumer_id,
                self.config.rebalance_max_retries
            );
        }
        Ok(())
    }

    async fn watch_topic(self: &Arc<Self>, zk: &ZkClient, topic: &str) -> Result<(), ConsumerError> {
        let path = paths::topic(topic);
        let first = arm(zk, &WatchKind::Data, &path).await?;
        let h = tokio::spawn(watch_loop(
            self.clone(),
            WatchKind::Data,
            path,
            first,
            OnChange::Rebalance("topic partitions changed"),
        ));
        if let Some(old) = self.topic_watches.lock().unwrap_or_else(|e| e.into_inner()).insert(topic.to_string(), h) {
            old.abort();
        }
        Ok(())
    }

    /// Wildcards: watch the data of every matching topic; a changed set of matching topics
    /// needs a rebalance. Returns whether the set changed.
    async fn refresh_wildcard_topics(self: &Arc<Self>) -> Result<bool, ConsumerError> {
        let Some(Subscription { topic_count: TopicCount::Wildcard { filter, .. }, .. }) = self.subscription() else {
            return Ok(false);
        };
        let zk = self.zk()?;
        let all = zk.topics().await?;
        let matching: BTreeSet<String> =
            all.into_iter().filter(|t| filter.is_topic_allowed(t, self.config.exclude_internal_topics)).collect();
        let current: BTreeSet<String> =
            self.topic_watches.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        if matching == current {
            return Ok(false);
        }
        for gone in current.difference(&matching) {
            if let Some(h) = self.topic_watches.lock().unwrap_or_else(|e| e.into_inner()).remove(gone) {
                h.abort();
            }
        }
        for new in matching.difference(&current) {
            self.watch_topic(&zk, new).await?;
        }
        log::info!("[{}] topics matching {} are now {:?}", self.consumer_id, filter.regex(), matching);
        Ok(true)
    }

    /// Create our member znode, waiting out a node left by an earlier session of ours
    /// (ZOOKEEPER-1740) for at most `wait`. A node held by the *current* session is ours
    /// (KAFKA-1387: compare the session, not the payload).
    async fn register(&self, zk: &ZkClient, wait: Duration) -> Result<(), ConsumerError> {
        let Some(sub) = self.subscription() else { return Ok(()) };
        let path = self.path();
        let data = sub.topic_count.registration(now_ms()).to_bytes();
        let deadline = Instant::now() + wait;
        loop {
            match zk.create_ephemeral_expect_conflict(&path, &data).await {
                Ok(()) => {
                    log::info!("[{}] registered consumer in {}", self.consumer_id, path);
                    return Ok(());
                }
                Err(ZkError::NodeExists) => match zk.consumer_registration_session(&self.config.group_id, &self.consumer_id).await? {
                    None => continue,
                    Some(owner) if owner == zk.session_id() => return Ok(()),
                    Some(owner) => {
                        if Instant::now() >= deadline {
                            return Err(ConsumerError::Subscription(format!(
                                "{} is held by another session (0x{:x}): is consumer.id used twice?",
                                path, owner
                            )));
                        }
                        log::info!(
                            "[{}] {} still held by session 0x{:x}; waiting",
                            self.consumer_id,
                            path,
                            owner
                        );
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                },
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Run attempts until one succeeds, `limit` attempts fail, or shutdown. Returns success.
    async fn synced_rebalance(self: &Arc<Self>, limit: Option<u32>) -> bool {
        let mut st = self.rebalance.lock().await;
        let mut shutdown = self.shutdown_tx.subscribe();
        let mut failures = 0u32;
        loop {
            if self.is_shutting_down() {
                return false;
            }
            // This attempt reads the current state: earlier triggers are covered by it.
            self.rebalance_needed.store(false, Ordering::SeqCst);
            log::info!("[{}] begin rebalancing, try #{}", self.consumer_id, failures);
            match self.rebalance_attempt(&mut st).await {
                Ok(true) => {
                    self.rebalances.fetch_add(1, Ordering::SeqCst);
                    log::info!("[{}] end rebalancing, try #{}", self.consumer_id, failures);
                    return true;
                }
                Ok(false) => log::info!("[{}] rebalancing attempt #{} failed", self.consumer_id, failures),
                Err(e) => log::warn!("[{}] exception during rebalance attempt #{}: {}", self.consumer_id, failures, e),
            }
            failures += 1;
            if let Some(limit) = limit {
                if failures >= limit {
                    // Hand over to the executor: never registered-but-idle (KAFKA-4228).
                    self.trigger("rebalance retries exhausted");
                    return false;
                }
            } else if failures == self.config.rebalance_max_retries {
                log::error!(
                    "[{}] can't rebalance after {} retries; continuing to retry in the background",
                    self.consumer_id,
                    failures
                );
            }
            let backoff = sleep_jittered(self.config.rebalance_backoff_ms);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|s| *s) => return false,
            }
        }
    }

    /// Stop fetchers, revoke every owned partition, and commit (with auto-commit) what the
    /// streams handed out.
    async fn close_generation(&self, st: &mut RebalanceState, commit: bool, retries: u32) {
        if let Some(f) = st.fetchers.take() {
            if commit && self.config.auto_commit_enable && self.is_shutting_down() {
                f.settle_start_offsets(START_OFFSET_WAIT.min(Duration::from_millis(self.config.socket_timeout_ms))).await;
            }
            f.stop().await;
        }
        let ptis: Vec<Arc<PartitionTopicInfo>> = self.registry().values().cloned().collect();
        for pti in &ptis {
            pti.revoke();
        }
        if commit && self.config.auto_commit_enable && !ptis.is_empty() {
            if let Err(e) = self.commit(retries).await {
                log::warn!("[{}] commit before releasing partitions failed: {}", self.consumer_id, e);
            }
        }
        self.registry().clear();
    }

    /// Delete every owner znode we hold (only ours: a node of an expired session may
    /// already belong to someone else).
    async fn release(&self, zk: &ZkClient, st: &mut RebalanceState) -> Result<(), ConsumerError> {
        let group = &self.config.group_id;
        let claimed: Vec<TopicPartition> = st.claimed.keys().cloned().collect();
        for tp in claimed {
            zk.delete_own_ephemeral(&paths::consumer_owner(group, &tp.topic, tp.partition)).await?;
            st.claimed.remove(&tp);
        }
        Ok(())
    }

    /// Every member's subscription, skipping members whose data is not the Java layout.
    async fn read_members(&self, zk: &ZkClient) -> Result<BTreeMap<String, TopicCount>, ConsumerError> {
        let mut out = BTreeMap::new();
        for id in zk.consumer_ids(&self.config.group_id).await? {
            let parsed = match zk.consumer_registration(&self.config.group_id, &id).await {
                Ok(None) => continue, // left between the two reads
                Ok(Some(r)) => TopicCount::from_registration(&r).map_err(|e| e.to_string()),
                Err(QueryError::Corrupt(why)) => Err(why),
                Err(e) => return Err(e.into()),
            };
            match parsed {
                Ok(tc) => {
                    out.insert(id, tc);
                }
                Err(e) => log::warn!(
                    "[{}] skipping group member {} whose registration is not the Java layout: {}",
                    self.consumer_id,
                    id,
                    e
                ),
            }
        }
        Ok(out)
    }

    async fn rebalance_attempt(self: &Arc<Self>, st: &mut RebalanceState) -> Result<bool, ConsumerError> {
        let Some(sub) = self.subscription() else {
            return Ok(true);
        };
        let zk = self.zk()?;
        // 1. Our member znode (gone after a session expiry, or never created).
        let registered = zk.consumer_registration_session(&self.config.group_id, &self.consumer_id).await? == Some(zk.session_id());
        if !registered {
            self.close_generation(st, false, 0).await;
            self.register(&zk, Duration::from_millis(self.config.zookeeper_session_timeout_ms)).await?;
        }

        // 2. No broker at all: nothing to fetch; rebalance again when one registers.
        if read_brokers(&zk).await?.is_empty() {
            log::warn!("[{}] no broker partitions consumed: no broker is registered", self.consumer_id);
            self.watch_brokers_once(&zk).await?;
            return Ok(true);
        }

        // 3-4. Stop, revoke, commit, release.
        self.close_generation(st, true, 0).await;
        self.release(&zk, st).await?;

        // 5. Read the group and assign.
        let members = self.read_members(&zk).await?;
        if !members.contains_key(&self.consumer_id) {
            log::info!("[{}] our registration is not visible yet", self.consumer_id);
            return Ok(false);
        }
        let all_topics = if members.values().any(TopicCount::is_wildcard) {
            zk.topics().await?
        } else {
            Vec::new()
        };
        let per_member: Vec<BTreeMap<String, Vec<String>>> = members
            .iter()
            .map(|(id, tc)| tc.thread_ids_per_topic(id, &all_topics, self.config.exclude_internal_topics))
            .collect();
        let mine: BTreeMap<String, Vec<String>> =
            sub.topic_count.thread_ids_per_topic(&self.consumer_id, &all_topics, self.config.exclude_internal_topics);
        let mut topics: BTreeSet<String> = per_member.iter().flat_map(|m| m.keys().cloned()).collect();
        topics.extend(mine.keys().cloned());
        let mut partitions_for_topic = BTreeMap::new();
        for topic in &topics {
            match zk.topic_assignment(topic).await {
                Ok(Some(a)) => {
                    partitions_for_topic.insert(topic.clone(), a.keys().copied().collect::<Vec<i32>>());
                }
                Ok(None) => {}
                Err(QueryError::Corrupt(why)) => {
                    log::warn!("[{}] topic {} has an unreadable assignment: {}", self.consumer_id, topic, why)
                }
                Err(QueryError::Zk(e)) => return Err(e.into()),
            }
        }
        let ctx = AssignmentContext::new(per_member, partitions_for_topic);
        let decision = match assign(self.config.partition_assignment_strategy, &ctx) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("[{}] {}", self.consumer_id, e);
                return Ok(false);
            }
        };
        let my_threads: HashSet<(&str, &str)> =
            mine.iter().flat_map(|(t, ids)| ids.iter().map(move |id| (t.as_str(), id.as_str()))).collect();
        let own: BTreeMap<TopicPartition, String> = decision
            .into_iter()
            .filter(|(tp, thread)| my_threads.contains(&(tp.topic.as_str(), thread.as_str())))
            .collect();

        // 6. Claim.
        for (tp, thread) in &own {
            if self.is_shutting_down() {
                self.release(&zk, st).await?;
                return Ok(false);
            }
            let path = paths::consumer_owner(&self.config.group_id, &tp.topic, tp.partition);
            match zk.create_ephemeral_expect_conflict(&path, thread.as_bytes()).await {
                Ok(()) => {
                    st.claimed.insert(tp.clone(), thread.clone());
                }
                Err(ZkError::NodeExists) => {
                    log::info!("[{}] waiting for the partition ownership of {} to be deleted", self.consumer_id, tp);
                    self.release(&zk, st).await?;
                    return Ok(false);
                }
                Err(e) => {
                    // The node may exist anyway (a lost reply): remember it for release.
                    st.claimed.insert(tp.clone(), thread.clone());
                    self.release(&zk, st).await?;
                    return Err(e.into());
                }
            }
        }

        // 7. Offsets, read after claiming so the previous owner's final commit is seen.
        let tps: Vec<TopicPartition> = own.keys().cloned().collect();
        let offsets = match self.offsets.fetch(&zk, &tps).await {
            Ok(o) => o,
            Err(e) => {
                self.release(&zk, st).await?;
                return Err(e);
            }
        };
        if self.is_shutting_down() {
            self.release(&zk, st).await?;
            return Ok(false);
        }

        // 8. Install the generation and fetch.
        let mut fetch = Vec::with_capacity(own.len());
        let mut registry = BTreeMap::new();
        for (tp, thread) in &own {
            let n: usize = thread
                .strip_prefix(&self.consumer_id)
                .and_then(|s| s.strip_prefix('-'))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ConsumerError::Subscription(format!("{} is not one of our thread ids", thread)))?;
            let queue = sub.queues.queue_for(&tp.topic, n).ok_or_else(|| {
                ConsumerError::Subscription(format!("no stream for thread {} of topic {}", thread, tp.topic))
            })?;
            let offset = offsets.get(tp).copied().unwrap_or(super::NO_OFFSET);
            let pti = Arc::new(PartitionTopicInfo::new(tp.clone(), thread.clone(), offset));
            registry.insert(tp.clone(), pti.clone());
            fetch.push((pti, queue));
        }
        log::info!(
            "[{}] owns {:?}",
            self.consumer_id,
            own.iter().map(|(tp, th)| format!("{}->{}", tp, th)).collect::<Vec<_>>()
        );
        *self.registry() = registry;
        st.fetchers = Some(FetcherManager::start(zk, FetchConfig::from_config(&self.config), fetch));
        Ok(true)
    }

    /// With no broker registered, 0.8.2 watches `/brokers/ids` until one appears.
    async fn watch_brokers_once(self: &Arc<Self>, zk: &ZkClient) -> Result<(), ConsumerError> {
        let running =
            self.broker_watch.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|h| !h.is_finished());
        if running {
            return Ok(());
        }
        let fut = arm(zk, &WatchKind::Children, paths::BROKER_IDS).await?;
        let inner = self.clone();
        let h = tokio::spawn(async move {
            let mut shutdown = inner.shutdown_tx.subscribe();
            tokio::select! {
                _ = fut => inner.trigger("brokers changed"),
                _ = shutdown.wait_for(|s| *s) => {}
            }
        });
        *self.broker_watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(h);
        Ok(())
    }

    /// Commit the consumed offsets of the current generation.
    async fn commit(&self, retries: u32) -> Result<(), ConsumerError> {
        let _serial = self.commit_lock.lock().await;
        let source = self.commit_source.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let offsets: Vec<(TopicPartition, i64)> = self
            .registry()
            .iter()
            .filter_map(|(tp, pti)| {
                let consumed = pti.consumed_offset();
                match &source {
                    Some(f) => f(tp, consumed).map(|o| (tp.clone(), o)),
                    None => Some((tp.clone(), consumed)),
                }
            })
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        let zk = self.zk()?;
        self.offsets.commit(&zk, &offsets, retries).await
    }

    /// Synchronous part of shutdown: flags and wake-ups only.
    fn begin_shutdown(&self) -> bool {
        if self.shutting_down.swap(true, Ordering::SeqCst) {
            return false;
        }
        let _ = self.shutdown_tx.send(true);
        self.rebalance_wake.notify_one();
        true
    }

    async fn shutdown(self: &Arc<Self>) {
        if !self.begin_shutdown() {
            return;
        }
        log::info!("[{}] ZKConsumerConnector shutting down", self.consumer_id);
        // Tasks end at their next await on the shutdown signal; a ZooKeeper call in flight
        // completes first, so no claim is left half done.
        let tasks: Vec<JoinHandle<()>> = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
        let mut more: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.topic_watches.lock().unwrap_or_else(|e| e.into_inner())).into_values().collect();
        more.extend(self.broker_watch.lock().unwrap_or_else(|e| e.into_inner()).take());
        for h in tasks.into_iter().chain(more) {
            let abort = h.abort_handle();
            if tokio::time::timeout(TASK_STOP_WAIT, h).await.is_err() {
                abort.abort();
            }
        }
        let mut st = self.rebalance.lock().await;
        self.close_generation(&mut st, true, self.config.offsets_commit_max_retries).await;
        if let Ok(zk) = self.zk() {
            if let Err(e) = self.release(&zk, &mut st).await {
                log::warn!("[{}] cannot release partition ownership: {}", self.consumer_id, e);
            }
            if let Err(e) = zk.delete_own_ephemeral(&self.path()).await {
                log::warn!("[{}] cannot delete {}: {}", self.consumer_id, self.path(), e);
            }
        }
        drop(st);
        // The session closes when its last handle goes.
        self.zk.write().unwrap_or_else(|e| e.into_inner()).take();
        log::info!("[{}] ZKConsumerConnector shut down completed", self.consumer_id);
    }

    async fn on_new_session(self: &Arc<Self>) {
        log::info!("[{}] ZK expired; release old broker partition ownership; re-register consumer", self.consumer_id);
        // Our owner znodes died with the old session: stop handing out their messages now
        // (nothing to commit: another member may already own them).
        for pti in self.registry().values() {
            pti.revoke();
        }
        self.registry().clear();
        if let Ok(zk) = self.zk() {
            if let Err(e) = self.register(&zk, Duration::from_millis(self.config.zookeeper_session_timeout_ms)).await {
                log::warn!("[{}] re-registration failed (the rebalance retries it): {}", self.consumer_id, e);
            }
        }
        self.trigger("new zookeeper session");
    }
}

/// Named (boxed) future type: the wildcard watch loop starts topic watch loops, and an
/// opaque recursive future type could not be proven `Send`.
type LoopFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn watch_loop(
    inner: Arc<Inner>,
    kind: WatchKind,
    path: String,
    mut fut: WatchFuture,
    on_change: OnChange,
) -> LoopFuture {
    Box::pin(async move {
        let mut shutdown = inner.shutdown_tx.subscribe();
        loop {
            tokio::select! {
                _ = &mut fut => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            if inner.is_shutting_down() {
                return;
            }
            let mut failed = false;
            loop {
                let Ok(zk) = inner.zk() else { return };
                match arm(&zk, &kind, &path).await {
                    Ok(f) => {
                        fut = f;
                        break;
                    }
                    Err(e) => {
                        if !failed {
                            log::warn!("[{}] cannot watch {}: {}; retrying", inner.consumer_id, path, e);
                        }
                        failed = true;
                        tokio::select! {
                            _ = tokio::time::sleep(WATCH_RETRY) => {}
                            _ = shutdown.wait_for(|s| *s) => return,
                        }
                    }
                }
            }
            match on_change {
                OnChange::Rebalance(why) => inner.trigger(why),
                OnChange::WildcardTopics => match inner.refresh_wildcard_topics().await {
                    Ok(false) => {}
                    Ok(true) => inner.trigger("matching topics changed"),
                    Err(e) => {
                        log::warn!("[{}] cannot refresh the topic list: {}", inner.consumer_id, e);
                        inner.trigger("topic list unreadable");
                    }
                },
            }
        }
    })
}

async fn session_watcher(inner: Arc<Inner>) {
    let Ok(zk) = inner.zk() else { return };
    let mut generation = zk.session_generation();
    drop(zk);
    let mut shutdown = inner.shutdown_tx.subscribe();
    loop {
        tokio::select! {
            r = generation.changed() => if r.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if inner.is_shutting_down() {
            return;
        }
        inner.on_new_session().await;
    }
}

async fn rebalance_executor(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown_tx.subscribe();
    loop {
        tokio::select! {
            _ = inner.rebalance_wake.notified() => {}
            _ = tokio::time::sleep(EXECUTOR_TICK) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if inner.is_shutting_down() {
            return;
        }
        if inner.rebalance_needed.load(Ordering::SeqCst) {
            inner.synced_rebalance(None).await;
        }
    }
}

async fn auto_commit(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown_tx.subscribe();
    let interval = Duration::from_millis(inner.config.auto_commit_interval_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = inner.commit(0).await {
            log::error!("[{}] exception during autoCommit: {}", inner.consumer_id, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_the_backoff() {
        for _ in 0..100 {
            let d = sleep_jittered(2000).as_millis();
            assert!((2000..=3000).contains(&d), "{}", d);
        }
        assert_eq!(sleep_jittered(0), Duration::ZERO);
    }
}
