//! Sample values of every request and response type, shared by the codec tests.
#![allow(dead_code)]

use bytes::Bytes;
use kafka08::api::*;
use kafka08::common::{ErrorCode, TopicPartition};
use kafka08::message::{encode_messages, CompressionCodec, Message};

pub fn hex(s: &str) -> Bytes {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    Bytes::from(
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect::<Vec<u8>>(),
    )
}

pub fn message_set(values: &[&str], first_offset: i64, codec: CompressionCodec) -> Bytes {
    let msgs: Vec<Message> =
        values.iter().map(|v| Message::new(None, Some(v.as_bytes()), CompressionCodec::None)).collect();
    encode_messages(codec, &msgs, first_offset)
}

fn header(key: ApiKey, version: i16, correlation_id: i32, client_id: Option<&str>) -> RequestHeader {
    RequestHeader::new(key, version, correlation_id, client_id)
}

fn partition_state(topic: &str, partition: i32) -> PartitionState {
    PartitionState {
        topic: topic.into(),
        partition,
        controller_epoch: 3,
        leader: 1,
        leader_epoch: 7,
        isr: vec![1, 2],
        zk_version: 12,
        replicas: vec![1, 2, 3],
    }
}

/// One request of every type (and both versions of OffsetCommit / OffsetFetch).
pub fn requests() -> Vec<(RequestHeader, Request)> {
    vec![
        (
            header(ApiKey::Produce, 0, 1, Some("cli")),
            Request::Produce(ProduceRequest {
                acks: -1,
                timeout_ms: 1500,
                topics: vec![
                    ProduceTopic {
                        topic: "test".into(),
                        partitions: vec![
                            ProducePartition {
                                partition: 0,
                                message_set: message_set(&["a", "bb"], 0, CompressionCodec::None),
                            },
                            ProducePartition {
                                partition: 3,
                                message_set: message_set(&["zipped"], 0, CompressionCodec::Gzip),
                            },
                        ],
                    },
                    ProduceTopic {
                        topic: "empty".into(),
                        partitions: vec![ProducePartition { partition: 1, message_set: Bytes::new() }],
                    },
                ],
            }),
        ),
        (
            header(ApiKey::Fetch, 0, 2, None),
            Request::Fetch(FetchRequest {
                replica_id: CONSUMER_REPLICA_ID,
                max_wait_ms: 500,
                min_bytes: 1,
                topics: vec![
                    FetchTopic {
                        topic: "test".into(),
                        partitions: vec![
                            FetchPartition { partition: 0, fetch_offset: 5, max_bytes: 1 << 20 },
                            FetchPartition { partition: 1, fetch_offset: i64::MAX, max_bytes: 0 },
                        ],
                    },
                    FetchTopic { topic: "other".into(), partitions: vec![] },
                ],
            }),
        ),
        (
            header(ApiKey::Offsets, 0, 3, Some("")),
            Request::Offsets(OffsetsRequest {
                replica_id: -2,
                topics: vec![OffsetsTopic {
                    topic: "test".into(),
                    partitions: vec![
                        OffsetsPartition { partition: 0, time: LATEST_TIME, max_offsets: 1 },
                        OffsetsPartition { partition: 1, time: EARLIEST_TIME, max_offsets: 10 },
                        OffsetsPartition { partition: 2, time: 1_400_000_000_000, max_offsets: -1 },
                    ],
                }],
            }),
        ),
        (header(ApiKey::Metadata, 0, 4, Some("kcat")), Request::Metadata(MetadataRequest { topics: vec![] })),
        (
            header(ApiKey::Metadata, 0, 5, Some("kcat")),
            Request::Metadata(MetadataRequest { topics: vec!["a".into(), "b.c_d-e".into(), "a".into()] }),
        ),
        (
            header(ApiKey::LeaderAndIsr, 0, 6, Some("controller")),
            Request::LeaderAndIsr(LeaderAndIsrRequest {
                controller_id: 1,
                controller_epoch: 3,
                partition_states: vec![partition_state("t", 0), partition_state("t", 1)],
                leaders: vec![Broker::new(1, "host1", 9092)],
            }),
        ),
        (
            header(ApiKey::StopReplica, 0, 7, Some("controller")),
            Request::StopReplica(StopReplicaRequest {
                controller_id: 1,
                controller_epoch: 3,
                delete_partitions: true,
                partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("u", 9)],
            }),
        ),
        (
            header(ApiKey::UpdateMetadata, 0, 8, Some("controller")),
            Request::UpdateMetadata(UpdateMetadataRequest {
                controller_id: 2,
                controller_epoch: 4,
                partition_states: vec![partition_state("t", 0)],
                alive_brokers: vec![Broker::new(1, "host1", 9092), Broker::new(2, "host2", 9093)],
            }),
        ),
        (
            header(ApiKey::ControlledShutdown, 0, 9, None),
            Request::ControlledShutdown(ControlledShutdownRequest { broker_id: 2 }),
        ),
        (
            header(ApiKey::OffsetCommit, 0, 10, Some("kafka-python")),
            Request::OffsetCommit(OffsetCommitRequest {
                group: "g".into(),
                generation_id: DEFAULT_GENERATION_ID,
                consumer_id: String::new(),
                topics: vec![OffsetCommitTopic {
                    topic: "test".into(),
                    partitions: vec![OffsetCommitPartition {
                        partition: 0,
                        offset: 42,
                        timestamp: DEFAULT_TIMESTAMP,
                        metadata: "m".into(),
                    }],
                }],
            }),
        ),
        (
            header(ApiKey::OffsetCommit, 1, 11, Some("sarama")),
            Request::OffsetCommit(OffsetCommitRequest {
                group: "group-1".into(),
                generation_id: 17,
                consumer_id: "consumer-1".into(),
                topics: vec![OffsetCommitTopic {
                    topic: "test".into(),
                    partitions: vec![
                        OffsetCommitPartition {
                            partition: 0,
                            offset: 42,
                            timestamp: 1_500_000_000_000,
                            metadata: String::new(),
                        },
                        OffsetCommitPartition { partition: 1, offset: 7, timestamp: -1, metadata: "meta".into() },
                    ],
                }],
            }),
        ),
        (
            header(ApiKey::OffsetFetch, 0, 12, Some("x")),
            Request::OffsetFetch(OffsetFetchRequest {
                group: "g".into(),
                topics: vec![OffsetFetchTopic { topic: "test".into(), partitions: vec![0, 1, 2] }],
            }),
        ),
        (
            header(ApiKey::OffsetFetch, 1, 13, Some("x")),
            Request::OffsetFetch(OffsetFetchRequest {
                group: "g".into(),
                topics: vec![
                    OffsetFetchTopic { topic: "a".into(), partitions: vec![0] },
                    OffsetFetchTopic { topic: "b".into(), partitions: vec![] },
                ],
            }),
        ),
        (
            header(ApiKey::ConsumerMetadata, 0, 14, Some("pykafka")),
            Request::ConsumerMetadata(ConsumerMetadataRequest { group: "g".into() }),
        ),
        (header(ApiKey::ApiVersions, 0, 15, Some("sarama")), Request::ApiVersions(ApiVersionsRequest)),
    ]
}

/// One response of every type, with the key and version of the request it answers.
pub fn responses() -> Vec<(ApiKey, i16, Response)> {
    vec![
        (
            ApiKey::Produce,
            0,
            Response::Produce(ProduceResponse {
                topics: vec![ProduceResponseTopic {
                    topic: "test".into(),
                    partitions: vec![
                        ProduceResponsePartition { partition: 0, error_code: ErrorCode::NoError, base_offset: 5 },
                        ProduceResponsePartition {
                            partition: 1,
                            error_code: ErrorCode::NotLeaderForPartition,
                            base_offset: -1,
                        },
                    ],
                }],
            }),
        ),
        (
            ApiKey::Fetch,
            0,
            Response::Fetch(FetchResponse {
                topics: vec![FetchResponseTopic {
                    topic: "test".into(),
                    partitions: vec![
                        FetchResponsePartition {
                            partition: 0,
                            error_code: ErrorCode::NoError,
                            high_watermark: 9,
                            message_set: message_set(&["x", "y", "z"], 6, CompressionCodec::None),
                        },
                        FetchResponsePartition {
                            partition: 1,
                            error_code: ErrorCode::OffsetOutOfRange,
                            high_watermark: -1,
                            message_set: Bytes::new(),
                        },
                    ],
                }],
            }),
        ),
        (
            ApiKey::Offsets,
            0,
            Response::Offsets(OffsetsResponse {
                topics: vec![OffsetsResponseTopic {
                    topic: "test".into(),
                    partitions: vec![
                        OffsetsResponsePartition {
                            partition: 0,
                            error_code: ErrorCode::NoError,
                            offsets: vec![100, 50, 0],
                        },
                        OffsetsResponsePartition {
                            partition: 1,
                            error_code: ErrorCode::UnknownTopicOrPartition,
                            offsets: vec![],
                        },
                    ],
                }],
            }),
        ),
        (
            ApiKey::Metadata,
            0,
            Response::Metadata(MetadataResponse {
                brokers: vec![Broker::new(0, "localhost", 9092), Broker::new(1, "other", 9093)],
                topics: vec![
                    TopicMetadata {
                        error_code: ErrorCode::NoError,
                        topic: "test".into(),
                        partitions: vec![
                            PartitionMetadata {
                                error_code: ErrorCode::NoError,
                                partition: 0,
                                leader: 0,
                                replicas: vec![0, 1],
                                isr: vec![0, 1],
                            },
                            PartitionMetadata {
                                error_code: ErrorCode::LeaderNotAvailable,
                                partition: 1,
                                leader: -1,
                                replicas: vec![1],
                                isr: vec![],
                            },
                        ],
                    },
                    TopicMetadata {
                        error_code: ErrorCode::LeaderNotAvailable,
                        topic: "new".into(),
                        partitions: vec![],
                    },
                ],
            }),
        ),
        (
            ApiKey::LeaderAndIsr,
            0,
            Response::LeaderAndIsr(LeaderAndIsrResponse {
                error_code: ErrorCode::NoError,
                partitions: vec![PartitionResult {
                    topic: "t".into(),
                    partition: 0,
                    error_code: ErrorCode::StaleLeaderEpoch,
                }],
            }),
        ),
        (
            ApiKey::StopReplica,
            0,
            Response::StopReplica(StopReplicaResponse {
                error_code: ErrorCode::StaleControllerEpoch,
                partitions: vec![PartitionResult { topic: "t".into(), partition: 3, error_code: ErrorCode::NoError }],
            }),
        ),
        (
            ApiKey::UpdateMetadata,
            0,
            Response::UpdateMetadata(UpdateMetadataResponse { error_code: ErrorCode::NoError }),
        ),
        (
            ApiKey::ControlledShutdown,
            0,
            Response::ControlledShutdown(ControlledShutdownResponse {
                error_code: ErrorCode::NoError,
                partitions_remaining: vec![TopicPartition::new("t", 1)],
            }),
        ),
        (
            ApiKey::OffsetCommit,
            1,
            Response::OffsetCommit(OffsetCommitResponse {
                topics: vec![OffsetCommitResponseTopic {
                    topic: "test".into(),
                    partitions: vec![
                        OffsetCommitResponsePartition { partition: 0, error_code: ErrorCode::NoError },
                        OffsetCommitResponsePartition { partition: 1, error_code: ErrorCode::OffsetMetadataTooLarge },
                    ],
                }],
            }),
        ),
        (
            ApiKey::OffsetFetch,
            0,
            Response::OffsetFetch(OffsetFetchResponse {
                topics: vec![OffsetFetchResponseTopic {
                    topic: "test".into(),
                    partitions: vec![
                        OffsetFetchResponsePartition {
                            partition: 0,
                            offset: 42,
                            metadata: "meta".into(),
                            error_code: ErrorCode::NoError,
                        },
                        OffsetFetchResponsePartition {
                            partition: 1,
                            offset: -1,
                            metadata: String::new(),
                            error_code: ErrorCode::UnknownTopicOrPartition,
                        },
                    ],
                }],
            }),
        ),
        (
            ApiKey::ConsumerMetadata,
            0,
            Response::ConsumerMetadata(ConsumerMetadataResponse::found(Broker::new(0, "localhost", 9092))),
        ),
        (
            ApiKey::ConsumerMetadata,
            0,
            Response::ConsumerMetadata(ConsumerMetadataResponse::error(ErrorCode::ConsumerCoordinatorNotAvailable)),
        ),
        (ApiKey::ApiVersions, 0, Response::ApiVersions(ApiVersionsResponse::kafka_0_8_2())),
        (ApiKey::ApiVersions, 0, Response::ApiVersions(ApiVersionsResponse::unsupported_version())),
    ]
}
