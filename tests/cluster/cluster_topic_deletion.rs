//! Topic deletion end to end: `kafka-topics.sh --delete` with `delete.topic.enable=true`
//! removes every znode of the topic and its directories on every broker, also when a
//! replica's broker is down during the deletion (it finishes when that broker returns);
//! clients then get UnknownTopicOrPartition, and a topic created again under the name starts
//! empty. With the default (false) the marker stays and `--list` says so, as in 0.8.2.

use crate::support;

use kafka08::api;
use kafka08::common::{ErrorCode, Properties};
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::producer::{read_partition, TestProducer};
use support::{run_with_env, wait_until, Output};

const DELETE_ON: &[(&str, &str)] = &[
    ("replica.fetch.wait.max.ms", "100"),
    ("controlled.shutdown.enable", "false"),
    ("delete.topic.enable", "true"),
    // Or a metadata request for the deleted topic would create it again (0.8.2 did the same).
    ("auto.create.topics.enable", "false"),
];

fn topics_tool(cluster: &Cluster, args: &[&str]) -> Output {
    let connect = cluster.zk.connect_string();
    let mut all = vec!["--zookeeper", connect.as_str()];
    all.extend_from_slice(args);
    run_with_env("bin/kafka-topics.sh", &all, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
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

    fn exists(&self, path: &str) -> bool {
        self.rt.block_on(self.client.exists(path)).unwrap().is_some()
    }

    /// No znode of `topic` is left.
    fn topic_gone(&self, topic: &str) -> bool {
        !self.exists(&paths::topic(topic))
            && !self.exists(&paths::topic_config(topic))
            && !self.exists(&paths::delete_topic_marker(topic))
    }
}

fn dirs_of(cluster: &Cluster, broker: i32, topic: &str) -> Vec<String> {
    let b = cluster.brokers.iter().find(|b| b.id == broker).unwrap();
    std::fs::read_dir(b.data_dir())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.strip_prefix(topic).is_some_and(|rest| rest.starts_with('-')))
                .collect()
        })
        .unwrap_or_default()
}

fn produce(cluster: &Cluster, topic: &str, partitions: i32, n: i32) {
    let mut p = TestProducer::new(cluster.brokers.iter().map(|b| b.addr()).collect(), topic);
    for i in 0..n {
        p.send(i % partitions, &format!("v{i}"), Duration::from_secs(30)).expect("acknowledged");
    }
}

#[test]
fn deleting_a_topic_removes_its_znodes_and_directories_and_the_name_starts_empty_again() {
    let cluster = Cluster::start(3, DELETE_ON);
    let zk = Zk::connect(&cluster);
    let topic = "doomed";
    zk.create_topic(topic, BTreeMap::from([(0, vec![1, 2, 3]), (1, vec![2, 3, 1]), (2, vec![3, 1, 2])]));
    cluster.wait_for_leaders(topic, 3);
    cluster.wait_for_full_isr(topic, 3, 3);
    produce(&cluster, topic, 3, 60);
    for b in 1..=3 {
        assert_eq!(dirs_of(&cluster, b, topic).len(), 3, "broker {b} hosts every partition");
    }

    let out = topics_tool(&cluster, &["--delete", "--topic", topic]);
    assert!(out.success(), "{}", out.all());
    assert!(out.stdout.starts_with(&format!("Topic {topic} is marked for deletion.")), "{}", out.all());

    wait_until("every znode of the topic is gone", Duration::from_secs(60), || zk.topic_gone(topic));
    wait_until("every broker deleted the topic's directories", Duration::from_secs(60), || {
        (1..=3).all(|b| dirs_of(&cluster, b, topic).is_empty())
    });
    for b in &cluster.brokers {
        let md = try_call(&b.addr(), &api::MetadataRequest { topics: vec![topic.to_string()] }).expect("metadata");
        assert_eq!(md.topics[0].error_code, ErrorCode::UnknownTopicOrPartition, "broker {}", b.id);
    }
    let out = topics_tool(&cluster, &["--list"]);
    assert!(!out.stdout.contains(topic), "{}", out.all());

    // The same name again: a new, empty topic.
    zk.create_topic(topic, BTreeMap::from([(0, vec![2, 3])]));
    cluster.wait_for_leaders(topic, 1);
    let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    assert!(read_partition(&bootstrap, topic, 0, Duration::from_secs(30)).is_empty(), "the re-created topic is empty");
    produce(&cluster, topic, 1, 3);
    let stored: Vec<String> = read_partition(&bootstrap, topic, 0, Duration::from_secs(30)).into_iter().map(|(_, v)| v).collect();
    assert_eq!(stored, vec!["v0", "v1", "v2"]);
}

#[test]
fn a_deletion_with_a_replica_down_completes_when_its_broker_returns() {
    let mut cluster = Cluster::start(3, DELETE_ON);
    let zk = Zk::connect(&cluster);
    let topic = "halfway";
    zk.create_topic(topic, BTreeMap::from([(0, vec![1, 2, 3]), (1, vec![2, 3, 1])]));
    cluster.wait_for_leaders(topic, 2);
    cluster.wait_for_full_isr(topic, 2, 3);
    produce(&cluster, topic, 2, 20);

    let idx = cluster.brokers.iter().position(|b| b.id == 3).unwrap();
    cluster.brokers[idx].kill();
    let out = topics_tool(&cluster, &["--delete", "--topic", topic]);
    assert!(out.success(), "{}", out.all());
    wait_until("the live brokers deleted their replicas", Duration::from_secs(60), || {
        dirs_of(&cluster, 1, topic).is_empty() && dirs_of(&cluster, 2, topic).is_empty()
    });
    // Broker 3 has not answered: the topic is not gone yet.
    assert!(zk.exists(&paths::topic(topic)) && zk.exists(&paths::delete_topic_marker(topic)));
    assert_eq!(dirs_of(&cluster, 3, topic).len(), 2);

    cluster.brokers[idx].restart();
    wait_until("every znode of the topic is gone", Duration::from_secs(60), || zk.topic_gone(topic));
    wait_until("the returning broker deleted its replicas", Duration::from_secs(60), || {
        dirs_of(&cluster, 3, topic).is_empty()
    });
}

#[test]
fn without_delete_topic_enable_the_marker_stays_and_list_shows_it() {
    let cluster = Cluster::start(1, &[("controlled.shutdown.enable", "false")]);
    let zk = Zk::connect(&cluster);
    zk.create_topic("kept", BTreeMap::from([(0, vec![1])]));
    cluster.wait_for_leaders("kept", 1);
    let out = topics_tool(&cluster, &["--delete", "--topic", "kept"]);
    assert!(out.success(), "{}", out.all());
    assert_eq!(
        out.stdout,
        "Topic kept is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true.\n"
    );
    // A later change the controller handles: by then it has seen the marker too.
    zk.create_topic("later", BTreeMap::from([(0, vec![1])]));
    cluster.wait_for_leaders("later", 1);
    assert!(zk.exists(&paths::delete_topic_marker("kept")) && zk.exists(&paths::topic("kept")));
    assert_eq!(dirs_of(&cluster, 1, "kept").len(), 1);
    let out = topics_tool(&cluster, &["--list"]);
    assert_eq!(out.stdout, "kept - marked for deletion\nlater\n", "{}", out.all());
}

#[test]
fn a_deletion_asked_during_a_reassignment_of_the_topic_waits_for_it_then_finishes() {
    let cluster = Cluster::start(3, DELETE_ON);
    let zk = Zk::connect(&cluster);
    let topic = "moving";
    zk.create_topic(topic, BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 1])]));
    zk.create_topic("probe", BTreeMap::from([(0, vec![1])]));
    cluster.wait_for_leaders(topic, 2);
    cluster.wait_for_leaders("probe", 1);
    cluster.wait_for_full_isr(topic, 2, 2);
    produce(&cluster, topic, 2, 40);

    // Partition 0 moves to [2, 3] while broker 3 is frozen: the move starts (AR = OAR +
    // RAR) and cannot finish.
    let idx3 = cluster.brokers.iter().position(|b| b.id == 3).unwrap();
    cluster.brokers[idx3].pause();
    let dir = support::TempDir::new("delete-while-moving");
    let plan = dir.join("plan.json");
    std::fs::write(&plan, format!(r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[2,3]}}]}}"#)).unwrap();
    let plan = plan.to_str().unwrap();
    let reassign = |args: &[&str]| {
        let connect = cluster.zk.connect_string();
        let mut all = vec!["--zookeeper", connect.as_str()];
        all.extend_from_slice(args);
        run_with_env("bin/kafka-reassign-partitions.sh", &all, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
    };
    let out = reassign(&["--execute", "--reassignment-json-file", plan]);
    assert!(out.success(), "{}", out.all());
    let assignment = |t: &str| {
        zk.rt
            .block_on(zk.client.get_data(&paths::topic(t)))
            .unwrap()
            .map(|(d, _)| kafka08::zk::json::TopicAssignment::parse(&d).unwrap().partitions)
    };
    wait_until("the move started (AR = OAR + RAR)", Duration::from_secs(60), || {
        assignment(topic).is_some_and(|a| a.get(&0) == Some(&vec![1, 2, 3]))
    });

    let out = topics_tool(&cluster, &["--delete", "--topic", topic]);
    assert!(out.success(), "{}", out.all());
    // A topic marked after it is deleted: by then the controller has seen both markers.
    let out = topics_tool(&cluster, &["--delete", "--topic", "probe"]);
    assert!(out.success(), "{}", out.all());
    wait_until("the probe topic is deleted", Duration::from_secs(60), || zk.topic_gone("probe"));
    assert!(zk.exists(&paths::topic(topic)) && zk.exists(&paths::delete_topic_marker(topic)), "the deletion did not wait");
    assert!(zk.exists(paths::REASSIGN_PARTITIONS));
    assert_eq!(dirs_of(&cluster, 1, topic).len(), 2, "broker 1 still holds both replicas");
    let out = reassign(&["--verify", "--reassignment-json-file", plan]);
    assert_eq!(out.stdout, "Status of partition reassignment:\nReassignment of partition [moving,0] is still in progress\n", "{}", out.all());

    // The new replica comes up: the move completes, then the deletion does, everywhere
    // (the moved replica on broker 3 included).
    cluster.brokers[idx3].resume();
    wait_until("every znode of the topic is gone", Duration::from_secs(90), || zk.topic_gone(topic));
    assert!(!zk.exists(paths::REASSIGN_PARTITIONS), "the finished reassignment left its znode");
    wait_until("every broker deleted the topic's directories", Duration::from_secs(60), || {
        (1..=3).all(|b| dirs_of(&cluster, b, topic).is_empty())
    });
    let out = topics_tool(&cluster, &["--list"]);
    assert_eq!(out.stdout, "", "{}", out.all());
}
