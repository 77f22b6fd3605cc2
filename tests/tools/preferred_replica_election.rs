//! `bin/kafka-preferred-replica-election.sh` (kafka.admin.PreferredReplicaLeaderElectionCommand)
//! against a real ZooKeeper without a controller, so `/admin/preferred_replica_election`
//! stays as the tool wrote it: 0.8.2's output lines and znode, and every refusal as one
//! line, exit 1, nothing written.

use crate::support;

use kafka08::zk::json::TopicAssignment;
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::time::Duration;
use support::{run_with_env, Output, TempDir, ZkServer};

/// Fields drop in order: the session, its runtime, then the server.
struct Zk {
    client: ZkClient,
    rt: tokio::runtime::Runtime,
    server: ZkServer,
}

impl Zk {
    fn start() -> Zk {
        let server = ZkServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let client = rt
            .block_on(ZkClient::connect(&server.connect_string(), Duration::from_secs(30), Duration::from_secs(30)))
            .expect("connect to the test ZooKeeper");
        Zk { client, rt, server }
    }

    fn topic(&self, topic: &str, partitions: &[(i32, &[i32])]) {
        let a: BTreeMap<i32, Vec<i32>> = partitions.iter().map(|(p, r)| (*p, r.to_vec())).collect();
        self.rt.block_on(self.client.create_persistent(&paths::topic(topic), &TopicAssignment::new(a).to_bytes())).unwrap();
    }

    fn election_node(&self) -> Option<String> {
        let data = self.rt.block_on(self.client.get_data(paths::PREFERRED_REPLICA_ELECTION)).unwrap();
        data.map(|(d, _)| String::from_utf8(d).unwrap())
    }

    fn delete_election_node(&self) {
        self.rt.block_on(self.client.delete(paths::PREFERRED_REPLICA_ELECTION)).unwrap();
    }

    fn tool(&self, args: &[&str]) -> Output {
        let connect = self.server.connect_string();
        let mut all = vec!["--zookeeper", connect.as_str()];
        all.extend_from_slice(args);
        tool(&all)
    }
}

fn tool(args: &[&str]) -> Output {
    run_with_env("bin/kafka-preferred-replica-election.sh", args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

#[track_caller]
fn refused(out: &Output, expected: &str) {
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stdout, format!("Failed to start preferred replica election: {expected}\n"), "{}", out.all());
    assert!(out.stderr.is_empty(), "{}", out.all());
}

#[test]
fn election_of_listed_partitions_writes_the_082_znode_and_prints_082_lines() {
    let zk = Zk::start();
    zk.topic("t", &[(0, &[1, 2]), (1, &[2, 1])]);
    zk.topic("u", &[(0, &[3, 1])]);
    let dir = TempDir::new("pref-tool");
    let file = dir.join("election.json");
    std::fs::write(&file, r#"{"partitions": [{"topic": "t", "partition": 1}, {"topic": "u", "partition": 0}]}"#).unwrap();
    let out = zk.tool(&["--path-to-json-file", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let json = r#"{"version":1,"partitions":[{"topic":"t","partition":1},{"topic":"u","partition":0}]}"#;
    assert_eq!(
        out.stdout,
        format!(
            "Created preferred replica election path with {json}\nSuccessfully started preferred replica election for partitions Set([t,1], [u,0])\n"
        )
    );
    assert_eq!(zk.election_node().as_deref(), Some(json));

    // A second election while this one is pending is refused, and the first stays.
    let out = zk.tool(&[]);
    refused(&out, "Preferred replica leader election currently in progress for Set([t,1], [u,0]). Aborting operation");
    assert_eq!(zk.election_node().as_deref(), Some(json));

    // Without a file: every partition of every topic.
    zk.delete_election_node();
    let out = zk.tool(&[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let all = r#"{"version":1,"partitions":[{"topic":"t","partition":0},{"topic":"t","partition":1},{"topic":"u","partition":0}]}"#;
    assert_eq!(zk.election_node().as_deref(), Some(all));
    assert_eq!(out.stdout.lines().last(), Some("Successfully started preferred replica election for partitions Set([t,0], [t,1], [u,0])"));

    // 0.8.2 printed and wrote a Scala Set: up to four partitions in the file's order, more
    // in the hash order Scala iterates them in (the sets below as Scala 2.11 prints them).
    zk.topic("w", &[(0, &[1, 2]), (1, &[2, 1]), (2, &[1, 2]), (3, &[2, 1]), (4, &[1, 2])]);
    for (listed, printed) in [
        (vec![("w", 1), ("t", 0)], "Set([w,1], [t,0])"),
        (vec![("w", 4), ("w", 3), ("w", 2), ("w", 1), ("w", 0)], "Set([w,1], [w,0], [w,3], [w,2], [w,4])"),
    ] {
        zk.delete_election_node();
        let entries: Vec<String> = listed.iter().map(|(t, p)| format!(r#"{{"topic":"{t}","partition":{p}}}"#)).collect();
        std::fs::write(&file, format!(r#"{{"partitions":[{}]}}"#, entries.join(","))).unwrap();
        let out = zk.tool(&["--path-to-json-file", file.to_str().unwrap()]);
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert_eq!(out.stdout.lines().last(), Some(format!("Successfully started preferred replica election for partitions {printed}").as_str()));
        // The znode lists them in the same order.
        let in_order: Vec<String> = printed
            .trim_start_matches("Set(")
            .trim_end_matches(')')
            .split(", ")
            .map(|tp| {
                let (t, p) = tp.trim_matches(|c| c == '[' || c == ']').split_once(',').unwrap();
                format!(r#"{{"topic":"{t}","partition":{p}}}"#)
            })
            .collect();
        assert_eq!(zk.election_node(), Some(format!(r#"{{"version":1,"partitions":[{}]}}"#, in_order.join(","))));
    }
}

#[test]
fn bad_election_files_are_refused_in_one_line_and_write_nothing() {
    let zk = Zk::start();
    zk.topic("t", &[(0, &[1, 2])]);
    let dir = TempDir::new("pref-tool-bad");
    let cases: [(&str, String); 6] = [
        ("{not json", "Preferred replica election data is empty".into()),
        (r#"{"version":1}"#, "Preferred replica election data is empty".into()),
        (
            r#"{"partitions":[{"topic":"t","partition":0},{"topic":"t","partition":0}]}"#,
            "Preferred replica election data contains duplicate partitions: [t,0]".into(),
        ),
        (
            r#"{"partitions":[{"topic":"t"}]}"#,
            r#"Preferred replica election data has an entry without a string "topic" and an int "partition": {"topic":"t"}"#.into(),
        ),
        (r#"{"partitions":[{"topic":"nope","partition":0}]}"#, "partition [nope,0] doesn't exist since topic nope doesn't exist".into()),
        (r#"{"partitions":[{"topic":"t","partition":7}]}"#, "partition [t,7] doesn't exist".into()),
    ];
    for (i, (content, expected)) in cases.iter().enumerate() {
        let file = dir.join(&format!("bad{i}.json"));
        std::fs::write(&file, content).unwrap();
        refused(&zk.tool(&["--path-to-json-file", file.to_str().unwrap()]), expected);
        assert_eq!(zk.election_node(), None, "{content}");
    }
    let missing = dir.join("missing.json");
    let missing = missing.to_str().unwrap();
    refused(&zk.tool(&["--path-to-json-file", missing]), &format!("{missing} (No such file or directory)"));
    assert_eq!(zk.election_node(), None);
}

#[test]
fn usage_errors_print_the_message_and_usage_and_exit_1() {
    let out = tool(&[]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr.lines().next(),
        Some("This tool causes leadership for each partition to be transferred back to the 'preferred replica', it can be used to balance leadership among the servers.")
    );
    assert!(out.stderr.contains("--path-to-json-file"), "{}", out.all());
    let out = tool(&["--path-to-json-file", "x.json"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr.lines().next(), Some("Missing required argument \"[zookeeper]\""), "{}", out.all());
}
