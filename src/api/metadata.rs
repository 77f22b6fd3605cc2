//! Metadata / TopicMetadata (key 3) v0, docs/wire-protocol.md.

use super::broker::Broker;
use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataRequest {
    /// Empty = every topic.
    pub topics: Vec<String>,
}

impl MetadataRequest {
    /// The distinct topics in request order (0.8.2 uses `topics.toSet`).
    pub fn unique_topics(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.topics.iter().map(String::as_str).filter(|t| seen.insert(*t)).collect()
    }
}

impl ApiRequest for MetadataRequest {
    const API_KEY: ApiKey = ApiKey::Metadata;
    type Response = MetadataResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.topics, |w, t| w.string(t))
    }

    /// The topic count is the one range-checked count in 0.8.2: negative is an error.
    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(MetadataRequest { topics: r.strict_array(2, |r| r.string("null topic name"))? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataResponse {
    pub brokers: Vec<Broker>,
    pub topics: Vec<TopicMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// On the wire before the name.
    pub error_code: ErrorCode,
    pub topic: String,
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// On the wire before the partition id.
    pub error_code: ErrorCode,
    pub partition: i32,
    /// Broker id, -1 if none.
    pub leader: i32,
    /// Assigned replicas that are alive.
    pub replicas: Vec<i32>,
    /// In-sync replicas that are alive.
    pub isr: Vec<i32>,
}

impl ApiResponse for MetadataResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.brokers, |w, b| b.encode(w))?;
        w.array(&self.topics, |w, t| {
            w.i16(t.error_code.code());
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i16(p.error_code.code());
                w.i32(p.partition);
                w.i32(p.leader);
                w.i32_array(&p.replicas)?;
                w.i32_array(&p.isr)
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let brokers = r.array(Broker::MIN_SIZE, Broker::decode)?;
        let topics = r.array(8, |r| {
            Ok(TopicMetadata {
                error_code: ErrorCode::from_code(r.i16()?),
                topic: r.string("null topic name")?,
                partitions: r.array(18, |r| {
                    Ok(PartitionMetadata {
                        error_code: ErrorCode::from_code(r.i16()?),
                        partition: r.i32()?,
                        leader: r.i32()?,
                        replicas: r.i32_array()?,
                        isr: r.i32_array()?,
                    })
                })?,
            })
        })?;
        Ok(MetadataResponse { brokers, topics })
    }
}
