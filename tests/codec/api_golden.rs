//! Hand-checked byte strings (docs/wire-protocol.md): decodes to the expected values and re-encodes
//! byte for byte.

use crate::support::samples;

use bytes::{Bytes, BytesMut};
use kafka08::api::*;
use kafka08::common::{ErrorCode, TopicPartition};
use kafka08::message::shallow_iter;
use samples::hex;

const PRODUCE_REQUEST: &str = "0000004800000000000000010003636c690001000003e80000000100047465737400000001000000000000001f00000000000000000000001387a77ab20000ffffffff0000000568656c6c6f";
const PRODUCE_RESPONSE: &str = "000000200000000100000001000474657374000000010000000000000000000000000005";
const FETCH_REQUEST: &str = "0000003700010000000000020003636c69ffffffff000001f400000001000000010004746573740000000100000000000000000000000500100000";
const FETCH_RESPONSE: &str = "0000004300000002000000010004746573740000000100000000000000000000000000060000001f00000000000000050000001387a77ab20000ffffffff0000000568656c6c6f";
const API_VERSIONS_REQUEST: &str = "0000001000120000000000070006636c69656e74";
const API_VERSIONS_RESPONSE: &str = "0000003a00000007000000000008000000000000000100000000000200000000000300000000000800000001000900000001000a00000000001200000000";
const API_VERSIONS_UNSUPPORTED: &str = "0000001000000008002300000001001200000000";

/// The 19-byte "hello" message.
const HELLO_MESSAGE: &str = "87a77ab20000ffffffff0000000568656c6c6f";

/// The payload of a complete frame, checked with `check_frame`/`split_frame`.
fn payload(frame: &Bytes) -> Bytes {
    assert_eq!(check_frame(frame, DEFAULT_MAX_REQUEST_SIZE), Ok(Some(frame.len())));
    let mut buf = BytesMut::from(&frame[..]);
    let payload = split_frame(&mut buf, DEFAULT_MAX_REQUEST_SIZE).unwrap().unwrap();
    assert!(buf.is_empty());
    payload
}

fn hello_entry(offset: i64) -> Bytes {
    let mut v = offset.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0, 0, 0x13]);
    v.extend_from_slice(&hex(HELLO_MESSAGE));
    Bytes::from(v)
}

fn assert_hello_set(set: &Bytes, offset: i64) {
    assert_eq!(set, &hello_entry(offset));
    let entries: Vec<_> = shallow_iter(set.clone()).collect::<Result<_, _>>().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].offset, offset);
    assert_eq!(entries[0].message.crc(), 0x87A7_7AB2);
    assert!(entries[0].message.is_valid());
    assert_eq!(entries[0].message.key(), None);
    assert_eq!(entries[0].message.value().as_deref(), Some(&b"hello"[..]));
}

#[test]
fn produce_request_9_2() {
    let frame = hex(PRODUCE_REQUEST);
    assert_eq!(frame.len(), 76);
    let (header, request) = decode_request(payload(&frame)).unwrap();
    assert_eq!(header, RequestHeader::new(ApiKey::Produce, 0, 1, Some("cli")));
    let Request::Produce(produce) = &request else { panic!("not a produce request: {:?}", request) };
    assert_eq!(produce.acks, 1);
    assert_eq!(produce.timeout_ms, 1000);
    assert!(produce.expects_response());
    assert_eq!(produce.topics.len(), 1);
    assert_eq!(produce.topics[0].topic, "test");
    assert_eq!(produce.topics[0].partitions.len(), 1);
    assert_eq!(produce.topics[0].partitions[0].partition, 0);
    assert_hello_set(&produce.topics[0].partitions[0].message_set, 0);

    assert_eq!(request.encode(&header).unwrap(), frame);
    assert_eq!(encode_request(&header, produce).unwrap(), frame);
}

#[test]
fn produce_response_9_3() {
    let frame = hex(PRODUCE_RESPONSE);
    assert_eq!(frame.len(), 36);
    let (header, response) = decode_response::<ProduceResponse>(0, payload(&frame)).unwrap();
    assert_eq!(header.correlation_id, 1);
    let expected = ProduceResponse {
        topics: vec![ProduceResponseTopic {
            topic: "test".into(),
            partitions: vec![ProduceResponsePartition { partition: 0, error_code: ErrorCode::NoError, base_offset: 5 }],
        }],
    };
    assert_eq!(response, expected);
    assert_eq!(encode_response(1, &expected).unwrap(), frame);
    assert_eq!(Response::Produce(expected).encode(1).unwrap(), frame);
}

#[test]
fn fetch_request_9_4() {
    let frame = hex(FETCH_REQUEST);
    assert_eq!(frame.len(), 59);
    let (header, request) = decode_request(payload(&frame)).unwrap();
    assert_eq!(header, RequestHeader::new(ApiKey::Fetch, 0, 2, Some("cli")));
    let expected = FetchRequest {
        replica_id: -1,
        max_wait_ms: 500,
        min_bytes: 1,
        topics: vec![FetchTopic {
            topic: "test".into(),
            partitions: vec![FetchPartition { partition: 0, fetch_offset: 5, max_bytes: 1_048_576 }],
        }],
    };
    assert_eq!(request, Request::Fetch(expected.clone()));
    assert!(!expected.is_from_follower());
    assert_eq!(encode_request(&header, &expected).unwrap(), frame);
}

fn hello_fetch_response(message_set: Bytes) -> FetchResponse {
    FetchResponse {
        topics: vec![FetchResponseTopic {
            topic: "test".into(),
            partitions: vec![FetchResponsePartition {
                partition: 0,
                error_code: ErrorCode::NoError,
                high_watermark: 6,
                message_set,
            }],
        }],
    }
}

#[test]
fn fetch_response_9_5() {
    let frame = hex(FETCH_RESPONSE);
    assert_eq!(frame.len(), 71);
    let (header, response) = decode_response::<FetchResponse>(0, payload(&frame)).unwrap();
    assert_eq!(header.correlation_id, 2);
    assert_eq!(response, hello_fetch_response(hello_entry(5)));
    assert_hello_set(&response.topics[0].partitions[0].message_set, 5);

    assert_eq!(encode_response(2, &response).unwrap(), frame);

    // The zero-copy layout: header bytes, the payload untouched, nothing after it.
    let chunked = response.into_frame(2).unwrap();
    assert_eq!(chunked.size, 71);
    assert_eq!(chunked.chunks.len(), 2);
    assert_eq!(chunked.chunks[0], Chunk::Bytes(frame.slice(..40)));
    assert_eq!(chunked.chunks[1], Chunk::Payload(hello_entry(5)));
    assert_eq!(chunked.to_bytes(), frame);
}

#[test]
fn fetch_response_9_5_truncation_variant() {
    // max_bytes = 40: the 31-byte entry at offset 5, then 9 bytes of the entry at offset 6
    // (its offset and the first byte of its size).
    let mut set = hello_entry(5).to_vec();
    set.extend_from_slice(&hello_entry(6)[..9]);
    assert_eq!(&set[31..], &[0, 0, 0, 0, 0, 0, 0, 6, 0]);
    let mut frame =
        hex("0000004c 00000002 00000001 000474657374 00000001 00000000 0000 0000000000000006 00000028").to_vec();
    frame.extend_from_slice(&set);
    let frame = Bytes::from(frame);
    assert_eq!(frame.len(), 80);

    let (header, response) = decode_response::<FetchResponse>(0, payload(&frame)).unwrap();
    assert_eq!(header.correlation_id, 2);
    let got = &response.topics[0].partitions[0].message_set;
    assert_eq!(got.len(), 40);
    // The client side: one complete entry, the 9-byte tail discarded without error.
    let entries: Vec<_> = shallow_iter(got.clone()).collect::<Result<_, _>>().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].offset, 5);

    assert_eq!(encode_response(2, &response).unwrap(), frame);
    assert_eq!(response.into_frame(2).unwrap().to_bytes(), frame);
}

#[test]
fn api_versions_request_9_6() {
    let frame = hex(API_VERSIONS_REQUEST);
    let (header, request) = decode_request(payload(&frame)).unwrap();
    assert_eq!(header, RequestHeader::new(ApiKey::ApiVersions, 0, 7, Some("client")));
    assert_eq!(request, Request::ApiVersions(ApiVersionsRequest));
    assert_eq!(request.encode(&header).unwrap(), frame);
}

#[test]
fn api_versions_response_9_6() {
    let frame = hex(API_VERSIONS_RESPONSE);
    assert_eq!(frame.len(), 4 + 58);
    let (header, response) = decode_response::<ApiVersionsResponse>(0, payload(&frame)).unwrap();
    assert_eq!(header.correlation_id, 7);
    assert_eq!(response, ApiVersionsResponse::kafka_0_8_2());
    assert_eq!(response.error_code, 0);
    let table: Vec<(i16, i16, i16)> =
        response.api_keys.iter().map(|k| (k.api_key, k.min_version, k.max_version)).collect();
    assert_eq!(table, vec![(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0), (8, 0, 1), (9, 0, 1), (10, 0, 0), (18, 0, 0)]);
    assert_eq!(encode_response(7, &ApiVersionsResponse::kafka_0_8_2()).unwrap(), frame);
}

#[test]
fn api_versions_unsupported_reply_9_6() {
    let frame = hex(API_VERSIONS_UNSUPPORTED);
    let (header, response) = decode_response::<ApiVersionsResponse>(0, payload(&frame)).unwrap();
    assert_eq!(header.correlation_id, 8);
    assert_eq!(response, ApiVersionsResponse::unsupported_version());
    assert_eq!(response.error_code, UNSUPPORTED_VERSION);
    assert_eq!(encode_response(8, &ApiVersionsResponse::unsupported_version()).unwrap(), frame);
}

#[test]
fn api_versions_v3_request_decodes_as_unsupported_with_its_correlation_id() {
    // ApiVersions v3 as librdkafka/Sarama send it: flexible header (client id, then an
    // empty tagged-field section) and a flexible body (compact strings, tagged fields).
    let payload = hex("0012 0003 00000008 0006 636c69656e74 00 0773617261 6d61 06312e34 3600");
    let (header, request) = decode_request(payload).unwrap();
    assert_eq!(request, Request::UnsupportedApiVersions);
    assert_eq!(header.api_key, ApiKey::ApiVersions);
    assert_eq!(header.api_version, 3);
    assert_eq!(header.correlation_id, 8);
    assert_eq!(header.client_id.as_deref(), Some("client"));
    assert_eq!(
        encode_response(header.correlation_id, &ApiVersionsResponse::unsupported_version()).unwrap(),
        hex(API_VERSIONS_UNSUPPORTED)
    );
}

// ---------------------------------------------------------------------------------------
// Goldens for the APIs that were only round-tripped (Metadata, Offsets, OffsetCommit and
// OffsetFetch v0/v1, LeaderAndIsr, UpdateMetadata, StopReplica): every frame below is
// written field by field from docs/wire-protocol.md (and 0.8.2's `kafka/api/*.scala`
// readFrom/writeTo), never produced by our encoder. Each is asserted both ways, so a layout
// error made the same way in the encoder and the decoder shows up here.
// Strings: "cli" 636c69, "test" 74657374, "t" 74, "u" 75, "g" 67, "h1" 6831, "h2" 6832.

/// decode(golden) == `request` with `header`, and encode(`header`, `request`) == golden.
fn assert_request_golden(frame: &Bytes, header: RequestHeader, request: Request) {
    let (got_header, got) = decode_request(payload(frame)).unwrap();
    assert_eq!(got_header, header);
    assert_eq!(got, request);
    assert_eq!(request.encode(&header).unwrap(), frame);
}

/// decode(golden) == `expected` (answering a request of `version`), and encode == golden.
fn assert_response_golden<R: ApiResponse + PartialEq + std::fmt::Debug>(
    frame: &Bytes,
    version: i16,
    correlation_id: i32,
    expected: R,
) {
    let (header, got) = decode_response::<R>(version, payload(frame)).unwrap();
    assert_eq!(header.correlation_id, correlation_id);
    assert_eq!(got, expected);
    assert_eq!(encode_response(correlation_id, &expected).unwrap(), frame);
}

const METADATA_REQUEST: &str = concat!(
    "00000018", // size 24 = header 14 + body 10
    "0003",     // api_key 3 Metadata
    "0000",     // api_version 0
    "00000004", // correlation_id 4
    "0004 6b636174", // client_id "kcat"
    "00000001", // topics: 1
    "0004 74657374", //   "test"
);

const METADATA_RESPONSE: &str = concat!(
    "00000074", // size 116
    "00000004", // correlation_id 4
    "00000002", // brokers: 2
    "00000000 0002 6830 00002384", //   id 0, host "h0", port 9092
    "00000001 0002 6831 00002385", //   id 1, host "h1", port 9093
    "00000002", // topics: 2
    "0000 0004 74657374", //   error 0 (before the name), "test"
    "00000002", //   partitions: 2
    "0000 00000000 00000000", //     error 0, partition 0, leader 0
    "00000002 00000000 00000001", //     replicas [0, 1]
    "00000002 00000000 00000001", //     isr [0, 1]
    "0005 00000001 ffffffff", //     error 5 LeaderNotAvailable, partition 1, leader -1
    "00000001 00000001", //     replicas [1]
    "00000000", //     isr []
    "0003 0004 676f6e65 00000000", //   error 3 UnknownTopicOrPartition, "gone", no partitions
);

#[test]
fn metadata_request_and_response_golden() {
    let frame = hex(METADATA_REQUEST);
    assert_eq!(frame.len(), 4 + 24);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::Metadata, 0, 4, Some("kcat")),
        Request::Metadata(MetadataRequest { topics: vec!["test".into()] }),
    );

    let frame = hex(METADATA_RESPONSE);
    assert_eq!(frame.len(), 4 + 116);
    assert_response_golden(
        &frame,
        0,
        4,
        MetadataResponse {
            brokers: vec![Broker::new(0, "h0", 9092), Broker::new(1, "h1", 9093)],
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
                TopicMetadata { error_code: ErrorCode::UnknownTopicOrPartition, topic: "gone".into(), partitions: vec![] },
            ],
        },
    );
}

const OFFSETS_REQUEST: &str = concat!(
    "0000004f", // size 79 = header 13 + body 66
    "0002 0000 00000003 0003 636c69", // api_key 2 Offsets, v0, correlation_id 3, client "cli"
    "ffffffff", // replica_id -1 (ordinary consumer)
    "00000001 0004 74657374", // topics: 1, "test"
    "00000003", //   partitions: 3
    "00000000 ffffffffffffffff 00000001", //     0, time -1 (latest), max_offsets 1
    "00000001 fffffffffffffffe 00000001", //     1, time -2 (earliest), max_offsets 1
    "00000002 00000145f680b000 0000000a", //     2, time 1400000000000 ms, max_offsets 10
);

const OFFSETS_RESPONSE: &str = concat!(
    "00000036", // size 54
    "00000003", // correlation_id 3
    "00000001 0004 74657374", // topics: 1, "test"
    "00000002", //   partitions: 2
    "00000000 0000", //     0, error 0
    "00000002 0000000000000064 0000000000000000", //     offsets [100, 0] (descending)
    "00000001 0003 00000000", //     1, error 3, offsets []
);

#[test]
fn offsets_request_and_response_golden() {
    let frame = hex(OFFSETS_REQUEST);
    assert_eq!(frame.len(), 4 + 79);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::Offsets, 0, 3, Some("cli")),
        Request::Offsets(OffsetsRequest {
            replica_id: -1,
            topics: vec![OffsetsTopic {
                topic: "test".into(),
                partitions: vec![
                    OffsetsPartition { partition: 0, time: LATEST_TIME, max_offsets: 1 },
                    OffsetsPartition { partition: 1, time: EARLIEST_TIME, max_offsets: 1 },
                    OffsetsPartition { partition: 2, time: 1_400_000_000_000, max_offsets: 10 },
                ],
            }],
        }),
    );

    let frame = hex(OFFSETS_RESPONSE);
    assert_eq!(frame.len(), 4 + 54);
    assert_response_golden(
        &frame,
        0,
        3,
        OffsetsResponse {
            topics: vec![OffsetsResponseTopic {
                topic: "test".into(),
                partitions: vec![
                    OffsetsResponsePartition { partition: 0, error_code: ErrorCode::NoError, offsets: vec![100, 0] },
                    OffsetsResponsePartition {
                        partition: 1,
                        error_code: ErrorCode::UnknownTopicOrPartition,
                        offsets: vec![],
                    },
                ],
            }],
        },
    );
}

const OFFSET_COMMIT_V0_REQUEST: &str = concat!(
    "0000002d", // size 45 = header 13 + body 32
    "0008 0000 0000000a 0003 636c69", // api_key 8 OffsetCommit, v0, correlation_id 10, "cli"
    "0001 67", // group "g" (v0: no generation id, no consumer id)
    "00000001 0004 74657374", // topics: 1, "test"
    "00000001", //   partitions: 1
    "00000000 000000000000002a 0001 6d", //     0, offset 42, metadata "m" (v0: no timestamp)
);

const OFFSET_COMMIT_V1_REQUEST: &str = concat!(
    "00000056", // size 86 = header 13 + body 73
    "0008 0001 0000000b 0003 636c69", // api_key 8 OffsetCommit, v1, correlation_id 11, "cli"
    "0001 67", // group "g"
    "00000011", // generation_id 17
    "0002 6331", // consumer_id "c1"
    "00000001 0004 74657374", // topics: 1, "test"
    "00000002", //   partitions: 2
    "00000000 000000000000002a 0000015d3ef79800 0000", //     0, offset 42, timestamp 1500000000000, metadata ""
    "00000001 0000000000000007 ffffffffffffffff 0004 6d657461", //     1, offset 7, timestamp -1, "meta"
);

/// The same bytes answer v0 and v1.
const OFFSET_COMMIT_RESPONSE: &str = concat!(
    "0000001e", // size 30
    "0000000a", // correlation_id 10
    "00000001 0004 74657374", // topics: 1, "test"
    "00000002", //   partitions: 2
    "00000000 0000", //     0, error 0
    "00000001 000c", //     1, error 12 OffsetMetadataTooLarge
);

#[test]
fn offset_commit_v0_and_v1_golden() {
    let frame = hex(OFFSET_COMMIT_V0_REQUEST);
    assert_eq!(frame.len(), 4 + 45);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::OffsetCommit, 0, 10, Some("cli")),
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
    );

    let frame = hex(OFFSET_COMMIT_V1_REQUEST);
    assert_eq!(frame.len(), 4 + 86);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::OffsetCommit, 1, 11, Some("cli")),
        Request::OffsetCommit(OffsetCommitRequest {
            group: "g".into(),
            generation_id: 17,
            consumer_id: "c1".into(),
            topics: vec![OffsetCommitTopic {
                topic: "test".into(),
                partitions: vec![
                    OffsetCommitPartition { partition: 0, offset: 42, timestamp: 1_500_000_000_000, metadata: String::new() },
                    OffsetCommitPartition { partition: 1, offset: 7, timestamp: -1, metadata: "meta".into() },
                ],
            }],
        }),
    );

    let frame = hex(OFFSET_COMMIT_RESPONSE);
    assert_eq!(frame.len(), 4 + 30);
    for version in [0, 1] {
        assert_response_golden(
            &frame,
            version,
            10,
            OffsetCommitResponse {
                topics: vec![OffsetCommitResponseTopic {
                    topic: "test".into(),
                    partitions: vec![
                        OffsetCommitResponsePartition { partition: 0, error_code: ErrorCode::NoError },
                        OffsetCommitResponsePartition { partition: 1, error_code: ErrorCode::OffsetMetadataTooLarge },
                    ],
                }],
            },
        );
    }
}

/// v0 and v1 share the body; only the header's api_version (and here the correlation id) differ.
const OFFSET_FETCH_V0_REQUEST: &str = concat!(
    "00000026", // size 38 = header 13 + body 25
    "0009 0000 0000000c 0003 636c69", // api_key 9 OffsetFetch, v0, correlation_id 12, "cli"
    "0001 67", // group "g"
    "00000001 0004 74657374", // topics: 1, "test"
    "00000002 00000000 00000001", //   partitions [0, 1]
);

const OFFSET_FETCH_V1_REQUEST: &str = concat!(
    "00000026", // size 38
    "0009 0001 0000000d 0003 636c69", // api_key 9 OffsetFetch, v1, correlation_id 13, "cli"
    "0001 67", // group "g"
    "00000001 0004 74657374", // topics: 1, "test"
    "00000002 00000000 00000001", //   partitions [0, 1]
);

const OFFSET_FETCH_RESPONSE: &str = concat!(
    "00000036", // size 54
    "0000000c", // correlation_id 12
    "00000001 0004 74657374", // topics: 1, "test"
    "00000002", //   partitions: 2
    "00000000 000000000000002a 0004 6d657461 0000", //     0, offset 42, "meta", error 0 (error last)
    "00000001 ffffffffffffffff 0000 0003", //     1, offset -1, "", error 3
);

#[test]
fn offset_fetch_v0_and_v1_golden() {
    let request = Request::OffsetFetch(OffsetFetchRequest {
        group: "g".into(),
        topics: vec![OffsetFetchTopic { topic: "test".into(), partitions: vec![0, 1] }],
    });
    let frame = hex(OFFSET_FETCH_V0_REQUEST);
    assert_eq!(frame.len(), 4 + 38);
    assert_request_golden(&frame, RequestHeader::new(ApiKey::OffsetFetch, 0, 12, Some("cli")), request.clone());
    let frame = hex(OFFSET_FETCH_V1_REQUEST);
    assert_eq!(frame.len(), 4 + 38);
    assert_request_golden(&frame, RequestHeader::new(ApiKey::OffsetFetch, 1, 13, Some("cli")), request);

    let frame = hex(OFFSET_FETCH_RESPONSE);
    assert_eq!(frame.len(), 4 + 54);
    for version in [0, 1] {
        assert_response_golden(
            &frame,
            version,
            12,
            OffsetFetchResponse {
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
            },
        );
    }
}

const LEADER_AND_ISR_REQUEST: &str = concat!(
    "0000005c", // size 92 = header 13 + body 79
    "0004 0000 00000006 0003 636c69", // api_key 4 LeaderAndIsr, v0, correlation_id 6, "cli"
    "00000001", // controller_id 1
    "00000003", // controller_epoch 3
    "00000001", // partition_states: 1
    "0001 74 00000000", //   "t", partition 0
    "00000002", //   controller_epoch 2 (of the controller that elected this leader)
    "00000001", //   leader 1
    "00000007", //   leader_epoch 7
    "00000002 00000001 00000002", //   isr [1, 2]
    "0000000c", //   zk_version 12
    "00000003 00000001 00000002 00000003", //   replicas [1, 2, 3]
    "00000001", // leaders: 1
    "00000001 0002 6831 00002384", //   id 1, host "h1", port 9092
);

const LEADER_AND_ISR_RESPONSE: &str = concat!(
    "00000013", // size 19
    "00000006", // correlation_id 6
    "0000", // error_code 0 (request level, before the partitions)
    "00000001", // partitions: 1
    "0001 74 00000000 000d", //   "t", 0, error 13 StaleLeaderEpoch
);

#[test]
fn leader_and_isr_request_and_response_golden() {
    let frame = hex(LEADER_AND_ISR_REQUEST);
    assert_eq!(frame.len(), 4 + 92);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::LeaderAndIsr, 0, 6, Some("cli")),
        Request::LeaderAndIsr(LeaderAndIsrRequest {
            controller_id: 1,
            controller_epoch: 3,
            partition_states: vec![PartitionState {
                topic: "t".into(),
                partition: 0,
                controller_epoch: 2,
                leader: 1,
                leader_epoch: 7,
                isr: vec![1, 2],
                zk_version: 12,
                replicas: vec![1, 2, 3],
            }],
            leaders: vec![Broker::new(1, "h1", 9092)],
        }),
    );

    let frame = hex(LEADER_AND_ISR_RESPONSE);
    assert_eq!(frame.len(), 4 + 19);
    assert_response_golden(
        &frame,
        0,
        6,
        LeaderAndIsrResponse {
            error_code: ErrorCode::NoError,
            partitions: vec![PartitionResult { topic: "t".into(), partition: 0, error_code: ErrorCode::StaleLeaderEpoch }],
        },
    );
}

const UPDATE_METADATA_REQUEST: &str = concat!(
    "00000060", // size 96 = header 13 + body 83
    "0006 0000 00000008 0003 636c69", // api_key 6 UpdateMetadata, v0, correlation_id 8, "cli"
    "00000002", // controller_id 2
    "00000004", // controller_epoch 4
    "00000001", // partition_states: 1 (LeaderAndIsr's layout)
    "0001 74 00000001", //   "t", partition 1
    "00000004 00000002 00000009", //   controller_epoch 4, leader 2, leader_epoch 9
    "00000001 00000002", //   isr [2]
    "00000005", //   zk_version 5
    "00000002 00000001 00000002", //   replicas [1, 2]
    "00000002", // alive_brokers: 2 (id, host, port: the 0.8.2 layout, no endpoints)
    "00000001 0002 6831 00002384", //   1, "h1", 9092
    "00000002 0002 6832 00002385", //   2, "h2", 9093
);

const UPDATE_METADATA_RESPONSE: &str = concat!(
    "00000006", // size 6
    "00000008", // correlation_id 8
    "000b", // error_code 11 StaleControllerEpoch
);

#[test]
fn update_metadata_request_and_response_golden() {
    let frame = hex(UPDATE_METADATA_REQUEST);
    assert_eq!(frame.len(), 4 + 96);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::UpdateMetadata, 0, 8, Some("cli")),
        Request::UpdateMetadata(UpdateMetadataRequest {
            controller_id: 2,
            controller_epoch: 4,
            partition_states: vec![PartitionState {
                topic: "t".into(),
                partition: 1,
                controller_epoch: 4,
                leader: 2,
                leader_epoch: 9,
                isr: vec![2],
                zk_version: 5,
                replicas: vec![1, 2],
            }],
            alive_brokers: vec![Broker::new(1, "h1", 9092), Broker::new(2, "h2", 9093)],
        }),
    );

    let frame = hex(UPDATE_METADATA_RESPONSE);
    assert_eq!(frame.len(), 4 + 6);
    assert_response_golden(&frame, 0, 8, UpdateMetadataResponse { error_code: ErrorCode::StaleControllerEpoch });
}

const STOP_REPLICA_REQUEST: &str = concat!(
    "00000028", // size 40 = header 13 + body 27
    "0005 0000 00000007 0003 636c69", // api_key 5 StopReplica, v0, correlation_id 7, "cli"
    "00000001", // controller_id 1
    "00000003", // controller_epoch 3
    "01", // delete_partitions: int8 1
    "00000002", // partitions: 2
    "0001 74 00000000", //   "t", 0
    "0001 75 00000009", //   "u", 9
);

const STOP_REPLICA_RESPONSE: &str = concat!(
    "0000001c", // size 28
    "00000007", // correlation_id 7
    "0000", // error_code 0 (request level, before the partitions)
    "00000002", // partitions: 2
    "0001 74 00000000 0000", //   "t", 0, error 0
    "0001 75 00000009 0003", //   "u", 9, error 3 UnknownTopicOrPartition
);

#[test]
fn stop_replica_request_and_response_golden() {
    let frame = hex(STOP_REPLICA_REQUEST);
    assert_eq!(frame.len(), 4 + 40);
    assert_request_golden(
        &frame,
        RequestHeader::new(ApiKey::StopReplica, 0, 7, Some("cli")),
        Request::StopReplica(StopReplicaRequest {
            controller_id: 1,
            controller_epoch: 3,
            delete_partitions: true,
            partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("u", 9)],
        }),
    );

    let frame = hex(STOP_REPLICA_RESPONSE);
    assert_eq!(frame.len(), 4 + 28);
    assert_response_golden(
        &frame,
        0,
        7,
        StopReplicaResponse {
            error_code: ErrorCode::NoError,
            partitions: vec![
                PartitionResult { topic: "t".into(), partition: 0, error_code: ErrorCode::NoError },
                PartitionResult { topic: "u".into(), partition: 9, error_code: ErrorCode::UnknownTopicOrPartition },
            ],
        },
    );
}
