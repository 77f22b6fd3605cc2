//! `bin/kafka-mirror-maker.sh` (`kafka.tools.MirrorMaker`): two clusters on one ZooKeeper
//! in the chroots `/src` and `/dst`; the mirror maker copies the topics its filter selects,
//! loses nothing, keeps each key's order, commits what it copied, stops cleanly on SIGTERM
//! and SIGINT, and after a restart copies only what is new.

use crate::support;

use kafka08::api;
use kafka08::producer::{BlockingProducer, KeyedMessage};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::cluster::{try_call, ChrootCluster, Cluster};
use support::producer::read_keyed_partition;
use support::{TempDir, ZkServer};

const GROUP: &str = "mirror-group";
const KEYED: &str = "mm-keyed";
const PLAIN: &str = "mm-plain";
const SKIPPED: &str = "skip-c";
const KEYS: usize = 7;
/// Where 0.8.2's `ByteArrayPartitioner` puts the keys `k0` .. `k6` among 3 partitions
/// (`Utils.abs(Arrays.hashCode(key)) % 3`), computed with Java 17, not with our code.
const JAVA_BYTE_ARRAY_PARTITIONS_OF_3: [i32; KEYS] = [0, 1, 2, 0, 1, 2, 0];

/// A running mirror maker, killed on drop (also when the test fails).
struct MirrorMaker {
    child: Option<Child>,
    log: PathBuf,
}

impl MirrorMaker {
    fn start(args: &[&str], log: &Path) -> MirrorMaker {
        let out = fs::File::create(log).expect("mirror maker log");
        let mut cmd = Command::new(support::project_root().join("bin/kafka-mirror-maker.sh"));
        cmd.args(args)
            .env("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info,zookeeper_client=warn".into()))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log"))
            .stderr(out);
        // SAFETY: prctl in the child before exec; it allocates nothing. The mirror maker
        // dies with this test's thread even if the test process is killed.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn kafka-mirror-maker.sh");
        MirrorMaker { child: Some(child), log: log.to_path_buf() }
    }

    /// Send `sig` and wait for the exit code.
    fn stop(&mut self, sig: i32) -> Option<i32> {
        let mut c = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(c.id() as i32, sig);
        }
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                panic!("mirror maker did not stop within 60 s of signal {sig}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the process to exit by itself.
    fn wait_exit(&mut self, deadline: Duration) -> Option<i32> {
        let c = self.child.as_mut().expect("running");
        let end = Instant::now() + deadline;
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                self.child = None;
                return status.code();
            }
            if Instant::now() > end {
                panic!("mirror maker still running after {deadline:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            panic!("mirror maker exited early ({status}):\n{}", self.output());
        }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MirrorMaker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            if std::thread::panicking() {
                let out = self.output();
                let tail: Vec<&str> = out.lines().rev().take(60).collect();
                eprintln!("--- mirror maker log tail ---");
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// partition → messages, for every partition the single broker of `cluster` has.
fn read_topic(cluster: &ChrootCluster, topic: &str) -> BTreeMap<i32, Vec<(Option<String>, String)>> {
    let addr = cluster.brokers[0].addr();
    let Some(md) = try_call(&addr, &api::MetadataRequest { topics: vec![topic.to_string()] }) else {
        return BTreeMap::new();
    };
    let Some(t) = md.topics.first() else { return BTreeMap::new() };
    t.partitions.iter().filter(|p| p.leader >= 0).map(|p| (p.partition, read_keyed_partition(&addr, topic, p.partition))).collect()
}

fn values(t: &BTreeMap<i32, Vec<(Option<String>, String)>>) -> Vec<String> {
    t.values().flatten().map(|(_, v)| v.clone()).collect()
}

/// Produce `range` into the source: keyed messages `k<n>:<i>` (key `k<n>`) into KEYED,
/// unkeyed `p:<i>` spread over PLAIN's partitions, `c:<i>` into SKIPPED; acks=-1.
fn produce(src: &ChrootCluster, range: std::ops::Range<usize>) {
    let mut props = kafka08::common::Properties::new();
    props.set("metadata.broker.list", src.bootstrap());
    props.set("request.required.acks", "-1");
    let p = BlockingProducer::from_properties(&props).expect("source producer");
    let mut batch = Vec::new();
    for i in range {
        let key = format!("k{}", i % KEYS);
        batch.push(KeyedMessage::with_key(KEYED, key.clone(), format!("{key}:{i}")));
        batch.push(KeyedMessage::new(PLAIN, format!("p:{i}")).partition_key(i.to_string()));
        batch.push(KeyedMessage::new(SKIPPED, format!("c:{i}")));
    }
    p.send(batch).expect("produce to the source");
}

fn expected(prefix_keyed: bool, n: usize) -> BTreeSet<String> {
    (0..n).map(|i| if prefix_keyed { format!("k{}:{i}", i % KEYS) } else { format!("p:{i}") }).collect()
}

/// Every message copied exactly once; keyed messages keep their key, land where 0.8.2's
/// `ByteArrayPartitioner` puts the key, and keep each key's order.
fn assert_target_holds(dst: &ChrootCluster, n: usize) {
    let keyed = read_topic(dst, KEYED);
    let got = values(&keyed);
    assert_eq!(got.len(), n, "{KEYED}: every message exactly once");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected(true, n));
    for (partition, msgs) in &keyed {
        let mut last: HashMap<String, usize> = HashMap::new();
        for (key, value) in msgs {
            let key = key.clone().expect("the source key is copied");
            let (k, i) = value.split_once(':').expect("k<n>:<i>");
            assert_eq!(k, key);
            assert_eq!(keyed.len(), 3, "{KEYED} has 3 partitions");
            let n: usize = key.strip_prefix('k').and_then(|n| n.parse().ok()).expect("k<n>");
            let want = JAVA_BYTE_ARRAY_PARTITIONS_OF_3[n];
            assert_eq!(*partition, want, "{key} in the partition 0.8.2's ByteArrayPartitioner picks");
            let i: usize = i.parse().expect("number");
            if let Some(prev) = last.insert(key.clone(), i) {
                assert!(i > prev, "{key}: {i} after {prev}: order kept");
            }
        }
    }
    let plain = read_topic(dst, PLAIN);
    let got = values(&plain);
    assert_eq!(got.len(), n, "{PLAIN}: every message exactly once");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected(false, n));
    assert!(plain.values().flatten().all(|(k, _)| k.is_none()), "no key invented");
}

fn wait_for_target(dst: &ChrootCluster, mm: &mut MirrorMaker, n: usize) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        mm.assert_running();
        let k: BTreeSet<String> = values(&read_topic(dst, KEYED)).into_iter().collect();
        let p: BTreeSet<String> = values(&read_topic(dst, PLAIN)).into_iter().collect();
        if k.len() >= n && p.len() >= n {
            return;
        }
        if Instant::now() > end {
            panic!("target holds {} of {n} keyed and {} of {n} plain messages after 60 s:\n{}", k.len(), p.len(), mm.output());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The group's committed offset of every source partition of the mirrored topics equals
/// the number of that partition's messages numbered below `limit` (all of them: the log
/// end). Nothing committed for SKIPPED.
fn assert_committed_below(src: &ChrootCluster, limit: usize) {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = kafka08::zk::ZkClient::connect(&src.zk_connect, Duration::from_secs(6), Duration::from_secs(10)).await.expect("zk");
        for topic in [KEYED, PLAIN] {
            for (partition, msgs) in read_topic(src, topic) {
                let below = msgs.iter().take_while(|(_, v)| v.split_once(':').and_then(|(_, i)| i.parse::<usize>().ok()).is_some_and(|i| i < limit)).count();
                let path = kafka08::zk::paths::consumer_offset(GROUP, topic, partition);
                let (data, _) = zk.get_data(&path).await.expect("zk read").unwrap_or_else(|| panic!("{path} committed"));
                assert_eq!(String::from_utf8_lossy(&data), below.to_string(), "{path}");
            }
        }
        let skipped = format!("/consumers/{GROUP}/offsets/{SKIPPED}");
        assert!(zk.get_data(&skipped).await.expect("zk read").is_none(), "{SKIPPED} is not consumed");
    });
}

fn assert_committed_everything(src: &ChrootCluster) {
    assert_committed_below(src, usize::MAX);
}

/// The source and target clusters on one ZooKeeper, the topics, and the two config files.
struct Setup {
    src: ChrootCluster,
    dst: ChrootCluster,
    dir: TempDir,
    _zk: ZkServer,
}

impl Setup {
    fn start() -> Setup {
        let zk = ZkServer::start();
        let src = ChrootCluster::start(&zk, "/src", 1, &[]);
        let dst = ChrootCluster::start(&zk, "/dst", 1, &[("num.partitions", "2")]);
        src.create_topic(KEYED, 3, 1);
        src.create_topic(PLAIN, 2, 1);
        src.create_topic(SKIPPED, 1, 1);
        // KEYED is pre-created on the target; PLAIN is auto-created by the first send.
        dst.create_topic(KEYED, 3, 1);
        let dir = TempDir::new("mirror");
        fs::write(
            dir.path().join("consumer.properties"),
            format!("zookeeper.connect={}\ngroup.id={GROUP}\nauto.offset.reset=smallest\nauto.commit.interval.ms=1000\n", src.zk_connect),
        )
        .unwrap();
        fs::write(
            dir.path().join("producer.properties"),
            format!(
                "metadata.broker.list={}\nrequest.required.acks=-1\nproducer.type=async\nmessage.send.max.retries=5\nretry.backoff.ms=300\nclient.id=mirror\n",
                dst.bootstrap()
            ),
        )
        .unwrap();
        Setup { src, dst, dir, _zk: zk }
    }

    fn mirror_maker(&self, log: &str, extra: &[&str]) -> MirrorMaker {
        let cc = self.dir.path().join("consumer.properties");
        let pc = self.dir.path().join("producer.properties");
        let mut args = vec!["--consumer.config", cc.to_str().unwrap(), "--producer.config", pc.to_str().unwrap()];
        args.extend_from_slice(extra);
        MirrorMaker::start(&args, &self.dir.path().join(log))
    }
}

#[test]
fn mirrors_selected_topics_without_loss_and_resumes_after_a_clean_stop() {
    let s = Setup::start();
    // Run 1: whitelist; half the messages exist before it starts, half arrive while it runs.
    produce(&s.src, 0..150);
    let mut mm = s.mirror_maker("mm1.log", &["--whitelist", "mm-keyed,mm-plain"]);
    produce(&s.src, 150..300);
    wait_for_target(&s.dst, &mut mm, 300);
    assert_eq!(mm.stop(libc::SIGTERM), Some(0), "SIGTERM: clean exit\n{}", mm.output());
    assert_target_holds(&s.dst, 300);
    assert_committed_everything(&s.src);
    assert_not_on_target(&s.dst);

    // Run 2: blacklist, two streams and two producers; only the new messages are copied.
    produce(&s.src, 300..450);
    let mut mm = s.mirror_maker("mm2.log", &["--blacklist", SKIPPED, "--num.streams", "2", "--num.producers", "2"]);
    wait_for_target(&s.dst, &mut mm, 450);
    assert_eq!(mm.stop(libc::SIGINT), Some(0), "SIGINT: clean exit\n{}", mm.output());
    assert_target_holds(&s.dst, 450);
    assert_committed_everything(&s.src);
    assert_not_on_target(&s.dst);
}

/// 0.8.2 committed offsets of messages its producers had not sent, so messages consumed
/// while the target was down were lost. Here only acknowledged messages are committed:
/// the mirror maker stops when its sends fail (as 0.8.2's sync producer thread did), and
/// once the target is back a restart copies exactly what was missing.
#[test]
fn commits_only_what_the_target_acknowledged_when_the_target_is_down() {
    let mut s = Setup::start();
    produce(&s.src, 0..100);
    let mut mm = s.mirror_maker("mm1.log", &["--whitelist", "mm-.*"]);
    wait_for_target(&s.dst, &mut mm, 100);
    s.dst.brokers[0].kill();
    produce(&s.src, 100..200);
    let code = mm.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(1), "a failed send stops the mirror maker\n{}", mm.output());
    assert!(mm.output().contains("Producer thread failure"), "{}", mm.output());
    assert_committed_below(&s.src, 100);

    s.dst.brokers[0].restart();
    s.dst.wait_for_leaders(KEYED, 3);
    let mut mm = s.mirror_maker("mm2.log", &["--whitelist", "mm-.*"]);
    wait_for_target(&s.dst, &mut mm, 200);
    assert_eq!(mm.stop(libc::SIGTERM), Some(0), "{}", mm.output());
    assert_target_holds(&s.dst, 200);
    assert_committed_everything(&s.src);
}

/// SKIPPED was never sent to the target (a send would have auto-created it). Checked in
/// ZooKeeper: a Metadata request for it would create it.
fn assert_not_on_target(dst: &ChrootCluster) {
    let rt = Cluster::runtime();
    rt.block_on(async {
        let zk = kafka08::zk::ZkClient::connect(&dst.zk_connect, Duration::from_secs(6), Duration::from_secs(10)).await.unwrap();
        assert!(zk.get_data(&kafka08::zk::paths::topic(SKIPPED)).await.unwrap().is_none(), "{SKIPPED} is not mirrored");
    });
}

#[test]
fn refuses_bad_command_lines_as_082() {
    let run = |args: &[&str]| support::run_with_env("bin/kafka-mirror-maker.sh", args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))]);
    let line = "Exactly one of whitelist or blacklist is required.";
    for filter in [&[][..], &["--whitelist", "a", "--blacklist", "b"][..]] {
        let mut args = vec!["--consumer.config", "c.properties", "--producer.config", "p.properties"];
        args.extend_from_slice(filter);
        let out = run(&args);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert_eq!(out.stdout.lines().collect::<Vec<_>>(), vec![line], "{}", out.all());
    }
    let out = run(&[]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr.lines().next(), Some("Continuously copy data between two Kafka clusters."), "{}", out.all());
    let out = run(&["--consumer.config", "c.properties", "--whitelist", "a"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr.lines().next(), Some("Missing required argument \"[producer.config]\""), "{}", out.all());
    let out = run(&["--consumer.config", "c", "--producer.config", "p", "--whitelist", "a", "--num.streams", "0"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    let out = run(&["--help"]);
    assert_eq!(out.code, Some(0));
    for opt in ["--consumer.config <config file>", "--whitelist <Java regex (String)>", "--new.producer", "--queue.size", "(default: 10000)"] {
        assert!(out.stdout.contains(opt), "{opt} in\n{}", out.stdout);
    }
    let out = run(&["--consumer.config", "/nonexistent/c.properties", "--producer.config", "/nonexistent/p.properties", "--whitelist", "a"]);
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(!out.stderr.contains("panicked"), "{}", out.all());
}
