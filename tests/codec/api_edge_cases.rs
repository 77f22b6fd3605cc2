//! Bad and borderline input: what decodes, what is refused, and with which error.

use crate::support::samples;

use bytes::{Bytes, BytesMut};
use kafka08::api::*;
use samples::{hex, requests, responses};

/// A request payload: api key, version, correlation id 1, then the rest.
fn payload(key: i16, version: i16, rest: &str) -> Bytes {
    let mut v = key.to_be_bytes().to_vec();
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&1i32.to_be_bytes());
    v.extend_from_slice(&hex(rest));
    Bytes::from(v)
}

#[test]
fn null_client_id_is_none() {
    let (header, request) = decode_request(payload(3, 0, "ffff 00000000")).unwrap();
    assert_eq!(header.client_id, None);
    assert_eq!(request, Request::Metadata(MetadataRequest { topics: vec![] }));
    // Any negative string length is null, not only -1.
    let (header, _) = decode_request(payload(3, 0, "8000 00000000")).unwrap();
    assert_eq!(header.client_id, None);
    // And None re-encodes as length -1.
    let frame = Request::Metadata(MetadataRequest::default()).encode(&header).unwrap();
    assert_eq!(&frame[12..14], &[0xff, 0xff]);
}

#[test]
fn empty_client_id_is_some_empty() {
    let (header, _) = decode_request(payload(3, 0, "0000 00000000")).unwrap();
    assert_eq!(header.client_id.as_deref(), Some(""));
}

#[test]
fn negative_array_counts_are_zero_elements() {
    // Produce: topics count -1.
    let (_, r) = decode_request(payload(0, 0, "0000 0001 000003e8 ffffffff")).unwrap();
    assert_eq!(r, Request::Produce(ProduceRequest { acks: 1, timeout_ms: 1000, topics: vec![] }));
    // Fetch: one topic whose partition count is -5.
    let (_, r) = decode_request(payload(1, 0, "0000 ffffffff 00000000 00000000 00000001 0001 61 fffffffb")).unwrap();
    let Request::Fetch(f) = r else { panic!() };
    assert_eq!(f.topics.len(), 1);
    assert!(f.topics[0].partitions.is_empty());
    // OffsetFetch: partitions array of int32 with count i32::MIN.
    let (_, r) = decode_request(payload(9, 1, "0000 0001 67 00000001 0001 74 80000000")).unwrap();
    let Request::OffsetFetch(o) = r else { panic!() };
    assert!(o.topics[0].partitions.is_empty());
    // Metadata response brokers count -1 (client side).
    let (_, resp) = decode_response::<MetadataResponse>(0, hex("00000001 ffffffff 00000000")).unwrap();
    assert!(resp.brokers.is_empty() && resp.topics.is_empty());
}

#[test]
fn metadata_negative_topic_count_is_an_error() {
    assert_eq!(decode_request(payload(3, 0, "0000 ffffffff")), Err(DecodeError::BadLength(-1)));
    assert_eq!(decode_request(payload(3, 0, "0000 80000000")), Err(DecodeError::BadLength(i32::MIN)));
}

#[test]
fn unknown_api_keys_are_refused() {
    for key in [11i16, 12, 13, 17, 19, 99, -1, i16::MIN, i16::MAX] {
        assert_eq!(decode_request(payload(key, 0, "0000")), Err(DecodeError::UnknownApiKey(key)), "key {}", key);
    }
    // Known after only two bytes.
    assert_eq!(decode_request(Bytes::from_static(&[0, 12])), Err(DecodeError::UnknownApiKey(12)));
}

#[test]
fn unsupported_versions_are_refused() {
    for (key, version) in [
        (0i16, 1i16),
        (0, 2),
        (1, -1),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
        (6, 1),
        (7, 1),
        (8, 2),
        (8, -1),
        (9, 2),
        (10, 1),
    ] {
        assert_eq!(
            decode_request(payload(key, version, "0000 00000000")),
            Err(DecodeError::UnsupportedVersion { api_key: key, version }),
            "key {} version {}",
            key,
            version
        );
    }
}

#[test]
fn api_versions_at_other_versions_is_answerable() {
    for version in [1i16, 2, 3, 4, -1, i16::MAX] {
        let (header, request) = decode_request(payload(18, version, "0003 616263")).unwrap();
        assert_eq!(request, Request::UnsupportedApiVersions);
        assert_eq!((header.api_version, header.correlation_id, header.client_id.as_deref()), (version, 1, Some("abc")));
    }
    // A garbled client id does not matter: only the correlation id is needed.
    let (header, request) = decode_request(payload(18, 3, "00ff 61")).unwrap();
    assert_eq!((request, header.correlation_id, header.client_id), (Request::UnsupportedApiVersions, 1, None));
    // But the correlation id itself must be there.
    assert_eq!(decode_request(hex("0012 0003 0000")), Err(DecodeError::Truncated));
}

#[test]
fn every_strict_prefix_of_a_request_is_truncated() {
    for (header, request) in requests() {
        let frame = request.encode(&header).unwrap();
        let payload = frame.slice(SIZE_PREFIX..);
        let full = decode_request(payload.clone()).unwrap();
        assert_eq!(full, (header.clone(), request.clone()));
        for cut in 0..payload.len() {
            assert_eq!(
                decode_request(payload.slice(..cut)),
                Err(DecodeError::Truncated),
                "{:?} cut at {}",
                header.api_key,
                cut
            );
        }
    }
}

#[test]
fn every_strict_prefix_of_a_response_is_truncated() {
    for (key, version, response) in responses() {
        let payload = response.encode(1).unwrap().slice(SIZE_PREFIX..);
        for cut in 0..payload.len() {
            assert_eq!(
                Response::decode(key, version, payload.slice(..cut)),
                Err(DecodeError::Truncated),
                "{:?} cut at {}",
                key,
                cut
            );
        }
    }
}

#[test]
fn trailing_bytes_after_the_body_are_ignored() {
    let (_, r) = decode_request(payload(10, 0, "0000 0001 67 deadbeef")).unwrap();
    assert_eq!(r, Request::ConsumerMetadata(ConsumerMetadataRequest { group: "g".into() }));
}

#[test]
fn null_topic_and_group_names_are_invalid() {
    assert_eq!(decode_request(payload(3, 0, "0000 00000001 ffff")), Err(DecodeError::Invalid("null topic name")));
    assert_eq!(decode_request(payload(10, 0, "0000 ffff")), Err(DecodeError::Invalid("null group id")));
}

#[test]
fn null_offset_metadata_reads_as_empty() {
    // OffsetCommit v1: group "g", generation -1, consumer id null, one topic "t", one
    // partition 0, offset 5, timestamp -1, metadata null.
    let (_, r) = decode_request(payload(
        8,
        1,
        "0000 0001 67 ffffffff ffff 00000001 0001 74 00000001 00000000 0000000000000005 ffffffffffffffff ffff",
    ))
    .unwrap();
    let Request::OffsetCommit(c) = r else { panic!() };
    assert_eq!(c.consumer_id, "");
    assert_eq!(c.topics[0].partitions[0].metadata, "");
    assert_eq!(c.topics[0].partitions[0].offset, 5);
}

#[test]
fn negative_message_set_size_is_refused() {
    assert_eq!(
        decode_request(payload(0, 0, "0000 0001 000003e8 00000001 0001 74 00000001 00000000 ffffffff")),
        Err(DecodeError::BadLength(-1))
    );
}

#[test]
fn message_set_size_beyond_the_frame_is_truncated() {
    assert_eq!(
        decode_request(payload(0, 0, "0000 0001 000003e8 00000001 0001 74 00000001 00000000 00000010 0000")),
        Err(DecodeError::Truncated)
    );
}

#[test]
fn stop_replica_flag_must_be_0_or_1() {
    let body = |flag: &str| payload(5, 0, &format!("0000 00000001 00000002 {} 00000000", flag));
    assert!(decode_request(body("00")).is_ok());
    assert!(decode_request(body("01")).is_ok());
    assert_eq!(decode_request(body("02")), Err(DecodeError::Invalid("delete_partitions must be 0 or 1")));
    assert_eq!(decode_request(body("ff")), Err(DecodeError::Invalid("delete_partitions must be 0 or 1")));
}

#[test]
fn huge_counts_fail_fast_without_allocating() {
    // 2^31-1 topics claimed in a tiny frame.
    assert_eq!(decode_request(payload(3, 0, "0000 7fffffff 0001 61")), Err(DecodeError::Truncated));
    assert_eq!(decode_request(payload(0, 0, "0000 0001 00000000 7fffffff")), Err(DecodeError::Truncated));
}

#[test]
fn frame_checks() {
    assert_eq!(check_frame(&[], 100), Ok(None));
    assert_eq!(check_frame(&[0, 0, 0, 0], 100), Err(DecodeError::BadFrameSize { size: 0, max: 100 }));
    assert_eq!(check_frame(&[0x80, 0, 0, 0], 100), Err(DecodeError::BadFrameSize { size: i32::MIN, max: 100 }));
    assert_eq!(check_frame(&[0, 0, 0, 101], 100), Err(DecodeError::BadFrameSize { size: 101, max: 100 }));
    // Exactly at the limit is fine.
    let mut frame = vec![0, 0, 0, 100];
    frame.resize(104, 0);
    assert_eq!(check_frame(&frame, 100), Ok(Some(104)));
    // Back-to-back frames come apart one at a time, a partial third waits.
    let mut buf = BytesMut::new();
    for (header, request) in requests().into_iter().take(2) {
        request.write(&mut buf, &header).unwrap();
    }
    buf.extend_from_slice(&[0, 0, 0, 9, 1]);
    assert!(split_frame(&mut buf, DEFAULT_MAX_REQUEST_SIZE).unwrap().is_some());
    assert!(split_frame(&mut buf, DEFAULT_MAX_REQUEST_SIZE).unwrap().is_some());
    assert_eq!(split_frame(&mut buf, DEFAULT_MAX_REQUEST_SIZE).unwrap(), None);
    assert_eq!(buf.len(), 5);
}

#[test]
fn empty_and_tiny_payloads_are_truncated() {
    assert_eq!(decode_request(Bytes::new()), Err(DecodeError::Truncated));
    assert_eq!(decode_request(Bytes::from_static(&[0])), Err(DecodeError::Truncated));
    assert_eq!(decode_request(Bytes::from_static(&[0, 0, 0])), Err(DecodeError::Truncated));
    for key in ApiKey::ALL {
        assert_eq!(Response::decode(key, 0, Bytes::new()), Err(DecodeError::Truncated));
    }
}

#[test]
fn encoder_refuses_oversized_strings() {
    let request = MetadataRequest { topics: vec!["x".repeat(40_000)] };
    let header = RequestHeader::new(ApiKey::Metadata, 0, 1, None);
    assert_eq!(encode_request(&header, &request), Err(EncodeError::StringTooLong(40_000)));
    let long_client = "c".repeat(MAX_STRING_LEN + 1);
    let header = RequestHeader::new(ApiKey::Metadata, 0, 1, Some(&long_client));
    assert!(encode_request(&header, &MetadataRequest::default()).is_err());
}

#[test]
fn unknown_error_codes_decode_as_unknown() {
    let (_, r) = decode_response::<UpdateMetadataResponse>(0, hex("00000001 0023")).unwrap();
    assert_eq!(r.error_code, kafka08::common::ErrorCode::Unknown);
}
