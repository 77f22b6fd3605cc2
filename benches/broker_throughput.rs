//! One producer and one consumer of 100-byte messages against one real broker (acks=1),
//! next to the loopback TCP ceiling measured in the same run (1 MiB writes and reads, a
//! core on each side) and to what one thread with no broker around it reaches on the
//! producer's own frames: read whole, written to a file, validated (the part of a broker's
//! work that no code change removes, on the core the broker has while the producer uses
//! the other); in rounds that alternate
//! the metrics endpoint off and on (off, on, off, on), a fresh broker each, with the
//! endpoint scraped every second while on; each round's figures and the on/off ratio of
//! the means are printed.
//!
//! `cargo bench --bench broker_throughput` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_SOCKET_BUFFER sets the broker's socket buffers (default 1 MiB, see
//! [`socket_buffer`]). KAFKA08_BENCH_MESSAGES sets the message count per round (default 5,000,000),
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

/// The broker's `socket.receive.buffer.bytes` and `socket.send.buffer.bytes`:
/// KAFKA08_BENCH_SOCKET_BUFFER, else 1 MiB as in 0.8's documented production config (its
/// default, 100 KiB, keeps the producer short of TCP window: the broker's every read then
/// reopens the window and runs the producer's transmit on the broker's core). The plain
/// receivers of the ceiling use the same size.
fn socket_buffer() -> usize {
    std::env::var("KAFKA08_BENCH_SOCKET_BUFFER").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 20)
}

/// SO_RCVBUF of a listener (accepted sockets inherit it, as the broker's do).
fn set_receive_buffer(l: &TcpListener, bytes: usize) {
    use std::os::fd::AsRawFd;
    let v = bytes as libc::c_int;
    // SAFETY: a valid socket and an int option of the right size.
    let rc = unsafe {
        libc::setsockopt(l.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, &v as *const libc::c_int as *const libc::c_void, std::mem::size_of::<libc::c_int>() as libc::socklen_t)
    };
    assert_eq!(rc, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
}
const PER_REQUEST: usize = 500;

fn recv(s: &mut TcpStream) -> Bytes {
    read_frame(s).expect("a response frame")
}

fn call<R: ApiRequest>(s: &mut TcpStream, req: &R) -> R::Response {
    send(s, 0, 1, req).expect("send");
    api::decode_response::<R::Response>(0, recv(s)).unwrap().1
}

/// The frame of one produce request of `PER_REQUEST` messages (acks=1), and the offset of
/// its message set within it.
fn produce_frame() -> (Bytes, usize) {
    let payload = vec![b'x'; MESSAGE_SIZE];
    let msgs: Vec<Message> = (0..PER_REQUEST).map(|_| Message::new(None, Some(&payload), CompressionCodec::None)).collect();
    let set = encode_messages(CompressionCodec::None, &msgs, 0);
    let req = api::ProduceRequest { acks: 1, timeout_ms: 10_000, topics: vec![api::ProduceTopic { topic: "bench".into(), partitions: vec![api::ProducePartition { partition: 0, message_set: set.clone() }] }] };
    let frame = api::encode_request(&RequestHeader::new(api::ApiKey::Produce, 0, 1, Some("bench")), &req).unwrap();
    // The set is the frame's tail.
    let set_at = frame.len() - set.len();
    assert_eq!(&frame[set_at..], &set[..]);
    (frame, set_at)
}

/// What the broker cannot avoid doing for a produce request, without the broker: one
/// thread writes the produce frame `requests` times over loopback TCP (as the bench's
/// producer does), another reads each frame whole into one reused buffer and then, as
/// asked, writes its message set to a file (one `write` per frame, as the log does) and
/// validates it (size, CRC, magic of each message: `message::analyze`). MB/s of message
/// set, as the producer figure, and the reading thread's CPU time per message (user +
/// system: what the machine's load changes least), and the writing thread's.
fn plain_receiver_mb_s(frame: &Bytes, set_at: usize, requests: usize, append: bool, validate: bool) -> (f64, f64, f64) {
    let dir = support::TempDir::new("ceiling");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    set_receive_buffer(&l, socket_buffer());
    let addr = l.local_addr().unwrap();
    let len = frame.len();
    let path = dir.path().join("00000000000000000000.log");
    let reader = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let cpu = thread_cpu_s();
        let mut file = append.then(|| std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap());
        let mut buf = vec![0u8; len];
        for _ in 0..requests {
            s.read_exact(&mut buf).unwrap();
            let set = &buf[set_at..];
            if validate {
                let info = kafka08::message::analyze(set, 1_000_000).unwrap();
                assert_eq!(info.shallow_count, PER_REQUEST);
            }
            if let Some(f) = file.as_mut() {
                f.write_all(set).unwrap();
            }
        }
        thread_cpu_s() - cpu
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let t = Instant::now();
    let cpu = thread_cpu_s();
    for _ in 0..requests {
        s.write_all(frame).unwrap();
    }
    let send_cpu_s = thread_cpu_s() - cpu;
    let cpu_s = reader.join().unwrap();
    let per_msg = |s: f64| s * 1e6 / (requests * PER_REQUEST) as f64;
    ((requests * (len - set_at)) as f64 / 1e6 / t.elapsed().as_secs_f64(), per_msg(cpu_s), per_msg(send_cpu_s))
}

/// This thread's CPU time (user + system), in seconds.
fn thread_cpu_s() -> f64 {
    // SAFETY: an all-zero timespec is valid for clock_gettime to fill.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a timespec that outlives the call.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) }, 0);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
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
    /// The loopback ceiling and the one-thread ceiling (see [`plain_receiver_mb_s`]),
    /// measured just before this round's producer: the machine's load drifts.
    loop_mb_s: f64,
    floor_mb_s: f64,
    /// The one-thread ceiling's CPU time per message.
    floor_cpu_us_per_msg: f64,
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
    let buffer = socket_buffer().to_string();
    let mut extra: Vec<(&str, &str)> = vec![("socket.receive.buffer.bytes", buffer.as_str()), ("socket.send.buffer.bytes", buffer.as_str())];
    if metrics {
        extra.extend([("metrics.http.port", port_text.as_str()), ("metrics.http.host", "127.0.0.1")]);
    }
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
    let (frame, set_at) = produce_frame();
    let requests = total / PER_REQUEST;
    let loop_mb_s = loopback_mb_s(total * (MESSAGE_SIZE + 26));
    let (floor_mb_s, floor_cpu_us_per_msg, _) = plain_receiver_mb_s(&frame, set_at, requests, true, true);
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
        loop_mb_s,
        floor_mb_s,
        floor_cpu_us_per_msg,
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
    // Where a broker's time goes, once: the rounds measure the first and last again.
    println!(
        "broker throughput: {} messages of {} bytes, acks=1, one partition, one broker, socket buffers of {} bytes",
        total / PER_REQUEST * PER_REQUEST,
        MESSAGE_SIZE,
        socket_buffer()
    );
    println!("loopback TCP ceiling:  {:>10.1} MB/s", loop_mb);
    // The same bytes as the producer's, with what a broker cannot avoid doing to them.
    let (frame, set_at) = produce_frame();
    let requests = total / PER_REQUEST;
    for (what, append, validate) in [
        (format!("{} B produce frames, each read whole", frame.len()), false, false),
        ("... and its set written to a file".to_string(), true, false),
        ("... and validated (CRC) before: the one-thread ceiling".to_string(), true, true),
    ] {
        let (mb_s, cpu, send_cpu) = plain_receiver_mb_s(&frame, set_at, requests, append, validate);
        println!("  {what:<55} {mb_s:>8.1} MB/s ({:.2} of loopback), reader {cpu:.3}, writer {send_cpu:.3} µs CPU/msg", mb_s / loop_mb);
    }
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
        println!(
            "  producer:            {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback, {:.2} of the one-thread ceiling; both measured just before: {:.0} and {:.0} MB/s)",
            r.produce_mb_s,
            r.produce_msg_s,
            r.produce_mb_s / r.loop_mb_s,
            r.produce_mb_s / r.floor_mb_s,
            r.loop_mb_s,
            r.floor_mb_s
        );
        println!(
            "  producer, broker side: {:>7.3} µs CPU/msg  ({:.2} cores busy; the one-thread ceiling {:.3} µs CPU/msg, {:.2} of the broker's)",
            r.produce_cpu_us_per_msg,
            r.produce_cores_busy,
            r.floor_cpu_us_per_msg,
            r.floor_cpu_us_per_msg / r.produce_cpu_us_per_msg
        );
        println!("  consumer:            {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", r.consume_mb_s, r.consume_msg_s, r.consume_mb_s / r.loop_mb_s);
        results.push(r);
    }
    let (kind, name): (fn(&Round) -> bool, &str) =
        if baseline.is_some() { (|r| !r.baseline, "this build/baseline") } else { (|r| r.metrics, "metrics on/off") };
    let figures: [(&str, fn(&Round) -> f64); 4] = [
        ("producer MB/s", |r| r.produce_mb_s),
        ("producer broker µs CPU/msg", |r| r.produce_cpu_us_per_msg),
        ("one-thread ceiling / broker CPU per msg", |r| r.floor_cpu_us_per_msg / r.produce_cpu_us_per_msg),
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
    let fraction = |second, f: fn(&Round) -> f64| mean(&results, second, kind, f);
    println!(
        "producer fraction of loopback ({name}, each round against its own ceiling): {:.2} / {:.2}; of the one-thread ceiling: {:.2} / {:.2}",
        fraction(true, |r| r.produce_mb_s / r.loop_mb_s),
        fraction(false, |r| r.produce_mb_s / r.loop_mb_s),
        fraction(true, |r| r.produce_mb_s / r.floor_mb_s),
        fraction(false, |r| r.produce_mb_s / r.floor_mb_s)
    );
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
