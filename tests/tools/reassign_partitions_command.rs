//! `bin/kafka-reassign-partitions.sh` (kafka.admin.ReassignPartitionsCommand) against a real
//! ZooKeeper: 0.8.2's output lines, what `--execute` writes, and every bad input refused
//! with one line and a non-zero exit before anything is written. Brokers are simulated by
//! their registrations; no controller runs, so a started reassignment stays in the znode.

use crate::support;

use kafka08::zk::json::{BrokerRegistration, TopicAssignment};
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::Duration;
use support::{run_with_env, Output, TempDir, ZkServer};

struct Zk {
    client: ZkClient,
    rt: tokio::runtime::Runtime,
    zk: ZkServer,
    dir: TempDir,
}

impl Zk {
    /// Brokers 1, 2, 3 registered; topic `foo` with partitions 0 → [1,2], 1 → [2,3].
    fn start() -> Zk {
        let zk = ZkServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let client = rt.block_on(ZkClient::connect(&zk.connect_string(), Duration::from_secs(30), Duration::from_secs(30))).unwrap();
        let z = Zk { client, rt, zk, dir: TempDir::new("reassign-tool") };
        for id in 1..=3 {
            let reg = BrokerRegistration::new("127.0.0.1", 9092 + id, -1, 1428512949385);
            z.rt.block_on(z.client.create_ephemeral_expect_conflict(&paths::broker(id), &reg.to_bytes())).unwrap();
        }
        let parts = BTreeMap::from([(0, vec![1, 2]), (1, vec![2, 3])]);
        z.rt.block_on(z.client.create_persistent(&paths::topic("foo"), &TopicAssignment::new(parts).to_bytes())).unwrap();
        z
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn tool(&self, args: &[&str]) -> Output {
        let connect = self.zk.connect_string();
        let mut all = vec!["--zookeeper", connect.as_str()];
        all.extend_from_slice(args);
        run_with_env("bin/kafka-reassign-partitions.sh", &all, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
    }

    fn reassign_node(&self) -> Option<String> {
        self.rt.block_on(self.client.get_data(paths::REASSIGN_PARTITIONS)).unwrap().map(|(d, _)| String::from_utf8(d).unwrap())
    }
}

#[test]
fn execute_prints_the_rollback_block_and_writes_the_reassignment_znode() {
    let z = Zk::start();
    let file = z.file("r.json", r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[3,2]}]}"#);
    let out = z.tool(&["--execute", "--reassignment-json-file", &file]);
    assert!(out.success(), "{}", out.all());
    // 0.8.2 listed the current assignment from a Scala mutable.HashMap: [foo,1] first.
    let current = r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[2,3]},{"topic":"foo","partition":0,"replicas":[1,2]}]}"#;
    let asked = r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[3,2]}]}"#;
    assert_eq!(
        out.stdout,
        format!(
            "Current partition replica assignment\n\n{current}\n\nSave this to use as the --reassignment-json-file option during rollback\nSuccessfully started reassignment of partitions {asked}\n"
        )
    );
    assert_eq!(z.reassign_node().as_deref(), Some(asked));

    // No controller: the partition is still listed, so --verify says in progress.
    let out = z.tool(&["--verify", "--reassignment-json-file", &file]);
    assert_eq!(out.stdout, "Status of partition reassignment:\nReassignment of partition [foo,0] is still in progress\n", "{}", out.all());

    // A second reassignment while this one runs is refused and leaves the node alone.
    let other = z.file("o.json", r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[1,3]}]}"#);
    let out = z.tool(&["--execute", "--reassignment-json-file", &other]);
    assert!(!out.success());
    // 0.8.2's exact line (after the rollback block, which 0.8.2 printed first too): the
    // running reassignment as Scala printed its Map[TopicAndPartition, ReassignedPartitionsContext].
    assert_eq!(
        out.last_line(),
        "Partitions reassignment failed due to Partition reassignment currently in progress for \
         Map([foo,0] -> ReassignedPartitionsContext(List(3, 2),null)). Aborting operation",
        "{}",
        out.all()
    );
    assert_eq!(z.reassign_node().as_deref(), Some(asked));
}

#[test]
fn verify_reports_completed_and_failed_partitions_from_the_assignment() {
    let z = Zk::start();
    let file = z.file(
        "r.json",
        r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2]},{"topic":"foo","partition":1,"replicas":[3,1]}]}"#,
    );
    let out = z.tool(&["--verify", "--reassignment-json-file", &file]);
    assert!(out.success(), "{}", out.all());
    // 0.8.2 printed every mismatch while checking, before the statuses.
    assert_eq!(
        out.stdout,
        "Status of partition reassignment:\n\
         ERROR: Assigned replicas (2,3) don't match the list of replicas for reassignment (3,1) for partition [foo,1]\n\
         Reassignment of partition [foo,0] completed successfully\n\
         Reassignment of partition [foo,1] failed\n"
    );
}

#[test]
fn generate_proposes_the_topics_partitions_over_the_listed_brokers() {
    let z = Zk::start();
    let topics = z.file("t.json", r#"{"version":1,"topics":[{"topic":"foo"}]}"#);
    let out = z.tool(&["--generate", "--topics-to-move-json-file", &topics, "--broker-list", "2,3"]);
    assert!(out.success(), "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.all());
    assert_eq!(lines[0], "Current partition replica assignment");
    assert_eq!(lines[1], "");
    assert_eq!(
        lines[2],
        r#"{"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[2,3]},{"topic":"foo","partition":0,"replicas":[1,2]}]}"#
    );
    assert_eq!(lines[3], "Proposed partition reassignment configuration");
    assert_eq!(lines[4], "");
    let proposed = kafka08::admin::parse_reassignment_json(lines[5]).unwrap();
    assert_eq!(proposed.len(), 2);
    for (_, replicas) in &proposed {
        let mut r = replicas.clone();
        r.sort();
        assert_eq!(r, vec![2, 3], "replication factor kept, only brokers 2 and 3");
    }
    assert_eq!(z.reassign_node(), None, "--generate writes nothing");
}

#[test]
fn every_bad_input_is_one_line_a_non_zero_exit_and_no_znode() {
    let z = Zk::start();
    let cases: &[(&str, &str)] = &[
        ("{not json", "Can't parse json string: {not json"),
        (r#"{"version":1,"partitions":[]}"#, "is empty"),
        (r#"{"version":1,"partitions":[{"topic":"bar","partition":0,"replicas":[1]}]}"#, "topic bar doesn't exist"),
        (r#"{"version":1,"partitions":[{"topic":"foo","partition":9,"replicas":[1]}]}"#, "[foo,9] cannot be reassigned since it doesn't exist"),
        (r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,7]}]}"#, "not registered: 7"),
        (
            r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2,1]}]}"#,
            "Partition replica lists may not contain duplicate entries: [foo,0] contains multiple entries for 1",
        ),
        (
            r#"{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1]},{"topic":"foo","partition":0,"replicas":[2]}]}"#,
            "duplicate topic partitions: [foo,0]",
        ),
        (r#"{"version":1,"partitions":[{"topic":"foo","partition":0}]}"#, "\"replicas\""),
    ];
    for (i, (content, expected)) in cases.iter().enumerate() {
        let file = z.file(&format!("bad{i}.json"), content);
        let out = z.tool(&["--execute", "--reassignment-json-file", &file]);
        assert_eq!(out.code, Some(1), "{content}: {}", out.all());
        assert_eq!(out.stdout.lines().count(), 1, "{content}: {}", out.all());
        assert!(out.stdout.starts_with("Partitions reassignment failed due to "), "{}", out.all());
        assert!(out.stdout.contains(expected), "{content}: expected {expected:?} in {}", out.all());
        assert_eq!(z.reassign_node(), None, "{content} wrote the znode");
    }
    let out = z.tool(&["--execute", "--reassignment-json-file", "/nonexistent/r.json"]);
    assert_eq!((out.code, out.stdout.lines().count()), (Some(1), 1), "{}", out.all());

    let topics = z.file("t.json", r#"{"version":1,"topics":[{"topic":"foo"}]}"#);
    let unknown = z.file("u.json", r#"{"version":1,"topics":[{"topic":"nope"}]}"#);
    for (args, expected) in [
        (vec!["--generate", "--topics-to-move-json-file", topics.as_str(), "--broker-list", "2,3,2"], "Broker list contains duplicate entries: 2"),
        (vec!["--generate", "--topics-to-move-json-file", topics.as_str(), "--broker-list", "2,9"], "not registered: 9"),
        (vec!["--generate", "--topics-to-move-json-file", topics.as_str(), "--broker-list", "2,x"], "For input string: \"x\""),
        (vec!["--generate", "--topics-to-move-json-file", unknown.as_str(), "--broker-list", "2,3"], "Topic nope does not exist"),
        (vec!["--generate", "--topics-to-move-json-file", topics.as_str(), "--broker-list", "3"], "replication factor: 2 larger than available brokers: 1"),
    ] {
        let out = z.tool(&args);
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.all());
        assert_eq!(out.stdout.lines().count(), 1, "{args:?}: {}", out.all());
        assert!(out.stdout.contains(expected), "{args:?}: {}", out.all());
    }

    // Usage errors: message and usage on stderr, exit 1.
    let out = z.tool(&["--execute"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("If --execute option is used, command must include --reassignment-json-file"), "{}", out.all());
    let out = z.tool(&["--execute", "--verify", "--reassignment-json-file", "x"]);
    assert!(out.stderr.starts_with("Command must include exactly one action: --generate, --execute or --verify"), "{}", out.all());
    assert_eq!(z.reassign_node(), None);
}
