//! ApiVersions (key 18) v0: not a 0.8 api but the optional compatibility extension
//! (docs/wire-protocol.md) that rescues clients that insist on asking (Sarama >= 1.46, librdkafka with
//! its default `api.version.request=true`). A request at any other version is answered
//! with [`ApiVersionsResponse::unsupported_version`] (KIP-511), see
//! [`super::Request::UnsupportedApiVersions`].

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;

/// UNSUPPORTED_VERSION: not a 0.8 error code, used only inside this extension. The error
/// code is a raw `i16` here because `ErrorCode` deliberately stops at 20.
pub const UNSUPPORTED_VERSION: i16 = 35;

/// The client-facing apis a 0.8.2-level broker advertises (docs/wire-protocol.md): no 4–7
/// (controller traffic), no 11/12 (0.8.2 stubs).
pub const ADVERTISED_APIS: [ApiKey; 8] = [
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::Offsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::ConsumerMetadata,
    ApiKey::ApiVersions,
];

/// v0 has an empty body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApiVersionsRequest;

impl ApiRequest for ApiVersionsRequest {
    const API_KEY: ApiKey = ApiKey::ApiVersions;
    type Response = ApiVersionsResponse;

    fn encode_body(&self, _version: i16, _w: &mut Writer<'_>) -> Result<(), EncodeError> {
        Ok(())
    }

    fn decode_body(_version: i16, _r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ApiVersionsRequest)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    pub error_code: i16,
    pub api_keys: Vec<ApiVersionRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersionRange {
    pub api_key: i16,
    pub min_version: i16,
    pub max_version: i16,
}

impl ApiVersionRange {
    pub fn of(key: ApiKey) -> ApiVersionRange {
        let (min_version, max_version) = key.versions();
        ApiVersionRange { api_key: key.code(), min_version, max_version }
    }
}

impl ApiVersionsResponse {
    /// Error 0 and the [`ADVERTISED_APIS`] with their accepted versions.
    pub fn kafka_0_8_2() -> ApiVersionsResponse {
        ApiVersionsResponse {
            error_code: 0,
            api_keys: ADVERTISED_APIS.iter().map(|&k| ApiVersionRange::of(k)).collect(),
        }
    }

    /// The KIP-511 reply to an ApiVersions request at a version we do not serve: a v0
    /// body, error 35, and our range for key 18 so the client can retry.
    pub fn unsupported_version() -> ApiVersionsResponse {
        ApiVersionsResponse {
            error_code: UNSUPPORTED_VERSION,
            api_keys: vec![ApiVersionRange::of(ApiKey::ApiVersions)],
        }
    }
}

impl ApiResponse for ApiVersionsResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.error_code);
        w.array(&self.api_keys, |w, k| {
            w.i16(k.api_key);
            w.i16(k.min_version);
            w.i16(k.max_version);
            Ok(())
        })
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ApiVersionsResponse {
            error_code: r.i16()?,
            api_keys: r.array(6, |r| {
                Ok(ApiVersionRange { api_key: r.i16()?, min_version: r.i16()?, max_version: r.i16()? })
            })?,
        })
    }
}
