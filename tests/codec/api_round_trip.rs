//! Encode → decode → equal, for every request and response type, through the typed and
//! the enum paths, plus the zero-copy fetch encoder with a non-`Bytes` payload.

use crate::support::samples;

use bytes::{Bytes, BytesMut};
use kafka08::api::*;
use kafka08::common::ErrorCode;
use kafka08::message::CompressionCodec;
use samples::{message_set, requests, responses};

fn round_trip_request(header: &RequestHeader, request: &Request) -> (RequestHeader, Request) {
    let frame = request.encode(header).unwrap();
    let mut buf = BytesMut::from(&frame[..]);
    let payload = split_frame(&mut buf, DEFAULT_MAX_REQUEST_SIZE).unwrap().expect("complete frame");
    assert!(buf.is_empty());
    decode_request(payload).unwrap()
}

#[test]
fn every_request_type_round_trips() {
    let all = requests();
    let keys: std::collections::BTreeSet<_> = all.iter().map(|(h, _)| h.api_key).collect();
    assert_eq!(keys.len(), ApiKey::ALL.len(), "samples cover every api key");
    for (header, request) in &all {
        assert_eq!(&round_trip_request(header, request), &(header.clone(), request.clone()), "{:?}", header.api_key);
    }
}

#[test]
fn typed_request_encoding_matches_enum_encoding() {
    let (header, request) = requests().into_iter().next().unwrap();
    let Request::Produce(produce) = &request else { unreachable!() };
    assert_eq!(encode_request(&header, produce).unwrap(), request.encode(&header).unwrap());
    let mut buf = BytesMut::from(&b"prefix"[..]);
    write_request(&mut buf, &header, produce).unwrap();
    assert_eq!(&buf[6..], &request.encode(&header).unwrap()[..]);
}

#[test]
fn header_must_match_body() {
    let header = RequestHeader::new(ApiKey::Fetch, 0, 1, None);
    let body = MetadataRequest::default();
    assert_eq!(encode_request(&header, &body), Err(EncodeError::ApiKeyMismatch { header: 1, body: 3 }));
    assert!(Request::Metadata(body).encode(&header).is_err());
}

#[test]
fn every_response_type_round_trips() {
    for (key, version, response) in responses() {
        let frame = response.encode(99).unwrap();
        let payload = frame.slice(SIZE_PREFIX..);
        assert_eq!(check_frame(&frame, usize::MAX), Ok(Some(frame.len())));
        let (header, decoded) = Response::decode(key, version, payload).unwrap();
        assert_eq!(header.correlation_id, 99);
        assert_eq!(decoded, response, "{:?}", key);
        assert_eq!(decoded.api_key(), key);
    }
}

#[test]
fn typed_response_round_trip() {
    let response = ConsumerMetadataResponse::found(Broker::new(3, "h", 1));
    let frame = encode_response(-5, &response).unwrap();
    let (header, decoded) = decode_response::<ConsumerMetadataResponse>(0, frame.slice(4..)).unwrap();
    assert_eq!(header.correlation_id, -5);
    assert_eq!(decoded, response);
    assert_eq!(ConsumerMetadataResponse::error(ErrorCode::ConsumerCoordinatorNotAvailable).coordinator, Broker::none());
}

#[test]
fn offset_commit_v1_carries_generation_consumer_and_timestamps() {
    let (header, request) =
        requests().into_iter().find(|(h, _)| h.api_key == ApiKey::OffsetCommit && h.api_version == 1).unwrap();
    let frame = request.encode(&header).unwrap();
    let (h, decoded) = decode_request(frame.slice(4..)).unwrap();
    assert_eq!(h.api_version, 1);
    let Request::OffsetCommit(c) = decoded else { panic!() };
    assert_eq!(c.generation_id, 17);
    assert_eq!(c.consumer_id, "consumer-1");
    assert_eq!(c.topics[0].partitions[0].timestamp, 1_500_000_000_000);

    // The same request as v0 loses exactly the v1-only fields, which read back as defaults.
    let Request::OffsetCommit(original) = request else { panic!() };
    let v0_header = RequestHeader::new(ApiKey::OffsetCommit, 0, 1, None);
    let v0_frame = encode_request(&v0_header, &original).unwrap();
    // v1 adds: generation (4), consumer id "consumer-1" (2 + 10), a timestamp per partition
    // (2 x 8); the headers differ by the client id ("sarama" vs null: 6 bytes).
    assert_eq!(frame.len() - v0_frame.len(), 6 + 4 + 12 + 2 * 8);
    let (_, Request::OffsetCommit(v0)) = decode_request(v0_frame.slice(4..)).unwrap() else { panic!() };
    assert_eq!(v0.generation_id, DEFAULT_GENERATION_ID);
    assert_eq!(v0.consumer_id, "");
    assert!(v0.topics[0].partitions.iter().all(|p| p.timestamp == DEFAULT_TIMESTAMP));
    assert_eq!(v0.topics[0].partitions[1].metadata, "meta");
}

#[test]
fn offset_fetch_v0_and_v1_share_a_layout() {
    let request = OffsetFetchRequest {
        group: "g".into(),
        topics: vec![OffsetFetchTopic { topic: "t".into(), partitions: vec![0, 1] }],
    };
    let v0 = encode_request(&RequestHeader::new(ApiKey::OffsetFetch, 0, 1, None), &request).unwrap();
    let v1 = encode_request(&RequestHeader::new(ApiKey::OffsetFetch, 1, 1, None), &request).unwrap();
    assert_eq!(v0[..6], v1[..6]);
    assert_eq!(v0[8..], v1[8..]);
    for frame in [v0, v1] {
        let (_, decoded) = decode_request(frame.slice(4..)).unwrap();
        assert_eq!(decoded, Request::OffsetFetch(request.clone()));
    }
}

#[test]
fn controlled_shutdown_header_has_no_client_id() {
    // Even if the caller sets one, key 7 v0 never writes a client id.
    let header = RequestHeader::new(ApiKey::ControlledShutdown, 0, 77, Some("ignored"));
    let frame = encode_request(&header, &ControlledShutdownRequest { broker_id: 3 }).unwrap();
    assert_eq!(&frame[..], &[0, 0, 0, 12, 0, 7, 0, 0, 0, 0, 0, 77, 0, 0, 0, 3]);
    let (decoded_header, request) = decode_request(frame.slice(4..)).unwrap();
    assert_eq!(decoded_header, RequestHeader::new(ApiKey::ControlledShutdown, 0, 77, None));
    assert_eq!(request, Request::ControlledShutdown(ControlledShutdownRequest { broker_id: 3 }));
}

/// A stand-in for a file region: the payload is described, not held.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileRegion {
    position: u64,
    len: usize,
}

impl RecordPayload for FileRegion {
    fn len(&self) -> usize {
        self.len
    }
}

#[test]
fn chunked_fetch_response_interleaves_headers_and_payloads() {
    let response = FetchResponse {
        topics: vec![
            FetchResponseTopic {
                topic: "a".into(),
                partitions: vec![
                    FetchResponsePartition {
                        partition: 0,
                        error_code: ErrorCode::NoError,
                        high_watermark: 10,
                        message_set: FileRegion { position: 0, len: 100 },
                    },
                    FetchResponsePartition {
                        partition: 1,
                        error_code: ErrorCode::NotLeaderForPartition,
                        high_watermark: -1,
                        message_set: FileRegion { position: 0, len: 0 },
                    },
                ],
            },
            FetchResponseTopic {
                topic: "b".into(),
                partitions: vec![FetchResponsePartition {
                    partition: 0,
                    error_code: ErrorCode::NoError,
                    high_watermark: 3,
                    message_set: FileRegion { position: 4096, len: 7 },
                }],
            },
        ],
    };
    assert_eq!(response.total_payload_bytes(), 107);
    let frame = response.into_frame(5).unwrap();
    // size + correlation + topic count + "a" + partition count + p0 (4+2+8+4)
    let first = 4 + 4 + 4 + 3 + 4 + 18;
    // p1 (18, empty payload: no chunk) + "b" + count + p0 header
    let second = 18 + 3 + 4 + 18;
    let kinds: Vec<_> = frame
        .chunks
        .iter()
        .map(|c| match c {
            Chunk::Bytes(b) => format!("bytes {}", b.len()),
            Chunk::Payload(p) => format!("payload {}@{}", p.len, p.position),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![format!("bytes {}", first), "payload 100@0".into(), format!("bytes {}", second), "payload 7@4096".into()]
    );
    assert_eq!(frame.size, first + 100 + second + 7);
    let Chunk::Bytes(head) = &frame.chunks[0] else { panic!() };
    assert_eq!(&head[..4], &((frame.size - 4) as i32).to_be_bytes());
}

#[test]
fn chunked_and_contiguous_fetch_encodings_agree() {
    let (_, _, Response::Fetch(response)) = responses().into_iter().find(|(k, _, _)| *k == ApiKey::Fetch).unwrap()
    else {
        panic!()
    };
    let contiguous = encode_response(11, &response).unwrap();
    let chunked = response.clone().into_frame(11).unwrap();
    assert_eq!(chunked.size, contiguous.len());
    assert_eq!(chunked.to_bytes(), contiguous);
    // Payloads are the very same buffers, not copies.
    let payloads: Vec<&Bytes> =
        chunked.chunks.iter().filter_map(|c| if let Chunk::Payload(p) = c { Some(p) } else { None }).collect();
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0].as_ptr(), response.topics[0].partitions[0].message_set.as_ptr());
}

#[test]
fn decoded_message_sets_are_slices_of_the_frame() {
    let set = message_set(&["x"], 0, CompressionCodec::None);
    let request = ProduceRequest {
        acks: 1,
        timeout_ms: 10,
        topics: vec![ProduceTopic {
            topic: "t".into(),
            partitions: vec![ProducePartition { partition: 0, message_set: set.clone() }],
        }],
    };
    let frame = encode_request(&RequestHeader::new(ApiKey::Produce, 0, 1, None), &request).unwrap();
    let payload = frame.slice(4..);
    let (_, Request::Produce(decoded)) = decode_request(payload.clone()).unwrap() else { panic!() };
    let got = &decoded.topics[0].partitions[0].message_set;
    assert_eq!(got, &set);
    let start = got.as_ptr() as usize - payload.as_ptr() as usize;
    assert_eq!(start + got.len(), payload.len());
}

#[test]
fn response_builders_group_by_topic_and_collapse_duplicates() {
    let p =
        |partition, base_offset| ProduceResponsePartition { partition, error_code: ErrorCode::NoError, base_offset };
    let response = ProduceResponse::from_partitions(vec![
        ("a".to_string(), p(0, 1)),
        ("b".to_string(), p(0, 2)),
        ("a".to_string(), p(1, 3)),
        ("a".to_string(), p(0, 4)),
    ]);
    assert_eq!(response.topics.len(), 2);
    assert_eq!(response.topics[0].topic, "a");
    assert_eq!(response.topics[0].partitions, vec![p(0, 4), p(1, 3)]);
    assert_eq!(response.topics[1].partitions, vec![p(0, 2)]);
}

#[test]
fn request_partitions_collapse_duplicates_later_wins() {
    let request = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        topics: vec![
            FetchTopic {
                topic: "a".into(),
                partitions: vec![
                    FetchPartition { partition: 0, fetch_offset: 1, max_bytes: 10 },
                    FetchPartition { partition: 1, fetch_offset: 2, max_bytes: 10 },
                ],
            },
            FetchTopic {
                topic: "a".into(),
                partitions: vec![FetchPartition { partition: 0, fetch_offset: 9, max_bytes: 10 }],
            },
        ],
    };
    let parts: Vec<(&str, i32, i64)> =
        request.partitions().into_iter().map(|(t, p)| (t, p.partition, p.fetch_offset)).collect();
    assert_eq!(parts, vec![("a", 0, 9), ("a", 1, 2)]);

    let metadata = MetadataRequest { topics: vec!["x".into(), "y".into(), "x".into()] };
    assert_eq!(metadata.unique_topics(), vec!["x", "y"]);

    let offset_fetch = OffsetFetchRequest {
        group: "g".into(),
        topics: vec![OffsetFetchTopic { topic: "t".into(), partitions: vec![1, 0, 1] }],
    };
    assert_eq!(offset_fetch.partitions(), vec![("t", 1), ("t", 0)]);
}

#[test]
fn acks_zero_expects_no_response() {
    let request = ProduceRequest { acks: 0, timeout_ms: 0, topics: vec![] };
    assert!(!request.expects_response());
}
