//! Controller election against a real ZooKeeper (docs/zookeeper-layout.md): exactly one
//! controller, the `/controller` and `/controller_epoch` znodes, takeover on shutdown and
//! on session expiry, and epoch fencing of a deposed controller's writes.

use crate::support::controller as harness;

use crate::support::ZkServer;
use harness::*;
use kafka08::common::TopicPartition;
use kafka08::controller::{EpochFence, FenceError, StateWrite, WriteOutcome};
use kafka08::zk::json::PartitionState;
use kafka08::zk::{paths, ZkClient};

async fn controller_znode(zk: &ZkClient) -> Option<(serde_json::Value, i64)> {
    let (data, stat) = zk.get_data(paths::CONTROLLER).await.expect("read /controller")?;
    Some((serde_json::from_slice(&data).expect("json"), stat.ephemeral_owner))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_brokers_is_controller_and_the_other_takes_over_when_it_stops() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let a = TestController::start(&zk, 1).await;
    let b = TestController::start(&zk, 2).await;

    eventually!("one controller is active", DEADLINE, a.handle.is_active() || b.handle.is_active());
    // Both have seen the election's outcome (each knows the same controller id) before
    // the check: a loser that (wrongly) became active too would show it by then.
    eventually!(
        "both know the controller",
        DEADLINE,
        a.handle.controller_id() > 0 && a.handle.controller_id() == b.handle.controller_id()
    );
    assert!(a.handle.is_active() ^ b.handle.is_active(), "exactly one active: {:?} {:?}", a.handle, b.handle);
    let (winner, loser) = if a.handle.is_active() { (a, b) } else { (b, a) };
    let winner_id = winner.handle.broker_id();

    let (json, owner) = controller_znode(&client).await.expect("/controller exists");
    let fields: Vec<&str> = json.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(fields.len(), 3, "{}", json);
    assert_eq!(json["version"], 1);
    assert_eq!(json["brokerid"], winner_id);
    let ts = json["timestamp"].as_str().expect("timestamp is a string");
    assert!(!ts.is_empty() && ts.chars().all(|c| c.is_ascii_digit()), "timestamp {:?}", ts);
    assert_ne!(owner, 0, "/controller is ephemeral");
    assert_eq!(owner, winner.zk.session_id());

    assert_eq!(controller_epoch_znode(&client).await.map(|(e, _)| e), Some(1));
    assert_eq!(winner.handle.epoch(), 1);
    eventually!("the loser knows the winner", DEADLINE, loser.handle.controller_id() == winner_id);
    assert_eq!(loser.handle.epoch(), 0);

    winner.stop().await;
    eventually!("the other broker takes over", DEADLINE, loser.handle.is_active());
    assert_eq!(loser.handle.epoch(), 2);
    assert_eq!(loser.handle.controller_id(), loser.handle.broker_id());
    assert_eq!(controller_epoch_znode(&client).await.map(|(e, _)| e), Some(2));
    let (json, owner) = controller_znode(&client).await.expect("/controller exists");
    assert_eq!(json["brokerid"], loser.handle.broker_id());
    assert_eq!(owner, loser.zk.session_id());

    // A broker starting later stays a candidate.
    let late = TestController::start(&zk, 3).await;
    eventually!(
        "the late broker learns the controller",
        DEADLINE,
        late.handle.controller_id() == loser.handle.broker_id()
    );
    assert!(!late.handle.is_active());
    assert!(loser.handle.is_active());
    late.stop().await;
    loser.stop().await;
    assert!(controller_znode(&client).await.is_none(), "the last controller deleted its own node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_the_controllers_session_moves_control_and_bumps_the_epoch() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let proxy = ZkProxy::start(&zk).await;
    let a = TestController::start_via(&proxy, 1).await;
    eventually!("broker 1 is controller", DEADLINE, a.handle.is_active());
    let b = TestController::start(&zk, 2).await;
    eventually!("broker 2 knows", DEADLINE, b.handle.controller_id() == 1);
    let old_session = a.zk.session_id();

    // Partition broker 1 from ZooKeeper past its session timeout: the server expires the
    // session and deletes /controller; broker 2 takes over.
    proxy.cut();
    eventually!("broker 2 takes over", DEADLINE, b.handle.is_active());
    assert_eq!(b.handle.epoch(), 2);
    proxy.heal();

    // Broker 1 comes back with a new session, resigns, and finds broker 2 in charge.
    eventually!("broker 1's session is renewed", DEADLINE, a.zk.session_id() != old_session);
    eventually!("broker 1 steps down", DEADLINE, !a.handle.is_active() && a.handle.controller_id() == 2);
    assert!(b.handle.is_active());
    let (json, owner) = controller_znode(&client).await.expect("/controller exists");
    assert_eq!(json["brokerid"], 2);
    assert_eq!(owner, b.zk.session_id());
    assert_eq!(controller_epoch_znode(&client).await.map(|(e, _)| e), Some(2));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fenced_by_a_superseded_epoch_are_refused() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    client.create_persistent(paths::CONTROLLER_EPOCH, b"1").await.unwrap();
    let fence = EpochFence { epoch: 1, epoch_zk_version: 0 };
    let tp = TopicPartition::new("t", 0);
    let state = PartitionState::new(1, 0, vec![1], 1);
    let parents = vec![paths::topic_partitions("t"), paths::partition("t", 0)];
    let out = fence.write(&client, &[StateWrite::create(&tp, parents, &state)]).await.unwrap();
    assert_eq!(out, vec![WriteOutcome::Written(0)]);

    // Another controller's failover bumps the epoch.
    client.raw().set_data(paths::CONTROLLER_EPOCH, b"2", Some(0)).await.unwrap();
    let newer = PartitionState::new(2, 1, vec![2], 1);
    assert_eq!(fence.write(&client, &[StateWrite::update(&tp, &newer, 0)]).await, Err(FenceError::Fenced));
    let tp1 = TopicPartition::new("t", 1);
    let create = StateWrite::create(&tp1, vec![paths::partition("t", 1)], &state);
    assert_eq!(fence.write(&client, &[create]).await, Err(FenceError::Fenced));
    let (json, version) = read_state(&client, "t", 0).await.unwrap();
    assert_eq!((state_fields(&json), version), ((1, 0, vec![1], 1), 0), "unchanged");
    assert!(read_state(&client, "t", 1).await.is_none());

    // A conflict on one write does not hold back the others of its batch.
    let current = EpochFence { epoch: 2, epoch_zk_version: 1 };
    let stale = StateWrite::update(&tp, &newer, 7);
    let create = StateWrite::create(&tp1, vec![paths::partition("t", 1)], &state);
    let out = current.write(&client, &[stale, create]).await.unwrap();
    assert!(matches!(out[0], WriteOutcome::Conflict(_)), "{:?}", out);
    assert_eq!(out[1], WriteOutcome::Written(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_whose_epoch_was_superseded_resigns_instead_of_writing() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    assert_eq!(c.handle.epoch(), 1);
    let broker = FakeBroker::live(1, &zk).await;
    eventually!("the broker got metadata", DEADLINE, !broker.update_metadata().is_empty());

    // A controller elected elsewhere (without our noticing) moved the epoch to 5.
    let (_, version) = controller_epoch_znode(&client).await.unwrap();
    client.raw().set_data(paths::CONTROLLER_EPOCH, b"5", Some(version)).await.unwrap();

    create_topic(&client, "t", r#"{"version":1,"partitions":{"0":[1]}}"#).await;
    let (json, version) = wait_for!("the partition state", DEADLINE, read_state(&client, "t", 0).await);
    let (leader, leader_epoch, isr, controller_epoch) = state_fields(&json);
    assert_eq!((leader, leader_epoch, isr), (1, 0, vec![1]));
    assert_eq!(controller_epoch, 6, "written only after re-election with a new epoch");
    assert_eq!(version, 0, "the fenced controller wrote nothing before");
    eventually!("active again with epoch 6", DEADLINE, c.handle.is_active() && c.handle.epoch() == 6);
    for r in broker.leader_and_isr() {
        assert_eq!(r.controller_epoch, 6, "no LeaderAndIsr from the fenced epoch");
    }
    c.stop().await;
}
