//! One producer and one consumer of 100-byte messages against one real broker (acks=1),
//! next to the loopback TCP ceiling measured in the same run.
//!
//! `cargo bench --bench broker_throughput` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_MESSAGES sets the message count (default 5,000,000).
//!
//! The broker runs four times in the same run, alternately with the metrics endpoint off
//! and on (`metrics.http.port`, scraped every second while it works), to show what
//! counting costs the data path.
//!
//! The bench acts as the controller for its single broker (LeaderAndIsr + UpdateMetadata)
//! so that only the data path is measured.

use bytes::Bytes;
use kafka08::api::{self, ApiRequest, Broker, RequestHeader};
use kafka08::message::{encode_messages, shallow_iter, CompressionCodec, Message};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MESSAGE_SIZE: usize = 100;
const PER_REQUEST: usize = 500;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Guard(Vec<Child>, PathBuf, PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new(self.2.join("zk-scripts/zk.sh")).args(["stop", "--kill"]).arg(&self.1).output();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn send<R: ApiRequest>(s: &mut TcpStream, cid: i32, req: &R) {
    let h = RequestHeader::new(R::API_KEY, 0, cid, Some("bench"));
    s.write_all(&api::encode_request(&h, req).unwrap()).unwrap();
}

fn recv(s: &mut TcpStream) -> Bytes {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).unwrap();
    let mut buf = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut buf).unwrap();
    Bytes::from(buf)
}

fn call<R: ApiRequest>(s: &mut TcpStream, req: &R) -> R::Response {
    send(s, 1, req);
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

fn main() {
    let total: usize = std::env::var("KAFKA08_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("kafka08-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zk_port = free_port();
    let out = Command::new(root.join("zk-scripts/zk.sh")).args(["start"]).arg(dir.join("zk")).arg(zk_port.to_string()).output().unwrap();
    assert!(out.status.success(), "zookeeper: {}", String::from_utf8_lossy(&out.stderr));
    let mut guard = Guard(vec![], dir.join("zk"), root.clone());
    let loop_mb = loopback_mb_s(total * (MESSAGE_SIZE + 26));
    println!("broker throughput: {} messages of {} bytes, acks=1, one partition, one broker", total / PER_REQUEST * PER_REQUEST, MESSAGE_SIZE);
    println!("loopback TCP ceiling:  {:>10.1} MB/s", loop_mb);
    for (round, metrics) in [false, true, false, true].into_iter().enumerate() {
        let run = dir.join(format!("run{round}"));
        let (produced, produce_s, bytes, count, consume_s) = measure(&mut guard, &run, zk_port, total, metrics);
        let set_mb = (produced * (MESSAGE_SIZE + 26)) as f64 / 1e6;
        let label = if metrics { "metrics on " } else { "metrics off" };
        println!("{label} producer:  {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", set_mb / produce_s, produced as f64 / produce_s, set_mb / produce_s / loop_mb);
        println!("{label} consumer:  {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", bytes as f64 / 1e6 / consume_s, count as f64 / consume_s, bytes as f64 / 1e6 / consume_s / loop_mb);
        for mut c in guard.0.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&run);
    }
    drop(guard);
}

/// Start a broker in `dir` (with the metrics endpoint when `metrics`), produce `total`
/// messages and consume them; (produced, produce seconds, bytes and messages consumed,
/// consume seconds).
fn measure(guard: &mut Guard, dir: &std::path::Path, zk_port: u16, total: usize, metrics: bool) -> (usize, f64, usize, usize, f64) {
    std::fs::create_dir_all(dir).unwrap();
    let chroot = dir.file_name().unwrap().to_string_lossy().into_owned();
    let metrics_port = free_port();
    let metrics_props = if metrics { format!("metrics.http.port={metrics_port}\nmetrics.http.host=127.0.0.1\n") } else { String::new() };
    let port = free_port();
    std::fs::write(
        dir.join("server.properties"),
        format!("broker.id=1\nport={port}\nhost.name=127.0.0.1\nlog.dirs={}\nzookeeper.connect=127.0.0.1:{zk_port}/{chroot}\n{metrics_props}", dir.join("data").display()),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    guard.0.push(
        Command::new(env!("CARGO_BIN_EXE_kafka08"))
            .arg("kafka.Kafka")
            .arg(dir.join("server.properties"))
            .env("KAFKA08_EXIT_WITH_PARENT", "1")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ctl = loop {
        if let Ok(s) = TcpStream::connect(&addr) {
            break s;
        }
        assert!(Instant::now() < deadline, "broker did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let me = Broker::new(1, "127.0.0.1", port as i32);
    let st = api::PartitionState { topic: "bench".into(), partition: 0, controller_epoch: 1, leader: 1, leader_epoch: 0, isr: vec![1], zk_version: 0, replicas: vec![1] };
    call(&mut ctl, &api::LeaderAndIsrRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st.clone()], leaders: vec![me.clone()] });
    call(&mut ctl, &api::UpdateMetadataRequest { controller_id: 1, controller_epoch: 1, partition_states: vec![st], alive_brokers: vec![me] });

    // A scraper asking every second, as a busy Prometheus would (ends with the broker).
    if metrics {
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", metrics_port)) else { return };
            let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
    }

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
    (produced, produce_s, bytes, count, consume_s)
}
