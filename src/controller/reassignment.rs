//! Partition reassignment (0.8.2 `KafkaController.onPartitionReassignment`,
//! docs/zookeeper-layout.md): RAR = the reassigned replicas asked for in
//! `/admin/reassign_partitions`, OAR = the original ones, AR = what `/brokers/topics/<t>`
//! holds now.
//!
//! For each partition: AR := OAR + (RAR − OAR) and a leader-epoch bump, so the new replicas
//! learn the partition (LeaderAndIsr) and start following; then, once every RAR member is
//! in the ISR the leader writes, a leader from RAR (the current one if it is in RAR), the
//! ISR cut to RAR, StopReplica(delete) to OAR − RAR, AR := RAR, and the partition leaves the
//! admin znode (deleted when empty). Every step is decided from ZooKeeper as it is now by
//! `selector::reassignment_step`, so a new controller resumes where the old one stopped (OAR stays
//! durable inside AR until the last write) and a repeated step is harmless. The AR
//! extension, the leader/ISR writes, the requests to brokers (LeaderAndIsr with the bumped
//! epoch to the new replicas; StopReplica without, then with delete to the old ones) and
//! AR := RAR are decided by the controller's one routine for partition state changes
//! (`change`, [`change::ChangeKind::Reassignment`]); this file keeps the admin znode.
//!
//! Departures from 0.8.2: the controller polls the state znodes of in-flight partitions on
//! its own loop ([`POLL_INTERVAL`]) instead of a watch per partition (0.8.2 missed ISR
//! changes made between two watch registrations and hung); a partition whose new replicas
//! never join stays "in progress" without holding up the others; a RAR broker that dies
//! after the move started makes the partition wait for it instead of failing it with AR
//! left at OAR + RAR.
//!
//! This file is a child module of `kafka_controller` (declared there with a path), so the
//! driver can be an `impl EventLoop` without widening the event loop's fields.

use super::{ControllerError, Event, EventLoop, WatchKey};
use crate::admin::{reassignment_json, Reassignment};
use crate::common::TopicPartition;
use crate::controller::change::PartitionStateChange;
use crate::zk::{paths, ZkError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How often the controller re-reads the state of partitions waiting for their new
/// replicas to join the ISR.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

use super::super::selector::ReassignmentStep;

/// The event loop's reassignment state.
#[derive(Debug, Default)]
pub(super) struct Reassignments {
    /// A poll is scheduled (one at a time).
    pub poll_scheduled: bool,
}

impl EventLoop {
    /// `/admin/reassign_partitions` changed, a poll came due, or this broker just became the
    /// controller: take every listed partition one step further.
    pub(super) async fn on_partition_reassignment(&mut self, poll: bool) -> Result<(), ControllerError> {
        if poll {
            self.reassignments.poll_scheduled = false;
        }
        if self.active.is_none() {
            return Ok(());
        }
        let (read, fired) = self.zk.watch_partitions_being_reassigned().await?;
        self.arm(WatchKey::ReassignPartitions, fired, Event::ReassignPartitions);
        let (asked, version) = match read {
            Ok(None) => return Ok(()),
            Ok(Some(r)) => r,
            Err(e) => {
                // Nothing can act on it, and it would block every later reassignment.
                log::error!("deleting unreadable {}", e);
                self.zk.delete(paths::REASSIGN_PARTITIONS).await?;
                return Ok(());
            }
        };
        // The last entry of a partition wins, as 0.8.2 read the node into a map.
        let mut targets: BTreeMap<TopicPartition, Vec<i32>> = BTreeMap::new();
        for (tp, rar) in &asked {
            targets.insert(tp.clone(), rar.clone());
        }
        let asked_partitions = targets.len();
        let mut finished: BTreeSet<TopicPartition> = BTreeSet::new();
        let active = self.active_mut()?;
        targets.retain(|tp, _| {
            let exists = active.ctx.replicas(tp).is_some();
            if !exists {
                log::error!("reassignment of partition {} failed: it does not exist", tp);
                finished.insert(tp.clone());
            }
            exists
        });
        // Every leader/ISR change (and the AR extension before it), the requests, and
        // AR := RAR of completed partitions go through the one routine; what remains here
        // is the admin znode.
        let change = self.run_change(PartitionStateChange::reassignment(targets.clone())).await?;
        for (tp, rar) in &targets {
            match change.steps.get(tp) {
                None => log::debug!("reassignment of partition {} waits for a readable state", tp),
                Some(ReassignmentStep::Fail(why)) => {
                    log::error!("reassignment of partition {} to {:?} failed: {}", tp, rar, why);
                    finished.insert(tp.clone());
                }
                Some(ReassignmentStep::Done) => {
                    log::info!("reassignment of partition {} to {:?} completed", tp, rar);
                    finished.insert(tp.clone());
                }
                Some(ReassignmentStep::Wait { missing }) => {
                    log::debug!("reassignment of partition {} waits for {:?} to join the ISR", tp, missing)
                }
                Some(ReassignmentStep::StartNewReplicas { .. }) | Some(ReassignmentStep::Complete { .. }) => {}
            }
        }
        // Completed partitions leave the node at the next pass, when AR reads RAR (Done).
        self.remove_reassigned(&asked, &finished, version).await?;
        if finished.len() < asked_partitions && !self.reassignments.poll_scheduled {
            self.reassignments.poll_scheduled = true;
            self.schedule(Event::ReassignmentPoll, POLL_INTERVAL);
        }
        Ok(())
    }

    /// Drop `finished` from `/admin/reassign_partitions`, deleting it when nothing is left;
    /// conditional on the version read, so an entry added meanwhile is not lost (the write
    /// is retried at the next pass).
    async fn remove_reassigned(
        &mut self,
        asked: &Reassignment,
        finished: &BTreeSet<TopicPartition>,
        version: i32,
    ) -> Result<(), ControllerError> {
        if finished.is_empty() {
            return Ok(());
        }
        let left: Reassignment = asked.iter().filter(|(tp, _)| !finished.contains(tp)).cloned().collect();
        let result = if left.is_empty() {
            log::info!("no more partitions need to be reassigned; deleting {}", paths::REASSIGN_PARTITIONS);
            self.zk.delete_versioned(paths::REASSIGN_PARTITIONS, version).await
        } else {
            self.zk.set_data(paths::REASSIGN_PARTITIONS, reassignment_json(&left).as_bytes(), Some(version)).await.map(drop)
        };
        match result {
            Ok(()) | Err(ZkError::NoNode) => Ok(()),
            Err(ZkError::BadVersion) => {
                if !self.reassignments.poll_scheduled {
                    self.reassignments.poll_scheduled = true;
                    self.schedule(Event::ReassignmentPoll, POLL_INTERVAL);
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
