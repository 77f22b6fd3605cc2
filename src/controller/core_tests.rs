//! The controller's decisions without ZooKeeper: the decision core
//! ([`super::change`]) over [`MemoryStore`], with the faults ZooKeeper produces.

use super::change::{self, ChangeKind, DeletionPass, Effect, Input, PartitionStateChange, MAX_ROUNDS};
use super::channel::RequestSink;
use super::context::{ControllerContext, ControllerRequest};
use super::selector::{reassignment_step, ReassignmentStep};
use super::selector::{preferred_election_moves, rebalance_moves, OnlineMode, NO_LEADER};
use super::store::{Fault, MemoryStore};
use crate::zk::state::{EpochFence, FenceError, StateRead, StateWrite};
use crate::api::Broker;
use crate::common::{Properties, TopicPartition};
use crate::zk::json::PartitionState;
use crate::zk::{paths, ZkError};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::oneshot;

const EPOCH: i32 = 5;

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

/// A controller of epoch 5 that knows `live` brokers and the assignments.
fn controller(live: &[i32], assignments: &[(&str, i32, &[i32])]) -> ControllerContext {
    let mut ctx = ControllerContext { controller_id: 1, epoch: EPOCH, epoch_zk_version: 4, ..Default::default() };
    for &id in live {
        ctx.live_brokers.insert(id, Broker::new(id, format!("h{}", id), 9090 + id));
    }
    for (topic, p, ar) in assignments {
        ctx.assignments.entry(topic.to_string()).or_default().insert(*p, ar.to_vec());
    }
    ctx
}

fn store(batch_size: usize) -> MemoryStore {
    let s = MemoryStore::new(batch_size);
    s.set_epoch_zk_version(4);
    s
}

fn fence(ctx: &ControllerContext) -> EpochFence {
    EpochFence { epoch: ctx.epoch, epoch_zk_version: ctx.epoch_zk_version }
}

/// Leader, ISR (leader epoch 3, decided by controller epoch 4) in the store and the context.
fn put(store: &MemoryStore, ctx: &mut ControllerContext, t: &TopicPartition, leader: i32, isr: &[i32]) {
    store.put_state(t, &PartitionState::new(leader, 3, isr.to_vec(), EPOCH - 1));
    let (state, version) = store.state(t).unwrap();
    ctx.leadership.insert(t.clone(), super::LeaderIsrAndControllerEpoch::from_json(&state, version));
}

/// The requests a change sends, as the channels would get them.
#[derive(Debug, Default)]
struct Recorder {
    sent: Vec<(i32, ControllerRequest, bool)>,
    /// The answer of each tracked request, to give or to drop.
    answers: Vec<(i32, oneshot::Sender<()>)>,
}

impl RequestSink for Recorder {
    fn send(&mut self, broker: i32, request: ControllerRequest) {
        self.sent.push((broker, request, false));
    }

    fn send_tracked(&mut self, broker: i32, request: ControllerRequest) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.sent.push((broker, request, true));
        self.answers.push((broker, tx));
        rx
    }
}

impl Recorder {
    /// Each request as (broker, "Kind partitions", tracked), in sending order.
    fn requests(&self) -> Vec<(i32, String, bool)> {
        self.sent.iter().map(|(b, r, tracked)| (*b, describe(r), *tracked)).collect()
    }

    /// The brokers answer every tracked request sent so far.
    fn answer_all(&mut self) {
        for (_, tx) in self.answers.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// "LeaderAndIsr t-0 t-1", "UpdateMetadata t-0", "StopReplica t-0", "StopReplica+delete t-0".
fn describe(request: &ControllerRequest) -> String {
    let names = |ps: &mut dyn Iterator<Item = (&String, i32)>| {
        ps.map(|(t, p)| format!(" {}-{}", t, p)).collect::<String>()
    };
    match request {
        ControllerRequest::LeaderAndIsr(r) => {
            format!("LeaderAndIsr{}", names(&mut r.partition_states.iter().map(|s| (&s.topic, s.partition))))
        }
        ControllerRequest::UpdateMetadata(r) => {
            format!("UpdateMetadata{}", names(&mut r.partition_states.iter().map(|s| (&s.topic, s.partition))))
        }
        ControllerRequest::StopReplica(r) => format!(
            "StopReplica{}{}",
            if r.delete_partitions { "+delete" } else { "" },
            names(&mut r.partitions.iter().map(|tp| (&tp.topic, tp.partition)))
        ),
    }
}

fn run(
    store: &MemoryStore,
    ctx: &mut ControllerContext,
    kind: ChangeKind,
    partitions: Vec<TopicPartition>,
) -> (Result<(), FenceError>, PartitionStateChange) {
    let (result, change, _) = run_change(store, ctx, PartitionStateChange::new(kind, partitions, true));
    (result, change)
}

/// Run `change` to its end; what it sent is in the recorder.
fn run_change(
    store: &MemoryStore,
    ctx: &mut ControllerContext,
    mut change: PartitionStateChange,
) -> (Result<(), FenceError>, PartitionStateChange, Recorder) {
    let mut sink = Recorder::default();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let result = rt.block_on(change::run(store, fence(ctx), ctx, &mut change, &mut sink));
    (result, change, sink)
}

fn run_reassignment(
    store: &MemoryStore,
    ctx: &mut ControllerContext,
    targets: &[(TopicPartition, &[i32])],
) -> (Result<(), FenceError>, PartitionStateChange) {
    let (result, change, _) = run_reassignment_sending(store, ctx, targets);
    (result, change)
}

fn run_reassignment_sending(
    store: &MemoryStore,
    ctx: &mut ControllerContext,
    targets: &[(TopicPartition, &[i32])],
) -> (Result<(), FenceError>, PartitionStateChange, Recorder) {
    let targets: BTreeMap<TopicPartition, Vec<i32>> = targets.iter().map(|(t, r)| (t.clone(), r.to_vec())).collect();
    run_change(store, ctx, PartitionStateChange::reassignment(targets))
}

/// (leader, isr, leader epoch, controller epoch) in the store.
fn stored(store: &MemoryStore, t: &TopicPartition) -> (i32, Vec<i32>, i32, i32) {
    let (s, _) = store.state(t).unwrap();
    (s.leader, s.isr, s.leader_epoch, s.controller_epoch)
}

fn believed(ctx: &ControllerContext, t: &TopicPartition) -> (i32, Vec<i32>) {
    let l = &ctx.leadership[t];
    (l.leader, l.isr.clone())
}

/// The context believes exactly what the store holds, versions included.
fn assert_in_sync(store: &MemoryStore, ctx: &ControllerContext) {
    for (t, l) in &ctx.leadership {
        let (s, version) = store.state(t).unwrap();
        assert_eq!(
            (l.leader, &l.isr, l.leader_epoch, l.zk_version),
            (s.leader, &s.isr, s.leader_epoch, version),
            "{}",
            t
        );
    }
}

#[test]
fn broker_failure_elects_from_the_isr_and_takes_the_dead_broker_out_of_isrs() {
    let mut ctx =
        controller(&[1, 2, 3], &[("t", 0, &[1, 2, 3]), ("t", 1, &[2, 3, 1]), ("t", 2, &[1]), ("u", 0, &[2, 3])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2, 3]);
    put(&s, &mut ctx, &tp("t", 1), 2, &[2, 3, 1]);
    put(&s, &mut ctx, &tp("t", 2), 1, &[1]);
    put(&s, &mut ctx, &tp("u", 0), 2, &[2, 3]);
    ctx.live_brokers.remove(&1);
    let affected = vec![tp("t", 0), tp("t", 1), tp("t", 2), tp("u", 0)];
    let (result, change) = run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), affected);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (2, vec![2, 3], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2, 3], 4, EPOCH));
    // The only replica died: no leader (unclean election allowed: empty ISR).
    assert_eq!(stored(&s, &tp("t", 2)), (NO_LEADER, vec![], 4, EPOCH));
    // Not touched by the failure: no write.
    assert_eq!(stored(&s, &tp("u", 0)), (2, vec![2, 3], 3, EPOCH - 1));
    assert_eq!(
        change.written.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(),
        vec![tp("t", 0), tp("t", 1), tp("t", 2)]
    );
    assert_eq!(change.written[0].1, vec![2, 3], "LeaderAndIsr to the live replicas");
    assert_in_sync(&s, &ctx);
}

#[test]
fn a_topic_that_forbids_unclean_election_keeps_its_last_isr_member_and_no_leader() {
    let mut ctx = controller(&[2], &[("safe", 0, &[1, 2]), ("loose", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("safe", 0), 1, &[1]);
    put(&s, &mut ctx, &tp("loose", 0), 1, &[1]);
    let mut props = Properties::new();
    props.set("unclean.leader.election.enable", "false");
    s.set_topic_config("safe", props);
    let (result, change) =
        run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), vec![tp("safe", 0), tp("loose", 0)]);
    result.unwrap();
    assert_eq!(stored(&s, &tp("safe", 0)), (NO_LEADER, vec![1], 4, EPOCH));
    assert_eq!(stored(&s, &tp("loose", 0)), (2, vec![2], 4, EPOCH));
    assert_eq!(change.unclean_elections, 1);
}

#[test]
fn new_partitions_get_their_first_state_with_the_missing_parents_created_once() {
    let mut ctx = controller(&[1, 2], &[("n", 0, &[2, 1]), ("n", 1, &[3, 1]), ("n", 2, &[3])]);
    let mut change = PartitionStateChange::new(
        ChangeKind::Online(OnlineMode::ElectIfOffline),
        vec![tp("n", 0), tp("n", 1), tp("n", 2)],
        true,
    );
    assert_eq!(change.step(&mut ctx, Input::Start), Effect::ReadStates(vec![tp("n", 0), tp("n", 1), tp("n", 2)]));
    let effect = change.step(&mut ctx, Input::States(vec![StateRead::Missing; 3]));
    assert_eq!(effect, Effect::ReadTopics { configs: vec![], children: vec!["n".into()] });
    let effect = change.step(&mut ctx, Input::Topics { configs: vec![], children: vec![("n".into(), None)] });
    let Effect::Write(writes) = effect else { panic!("{:?}", effect) };
    let expected = vec![
        StateWrite::create(
            &tp("n", 0),
            vec![paths::topic_partitions("n"), paths::partition("n", 0)],
            &PartitionState::new(2, 0, vec![2, 1], EPOCH),
        ),
        StateWrite::create(&tp("n", 1), vec![paths::partition("n", 1)], &PartitionState::new(1, 0, vec![1], EPOCH)),
    ];
    assert_eq!(writes, expected, "n-2 has no live replica and stays New");
    let effect =
        change.step(&mut ctx, Input::Written(vec![super::WriteOutcome::Written(0), super::WriteOutcome::Written(0)]));
    let Effect::Send(requests) = effect else { panic!("{:?}", effect) };
    let requests: Vec<(i32, String)> = requests.iter().map(|o| (o.broker, describe(&o.request))).collect();
    assert_eq!(
        requests,
        vec![
            (1, "LeaderAndIsr n-0 n-1".to_string()),
            (2, "LeaderAndIsr n-0".to_string()),
            (1, "UpdateMetadata n-0 n-1".to_string()),
            (2, "UpdateMetadata n-0 n-1".to_string()),
        ]
    );
    assert_eq!(change.step(&mut ctx, Input::Sent), Effect::Done);
    assert_eq!(believed(&ctx, &tp("n", 1)), (1, vec![1]));
    assert!(!ctx.leadership.contains_key(&tp("n", 2)));
}

#[test]
fn controlled_shutdown_moves_leadership_and_leaves_isrs_but_a_sole_isr_leader_stays() {
    let mut ctx = controller(&[1, 2, 3], &[("t", 0, &[1, 2]), ("t", 1, &[2, 1]), ("t", 2, &[1, 3]), ("t", 3, &[3, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    put(&s, &mut ctx, &tp("t", 1), 2, &[2, 1]);
    put(&s, &mut ctx, &tp("t", 2), 1, &[1]);
    put(&s, &mut ctx, &tp("t", 3), 3, &[3, 2]);
    ctx.shutting_down.insert(1);
    let partitions = ctx.partitions_on_broker(1);
    let (result, change) = run(&s, &mut ctx, ChangeKind::ControlledShutdown(1), partitions);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (2, vec![2], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 2)), (1, vec![1], 3, EPOCH - 1), "no other ISR member: it keeps leading");
    assert_eq!(stored(&s, &tp("t", 3)), (3, vec![3, 2], 3, EPOCH - 1));
    let still_led: Vec<TopicPartition> =
        ctx.leadership.iter().filter(|(_, l)| l.leader == 1).map(|(t, _)| t.clone()).collect();
    assert_eq!(still_led, vec![tp("t", 2)]);
    assert_eq!(change.written.len(), 2);
    assert_in_sync(&s, &ctx);
}

/// t-0, t-3: preferred replica 1 alive and in the ISR, not leading; t-1: preferred 3
/// out of the ISR; t-2: preferred 4 dead; t-4: already led by its preferred replica.
fn preferred_cluster() -> (ControllerContext, MemoryStore) {
    let mut ctx = controller(
        &[1, 2, 3],
        &[("t", 0, &[1, 2]), ("t", 1, &[3, 2]), ("t", 2, &[4, 2]), ("t", 3, &[1, 3]), ("t", 4, &[2, 1])],
    );
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 2, &[2, 1]);
    put(&s, &mut ctx, &tp("t", 1), 2, &[2]);
    put(&s, &mut ctx, &tp("t", 2), 2, &[2, 4]);
    put(&s, &mut ctx, &tp("t", 3), 3, &[3, 1]);
    put(&s, &mut ctx, &tp("t", 4), 2, &[2, 1]);
    (ctx, s)
}

#[test]
fn preferred_election_of_one_partition_moves_only_that_one() {
    let (mut ctx, s) = preferred_cluster();
    let moves = preferred_election_moves(&ctx.leader_views(), Some(&BTreeSet::from([tp("t", 0)])));
    assert_eq!(moves, vec![tp("t", 0)]);
    let (result, change) = run(&s, &mut ctx, ChangeKind::PreferredReplica, moves);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (1, vec![2, 1], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 3)).0, 3);
    assert_eq!(change.written, vec![(tp("t", 0), vec![1, 2])]);
}

#[test]
fn preferred_election_of_all_skips_a_dead_or_out_of_isr_preferred_replica() {
    let (mut ctx, s) = preferred_cluster();
    let moves = preferred_election_moves(&ctx.leader_views(), None);
    assert_eq!(moves, vec![tp("t", 0), tp("t", 1), tp("t", 2), tp("t", 3)]);
    let (result, change) = run(&s, &mut ctx, ChangeKind::PreferredReplica, moves);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)).0, 1);
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2], 3, EPOCH - 1), "preferred replica 3 is not in the ISR");
    assert_eq!(stored(&s, &tp("t", 2)), (2, vec![2, 4], 3, EPOCH - 1), "preferred replica 4 is dead");
    assert_eq!(stored(&s, &tp("t", 3)).0, 1);
    assert_eq!(stored(&s, &tp("t", 4)), (2, vec![2, 1], 3, EPOCH - 1));
    assert_eq!(change.written.len(), 2);
    assert_in_sync(&s, &ctx);
}

/// Broker 1 prefers `n` partitions and leads all but one (led by 2).
fn imbalanced(n: i32) -> (ControllerContext, MemoryStore) {
    let assignments: Vec<(&str, i32, &[i32])> = (0..n).map(|p| ("r", p, &[1, 2][..])).collect();
    let mut ctx = controller(&[1, 2], &assignments);
    let s = store(1000);
    for p in 0..n {
        let leader = if p == 0 { 2 } else { 1 };
        put(&s, &mut ctx, &tp("r", p), leader, &[1, 2]);
    }
    (ctx, s)
}

#[test]
fn auto_rebalance_moves_leaders_just_above_the_imbalance_percentage_and_not_just_below() {
    // 1 of 9 not led by its preferred replica: 11.1 % > 10 %.
    let (mut ctx, s) = imbalanced(9);
    let moves = rebalance_moves(&ctx.leader_views(), &ctx.live_broker_ids(), &BTreeSet::new(), 10);
    assert_eq!(moves, vec![tp("r", 0)]);
    let (result, _) = run(&s, &mut ctx, ChangeKind::PreferredReplica, moves);
    result.unwrap();
    assert_eq!(stored(&s, &tp("r", 0)).0, 1);

    // 1 of 11: 9.1 % ≤ 10 %; and 1 of 10 is exactly 10 %, not above.
    for n in [11, 10] {
        let (ctx, _) = imbalanced(n);
        assert!(rebalance_moves(&ctx.leader_views(), &ctx.live_broker_ids(), &BTreeSet::new(), 10).is_empty(), "{}", n);
    }
}

#[test]
fn a_concurrent_isr_change_makes_the_controller_read_again_and_decide_on_the_new_isr() {
    let mut ctx = controller(&[1, 2, 3], &[("t", 0, &[1, 2, 3]), ("t", 1, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2, 3]);
    put(&s, &mut ctx, &tp("t", 1), 1, &[1, 2]);
    ctx.live_brokers.remove(&1);
    // Leader 1, before it died, shrank t-0's ISR: our conditional write meets BadVersion.
    s.inject(Fault::ConcurrentWrite(tp("t", 0), PartitionState::new(1, 3, vec![1, 3], EPOCH - 1)));
    let (result, change) =
        run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), vec![tp("t", 0), tp("t", 1)]);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (3, vec![3], 4, EPOCH), "decided on the ISR read the second time");
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2], 4, EPOCH));
    assert_eq!(s.reads(), 3, "two partitions, then the conflicting one again");
    assert!(change.gave_up.is_empty());
    assert_in_sync(&s, &ctx);
}

#[test]
fn a_partition_that_keeps_conflicting_is_given_up_after_the_last_round() {
    let mut ctx = controller(&[2], &[("t", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    ctx.live_brokers.remove(&1);
    for _ in 0..MAX_ROUNDS {
        s.inject(Fault::ConcurrentWrite(tp("t", 0), PartitionState::new(1, 3, vec![1, 2], EPOCH - 1)));
    }
    let (result, change) = run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), vec![tp("t", 0)]);
    result.unwrap();
    assert_eq!(change.gave_up, vec![tp("t", 0)]);
    assert!(change.written.is_empty());
    assert_eq!(s.reads(), MAX_ROUNDS);
    assert_eq!(believed(&ctx, &tp("t", 0)), (1, vec![1, 2]), "nothing of ours believed");
}

#[test]
fn a_session_expiry_between_batches_stops_the_change_with_none_of_it_believed() {
    let assignments: Vec<(&str, i32, &[i32])> = (0..5).map(|p| ("t", p, &[1, 2][..])).collect();
    let mut ctx = controller(&[1, 2], &assignments);
    let s = store(2);
    for p in 0..5 {
        put(&s, &mut ctx, &tp("t", p), 1, &[1, 2]);
    }
    ctx.live_brokers.remove(&1);
    s.inject(Fault::SessionExpiresAtBatch(1));
    let partitions: Vec<TopicPartition> = (0..5).map(|p| tp("t", p)).collect();
    let (result, change) = run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), partitions);
    assert_eq!(result, Err(FenceError::Zk(ZkError::SessionExpired)));
    assert_eq!(s.committed_batches(), vec![2]);
    for p in 0..2 {
        assert_eq!(stored(&s, &tp("t", p)).0, 2, "the first batch was committed");
    }
    for p in 2..5 {
        assert_eq!(stored(&s, &tp("t", p)).0, 1, "the failed batch wrote nothing");
    }
    // The controller resigns on this error; until then it believes none of the change and
    // tells no broker about it (a new controller reads what was committed).
    assert!(change.written.is_empty());
    for p in 0..5 {
        assert_eq!(believed(&ctx, &tp("t", p)), (1, vec![1, 2]));
    }
}

#[test]
fn a_newer_controller_epoch_fences_every_write() {
    let mut ctx = controller(&[2], &[("t", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    ctx.live_brokers.remove(&1);
    s.inject(Fault::EpochBumped);
    let (result, change) = run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), vec![tp("t", 0)]);
    assert_eq!(result, Err(FenceError::Fenced));
    assert_eq!(stored(&s, &tp("t", 0)).0, 1);
    assert!(change.written.is_empty());
    assert_in_sync(&s, &ctx);
}

#[test]
fn a_zookeeper_error_on_read_stops_the_change_before_any_write() {
    let mut ctx = controller(&[2], &[("t", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    ctx.live_brokers.remove(&1);
    s.inject(Fault::ReadFails(ZkError::Other("connection loss".into())));
    let (result, _) = run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), vec![tp("t", 0)]);
    assert!(matches!(result, Err(FenceError::Zk(ZkError::Other(_)))));
    assert!(s.committed_batches().is_empty());
}

#[test]
fn a_new_controller_reads_the_state_repairs_what_failed_meanwhile_and_resumes_the_election_and_reassignment() {
    // Left by the previous controller: broker 3 died while there was none, a preferred
    // replica election of t-0 was asked for, and t-2 is being reassigned from [1] to [2]
    // (started: AR is [1, 2], and broker 2 has joined the ISR).
    let s = store(1000);
    let mut old = controller(&[], &[]);
    put(&s, &mut old, &tp("t", 0), 2, &[2, 1]);
    put(&s, &mut old, &tp("t", 1), 3, &[3, 2]);
    put(&s, &mut old, &tp("t", 2), 1, &[1, 2]);

    // Failover: brokers and assignments from ZooKeeper, then every partition state.
    let mut ctx = controller(&[1, 2], &[("t", 0, &[1, 2]), ("t", 1, &[3, 2]), ("t", 2, &[1, 2])]);
    let all = ctx.all_partitions();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let reads = rt.block_on(super::store::ControllerStore::read_partition_states(&s, &all)).unwrap();
    ctx.load_states(&all, reads);
    assert_eq!(believed(&ctx, &tp("t", 1)), (3, vec![3, 2]));

    let repair = ctx.partitions_needing_repair();
    assert_eq!(repair, vec![tp("t", 1)]);
    let (result, _) = run(&s, &mut ctx, ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), repair);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2], 4, EPOCH));

    let asked = BTreeSet::from([tp("t", 0)]);
    let moves = preferred_election_moves(&ctx.leader_views(), Some(&asked));
    let (result, _) = run(&s, &mut ctx, ChangeKind::PreferredReplica, moves);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)).0, 1);

    // The reassignment picks up where it was: its target is in the ISR → complete it.
    let current = &ctx.leadership[&tp("t", 2)];
    let step = reassignment_step(
        &[2],
        ctx.replicas(&tp("t", 2)).unwrap(),
        Some((current.leader, &current.isr)),
        &ctx.live_broker_ids(),
    );
    assert_eq!(step, ReassignmentStep::Complete { leader: 2, isr: vec![2], remove: vec![1] });
    assert_in_sync(&s, &ctx);
}

#[test]
fn a_reassignment_writes_the_extended_ar_first_and_bumps_the_epoch_again_after_a_concurrent_isr_change() {
    let mut ctx = controller(&[1, 2, 3, 4], &[("t", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    // The leader shrinks the ISR between our read and our write: BadVersion mid-step.
    s.inject(Fault::ConcurrentWrite(tp("t", 0), PartitionState::new(1, 3, vec![1], EPOCH - 1)));
    let (result, change) = run_reassignment(&s, &mut ctx, &[(tp("t", 0), &[3, 4])]);
    result.unwrap();
    assert_eq!(s.assignment("t"), (Some(BTreeMap::from([(0, vec![1, 2, 3, 4])])), 1), "AR := OAR + RAR, written once");
    assert_eq!(ctx.replicas(&tp("t", 0)), Some(&vec![1, 2, 3, 4]));
    assert_eq!(
        stored(&s, &tp("t", 0)),
        (1, vec![1], 4, EPOCH),
        "the epoch bump is made again on the fresh state, or the new replicas would never hear of the move"
    );
    assert_eq!(change.written, vec![(tp("t", 0), vec![1, 2, 3, 4])], "old and new replicas get LeaderAndIsr");
    assert_eq!(change.steps[&tp("t", 0)], ReassignmentStep::StartNewReplicas { assignment: vec![1, 2, 3, 4] });
    assert_eq!(s.reads(), 2);
    assert_in_sync(&s, &ctx);
}

#[test]
fn a_reassignment_whose_state_write_fails_has_its_extended_ar_in_zookeeper_already() {
    let mut ctx = controller(&[1, 2, 3], &[("t", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    s.inject(Fault::SessionExpiresAtBatch(0));
    let (result, change) = run_reassignment(&s, &mut ctx, &[(tp("t", 0), &[2, 3])]);
    assert_eq!(result, Err(FenceError::Zk(ZkError::SessionExpired)));
    // A new controller finds AR = [1, 2, 3] with 3 not yet in the ISR: it waits for 3
    // (which its failover's LeaderAndIsr tells), OAR still inside AR.
    assert_eq!(s.assignment("t").0, Some(BTreeMap::from([(0, vec![1, 2, 3])])));
    assert_eq!(stored(&s, &tp("t", 0)), (1, vec![1, 2], 3, EPOCH - 1));
    assert!(change.written.is_empty());
}

#[test]
fn a_reassignment_completion_that_meets_an_isr_shrink_waits_then_completes_on_the_next_pass() {
    let mut ctx = controller(&[1, 2, 3, 4], &[("t", 0, &[1, 2, 3, 4])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2, 3, 4]);
    // Broker 4 falls out of the ISR between our read and our write.
    s.inject(Fault::ConcurrentWrite(tp("t", 0), PartitionState::new(1, 3, vec![1, 2, 3], EPOCH - 1)));
    let (result, change) = run_reassignment(&s, &mut ctx, &[(tp("t", 0), &[3, 4])]);
    result.unwrap();
    assert_eq!(change.steps[&tp("t", 0)], ReassignmentStep::Wait { missing: vec![4] }, "not cut to a stale ISR");
    assert!(change.written.is_empty());
    assert_eq!(stored(&s, &tp("t", 0)), (1, vec![1, 2, 3], 3, EPOCH - 1));
    assert_eq!(s.assignment("t"), (None, 0));

    // 4 is back in the ISR: leader from RAR (1 is leaving), ISR cut to RAR.
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2, 3, 4]);
    let (result, change) = run_reassignment(&s, &mut ctx, &[(tp("t", 0), &[3, 4])]);
    result.unwrap();
    assert_eq!(change.steps[&tp("t", 0)], ReassignmentStep::Complete { leader: 3, isr: vec![3, 4], remove: vec![1, 2] });
    assert_eq!(stored(&s, &tp("t", 0)), (3, vec![3, 4], 4, EPOCH));
    assert_eq!(change.written, vec![(tp("t", 0), vec![3, 4])]);
    assert_in_sync(&s, &ctx);
}

#[test]
fn a_topic_whose_deletion_starts_mid_change_gets_no_state_write_after_its_conflict() {
    // Broker 1 died: t-0 and u-0 get new leaders. t-0's write meets a leader's concurrent
    // ISR change (BadVersion), and before it is read again the deletion of t starts (the
    // deletion takes the topic out of the model, as `start_topic_deletion` does).
    let mut ctx = controller(&[2, 3], &[("t", 0, &[1, 2]), ("u", 0, &[1, 3])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    put(&s, &mut ctx, &tp("u", 0), 1, &[1, 3]);
    s.inject(Fault::ConcurrentWrite(tp("t", 0), PartitionState::new(1, 3, vec![1, 2], EPOCH - 1)));
    let mut change =
        PartitionStateChange::new(ChangeKind::Online(OnlineMode::ElectAndShrinkIsr), vec![tp("t", 0), tp("u", 0)], true);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut input = Input::Start;
    loop {
        input = match change.step(&mut ctx, input) {
            Effect::ReadStates(ps) => {
                Input::States(rt.block_on(super::store::ControllerStore::read_partition_states(&s, &ps)).unwrap())
            }
            Effect::Write(writes) => {
                let out = rt.block_on(super::store::ControllerStore::write_states(&s, fence(&ctx), &writes)).unwrap();
                ctx.remove_topic("t");
                Input::Written(out)
            }
            Effect::ReadTopics { configs, children } => Input::Topics {
                configs: configs.into_iter().map(|t| (t, None)).collect(),
                children: children.into_iter().map(|t| (t, None)).collect(),
            },
            Effect::Send(_) => Input::Sent,
            Effect::Done => break,
            other => panic!("unexpected {:?}", other),
        };
    }
    assert_eq!(stored(&s, &tp("u", 0)), (3, vec![3], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 0)), (1, vec![1, 2], 3, EPOCH - 1), "the deleted topic's state is left alone");
    assert_eq!(change.written.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(), vec![tp("u", 0)]);
    assert!(change.gave_up.is_empty());
    assert!(!ctx.leadership.contains_key(&tp("t", 0)));
}

// ---- what each change asks of which broker (its Effect::Send) ----

fn reqs(list: &[(i32, &str, bool)]) -> Vec<(i32, String, bool)> {
    list.iter().map(|(b, r, t)| (*b, r.to_string(), *t)).collect()
}

#[test]
fn broker_failure_sends_leader_and_isr_to_the_remaining_replicas_and_metadata_to_every_live_broker() {
    // Broker 1 dies: t-0 loses its leader, t-1 a follower; u-0 is not on broker 1.
    let mut ctx = controller(&[1, 2, 3], &[("t", 0, &[1, 2, 3]), ("t", 1, &[2, 1, 3]), ("u", 0, &[2, 3])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2, 3]);
    put(&s, &mut ctx, &tp("t", 1), 2, &[2, 1, 3]);
    put(&s, &mut ctx, &tp("u", 0), 2, &[2, 3]);
    ctx.live_brokers.remove(&1);
    let change = PartitionStateChange::broker_failure(&ctx, &BTreeSet::from([1]), true);
    let (result, _, sent) = run_change(&s, &mut ctx, change);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (2, vec![2, 3], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2, 3], 4, EPOCH));
    // One LeaderAndIsr per broker for both moved partitions; nothing to the dead broker.
    assert_eq!(
        sent.requests(),
        reqs(&[
            (2, "LeaderAndIsr t-0 t-1", false),
            (3, "LeaderAndIsr t-0 t-1", false),
            (2, "UpdateMetadata t-0 t-1 u-0", false),
            (3, "UpdateMetadata t-0 t-1 u-0", false),
        ])
    );
    let ControllerRequest::LeaderAndIsr(r) = &sent.sent[0].1 else { unreachable!() };
    assert_eq!((r.partition_states[0].leader, r.partition_states[0].leader_epoch), (2, 4), "the written state");
    assert_eq!(r.leaders.iter().map(|b| b.id).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn a_failed_write_batch_sends_nothing() {
    let mut ctx = controller(&[2, 3], &[("t", 0, &[1, 2, 3])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2, 3]);
    s.inject(Fault::SessionExpiresAtBatch(0));
    let change = PartitionStateChange::broker_failure(&ctx, &BTreeSet::from([1]), true);
    let (result, _, sent) = run_change(&s, &mut ctx, change);
    assert_eq!(result, Err(FenceError::Zk(ZkError::SessionExpired)));
    assert!(sent.sent.is_empty(), "{:?}", sent.requests());
}

#[test]
fn controlled_shutdown_stops_the_brokers_followers_first_then_moves_its_leaders_all_tracked() {
    // Broker 1 shuts down: it leads t-0 and follows t-1 and t-2; u-0 has one replica.
    let mut ctx =
        controller(&[1, 2, 3], &[("t", 0, &[1, 2]), ("t", 1, &[2, 1]), ("t", 2, &[3, 1, 2]), ("u", 0, &[1])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    put(&s, &mut ctx, &tp("t", 1), 2, &[2, 1]);
    put(&s, &mut ctx, &tp("t", 2), 3, &[3, 1, 2]);
    put(&s, &mut ctx, &tp("u", 0), 1, &[1]);
    let change = PartitionStateChange::controlled_shutdown(&mut ctx, 1, true);
    let (result, change, sent) = run_change(&s, &mut ctx, change);
    result.unwrap();
    assert!(ctx.shutting_down.contains(&1));
    assert_eq!(stored(&s, &tp("t", 0)), (2, vec![2], 4, EPOCH));
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2], 4, EPOCH));
    assert_eq!(stored(&s, &tp("u", 0)), (1, vec![1], 3, EPOCH - 1), "a single replica is left alone");
    let requests = sent.requests();
    assert_eq!(requests[0], (1, "StopReplica t-1 t-2".to_string(), true), "followers stop before the ISR writes");
    let leader_and_isr: Vec<_> = requests.iter().filter(|(_, r, _)| r.starts_with("LeaderAndIsr")).cloned().collect();
    assert_eq!(
        leader_and_isr,
        reqs(&[
            (1, "LeaderAndIsr t-0", true),
            (2, "LeaderAndIsr t-0 t-1 t-2", false),
            (3, "LeaderAndIsr t-2", false),
        ])
    );
    // The shutting-down broker stops leading but follows nobody.
    let to_1 = sent.sent.iter().find(|(b, r, _)| *b == 1 && matches!(r, ControllerRequest::LeaderAndIsr(_)));
    let Some((_, ControllerRequest::LeaderAndIsr(r), _)) = to_1 else { unreachable!() };
    assert!(r.leaders.is_empty());
    assert!(requests.iter().filter(|(b, _, _)| *b == 1).all(|(_, _, tracked)| *tracked), "{:?}", requests);
    assert!(requests.iter().filter(|(b, _, _)| *b != 1).all(|(_, _, tracked)| !*tracked));
    assert_eq!(change.answers.len(), requests.iter().filter(|(b, _, _)| *b == 1).count());
    assert!(!requests.iter().any(|(_, r, _)| r.contains("delete")));
}

#[test]
fn preferred_election_and_rebalance_send_leader_and_isr_only_for_the_moved_partitions() {
    let mut ctx = controller(&[1, 2, 3], &[("t", 0, &[1, 2]), ("t", 1, &[2, 3]), ("t", 2, &[3, 1])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 2, &[2, 1]);
    put(&s, &mut ctx, &tp("t", 1), 2, &[2, 3]);
    put(&s, &mut ctx, &tp("t", 2), 1, &[1]); // preferred replica 3 out of the ISR
    let moves = preferred_election_moves(&ctx.leader_views(), None);
    let (result, _, sent) =
        run_change(&s, &mut ctx, PartitionStateChange::new(ChangeKind::PreferredReplica, moves, true));
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (1, vec![2, 1], 4, EPOCH));
    assert_eq!(
        sent.requests(),
        reqs(&[
            (1, "LeaderAndIsr t-0", false),
            (2, "LeaderAndIsr t-0", false),
            (1, "UpdateMetadata t-0", false),
            (2, "UpdateMetadata t-0", false),
            (3, "UpdateMetadata t-0", false),
        ])
    );
    // Nothing to move: nothing sent.
    let (result, _, sent) =
        run_change(&s, &mut ctx, PartitionStateChange::new(ChangeKind::PreferredReplica, vec![tp("t", 1)], true));
    result.unwrap();
    assert!(sent.sent.is_empty(), "{:?}", sent.requests());
}

#[test]
fn failover_tells_every_live_replica_its_partitions_and_every_broker_the_cluster() {
    let mut ctx = controller(&[1, 2], &[("t", 0, &[1, 2]), ("t", 1, &[2, 3]), ("t", 2, &[3])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    put(&s, &mut ctx, &tp("t", 1), 3, &[3, 2]); // 3 died while there was no controller
    let change = PartitionStateChange::failover(&ctx, true);
    let (result, _, sent) = run_change(&s, &mut ctx, change);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 1)), (2, vec![2], 4, EPOCH));
    assert_eq!(
        sent.requests(),
        reqs(&[
            (1, "LeaderAndIsr t-0", false),
            (2, "LeaderAndIsr t-0 t-1", false),
            (1, "UpdateMetadata t-0 t-1 t-2", false),
            (2, "UpdateMetadata t-0 t-1 t-2", false),
        ])
    );
}

#[test]
fn broker_startup_gives_the_new_broker_the_cluster_first_then_its_partitions() {
    let mut ctx = controller(&[1, 2], &[("t", 0, &[1, 3]), ("t", 1, &[3])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1]);
    put(&s, &mut ctx, &tp("t", 1), NO_LEADER, &[3]);
    ctx.live_brokers.insert(3, Broker::new(3, "h3", 9093));
    let change = PartitionStateChange::broker_startup(&ctx, &[3], true);
    let (result, _, sent) = run_change(&s, &mut ctx, change);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 1)), (3, vec![3], 4, EPOCH));
    assert_eq!(
        sent.requests(),
        reqs(&[
            (3, "UpdateMetadata t-0 t-1", false),
            (3, "LeaderAndIsr t-0 t-1", false),
            (1, "UpdateMetadata t-0 t-1", false),
            (2, "UpdateMetadata t-0 t-1", false),
            (3, "UpdateMetadata t-0 t-1", false),
        ])
    );
}

#[test]
fn reassignment_tells_new_replicas_the_bumped_epoch_then_stops_and_deletes_the_old_ones() {
    let mut ctx = controller(&[1, 2, 3, 4], &[("t", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("t", 0), 1, &[1, 2]);
    let target: &[i32] = &[3, 4];
    let (result, _, sent) = run_reassignment_sending(&s, &mut ctx, &[(tp("t", 0), target)]);
    result.unwrap();
    assert_eq!(
        sent.requests(),
        reqs(&[
            (1, "LeaderAndIsr t-0", false),
            (2, "LeaderAndIsr t-0", false),
            (3, "LeaderAndIsr t-0", false),
            (4, "LeaderAndIsr t-0", false),
            (1, "UpdateMetadata t-0", false),
            (2, "UpdateMetadata t-0", false),
            (3, "UpdateMetadata t-0", false),
            (4, "UpdateMetadata t-0", false),
        ])
    );
    let ControllerRequest::LeaderAndIsr(r) = &sent.sent[2].1 else { unreachable!() };
    assert_eq!((r.partition_states[0].leader_epoch, r.partition_states[0].replicas.clone()), (4, vec![1, 2, 3, 4]));

    // The new replicas caught up: leader from RAR, old replicas stopped, then deleted.
    s.put_state(&tp("t", 0), &PartitionState::new(1, 4, vec![1, 2, 3, 4], EPOCH));
    let (result, _, sent) = run_reassignment_sending(&s, &mut ctx, &[(tp("t", 0), target)]);
    result.unwrap();
    assert_eq!(stored(&s, &tp("t", 0)), (3, vec![3, 4], 5, EPOCH));
    assert_eq!(
        sent.requests(),
        reqs(&[
            (3, "LeaderAndIsr t-0", false),
            (4, "LeaderAndIsr t-0", false),
            (1, "UpdateMetadata t-0", false),
            (2, "UpdateMetadata t-0", false),
            (3, "UpdateMetadata t-0", false),
            (4, "UpdateMetadata t-0", false),
            (1, "StopReplica t-0", false),
            (2, "StopReplica t-0", false),
            (1, "StopReplica+delete t-0", false),
            (2, "StopReplica+delete t-0", false),
        ])
    );
    let ControllerRequest::LeaderAndIsr(r) = &sent.sent[0].1 else { unreachable!() };
    assert_eq!((r.partition_states[0].leader_epoch, r.partition_states[0].replicas.clone()), (5, vec![3, 4]));
    assert_eq!(s.assignment("t").0.unwrap()[&0], vec![3, 4], "AR := RAR after the requests");
    assert_eq!(ctx.replicas(&tp("t", 0)), Some(&vec![3, 4]));
}

// ---- topic deletion through the decision core ----

fn deletion_pass(
    topic: &str,
    answered: &[i32],
    asked: &[i32],
    start: bool,
    assignment: &BTreeMap<i32, Vec<i32>>,
) -> PartitionStateChange {
    PartitionStateChange::deletion(DeletionPass {
        topic: topic.to_string(),
        assignment: assignment.clone(),
        answered: answered.iter().copied().collect(),
        asked: asked.iter().copied().collect(),
        start,
    })
}

/// The brokers of the tracked requests a pass sent.
fn asked(sent: &Recorder) -> Vec<i32> {
    sent.sent.iter().filter(|(_, _, tracked)| *tracked).map(|(b, _, _)| *b).collect()
}

#[test]
fn a_dead_hosting_broker_holds_the_deletion_until_it_returns() {
    let mut ctx = controller(&[1, 2], &[("d", 0, &[1, 2]), ("d", 1, &[2, 3]), ("k", 0, &[1, 2])]);
    let s = store(1000);
    put(&s, &mut ctx, &tp("d", 0), 1, &[1, 2]);
    put(&s, &mut ctx, &tp("d", 1), 2, &[2]);
    put(&s, &mut ctx, &tp("k", 0), 1, &[1, 2]);
    let assignment = ctx.assignments["d"].clone();

    // First pass: leader -2 to everyone, StopReplica(delete) to the live hosting brokers.
    let (result, change, mut sent) = run_change(&s, &mut ctx, deletion_pass("d", &[], &[], true, &assignment));
    result.unwrap();
    assert_eq!(
        sent.requests(),
        reqs(&[
            (1, "UpdateMetadata d-0 d-1", false),
            (2, "UpdateMetadata d-0 d-1", false),
            (1, "StopReplica+delete d-0", true),
            (2, "StopReplica+delete d-0 d-1", true),
        ])
    );
    let ControllerRequest::UpdateMetadata(r) = &sent.sent[0].1 else { unreachable!() };
    assert!(r.partition_states.iter().all(|p| p.leader == -2));
    assert!(!change.topic_deleted);
    assert!(ctx.replicas(&tp("d", 0)).is_none() && !ctx.leadership.contains_key(&tp("d", 0)), "out of the model");
    assert!(ctx.replicas(&tp("k", 0)).is_some());
    assert_eq!(change.answers.iter().map(|(b, _)| *b).collect::<Vec<_>>(), vec![1, 2]);
    sent.answer_all();

    // Both answered; broker 3 is down: nothing to send, the znodes stay.
    let (result, change, sent) = run_change(&s, &mut ctx, deletion_pass("d", &[1, 2], &[], false, &assignment));
    result.unwrap();
    assert!(sent.sent.is_empty(), "{:?}", sent.requests());
    assert!(!change.topic_deleted);
    assert!(s.deleted_topics().is_empty() && s.state(&tp("d", 0)).is_some());

    // Broker 3 is back: it is asked once; asked again only if its request was dropped.
    ctx.live_brokers.insert(3, Broker::new(3, "h3", 9093));
    let (result, _, mut sent) = run_change(&s, &mut ctx, deletion_pass("d", &[1, 2], &[], false, &assignment));
    result.unwrap();
    assert_eq!(sent.requests(), reqs(&[(3, "StopReplica+delete d-1", true)]));
    let (result, _, again) = run_change(&s, &mut ctx, deletion_pass("d", &[1, 2], &[3], false, &assignment));
    result.unwrap();
    assert!(asked(&again).is_empty(), "a request on its way is not repeated");
    sent.answer_all();

    // Every hosting broker answered: the topic's znodes go, other topics stay.
    let (result, change, sent) = run_change(&s, &mut ctx, deletion_pass("d", &[1, 2, 3], &[], false, &assignment));
    result.unwrap();
    assert!(sent.sent.is_empty());
    assert!(change.topic_deleted);
    assert_eq!(s.deleted_topics(), vec!["d".to_string()]);
    assert!(s.state(&tp("d", 0)).is_none() && s.state(&tp("d", 1)).is_none());
    assert!(s.state(&tp("k", 0)).is_some());
}

#[test]
fn a_zookeeper_error_while_deleting_the_znodes_leaves_the_deletion_to_the_next_pass() {
    for error in [ZkError::BadVersion, ZkError::SessionExpired] {
        let mut ctx = controller(&[1, 2], &[("d", 0, &[1, 2])]);
        let s = store(1000);
        put(&s, &mut ctx, &tp("d", 0), 1, &[1, 2]);
        let assignment = ctx.assignments["d"].clone();
        s.inject(Fault::DeleteFails(error.clone()));
        // The topic leaves the model, its brokers already answered: the deletes fail.
        let (result, change, sent) =
            run_change(&s, &mut ctx, deletion_pass("d", &[1, 2], &[], true, &assignment));
        assert_eq!(result, Err(FenceError::Zk(error.clone())));
        assert!(!change.topic_deleted);
        assert_eq!(sent.requests().len(), 2, "leader -2 went out before the deletes");
        assert!(ctx.replicas(&tp("d", 0)).is_none());
        assert!(s.state(&tp("d", 0)).is_some() && s.deleted_topics().is_empty(), "{:?}: nothing deleted", error);
        // The next pass (this controller retrying, or the next one) finishes it without
        // asking the brokers again.
        let (result, change, sent) =
            run_change(&s, &mut ctx, deletion_pass("d", &[1, 2], &[], false, &assignment));
        result.unwrap();
        assert!(asked(&sent).is_empty());
        assert!(change.topic_deleted);
        assert!(s.state(&tp("d", 0)).is_none());
    }
}

#[test]
fn every_live_hosting_broker_is_asked_once() {
    use super::selector::{deletion_step, DeletionStep};
    let set = |ids: &[i32]| ids.iter().copied().collect::<BTreeSet<i32>>();
    let step = deletion_step(&set(&[1, 2, 3]), &set(&[]), &set(&[]), &set(&[1, 2, 3]));
    assert_eq!(step, DeletionStep::Ask(vec![1, 2, 3]));
    let step = deletion_step(&set(&[1, 2, 3]), &set(&[1]), &set(&[2]), &set(&[1, 2, 3]));
    assert_eq!(step, DeletionStep::Ask(vec![3]));
    let hosting = set(&[1, 2, 3]);
    assert_eq!(deletion_step(&hosting, &set(&[1, 2]), &set(&[]), &set(&[1, 2])), DeletionStep::Ask(vec![]));
    assert_eq!(deletion_step(&hosting, &set(&[1, 2, 3]), &set(&[]), &set(&[1, 2])), DeletionStep::Complete);
}
