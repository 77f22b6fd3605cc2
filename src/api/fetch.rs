//! Fetch (key 1) v0, docs/wire-protocol.md.
//!
//! The response's message sets are generic ([`RecordPayload`]) so that the broker can
//! describe log bytes as file regions and send them with `sendfile`:
//! [`FetchResponse::into_frame`] lays the frame out as header chunks interleaved with the
//! payloads, never copying them. Clients decode into `Bytes`.

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::frame::SIZE_PREFIX;
use super::grouping::{group_by_topic, unique_partitions};
use super::header::{ApiKey, ResponseHeader};
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;
use bytes::{BufMut, Bytes, BytesMut};

/// `replica_id` of an ordinary consumer.
pub const CONSUMER_REPLICA_ID: i32 = -1;
/// `replica_id` of a "debugging" consumer, which may read from a follower.
pub const DEBUGGING_REPLICA_ID: i32 = -2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// -1 consumer, -2 debugging consumer, >= 0 the broker id of a follower.
    pub replica_id: i32,
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub topics: Vec<FetchTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTopic {
    pub topic: String,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPartition {
    pub partition: i32,
    pub fetch_offset: i64,
    /// Per-partition cap on returned message-set bytes.
    pub max_bytes: i32,
}

impl FetchRequest {
    pub fn is_from_follower(&self) -> bool {
        self.replica_id >= 0
    }

    /// Every distinct `(topic, partition)` in request order; a repeated pair keeps its
    /// last values (0.8.2 parses the request into a map).
    pub fn partitions(&self) -> Vec<(&str, &FetchPartition)> {
        unique_partitions(self.topics.iter().map(|t| (t.topic.as_str(), &t.partitions[..])), |p| p.partition)
    }
}

impl ApiRequest for FetchRequest {
    const API_KEY: ApiKey = ApiKey::Fetch;
    type Response = FetchResponse<Bytes>;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.replica_id);
        w.i32(self.max_wait_ms);
        w.i32(self.min_bytes);
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i64(p.fetch_offset);
                w.i32(p.max_bytes);
                Ok(())
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let replica_id = r.i32()?;
        let max_wait_ms = r.i32()?;
        let min_bytes = r.i32()?;
        let topics = r.array(6, |r| {
            Ok(FetchTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(16, |r| {
                    Ok(FetchPartition { partition: r.i32()?, fetch_offset: r.i64()?, max_bytes: r.i32()? })
                })?,
            })
        })?;
        Ok(FetchRequest { replica_id, max_wait_ms, min_bytes, topics })
    }
}

/// A partition's message-set bytes in a fetch response: `Bytes` for clients and tests, a
/// file region for the broker's zero-copy path.
pub trait RecordPayload {
    /// Exact number of bytes the payload puts on the wire (its `set_size`).
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RecordPayload for Bytes {
    fn len(&self) -> usize {
        Bytes::len(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse<P = Bytes> {
    pub topics: Vec<FetchResponseTopic<P>>,
}

impl<P> Default for FetchResponse<P> {
    fn default() -> Self {
        FetchResponse { topics: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponseTopic<P = Bytes> {
    pub topic: String,
    pub partitions: Vec<FetchResponsePartition<P>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponsePartition<P = Bytes> {
    pub partition: i32,
    pub error_code: ErrorCode,
    /// -1 when `error_code` is not 0.
    pub high_watermark: i64,
    /// The message set. As decoded it may end with a truncated entry (docs/wire-protocol.md);
    /// `message::shallow_iter` stops cleanly there.
    pub message_set: P,
}

/// One piece of an encoded frame: header bytes, or a payload to be sent as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<P> {
    Bytes(Bytes),
    Payload(P),
}

/// A response frame as chunks to write in order; `size` is the total number of bytes on
/// the wire, the 4-byte size prefix included (it is inside the first chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedFrame<P> {
    pub size: usize,
    pub chunks: Vec<Chunk<P>>,
}

impl<P: AsRef<[u8]>> ChunkedFrame<P> {
    /// The frame as one buffer (copies; for clients and tests).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.size);
        for c in &self.chunks {
            match c {
                Chunk::Bytes(b) => out.put_slice(b),
                Chunk::Payload(p) => out.put_slice(p.as_ref()),
            }
        }
        out.freeze()
    }
}

impl<P> FetchResponse<P> {
    /// Build a response from per-partition results, grouped by topic, duplicates
    /// collapsed (later wins).
    pub fn from_partitions(entries: impl IntoIterator<Item = (impl AsRef<str>, FetchResponsePartition<P>)>) -> FetchResponse<P> {
        FetchResponse {
            topics: group_by_topic(entries, |p| p.partition)
                .into_iter()
                .map(|(topic, partitions)| FetchResponseTopic { topic, partitions })
                .collect(),
        }
    }

    /// Sum of the partitions' message-set sizes (what `min_bytes` is compared with).
    pub fn total_payload_bytes(&self) -> usize
    where
        P: RecordPayload,
    {
        self.topics.iter().flat_map(|t| &t.partitions).map(|p| p.message_set.len()).sum()
    }
}

impl<P: RecordPayload> FetchResponse<P> {
    /// Encode the whole response frame (size prefix, correlation id, body) as header
    /// chunks interleaved with the payloads, without touching payload bytes. Empty
    /// payloads produce no chunk. All header bytes share one allocation.
    pub fn into_frame(self, correlation_id: i32) -> Result<ChunkedFrame<P>, EncodeError> {
        let mut buf = BytesMut::new();
        // (end of the header bytes that precede this payload, payload)
        let mut cuts: Vec<(usize, P)> = Vec::new();
        let mut payload_bytes: usize = 0;
        {
            let mut w = Writer::new(&mut buf);
            w.i32(0); // size, patched below
            ResponseHeader { correlation_id }.encode(&mut w);
            w.size(self.topics.len())?;
            for t in self.topics {
                w.string(&t.topic)?;
                w.size(t.partitions.len())?;
                for p in t.partitions {
                    w.i32(p.partition);
                    w.i16(p.error_code.code());
                    w.i64(p.high_watermark);
                    let len = p.message_set.len();
                    w.size(len)?;
                    if len > 0 {
                        payload_bytes += len;
                        cuts.push((w.len(), p.message_set));
                    }
                }
            }
        }
        let total = buf.len() + payload_bytes;
        let size = i32::try_from(total - SIZE_PREFIX).map_err(|_| EncodeError::TooLarge(total - SIZE_PREFIX))?;
        buf[..SIZE_PREFIX].copy_from_slice(&size.to_be_bytes());
        let header = buf.freeze();
        let mut chunks = Vec::with_capacity(cuts.len() * 2 + 1);
        let mut start = 0;
        for (end, payload) in cuts {
            if end > start {
                chunks.push(Chunk::Bytes(header.slice(start..end)));
            }
            chunks.push(Chunk::Payload(payload));
            start = end;
        }
        if header.len() > start {
            chunks.push(Chunk::Bytes(header.slice(start..)));
        }
        Ok(ChunkedFrame { size: total, chunks })
    }
}

impl ApiResponse for FetchResponse<Bytes> {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.array(&self.topics, |w, t| {
            w.string(&t.topic)?;
            w.array(&t.partitions, |w, p| {
                w.i32(p.partition);
                w.i16(p.error_code.code());
                w.i64(p.high_watermark);
                w.sized_bytes(&p.message_set)
            })
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let topics = r.array(6, |r| {
            Ok(FetchResponseTopic {
                topic: r.string("null topic name")?,
                partitions: r.array(18, |r| {
                    Ok(FetchResponsePartition {
                        partition: r.i32()?,
                        error_code: ErrorCode::from_code(r.i16()?),
                        high_watermark: r.i64()?,
                        message_set: r.sized_bytes()?,
                    })
                })?,
            })
        })?;
        Ok(FetchResponse { topics })
    }
}
