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
//! Every pass is a [`PartitionStateChange::deletion`] of the decision core: the requests
//! (UpdateMetadata with leader -2, StopReplica with delete) and the znode deletes are its
//! effects, decided by `selector::deletion_step`; this file keeps the answers between
//! passes.
//!
//! Like `reassignment`, a child module of `kafka_controller` declared there with a path.

use super::{ControllerError, Event, EventLoop, WatchKey};
use crate::controller::change::{DeletionPass, PartitionStateChange};
use crate::zk::{paths, QueryError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::oneshot;

/// How often the controller re-checks deletions waiting for brokers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// One topic being deleted.
#[derive(Debug, Default)]
pub(super) struct TopicDeletion {
    /// The assignment it had when its deletion started.
    assignment: BTreeMap<i32, Vec<i32>>,
    /// No pass has run yet (the topic is still in the model).
    starting: bool,
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

    /// Stop watching the topic; the first pass takes it out of the model.
    fn start_topic_deletion(&mut self, topic: &str) -> Result<(), ControllerError> {
        self.disarm(&WatchKey::Topic(topic.to_string()));
        let assignment = self.active_mut()?.ctx.assignments.get(topic).cloned().unwrap_or_default();
        self.deletions.topics.insert(topic.to_string(), TopicDeletion { assignment, starting: true, ..Default::default() });
        Ok(())
    }

    /// One pass over a topic being deleted; `true` when it is complete.
    async fn continue_topic_deletion(&mut self, topic: &str) -> Result<bool, ControllerError> {
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
        let pass = DeletionPass {
            topic: topic.to_string(),
            assignment: d.assignment.clone(),
            answered: d.answered.clone(),
            asked: d.asked.keys().copied().collect(),
            start: d.starting,
        };
        let change = self.run_change(PartitionStateChange::deletion(pass)).await?;
        let Some(d) = self.deletions.topics.get_mut(topic) else { return Ok(true) };
        // The first pass took the topic out of the model.
        d.starting = false;
        d.asked.extend(change.answers);
        if change.topic_deleted {
            self.deletions.topics.remove(topic);
            log::info!("deletion of topic {} completed", topic);
            return Ok(true);
        }
        Ok(false)
    }
}
