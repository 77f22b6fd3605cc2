//! UpdateMetadata (key 6) v0, docs/wire-protocol.md: controller → broker. The 0.8.2 layout
//! (brokers as id/host/port, no endpoints; those arrived with v1 in 0.9).

use super::broker::Broker;
use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::leader_and_isr::PartitionState;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateMetadataRequest {
    pub controller_id: i32,
    pub controller_epoch: i32,
    pub partition_states: Vec<PartitionState>,
    pub alive_brokers: Vec<Broker>,
}

impl ApiRequest for UpdateMetadataRequest {
    const API_KEY: ApiKey = ApiKey::UpdateMetadata;
    type Response = UpdateMetadataResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.controller_id);
        w.i32(self.controller_epoch);
        w.array(&self.partition_states, |w, s| s.encode(w))?;
        w.array(&self.alive_brokers, |w, b| b.encode(w))
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(UpdateMetadataRequest {
            controller_id: r.i32()?,
            controller_epoch: r.i32()?,
            partition_states: r.array(PartitionState::MIN_SIZE, PartitionState::decode)?,
            alive_brokers: r.array(Broker::MIN_SIZE, Broker::decode)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateMetadataResponse {
    pub error_code: ErrorCode,
}

impl ApiResponse for UpdateMetadataResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.error_code.code());
        Ok(())
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(UpdateMetadataResponse { error_code: ErrorCode::from_code(r.i16()?) })
    }
}
