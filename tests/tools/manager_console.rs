//! The web console (`bin/kafka08-manager.sh`) in a real browser: Debian's chromium,
//! headless, driven by playwright-core (`tests/browser/console.mjs`, installed by
//! `tests/browser/setup.sh`) against a live 3-broker cluster. Screenshots of every page
//! are kept under `target/tmp/console-screenshots/` for a person to look at.

use crate::support;

use kafka08::zk::ZkClient;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::cluster::Cluster;
use support::kafka::KafkaBroker;
use support::producer::TestProducer;
use support::{free_port, project_root, wait_until, ZkServer};

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

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
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
    let out = screenshots_dir();
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
    assert_eq!(strings(&r["cluster_actions"]), ["create-topic"]);
    assert_eq!(strings(&r["topic_actions"]), ["add-partitions", "change-config"]);

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
