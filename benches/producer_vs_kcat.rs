//! Our clients against librdkafka's (kcat in 0.8 mode), against the same broker, in one run:
//!
//! - producer: `kafka-producer-perf-test` with 0.8.2's defaults (async, batch 200), with
//!   the best settings we know (KAFKA08_BENCH_BEST_ARGS, extra perf-test flags), and
//!   `kcat -P`; N messages of 100 bytes, acks=1, each into a fresh one-partition topic;
//! - consumer: `kafka-consumer-perf-test` (the high-level ZooKeeper consumer, one stream)
//!   and `kcat -C -e`, both reading the N messages kcat produced;
//! - in-flight: our async producer (in a child process of this bench, as no 0.8.2 tool
//!   has a flag for it) with `max.in.flight.requests.per.connection` 1 and 5, alternated,
//!   twice each: 0.8.2 defaults otherwise (batch 200, acks=1), 100-byte values, on the
//!   perf test's workload (partition key = message number, one partition) and on four
//!   partitions fed in runs of one batch per partition (the case pipelining helps: a
//!   partition waits for its previous answer);
//! - mirror maker: N messages copied between two local clusters (chroots `/src` and `/dst`
//!   of one ZooKeeper, one broker each) by `kafka-mirror-maker` (async producer, acks=1).
//!
//! For each: msg/s over the client's whole life (start-up and metadata included, the same
//! for both), the client's CPU per message (user + system, from wait4's rusage, or
//! /proc/<pid>/stat for the mirror maker that is stopped by a signal), the broker's CPU per
//! message over the same interval, and our/kcat ratios.
//!
//! ```text
//! cargo bench --bench producer_vs_kcat                 # 2,000,000 messages
//! KAFKA08_BENCH_MESSAGES=500000 cargo bench --bench producer_vs_kcat
//! KAFKA08_BENCH_SKIP=producer,consumer,inflight,mirror # skip sections (kcat -P still
//!                                                      # runs for the consumer section)
//! KAFKA08_BENCH_CLIENT_BIN=/path/to/old/kafka08 ...    # our clients from another build
//! KAFKA08_BENCH_MIRROR_BASELINE=/path/to/old/kafka08   # mirror maker: old, new, old, new
//! ```
//!
//! Needs ZooKeeper and kcat from zk-scripts/install.sh.

#[path = "../tests/support/mod.rs"]
mod support;

use kafka08::api;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::cluster::{try_call, ChrootCluster, Cluster};
use support::{process_cpu_seconds, wait_until, TempDir, ZkServer};

const MESSAGE_SIZE: usize = 100;
/// kcat in 0.8 mode: no ApiVersions request, v0 APIs only.
const KCAT_08: &[&str] = &["-X", "api.version.request=false", "-X", "broker.version.fallback=0.8.2.2"];

/// One client run.
struct Measured {
    wall_s: f64,
    cpu_s: f64,
    broker_cpu_s: f64,
    messages: u64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.wall_s
    }

    fn cpu_us_per_msg(&self) -> f64 {
        self.cpu_s * 1e6 / self.messages as f64
    }

    fn broker_us_per_msg(&self) -> f64 {
        self.broker_cpu_s * 1e6 / self.messages as f64
    }
}

/// Run `cmd` to its end: wall time, its CPU time (wait4 rusage), the broker's CPU meanwhile.
/// The child is reaped by `wait4`, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_child(what: &str, mut cmd: Command, stdin: Option<&Path>, broker_pid: u32, messages: u64) -> Measured {
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(fs::File::open(p).expect("stdin file")),
        None => Stdio::null(),
    });
    let broker_before = process_cpu_seconds(broker_pid);
    let t = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child; `status` and `ru` outlive the call.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let wall_s = t.elapsed().as_secs_f64();
    let broker_cpu_s = process_cpu_seconds(broker_pid) - broker_before;
    let errors = errors.join().unwrap_or_default();
    assert!(r > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{what} failed ({status}):\n{errors}");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured { wall_s, cpu_s: tv(ru.ru_utime) + tv(ru.ru_stime), broker_cpu_s, messages }
}

/// Our tools run from KAFKA08_BENCH_CLIENT_BIN when set (an older build, for before/after
/// figures against the same broker), else from this build.
fn kafka08_tool(class: &str) -> Command {
    kafka08_tool_of(None, class)
}

/// [`kafka08_tool`] from the executable `bin` when given.
fn kafka08_tool_of(bin: Option<&str>, class: &str) -> Command {
    let bin = bin.map(str::to_string).unwrap_or_else(|| std::env::var("KAFKA08_BENCH_CLIENT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kafka08").to_string()));
    let mut c = Command::new(bin);
    c.arg(class).env("RUST_LOG", "warn");
    dies_with_us(&mut c);
    c
}

fn kcat(mode: &str, addr: &str, topic: &str) -> Command {
    let mut c = Command::new("kcat");
    c.arg(mode).args(["-b", addr, "-t", topic]).args(KCAT_08);
    dies_with_us(&mut c);
    c
}

/// A client never outlives the bench, even one that panicked or was killed.
fn dies_with_us(c: &mut Command) {
    // SAFETY: prctl in the child before exec; it allocates nothing.
    unsafe {
        c.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// The log end offset of partition 0 of `topic` at `addr` (0 if unknown).
fn log_end(addr: &str, topic: &str) -> i64 {
    log_end_of(addr, topic, 0)
}

fn line(name: &str, m: &Measured) {
    println!(
        "  {:<34} {:>10.0} msg/s  {:>7.3} µs CPU/msg  broker {:>6.3} µs CPU/msg  ({:.2} s, {} msgs)",
        name,
        m.rate(),
        m.cpu_us_per_msg(),
        m.broker_us_per_msg(),
        m.wall_s,
        m.messages
    );
}

fn ratio(name: &str, ours: &Measured, theirs: &Measured) {
    println!(
        "  {:<34} {:>10.2} x msg/s  {:>7.2} x CPU/msg",
        name,
        ours.rate() / theirs.rate(),
        ours.cpu_us_per_msg() / theirs.cpu_us_per_msg()
    );
}

fn main() {
    if std::env::var_os(IN_FLIGHT_CHILD).is_some() {
        in_flight_child();
        return;
    }
    let n: u64 = std::env::var("KAFKA08_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
    let skip = std::env::var("KAFKA08_BENCH_SKIP").unwrap_or_default();
    let best_args = std::env::var("KAFKA08_BENCH_BEST_ARGS").unwrap_or_else(|_| "--batch-size 1000".to_string());
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn,kafka08::server::kafka_server=info");
    }
    let dir = TempDir::new("producer-vs-kcat");
    let input = dir.join("input.txt");
    {
        let mut f = std::io::BufWriter::new(fs::File::create(&input).expect("input file"));
        let mut row = vec![b'x'; MESSAGE_SIZE];
        row.push(b'\n');
        for _ in 0..n {
            f.write_all(&row).expect("write input");
        }
    }

    let cluster = Cluster::start(1, &[("num.partitions", "1")]);
    let broker = &cluster.brokers[0];
    let addr = broker.addr();
    let broker_pid = broker.pid().expect("broker running");
    let zk = cluster.zk.connect_string();
    println!("clients against one kafka08 broker: {n} messages of {MESSAGE_SIZE} bytes, acks=1, one partition");

    // Producers.
    let ours = |topic: &str, extra: &str| {
        cluster.create_topic(topic, 1, 1);
        let mut c = kafka08_tool("kafka.tools.ProducerPerformance");
        c.args(["--broker-list", &addr, "--topics", topic, "--messages", &n.to_string(), "--message-size", &MESSAGE_SIZE.to_string()])
            .args(["--request-num-acks", "1"])
            .args(extra.split_whitespace());
        let m = run_child(&format!("perf test {extra}"), c, None, broker_pid, n);
        assert_eq!(log_end(&addr, topic), n as i64, "{topic}: every message stored");
        m
    };
    let producers = !skip.contains("producer");
    let ours_runs = producers.then(|| (ours("perf-default", ""), ours("perf-best", &best_args)));
    if producers || !skip.contains("consumer") {
        cluster.create_topic("kcat", 1, 1);
        let mut c = kcat("-P", &addr, "kcat");
        c.args(["-X", "acks=1"]);
        let kcat_p = run_child("kcat -P", c, Some(&input), broker_pid, n);
        assert_eq!(log_end(&addr, "kcat"), n as i64, "kcat: every message stored");
        if let Some((default, best)) = &ours_runs {
            println!("producer:");
            line("perf-test (0.8.2 defaults)", default);
            line(&format!("perf-test ({best_args})"), best);
            line("kcat -P", &kcat_p);
            ratio("defaults / kcat", default, &kcat_p);
            ratio("best / kcat", best, &kcat_p);
        }
    }

    if !skip.contains("inflight") {
        in_flight(&cluster, n, broker_pid);
    }

    if !skip.contains("consumer") {
        let mut c = kafka08_tool("kafka.tools.ConsumerPerformance");
        c.args(["--zookeeper", &zk, "--topic", "kcat", "--messages", &n.to_string(), "--threads", "1", "--group", "bench-perf"]);
        let hl = run_child("consumer perf test", c, None, broker_pid, n);
        let mut c = kcat("-C", &addr, "kcat");
        c.args(["-e", "-q", "-o", "beginning"]);
        let kcat_c = run_child("kcat -C", c, None, broker_pid, n);
        println!("consumer:");
        line("consumer-perf-test (1 stream)", &hl);
        line("kcat -C", &kcat_c);
        ratio("high-level / kcat", &hl, &kcat_c);
    }

    if !skip.contains("mirror") {
        mirror(n, &dir, &input);
    }
    drop(cluster);
}

/// The mirror maker copying `n` messages between two local clusters.
fn mirror(n: u64, dir: &TempDir, input: &Path) {
    let zk = ZkServer::start();
    let src = ChrootCluster::start(&zk, "/src", 1, &[]);
    let dst = ChrootCluster::start(&zk, "/dst", 1, &[]);
    src.create_topic("mirrored", 1, 1);
    dst.create_topic("mirrored", 1, 1);
    let src_addr = src.brokers[0].addr();
    let dst_addr = dst.brokers[0].addr();
    let mut c = kcat("-P", &src_addr, "mirrored");
    c.args(["-X", "acks=1"]);
    run_child("kcat -P (mirror source)", c, Some(input), src.brokers[0].pid().expect("running"), n);
    assert_eq!(log_end(&src_addr, "mirrored"), n as i64);
    let pc = dir.join("producer.properties");
    fs::write(&pc, format!("metadata.broker.list={}\nrequest.required.acks=1\nproducer.type=async\n", dst.bootstrap())).unwrap();
    let dst_pid = dst.brokers[0].pid().expect("running");
    // With a baseline: its mirror maker and this build's, alternately, each copying the
    // same source topic from the start in a group of its own (the target topic grows by
    // `n` each time).
    let baseline = std::env::var("KAFKA08_BENCH_MIRROR_BASELINE").ok();
    let runs: Vec<Option<&str>> = match &baseline {
        Some(b) => vec![Some(b.as_str()), None, Some(b.as_str()), None],
        None => vec![None],
    };
    println!("mirror maker (two local clusters, one broker each; broker = target broker):");
    let mut results: Vec<(bool, Measured)> = Vec::new();
    for (k, bin) in runs.into_iter().enumerate() {
        let cc = dir.join(&format!("consumer-{k}.properties"));
        fs::write(&cc, format!("zookeeper.connect={}\ngroup.id=bench-mirror-{k}\nauto.offset.reset=smallest\n", src.zk_connect)).unwrap();
        let target = (k as i64 + 1) * n as i64;
        let broker_before = process_cpu_seconds(dst_pid);
        let t = Instant::now();
        let mut mm = kafka08_tool_of(bin, "kafka.tools.MirrorMaker")
            .args(["--consumer.config", cc.to_str().unwrap(), "--producer.config", pc.to_str().unwrap(), "--whitelist", "mirrored"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mirror maker");
        let pid = mm.id();
        let mut cpu_s = 0.0;
        wait_until("the mirror maker copies every message", Duration::from_secs(600), || {
            cpu_s = process_cpu_seconds(pid);
            log_end(&dst_addr, "mirrored") >= target
        });
        let m = Measured { wall_s: t.elapsed().as_secs_f64(), cpu_s, broker_cpu_s: process_cpu_seconds(dst_pid) - broker_before, messages: n };
        let _ = mm.kill();
        let _ = mm.wait();
        match bin {
            Some(b) => line(&format!("kafka-mirror-maker (baseline {b})"), &m),
            None => line("kafka-mirror-maker", &m),
        }
        results.push((bin.is_none(), m));
    }
    if baseline.is_some() {
        let mean = |ours: bool, f: fn(&Measured) -> f64| {
            let v: Vec<f64> = results.iter().filter(|(o, _)| *o == ours).map(|(_, m)| f(m)).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        println!(
            "  this build / baseline: {:.2} x msg/s ({:.0} / {:.0}), {:.2} x CPU/msg",
            mean(true, Measured::rate) / mean(false, Measured::rate),
            mean(true, Measured::rate),
            mean(false, Measured::rate),
            mean(true, Measured::cpu_us_per_msg) / mean(false, Measured::cpu_us_per_msg)
        );
    }
}

/// Set in the child process that runs one in-flight producer.
const IN_FLIGHT_CHILD: &str = "KAFKA08_BENCH_IN_FLIGHT_CHILD";

/// In-flight 1 against 5, alternated, on two workloads (see the module doc).
fn in_flight(cluster: &Cluster, n: u64, broker_pid: u32) {
    let addr = cluster.brokers[0].addr();
    println!("async producer, max.in.flight.requests.per.connection (alternated):");
    for (label, partitions, run) in [("key = message number, 1 partition", 1, 1u64), ("runs of 200 per partition, 4 partitions", 4, 200)] {
        let mut results: Vec<(usize, Measured)> = Vec::new();
        for (i, in_flight) in [1usize, 5, 1, 5].into_iter().enumerate() {
            let topic = format!("inflight-{partitions}-{i}");
            cluster.create_topic(&topic, partitions, 1);
            let mut c = Command::new(std::env::current_exe().expect("bench executable"));
            c.env(IN_FLIGHT_CHILD, "1").env("RUST_LOG", "warn");
            c.args([&addr, &topic, &n.to_string(), &in_flight.to_string(), &partitions.to_string(), &run.to_string()]);
            dies_with_us(&mut c);
            let m = run_child(&format!("in-flight {in_flight}"), c, None, broker_pid, n);
            let stored: i64 = (0..partitions).map(|p| log_end_of(&addr, &topic, p)).sum();
            assert_eq!(stored, n as i64, "{topic}: every message stored");
            results.push((in_flight, m));
        }
        println!("  {label}:");
        for (in_flight, m) in &results {
            line(&format!("in-flight {in_flight}"), m);
        }
        let mean = |k: usize| {
            let ms: Vec<&Measured> = results.iter().filter(|(f, _)| *f == k).map(|(_, m)| m).collect();
            let rate = ms.iter().map(|m| m.rate()).sum::<f64>() / ms.len() as f64;
            let cpu = ms.iter().map(|m| m.cpu_us_per_msg()).sum::<f64>() / ms.len() as f64;
            (rate, cpu)
        };
        let ((r1, c1), (r5, c5)) = (mean(1), mean(5));
        println!("  {:<34} {:>10.2} x msg/s  {:>7.2} x CPU/msg", "in-flight 5 / 1 (means)", r5 / r1, c5 / c1);
    }
}

/// The child: `addr topic messages in_flight partitions run`, where messages go in runs of
/// `run` to one partition key after another (`run` = 1: the key is the message number).
fn in_flight_child() {
    use kafka08::producer::partitioner::partition_for_key;
    use kafka08::producer::{BlockingProducer, KeyedMessage, PartitionerClass, Serializer};
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, topic, n, in_flight, partitions, run] = &args[..] else { panic!("in-flight child: bad arguments {args:?}") };
    let (n, partitions, run): (u64, i32, u64) = (n.parse().unwrap(), partitions.parse().unwrap(), run.parse().unwrap());
    let mut props = kafka08::common::Properties::new();
    props.set("metadata.broker.list", addr);
    props.set("producer.type", "async");
    props.set("request.required.acks", "1");
    props.set("max.in.flight.requests.per.connection", in_flight);
    let producer = BlockingProducer::from_properties(&props).expect("producer");
    // One key per partition for runs; the message number (as the perf test) otherwise.
    let run_keys: Vec<bytes::Bytes> = (0..partitions)
        .map(|p| {
            let k = (0..).map(|i| format!("k{i}")).find(|k| partition_for_key(PartitionerClass::Default, Serializer::Bytes, k.as_bytes(), partitions) == p);
            bytes::Bytes::from(k.unwrap())
        })
        .collect();
    let value = bytes::Bytes::from(vec![b'x'; MESSAGE_SIZE]);
    let topic = topic.to_string();
    let mut chunk = Vec::with_capacity(500);
    for i in 0..n {
        let key = if run == 1 { bytes::Bytes::from(i.to_string()) } else { run_keys[((i / run) % partitions as u64) as usize].clone() };
        chunk.push(KeyedMessage { topic: topic.clone(), key: None, part_key: Some(key), value: Some(value.clone()) });
        if chunk.len() == 500 {
            producer.send(std::mem::replace(&mut chunk, Vec::with_capacity(500))).expect("send");
        }
    }
    producer.send(chunk).expect("send");
    producer.close().expect("every message acknowledged");
}

/// The log end offset of `topic`-`partition` at `addr` (0 if unknown).
fn log_end_of(addr: &str, topic: &str, partition: i32) -> i64 {
    let req = api::OffsetsRequest {
        replica_id: -1,
        topics: vec![api::OffsetsTopic {
            topic: topic.to_string(),
            partitions: vec![api::OffsetsPartition { partition, time: api::LATEST_TIME, max_offsets: 1 }],
        }],
    };
    try_call(addr, &req)
        .and_then(|r| r.topics.first().and_then(|t| t.partitions.first()).and_then(|p| p.offsets.first().copied()))
        .unwrap_or(0)
}
