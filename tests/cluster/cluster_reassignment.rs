//! Partition reassignment end to end: `kafka-reassign-partitions.sh` --generate, --execute
//! and --verify against real brokers while an acks=-1 producer runs; the controller moves
//! the replicas, nothing acknowledged is lost, the old replicas' directories are deleted and
//! `/admin/reassign_partitions` disappears. Also raising and lowering the replication factor.

use crate::support;

use kafka08::common::{Properties, TopicPartition};
use kafka08::zk::json::TopicAssignment;
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::cluster::Cluster;
use support::producer::{assert_no_loss, read_until_complete, TestProducer};
use support::{run_with_env, wait_until, Output, TempDir};

const FAST: &[(&str, &str)] = &[("replica.fetch.wait.max.ms", "100"), ("controlled.shutdown.enable", "false")];

fn reassign_tool(cluster: &Cluster, args: &[&str]) -> Output {
    let connect = cluster.zk.connect_string();
    let mut all = vec!["--zookeeper", connect.as_str()];
    all.extend_from_slice(args);
    run_with_env("bin/kafka-reassign-partitions.sh", &all, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

struct Zk {
    rt: tokio::runtime::Runtime,
    client: ZkClient,
}

impl Zk {
    fn connect(cluster: &Cluster) -> Zk {
        let rt = Cluster::runtime();
        let client = rt
            .block_on(ZkClient::connect(&cluster.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10)))
            .expect("zookeeper");
        Zk { rt, client }
    }

    fn create_topic(&self, topic: &str, parts: BTreeMap<i32, Vec<i32>>) {
        self.rt
            .block_on(kafka08::admin::create_topic_with_assignment(&self.client, topic, &parts, &Properties::new()))
            .expect("create topic");
    }

    fn assignment(&self, topic: &str) -> BTreeMap<i32, Vec<i32>> {
        let (data, _) = self.rt.block_on(self.client.get_data(&paths::topic(topic))).unwrap().expect("topic");
        TopicAssignment::parse(&data).unwrap().partitions
    }

    fn exists(&self, path: &str) -> bool {
        self.rt.block_on(self.client.exists(path)).unwrap().is_some()
    }
}

fn has_dir(cluster: &Cluster, broker: i32, tp: &TopicPartition) -> bool {
    let b = cluster.brokers.iter().find(|b| b.id == broker).unwrap();
    b.data_dir().join(format!("{}-{}", tp.topic, tp.partition)).exists()
}

/// Run `--verify` until every partition reports completed successfully.
fn verify_until_complete(cluster: &Cluster, file: &str, partitions: usize) {
    let mut last = String::new();
    let done = support::eventually(Duration::from_secs(90), || {
        let out = reassign_tool(cluster, &["--verify", "--reassignment-json-file", file]);
        last = out.all();
        out.success() && out.stdout.lines().filter(|l| l.ends_with("completed successfully")).count() == partitions
    });
    assert!(done, "reassignment did not complete: {last}");
}

#[test]
fn generate_execute_verify_moves_a_topic_off_a_broker_without_losing_acknowledged_messages() {
    let mut cluster = Cluster::start(4, FAST);
    let zk = Zk::connect(&cluster);
    let topic = "moving";
    // Every partition has a replica on broker 1, half of them lead there.
    zk.create_topic(topic, BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 1]), (2, vec![1, 3]), (3, vec![3, 1])]));
    cluster.wait_for_leaders(topic, 4);
    cluster.wait_for_full_isr(topic, 4, 2);

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<BTreeMap<i32, Vec<String>>>> = Arc::default();
    let producer = {
        let (stop, acked) = (stop.clone(), acked.clone());
        let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
        std::thread::spawn(move || {
            let mut p = TestProducer::new(bootstrap, topic);
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let partition = i % 4;
                let value = format!("m{i:06}");
                if p.send(partition, &value, Duration::from_secs(30)).is_some() {
                    acked.lock().unwrap().entry(partition).or_default().push(value);
                }
                i += 1;
            }
        })
    };
    let count = || acked.lock().unwrap().values().map(Vec::len).sum::<usize>();
    wait_until("100 messages acknowledged", Duration::from_secs(60), || count() >= 100);

    let dir = TempDir::new("reassign");
    let topics_file = dir.join("topics.json");
    std::fs::write(&topics_file, format!(r#"{{"version":1,"topics":[{{"topic":"{topic}"}}]}}"#)).unwrap();
    let out = reassign_tool(
        &cluster,
        &["--generate", "--topics-to-move-json-file", topics_file.to_str().unwrap(), "--broker-list", "2,3,4"],
    );
    assert!(out.success(), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = lines.iter().position(|l| *l == "Proposed partition reassignment configuration").expect("proposal");
    let proposal = lines[at + 2];
    let plan_file = dir.join("plan.json");
    std::fs::write(&plan_file, proposal).unwrap();
    let plan = kafka08::admin::parse_reassignment_json(proposal).unwrap();
    assert_eq!(plan.len(), 4);
    assert!(plan.iter().all(|(_, r)| r.len() == 2 && !r.contains(&1)), "{proposal}");

    let plan_path = plan_file.to_str().unwrap();
    let out = reassign_tool(&cluster, &["--execute", "--reassignment-json-file", plan_path]);
    assert!(out.success(), "{}", out.all());
    assert!(out.stdout.contains("Save this to use as the --reassignment-json-file option during rollback"));
    assert!(out.last_line().starts_with("Successfully started reassignment of partitions "), "{}", out.all());

    verify_until_complete(&cluster, plan_path, 4);
    let before = count();
    wait_until("100 more acknowledged after the move", Duration::from_secs(60), || count() >= before + 100);
    stop.store(true, Ordering::SeqCst);
    producer.join().unwrap();

    let expected: BTreeMap<i32, Vec<i32>> = plan.iter().map(|(tp, r)| (tp.partition, r.clone())).collect();
    assert_eq!(zk.assignment(topic), expected);
    wait_until("the reassignment znode is deleted", Duration::from_secs(30), || !zk.exists(paths::REASSIGN_PARTITIONS));
    wait_until("broker 1's replicas are deleted from its disk", Duration::from_secs(30), || {
        (0..4).all(|p| !has_dir(&cluster, 1, &TopicPartition::new(topic, p)))
    });
    for (tp, replicas) in &plan {
        for r in replicas {
            assert!(has_dir(&cluster, *r, tp), "broker {r} hosts {tp}");
        }
    }

    let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    let acked = acked.lock().unwrap().clone();
    for (partition, values) in &acked {
        let stored = read_until_complete(&bootstrap, topic, *partition, values, Duration::from_secs(60));
        assert_no_loss(values, &stored);
    }
    cluster.assert_replicas_agree(topic);
}

#[test]
fn reassignment_raises_and_lowers_the_replication_factor() {
    let mut cluster = Cluster::start(3, FAST);
    let zk = Zk::connect(&cluster);
    let topic = "rf";
    zk.create_topic(topic, BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3])]));
    cluster.wait_for_leaders(topic, 2);
    let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    let mut producer = TestProducer::new(bootstrap.clone(), topic);
    let mut acked: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for i in 0..40 {
        let v = format!("before{i}");
        producer.send(i % 2, &v, Duration::from_secs(30)).expect("acknowledged");
        acked.entry(i % 2).or_default().push(v);
    }

    let dir = TempDir::new("reassign-rf");
    let up = dir.join("up.json");
    std::fs::write(
        &up,
        r#"{"version":1,"partitions":[{"topic":"rf","partition":0,"replicas":[1,2,3]},{"topic":"rf","partition":1,"replicas":[2,3,1]}]}"#,
    )
    .unwrap();
    let out = reassign_tool(&cluster, &["--execute", "--reassignment-json-file", up.to_str().unwrap()]);
    assert!(out.success(), "{}", out.all());
    verify_until_complete(&cluster, up.to_str().unwrap(), 2);
    assert_eq!(zk.assignment(topic), BTreeMap::from([(0, vec![1, 2, 3]), (1, vec![2, 3, 1])]));
    cluster.wait_for_full_isr(topic, 2, 3);
    wait_until("the reassignment znode is deleted", Duration::from_secs(30), || !zk.exists(paths::REASSIGN_PARTITIONS));

    let down = dir.join("down.json");
    std::fs::write(
        &down,
        r#"{"version":1,"partitions":[{"topic":"rf","partition":0,"replicas":[2,1]},{"topic":"rf","partition":1,"replicas":[3,2]}]}"#,
    )
    .unwrap();
    let out = reassign_tool(&cluster, &["--execute", "--reassignment-json-file", down.to_str().unwrap()]);
    assert!(out.success(), "{}", out.all());
    verify_until_complete(&cluster, down.to_str().unwrap(), 2);
    assert_eq!(zk.assignment(topic), BTreeMap::from([(0, vec![2, 1]), (1, vec![3, 2])]));
    cluster.wait_for_full_isr(topic, 2, 2);
    wait_until("the removed replicas are deleted", Duration::from_secs(30), || {
        !has_dir(&cluster, 3, &TopicPartition::new(topic, 0)) && !has_dir(&cluster, 1, &TopicPartition::new(topic, 1))
    });

    for i in 0..20 {
        let v = format!("after{i}");
        producer.send(i % 2, &v, Duration::from_secs(30)).expect("acknowledged after the moves");
        acked.entry(i % 2).or_default().push(v);
    }
    for (partition, values) in &acked {
        let stored = read_until_complete(&bootstrap, topic, *partition, values, Duration::from_secs(60));
        assert_no_loss(values, &stored);
    }
    cluster.assert_replicas_agree(topic);
}

#[test]
fn a_reassignment_survives_the_controller_being_killed_mid_move() {
    let mut cluster = Cluster::start(4, FAST);
    let zk = Zk::connect(&cluster);
    let controller = {
        let (data, _) = zk.rt.block_on(zk.client.get_data(paths::CONTROLLER)).unwrap().expect("a controller");
        kafka08::zk::json::ControllerRegistration::parse(&data).unwrap().brokerid
    };
    let others: Vec<i32> = (1..=4).filter(|b| *b != controller).collect();
    let (o0, o1, new) = (others[0], others[1], others[2]);
    let topic = "failover-move";
    zk.create_topic(topic, BTreeMap::from([(0, vec![o0, o1])]));
    cluster.wait_for_leaders(topic, 1);
    let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    let mut producer = TestProducer::new(bootstrap.clone(), topic);
    let mut acked = Vec::new();
    for i in 0..30 {
        let v = format!("before{i}");
        producer.send(0, &v, Duration::from_secs(30)).expect("acknowledged");
        acked.push(v);
    }

    // The new replica's broker is frozen: the move starts but cannot finish.
    let new_idx = cluster.brokers.iter().position(|b| b.id == new).unwrap();
    cluster.brokers[new_idx].pause();
    let dir = TempDir::new("reassign-failover");
    let plan = dir.join("plan.json");
    std::fs::write(&plan, format!(r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[{o1},{new}]}}]}}"#))
        .unwrap();
    let out = reassign_tool(&cluster, &["--execute", "--reassignment-json-file", plan.to_str().unwrap()]);
    assert!(out.success(), "{}", out.all());
    wait_until("the move started (AR = OAR + RAR)", Duration::from_secs(30), || {
        zk.assignment(topic).get(&0) == Some(&vec![o0, o1, new])
    });
    let out = reassign_tool(&cluster, &["--verify", "--reassignment-json-file", plan.to_str().unwrap()]);
    assert!(out.stdout.contains("is still in progress"), "{}", out.all());

    // The controller dies mid-move; another takes over; the frozen broker comes back.
    let controller_idx = cluster.brokers.iter().position(|b| b.id == controller).unwrap();
    cluster.brokers[controller_idx].kill();
    cluster.brokers[new_idx].resume();
    verify_until_complete(&cluster, plan.to_str().unwrap(), 1);
    assert_eq!(zk.assignment(topic).get(&0), Some(&vec![o1, new]));
    wait_until("the reassignment znode is deleted", Duration::from_secs(30), || !zk.exists(paths::REASSIGN_PARTITIONS));
    wait_until("the old replica is deleted", Duration::from_secs(30), || {
        !has_dir(&cluster, o0, &TopicPartition::new(topic, 0))
    });

    let live: Vec<String> = cluster.brokers.iter().filter(|b| b.id != controller).map(|b| b.addr()).collect();
    let mut producer = TestProducer::new(live.clone(), topic);
    for i in 0..10 {
        let v = format!("after{i}");
        producer.send(0, &v, Duration::from_secs(30)).expect("acknowledged after the move");
        acked.push(v);
    }
    let stored = read_until_complete(&live, topic, 0, &acked, Duration::from_secs(60));
    assert_no_loss(&acked, &stored);
    cluster.assert_replicas_agree(topic);
}
