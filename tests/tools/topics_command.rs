//! `bin/kafka-topics.sh` (kafka.admin.TopicCommand) against a real ZooKeeper: 0.8.2's
//! output byte for byte, the znodes it writes, its checks and their messages. A controller
//! and brokers are simulated by writing their znodes (state nodes, ephemeral registrations).

use crate::support;

use kafka08::admin::assign_replicas_to_brokers;
use kafka08::zk::json::{BrokerRegistration, PartitionState, TopicAssignment};
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::{run_with_env, Output, ZkServer};

/// A ZooKeeper plus a session to play controller and brokers with. Fields drop in order:
/// the session, its runtime, then the server.
struct Cluster {
    client: ZkClient,
    rt: tokio::runtime::Runtime,
    zk: ZkServer,
}

impl Cluster {
    fn start() -> Cluster {
        let zk = ZkServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = rt
            .block_on(ZkClient::connect(
                &zk.connect_string(),
                Duration::from_secs(30),
                Duration::from_secs(30),
            ))
            .expect("connect to the test ZooKeeper");
        Cluster { client, rt, zk }
    }

    fn topics(&self, args: &[&str]) -> Output {
        let connect = self.zk.connect_string();
        let mut all = vec!["--zookeeper", connect.as_str()];
        all.extend_from_slice(args);
        topics_script(&all, &[])
    }

    /// A broker as `/brokers/ids/<id>` (ephemeral, held by this session).
    fn register_broker(&self, id: i32) {
        let reg = BrokerRegistration::new("127.0.0.1", 9092 + id, -1, 1428512949385);
        self.rt
            .block_on(
                self.client
                    .create_ephemeral_expect_conflict(&paths::broker(id), &reg.to_bytes()),
            )
            .unwrap();
    }

    /// What a controller would write for a partition.
    fn set_state(&self, topic: &str, partition: i32, leader: i32, isr: &[i32]) {
        let state = PartitionState::new(leader, 0, isr.to_vec(), 1);
        self.rt
            .block_on(
                self.client.update_persistent(
                    &paths::partition_state(topic, partition),
                    &state.to_bytes(),
                ),
            )
            .unwrap();
    }

    fn get(&self, path: &str) -> Option<String> {
        self.rt
            .block_on(self.client.get_data(path))
            .unwrap()
            .map(|(d, _)| String::from_utf8(d).unwrap())
    }

    fn czxid(&self, path: &str) -> i64 {
        self.rt
            .block_on(self.client.get_data(path))
            .unwrap()
            .expect("node exists")
            .1
            .czxid
    }

    fn children(&self, path: &str) -> Vec<String> {
        let mut c = self
            .rt
            .block_on(self.client.get_children(path))
            .unwrap()
            .unwrap_or_default();
        c.sort();
        c
    }

    fn assignment(&self, topic: &str) -> Vec<Vec<i32>> {
        let data = self.get(&paths::topic(topic)).expect("topic exists");
        TopicAssignment::parse(data.as_bytes())
            .unwrap()
            .partitions
            .into_values()
            .collect()
    }
}

fn topics_script(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all_env = vec![("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))];
    all_env.extend_from_slice(env);
    run_with_env("bin/kafka-topics.sh", args, None, &all_env)
}

#[track_caller]
fn ok(out: &Output) -> &str {
    assert!(out.success(), "{}", out.all());
    assert!(out.stderr.is_empty(), "{}", out.all());
    &out.stdout
}

/// A failed command: exit 1, exactly the one 0.8.2 error line on stdout, nothing else.
#[track_caller]
fn command_error(out: &Output, message: &str) {
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(
        out.stdout,
        format!("Error while executing topic command {}\n", message),
        "{}",
        out.all()
    );
    assert!(out.stderr.is_empty(), "{}", out.all());
}

/// A usage error: exit 1, the message then the usage on stderr.
#[track_caller]
fn usage_error(out: &Output, message: &str) {
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(out.stdout.is_empty(), "{}", out.all());
    assert_eq!(out.stderr.lines().next(), Some(message), "{}", out.all());
    assert!(
        out.stderr.contains("--zookeeper <urls>"),
        "usage follows: {}",
        out.all()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.all());
}

#[test]
fn create_list_and_describe_print_082_bytes_and_write_082_znodes() {
    let c = Cluster::start();
    for id in 0..3 {
        c.register_broker(id);
    }
    assert_eq!(ok(&c.topics(&["--list"])), "");

    assert_eq!(
        ok(&c.topics(&[
            "--create",
            "--topic",
            "t1",
            "--partitions",
            "3",
            "--replication-factor",
            "2"
        ])),
        "Created topic \"t1\".\n"
    );
    let t1 = c.assignment("t1");
    assert_eq!(t1.len(), 3);
    for replicas in &t1 {
        assert_eq!(replicas.len(), 2);
        assert_ne!(replicas[0], replicas[1]);
    }
    let leaders: BTreeSet<i32> = t1.iter().map(|r| r[0]).collect();
    assert_eq!(
        leaders,
        BTreeSet::from([0, 1, 2]),
        "preferred leaders round-robin over the brokers"
    );
    // The config node is written even without overrides, before the assignment (0.8.1+).
    assert_eq!(
        c.get("/config/topics/t1").as_deref(),
        Some(r#"{"version":1,"config":{}}"#)
    );
    assert!(c.czxid("/config/topics/t1") < c.czxid("/brokers/topics/t1"));

    let out = c.topics(&[
        "--create",
        "--topic",
        "a-topic",
        "--replica-assignment",
        "0:1,1:2",
        "--config",
        "retention.ms=86400000",
        "--config",
        "cleanup.policy = compact",
    ]);
    assert_eq!(ok(&out), "Created topic \"a-topic\".\n");
    assert_eq!(
        c.get("/brokers/topics/a-topic").as_deref(),
        Some(r#"{"version":1,"partitions":{"0":[0,1],"1":[1,2]}}"#)
    );
    assert_eq!(
        c.get("/config/topics/a-topic").as_deref(),
        Some(r#"{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"86400000"}}"#)
    );

    assert_eq!(ok(&c.topics(&["--list"])), "a-topic\nt1\n");
    assert_eq!(ok(&c.topics(&["--list", "--topic", "t.*"])), "t1\n");

    // Partition 0 led by broker 0; partition 1 has no state node yet (no controller).
    c.set_state("a-topic", 0, 0, &[0, 1]);
    assert_eq!(
        ok(&c.topics(&["--describe", "--topic", "a-topic"])),
        "Topic:a-topic\tPartitionCount:2\tReplicationFactor:2\tConfigs:retention.ms=86400000,cleanup.policy=compact\n\
         \tTopic: a-topic\tPartition: 0\tLeader: 0\tReplicas: 0,1\tIsr: 0,1\n\
         \tTopic: a-topic\tPartition: 1\tLeader: none\tReplicas: 1,2\tIsr: \n"
    );
    // A leaderless partition shows the -1 the controller wrote.
    c.set_state("a-topic", 1, -1, &[2]);
    let all = ok(&c.topics(&["--describe"])).to_string();
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 2 + 3 + 2, "{}", all);
    assert_eq!(
        lines[2],
        "\tTopic: a-topic\tPartition: 1\tLeader: -1\tReplicas: 1,2\tIsr: 2"
    );
    assert_eq!(
        lines[3],
        "Topic:t1\tPartitionCount:3\tReplicationFactor:2\tConfigs:"
    );
    assert_eq!(
        lines[4],
        format!(
            "\tTopic: t1\tPartition: 0\tLeader: none\tReplicas: {},{}\tIsr: ",
            t1[0][0], t1[0][1]
        )
    );
    // The topic filter takes a comma list as 0.8.2's whitelist did.
    let both = ok(&c.topics(&["--describe", "--topic", "t1, a-topic"])).to_string();
    assert_eq!(both, all);
}

#[test]
fn describe_filters_under_replicated_unavailable_and_overrides() {
    let c = Cluster::start();
    c.register_broker(0);
    c.register_broker(1);
    assert!(c
        .topics(&[
            "--create",
            "--topic",
            "u",
            "--replica-assignment",
            "0:1,1:0,0:1,1:0"
        ])
        .success());
    assert!(c
        .topics(&[
            "--create",
            "--topic",
            "v",
            "--replica-assignment",
            "0",
            "--config",
            "flush.messages=1"
        ])
        .success());
    c.set_state("u", 0, 0, &[0, 1]); // healthy
    c.set_state("u", 1, 1, &[1, 0]); // leader 1, which we now unregister
    c.set_state("u", 2, -1, &[0]); // no leader, under-replicated
                                   // partition 3: no state node
    c.set_state("v", 0, 0, &[0]);
    c.rt.block_on(c.client.delete(&paths::broker(1))).unwrap();

    assert_eq!(
        ok(&c.topics(&["--describe", "--under-replicated-partitions"])),
        "\tTopic: u\tPartition: 2\tLeader: -1\tReplicas: 0,1\tIsr: 0\n\
         \tTopic: u\tPartition: 3\tLeader: none\tReplicas: 1,0\tIsr: \n"
    );
    assert_eq!(
        ok(&c.topics(&["--describe", "--unavailable-partitions"])),
        "\tTopic: u\tPartition: 1\tLeader: 1\tReplicas: 1,0\tIsr: 1,0\n\
         \tTopic: u\tPartition: 2\tLeader: -1\tReplicas: 0,1\tIsr: 0\n\
         \tTopic: u\tPartition: 3\tLeader: none\tReplicas: 1,0\tIsr: \n"
    );
    assert_eq!(
        ok(&c.topics(&["--describe", "--topics-with-overrides"])),
        "Topic:v\tPartitionCount:1\tReplicationFactor:1\tConfigs:flush.messages=1\n"
    );
    usage_error(
        &c.topics(&["--describe", "--under-replicated-partitions", "--unavailable-partitions"]),
        "Option \"[under-replicated-partitions]\" can't be used with option\"[unavailable-partitions]\"",
    );
}

#[test]
fn validation_errors_are_one_082_line_and_exit_1() {
    let c = Cluster::start();
    c.register_broker(0);
    command_error(
        &c.topics(&["--create", "--topic", "bad$name", "--partitions", "1", "--replication-factor", "1"]),
        "topic name bad$name is illegal, contains a character other than ASCII alphanumerics, '.', '_' and '-'",
    );
    command_error(
        &c.topics(&[
            "--create",
            "--topic",
            "big",
            "--partitions",
            "1",
            "--replication-factor",
            "3",
        ]),
        "replication factor: 3 larger than available brokers: 1",
    );
    command_error(
        &c.topics(&[
            "--create",
            "--topic",
            "zero",
            "--partitions",
            "0",
            "--replication-factor",
            "1",
        ]),
        "number of partitions must be larger than 0",
    );
    command_error(
        &c.topics(&[
            "--create",
            "--topic",
            "cfg",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
            "--config",
            "foo.bar=1",
        ]),
        "requirement failed: Unknown configuration \"foo.bar\".",
    );
    command_error(
        &c.topics(&["--create", "--topic", "cfg", "--partitions", "1", "--replication-factor", "1", "--config", "retention.ms"]),
        "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".",
    );
    command_error(
        &c.topics(&[
            "--create",
            "--topic",
            "cfg",
            "--partitions",
            "1",
            "--replication-factor",
            "1",
            "--config",
            "segment.bytes=big",
        ]),
        "For input string: \"big\"",
    );
    command_error(
        &c.topics(&["--create", "--topic", "dups", "--replica-assignment", "0:0"]),
        "Partition replica lists may not contain duplicate entries: 0",
    );
    command_error(
        &c.topics(&[
            "--create",
            "--topic",
            "uneven",
            "--replica-assignment",
            "0:1,1",
        ]),
        "Partition 1 has different replication factor: 1",
    );
    assert_eq!(
        c.children("/brokers/topics"),
        Vec::<String>::new(),
        "nothing was created"
    );
    assert_eq!(c.children("/config/topics"), Vec::<String>::new());

    assert!(c
        .topics(&[
            "--create",
            "--topic",
            "dup",
            "--partitions",
            "1",
            "--replication-factor",
            "1"
        ])
        .success());
    command_error(
        &c.topics(&[
            "--create",
            "--topic",
            "dup",
            "--partitions",
            "2",
            "--replication-factor",
            "1",
        ]),
        "Topic \"dup\" already exists.",
    );
    assert_eq!(
        c.assignment("dup").len(),
        1,
        "the existing topic is untouched"
    );

    // Usage errors found while running a command: message and usage on stderr.
    usage_error(
        &c.topics(&["--create", "--topic", "np", "--replication-factor", "1"]),
        "Missing required argument \"[partitions]\"",
    );
}

#[test]
fn alter_adds_partitions_with_the_082_assignment_and_changes_configs() {
    let c = Cluster::start();
    for id in 0..3 {
        c.register_broker(id);
    }
    // One partition whose first replica is broker 2: 0.8.2 uses that broker *id* as the
    // fixed start index and shift of the added partitions.
    assert!(c
        .topics(&[
            "--create",
            "--topic",
            "q",
            "--replica-assignment",
            "2:0",
            "--config",
            "retention.ms=5000"
        ])
        .success());
    assert_eq!(
        ok(&c.topics(&["--alter", "--topic", "q", "--partitions", "4"])),
        "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected\n\
         Adding partitions succeeded!\n"
    );
    assert_eq!(
        c.assignment("q"),
        vec![vec![2, 0], vec![0, 1], vec![1, 2], vec![2, 1]]
    );
    let expected = assign_replicas_to_brokers(&[0, 1, 2], 3, 2, 2, 1, |_| unreachable!()).unwrap();
    assert_eq!(
        c.assignment("q")[1..].to_vec(),
        expected.into_values().collect::<Vec<_>>()
    );
    // Adding partitions keeps the overrides (KAFKA-1562).
    assert_eq!(
        c.get("/config/topics/q").as_deref(),
        Some(r#"{"version":1,"config":{"retention.ms":"5000"}}"#)
    );

    // 0.8.2 printed its warning before trying.
    let warned_then_failed = |out: &Output, message: &str| {
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert_eq!(
            out.stdout,
            format!(
                "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected\n\
                 Error while executing topic command {}\n",
                message
            )
        );
    };
    warned_then_failed(
        &c.topics(&["--alter", "--topic", "q", "--partitions", "2"]),
        "The number of partitions for a topic can only be increased",
    );
    // A manual assignment lists every partition; only the new ones are used.
    let out = c.topics(&[
        "--alter",
        "--topic",
        "q",
        "--partitions",
        "5",
        "--replica-assignment",
        "9:9,9:9,9:9,9:9,0:2",
    ]);
    assert!(ok(&out).ends_with("Adding partitions succeeded!\n"));
    assert_eq!(c.assignment("q")[4], vec![0, 2]);
    warned_then_failed(
        &c.topics(&["--alter", "--topic", "q", "--partitions", "6", "--replica-assignment", "0,0,0,0,0,7:0"]),
        "some specified brokers not available. specified brokers: [7, 0]available broker:Set(0, 1, 2)",
    );

    // Config overrides: rewrite the node, then a change notification holding "q".
    assert_eq!(
        ok(&c.topics(&[
            "--alter",
            "--topic",
            "q",
            "--config",
            "max.message.bytes=1000",
            "--deleteConfig",
            "retention.ms"
        ])),
        "Updated config for topic \"q\".\n"
    );
    assert_eq!(
        c.get("/config/topics/q").as_deref(),
        Some(r#"{"version":1,"config":{"max.message.bytes":"1000"}}"#)
    );
    assert_eq!(
        c.children("/config/changes"),
        vec!["config_change_0000000000".to_string()]
    );
    assert_eq!(
        c.get("/config/changes/config_change_0000000000").as_deref(),
        Some("\"q\"")
    );
    // The later spelling of the flag works too.
    assert!(c
        .topics(&[
            "--alter",
            "--topic",
            "q",
            "--delete-config",
            "max.message.bytes"
        ])
        .success());
    assert_eq!(
        c.get("/config/topics/q").as_deref(),
        Some(r#"{"version":1,"config":{}}"#)
    );
    assert_eq!(c.children("/config/changes").len(), 2);
    command_error(
        &c.topics(&["--alter", "--topic", "q", "--deleteConfig", "nope"]),
        "requirement failed: Unknown configuration \"nope\".",
    );
    usage_error(
        &c.topics(&["--alter", "--topic", "q", "--replication-factor", "3"]),
        "Option \"[replication-factor]\" can't be used with option\"[alter]\"",
    );
    assert!(c
        .topics(&[
            "--create",
            "--topic",
            "__consumer_offsets",
            "--replica-assignment",
            "0"
        ])
        .success());
    command_error(
        &c.topics(&[
            "--alter",
            "--topic",
            "__consumer_offsets",
            "--partitions",
            "3",
        ]),
        "The number of partitions for the offsets topic cannot be changed.",
    );
}

#[test]
fn delete_writes_the_marker_and_list_shows_it() {
    let c = Cluster::start();
    c.register_broker(0);
    for t in ["d1", "d2"] {
        assert!(c
            .topics(&[
                "--create",
                "--topic",
                t,
                "--partitions",
                "1",
                "--replication-factor",
                "1"
            ])
            .success());
    }
    assert_eq!(
        ok(&c.topics(&["--delete", "--topic", "d1"])),
        "Topic d1 is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true.\n"
    );
    assert_eq!(c.get("/admin/delete_topics/d1").as_deref(), Some(""));
    assert_eq!(ok(&c.topics(&["--list"])), "d1 - marked for deletion\nd2\n");
    assert_eq!(
        ok(&c.topics(&["--delete", "--topic", "d1"])),
        "Topic d1 is already marked for deletion.\n"
    );
    let out = c.topics(&["--delete", "--topic", "nope"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stdout, "Topic nope does not exist\n");
    command_error(
        &c.topics(&["--delete", "--topic", "("]),
        "( is an invalid regex.",
    );
    assert!(
        c.get("/brokers/topics/d1").is_some(),
        "the controller, not the tool, deletes topics"
    );
}

#[test]
fn usage_help_and_bad_flags_never_panic() {
    let out = topics_script(&[], &[]);
    usage_error(&out, "Create, delete, describe, or change a topic.");

    let out = topics_script(&["--help"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    for opt in [
        "--zookeeper <urls>",
        "--create",
        "--deleteConfig <name>",
        "--replica-assignment",
        "--topics-with-overrides",
    ] {
        assert!(
            out.stdout.contains(opt),
            "{} missing from:\n{}",
            opt,
            out.stdout
        );
    }

    usage_error(
        &topics_script(&["--list"], &[]),
        "Missing required argument \"[zookeeper]\"",
    );
    usage_error(
        &topics_script(&["--zookeeper", "127.0.0.1:1", "--list", "--create"], &[]),
        "Command must include exactly one action: --list, --describe, --create, --alter or --delete",
    );
    usage_error(
        &topics_script(&["--zookeeper", "127.0.0.1:1"], &[]),
        "Command must include exactly one action: --list, --describe, --create, --alter or --delete",
    );
    usage_error(
        &topics_script(&["--zookeeper", "127.0.0.1:1", "--delete"], &[]),
        "Missing required argument \"[topic]\"",
    );
    usage_error(
        &topics_script(
            &["--zookeeper", "127.0.0.1:1", "--list", "--config", "a=b"],
            &[],
        ),
        "Option \"[config]\" can't be used with option\"[list]\"",
    );
    usage_error(
        &topics_script(
            &[
                "--zookeeper",
                "127.0.0.1:1",
                "--create",
                "--topic",
                "t",
                "--replica-assignment",
                "0",
                "--partitions",
                "1",
            ],
            &[],
        ),
        "Option \"[replica-assignment]\" can't be used with option\"[partitions]\"",
    );
    for bad in [
        &["--bogus"][..],
        &["--zookeeper"][..],
        &[
            "--zookeeper",
            "127.0.0.1:1",
            "--create",
            "--topic",
            "t",
            "--partitions",
            "many",
            "--replication-factor",
            "1",
        ][..],
        &["--zookeeper", "127.0.0.1:1", "--list", "--help=x"][..],
    ] {
        let out = topics_script(bad, &[]);
        assert_eq!(out.code, Some(1), "{:?}: {}", bad, out.all());
        assert!(!out.stderr.contains("panicked"), "{:?}: {}", bad, out.all());
        assert!(
            out.stderr.contains("--zookeeper <urls>"),
            "{:?}: {}",
            bad,
            out.all()
        );
    }
}

#[test]
fn unreachable_zookeeper_fails_with_one_line_within_the_timeout() {
    let port = support::free_port(); // nothing listens there
    let connect = format!("127.0.0.1:{}", port);
    let started = Instant::now();
    let out = topics_script(
        &["--zookeeper", &connect, "--list"],
        &[("KAFKA08_ZK_CONNECTION_TIMEOUT_MS", "1500")],
    );
    let took = started.elapsed();
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(out.stdout.is_empty(), "{}", out.all());
    assert_eq!(
        out.stderr,
        "Exception in thread \"main\" org.I0Itec.zkclient.exception.ZkTimeoutException: Unable to connect to zookeeper server within timeout: 1500\n"
    );
    assert!(took < Duration::from_secs(15), "took {:?}", took);
}
