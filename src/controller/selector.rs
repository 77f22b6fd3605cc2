//! Leader selection as pure functions (docs/zookeeper-layout.md, leader selection, and
//! the controller side of "remove replica from ISR"). They see the state read from ZooKeeper and
//! the live broker set and return the new leader and ISR; the caller bumps `leader_epoch`,
//! stamps its controller epoch, writes conditionally and sends the requests. The step of a
//! partition reassignment ([`reassignment_step`]) is decided here too.

use crate::common::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// `leader` when a partition has none.
pub const NO_LEADER: i32 = -1;

/// A leadership decision: the new leader and ISR, and who must hear about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Election {
    pub leader: i32,
    pub isr: Vec<i32>,
    /// Brokers to send LeaderAndIsr to.
    pub recipients: Vec<i32>,
    /// The leader was not in the ISR (possible data loss; 0.8.2 counted these).
    pub unclean: bool,
}

/// Why no leader could be selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionError {
    /// No live replica is in the ISR and unclean election is disabled for the topic.
    NoLiveIsr,
    /// No assigned replica is alive.
    NoLiveReplica,
    /// The preferred replica already leads.
    NotNeeded,
    /// The preferred replica is dead or not in the ISR.
    PreferredReplicaUnavailable,
    /// Removing the shutting-down brokers leaves the ISR empty.
    NoIsrAfterShutdown,
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectionError::NoLiveIsr => "no live replica in the ISR and unclean leader election is disabled",
            SelectionError::NoLiveReplica => "no assigned replica is alive",
            SelectionError::NotNeeded => "the preferred replica already leads",
            SelectionError::PreferredReplicaUnavailable => "the preferred replica is not alive or not in the ISR",
            SelectionError::NoIsrAfterShutdown => "no ISR member would remain after the controlled shutdown",
        })
    }
}

impl std::error::Error for SelectionError {}

fn live_in_order(replicas: &[i32], live: &BTreeSet<i32>) -> Vec<i32> {
    replicas.iter().copied().filter(|r| live.contains(r)).collect()
}

/// New → Online: leader = first live replica in assignment order, ISR = the live
/// replicas in assignment order. `None` when no replica is alive (the partition stays New).
pub fn new_partition_leader(assigned: &[i32], live: &BTreeSet<i32>) -> Option<(i32, Vec<i32>)> {
    let isr = live_in_order(assigned, live);
    isr.first().map(|&leader| (leader, isr.clone()))
}

/// The offline selector, default for New/Offline → Online: the first live assigned
/// replica that is in the live ISR leads, the ISR shrinks to its live members; with no live
/// ISR member and `unclean_enabled`, the first live assigned replica leads alone.
/// Recipients are the live assigned replicas.
pub fn offline_leader(
    assigned: &[i32],
    isr: &[i32],
    live: &BTreeSet<i32>,
    unclean_enabled: bool,
) -> Result<Election, SelectionError> {
    let live_assigned = live_in_order(assigned, live);
    let live_isr = live_in_order(isr, live);
    if !live_isr.is_empty() {
        return match live_assigned.iter().find(|r| live_isr.contains(r)) {
            Some(&leader) => Ok(Election { leader, isr: live_isr, recipients: live_assigned, unclean: false }),
            // Live ISR members, none of them assigned (the assignment moved under us):
            // 0.8.2 fails on the head of an empty list; treat it as having no live ISR.
            None if live_assigned.is_empty() => Err(SelectionError::NoLiveReplica),
            None => unclean_or_fail(live_assigned, unclean_enabled),
        };
    }
    unclean_or_fail(live_assigned, unclean_enabled)
}

fn unclean_or_fail(live_assigned: Vec<i32>, unclean_enabled: bool) -> Result<Election, SelectionError> {
    if !unclean_enabled {
        return Err(SelectionError::NoLiveIsr);
    }
    match live_assigned.first() {
        None => Err(SelectionError::NoLiveReplica),
        Some(&leader) => Ok(Election { leader, isr: vec![leader], recipients: live_assigned, unclean: true }),
    }
}

/// The preferred-replica selector: the first assigned replica leads if it is alive
/// and in the ISR; the ISR is unchanged; recipients are all assigned replicas.
pub fn preferred_replica_leader(
    assigned: &[i32],
    current_leader: i32,
    isr: &[i32],
    live: &BTreeSet<i32>,
) -> Result<Election, SelectionError> {
    let preferred = *assigned.first().ok_or(SelectionError::NoLiveReplica)?;
    if preferred == current_leader {
        return Err(SelectionError::NotNeeded);
    }
    if live.contains(&preferred) && isr.contains(&preferred) {
        Ok(Election { leader: preferred, isr: isr.to_vec(), recipients: assigned.to_vec(), unclean: false })
    } else {
        Err(SelectionError::PreferredReplicaUnavailable)
    }
}

/// The controlled-shutdown selector: the ISR loses every shutting-down broker and
/// its first remaining member that is `live` (registered, not shutting down) leads.
/// 0.8.2 took the first remaining member without checking it was alive, which could hand
/// leadership to a dead broker; a dead member stays in the ISR (broker failure handling
/// takes it out). Recipients are the assigned replicas that are live or shutting down: the
/// broker that stops must hear that it leads no more.
pub fn controlled_shutdown_leader(
    assigned: &[i32],
    isr: &[i32],
    shutting_down: &BTreeSet<i32>,
    live: &BTreeSet<i32>,
) -> Result<Election, SelectionError> {
    let new_isr: Vec<i32> = isr.iter().copied().filter(|r| !shutting_down.contains(r)).collect();
    match new_isr.iter().find(|r| live.contains(r)) {
        None => Err(SelectionError::NoIsrAfterShutdown),
        Some(&leader) => Ok(Election {
            leader,
            isr: new_isr,
            recipients: assigned.iter().copied().filter(|r| live.contains(r) || shutting_down.contains(r)).collect(),
            unclean: false,
        }),
    }
}

/// What the controlled shutdown of `broker` changes in one partition, from the state
/// read from ZooKeeper: if it leads, the controlled-shutdown selector picks another leader;
/// if it is only in the ISR, it leaves the ISR (remove-replica-from-ISR) and the other
/// live replicas hear of it. `Ok(None)` when nothing changes. `live` excludes the brokers
/// in controlled shutdown.
pub fn controlled_shutdown_change(
    assigned: &[i32],
    leader: i32,
    isr: &[i32],
    broker: i32,
    shutting_down: &BTreeSet<i32>,
    live: &BTreeSet<i32>,
    unclean_enabled: bool,
) -> Result<Option<Election>, SelectionError> {
    if leader == broker {
        return controlled_shutdown_leader(assigned, isr, shutting_down, live).map(Some);
    }
    let removed = BTreeSet::from([broker]);
    match remove_replicas_from_isr(leader, isr, &removed, unclean_enabled) {
        Some((new_leader, new_isr)) if new_leader != leader || new_isr != isr => Ok(Some(Election {
            leader: new_leader,
            isr: new_isr,
            recipients: live_in_order(assigned, live),
            unclean: false,
        })),
        _ => Ok(None),
    }
}

/// Remove-replica-from-ISR, controller side, for several replicas at once: `None`
/// when none of them is in the ISR (no write). The leader becomes [`NO_LEADER`] if it is
/// removed. An ISR that would become empty is kept as it was when unclean election is
/// disabled, so the last in-sync replica is remembered (`{"leader":-1,"isr":[<dead>]}`).
pub fn remove_replicas_from_isr(
    leader: i32,
    isr: &[i32],
    replicas: &BTreeSet<i32>,
    unclean_enabled: bool,
) -> Option<(i32, Vec<i32>)> {
    if !isr.iter().any(|r| replicas.contains(r)) {
        return None;
    }
    let new_leader = if replicas.contains(&leader) { NO_LEADER } else { leader };
    let shrunk: Vec<i32> = isr.iter().copied().filter(|r| !replicas.contains(r)).collect();
    let new_isr = if shrunk.is_empty() && !unclean_enabled { isr.to_vec() } else { shrunk };
    Some((new_leader, new_isr))
}

/// How the controller moves a partition towards having a live leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnlineMode {
    /// Failover, broker startup, new partitions: elect when the leader is not alive; an
    /// impossible election leaves the state alone.
    ElectIfOffline,
    /// Broker failure: as above, then take the dead replicas out of the ISR (also
    /// when the election failed, which leaves leader -1).
    ElectAndShrinkIsr,
}

/// What to write for an existing partition state: `Ok(None)` when nothing changes.
/// Recipients are the live assigned replicas.
pub fn decide_online(
    mode: OnlineMode,
    assigned: &[i32],
    leader: i32,
    isr: &[i32],
    live: &BTreeSet<i32>,
    unclean_enabled: bool,
) -> Result<Option<Election>, SelectionError> {
    let leader_alive = leader != NO_LEADER && live.contains(&leader);
    let mut failure = None;
    if !leader_alive {
        match offline_leader(assigned, isr, live, unclean_enabled) {
            Ok(e) => return Ok(Some(e)),
            Err(e) => failure = Some(e),
        }
    }
    if mode == OnlineMode::ElectAndShrinkIsr {
        let dead: BTreeSet<i32> =
            isr.iter().copied().chain(Some(leader)).filter(|r| *r != NO_LEADER && !live.contains(r)).collect();
        if let Some((new_leader, new_isr)) = remove_replicas_from_isr(leader, isr, &dead, unclean_enabled) {
            if new_leader != leader || new_isr != isr {
                return Ok(Some(Election {
                    leader: new_leader,
                    isr: new_isr,
                    recipients: live_in_order(assigned, live),
                    unclean: false,
                }));
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// A partition as the leader-balance decisions see it: its assignment (the head is
/// the preferred replica) and its current leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderView {
    pub partition: TopicPartition,
    pub assigned: Vec<i32>,
    pub leader: i32,
}

/// Which of `requested` a preferred replica election moves: the known partitions (in
/// `views`) whose preferred replica does not lead; each must still pass
/// [`preferred_replica_leader`] against the state read from ZooKeeper. `None` asks for
/// every known partition (a file-less `kafka-preferred-replica-election.sh`).
pub fn preferred_election_moves(views: &[LeaderView], requested: Option<&BTreeSet<TopicPartition>>) -> Vec<TopicPartition> {
    views
        .iter()
        .filter(|v| requested.map_or(true, |r| r.contains(&v.partition)))
        .filter(|v| v.assigned.first().is_some_and(|&p| p != v.leader))
        .map(|v| v.partition.clone())
        .collect()
}

/// Per preferred replica: (partitions it prefers but does not lead, partitions it
/// prefers), 0.8.2 `checkAndTriggerPartitionRebalance`'s imbalance figures.
pub fn leader_imbalance(views: &[LeaderView]) -> BTreeMap<i32, (usize, usize)> {
    let mut out: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for v in views {
        let Some(&preferred) = v.assigned.first() else { continue };
        let entry = out.entry(preferred).or_default();
        entry.1 += 1;
        if v.leader != preferred {
            entry.0 += 1;
        }
    }
    out
}

/// The automatic leader rebalance (0.8.2 `auto.leader.rebalance.enable`): for every
/// live broker whose share of preferred partitions it does not lead is above
/// `percentage` % (`leader.imbalance.per.broker.percentage`), the partitions to hand back
/// to it. `live` must exclude brokers in controlled shutdown; `busy` partitions (touched by
/// a controlled shutdown, later a reassignment or deletion) are skipped, as in 0.8.2.
pub fn rebalance_moves(
    views: &[LeaderView],
    live: &BTreeSet<i32>,
    busy: &BTreeSet<TopicPartition>,
    percentage: i32,
) -> Vec<TopicPartition> {
    let imbalance = leader_imbalance(views);
    let over: BTreeSet<i32> = imbalance
        .iter()
        .filter(|(broker, (not_led, total))| {
            live.contains(*broker) && *total > 0 && (*not_led as f64 / *total as f64) > (percentage as f64 / 100.0)
        })
        .map(|(broker, _)| *broker)
        .collect();
    views
        .iter()
        .filter(|v| v.assigned.first().is_some_and(|p| over.contains(p) && *p != v.leader))
        .filter(|v| !busy.contains(&v.partition))
        .map(|v| v.partition.clone())
        .collect()
}

/// What to do next with one partition of `/admin/reassign_partitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReassignmentStep {
    /// Refused (0.8.2 logged and dropped it): leave the admin znode.
    Fail(String),
    /// AR already is RAR: leave the admin znode.
    Done,
    /// Write this AR (OAR then the new replicas), bump the leader epoch and tell every
    /// replica, so that the new ones start following the leader.
    StartNewReplicas { assignment: Vec<i32> },
    /// Wait until these RAR members are in the ISR (or alive, to lead).
    Wait { missing: Vec<i32> },
    /// Finish: this leader and ISR, AR := RAR, delete the replicas in `remove`.
    Complete { leader: i32, isr: Vec<i32>, remove: Vec<i32> },
}

/// The next step of moving a partition from `ar` (its current assignment) to `rar`, given its
/// leader and ISR as the state znode holds them (`None`: no state yet) and the brokers that
/// can lead (registered, not shutting down).
pub fn reassignment_step(
    rar: &[i32],
    ar: &[i32],
    state: Option<(i32, &[i32])>,
    live: &BTreeSet<i32>,
) -> ReassignmentStep {
    if rar.is_empty() {
        return ReassignmentStep::Fail("the new replica list is empty".into());
    }
    let distinct: BTreeSet<i32> = rar.iter().copied().collect();
    if distinct.len() != rar.len() {
        return ReassignmentStep::Fail(format!("the new replica list {:?} names a broker twice", rar));
    }
    if rar == ar {
        return ReassignmentStep::Done;
    }
    if !rar.iter().all(|r| ar.contains(r)) {
        // Not started (or started by a controller that died before writing AR).
        let dead: Vec<i32> = rar.iter().copied().filter(|r| !live.contains(r)).collect();
        if !dead.is_empty() {
            return ReassignmentStep::Fail(format!("brokers {:?} of the new replicas {:?} are not alive", dead, rar));
        }
        let mut assignment = ar.to_vec();
        assignment.extend(rar.iter().copied().filter(|r| !ar.contains(r)));
        return ReassignmentStep::StartNewReplicas { assignment };
    }
    let Some((leader, isr)) = state else {
        return ReassignmentStep::Wait { missing: rar.to_vec() };
    };
    let missing: Vec<i32> = rar.iter().copied().filter(|r| !isr.contains(r)).collect();
    if !missing.is_empty() {
        return ReassignmentStep::Wait { missing };
    }
    // 0.8.2's reassigned-partition selector: keep a live leader that is in RAR, else the
    // first RAR member that is live (and, by now, in the ISR).
    let new_leader = if rar.contains(&leader) && live.contains(&leader) {
        Some(leader)
    } else {
        rar.iter().copied().find(|r| live.contains(r))
    };
    let Some(new_leader) = new_leader else {
        return ReassignmentStep::Wait { missing: rar.to_vec() };
    };
    let new_isr: Vec<i32> = isr.iter().copied().filter(|r| rar.contains(r)).collect();
    let remove: Vec<i32> = ar.iter().copied().filter(|r| !rar.contains(r)).collect();
    ReassignmentStep::Complete { leader: new_leader, isr: new_isr, remove }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i32]) -> BTreeSet<i32> {
        ids.iter().copied().collect()
    }

    #[test]
    fn new_partition_leader_is_the_first_live_replica_and_isr_the_live_ones_in_assignment_order() {
        assert_eq!(new_partition_leader(&[3, 1, 2], &set(&[1, 2, 3])), Some((3, vec![3, 1, 2])));
        assert_eq!(new_partition_leader(&[3, 1, 2], &set(&[2, 1])), Some((1, vec![1, 2])));
        assert_eq!(new_partition_leader(&[3, 1], &set(&[2])), None);
        assert_eq!(new_partition_leader(&[], &set(&[1])), None);
    }

    #[test]
    fn offline_selector_prefers_assignment_order_among_live_isr_members() {
        let e = offline_leader(&[1, 2, 3], &[3, 2, 1], &set(&[2, 3]), true).unwrap();
        assert_eq!((e.leader, e.isr.clone(), e.recipients.clone(), e.unclean), (2, vec![3, 2], vec![2, 3], false));
    }

    #[test]
    fn offline_selector_unclean_only_when_enabled() {
        // ISR holds only the dead broker 1.
        let e = offline_leader(&[1, 2, 3], &[1], &set(&[3, 2]), true).unwrap();
        assert_eq!((e.leader, e.isr, e.recipients, e.unclean), (2, vec![2], vec![2, 3], true));
        assert_eq!(offline_leader(&[1, 2, 3], &[1], &set(&[3, 2]), false), Err(SelectionError::NoLiveIsr));
        assert_eq!(offline_leader(&[1, 2], &[1], &set(&[3]), true), Err(SelectionError::NoLiveReplica));
        assert_eq!(offline_leader(&[1, 2], &[], &set(&[]), true), Err(SelectionError::NoLiveReplica));
    }

    #[test]
    fn preferred_replica_selector() {
        let live = set(&[1, 2]);
        assert_eq!(preferred_replica_leader(&[1, 2], 1, &[1, 2], &live), Err(SelectionError::NotNeeded));
        let e = preferred_replica_leader(&[1, 2], 2, &[2, 1], &live).unwrap();
        assert_eq!((e.leader, e.isr, e.recipients), (1, vec![2, 1], vec![1, 2]));
        assert_eq!(preferred_replica_leader(&[1, 2], 2, &[2], &live), Err(SelectionError::PreferredReplicaUnavailable));
        assert_eq!(
            preferred_replica_leader(&[3, 2], 2, &[2, 3], &live),
            Err(SelectionError::PreferredReplicaUnavailable)
        );
    }

    #[test]
    fn controlled_shutdown_selector_drops_shutting_down_brokers_from_the_isr() {
        let e = controlled_shutdown_leader(&[1, 2, 3], &[1, 2, 3], &set(&[1]), &set(&[2, 3])).unwrap();
        assert_eq!((e.leader, e.isr, e.recipients), (2, vec![2, 3], vec![1, 2, 3]));
        assert_eq!(
            controlled_shutdown_leader(&[1, 2], &[1], &set(&[1]), &set(&[2])),
            Err(SelectionError::NoIsrAfterShutdown)
        );
    }

    #[test]
    fn controlled_shutdown_selector_skips_dead_isr_members_but_keeps_them_in_the_isr() {
        // 2 is dead (not live, not shutting down): 3 leads; 2 stays until failure handling.
        let e = controlled_shutdown_leader(&[1, 2, 3], &[1, 2, 3], &set(&[1]), &set(&[3])).unwrap();
        assert_eq!((e.leader, e.isr, e.recipients), (3, vec![2, 3], vec![1, 3]));
        // Only dead or shutting-down members left: the broker keeps leading.
        assert_eq!(
            controlled_shutdown_leader(&[1, 2, 3], &[1, 2, 3], &set(&[1, 3]), &set(&[])),
            Err(SelectionError::NoIsrAfterShutdown)
        );
    }

    #[test]
    fn controlled_shutdown_moves_leadership_or_takes_a_follower_out_of_the_isr() {
        let down = set(&[2]);
        let live = set(&[1, 3]);
        // Leader 2 hands over to the next live ISR member, in ISR order.
        let e = controlled_shutdown_change(&[2, 1, 3], 2, &[2, 3, 1], 2, &down, &live, true).unwrap().unwrap();
        assert_eq!((e.leader, e.isr, e.recipients), (3, vec![3, 1], vec![2, 1, 3]));
        // Follower 2 leaves the ISR; the leader and the other live replicas hear of it.
        let e = controlled_shutdown_change(&[1, 2, 3], 1, &[1, 2, 3], 2, &down, &live, true).unwrap().unwrap();
        assert_eq!((e.leader, e.isr, e.recipients), (1, vec![1, 3], vec![1, 3]));
        // Not in the ISR: nothing to write.
        assert_eq!(controlled_shutdown_change(&[1, 2, 3], 1, &[1, 3], 2, &down, &live, true), Ok(None));
        // The last ISR member of a leaderless partition stays with unclean election off.
        assert_eq!(controlled_shutdown_change(&[1, 2], NO_LEADER, &[2], 2, &down, &live, false), Ok(None));
        // Sole in-sync leader: nobody to hand over to.
        assert_eq!(
            controlled_shutdown_change(&[2, 1], 2, &[2], 2, &down, &live, true),
            Err(SelectionError::NoIsrAfterShutdown)
        );
    }

    #[test]
    fn isr_removal_keeps_the_last_member_only_when_unclean_election_is_disabled() {
        assert_eq!(remove_replicas_from_isr(1, &[1, 2], &set(&[3]), true), None);
        assert_eq!(remove_replicas_from_isr(1, &[1, 2], &set(&[2]), true), Some((1, vec![1])));
        assert_eq!(remove_replicas_from_isr(1, &[1, 2], &set(&[1]), true), Some((NO_LEADER, vec![2])));
        assert_eq!(remove_replicas_from_isr(1, &[1], &set(&[1]), true), Some((NO_LEADER, vec![])));
        assert_eq!(remove_replicas_from_isr(1, &[1], &set(&[1]), false), Some((NO_LEADER, vec![1])));
    }

    #[test]
    fn decide_online_leaves_live_leaders_alone_and_elects_for_dead_ones() {
        let live = set(&[1, 2]);
        assert_eq!(decide_online(OnlineMode::ElectIfOffline, &[1, 2, 3], 1, &[1, 2, 3], &live, true), Ok(None));
        let e = decide_online(OnlineMode::ElectIfOffline, &[3, 2, 1], 3, &[3, 1], &live, true).unwrap().unwrap();
        assert_eq!((e.leader, e.isr), (1, vec![1]));
        let e = decide_online(OnlineMode::ElectIfOffline, &[3, 2], NO_LEADER, &[], &live, true).unwrap().unwrap();
        assert_eq!((e.leader, e.isr, e.unclean), (2, vec![2], true));
        assert_eq!(
            decide_online(OnlineMode::ElectIfOffline, &[3], 3, &[3], &live, true),
            Err(SelectionError::NoLiveReplica)
        );
    }

    #[test]
    fn decide_online_after_broker_failure_shrinks_the_isr() {
        let live = set(&[1, 2]);
        // Follower 3 died: leader 1 stays, ISR loses 3.
        let e = decide_online(OnlineMode::ElectAndShrinkIsr, &[1, 2, 3], 1, &[1, 2, 3], &live, true).unwrap().unwrap();
        assert_eq!((e.leader, e.isr, e.recipients), (1, vec![1, 2], vec![1, 2]));
        // Nothing dead in the ISR: no write.
        assert_eq!(decide_online(OnlineMode::ElectAndShrinkIsr, &[1, 2, 3], 1, &[1, 2], &live, true), Ok(None));
        // The only replica died: leader -1; the ISR keeps it only with unclean election off.
        let e = decide_online(OnlineMode::ElectAndShrinkIsr, &[3], 3, &[3], &live, false).unwrap().unwrap();
        assert_eq!((e.leader, e.isr), (NO_LEADER, vec![3]));
        let e = decide_online(OnlineMode::ElectAndShrinkIsr, &[3], 3, &[3], &live, true).unwrap().unwrap();
        assert_eq!((e.leader, e.isr), (NO_LEADER, vec![]));
        // Already leaderless with a dead ISR kept: nothing left to change.
        assert_eq!(
            decide_online(OnlineMode::ElectAndShrinkIsr, &[3], NO_LEADER, &[3], &live, false),
            Err(SelectionError::NoLiveIsr)
        );
    }

    fn view(topic: &str, p: i32, assigned: &[i32], leader: i32) -> LeaderView {
        LeaderView { partition: TopicPartition::new(topic, p), assigned: assigned.to_vec(), leader }
    }

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter().map(|(t, p)| TopicPartition::new(*t, *p)).collect()
    }

    #[test]
    fn preferred_election_moves_one_partition_or_all_that_are_not_led_by_their_preferred_replica() {
        let views = vec![view("t", 0, &[1, 2], 2), view("t", 1, &[2, 1], 2), view("u", 0, &[1, 3], 3)];
        let one: BTreeSet<TopicPartition> = tps(&[("t", 0)]).into_iter().collect();
        assert_eq!(preferred_election_moves(&views, Some(&one)), tps(&[("t", 0)]));
        assert_eq!(preferred_election_moves(&views, None), tps(&[("t", 0), ("u", 0)]));
        // Already led by its preferred replica, or unknown: nothing to move.
        let led: BTreeSet<TopicPartition> = tps(&[("t", 1), ("x", 0)]).into_iter().collect();
        assert!(preferred_election_moves(&views, Some(&led)).is_empty());
    }

    #[test]
    fn preferred_election_skips_a_dead_or_out_of_isr_preferred_replica() {
        // The selector run on each moved partition: 1 dead, or alive but out of the ISR.
        assert_eq!(
            preferred_replica_leader(&[1, 2], 2, &[2, 1], &set(&[2])),
            Err(SelectionError::PreferredReplicaUnavailable)
        );
        assert_eq!(
            preferred_replica_leader(&[1, 2], 2, &[2], &set(&[1, 2])),
            Err(SelectionError::PreferredReplicaUnavailable)
        );
        let e = preferred_replica_leader(&[1, 2, 3], 3, &[3, 2, 1], &set(&[1, 2, 3])).unwrap();
        assert_eq!((e.leader, e.isr), (1, vec![3, 2, 1]));
    }

    #[test]
    fn imbalance_counts_preferred_partitions_not_led_per_broker() {
        let views = vec![view("t", 0, &[1, 2], 2), view("t", 1, &[1, 2], 1), view("t", 2, &[2, 1], 2)];
        let m = leader_imbalance(&views);
        assert_eq!(m[&1], (1, 2));
        assert_eq!(m[&2], (0, 1));
    }

    #[test]
    fn rebalance_triggers_just_above_the_threshold_and_not_at_or_below_it() {
        // Broker 1 prefers 10 partitions; it leads 9 of them: 10 % imbalance.
        let mut views: Vec<LeaderView> = (0..10).map(|p| view("t", p, &[1, 2], 1)).collect();
        views[0].leader = 2;
        let live = set(&[1, 2]);
        let none = BTreeSet::new();
        assert!(rebalance_moves(&views, &live, &none, 10).is_empty(), "10 % is not above 10 %");
        assert_eq!(rebalance_moves(&views, &live, &none, 9), tps(&[("t", 0)]), "10 % is above 9 %");
        // 2 of 10 not led: 20 % > 10 %, both move.
        views[1].leader = 2;
        assert_eq!(rebalance_moves(&views, &live, &none, 10), tps(&[("t", 0), ("t", 1)]));
        assert!(rebalance_moves(&views, &live, &none, 20).is_empty());
    }

    #[test]
    fn rebalance_skips_dead_or_shutting_down_brokers_and_busy_partitions() {
        let views = vec![view("t", 0, &[1, 2], 2), view("t", 1, &[1, 2], 2)];
        // Broker 1 not live (dead, or in controlled shutdown: excluded from `live`).
        assert!(rebalance_moves(&views, &set(&[2]), &BTreeSet::new(), 10).is_empty());
        let busy: BTreeSet<TopicPartition> = tps(&[("t", 0)]).into_iter().collect();
        assert_eq!(rebalance_moves(&views, &set(&[1, 2]), &busy, 10), tps(&[("t", 1)]));
    }

    // ---- reassignment ----


    fn live_set(ids: &[i32]) -> BTreeSet<i32> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_move_starts_by_adding_the_new_replicas_after_the_old_ones() {
        let step = reassignment_step(&[4, 5, 6], &[1, 2, 3], Some((1, &[1, 2, 3])), &live_set(&[1, 2, 3, 4, 5, 6]));
        assert_eq!(step, ReassignmentStep::StartNewReplicas { assignment: vec![1, 2, 3, 4, 5, 6] });
        // Raising the replication factor: only the new broker is added.
        let step = reassignment_step(&[1, 2, 3], &[1, 2], Some((1, &[1, 2])), &live_set(&[1, 2, 3]));
        assert_eq!(step, ReassignmentStep::StartNewReplicas { assignment: vec![1, 2, 3] });
    }

    #[test]
    fn a_move_to_a_dead_broker_fails_before_it_starts() {
        let step = reassignment_step(&[4, 5], &[1, 2], Some((1, &[1, 2])), &live_set(&[1, 2, 4]));
        assert!(matches!(step, ReassignmentStep::Fail(ref why) if why.contains("[5]")), "{:?}", step);
    }

    #[test]
    fn bad_targets_fail_and_a_finished_move_is_done() {
        assert!(matches!(reassignment_step(&[], &[1], None, &live_set(&[1])), ReassignmentStep::Fail(_)));
        assert!(matches!(reassignment_step(&[2, 2], &[1], None, &live_set(&[1, 2])), ReassignmentStep::Fail(_)));
        assert_eq!(reassignment_step(&[2, 1], &[2, 1], Some((2, &[2])), &live_set(&[1, 2])), ReassignmentStep::Done);
    }

    #[test]
    fn a_started_move_waits_for_every_new_replica_in_the_isr() {
        let all = live_set(&[1, 2, 3, 4, 5, 6]);
        let step = reassignment_step(&[4, 5, 6], &[1, 2, 3, 4, 5, 6], Some((1, &[1, 2, 3, 4])), &all);
        assert_eq!(step, ReassignmentStep::Wait { missing: vec![5, 6] });
        // A new replica's broker died after the start: wait for it, do not fail.
        let step = reassignment_step(&[4, 5, 6], &[1, 2, 3, 4, 5, 6], Some((1, &[1, 2, 3, 4])), &live_set(&[1, 2, 3, 4]));
        assert_eq!(step, ReassignmentStep::Wait { missing: vec![5, 6] });
    }

    #[test]
    fn completion_moves_the_leader_into_rar_cuts_the_isr_and_deletes_the_old_replicas() {
        let all = live_set(&[1, 2, 3, 4, 5, 6]);
        let step = reassignment_step(&[4, 5, 6], &[1, 2, 3, 4, 5, 6], Some((1, &[1, 2, 3, 6, 5, 4])), &all);
        assert_eq!(step, ReassignmentStep::Complete { leader: 4, isr: vec![6, 5, 4], remove: vec![1, 2, 3] });
        // A leader that stays a replica keeps leading (lowering the replication factor).
        let step = reassignment_step(&[2, 1], &[1, 2, 3], Some((2, &[1, 2, 3])), &live_set(&[1, 2, 3]));
        assert_eq!(step, ReassignmentStep::Complete { leader: 2, isr: vec![1, 2], remove: vec![3] });
        // The leader in RAR but dead: the first live RAR member leads.
        let step = reassignment_step(&[2, 1], &[1, 2, 3], Some((2, &[1, 2, 3])), &live_set(&[1, 3]));
        assert_eq!(step, ReassignmentStep::Complete { leader: 1, isr: vec![1, 2], remove: vec![3] });
        // No live RAR member to lead: wait.
        let step = reassignment_step(&[2], &[1, 2], Some((1, &[1, 2])), &live_set(&[1]));
        assert_eq!(step, ReassignmentStep::Wait { missing: vec![2] });
    }

    #[test]
    fn a_partition_without_state_waits() {
        let step = reassignment_step(&[2], &[1, 2], None, &live_set(&[1, 2]));
        assert_eq!(step, ReassignmentStep::Wait { missing: vec![2] });
    }
}
