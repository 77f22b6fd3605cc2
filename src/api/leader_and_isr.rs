//! LeaderAndIsr (key 4) v0, docs/wire-protocol.md: controller → broker. Also the partition-state
//! and per-partition-result layouts shared with UpdateMetadata and StopReplica.

use super::broker::Broker;
use super::codec::{Reader, Writer};
use super::error::{DecodeError, EncodeError};
use super::header::ApiKey;
use super::request::ApiRequest;
use super::response::ApiResponse;
use crate::common::{ErrorCode, TopicPartition};

/// A partition's leadership as the controller sends it (0.8.2 `PartitionStateInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub topic: String,
    pub partition: i32,
    /// Epoch of the controller that elected this leader.
    pub controller_epoch: i32,
    pub leader: i32,
    pub leader_epoch: i32,
    pub isr: Vec<i32>,
    pub zk_version: i32,
    /// All assigned replicas.
    pub replicas: Vec<i32>,
}

impl PartitionState {
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    /// topic "" + partition + 3 ints + isr count + zk_version + replica count.
    pub(crate) const MIN_SIZE: usize = 2 + 4 + 12 + 4 + 4 + 4;

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string(&self.topic)?;
        w.i32(self.partition);
        w.i32(self.controller_epoch);
        w.i32(self.leader);
        w.i32(self.leader_epoch);
        w.i32_array(&self.isr)?;
        w.i32(self.zk_version);
        w.i32_array(&self.replicas)
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<PartitionState, DecodeError> {
        Ok(PartitionState {
            topic: r.string("null topic name")?,
            partition: r.i32()?,
            controller_epoch: r.i32()?,
            leader: r.i32()?,
            leader_epoch: r.i32()?,
            isr: r.i32_array()?,
            zk_version: r.i32()?,
            replicas: r.i32_array()?,
        })
    }
}

/// A per-partition error code in a controller-api response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    pub topic: String,
    pub partition: i32,
    pub error_code: ErrorCode,
}

impl PartitionResult {
    pub(crate) const MIN_SIZE: usize = 2 + 4 + 2;

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string(&self.topic)?;
        w.i32(self.partition);
        w.i16(self.error_code.code());
        Ok(())
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<PartitionResult, DecodeError> {
        Ok(PartitionResult {
            topic: r.string("null topic name")?,
            partition: r.i32()?,
            error_code: ErrorCode::from_code(r.i16()?),
        })
    }
}

pub(crate) fn encode_topic_partition(w: &mut Writer<'_>, tp: &TopicPartition) -> Result<(), EncodeError> {
    w.string(&tp.topic)?;
    w.i32(tp.partition);
    Ok(())
}

pub(crate) fn decode_topic_partition(r: &mut Reader) -> Result<TopicPartition, DecodeError> {
    Ok(TopicPartition { topic: r.string("null topic name")?, partition: r.i32()? })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderAndIsrRequest {
    pub controller_id: i32,
    pub controller_epoch: i32,
    pub partition_states: Vec<PartitionState>,
    /// The brokers that lead the partitions above.
    pub leaders: Vec<Broker>,
}

impl ApiRequest for LeaderAndIsrRequest {
    const API_KEY: ApiKey = ApiKey::LeaderAndIsr;
    type Response = LeaderAndIsrResponse;

    fn encode_body(&self, _version: i16, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self.controller_id);
        w.i32(self.controller_epoch);
        w.array(&self.partition_states, |w, s| s.encode(w))?;
        w.array(&self.leaders, |w, b| b.encode(w))
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(LeaderAndIsrRequest {
            controller_id: r.i32()?,
            controller_epoch: r.i32()?,
            partition_states: r.array(PartitionState::MIN_SIZE, PartitionState::decode)?,
            leaders: r.array(Broker::MIN_SIZE, Broker::decode)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderAndIsrResponse {
    /// Request-level (11 StaleControllerEpoch).
    pub error_code: ErrorCode,
    pub partitions: Vec<PartitionResult>,
}

impl ApiResponse for LeaderAndIsrResponse {
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i16(self.error_code.code());
        w.array(&self.partitions, |w, p| p.encode(w))
    }

    fn decode_body(_version: i16, r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(LeaderAndIsrResponse {
            error_code: ErrorCode::from_code(r.i16()?),
            partitions: r.array(PartitionResult::MIN_SIZE, PartitionResult::decode)?,
        })
    }
}
