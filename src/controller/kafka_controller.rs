//! The controller as one event loop (0.8.2 `KafkaController` + `ZookeeperLeaderElector` +
//! the partition and replica state machines, without their shared lock).
//!
//! One task owns all controller state and takes [`Event`]s from one queue. ZooKeeper
//! watches only turn into events: a handler re-reads (and re-arms) what it watches, so a
//! watch firing twice, late, or for a session change is harmless. Handlers that change
//! partition states (or take a topic deletion a step further) build a
//! [`PartitionStateChange`] and run it: the decision core decides the state writes (fenced
//! by the controller epoch, [`crate::zk::state`]) and the requests to brokers, and
//! [`change::run`] performs them through the ZooKeeper store and the per-broker channels.

use super::change::{self, replicated_partitions_on, ChangeKind, PartitionStateChange};
use super::channel::ControllerChannelManager;
use super::store::{ControllerStore, ZkStore};
use super::context::{broker_changes, ControllerContext, LeaderIsrAndControllerEpoch, RequestBatch};
use super::selector::{preferred_election_moves, rebalance_moves};
use crate::zk::state::{
    increment_controller_epoch, EpochFence, FenceError, StateRead,
};
use crate::common::{Clock, ErrorCode, SystemClock, TopicPartition};
use crate::server::KafkaConfig;
use crate::zk::json::ControllerRegistration;
use crate::zk::utils::ControllerNode;
use crate::zk::{paths, QueryError, WatchFuture, ZkClient, ZkError};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

// A child module, so that its `impl EventLoop` reaches the loop's private state.
#[path = "reassignment.rs"]
pub(super) mod reassignment;
#[path = "deletion.rs"]
pub(super) mod deletion;

/// 0.8.2 `controller.message.queue.size` defaulted to Int.MaxValue; a bound that no
/// healthy broker reaches still turns a runaway queue into an error instead of memory.
pub const DEFAULT_MESSAGE_QUEUE_SIZE: usize = 100_000;

/// Events waiting for the loop (watch firings, timers, retries). Watch events of one kind
/// coalesce (a handler re-reads everything it watches), so the queue stays short; a full
/// queue makes the senders wait rather than grow memory.
const EVENT_QUEUE_SIZE: usize = 1024;

/// Longest [`ControllerHandle::shutdown`] waits for the event loop.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a stopping controller waits for its channels to deliver what it decided.
const CHANNEL_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The controller's settings (0.8.2 keys).
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `controller.socket.timeout.ms` (30000): connect and request timeout to brokers.
    pub socket_timeout: Duration,
    /// `controller.message.queue.size`: requests queued per broker.
    pub message_queue_size: usize,
    /// `unclean.leader.election.enable` (true); `/config/topics/<t>` may override it.
    pub unclean_leader_election_enable: bool,
    /// `host.name` and `port` of this broker: 0.8.2 named the controller's client id after
    /// them, `id_<broker.id>-host_<host.name>-port_<port>` (an unset host.name reads "null").
    pub host_name: Option<String>,
    pub port: i32,
    /// Pause after a ZooKeeper error before retrying a handler, and after a failed failover
    /// before standing for election again.
    pub retry_backoff: Duration,
    /// `auto.leader.rebalance.enable` (0.8.2 default true).
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.per.broker.percentage` (10).
    pub leader_imbalance_per_broker_percentage: i32,
    /// `leader.imbalance.check.interval.seconds` (300).
    pub leader_imbalance_check_interval: Duration,
    /// `delete.topic.enable` (false): act on `/admin/delete_topics`.
    pub delete_topic_enable: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            socket_timeout: Duration::from_millis(30_000),
            message_queue_size: DEFAULT_MESSAGE_QUEUE_SIZE,
            unclean_leader_election_enable: true,
            host_name: None,
            port: 9092,
            retry_backoff: Duration::from_millis(1000),
            auto_leader_rebalance_enable: true,
            leader_imbalance_per_broker_percentage: 10,
            leader_imbalance_check_interval: Duration::from_secs(300),
            delete_topic_enable: false,
        }
    }
}

impl ControllerConfig {
    /// The controller keys of a broker's `server.properties`.
    pub fn from_kafka_config(config: &KafkaConfig) -> ControllerConfig {
        ControllerConfig {
            socket_timeout: Duration::from_millis(config.controller_socket_timeout_ms.max(0) as u64),
            message_queue_size: config.controller_message_queue_size.max(1) as usize,
            unclean_leader_election_enable: config.unclean_leader_election_enable,
            host_name: config.host_name.clone(),
            port: config.port as i32,
            auto_leader_rebalance_enable: config.auto_leader_rebalance_enable,
            leader_imbalance_per_broker_percentage: config.leader_imbalance_per_broker_percentage,
            leader_imbalance_check_interval: Duration::from_secs(config.leader_imbalance_check_interval_seconds.max(1) as u64),
            delete_topic_enable: config.delete_topic_enable,
            ..ControllerConfig::default()
        }
    }

    /// The client id of the controller's requests (0.8.2 `KafkaController.clientId`).
    pub fn client_id(&self, broker_id: i32) -> String {
        format!("id_{}-host_{}-port_{}", broker_id, self.host_name.as_deref().unwrap_or("null"), self.port)
    }
}

/// Why a controlled shutdown was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlledShutdownError {
    /// This broker is not the controller (0.8.2 `ControllerMovedException`).
    NotController,
    /// The broker is not registered (0.8.2 `BrokerNotAvailableException`).
    BrokerNotAvailable(i32),
    /// A ZooKeeper error interrupted it; the broker asks again.
    Failed(String),
    /// The controller has stopped.
    Stopped,
}

impl ControlledShutdownError {
    /// The code for the ControlledShutdown response, as 0.8.2's `ErrorMapping.codeFor`:
    /// BrokerNotAvailable (8); the other exceptions were unknown to it, so Unknown (-1).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ControlledShutdownError::BrokerNotAvailable(_) => ErrorCode::BrokerNotAvailable,
            _ => ErrorCode::Unknown,
        }
    }
}

impl fmt::Display for ControlledShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlledShutdownError::NotController => f.write_str("this broker is not the controller"),
            ControlledShutdownError::BrokerNotAvailable(id) => write!(f, "broker id {} does not exist", id),
            ControlledShutdownError::Failed(why) => write!(f, "controlled shutdown failed: {}", why),
            ControlledShutdownError::Stopped => f.write_str("the controller has stopped"),
        }
    }
}

impl std::error::Error for ControlledShutdownError {}

type ShutdownReply = oneshot::Sender<Result<Vec<TopicPartition>, ControlledShutdownError>>;

enum Event {
    /// `/controller` may have changed (also the first election).
    ControllerChange,
    /// A new ZooKeeper session replaced an expired one.
    SessionRenewed,
    BrokerChange,
    TopicChange,
    PartitionModification(String),
    /// `/admin/preferred_replica_election` may have been written.
    PreferredReplicaElection,
    /// Time for the automatic leader rebalance check.
    RebalanceCheck,
    /// Leaders announced ISR changes under `/isr_change_notification`.
    IsrChangeNotification,
    /// `/admin/reassign_partitions` may have changed.
    ReassignPartitions,
    /// Re-check the partitions being reassigned.
    ReassignmentPoll,
    /// `/admin/delete_topics` may have changed.
    TopicDeletion,
    /// Re-check the topics being deleted.
    TopicDeletionPoll,
    ControlledShutdown {
        broker_id: i32,
        reply: ShutdownReply,
    },
    Shutdown(Option<oneshot::Sender<()>>),
}

impl Event {
    /// The same event, to run again after a ZooKeeper error.
    fn retry(&self) -> Option<Event> {
        Some(match self {
            Event::ControllerChange | Event::SessionRenewed => Event::ControllerChange,
            Event::BrokerChange => Event::BrokerChange,
            Event::TopicChange => Event::TopicChange,
            Event::PartitionModification(t) => Event::PartitionModification(t.clone()),
            Event::PreferredReplicaElection => Event::PreferredReplicaElection,
            Event::IsrChangeNotification => Event::IsrChangeNotification,
            Event::RebalanceCheck => return None, // the next tick comes anyway
            Event::ReassignPartitions | Event::ReassignmentPoll => Event::ReassignPartitions,
            Event::TopicDeletion | Event::TopicDeletionPoll => Event::TopicDeletion,
            Event::ControlledShutdown { .. } | Event::Shutdown(_) => return None,
        })
    }

    /// The watch this event comes from, for coalescing.
    fn watch_key(&self) -> Option<WatchKey> {
        Some(match self {
            Event::ControllerChange => WatchKey::Controller,
            Event::BrokerChange => WatchKey::BrokerIds,
            Event::TopicChange => WatchKey::Topics,
            Event::PartitionModification(t) => WatchKey::Topic(t.clone()),
            Event::PreferredReplicaElection => WatchKey::PreferredElection,
            Event::IsrChangeNotification => WatchKey::IsrChanges,
            Event::ReassignPartitions => WatchKey::ReassignPartitions,
            Event::TopicDeletion => WatchKey::DeleteTopics,
            _ => return None,
        })
    }

    fn name(&self) -> String {
        match self {
            Event::ControllerChange => "controller change".into(),
            Event::SessionRenewed => "session renewal".into(),
            Event::BrokerChange => "broker change".into(),
            Event::TopicChange => "topic change".into(),
            Event::PartitionModification(t) => format!("partition modification of {}", t),
            Event::PreferredReplicaElection => "preferred replica election".into(),
            Event::RebalanceCheck => "leader imbalance check".into(),
            Event::IsrChangeNotification => "isr change notification".into(),
            Event::ReassignPartitions | Event::ReassignmentPoll => "partition reassignment".into(),
            Event::TopicDeletion | Event::TopicDeletionPoll => "topic deletion".into(),
            Event::ControlledShutdown { broker_id, .. } => format!("controlled shutdown of broker {}", broker_id),
            Event::Shutdown(_) => "shutdown".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum WatchKey {
    Controller,
    BrokerIds,
    Topics,
    Topic(String),
    PreferredElection,
    IsrChanges,
    ReassignPartitions,
    DeleteTopics,
}

#[derive(Debug)]
enum ControllerError {
    Zk(ZkError),
    /// Another controller took over (epoch fence, or a state written by a newer epoch).
    Moved(String),
}

impl fmt::Display for ControllerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControllerError::Zk(e) => write!(f, "zookeeper: {}", e),
            ControllerError::Moved(why) => write!(f, "controller moved: {}", why),
        }
    }
}

/// What the event loop does after a handler failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorAction {
    /// Another controller took over: resign, delete our `/controller`, stand again later.
    Resign,
    /// The session expired (mid-batch or not): resign at once, nothing of the failed
    /// handler is believed; the new session's election follows.
    ResignUntilNewSession,
    /// A transient ZooKeeper error: run the event again after the back-off.
    Retry,
}

fn error_action(e: &ControllerError) -> ErrorAction {
    match e {
        ControllerError::Moved(_) => ErrorAction::Resign,
        ControllerError::Zk(ZkError::SessionExpired) => ErrorAction::ResignUntilNewSession,
        ControllerError::Zk(_) => ErrorAction::Retry,
    }
}

/// Only for reads that cannot meet an unreadable node (children, existence): handlers
/// that read documents decide themselves what an unreadable one means.
impl From<QueryError> for ControllerError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Zk(e) => ControllerError::Zk(e),
            QueryError::Corrupt(why) => ControllerError::Zk(ZkError::Other(why)),
        }
    }
}

impl From<ZkError> for ControllerError {
    fn from(e: ZkError) -> Self {
        ControllerError::Zk(e)
    }
}

impl From<FenceError> for ControllerError {
    fn from(e: FenceError) -> Self {
        match e {
            FenceError::Fenced => ControllerError::Moved("the controller epoch changed under our writes".into()),
            FenceError::Zk(e) => ControllerError::Zk(e),
        }
    }
}

struct Shared {
    active: AtomicBool,
    epoch: AtomicI32,
    controller_id: AtomicI32,
    stats: ControllerStats,
}

/// 0.8.2's `KafkaController` gauges and `ControllerStats`, as the metrics endpoint reads
/// them. The gauges are refreshed after every event while this broker is the controller
/// and are 0 otherwise (0.8.2's gauges answered 0 on a broker that was not).
#[derive(Debug, Default)]
pub struct ControllerStats {
    /// `OfflinePartitionsCount`: partitions without a live leader.
    pub offline_partitions: AtomicI64,
    /// `PreferredReplicaImbalanceCount`: partitions whose leader is not the first assigned replica.
    pub preferred_replica_imbalance: AtomicI64,
    /// `UncleanLeaderElectionsPerSec`, as a count.
    pub unclean_leader_elections: AtomicU64,
    /// `LeaderElectionRateAndTimeMs`: each round of leader election for a set of partitions.
    pub leader_election: crate::metrics::Timer,
}

/// The broker's side of the controller: election, and the controller itself while elected.
pub struct KafkaController;

impl KafkaController {
    /// Start taking part in controller election (every broker, before it registers itself,
    /// docs/zookeeper-layout.md, controller election). Must be called inside a tokio runtime.
    pub fn start(zk: ZkClient, broker_id: i32, config: ControllerConfig) -> ControllerHandle {
        let shared = Arc::new(Shared {
            active: AtomicBool::new(false),
            epoch: AtomicI32::new(0),
            controller_id: AtomicI32::new(-1),
            stats: ControllerStats::default(),
        });
        let (tx, rx) = mpsc::channel(EVENT_QUEUE_SIZE);
        // The broker's own requests (controlled shutdown, stop) never wait for room.
        let (control, control_rx) = mpsc::unbounded_channel();
        let event_loop = EventLoop {
            channels_client_id: config.client_id(broker_id),
            store: ZkStore::new(zk.clone()),
            zk,
            broker_id,
            config,
            shared: shared.clone(),
            events: tx,
            queued_watches: Arc::default(),
            own_events: VecDeque::new(),
            watches: HashMap::new(),
            background: Vec::new(),
            active: None,
            backoff_until: None,
            reassignments: Default::default(),
            deletions: Default::default(),
        };
        let task = tokio::spawn(event_loop.run(rx, control_rx));
        ControllerHandle { broker_id, shared, events: control, task: Mutex::new(Some(task)) }
    }
}

/// What the rest of the broker sees of the controller.
pub struct ControllerHandle {
    broker_id: i32,
    shared: Arc<Shared>,
    /// The loop's control queue (unbounded: only the broker's own requests).
    events: mpsc::UnboundedSender<Event>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for ControllerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllerHandle")
            .field("broker_id", &self.broker_id)
            .field("active", &self.is_active())
            .field("epoch", &self.epoch())
            .field("controller_id", &self.controller_id())
            .finish()
    }
}

impl ControllerHandle {
    pub fn broker_id(&self) -> i32 {
        self.broker_id
    }

    /// Whether this broker is the controller (its failover has completed).
    pub fn is_active(&self) -> bool {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// The controller epoch while active; 0 otherwise (0.8.2 reset it on resignation).
    pub fn epoch(&self) -> i32 {
        self.shared.epoch.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> &ControllerStats {
        &self.shared.stats
    }

    /// The controller's broker id as last read from `/controller`, -1 if there is none.
    pub fn controller_id(&self) -> i32 {
        self.shared.controller_id.load(Ordering::SeqCst)
    }

    /// Move leadership away from `broker_id` before it stops, and take it out of the ISRs
    /// (docs/zookeeper-layout.md, controlled shutdown): the replicated partitions it still leads.
    pub async fn controlled_shutdown(&self, broker_id: i32) -> Result<Vec<TopicPartition>, ControlledShutdownError> {
        let (reply, rx) = oneshot::channel();
        self.events
            .send(Event::ControlledShutdown { broker_id, reply })
            .map_err(|_| ControlledShutdownError::Stopped)?;
        rx.await.map_err(|_| ControlledShutdownError::Stopped)?
    }

    /// Resign (if elected) and stop: watches are dropped, channels to brokers closed, and
    /// our own `/controller` node deleted so another broker takes over without waiting for
    /// our session to end. Other brokers' nodes are never touched. Idempotent.
    ///
    /// Waits for the event in progress to finish, at most [`SHUTDOWN_TIMEOUT`]; then the
    /// loop is stopped where it is (a broker shutting down must not hang on ZooKeeper).
    pub async fn shutdown(&self) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut task) = task else { return };
        let (reply, rx) = oneshot::channel();
        let sent = self.events.send(Event::Shutdown(Some(reply))).is_ok();
        if sent && tokio::time::timeout(SHUTDOWN_TIMEOUT, rx).await.is_err() {
            log::warn!(
                "controller of broker {} did not stop within {:?}; aborting it",
                self.broker_id,
                SHUTDOWN_TIMEOUT
            );
            task.abort();
        }
        let _ = (&mut task).await;
        self.shared.active.store(false, Ordering::SeqCst);
    }
}

impl Drop for ControllerHandle {
    fn drop(&mut self) {
        // Without a shutdown() the loop still stops (and cleans up) on its own.
        let _ = self.events.send(Event::Shutdown(None));
    }
}

/// A watch's "event queued" mark, removed if the event never made it into the queue.
struct QueuedMark {
    queued: Arc<Mutex<HashSet<WatchKey>>>,
    key: Option<WatchKey>,
}

impl Drop for QueuedMark {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queued.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        }
    }
}

/// Controller state that exists only while this broker is the controller.
struct Active {
    ctx: ControllerContext,
    fence: EpochFence,
    channels: ControllerChannelManager,
    /// Sends [`Event::RebalanceCheck`] every `leader.imbalance.check.interval.seconds`.
    rebalance_timer: Option<JoinHandle<()>>,
}

struct EventLoop {
    zk: ZkClient,
    /// What partition state changes read and write (the same session as `zk`).
    store: ZkStore,
    broker_id: i32,
    config: ControllerConfig,
    channels_client_id: String,
    shared: Arc<Shared>,
    events: mpsc::Sender<Event>,
    /// Watches whose event is in the queue: a watch firing again meanwhile adds nothing.
    queued_watches: Arc<Mutex<HashSet<WatchKey>>>,
    /// Events a handler queues for the loop itself (never waits on the bounded queue).
    own_events: VecDeque<Event>,
    /// One forwarding task per armed watch; re-arming replaces (aborts) the previous one.
    watches: HashMap<WatchKey, JoinHandle<()>>,
    /// The session listener and scheduled retries.
    background: Vec<JoinHandle<()>>,
    active: Option<Active>,
    /// No election before this instant (after a failed failover).
    backoff_until: Option<Instant>,
    reassignments: reassignment::Reassignments,
    deletions: deletion::Deletions,
}

impl EventLoop {
    async fn run(mut self, mut rx: mpsc::Receiver<Event>, mut control: mpsc::UnboundedReceiver<Event>) {
        let mut generations = self.zk.session_generation();
        let tx = self.events.clone();
        self.background.push(tokio::spawn(async move {
            while generations.changed().await.is_ok() {
                if tx.send(Event::SessionRenewed).await.is_err() {
                    return;
                }
            }
        }));
        self.dispatch(Event::ControllerChange).await;
        loop {
            let event = match self.own_events.pop_front() {
                Some(event) => event,
                None => tokio::select! {
                    biased;
                    Some(event) = control.recv() => event,
                    Some(event) = rx.recv() => event,
                    else => return,
                },
            };
            if let Event::Shutdown(reply) = event {
                self.shutdown().await;
                if let Some(reply) = reply {
                    let _ = reply.send(());
                }
                return;
            }
            self.dispatch(event).await;
        }
    }

    async fn dispatch(&mut self, event: Event) {
        if let Some(key) = event.watch_key() {
            // From here on the handler re-reads: a new firing must queue a new event.
            self.queued_watches.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        }
        let retry = event.retry();
        let name = event.name();
        let result = match event {
            Event::ControllerChange => self.on_controller_change().await,
            Event::SessionRenewed => {
                // Resign unconditionally, then elect with the new session.
                self.resign("the zookeeper session was renewed");
                self.on_controller_change().await
            }
            Event::BrokerChange => self.on_broker_change().await,
            Event::TopicChange => self.on_topic_change().await,
            Event::PartitionModification(topic) => self.on_partition_modification(&topic).await,
            Event::PreferredReplicaElection => self.on_preferred_replica_election().await,
            Event::RebalanceCheck => self.on_rebalance_check().await,
            Event::IsrChangeNotification => self.on_isr_change_notification().await,
            Event::ReassignPartitions => self.on_partition_reassignment(false).await,
            Event::ReassignmentPoll => self.on_partition_reassignment(true).await,
            Event::TopicDeletion => self.on_topic_deletion(false).await,
            Event::TopicDeletionPoll => self.on_topic_deletion(true).await,
            Event::ControlledShutdown { broker_id, reply } => self.on_controlled_shutdown(broker_id, reply).await,
            Event::Shutdown(_) => Ok(()),
        };
        self.refresh_gauges();
        let Err(e) = result else { return };
        match error_action(&e) {
            ErrorAction::Resign => {
                log::warn!("broker {} is no longer the controller: {}", self.broker_id, e);
                self.resign(&e.to_string());
                self.backoff_until = Some(Instant::now() + self.config.retry_backoff);
                // Let the election run again (ourselves included, after the back-off).
                if let Err(e) = self.zk.delete_own_ephemeral(paths::CONTROLLER).await {
                    log::warn!("cannot delete our {}: {}", paths::CONTROLLER, e);
                    self.schedule(Event::ControllerChange, self.config.retry_backoff);
                }
            }
            ErrorAction::ResignUntilNewSession => {
                // What the failed handler decided is not believed: resign now (the
                // session's /controller is gone anyway); the session renewal re-runs the
                // election.
                log::warn!("zookeeper session expired while handling {}", name);
                self.resign("the zookeeper session expired");
            }
            ErrorAction::Retry => {
                log::warn!("error while handling {}: {}; retrying in {:?}", name, e, self.config.retry_backoff);
                if let Some(event) = retry {
                    self.schedule(event, self.config.retry_backoff);
                }
            }
        }
    }

    fn refresh_gauges(&self) {
        let (offline, imbalance) = match &self.active {
            Some(a) => {
                let imbalance = a
                    .ctx
                    .leadership
                    .iter()
                    .filter(|(tp, l)| a.ctx.replicas(tp).and_then(|r| r.first()).is_some_and(|preferred| *preferred != l.leader))
                    .count();
                (a.ctx.offline_partitions().len() as i64, imbalance as i64)
            }
            None => (0, 0),
        };
        self.shared.stats.offline_partitions.store(offline, Ordering::Relaxed);
        self.shared.stats.preferred_replica_imbalance.store(imbalance, Ordering::Relaxed);
    }

    fn schedule(&mut self, event: Event, after: Duration) {
        self.background.retain(|h| !h.is_finished());
        let tx = self.events.clone();
        self.background.push(tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(event).await;
        }));
    }

    /// Turn a watch into an event when it fires, unless an event of the same watch is
    /// already queued.
    fn arm(&mut self, key: WatchKey, fired: WatchFuture, event: Event) {
        let tx = self.events.clone();
        let queued = self.queued_watches.clone();
        let k = key.clone();
        let task = tokio::spawn(async move {
            fired.await;
            if !queued.lock().unwrap_or_else(|e| e.into_inner()).insert(k.clone()) {
                return;
            }
            // Aborted while waiting for room (re-armed, resigned): the mark goes too, or
            // this watch would never queue an event again.
            let mut mark = QueuedMark { queued, key: Some(k) };
            if tx.send(event).await.is_ok() {
                mark.key = None;
            }
        });
        if let Some(old) = self.watches.insert(key, task) {
            old.abort();
        }
    }

    fn disarm(&mut self, key: &WatchKey) {
        if let Some(old) = self.watches.remove(key) {
            old.abort();
        }
    }

    /// After a failed failover, wait before standing again (and come back by ourselves).
    fn backing_off(&mut self) -> bool {
        match self.backoff_until {
            Some(until) if Instant::now() < until => {
                let wait = until - Instant::now();
                self.schedule(Event::ControllerChange, wait);
                true
            }
            _ => {
                self.backoff_until = None;
                false
            }
        }
    }

    // ---- election (docs/zookeeper-layout.md, controller election) ----

    async fn on_controller_change(&mut self) -> Result<(), ControllerError> {
        let (read, fired) = self.zk.watch_controller().await?;
        self.arm(WatchKey::Controller, fired, Event::ControllerChange);
        // An unreadable node is somebody else's: no broker id matches -1.
        let read = read.unwrap_or_else(|_| Some(ControllerNode { broker_id: -1, session: 0 }));
        match read {
            Some(node) => {
                let id = node.broker_id;
                self.shared.controller_id.store(id, Ordering::SeqCst);
                let ours = id == self.broker_id && node.session == self.zk.session_id();
                if ours && self.active.is_none() {
                    // Our node without a completed failover: created by a retried request,
                    // or a failover that failed before we could delete it.
                    if self.backing_off() {
                        return Ok(());
                    }
                    return self.become_controller().await;
                }
                if !ours && self.active.is_some() {
                    self.resign(&format!("broker {} is the controller now", id));
                }
                Ok(())
            }
            None => {
                self.shared.controller_id.store(-1, Ordering::SeqCst);
                if self.active.is_some() {
                    self.resign(&format!("{} was deleted", paths::CONTROLLER));
                }
                if self.backing_off() {
                    return Ok(());
                }
                self.elect().await
            }
        }
    }

    async fn elect(&mut self) -> Result<(), ControllerError> {
        let data = ControllerRegistration::new(self.broker_id, SystemClock.now_ms()).to_bytes();
        match self.zk.create_ephemeral_expect_conflict(paths::CONTROLLER, &data).await {
            Ok(()) => {
                self.shared.controller_id.store(self.broker_id, Ordering::SeqCst);
                log::info!("broker {} won the controller election", self.broker_id);
                self.become_controller().await
            }
            Err(ZkError::NodeExists) => {
                // Someone else won (or our own node of an older session is not gone yet,
                // ZOOKEEPER-1740): the armed watch fires when it goes away.
                match self.zk.controller_id().await {
                    Ok(Some(id)) => self.shared.controller_id.store(id, Ordering::SeqCst),
                    Ok(None) => {}
                    Err(QueryError::Corrupt(_)) => self.shared.controller_id.store(-1, Ordering::SeqCst),
                    Err(QueryError::Zk(e)) => return Err(e.into()),
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn become_controller(&mut self) -> Result<(), ControllerError> {
        match self.failover().await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Resign and let another broker try.
                log::error!("controller failover of broker {} failed: {}; resigning", self.broker_id, e);
                self.resign("failover failed");
                self.backoff_until = Some(Instant::now() + self.config.retry_backoff);
                if let ControllerError::Zk(ZkError::SessionExpired) = e {
                    return Ok(()); // the session renewal re-runs the election
                }
                self.zk.delete_own_ephemeral(paths::CONTROLLER).await?;
                Ok(())
            }
        }
    }

    /// Resignation: forget everything of the controller role; ZooKeeper data is not touched.
    fn resign(&mut self, why: &str) {
        if let Some(mut active) = self.active.take() {
            log::info!("broker {} resigns as controller of epoch {}: {}", self.broker_id, active.ctx.epoch, why);
            active.channels.shutdown();
            if let Some(timer) = active.rebalance_timer.take() {
                timer.abort();
            }
        }
        self.watches.retain(|key, task| {
            let keep = *key == WatchKey::Controller;
            if !keep {
                task.abort();
            }
            keep
        });
        self.shared.active.store(false, Ordering::SeqCst);
        self.shared.epoch.store(0, Ordering::SeqCst);
    }

    async fn shutdown(&mut self) {
        let own_id = self.broker_id;
        if let Some(active) = self.active.as_mut() {
            // Our own socket server is already closed: nothing to deliver there.
            active.channels.remove_broker(own_id);
            active.channels.drain(CHANNEL_DRAIN_TIMEOUT.min(self.config.socket_timeout)).await;
        }
        self.resign("shutting down");
        for (_, task) in self.watches.drain() {
            task.abort();
        }
        for task in self.background.drain(..) {
            task.abort();
        }
        // Only a node this session owns is deleted (never another broker's, KAFKA-1971).
        let timeout = self.zk.session_timeout();
        match tokio::time::timeout(timeout, self.zk.delete_own_ephemeral(paths::CONTROLLER)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("cannot delete our {} at shutdown: {}", paths::CONTROLLER, e),
            Err(_) => log::warn!("timed out deleting our {} at shutdown", paths::CONTROLLER),
        }
        log::info!("controller of broker {} stopped", self.broker_id);
    }

    fn active_mut(&mut self) -> Result<&mut Active, ControllerError> {
        self.active.as_mut().ok_or_else(|| ControllerError::Moved("not the controller any more".into()))
    }

    // ---- failover (docs/zookeeper-layout.md, failover) ----

    async fn failover(&mut self) -> Result<(), ControllerError> {
        let fence = increment_controller_epoch(&self.zk)
            .await?
            .ok_or_else(|| ControllerError::Moved("the controller epoch changed during failover".into()))?;
        log::info!("broker {} starting controller failover, epoch {}", self.broker_id, fence.epoch);
        let ctx = ControllerContext {
            controller_id: self.broker_id,
            epoch: fence.epoch,
            epoch_zk_version: fence.epoch_zk_version,
            ..Default::default()
        };
        let channels = ControllerChannelManager::new(
            self.channels_client_id.clone(),
            self.config.socket_timeout,
            self.config.message_queue_size,
        );
        self.active = Some(Active { ctx, fence, channels, rebalance_timer: None });

        // Watches before reads, so no change between the two is missed.
        let (ids, fired) = self.zk.watch_broker_ids().await?;
        self.arm(WatchKey::BrokerIds, fired, Event::BrokerChange);
        let (topics, fired) = self.zk.watch_topics().await?;
        self.arm(WatchKey::Topics, fired, Event::TopicChange);

        let brokers = self.zk.brokers_with_czxid(&ids).await?;
        let mut assignments = BTreeMap::new();
        for topic in topics {
            if let Some(parts) = self.watch_topic(&topic).await? {
                assignments.insert(topic, parts);
            }
        }
        let active = self.active_mut()?;
        for (b, czxid) in brokers {
            active.channels.add_broker(b.clone());
            active.ctx.registrations.insert(b.id, czxid);
            active.ctx.live_brokers.insert(b.id, b);
        }
        active.ctx.assignments = assignments;
        let all = active.ctx.all_partitions();
        let reads = self.store.read_partition_states(&all).await?;
        let unclean = self.config.unclean_leader_election_enable;
        let active = self.active_mut()?;
        active.ctx.load_states(&all, reads);

        // Brokers that died while there was no controller are handled as failures now:
        // elect where the leader is gone, and take dead replicas out of ISRs; then every
        // live replica learns its partitions, every broker the whole cluster.
        let change = PartitionStateChange::failover(&active.ctx, unclean);
        let epoch = active.ctx.epoch;
        self.run_election(change).await?;
        self.shared.epoch.store(epoch, Ordering::SeqCst);
        self.shared.active.store(true, Ordering::SeqCst);
        log::info!("broker {} is the controller, epoch {}", self.broker_id, epoch);
        // Resume an election an earlier controller left unfinished, pick up ISR changes
        // announced while there was none, and start the periodic imbalance check: all as
        // events of this loop, so none of them runs beside another handler.
        self.own_events.push_back(Event::PreferredReplicaElection);
        self.own_events.push_back(Event::IsrChangeNotification);
        if self.config.auto_leader_rebalance_enable {
            let every = self.config.leader_imbalance_check_interval;
            let tx = self.events.clone();
            let timer = tokio::spawn(async move {
                let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    if tx.send(Event::RebalanceCheck).await.is_err() {
                        return;
                    }
                }
            });
            self.active_mut()?.rebalance_timer = Some(timer);
        }
        // Resume (or start) the reassignments asked for, and watch for new ones.
        self.reassignments = Default::default();
        self.on_partition_reassignment(false).await?;
        self.deletions = Default::default();
        self.on_topic_deletion(false).await
    }

    /// Queue a batch that is no partition state change (ISR change notifications).
    fn send(&mut self, batch: RequestBatch) -> Result<(), ControllerError> {
        let broker_id = self.broker_id;
        let active = self.active_mut()?;
        for (broker, request) in batch.build(&active.ctx, broker_id) {
            active.channels.send(broker, request);
        }
        Ok(())
    }

    /// Data-watch `/brokers/topics/<topic>`; its assignment, or `None` if it is gone.
    async fn watch_topic(&mut self, topic: &str) -> Result<Option<BTreeMap<i32, Vec<i32>>>, ControllerError> {
        let (read, fired) = self.zk.watch_topic_assignment(topic).await?;
        if let Ok(None) = read {
            self.disarm(&WatchKey::Topic(topic.to_string()));
            return Ok(None);
        }
        self.arm(WatchKey::Topic(topic.to_string()), fired, Event::PartitionModification(topic.to_string()));
        match read {
            Ok(a) => Ok(Some(a.unwrap_or_default().into_iter().filter(|(p, _)| *p >= 0).collect())),
            Err(e) => {
                // Known but empty: a rewrite fires the watch again.
                log::error!("ignoring the assignment of topic {}: {}", topic, e);
                Ok(Some(BTreeMap::new()))
            }
        }
    }

    // ---- the partition state machine's move to Online (docs/zookeeper-layout.md) ----

    /// [`Self::run_change`] of an election, timed as `LeaderElectionRateAndTimeMs`.
    async fn run_election(&mut self, change: PartitionStateChange) -> Result<PartitionStateChange, ControllerError> {
        let start = Instant::now();
        let result = self.run_change(change).await;
        self.shared.stats.leader_election.record(start.elapsed());
        result
    }

    /// The one routine that changes partition states (and takes deletions further):
    /// drive `change` through the ZooKeeper store and the channels to brokers.
    async fn run_change(&mut self, mut change: PartitionStateChange) -> Result<PartitionStateChange, ControllerError> {
        let store = self.store.clone();
        let active = self.active_mut()?;
        let fence = active.fence;
        change::run(&store, fence, &mut active.ctx, &mut change, &mut active.channels).await?;
        self.shared.stats.unclean_leader_elections.fetch_add(change.unclean_elections, Ordering::Relaxed);
        Ok(change)
    }

    // ---- brokers (docs/zookeeper-layout.md, broker failure and start-up) ----

    async fn on_broker_change(&mut self) -> Result<(), ControllerError> {
        if self.active.is_none() {
            return Ok(());
        }
        let (listed, fired) = self.zk.watch_broker_ids().await?;
        self.arm(WatchKey::BrokerIds, fired, Event::BrokerChange);
        // Every registration is read, not only the new ones: a broker whose znode was
        // deleted and created again between two watch events keeps its id but not its
        // czxid (KAFKA-1120).
        let registered = self.zk.brokers_with_czxid(&listed).await?;
        let listed: BTreeSet<i32> = listed.into_iter().collect();
        let read: BTreeMap<i32, i64> = registered.iter().map(|(b, czxid)| (b.id, *czxid)).collect();
        let active = self.active_mut()?;
        let changes = broker_changes(&active.ctx.registrations, &listed, &read);
        if changes.is_empty() {
            return Ok(());
        }
        for id in &changes.dead {
            active.ctx.live_brokers.remove(id);
            active.ctx.registrations.remove(id);
            active.ctx.shutting_down.remove(id);
            active.channels.remove_broker(*id);
        }
        for (b, czxid) in registered.iter().filter(|(b, _)| changes.new.contains(&b.id)) {
            active.channels.add_broker(b.clone());
            active.ctx.live_brokers.insert(b.id, b.clone());
            active.ctx.registrations.insert(b.id, *czxid);
        }
        log::info!(
            "newly added brokers: {:?}, deleted brokers: {:?}, bounced brokers: {:?}, all live brokers: {:?}",
            changes.new,
            changes.dead,
            changes.bounced,
            active.ctx.live_brokers.keys().collect::<Vec<_>>()
        );
        if !changes.new.is_empty() {
            let new_ids: Vec<i32> = changes.new.iter().copied().collect();
            self.on_broker_startup(&new_ids).await?;
        }
        if !changes.dead.is_empty() {
            self.on_broker_failure(&changes.dead).await?;
        }
        if !changes.bounced.is_empty() {
            // A failure, then a start-up (as later Kafka handles KAFKA-1120): its
            // leaderships move away, then it is told its partitions again.
            let active = self.active_mut()?;
            for id in &changes.bounced {
                active.ctx.live_brokers.remove(id);
                active.ctx.shutting_down.remove(id);
                active.channels.remove_broker(*id);
            }
            self.on_broker_failure(&changes.bounced).await?;
            let active = self.active_mut()?;
            for (b, czxid) in registered.iter().filter(|(b, _)| changes.bounced.contains(&b.id)) {
                active.channels.add_broker(b.clone());
                active.ctx.live_brokers.insert(b.id, b.clone());
                active.ctx.registrations.insert(b.id, *czxid);
            }
            let bounced: Vec<i32> = changes.bounced.iter().copied().collect();
            self.on_broker_startup(&bounced).await?;
        }
        Ok(())
    }

    async fn on_broker_startup(&mut self, new_ids: &[i32]) -> Result<(), ControllerError> {
        let unclean = self.config.unclean_leader_election_enable;
        let change = PartitionStateChange::broker_startup(&self.active_mut()?.ctx, new_ids, unclean);
        self.run_election(change).await.map(drop)
    }

    async fn on_broker_failure(&mut self, dead: &BTreeSet<i32>) -> Result<(), ControllerError> {
        let unclean = self.config.unclean_leader_election_enable;
        let change = PartitionStateChange::broker_failure(&self.active_mut()?.ctx, dead, unclean);
        self.run_election(change).await.map(drop)
    }

    // ---- topics (docs/zookeeper-layout.md, topics and partitions) ----

    async fn on_topic_change(&mut self) -> Result<(), ControllerError> {
        if self.active.is_none() {
            return Ok(());
        }
        let (topics, fired) = self.zk.watch_topics().await?;
        self.arm(WatchKey::Topics, fired, Event::TopicChange);
        let topics: BTreeSet<String> = topics.into_iter().collect();
        let known: BTreeSet<String> = self.active_mut()?.ctx.assignments.keys().cloned().collect();
        for gone in known.difference(&topics) {
            self.disarm(&WatchKey::Topic(gone.clone()));
            self.active_mut()?.ctx.remove_topic(gone);
        }
        let mut new_partitions = Vec::new();
        let fresh: Vec<String> = topics.difference(&known).filter(|t| !self.deletions.contains(t)).cloned().collect();
        for topic in &fresh {
            if let Some(parts) = self.watch_topic(topic).await? {
                new_partitions.extend(parts.keys().map(|p| TopicPartition::new(topic.clone(), *p)));
                self.active_mut()?.ctx.assignments.insert(topic.clone(), parts);
            }
        }
        if new_partitions.is_empty() {
            return Ok(());
        }
        log::info!("new partitions: {:?}", new_partitions);
        self.on_new_partitions(new_partitions).await
    }

    async fn on_partition_modification(&mut self, topic: &str) -> Result<(), ControllerError> {
        if self.active.is_none() {
            return Ok(());
        }
        if !self.active_mut()?.ctx.assignments.contains_key(topic) {
            // Removed meanwhile; the topic change handler owns unknown topics.
            self.disarm(&WatchKey::Topic(topic.to_string()));
            return Ok(());
        }
        let Some(parts) = self.watch_topic(topic).await? else { return Ok(()) };
        let known = self.active_mut()?.ctx.assignments.get(topic).cloned().unwrap_or_default();
        // Only added partitions count; rewrites of existing ones belong to reassignment.
        let added: BTreeMap<i32, Vec<i32>> = parts.into_iter().filter(|(p, _)| !known.contains_key(p)).collect();
        if added.is_empty() {
            return Ok(());
        }
        let new_partitions: Vec<TopicPartition> = added.keys().map(|p| TopicPartition::new(topic, *p)).collect();
        self.active_mut()?.ctx.assignments.entry(topic.to_string()).or_default().extend(added);
        log::info!("partitions added: {:?}", new_partitions);
        self.on_new_partitions(new_partitions).await
    }

    /// New → Online for partitions just seen; a partition whose replicas are
    /// all dead stays New and is elected when one of them starts.
    async fn on_new_partitions(&mut self, partitions: Vec<TopicPartition>) -> Result<(), ControllerError> {
        let change = PartitionStateChange::new_partitions(partitions, self.config.unclean_leader_election_enable);
        self.run_election(change).await.map(drop)
    }

    // ---- preferred replica election and automatic leader rebalance ----

    /// `/admin/preferred_replica_election` (0.8.2 `PreferredReplicaElectionListener`):
    /// move the listed partitions to their preferred replica where it is alive and in
    /// the ISR, then delete the znode, so that the tool can start the next election.
    async fn on_preferred_replica_election(&mut self) -> Result<(), ControllerError> {
        if self.active.is_none() {
            return Ok(());
        }
        let (read, fired) = self.zk.watch_preferred_replica_election().await?;
        self.arm(WatchKey::PreferredElection, fired, Event::PreferredReplicaElection);
        let requested: BTreeSet<TopicPartition> = match read {
            Ok(None) => return Ok(()),
            Ok(Some(list)) => list.into_iter().collect(),
            Err(e) => {
                log::error!("ignoring {}", e);
                BTreeSet::new()
            }
        };
        log::info!("starting preferred replica leader election for partitions {:?}", requested);
        let moves = preferred_election_moves(&self.active_mut()?.ctx.leader_views(), Some(&requested));
        self.elect_preferred(moves).await?;
        self.zk.delete(paths::PREFERRED_REPLICA_ELECTION).await?;
        Ok(())
    }

    /// 0.8.2 `checkAndTriggerPartitionRebalance`, as an event of this loop (never a
    /// thread taking the controller's lock, so KAFKA-1305's deadlock cannot happen).
    async fn on_rebalance_check(&mut self) -> Result<(), ControllerError> {
        let percentage = self.config.leader_imbalance_per_broker_percentage;
        let Some(active) = self.active.as_ref() else { return Ok(()) };
        let ctx = &active.ctx;
        // Partitions a controlled shutdown is moving, and topics being deleted, stay where
        // they are; while a reassignment is in flight the check waits for the next tick.
        if self.reassignments.poll_scheduled {
            return Ok(());
        }
        let mut busy: BTreeSet<TopicPartition> =
            ctx.shutting_down.iter().flat_map(|b| ctx.partitions_on_broker(*b)).collect();
        for topic in self.deletions.topics.keys() {
            busy.extend(ctx.topic_partitions(topic));
        }
        let moves = rebalance_moves(&ctx.leader_views(), &ctx.live_broker_ids(), &busy, percentage);
        if moves.is_empty() {
            return Ok(());
        }
        log::info!("leader imbalance above {}%: moving {:?} to their preferred replica", percentage, moves);
        self.elect_preferred(moves).await
    }

    /// Preferred replica leader election of `partitions`: LeaderAndIsr to their live
    /// replicas, UpdateMetadata to every broker.
    async fn elect_preferred(&mut self, partitions: Vec<TopicPartition>) -> Result<(), ControllerError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let unclean = self.config.unclean_leader_election_enable;
        self.run_change(PartitionStateChange::new(ChangeKind::PreferredReplica, partitions, unclean)).await.map(drop)
    }

    // ---- ISR changes (0.9's /isr_change_notification; 0.8.2 left metadata stale) ----

    /// Leaders write a sequential node naming the partitions whose ISR they changed;
    /// re-read those partitions' state, tell every broker, delete the notifications.
    async fn on_isr_change_notification(&mut self) -> Result<(), ControllerError> {
        if self.active.is_none() {
            return Ok(());
        }
        let (names, fired) = self.zk.watch_isr_change_notifications().await?;
        self.arm(WatchKey::IsrChanges, fired, Event::IsrChangeNotification);
        if names.is_empty() {
            return Ok(());
        }
        let changed: BTreeSet<TopicPartition> = self.zk.isr_change_notifications(&names).await?.into_iter().collect();
        let changed: Vec<TopicPartition> =
            changed.into_iter().filter(|tp| self.active.as_ref().is_some_and(|a| a.ctx.replicas(tp).is_some())).collect();
        let reads = self.store.read_partition_states(&changed).await?;
        let active = self.active_mut()?;
        let everyone = active.ctx.live_or_shutting_down_ids();
        let mut batch = RequestBatch::new();
        for (tp, read) in changed.iter().zip(reads) {
            if let StateRead::Present(state, version) = read {
                active.ctx.leadership.insert(tp.clone(), LeaderIsrAndControllerEpoch::from_json(&state, version));
                batch.add_update_metadata(everyone.iter().copied(), tp);
            }
        }
        if !changed.is_empty() {
            log::info!("isr changes of {:?} go to every broker", changed);
        }
        self.send(batch)?;
        self.zk.delete_isr_change_notifications(&names).await?;
        Ok(())
    }

    // ---- controlled shutdown (docs/zookeeper-layout.md) ----

    /// 0.8.2 `KafkaController.shutdownBroker`: `broker_id` stops counting as live (no
    /// leadership, no place in a new ISR) until its registration disappears; the
    /// partitions it follows get StopReplica (no delete) first, so that it stops fetching
    /// before it leaves their ISRs; then every replicated partition it leads gets another
    /// leader from its ISR and it leaves every ISR, in one batch of fenced writes. The
    /// answer is the replicated partitions it still leads; single-replica partitions are
    /// not counted (they simply go offline with it).
    ///
    /// The answer waits (not the event loop) until the broker has answered the requests
    /// that demote it, at most `controller.socket.timeout.ms`: 0.8.2 answered at once, and
    /// a broker that closed its socket server before the LeaderAndIsr arrived kept
    /// leading in its own eyes, taking acks=1 writes and holding acks=-1 ones until their
    /// timeout.
    async fn on_controlled_shutdown(&mut self, broker_id: i32, reply: ShutdownReply) -> Result<(), ControllerError> {
        let refusal = match self.active.as_ref() {
            None => Some(ControlledShutdownError::NotController),
            Some(a) if !a.ctx.live_brokers.contains_key(&broker_id) => {
                Some(ControlledShutdownError::BrokerNotAvailable(broker_id))
            }
            Some(_) => None,
        };
        if let Some(refusal) = refusal {
            let _ = reply.send(Err(refusal));
            return Ok(());
        }
        match self.move_for_controlled_shutdown(broker_id).await {
            Ok((remaining, answered)) => {
                let timeout = self.config.socket_timeout;
                self.background.retain(|h| !h.is_finished());
                self.background.push(tokio::spawn(async move {
                    let all = all_answered(answered);
                    if tokio::time::timeout(timeout, all).await.is_err() {
                        log::warn!(
                            "broker {} did not answer its controlled shutdown requests within {:?}",
                            broker_id,
                            timeout
                        );
                    }
                    let _ = reply.send(Ok(remaining));
                }));
                Ok(())
            }
            Err(e) => {
                let refusal = match &e {
                    ControllerError::Moved(_) => ControlledShutdownError::NotController,
                    ControllerError::Zk(z) => ControlledShutdownError::Failed(z.to_string()),
                };
                let _ = reply.send(Err(refusal));
                Err(e)
            }
        }
    }

    /// The work of [`Self::on_controlled_shutdown`]: the partitions still led, and the
    /// receivers of the stopping broker's answers.
    async fn move_for_controlled_shutdown(
        &mut self,
        broker_id: i32,
    ) -> Result<(Vec<TopicPartition>, Vec<oneshot::Receiver<()>>), ControllerError> {
        let unclean = self.config.unclean_leader_election_enable;
        let active = self.active_mut()?;
        let change = PartitionStateChange::controlled_shutdown(&mut active.ctx, broker_id, unclean);
        log::info!(
            "shutting down broker {}; all shutting down brokers: {:?}, live brokers: {:?}",
            broker_id,
            active.ctx.shutting_down,
            active.ctx.live_broker_ids()
        );
        let change = self.run_change(change).await?;
        let answered = change.answers.into_iter().map(|(_, rx)| rx).collect();

        let active = self.active_mut()?;
        let remaining: Vec<TopicPartition> = replicated_partitions_on(&active.ctx, broker_id)
            .into_iter()
            .filter(|tp| active.ctx.leadership.get(tp).is_some_and(|l| l.leader == broker_id))
            .collect();
        if remaining.is_empty() {
            log::info!("broker {} leads no replicated partition any more", broker_id);
        } else {
            log::info!("broker {} still leads {:?}", broker_id, remaining);
        }
        Ok((remaining, answered))
    }
}

/// Wait for every receiver (a dropped sender counts as done: the request was dropped).
async fn all_answered(receivers: Vec<oneshot::Receiver<()>>) {
    for rx in receivers {
        let _ = rx.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Properties;

    #[test]
    fn a_session_expiry_mid_batch_resigns_a_fence_resigns_and_other_errors_retry() {
        let expired = ControllerError::from(FenceError::Zk(ZkError::SessionExpired));
        assert_eq!(error_action(&expired), ErrorAction::ResignUntilNewSession);
        assert_eq!(error_action(&ControllerError::from(FenceError::Fenced)), ErrorAction::Resign);
        assert_eq!(error_action(&ControllerError::Zk(ZkError::BadVersion)), ErrorAction::Retry);
        assert_eq!(error_action(&ControllerError::Zk(ZkError::Other("connection loss".into()))), ErrorAction::Retry);
    }

    #[test]
    fn config_comes_from_server_properties_and_names_the_client_as_082_did() {
        let mut props = Properties::new();
        props.set("broker.id", "3");
        props.set("zookeeper.connect", "localhost:2181");
        props.set("port", "9093");
        props.set("controller.socket.timeout.ms", "1000");
        props.set("unclean.leader.election.enable", "false");
        let config = ControllerConfig::from_kafka_config(&KafkaConfig::from_properties(&props).unwrap());
        assert_eq!(config.socket_timeout, Duration::from_secs(1));
        assert!(!config.unclean_leader_election_enable);
        assert_eq!(config.message_queue_size, i32::MAX as usize);
        assert_eq!(config.client_id(3), "id_3-host_null-port_9093");
        props.set("host.name", "kafka1");
        let config = ControllerConfig::from_kafka_config(&KafkaConfig::from_properties(&props).unwrap());
        assert_eq!(config.client_id(3), "id_3-host_kafka1-port_9093");
    }
}
