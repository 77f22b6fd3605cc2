//! A broker that registers again between two looks of the controller at `/brokers/ids`
//! (its znode deleted and created again, the id list unchanged) is handled as restarted:
//! its leaderships move away as for a failure, then it hears its partitions again as at a
//! start-up (KAFKA-1120; 0.8.2 ignored it, and the broker never led or followed again).

use crate::support::controller as harness;

use crate::support::ZkServer;
use harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_re_registers_between_two_watch_events_is_handled_as_restarted() {
    let zk = ZkServer::start();
    let client = connect(&zk).await;
    let b1 = FakeBroker::live(1, &zk).await;
    let mut b2 = FakeBroker::live(2, &zk).await;
    let c = TestController::start(&zk, 1).await;
    eventually!("controller active", DEADLINE, c.handle.is_active());
    create_topic(&client, "t", r#"{"version":1,"partitions":{"0":[1,2],"1":[2,1]}}"#).await;
    eventually!(
        "broker 2 leads t-1",
        DEADLINE,
        b2.latest_leader_and_isr("t", 1).is_some_and(|s| s.leader == 2 && s.leader_epoch == 0)
    );

    b2.clear();
    b2.bounce(&zk).await;
    // Failure: t-1 moves to broker 1, broker 2 leaves both ISRs.
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
        "broker 1 hears it leads t-1",
        DEADLINE,
        b1.latest_leader_and_isr("t", 1).is_some_and(|s| s.leader == 1 && s.leader_epoch == 1)
    );
    // Start-up: the restarted broker hears the cluster and whom to follow.
    eventually!(
        "broker 2 hears it follows broker 1 in both partitions",
        DEADLINE,
        (0..2).all(|p| b2.latest_leader_and_isr("t", p).is_some_and(|s| s.leader == 1 && s.leader_epoch == 1))
    );
    eventually!(
        "broker 2 gets metadata with both brokers alive",
        DEADLINE,
        b2.latest_metadata("t", 1).is_some_and(|(s, alive)| s.leader == 1 && alive == vec![1, 2])
    );
    c.stop().await;
}
