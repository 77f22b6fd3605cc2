//! `SimpleConsumer` (0.8.2 `kafka.javaapi.consumer.SimpleConsumer`): one broker, explicit
//! fetches and offsets, no ZooKeeper; and [`PartitionReader`], which reads one partition
//! from whichever broker leads it, following leader moves.
//!
//! Both are async (tokio). A `SimpleConsumer` connects lazily and, like 0.8.2's, retries a
//! request once on a fresh connection after a socket error before reporting it.

use crate::api::{
    ApiRequest, Broker, FetchPartition, FetchRequest, FetchResponse, FetchTopic, MetadataRequest, MetadataResponse,
    OffsetsPartition, OffsetsRequest, OffsetsTopic, CONSUMER_REPLICA_ID, EARLIEST_TIME, LATEST_TIME,
};
use crate::common::ErrorCode;
use crate::message::{deep_iter, shallow_iter, Message, MessageError};
use crate::network::{BrokerConnection, ClientError};
use bytes::Bytes;
use std::fmt;
use std::time::{Duration, Instant};

/// 0.8.2 consumer defaults (`ConsumerConfig`) a simple consumer uses.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_millis(30_000);
/// `socket.receive.buffer.bytes`.
pub const DEFAULT_RECEIVE_BUFFER_BYTES: usize = 64 * 1024;
/// `fetch.message.max.bytes`.
pub const DEFAULT_FETCH_SIZE: i32 = 1024 * 1024;
/// `fetch.wait.max.ms`.
pub const DEFAULT_MAX_WAIT_MS: i32 = 100;
/// `fetch.min.bytes`.
pub const DEFAULT_MIN_BYTES: i32 = 1;
/// `refresh.leader.backoff.ms`.
pub const DEFAULT_REFRESH_LEADER_BACKOFF: Duration = Duration::from_millis(200);

/// What a consumer call reports.
#[derive(Debug)]
pub enum ConsumerError {
    /// The request failed on the socket twice (once after reconnecting).
    Network { broker: String, error: ClientError },
    /// The broker answered the partition with an error code (OffsetOutOfRange,
    /// NotLeaderForPartition, UnknownTopicOrPartition, ...).
    Broker { topic: String, partition: i32, error: ErrorCode },
    /// The response has no entry for the partition asked about.
    MissingPartition { topic: String, partition: i32 },
    /// The first message at `offset` is larger than `fetch_size`: the response held only a
    /// fragment of it. Fetch again with a larger size (0.8.2's `MessageSizeTooLargeException`).
    MessageTooLarge { topic: String, partition: i32, offset: i64, fetch_size: i32 },
    /// A message failed its CRC or did not decompress.
    Corrupt { topic: String, partition: i32, offset: i64, error: MessageError },
    /// No broker named a live leader for the partition before the deadline.
    NoLeader { topic: String, partition: i32, reason: String },
}

impl ConsumerError {
    /// Errors after which the partition's leader should be looked up again (0.8.2's
    /// consumer fetcher treats these as "leader moved").
    pub fn is_leader_change(&self) -> bool {
        match self {
            ConsumerError::Network { .. } | ConsumerError::MissingPartition { .. } => true,
            ConsumerError::Broker { error, .. } => matches!(
                error,
                ErrorCode::NotLeaderForPartition | ErrorCode::UnknownTopicOrPartition | ErrorCode::LeaderNotAvailable
            ),
            _ => false,
        }
    }

    /// The broker's error code, if this is a partition error.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            ConsumerError::Broker { error, .. } => Some(*error),
            _ => None,
        }
    }
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsumerError::Network { broker, error } => write!(f, "request to broker {} failed: {}", broker, error),
            ConsumerError::Broker { topic, partition, error } => {
                write!(f, "broker answered [{},{}] with {}", topic, partition, error)
            }
            ConsumerError::MissingPartition { topic, partition } => {
                write!(f, "the response has no entry for [{},{}]", topic, partition)
            }
            ConsumerError::MessageTooLarge { topic, partition, offset, fetch_size } => write!(
                f,
                "Found a message larger than the maximum fetch size of this consumer on topic {} partition {} at fetch offset {}. Increase the fetch size (now {}), or decrease the maximum message size the broker will allow.",
                topic, partition, offset, fetch_size
            ),
            ConsumerError::Corrupt { topic, partition, offset, error } => {
                write!(f, "corrupt message in [{},{}] at or after offset {}: {}", topic, partition, offset, error)
            }
            ConsumerError::NoLeader { topic, partition, reason } => {
                write!(f, "no leader for [{},{}]: {}", topic, partition, reason)
            }
        }
    }
}

impl std::error::Error for ConsumerError {}

/// A message and its offset (0.8.2 `MessageAndOffset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAndOffset {
    pub offset: i64,
    pub message: Message,
}

impl MessageAndOffset {
    /// The offset to fetch next after this message.
    pub fn next_offset(&self) -> i64 {
        self.offset + 1
    }

    pub fn key(&self) -> Option<Bytes> {
        self.message.key()
    }

    pub fn value(&self) -> Option<Bytes> {
        self.message.value()
    }
}

/// The messages of one partition from one fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessages {
    pub topic: String,
    pub partition: i32,
    /// The offset that was asked for.
    pub fetch_offset: i64,
    pub high_watermark: i64,
    /// Deep-iterated (compressed wrappers opened), without inner messages below
    /// `fetch_offset`, CRCs checked.
    pub messages: Vec<MessageAndOffset>,
    /// Bytes of complete entries in the returned set (a truncated tail is not counted).
    pub valid_bytes: usize,
    /// Bytes the broker returned.
    pub size_in_bytes: usize,
}

impl FetchedMessages {
    /// Where the next fetch starts: after the last message, or `fetch_offset` when none.
    pub fn next_offset(&self) -> i64 {
        self.messages.last().map_or(self.fetch_offset, |m| m.next_offset())
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Decode a partition's fetched message set: complete entries only (the tail may be a
/// fragment, docs/wire-protocol.md), compressed wrappers opened, inner messages below
/// `fetch_offset` dropped (a wrapper is returned whole by the broker), CRCs checked.
/// A non-empty set without one complete entry means the first message is larger than
/// `fetch_size`.
pub fn decode_fetched(
    topic: &str,
    partition: i32,
    fetch_offset: i64,
    fetch_size: i32,
    high_watermark: i64,
    set: Bytes,
) -> Result<FetchedMessages, ConsumerError> {
    let corrupt = |offset: i64, error: MessageError| ConsumerError::Corrupt {
        topic: topic.to_string(),
        partition,
        offset,
        error,
    };
    let size_in_bytes = set.len();
    let mut messages = Vec::new();
    let mut shallow = shallow_iter(set.clone());
    let mut valid_bytes = 0;
    for entry in shallow.by_ref() {
        let entry = entry.map_err(|e| corrupt(fetch_offset, e))?;
        entry.message.validate().map_err(|e| corrupt(entry.offset, e))?;
        let end = entry.position + entry.size();
        if !entry.message.is_compressed() {
            if entry.offset >= fetch_offset {
                messages.push(MessageAndOffset { offset: entry.offset, message: entry.message });
            }
        } else {
            for inner in deep_iter(set.slice(entry.position..end)) {
                let inner = inner.map_err(|e| corrupt(entry.offset, e))?;
                inner.message.validate().map_err(|e| corrupt(inner.offset, e))?;
                if inner.offset >= fetch_offset {
                    messages.push(MessageAndOffset { offset: inner.offset, message: inner.message });
                }
            }
        }
        valid_bytes = end;
    }
    if valid_bytes == 0 && size_in_bytes > 0 {
        return Err(ConsumerError::MessageTooLarge {
            topic: topic.to_string(),
            partition,
            offset: fetch_offset,
            fetch_size,
        });
    }
    Ok(FetchedMessages {
        topic: topic.to_string(),
        partition,
        fetch_offset,
        high_watermark,
        messages,
        valid_bytes,
        size_in_bytes,
    })
}

/// A consumer of one broker (0.8.2 `SimpleConsumer(host, port, soTimeout, bufferSize,
/// clientId)`).
#[derive(Debug)]
pub struct SimpleConsumer {
    host: String,
    port: u16,
    so_timeout: Duration,
    buffer_size: usize,
    client_id: String,
    conn: Option<BrokerConnection>,
}

impl SimpleConsumer {
    /// No connection is made until the first request. `buffer_size` (the socket receive
    /// buffer in 0.8.2) is kept for reference only: the shared connection uses the system's
    /// buffer size.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        so_timeout: Duration,
        buffer_size: usize,
        client_id: impl Into<String>,
    ) -> SimpleConsumer {
        SimpleConsumer { host: host.into(), port, so_timeout, buffer_size, client_id: client_id.into(), conn: None }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// Drop the connection (the next request reconnects).
    pub fn close(&mut self) {
        self.conn = None;
    }

    fn broker(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    async fn connect(&mut self) -> Result<&mut BrokerConnection, ClientError> {
        if self.conn.as_ref().is_none_or(|c| c.is_broken()) {
            self.conn = None;
            let c = BrokerConnection::connect(&self.host, self.port, self.so_timeout).await?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Send any request and wait for its response; on a socket error reconnect and try once
    /// more (0.8.2 `sendRequest`).
    pub async fn send<R: ApiRequest>(&mut self, request: &R) -> Result<R::Response, ConsumerError> {
        let client_id = self.client_id.clone();
        let first = match self.connect().await {
            Ok(c) => c.send(&client_id, request).await,
            Err(e) => Err(e),
        };
        let error = match first {
            Ok(r) => return Ok(r),
            Err(ClientError::Encode(e)) => {
                return Err(ConsumerError::Network { broker: self.broker(), error: ClientError::Encode(e) })
            }
            Err(e) => e,
        };
        log::info!("Reconnect to {} due to socket error: {}", self.broker(), error);
        self.conn = None;
        let second = match self.connect().await {
            Ok(c) => c.send(&client_id, request).await,
            Err(e) => Err(e),
        };
        second.map_err(|error| {
            self.conn = None;
            ConsumerError::Network { broker: self.broker(), error }
        })
    }

    /// Metadata of `topics` (empty = all topics).
    pub async fn metadata(&mut self, topics: &[String]) -> Result<MetadataResponse, ConsumerError> {
        self.send(&MetadataRequest { topics: topics.to_vec() }).await
    }

    /// A whole fetch request, answered as the broker answered it.
    pub async fn fetch_request(&mut self, request: &FetchRequest) -> Result<FetchResponse, ConsumerError> {
        self.send(request).await
    }

    /// Fetch one partition from `offset` and decode its messages ([`decode_fetched`]). A
    /// partition error is `ConsumerError::Broker`.
    pub async fn fetch(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: i32,
        max_wait_ms: i32,
        min_bytes: i32,
    ) -> Result<FetchedMessages, ConsumerError> {
        let request = FetchRequest {
            replica_id: CONSUMER_REPLICA_ID,
            max_wait_ms,
            min_bytes,
            topics: vec![FetchTopic {
                topic: topic.to_string(),
                partitions: vec![FetchPartition { partition, fetch_offset: offset, max_bytes }],
            }],
        };
        let response = self.fetch_request(&request).await?;
        let p = response
            .topics
            .into_iter()
            .filter(|t| t.topic == topic)
            .flat_map(|t| t.partitions)
            .find(|p| p.partition == partition)
            .ok_or_else(|| ConsumerError::MissingPartition { topic: topic.to_string(), partition })?;
        if p.error_code != ErrorCode::NoError {
            return Err(ConsumerError::Broker { topic: topic.to_string(), partition, error: p.error_code });
        }
        decode_fetched(topic, partition, offset, max_bytes, p.high_watermark, p.message_set)
    }

    /// 0.8.2 `getOffsetsBefore` for one partition: up to `max_offsets` offsets before
    /// `time` (ms; -1 latest, -2 earliest), newest first.
    pub async fn offsets_before(
        &mut self,
        topic: &str,
        partition: i32,
        time: i64,
        max_offsets: i32,
    ) -> Result<Vec<i64>, ConsumerError> {
        self.offsets_before_as(topic, partition, time, max_offsets, CONSUMER_REPLICA_ID).await
    }

    /// `offsets_before` with an explicit replica id (-2: the debugging consumer, which may
    /// ask a follower).
    pub async fn offsets_before_as(
        &mut self,
        topic: &str,
        partition: i32,
        time: i64,
        max_offsets: i32,
        replica_id: i32,
    ) -> Result<Vec<i64>, ConsumerError> {
        let request = OffsetsRequest {
            replica_id,
            topics: vec![OffsetsTopic {
                topic: topic.to_string(),
                partitions: vec![OffsetsPartition { partition, time, max_offsets }],
            }],
        };
        let response = self.send(&request).await?;
        let p = response
            .topics
            .into_iter()
            .filter(|t| t.topic == topic)
            .flat_map(|t| t.partitions)
            .find(|p| p.partition == partition)
            .ok_or_else(|| ConsumerError::MissingPartition { topic: topic.to_string(), partition })?;
        if p.error_code != ErrorCode::NoError {
            return Err(ConsumerError::Broker { topic: topic.to_string(), partition, error: p.error_code });
        }
        Ok(p.offsets)
    }

    /// 0.8.2 `earliestOrLatestOffset`: the first offset for `time` -2 or -1.
    pub async fn earliest_or_latest_offset(
        &mut self,
        topic: &str,
        partition: i32,
        time: i64,
    ) -> Result<i64, ConsumerError> {
        let offsets = self.offsets_before(topic, partition, time, 1).await?;
        offsets.first().copied().ok_or_else(|| ConsumerError::Broker {
            topic: topic.to_string(),
            partition,
            error: ErrorCode::Unknown,
        })
    }

    /// The log start offset.
    pub async fn earliest_offset(&mut self, topic: &str, partition: i32) -> Result<i64, ConsumerError> {
        self.earliest_or_latest_offset(topic, partition, EARLIEST_TIME).await
    }

    /// The high watermark (the offset the next committed message gets).
    pub async fn latest_offset(&mut self, topic: &str, partition: i32) -> Result<i64, ConsumerError> {
        self.earliest_or_latest_offset(topic, partition, LATEST_TIME).await
    }
}

/// Settings of a [`PartitionReader`], defaults as 0.8.2's `ConsumerConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderConfig {
    pub client_id: String,
    /// `socket.timeout.ms` (30000).
    pub socket_timeout: Duration,
    /// `socket.receive.buffer.bytes` (65536).
    pub buffer_size: usize,
    /// `fetch.message.max.bytes` (1048576).
    pub fetch_size: i32,
    /// `fetch.wait.max.ms` (100).
    pub max_wait_ms: i32,
    /// `fetch.min.bytes` (1).
    pub min_bytes: i32,
    /// `refresh.leader.backoff.ms` (200): pause before looking for a leader again.
    pub refresh_leader_backoff: Duration,
    /// How long one call keeps looking for a leader before it gives up (a limit 0.8.2's
    /// fetcher did not have: it retried forever).
    pub leader_wait: Duration,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            client_id: String::new(),
            socket_timeout: DEFAULT_SOCKET_TIMEOUT,
            buffer_size: DEFAULT_RECEIVE_BUFFER_BYTES,
            fetch_size: DEFAULT_FETCH_SIZE,
            max_wait_ms: DEFAULT_MAX_WAIT_MS,
            min_bytes: DEFAULT_MIN_BYTES,
            refresh_leader_backoff: DEFAULT_REFRESH_LEADER_BACKOFF,
            leader_wait: Duration::from_secs(30),
        }
    }
}

/// Reads one partition from its leader, wherever it moves: on NotLeaderForPartition,
/// UnknownTopicOrPartition, LeaderNotAvailable or a connection error it looks the leader up
/// again (bootstrap brokers and every broker seen in metadata), reconnects and retries at
/// the same offset.
#[derive(Debug)]
pub struct PartitionReader {
    brokers: Vec<(String, u16)>,
    topic: String,
    partition: i32,
    config: ReaderConfig,
    consumer: Option<SimpleConsumer>,
    leader: Option<i32>,
    offset: i64,
}

impl PartitionReader {
    /// A reader positioned at offset 0 (see [`PartitionReader::seek`]); `bootstrap` are the
    /// brokers asked for metadata first.
    pub fn new(
        bootstrap: Vec<(String, u16)>,
        topic: impl Into<String>,
        partition: i32,
        config: ReaderConfig,
    ) -> PartitionReader {
        PartitionReader {
            brokers: bootstrap,
            topic: topic.into(),
            partition,
            config,
            consumer: None,
            leader: None,
            offset: 0,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The offset the next fetch starts at.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    pub fn seek(&mut self, offset: i64) {
        self.offset = offset;
    }

    /// The broker id currently read from, once known.
    pub fn leader(&self) -> Option<i32> {
        self.leader
    }

    pub fn fetch_size(&self) -> i32 {
        self.config.fetch_size
    }

    /// Grow (or shrink) the fetch size, e.g. after [`ConsumerError::MessageTooLarge`].
    pub fn set_fetch_size(&mut self, bytes: i32) {
        self.config.fetch_size = bytes;
    }

    /// The next messages from [`PartitionReader::offset`] (possibly none, after
    /// `fetch.wait.max.ms`), advancing the offset past them.
    pub async fn fetch(&mut self) -> Result<FetchedMessages, ConsumerError> {
        let deadline = Instant::now() + self.config.leader_wait;
        loop {
            let (offset, size, wait, min) =
                (self.offset, self.config.fetch_size, self.config.max_wait_ms, self.config.min_bytes);
            let topic = self.topic.clone();
            let partition = self.partition;
            let consumer = self.leader_consumer(deadline).await?;
            match consumer.fetch(&topic, partition, offset, size, wait, min).await {
                Ok(f) => {
                    self.offset = f.next_offset();
                    return Ok(f);
                }
                Err(e) => self.after_error(e, deadline).await?,
            }
        }
    }

    /// The partition's log start offset, from its leader.
    pub async fn earliest_offset(&mut self) -> Result<i64, ConsumerError> {
        self.offset_for(EARLIEST_TIME).await
    }

    /// The partition's high watermark, from its leader.
    pub async fn latest_offset(&mut self) -> Result<i64, ConsumerError> {
        self.offset_for(LATEST_TIME).await
    }

    async fn offset_for(&mut self, time: i64) -> Result<i64, ConsumerError> {
        let deadline = Instant::now() + self.config.leader_wait;
        loop {
            let topic = self.topic.clone();
            let partition = self.partition;
            let consumer = self.leader_consumer(deadline).await?;
            match consumer.earliest_or_latest_offset(&topic, partition, time).await {
                Ok(o) => return Ok(o),
                Err(e) => self.after_error(e, deadline).await?,
            }
        }
    }

    /// A leader-change error: forget the leader, back off, and let the caller loop (until
    /// `deadline`). Any other error is returned.
    async fn after_error(&mut self, e: ConsumerError, deadline: Instant) -> Result<(), ConsumerError> {
        if !e.is_leader_change() || Instant::now() >= deadline {
            return Err(e);
        }
        log::info!("[{},{}]: {}; looking for the leader again", self.topic, self.partition, e);
        self.consumer = None;
        self.leader = None;
        tokio::time::sleep(self.config.refresh_leader_backoff).await;
        Ok(())
    }

    async fn leader_consumer(&mut self, deadline: Instant) -> Result<&mut SimpleConsumer, ConsumerError> {
        if self.consumer.is_none() {
            let (id, broker) = self.find_leader(deadline).await?;
            let port = u16::try_from(broker.port).map_err(|_| ConsumerError::NoLeader {
                topic: self.topic.clone(),
                partition: self.partition,
                reason: format!("broker {} has an invalid port {}", id, broker.port),
            })?;
            self.consumer = Some(SimpleConsumer::new(
                broker.host,
                port,
                self.config.socket_timeout,
                self.config.buffer_size,
                self.config.client_id.clone(),
            ));
            self.leader = Some(id);
        }
        Ok(self.consumer.as_mut().expect("set above"))
    }

    /// Ask the known brokers for the partition's leader until one names a live one.
    async fn find_leader(&mut self, deadline: Instant) -> Result<(i32, Broker), ConsumerError> {
        let topics = vec![self.topic.clone()];
        loop {
            let mut last = String::from("no broker answered");
            let mut learned = Vec::new();
            let mut found = None;
            for (host, port) in self.brokers.clone() {
                let mut c = SimpleConsumer::new(
                    host,
                    port,
                    self.config.socket_timeout,
                    self.config.buffer_size,
                    self.config.client_id.clone(),
                );
                let md = match c.metadata(&topics).await {
                    Ok(md) => md,
                    Err(e) => {
                        last = e.to_string();
                        continue;
                    }
                };
                learned.extend(md.brokers.iter().map(|b| (b.host.clone(), b.port)));
                let leader = md
                    .topics
                    .iter()
                    .filter(|t| t.topic == self.topic)
                    .flat_map(|t| t.partitions.iter())
                    .find(|p| p.partition == self.partition)
                    .map(|p| p.leader);
                match leader {
                    Some(id) if id >= 0 => match md.brokers.iter().find(|b| b.id == id) {
                        Some(b) => {
                            found = Some((id, b.clone()));
                            break;
                        }
                        None => last = format!("leader {} is not among the live brokers", id),
                    },
                    Some(_) => last = "the partition has no leader".to_string(),
                    None => {
                        let code = md.topics.iter().find(|t| t.topic == self.topic).map(|t| t.error_code);
                        last = match code {
                            Some(c) if c != ErrorCode::NoError => format!("topic error {}", c),
                            _ => "the partition is unknown".to_string(),
                        };
                    }
                }
            }
            for (host, port) in learned {
                if let Ok(port) = u16::try_from(port) {
                    if !self.brokers.iter().any(|(h, p)| *h == host && *p == port) {
                        self.brokers.push((host, port));
                    }
                }
            }
            if let Some(found) = found {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(ConsumerError::NoLeader {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    reason: last,
                });
            }
            tokio::time::sleep(self.config.refresh_leader_backoff).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{encode_messages, CompressionCodec};

    fn msgs(range: std::ops::Range<i64>) -> Vec<Message> {
        range.map(|i| Message::new(None, Some(format!("m{}", i).as_bytes()), CompressionCodec::None)).collect()
    }

    #[test]
    fn inner_messages_below_the_fetch_offset_are_dropped() {
        let set = encode_messages(CompressionCodec::Gzip, &msgs(10..15), 10);
        let f = decode_fetched("t", 0, 12, 1 << 20, 15, set).unwrap();
        assert_eq!(f.messages.iter().map(|m| m.offset).collect::<Vec<_>>(), vec![12, 13, 14]);
        assert_eq!(f.next_offset(), 15);
        assert_eq!(f.messages[0].value().unwrap(), Bytes::from_static(b"m12"));
    }

    #[test]
    fn a_truncated_tail_is_ignored() {
        let set = encode_messages(CompressionCodec::None, &msgs(0..3), 0);
        let cut = set.slice(..set.len() - 5);
        let f = decode_fetched("t", 0, 0, cut.len() as i32, 3, cut.clone()).unwrap();
        assert_eq!(f.messages.len(), 2);
        assert_eq!(f.next_offset(), 2);
        assert!(f.valid_bytes < f.size_in_bytes);
        assert_eq!(f.size_in_bytes, cut.len());
    }

    #[test]
    fn a_first_message_larger_than_the_fetch_size_is_reported() {
        let set = encode_messages(CompressionCodec::None, &msgs(7..8), 7);
        match decode_fetched("t", 3, 7, 10, 8, set.slice(..10)) {
            Err(ConsumerError::MessageTooLarge { topic, partition: 3, offset: 7, fetch_size: 10 }) => {
                assert_eq!(topic, "t")
            }
            other => panic!("unexpected {:?}", other),
        }
        let empty = decode_fetched("t", 3, 7, 10, 7, Bytes::new()).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.next_offset(), 7);
    }

    #[test]
    fn a_bad_crc_is_corrupt() {
        let set = encode_messages(CompressionCodec::None, &msgs(0..2), 0);
        let mut bytes = set.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        match decode_fetched("t", 0, 0, 1 << 20, 2, Bytes::from(bytes)) {
            Err(ConsumerError::Corrupt { offset: 1, .. }) => {}
            other => panic!("unexpected {:?}", other),
        }
    }

    #[test]
    fn leader_change_errors() {
        let b = |error| ConsumerError::Broker { topic: "t".into(), partition: 0, error };
        assert!(b(ErrorCode::NotLeaderForPartition).is_leader_change());
        assert!(b(ErrorCode::UnknownTopicOrPartition).is_leader_change());
        assert!(b(ErrorCode::LeaderNotAvailable).is_leader_change());
        assert!(!b(ErrorCode::OffsetOutOfRange).is_leader_change());
        assert!(ConsumerError::Network { broker: "h:1".into(), error: ClientError::Timeout }.is_leader_change());
    }
}
