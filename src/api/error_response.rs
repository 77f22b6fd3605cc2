//! The answer to a request that decoded but could not be handled: 0.8.2's per-request
//! `handleError` (kafka.api), which puts the mapped error code on every requested
//! partition (docs/wire-protocol.md).

use super::api_versions::ApiVersionsResponse;
use super::consumer_metadata::ConsumerMetadataResponse;
use super::controlled_shutdown::ControlledShutdownResponse;
use super::fetch::{FetchResponse, FetchResponsePartition};
use super::leader_and_isr::{LeaderAndIsrResponse, PartitionResult};
use super::metadata::{MetadataResponse, TopicMetadata};
use super::offset_commit::{OffsetCommitResponse, OffsetCommitResponsePartition};
use super::offset_fetch::{OffsetFetchResponse, OffsetFetchResponsePartition};
use super::offsets::{OffsetsResponse, OffsetsResponsePartition};
use super::produce::{ProduceResponse, ProduceResponsePartition};
use super::request::Request;
use super::response::Response;
use super::stop_replica::StopReplicaResponse;
use super::update_metadata::UpdateMetadataResponse;
use crate::common::ErrorCode;
use bytes::Bytes;

impl Request {
    /// The response 0.8.2 sends when handling this request failed with `error`: every
    /// distinct requested partition (or topic) carries the code; offsets are -1, message
    /// sets empty, the coordinator is [`Broker::none`](super::Broker::none). The controller apis keep a
    /// request-level code of 0 and put the error on each partition, as 0.8.2 does.
    ///
    /// `None` for a Produce with `acks = 0`: there is no response, the connection is
    /// closed instead so the client notices.
    pub fn error_response(&self, error: ErrorCode) -> Option<Response> {
        let response = match self {
            Request::Produce(r) => {
                if !r.expects_response() {
                    return None;
                }
                Response::Produce(ProduceResponse::from_partitions(r.partitions().into_iter().map(|(t, p)| {
                    (
                        t,
                        ProduceResponsePartition { partition: p.partition, error_code: error, base_offset: -1 },
                    )
                })))
            }
            Request::Fetch(r) => {
                Response::Fetch(FetchResponse::from_partitions(r.partitions().into_iter().map(|(t, p)| {
                    (
                        t,
                        FetchResponsePartition {
                            partition: p.partition,
                            error_code: error,
                            high_watermark: -1,
                            message_set: Bytes::new(),
                        },
                    )
                })))
            }
            Request::Offsets(r) => {
                Response::Offsets(OffsetsResponse::from_partitions(r.partitions().into_iter().map(|(t, p)| {
                    (
                        t,
                        OffsetsResponsePartition { partition: p.partition, error_code: error, offsets: vec![] },
                    )
                })))
            }
            Request::Metadata(r) => Response::Metadata(MetadataResponse {
                brokers: vec![],
                topics: r
                    .unique_topics()
                    .into_iter()
                    .map(|t| TopicMetadata { error_code: error, topic: t.to_string(), partitions: vec![] })
                    .collect(),
            }),
            Request::LeaderAndIsr(r) => Response::LeaderAndIsr(LeaderAndIsrResponse {
                error_code: ErrorCode::NoError,
                partitions: unique_results(r.partition_states.iter().map(|s| (s.topic.as_str(), s.partition)), error),
            }),
            Request::StopReplica(r) => Response::StopReplica(StopReplicaResponse {
                error_code: ErrorCode::NoError,
                partitions: unique_results(r.partitions.iter().map(|tp| (tp.topic.as_str(), tp.partition)), error),
            }),
            Request::UpdateMetadata(_) => Response::UpdateMetadata(UpdateMetadataResponse { error_code: error }),
            Request::ControlledShutdown(_) => Response::ControlledShutdown(ControlledShutdownResponse {
                error_code: error,
                partitions_remaining: vec![],
            }),
            Request::OffsetCommit(r) => Response::OffsetCommit(OffsetCommitResponse::from_partitions(
                r.partitions().into_iter().map(|(t, p)| {
                    (t, OffsetCommitResponsePartition { partition: p.partition, error_code: error })
                }),
            )),
            Request::OffsetFetch(r) => {
                Response::OffsetFetch(OffsetFetchResponse::from_partitions(r.partitions().into_iter().map(|(topic, partition)| {
                    (
                        topic,
                        OffsetFetchResponsePartition {
                            partition,
                            offset: -1,
                            metadata: String::new(),
                            error_code: error,
                        },
                    )
                })))
            }
            Request::ConsumerMetadata(_) => Response::ConsumerMetadata(ConsumerMetadataResponse::error(error)),
            Request::ApiVersions(_) => {
                Response::ApiVersions(ApiVersionsResponse { error_code: error.code(), api_keys: vec![] })
            }
            Request::UnsupportedApiVersions => Response::ApiVersions(ApiVersionsResponse::unsupported_version()),
        };
        Some(response)
    }
}

fn unique_results<'a>(partitions: impl Iterator<Item = (&'a str, i32)>, error: ErrorCode) -> Vec<PartitionResult> {
    let mut seen = std::collections::HashSet::new();
    partitions
        .filter(|key| seen.insert(*key))
        .map(|(topic, partition)| PartitionResult { topic: topic.to_string(), partition, error_code: error })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FetchPartition, FetchRequest, FetchTopic, ProducePartition, ProduceRequest, ProduceTopic};

    #[test]
    fn acks_zero_produce_has_no_error_response() {
        let r = Request::Produce(ProduceRequest { acks: 0, timeout_ms: 0, topics: vec![] });
        assert_eq!(r.error_response(ErrorCode::Unknown), None);
    }

    #[test]
    fn one_error_entry_per_distinct_partition() {
        let p = |partition| ProducePartition { partition, message_set: Bytes::new() };
        let r = Request::Produce(ProduceRequest {
            acks: 1,
            timeout_ms: 0,
            topics: vec![
                ProduceTopic { topic: "a".into(), partitions: vec![p(0), p(1), p(0)] },
                ProduceTopic { topic: "b".into(), partitions: vec![p(0)] },
            ],
        });
        let Some(Response::Produce(resp)) = r.error_response(ErrorCode::RequestTimedOut) else { panic!() };
        let flat: Vec<_> = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| (t.topic.as_str(), p.partition, p.error_code, p.base_offset))
            })
            .collect();
        assert_eq!(
            flat,
            vec![
                ("a", 0, ErrorCode::RequestTimedOut, -1),
                ("a", 1, ErrorCode::RequestTimedOut, -1),
                ("b", 0, ErrorCode::RequestTimedOut, -1)
            ]
        );
    }

    #[test]
    fn fetch_error_response_has_empty_sets_and_no_high_watermark() {
        let r = Request::Fetch(FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            topics: vec![FetchTopic {
                topic: "t".into(),
                partitions: vec![FetchPartition { partition: 2, fetch_offset: 9, max_bytes: 10 }],
            }],
        });
        let Some(Response::Fetch(resp)) = r.error_response(ErrorCode::NotLeaderForPartition) else { panic!() };
        let p = &resp.topics[0].partitions[0];
        assert_eq!(
            (p.partition, p.error_code, p.high_watermark, p.message_set.len()),
            (2, ErrorCode::NotLeaderForPartition, -1, 0)
        );
    }
}
