//! Response frames: the [`ApiResponse`] trait every response body implements, typed
//! encode/decode of whole frames, and the [`Response`] enum for code that handles any
//! response (0.8 responses are not self-describing: the caller must know which request
//! it answers).

use super::api_versions::ApiVersionsResponse;
use super::codec::{Reader, Writer};
use super::consumer_metadata::ConsumerMetadataResponse;
use super::controlled_shutdown::ControlledShutdownResponse;
use super::error::{DecodeError, EncodeError};
use super::fetch::FetchResponse;
use super::frame::write_frame;
use super::header::{ApiKey, ResponseHeader};
use super::leader_and_isr::LeaderAndIsrResponse;
use super::metadata::MetadataResponse;
use super::offset_commit::OffsetCommitResponse;
use super::offset_fetch::OffsetFetchResponse;
use super::offsets::OffsetsResponse;
use super::produce::ProduceResponse;
use super::stop_replica::StopReplicaResponse;
use super::update_metadata::UpdateMetadataResponse;
use bytes::{Bytes, BytesMut};

/// A response body of one api.
pub trait ApiResponse: Sized {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// `version` is the request's version; no 0.8.2 response layout depends on it.
    fn decode_body(version: i16, r: &mut Reader) -> Result<Self, DecodeError>;
}

/// A whole response frame (size prefix, correlation id, body).
pub fn encode_response<R: ApiResponse>(correlation_id: i32, body: &R) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    write_response(&mut buf, correlation_id, body)?;
    Ok(buf.freeze())
}

/// Append a whole response frame to `buf`.
pub fn write_response<R: ApiResponse>(buf: &mut BytesMut, correlation_id: i32, body: &R) -> Result<(), EncodeError> {
    write_frame(buf, |w| {
        ResponseHeader { correlation_id }.encode(w);
        body.encode_body(w)
    })
}

/// Decode a response frame payload (the bytes after the size prefix) as `R`. Message sets
/// are slices of `payload`. Trailing bytes are ignored.
pub fn decode_response<R: ApiResponse>(version: i16, payload: Bytes) -> Result<(ResponseHeader, R), DecodeError> {
    let mut r = Reader::new(payload);
    let header = ResponseHeader::decode(&mut r)?;
    Ok((header, R::decode_body(version, &mut r)?))
}

/// Any response, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Produce(ProduceResponse),
    Fetch(FetchResponse<Bytes>),
    Offsets(OffsetsResponse),
    Metadata(MetadataResponse),
    LeaderAndIsr(LeaderAndIsrResponse),
    StopReplica(StopReplicaResponse),
    UpdateMetadata(UpdateMetadataResponse),
    ControlledShutdown(ControlledShutdownResponse),
    OffsetCommit(OffsetCommitResponse),
    OffsetFetch(OffsetFetchResponse),
    ConsumerMetadata(ConsumerMetadataResponse),
    ApiVersions(ApiVersionsResponse),
}

macro_rules! response_impls {
    ($($variant:ident($ty:ty),)*) => {
        $(
            impl From<$ty> for Response {
                fn from(r: $ty) -> Response {
                    Response::$variant(r)
                }
            }
        )*

        impl Response {
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Response::$variant(_) => ApiKey::$variant,)*
                }
            }

            pub fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                match self {
                    $(Response::$variant(r) => r.encode_body(w),)*
                }
            }

            /// Decode a response frame payload, given the api key and version of the
            /// request it answers.
            pub fn decode(api_key: ApiKey, version: i16, payload: Bytes) -> Result<(ResponseHeader, Response), DecodeError> {
                let mut r = Reader::new(payload);
                let header = ResponseHeader::decode(&mut r)?;
                let body = match api_key {
                    $(ApiKey::$variant => Response::$variant(<$ty>::decode_body(version, &mut r)?),)*
                };
                Ok((header, body))
            }
        }
    };
}

response_impls! {
    Produce(ProduceResponse),
    Fetch(FetchResponse<Bytes>),
    Offsets(OffsetsResponse),
    Metadata(MetadataResponse),
    LeaderAndIsr(LeaderAndIsrResponse),
    StopReplica(StopReplicaResponse),
    UpdateMetadata(UpdateMetadataResponse),
    ControlledShutdown(ControlledShutdownResponse),
    OffsetCommit(OffsetCommitResponse),
    OffsetFetch(OffsetFetchResponse),
    ConsumerMetadata(ConsumerMetadataResponse),
    ApiVersions(ApiVersionsResponse),
}

impl Response {
    /// The whole frame (size prefix, correlation id, body).
    pub fn encode(&self, correlation_id: i32) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        write_frame(&mut buf, |w| {
            ResponseHeader { correlation_id }.encode(w);
            self.encode_body(w)
        })?;
        Ok(buf.freeze())
    }
}
