//! Consumer offsets kept by the broker (0.8.2 `OffsetManager`, and the offset halves of
//! `KafkaApis`):
//!
//! - version 0 of OffsetCommit/OffsetFetch: ZooKeeper offsets at
//!   `/consumers/<group>/offsets/<topic>/<partition>` (decimal text), any broker;
//! - version 1: Kafka offsets, appended as keyed messages to partition
//!   [`partition_for`]`(group)` of `__consumer_offsets` by its leader (the group's
//!   coordinator) and served from an in-memory cache per offsets partition. The cache is
//!   filled by scanning the partition's log when this broker becomes its leader
//!   (OffsetFetch answers 14 meanwhile) and dropped when it becomes a follower or stops.
//!   Entries older than `offsets.retention.minutes` are swept out and tombstoned.
//!
//! The record layout of `__consumer_offsets` is in [`record`] (pure, no I/O).
//!
//! Differences from 0.8.2, all on the safe side:
//! - a commit whose metadata is too large is answered 12 and is not cached (0.8.2 put
//!   every partition of the request in its cache after a successful append, including
//!   the oversized ones it had left out of the log, so a fetch returned an offset the log
//!   did not hold);
//! - cache entries remember the log offset they came from and only a later record
//!   replaces them, so a log scan that overlaps commits never puts an older offset back;
//! - a record that does not decode is skipped with a warning (0.8.2 stopped the load);
//! - `offsets.commit.required.acks` > 1 waits for the whole ISR, like -1 (0.8.2 counted
//!   that many replicas).

use super::config::KafkaConfig;
use super::replica_manager::{LeadershipListener, ReplicaManager};
use crate::common::{abs, java_string_hash};
use crate::api::{OffsetCommitRequest, OffsetCommitResponsePartition, OffsetFetchResponsePartition};
use crate::common::{Clock, ErrorCode, SystemClock, TopicPartition, OFFSETS_TOPIC};
use crate::message::{deep_iter, encode_messages, shallow_iter, CompressionCodec, Message, LOG_OVERHEAD};
use crate::zk::{paths, ZkClient};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// The `__consumer_offsets` record layout (0.8.2 `OffsetManager` object), as written by
/// the 0.8.2 protocol `Struct`s: every field big-endian, strings as int16 length + UTF-8.
///
/// ```text
/// key   (schema 0): version int16 = 0, group string, topic string, partition int32
/// value (schema 0): version int16 = 0, offset int64, metadata string, timestamp int64
/// ```
/// A null value is a tombstone: the offset was removed (expired).
pub mod record {
    use crate::api::{Reader, Writer};
    use bytes::{Bytes, BytesMut};

    /// The only schema version 0.8.2 wrote and read, for keys and values alike.
    pub const SCHEMA_VERSION: i16 = 0;

    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct GroupTopicPartition {
        pub group: String,
        pub topic: String,
        pub partition: i32,
    }

    impl std::fmt::Display for GroupTopicPartition {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "[{},{},{}]", self.group, self.topic, self.partition)
        }
    }

    /// 0.8.2 `OffsetAndMetadata`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OffsetAndMetadata {
        pub offset: i64,
        pub metadata: String,
        /// Commit time in ms; drives expiry.
        pub timestamp: i64,
    }

    /// Why a record did not decode.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum RecordError {
        UnknownVersion(i16),
        Malformed(String),
        /// A string longer than an int16 length can say.
        TooLong(usize),
    }

    impl std::fmt::Display for RecordError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                RecordError::UnknownVersion(v) => write!(f, "Unknown offset schema version {}", v),
                RecordError::Malformed(why) => write!(f, "malformed offset record: {}", why),
                RecordError::TooLong(n) => write!(f, "a string of {} bytes does not fit an offset record", n),
            }
        }
    }

    impl std::error::Error for RecordError {}

    fn too_long(e: crate::api::EncodeError) -> RecordError {
        match e {
            crate::api::EncodeError::StringTooLong(n) => RecordError::TooLong(n),
            other => RecordError::Malformed(other.to_string()),
        }
    }

    fn malformed(e: crate::api::DecodeError) -> RecordError {
        RecordError::Malformed(e.to_string())
    }

    pub fn encode_key(group: &str, topic: &str, partition: i32) -> Result<Bytes, RecordError> {
        let mut buf = BytesMut::with_capacity(2 + 2 + group.len() + 2 + topic.len() + 4);
        let mut w = Writer::new(&mut buf);
        w.i16(SCHEMA_VERSION);
        w.string(group).map_err(too_long)?;
        w.string(topic).map_err(too_long)?;
        w.i32(partition);
        Ok(buf.freeze())
    }

    pub fn encode_value(v: &OffsetAndMetadata) -> Result<Bytes, RecordError> {
        let mut buf = BytesMut::with_capacity(2 + 8 + 2 + v.metadata.len() + 8);
        let mut w = Writer::new(&mut buf);
        w.i16(SCHEMA_VERSION);
        w.i64(v.offset);
        w.string(&v.metadata).map_err(too_long)?;
        w.i64(v.timestamp);
        Ok(buf.freeze())
    }

    /// Trailing bytes after the schema's fields are ignored, as the 0.8.2 `Schema.read`
    /// did.
    pub fn decode_key(b: Bytes) -> Result<GroupTopicPartition, RecordError> {
        let mut r = Reader::new(b);
        let version = r.i16().map_err(malformed)?;
        if version != SCHEMA_VERSION {
            return Err(RecordError::UnknownVersion(version));
        }
        Ok(GroupTopicPartition {
            group: r.string("null group").map_err(malformed)?,
            topic: r.string("null topic").map_err(malformed)?,
            partition: r.i32().map_err(malformed)?,
        })
    }

    pub fn decode_value(b: Bytes) -> Result<OffsetAndMetadata, RecordError> {
        let mut r = Reader::new(b);
        let version = r.i16().map_err(malformed)?;
        if version != SCHEMA_VERSION {
            return Err(RecordError::UnknownVersion(version));
        }
        Ok(OffsetAndMetadata {
            offset: r.i64().map_err(malformed)?,
            metadata: r.string("null metadata").map_err(malformed)?,
            timestamp: r.i64().map_err(malformed)?,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn key_golden_bytes() {
            let k = encode_key("g1", "t", 3).unwrap();
            assert_eq!(&k[..], &[0x00, 0x00, 0x00, 0x02, b'g', b'1', 0x00, 0x01, b't', 0x00, 0x00, 0x00, 0x03]);
            assert_eq!(
                decode_key(k).unwrap(),
                GroupTopicPartition { group: "g1".into(), topic: "t".into(), partition: 3 }
            );
        }

        #[test]
        fn value_golden_bytes() {
            let v = OffsetAndMetadata { offset: 42, metadata: "m".into(), timestamp: 1_424_224_432_123 };
            let b = encode_value(&v).unwrap();
            let want: &[u8] = &[
                0x00, 0x00, // version 0
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // offset 42
                0x00, 0x01, b'm', // metadata "m"
                0x00, 0x00, 0x01, 0x4b, 0x9a, 0x64, 0x2f, 0xfb, // timestamp 1424224432123
            ];
            assert_eq!(&b[..], want);
            assert_eq!(decode_value(b).unwrap(), v);
        }

        #[test]
        fn empty_metadata_and_non_ascii_names_round_trip() {
            let v = OffsetAndMetadata { offset: -1, metadata: String::new(), timestamp: 0 };
            let b = encode_value(&v).unwrap();
            assert_eq!(b.len(), 2 + 8 + 2 + 8);
            assert_eq!(decode_value(b).unwrap(), v);
            let k = encode_key("grüppe", "tópic", i32::MAX).unwrap();
            assert_eq!(&k[2..4], &[0x00, 0x07]); // UTF-8 bytes, not chars
            assert_eq!(decode_key(k).unwrap().group, "grüppe");
        }

        #[test]
        fn unknown_versions_and_truncations_are_errors_not_panics() {
            let k = encode_key("g", "t", 0).unwrap();
            let mut bad = k.to_vec();
            bad[1] = 1;
            assert_eq!(decode_key(Bytes::from(bad)), Err(RecordError::UnknownVersion(1)));
            for cut in 0..k.len() {
                assert!(decode_key(k.slice(..cut)).is_err(), "cut at {}", cut);
            }
            let v = encode_value(&OffsetAndMetadata { offset: 1, metadata: "abc".into(), timestamp: 2 }).unwrap();
            for cut in 0..v.len() {
                assert!(decode_value(v.slice(..cut)).is_err(), "cut at {}", cut);
            }
            // A null metadata string cannot be in a 0.8.2 record.
            let mut null_meta = v[..10].to_vec();
            null_meta.extend_from_slice(&[0xff, 0xff]);
            null_meta.extend_from_slice(&2i64.to_be_bytes());
            assert!(decode_value(Bytes::from(null_meta)).is_err());
        }

        #[test]
        fn trailing_bytes_are_ignored() {
            let mut k = encode_key("g", "t", 7).unwrap().to_vec();
            k.extend_from_slice(b"extra");
            assert_eq!(decode_key(Bytes::from(k)).unwrap().partition, 7);
        }

        #[test]
        fn oversized_strings_are_refused() {
            let long = "x".repeat(40_000);
            assert_eq!(encode_key(&long, "t", 0), Err(RecordError::TooLong(40_000)));
            let v = OffsetAndMetadata { offset: 0, metadata: long, timestamp: 0 };
            assert_eq!(encode_value(&v), Err(RecordError::TooLong(40_000)));
        }
    }
}

use record::{GroupTopicPartition, OffsetAndMetadata};

/// 0.8.2 `Utils.abs(group.hashCode) % offsets.topic.num.partitions`, where
/// `abs(Int.MinValue)` is 0.
pub fn partition_for(group: &str, num_partitions: i32) -> i32 {
    abs(java_string_hash(group)) % num_partitions.max(1)
}

/// 0.8.2 compares `metadata.length` (Java: UTF-16 code units) with
/// `offset.metadata.max.bytes`, despite the key's name.
pub fn metadata_too_large(metadata: &str, max: usize) -> bool {
    metadata.encode_utf16().count() > max
}

/// The offset manager's settings (0.8.2 `OffsetManagerConfig` plus the commit settings
/// 0.8.2 kept in `KafkaConfig`).
#[derive(Debug, Clone)]
pub struct OffsetManagerConfig {
    /// `offset.metadata.max.bytes`.
    pub max_metadata_size: usize,
    /// `offsets.load.buffer.size`: bytes read per step of a log scan.
    pub load_buffer_size: usize,
    /// `offsets.retention.minutes` in ms.
    pub retention_ms: i64,
    /// `offsets.retention.check.interval.ms`.
    pub retention_check_interval_ms: i64,
    /// `offsets.topic.num.partitions`.
    pub num_partitions: i32,
    /// `offsets.topic.compression.codec`.
    pub compression_codec: CompressionCodec,
    /// `offsets.commit.timeout.ms`.
    pub commit_timeout_ms: u64,
    /// `offsets.commit.required.acks`.
    pub commit_required_acks: i16,
}

impl OffsetManagerConfig {
    pub fn from_kafka_config(c: &KafkaConfig) -> OffsetManagerConfig {
        OffsetManagerConfig {
            max_metadata_size: c.offset_metadata_max_bytes.max(0) as usize,
            load_buffer_size: c.offsets_load_buffer_size.max(1) as usize,
            retention_ms: c.offsets_retention_minutes as i64 * 60_000,
            retention_check_interval_ms: c.offsets_retention_check_interval_ms.max(1),
            num_partitions: c.offsets_topic_num_partitions.max(1),
            compression_codec: c.offsets_topic_compression_codec,
            commit_timeout_ms: c.offsets_commit_timeout_ms.max(0) as u64,
            commit_required_acks: c.offsets_commit_required_acks,
        }
    }
}

/// Most offsets one `__consumer_offsets` partition's cache takes from commits (a few
/// hundred bytes each, so tens of MB at most per partition). 0.8.2 had no limit: commits
/// for any topic name, real or not, from any number of groups, each stayed in memory
/// until it expired. A commit that would add a key beyond this is answered -1 (Unknown)
/// and not written; offsets already in the log always load.
pub const MAX_CACHED_OFFSETS_PER_PARTITION: usize = 100_000;

#[derive(Debug, Clone)]
struct CachedOffset {
    value: OffsetAndMetadata,
    /// When expiry counts from: the commit's timestamp, but never later than when the
    /// broker took it in. A timestamp far in the future (0.8.2 trusted it) would otherwise
    /// keep the offset cached forever.
    expire_from: i64,
    /// Offset of the record in `__consumer_offsets` this entry came from: only a later
    /// record replaces it.
    log_offset: i64,
}

/// The cache of one `__consumer_offsets` partition this broker leads.
#[derive(Debug, Default)]
struct OffsetsPartition {
    /// Which leadership this cache belongs to; a load of an older one stops.
    generation: u64,
    loading: bool,
    offsets: HashMap<GroupTopicPartition, CachedOffset>,
}

impl OffsetsPartition {
    fn put(&mut self, key: GroupTopicPartition, value: OffsetAndMetadata, log_offset: i64, now: i64) {
        match self.offsets.get(&key) {
            Some(old) if old.log_offset > log_offset => {}
            _ => {
                let expire_from = value.timestamp.min(now);
                self.offsets.insert(key, CachedOffset { value, expire_from, log_offset });
            }
        }
    }

    fn remove(&mut self, key: &GroupTopicPartition, log_offset: i64) {
        if self.offsets.get(key).is_some_and(|old| old.log_offset < log_offset) {
            self.offsets.remove(key);
        }
    }
}

/// A v1 commit after its local append, waiting for replicas (see
/// [`OffsetManager::complete_commit`]).
#[derive(Debug)]
pub struct PendingCommit {
    offsets_partition: i32,
    /// Every partition of the request; `Some` when its answer is already decided
    /// (oversized metadata), `None` when it shares the append's result.
    results: Vec<(std::sync::Arc<str>, i32, Option<ErrorCode>)>,
    /// The result of the local append, before mapping (0 when it worked).
    append_error: ErrorCode,
    /// What to put in the cache once the append is acknowledged.
    appended: Vec<(GroupTopicPartition, OffsetAndMetadata, i64)>,
    /// The high watermark to wait for (acks -1), if any.
    wait_for: Option<i64>,
}

pub struct OffsetManager {
    config: OffsetManagerConfig,
    replica_manager: Arc<ReplicaManager>,
    zk: ZkClient,
    clock: Arc<dyn Clock>,
    /// Offsets partitions this broker leads, by partition id.
    partitions: Mutex<HashMap<i32, OffsetsPartition>>,
    generation: AtomicU64,
    shutting_down: AtomicBool,
    me: Weak<OffsetManager>,
}

impl OffsetManager {
    pub fn new(config: OffsetManagerConfig, replica_manager: Arc<ReplicaManager>, zk: ZkClient) -> Arc<OffsetManager> {
        Arc::new_cyclic(|me| OffsetManager {
            config,
            replica_manager,
            zk,
            clock: Arc::new(SystemClock),
            partitions: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            me: me.clone(),
        })
    }

    pub fn config(&self) -> &OffsetManagerConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, OffsetsPartition>> {
        self.partitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `__consumer_offsets` partition that holds `group`'s offsets; its leader is the
    /// group's coordinator.
    pub fn partition_for(&self, group: &str) -> i32 {
        partition_for(group, self.config.num_partitions)
    }

    pub fn metadata_too_large(&self, metadata: &str) -> bool {
        metadata_too_large(metadata, self.config.max_metadata_size)
    }

    fn offsets_tp(partition: i32) -> TopicPartition {
        TopicPartition::new(OFFSETS_TOPIC, partition)
    }

    fn leader_is_local(&self, partition: i32) -> bool {
        self.replica_manager.partition(&Self::offsets_tp(partition)).is_some_and(|p| p.is_leader())
    }

    // ---- version 0: ZooKeeper ----

    /// OffsetCommit v0 for one partition whose topic exists and whose metadata fits:
    /// update-persistent of the offset as decimal text (the metadata is not stored).
    pub async fn commit_to_zookeeper(&self, group: &str, topic: &str, partition: i32, offset: i64) -> ErrorCode {
        let path = paths::consumer_offset(group, topic, partition);
        match self.zk.update_persistent(&path, offset.to_string().as_bytes()).await {
            Ok(()) => ErrorCode::NoError,
            Err(e) => {
                log::warn!("cannot write the offset of group {} for {}-{} to {}: {}", group, topic, partition, path, e);
                ErrorCode::Unknown
            }
        }
    }

    /// OffsetFetch v0 for one partition whose topic exists: the ZooKeeper offset, or
    /// -1 with error 3 when nothing was committed (0.8.2).
    pub async fn fetch_from_zookeeper(&self, group: &str, topic: &str, partition: i32) -> (i64, ErrorCode) {
        match self.zk.consumer_offset(group, topic, partition).await {
            Ok(Some(offset)) => (offset, ErrorCode::NoError),
            Ok(None) => (-1, ErrorCode::UnknownTopicOrPartition),
            // 0.8.2's `payload.toLong` threw, mapped to -1.
            Err(e) => {
                log::warn!("cannot read the offset of group {} for {}-{}: {}", group, topic, partition, e);
                (-1, ErrorCode::Unknown)
            }
        }
    }

    // ---- version 1: __consumer_offsets ----

    /// OffsetCommit v1, first half (0.8.2 `producerRequestFromOffsetCommit` +
    /// `appendToLocalLog`): one keyed message per partition whose metadata fits, appended
    /// as one set to the group's offsets partition if this broker leads it. Timestamps
    /// of -1 become the receive time.
    pub fn append_commit(&self, req: &OffsetCommitRequest) -> PendingCommit {
        let offsets_partition = self.partition_for(&req.group);
        let now = self.clock.now_ms();
        let mut results = Vec::new();
        let mut names = crate::api::SharedNames::default();
        let mut messages = Vec::new();
        let mut entries = Vec::new();
        // Room left in the cache for keys it does not hold yet.
        let (mut room, cached): (usize, std::collections::HashSet<GroupTopicPartition>) = {
            let map = self.lock();
            match map.get(&offsets_partition) {
                Some(c) => {
                    let keys = req
                        .partitions()
                        .into_iter()
                        .map(|(t, p)| GroupTopicPartition { group: req.group.clone(), topic: t.to_string(), partition: p.partition })
                        .filter(|k| c.offsets.contains_key(k))
                        .collect();
                    (MAX_CACHED_OFFSETS_PER_PARTITION.saturating_sub(c.offsets.len()), keys)
                }
                None => (MAX_CACHED_OFFSETS_PER_PARTITION, Default::default()),
            }
        };
        for (topic, p) in req.partitions() {
            if self.metadata_too_large(&p.metadata) {
                results.push((names.get(topic), p.partition, Some(ErrorCode::OffsetMetadataTooLarge)));
                continue;
            }
            let gtp = GroupTopicPartition { group: req.group.clone(), topic: topic.to_string(), partition: p.partition };
            if !cached.contains(&gtp) {
                if room == 0 {
                    log::warn!(
                        "Refusing the offset commit of group {} for {}-{}: the offsets cache of partition {} holds {} offsets already",
                        req.group,
                        topic,
                        p.partition,
                        offsets_partition,
                        MAX_CACHED_OFFSETS_PER_PARTITION
                    );
                    results.push((names.get(topic), p.partition, Some(ErrorCode::Unknown)));
                    continue;
                }
                room -= 1;
            }
            let timestamp = if p.timestamp == crate::api::DEFAULT_TIMESTAMP { now } else { p.timestamp };
            let value = OffsetAndMetadata { offset: p.offset, metadata: p.metadata.clone(), timestamp };
            match (record::encode_key(&req.group, topic, p.partition), record::encode_value(&value)) {
                (Ok(k), Ok(v)) => {
                    messages.push(Message::new(Some(&k), Some(&v), CompressionCodec::None));
                    entries.push((
                        GroupTopicPartition {
                            group: req.group.clone(),
                            topic: topic.to_string(),
                            partition: p.partition,
                        },
                        value,
                    ));
                    results.push((names.get(topic), p.partition, None));
                }
                // Only a metadata (or name) beyond 32767 UTF-8 bytes gets here.
                _ => results.push((names.get(topic), p.partition, Some(ErrorCode::OffsetMetadataTooLarge))),
            }
        }
        let mut pending = PendingCommit {
            offsets_partition,
            results,
            append_error: ErrorCode::NoError,
            appended: vec![],
            wait_for: None,
        };
        if messages.is_empty() {
            return pending;
        }
        let tp = Self::offsets_tp(offsets_partition);
        let acks = self.config.commit_required_acks;
        let part = match self.replica_manager.partition(&tp) {
            None => {
                pending.append_error = ErrorCode::UnknownTopicOrPartition;
                return pending;
            }
            Some(p) if !p.is_leader() => {
                pending.append_error = ErrorCode::NotLeaderForPartition;
                return pending;
            }
            Some(p) => p,
        };
        if acks == -1 && part.isr_size() < part.log.config().min_insync_replicas.max(1) as usize {
            pending.append_error = ErrorCode::NotEnoughReplicas;
            return pending;
        }
        // Uncompressed messages with offsets 0..n; a codec wraps them, as 0.8.2's
        // `ByteBufferMessageSet(offsetsTopicCompressionCodec, msgs)` did.
        let set = encode_messages(self.config.compression_codec, &messages, 0);
        match part.log.append(set, true) {
            Ok(info) => {
                part.after_local_append();
                self.replica_manager.notify_progress();
                pending.appended =
                    entries.into_iter().enumerate().map(|(i, (k, v))| (k, v, info.first_offset + i as i64)).collect();
                if acks != 0 && acks != 1 {
                    pending.wait_for = Some(info.last_offset + 1);
                }
            }
            Err(e) => {
                log::warn!("cannot append offsets of group {} to {}: {}", req.group, tp, e);
                pending.append_error = e.error_code();
            }
        }
        pending
    }

    /// OffsetCommit v1, second half: wait (acks -1) until the ISR has the commit or
    /// `offsets.commit.timeout.ms` passes (7), put what was written in the cache, and
    /// answer every partition (0.8.2 `OffsetCommitRequest.responseFor`: 3 → 15, 6 → 16).
    pub async fn complete_commit(&self, mut pending: PendingCommit) -> Vec<(std::sync::Arc<str>, OffsetCommitResponsePartition)> {
        let tp = Self::offsets_tp(pending.offsets_partition);
        if let (Some(need), ErrorCode::NoError) = (pending.wait_for, pending.append_error) {
            let rm = &self.replica_manager;
            let deadline = tokio::time::Instant::now() + Duration::from_millis(self.config.commit_timeout_ms);
            let mut progress = rm.progress();
            pending.append_error = loop {
                match rm.partition(&tp) {
                    Some(p) if !p.is_leader() => break ErrorCode::NotLeaderForPartition,
                    None => break ErrorCode::NotLeaderForPartition,
                    Some(p) if p.high_watermark() >= need => {
                        break if p.isr_size() < p.log.config().min_insync_replicas.max(1) as usize {
                            ErrorCode::NotEnoughReplicasAfterAppend
                        } else {
                            ErrorCode::NoError
                        };
                    }
                    Some(_) => {}
                }
                if tokio::time::timeout_at(deadline, progress.changed()).await.is_err() {
                    break ErrorCode::RequestTimedOut;
                }
            };
        }
        if pending.append_error == ErrorCode::NoError && !pending.appended.is_empty() {
            let now = self.clock.now_ms();
            let mut map = self.lock();
            if let Some(cache) = map.get_mut(&pending.offsets_partition) {
                for (k, v, at) in pending.appended.drain(..) {
                    cache.put(k, v, at, now);
                }
            }
            // Not in the map: the cache is (re)loading from the log, which holds the commit.
        }
        let shared = match pending.append_error {
            ErrorCode::UnknownTopicOrPartition => ErrorCode::ConsumerCoordinatorNotAvailable,
            ErrorCode::NotLeaderForPartition => ErrorCode::NotCoordinatorForConsumer,
            other => other,
        };
        pending
            .results
            .into_iter()
            .map(|(t, partition, decided)| {
                (t, OffsetCommitResponsePartition { partition, error_code: decided.unwrap_or(shared) })
            })
            .collect()
    }

    /// OffsetFetch v1 for partitions known to the metadata cache (0.8.2 `getOffsets`):
    /// not the coordinator → 16; loading → 14; otherwise the cached offset, or -1 with
    /// error 0 when none. Never a stale answer: the leadership check and the cache read
    /// happen under the lock a leadership change takes.
    pub fn fetch<'a>(&self, group: &str, tps: &[(&'a str, i32)]) -> Vec<(&'a str, OffsetFetchResponsePartition)> {
        let partition = self.partition_for(group);
        let answer = |&(topic, partition): &(&'a str, i32), offset: i64, metadata: String, error_code: ErrorCode| {
            (topic, OffsetFetchResponsePartition { partition, offset, metadata, error_code })
        };
        let mut start_load = false;
        let out = {
            let map = self.lock();
            if !self.leader_is_local(partition) {
                tps.iter().map(|tp| answer(tp, -1, String::new(), ErrorCode::NotCoordinatorForConsumer)).collect()
            } else {
                match map.get(&partition) {
                    Some(cache) if !cache.loading => tps
                        .iter()
                        .map(|tp| {
                            // One key at a time: the names are not copied per entry.
                            let key = GroupTopicPartition { group: group.to_string(), topic: tp.0.to_string(), partition: tp.1 };
                            match cache.offsets.get(&key) {
                                Some(c) => answer(tp, c.value.offset, c.value.metadata.clone(), ErrorCode::NoError),
                                None => answer(tp, -1, String::new(), ErrorCode::NoError),
                            }
                        })
                        .collect(),
                    other => {
                        // Leader without a cache: the leadership hook has not run yet, or
                        // the cache was dropped while we stayed leader; (re)load it.
                        start_load = other.is_none();
                        tps.iter().map(|tp| answer(tp, -1, String::new(), ErrorCode::OffsetsLoadInProgress)).collect()
                    }
                }
            }
        };
        if start_load {
            self.load_offsets(partition);
        }
        out
    }

    /// Start loading an offsets partition we now lead, unless it is loaded or loading
    /// (0.8.2 `loadOffsetsFromLog`). The scan runs on a blocking thread.
    pub fn load_offsets(&self, partition: i32) {
        let generation = {
            let mut map = self.lock();
            if map.contains_key(&partition) {
                return;
            }
            let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            map.insert(partition, OffsetsPartition { generation, loading: true, offsets: HashMap::new() });
            generation
        };
        let Some(me) = self.me.upgrade() else { return };
        let job = move || me.load_partition(partition, generation);
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(job);
            }
            Err(_) => {
                std::thread::spawn(job);
            }
        }
    }

    /// Drop the cache of an offsets partition we no longer lead (0.8.2
    /// `clearOffsetsInPartition`); a load in progress stops.
    pub fn clear_offsets_in_partition(&self, partition: i32) {
        if let Some(cache) = self.lock().remove(&partition) {
            log::info!(
                "Dropped {} cached offsets of partition [{},{}] (no longer its leader)",
                cache.offsets.len(),
                OFFSETS_TOPIC,
                partition
            );
        }
    }

    /// Whether offsets partition `partition` is loaded (not loading) in this broker's
    /// cache.
    pub fn is_loaded(&self, partition: i32) -> bool {
        self.lock().get(&partition).is_some_and(|c| !c.loading)
    }

    fn load_partition(&self, partition: i32, generation: u64) {
        let tp = Self::offsets_tp(partition);
        log::info!("Loading offsets from {}", tp);
        let started = std::time::Instant::now();
        match self.scan_log(partition, generation) {
            Ok(n) => log::info!(
                "Finished loading {} offset records from {} in {} milliseconds.",
                n,
                tp,
                started.elapsed().as_millis()
            ),
            Err(e) => log::error!("Error in loading offsets from {}: {}", tp, e),
        }
        let mut map = self.lock();
        if let Some(cache) = map.get_mut(&partition) {
            if cache.generation == generation {
                cache.loading = false;
            }
        }
    }

    /// Read the partition from its log start to the log end as of now, putting every
    /// record in the cache (a tombstone removes). Returns the records read.
    fn scan_log(&self, partition: i32, generation: u64) -> Result<usize, String> {
        let tp = Self::offsets_tp(partition);
        let part = self.replica_manager.partition(&tp).ok_or_else(|| format!("no log found for {}", tp))?;
        let log = part.log.clone();
        let end = log.log_end_offset();
        let mut curr = log.log_start_offset();
        let mut buffer = self.config.load_buffer_size;
        // A single entry may be larger than the buffer; grow up to the largest message.
        let max_buffer = (log.config().max_message_size + LOG_OVERHEAD).max(buffer);
        let mut records = 0usize;
        while curr < end {
            if self.shutting_down.load(Ordering::SeqCst) {
                return Err("shutting down".into());
            }
            let region = log.read(curr, buffer, Some(end)).map_err(|e| e.to_string())?;
            if region.length == 0 {
                break;
            }
            let bytes = region.read_bytes().map_err(|e| format!("cannot read {}: {}", tp, e))?;
            let mut batch: Vec<(i64, Message)> = Vec::new();
            let mut next = curr;
            for entry in shallow_iter(bytes.clone()) {
                let entry = entry.map_err(|e| format!("corrupt entry in {} after offset {}: {}", tp, next, e))?;
                if entry.message.is_compressed() {
                    let one = bytes.slice(entry.position..entry.position + entry.size());
                    for inner in deep_iter(one) {
                        match inner {
                            Ok(i) => batch.push((i.offset, i.message)),
                            Err(e) => log::warn!(
                                "skipping an undecodable wrapper at offset {} of {}: {}",
                                entry.offset,
                                tp,
                                e
                            ),
                        }
                    }
                } else {
                    batch.push((entry.offset, entry.message));
                }
                next = entry.offset + 1;
            }
            if next == curr {
                if buffer >= max_buffer {
                    return Err(format!("an entry at offset {} of {} is larger than {} bytes", curr, tp, max_buffer));
                }
                buffer = (buffer * 2).min(max_buffer);
                continue;
            }
            records += batch.len();
            let mut map = self.lock();
            let Some(cache) = map.get_mut(&partition).filter(|c| c.generation == generation) else {
                return Err("no longer the leader; load abandoned".into());
            };
            let now = self.clock.now_ms();
            for (offset, m) in batch {
                apply_record(cache, &tp, offset, &m, now);
            }
            drop(map);
            curr = next;
        }
        Ok(records)
    }

    /// Remove cached offsets older than `offsets.retention.minutes` and append a
    /// tombstone for each to its offsets partition (0.8.2 `compact`, run every
    /// `offsets.retention.check.interval.ms`). Returns how many were removed.
    pub fn expire_stale_offsets(&self) -> usize {
        let now = self.clock.now_ms();
        let retention = self.config.retention_ms;
        let mut stale: Vec<(i32, Vec<GroupTopicPartition>)> = Vec::new();
        {
            let mut map = self.lock();
            for (partition, cache) in map.iter_mut() {
                let keys: Vec<GroupTopicPartition> = cache
                    .offsets
                    .iter()
                    .filter(|(_, c)| now - c.expire_from > retention)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &keys {
                    cache.offsets.remove(k);
                }
                if !keys.is_empty() {
                    stale.push((*partition, keys));
                }
            }
        }
        let mut removed = 0;
        for (partition, keys) in stale {
            removed += keys.len();
            let tombstones: Vec<Message> = keys
                .iter()
                .filter_map(|k| record::encode_key(&k.group, &k.topic, k.partition).ok())
                .map(|key| Message::new(Some(&key), None, CompressionCodec::None))
                .collect();
            // Losing these is fine (0.8.2): a new leader expires the same offsets itself.
            let tp = Self::offsets_tp(partition);
            if let Some(p) = self.replica_manager.partition(&tp).filter(|p| p.is_leader()) {
                match p.log.append(encode_messages(self.config.compression_codec, &tombstones, 0), true) {
                    Ok(_) => {
                        p.after_local_append();
                        self.replica_manager.notify_progress();
                    }
                    Err(e) => {
                        log::error!("Failed to mark {} stale offsets for deletion in {}: {}", tombstones.len(), tp, e)
                    }
                }
            }
        }
        if removed > 0 {
            log::info!("Removed {} stale offsets (older than {} ms).", removed, retention);
        }
        removed
    }

    /// The periodic expiry sweep; ends when the manager is dropped or shut down.
    pub async fn run_expiry(this: Weak<OffsetManager>) {
        let every = match this.upgrade() {
            Some(om) => Duration::from_millis(om.config.retention_check_interval_ms.max(1) as u64),
            None => return,
        };
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(om) = this.upgrade() else { return };
            if om.shutting_down.load(Ordering::SeqCst) {
                return;
            }
            om.expire_stale_offsets();
        }
    }

    /// Stop loads in progress (0.8.2 `shutdown`).
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

/// Put one `__consumer_offsets` record in a partition's cache.
fn apply_record(cache: &mut OffsetsPartition, tp: &TopicPartition, offset: i64, m: &Message, now: i64) {
    let Some(key) = m.key() else {
        log::warn!("skipping an offset record without a key at offset {} of {}", offset, tp);
        return;
    };
    let key = match record::decode_key(key) {
        Ok(k) => k,
        Err(e) => {
            log::warn!("skipping the offset record at offset {} of {}: {}", offset, tp, e);
            return;
        }
    };
    match m.value() {
        None => cache.remove(&key, offset),
        Some(v) => match record::decode_value(v) {
            Ok(v) => cache.put(key, v, offset, now),
            Err(e) => log::warn!("skipping the offset record for {} at offset {} of {}: {}", key, offset, tp, e),
        },
    }
}

impl LeadershipListener for OffsetManager {
    fn became_leader(&self, tp: &TopicPartition) {
        if tp.topic == OFFSETS_TOPIC {
            self.load_offsets(tp.partition);
        }
    }

    fn became_follower(&self, tp: &TopicPartition) {
        if tp.topic == OFFSETS_TOPIC {
            self.clear_offsets_in_partition(tp.partition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_partition_is_java_abs_hash_mod_partitions() {
        assert_eq!(partition_for("", 50), 0);
        // "a".hashCode() = 97.
        assert_eq!(partition_for("a", 50), 97 % 50);
        // "hello".hashCode() = 99162322.
        assert_eq!(partition_for("hello", 50), 99162322 % 50);
        // A negative hash: "my-group".hashCode() = -1906497762.
        assert_eq!(java_string_hash("my-group"), -1906497762);
        assert_eq!(partition_for("my-group", 50), 1906497762 % 50);
        // Utils.abs(Int.MinValue) = 0 ("polygenelubricants".hashCode() == Int.MinValue).
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("anything", 1), 0);
    }

    #[test]
    fn metadata_limit_counts_utf16_units() {
        assert!(!metadata_too_large("abcd", 4));
        assert!(metadata_too_large("abcde", 4));
        // Two-byte UTF-8 characters count once each, as Java's String.length.
        assert!(!metadata_too_large("éééé", 4));
        // A supplementary character is two UTF-16 units.
        assert!(metadata_too_large("abc😀", 4));
        assert!(!metadata_too_large("", 0));
    }

    fn key(g: &str, t: &str, p: i32) -> GroupTopicPartition {
        GroupTopicPartition { group: g.into(), topic: t.into(), partition: p }
    }

    fn val(offset: i64) -> OffsetAndMetadata {
        OffsetAndMetadata { offset, metadata: String::new(), timestamp: 0 }
    }

    #[test]
    fn cache_keeps_the_latest_record_whatever_the_order_it_is_told() {
        let mut c = OffsetsPartition::default();
        c.put(key("g", "t", 0), val(10), 5, 0);
        c.put(key("g", "t", 0), val(7), 3, 0); // an older record seen later (a scan)
        assert_eq!(c.offsets[&key("g", "t", 0)].value.offset, 10);
        c.put(key("g", "t", 0), val(11), 6, 0);
        assert_eq!(c.offsets[&key("g", "t", 0)].value.offset, 11);
        c.remove(&key("g", "t", 0), 4); // an older tombstone
        assert!(c.offsets.contains_key(&key("g", "t", 0)));
        c.remove(&key("g", "t", 0), 9);
        assert!(c.offsets.is_empty());
    }

    #[test]
    fn expiry_counts_from_the_commit_time_at_the_latest() {
        let mut c = OffsetsPartition::default();
        let far_future = OffsetAndMetadata { offset: 1, metadata: String::new(), timestamp: i64::MAX / 2 };
        c.put(key("g", "t", 0), far_future, 0, 1_000);
        c.put(key("g", "t", 1), OffsetAndMetadata { offset: 1, metadata: String::new(), timestamp: 400 }, 1, 1_000);
        assert_eq!(c.offsets[&key("g", "t", 0)].expire_from, 1_000, "a future timestamp does not pin the offset");
        assert_eq!(c.offsets[&key("g", "t", 1)].expire_from, 400);
    }

    #[test]
    fn records_are_applied_from_messages() {
        let tp = TopicPartition::new(OFFSETS_TOPIC, 0);
        let mut c = OffsetsPartition::default();
        let k = record::encode_key("g", "t", 1).unwrap();
        let v = record::encode_value(&OffsetAndMetadata { offset: 99, metadata: "m".into(), timestamp: 5 }).unwrap();
        apply_record(&mut c, &tp, 0, &Message::new(Some(&k), Some(&v), CompressionCodec::None), 10);
        assert_eq!(
            c.offsets[&key("g", "t", 1)].value,
            OffsetAndMetadata { offset: 99, metadata: "m".into(), timestamp: 5 }
        );
        // Garbage is skipped, not fatal.
        apply_record(&mut c, &tp, 1, &Message::new(None, Some(&v), CompressionCodec::None), 10);
        apply_record(&mut c, &tp, 2, &Message::new(Some(b"\x00"), Some(&v), CompressionCodec::None), 10);
        apply_record(&mut c, &tp, 3, &Message::new(Some(&k), Some(b"\x00\x00"), CompressionCodec::None), 10);
        assert_eq!(c.offsets[&key("g", "t", 1)].value.offset, 99);
        // A tombstone removes.
        apply_record(&mut c, &tp, 4, &Message::new(Some(&k), None, CompressionCodec::None), 10);
        assert!(c.offsets.is_empty());
    }
}
