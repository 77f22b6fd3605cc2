//! The operator runbooks of `docs/runbooks/`: every ```sh block of a page is run, as
//! written and in order, from a kafka08 install folder (`bin/`, `config/server-<id>.properties`)
//! against a real cluster brought up by `zk-scripts/cluster.sh`, with the page's one input,
//! `ZK_CONNECT`, exported. Meanwhile an acks=-1 producer writes to `orders` (4 partitions,
//! replicas 0:1,1:2,2:0,0:1, the pages' example topic); afterwards every acknowledged
//! message must still be readable, the replicas must agree, and the cluster must be in the
//! state the page promises.

use crate::support;

use kafka08::zk::json::{PartitionState, TopicAssignment};
use kafka08::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use support::local_cluster::{cluster_sh, Down};
use support::producer::{assert_no_loss, read_until_complete, TestProducer};
use support::{wait_until, Output, TempDir};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 4;
const ASSIGNMENT: &str = "0:1,1:2,2:0,0:1";
const LONG: Duration = Duration::from_secs(180);

/// The ```sh blocks of a markdown page, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_end() == "```sh" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.push(current.take().expect("in a block")),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

/// A cluster of `zk-scripts/cluster.sh` whose folder is also the install folder the pages
/// run in (`bin` links to this repository's scripts).
struct RunbookCluster {
    dir: PathBuf,
    zk_connect: String,
    brokers: Vec<(i32, String)>,
    pids: BTreeMap<i32, u32>,
    rt: tokio::runtime::Runtime,
    zk: ZkClient,
}

impl RunbookCluster {
    /// Brokers 0..n, deletion enabled, and `orders` created and fully replicated.
    fn up(dir: &Path, n: usize) -> RunbookCluster {
        let n = n.to_string();
        let up = cluster_sh(
            dir,
            &[
                "up",
                "-n",
                &n,
                "--override",
                "delete.topic.enable=true",
                "--override",
                "controlled.shutdown.retry.backoff.ms=500",
            ],
        );
        assert_eq!(up.code, Some(0), "{}", up.all());
        let zk_connect = up.stdout.lines().find_map(|l| l.strip_prefix("zookeeper.connect=")).expect("connect string").to_string();
        let mut brokers = Vec::new();
        let mut pids = BTreeMap::new();
        for line in up.stdout.lines().filter(|l| l.starts_with("broker ")) {
            // broker <id> <host:port> pid <pid> <properties>
            let f: Vec<&str> = line.split(' ').collect();
            let id: i32 = f[1].parse().unwrap();
            brokers.push((id, f[2].to_string()));
            pids.insert(id, f[4].parse().unwrap());
        }
        std::os::unix::fs::symlink(support::project_root().join("bin"), dir.join("bin")).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let zk = rt.block_on(ZkClient::connect(&zk_connect, Duration::from_secs(30), Duration::from_secs(30))).expect("zookeeper");
        let c = RunbookCluster { dir: dir.to_path_buf(), zk_connect, brokers, pids, rt, zk };
        c.create_topic(TOPIC, ASSIGNMENT);
        c.wait_for_isr(TOPIC, PARTITIONS, |_, isr| isr.len() == 2, "a full ISR of 2");
        c
    }

    fn tool(&self, script: &str, args: &[&str]) -> Output {
        let mut all = vec!["--zookeeper", self.zk_connect.as_str()];
        all.extend_from_slice(args);
        support::run_with_env(script, &all, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
    }

    fn create_topic(&self, topic: &str, assignment: &str) {
        let out = self.tool("bin/kafka-topics.sh", &["--create", "--topic", topic, "--replica-assignment", assignment]);
        assert_eq!(out.code, Some(0), "{}", out.all());
    }

    fn bootstrap(&self) -> Vec<String> {
        self.brokers.iter().map(|(_, a)| a.clone()).collect()
    }

    fn data(&self, path: &str) -> Option<Vec<u8>> {
        self.rt.block_on(self.zk.get_data(path)).expect("zookeeper answers").map(|(d, _)| d)
    }

    fn exists(&self, path: &str) -> bool {
        self.rt.block_on(self.zk.exists(path)).expect("zookeeper answers").is_some()
    }

    fn registration_czxid(&self, id: i32) -> Option<i64> {
        self.rt.block_on(self.zk.get_data(&paths::broker(id))).expect("zookeeper answers").map(|(_, s)| s.czxid)
    }

    fn assignment(&self, topic: &str) -> BTreeMap<i32, Vec<i32>> {
        TopicAssignment::parse(&self.data(&paths::topic(topic)).expect("topic exists")).unwrap().partitions
    }

    fn state(&self, topic: &str, partition: i32) -> Option<PartitionState> {
        self.data(&paths::partition_state(topic, partition)).and_then(|d| PartitionState::parse(&d).ok())
    }

    /// Wait until every partition's ISR (as ZooKeeper holds it) satisfies `ok`.
    fn wait_for_isr(&self, topic: &str, partitions: i32, ok: impl Fn(i32, &[i32]) -> bool, what: &str) {
        wait_until(&format!("every partition of {topic} has {what}"), LONG, || {
            (0..partitions).all(|p| self.state(topic, p).is_some_and(|s| ok(p, &s.isr)))
        });
    }

    /// A server-<id>.properties for a broker `up` did not start, as an operator writes one
    /// for a new machine: broker 0's file with its own id, port and log.dirs.
    fn spare_config(&mut self, id: i32) -> String {
        let port = support::free_port();
        let base = std::fs::read_to_string(self.dir.join("config/server-0.properties")).unwrap();
        let log_dirs = self.dir.join(format!("kafka-logs-{id}"));
        let props: Vec<String> = base
            .lines()
            .map(|l| {
                if l.starts_with("broker.id=") {
                    format!("broker.id={id}")
                } else if l.starts_with("port=") {
                    format!("port={port}")
                } else if l.starts_with("log.dirs=") {
                    format!("log.dirs={}", log_dirs.display())
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(self.dir.join(format!("config/server-{id}.properties")), props.join("\n") + "\n").unwrap();
        let addr = format!("127.0.0.1:{port}");
        self.brokers.push((id, addr.clone()));
        addr
    }

    fn log_dir(&self, id: i32) -> PathBuf {
        self.dir.join(format!("kafka-logs-{id}"))
    }

    /// The partition directories of `topic` in broker `id`'s log.dirs.
    fn partition_dirs(&self, id: i32, topic: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.log_dir(id))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        out.retain(|n| n.rsplit_once('-').is_some_and(|(t, p)| t == topic && p.parse::<u32>().is_ok()));
        out.sort();
        out
    }

    /// Run every ```sh block of `docs/runbooks/<page>` as one bash script (stopping at the
    /// first failing command) from the install folder, with `ZK_CONNECT` exported.
    fn run_page(&self, page: &str) -> Output {
        let md = std::fs::read_to_string(support::project_root().join("docs/runbooks").join(page)).unwrap();
        let blocks = sh_blocks(&md);
        assert!(!blocks.is_empty(), "{page} has no sh block");
        let script = self.dir.join(format!("{page}.sh"));
        std::fs::write(&script, format!("set -euo pipefail\n{}", blocks.join("\n"))).unwrap();
        let out = Command::new("timeout")
            .args(["--kill-after=10", "600", "bash", "-x"])
            .arg(&script)
            .current_dir(&self.dir)
            .env("ZK_CONNECT", &self.zk_connect)
            .env("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))
            .stdin(Stdio::null())
            .output()
            .expect("run bash");
        let out = Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_eq!(out.code, Some(0), "{page} failed:\n{}", out.all());
        out
    }

    /// `cluster.sh down`, then nothing of this folder may be left running: no process
    /// started from it (a broker the page started with a relative `config/...` path) or
    /// naming it on its command line.
    fn down(self) {
        let down = cluster_sh(&self.dir, &["down"]);
        assert_eq!(down.code, Some(0), "{}", down.all());
        let dir = std::fs::canonicalize(&self.dir).unwrap();
        let me = std::process::id().to_string();
        let mut left = Vec::new();
        // Watchdogs of the servers notice within a second that their server is gone.
        let clean = support::eventually(Duration::from_secs(30), || {
            left.clear();
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if pid == me || !pid.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                let cwd = std::fs::read_link(entry.path().join("cwd")).ok();
                let cmdline = std::fs::read(entry.path().join("cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                    .unwrap_or_default();
                if cwd.as_deref() == Some(dir.as_path()) || cmdline.contains(dir.to_str().unwrap()) {
                    left.push(format!("{pid}: {cmdline}"));
                }
            }
            left.is_empty()
        });
        assert!(clean, "left running after cluster.sh down: {left:#?}");
    }

    fn kill(&self, id: i32) {
        let pid = self.pids[&id];
        let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(status.success());
        wait_until(&format!("broker {id} deregistered"), LONG, || !self.exists(&paths::broker(id)));
    }
}

/// An acks=-1 producer writing to every partition of `orders`, round robin, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    handle: JoinHandle<Vec<Vec<String>>>,
    bootstrap: Vec<String>,
}

impl Load {
    fn start(bootstrap: Vec<String>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let (s, a, b) = (stop.clone(), acked.clone(), bootstrap.clone());
        let handle = std::thread::spawn(move || {
            let mut producer = TestProducer::new(b, TOPIC);
            let mut out = vec![Vec::new(); PARTITIONS as usize];
            let mut i = 0usize;
            while !s.load(Ordering::SeqCst) {
                let p = (i % PARTITIONS as usize) as i32;
                let value = format!("runbook-{i}");
                if producer.send(p, &value, Duration::from_secs(30)).is_some() {
                    out[p as usize].push(value);
                    a.fetch_add(1, Ordering::SeqCst);
                }
                i += 1;
            }
            out
        });
        let load = Load { stop, acked, handle, bootstrap };
        load.wait_for_more(20);
        load
    }

    fn wait_for_more(&self, n: usize) {
        let want = self.acked.load(Ordering::SeqCst) + n;
        wait_until(&format!("{n} more messages acknowledged"), LONG, || self.acked.load(Ordering::SeqCst) >= want);
    }

    /// Let the producer get `n` more acknowledgements from the cluster as the page left
    /// it, stop it, and check that every acknowledged message is readable.
    fn finish(self, bootstrap: &[String]) -> usize {
        self.wait_for_more(20);
        self.stop.store(true, Ordering::SeqCst);
        let acked = self.handle.join().expect("producer thread");
        let mut bootstrap = bootstrap.to_vec();
        bootstrap.extend(self.bootstrap);
        for (p, values) in acked.iter().enumerate() {
            let stored = read_until_complete(&bootstrap, TOPIC, p as i32, values, LONG);
            assert_no_loss(values, &stored);
        }
        acked.iter().map(Vec::len).sum()
    }
}

fn running(c: &RunbookCluster, ids: &[i32]) -> Vec<(i32, String)> {
    c.brokers.iter().filter(|(id, _)| ids.contains(id)).cloned().collect()
}

#[test]
fn every_page_has_sh_blocks_that_bash_accepts() {
    let dir = support::project_root().join("docs/runbooks");
    let mut pages = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".md") || name == "README.md" {
            continue;
        }
        pages += 1;
        let blocks = sh_blocks(&std::fs::read_to_string(entry.path()).unwrap());
        assert_eq!(blocks.first().map(|b| b.trim()), Some("export ZK_CONNECT=${ZK_CONNECT:-localhost:2181}"), "{name}");
        let out = Command::new("bash").args(["-n", "-c", &blocks.join("\n")]).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(pages, 6, "one page per operation");
}

#[test]
fn add_a_broker_moves_partitions_onto_it_without_losing_acknowledged_messages() {
    let tmp = TempDir::new("runbook-add");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let mut c = RunbookCluster::up(&dir, 3);
    let new_addr = c.spare_config(3);
    let load = Load::start(c.bootstrap());

    let out = c.run_page("add-a-broker.md");
    assert!(out.stdout.contains("completed successfully"), "{}", out.all());
    assert!(!out.stdout.contains("failed"), "{}", out.all());

    let assignment = c.assignment(TOPIC);
    assert!(assignment.values().any(|r| r.contains(&3)), "broker 3 got no replica: {assignment:?}");
    assert!(assignment.values().all(|r| r.len() == 2), "{assignment:?}");
    assert!(!c.exists(paths::REASSIGN_PARTITIONS));
    c.wait_for_isr(TOPIC, PARTITIONS, |p, isr| isr.len() == 2 && assignment[&p].iter().all(|r| isr.contains(r)), "its new replicas in sync");
    let acked = load.finish(&[new_addr]);
    assert!(acked >= 40, "{acked}");
    support::cluster::assert_replicas_agree(&running(&c, &[0, 1, 2, 3]), TOPIC, LONG);
    // Each broker keeps exactly the directories of the replicas it is assigned.
    for id in 0..4 {
        let want: Vec<String> =
            assignment.iter().filter(|(_, r)| r.contains(&id)).map(|(p, _)| format!("{TOPIC}-{p}")).collect();
        wait_until(&format!("broker {id} holds exactly {want:?}"), LONG, || c.partition_dirs(id, TOPIC) == want);
    }
    c.down();
}

#[test]
fn decommission_a_broker_leaves_it_empty_and_stopped() {
    let tmp = TempDir::new("runbook-decommission");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let c = RunbookCluster::up(&dir, 3);
    let load = Load::start(c.bootstrap());

    let out = c.run_page("decommission-a-broker.md");
    assert!(out.stdout.contains("completed successfully"), "{}", out.all());

    let assignment = c.assignment(TOPIC);
    assert!(assignment.values().all(|r| r.len() == 2 && !r.contains(&2)), "{assignment:?}");
    assert!(!c.exists(&paths::broker(2)), "broker 2 still registered");
    assert!(!c.exists(paths::REASSIGN_PARTITIONS));
    wait_until("broker 2 deleted its replicas of orders", LONG, || c.partition_dirs(2, TOPIC).is_empty());
    let acked = load.finish(&[]);
    assert!(acked >= 40, "{acked}");
    support::cluster::assert_replicas_agree(&running(&c, &[0, 1]), TOPIC, LONG);
    c.down();
}

#[test]
fn replace_a_dead_broker_copies_everything_back_onto_the_new_machine() {
    let tmp = TempDir::new("runbook-replace");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let c = RunbookCluster::up(&dir, 3);
    let load = Load::start(c.bootstrap());
    // The machine dies with its disk; the leaders drop it from the ISRs.
    c.kill(2);
    std::fs::remove_dir_all(c.log_dir(2)).unwrap();
    c.wait_for_isr(TOPIC, PARTITIONS, |_, isr| !isr.contains(&2), "broker 2 out of its ISR");
    load.wait_for_more(20);

    c.run_page("replace-a-dead-broker.md");

    c.wait_for_isr(TOPIC, PARTITIONS, |_, isr| isr.len() == 2, "a full ISR of 2 again");
    let assignment = c.assignment(TOPIC);
    let want: Vec<String> = assignment.iter().filter(|(_, r)| r.contains(&2)).map(|(p, _)| format!("{TOPIC}-{p}")).collect();
    assert_eq!(c.partition_dirs(2, TOPIC), want, "the new broker 2 holds its replicas again");
    wait_until("every partition led by its preferred replica", LONG, || {
        (0..PARTITIONS).all(|p| c.state(TOPIC, p).is_some_and(|s| s.leader == assignment[&p][0]))
    });
    let acked = load.finish(&[]);
    assert!(acked >= 60, "{acked}");
    support::cluster::assert_replicas_agree(&running(&c, &[0, 1, 2]), TOPIC, LONG);
    c.down();
}

#[test]
fn raise_the_replication_factor_from_two_to_three() {
    let tmp = TempDir::new("runbook-raise-rf");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let c = RunbookCluster::up(&dir, 3);
    let load = Load::start(c.bootstrap());

    let out = c.run_page("raise-replication-factor.md");
    assert!(out.stdout.contains(&format!("Topic:{TOPIC}\tPartitionCount:4\tReplicationFactor:3\t")), "{}", out.all());

    let want = BTreeMap::from([(0, vec![0, 1, 2]), (1, vec![1, 2, 0]), (2, vec![2, 0, 1]), (3, vec![0, 1, 2])]);
    assert_eq!(c.assignment(TOPIC), want);
    assert!(!c.exists(paths::REASSIGN_PARTITIONS));
    c.wait_for_isr(TOPIC, PARTITIONS, |_, isr| isr.len() == 3, "a full ISR of 3");
    let acked = load.finish(&[]);
    assert!(acked >= 40, "{acked}");
    support::cluster::assert_replicas_agree(&running(&c, &[0, 1, 2]), TOPIC, LONG);
    c.down();
}

#[test]
fn delete_a_topic_removes_its_znodes_and_directories_and_leaves_others_alone() {
    let tmp = TempDir::new("runbook-delete");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let c = RunbookCluster::up(&dir, 3);
    c.create_topic("clicks", "0:1,1:2,2:0");
    c.wait_for_isr("clicks", 3, |_, isr| isr.len() == 2, "a full ISR of 2");
    let mut clicks = TestProducer::new(c.bootstrap(), "clicks");
    for i in 0..30 {
        assert!(clicks.send(i % 3, &format!("click-{i}"), LONG).is_some(), "click {i} not acknowledged");
    }
    for id in 0..3 {
        assert_eq!(c.partition_dirs(id, "clicks").len(), 2, "broker {id} holds two replicas of clicks");
    }
    let load = Load::start(c.bootstrap());

    let out = c.run_page("delete-a-topic.md");
    // The page's last --list shows only orders, and no deletion is pending.
    assert!(out.stdout.ends_with(&format!("\n{TOPIC}\n[]\n")), "{}", out.all());

    for path in [paths::topic("clicks"), paths::topic_config("clicks"), paths::delete_topic_marker("clicks")] {
        assert!(!c.exists(&path), "{path} is left");
    }
    for p in 0..3 {
        assert!(!c.exists(&paths::partition("clicks", p)), "a partition znode of clicks is left");
    }
    for id in 0..3 {
        wait_until(&format!("broker {id} deleted clicks' directories"), LONG, || c.partition_dirs(id, "clicks").is_empty());
    }
    assert_eq!(c.assignment(TOPIC).len(), 4, "orders untouched");
    let acked = load.finish(&[]);
    assert!(acked >= 40, "{acked}");
    support::cluster::assert_replicas_agree(&running(&c, &[0, 1, 2]), TOPIC, LONG);
    c.down();
}

#[test]
fn rolling_restart_then_preferred_election_gives_every_partition_its_first_replica() {
    let tmp = TempDir::new("runbook-rolling");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let c = RunbookCluster::up(&dir, 3);
    let registered: Vec<i64> = (0..3).map(|id| c.registration_czxid(id).expect("registered")).collect();
    let load = Load::start(c.bootstrap());

    c.run_page("rolling-restart.md");

    for id in 0..3 {
        let now = c.registration_czxid(id).expect("registered again");
        assert_ne!(now, registered[id as usize], "broker {id} was not restarted");
    }
    let assignment = c.assignment(TOPIC);
    wait_until("every partition led by its preferred replica", LONG, || {
        (0..PARTITIONS).all(|p| c.state(TOPIC, p).is_some_and(|s| s.leader == assignment[&p][0] && s.isr.len() == 2))
    });
    let acked = load.finish(&[]);
    assert!(acked >= 40, "{acked}");
    support::cluster::assert_replicas_agree(&running(&c, &[0, 1, 2]), TOPIC, LONG);
    c.down();
}
