//! The async producer's sender with several requests in flight per broker
//! (`max.in.flight.requests.per.connection` > 1; 0.8.2's old producer sent one at a time,
//! which the [`super::EventHandler`] path keeps for the default of 1).
//!
//! Batches from the send loop join a backlog. Each pass places the backlog as one attempt
//! of the event handler would (partition, leader, per-partition sets) and writes one
//! request per leader broker without waiting for earlier answers, under two rules:
//!
//! - a partition with a request in flight, or with messages waiting for their retry, is
//!   not in the next request: its messages stay in the backlog. So a retried set can never
//!   be overtaken by a later set of the same partition, and per-partition order holds;
//! - a broker with `max.in.flight` unanswered requests gets no more until one is answered.
//!
//! Answers are read in order of correlation id (0.8 brokers answer a connection in
//! request order). A failed set (a broker error, a lost connection — each request in
//! flight on it, in order —, a timeout, no leader) counts one attempt for its messages and
//! waits `retry.backoff.ms`, then the metadata of its topics is refreshed and it goes back
//! to the front of the backlog; after `message.send.max.retries` retries a message is
//! dropped and counted as failed, as the event handler does. With acks=0 nothing is
//! answered: requests are written and forgotten, as before.

use super::event_handler::{log_failed, response_status, verdict, EventHandler, Idx, LeaderTable, Placed, Verdict};
use super::producer::AsyncStats;
use super::KeyedMessage;
use crate::api::{decode_response, ProduceRequest, ProduceResponse};
use crate::network::{Answer, PipelinedConnection};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A message with its place in arrival order and the attempts it has used.
struct Entry {
    seq: u64,
    attempts: u32,
    message: KeyedMessage,
}

/// One partition's messages in a request on the wire.
struct SentSet {
    topic: String,
    partition: i32,
    entries: Vec<Entry>,
}

/// A request awaiting its answer.
struct InFlight {
    correlation_id: i32,
    sets: Vec<SentSet>,
}

/// A broker connection and its unanswered requests, oldest first.
struct Conn {
    conn: PipelinedConnection,
    generation: u64,
    requests: VecDeque<InFlight>,
}

/// Why a topic's partitions may not be in the next request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Busy {
    /// Partitions with a request in flight.
    pub(super) in_flight: BTreeSet<i32>,
    /// Partitions with messages waiting for their retry.
    pub(super) retrying: BTreeSet<i32>,
    /// Messages of the topic that no partition could be chosen for wait for their retry.
    pub(super) topic_retrying: bool,
}

impl Busy {
    fn is_empty(&self) -> bool {
        self.in_flight.is_empty() && self.retrying.is_empty() && !self.topic_retrying
    }
}

/// The send loop's choice of what may go, per partition of a topic (`true`: it waits): a
/// partition waits while it is [`Busy`] or while its leader has `max_in_flight` requests
/// unanswered (`in_flight(broker)`). A partition without a leader and not busy does not
/// wait: its messages fail this attempt, as in 0.8.2.
pub(super) fn held_partitions(
    busy: Option<&Busy>,
    leaders: &LeaderTable,
    in_flight: impl Fn(i32) -> usize,
    max_in_flight: usize,
) -> Vec<bool> {
    leaders
        .iter()
        .enumerate()
        .map(|(p, leader)| {
            let p = p as i32;
            let busy = busy.is_some_and(|b| b.topic_retrying || b.in_flight.contains(&p) || b.retrying.contains(&p));
            let full = matches!(leader, Some(Some(broker)) if in_flight(*broker) >= max_in_flight);
            busy || full
        })
        .collect()
}

/// Messages of `backlog` and `retries` in one list, in arrival order (both are in order).
fn merge_in_order(backlog: Vec<Entry>, retries: Vec<Entry>) -> Vec<Entry> {
    let mut out = Vec::with_capacity(backlog.len() + retries.len());
    let (mut a, mut b) = (backlog.into_iter().peekable(), retries.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.seq < y.seq,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

type Tag = (i32, u64);

pub(super) struct Pipeline {
    handler: EventHandler,
    max_in_flight: usize,
    max_attempts: u32,
    backoff: Duration,
    conns: HashMap<i32, Conn>,
    next_generation: u64,
    answers_tx: mpsc::UnboundedSender<Answer<Tag>>,
    answers: mpsc::UnboundedReceiver<Answer<Tag>>,
    /// Not sent yet, in arrival order; `meta` holds each one's sequence number and
    /// attempts used (kept apart so that a pass places the messages where they lie).
    backlog: Vec<KeyedMessage>,
    meta: Vec<(u64, u32)>,
    /// Failed, waiting until `retry_at`; in arrival order once sorted.
    retries: Vec<Entry>,
    retry_at: Option<Instant>,
    busy: HashMap<String, Busy>,
    next_seq: u64,
    stats: std::sync::Arc<AsyncStats>,
}

/// What the send loop waits for besides its queue.
pub(super) enum Event {
    Answer(Answer<Tag>),
    RetryDue,
    Expired,
}

impl Pipeline {
    pub(super) fn new(handler: EventHandler, stats: std::sync::Arc<AsyncStats>) -> Pipeline {
        let config = handler.config().clone();
        let (answers_tx, answers) = mpsc::unbounded_channel();
        Pipeline {
            handler,
            max_in_flight: config.max_in_flight.max(1),
            max_attempts: config.message_send_max_retries + 1,
            backoff: Duration::from_millis(config.retry_backoff_ms),
            conns: HashMap::new(),
            next_generation: 0,
            answers_tx,
            answers,
            backlog: Vec::new(),
            meta: Vec::new(),
            retries: Vec::new(),
            retry_at: None,
            busy: HashMap::new(),
            next_seq: 0,
            stats,
        }
    }

    /// Messages not on the wire yet (waiting retries excluded).
    pub(super) fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// Nothing left to send or to wait for.
    pub(super) fn is_idle(&self) -> bool {
        self.backlog.is_empty() && self.retries.is_empty() && self.conns.values().all(|c| c.requests.is_empty())
    }

    /// The next answer, retry or request timeout (never returns while there is none).
    pub(super) async fn next_event(&mut self) -> Event {
        let retry_at = self.retry_at;
        let deadline = self.conns.values().filter_map(|c| c.conn.deadline()).min();
        let far = Instant::now() + Duration::from_secs(86400);
        tokio::select! {
            Some(answer) = self.answers.recv() => Event::Answer(answer),
            _ = tokio::time::sleep_until(retry_at.unwrap_or(far)), if retry_at.is_some() => Event::RetryDue,
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => Event::Expired,
        }
    }

    pub(super) async fn handle_event(&mut self, event: Event) {
        match event {
            Event::Answer(((broker, generation), frame)) => self.on_answer(broker, generation, frame),
            Event::RetryDue => self.release_retries().await,
            Event::Expired => {
                let now = Instant::now();
                let expired: Vec<i32> =
                    self.conns.iter().filter(|(_, c)| c.conn.deadline().is_some_and(|d| d <= now)).map(|(b, _)| *b).collect();
                for broker in expired {
                    self.connection_failed(broker, "timed out waiting for the answer");
                }
            }
        }
        self.pass().await;
    }

    /// Add a batch from the queue and send what may go.
    pub(super) async fn submit(&mut self, batch: Vec<KeyedMessage>) {
        if batch.is_empty() {
            return;
        }
        // What is in the backlog already waits for an answer or a retry, which nothing has
        // changed since the last pass: only the new messages are placed.
        let waiting = self.backlog.len();
        self.meta.extend((self.next_seq..).take(batch.len()).map(|seq| (seq, 0)));
        self.next_seq += batch.len() as u64;
        if self.backlog.is_empty() {
            self.backlog = batch;
        } else {
            self.backlog.extend(batch);
        }
        self.pass_from(waiting).await;
    }

    /// Send everything, waiting for every answer and retry; then close the connections.
    pub(super) async fn drain(&mut self) {
        self.pass().await;
        while !self.is_idle() {
            let event = self.next_event().await;
            self.handle_event(event).await;
        }
        self.conns.clear();
        self.handler.close();
    }

    /// One attempt over the backlog: what may go is sent, the rest stays.
    async fn pass(&mut self) {
        self.pass_from(0).await
    }

    /// One attempt over the backlog from position `from` on (the messages before it stay).
    /// Each message is moved once, to where it goes.
    async fn pass_from(&mut self, from: usize) {
        if from >= self.backlog.len() {
            return;
        }
        let (backlog, meta) = if from == 0 {
            (std::mem::take(&mut self.backlog), std::mem::take(&mut self.meta))
        } else {
            (self.backlog.split_off(from), self.meta.split_off(from))
        };
        let n = backlog.len();
        let all: Vec<Idx> = (0..n as Idx).collect();
        self.handler.refresh_if_due(&backlog, &all).await;
        let (busy, conns, max) = (&self.busy, &self.conns, self.max_in_flight);
        let rule = |topic: &str, leaders: &LeaderTable| {
            held_partitions(busy.get(topic), leaders, |b| conns.get(&b).map_or(0, |c| c.requests.len()), max)
        };
        let Placed { attempt, names, per_broker, held } = self.handler.place(&backlog, &all, Some(&rule)).await;
        // Each message's group: 0 stays in the backlog; the others fail or go on the wire.
        let mut dest = vec![0u32; n];
        let mut sizes = vec![held.len()];
        let mut group = |ids: &[Idx], sizes: &mut Vec<usize>| {
            let g = sizes.len() as u32;
            sizes.push(ids.len());
            for &i in ids {
                dest[i as usize] = g;
            }
            g as usize
        };
        // Placement failures (no leader, no metadata): each failure's messages are a run
        // of the retry list, in order.
        let mut rest = &attempt.retry[..];
        let mut failed = Vec::with_capacity(attempt.failures.len());
        for f in &attempt.failures {
            let (now, later) = rest.split_at(f.messages.min(rest.len()));
            rest = later;
            failed.push((f.topic.clone(), f.partition, group(now, &mut sizes), f.reason.clone()));
        }
        let mut requests = Vec::with_capacity(per_broker.len());
        for (broker, mut sets) in per_broker {
            let request = self.handler.build_request(&names, &mut sets);
            let parts: Vec<(String, i32, usize)> =
                sets.iter().map(|s| (names[s.topic].to_string(), s.partition, group(&s.messages, &mut sizes))).collect();
            requests.push((broker, request, parts));
        }
        drop(names);
        let mut groups: Vec<Vec<Entry>> = sizes.iter().map(|&k| Vec::with_capacity(k)).collect();
        self.backlog.reserve(held.len());
        self.meta.reserve(held.len());
        for ((message, (seq, attempts)), g) in backlog.into_iter().zip(meta).zip(dest) {
            if g == 0 {
                self.backlog.push(message);
                self.meta.push((seq, attempts));
            } else {
                groups[g as usize].push(Entry { seq, attempts, message });
            }
        }
        for (topic, partition, g, reason) in failed {
            self.failed(&topic, partition, std::mem::take(&mut groups[g]), &reason);
        }
        for (broker, request, parts) in requests {
            let sets = parts
                .into_iter()
                .map(|(topic, partition, g)| SentSet { topic, partition, entries: std::mem::take(&mut groups[g]) })
                .collect();
            self.send(broker, request, sets).await;
        }
    }

    /// Write `request` to `broker` (connecting if needed) and note it in flight.
    async fn send(&mut self, broker: i32, request: ProduceRequest, sets: Vec<SentSet>) {
        let answered = request.acks != 0;
        if let Err(e) = self.connect(broker).await {
            let reason = self.handler.send_failed(broker, &e);
            self.fail_sets(sets, &reason);
            return;
        }
        let client_id = self.handler.config().client_id.clone();
        let conn = self.conns.get_mut(&broker).expect("connected above");
        match conn.conn.write(&client_id, &request, answered).await {
            Ok(correlation_id) if answered => {
                for s in &sets {
                    self.busy.entry(s.topic.clone()).or_default().in_flight.insert(s.partition);
                }
                conn.requests.push_back(InFlight { correlation_id, sets });
            }
            Ok(_) => {}
            Err(e) => {
                // The requests already in flight on this connection come first.
                self.connection_failed(broker, &e.to_string());
                let reason = self.handler.send_failed(broker, &e.to_string());
                self.fail_sets(sets, &reason);
            }
        }
    }

    async fn connect(&mut self, broker: i32) -> Result<(), String> {
        let (host, port) =
            self.handler.broker_address(broker).ok_or_else(|| format!("broker {} is not in the metadata", broker))?;
        let peer = format!("{}:{}", host, port);
        if self.conns.get(&broker).is_some_and(|c| c.conn.peer() == peer) {
            return Ok(());
        }
        if self.conns.contains_key(&broker) {
            // The broker moved: whatever is in flight to its old address is lost with it.
            self.connection_failed(broker, "the broker's address changed");
        }
        let port = u16::try_from(port).map_err(|_| format!("broker {} has an invalid port {}", broker, port))?;
        let config = self.handler.config().clone();
        self.next_generation += 1;
        let generation = self.next_generation;
        let conn = PipelinedConnection::connect(
            &host,
            port,
            Duration::from_millis(config.request_timeout_ms as u64),
            config.socket_timeout(),
            (broker, generation),
            self.answers_tx.clone(),
        )
        .await
        .map_err(|e| format!("cannot connect: {}", e))?;
        self.conns.insert(broker, Conn { conn, generation, requests: VecDeque::new() });
        Ok(())
    }

    fn on_answer(&mut self, broker: i32, generation: u64, frame: Result<bytes::Bytes, crate::network::ClientError>) {
        let Some(c) = self.conns.get_mut(&broker).filter(|c| c.generation == generation) else {
            return; // from a connection already given up
        };
        let payload = match frame {
            Ok(p) => p,
            Err(e) => return self.connection_failed(broker, &e.to_string()),
        };
        let correlation_id = match c.conn.take_answer(&payload) {
            Ok(id) => id,
            Err(e) => return self.connection_failed(broker, &e.to_string()),
        };
        if c.requests.front().map(|r| r.correlation_id) != Some(correlation_id) {
            return self.connection_failed(broker, &format!("answer {} matches no request in flight", correlation_id));
        }
        let request = c.requests.pop_front().expect("checked above");
        let response = match decode_response::<ProduceResponse>(0, payload) {
            Ok((_, r)) => r,
            Err(e) => {
                self.conns.get_mut(&broker).expect("present").requests.push_front(request);
                return self.connection_failed(broker, &format!("cannot decode response: {}", e));
            }
        };
        let status = response_status(&response);
        let mut retry = Vec::new();
        for s in request.sets {
            self.done_in_flight(&s.topic, s.partition);
            match verdict(broker, status.get(&(s.topic.as_str(), s.partition)).copied()) {
                Verdict::Acked => {}
                Verdict::Fatal(reason) => self.give_up(&s.topic, Some(s.partition), s.entries.len() as u64, &reason),
                Verdict::Retry(reason) => retry.push((s, reason)),
            }
        }
        if !retry.is_empty() {
            log_failed(broker, retry.iter().map(|(s, r)| (s.topic.as_str(), s.partition, r.as_str())));
        }
        for (s, reason) in retry {
            self.failed(&s.topic, Some(s.partition), s.entries, &reason);
        }
    }

    /// The connection to `broker` is lost: every request in flight on it fails, in order.
    fn connection_failed(&mut self, broker: i32, error: &str) {
        let Some(c) = self.conns.remove(&broker) else { return };
        if c.requests.is_empty() {
            return;
        }
        let reason = self.handler.send_failed(broker, error);
        for request in c.requests {
            for s in &request.sets {
                self.done_in_flight(&s.topic, s.partition);
            }
            self.fail_sets(request.sets, &reason);
        }
    }

    fn fail_sets(&mut self, sets: Vec<SentSet>, reason: &str) {
        for s in sets {
            self.failed(&s.topic, Some(s.partition), s.entries, reason);
        }
    }

    fn done_in_flight(&mut self, topic: &str, partition: i32) {
        if let Some(b) = self.busy.get_mut(topic) {
            b.in_flight.remove(&partition);
            if b.is_empty() {
                self.busy.remove(topic);
            }
        }
    }

    /// The messages of `topic` (`partition`: `None` when none could be chosen) used an
    /// attempt and failed: they wait for their retry, and so does their partition, unless
    /// they have no attempt left.
    fn failed(&mut self, topic: &str, partition: Option<i32>, entries: Vec<Entry>, reason: &str) {
        if entries.is_empty() {
            return;
        }
        let (retry, spent): (Vec<Entry>, Vec<Entry>) = entries
            .into_iter()
            .map(|mut e| {
                e.attempts += 1;
                e
            })
            .partition(|e| e.attempts < self.max_attempts);
        if !spent.is_empty() {
            self.give_up(topic, partition, spent.len() as u64, reason);
        }
        if retry.is_empty() {
            return;
        }
        let busy = self.busy.entry(topic.to_string()).or_default();
        match partition {
            Some(p) => {
                busy.retrying.insert(p);
            }
            None => busy.topic_retrying = true,
        }
        self.retries.extend(retry);
        // Every failure waits retry.backoff.ms before its metadata refresh and resend.
        self.retry_at = Some(Instant::now() + self.backoff);
    }

    fn give_up(&mut self, topic: &str, partition: Option<i32>, messages: u64, reason: &str) {
        let place = match partition {
            Some(p) => format!("[{},{}]", topic, p),
            None => topic.to_string(),
        };
        let e = format!("Failed to send {} messages to {} after {} attempts: {}", messages, place, self.max_attempts, reason);
        log::error!("{}", e);
        self.stats.record_failure(messages, e);
    }

    /// The backoff is over: refresh the metadata of the waiting messages' topics and put
    /// them back in the backlog, in arrival order.
    async fn release_retries(&mut self) {
        self.retry_at = None;
        let mut retries = std::mem::take(&mut self.retries);
        retries.sort_by_key(|e| e.seq);
        let topics: BTreeSet<String> = retries.iter().map(|e| e.message.topic.clone()).collect();
        log::info!("Retrying {} messages after {} ms of backoff", retries.len(), self.backoff.as_millis());
        self.handler.refresh(&topics.into_iter().collect::<Vec<_>>()).await;
        for b in self.busy.values_mut() {
            b.retrying.clear();
            b.topic_retrying = false;
        }
        self.busy.retain(|_, b| !b.is_empty());
        let waiting: Vec<Entry> = std::mem::take(&mut self.backlog)
            .into_iter()
            .zip(std::mem::take(&mut self.meta))
            .map(|(message, (seq, attempts))| Entry { seq, attempts, message })
            .collect();
        for e in merge_in_order(waiting, retries) {
            self.backlog.push(e.message);
            self.meta.push((e.seq, e.attempts));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(in_flight: &[i32], retrying: &[i32], topic_retrying: bool) -> Busy {
        Busy {
            in_flight: in_flight.iter().copied().collect(),
            retrying: retrying.iter().copied().collect(),
            topic_retrying,
        }
    }

    /// Partitions 0..4: 0 and 1 led by broker 1, 2 by broker 2, 3 leaderless.
    fn table() -> LeaderTable {
        vec![Some(Some(1)), Some(Some(1)), Some(Some(2)), Some(None)]
    }

    #[test]
    fn a_free_partition_goes_and_a_busy_one_waits() {
        let none = |_| 0;
        assert_eq!(held_partitions(None, &table(), none, 5), [false, false, false, false]);
        let b = busy(&[1], &[], false);
        assert_eq!(held_partitions(Some(&b), &table(), none, 5), [false, true, false, false], "in flight");
        let b = busy(&[], &[2], false);
        assert_eq!(held_partitions(Some(&b), &table(), none, 5), [false, false, true, false], "waiting for its retry");
        let b = busy(&[3], &[], false);
        assert_eq!(
            held_partitions(Some(&b), &table(), none, 5),
            [false, false, false, true],
            "a leaderless partition still waits for its request in flight"
        );
    }

    #[test]
    fn a_topic_with_unplaced_retries_waits_whole() {
        let b = busy(&[], &[], true);
        assert_eq!(held_partitions(Some(&b), &table(), |_| 0, 5), [true, true, true, true]);
    }

    #[test]
    fn a_broker_at_its_in_flight_limit_holds_only_its_partitions() {
        let counts = |b: i32| if b == 1 { 5 } else { 4 };
        assert_eq!(held_partitions(None, &table(), counts, 5), [true, true, false, false]);
        // The default of one: a broker with a request in flight takes no other.
        let one = |b: i32| if b == 2 { 1 } else { 0 };
        assert_eq!(held_partitions(None, &table(), one, 1), [false, false, true, false]);
    }

    fn entries(seqs: &[u64]) -> Vec<Entry> {
        seqs.iter().map(|&seq| Entry { seq, attempts: 0, message: KeyedMessage::new("t", "v") }).collect()
    }

    #[test]
    fn retries_go_back_in_arrival_order() {
        let merged = merge_in_order(entries(&[4, 5, 9]), entries(&[1, 2, 6, 7]));
        assert_eq!(merged.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 4, 5, 6, 7, 9]);
        assert!(merge_in_order(Vec::new(), Vec::new()).is_empty());
    }
}
