//! A consumer group of real processes on a 12-partition topic (real ZooKeeper, real
//! brokers): the test binary re-executes itself as consumer children (`hlc_group_child`),
//! each printing what it consumes. After every change — a member joins, one shuts down
//! cleanly, one is paused past its session timeout and resumes, one is SIGKILLed — the
//! group converges (every partition owned exactly once, by live members, split as the
//! assignor says) and no acknowledged message is lost; duplicates only on partitions
//! that the paused or killed member owned.

use crate::support;

use crate::support::hlc::*;
use kafka08::consumer::zk::{AssignmentStrategy, ZookeeperConsumerConnector};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use support::child;
use support::cluster::Cluster;
use support::producer::TestProducer;
use support::{wait_until, TempDir};

const ZK_ENV: &str = "KAFKA08_HLC_CHILD_ZK";
const GROUP_ENV: &str = "KAFKA08_HLC_CHILD_GROUP";
const TOPIC_ENV: &str = "KAFKA08_HLC_CHILD_TOPIC";
const ID_ENV: &str = "KAFKA08_HLC_CHILD_ID";
const STRATEGY_ENV: &str = "KAFKA08_HLC_CHILD_STRATEGY";

const TOPIC: &str = "numbers";
const PARTITIONS: i32 = 12;
const SESSION_TIMEOUT_MS: u64 = 6000;
const CONVERGE: Duration = Duration::from_secs(90);

/// The body of a consumer child process (see `support::child`). Prints `READY`, then `MSG <partition> <offset> <value>` per message;
/// on `shutdown` (or end of stdin) shuts the connector down and prints `SHUTDOWN`.
fn consumer_child() -> ! {
    let zk = std::env::var(ZK_ENV).expect("zookeeper.connect");
    let group = std::env::var(GROUP_ENV).expect("group");
    let topic = std::env::var(TOPIC_ENV).expect("topic");
    let id = std::env::var(ID_ENV).expect("id");
    let strategy = std::env::var(STRATEGY_ENV).expect("strategy");
    let _ = env_logger::Builder::from_default_env().format_timestamp_millis().try_init();
    let rt = runtime();
    let session = SESSION_TIMEOUT_MS.to_string();
    rt.block_on(async move {
        let config = config(
            &zk,
            &group,
            &[
                ("consumer.id", id.as_str()),
                ("partition.assignment.strategy", strategy.as_str()),
                // Commit at every rebalance and at shutdown, never on a timer: the only
                // messages delivered twice are then those of a member that died.
                ("auto.commit.enable", "true"),
                ("auto.commit.interval.ms", "3600000"),
                ("rebalance.backoff.ms", "1000"),
                ("zookeeper.session.timeout.ms", session.as_str()),
            ],
        );
        let connector = ZookeeperConsumerConnector::create(config).await.expect("connector");
        let mut streams =
            connector.create_message_streams(&BTreeMap::from([(topic.clone(), 1)])).await.expect("streams");
        let mut stream = streams.remove(&topic).expect("stream").remove(0);
        // The harness has printed "test <name> ... " without a newline.
        println!();
        println!("READY {}", connector.consumer_id());
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(tokio::io::stdin()));
        loop {
            tokio::select! {
                m = stream.next() => match m {
                    Some(Ok(m)) => println!(
                        "MSG {} {} {}",
                        m.partition,
                        m.offset,
                        String::from_utf8_lossy(m.value.as_deref().unwrap_or_default())
                    ),
                    Some(Err(e)) => println!("ERR {}", e),
                    None => break,
                },
                line = lines.next_line() => match line {
                    Ok(Some(l)) if l.trim() != "shutdown" => {}
                    _ => {
                        connector.shutdown().await;
                        println!("SHUTDOWN");
                        break;
                    }
                },
            }
        }
    });
    child::exit()
}

#[derive(Debug, Clone)]
struct Consumed {
    consumer: String,
    partition: i32,
    offset: i64,
    value: String,
}

/// A consumer child process; killed on drop.
struct ConsumerChild {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: std::path::PathBuf,
    reader: Option<thread::JoinHandle<()>>,
    shut_down: Arc<AtomicBool>,
    ready: std::sync::mpsc::Receiver<()>,
}

impl ConsumerChild {
    fn start(
        test: &str,
        name: &str,
        zk: &str,
        group: &str,
        strategy: &str,
        dir: &TempDir,
        consumed: Arc<Mutex<Vec<Consumed>>>,
    ) -> ConsumerChild {
        let log = dir.path().join(format!("{}.log", name));
        let mut child = child::command(module_path!(), test)
            .env(ZK_ENV, zk)
            .env(GROUP_ENV, group)
            .env(TOPIC_ENV, TOPIC)
            .env(ID_ENV, name)
            .env(STRATEGY_ENV, strategy)
            // Own variable: RUST_LOG also reaches the brokers, whose start-up line the harness waits for.
            .env(
                "RUST_LOG",
                std::env::var("KAFKA08_HLC_CHILD_LOG").unwrap_or_else(|_| "info,zookeeper_client=warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("child log"))
            .spawn()
            .expect("spawn consumer child");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let shut_down = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = {
            let name = name.to_string();
            let shut_down = shut_down.clone();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let line = match line.split_once(" ... ") {
                        Some((head, rest)) if head.starts_with("test ") => rest,
                        _ => line.as_str(),
                    };
                    let mut f = line.splitn(4, ' ');
                    match f.next() {
                        Some("READY") => {
                            let _ = ready_tx.send(());
                        }
                        Some("MSG") => {
                            let partition = f.next().and_then(|p| p.parse().ok()).expect("partition");
                            let offset = f.next().and_then(|p| p.parse().ok()).expect("offset");
                            let value = f.next().unwrap_or_default().to_string();
                            consumed.lock().unwrap().push(Consumed {
                                consumer: name.clone(),
                                partition,
                                offset,
                                value,
                            });
                        }
                        Some("SHUTDOWN") => shut_down.store(true, Ordering::SeqCst),
                        Some("ERR") => eprintln!("{}: {}", name, line),
                        _ if line.contains("panicked") => eprintln!("{}: {}", name, line),
                        _ => {}
                    }
                }
            })
        };
        ConsumerChild { name: name.to_string(), child, stdin, log, reader: Some(reader), shut_down, ready: ready_rx }
    }

    /// Wait until the child's streams exist (its first rebalance ran).
    fn wait_ready(&self) {
        if self.ready.recv_timeout(Duration::from_secs(60)).is_err() {
            self.print_log();
            panic!("consumer {} did not start", self.name);
        }
    }

    fn print_log(&self) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!("--- last lines of consumer {} ---", self.name);
        for l in &lines[lines.len().saturating_sub(60)..] {
            eprintln!("{}", l);
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Ask for a clean shutdown and wait until the process has exited.
    fn shutdown(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "shutdown");
        }
        wait_until(&format!("{} shuts down", self.name), Duration::from_secs(30), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        assert!(self.shut_down.load(Ordering::SeqCst), "{} exited without a clean shutdown", self.name);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ConsumerChild {
    fn drop(&mut self) {
        if thread::panicking() {
            self.print_log();
        }
        // For looking at a passing run's rebalances: KAFKA08_HLC_KEEP_LOGS=<dir>.
        if let Ok(keep) = std::env::var("KAFKA08_HLC_KEEP_LOGS") {
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::copy(&self.log, std::path::Path::new(&keep).join(format!("{}.log", self.name)));
        }
        self.signal(libc::SIGCONT);
        self.kill();
    }
}

/// A producer thread that keeps sending numbered values round-robin over the partitions
/// until stopped; returns the acknowledged ones.
struct BackgroundProducer {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<Vec<(i32, String)>>>,
    count: Arc<Mutex<usize>>,
}

impl BackgroundProducer {
    fn start(bootstrap: &str) -> BackgroundProducer {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(Mutex::new(0));
        let bootstrap: Vec<String> = bootstrap.split(',').map(String::from).collect();
        let (s, c) = (stop.clone(), count.clone());
        let handle = thread::spawn(move || {
            let mut p = TestProducer::new(bootstrap, TOPIC);
            let mut acked = Vec::new();
            let mut i = 0usize;
            while !s.load(Ordering::SeqCst) {
                let partition = (i % PARTITIONS as usize) as i32;
                let v = format!("m-{}", i);
                if p.send(partition, &v, Duration::from_secs(30)).is_some() {
                    acked.push((partition, v));
                    *c.lock().unwrap() = acked.len();
                }
                i += 1;
                thread::sleep(Duration::from_millis(10));
            }
            acked
        });
        BackgroundProducer { stop, handle: Some(handle), count }
    }

    fn acked(&self) -> usize {
        *self.count.lock().unwrap()
    }

    fn finish(mut self) -> Vec<(i32, String)> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().expect("running").join().expect("producer thread")
    }
}

impl Drop for BackgroundProducer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct Group {
    rt: tokio::runtime::Runtime,
    zk: kafka08::zk::ZkClient,
    name: String,
    strategy: AssignmentStrategy,
}

impl Group {
    fn owners(&self) -> BTreeMap<i32, String> {
        self.rt.block_on(owners(&self.zk, &self.name, TOPIC))
    }

    fn members(&self) -> Vec<String> {
        self.rt.block_on(members(&self.zk, &self.name))
    }

    /// What 0.8.2's assignor gives `live` members of one stream each, worked out by hand
    /// (not by our `assign()`), partition 0..=11 in order.
    ///
    /// Thread ids are "<group>_<member>-0" and sort as c1 < c2 < c3 < c4 < c5.
    /// Range (`RangeAssignor`): partitions in numeric order, threads sorted; with n
    /// partitions and k threads, thread i gets n/k + (1 if i < n%k) partitions starting at
    /// (n/k)*i + min(i, n%k). 12 over 4: 3 each; over 5: 3, 3, 2, 2, 2; over 3: 4 each.
    /// RoundRobin (`RoundRobinAssignor`): partitions sorted by the Java `hashCode` of
    /// `TopicAndPartition.toString`, "[numbers,p]": p = 0..=9 give -705131670 + 31p and
    /// p = 10, 11 give -384245631, -384245600, so the order is 0..=11; then dealt to the
    /// sorted threads in turn.
    fn expected(&self, live: &[&str]) -> BTreeMap<i32, String> {
        use AssignmentStrategy::{Range, RoundRobin};
        let table = match (self.strategy, live) {
            (Range, ["c1", "c2", "c3", "c4"]) => "c1 c1 c1 c2 c2 c2 c3 c3 c3 c4 c4 c4",
            (Range, ["c1", "c2", "c3", "c4", "c5"]) => "c1 c1 c1 c2 c2 c2 c3 c3 c4 c4 c5 c5",
            (Range, ["c1", "c3", "c4", "c5"]) => "c1 c1 c1 c3 c3 c3 c4 c4 c4 c5 c5 c5",
            (Range, ["c1", "c3", "c5"]) => "c1 c1 c1 c1 c3 c3 c3 c3 c5 c5 c5 c5",
            (Range, ["c1", "c4", "c5"]) => "c1 c1 c1 c1 c4 c4 c4 c4 c5 c5 c5 c5",
            (RoundRobin, ["c1", "c2", "c3", "c4"]) => "c1 c2 c3 c4 c1 c2 c3 c4 c1 c2 c3 c4",
            (RoundRobin, ["c1", "c2", "c3", "c4", "c5"]) => "c1 c2 c3 c4 c5 c1 c2 c3 c4 c5 c1 c2",
            (RoundRobin, ["c1", "c3", "c4", "c5"]) => "c1 c3 c4 c5 c1 c3 c4 c5 c1 c3 c4 c5",
            (RoundRobin, ["c1", "c3", "c5"]) => "c1 c3 c5 c1 c3 c5 c1 c3 c5 c1 c3 c5",
            (strategy, live) => panic!("no hand-derived {:?} assignment for {:?}", strategy, live),
        };
        table.split(' ').enumerate().map(|(p, m)| (p as i32, format!("{}_{}-0", self.name, m))).collect()
    }

    /// Wait until exactly `live` are registered and own every partition as the assignor
    /// says; returns partition → member name.
    fn converged(&self, live: &[&str], what: &str) -> BTreeMap<i32, String> {
        let want_members: Vec<String> = {
            let mut m: Vec<String> = live.iter().map(|m| format!("{}_{}", self.name, m)).collect();
            m.sort();
            m
        };
        let expected = self.expected(live);
        assert_eq!(expected.len(), PARTITIONS as usize);
        let start = Instant::now();
        let mut last = (Vec::new(), BTreeMap::new());
        let ok = support::eventually(CONVERGE, || {
            last = (self.members(), self.owners());
            last.0 == want_members && last.1 == expected
        });
        assert!(
            ok,
            "{}: group did not converge to {:?} within {:?}: members {:?}, owners {:?}",
            what, live, CONVERGE, last.0, last.1
        );
        eprintln!("{}: converged in {:?}", what, start.elapsed());
        let prefix = format!("{}_", self.name);
        expected
            .into_iter()
            .map(|(p, t)| {
                (p, t.strip_prefix(&prefix).and_then(|t| t.strip_suffix("-0")).expect("thread id").to_string())
            })
            .collect()
    }
}

fn counts(split: &BTreeMap<i32, String>) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for m in split.values() {
        *c.entry(m.clone()).or_insert(0) += 1;
    }
    c
}

fn wait_consumed(consumed: &Arc<Mutex<Vec<Consumed>>>, acked: &[(i32, String)], what: &str) {
    let want: BTreeSet<&str> = acked.iter().map(|(_, v)| v.as_str()).collect();
    let mut missing = Vec::new();
    let ok = support::eventually(Duration::from_secs(60), || {
        let got: BTreeSet<String> = consumed.lock().unwrap().iter().map(|c| c.value.clone()).collect();
        missing = want.iter().filter(|v| !got.contains(**v)).map(|v| v.to_string()).collect();
        missing.is_empty()
    });
    assert!(
        ok,
        "{}: {} acknowledged messages never consumed, e.g. {:?}",
        what,
        missing.len(),
        &missing[..missing.len().min(20)]
    );
}

fn group_lifecycle(test: &str, strategy: AssignmentStrategy, strategy_name: &str, pause_one: bool) {
    let _serial = serial();
    let cluster = Cluster::start(2, &[]);
    cluster.create_topic(TOPIC, PARTITIONS, 1);
    let zk_connect = cluster.zk.connect_string();
    let dir = TempDir::new("hlc-group");
    let group_name = format!("lifecycle-{}", strategy_name);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let zk = rt.block_on(zk_client(&zk_connect));
    let group = Group { rt, zk, name: group_name.clone(), strategy };
    let consumed: Arc<Mutex<Vec<Consumed>>> = Arc::new(Mutex::new(Vec::new()));
    let producer = BackgroundProducer::start(&cluster.bootstrap());
    let start =
        |name: &str| ConsumerChild::start(test, name, &zk_connect, &group_name, strategy_name, &dir, consumed.clone());

    // Four members join at once (a herd: their first rebalances race): three partitions each.
    let mut children: HashMap<String, ConsumerChild> = HashMap::new();
    for name in ["c1", "c2", "c3", "c4"] {
        children.insert(name.to_string(), start(name));
    }
    for c in children.values() {
        c.wait_ready();
    }
    let split = group.converged(&["c1", "c2", "c3", "c4"], "four members");
    assert_eq!(counts(&split).values().copied().collect::<Vec<_>>(), vec![3, 3, 3, 3], "{:?}", split);
    if strategy == AssignmentStrategy::Range {
        for (i, m) in ["c1", "c2", "c3", "c4"].iter().enumerate() {
            let mine: Vec<i32> = split.iter().filter(|(_, o)| o == m).map(|(p, _)| *p).collect();
            let first = 3 * i as i32;
            assert_eq!(mine, vec![first, first + 1, first + 2], "range gives {} a contiguous block", m);
        }
    }
    wait_until("messages flow", Duration::from_secs(30), || consumed.lock().unwrap().len() > 50);

    // A fifth member joins.
    children.insert("c5".into(), start("c5"));
    children["c5"].wait_ready();
    let split = group.converged(&["c1", "c2", "c3", "c4", "c5"], "fifth member joined");
    assert_eq!(counts(&split).values().sum::<usize>(), 12);

    // One shuts down cleanly: its znodes go at once (no session expiry to wait for), its
    // partitions move, nothing is delivered twice.
    let shutdown_at = Instant::now();
    children.get_mut("c2").unwrap().shutdown();
    children.remove("c2");
    let gone = format!("{}_c2", group_name);
    assert!(!group.members().contains(&gone), "c2's member znode is deleted by its shutdown");
    assert!(!group.owners().values().any(|o| o.starts_with(&gone)), "c2's owner znodes are deleted by its shutdown");
    group.converged(&["c1", "c3", "c4", "c5"], "c2 shut down");
    eprintln!("clean shutdown to converged group: {:?}", shutdown_at.elapsed());

    // One is paused past its session timeout, then resumes: it re-registers and rejoins.
    let mut suspect: BTreeSet<i32> = BTreeSet::new();
    if pause_one {
        let before = group.owners();
        suspect.extend(before.iter().filter(|(_, o)| o.ends_with("_c4-0")).map(|(p, _)| *p));
        children["c4"].signal(libc::SIGSTOP);
        group.converged(&["c1", "c3", "c5"], "c4 paused past its session timeout");
        children["c4"].signal(libc::SIGCONT);
        group.converged(&["c1", "c3", "c4", "c5"], "c4 resumed with a new session");
    }

    // One is killed: its session expires and the others take over.
    let split = group.owners();
    let killed = if pause_one { "c3" } else { "c4" };
    suspect.extend(split.iter().filter(|(_, o)| o.ends_with(&format!("_{}-0", killed))).map(|(p, _)| *p));
    let acked_before_kill = producer.acked();
    children.get_mut(killed).unwrap().kill();
    children.remove(killed);
    let live: Vec<&str> = ["c1", "c3", "c4", "c5"].into_iter().filter(|m| *m != killed).collect();
    group.converged(&live, "a member was killed");
    wait_until("production continues after the kill", Duration::from_secs(30), || {
        producer.acked() > acked_before_kill + 50
    });

    let acked = producer.finish();
    wait_consumed(&consumed, &acked, "after the kill");
    let all = consumed.lock().unwrap().clone();
    let mut seen: BTreeMap<(i32, i64), Vec<&Consumed>> = BTreeMap::new();
    for c in &all {
        seen.entry((c.partition, c.offset)).or_default().push(c);
    }
    let mut duplicates = Vec::new();
    for ((p, o), copies) in &seen {
        if copies.len() > 1 {
            assert!(
                suspect.contains(p),
                "offset {} of partition {} delivered {} times, but only partitions of the paused/killed member {:?} may repeat: {:?}",
                o,
                p,
                copies.len(),
                suspect,
                copies
            );
            duplicates.push((*p, *o));
        }
    }
    let mut per_consumer: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &all {
        *per_consumer.entry(c.consumer.as_str()).or_insert(0) += 1;
    }
    eprintln!("deliveries per consumer: {:?}", per_consumer);
    eprintln!(
        "{} acknowledged, {} deliveries, {} values delivered more than once (all on {:?})",
        acked.len(),
        all.len(),
        duplicates.len(),
        suspect
    );
    for c in children.values_mut() {
        c.shutdown();
    }
    assert!(group.members().is_empty(), "every member's znode is gone after shutdown");
    assert!(group.owners().is_empty(), "every owner znode is gone after shutdown");
}

const RANGE_TEST: &str = "range_group_converges_through_join_shutdown_pause_and_kill_without_loss";
const ROUNDROBIN_TEST: &str = "roundrobin_group_converges_through_join_shutdown_and_kill_without_loss";

#[test]
fn range_group_converges_through_join_shutdown_pause_and_kill_without_loss() {
    if child::is_child(module_path!(), RANGE_TEST) {
        consumer_child();
    }
    group_lifecycle(RANGE_TEST, AssignmentStrategy::Range, "range", true);
}

#[test]
fn roundrobin_group_converges_through_join_shutdown_and_kill_without_loss() {
    if child::is_child(module_path!(), ROUNDROBIN_TEST) {
        consumer_child();
    }
    group_lifecycle(ROUNDROBIN_TEST, AssignmentStrategy::RoundRobin, "roundrobin", false);
}
