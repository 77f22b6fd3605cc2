//! ControlledShutdown (key 7) v0, docs/wire-protocol.md: broker → controller. Its request header
//! has no `client_id` (see [`super::ApiKey::header_has_client_id`]).

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::leader_and_isr::{decode_topic_partition, encode_topic_partition};
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::{ErrorCode, TopicPartition};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlledShutdownRequest {
    pub broker_id: i32,
}

impl ApiRequest for ControlledShutdownRequest {
    const API_KEY: ApiKey = ApiKey::ControlledShutdown;
    type Response = ControlledShutdownResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.broker_id);
        Ok(())
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ControlledShutdownRequest { broker_id: r.i32()? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlledShutdownResponse {
    pub error_code: ErrorCode,
    /// Partitions this broker still leads.
    pub partitions_remaining: Vec<TopicPartition>,
}

impl ApiResponse for ControlledShutdownResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.error_code.code());
        w.array(&self.partitions_remaining, encode_topic_partition)
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(ControlledShutdownResponse {
            error_code: ErrorCode::from_code(r.i16()?),
            partitions_remaining: r.array(6, decode_topic_partition)?,
        })
    }
}
