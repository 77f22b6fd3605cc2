//! One producer and one consumer of 100-byte messages against one real broker (acks=1),
//! next to the loopback TCP ceiling measured in the same run.
//!
//! `cargo bench --bench broker_throughput` (needs ZooKeeper from zk-scripts/install.sh).
//! KAFKA08_BENCH_MESSAGES sets the message count (default 5,000,000).
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

fn main() {
    let total: usize = std::env::var("KAFKA08_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000);
    // The broker's info lines would be noise beside the numbers.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn,kafka08::server::kafka_server=info");
    }
    let zk = ZkServer::start();
    let broker = KafkaBroker::start(1, &zk.connect_string(), &[]);
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

    let loop_mb = loopback_mb_s(total * (MESSAGE_SIZE + 26));

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
    let set_mb = (produced * (MESSAGE_SIZE + 26)) as f64 / 1e6;
    println!("broker throughput: {} messages of {} bytes, acks=1, one partition, one broker", produced, MESSAGE_SIZE);
    println!("loopback TCP ceiling:  {:>10.1} MB/s", loop_mb);
    println!("producer:              {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", set_mb / produce_s, produced as f64 / produce_s, set_mb / produce_s / loop_mb);
    // The loopback figure moves with the machine's load; the broker's CPU per message
    // and its busy fraction during the produce phase do not depend on it as much.
    println!(
        "producer, broker side:     {:>7.3} µs CPU/msg  ({:.2} cores busy)",
        produce_cpu_s * 1e6 / produced as f64,
        produce_cpu_s / produce_s
    );
    println!("consumer:              {:>10.1} MB/s  {:>12.0} msg/s  ({:.2} of loopback)", bytes as f64 / 1e6 / consume_s, count as f64 / consume_s, bytes as f64 / 1e6 / consume_s / loop_mb);
    drop(broker);
    drop(zk);
}
