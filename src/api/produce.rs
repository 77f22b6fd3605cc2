//! Produce (key 0) v0, docs/wire-protocol.md.

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::grouping::{group_by_topic, unique_partitions};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceRequest {
    /// 0 = no response at all; 1 = leader wrote it; -1 = all in-sync replicas; N > 1
    /// (deprecated) = N replicas.
    pub acks: i16,
    pub timeout_ms: i32,
    pub topics: Vec<ProduceTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopic {
    pub topic: String,
    pub partitions: Vec<ProducePartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducePartition {
    pub partition: i32,
    /// The message set exactly as it arrived (a slice of the request frame).
    pub message_set: Bytes,
}

impl ProduceRequest {
    /// `acks = 0` requests get no response (docs/wire-protocol.md).
    pub fn expects_response(&self) -> bool {
        self.acks != 0
    }

    /// Every distinct `(topic, partition)` in request order; a repeated pair keeps its last
    /// message set (0.8.2 parses the request into a map).
    pub fn partitions(&self) -> Vec<(&str, &ProducePartition)> {
        unique_partitions(self.topics.iter().map(|t| (t.topic.as_str(), &t.partitions[..])), |p| p.partition)
    }
}

impl ApiRequest for ProduceRequest {
    const API_KEY: ApiKey = ApiKey::Produce;
    type Response = ProduceResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.acks);
        w.i32(self.timeout_ms);
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.sized_bytes(&p.message_set)
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let acks = r.i16()?;
        let timeout_ms = r.i32()?;
        let topics = r.array(6, |r| {
            Ok(ProduceTopic {
                topic: r.string("null topic name")?,
                partitions: r
                    .array(8, |r| Ok(ProducePartition { partition: r.i32()?, message_set: r.sized_bytes()? }))?,
            })
        })?;
        Ok(ProduceRequest { acks, timeout_ms, topics })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProduceResponse {
    pub topics: Vec<ProduceResponseTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResponseTopic {
    pub topic: String,
    pub partitions: Vec<ProduceResponsePartition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceResponsePartition {
    pub partition: i32,
    pub error_code: ErrorCode,
    /// Offset given to the first appended message; -1 on error or when nothing was
    /// appended.
    pub base_offset: i64,
}

impl ProduceResponse {
    /// Build a response from per-partition results, grouped by topic, duplicates
    /// collapsed (later wins).
    pub fn from_partitions(entries: impl IntoIterator<Item = (impl AsRef<str>, ProduceResponsePartition)>) -> ProduceResponse {
        ProduceResponse {
            topics: group_by_topic(entries, |p| p.partition)
                .into_iter()
                .map(|(topic, partitions)| ProduceResponseTopic { topic, partitions })
                .collect(),
        }
    }
}

impl ApiResponse for ProduceResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i16(p.error_code.code());
                w.i64(p.base_offset);
                Ok(())
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let topics = r.array(6, |r| {
            Ok(ProduceResponseTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(14, |r| {
                    Ok(ProduceResponsePartition {
                        partition: r.i32()?,
                        error_code: ErrorCode::from_code(r.i16()?),
                        base_offset: r.i64()?,
                    })
                })?,
            })
        })?;
        Ok(ProduceResponse { topics })
    }
}
