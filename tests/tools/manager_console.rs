//! The web console (`bin/kafka08-manager.sh`) in a real browser: Debian's chromium,
//! headless, driven by playwright-core (`tests/browser/console.mjs`, installed by
//! `tests/browser/setup.sh`) against a live 3-broker cluster. Screenshots of every page
//! are kept under `target/tmp/console-screenshots/` (and the admin actions' pages and
//! dialogs under `target/tmp/console-action-screenshots/`) for a person to look at.

use crate::support;

use kafka08::common::Properties;
use kafka08::zk::json::{ControllerRegistration, PartitionState};
use kafka08::zk::{paths, ZkClient};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::cluster::Cluster;
use support::kafka::KafkaBroker;
use support::producer::TestProducer;
use support::{free_port, project_root, wait_until, TempDir, ZkServer};

/// The actions the overview and a topic's page offer, in the page's order.
const CLUSTER_ACTIONS: [&str; 5] = ["create-topic", "preferred-election", "reassign-generate", "reassign-execute", "reassign-verify"];
const TOPIC_ACTIONS: [&str; 4] = ["add-partitions", "change-config", "preferred-election", "delete-topic"];

/// The whole browser run is bounded: `timeout` kills it past this.
const BROWSER_DEADLINE_SECS: u32 = 240;

/// The console process, killed on drop (also when the test fails).
struct Console(Child);

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_console(zk: &str, port: u16) -> Console {
    let child = Command::new(env!("CARGO_BIN_EXE_kafka08"))
        .args(["kafka08.Manager", "--zookeeper", zk, "--http-port", &port.to_string(), "--http-host", "127.0.0.1"])
        .env("KAFKA08_EXIT_WITH_PARENT", "1")
        .stdin(Stdio::null())
        .spawn()
        .expect("start the console");
    let console = Console(child);
    wait_until("the console listens", Duration::from_secs(30), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    console
}

fn screenshots_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Run the browser script with `args`; its JSON report.
fn browse(args: &Value) -> Value {
    let setup = Command::new(project_root().join("tests/browser/setup.sh")).status().expect("run tests/browser/setup.sh");
    assert!(setup.success(), "tests/browser/setup.sh failed");
    let out = Command::new("timeout")
        .args(["--kill-after=10", &BROWSER_DEADLINE_SECS.to_string(), "node"])
        .arg(project_root().join("tests/browser/console.mjs"))
        .arg(args.to_string())
        .output()
        .expect("run node");
    assert!(out.status.success(), "browser run failed ({}):\n{}\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("browser report {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|s| s.as_str().unwrap_or_default().to_string()).collect()
}

/// What `kafka-topics.sh --create` prints for `topic` (the first line).
fn tool_create_output(zk: &str, topic: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kafka08"))
        .args(["kafka.admin.TopicCommand", "--zookeeper", zk, "--create", "--topic", topic, "--partitions", "1", "--replication-factor", "1"])
        .output()
        .expect("run TopicCommand");
    String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string()
}

#[test]
fn console_shows_the_live_cluster_its_group_lag_and_creates_topics_with_0_8_2_errors() {
    let zk = ZkServer::start();
    let mut brokers = Vec::new();
    for id in 1..=3 {
        let port = free_port().to_string();
        brokers.push(KafkaBroker::start(id, &zk.connect_string(), &[("metrics.http.port", &port), ("metrics.http.host", "127.0.0.1")]));
    }
    let mut cluster = Cluster { brokers, zk };
    let connect = cluster.zk.connect_string();
    cluster.create_topic("orders", 2, 3);

    // 5 messages in partition 0 and 3 in partition 1; the group "billing" committed
    // offsets 2 and 1 in ZooKeeper: a lag of 3 + 2.
    let bootstrap: Vec<String> = cluster.brokers.iter().map(|b| b.addr()).collect();
    let mut producer = TestProducer::new(bootstrap, "orders");
    for (partition, n) in [(0, 5), (1, 3)] {
        for i in 0..n {
            producer.send(partition, &format!("order {i}"), Duration::from_secs(30)).expect("acknowledged");
        }
    }
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(&connect, Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
        zk.ensure_path("/consumers/billing/offsets/orders").await.expect("offsets path");
        zk.create_persistent("/consumers/billing/offsets/orders/0", b"2").await.expect("offset 0");
        zk.create_persistent("/consumers/billing/offsets/orders/1", b"1").await.expect("offset 1");
    });

    let port = free_port();
    let _console = start_console(&connect, port);
    let out = screenshots_dir("console-screenshots");
    let args = json!({
        "url": format!("http://127.0.0.1:{port}"),
        "out": out,
        "brokers": ["1", "2", "3"],
        "topic": "orders",
        "group": "billing",
        "create": "from-browser",
        "bad": "bad/name",
    });
    let r = browse(&args);
    println!("screenshots in {}", out.display());

    assert_eq!(strings(&r["brokers"]), ["1", "2", "3"]);
    assert_eq!(r["controllers"], 1, "exactly one broker is shown as the controller");
    assert!(strings(&r["topics"]).contains(&"orders".to_string()));
    assert_eq!(strings(&r["groups"]), ["billing"]);
    assert_eq!(r["total_lag"], "5");
    assert_eq!(strings(&r["group_lags"]), ["3", "2"]);
    assert_eq!(strings(&r["partitions"]), ["0", "1"]);
    assert_eq!(strings(&r["log_ends"]), ["5", "3"]);
    // Only the actions that exist are offered.
    assert_eq!(strings(&r["cluster_actions"]), CLUSTER_ACTIONS);
    assert_eq!(strings(&r["topic_actions"]), TOPIC_ACTIONS);

    assert_eq!(r["create"]["ok"], true, "{}", r["create"]);
    assert_eq!(r["create"]["text"], "Created topic \"from-browser\".");
    let assignment = rt.block_on(async {
        let zk = ZkClient::connect(&connect, Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
        kafka08::admin::fetch_assignment(&zk, "from-browser").await.expect("read assignment")
    });
    let assignment = assignment.expect("the topic created in the page is in ZooKeeper");
    assert_eq!(assignment.len(), 2);
    assert!(assignment.values().all(|r| r.len() == 2), "{assignment:?}");

    assert_eq!(r["bad"]["ok"], false);
    let expected = tool_create_output(&connect, "bad/name");
    assert!(expected.starts_with("Error while executing topic command"), "{expected}");
    assert_eq!(r["bad"]["text"], expected.as_str(), "the page shows kafka-topics.sh's error");
    assert_eq!(r["page_errors"], json!([]));

    // A broker down: the console still shows the rest.
    cluster.brokers[2].kill();
    let r = browse(&json!({ "phase": "degraded", "url": format!("http://127.0.0.1:{port}"), "out": out, "brokers": ["1", "2"], "topic": "orders" }));
    assert_eq!(strings(&r["brokers"]), ["1", "2"]);
    assert_eq!(strings(&r["partitions"]), ["0", "1"]);
    assert_eq!(r["page_errors"], json!([]));
}

/// POST `body` to the console's action API: the HTTP status and the JSON answer.
fn post_action(port: u16, body: &str) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the console");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    write!(
        s,
        "POST /api/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        body
    )
    .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::String(body.to_string())))
}

/// The lines of an action's answer, and whether it succeeded.
fn action(port: u16, body: Value) -> (bool, Vec<String>) {
    let (status, answer) = post_action(port, &body.to_string());
    assert!(status == 200 || status == 400, "{status}: {answer}");
    assert_eq!(answer["ok"], status == 200, "{answer}");
    (status == 200, strings(&answer["lines"]))
}

/// Run the kafka08 binary's tool `class` with `args`: its stdout lines and exit success.
fn tool_lines(class: &str, args: &[&str]) -> (bool, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_kafka08")).arg(class).args(args).output().expect("run the tool");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
}

const ELECTION_TOOL: &str = "kafka.admin.PreferredReplicaLeaderElectionCommand";
const REASSIGN_TOOL: &str = "kafka.admin.ReassignPartitionsCommand";

/// Bad input through the action API: the same lines, and the same failure, as the tool
/// given the same input in a file.
fn bad_input_gets_the_tools_text(port: u16, zk: &str) {
    let dir = TempDir::new("console-actions");
    let file = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write the input file");
        path.to_string_lossy().into_owned()
    };
    let election_inputs = [
        r#"{"partitions":[{"topic":"nope","partition":0}]}"#,
        r#"{"partitions":[{"topic":"elect","partition":7}]}"#,
        "{not json",
        r#"{"partitions":[{"topic":"elect","partition":0},{"topic":"elect","partition":0}]}"#,
    ];
    for (i, json) in election_inputs.iter().enumerate() {
        let expected = tool_lines(ELECTION_TOOL, &["--zookeeper", zk, "--path-to-json-file", &file(&format!("election{i}.json"), json)]);
        assert!(!expected.0 && expected.1.len() == 1 && expected.1[0].starts_with("Failed to start preferred replica election: "), "{expected:?}");
        assert_eq!(action(port, json!({"action": "preferred-election", "partitions_json": json})), expected, "election of {json}");
    }
    let reassignments = [
        "{nope",
        r#"{"version":1,"partitions":[{"topic":"nope","partition":0,"replicas":[1]}]}"#,
        r#"{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[1]},{"topic":"moving","partition":0,"replicas":[2]}]}"#,
        r#"{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[1,1]}]}"#,
        r#"{"version":1,"partitions":[{"topic":"moving","partition":0,"replicas":[9]}]}"#,
    ];
    for (i, json) in reassignments.iter().enumerate() {
        let expected = tool_lines(REASSIGN_TOOL, &["--zookeeper", zk, "--execute", "--reassignment-json-file", &file(&format!("r{i}.json"), json)]);
        assert!(!expected.0 && expected.1.last().is_some_and(|l| l.starts_with("Partitions reassignment failed due to ")), "{expected:?}");
        assert_eq!(action(port, json!({"action": "reassign-execute", "reassignment_json": json})), expected, "execute of {json}");
    }
    let expected = tool_lines(REASSIGN_TOOL, &["--zookeeper", zk, "--verify", "--reassignment-json-file", &file("v.json", "{nope")]);
    assert_eq!(action(port, json!({"action": "reassign-verify", "reassignment_json": "{nope"})), expected);
    for (topics, brokers) in [(r#"{"topics":[{"topic":"nope"}]}"#, "1,2"), (r#"{"topics":[{"topic":"moving"},{"topic":"moving"}]}"#, "1"), (r#"{"topics":[{"topic":"moving"}]}"#, "1,x"), (r#"{"topics":[{"topic":"moving"}]}"#, "1,1")] {
        let expected = tool_lines(REASSIGN_TOOL, &["--zookeeper", zk, "--generate", "--topics-to-move-json-file", &file("t.json", topics), "--broker-list", brokers]);
        assert!(!expected.0 && expected.1.len() == 1 && expected.1[0].starts_with("Partitions reassignment failed due to "), "{expected:?}");
        assert_eq!(action(port, json!({"action": "reassign-generate", "topics_json": topics, "broker_list": brokers})), expected, "generate {topics} {brokers}");
    }
    // kafka-topics.sh's actions: a bad config, an unknown key, fewer partitions.
    let topics_cases = [
        (json!({"action": "create-topic", "topic": "fresh", "partitions": "1", "replication_factor": "1", "config": "retention.ms=soon"}),
            vec!["--create", "--topic", "fresh", "--partitions", "1", "--replication-factor", "1", "--config", "retention.ms=soon"]),
        (json!({"action": "change-config", "topic": "elect", "config": "no.such.key=1"}), vec!["--alter", "--topic", "elect", "--config", "no.such.key=1"]),
        (json!({"action": "change-config", "topic": "elect", "delete_config": "no.such.key"}), vec!["--alter", "--topic", "elect", "--deleteConfig", "no.such.key"]),
        (json!({"action": "add-partitions", "topic": "elect", "partitions": "1"}), vec!["--alter", "--topic", "elect", "--partitions", "1"]),
    ];
    for (body, args) in topics_cases {
        let expected = tool_lines("kafka.admin.TopicCommand", &[&["--zookeeper", zk][..], &args].concat());
        assert!(!expected.0 && expected.1.last().is_some_and(|l| l.starts_with("Error while executing topic command ")), "{expected:?}");
        assert_eq!(action(port, body.clone()), expected, "{body}");
    }
    // A number that is not one is the tool's usage error, without the usage.
    assert_eq!(
        action(port, json!({"action": "create-topic", "topic": "fresh", "partitions": "two", "replication_factor": "1"})),
        (false, vec!["Cannot parse argument 'two' of option partitions".to_string()])
    );
    // A missing input is the tool's usage error, without the usage.
    assert_eq!(
        action(port, json!({"action": "reassign-generate", "topics_json": "", "broker_list": "1"})),
        (false, vec!["If --generate option is used, command must include both --topics-to-move-json-file and --broker-list options".to_string()])
    );
    // Deleting a topic that does not exist.
    assert_eq!(action(port, json!({"action": "delete-topic", "topic": "nope"})), (false, vec!["Topic nope does not exist".to_string()]));
    assert_eq!(tool_lines("kafka.admin.TopicCommand", &["--zookeeper", zk, "--delete", "--topic", "nope"]), (false, vec!["Topic nope does not exist".to_string()]));
    // A body that is not JSON is refused, and the console goes on serving.
    let (status, _) = post_action(port, "{\"action\": ");
    assert!((400..500).contains(&status), "{status}");
    // Nothing above wrote anything.
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = ZkClient::connect(zk, Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
        for path in [paths::PREFERRED_REPLICA_ELECTION, paths::REASSIGN_PARTITIONS, &paths::topic("fresh")] {
            assert!(zk.exists(path).await.expect("exists").is_none(), "{path} was written by refused input");
        }
    });
}

/// Partition → (leader, replicas) of `topic` as ZooKeeper holds them.
fn leaders_and_replicas(zk: &ZkClient, rt: &tokio::runtime::Runtime, topic: &str) -> Option<Vec<(i32, Vec<i32>)>> {
    rt.block_on(async {
        let assignment = kafka08::admin::fetch_assignment(zk, topic).await.ok()??;
        let mut out = Vec::new();
        for (p, replicas) in assignment {
            let (data, _) = zk.get_data(&paths::partition_state(topic, p)).await.ok()??;
            out.push((PartitionState::parse(&data).ok()?.leader, replicas));
        }
        Some(out)
    })
}

#[test]
fn console_actions_elect_reassign_and_delete_as_the_tools_do() {
    let settings = [
        ("auto.leader.rebalance.enable", "false"),
        ("delete.topic.enable", "true"),
        ("controlled.shutdown.enable", "false"),
        ("zookeeper.session.timeout.ms", "4000"),
        ("replica.fetch.wait.max.ms", "100"),
    ];
    let mut cluster = Cluster::start(3, &settings);
    let connect = cluster.zk.connect_string();
    let rt = Cluster::runtime();
    let zk = rt.block_on(ZkClient::connect(&connect, Duration::from_secs(6), Duration::from_secs(10))).expect("zk");
    cluster.create_topic("elect", 3, 3);
    cluster.create_topic("doomed", 1, 3);
    let on_1_and_2 = BTreeMap::from([(0, vec![1]), (1, vec![2])]);
    rt.block_on(kafka08::admin::create_topic_with_assignment(&zk, "moving", &on_1_and_2, &Properties::new())).expect("create moving");
    cluster.wait_for_leaders("moving", 2);
    cluster.wait_for_full_isr("elect", 3, 3);

    // A broker that is not the controller goes down and comes back: with the automatic
    // rebalance off it leads nothing of "elect", though it is a preferred replica there.
    let controller = rt.block_on(zk.get_data(paths::CONTROLLER)).expect("read /controller").expect("a controller").0;
    let controller = ControllerRegistration::parse(&controller).expect("controller json").brokerid;
    let victim = (1..=3).find(|id| *id != controller).expect("a broker that is not the controller");
    cluster.brokers[(victim - 1) as usize].kill();
    wait_until("the killed broker leads nothing", Duration::from_secs(60), || {
        leaders_and_replicas(&zk, &rt, "elect").is_some_and(|l| l.iter().all(|(leader, _)| *leader != victim && *leader >= 0))
    });
    cluster.brokers[(victim - 1) as usize].restart();
    cluster.wait_for_full_isr("elect", 3, 3);
    cluster.wait_for_leaders("moving", 2);
    let before = leaders_and_replicas(&zk, &rt, "elect").expect("elect");
    assert!(before.iter().any(|(leader, replicas)| *leader != replicas[0]), "a partition is off its preferred replica: {before:?}");

    let port = free_port();
    let _console = start_console(&connect, port);
    bad_input_gets_the_tools_text(port, &connect);

    let out = screenshots_dir("console-action-screenshots");
    let r = browse(&json!({ "phase": "actions", "url": format!("http://127.0.0.1:{port}"), "out": out, "move": "moving", "move_to": "3", "doomed": "doomed" }));
    println!("screenshots in {}", out.display());
    assert_eq!(r["page_errors"], json!([]));
    assert_eq!(strings(&r["cluster_actions"]), CLUSTER_ACTIONS);
    assert_eq!(strings(&r["topic_actions"]), TOPIC_ACTIONS);

    // The election, as the tool prints it, and in effect: the leaders are back on the
    // preferred replicas and the admin znode is gone.
    assert_eq!(r["election"]["ok"], true, "{}", r["election"]);
    // Every partition, in the order 0.8.2's Scala Set iterated them (as Scala 2.11 prints it).
    let all = "Set([doomed,0], [moving,1], [elect,1], [moving,0], [elect,0], [elect,2])";
    let lines: Vec<&str> = r["election"]["text"].as_str().unwrap_or_default().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("Created preferred replica election path with {\"version\":1,\"partitions\":[{\"topic\":\"doomed\",\"partition\":0}"), "{}", lines[0]);
    assert_eq!(lines[1], format!("Successfully started preferred replica election for partitions {all}"));
    wait_until("leaders back on their preferred replicas", Duration::from_secs(60), || {
        leaders_and_replicas(&zk, &rt, "elect").is_some_and(|l| l.iter().all(|(leader, replicas)| *leader == replicas[0]))
            && rt.block_on(zk.exists(paths::PREFERRED_REPLICA_ELECTION)).is_ok_and(|s| s.is_none())
    });

    // The reassignment: generated, executed after the page's confirmation, verified done.
    // Listed as 0.8.2 listed its Scala mutable.HashMaps: [moving,1] first.
    let current = r#"{"version":1,"partitions":[{"topic":"moving","partition":1,"replicas":[2]},{"topic":"moving","partition":0,"replicas":[1]}]}"#;
    let proposed = r#"{"version":1,"partitions":[{"topic":"moving","partition":1,"replicas":[3]},{"topic":"moving","partition":0,"replicas":[3]}]}"#;
    assert_eq!(r["generate"]["ok"], true, "{}", r["generate"]);
    assert_eq!(
        r["generate"]["text"],
        format!("Current partition replica assignment\n\n{current}\nProposed partition reassignment configuration\n\n{proposed}")
    );
    assert_eq!(r["proposed"], proposed, "the proposal goes to the execute form");
    assert!(r["reassign-execute_question"].as_str().is_some_and(|q| q.contains(proposed)), "{}", r["reassign-execute_question"]);
    assert_eq!(r["execute"]["ok"], true, "{}", r["execute"]);
    assert_eq!(
        r["execute"]["text"],
        format!(
            "Current partition replica assignment\n\n{current}\n\nSave this to use as the --reassignment-json-file option during rollback\nSuccessfully started reassignment of partitions {proposed}"
        )
    );
    assert_eq!(
        r["verify"]["text"],
        "Status of partition reassignment:\nReassignment of partition [moving,1] completed successfully\nReassignment of partition [moving,0] completed successfully"
    );
    assert_eq!(rt.block_on(kafka08::admin::fetch_assignment(&zk, "moving")).expect("read"), Some(BTreeMap::from([(0, vec![3]), (1, vec![3])])));
    assert!(rt.block_on(zk.exists(paths::REASSIGN_PARTITIONS)).expect("exists").is_none());

    // The deletion: cancelled leaves the topic; confirmed, it goes.
    assert!(r["delete-topic_question"].as_str().is_some_and(|q| q.contains("Delete topic doomed?")), "{}", r["delete-topic_question"]);
    assert_eq!(r["delete_cancelled"]["ok"], false);
    assert_eq!(r["delete"]["ok"], true, "{}", r["delete"]);
    assert_eq!(r["delete"]["text"], "Topic doomed is marked for deletion.\nNote: This will have no impact if delete.topic.enable is not set to true.");
    wait_until("the topic deleted from the page is gone", Duration::from_secs(60), || {
        rt.block_on(async {
            zk.exists(&paths::topic("doomed")).await.is_ok_and(|s| s.is_none())
                && zk.exists(&paths::delete_topic_marker("doomed")).await.is_ok_and(|s| s.is_none())
        })
    });
    // The topic page's election form is filled with that topic's partitions.
    assert_eq!(r["election_prefill"], r#"{"partitions":[{"topic":"doomed","partition":0}]}"#);

    // An election of chosen partitions, as the tool's file lists them.
    let chosen = r#"{"partitions":[{"topic":"elect","partition":1}]}"#;
    assert_eq!(
        action(port, json!({"action": "preferred-election", "partitions_json": chosen})),
        (
            true,
            vec![
                r#"Created preferred replica election path with {"version":1,"partitions":[{"topic":"elect","partition":1}]}"#.to_string(),
                "Successfully started preferred replica election for partitions Set([elect,1])".to_string()
            ]
        )
    );
    wait_until("the chosen election is done", Duration::from_secs(60), || {
        rt.block_on(zk.exists(paths::PREFERRED_REPLICA_ELECTION)).is_ok_and(|s| s.is_none())
    });
}
