//! `zk-scripts/cluster.sh up --hosts`: a ZooKeeper ensemble and one broker per host, each
//! broker registering its host's address, reached by a foreign 0.8 client (kcat) from the
//! root namespace; `down` leaves no process, namespace or bridge behind.

use crate::support;

use std::io::Write;
use std::process::{Command, Stdio};
use support::local_cluster::Down;
use support::{run_with_env, Output, TempDir};

const KCAT_08: &[&str] = &["-X", "api.version.request=false", "-X", "broker.version.fallback=0.8.2.2"];

fn cluster_sh(dir: &std::path::Path, tag: &str, args: &[&str]) -> Output {
    run_with_env(
        "zk-scripts/cluster.sh",
        args,
        None,
        &[("KAFKA08_CLUSTER_DIR", dir.to_str().expect("utf-8 path")), ("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08")), ("KAFKA08_HOSTS_TAG", tag)],
    )
}

fn value_after<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{out}"))
}

#[test]
fn cluster_sh_up_hosts_runs_an_ensemble_and_a_broker_per_host_on_its_own_address() {
    let tmp = TempDir::new("cluster-hosts");
    let dir = tmp.path().join("cluster");
    let tag = format!("c{:x}", std::process::id());
    let _down = Down(&dir);
    let up = cluster_sh(&dir, &tag, &["up", "--hosts", "-n", "3"]);
    assert_eq!(up.code, Some(0), "{}", up.all());
    let zk = value_after(&up.stdout, "zookeeper.connect=").to_string();
    let brokers: Vec<String> = value_after(&up.stdout, "metadata.broker.list=").split(',').map(str::to_string).collect();
    let addrs: Vec<String> = (1..=3).map(|n| support::hosts::hosts_sh(&tag, &["addr", &format!("h{n}")]).stdout.trim().to_string()).collect();
    assert_eq!(zk, addrs.iter().map(|a| format!("{a}:2181")).collect::<Vec<_>>().join(","), "one ZooKeeper member per host");
    assert_eq!(brokers, addrs.iter().map(|a| format!("{a}:9092")).collect::<Vec<_>>(), "one broker per host");

    // Each broker registered its host's address, and its config says so.
    for (id, addr) in addrs.iter().enumerate() {
        let reg = support::zk_cli(&format!("{}:2181", addrs[0]), &["get", &format!("/brokers/ids/{id}")]);
        assert!(reg.last_line().contains(&format!("\"host\":\"{addr}\"")) && reg.last_line().contains("\"port\":9092"), "broker {id}: {}", reg.all());
        let props = std::fs::read_to_string(dir.join(format!("config/server-{id}.properties"))).expect("props");
        assert!(props.contains(&format!("\nhost.name={addr}\n")), "server-{id}.properties: {props}");
    }

    // A 0.8 client here reaches them over the bridge: a replicated topic round-trips.
    let topics = run_with_env(
        "bin/kafka-topics.sh",
        &["--zookeeper", &format!("{}:2181", addrs[0]), "--create", "--topic", "across", "--partitions", "3", "--replication-factor", "3"],
        None,
        &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    );
    assert!(topics.success(), "{}", topics.all());
    let bootstrap = brokers.join(",");
    let lines: Vec<String> = (0..30).map(|i| format!("across-{i}")).collect();
    let mut kcat = Command::new("kcat")
        .args(["-b", &bootstrap, "-t", "across", "-P", "-X", "queue.buffering.max.ms=20", "-X", "request.required.acks=-1", "-X", "message.send.max.retries=20"])
        .args(KCAT_08)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat (installed by zk-scripts/install.sh)");
    kcat.stdin.take().expect("stdin").write_all((lines.join("\n") + "\n").as_bytes()).expect("write");
    let out = kcat.wait_with_output().expect("kcat");
    assert!(out.status.success(), "kcat produce: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("kcat").args(["-b", &bootstrap, "-t", "across", "-C", "-o", "beginning", "-e", "-q", "-c", "30"]).args(KCAT_08).output().expect("kcat");
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    got.sort();
    let mut want = lines.clone();
    want.sort();
    assert_eq!(got, want, "kcat reads back what it wrote: {}", String::from_utf8_lossy(&out.stderr));
    let meta = Command::new("kcat").args(["-b", &brokers[0], "-L", "-t", "across"]).args(KCAT_08).output().expect("kcat -L");
    let meta = String::from_utf8_lossy(&meta.stdout);
    for a in &addrs {
        assert!(meta.contains(&format!("at {a}:9092")), "metadata names {a}:\n{meta}");
    }

    let status = cluster_sh(&dir, &tag, &["status"]);
    assert_eq!(status.code, Some(0), "{}", status.all());
    let down = cluster_sh(&dir, &tag, &["down"]);
    assert_eq!(down.code, Some(0), "{}", down.all());
    assert!(down.stdout.contains("removed the hosts"), "{}", down.all());
    let ns = String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().expect("ip").stdout).into_owned();
    assert!(!ns.contains(&format!("k08-{tag}-")), "namespaces left: {ns}");
    assert!(Command::new("ip").args(["link", "show", &format!("k08br{tag}")]).output().is_ok_and(|o| !o.status.success()), "the bridge is gone");
}
