//! One producer and one consumer of 100-byte messages against one real broker (acks=1),
//! next to the loopback TCP ceiling measured in the same run; in rounds that alternate
//! the metrics endpoint off and on (off, on, off, on), a fresh broker each, with the
//! endpoint scraped every second while on; each round's figures and the on/off ratio of
//! the means are printed.
//!
//! `cargo bench --bench broker_throughput` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_MESSAGES sets the message count per round (default 5,000,000),
//! KAFKA08_BENCH_ROUNDS the number of rounds (default 4). KAFKA08_BENCH_BASELINE=<path of
//! another build's kafka08 executable> compares builds instead: its rounds alternate that
//! broker and this build's (endpoint off in both), and the ratios are this build's over
//! the baseline's.
//!
//! The bench acts as the controller for its single broker (LeaderAndIsr + UpdateMetadata)
//! so that only the data path is measured.

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, Broker, RequestHeader};
use kafka08::message::{encode_messages, shallow_iter, CompressionCodec, Message};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::kafka::KafkaBroker;
use support::wire::{read_frame, send};
use support::{process_cpu_seconds, ZkServer};

const MESSAGE_SIZE: usize = 100;
const PER_REQUEST: usize = 500;

fn recv(s: &mut TcpStream) -> Bytes {
    read_frame(s).expect("a response frame")
}

fn call<R: ApiRequest>(s: &mut TcpStream, req: &R) -> R::Response {
    send(s, 0, 1, req).expect("send");
    api::decode_response::<R::Response>(0, recv(s)).unwrap().1
}

fn loopback_mb_s(bytes: usize) -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0usize;
        while n < bytes {
            let k = s.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
    });
    let mut s = TcpStream::connect(addr).unwrap();
    let chunk = vec![7u8; 1 << 20];
    let t = Instant::now();
    let mut sent = 0;
    while sent < bytes {
        s.write_all(&chunk).unwrap();
        sent += chunk.len();
    }
    reader.join().unwrap();
    sent as f64 / 1e6 / t.elapsed().as_secs_f64()
}

/// One measured round: a fresh broker (in a ZooKeeper chroot of its own), `total`
/// messages produced then fetched.
struct Round {
    metrics: bool,
    /// Run by the baseline build's broker.
    baseline: bool,
    produce_mb_s: f64,
    produce_msg_s: f64,
    consume_mb_s: f64,
    consume_msg_s: f64,
    scrapes: usize,
    /// The broker's CPU time per produced message, and its busy cores while producing
    /// (less dependent on the machine's load than the loopback fraction).
    produce_cpu_us_per_msg: f64,
    produce_cores_busy: f64,
}

/// How often the metrics endpoint is scraped during a round with it on (Prometheus
/// defaults to every 15 s: this is 15 times harsher).
const SCRAPE_EVERY: Duration = Duration::from_secs(1);

/// GET /metrics once; the bytes read.
fn scrape(port: u16) -> usize {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return 0 };
    let _ = write!(s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out.len()
}

fn round(zk: &ZkServer, n: usize, metrics: bool, baseline: Option<&std::path::Path>, total: usize) -> Round {
    let metrics_port = support::free_port();
    let port_text = metrics_port.to_string();
    let extra: Vec<(&str, &str)> =
        if metrics { vec![("metrics.http.port", port_text.as_str()), ("metrics.http.host", "127.0.0.1")] } else { vec![] };
    let chroot = format!("{}/round{}", zk.connect_string(), n);
    let broker = match baseline {
        Some(program) => KafkaBroker::start_program(program, 1, &chroot, &extra),
        None => KafkaBroker::start(1, &chroot, &extra),
    };
    let port = broker.port;
    let addr = broker.addr();
    let mut ctl = TcpStream::connect(&addr).unwrap();
    let me = Broker::new(1, "127.0.0.1", port as i32);
    let st = api::PartitionState { topic: "bench".into(), partition: 0, controller_epoch: 1, leader: 1, leader_epoch: 0, isr: vec![1], zk_version: 0, replicas: vec![1] };
    // Broker 1 believes controller requests from the controller it elected (itself, epoch
    // 1) once the election is written to ZooKeeper.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while call(&mut ctl, &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st.clone()], leaders: vec![me.clone()] }).error_code
        != kafka08::common::ErrorCode::NoError
    {
        assert!(std::time::Instant::now() < deadline, "broker 1 was not elected controller");
        std::thread::sleep(Duration::from_millis(50));
    }
    call(&mut ctl, &api::UpdateMetadataRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st], alive_brokers: vec![me] });

    // With the endpoint on, a scraper reads it all along.
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = metrics.then(|| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut scrapes = 0;
            while !stop.load(Ordering::Relaxed) {
                assert!(scrape(metrics_port) > 0, "the metrics endpoint answered nothing");
                scrapes += 1;
                let next = Instant::now() + SCRAPE_EVERY;
                while !stop.load(Ordering::Relaxed) && Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            scrapes
        })
    });

    // Producer: requests of 500 messages written back to back (TCP flow control bounds
    // what is in flight), acks read on a second thread.
    let payload = vec![b'x'; MESSAGE_SIZE];
    let msgs: Vec<Message> = (0..PER_REQUEST).map(|_| Message::new(None, Some(&payload), CompressionCodec::None)).collect();
    let set = encode_messages(CompressionCodec::None, &msgs, 0);
    let req = api::ProduceRequest { acks: 1, timeout_ms: 10_000, topics: vec![api::ProduceTopic { topic: "bench".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: set.clone() }] }] };
    let frame = api::encode_request(&RequestHeader::new(api::ApiKey::Produce, 0, 1, Some("bench")), &req).unwrap();
    let requests = total / PER_REQUEST;
    let mut p = TcpStream::connect(&addr).unwrap();
    p.set_nodelay(true).unwrap();
    let mut reader = p.try_clone().unwrap();
    let broker_pid = broker.pid().expect("broker running");
    let broker_cpu = process_cpu_seconds(broker_pid);
    let t = Instant::now();
    let acks = std::thread::spawn(move || {
        for _ in 0..requests {
            let r = api::decode_response::<api::ProduceResponse>(0, recv(&mut reader)).unwrap().1;
            assert_eq!(r.topics[0].partitions[0].error_code, kafka08::common::ErrorCode::NoError);
        }
    });
    for _ in 0..requests {
        p.write_all(&frame).unwrap();
    }
    acks.join().unwrap();
    let produce_s = t.elapsed().as_secs_f64();
    let produce_cpu_s = process_cpu_seconds(broker_pid) - broker_cpu;
    let produced = requests * PER_REQUEST;

    // Consumer: fetch from 0 to the end, 1 MiB per request.
    let mut c = TcpStream::connect(&addr).unwrap();
    let t = Instant::now();
    let mut offset = 0i64;
    let mut count = 0usize;
    let mut bytes = 0usize;
    while (offset as usize) < produced {
        let f = call(
            &mut c,
            &api::FetchRequest {
                replica_id: -1,
                max_wait_ms: 100,
                min_bytes: 1,
                topics: vec![api::FetchTopic { topic: "bench".into(), partitions: vec![api::FetchPartition { partition: 0, fetch_offset: offset, max_bytes: 1 << 20 }] }],
            },
        );
        let set = f.topics[0].partitions[0].message_set.clone();
        bytes += set.len();
        for e in shallow_iter(set).flatten() {
            offset = e.offset + 1;
            count += 1;
        }
    }
    let consume_s = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let scrapes = scraper.map(|s| s.join().unwrap()).unwrap_or(0);
    drop(broker);
    let set_mb = (produced * (MESSAGE_SIZE + 26)) as f64 / 1e6;
    Round {
        metrics,
        baseline: baseline.is_some(),
        produce_mb_s: set_mb / produce_s,
        produce_msg_s: produced as f64 / produce_s,
        consume_mb_s: bytes as f64 / 1e6 / consume_s,
        consume_msg_s: count as f64 / consume_s,
        scrapes,
        produce_cpu_us_per_msg: produce_cpu_s * 1e6 / produced as f64,
        produce_cores_busy: produce_cpu_s / produce_s,
    }
}

/// The mean of `f` over the rounds of one kind (`second`: metrics on, or this build when
/// compared with a baseline).
fn mean(rounds: &[Round], second: bool, kind: fn(&Round) -> bool, f: impl Fn(&Round) -> f64) -> f64 {
    let v: Vec<f64> = rounds.iter().filter(|r| kind(r) == second).map(f).collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() {
    let total: usize = std::env::var("KAFKA08_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000);
    let rounds: usize = std::env::var("KAFKA08_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(4).max(2);
    let baseline = std::env::var_os("KAFKA08_BENCH_BASELINE").map(std::path::PathBuf::from);
    // The broker's info lines would be noise beside the numbers (it logs to its own file;
    // its start-up line is what the kit waits for).
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn,kafka08::server::kafka_server=info");
    }
    let zk = ZkServer::start();
    let loop_mb = loopback_mb_s(total * (MESSAGE_SIZE + 26));
    println!("broker throughput: {} messages of {} bytes, acks=1, one partition, one broker", total / PER_REQUEST * PER_REQUEST, MESSAGE_SIZE);
    println!("loopback TCP ceiling:  {:>10.1} MB/s", loop_mb);
    // Off, on, off, on... (metrics endpoint, or baseline then this build): drift in the
    // machine's load hits both alike.
    let mut results = Vec::new();
    for n in 0..rounds {
        let second = n % 2 == 1;
        let r = match &baseline {
            Some(program) => round(&zk, n, false, (!second).then_some(program.as_path()), total),
            None => round(&zk, n, second, None, total),
        };
        let label = match (&baseline, r.baseline) {
            (Some(p), true) => format!("baseline {}", p.display()),
            (Some(_), false) => "this build".to_string(),
            (None, _) if r.metrics => format!("metrics on, {} scrapes", r.scrapes),
            (None, _) => "metrics off".to_string(),
        };
        println!("round {} ({}):", n + 1, label);
        println!("  producer:            {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", r.produce_mb_s, r.produce_msg_s, r.produce_mb_s / loop_mb);
        println!("  producer, broker side: {:>7.3} µs CPU/msg  ({:.2} cores busy)", r.produce_cpu_us_per_msg, r.produce_cores_busy);
        println!("  consumer:            {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", r.consume_mb_s, r.consume_msg_s, r.consume_mb_s / loop_mb);
        results.push(r);
    }
    let (kind, name): (fn(&Round) -> bool, &str) =
        if baseline.is_some() { (|r| !r.baseline, "this build/baseline") } else { (|r| r.metrics, "metrics on/off") };
    let figures: [(&str, fn(&Round) -> f64); 3] = [
        ("producer MB/s", |r| r.produce_mb_s),
        ("producer broker µs CPU/msg", |r| r.produce_cpu_us_per_msg),
        ("consumer MB/s", |r| r.consume_mb_s),
    ];
    for (what, f) in figures {
        let (first, second) = (mean(&results, false, kind, f), mean(&results, true, kind, f));
        // Each second round against the first just before it: robust to the machine's
        // load drifting over the run.
        let mut pairs: Vec<f64> = results.chunks(2).filter(|c| c.len() == 2).map(|c| f(&c[1]) / f(&c[0])).collect();
        pairs.sort_by(|a, b| a.total_cmp(b));
        let median = pairs.get(pairs.len() / 2).copied().unwrap_or(f64::NAN);
        let shown: Vec<String> = pairs.iter().map(|r| format!("{r:.2}")).collect();
        println!("{what} {name}: means {:.3} / {:.3} = {:.3}; per pair {} (median {:.3})", second, first, second / first, shown.join(" "), median);
    }
    if baseline.is_some() {
        let producer = |second| mean(&results, second, kind, |r| r.produce_mb_s) / loop_mb;
        println!("producer fraction of loopback: baseline {:.2}, this build {:.2}", producer(false), producer(true));
    }
    drop(zk);

    // The counting itself (on in both kinds of round): one request's RequestMetrics update.
    let metrics = kafka08::metrics::RequestMetrics::default();
    let stages = [Duration::from_micros(3), Duration::from_micros(40), Duration::ZERO, Duration::from_micros(2), Duration::from_micros(30), Duration::from_micros(75)];
    let n = 10_000_000u32;
    let t = Instant::now();
    for i in 0..n {
        metrics.record((i & 1) as usize, std::hint::black_box(&stages));
    }
    println!("request metrics: {:.1} ns to record one request's count and six stage timers", t.elapsed().as_nanos() as f64 / n as f64);
}
