//! A deliberately simple acks=-1 producer and a reader for durability tests: it finds the
//! leader through Metadata, sends one message per request, and on any error or lost
//! connection refreshes metadata and sends the same message again. A message counts as
//! acknowledged only when its produce response says error 0.

use super::cluster::try_call;
use bytes::Bytes;
use kafka08::api::{self, ApiRequest, RequestHeader};
use kafka08::common::ErrorCode;
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct TestProducer {
    pub bootstrap: Vec<String>,
    pub topic: String,
    leaders: HashMap<i32, String>,
    conns: HashMap<String, TcpStream>,
    pub retries: usize,
}

fn call_on<R: ApiRequest>(s: &mut TcpStream, req: &R) -> Option<R::Response> {
    let h = RequestHeader::new(R::API_KEY, 0, 1, Some("durability"));
    s.write_all(&api::encode_request(&h, req).ok()?).ok()?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let mut buf = vec![0u8; i32::from_be_bytes(size).max(0) as usize];
    s.read_exact(&mut buf).ok()?;
    api::decode_response::<R::Response>(0, Bytes::from(buf)).ok().map(|(_, r)| r)
}

impl TestProducer {
    pub fn new(bootstrap: Vec<String>, topic: &str) -> TestProducer {
        TestProducer { bootstrap, topic: topic.to_string(), leaders: HashMap::new(), conns: HashMap::new(), retries: 0 }
    }

    fn refresh(&mut self) {
        self.leaders.clear();
        for b in &self.bootstrap {
            if let Some(md) = try_call(b, &api::MetadataRequest { topics: vec![self.topic.clone()] }) {
                let hosts: HashMap<i32, String> = md.brokers.iter().map(|b| (b.id, format!("{}:{}", b.host, b.port))).collect();
                if let Some(t) = md.topics.first() {
                    for p in &t.partitions {
                        if let Some(h) = hosts.get(&p.leader) {
                            self.leaders.insert(p.partition, h.clone());
                        }
                    }
                }
                if !self.leaders.is_empty() {
                    return;
                }
            }
        }
    }

    /// Send until acknowledged (error 0) or the deadline passes; returns the offset.
    pub fn send(&mut self, partition: i32, value: &str, deadline: Duration) -> Option<i64> {
        let end = Instant::now() + deadline;
        let set = encode_messages(CompressionCodec::None, &[Message::new(None, Some(value.as_bytes()), CompressionCodec::None)], 0);
        let req = api::ProduceRequest {
            acks: -1,
            timeout_ms: 5000,
            topics: vec![api::ProduceTopic { topic: self.topic.clone(), partitions: vec![api::ProducePartition { partition, message_set: set }] }],
        };
        let mut first = true;
        while Instant::now() < end {
            if !first {
                self.retries += 1;
                std::thread::sleep(Duration::from_millis(100));
                self.refresh();
            }
            first = false;
            let Some(addr) = self.leaders.get(&partition).cloned() else { continue };
            if !self.conns.contains_key(&addr) {
                let Ok(s) = TcpStream::connect(&addr) else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                self.conns.insert(addr.clone(), s);
            }
            let s = self.conns.get_mut(&addr).expect("inserted");
            match call_on(s, &req) {
                Some(r) => {
                    let p = &r.topics[0].partitions[0];
                    if p.error_code == ErrorCode::NoError {
                        return Some(p.base_offset);
                    }
                }
                None => {
                    self.conns.remove(&addr);
                }
            }
        }
        None
    }
}

/// Every message of a partition, read from its current leader from offset 0 up to the high
/// watermark (retrying while leadership moves).
pub fn read_partition(bootstrap: &[String], topic: &str, partition: i32, deadline: Duration) -> Vec<(i64, String)> {
    let end = Instant::now() + deadline;
    'outer: while Instant::now() < end {
        let mut leader = None;
        for b in bootstrap {
            if let Some(md) = try_call(b, &api::MetadataRequest { topics: vec![topic.to_string()] }) {
                let hosts: HashMap<i32, String> = md.brokers.iter().map(|b| (b.id, format!("{}:{}", b.host, b.port))).collect();
                leader = md.topics.first().and_then(|t| t.partitions.iter().find(|p| p.partition == partition)).and_then(|p| hosts.get(&p.leader).cloned());
                if leader.is_some() {
                    break;
                }
            }
        }
        let Some(addr) = leader else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let mut out = Vec::new();
        let mut offset = 0i64;
        loop {
            let f = try_call(
                &addr,
                &api::FetchRequest {
                    replica_id: -1,
                    max_wait_ms: 0,
                    min_bytes: 0,
                    topics: vec![api::FetchTopic { topic: topic.to_string(), partitions: vec![api::FetchPartition { partition, fetch_offset: offset, max_bytes: 1 << 20 }] }],
                },
            );
            let Some(f) = f else { continue 'outer };
            let p = &f.topics[0].partitions[0];
            if p.error_code != ErrorCode::NoError {
                std::thread::sleep(Duration::from_millis(100));
                continue 'outer;
            }
            let before = out.len();
            for e in kafka08::message::deep_iter(p.message_set.clone()).flatten() {
                if e.offset >= offset {
                    out.push((e.offset, String::from_utf8_lossy(&e.message.value().unwrap_or_default()).into_owned()));
                    offset = e.offset + 1;
                }
            }
            if out.len() == before || offset >= p.high_watermark {
                return out;
            }
        }
    }
    panic!("could not read {topic}-{partition} within {deadline:?}");
}

/// Every acknowledged value is present; within a partition, first occurrences keep the
/// order in which they were acknowledged (duplicates from retries allowed, gaps not).
pub fn assert_no_loss(acked: &[String], stored: &[(i64, String)]) {
    let mut first_pos: HashMap<&str, usize> = HashMap::new();
    for (i, (_, v)) in stored.iter().enumerate() {
        first_pos.entry(v.as_str()).or_insert(i);
    }
    let mut last = None;
    for a in acked {
        let pos = *first_pos.get(a.as_str()).unwrap_or_else(|| panic!("acknowledged message {a} was lost ({} stored)", stored.len()));
        if let Some(l) = last {
            assert!(pos > l, "acknowledged message {a} is out of order");
        }
        last = Some(pos);
    }
}

/// Read a partition until every acknowledged value is visible (a new leader's high
/// watermark catches up only after its followers fetch again), or the deadline passes;
/// returns the last read for [`assert_no_loss`].
pub fn read_until_complete(bootstrap: &[String], topic: &str, partition: i32, acked: &[String], deadline: Duration) -> Vec<(i64, String)> {
    let end = Instant::now() + deadline;
    loop {
        let stored = read_partition(bootstrap, topic, partition, deadline);
        let present: std::collections::HashSet<&str> = stored.iter().map(|(_, v)| v.as_str()).collect();
        if acked.iter().all(|a| present.contains(a.as_str())) || Instant::now() >= end {
            return stored;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (key, value) of every message of a partition as the broker at `addr` serves it, from
/// offset 0 to the high watermark; what was read so far if the broker stops answering.
pub fn read_keyed_partition(addr: &str, topic: &str, partition: i32) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        let req = api::FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            topics: vec![api::FetchTopic {
                topic: topic.to_string(),
                partitions: vec![api::FetchPartition { partition, fetch_offset: offset, max_bytes: 1 << 20 }],
            }],
        };
        let Some(f) = try_call(addr, &req) else { return out };
        let p = &f.topics[0].partitions[0];
        let before = out.len();
        for e in kafka08::message::deep_iter(p.message_set.clone()).flatten() {
            if e.offset >= offset {
                let text = |b: Option<bytes::Bytes>| b.map(|b| String::from_utf8_lossy(&b).into_owned());
                out.push((text(e.message.key()), text(e.message.value()).unwrap_or_default()));
                offset = e.offset + 1;
            }
        }
        if out.len() == before || offset >= p.high_watermark {
            return out;
        }
    }
}
