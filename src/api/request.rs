//! Request frames: the [`ApiRequest`] trait every request body implements, the
//! [`Request`] enum the broker dispatches on, and [`decode_request`].

use super::api_versions::ApiVersionsRequest;
use super::codec::{Reader, Writer};
use super::consumer_metadata::ConsumerMetadataRequest;
use super::controlled_shutdown::ControlledShutdownRequest;
use super::error::{DecodeError, EncodeError};
use super::fetch::FetchRequest;
use super::frame::write_frame;
use super::header::{ApiKey, RequestHeader};
use super::leader_and_isr::LeaderAndIsrRequest;
use super::metadata::MetadataRequest;
use super::offset_commit::OffsetCommitRequest;
use super::offset_fetch::OffsetFetchRequest;
use super::offsets::OffsetsRequest;
use super::produce::ProduceRequest;
use super::response::ApiResponse;
use super::stop_replica::StopReplicaRequest;
use super::update_metadata::UpdateMetadataRequest;
use bytes::{Bytes, BytesMut};

/// A request body of one api. `version` matters only where the layout depends on it
/// (OffsetCommit); callers pass the header's version.
pub trait ApiRequest: Sized {
    const API_KEY: ApiKey;
    /// The response body this request is answered with.
    type Response: ApiResponse;

    fn encode_body(&self, version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    fn decode_body(version: i16, r: &mut Reader) -> Result<Self, DecodeError>;
}

/// Every request kafka08 accepts, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    Offsets(OffsetsRequest),
    Metadata(MetadataRequest),
    LeaderAndIsr(LeaderAndIsrRequest),
    StopReplica(StopReplicaRequest),
    UpdateMetadata(UpdateMetadataRequest),
    ControlledShutdown(ControlledShutdownRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    ConsumerMetadata(ConsumerMetadataRequest),
    ApiVersions(ApiVersionsRequest),
    /// ApiVersions at a version other than 0. Answer it with
    /// `ApiVersionsResponse::unsupported_version()` (KIP-511, docs/wire-protocol.md), or
    /// close the connection when emulating 0.8 strictly. Only the header's key, version and
    /// correlation id are meaningful: newer versions use a flexible header, so `client_id`
    /// is a best effort and the body is not parsed.
    UnsupportedApiVersions,
}

macro_rules! request_variants {
    ($m:ident) => {
        $m! {
            Produce(ProduceRequest),
            Fetch(FetchRequest),
            Offsets(OffsetsRequest),
            Metadata(MetadataRequest),
            LeaderAndIsr(LeaderAndIsrRequest),
            StopReplica(StopReplicaRequest),
            UpdateMetadata(UpdateMetadataRequest),
            ControlledShutdown(ControlledShutdownRequest),
            OffsetCommit(OffsetCommitRequest),
            OffsetFetch(OffsetFetchRequest),
            ConsumerMetadata(ConsumerMetadataRequest),
            ApiVersions(ApiVersionsRequest),
        }
    };
}

macro_rules! request_impls {
    ($($variant:ident($ty:ty),)*) => {
        $(
            impl From<$ty> for Request {
                fn from(r: $ty) -> Request {
                    Request::$variant(r)
                }
            }
        )*

        impl Request {
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Request::$variant(_) => <$ty as ApiRequest>::API_KEY,)*
                    Request::UnsupportedApiVersions => ApiKey::ApiVersions,
                }
            }

            /// Write the body (no header, no size prefix).
            pub fn encode_body(&self, version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                match self {
                    $(Request::$variant(r) => r.encode_body(version, w),)*
                    Request::UnsupportedApiVersions => Ok(()),
                }
            }

            /// Read the body of a request whose header has been checked.
            fn decode_body(api_key: ApiKey, version: i16, r: &mut Reader) -> Result<Request, DecodeError> {
                match api_key {
                    $(k if k == <$ty as ApiRequest>::API_KEY => <$ty>::decode_body(version, r).map(Request::$variant),)*
                    _ => Err(DecodeError::UnknownApiKey(api_key.code())),
                }
            }
        }
    };
}

request_variants!(request_impls);

impl Request {
    /// The whole frame (size prefix, header, body). The header must name this request's
    /// api key.
    pub fn encode(&self, header: &RequestHeader) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.write(&mut buf, header)?;
        Ok(buf.freeze())
    }

    /// Append the whole frame to `buf`.
    pub fn write(&self, buf: &mut BytesMut, header: &RequestHeader) -> Result<(), EncodeError> {
        check_key(header, self.api_key())?;
        write_frame(buf, |w| {
            header.encode(w)?;
            self.encode_body(header.api_version, w)
        })
    }
}

fn check_key(header: &RequestHeader, body: ApiKey) -> Result<(), EncodeError> {
    if header.api_key != body {
        return Err(EncodeError::ApiKeyMismatch { header: header.api_key.code(), body: body.code() });
    }
    Ok(())
}

/// A typed request as a whole frame (size prefix, header, body). The header must name
/// `R::API_KEY`.
pub fn encode_request<R: ApiRequest>(header: &RequestHeader, body: &R) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    write_request(&mut buf, header, body)?;
    Ok(buf.freeze())
}

/// Append a typed request frame to `buf` (for clients that batch several requests).
pub fn write_request<R: ApiRequest>(buf: &mut BytesMut, header: &RequestHeader, body: &R) -> Result<(), EncodeError> {
    check_key(header, R::API_KEY)?;
    write_frame(buf, |w| {
        header.encode(w)?;
        body.encode_body(header.api_version, w)
    })
}

/// Decode one request frame payload (the bytes after the size prefix).
///
/// Accepts exactly the 0.8.2 versions of docs/wire-protocol.md (see [`ApiKey::versions`]); an
/// unknown key is `UnknownApiKey` (11 JoinGroup and 12 Heartbeat included), a known key at
/// another version is `UnsupportedVersion`, and any malformed body is an error: in every
/// case the broker closes the connection without a response, as 0.8.2 does. The single
/// exception is ApiVersions at a version other than 0, which decodes as
/// [`Request::UnsupportedApiVersions`] so it can be answered (KIP-511).
///
/// Bytes after the body are ignored, as 0.8.2's `readFrom` methods ignore them.
/// Message sets and other byte fields are slices of `payload`, not copies.
pub fn decode_request(payload: Bytes) -> Result<(RequestHeader, Request), DecodeError> {
    if payload.len() >= 4 {
        let key = i16::from_be_bytes([payload[0], payload[1]]);
        let version = i16::from_be_bytes([payload[2], payload[3]]);
        if key == ApiKey::ApiVersions.code() && !ApiKey::ApiVersions.supports_version(version) {
            return decode_unsupported_api_versions(payload, version);
        }
    }
    let mut r = Reader::new(payload);
    let header = RequestHeader::decode(&mut r)?;
    let request = Request::decode_body(header.api_key, header.api_version, &mut r)?;
    if request.expanded_topic_bytes() > MAX_EXPANDED_TOPIC_BYTES {
        return Err(DecodeError::Invalid("the request names more topic bytes per partition than MAX_EXPANDED_TOPIC_BYTES"));
    }
    Ok((header, request))
}

/// The most topic-name bytes a request may expand to when each of its partition entries
/// is paired with its topic's name (Σ name length × partitions, over its topics). The wire
/// names a topic once for all its partitions, so 1 MB naming 250,000 partitions (4 bytes
/// each) of a 32 KB topic would expand to 8 GB of `(topic, partition)` pairs. Handlers never
/// make those pairs with copies: they borrow the names from the request, hold one
/// `Arc<str>` per topic when an answer is deferred (`SharedNames`), and responses carry a
/// name once per topic (`group_by_topic`), as 0.8.2 shared one JVM string. The limit stays
/// as a bound on the per-partition work one small request can ask for. A real client stays
/// far below: 10,000 partitions of a 249-character topic are 2.5 MB. A request above the
/// limit is refused like an undecodable one (the connection closes).
pub const MAX_EXPANDED_TOPIC_BYTES: usize = 16 * 1024 * 1024;

impl Request {
    /// Σ over the request's topics of name length × partition entries (see
    /// [`MAX_EXPANDED_TOPIC_BYTES`]); requests that carry a name per entry count 0.
    pub fn expanded_topic_bytes(&self) -> usize {
        fn sum<'a>(topics: impl Iterator<Item = (&'a str, usize)>) -> usize {
            topics.fold(0usize, |acc, (t, n)| acc.saturating_add(t.len().saturating_mul(n)))
        }
        match self {
            Request::Produce(r) => sum(r.topics.iter().map(|t| (t.topic.as_str(), t.partitions.len()))),
            Request::Fetch(r) => sum(r.topics.iter().map(|t| (t.topic.as_str(), t.partitions.len()))),
            Request::Offsets(r) => sum(r.topics.iter().map(|t| (t.topic.as_str(), t.partitions.len()))),
            Request::OffsetCommit(r) => sum(r.topics.iter().map(|t| (t.topic.as_str(), t.partitions.len()))),
            Request::OffsetFetch(r) => sum(r.topics.iter().map(|t| (t.topic.as_str(), t.partitions.len()))),
            _ => 0,
        }
    }
}

fn decode_unsupported_api_versions(payload: Bytes, version: i16) -> Result<(RequestHeader, Request), DecodeError> {
    let mut r = Reader::new(payload);
    r.i16()?;
    r.i16()?;
    let correlation_id = r.i32()?;
    // Every ApiVersions header version starts the client id as an int16 string.
    let client_id = r.nullable_string().ok().flatten();
    let header = RequestHeader { api_key: ApiKey::ApiVersions, api_version: version, correlation_id, client_id };
    Ok((header, Request::UnsupportedApiVersions))
}
