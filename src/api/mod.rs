//! Typed Kafka 0.8.2 requests and responses and their byte codec (`kafka.api`), sans-io:
//! bytes in, values out, and back. No I/O and no broker state, so the broker, the clients
//! and the tests share it. The contract is `docs/wire-protocol.md`.
//!
//! - [`codec`]: the 0.8 primitives ([`Reader`] over `Bytes`, [`Writer`] over `BytesMut`).
//! - [`check_frame`] / [`split_frame`]: is a complete size-prefixed frame buffered; take it.
//! - [`decode_request`]: a request frame payload → ([`RequestHeader`], [`Request`]); only
//!   the 0.8.2 versions are accepted, everything else is a [`DecodeError`] on which the
//!   broker closes the connection.
//! - [`encode_response`] / [`Response::encode`] for the broker; [`encode_request`] /
//!   [`decode_response`] / [`Response::decode`] for clients.
//! - One file per api with its request and response types, each implementing
//!   [`ApiRequest`] / [`ApiResponse`].
//! - [`Request::error_response`]: 0.8.2's `handleError`, the answer to a request that
//!   decoded but failed (the mapped code on every requested partition).
//! - [`FetchResponse::into_frame`]: a fetch response as header chunks interleaved with
//!   message-set payloads of any [`RecordPayload`] type, so log bytes can be sent with
//!   `sendfile` and never copied.
//!
//! Decoders never panic, whatever the input (a fixed-seed fuzz test holds them to it).
//! Request structs keep the wire's shape, duplicates included; `partitions()` helpers
//! collapse duplicates as 0.8.2 does, and `from_partitions` constructors group response
//! entries by topic.

mod api_versions;
mod broker;
pub mod codec;
mod consumer_metadata;
mod controlled_shutdown;
mod error;
mod error_response;
mod fetch;
mod frame;
mod grouping;
mod header;
mod leader_and_isr;
mod metadata;
mod offset_commit;
mod offset_fetch;
mod offsets;
mod produce;
mod request;
mod response;
mod stop_replica;
mod update_metadata;

pub use api_versions::{
    ApiVersionRange, ApiVersionsRequest, ApiVersionsResponse, ADVERTISED_APIS, UNSUPPORTED_VERSION,
};
pub use broker::Broker;
pub use codec::{Reader, Writer, MAX_STRING_LEN};
pub use consumer_metadata::{ConsumerMetadataRequest, ConsumerMetadataResponse};
pub use controlled_shutdown::{ControlledShutdownRequest, ControlledShutdownResponse};
pub use error::{DecodeError, EncodeError};
pub use fetch::{
    Chunk, ChunkedFrame, FetchPartition, FetchRequest, FetchResponse, FetchResponsePartition, FetchResponseTopic,
    FetchTopic, RecordPayload, CONSUMER_REPLICA_ID, DEBUGGING_REPLICA_ID,
};
pub use frame::{check_frame, encode_frame, split_frame, write_frame, DEFAULT_MAX_REQUEST_SIZE, SIZE_PREFIX};
pub use grouping::{group_by_topic, unique_partitions, SharedNames};
pub use header::{ApiKey, RequestHeader, ResponseHeader};
pub use leader_and_isr::{LeaderAndIsrRequest, LeaderAndIsrResponse, PartitionResult, PartitionState};
pub use metadata::{MetadataRequest, MetadataResponse, PartitionMetadata, TopicMetadata};
pub use offset_commit::{
    OffsetCommitPartition, OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic, OffsetCommitTopic, DEFAULT_GENERATION_ID, DEFAULT_TIMESTAMP,
};
pub use offset_fetch::{
    OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic, OffsetFetchTopic,
};
pub use offsets::{
    OffsetsPartition, OffsetsRequest, OffsetsResponse, OffsetsResponsePartition, OffsetsResponseTopic, OffsetsTopic,
    EARLIEST_TIME, LATEST_TIME,
};
pub use produce::{
    ProducePartition, ProduceRequest, ProduceResponse, ProduceResponsePartition, ProduceResponseTopic, ProduceTopic,
};
pub use request::{decode_request, encode_request, write_request, ApiRequest, Request, MAX_EXPANDED_TOPIC_BYTES};
pub use response::{decode_response, encode_response, write_response, ApiResponse, Response};
pub use stop_replica::{StopReplicaRequest, StopReplicaResponse};
pub use update_metadata::{UpdateMetadataRequest, UpdateMetadataResponse};
