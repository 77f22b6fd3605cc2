//! Hand-checked byte strings (docs/wire-protocol.md): decodes to the expected values and re-encodes
//! byte for byte.

use crate::support::samples;

use bytes::{Bytes, BytesMut};
use kafka08::api::*;
use kafka08::common::ErrorCode;
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
