//! `zk-scripts/cluster.sh`: a local cluster (ZooKeeper + N brokers from generated
//! `server-<id>.properties`, as in 0.8.2's quickstart step 6) comes up with every broker
//! registered, serves a replication-factor-3 topic made with `bin/kafka-topics.sh`, and goes
//! down leaving no process and no port behind.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::local_cluster::{cluster_sh, Down};
use support::{run_with_env, TempDir};

/// Pids of the processes whose command line mentions `needle` (the cluster's folder).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.chars().all(|c| c.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

fn value_after<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("bad address {addr}"))
}

#[test]
fn up_registers_every_broker_serves_a_replicated_topic_and_down_leaves_nothing_running() {
    let tmp = TempDir::new("cluster-sh");
    let dir = tmp.path().join("cluster");
    let dir_str = dir.to_str().unwrap().to_string();
    let _down = Down(&dir);

    let up = cluster_sh(&dir, &["up", "-n", "3", "--override", "controlled.shutdown.retry.backoff.ms=500"]);
    assert_eq!(up.code, Some(0), "{}", up.all());
    assert!(up.stdout.contains("3 brokers registered in /brokers/ids: [0, 1, 2]"), "{}", up.all());
    let zk = value_after(&up.stdout, "zookeeper.connect=").to_string();
    let brokers: Vec<String> =
        value_after(&up.stdout, "metadata.broker.list=").split(',').map(str::to_string).collect();
    assert_eq!(brokers.len(), 3);

    // The generated configs are 0.8.2's server.properties with the quickstart's three changes.
    for (id, addr) in brokers.iter().enumerate() {
        let props = std::fs::read_to_string(dir.join(format!("config/server-{id}.properties"))).unwrap();
        for want in [
            format!("broker.id={id}\n"),
            format!("port={}\n", port_of(addr)),
            format!("log.dirs={dir_str}/kafka-logs-{id}\n"),
            format!("zookeeper.connect={zk}\n"),
            "num.partitions=1\n".to_string(),
            "controlled.shutdown.retry.backoff.ms=500\n".to_string(),
        ] {
            assert!(props.contains(&want), "server-{id}.properties lacks {want:?}:\n{props}");
        }
    }
    // ZooKeeper itself says so.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ids: BTreeSet<String> = rt.block_on(async {
        let z = kafka08::zk::ZkClient::connect(&zk, Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        z.get_children("/brokers/ids").await.unwrap().unwrap_or_default().into_iter().collect()
    });
    assert_eq!(ids, ["0", "1", "2"].iter().map(|s| s.to_string()).collect());

    let status = cluster_sh(&dir, &["status"]);
    assert_eq!(status.code, Some(0), "{}", status.all());
    assert!(status.stdout.contains(&format!("ZooKeeper {zk} serving (standalone)")), "{}", status.all());
    for (id, addr) in brokers.iter().enumerate() {
        assert!(status.stdout.contains(&format!("broker {id} {addr} running (pid ")), "{}", status.all());
    }
    assert_eq!(status.stdout.matches(", registered").count(), 3, "{}", status.all());
    let env = cluster_sh(&dir, &["env"]);
    assert_eq!(env.stdout, format!("export ZK_CONNECT={zk}\nexport BROKER_LIST={}\n", brokers.join(",")));

    // A second `up` on a running cluster is refused and changes nothing.
    let again = cluster_sh(&dir, &["up"]);
    assert_eq!(again.code, Some(1), "{}", again.all());
    assert!(again.stderr.contains("a cluster is already up"), "{}", again.all());
    assert_eq!(cluster_sh(&dir, &["status"]).code, Some(0));

    // A replication-factor-3 topic through the 0.8.2 script: all three replicas in sync.
    let topics = |args: &[&str]| {
        let mut a = vec!["--zookeeper", zk.as_str()];
        a.extend_from_slice(args);
        run_with_env("bin/kafka-topics.sh", &a, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
    };
    let created = topics(&["--create", "--topic", "replicated", "--partitions", "1", "--replication-factor", "3"]);
    assert_eq!(created.code, Some(0), "{}", created.all());
    assert_eq!(created.stdout, "Created topic \"replicated\".\n");
    let mut described = String::new();
    let in_sync = support::eventually(Duration::from_secs(60), || {
        described = topics(&["--describe", "--topic", "replicated"]).stdout;
        described.lines().nth(1).is_some_and(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.len() == 6 && f[3] != "Leader: -1" && f[3] != "Leader: none" && f[5].split(',').count() == 3
        })
    });
    assert!(in_sync, "the Isr never reached three:\n{described}");
    assert!(
        described.starts_with("Topic:replicated\tPartitionCount:1\tReplicationFactor:3\tConfigs:\n"),
        "{described}"
    );

    let down = cluster_sh(&dir, &["down"]);
    assert_eq!(down.code, Some(0), "{}", down.all());
    for id in 0..3 {
        assert!(down.stdout.contains(&format!("stopped broker {id} (pid ")), "{}", down.all());
    }
    assert!(down.stdout.contains("stopped ZooKeeper"), "{}", down.all());
    assert!(!down.stderr.contains("SIGKILL"), "a broker needed SIGKILL: {}", down.all());
    // Nothing left: no server of the cluster, every port free; the watchdog shells that
    // followed the servers notice they are gone within a second.
    let servers: Vec<String> = processes_mentioning(&dir_str)
        .into_iter()
        .filter(|p| p.contains("kafka.Kafka") || p.contains("QuorumPeerMain"))
        .collect();
    assert!(servers.is_empty(), "left running: {servers:?}");
    let mut left = Vec::new();
    let clean = support::eventually(Duration::from_secs(10), || {
        left = processes_mentioning(&dir_str);
        left.is_empty()
    });
    assert!(clean, "left running: {left:?}");
    for port in brokers.iter().map(|a| port_of(a)).chain([port_of(&zk)]) {
        assert!(!support::port_in_use(port), "port {port} still in use after down");
    }
    let status = cluster_sh(&dir, &["status"]);
    assert_eq!(status.code, Some(1), "{}", status.all());
    assert!(status.stdout.contains(&format!("ZooKeeper {zk} not running")), "{}", status.all());
    assert_eq!(status.stdout.matches(" not running").count(), 4, "{}", status.all());
    let twice = cluster_sh(&dir, &["down"]);
    assert_eq!(twice.code, Some(0), "down on a stopped cluster is harmless: {}", twice.all());
}

#[test]
fn bad_arguments_get_one_line_and_a_non_zero_exit() {
    let tmp = TempDir::new("cluster-sh-args");
    let dir = tmp.path().join("none");
    let out = cluster_sh(&dir, &["up", "-n", "x"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr, "cluster.sh: -n needs a number of brokers (1 or more)\n");
    let out = cluster_sh(&dir, &["up", "--override", "novalue"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr, "cluster.sh: --override needs key=value\n");
    let out = cluster_sh(&dir, &["sideways"]);
    assert_eq!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.starts_with("cluster.sh: unknown argument: sideways\n"), "{}", out.all());
    assert!(out.stderr.contains("cluster.sh up [-n N]"), "usage follows: {}", out.all());
    let out = cluster_sh(&dir, &["status"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr, format!("cluster.sh: no cluster in {} (run: zk-scripts/cluster.sh up)\n", dir.display()));
    let out = cluster_sh(&dir, &["down"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(!dir.exists(), "nothing was created for a cluster that never came up");
    let help = cluster_sh(&dir, &["--help"]);
    assert_eq!(help.code, Some(0), "{}", help.all());
    assert!(help.stdout.contains("cluster.sh down"), "{}", help.all());
}
