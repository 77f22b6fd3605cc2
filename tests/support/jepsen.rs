//! Jepsen's method for partition tests: a [`Workload`] of clients that each send unique
//! values with acks=-1, one attempt per value, and record what was acknowledged, refused
//! or left unknown (timeout, lost connection), and whether a fault was active at the time;
//! a seeded [`Rng`] for the nemesis that picks the faults; and a [`check`] that reads every
//! partition afterwards and lists the acknowledged values that are missing.
//!
//! Only an acknowledged value must survive: a refused or unknown one may or may not be in
//! the log, and a value may appear twice (the producer's retry after a lost answer).

use super::hosts::HostCluster;
use super::wire;
use kafka08::api::{self, RequestHeader};
use kafka08::common::ErrorCode;
use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A small seeded generator (SplitMix64): the same seed gives the same nemesis schedule.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next_u64() as usize % items.len()]
    }
}

/// What became of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Error 0 in the produce response: must survive.
    Acked,
    /// An error code (not the leader, not enough replicas, timed out...), or no leader
    /// known to send to.
    Refused,
    /// No answer (timeout, connection lost): may or may not be stored.
    Unknown,
}

/// Counts of outcomes, split by whether a fault was active when the attempt started.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub attempted: u64,
    pub acked: u64,
    pub refused: u64,
    pub unknown: u64,
}

impl Counts {
    fn add(&mut self, o: Outcome) {
        self.attempted += 1;
        match o {
            Outcome::Acked => self.acked += 1,
            Outcome::Refused => self.refused += 1,
            Outcome::Unknown => self.unknown += 1,
        }
    }

    /// Acknowledged share of attempts, in percent.
    pub fn acked_percent(&self) -> f64 {
        if self.attempted == 0 {
            0.0
        } else {
            100.0 * self.acked as f64 / self.attempted as f64
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} attempted, {} acknowledged ({:.1}%), {} refused, {} unknown", self.attempted, self.acked, self.acked_percent(), self.refused, self.unknown)
    }
}

/// Everything the clients did.
#[derive(Debug, Default)]
pub struct History {
    /// Acknowledged values per partition, in acknowledgement order.
    pub acked: HashMap<i32, Vec<String>>,
    pub calm: Counts,
    pub faulty: Counts,
}

impl History {
    pub fn total(&self) -> Counts {
        let (c, f) = (&self.calm, &self.faulty);
        Counts { attempted: c.attempted + f.attempted, acked: c.acked + f.acked, refused: c.refused + f.refused, unknown: c.unknown + f.unknown }
    }
}

/// How long one produce may wait for its answer: the request's own `timeout_ms` (5 s) for
/// the ISR, plus slack for a slow link.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(8);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One client: sends to the leader of one partition, finding it through metadata.
struct Client {
    bootstrap: Vec<String>,
    topic: String,
    partition: i32,
    leader: Option<SocketAddr>,
    conn: Option<TcpStream>,
    correlation: i32,
}

impl Client {
    /// Ask the brokers in turn, starting one further each time, as 0.8's producer
    /// shuffles its broker list: an isolated old leader still names itself, and a client
    /// that always asked it first would never find the new one.
    fn find_leader(&mut self) -> Option<SocketAddr> {
        self.bootstrap.rotate_left(1);
        for b in &self.bootstrap {
            let Some(md) = wire::request(b, 0, &api::MetadataRequest { topics: vec![self.topic.clone()] }, CONNECT_TIMEOUT) else { continue };
            let leader = md.topics.first().and_then(|t| t.partitions.iter().find(|p| p.partition == self.partition)).map(|p| p.leader);
            if let Some(addr) = leader.and_then(|l| md.brokers.iter().find(|b| b.id == l)).and_then(|b| (b.host.as_str(), b.port as u16).to_socket_addrs().ok()?.next()) {
                return Some(addr);
            }
        }
        None
    }

    fn attempt(&mut self, value: &str) -> Outcome {
        if self.leader.is_none() {
            self.leader = self.find_leader();
            self.conn = None;
        }
        let Some(leader) = self.leader else { return Outcome::Refused };
        if self.conn.is_none() {
            let Ok(s) = TcpStream::connect_timeout(&leader, CONNECT_TIMEOUT) else {
                self.leader = None;
                return Outcome::Refused;
            };
            let _ = s.set_read_timeout(Some(ANSWER_TIMEOUT));
            let _ = s.set_write_timeout(Some(ANSWER_TIMEOUT));
            self.conn = Some(s);
        }
        let set = encode_messages(CompressionCodec::None, &[Message::new(None, Some(value.as_bytes()), CompressionCodec::None)], 0);
        let req = api::ProduceRequest {
            acks: -1,
            timeout_ms: 5000,
            topics: vec![api::ProduceTopic { topic: self.topic.clone(), partitions: vec![api::ProducePartition { partition: self.partition, message_set: set }] }],
        };
        self.correlation += 1;
        let h = RequestHeader::new(<api::ProduceRequest as api::ApiRequest>::API_KEY, 0, self.correlation, Some("jepsen"));
        let frame = api::encode_request(&h, &req).expect("encode produce");
        let s = self.conn.as_mut().expect("connected");
        let answer = s.write_all(&frame).ok().and_then(|_| wire::read_frame(s).ok()).and_then(|f| api::decode_response::<api::ProduceResponse>(0, f).ok());
        match answer {
            Some((h, r)) if h.correlation_id == self.correlation => {
                let code = r.topics.first().and_then(|t| t.partitions.first()).map(|p| p.error_code);
                if code == Some(ErrorCode::NoError) {
                    Outcome::Acked
                } else {
                    // Ask again where the leader is before the next attempt.
                    self.leader = None;
                    Outcome::Refused
                }
            }
            _ => {
                self.leader = None;
                self.conn = None;
                Outcome::Unknown
            }
        }
    }
}

/// Clients producing unique values to every partition of a topic until stopped.
pub struct Workload {
    stop: Arc<AtomicBool>,
    faulty: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    history: Arc<Mutex<History>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workload {
    /// One client per partition, each sending `<prefix>-p<partition>-<n>` for n = 0, 1, ...
    pub fn start(bootstrap: Vec<String>, topic: &str, partitions: i32, prefix: &str) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let faulty = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let history = Arc::new(Mutex::new(History::default()));
        let threads = (0..partitions)
            .map(|partition| {
                let (stop, faulty, acked, history) = (stop.clone(), faulty.clone(), acked.clone(), history.clone());
                let mut client = Client { bootstrap: bootstrap.clone(), topic: topic.to_string(), partition, leader: None, conn: None, correlation: 0 };
                let prefix = prefix.to_string();
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        let value = format!("{prefix}-p{partition}-{n}");
                        n += 1;
                        let during_fault = faulty.load(Ordering::SeqCst);
                        let outcome = client.attempt(&value);
                        let mut h = history.lock().unwrap_or_else(|e| e.into_inner());
                        if during_fault { &mut h.faulty } else { &mut h.calm }.add(outcome);
                        if outcome == Outcome::Acked {
                            h.acked.entry(partition).or_default().push(value);
                            acked.fetch_add(1, Ordering::SeqCst);
                        } else {
                            drop(h);
                            // Do not spin on a partition that has no leader right now.
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                })
            })
            .collect();
        Workload { stop, faulty, acked, history, threads }
    }

    /// Mark the attempts that start from now on as made during a fault (or not).
    pub fn set_faulty(&self, faulty: bool) {
        self.faulty.store(faulty, Ordering::SeqCst);
    }

    /// Acknowledged values so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Wait until `more` further values are acknowledged (the cluster takes writes).
    pub fn wait_for_acks(&self, more: u64, deadline: Duration) -> bool {
        let from = self.acked();
        super::eventually(deadline, || self.acked() >= from + more)
    }

    /// Stop the clients (each finishes its attempt in flight) and return the history.
    pub fn stop(mut self) -> History {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            t.join().expect("client thread");
        }
        std::mem::take(&mut *self.history.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What the checker found in one topic.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Acknowledged values not found, per partition.
    pub lost: HashMap<i32, Vec<String>>,
    /// Entries read (duplicates and unacknowledged values included).
    pub stored: usize,
}

impl Verdict {
    pub fn lost_count(&self) -> usize {
        self.lost.values().map(|v| v.len()).sum()
    }
}

/// Read every partition from its leader (up to the high watermark, retrying until every
/// acknowledged value is visible or `deadline` passes) and list what is missing.
pub fn check(bootstrap: &[String], topic: &str, partitions: i32, history: &History, deadline: Duration) -> Verdict {
    let mut verdict = Verdict::default();
    for p in 0..partitions {
        let acked = history.acked.get(&p).cloned().unwrap_or_default();
        let stored = super::producer::read_until_complete(bootstrap, topic, p, &acked, deadline);
        verdict.stored += stored.len();
        let present: HashSet<&str> = stored.iter().map(|(_, v)| v.as_str()).collect();
        let lost: Vec<String> = acked.iter().filter(|a| !present.contains(a.as_str())).cloned().collect();
        if !lost.is_empty() {
            verdict.lost.insert(p, lost);
        }
    }
    verdict
}

/// Broker settings of the partition tests: RF 3 topics with `min.insync.replicas=2`, and
/// failure detection within a few seconds, so a fault of 5-9 s moves leaders and ISRs.
pub fn settings(unclean: bool) -> Vec<(&'static str, &'static str)> {
    vec![
        ("zookeeper.session.timeout.ms", "4000"),
        ("replica.lag.time.max.ms", "4000"),
        ("replica.fetch.wait.max.ms", "100"),
        ("replica.socket.timeout.ms", "4000"),
        ("controlled.shutdown.enable", "false"),
        ("min.insync.replicas", "2"),
        ("unclean.leader.election.enable", if unclean { "true" } else { "false" }),
    ]
}

/// The topic-level half of [`settings`].
pub fn topic_config(unclean: bool) -> Vec<(&'static str, &'static str)> {
    vec![("min.insync.replicas", "2"), ("unclean.leader.election.enable", if unclean { "true" } else { "false" })]
}

/// How long a cluster may take to elect leaders and refill every ISR once all faults are
/// healed (sessions expire in 4 s in these tests; a loaded machine is slow).
pub const CONVERGE: Duration = Duration::from_secs(90);

/// What a run measured.
pub struct Run {
    pub history: History,
    pub lost: usize,
    pub stored: usize,
    pub converged_in: Option<Duration>,
}

/// Print the run's `jepsen:` line.
pub fn report(name: &str, run: &Run) {
    let t = run.history.total();
    eprintln!(
        "jepsen: {name}: {} attempted, {} acknowledged, {} lost; during faults {}; calm {}; {} entries read; converged {}",
        t.attempted,
        t.acked,
        run.lost,
        run.history.faulty,
        run.history.calm,
        run.stored,
        run.converged_in.map_or("NOT within the bound".to_string(), |d| format!("in {:.1} s after healing", d.as_secs_f64())),
    );
}

/// Heal everything, wait for convergence, let the clients be acknowledged again, stop
/// them and check what was stored.
pub fn finish(c: &mut HostCluster, topic: &str, partitions: i32, workload: Workload) -> Run {
    c.hosts.heal();
    let healed = Instant::now();
    let converged = c.wait_converged(topic, partitions, 3, CONVERGE).map(|_| healed.elapsed());
    if converged.is_none() {
        eprintln!("jepsen: {topic} did not converge within {CONVERGE:?}:\n{}", c.describe(topic, partitions));
        for b in &c.brokers {
            let log = b.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains("ISR") || l.contains("LeaderAndIsr") || l.contains("leader of") || l.contains("follows") || l.contains("controller") || l.contains("Registered")).collect();
            eprintln!("--- broker {}: ISR and leadership lines\n{}", b.id, lines[lines.len().saturating_sub(60)..].join("\n"));
        }
    }
    let taking_writes = workload.wait_for_acks(10 * partitions as u64, Duration::from_secs(60));
    let history = workload.stop();
    assert!(taking_writes, "the cluster takes no writes after healing: {}", history.total());
    let verdict = check(&c.bootstrap(), topic, partitions, &history, Duration::from_secs(60));
    for (p, lost) in &verdict.lost {
        eprintln!("jepsen: {topic}-{p}: {} acknowledged values missing, first {:?}", lost.len(), &lost[..lost.len().min(5)]);
    }
    Run { lost: verdict.lost_count(), stored: verdict.stored, converged_in: converged, history }
}

/// Nothing acknowledged lost, and the cluster converged (unclean election off).
pub fn assert_safe(name: &str, run: &Run) {
    report(name, run);
    assert_eq!(run.lost, 0, "{name}: acknowledged values lost with unclean leader election off");
    assert!(run.converged_in.is_some(), "{name}: no leader and full ISR for every partition within {CONVERGE:?} of healing");
}

