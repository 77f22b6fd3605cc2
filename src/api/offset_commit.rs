//! OffsetCommit (key 8) v0 (ZooKeeper storage) and v1 (Kafka storage), docs/wire-protocol.md.
//!
//! One struct for both versions, as 0.8.2's `OffsetCommitRequest`: the v1-only fields
//! hold their defaults (generation -1, consumer id "", timestamp -1) in a decoded v0
//! request, and are not written when encoding v0.

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::grouping::{group_by_topic, unique_partitions};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;

/// `generation_id` of a v0 request, and what 0.8.2-era clients send in v1.
pub const DEFAULT_GENERATION_ID: i32 = -1;
/// `timestamp` meaning "the time the broker received it"; also the value in v0.
pub const DEFAULT_TIMESTAMP: i64 = -1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    pub group: String,
    /// v1 only; ignored by 0.8.2.
    pub generation_id: i32,
    /// v1 only; ignored by 0.8.2. A null on the wire reads as "".
    pub consumer_id: String,
    pub topics: Vec<OffsetCommitTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitTopic {
    pub topic: String,
    pub partitions: Vec<OffsetCommitPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitPartition {
    pub partition: i32,
    pub offset: i64,
    /// v1 only: commit time in ms, [`DEFAULT_TIMESTAMP`] for "now".
    pub timestamp: i64,
    /// A null on the wire reads as "" (accept null, treat it as "").
    pub metadata: String,
}

impl OffsetCommitRequest {
    /// Every distinct `(topic, partition)` in request order; a repeated pair keeps its last
    /// values.
    pub fn partitions(&self) -> Vec<(&str, &OffsetCommitPartition)> {
        unique_partitions(self.topics.iter().map(|t| (t.topic.as_str(), &t.partitions[..])), |p| p.partition)
    }
}

impl ApiRequest for OffsetCommitRequest {
    const API_KEY: ApiKey = ApiKey::OffsetCommit;
    type Response = OffsetCommitResponse;

    fn encode_body(&self, version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        let v1 = version >= 1;
        w.string(&self.group)?;
        if v1 {
            w.i32(self.generation_id);
            w.string(&self.consumer_id)?;
        }
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i64(p.offset);
                if v1 {
                    w.i64(p.timestamp);
                }
                w.string(&p.metadata)
            })
        })
    }

    fn decode_body(version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let v1 = version >= 1;
        let group = r.string("null group id")?;
        let (generation_id, consumer_id) =
            if v1 { (r.i32()?, r.string_or_empty()?) } else { (DEFAULT_GENERATION_ID, String::new()) };
        let partition_size = if v1 { 22 } else { 14 };
        let topics = r.array(6, |r| {
            Ok(OffsetCommitTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(partition_size, |r| {
                    let partition = r.i32()?;
                    let offset = r.i64()?;
                    let timestamp = if v1 { r.i64()? } else { DEFAULT_TIMESTAMP };
                    Ok(OffsetCommitPartition { partition, offset, timestamp, metadata: r.string_or_empty()? })
                })?,
            })
        })?;
        Ok(OffsetCommitRequest { group, generation_id, consumer_id, topics })
    }
}

/// The same layout for v0 and v1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetCommitResponse {
    pub topics: Vec<OffsetCommitResponseTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitResponseTopic {
    pub topic: String,
    pub partitions: Vec<OffsetCommitResponsePartition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCommitResponsePartition {
    pub partition: i32,
    pub error_code: ErrorCode,
}

impl OffsetCommitResponse {
    /// Build a response from per-partition results, grouped by topic, duplicates
    /// collapsed (later wins).
    pub fn from_partitions(
        entries: impl IntoIterator<Item = (impl AsRef<str>, OffsetCommitResponsePartition)>,
    ) -> OffsetCommitResponse {
        OffsetCommitResponse {
            topics: group_by_topic(entries, |p| p.partition)
                .into_iter()
                .map(|(topic, partitions)| OffsetCommitResponseTopic { topic, partitions })
                .collect(),
        }
    }
}

impl ApiResponse for OffsetCommitResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i16(p.error_code.code());
                Ok(())
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let topics = r.array(6, |r| {
            Ok(OffsetCommitResponseTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(6, |r| {
                    Ok(OffsetCommitResponsePartition {
                        partition: r.i32()?,
                        error_code: ErrorCode::from_code(r.i16()?),
                    })
                })?,
            })
        })?;
        Ok(OffsetCommitResponse { topics })
    }
}
