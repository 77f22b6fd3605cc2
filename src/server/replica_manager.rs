//! The partitions this broker hosts and what happens to them (0.8.2 `ReplicaManager`):
//! leader/follower transitions from LeaderAndIsr, StopReplica, local appends, reads bounded
//! by the high watermark, high-watermark checkpoints.

use super::config::KafkaConfig;
use super::fetcher::FetcherManager;
use super::partition::Partition;
use crate::api::{Broker, LeaderAndIsrRequest, PartitionResult, PartitionState, StopReplicaRequest};
use crate::common::{ErrorCode, TopicPartition};
use crate::log::{FetchRegion, LogAppendInfo, LogConfig, LogError, LogManager, OffsetCheckpoint, PreparedAppend, REPLICATION_CHECKPOINT_FILE};
use crate::zk::{json, paths, ZkClient, ZkError};
use bytes::Bytes;
use std::collections::HashMap;
use std::path::PathBuf;
use crate::metrics::BrokerTopicStats;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use tokio::sync::watch;

/// Told when this broker starts or stops leading a partition, right after the partition
/// changed state: the offset manager loads or drops the offsets of a `__consumer_offsets`
/// partition (0.8.2 passed the `OffsetManager` into `becomeLeaderOrFollower`).
pub trait LeadershipListener: Send + Sync {
    fn became_leader(&self, tp: &TopicPartition);
    /// Became a follower, or the replica was stopped.
    fn became_follower(&self, tp: &TopicPartition);
}

/// How often, and how long between tries, the leader reads a partition's state back after
/// an ISR write whose answer was lost (see `reconcile_isr_write_later`): 10 minutes in
/// all, longer than any session timeout, so the read is tried once ZooKeeper is back.
const ISR_RECONCILE_ATTEMPTS: usize = 600;
const ISR_RECONCILE_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);
/// ISR changes made within this window go to the controller in one notification znode
/// (0.9.0 wrote one znode per change and a shrink pass over thousands of partitions
/// flooded the controller, KAFKA-2406); metadata still learns a change well within a second.
const ISR_ANNOUNCE_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);
/// Partitions named by one notification znode: far below ZooKeeper's 1 MB node limit even
/// with 249-character topic names.
const ISR_ANNOUNCE_MAX_PARTITIONS: usize = 2_000;

/// A produced set validated for a partition this broker leads
/// ([`ReplicaManager::prepare_leader_append`]), not yet written.
#[derive(Debug)]
pub struct LeaderAppend {
    partition: Arc<Partition>,
    append: PreparedAppend,
    /// The set's size as received.
    bytes: u64,
}

impl LeaderAppend {
    /// Whether writing it may block its thread (see [`PreparedAppend::may_block`]).
    pub fn may_block(&self) -> bool {
        self.append.may_block()
    }
}

/// Why a partition-level operation failed, as the wire error it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionError(pub ErrorCode, pub String);

impl From<LogError> for PartitionError {
    fn from(e: LogError) -> Self {
        PartitionError(e.error_code(), e.to_string())
    }
}

pub struct ReplicaManager {
    pub broker_id: i32,
    config: Arc<KafkaConfig>,
    pub log_manager: Arc<LogManager>,
    zk: ZkClient,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    controller_epoch: AtomicI32,
    /// High watermarks read at start-up from every `replication-offset-checkpoint`.
    checkpointed_hw: HashMap<TopicPartition, i64>,
    /// Bumped on every append and high-watermark move; long polls and acks=-1 wait on it.
    progress: Arc<watch::Sender<u64>>,
    pub fetchers: FetcherManager,
    me: std::sync::Weak<ReplicaManager>,
    leadership_listener: OnceLock<Weak<dyn LeadershipListener>>,
    /// 0.8.2's `BrokerTopicStats` (messages and bytes in and out, failures).
    pub topic_stats: BrokerTopicStats,
    /// `IsrShrinksPerSec` and `IsrExpandsPerSec`, as counts.
    pub isr_shrinks: AtomicU64,
    pub isr_expands: AtomicU64,
    /// ISR changes not yet announced to the controller.
    isr_announcements: std::sync::Mutex<IsrAnnouncements>,
}

#[derive(Default)]
struct IsrAnnouncements {
    pending: std::collections::BTreeSet<TopicPartition>,
    /// A task will write `pending` at the end of the current window.
    scheduled: bool,
}

impl ReplicaManager {
    pub fn new(config: Arc<KafkaConfig>, log_manager: Arc<LogManager>, zk: ZkClient) -> Arc<ReplicaManager> {
        let mut checkpointed_hw = HashMap::new();
        for dir in log_manager.log_dirs() {
            match OffsetCheckpoint::new(&dir.join(REPLICATION_CHECKPOINT_FILE)).and_then(|c| c.read()) {
                Ok(m) => checkpointed_hw.extend(m),
                Err(e) => log::warn!("cannot read the high watermark checkpoint in {}: {}", dir.display(), e),
            }
        }
        let progress = Arc::new(watch::channel(0).0);
        let on_progress = {
            let progress = progress.clone();
            Arc::new(move || progress.send_modify(|v: &mut u64| *v = v.wrapping_add(1)))
        };
        Arc::new_cyclic(|weak| ReplicaManager {
            broker_id: config.broker_id,
            fetchers: FetcherManager::new(config.broker_id, config.clone(), on_progress),
            config,
            log_manager,
            zk,
            partitions: RwLock::new(HashMap::new()),
            controller_epoch: AtomicI32::new(0),
            checkpointed_hw,
            progress,
            me: weak.clone(),
            leadership_listener: OnceLock::new(),
            topic_stats: BrokerTopicStats::default(),
            isr_shrinks: AtomicU64::new(0),
            isr_expands: AtomicU64::new(0),
            isr_announcements: std::sync::Mutex::new(IsrAnnouncements::default()),
        })
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// Set once at start-up, before the first LeaderAndIsr can arrive.
    pub fn set_leadership_listener(&self, listener: Weak<dyn LeadershipListener>) {
        let _ = self.leadership_listener.set(listener);
    }

    fn leadership_listener(&self) -> Option<Arc<dyn LeadershipListener>> {
        self.leadership_listener.get().and_then(|w| w.upgrade())
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        self.partitions.read().unwrap_or_else(|e| e.into_inner()).get(tp).cloned()
    }

    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// A receiver that changes whenever data or a high watermark moved.
    pub fn progress(&self) -> watch::Receiver<u64> {
        self.progress.subscribe()
    }

    pub fn notify_progress(&self) {
        self.progress.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn leader_partition(&self, tp: &TopicPartition) -> Result<Arc<Partition>, PartitionError> {
        match self.partition(tp) {
            None => Err(PartitionError(ErrorCode::UnknownTopicOrPartition, format!("partition {} is not hosted here", tp))),
            Some(p) if !p.is_leader() => {
                Err(PartitionError(ErrorCode::NotLeaderForPartition, format!("broker {} is not the leader for {}", self.broker_id, tp)))
            }
            Some(p) => Ok(p),
        }
    }

    /// Append a produced set as leader. `acks` = -1 checks `min.insync.replicas` first.
    pub fn append_as_leader(&self, tp: &TopicPartition, set: Bytes, acks: i16) -> Result<LogAppendInfo, PartitionError> {
        self.commit_leader_append(self.prepare_leader_append(tp, set, acks)?)
    }

    /// The first half of [`ReplicaManager::append_as_leader`]: the checks, and the set
    /// validated (and numbered) without the log's lock ([`Log::prepare_append`]).
    ///
    /// [`Log::prepare_append`]: crate::log::Log::prepare_append
    pub fn prepare_leader_append(&self, tp: &TopicPartition, set: Bytes, acks: i16) -> Result<LeaderAppend, PartitionError> {
        if tp.topic == crate::common::OFFSETS_TOPIC {
            return Err(PartitionError(ErrorCode::InvalidTopic, "cannot produce to the internal offsets topic".into()));
        }
        let p = self.leader_partition(tp)?;
        if acks == -1 {
            let min_isr = p.log.config().min_insync_replicas.max(1) as usize;
            if p.isr_size() < min_isr {
                return Err(PartitionError(
                    ErrorCode::NotEnoughReplicas,
                    format!("ISR of {} has {} members, fewer than min.insync.replicas {}", tp, p.isr_size(), min_isr),
                ));
            }
        }
        let bytes = set.len() as u64;
        let append = p.log.prepare_append(set, true)?;
        Ok(LeaderAppend { partition: p, append, bytes })
    }

    /// The second half of [`ReplicaManager::append_as_leader`]: the write, if this broker
    /// still leads the partition.
    pub fn commit_leader_append(&self, append: LeaderAppend) -> Result<LogAppendInfo, PartitionError> {
        let LeaderAppend { partition: p, append, bytes } = append;
        if !p.is_leader() {
            return Err(PartitionError(
                ErrorCode::NotLeaderForPartition,
                format!("broker {} stopped leading {} while a produced set was validated", self.broker_id, p.log.name()),
            ));
        }
        let info = p.log.commit_append(append)?;
        // 0.8.2 `appendToLocalLog`: bytes as received, messages as offsets assigned.
        let messages = if info.first_offset >= 0 { (info.last_offset - info.first_offset + 1).max(0) as u64 } else { 0 };
        for c in [&*p.stats, &self.topic_stats.all] {
            c.bytes_in.fetch_add(bytes, Ordering::Relaxed);
            c.messages_in.fetch_add(messages, Ordering::Relaxed);
        }
        p.after_local_append();
        self.notify_progress();
        Ok(info)
    }

    /// Read for a fetch. Consumers (`replica_id` < 0) read from the leader up to the high
    /// watermark (a debugging consumer, -2, may read a follower); a follower reads to the
    /// log end. `record_position` is true for the first read of a follower's fetch only:
    /// its position counts once per fetch (as 0.8.2), never again from the re-reads of a
    /// parked long poll, which could otherwise put a follower that has since died or been
    /// removed by the controller back into the ISR. Returns the region and the high
    /// watermark.
    pub fn read(
        &self,
        tp: &TopicPartition,
        replica_id: i32,
        offset: i64,
        max_bytes: usize,
        record_position: bool,
    ) -> Result<(FetchRegion, i64), PartitionError> {
        let p = if replica_id == crate::api::DEBUGGING_REPLICA_ID {
            self.partition(tp).ok_or_else(|| PartitionError(ErrorCode::UnknownTopicOrPartition, format!("{} is not hosted here", tp)))?
        } else {
            self.leader_partition(tp)?
        };
        if replica_id >= 0 && record_position {
            if p.update_follower_leo(replica_id, offset) {
                self.notify_progress();
            }
            if let Some(change) = p.isr_expansion(replica_id) {
                if let Some(rm) = self.me.upgrade() {
                    let p = p.clone();
                    tokio::spawn(async move { rm.write_isr_change(&p, change).await });
                }
            }
        }
        if replica_id >= 0 {
            let region = p.log.read(offset, max_bytes, None)?;
            return Ok((region, p.high_watermark()));
        }
        let hw = p.high_watermark();
        let region = p.log.read(offset, max_bytes, Some(hw))?;
        Ok((region, hw))
    }

    /// Offsets API (0.8.2 `fetchOffsets`): an ordinary client never sees offsets above the
    /// high watermark.
    pub fn offsets_before(&self, tp: &TopicPartition, replica_id: i32, time: i64, max: usize) -> Result<Vec<i64>, PartitionError> {
        // 0.8.2 `handleOffsetRequest`: the debugging consumer (-2) may ask any replica,
        // everyone else the leader; only ordinary clients (-1) are capped at the high
        // watermark.
        let p = if replica_id == crate::api::DEBUGGING_REPLICA_ID {
            self.partition(tp).ok_or_else(|| PartitionError(ErrorCode::UnknownTopicOrPartition, format!("{} is not hosted here", tp)))?
        } else {
            self.leader_partition(tp)?
        };
        let all = p.log.offsets_before(time, max);
        if replica_id != crate::api::CONSUMER_REPLICA_ID {
            return Ok(all);
        }
        let hw = p.high_watermark();
        if all.iter().any(|o| *o > hw) {
            let mut v = vec![hw];
            v.extend(all.into_iter().filter(|o| *o <= hw));
            v.truncate(max.max(1));
            Ok(v)
        } else {
            Ok(all)
        }
    }

    /// Count what a fetch answered: per partition the bytes sent, `None` when it failed (0.8.2 `readMessageSets`:
    /// `BytesOutPerSec`, and `FailedFetchRequestsPerSec` for every failed partition, not
    /// only for unexpected errors as in 0.8.2).
    pub fn record_fetch<'a>(&self, parts: impl IntoIterator<Item = (&'a str, i32, Option<usize>)>) {
        for (topic, partition, sent) in parts {
            let all = &self.topic_stats.all;
            match sent {
                Some(0) => {}
                Some(n) => {
                    let p = self.partition(&TopicPartition::new(topic, partition));
                    let stats = p.map(|p| p.stats.clone()).unwrap_or_else(|| self.topic_stats.topic(topic));
                    for c in [&*stats, all] {
                        c.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
                None => {
                    for c in [&*self.topic_stats.topic(topic), all] {
                        c.failed_fetch_requests.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Count a partition of a produce request that failed.
    pub fn record_failed_produce(&self, topic: &str) {
        for c in [&*self.topic_stats.topic(topic), &self.topic_stats.all] {
            c.failed_produce_requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn controller_epoch(&self) -> i32 {
        self.controller_epoch.load(Ordering::SeqCst)
    }

    /// The log config of a topic: broker defaults overlaid with `/config/topics/<t>`.
    pub async fn topic_log_config(&self, topic: &str) -> LogConfig {
        let base = self.log_manager.default_config().clone();
        match self.zk.topic_config(topic).await {
            Ok(props) => base.with_topic_overrides(&props).unwrap_or_else(|e| {
                log::warn!("ignoring invalid config overrides of topic {}: {}", topic, e);
                self.log_manager.default_config().clone()
            }),
            Err(e) => {
                log::warn!("ignoring the config overrides of topic {}: {}", topic, e);
                base
            }
        }
    }

    async fn get_or_create_partition(&self, tp: &TopicPartition) -> Result<Arc<Partition>, PartitionError> {
        if let Some(p) = self.partition(tp) {
            return Ok(p);
        }
        let log = match self.log_manager.get_log(tp) {
            Some(l) => l,
            None => {
                let config = self.topic_log_config(&tp.topic).await;
                self.log_manager.create_log(tp, config)?
            }
        };
        let hw = self.checkpointed_hw.get(tp).copied().unwrap_or(0);
        let mut map = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        Ok(map.entry(tp.clone()).or_insert_with(|| Arc::new(Partition::new(tp.clone(), log, self.broker_id, hw).with_topic_stats(self.topic_stats.topic(&tp.topic)))).clone())
    }

    /// LeaderAndIsr (0.8.2 `becomeLeaderOrFollower`).
    pub async fn become_leader_or_follower(&self, req: &LeaderAndIsrRequest) -> (ErrorCode, Vec<PartitionResult>) {
        if req.controller_epoch < self.controller_epoch() {
            log::warn!(
                "Broker {} ignoring LeaderAndIsr request from controller {} with stale controller epoch {} (current {})",
                self.broker_id,
                req.controller_id,
                req.controller_epoch,
                self.controller_epoch()
            );
            return (ErrorCode::StaleControllerEpoch, vec![]);
        }
        self.controller_epoch.store(req.controller_epoch, Ordering::SeqCst);
        let leaders: HashMap<i32, &Broker> = req.leaders.iter().map(|b| (b.id, b)).collect();
        let mut results = Vec::new();
        for s in &req.partition_states {
            let tp = TopicPartition::new(s.topic.clone(), s.partition);
            let code = self.apply_partition_state(&tp, s, &leaders).await;
            results.push(PartitionResult { topic: s.topic.clone(), partition: s.partition, error_code: code });
        }
        self.notify_progress();
        (ErrorCode::NoError, results)
    }

    async fn apply_partition_state(&self, tp: &TopicPartition, s: &PartitionState, leaders: &HashMap<i32, &Broker>) -> ErrorCode {
        if let Err(e) = crate::log::check_topic_partition(tp) {
            log::warn!("Broker {} ignoring LeaderAndIsr: {}", self.broker_id, e);
            return e.error_code();
        }
        if !s.replicas.contains(&self.broker_id) {
            log::warn!("Broker {} ignoring LeaderAndIsr for {}: not in its replica list {:?}", self.broker_id, tp, s.replicas);
            return ErrorCode::UnknownTopicOrPartition;
        }
        if let Some(p) = self.partition(tp) {
            if s.leader_epoch <= p.leader_epoch() {
                log::warn!(
                    "Broker {} ignoring LeaderAndIsr for {}: leader epoch {} is not newer than {}",
                    self.broker_id,
                    tp,
                    s.leader_epoch,
                    p.leader_epoch()
                );
                return ErrorCode::StaleLeaderEpoch;
            }
        }
        let p = match self.get_or_create_partition(tp).await {
            Ok(p) => p,
            Err(e) => {
                log::error!("Broker {} cannot create the log of {}: {}", self.broker_id, tp, e.1);
                return e.0;
            }
        };
        if s.leader == self.broker_id {
            self.fetchers.remove(&[tp.clone()]);
            p.make_leader(s);
            log::info!("Broker {} is now the leader of {} (leader epoch {}, ISR {:?})", self.broker_id, tp, s.leader_epoch, s.isr);
            if let Some(l) = self.leadership_listener() {
                l.became_leader(tp);
            }
            ErrorCode::NoError
        } else {
            self.fetchers.remove(&[tp.clone()]);
            let (from, verify_to) = p.make_follower(s);
            if let Some(l) = self.leadership_listener() {
                l.became_follower(tp);
            }
            match leaders.get(&s.leader) {
                Some(b) => {
                    self.fetchers.add(tp.clone(), (*b).clone(), from, verify_to, p.clone());
                    log::info!("Broker {} follows broker {} for {} from offset {}", self.broker_id, s.leader, tp, from);
                }
                None => log::warn!("Broker {} has no live leader to follow for {} (leader {})", self.broker_id, tp, s.leader),
            }
            ErrorCode::NoError
        }
    }

    /// StopReplica (0.8.2 `stopReplicas`).
    pub fn stop_replicas(&self, req: &StopReplicaRequest) -> (ErrorCode, Vec<PartitionResult>) {
        if req.controller_epoch < self.controller_epoch() {
            return (ErrorCode::StaleControllerEpoch, vec![]);
        }
        self.controller_epoch.store(req.controller_epoch, Ordering::SeqCst);
        self.fetchers.remove(&req.partitions);
        let mut results = Vec::new();
        let listener = self.leadership_listener();
        for tp in &req.partitions {
            if let Some(l) = &listener {
                l.became_follower(tp);
            }
            let mut code = ErrorCode::NoError;
            if let Err(e) = crate::log::check_topic_partition(tp) {
                log::warn!("Broker {} ignoring StopReplica: {}", self.broker_id, e);
                code = e.error_code();
            } else if req.delete_partitions {
                // 0.8.2's state-change line (it waits for the log's flushes before deleting).
                log::info!("Broker {} handling stop replica (delete=true) for partition {}", self.broker_id, tp);
                let removed = self.partitions.write().unwrap_or_else(|e| e.into_inner()).remove(tp);
                if removed.is_some() || self.log_manager.get_log(tp).is_some() {
                    if let Err(e) = self.log_manager.delete_log(tp) {
                        log::error!("Broker {} cannot delete the log of {}: {}", self.broker_id, tp, e);
                        code = e.error_code();
                    }
                }
            }
            results.push(PartitionResult { topic: tp.topic.clone(), partition: tp.partition, error_code: code });
        }
        if req.delete_partitions {
            // A deleted topic's counters go with its last partition here, so a topic
            // created again under the name starts from zero.
            let hosted = self.partitions.read().unwrap_or_else(|e| e.into_inner());
            for tp in &req.partitions {
                if !hosted.keys().any(|h| h.topic == tp.topic) {
                    self.topic_stats.remove_topic(&tp.topic);
                }
            }
        }
        self.notify_progress();
        (ErrorCode::NoError, results)
    }

    /// The leader's conditional ISR write (docs/zookeeper-layout.md): the state znode keeps
    /// leader, leader epoch and the controller epoch we were given; it is written only if
    /// its version is still the one we know (KAFKA-1382 re-read on BadVersion).
    pub async fn write_isr_change(&self, p: &Partition, change: super::partition::IsrChange) {
        let st = p.state();
        let doc = json::PartitionState::new(self.broker_id, change.leader_epoch, change.new_isr.clone(), change.controller_epoch);
        let path = paths::partition_state(&p.tp.topic, p.tp.partition);
        match self.zk.conditional_update(&path, &doc.to_bytes(), change.zk_version).await {
            Ok(version) => {
                if p.apply_isr_change(&change, version) {
                    let counter = if change.new_isr.len() < st.isr.len() { &self.isr_shrinks } else { &self.isr_expands };
                    counter.fetch_add(1, Ordering::Relaxed);
                    log::info!("Partition {} on broker {}: ISR {:?} -> {:?}", p.tp, self.broker_id, st.isr, change.new_isr);
                    self.notify_progress();
                }
                self.announce_isr_change(&p.tp);
            }
            Err(e) => {
                log::info!(
                    "Partition {} on broker {}: cached zkVersion {} does not match ZooKeeper ({}); skip updating ISR",
                    p.tp,
                    self.broker_id,
                    change.zk_version,
                    e
                );
                if !matches!(e, ZkError::BadVersion | ZkError::NoNode) {
                    self.reconcile_isr_write_later(&p.tp, change, doc);
                }
            }
        }
    }

    /// A conditional ISR write whose answer was lost (connection lost, request timed out,
    /// session expired mid-request) may still have been applied. If it was, ZooKeeper and
    /// every broker's metadata hold the new ISR while we keep the old one, and nothing
    /// would ever write again: a shrink that landed leaves ZooKeeper's ISR short for good
    /// once the followers are back (they fetch, so nothing expands an ISR we think is
    /// full), and the controller would then see no eligible leader among live, caught-up
    /// replicas (0.8.2's "Cached zkVersion not equal to that in zookeeper", KAFKA-2729).
    /// So read the state again once ZooKeeper answers: if it holds exactly what we wrote,
    /// adopt it. Only a read: writing the change again later could put a follower that
    /// has since fallen behind into the ISR.
    fn reconcile_isr_write_later(&self, tp: &TopicPartition, change: super::partition::IsrChange, written: json::PartitionState) {
        let Some(rm) = self.me.upgrade() else { return };
        let tp = tp.clone();
        tokio::spawn(async move {
            for _ in 0..ISR_RECONCILE_ATTEMPTS {
                tokio::time::sleep(ISR_RECONCILE_BACKOFF).await;
                let Some(p) = rm.partition(&tp) else { return };
                let st = p.state();
                if st.leader != rm.broker_id || st.leader_epoch != change.leader_epoch || st.zk_version != change.zk_version {
                    return; // a LeaderAndIsr or a later write moved on
                }
                match rm.zk.partition_state_versioned(&tp.topic, tp.partition).await {
                    Ok(Some((stored, version))) => {
                        if stored == written && version != change.zk_version && p.apply_isr_change(&change, version) {
                            let counter = if change.new_isr.len() < st.isr.len() { &rm.isr_shrinks } else { &rm.isr_expands };
                            counter.fetch_add(1, Ordering::Relaxed);
                            log::info!(
                                "Partition {} on broker {}: the ISR write whose answer was lost was applied; ISR {:?} -> {:?}",
                                p.tp,
                                rm.broker_id,
                                st.isr,
                                change.new_isr
                            );
                            rm.notify_progress();
                            rm.announce_isr_change(&p.tp);
                        }
                        return;
                    }
                    Ok(None) | Err(crate::zk::QueryError::Corrupt(_)) => return,
                    Err(_) => continue, // not connected yet
                }
            }
            log::warn!("Partition {} on broker {}: could not read its state back after a lost ISR write", tp, rm.broker_id);
        });
    }

    /// Tell the controller that the ISR of `tp` changed (0.9's
    /// `/isr_change_notification`), so that every broker's metadata learns it: 0.8.2 left
    /// TopicMetadata's ISR stale until the next leader change (KAFKA-1367). Changes made
    /// within [`ISR_ANNOUNCE_WINDOW`] share one notification.
    fn announce_isr_change(&self, tp: &TopicPartition) {
        let mut a = self.isr_announcements.lock().unwrap_or_else(|e| e.into_inner());
        a.pending.insert(tp.clone());
        if a.scheduled {
            return;
        }
        let Some(rm) = self.me.upgrade() else { return };
        a.scheduled = true;
        drop(a);
        tokio::spawn(async move {
            tokio::time::sleep(ISR_ANNOUNCE_WINDOW).await;
            rm.write_isr_announcements().await;
        });
    }

    /// Write what the window collected, one sequential znode per
    /// [`ISR_ANNOUNCE_MAX_PARTITIONS`] partitions.
    async fn write_isr_announcements(&self) {
        let pending = {
            let mut a = self.isr_announcements.lock().unwrap_or_else(|e| e.into_inner());
            a.scheduled = false;
            std::mem::take(&mut a.pending)
        };
        let pending: Vec<TopicPartition> = pending.into_iter().collect();
        for chunk in pending.chunks(ISR_ANNOUNCE_MAX_PARTITIONS) {
            let partitions = chunk
                .iter()
                .map(|tp| json::PartitionEntry { topic: tp.topic.clone(), partition: tp.partition, replicas: None })
                .collect();
            let doc = json::PartitionList { version: 1, partitions };
            if let Err(e) = self.zk.create_persistent_sequential(paths::ISR_CHANGE_PREFIX, &doc.to_bytes()).await {
                log::warn!("Broker {} cannot announce the ISR changes of {} partitions: {}", self.broker_id, chunk.len(), e);
            }
        }
    }

    /// One pass of ISR expiration over the partitions we lead (0.8.2
    /// `maybeShrinkIsr`, scheduled every `replica.lag.time.max.ms`).
    pub async fn shrink_isrs(&self) {
        let (time, msgs) = (self.config.replica_lag_time_max_ms, self.config.replica_lag_max_messages);
        for p in self.all_partitions() {
            if let Some(change) = p.isr_shrink(time, msgs) {
                self.write_isr_change(&p, change).await;
            }
        }
    }

    /// Write every log dir's `replication-offset-checkpoint` with the high watermarks of
    /// the partitions whose logs live there.
    pub fn checkpoint_high_watermarks(&self) {
        let mut per_dir: HashMap<PathBuf, HashMap<TopicPartition, i64>> = HashMap::new();
        for dir in self.log_manager.log_dirs() {
            per_dir.entry(dir).or_default();
        }
        for p in self.all_partitions() {
            if let Some(dir) = p.log.dir().parent() {
                per_dir.entry(dir.to_path_buf()).or_default().insert(p.tp.clone(), p.high_watermark());
            }
        }
        for (dir, hws) in per_dir {
            if let Err(e) = OffsetCheckpoint::new(&dir.join(REPLICATION_CHECKPOINT_FILE)).and_then(|c| c.write(&hws)) {
                log::error!("cannot write the high watermark checkpoint in {}: {}", dir.display(), e);
            }
        }
    }
}
