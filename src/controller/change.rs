//! The decision core: one routine that changes partition states, for every controller
//! operation that moves leaders or shrinks ISRs (election of new and offline partitions,
//! failover, broker failure and start-up, controlled shutdown, preferred replica election,
//! the automatic rebalance, the steps of a partition reassignment) and for each pass of a
//! topic deletion.
//!
//! [`PartitionStateChange::step`] is pure: from the controller's context and the result of
//! the last effect it returns the next [`Effect`] (states to read, topic configs and
//! partition nodes to read, fenced writes to make, requests to send to brokers, znodes of a
//! deleted topic to remove), the raft-rs `RawNode`/`Ready` split. [`run`] is the one loop
//! that performs effects through a [`ControllerStore`] and a [`RequestSink`] (the channels
//! to brokers) and feeds the results back. A write that meets a concurrent change
//! (BadVersion, NodeExists) makes the partition read and decide again, at most
//! [`MAX_ROUNDS`] times.
//!
//! What a change tells which broker is decided here too, batched as 0.8.2's
//! `ControllerBrokerRequestBatch` (one request of each kind per broker per change): the
//! written partitions go in LeaderAndIsr to each decision's recipients and in
//! UpdateMetadata to every broker, plus what the occasion asks (a failover tells every
//! replica all its partitions; a broker start-up first gives the new brokers the whole
//! cluster; a controlled shutdown first stops the broker's followers, StopReplica without
//! delete, and waits for its answers; a completed reassignment stops then deletes the old
//! replicas, StopReplica without then with delete; a deletion tells every broker the topic
//! is going, leader -2, and asks each live hosting broker to delete its replicas).
//!
//! A reassignment step may also extend a partition's replica list (AR): that is written to
//! `/brokers/topics/<t>` ([`Effect::WriteAssignments`]) before the state write whose
//! LeaderAndIsr carries it, and a state write of such a partition that meets a concurrent
//! change is made again on the fresh state (else the new replicas would never hear of it). The context only
//! learns a decision once its write is confirmed; an error (a fence, an expired session)
//! ends the change with the decisions of the failed batch unbelieved.

use super::context::{ControllerContext, LeaderIsrAndControllerEpoch};
use super::selector::{
    controlled_shutdown_change, decide_online, new_partition_leader, preferred_replica_leader, Election, OnlineMode,
    SelectionError, NO_LEADER,
};
use super::selector::{reassignment_step, ReassignmentStep};
use super::channel::RequestSink;
use super::context::{ControllerRequest, RequestBatch};
use super::selector::{deletion_step, DeletionStep};
use super::store::ControllerStore;
use crate::api::{PartitionState as RequestPartitionState, UpdateMetadataRequest};
use crate::server::LEADER_DURING_DELETE;
use tokio::sync::oneshot;
use crate::zk::state::{EpochFence, FenceError, StateRead, StateWrite, WriteOutcome};
use crate::common::{Properties, TopicPartition};
use crate::zk::json::PartitionState;
use crate::zk::paths;
use std::collections::{BTreeMap, BTreeSet};

/// Read-decide-write cycles per partition before a change gives up (a conflict means a
/// leader changed the ISR between our read and our write).
pub const MAX_ROUNDS: usize = 5;

const UNCLEAN_KEY: &str = "unclean.leader.election.enable";

/// What a change does to each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New/Offline → Online (failover, broker start-up and failure, new partitions).
    Online(OnlineMode),
    /// Take this broker (in controlled shutdown) out of leadership and ISRs.
    ControlledShutdown(i32),
    /// Move leadership to the preferred replica (preferred election, auto rebalance).
    PreferredReplica,
    /// One step of each partition towards its target replicas
    /// ([`PartitionStateChange::reassignment`]).
    Reassignment,
    /// One pass of a topic deletion ([`PartitionStateChange::deletion`]): no state write.
    Deletion,
}

impl ChangeKind {
    fn what(&self) -> String {
        match self {
            ChangeKind::Online(_) => "leader election".into(),
            ChangeKind::ControlledShutdown(b) => format!("controlled shutdown of broker {}", b),
            ChangeKind::PreferredReplica => "preferred replica election".into(),
            ChangeKind::Reassignment => "reassignment".into(),
            ChangeKind::Deletion => "topic deletion".into(),
        }
    }
}

/// The next thing [`run`] must do for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    ReadStates(Vec<TopicPartition>),
    /// Topic configs (for `unclean.leader.election.enable`) and the children of
    /// `/brokers/topics/<t>/partitions` (for first state znodes).
    ReadTopics {
        configs: Vec<String>,
        children: Vec<String>,
    },
    Write(Vec<StateWrite>),
    /// Rewrite `/brokers/topics/<t>` with these assignments (unconditional, as 0.8.2).
    WriteAssignments(Vec<(String, BTreeMap<i32, Vec<i32>>)>),
    /// Queue these requests on the brokers' channels, in order (answered with
    /// [`Input::Sent`]).
    Send(Vec<Outgoing>),
    /// Remove a deleted topic's znodes: `/brokers/topics/<t>` with its partition states,
    /// `/config/topics/<t>`, and its `/admin/delete_topics/<t>` marker.
    DeleteTopic(String),
    Done,
}

/// One request of an [`Effect::Send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub broker: i32,
    pub request: ControllerRequest,
    /// The caller wants to know when the broker answered (see
    /// [`PartitionStateChange::answers`]).
    pub tracked: bool,
}

/// Where a topic deletion stands when a pass of it starts ([`PartitionStateChange::deletion`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionPass {
    pub topic: String,
    /// The assignment the topic had when its deletion started.
    pub assignment: BTreeMap<i32, Vec<i32>>,
    /// Brokers that answered their StopReplica(delete).
    pub answered: BTreeSet<i32>,
    /// Brokers with a StopReplica(delete) on its way.
    pub asked: BTreeSet<i32>,
    /// The first pass: the topic leaves the model and every broker hears it is going.
    pub start: bool,
}

/// Why a change runs: what it tells brokers besides its written partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Occasion {
    /// Only the written partitions (preferred election, rebalance, a plain election).
    Plain,
    /// Every live replica learns all its partitions, every broker the whole cluster.
    Failover,
    /// The new partitions with a leader go to their live replicas, all of them to every broker.
    NewPartitions(Vec<TopicPartition>),
    /// The new brokers get the whole cluster first, then LeaderAndIsr for their partitions;
    /// every broker the whole cluster at the end.
    BrokerStartup(Vec<i32>),
    /// Every broker gets the whole cluster.
    BrokerFailure,
    /// The broker first gets StopReplica (no delete) for the partitions it follows; every
    /// request to it is tracked.
    ControlledShutdown(i32),
    /// Completed partitions: AR := RAR, old replicas stopped then deleted, AR written.
    Reassignment,
    Deletion(DeletionPass),
}

/// The result of the last effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Start,
    States(Vec<StateRead>),
    Topics { configs: Vec<(String, Option<Properties>)>, children: Vec<(String, Option<Vec<String>>)> },
    Written(Vec<WriteOutcome>),
    AssignmentsWritten,
    Sent,
    TopicDeleted,
}

/// A decided state waiting for its write.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    partition: TopicPartition,
    state: LeaderIsrAndControllerEpoch,
    recipients: Vec<i32>,
}

#[derive(Debug)]
enum Phase {
    Idle,
    /// The occasion's first requests are out; then the reads.
    AwaitFirstSent,
    AwaitStates,
    AwaitTopics(Vec<StateRead>),
    AwaitAssignments(Vec<Planned>, Vec<StateWrite>),
    AwaitWritten(Vec<Planned>),
    /// The change's requests are out; what follows them (AR := RAR, a topic's znodes).
    AwaitSent,
    AwaitFinalAssignments,
    AwaitTopicDeleted,
    Finished,
}

/// One change of partition states in progress (see the module documentation).
#[derive(Debug)]
pub struct PartitionStateChange {
    kind: ChangeKind,
    /// `unclean.leader.election.enable` of the broker, overridden per topic.
    default_unclean: bool,
    pending: Vec<TopicPartition>,
    rounds: usize,
    phase: Phase,
    unclean_by_topic: BTreeMap<String, bool>,
    /// Per topic: whether `partitions` exists and which partition nodes do.
    partition_nodes: BTreeMap<String, (bool, BTreeSet<String>)>,
    /// Partitions written, with the brokers that must get a LeaderAndIsr.
    pub written: Vec<(TopicPartition, Vec<i32>)>,
    /// Unclean elections among the written decisions.
    pub unclean_elections: u64,
    /// Partitions still conflicting after [`MAX_ROUNDS`].
    pub gave_up: Vec<TopicPartition>,
    /// Reassignment: the target replicas (RAR) of each partition.
    targets: BTreeMap<TopicPartition, Vec<i32>>,
    /// Reassignment: partitions whose AR this change extended; their epoch bump is owed
    /// even when the first write of it meets a concurrent change.
    starting: BTreeSet<TopicPartition>,
    /// Reassignment: the last step decided for each partition read.
    pub steps: BTreeMap<TopicPartition, ReassignmentStep>,
    occasion: Occasion,
    /// Requests collected for the change's one send (LeaderAndIsr, UpdateMetadata, StopReplica).
    batch: RequestBatch,
    /// Reassignment: topics whose AR := RAR is written after the requests.
    completed_topics: BTreeSet<String>,
    /// Filled by [`run`]: for each tracked request, its broker and the answer's receiver.
    pub answers: Vec<(i32, oneshot::Receiver<()>)>,
    /// Deletion: the topic's znodes are gone.
    pub topic_deleted: bool,
}

impl PartitionStateChange {
    pub fn new(kind: ChangeKind, partitions: Vec<TopicPartition>, default_unclean: bool) -> PartitionStateChange {
        PartitionStateChange {
            kind,
            default_unclean,
            pending: partitions,
            rounds: 0,
            phase: Phase::Idle,
            unclean_by_topic: BTreeMap::new(),
            partition_nodes: BTreeMap::new(),
            written: Vec::new(),
            unclean_elections: 0,
            gave_up: Vec::new(),
            targets: BTreeMap::new(),
            starting: BTreeSet::new(),
            steps: BTreeMap::new(),
            occasion: match kind {
                ChangeKind::ControlledShutdown(b) => Occasion::ControlledShutdown(b),
                ChangeKind::Reassignment => Occasion::Reassignment,
                _ => Occasion::Plain,
            },
            batch: RequestBatch::new(),
            completed_topics: BTreeSet::new(),
            answers: Vec::new(),
            topic_deleted: false,
        }
    }

    /// A new controller's repair (0.8.2 `onControllerFailover`): elect where the leader is
    /// gone and take dead replicas out of ISRs (brokers that died while there was no
    /// controller), then tell every live replica all its partitions and every broker the
    /// whole cluster.
    pub fn failover(ctx: &ControllerContext, default_unclean: bool) -> PartitionStateChange {
        let repair = ctx.partitions_needing_repair();
        let mut change = PartitionStateChange::new(ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), repair, default_unclean);
        change.occasion = Occasion::Failover;
        change
    }

    /// New → Online for partitions just seen (0.8.2 `onNewPartitionCreation`); a partition
    /// whose replicas are all dead stays New and is elected when one of them starts.
    pub fn new_partitions(partitions: Vec<TopicPartition>, default_unclean: bool) -> PartitionStateChange {
        let mut change = PartitionStateChange::new(
            ChangeKind::Online(OnlineMode::ElectIfOffline),
            partitions.clone(),
            default_unclean,
        );
        change.occasion = Occasion::NewPartitions(partitions);
        change
    }

    /// 0.8.2 `onBrokerStartup` of brokers already in `ctx.live_brokers`: they learn the
    /// cluster and their partitions, offline partitions are elected.
    pub fn broker_startup(ctx: &ControllerContext, new_ids: &[i32], default_unclean: bool) -> PartitionStateChange {
        let offline = ctx.offline_partitions();
        let mut change =
            PartitionStateChange::new(ChangeKind::Online(OnlineMode::ElectIfOffline), offline, default_unclean);
        change.occasion = Occasion::BrokerStartup(new_ids.to_vec());
        change
    }

    /// 0.8.2 `onBrokerFailure` of brokers already out of `ctx.live_brokers`: partitions they
    /// led get a new leader, they leave every ISR, every broker learns the cluster.
    pub fn broker_failure(ctx: &ControllerContext, dead: &BTreeSet<i32>, default_unclean: bool) -> PartitionStateChange {
        let affected: Vec<TopicPartition> = ctx
            .all_partitions()
            .into_iter()
            .filter(|tp| {
                let hosted = ctx.replicas(tp).is_some_and(|ar| ar.iter().any(|r| dead.contains(r)));
                let led = ctx.leadership.get(tp).is_some_and(|l| dead.contains(&l.leader));
                hosted || led
            })
            .collect();
        let mut change =
            PartitionStateChange::new(ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), affected, default_unclean);
        change.occasion = Occasion::BrokerFailure;
        change
    }

    /// 0.8.2 `KafkaController.shutdownBroker`: `broker` (put into `ctx.shutting_down`)
    /// leaves leadership and the ISRs of its replicated partitions with a known leadership.
    pub fn controlled_shutdown(ctx: &mut ControllerContext, broker: i32, default_unclean: bool) -> PartitionStateChange {
        ctx.shutting_down.insert(broker);
        let partitions = replicated_partitions_on(ctx, broker);
        PartitionStateChange::new(ChangeKind::ControlledShutdown(broker), partitions, default_unclean)
    }

    /// One pass of a topic deletion (0.8.2 `TopicDeletionManager`, see [`DeletionPass`]):
    /// the first one takes the topic out of the model and tells every broker (leader -2);
    /// each asks the live hosting brokers not yet asked to delete their replicas (tracked:
    /// [`Self::answers`]); once every hosting broker answered, the topic's znodes go
    /// ([`Self::topic_deleted`]). A dead hosting broker holds the deletion until it returns.
    pub fn deletion(pass: DeletionPass) -> PartitionStateChange {
        let mut change = PartitionStateChange::new(ChangeKind::Deletion, Vec::new(), false);
        change.occasion = Occasion::Deletion(pass);
        change
    }

    /// Take each partition one step towards `targets` (RAR), as
    /// [`reassignment_step`] decides from its state: extend AR and bump the leader epoch so
    /// the new replicas follow, or, once they are all in the ISR, a leader from RAR and the
    /// ISR cut to RAR. What the step was is in [`Self::steps`]; the caller completes what
    /// is not a leader/ISR change (AR := RAR, StopReplica of the old replicas, the admin
    /// znode).
    pub fn reassignment(targets: BTreeMap<TopicPartition, Vec<i32>>) -> PartitionStateChange {
        let mut change = PartitionStateChange::new(ChangeKind::Reassignment, targets.keys().cloned().collect(), false);
        change.targets = targets;
        change
    }

    /// Feed the result of the last effect; get the next one. Updates `ctx.leadership` with
    /// what it reads and with confirmed writes only.
    pub fn step(&mut self, ctx: &mut ControllerContext, input: Input) -> Effect {
        match (std::mem::replace(&mut self.phase, Phase::Finished), input) {
            (Phase::Idle, _) => match self.first_requests(ctx) {
                Some(effect) => {
                    self.phase = Phase::AwaitFirstSent;
                    effect
                }
                None => self.next_round(ctx),
            },
            (Phase::AwaitFirstSent, Input::Sent) => self.next_round(ctx),
            (Phase::AwaitStates, Input::States(reads)) => {
                let (configs, children) = self.topics_needed(ctx, &reads);
                if configs.is_empty() && children.is_empty() {
                    self.decide(ctx, reads)
                } else {
                    self.phase = Phase::AwaitTopics(reads);
                    Effect::ReadTopics { configs, children }
                }
            }
            (Phase::AwaitTopics(reads), Input::Topics { configs, children }) => {
                for (topic, props) in configs {
                    let unclean = unclean_enabled(&topic, props.as_ref(), self.default_unclean);
                    self.unclean_by_topic.insert(topic, unclean);
                }
                for (topic, nodes) in children {
                    let known = (nodes.is_some(), nodes.unwrap_or_default().into_iter().collect());
                    self.partition_nodes.insert(topic, known);
                }
                self.decide(ctx, reads)
            }
            (Phase::AwaitAssignments(planned, writes), Input::AssignmentsWritten) => {
                if planned.is_empty() {
                    return self.finish(ctx);
                }
                self.phase = Phase::AwaitWritten(planned);
                Effect::Write(writes)
            }
            (Phase::AwaitWritten(planned), Input::Written(outcomes)) => {
                self.pending.clear();
                for (p, outcome) in planned.into_iter().zip(outcomes) {
                    match outcome {
                        WriteOutcome::Written(version) => {
                            let mut state = p.state;
                            state.zk_version = version;
                            log::info!(
                                "partition {}: leader {} leader_epoch {} isr {:?} (controller epoch {})",
                                p.partition,
                                state.leader,
                                state.leader_epoch,
                                state.isr,
                                state.controller_epoch
                            );
                            ctx.leadership.insert(p.partition.clone(), state);
                            self.starting.remove(&p.partition);
                            self.written.push((p.partition, p.recipients));
                        }
                        WriteOutcome::Conflict(e) => {
                            log::info!("state of {} changed before our write ({}); reading it again", p.partition, e);
                            self.pending.push(p.partition);
                        }
                    }
                }
                self.next_round(ctx)
            }
            (Phase::AwaitSent, Input::Sent) => self.after_sent(ctx),
            (Phase::AwaitFinalAssignments, Input::AssignmentsWritten) | (Phase::AwaitTopicDeleted, Input::TopicDeleted) => {
                self.topic_deleted = matches!(self.occasion, Occasion::Deletion(_));
                Effect::Done
            }
            (phase, input) => {
                log::error!("partition state change: unexpected {:?} in phase {:?}", input, phase);
                Effect::Done
            }
        }
    }

    fn next_round(&mut self, ctx: &mut ControllerContext) -> Effect {
        if self.pending.is_empty() {
            return self.finish(ctx);
        }
        if self.rounds == MAX_ROUNDS {
            log::error!("gave up the {} of {:?} after {} attempts", self.kind.what(), self.pending, MAX_ROUNDS);
            self.gave_up = std::mem::take(&mut self.pending);
            return self.finish(ctx);
        }
        self.rounds += 1;
        self.phase = Phase::AwaitStates;
        Effect::ReadStates(self.pending.clone())
    }

    /// What the occasion sends before any read (see [`Occasion`]).
    fn first_requests(&mut self, ctx: &ControllerContext) -> Option<Effect> {
        let mut first = RequestBatch::new();
        let tracked = match &self.occasion {
            Occasion::BrokerStartup(ids) => {
                // The new brokers learn the whole cluster first (0.8.2 did so to speed up
                // restarts), then, with the elections, the partitions they host.
                first.add_update_metadata_all(ids.iter().copied());
                for &id in ids {
                    for tp in ctx.partitions_on_broker(id) {
                        if ctx.leadership.contains_key(&tp) {
                            self.batch.add_leader_and_isr([id], &tp);
                        }
                    }
                }
                None
            }
            Occasion::ControlledShutdown(b) => {
                // It stops fetching the partitions it follows before it leaves their ISRs.
                for tp in &self.pending {
                    if ctx.leadership.get(tp).is_some_and(|l| l.leader != *b) {
                        first.add_stop_replica(*b, tp);
                    }
                }
                Some(*b)
            }
            _ => return None,
        };
        let requests = outgoing(first.build(ctx, ctx.controller_id), tracked);
        (!requests.is_empty()).then_some(Effect::Send(requests))
    }

    /// The decisions are made: the change's requests, then what follows them.
    fn finish(&mut self, ctx: &mut ControllerContext) -> Effect {
        let mut batch = std::mem::take(&mut self.batch);
        for (tp, recipients) in &self.written {
            batch.add_leader_and_isr(recipients.iter().copied(), tp);
        }
        let live = ctx.live_broker_ids();
        let everyone = ctx.live_or_shutting_down_ids();
        let mut tracked = None;
        let mut extra = Vec::new();
        match &self.occasion {
            Occasion::Plain => {}
            Occasion::Failover => {
                for tp in ctx.leadership.keys() {
                    if let Some(ar) = ctx.replicas(tp) {
                        batch.add_leader_and_isr(ar.iter().copied().filter(|r| live.contains(r)), tp);
                    }
                }
                batch.add_update_metadata_all(everyone);
            }
            Occasion::NewPartitions(partitions) => {
                for tp in partitions {
                    // Also partitions another controller initialised first (NodeExists): re-read.
                    if ctx.leadership.contains_key(tp) {
                        if let Some(ar) = ctx.replicas(tp) {
                            batch.add_leader_and_isr(ar.iter().copied().filter(|r| live.contains(r)), tp);
                        }
                    }
                    batch.add_update_metadata(everyone.iter().copied(), tp);
                }
            }
            Occasion::BrokerStartup(_) | Occasion::BrokerFailure => batch.add_update_metadata_all(everyone),
            Occasion::ControlledShutdown(b) => tracked = Some(*b),
            Occasion::Reassignment => {
                // Completed partitions: AR := RAR in the model (the LeaderAndIsr carry it),
                // the old replicas stopped, then deleted (0.8.2 moved them to
                // OfflineReplica, then ReplicaDeletionStarted); AR := RAR in ZooKeeper
                // after the requests.
                let written: BTreeSet<&TopicPartition> = self.written.iter().map(|(tp, _)| tp).collect();
                for (tp, step) in &self.steps {
                    let ReassignmentStep::Complete { remove, .. } = step else { continue };
                    let Some(rar) = self.targets.get(tp) else { continue };
                    if !written.contains(tp) {
                        continue; // the leader changed the ISR meanwhile: next poll
                    }
                    if let Some(parts) = ctx.assignments.get_mut(&tp.topic) {
                        parts.insert(tp.partition, rar.clone());
                    }
                    for r in remove {
                        batch.add_stop_replica(*r, tp);
                        batch.add_stop_replica_delete(*r, tp);
                    }
                    self.completed_topics.insert(tp.topic.clone());
                }
            }
            Occasion::Deletion(pass) => extra = deletion_requests(ctx, pass),
        }
        let mut requests = outgoing(batch.build(ctx, ctx.controller_id), tracked);
        if let Occasion::Deletion(pass) = &mut self.occasion {
            pass.asked.extend(extra.iter().filter(|o| o.tracked).map(|o| o.broker));
            if pass.start {
                ctx.remove_topic(&pass.topic);
            }
        }
        requests.extend(extra);
        if requests.is_empty() {
            return self.after_sent(ctx);
        }
        self.phase = Phase::AwaitSent;
        Effect::Send(requests)
    }

    /// After the change's requests: AR := RAR of completed reassignments, or the znodes of
    /// a topic whose every hosting broker deleted its replicas.
    fn after_sent(&mut self, ctx: &ControllerContext) -> Effect {
        if !self.completed_topics.is_empty() {
            let docs = std::mem::take(&mut self.completed_topics)
                .into_iter()
                .filter_map(|t| ctx.assignments.get(&t).cloned().map(|a| (t, a)))
                .collect();
            self.phase = Phase::AwaitFinalAssignments;
            return Effect::WriteAssignments(docs);
        }
        if let Occasion::Deletion(pass) = &self.occasion {
            let hosting: BTreeSet<i32> = pass.assignment.values().flatten().copied().collect();
            if hosting.is_subset(&pass.answered) {
                self.phase = Phase::AwaitTopicDeleted;
                return Effect::DeleteTopic(pass.topic.clone());
            }
        }
        self.phase = Phase::Finished;
        Effect::Done
    }

    /// Whether deciding `state` of `tp` needs the topic's unclean election setting.
    fn needs_unclean(&self, ctx: &ControllerContext, live: &BTreeSet<i32>, state: &PartitionState) -> bool {
        match self.kind {
            ChangeKind::Online(mode) => {
                let leader_alive = state.leader != NO_LEADER && live.contains(&state.leader);
                let isr_alive = state.isr.iter().all(|r| live.contains(r));
                !(leader_alive && (isr_alive || mode == OnlineMode::ElectIfOffline))
                    && state.controller_epoch <= ctx.epoch
            }
            // The topic's setting only matters when the broker is the last ISR member.
            ChangeKind::ControlledShutdown(b) => state.leader != b && state.isr == [b],
            ChangeKind::PreferredReplica | ChangeKind::Reassignment | ChangeKind::Deletion => false,
        }
    }

    fn topics_needed(&self, ctx: &ControllerContext, reads: &[StateRead]) -> (Vec<String>, Vec<String>) {
        let live = ctx.live_broker_ids();
        let (mut configs, mut children) = (BTreeSet::new(), BTreeSet::new());
        for (tp, read) in self.pending.iter().zip(reads) {
            if ctx.replicas(tp).is_none() {
                continue;
            }
            match read {
                StateRead::Missing if matches!(self.kind, ChangeKind::Online(_)) => {
                    if !self.partition_nodes.contains_key(&tp.topic) {
                        children.insert(tp.topic.clone());
                    }
                }
                StateRead::Present(state, _) => {
                    if !self.unclean_by_topic.contains_key(&tp.topic) && self.needs_unclean(ctx, &live, state) {
                        configs.insert(tp.topic.clone());
                    }
                }
                _ => {}
            }
        }
        (configs.into_iter().collect(), children.into_iter().collect())
    }

    fn decide(&mut self, ctx: &mut ControllerContext, reads: Vec<StateRead>) -> Effect {
        let live = ctx.live_broker_ids();
        let epoch = ctx.epoch;
        let what = self.kind.what();
        let mut planned = Vec::new();
        let mut extended: BTreeSet<String> = BTreeSet::new();
        let pending = std::mem::take(&mut self.pending);
        for (tp, read) in pending.iter().zip(reads) {
            let Some(assigned) = ctx.replicas(tp).cloned() else {
                continue;
            };
            let (state, version) = match read {
                StateRead::Invalid(e) => {
                    log::error!("{} of {}: {}", what, tp, e);
                    continue;
                }
                StateRead::Missing => {
                    if self.kind == ChangeKind::Reassignment {
                        self.decide_reassignment(ctx, tp, &assigned, None, &live, epoch, &mut extended);
                    }
                    if let ChangeKind::Online(_) = self.kind {
                        ctx.leadership.remove(tp);
                        if let Some(p) = self.plan_first_state(tp, &assigned, &live, epoch) {
                            planned.push(p);
                        }
                    }
                    continue;
                }
                StateRead::Present(state, version) => (state, version),
            };
            ctx.leadership.insert(tp.clone(), LeaderIsrAndControllerEpoch::from_json(&state, version));
            if state.controller_epoch > epoch {
                // Abort this partition's change (as 0.8.2). A newer controller is caught by
                // the epoch fence; resigning here would loop forever after
                // /controller_epoch was reset.
                log::error!(
                    "not changing {}: it was decided by controller epoch {}, ours is {}",
                    tp,
                    state.controller_epoch,
                    epoch
                );
                continue;
            }
            if self.kind == ChangeKind::Reassignment {
                planned.extend(self.decide_reassignment(ctx, tp, &assigned, Some((&state, version)), &live, epoch, &mut extended));
                continue;
            }
            let unclean = if self.needs_unclean(ctx, &live, &state) {
                self.unclean_by_topic.get(&tp.topic).copied().unwrap_or(self.default_unclean)
            } else {
                self.default_unclean
            };
            let decision: Result<Option<Election>, SelectionError> = match self.kind {
                ChangeKind::Online(mode) => {
                    let leader_alive = state.leader != NO_LEADER && live.contains(&state.leader);
                    let isr_alive = state.isr.iter().all(|r| live.contains(r));
                    if leader_alive && (isr_alive || mode == OnlineMode::ElectIfOffline) {
                        continue;
                    }
                    decide_online(mode, &assigned, state.leader, &state.isr, &live, unclean)
                }
                ChangeKind::ControlledShutdown(b) => controlled_shutdown_change(
                    &assigned,
                    state.leader,
                    &state.isr,
                    b,
                    &ctx.shutting_down,
                    &live,
                    unclean,
                ),
                ChangeKind::Reassignment | ChangeKind::Deletion => Ok(None), // decided above, none
                ChangeKind::PreferredReplica => {
                    match preferred_replica_leader(&assigned, state.leader, &state.isr, &live) {
                        Ok(mut e) => {
                            e.recipients.retain(|r| live.contains(r));
                            Ok(Some(e))
                        }
                        Err(SelectionError::NotNeeded) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            };
            match decision {
                Ok(Some(e)) => {
                    if e.unclean {
                        self.unclean_elections += 1;
                        log::warn!(
                            "unclean leader election for {}: broker {} leads without being in the ISR {:?}; data may be lost",
                            tp,
                            e.leader,
                            state.isr
                        );
                    }
                    let next = LeaderIsrAndControllerEpoch {
                        leader: e.leader,
                        leader_epoch: state.leader_epoch.saturating_add(1),
                        isr: e.isr,
                        controller_epoch: epoch,
                        zk_version: version,
                    };
                    planned.push(Planned { partition: tp.clone(), state: next, recipients: e.recipients });
                }
                Ok(None) => {}
                Err(e) => match self.kind {
                    ChangeKind::ControlledShutdown(b) => log::info!(
                        "broker {} in controlled shutdown keeps leading {} (isr {:?}): {}",
                        b,
                        tp,
                        state.isr,
                        e
                    ),
                    _ => log::warn!(
                        "{} of {} (replicas {:?}, leader {}, isr {:?}) not done: {}",
                        what,
                        tp,
                        assigned,
                        state.leader,
                        state.isr,
                        e
                    ),
                },
            }
        }
        if planned.is_empty() && extended.is_empty() {
            return self.finish(ctx);
        }
        let writes: Vec<StateWrite> = planned
            .iter()
            .map(|p| {
                if p.state.zk_version < 0 {
                    let missing = self.missing_parents(&p.partition);
                    StateWrite::create(&p.partition, missing, &p.state.to_json())
                } else {
                    StateWrite::update(&p.partition, &p.state.to_json(), p.state.zk_version)
                }
            })
            .collect();
        if !extended.is_empty() {
            // The new AR is in ZooKeeper before any broker is told about it.
            let docs = extended.into_iter().filter_map(|t| ctx.assignments.get(&t).cloned().map(|a| (t, a))).collect();
            self.phase = Phase::AwaitAssignments(planned, writes);
            return Effect::WriteAssignments(docs);
        }
        self.phase = Phase::AwaitWritten(planned);
        Effect::Write(writes)
    }

    /// One reassignment step of `tp` (see [`Self::reassignment`]); `state` is its state
    /// znode and version (`None`: no state yet). A partition whose AR this change extended
    /// gets its epoch bump again on a fresh state, whatever the ISR says now.
    #[allow(clippy::too_many_arguments)]
    fn decide_reassignment(
        &mut self,
        ctx: &mut ControllerContext,
        tp: &TopicPartition,
        assigned: &[i32],
        state: Option<(&PartitionState, i32)>,
        live: &BTreeSet<i32>,
        epoch: i32,
        extended: &mut BTreeSet<String>,
    ) -> Option<Planned> {
        let rar = self.targets.get(tp)?.clone();
        let owed = self.starting.contains(tp);
        let step = if owed {
            ReassignmentStep::StartNewReplicas { assignment: assigned.to_vec() }
        } else {
            reassignment_step(&rar, assigned, state.map(|(s, _)| (s.leader, s.isr.as_slice())), live)
        };
        self.steps.insert(tp.clone(), step.clone());
        let (s, version) = state?;
        let next = |leader: i32, isr: Vec<i32>| LeaderIsrAndControllerEpoch {
            leader,
            leader_epoch: s.leader_epoch.saturating_add(1),
            isr,
            controller_epoch: epoch,
            zk_version: version,
        };
        match step {
            ReassignmentStep::StartNewReplicas { assignment } => {
                if !owed {
                    log::info!("reassignment of partition {}: replicas {:?} -> {:?}", tp, assigned, assignment);
                    ctx.assignments.entry(tp.topic.clone()).or_default().insert(tp.partition, assignment.clone());
                    extended.insert(tp.topic.clone());
                    self.starting.insert(tp.clone());
                }
                // The epoch bump makes the brokers take the new replica list.
                Some(Planned { partition: tp.clone(), state: next(s.leader, s.isr.clone()), recipients: assignment })
            }
            ReassignmentStep::Complete { leader, isr, remove } => {
                log::info!(
                    "reassignment of partition {}: all of {:?} in the ISR; leader {} isr {:?}, deleting replicas {:?}",
                    tp,
                    rar,
                    leader,
                    isr,
                    remove
                );
                Some(Planned { partition: tp.clone(), state: next(leader, isr), recipients: rar })
            }
            _ => None,
        }
    }

    /// The first state of a partition with no state znode (`zk_version` -1 marks a create).
    fn plan_first_state(
        &self,
        tp: &TopicPartition,
        assigned: &[i32],
        live: &BTreeSet<i32>,
        epoch: i32,
    ) -> Option<Planned> {
        let Some((leader, isr)) = new_partition_leader(assigned, live) else {
            log::info!("partition {} has no live replica in {:?}; it stays without a leader", tp, assigned);
            return None;
        };
        let recipients = isr.clone();
        let state =
            LeaderIsrAndControllerEpoch { leader, leader_epoch: 0, isr, controller_epoch: epoch, zk_version: -1 };
        Some(Planned { partition: tp.clone(), state, recipients })
    }

    /// The parents a first state znode of `tp` needs, remembered as created.
    fn missing_parents(&mut self, tp: &TopicPartition) -> Vec<String> {
        let (have_partitions, have) = self.partition_nodes.entry(tp.topic.clone()).or_default();
        let mut missing = Vec::new();
        if !*have_partitions {
            missing.push(paths::topic_partitions(&tp.topic));
            *have_partitions = true;
        }
        if have.insert(tp.partition.to_string()) {
            missing.push(paths::partition(&tp.topic, tp.partition));
        }
        missing
    }
}

/// Requests built from a batch, those to `tracked` marked so.
fn outgoing(requests: Vec<(i32, ControllerRequest)>, tracked: Option<i32>) -> Vec<Outgoing> {
    requests.into_iter().map(|(broker, request)| Outgoing { broker, request, tracked: Some(broker) == tracked }).collect()
}

/// A deletion pass's requests: on the first pass UpdateMetadata with leader -2 for the
/// topic's partitions to every broker (they answer UnknownTopicOrPartition from then on);
/// StopReplica(delete), tracked, to each live hosting broker not yet asked and not answered.
fn deletion_requests(ctx: &ControllerContext, pass: &DeletionPass) -> Vec<Outgoing> {
    let everyone = ctx.live_or_shutting_down_ids();
    let mut out = Vec::new();
    if pass.start {
        log::info!("deleting topic {} (partitions {:?})", pass.topic, pass.assignment.keys().collect::<Vec<_>>());
        let request = UpdateMetadataRequest {
            controller_id: ctx.controller_id,
            controller_epoch: ctx.epoch,
            partition_states: pass
                .assignment
                .iter()
                .map(|(p, replicas)| RequestPartitionState {
                    topic: pass.topic.clone(),
                    partition: *p,
                    controller_epoch: ctx.epoch,
                    leader: LEADER_DURING_DELETE,
                    leader_epoch: -1,
                    isr: vec![],
                    zk_version: -1,
                    replicas: replicas.clone(),
                })
                .collect(),
            alive_brokers: ctx.live_brokers.values().cloned().collect(),
        };
        for &b in &everyone {
            out.push(Outgoing { broker: b, request: ControllerRequest::UpdateMetadata(request.clone()), tracked: false });
        }
    }
    let hosting: BTreeSet<i32> = pass.assignment.values().flatten().copied().collect();
    if let DeletionStep::Ask(brokers) = deletion_step(&hosting, &pass.answered, &pass.asked, &everyone) {
        for b in brokers {
            let partitions: Vec<TopicPartition> = pass
                .assignment
                .iter()
                .filter(|(_, r)| r.contains(&b))
                .map(|(p, _)| TopicPartition::new(pass.topic.clone(), *p))
                .collect();
            log::info!("asking broker {} to delete its replicas of topic {}", b, pass.topic);
            let request = ctx.stop_replica_request(ctx.controller_id, true, &partitions);
            out.push(Outgoing { broker: b, request: ControllerRequest::StopReplica(request), tracked: true });
        }
    }
    out
}

/// Partitions with a replica on `broker`, more than one replica, and a leadership known
/// to the controller (0.8.2 ignored the others in a controlled shutdown).
pub fn replicated_partitions_on(ctx: &ControllerContext, broker: i32) -> Vec<TopicPartition> {
    ctx.partitions_on_broker(broker)
        .into_iter()
        .filter(|tp| ctx.replicas(tp).is_some_and(|ar| ar.len() > 1) && ctx.leadership.contains_key(tp))
        .collect()
}

/// `unclean.leader.election.enable` of a topic: its override, else the broker's setting.
fn unclean_enabled(topic: &str, props: Option<&Properties>, default: bool) -> bool {
    let Some(props) = props else { return default };
    match props.parse_bool(UNCLEAN_KEY) {
        Ok(v) => v.unwrap_or(default),
        Err(e) => {
            log::warn!("ignoring {} of topic {}: {}", UNCLEAN_KEY, topic, e);
            default
        }
    }
}

/// Drive `change` to its end: perform each effect through `store` and `sink` and feed the
/// result back. On an error the change stops; what its failed batch decided is not in
/// `ctx`, and none of its later requests is sent.
pub async fn run<S: ControllerStore, C: RequestSink>(
    store: &S,
    fence: EpochFence,
    ctx: &mut ControllerContext,
    change: &mut PartitionStateChange,
    sink: &mut C,
) -> Result<(), FenceError> {
    let mut input = Input::Start;
    loop {
        input = match change.step(ctx, input) {
            Effect::Done => return Ok(()),
            Effect::ReadStates(partitions) => Input::States(store.read_partition_states(&partitions).await?),
            Effect::ReadTopics { configs, children } => {
                let mut c = Vec::with_capacity(configs.len());
                for topic in configs {
                    let props = store.topic_config(&topic).await?;
                    c.push((topic, props));
                }
                let mut ch = Vec::with_capacity(children.len());
                for topic in children {
                    let nodes = store.partition_children(&topic).await?;
                    ch.push((topic, nodes));
                }
                Input::Topics { configs: c, children: ch }
            }
            Effect::Write(writes) => Input::Written(store.write_states(fence, &writes).await?),
            Effect::WriteAssignments(docs) => {
                for (topic, assignment) in docs {
                    store.write_assignment(&topic, &assignment).await?;
                }
                Input::AssignmentsWritten
            }
            Effect::Send(requests) => {
                for o in requests {
                    if o.tracked {
                        change.answers.push((o.broker, sink.send_tracked(o.broker, o.request)));
                    } else {
                        sink.send(o.broker, o.request);
                    }
                }
                Input::Sent
            }
            Effect::DeleteTopic(topic) => {
                store.delete_topic(&topic).await?;
                Input::TopicDeleted
            }
        };
    }
}
