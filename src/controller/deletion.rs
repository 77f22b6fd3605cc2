//! Topic deletion (0.8.2 `TopicDeletionManager`, docs/zookeeper-layout.md), only with
//! `delete.topic.enable=true`; without it `/admin/delete_topics/<t>` markers stay, as in 0.8.2.
//!
//! A marked topic leaves the controller's model at once (no election, no LeaderAndIsr for it
//! any more, its assignment watch dropped); every broker gets UpdateMetadata with leader -2
//! for its partitions (brokers then answer UnknownTopicOrPartition), and every broker
//! hosting a replica gets StopReplica(delete=true). When each hosting broker has answered,
//! the topic's znodes go (`/brokers/topics/<t>` with its partition states,
//! `/config/topics/<t>`, the marker). A hosting broker that is down is asked again when it
//! is back ([`deletion_step`] is re-decided on every pass, polled on the controller loop),
//! so a deletion with a replica offline finishes when that broker returns instead of
//! hanging as 0.8.2's did. A topic with a reassignment in progress waits for it.
//!
//! Like `reassignment`, a child module of `kafka_controller` declared there with a path.

use super::{ControllerError, Event, EventLoop, WatchKey};
use crate::api::{PartitionState, UpdateMetadataRequest};
use crate::common::TopicPartition;
use crate::controller::context::ControllerRequest;
use crate::zk::{paths, QueryError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::oneshot;

/// How often the controller re-checks deletions waiting for brokers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The leader UpdateMetadata carries for a partition of a topic being deleted.
pub const LEADER_DURING_DELETE: i32 = -2;

/// What to do next for one topic being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionStep {
    /// Every hosting broker answered its StopReplica(delete): remove the znodes.
    Complete,
    /// Ask these (live, not yet asked) brokers to delete their replicas; wait for the rest.
    Ask(Vec<i32>),
}

/// `hosting`: brokers with a replica of the topic; `answered`: those that answered their
/// StopReplica(delete); `asked`: those with a request on its way; `live`: registered brokers.
pub fn deletion_step(
    hosting: &BTreeSet<i32>,
    answered: &BTreeSet<i32>,
    asked: &BTreeSet<i32>,
    live: &BTreeSet<i32>,
) -> DeletionStep {
    if hosting.is_subset(answered) {
        return DeletionStep::Complete;
    }
    DeletionStep::Ask(
        hosting.iter().copied().filter(|b| !answered.contains(b) && !asked.contains(b) && live.contains(b)).collect(),
    )
}

/// One topic being deleted.
#[derive(Debug, Default)]
pub(super) struct TopicDeletion {
    /// The assignment it had when its deletion started.
    assignment: BTreeMap<i32, Vec<i32>>,
    answered: BTreeSet<i32>,
    asked: BTreeMap<i32, oneshot::Receiver<()>>,
}

/// The event loop's deletion state.
#[derive(Debug, Default)]
pub(super) struct Deletions {
    pub topics: BTreeMap<String, TopicDeletion>,
    pub poll_scheduled: bool,
}

impl Deletions {
    /// Whether `topic` is being deleted (the topic handlers leave it alone).
    pub fn contains(&self, topic: &str) -> bool {
        self.topics.contains_key(topic)
    }
}

impl EventLoop {
    /// `/admin/delete_topics` changed, a poll came due, or this broker just became the
    /// controller: start the deletion of newly marked topics, take the others further.
    pub(super) async fn on_topic_deletion(&mut self, poll: bool) -> Result<(), ControllerError> {
        if poll {
            self.deletions.poll_scheduled = false;
        }
        if self.active.is_none() || !self.config.delete_topic_enable {
            return Ok(());
        }
        let (marked, fired) = self.zk.watch_topics_marked_for_deletion().await?;
        self.arm(WatchKey::DeleteTopics, fired, Event::TopicDeletion);
        let reassigning: BTreeSet<String> = match self.zk.partitions_being_reassigned().await {
            Ok(r) => r.unwrap_or_default().into_iter().map(|(tp, _)| tp.topic).collect(),
            Err(QueryError::Corrupt(_)) => BTreeSet::new(),
            Err(QueryError::Zk(e)) => return Err(e.into()),
        };
        let mut waiting = false;
        for topic in &marked {
            if self.deletions.contains(topic) {
                continue;
            }
            if !self.active_mut()?.ctx.assignments.contains_key(topic) {
                if !self.zk.topic_exists(topic).await? {
                    log::info!("deleting the marker of topic {}, which does not exist", topic);
                    self.zk.delete(&paths::delete_topic_marker(topic)).await?;
                }
                continue;
            }
            if reassigning.contains(topic) {
                log::info!("deletion of topic {} waits for its partition reassignment", topic);
                waiting = true;
                continue;
            }
            self.start_topic_deletion(topic)?;
        }
        let topics: Vec<String> = self.deletions.topics.keys().cloned().collect();
        for topic in topics {
            if !self.continue_topic_deletion(&topic).await? {
                waiting = true;
            }
        }
        if waiting && !self.deletions.poll_scheduled {
            self.deletions.poll_scheduled = true;
            self.schedule(Event::TopicDeletionPoll, POLL_INTERVAL);
        }
        Ok(())
    }

    /// Forget the topic in the model and tell every broker it is going (leader -2).
    fn start_topic_deletion(&mut self, topic: &str) -> Result<(), ControllerError> {
        self.disarm(&WatchKey::Topic(topic.to_string()));
        let broker_id = self.broker_id;
        let active = self.active_mut()?;
        let assignment = active.ctx.assignments.get(topic).cloned().unwrap_or_default();
        log::info!("deleting topic {} (partitions {:?})", topic, assignment.keys().collect::<Vec<_>>());
        let request = UpdateMetadataRequest {
            controller_id: broker_id,
            controller_epoch: active.ctx.epoch,
            partition_states: assignment
                .iter()
                .map(|(p, replicas)| PartitionState {
                    topic: topic.to_string(),
                    partition: *p,
                    controller_epoch: active.ctx.epoch,
                    leader: LEADER_DURING_DELETE,
                    leader_epoch: -1,
                    isr: vec![],
                    zk_version: -1,
                    replicas: replicas.clone(),
                })
                .collect(),
            alive_brokers: active.ctx.live_brokers.values().cloned().collect(),
        };
        for b in active.ctx.live_or_shutting_down_ids() {
            active.channels.send(b, ControllerRequest::UpdateMetadata(request.clone()));
        }
        active.ctx.remove_topic(topic);
        self.deletions.topics.insert(topic.to_string(), TopicDeletion { assignment, ..Default::default() });
        Ok(())
    }

    /// One pass over a topic being deleted; `true` when it is complete.
    async fn continue_topic_deletion(&mut self, topic: &str) -> Result<bool, ControllerError> {
        let broker_id = self.broker_id;
        let active = self.active.as_mut().ok_or_else(|| ControllerError::Moved("not the controller any more".into()))?;
        let Some(d) = self.deletions.topics.get_mut(topic) else { return Ok(true) };
        // Collect answers; a dropped request (broker gone, queue full) is asked again later.
        let mut settled = Vec::new();
        for (b, rx) in d.asked.iter_mut() {
            match rx.try_recv() {
                Ok(()) => {
                    d.answered.insert(*b);
                    settled.push(*b);
                }
                Err(oneshot::error::TryRecvError::Closed) => settled.push(*b),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        for b in settled {
            d.asked.remove(&b);
        }
        let hosting: BTreeSet<i32> = d.assignment.values().flatten().copied().collect();
        let asked: BTreeSet<i32> = d.asked.keys().copied().collect();
        match deletion_step(&hosting, &d.answered, &asked, &active.ctx.live_or_shutting_down_ids()) {
            DeletionStep::Ask(brokers) => {
                for b in brokers {
                    let partitions: Vec<TopicPartition> = d
                        .assignment
                        .iter()
                        .filter(|(_, r)| r.contains(&b))
                        .map(|(p, _)| TopicPartition::new(topic, *p))
                        .collect();
                    let request = active.ctx.stop_replica_request(broker_id, true, &partitions);
                    log::info!("asking broker {} to delete its replicas of topic {}", b, topic);
                    d.asked.insert(b, active.channels.send_tracked(b, ControllerRequest::StopReplica(request)));
                }
                Ok(false)
            }
            DeletionStep::Complete => {
                crate::zk::state::delete_topic_znodes(&self.zk, topic).await?;
                self.zk.delete_recursive(&paths::topic_config(topic)).await?;
                self.zk.delete(&paths::delete_topic_marker(topic)).await?;
                self.deletions.topics.remove(topic);
                log::info!("deletion of topic {} completed", topic);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i32]) -> BTreeSet<i32> {
        ids.iter().copied().collect()
    }

    #[test]
    fn every_live_hosting_broker_is_asked_once() {
        let step = deletion_step(&set(&[1, 2, 3]), &set(&[]), &set(&[]), &set(&[1, 2, 3]));
        assert_eq!(step, DeletionStep::Ask(vec![1, 2, 3]));
        let step = deletion_step(&set(&[1, 2, 3]), &set(&[1]), &set(&[2]), &set(&[1, 2, 3]));
        assert_eq!(step, DeletionStep::Ask(vec![3]));
    }

    #[test]
    fn a_dead_hosting_broker_holds_the_deletion_until_it_returns() {
        let hosting = set(&[1, 2, 3]);
        assert_eq!(deletion_step(&hosting, &set(&[1, 2]), &set(&[]), &set(&[1, 2])), DeletionStep::Ask(vec![]));
        assert_eq!(deletion_step(&hosting, &set(&[1, 2]), &set(&[]), &set(&[1, 2, 3])), DeletionStep::Ask(vec![3]));
        assert_eq!(deletion_step(&hosting, &set(&[1, 2, 3]), &set(&[]), &set(&[1, 2])), DeletionStep::Complete);
    }
}
