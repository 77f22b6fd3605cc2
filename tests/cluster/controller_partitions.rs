//! The controller's partition leadership against a real ZooKeeper and fake brokers
//! (docs/zookeeper-layout.md, the controller): new topics and partitions, partitions without
//! live replicas, failover resuming from ZooKeeper, broker failure.

use crate::support::controller as harness;

use crate::support::ZkServer;
use harness::*;
use kafka08::api::Broker;
use std::collections::BTreeSet;

fn ids(brokers: &[Broker]) -> BTreeSet<i32> {
    brokers.iter().map(|b| b.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_topic_gets_leaders_state_znodes_and_requests() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    let b2 = FakeBroker::live(2, &zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    let epoch = c.handle.epoch() as i64;

    create_topic(&client, "t", r#"{"version":1,"partitions":{"0":[1,2],"1":[2,1]}}"#).await;
    let (s0, v0) = wait_for!("state of t-0", DEADLINE, read_state(&client, "t", 0).await);
    let (s1, v1) = wait_for!("state of t-1", DEADLINE, read_state(&client, "t", 1).await);
    assert_eq!(state_fields(&s0), (1, 0, vec![1, 2], epoch));
    assert_eq!(state_fields(&s1), (2, 0, vec![2, 1], epoch));
    assert_eq!((v0, v1), (0, 0));

    for b in [&b1, &b2] {
        eventually!(
            format!("broker {} hears of both partitions", b.id),
            DEADLINE,
            b.latest_leader_and_isr("t", 0).is_some() && b.latest_leader_and_isr("t", 1).is_some()
        );
        let p0 = b.latest_leader_and_isr("t", 0).unwrap();
        assert_eq!(
            (p0.leader, p0.leader_epoch, p0.isr.clone(), p0.zk_version, p0.replicas.clone()),
            (1, 0, vec![1, 2], 0, vec![1, 2])
        );
        assert_eq!(p0.controller_epoch as i64, epoch);
        let p1 = b.latest_leader_and_isr("t", 1).unwrap();
        assert_eq!((p1.leader, p1.isr.clone(), p1.replicas.clone()), (2, vec![2, 1], vec![2, 1]));
        let request =
            b.leader_and_isr().into_iter().find(|r| r.partition_states.iter().any(|s| s.topic == "t")).unwrap();
        assert_eq!((request.controller_id, request.controller_epoch as i64), (1, epoch));
        assert!(request.leaders.contains(&Broker::new(1, "127.0.0.1", b1.port as i32)), "{:?}", request.leaders);
        assert!(request.leaders.contains(&Broker::new(2, "127.0.0.1", b2.port as i32)), "{:?}", request.leaders);

        eventually!(format!("broker {} has metadata of t", b.id), DEADLINE, b.latest_metadata("t", 1).is_some());
        let um =
            b.update_metadata().into_iter().rev().find(|r| r.partition_states.iter().any(|s| s.topic == "t")).unwrap();
        assert_eq!(ids(&um.alive_brokers), [1, 2].into_iter().collect());
        assert_eq!(um.partition_states.iter().filter(|s| s.topic == "t").count(), 2);
        let (m0, _) = b.latest_metadata("t", 0).unwrap();
        assert_eq!((m0.leader, m0.isr.clone()), (1, vec![1, 2]));
    }
    let headers: Vec<_> = b1.received().into_iter().map(|(h, _)| h).collect();
    assert!(headers.iter().all(|h| h.client_id.as_deref() == Some("id_1-host_null-port_9092")), "{:?}", headers);
    let correlation: Vec<i32> = headers.iter().map(|h| h.correlation_id).collect();
    assert!(correlation.windows(2).all(|w| w[0] < w[1]), "correlation ids increase: {:?}", correlation);

    // Partitions added later (the admin tool rewrites the whole document) get the same.
    client
        .update_persistent(
            &kafka08::zk::paths::topic("t"),
            br#"{"version":1,"partitions":{"0":[1,2],"1":[2,1],"2":[2,1]}}"#,
        )
        .await
        .unwrap();
    let (s2, _) = wait_for!("state of t-2", DEADLINE, read_state(&client, "t", 2).await);
    assert_eq!(state_fields(&s2), (2, 0, vec![2, 1], epoch));
    eventually!("broker 1 hears of t-2", DEADLINE, b1.latest_leader_and_isr("t", 2).is_some());
    let (s0_again, v0_again) = read_state(&client, "t", 0).await.unwrap();
    assert_eq!((s0_again, v0_again), (s0, 0), "existing partitions untouched");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_whose_replicas_are_all_dead_gets_a_leader_when_one_registers() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    let epoch = c.handle.epoch() as i64;

    create_topic(&client, "u", r#"{"version":1,"partitions":{"0":[3],"1":[1,3]}}"#).await;
    let (s1, _) = wait_for!("state of u-1", DEADLINE, read_state(&client, "u", 1).await);
    assert_eq!(state_fields(&s1), (1, 0, vec![1], epoch));
    eventually!("broker 1 has metadata of u-0", DEADLINE, b1.latest_metadata("u", 0).is_some());
    let (m0, alive) = b1.latest_metadata("u", 0).unwrap();
    assert_eq!((m0.leader, m0.replicas.clone()), (-1, vec![3]), "no leader yet");
    assert_eq!(alive, vec![1]);
    assert!(read_state(&client, "u", 0).await.is_none(), "no state znode without a live replica");
    assert!(b1.latest_leader_and_isr("u", 0).is_none());

    let b3 = FakeBroker::live(3, &zk).await;
    let (s0, _) = wait_for!("state of u-0", DEADLINE, read_state(&client, "u", 0).await);
    assert_eq!(state_fields(&s0), (3, 0, vec![3], epoch));
    eventually!(
        "broker 3 is told to lead u-0",
        DEADLINE,
        b3.latest_leader_and_isr("u", 0).is_some_and(|s| s.leader == 3)
    );
    eventually!(
        "broker 3 hears it follows u-1",
        DEADLINE,
        b3.latest_leader_and_isr("u", 1).is_some_and(|s| s.leader == 1)
    );
    eventually!(
        "broker 1 learns u-0's leader and broker 3",
        DEADLINE,
        b1.latest_metadata("u", 0).is_some_and(|(s, alive)| s.leader == 3 && alive == vec![1, 3])
    );
    let (s1_again, v1) = read_state(&client, "u", 1).await.unwrap();
    assert_eq!((state_fields(&s1_again), v1), ((1, 0, vec![1], epoch), 0), "u-1 keeps its leader");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_controller_resumes_from_zookeeper_and_only_reelects_dead_leaders() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    let b2 = FakeBroker::live(2, &zk).await;
    let mut b3 = FakeBroker::live(3, &zk).await;
    let first = TestController::start(&zk, 1).await;
    eventually!("first controller active", DEADLINE, first.handle.is_active());
    create_topic(&client, "t", r#"{"version":1,"partitions":{"0":[1,2],"1":[2,3],"2":[3,1]}}"#).await;
    let (s2, _) = wait_for!("state of t-2", DEADLINE, read_state(&client, "t", 2).await);
    assert_eq!(state_fields(&s2), (3, 0, vec![3, 1], 1));
    let (s0, _) = read_state(&client, "t", 0).await.unwrap();
    let (s1, _) = read_state(&client, "t", 1).await.unwrap();
    first.stop().await;

    // Broker 3 dies while there is no controller; then a new one is elected.
    b3.kill().await;
    b1.clear();
    b2.clear();
    let second = TestController::start(&zk, 2).await;
    eventually!("second controller active", DEADLINE, second.handle.is_active());
    assert_eq!(second.handle.epoch(), 2);

    let (s2, v2) = read_state(&client, "t", 2).await.unwrap();
    assert_eq!(state_fields(&s2), (1, 1, vec![1], 2), "t-2 gets a live leader from its ISR");
    assert_eq!(v2, 1);
    let (s0_now, v0) = read_state(&client, "t", 0).await.unwrap();
    let (s1_now, v1) = read_state(&client, "t", 1).await.unwrap();
    assert_eq!((s0_now, v0), (s0, 0), "t-0's leader and ISR are alive: untouched");
    // t-1's leader (2) lives, but broker 3 died with no controller to handle it: the new
    // controller takes it out of the ISR (leader kept, leader epoch bumped).
    assert_eq!(state_fields(&s1), (2, 0, vec![2, 3], 1));
    assert_eq!((state_fields(&s1_now), v1), ((2, 1, vec![2], 2), 1), "t-1 loses its dead ISR member");

    eventually!(
        "broker 1 leads t-2",
        DEADLINE,
        b1.latest_leader_and_isr("t", 2).is_some_and(|s| s.leader == 1 && s.leader_epoch == 1)
    );
    eventually!("broker 1 hears of t-0", DEADLINE, b1.latest_leader_and_isr("t", 0).is_some());
    eventually!("broker 2 hears of t-1", DEADLINE, b2.latest_leader_and_isr("t", 1).is_some());
    let r = b2.leader_and_isr().into_iter().next().unwrap();
    assert_eq!((r.controller_id, r.controller_epoch), (2, 2));
    let t0 = b1.latest_leader_and_isr("t", 0).unwrap();
    // t-0 was not re-decided: its LeaderAndIsr carries the first controller's epoch.
    assert_eq!((t0.controller_epoch, t0.leader_epoch), (1, 0), "the decision's epoch, not the new controller's");
    eventually!(
        "broker 2 has metadata of everything",
        DEADLINE,
        b2.latest_metadata("t", 2).is_some_and(|(s, alive)| s.leader == 1 && alive == vec![1, 2])
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_broker_loses_its_leaderships_and_isr_memberships() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    let mut b2 = FakeBroker::live(2, &zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    create_topic(&client, "t", r#"{"version":1,"partitions":{"0":[1,2],"1":[2,1],"2":[2]}}"#).await;
    wait_for!("state of t-2", DEADLINE, read_state(&client, "t", 2).await);
    wait_for!("state of t-1", DEADLINE, read_state(&client, "t", 1).await);

    b2.kill().await;
    eventually!(
        "t-1 moves to broker 1",
        DEADLINE,
        read_state(&client, "t", 1).await.is_some_and(|(s, _)| state_fields(&s) == (1, 1, vec![1], 1))
    );
    eventually!(
        "broker 2 leaves t-0's ISR",
        DEADLINE,
        read_state(&client, "t", 0).await.is_some_and(|(s, _)| state_fields(&s) == (1, 1, vec![1], 1))
    );
    eventually!(
        "t-2 is left without a leader",
        DEADLINE,
        read_state(&client, "t", 2).await.is_some_and(|(s, _)| state_fields(&s) == (-1, 1, vec![], 1))
    );
    eventually!(
        "broker 1 leads t-1",
        DEADLINE,
        b1.latest_leader_and_isr("t", 1).is_some_and(|s| s.leader == 1 && s.leader_epoch == 1)
    );
    eventually!(
        "broker 1 hears t-0's ISR shrank",
        DEADLINE,
        b1.latest_leader_and_isr("t", 0).is_some_and(|s| s.isr == vec![1])
    );
    eventually!(
        "broker 1's metadata lists only itself and t-2 leaderless",
        DEADLINE,
        b1.latest_metadata("t", 2).is_some_and(|(s, alive)| s.leader == -1 && alive == vec![1])
    );

    // It comes back: t-2 gets its leader again (unclean: its ISR is empty).
    let b2 = FakeBroker::live(2, &zk).await;
    eventually!(
        "t-2 led by broker 2 again",
        DEADLINE,
        read_state(&client, "t", 2).await.is_some_and(|(s, _)| state_fields(&s) == (2, 2, vec![2], 1))
    );
    eventually!(
        "broker 2 hears it follows t-0",
        DEADLINE,
        b2.latest_leader_and_isr("t", 0).is_some_and(|s| s.leader == 1)
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_election_respects_the_topic_override() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let _b1 = FakeBroker::live(1, &zk).await;
    let mut b2 = FakeBroker::live(2, &zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    client
        .update_persistent(
            &kafka08::zk::paths::topic_config("safe"),
            br#"{"version":1,"config":{"unclean.leader.election.enable":"false"}}"#,
        )
        .await
        .unwrap();
    create_topic(&client, "safe", r#"{"version":1,"partitions":{"0":[2,1]}}"#).await;
    create_topic(&client, "lossy", r#"{"version":1,"partitions":{"0":[2,1]}}"#).await;
    wait_for!("state of safe-0", DEADLINE, read_state(&client, "safe", 0).await);
    wait_for!("state of lossy-0", DEADLINE, read_state(&client, "lossy", 0).await);
    // Make broker 2 the only in-sync replica, as a leader shrinking its ISR would.
    for topic in ["safe", "lossy"] {
        let path = kafka08::zk::paths::partition_state(topic, 0);
        let state = kafka08::zk::json::PartitionState::new(2, 0, vec![2], 1);
        client.conditional_update(&path, &state.to_bytes(), 0).await.unwrap();
    }
    b2.kill().await;
    eventually!(
        "lossy-0 elects broker 1 uncleanly",
        DEADLINE,
        read_state(&client, "lossy", 0).await.is_some_and(|(s, _)| state_fields(&s) == (1, 1, vec![1], 1))
    );
    eventually!(
        "safe-0 stays leaderless and remembers its last ISR",
        DEADLINE,
        read_state(&client, "safe", 0).await.is_some_and(|(s, _)| state_fields(&s) == (-1, 1, vec![2], 1))
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_partitions_are_initialised_in_several_bounded_batches() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    // 1500 partitions need 3001 creates: more than three multis of at most 1000 ops.
    let n = 1500;
    let parts: Vec<String> = (0..n).map(|p| format!("\"{}\":[1]", p)).collect();
    create_topic(&client, "big", &format!(r#"{{"version":1,"partitions":{{{}}}}}"#, parts.join(","))).await;
    eventually!(
        "broker 1 is told about every partition",
        DEADLINE,
        b1.leader_and_isr().iter().map(|r| r.partition_states.len()).sum::<usize>() >= n
    );
    for p in [0, 999, 1000, n as i32 - 1] {
        let (s, _) = read_state(&client, "big", p).await.expect("state exists");
        assert_eq!(state_fields(&s), (1, 0, vec![1], 1));
    }
    // A multi commits as one transaction: the znodes one multi created share its zxid.
    // Grouping the state znodes by creation zxid shows the batches ZooKeeper saw.
    let mut batches: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for p in 0..n as i32 {
        let (_, stat) = client
            .get_data(&kafka08::zk::paths::partition_state("big", p))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no state znode for big-{p}"));
        *batches.entry(stat.czxid).or_default() += 1;
    }
    let sizes: Vec<usize> = batches.values().copied().collect();
    // Each batch holds at most MAX_MULTI_OPS operations, the epoch check among them.
    assert_eq!(sizes.iter().sum::<usize>(), n);
    assert!(sizes.len() >= 2, "{n} state znodes created in {} transaction(s): {sizes:?}", sizes.len());
    assert!(
        sizes.iter().all(|s| *s < kafka08::controller::zk_store::MAX_MULTI_OPS),
        "a transaction created more state znodes than a multi may hold: {sizes:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_for_a_broker_that_is_not_listening_yet_and_arrive_in_order() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    // Registered, but nothing listens on its port yet.
    let port = crate::support::free_port();
    let session = connect(&zk).await;
    let registration = kafka08::zk::json::BrokerRegistration::new("127.0.0.1", port as i32, -1, 1);
    session.create_ephemeral_expect_conflict(&kafka08::zk::paths::broker(1), &registration.to_bytes()).await.unwrap();
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    create_topic(&client, "t", r#"{"version":1,"partitions":{"0":[1]}}"#).await;
    wait_for!("state of t-0", DEADLINE, read_state(&client, "t", 0).await);

    let b1 = FakeBroker::start_on(1, port).await;
    eventually!("the queued requests arrive", DEADLINE, b1.received().len() >= 3);
    // Failover's metadata, then the new topic's LeaderAndIsr and metadata.
    assert_eq!(b1.kinds(), vec!["UpdateMetadata", "LeaderAndIsr", "UpdateMetadata"]);
    assert_eq!(b1.latest_leader_and_isr("t", 0).map(|s| s.leader), Some(1));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_initialises_new_partitions_and_leaves_newer_decisions_alone() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    // Written while no controller ran: a topic without state znodes, and a topic whose
    // leader (broker 2) is dead, one partition decided by a (bogus) newer epoch 99.
    create_topic(&client, "fresh", r#"{"version":1,"partitions":{"0":[2,1]}}"#).await;
    create_topic(&client, "old", r#"{"version":1,"partitions":{"0":[2,1],"1":[2,1]}}"#).await;
    let newer = kafka08::zk::json::PartitionState::new(2, 4, vec![2, 1], 99);
    let older = kafka08::zk::json::PartitionState::new(2, 4, vec![2, 1], 0);
    client.create_persistent(&kafka08::zk::paths::partition_state("old", 0), &newer.to_bytes()).await.unwrap();
    client.create_persistent(&kafka08::zk::paths::partition_state("old", 1), &older.to_bytes()).await.unwrap();

    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    let (fresh, _) = read_state(&client, "fresh", 0).await.expect("initialised at failover");
    assert_eq!(state_fields(&fresh), (1, 0, vec![1], 1));
    let (old1, v1) = read_state(&client, "old", 1).await.unwrap();
    assert_eq!((state_fields(&old1), v1), ((1, 5, vec![1], 1), 1), "elected from the live ISR");
    let (old0, v0) = read_state(&client, "old", 0).await.unwrap();
    assert_eq!((state_fields(&old0), v0), ((2, 4, vec![2, 1], 99), 0), "a newer epoch's decision is not overwritten");
    assert!(c.handle.is_active());
    eventually!(
        "broker 1 leads fresh-0",
        DEADLINE,
        b1.latest_leader_and_isr("fresh", 0).is_some_and(|s| s.leader == 1)
    );
    c.stop().await;
}
