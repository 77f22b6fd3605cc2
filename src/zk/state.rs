//! Batched reads of partition state znodes and epoch-fenced batched writes.
//!
//! Every state write of the controller goes into a ZooKeeper `multi` that starts with a
//! version check of `/controller_epoch`: once another controller has incremented the epoch,
//! a deposed ("zombie") controller's writes fail as a whole (0.8.2 had no such fence; this
//! is KAFKA-6082's fix). Batches stay well under ZooKeeper's request limit (jute.maxbuffer,
//! ~1 MB, above which the server drops the connection and every request pipelined on it).

use crate::common::TopicPartition;
use crate::zk::json::{self, PartitionState};
use crate::zk::{paths, Stat, ZkClient, ZkError};
use std::fmt;
use zookeeper_client as zkc;

/// Most operations in one `multi` (reads or writes).
pub const MAX_MULTI_OPS: usize = 1000;
/// Most estimated request bytes in one `multi` write.
pub const MAX_MULTI_BYTES: usize = 512 * 1024;
/// Per-operation framing estimate (op header, lengths, version, ACL) in a `multi`.
const OP_OVERHEAD: usize = 64;

/// What a state znode holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRead {
    Missing,
    Present(PartitionState, i32),
    /// Not parseable: left alone, reported.
    Invalid(String),
}

/// Read the state znodes of `partitions` (in order), `MAX_MULTI_OPS` per round trip.
pub async fn read_partition_states(zk: &ZkClient, partitions: &[TopicPartition]) -> Result<Vec<StateRead>, ZkError> {
    let paths: Vec<String> = partitions.iter().map(|tp| paths::partition_state(&tp.topic, tp.partition)).collect();
    let data = read_many(zk, &paths).await?;
    Ok(paths
        .iter()
        .zip(data)
        .map(|(path, d)| match d {
            None => StateRead::Missing,
            Some((bytes, version)) => match PartitionState::parse(&bytes) {
                Ok(s) => StateRead::Present(s, version),
                Err(e) => StateRead::Invalid(format!("{}: {}", path, e)),
            },
        })
        .collect())
}

/// Delete `/brokers/topics/<topic>` with its partitions and their state znodes. The deletes
/// of one level (every state, then every partition) are all sent before any answer is
/// awaited, pipelined on the session: one round trip per level instead of one per znode
/// (3,000 znodes for 1,000 partitions took seconds one by one). Whatever is left (a znode
/// created meanwhile, a stray child) goes with the recursive delete at the end.
pub async fn delete_topic_znodes(zk: &ZkClient, topic: &str) -> Result<(), ZkError> {
    let partitions = zk.topic_partition_ids(topic).await.map_err(|e| match e {
        crate::zk::QueryError::Zk(e) => e,
        crate::zk::QueryError::Corrupt(why) => ZkError::Other(why),
    })?;
    let client = zk.raw();
    for level in [true, false] {
        let sent: Vec<_> = partitions
            .iter()
            .map(|p| {
                let path = if level { paths::partition_state(topic, *p) } else { paths::partition(topic, *p) };
                client.delete(&path, None)
            })
            .collect();
        for answer in sent {
            match answer.await.map_err(ZkError::from) {
                Ok(()) | Err(ZkError::NoNode) | Err(ZkError::NotEmpty) => {}
                Err(e) => return Err(e),
            }
        }
    }
    zk.delete_recursive(&paths::topic(topic)).await
}

/// Data and version of each path (`None`: no such node), with one multi read per
/// `MAX_MULTI_OPS` paths. Servers before ZooKeeper 3.6 have no multi read: one read each.
pub async fn read_many(zk: &ZkClient, paths: &[String]) -> Result<Vec<Option<(Vec<u8>, i32)>>, ZkError> {
    Ok(read_many_stat(zk, paths).await?.into_iter().map(|d| d.map(|(data, stat)| (data, stat.version))).collect())
}

/// [`read_many`] with each node's whole stat (its czxid tells a re-created node apart).
pub async fn read_many_stat(zk: &ZkClient, paths: &[String]) -> Result<Vec<Option<(Vec<u8>, Stat)>>, ZkError> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(MAX_MULTI_OPS) {
        let client = zk.raw();
        let mut reader = client.new_multi_reader();
        for path in chunk {
            reader.add_get_data(path).map_err(ZkError::from)?;
        }
        let results = match reader.commit().await {
            Ok(results) => results,
            Err(zkc::Error::Unimplemented) => {
                for path in chunk {
                    out.push(zk.get_data(path).await?);
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if results.len() != chunk.len() {
            return Err(ZkError::Other(format!(
                "multi read returned {} results for {} reads",
                results.len(),
                chunk.len()
            )));
        }
        for r in results {
            out.push(match r {
                zkc::MultiReadResult::Data { data, stat } => Some((data, stat)),
                zkc::MultiReadResult::Error { err: zkc::Error::NoNode } => None,
                zkc::MultiReadResult::Error { err } => return Err(err.into()),
                _ => return Err(ZkError::Other("multi read returned something else than data".into())),
            });
        }
    }
    Ok(out)
}

/// Delete `paths` (a missing one is not an error), `MAX_MULTI_OPS` per `multi`: thousands of
/// ISR change notifications go in a few round trips instead of one each. A `multi` that
/// fails on one node (deleted meanwhile) is redone node by node.
pub async fn delete_many(zk: &ZkClient, paths: &[String]) -> Result<(), ZkError> {
    for chunk in paths.chunks(MAX_MULTI_OPS) {
        let client = zk.raw();
        let mut multi = client.new_multi_writer();
        for path in chunk {
            multi.add_delete(path, None).map_err(ZkError::from)?;
        }
        match multi.commit().await {
            Ok(_) => {}
            Err(zkc::MultiWriteError::OperationFailed { .. }) => {
                for path in chunk {
                    zk.delete(path).await?;
                }
            }
            Err(zkc::MultiWriteError::RequestFailed { source }) => return Err(source.into()),
        }
    }
    Ok(())
}

/// One state znode write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWrite {
    /// First leadership of a partition: create `.../partitions/<p>/state`, creating the
    /// listed missing parents first (in order).
    Create { parents: Vec<String>, path: String, data: Vec<u8> },
    /// A later decision: conditional on the version read.
    Update { path: String, data: Vec<u8>, expected_version: i32 },
}

impl StateWrite {
    pub fn create(tp: &TopicPartition, parents: Vec<String>, state: &json::PartitionState) -> StateWrite {
        StateWrite::Create { parents, path: paths::partition_state(&tp.topic, tp.partition), data: state.to_bytes() }
    }

    pub fn update(tp: &TopicPartition, state: &json::PartitionState, expected_version: i32) -> StateWrite {
        StateWrite::Update {
            path: paths::partition_state(&tp.topic, tp.partition),
            data: state.to_bytes(),
            expected_version,
        }
    }

    fn ops(&self) -> usize {
        match self {
            StateWrite::Create { parents, .. } => parents.len() + 1,
            StateWrite::Update { .. } => 1,
        }
    }

    fn estimated_bytes(&self) -> usize {
        match self {
            StateWrite::Create { parents, path, data } => {
                parents.iter().map(|p| p.len() + OP_OVERHEAD).sum::<usize>() + path.len() + data.len() + OP_OVERHEAD
            }
            StateWrite::Update { path, data, .. } => path.len() + data.len() + OP_OVERHEAD,
        }
    }

    fn add_to(&self, w: &mut zkc::CheckWriter<'_>) -> Result<(), ZkError> {
        let persistent = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        match self {
            StateWrite::Create { parents, path, data } => {
                for p in parents {
                    w.add_create(p, b"", &persistent)?;
                }
                w.add_create(path, data, &persistent)?;
            }
            StateWrite::Update { path, data, expected_version } => {
                w.add_set_data(path, data, Some(*expected_version))?
            }
        }
        Ok(())
    }
}

/// The outcome of one [`StateWrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the znode's new version.
    Written(i32),
    /// Someone else changed the znode first (`BadVersion`, `NodeExists`, `NoNode`): re-read.
    Conflict(ZkError),
}

/// Why a fenced write did not happen at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceError {
    /// `/controller_epoch` moved on: another controller was elected since ours.
    Fenced,
    Zk(ZkError),
}

impl fmt::Display for FenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FenceError::Fenced => write!(f, "controller epoch changed: another controller was elected"),
            FenceError::Zk(e) => write!(f, "{}", e),
        }
    }
}

impl std::error::Error for FenceError {}

impl From<ZkError> for FenceError {
    fn from(e: ZkError) -> Self {
        FenceError::Zk(e)
    }
}

impl From<zkc::Error> for FenceError {
    fn from(e: zkc::Error) -> Self {
        FenceError::Zk(e.into())
    }
}

/// Writes guarded by the version of `/controller_epoch` our failover wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochFence {
    pub epoch: i32,
    pub epoch_zk_version: i32,
}

impl EpochFence {
    /// Apply `writes`, batched. A batch that fails on one write (not on the fence) is
    /// retried write by write, so one conflict does not hold back the others. Outcomes are
    /// in the order of `writes`.
    pub async fn write(&self, zk: &ZkClient, writes: &[StateWrite]) -> Result<Vec<WriteOutcome>, FenceError> {
        let mut outcomes = Vec::with_capacity(writes.len());
        for range in plan_batches(writes) {
            let batch = &writes[range];
            match self.commit(zk, batch).await? {
                Ok(versions) => outcomes.extend(versions.into_iter().map(WriteOutcome::Written)),
                Err(_) => {
                    for w in batch {
                        outcomes.push(self.write_one(zk, w).await?);
                    }
                }
            }
        }
        Ok(outcomes)
    }

    async fn write_one(&self, zk: &ZkClient, w: &StateWrite) -> Result<WriteOutcome, FenceError> {
        // Alone, a create does not depend on our guess of which parents are missing.
        let alone = match w {
            StateWrite::Create { parents, path, data } if !parents.is_empty() => {
                if let Some(parent) = parents.last() {
                    zk.ensure_path(parent).await?;
                }
                StateWrite::Create { parents: vec![], path: path.clone(), data: data.clone() }
            }
            other => other.clone(),
        };
        Ok(match self.commit(zk, std::slice::from_ref(&alone)).await? {
            Ok(mut versions) => WriteOutcome::Written(versions.pop().unwrap_or(0)),
            Err(e) => WriteOutcome::Conflict(e),
        })
    }

    /// One guarded multi: `Ok(Ok(new versions per write))`, `Ok(Err(op error))` when a
    /// write (not the fence) failed, `Err` when fenced or ZooKeeper failed.
    async fn commit(&self, zk: &ZkClient, batch: &[StateWrite]) -> Result<Result<Vec<i32>, ZkError>, FenceError> {
        let client = zk.raw();
        let mut w = client.new_check_writer(paths::CONTROLLER_EPOCH, Some(self.epoch_zk_version))?;
        for sw in batch {
            sw.add_to(&mut w)?;
        }
        match w.commit().await {
            Ok(results) => {
                // One result per op; a create's version is 0, a set's is in its stat.
                let mut it = results.into_iter();
                let mut versions = Vec::with_capacity(batch.len());
                for sw in batch {
                    let mut last = None;
                    for _ in 0..sw.ops() {
                        last = it.next();
                    }
                    versions.push(match last {
                        Some(zkc::MultiWriteResult::SetData { stat }) => stat.version,
                        _ => 0,
                    });
                }
                Ok(Ok(versions))
            }
            Err(zkc::CheckWriteError::CheckFailed { source: zkc::Error::BadVersion | zkc::Error::NoNode }) => {
                Err(FenceError::Fenced)
            }
            Err(zkc::CheckWriteError::CheckFailed { source }) => Err(FenceError::Zk(source.into())),
            Err(zkc::CheckWriteError::OperationFailed { source, .. }) => match ZkError::from(source) {
                e @ (ZkError::BadVersion | ZkError::NodeExists | ZkError::NoNode) => Ok(Err(e)),
                e => Err(FenceError::Zk(e)),
            },
            Err(zkc::CheckWriteError::RequestFailed { source }) => Err(FenceError::Zk(source.into())),
        }
    }
}

/// Split `writes` into consecutive batches of at most [`MAX_MULTI_OPS`] operations and
/// [`MAX_MULTI_BYTES`] estimated bytes, the epoch check included (a single write larger
/// than that still goes alone).
fn plan_batches(writes: &[StateWrite]) -> Vec<std::ops::Range<usize>> {
    let check_bytes = OP_OVERHEAD + paths::CONTROLLER_EPOCH.len();
    let mut batches = Vec::new();
    let mut start = 0;
    while start < writes.len() {
        let (mut ops, mut bytes, mut end) = (1, check_bytes, start);
        while end < writes.len() {
            let (o, b) = (writes[end].ops(), writes[end].estimated_bytes());
            if end > start && (ops + o > MAX_MULTI_OPS || bytes + b > MAX_MULTI_BYTES) {
                break;
            }
            ops += o;
            bytes += b;
            end += 1;
        }
        batches.push(start..end);
        start = end;
    }
    batches
}

/// Read `/controller_epoch` and increment it conditionally (docs/zookeeper-layout.md): the new epoch and the
/// znode version our writes are fenced with. `Ok(None)` when another controller changed it
/// between our read and our write (0.8.2 carried on with the old epoch there; we resign).
pub async fn increment_controller_epoch(zk: &ZkClient) -> Result<Option<EpochFence>, FenceError> {
    match zk.get_data(paths::CONTROLLER_EPOCH).await? {
        Some((data, stat)) => {
            let epoch = json::parse_int("controller epoch", &data)
                .ok()
                .and_then(|e| i32::try_from(e).ok())
                .ok_or_else(|| FenceError::Zk(ZkError::Other(format!("{} is not an int", paths::CONTROLLER_EPOCH))))?;
            let next = epoch
                .checked_add(1)
                .ok_or_else(|| FenceError::Zk(ZkError::Other("controller epoch overflow".into())))?;
            // A plain versioned set, not conditional_update: another controller writing the
            // same next epoch must be a conflict, not our own retried write.
            match zk.raw().set_data(paths::CONTROLLER_EPOCH, next.to_string().as_bytes(), Some(stat.version)).await {
                Ok(new_stat) => Ok(Some(EpochFence { epoch: next, epoch_zk_version: new_stat.version })),
                Err(zkc::Error::BadVersion) | Err(zkc::Error::NoNode) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        None => match zk.create_persistent(paths::CONTROLLER_EPOCH, b"1").await {
            Ok(()) => Ok(Some(EpochFence { epoch: 1, epoch_zk_version: 0 })),
            Err(ZkError::NodeExists) => Ok(None),
            Err(e) => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(p: i32, parents: usize) -> StateWrite {
        let tp = TopicPartition::new("t", p);
        let parents = (0..parents).map(|i| format!("/brokers/topics/t/partitions/{}{}", p, i)).collect();
        StateWrite::create(&tp, parents, &PartitionState::new(1, 0, vec![1, 2, 3], 1))
    }

    fn check_limits(writes: &[StateWrite], batches: &[std::ops::Range<usize>]) {
        let mut next = 0;
        for b in batches {
            assert_eq!(b.start, next, "consecutive, nothing skipped");
            next = b.end;
            let ops: usize = 1 + writes[b.clone()].iter().map(|w| w.ops()).sum::<usize>();
            let bytes: usize = writes[b.clone()].iter().map(|w| w.estimated_bytes()).sum::<usize>();
            assert!(ops <= MAX_MULTI_OPS, "{} ops", ops);
            assert!(bytes <= MAX_MULTI_BYTES, "{} bytes", bytes);
        }
        assert_eq!(next, writes.len());
    }

    #[test]
    fn batches_stay_under_the_operation_limit() {
        // 1 check + 2 ops per write: 499 writes fit in a multi of 999 ops, not 500.
        let writes: Vec<StateWrite> = (0..1500).map(|p| create(p, 1)).collect();
        let batches = plan_batches(&writes);
        check_limits(&writes, &batches);
        assert_eq!(batches[0], 0..499);
        assert_eq!(batches.len(), 4);
        assert!(plan_batches(&[]).is_empty());
    }

    #[test]
    fn batches_stay_under_the_byte_limit() {
        let big = vec![b'x'; 100 * 1024];
        let writes: Vec<StateWrite> = (0..12)
            .map(|p| StateWrite::Update { path: format!("/p/{}", p), data: big.clone(), expected_version: 0 })
            .collect();
        let batches = plan_batches(&writes);
        check_limits(&writes, &batches);
        assert_eq!(batches.len(), 3, "five 100 KiB writes per 512 KiB multi");
        // One write above the limit still goes, alone.
        let huge = vec![StateWrite::Update { path: "/p".into(), data: vec![0; MAX_MULTI_BYTES], expected_version: 0 }];
        assert_eq!(plan_batches(&huge), vec![0..1]);
    }
}
