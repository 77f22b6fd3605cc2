//! Offsets / ListOffsets (key 2) v0, docs/wire-protocol.md.

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::grouping::{group_by_topic, unique_partitions};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;

/// `time` asking for the log end (the high watermark for ordinary clients).
pub const LATEST_TIME: i64 = -1;
/// `time` asking for the log start.
pub const EARLIEST_TIME: i64 = -2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsRequest {
    /// -1 ordinary client, -2 debugging client, >= 0 a broker.
    pub replica_id: i32,
    pub topics: Vec<OffsetsTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsTopic {
    pub topic: String,
    pub partitions: Vec<OffsetsPartition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetsPartition {
    pub partition: i32,
    /// [`LATEST_TIME`], [`EARLIEST_TIME`], or a wall-clock time in ms.
    pub time: i64,
    pub max_offsets: i32,
}

impl OffsetsRequest {
    /// Every distinct `(topic, partition)` in request order; a repeated pair keeps its last
    /// values.
    pub fn partitions(&self) -> Vec<(&str, &OffsetsPartition)> {
        unique_partitions(self.topics.iter().map(|t| (t.topic.as_str(), &t.partitions[..])), |p| p.partition)
    }
}

impl ApiRequest for OffsetsRequest {
    const API_KEY: ApiKey = ApiKey::Offsets;
    type Response = OffsetsResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.replica_id);
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i64(p.time);
                w.i32(p.max_offsets);
                Ok(())
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let replica_id = r.i32()?;
        let topics = r.array(6, |r| {
            Ok(OffsetsTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(16, |r| {
                    Ok(OffsetsPartition { partition: r.i32()?, time: r.i64()?, max_offsets: r.i32()? })
                })?,
            })
        })?;
        Ok(OffsetsRequest { replica_id, topics })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetsResponse {
    pub topics: Vec<OffsetsResponseTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsResponseTopic {
    pub topic: String,
    pub partitions: Vec<OffsetsResponsePartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsResponsePartition {
    pub partition: i32,
    pub error_code: ErrorCode,
    /// Descending.
    pub offsets: Vec<i64>,
}

impl OffsetsResponse {
    /// Build a response from per-partition results, grouped by topic, duplicates
    /// collapsed (later wins).
    pub fn from_partitions(entries: impl IntoIterator<Item = (impl AsRef<str>, OffsetsResponsePartition)>) -> OffsetsResponse {
        OffsetsResponse {
            topics: group_by_topic(entries, |p| p.partition)
                .into_iter()
                .map(|(topic, partitions)| OffsetsResponseTopic { topic, partitions })
                .collect(),
        }
    }
}

impl ApiResponse for OffsetsResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i16(p.error_code.code());
                w.i64_array(&p.offsets)
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let topics = r.array(6, |r| {
            Ok(OffsetsResponseTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(10, |r| {
                    Ok(OffsetsResponsePartition {
                        partition: r.i32()?,
                        error_code: ErrorCode::from_code(r.i16()?),
                        offsets: r.i64_array()?,
                    })
                })?,
            })
        })?;
        Ok(OffsetsResponse { topics })
    }
}
