//! The controller's in-memory model (0.8.2 `ControllerContext`, docs/zookeeper-layout.md)
//! and the requests built from it. Owned by the event loop alone: no locks.

use crate::api::{Broker, LeaderAndIsrRequest, PartitionState, StopReplicaRequest, UpdateMetadataRequest};
use super::selector::LeaderView;
use crate::zk::state::StateRead;
use crate::common::TopicPartition;
use crate::zk::json;
use std::collections::{BTreeMap, BTreeSet};

/// A partition's leadership as last read from or written to its state znode, with the
/// znode version (0.8.2 `LeaderIsrAndControllerEpoch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderIsrAndControllerEpoch {
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    /// Epoch of the controller that made the last leadership decision.
    pub controller_epoch: i32,
    /// The state znode's data version.
    pub zk_version: i32,
}

impl LeaderIsrAndControllerEpoch {
    pub fn from_json(state: &json::PartitionState, zk_version: i32) -> Self {
        LeaderIsrAndControllerEpoch {
            leader: state.leader,
            leader_epoch: state.leader_epoch,
            isr: state.isr.clone(),
            controller_epoch: state.controller_epoch,
            zk_version,
        }
    }

    pub fn to_json(&self) -> json::PartitionState {
        json::PartitionState::new(self.leader, self.leader_epoch, self.isr.clone(), self.controller_epoch)
    }
}

#[derive(Debug, Clone, Default)]
pub struct ControllerContext {
    /// This broker's id: the controller id of every request.
    pub controller_id: i32,
    pub epoch: i32,
    /// Version of `/controller_epoch` after our increment: every state write is guarded by it.
    pub epoch_zk_version: i32,
    /// Registered brokers (including those in controlled shutdown).
    pub live_brokers: BTreeMap<i32, Broker>,
    /// The czxid of each registered broker's `/brokers/ids/<id>` as last read: a different
    /// one means the broker registered again (KAFKA-1120).
    pub registrations: BTreeMap<i32, i64>,
    /// Brokers in controlled shutdown: still registered, no longer electable.
    pub shutting_down: BTreeSet<i32>,
    /// Assigned replicas per topic and partition, from `/brokers/topics/<t>`.
    pub assignments: BTreeMap<String, BTreeMap<i32, Vec<i32>>>,
    /// Partitions that have a state znode.
    pub leadership: BTreeMap<TopicPartition, LeaderIsrAndControllerEpoch>,
}

impl ControllerContext {
    /// Brokers that can lead (registered and not shutting down).
    pub fn live_broker_ids(&self) -> BTreeSet<i32> {
        self.live_brokers.keys().copied().filter(|id| !self.shutting_down.contains(id)).collect()
    }

    /// Brokers that receive requests.
    pub fn live_or_shutting_down_ids(&self) -> BTreeSet<i32> {
        self.live_brokers.keys().copied().collect()
    }

    pub fn replicas(&self, tp: &TopicPartition) -> Option<&Vec<i32>> {
        self.assignments.get(&tp.topic).and_then(|parts| parts.get(&tp.partition))
    }

    pub fn all_partitions(&self) -> Vec<TopicPartition> {
        self.assignments
            .iter()
            .flat_map(|(t, parts)| parts.keys().map(move |p| TopicPartition::new(t.clone(), *p)))
            .collect()
    }

    pub fn topic_partitions(&self, topic: &str) -> Vec<TopicPartition> {
        self.assignments
            .get(topic)
            .map(|parts| parts.keys().map(|p| TopicPartition::new(topic, *p)).collect())
            .unwrap_or_default()
    }

    /// Partitions with a replica on `broker`.
    pub fn partitions_on_broker(&self, broker: i32) -> Vec<TopicPartition> {
        self.assignments
            .iter()
            .flat_map(|(t, parts)| {
                parts
                    .iter()
                    .filter(move |(_, ar)| ar.contains(&broker))
                    .map(move |(p, _)| TopicPartition::new(t.clone(), *p))
            })
            .collect()
    }

    /// Partitions with no state znode (New) or whose leader cannot lead (Offline).
    pub fn offline_partitions(&self) -> Vec<TopicPartition> {
        let live = self.live_broker_ids();
        self.all_partitions()
            .into_iter()
            .filter(|tp| match self.leadership.get(tp) {
                None => true,
                Some(l) => !live.contains(&l.leader),
            })
            .collect()
    }

    /// Partitions with no live leader, or with dead brokers still in their ISR: what a new
    /// controller must repair, since brokers that died while no controller was active
    /// never had their failure handled (0.8.2 left their ISR entries until the leader's
    /// own ISR expiration, stalling acks=-1 producers meanwhile).
    pub fn partitions_needing_repair(&self) -> Vec<TopicPartition> {
        let live = self.live_broker_ids();
        self.all_partitions()
            .into_iter()
            .filter(|tp| match self.leadership.get(tp) {
                None => true,
                Some(l) => !live.contains(&l.leader) || l.isr.iter().any(|r| !live.contains(r)),
            })
            .collect()
    }

    /// Take the state znodes read for `partitions` (failover): present ones are known,
    /// unreadable ones are logged and left unknown.
    pub fn load_states(&mut self, partitions: &[TopicPartition], reads: Vec<StateRead>) {
        for (tp, read) in partitions.iter().zip(reads) {
            match read {
                StateRead::Present(state, version) => {
                    self.leadership.insert(tp.clone(), LeaderIsrAndControllerEpoch::from_json(&state, version));
                }
                StateRead::Missing => {
                    self.leadership.remove(tp);
                }
                StateRead::Invalid(e) => log::error!("ignoring unreadable partition state: {}", e),
            }
        }
    }

    /// The partitions with a known leadership, for the leader-balance decisions.
    pub fn leader_views(&self) -> Vec<LeaderView> {
        self.leadership
            .iter()
            .filter_map(|(tp, l)| {
                self.replicas(tp).map(|ar| LeaderView { partition: tp.clone(), assigned: ar.clone(), leader: l.leader })
            })
            .collect()
    }

    /// Forget a topic that disappeared from `/brokers/topics`.
    pub fn remove_topic(&mut self, topic: &str) {
        self.assignments.remove(topic);
        self.leadership.retain(|tp, _| tp.topic != topic);
    }

    /// A partition as the requests carry it. A partition with no state znode (no replica
    /// was ever alive) goes out as leader -1, epochs -1, empty ISR, so brokers answer
    /// LeaderNotAvailable for it.
    pub fn partition_state(&self, tp: &TopicPartition) -> PartitionState {
        let replicas = self.replicas(tp).cloned().unwrap_or_default();
        match self.leadership.get(tp) {
            Some(l) => PartitionState {
                topic: tp.topic.clone(),
                partition: tp.partition,
                controller_epoch: l.controller_epoch,
                leader: l.leader,
                leader_epoch: l.leader_epoch,
                isr: l.isr.clone(),
                zk_version: l.zk_version,
                replicas,
            },
            None => PartitionState {
                topic: tp.topic.clone(),
                partition: tp.partition,
                controller_epoch: self.epoch,
                leader: -1,
                leader_epoch: -1,
                isr: vec![],
                zk_version: -1,
                replicas,
            },
        }
    }

    fn brokers(&self) -> Vec<Broker> {
        self.live_brokers.values().cloned().collect()
    }

    /// LeaderAndIsr for `partitions` (0.8.2 layout: states plus the leaders among the live
    /// brokers).
    pub fn leader_and_isr_request<'a>(
        &self,
        controller_id: i32,
        partitions: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> LeaderAndIsrRequest {
        let partition_states: Vec<PartitionState> = partitions.into_iter().map(|tp| self.partition_state(tp)).collect();
        let leader_ids: BTreeSet<i32> = partition_states.iter().map(|s| s.leader).collect();
        let leaders = self.live_brokers.values().filter(|b| leader_ids.contains(&b.id)).cloned().collect();
        LeaderAndIsrRequest { controller_id, controller_epoch: self.epoch, partition_states, leaders }
    }

    /// StopReplica for `partitions`.
    pub fn stop_replica_request<'a>(
        &self,
        controller_id: i32,
        delete_partitions: bool,
        partitions: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> StopReplicaRequest {
        StopReplicaRequest {
            controller_id,
            controller_epoch: self.epoch,
            delete_partitions,
            partitions: partitions.into_iter().cloned().collect(),
        }
    }

    /// UpdateMetadata for `partitions` with every live broker.
    pub fn update_metadata_request<'a>(
        &self,
        controller_id: i32,
        partitions: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> UpdateMetadataRequest {
        UpdateMetadataRequest {
            controller_id,
            controller_epoch: self.epoch,
            partition_states: partitions.into_iter().map(|tp| self.partition_state(tp)).collect(),
            alive_brokers: self.brokers(),
        }
    }
}

/// What changed under `/brokers/ids` since the controller last looked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerChanges {
    pub new: BTreeSet<i32>,
    pub dead: BTreeSet<i32>,
    /// Registered before and now, but with a re-created znode: the broker restarted (or
    /// lost its session) between two watch events and must be handled as a failure and a
    /// start-up, or it would never get its partitions again (KAFKA-1120).
    pub bounced: BTreeSet<i32>,
}

impl BrokerChanges {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.dead.is_empty() && self.bounced.is_empty()
    }
}

/// Compare the registrations the controller knows (`known`: id → czxid) with the children
/// of `/brokers/ids` (`listed`) and the registrations just read (`read`: the readable ones).
/// A listed broker whose registration could not be read is neither new nor bounced: the
/// next watch event sees it again.
pub fn broker_changes(known: &BTreeMap<i32, i64>, listed: &BTreeSet<i32>, read: &BTreeMap<i32, i64>) -> BrokerChanges {
    BrokerChanges {
        new: read.keys().copied().filter(|id| listed.contains(id) && !known.contains_key(id)).collect(),
        dead: known.keys().copied().filter(|id| !listed.contains(id)).collect(),
        bounced: read
            .iter()
            .filter(|(id, czxid)| listed.contains(id) && known.get(id).is_some_and(|k| k != *czxid))
            .map(|(id, _)| *id)
            .collect(),
    }
}

/// A request on its way to one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerRequest {
    LeaderAndIsr(LeaderAndIsrRequest),
    UpdateMetadata(UpdateMetadataRequest),
    StopReplica(StopReplicaRequest),
}

impl ControllerRequest {
    pub fn name(&self) -> &'static str {
        match self {
            ControllerRequest::LeaderAndIsr(_) => "LeaderAndIsr",
            ControllerRequest::UpdateMetadata(_) => "UpdateMetadata",
            ControllerRequest::StopReplica(_) => "StopReplica",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum MetadataScope {
    All,
    Partitions(BTreeSet<TopicPartition>),
}

/// Collects what one controller decision must tell which broker (0.8.2
/// `ControllerBrokerRequestBatch`), then builds one request of each kind per broker from
/// the context as it is at send time. Every partition in a LeaderAndIsr also goes to every
/// live broker in an UpdateMetadata.
#[derive(Debug, Default)]
pub struct RequestBatch {
    leader_and_isr: BTreeMap<i32, BTreeSet<TopicPartition>>,
    update_metadata: BTreeMap<i32, MetadataScope>,
    /// StopReplica without deletion.
    stop_replica: BTreeMap<i32, BTreeSet<TopicPartition>>,
    /// StopReplica with deletion (replicas moved away by a reassignment, deleted topics).
    stop_replica_delete: BTreeMap<i32, BTreeSet<TopicPartition>>,
}

impl RequestBatch {
    pub fn new() -> RequestBatch {
        RequestBatch::default()
    }

    pub fn is_empty(&self) -> bool {
        self.leader_and_isr.is_empty()
            && self.update_metadata.is_empty()
            && self.stop_replica.is_empty()
            && self.stop_replica_delete.is_empty()
    }

    pub fn add_leader_and_isr(&mut self, brokers: impl IntoIterator<Item = i32>, tp: &TopicPartition) {
        for b in brokers {
            self.leader_and_isr.entry(b).or_default().insert(tp.clone());
        }
    }

    pub fn add_update_metadata(&mut self, brokers: impl IntoIterator<Item = i32>, tp: &TopicPartition) {
        for b in brokers {
            match self.update_metadata.entry(b).or_insert_with(|| MetadataScope::Partitions(BTreeSet::new())) {
                MetadataScope::All => {}
                MetadataScope::Partitions(set) => {
                    set.insert(tp.clone());
                }
            }
        }
    }

    /// StopReplica(delete = false): the broker stops fetching `tp` and keeps its log.
    pub fn add_stop_replica(&mut self, broker: i32, tp: &TopicPartition) {
        self.stop_replica.entry(broker).or_default().insert(tp.clone());
    }

    /// StopReplica(delete = true): the broker stops `tp` and deletes its log directory.
    pub fn add_stop_replica_delete(&mut self, broker: i32, tp: &TopicPartition) {
        self.stop_replica_delete.entry(broker).or_default().insert(tp.clone());
    }

    /// UpdateMetadata with every partition the controller knows.
    pub fn add_update_metadata_all(&mut self, brokers: impl IntoIterator<Item = i32>) {
        for b in brokers {
            self.update_metadata.insert(b, MetadataScope::All);
        }
    }

    /// The requests, per broker in sending order (LeaderAndIsr, UpdateMetadata, StopReplica,
    /// as 0.8.2 sent them). Brokers that are not registered any more are skipped.
    ///
    /// A broker in controlled shutdown gets its LeaderAndIsr without the leaders' addresses:
    /// it stops leading but follows nobody, because a fetch from it would make the new
    /// leader add it back to the ISR the controller is taking it out of (0.8.2 let it fetch).
    pub fn build(self, ctx: &ControllerContext, controller_id: i32) -> Vec<(i32, ControllerRequest)> {
        let recipients = ctx.live_or_shutting_down_ids();
        let announced: BTreeSet<TopicPartition> = self.leader_and_isr.values().flatten().cloned().collect();
        let mut update_metadata = self.update_metadata;
        if !announced.is_empty() {
            for &b in &recipients {
                match update_metadata.entry(b).or_insert_with(|| MetadataScope::Partitions(BTreeSet::new())) {
                    MetadataScope::All => {}
                    MetadataScope::Partitions(set) => set.extend(announced.iter().cloned()),
                }
            }
        }
        let mut out = Vec::new();
        for (b, partitions) in &self.leader_and_isr {
            // A partition without a live leader only goes out in UpdateMetadata: there is
            // nobody to follow (0.8.2 brokers logged and skipped such entries).
            let led: Vec<&TopicPartition> = partitions
                .iter()
                .filter(|tp| ctx.leadership.get(*tp).is_some_and(|l| ctx.live_brokers.contains_key(&l.leader)))
                .collect();
            if recipients.contains(b) && !led.is_empty() {
                let mut request = ctx.leader_and_isr_request(controller_id, led);
                if ctx.shutting_down.contains(b) {
                    request.leaders.clear();
                }
                out.push((*b, ControllerRequest::LeaderAndIsr(request)));
            }
        }
        let all = ctx.all_partitions();
        for (b, scope) in &update_metadata {
            if !recipients.contains(b) {
                continue;
            }
            let request = match scope {
                MetadataScope::All => ctx.update_metadata_request(controller_id, &all),
                MetadataScope::Partitions(set) => ctx.update_metadata_request(controller_id, set),
            };
            out.push((*b, ControllerRequest::UpdateMetadata(request)));
        }
        for (b, partitions) in &self.stop_replica {
            if recipients.contains(b) {
                out.push((
                    *b,
                    ControllerRequest::StopReplica(ctx.stop_replica_request(controller_id, false, partitions)),
                ));
            }
        }
        for (b, partitions) in &self.stop_replica_delete {
            if recipients.contains(b) {
                out.push((
                    *b,
                    ControllerRequest::StopReplica(ctx.stop_replica_request(controller_id, true, partitions)),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ControllerContext {
        let mut ctx = ControllerContext { epoch: 4, epoch_zk_version: 3, ..Default::default() };
        ctx.live_brokers.insert(1, Broker::new(1, "h1", 9091));
        ctx.live_brokers.insert(2, Broker::new(2, "h2", 9092));
        let mut parts = BTreeMap::new();
        parts.insert(0, vec![1, 2]);
        parts.insert(1, vec![2, 1]);
        parts.insert(2, vec![3]);
        ctx.assignments.insert("t".into(), parts);
        ctx.leadership.insert(
            TopicPartition::new("t", 0),
            LeaderIsrAndControllerEpoch {
                leader: 1,
                leader_epoch: 0,
                isr: vec![1, 2],
                controller_epoch: 4,
                zk_version: 0,
            },
        );
        ctx.leadership.insert(
            TopicPartition::new("t", 1),
            LeaderIsrAndControllerEpoch {
                leader: 2,
                leader_epoch: 5,
                isr: vec![2],
                controller_epoch: 3,
                zk_version: 7,
            },
        );
        ctx
    }

    #[test]
    fn a_broker_registered_again_between_two_looks_is_bounced_not_unchanged() {
        let known = BTreeMap::from([(1, 100), (2, 200), (3, 300)]);
        let listed = BTreeSet::from([1, 2, 4, 5]);
        // 2 re-created its znode (new czxid); 5 is listed but its registration vanished.
        let read = BTreeMap::from([(1, 100), (2, 250), (4, 400)]);
        let c = broker_changes(&known, &listed, &read);
        assert_eq!(c.new, BTreeSet::from([4]));
        assert_eq!(c.dead, BTreeSet::from([3]));
        assert_eq!(c.bounced, BTreeSet::from([2]));
        let same = broker_changes(&known, &BTreeSet::from([1, 2, 3]), &known);
        assert!(same.is_empty());
    }

    #[test]
    fn offline_partitions_are_new_or_led_by_a_dead_or_shutting_down_broker() {
        let mut c = ctx();
        assert_eq!(c.offline_partitions(), vec![TopicPartition::new("t", 2)]);
        c.shutting_down.insert(2);
        assert_eq!(c.offline_partitions(), vec![TopicPartition::new("t", 1), TopicPartition::new("t", 2)]);
        assert_eq!(c.partitions_on_broker(2).len(), 2);
    }

    #[test]
    fn leader_and_isr_carries_the_decision_epoch_zk_version_replicas_and_leaders() {
        let c = ctx();
        let r = c.leader_and_isr_request(9, &[TopicPartition::new("t", 1)]);
        assert_eq!((r.controller_id, r.controller_epoch), (9, 4));
        assert_eq!(
            r.partition_states,
            vec![PartitionState {
                topic: "t".into(),
                partition: 1,
                controller_epoch: 3,
                leader: 2,
                leader_epoch: 5,
                isr: vec![2],
                zk_version: 7,
                replicas: vec![2, 1]
            }]
        );
        assert_eq!(r.leaders, vec![Broker::new(2, "h2", 9092)]);
    }

    #[test]
    fn a_partition_without_state_goes_out_leaderless() {
        let s = ctx().partition_state(&TopicPartition::new("t", 2));
        assert_eq!((s.leader, s.leader_epoch, s.isr.len(), s.zk_version, s.replicas), (-1, -1, 0, -1, vec![3]));
    }

    #[test]
    fn partitions_without_a_live_leader_get_metadata_but_no_leader_and_isr() {
        let mut c = ctx();
        c.leadership.get_mut(&TopicPartition::new("t", 1)).unwrap().leader = 3; // dead
        let mut batch = RequestBatch::new();
        for p in 0..3 {
            batch.add_leader_and_isr([1], &TopicPartition::new("t", p));
        }
        let out = batch.build(&c, 1);
        match &out[0] {
            (1, ControllerRequest::LeaderAndIsr(r)) => {
                assert_eq!(r.partition_states.iter().map(|s| s.partition).collect::<Vec<_>>(), vec![0]);
            }
            other => panic!("{:?}", other),
        }
        match &out[1] {
            (1, ControllerRequest::UpdateMetadata(r)) => assert_eq!(r.partition_states.len(), 3),
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn a_shutting_down_broker_learns_it_leads_no_more_but_not_whom_to_follow() {
        let mut c = ctx();
        c.shutting_down.insert(1);
        let mut batch = RequestBatch::new();
        batch.add_leader_and_isr([1, 2], &TopicPartition::new("t", 1));
        batch.add_stop_replica(1, &TopicPartition::new("t", 0));
        batch.add_stop_replica(3, &TopicPartition::new("t", 2)); // not registered: skipped
        let out = batch.build(&c, 2);
        let kinds: Vec<(i32, &str)> = out.iter().map(|(b, r)| (*b, r.name())).collect();
        assert_eq!(
            kinds,
            vec![
                (1, "LeaderAndIsr"),
                (2, "LeaderAndIsr"),
                (1, "UpdateMetadata"),
                (2, "UpdateMetadata"),
                (1, "StopReplica")
            ]
        );
        match (&out[0].1, &out[1].1) {
            (ControllerRequest::LeaderAndIsr(to_stopping), ControllerRequest::LeaderAndIsr(to_leader)) => {
                assert_eq!(to_stopping.partition_states, to_leader.partition_states);
                assert!(to_stopping.leaders.is_empty());
                assert_eq!(to_leader.leaders, vec![Broker::new(2, "h2", 9092)]);
            }
            other => panic!("{:?}", other),
        }
        match &out[4].1 {
            ControllerRequest::StopReplica(r) => {
                assert_eq!((r.controller_id, r.controller_epoch, r.delete_partitions), (2, 4, false));
                assert_eq!(r.partitions, vec![TopicPartition::new("t", 0)]);
            }
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn a_batch_sends_leader_and_isr_first_and_metadata_for_announced_partitions_to_everyone() {
        let c = ctx();
        let mut batch = RequestBatch::new();
        batch.add_leader_and_isr([1, 2, 3], &TopicPartition::new("t", 0));
        let out = batch.build(&c, 1);
        let kinds: Vec<(i32, &str)> = out.iter().map(|(b, r)| (*b, r.name())).collect();
        assert_eq!(kinds, vec![(1, "LeaderAndIsr"), (2, "LeaderAndIsr"), (1, "UpdateMetadata"), (2, "UpdateMetadata")]);
        match &out[2].1 {
            ControllerRequest::UpdateMetadata(um) => {
                assert_eq!(um.partition_states.len(), 1);
                assert_eq!(um.alive_brokers.len(), 2);
            }
            other => panic!("{:?}", other),
        }

        let mut batch = RequestBatch::new();
        batch.add_update_metadata([2], &TopicPartition::new("t", 1));
        batch.add_update_metadata_all([1]);
        batch.add_update_metadata([1], &TopicPartition::new("t", 1));
        let out = batch.build(&c, 1);
        let sizes: Vec<(i32, usize)> = out
            .iter()
            .map(|(b, r)| match r {
                ControllerRequest::UpdateMetadata(um) => (*b, um.partition_states.len()),
                _ => panic!(),
            })
            .collect();
        assert_eq!(sizes, vec![(1, 3), (2, 1)]);
    }
}
