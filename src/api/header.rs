use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};

/// The api keys kafka08 serves (docs/wire-protocol.md). 11 JoinGroup and 12 Heartbeat were stubs
/// in 0.8.2 that no target client sends; they are not here, so they decode as
/// `UnknownApiKey` and the connection is closed, like 13+ in 0.8.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i16)]
pub enum ApiKey {
    Produce = 0,
    Fetch = 1,
    Offsets = 2,
    Metadata = 3,
    LeaderAndIsr = 4,
    StopReplica = 5,
    UpdateMetadata = 6,
    ControlledShutdown = 7,
    OffsetCommit = 8,
    OffsetFetch = 9,
    ConsumerMetadata = 10,
    /// Not a 0.8 api: the optional compatibility extension (docs/wire-protocol.md).
    ApiVersions = 18,
}

impl ApiKey {
    pub const ALL: [ApiKey; 12] = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::Offsets,
        ApiKey::Metadata,
        ApiKey::LeaderAndIsr,
        ApiKey::StopReplica,
        ApiKey::UpdateMetadata,
        ApiKey::ControlledShutdown,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::ConsumerMetadata,
        ApiKey::ApiVersions,
    ];

    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> Option<ApiKey> {
        ApiKey::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// Lowest and highest accepted request version: 0.8.2's versions (docs/wire-protocol.md)
    /// (v0 everywhere, v0–v1 for OffsetCommit and OffsetFetch) plus ApiVersions v0.
    pub fn versions(self) -> (i16, i16) {
        match self {
            ApiKey::OffsetCommit | ApiKey::OffsetFetch => (0, 1),
            _ => (0, 0),
        }
    }

    pub fn supports_version(self, version: i16) -> bool {
        let (min, max) = self.versions();
        (min..=max).contains(&version)
    }

    /// Whether the request header carries a `client_id`: every api but ControlledShutdown
    /// v0 (docs/wire-protocol.md).
    pub fn header_has_client_id(self) -> bool {
        self != ApiKey::ControlledShutdown
    }

    /// The 0.8.2 name (`RequestKeys.nameForKey`), for logs.
    pub fn name(self) -> &'static str {
        match self {
            ApiKey::Produce => "Produce",
            ApiKey::Fetch => "Fetch",
            ApiKey::Offsets => "Offsets",
            ApiKey::Metadata => "Metadata",
            ApiKey::LeaderAndIsr => "LeaderAndIsr",
            ApiKey::StopReplica => "StopReplica",
            ApiKey::UpdateMetadata => "UpdateMetadata",
            ApiKey::ControlledShutdown => "ControlledShutdown",
            ApiKey::OffsetCommit => "OffsetCommit",
            ApiKey::OffsetFetch => "OffsetFetch",
            ApiKey::ConsumerMetadata => "ConsumerMetadata",
            ApiKey::ApiVersions => "ApiVersions",
        }
    }
}

/// The request header (docs/wire-protocol.md). For ControlledShutdown (key 7) there is no
/// `client_id` on the wire: it decodes as `None` and is not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

impl RequestHeader {
    pub fn new(api_key: ApiKey, api_version: i16, correlation_id: i32, client_id: Option<&str>) -> RequestHeader {
        RequestHeader { api_key, api_version, correlation_id, client_id: client_id.map(str::to_owned) }
    }

    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.api_key.code());
        w.i16(self.api_version);
        w.i32(self.correlation_id);
        if self.api_key.header_has_client_id() {
            w.nullable_string(self.client_id.as_deref())?;
        }
        Ok(())
    }

    /// Read a header, checking the key and version: unknown keys are `UnknownApiKey`,
    /// versions outside [`ApiKey::versions`] are `UnsupportedVersion`. (ApiVersions at an
    /// unsupported version is answered, not refused; `decode_request` handles that case
    /// before calling this.)
    pub fn decode(r: &mut Reader) -> Result<RequestHeader, DecodeError> {
        let code = r.i16()?;
        let api_key = ApiKey::from_code(code).ok_or(DecodeError::UnknownApiKey(code))?;
        let api_version = r.i16()?;
        if !api_key.supports_version(api_version) {
            return Err(DecodeError::UnsupportedVersion { api_key: code, version: api_version });
        }
        let correlation_id = r.i32()?;
        let client_id = if api_key.header_has_client_id() { r.nullable_string()? } else { None };
        Ok(RequestHeader { api_key, api_version, correlation_id, client_id })
    }
}

/// The response header: only the correlation id (no version, no throttle in 0.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub correlation_id: i32,
}

impl ResponseHeader {
    pub fn encode(&self, w: &mut Writer<'_>) {
        w.i32(self.correlation_id);
    }

    pub fn decode(r: &mut Reader) -> Result<ResponseHeader, DecodeError> {
        Ok(ResponseHeader { correlation_id: r.i32()? })
    }
}
