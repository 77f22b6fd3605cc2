//! The decision core: one routine that changes partition states, for every controller
//! operation that moves leaders or shrinks ISRs (election of new and offline partitions,
//! broker failure and start-up, controlled shutdown, preferred replica election, the
//! automatic rebalance, and the leader/ISR steps of a partition reassignment).
//!
//! [`PartitionStateChange::step`] is pure: from the controller's context and the result of
//! the last effect it returns the next [`Effect`] (states to read, topic configs and
//! partition nodes to read, fenced writes to make), the raft-rs `RawNode`/`Ready` split.
//! [`run`] is the one loop that performs effects through a [`ControllerStore`] and feeds
//! the results back. A write that meets a concurrent change (BadVersion, NodeExists) makes
//! the partition read and decide again, at most [`MAX_ROUNDS`] times.
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
use super::store::ControllerStore;
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
}

impl ChangeKind {
    fn what(&self) -> String {
        match self {
            ChangeKind::Online(_) => "leader election".into(),
            ChangeKind::ControlledShutdown(b) => format!("controlled shutdown of broker {}", b),
            ChangeKind::PreferredReplica => "preferred replica election".into(),
            ChangeKind::Reassignment => "reassignment".into(),
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
    Done,
}

/// The result of the last effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Start,
    States(Vec<StateRead>),
    Topics { configs: Vec<(String, Option<Properties>)>, children: Vec<(String, Option<Vec<String>>)> },
    Written(Vec<WriteOutcome>),
    AssignmentsWritten,
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
    AwaitStates,
    AwaitTopics(Vec<StateRead>),
    AwaitAssignments(Vec<Planned>, Vec<StateWrite>),
    AwaitWritten(Vec<Planned>),
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
        }
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
            (Phase::Idle, _) => self.next_round(),
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
                    self.phase = Phase::Finished;
                    return Effect::Done;
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
                self.next_round()
            }
            (phase, input) => {
                log::error!("partition state change: unexpected {:?} in phase {:?}", input, phase);
                Effect::Done
            }
        }
    }

    fn next_round(&mut self) -> Effect {
        if self.pending.is_empty() {
            self.phase = Phase::Finished;
            return Effect::Done;
        }
        if self.rounds == MAX_ROUNDS {
            log::error!("gave up the {} of {:?} after {} attempts", self.kind.what(), self.pending, MAX_ROUNDS);
            self.gave_up = std::mem::take(&mut self.pending);
            self.phase = Phase::Finished;
            return Effect::Done;
        }
        self.rounds += 1;
        self.phase = Phase::AwaitStates;
        Effect::ReadStates(self.pending.clone())
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
            ChangeKind::PreferredReplica | ChangeKind::Reassignment => false,
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
                ChangeKind::Reassignment => Ok(None), // decided above
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
            self.phase = Phase::Finished;
            return Effect::Done;
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

/// Drive `change` to its end: perform each effect through `store` and feed the result
/// back. On an error the change stops; what its failed batch decided is not in `ctx`.
pub async fn run<S: ControllerStore>(
    store: &S,
    fence: EpochFence,
    ctx: &mut ControllerContext,
    change: &mut PartitionStateChange,
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
        };
    }
}
