//! OffsetFetch (key 9) v0 (ZooKeeper) and v1 (Kafka), docs/wire-protocol.md. Both versions share
//! one layout; the version only selects the storage.

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::grouping::group_by_topic;
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchRequest {
    pub group: String,
    pub topics: Vec<OffsetFetchTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchTopic {
    pub topic: String,
    pub partitions: Vec<i32>,
}

impl OffsetFetchRequest {
    /// The distinct partitions asked for, in request order.
    /// The distinct `(topic, partition)` pairs asked for, borrowing the names.
    pub fn partitions(&self) -> Vec<(&str, i32)> {
        let mut seen = HashSet::new();
        self.topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |&p| (t.topic.as_str(), p)))
            .filter(|key| seen.insert(*key))
            .collect()
    }
}

impl ApiRequest for OffsetFetchRequest {
    const API_KEY: ApiKey = ApiKey::OffsetFetch;
    type Response = OffsetFetchResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string(&self.group)?;
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.i32_array(&t.partitions)
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let group = r.string("null group id")?;
        let topics =
            r.array(6, |r| Ok(OffsetFetchTopic { topic: r.string("null topic name")?, partitions: r.i32_array()? }))?;
        Ok(OffsetFetchRequest { group, topics })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetFetchResponse {
    pub topics: Vec<OffsetFetchResponseTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponseTopic {
    pub topic: String,
    pub partitions: Vec<OffsetFetchResponsePartition>,
}

/// Note the wire order: partition, offset, metadata, then the error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchResponsePartition {
    pub partition: i32,
    /// -1 if nothing is committed.
    pub offset: i64,
    /// "" if none; a null on the wire reads as "".
    pub metadata: String,
    pub error_code: ErrorCode,
}

impl OffsetFetchResponse {
    /// Build a response from per-partition results, grouped by topic, duplicates
    /// collapsed (later wins).
    pub fn from_partitions(
        entries: impl IntoIterator<Item = (impl AsRef<str>, OffsetFetchResponsePartition)>,
    ) -> OffsetFetchResponse {
        OffsetFetchResponse {
            topics: group_by_topic(entries, |p| p.partition)
                .into_iter()
                .map(|(topic, partitions)| OffsetFetchResponseTopic { topic, partitions })
                .collect(),
        }
    }
}

impl ApiResponse for OffsetFetchResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i64(p.offset);
                w.string(&p.metadata)?;
                w.i16(p.error_code.code());
                Ok(())
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let topics = r.array(6, |r| {
            Ok(OffsetFetchResponseTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(16, |r| {
                    Ok(OffsetFetchResponsePartition {
                        partition: r.i32()?,
                        offset: r.i64()?,
                        metadata: r.string_or_empty()?,
                        error_code: ErrorCode::from_code(r.i16()?),
                    })
                })?,
            })
        })?;
        Ok(OffsetFetchResponse { topics })
    }
}
