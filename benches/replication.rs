//! Replication benchmarks (issue 4), against real brokers and a real ZooKeeper:
//!
//! 1. Throughput of a replication-factor-3 partition with acks=-1 against acks=1 (0.8's
//!    published ratio was 0.54), with requests pipelined and one at a time.
//! 2. From a leader's SIGKILL to the first successful acks=-1 produce, split into failure
//!    detection (the broker's ZooKeeper session expiring), controller reaction (until
//!    the new leader is in the metadata) and the client's retry.
//! 3. Controller reaction (SIGKILL) and controlled shutdown (SIGTERM) of a broker that
//!    leads 1,000 and 10,000 partitions.
//!
//! `cargo bench --bench replication` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_MESSAGES: messages per throughput run (default 1,000,000);
//! KAFKA08_BENCH_PARTITIONS: comma-separated partition counts (default 1000,10000);
//! KAFKA08_BENCH_PARTS: which parts to run (default 123; 4 = acks=-1 latency, 5 = restart
//! after SIGKILL with N partitions).

#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use kafka08::api::{self, MetadataRequest, RequestHeader};
use kafka08::common::{ErrorCode, Properties};
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::cluster::{try_call, Cluster};
use support::kafka::KafkaBroker;

const MESSAGE_SIZE: usize = 100;
const PER_REQUEST: usize = 500;

fn recv(s: &mut TcpStream) -> bytes::Bytes {
    support::wire::read_frame(s).expect("a response frame")
}

fn produce_frame(topic: &str, acks: i16, values: usize) -> bytes::Bytes {
    let payload = vec![b'x'; MESSAGE_SIZE];
    let msgs: Vec<Message> = (0..values).map(|_| Message::new(None, Some(&payload), CompressionCodec::None)).collect();
    let req = api::ProduceRequest {
        acks,
        timeout_ms: 10_000,
        topics: vec![api::ProduceTopic { topic: topic.into(), partitions: vec![api::ProducePartition { partition: 0, message_set: encode_messages(CompressionCodec::None, &msgs, 0) }] }],
    };
    api::encode_request(&RequestHeader::new(api::ApiKey::Produce, 0, 1, Some("bench")), &req).unwrap()
}

/// Leader of every partition of `topic` as `addr` reports it.
fn leaders(addr: &str, topic: &str) -> Option<BTreeMap<i32, (i32, Vec<i32>)>> {
    let m = try_call(addr, &MetadataRequest { topics: vec![topic.to_string()] })?;
    let t = m.topics.into_iter().next()?;
    Some(t.partitions.into_iter().map(|p| (p.partition, (p.leader, p.isr))).collect())
}

fn leader_addr(c: &Cluster, topic: &str) -> String {
    let id = leaders(&c.brokers[0].addr(), topic).unwrap()[&0].0;
    c.brokers.iter().find(|b| b.id == id).unwrap().addr()
}

/// Send `total` messages to partition 0 of `topic` at `addr`: `window` requests of 500 in
/// flight (0 = unbounded, TCP flow control only). Returns MB/s of message-set bytes.
fn throughput(addr: &str, topic: &str, acks: i16, total: usize, window: usize) -> f64 {
    let frame = produce_frame(topic, acks, PER_REQUEST);
    let requests = total / PER_REQUEST;
    let mut p = TcpStream::connect(addr).unwrap();
    p.set_nodelay(true).unwrap();
    let mut reader = p.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(if window == 0 { requests } else { window });
    let t = Instant::now();
    let acker = std::thread::spawn(move || {
        for _ in 0..requests {
            let r = api::decode_response::<api::ProduceResponse>(0, recv(&mut reader)).unwrap().1;
            assert_eq!(r.topics[0].partitions[0].error_code, ErrorCode::NoError);
            let _ = rx.recv();
        }
    });
    for _ in 0..requests {
        tx.send(()).unwrap();
        p.write_all(&frame).unwrap();
    }
    acker.join().unwrap();
    let set_mb = (requests * PER_REQUEST * (MESSAGE_SIZE + 26)) as f64 / 1e6;
    set_mb / t.elapsed().as_secs_f64()
}

fn part_throughput(total: usize) {
    let c = Cluster::start(3, &[]);
    println!("== 1. replication factor 3, one partition, {total} messages of {MESSAGE_SIZE} bytes per run, requests of {PER_REQUEST}");
    for (window, label) in [(0usize, "pipelined"), (1, "one request at a time")] {
        let mut mb = [0f64; 2];
        for (i, acks) in [1i16, -1].into_iter().enumerate() {
            let topic = format!("tp-{}-{}", window, i);
            c.create_topic(&topic, 1, 3);
            let addr = leader_addr(&c, &topic);
            // Warm up (connections of the followers' fetchers, page cache), then measure.
            throughput(&addr, &topic, acks, 50_000, window);
            mb[i] = throughput(&addr, &topic, acks, total, window);
        }
        println!(
            "{label:>22}: acks=1 {:>8.1} MB/s  acks=-1 {:>8.1} MB/s  ratio {:.2}  (0.8: 0.54)",
            mb[0],
            mb[1],
            mb[1] / mb[0]
        );
    }
}

fn zk_client(rt: &tokio::runtime::Runtime, c: &Cluster) -> kafka08::zk::ZkClient {
    rt.block_on(kafka08::zk::ZkClient::connect(&c.zk.connect_string(), Duration::from_secs(6), Duration::from_secs(10))).unwrap()
}

fn wait_gone(rt: &tokio::runtime::Runtime, zk: &kafka08::zk::ZkClient, path: &str) -> Instant {
    loop {
        if rt.block_on(zk.exists(path)).unwrap().is_none() {
            return Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn part_failover() {
    println!("== 2. leader SIGKILL to the first successful acks=-1 produce (zookeeper.session.timeout.ms=6000)");
    let mut c = Cluster::start(3, &[]);
    let rt = Cluster::runtime();
    let zk = zk_client(&rt, &c);
    for round in 0..3 {
        let topic = format!("fo{round}");
        c.create_topic(&topic, 1, 3);
        let addr = leader_addr(&c, &topic);
        let idx = c.brokers.iter().position(|b| b.addr() == addr).unwrap();
        let id = c.brokers[idx].id;
        let frame = produce_frame(&topic, -1, 1);
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(&frame).unwrap();
        recv(&mut s);
        let t0 = Instant::now();
        c.brokers[idx].kill();
        let gone = wait_gone(&rt, &zk, &format!("/brokers/ids/{id}"));
        // The client: metadata from any live broker, produce to the leader it names.
        let others: Vec<String> = c.brokers.iter().filter(|b| b.id != id).map(|b| b.addr()).collect();
        let (elected, done) = loop {
            let l = others.iter().find_map(|a| leaders(a, &topic)).and_then(|m| m.get(&0).cloned());
            if let Some((leader, _)) = l.filter(|(l, _)| *l >= 0 && *l != id) {
                let elected = Instant::now();
                let addr = c.brokers.iter().find(|b| b.id == leader).unwrap().addr();
                let mut s = TcpStream::connect(&addr).unwrap();
                loop {
                    s.write_all(&frame).unwrap();
                    let r = api::decode_response::<api::ProduceResponse>(0, recv(&mut s)).unwrap().1;
                    if r.topics[0].partitions[0].error_code == ErrorCode::NoError {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                break (elected, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        println!(
            "round {round}: total {:>6} ms = detection {:>6} ms + controller {:>4} ms + first produce {:>4} ms",
            (done - t0).as_millis(),
            (gone - t0).as_millis(),
            (elected - gone).as_millis(),
            (done - elected).as_millis()
        );
        c.brokers[idx].restart();
    }
}

/// Poll `addr`'s metadata until every partition of `topic` has leader `want` (and, when
/// `isr_of` is given, that broker in its ISR).
fn wait_all(addr: &str, topic: &str, n: usize, want: i32, isr_of: Option<i32>) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(m) = leaders(addr, topic) {
            if m.len() == n && m.values().all(|(l, isr)| *l == want && isr_of.is_none_or(|b| isr.contains(&b))) {
                return Instant::now();
            }
        }
        assert!(Instant::now() < deadline, "{topic}: leaders never settled on {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop_and_time(b: &mut KafkaBroker, other: &str, topic: &str, n: usize, to: i32) -> (Duration, Duration) {
    let t0 = Instant::now();
    let (other, topic2) = (other.to_string(), topic.to_string());
    let mover = std::thread::spawn(move || wait_all(&other, &topic2, n, to, None));
    let code = b.stop();
    let exited = Instant::now();
    let moved = mover.join().unwrap();
    assert_eq!(code, Some(0));
    (moved - t0, exited - t0)
}

fn part_many_partitions(counts: &[usize]) {
    println!("== 3. a broker leading N partitions (replication factor 2, the other replica on one broker)");
    for &n in counts {
        let mut c = Cluster::start(3, &[]);
        let rt = Cluster::runtime();
        let zk = zk_client(&rt, &c);
        let controller: i32 = {
            let (data, _) = rt.block_on(zk.get_data("/controller")).unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            v["brokerid"].as_i64().unwrap() as i32
        };
        let ids: Vec<i32> = c.brokers.iter().map(|b| b.id).filter(|i| *i != controller).collect();
        let (x, y) = (ids[0], ids[1]);
        let xi = c.brokers.iter().position(|b| b.id == x).unwrap();
        let yi = c.brokers.iter().position(|b| b.id == y).unwrap();
        let topic = format!("many{n}");
        let assignment: BTreeMap<i32, Vec<i32>> = (0..n as i32).map(|p| (p, vec![x, y])).collect();
        let t = Instant::now();
        rt.block_on(kafka08::admin::create_topic_with_assignment(&zk, &topic, &assignment, &Properties::new())).unwrap();
        wait_all(&c.brokers[yi].addr(), &topic, n, x, Some(y));
        let created = t.elapsed();

        // SIGTERM (controlled shutdown) of the leader of all N: leaderships move to the
        // other replica before the process exits.
        let yaddr = c.brokers[yi].addr();
        let (moved, exited) = stop_and_time(&mut c.brokers[xi], &yaddr, &topic, n, y);
        println!(
            "N={n:>6}: created in {:>6} ms; controlled shutdown: leaders moved in {:>5} ms, process exited in {:>5} ms",
            created.as_millis(),
            moved.as_millis(),
            exited.as_millis()
        );
        // Back after a clean shutdown (no log recovery); wait until it is in every ISR
        // again. ISR growth is written by the leader to the state znodes; as in 0.8.2 the
        // controller does not hear of it, so metadata keeps the shrunk ISR (KAFKA-1367).
        c.brokers[xi].restart();
        let t = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(600);
        for p in 0..n as i32 {
            loop {
                let st = rt.block_on(kafka08::admin::fetch_partition_state(&zk, &topic, p)).unwrap();
                if st.is_some_and(|s| s.leader == y && s.isr.contains(&x)) {
                    break;
                }
                assert!(Instant::now() < deadline, "{topic}-{p}: broker {x} never rejoined the ISR");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let rejoined = t.elapsed();
        // SIGKILL the broker that now leads all N: detection, then the controller's
        // reaction until the surviving replica leads all N in its metadata.
        let t0 = Instant::now();
        c.brokers[yi].kill();
        let gone = wait_gone(&rt, &zk, &format!("/brokers/ids/{y}"));
        let done = wait_all(&c.brokers[xi].addr(), &topic, n, x, None);
        println!(
            "N={n:>6}: restarted replica back in every ISR in {:>6} ms; SIGKILL: detection {:>5} ms, controller reaction {:>5} ms ({:.1} µs/partition)",
            rejoined.as_millis(),
            (gone - t0).as_millis(),
            (done - gone).as_millis(),
            (done - gone).as_secs_f64() * 1e6 / n as f64
        );
    }
}

/// Latency of single acks=-1 produces (one message, one request at a time) by replication
/// factor.
fn part_latency() {
    println!("== 4. latency of one-message acks=-1 produce requests, one at a time");
    let c = Cluster::start(3, &[]);
    for rf in 1..=3 {
        let topic = format!("lat{rf}");
        c.create_topic(&topic, 1, rf);
        let addr = leader_addr(&c, &topic);
        let frame = produce_frame(&topic, -1, 1);
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_nodelay(true).unwrap();
        let mut lat = Vec::new();
        for _ in 0..500 {
            let t = Instant::now();
            s.write_all(&frame).unwrap();
            recv(&mut s);
            lat.push(t.elapsed().as_micros() as u64);
        }
        lat.sort_unstable();
        println!("rf={rf}: p50 {} µs  p90 {} µs  p99 {} µs  max {} µs", lat[250], lat[450], lat[495], lat[499]);
    }
}

/// A one-broker cluster holding N partitions: SIGKILL, then the time until it is started
/// again (log recovery of every partition).
fn part_restart(counts: &[usize]) {
    println!("== 5. restart after SIGKILL of a broker holding N partitions (log recovery)");
    for &n in counts {
        let mut c = Cluster::start(1, &[]);
        let topic = format!("rs{n}");
        c.create_topic(&topic, n as i32, 1);
        c.brokers[0].kill();
        let t = Instant::now();
        c.brokers[0].restart();
        println!("N={n:>6}: started again in {:>6} ms", t.elapsed().as_millis());
    }
}

fn main() {
    let total: usize = std::env::var("KAFKA08_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let counts: Vec<usize> = std::env::var("KAFKA08_BENCH_PARTITIONS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let parts = std::env::var("KAFKA08_BENCH_PARTS").unwrap_or_else(|_| "123".into());
    if parts.contains('1') {
        part_throughput(total);
    }
    if parts.contains('2') {
        part_failover();
    }
    if parts.contains('4') {
        part_latency();
    }
    if parts.contains('5') {
        part_restart(&counts);
    }
    if parts.contains('3') {
        part_many_partitions(&counts);
    }
}
