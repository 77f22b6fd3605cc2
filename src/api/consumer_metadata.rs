//! ConsumerMetadata (key 10) v0, docs/wire-protocol.md: where is the offset coordinator of a
//! group.

use super::broker::Broker;
use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMetadataRequest {
    pub group: String,
}

impl ApiRequest for ConsumerMetadataRequest {
    const API_KEY: ApiKey = ApiKey::ConsumerMetadata;
    type Response = ConsumerMetadataResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string(&self.group)
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ConsumerMetadataRequest { group: r.string("null group id")? })
    }
}

/// The coordinator fields are always on the wire; on error they hold [`Broker::none`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMetadataResponse {
    pub error_code: ErrorCode,
    pub coordinator: Broker,
}

impl ConsumerMetadataResponse {
    pub fn found(coordinator: Broker) -> ConsumerMetadataResponse {
        ConsumerMetadataResponse { error_code: ErrorCode::NoError, coordinator }
    }

    pub fn error(error_code: ErrorCode) -> ConsumerMetadataResponse {
        ConsumerMetadataResponse { error_code, coordinator: Broker::none() }
    }
}

impl ApiResponse for ConsumerMetadataResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.error_code.code());
        self.coordinator.encode(w)
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ConsumerMetadataResponse { error_code: ErrorCode::from_code(r.i16()?), coordinator: Broker::decode(r)? })
    }
}
