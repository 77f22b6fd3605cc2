//! StopReplica (key 5) v0, docs/wire-protocol.md: controller → broker.

use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::leader_and_isr::{decode_topic_partition, encode_topic_partition, PartitionResult};
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::{ErrorCode, TopicPartition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReplicaRequest {
    pub controller_id: i32,
    pub controller_epoch: i32,
    /// int8 on the wire; 0.8.2 refuses anything but 0 or 1.
    pub delete_partitions: bool,
    pub partitions: Vec<TopicPartition>,
}

impl ApiRequest for StopReplicaRequest {
    const API_KEY: ApiKey = ApiKey::StopReplica;
    type Response = StopReplicaResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.controller_id);
        w.i32(self.controller_epoch);
        w.i8(self.delete_partitions as i8);
        w.array(&self.partitions, encode_topic_partition)
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        let controller_id = r.i32()?;
        let controller_epoch = r.i32()?;
        let delete_partitions = match r.i8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::Invalid("delete_partitions must be 0 or 1")),
        };
        let partitions = r.array(6, decode_topic_partition)?;
        Ok(StopReplicaRequest { controller_id, controller_epoch, delete_partitions, partitions })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReplicaResponse {
    pub error_code: ErrorCode,
    pub partitions: Vec<PartitionResult>,
}

impl ApiResponse for StopReplicaResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.error_code.code());
        w.array(&self.partitions, |w, p| p.encode(w))
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(StopReplicaResponse {
            error_code: ErrorCode::from_code(r.i16()?),
            partitions: r.array(PartitionResult::MIN_SIZE, PartitionResult::decode)?,
        })
    }
}
