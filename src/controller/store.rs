//! What the controller's decisions read from and write to: the [`ControllerStore`] trait,
//! its ZooKeeper implementation ([`ZkStore`]) and an in-memory one ([`MemoryStore`]) that
//! can inject the errors ZooKeeper produces (a leader's concurrent ISR write, a session
//! expiring between two batches, another controller's epoch), so that the decision core
//! ([`super::change`]) is tested without a server.

use crate::zk::state::{
    read_partition_states, EpochFence, FenceError, StateRead, StateWrite, WriteOutcome, MAX_MULTI_OPS,
};
use crate::common::{Properties, TopicPartition};
use crate::zk::json::PartitionState;
use crate::zk::utils::Assignment;
use crate::zk::{paths, QueryError, ZkClient, ZkError};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The reads and fenced writes a partition state change needs.
pub trait ControllerStore: Send + Sync {
    /// The state znodes of `partitions`, in order.
    fn read_partition_states(
        &self,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = Result<Vec<StateRead>, ZkError>> + Send;

    /// The children of `/brokers/topics/<topic>/partitions` (`None`: no such node).
    fn partition_children(&self, topic: &str) -> impl Future<Output = Result<Option<Vec<String>>, ZkError>> + Send;

    /// `/config/topics/<topic>` as properties (`None`: no config, or an unreadable one).
    fn topic_config(&self, topic: &str) -> impl Future<Output = Result<Option<Properties>, ZkError>> + Send;

    /// Apply `writes` guarded by `fence`; outcomes in the order of `writes`.
    fn write_states(
        &self,
        fence: EpochFence,
        writes: &[StateWrite],
    ) -> impl Future<Output = Result<Vec<WriteOutcome>, FenceError>> + Send;

    /// Rewrite `/brokers/topics/<topic>` (unconditional, as 0.8.2); a topic deleted
    /// meanwhile is not an error (the topic change handler forgets it).
    fn write_assignment(&self, topic: &str, assignment: &Assignment) -> impl Future<Output = Result<(), ZkError>> + Send;

    /// Remove a deleted topic's znodes: `/brokers/topics/<topic>` with its partition
    /// states, `/config/topics/<topic>`, `/admin/delete_topics/<topic>` (unconditional, as
    /// 0.8.2; nodes already gone are not an error).
    fn delete_topic(&self, topic: &str) -> impl Future<Output = Result<(), ZkError>> + Send;
}

/// The controller's store: the cluster's ZooKeeper.
#[derive(Debug, Clone)]
pub struct ZkStore {
    zk: ZkClient,
}

impl ZkStore {
    pub fn new(zk: ZkClient) -> ZkStore {
        ZkStore { zk }
    }
}

impl ControllerStore for ZkStore {
    fn read_partition_states(
        &self,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = Result<Vec<StateRead>, ZkError>> + Send {
        read_partition_states(&self.zk, partitions)
    }

    fn partition_children(&self, topic: &str) -> impl Future<Output = Result<Option<Vec<String>>, ZkError>> + Send {
        let topic = topic.to_string();
        async move { self.zk.topic_partition_nodes(&topic).await }
    }

    fn topic_config(&self, topic: &str) -> impl Future<Output = Result<Option<Properties>, ZkError>> + Send {
        let topic = topic.to_string();
        async move {
            match self.zk.topic_config(&topic).await {
                Ok(props) => Ok(Some(props)),
                Err(QueryError::Corrupt(why)) => {
                    log::warn!("ignoring the config of topic {}: {}", topic, why);
                    Ok(None)
                }
                Err(QueryError::Zk(e)) => Err(e),
            }
        }
    }

    fn write_states(
        &self,
        fence: EpochFence,
        writes: &[StateWrite],
    ) -> impl Future<Output = Result<Vec<WriteOutcome>, FenceError>> + Send {
        let writes = writes.to_vec();
        async move { fence.write(&self.zk, &writes).await }
    }

    fn write_assignment(&self, topic: &str, assignment: &Assignment) -> impl Future<Output = Result<(), ZkError>> + Send {
        let (topic, assignment) = (topic.to_string(), assignment.clone());
        async move { self.zk.write_topic_assignment(&topic, &assignment).await }
    }

    fn delete_topic(&self, topic: &str) -> impl Future<Output = Result<(), ZkError>> + Send {
        let topic = topic.to_string();
        async move {
            crate::zk::state::delete_topic_znodes(&self.zk, &topic).await?;
            self.zk.delete_recursive(&paths::topic_config(&topic)).await?;
            self.zk.delete(&paths::delete_topic_marker(&topic)).await?;
            Ok(())
        }
    }
}

/// An error [`MemoryStore`] produces on cue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Just before the next write batch, a leader rewrites this partition's state (as a
    /// broker shrinking or expanding the ISR does): the controller's write of it meets
    /// BadVersion.
    ConcurrentWrite(TopicPartition, PartitionState),
    /// The write batch with this index (counted over the store's life, from 0) fails
    /// because the session expired; nothing of it is applied, earlier batches stay.
    SessionExpiresAtBatch(usize),
    /// Another controller incremented `/controller_epoch` before the next write batch.
    EpochBumped,
    /// The next read of partition states fails with this error.
    ReadFails(ZkError),
    /// The next deletion of a topic's znodes fails with this error, nothing deleted.
    DeleteFails(ZkError),
}

#[derive(Debug, Default)]
struct Memory {
    /// Path → (data, version) of the state znodes.
    states: BTreeMap<String, (Vec<u8>, i32)>,
    configs: BTreeMap<String, Properties>,
    /// `/brokers/topics/<t>` as the controller wrote it, and how many writes it made.
    assignments: BTreeMap<String, Assignment>,
    assignment_writes: usize,
    epoch_zk_version: i32,
    faults: VecDeque<Fault>,
    /// Committed write batches, and how many writes each held.
    batches: Vec<usize>,
    reads: usize,
    /// Topics whose znodes were deleted, in order.
    deleted_topics: Vec<String>,
}

/// An in-memory [`ControllerStore`]: state znodes by path, topic configs, the epoch
/// fence's version, and [`Fault`]s consumed in order. Writes are applied in batches of
/// at most `batch_size` (a ZooKeeper `multi`), each all or nothing.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Memory>>,
    batch_size: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(MAX_MULTI_OPS)
    }
}

impl MemoryStore {
    pub fn new(batch_size: usize) -> MemoryStore {
        MemoryStore { inner: Arc::default(), batch_size: batch_size.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write a state znode as a broker or an earlier controller left it.
    pub fn put_state(&self, tp: &TopicPartition, state: &PartitionState) {
        let mut m = self.lock();
        let path = paths::partition_state(&tp.topic, tp.partition);
        let version = m.states.get(&path).map_or(0, |(_, v)| v + 1);
        m.states.insert(path, (state.to_bytes(), version));
    }

    pub fn state(&self, tp: &TopicPartition) -> Option<(PartitionState, i32)> {
        let m = self.lock();
        let (data, version) = m.states.get(&paths::partition_state(&tp.topic, tp.partition))?;
        Some((PartitionState::parse(data).expect("the store holds valid states"), *version))
    }

    pub fn set_topic_config(&self, topic: &str, props: Properties) {
        self.lock().configs.insert(topic.to_string(), props);
    }

    pub fn set_epoch_zk_version(&self, version: i32) {
        self.lock().epoch_zk_version = version;
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Sizes of the committed write batches.
    pub fn committed_batches(&self) -> Vec<usize> {
        self.lock().batches.clone()
    }

    /// The assignment last written for `topic`, and the number of assignment writes made.
    pub fn assignment(&self, topic: &str) -> (Option<Assignment>, usize) {
        let m = self.lock();
        (m.assignments.get(topic).cloned(), m.assignment_writes)
    }

    /// Topics whose znodes were deleted, in order.
    pub fn deleted_topics(&self) -> Vec<String> {
        self.lock().deleted_topics.clone()
    }

    /// Partition state reads made (one per partition).
    pub fn reads(&self) -> usize {
        self.lock().reads
    }
}

fn take_fault(m: &mut Memory, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
    let i = m.faults.iter().position(matches)?;
    m.faults.remove(i)
}

impl ControllerStore for MemoryStore {
    fn read_partition_states(
        &self,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = Result<Vec<StateRead>, ZkError>> + Send {
        let result = (|| {
            let mut m = self.lock();
            if let Some(Fault::ReadFails(e)) = take_fault(&mut m, |f| matches!(f, Fault::ReadFails(_))) {
                return Err(e);
            }
            m.reads += partitions.len();
            Ok(partitions
                .iter()
                .map(|tp| {
                    let path = paths::partition_state(&tp.topic, tp.partition);
                    match m.states.get(&path) {
                        None => StateRead::Missing,
                        Some((data, version)) => match PartitionState::parse(data) {
                            Ok(s) => StateRead::Present(s, *version),
                            Err(e) => StateRead::Invalid(format!("{}: {}", path, e)),
                        },
                    }
                })
                .collect())
        })();
        std::future::ready(result)
    }

    fn partition_children(&self, topic: &str) -> impl Future<Output = Result<Option<Vec<String>>, ZkError>> + Send {
        let m = self.lock();
        let prefix = format!("{}/", paths::topic_partitions(topic));
        let children: BTreeSet<String> = m
            .states
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next().map(str::to_string))
            .collect();
        std::future::ready(Ok((!children.is_empty()).then(|| children.into_iter().collect())))
    }

    fn topic_config(&self, topic: &str) -> impl Future<Output = Result<Option<Properties>, ZkError>> + Send {
        std::future::ready(Ok(self.lock().configs.get(topic).cloned()))
    }

    fn write_assignment(&self, topic: &str, assignment: &Assignment) -> impl Future<Output = Result<(), ZkError>> + Send {
        let mut m = self.lock();
        m.assignment_writes += 1;
        m.assignments.insert(topic.to_string(), assignment.clone());
        std::future::ready(Ok(()))
    }

    fn delete_topic(&self, topic: &str) -> impl Future<Output = Result<(), ZkError>> + Send {
        let mut m = self.lock();
        if let Some(Fault::DeleteFails(e)) = take_fault(&mut m, |f| matches!(f, Fault::DeleteFails(_))) {
            return std::future::ready(Err(e));
        }
        let prefix = format!("{}/", paths::topic(topic));
        m.states.retain(|path, _| !path.starts_with(&prefix));
        m.assignments.remove(topic);
        m.configs.remove(topic);
        m.deleted_topics.push(topic.to_string());
        std::future::ready(Ok(()))
    }

    fn write_states(
        &self,
        fence: EpochFence,
        writes: &[StateWrite],
    ) -> impl Future<Output = Result<Vec<WriteOutcome>, FenceError>> + Send {
        let result = (|| {
            let mut m = self.lock();
            let mut outcomes = Vec::with_capacity(writes.len());
            for batch in writes.chunks(self.batch_size) {
                let at = m.batches.len();
                if take_fault(&mut m, |f| *f == Fault::SessionExpiresAtBatch(at)).is_some() {
                    return Err(FenceError::Zk(ZkError::SessionExpired));
                }
                // At most one concurrent write per partition before each batch, so that
                // repeated faults of one partition meet successive retries.
                let mut touched = BTreeSet::new();
                while let Some(fault) = take_fault(&mut m, |f| match f {
                    Fault::ConcurrentWrite(tp, _) => !touched.contains(tp),
                    Fault::EpochBumped => true,
                    _ => false,
                }) {
                    match fault {
                        Fault::ConcurrentWrite(tp, state) => {
                            let path = paths::partition_state(&tp.topic, tp.partition);
                            let version = m.states.get(&path).map_or(0, |(_, v)| v + 1);
                            m.states.insert(path, (state.to_bytes(), version));
                            touched.insert(tp);
                        }
                        Fault::EpochBumped => m.epoch_zk_version += 1,
                        _ => {}
                    }
                }
                if m.epoch_zk_version != fence.epoch_zk_version {
                    return Err(FenceError::Fenced);
                }
                for w in batch {
                    outcomes.push(match w {
                        StateWrite::Create { path, data, .. } => {
                            if m.states.contains_key(path) {
                                WriteOutcome::Conflict(ZkError::NodeExists)
                            } else {
                                m.states.insert(path.clone(), (data.clone(), 0));
                                WriteOutcome::Written(0)
                            }
                        }
                        StateWrite::Update { path, data, expected_version } => match m.states.get(path) {
                            None => WriteOutcome::Conflict(ZkError::NoNode),
                            Some((_, v)) if v != expected_version => WriteOutcome::Conflict(ZkError::BadVersion),
                            Some((_, v)) => {
                                let next = v + 1;
                                m.states.insert(path.clone(), (data.clone(), next));
                                WriteOutcome::Written(next)
                            }
                        },
                    });
                }
                m.batches.push(batch.len());
            }
            Ok(outcomes)
        })();
        std::future::ready(result)
    }
}
