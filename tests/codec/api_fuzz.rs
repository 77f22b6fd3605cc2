//! Fixed-seed fuzzing: random byte strings and random mutations/truncations of valid
//! frames fed to `decode_request` and every response decoder. Nothing may panic; whatever
//! decodes must re-encode and decode back to the same value.

use crate::support::samples;

use bytes::Bytes;
use kafka08::api::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64* (Vigna): tiny, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Values that sit on the edges of lengths and counts.
const INTERESTING_I32: [i32; 10] = [0, 1, -1, -2, 2, 127, 0x7fff, -0x8000, i32::MAX, i32::MIN];
const INTERESTING_I16: [i16; 7] = [0, 1, -1, -2, 0x7fff, -0x8000, 3];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(9) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 if v.len() >= 4 => {
                let i = rng.below(v.len() - 3);
                v[i..i + 4].copy_from_slice(&INTERESTING_I32[rng.below(INTERESTING_I32.len())].to_be_bytes());
            }
            3 if v.len() >= 2 => {
                let i = rng.below(v.len() - 1);
                v[i..i + 2].copy_from_slice(&INTERESTING_I16[rng.below(INTERESTING_I16.len())].to_be_bytes());
            }
            4 => {
                let cut = rng.below(v.len() + 1);
                v.truncate(cut);
            }
            5 => {
                let n = rng.below(16);
                let extra = rng.bytes(n);
                v.extend_from_slice(&extra);
            }
            6 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + 1 + rng.below(8)).min(v.len());
                v.drain(a..b);
            }
            7 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + 1 + rng.below(8)).min(v.len());
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            _ => {
                // Point the header at another api key / version, keeping the body.
                if v.len() >= 4 {
                    let key = ApiKey::ALL[rng.below(ApiKey::ALL.len())].code();
                    v[0..2].copy_from_slice(&key.to_be_bytes());
                    v[2..4].copy_from_slice(&(rng.below(3) as i16 - 1 + (rng.below(2) as i16)).to_be_bytes());
                }
            }
        }
    }
    v
}

fn check_request(payload: Bytes) {
    if let Ok((header, request)) = decode_request(payload) {
        // Decoded values are always encodable when the input was small; if encoding fails
        // it must say why rather than panic.
        // The failure answer of any decodable request is encodable and decodes back.
        if let Some(error_response) = request.error_response(kafka08::common::ErrorCode::Unknown) {
            if let Ok(frame) = error_response.encode(header.correlation_id) {
                let (_, again) = Response::decode(header.api_key, header.api_version, frame.slice(SIZE_PREFIX..))
                    .expect("error response decodes");
                assert_eq!(again, error_response);
            }
        }
        if let Ok(frame) = request.encode(&header) {
            let again = decode_request(frame.slice(SIZE_PREFIX..)).expect("re-encoded request decodes");
            assert_eq!(again, (header, request));
        }
    }
}

fn check_responses(payload: Bytes) {
    for key in ApiKey::ALL {
        for version in [0, 1] {
            if let Ok((header, response)) = Response::decode(key, version, payload.clone()) {
                if let Ok(frame) = response.encode(header.correlation_id) {
                    let again = Response::decode(key, version, frame.slice(SIZE_PREFIX..))
                        .expect("re-encoded response decodes");
                    assert_eq!(again, (header, response));
                }
            }
        }
    }
}

fn run(what: &str, input: &[u8], f: impl FnOnce(Bytes)) {
    let bytes = Bytes::copy_from_slice(input);
    if catch_unwind(AssertUnwindSafe(|| f(bytes))).is_err() {
        let hex: String = input.iter().map(|b| format!("{:02x}", b)).collect();
        panic!("{} panicked on input {}", what, hex);
    }
}

fn request_corpus() -> Vec<Vec<u8>> {
    samples::requests().iter().map(|(h, r)| r.encode(h).unwrap()[SIZE_PREFIX..].to_vec()).collect()
}

fn response_corpus() -> Vec<Vec<u8>> {
    samples::responses().iter().map(|(_, _, r)| r.encode(7).unwrap()[SIZE_PREFIX..].to_vec()).collect()
}

#[test]
fn random_bytes_never_panic_any_decoder() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..40_000 {
        let n = rng.below(96);
        let mut input = rng.bytes(n);
        if input.len() >= 4 && rng.chance(2) {
            // Get past the header check half the time.
            let key = ApiKey::ALL[rng.below(ApiKey::ALL.len())];
            let (_, max) = key.versions();
            input[0..2].copy_from_slice(&key.code().to_be_bytes());
            input[2..4].copy_from_slice(&(rng.below(max as usize + 1) as i16).to_be_bytes());
        }
        run("decode_request", &input, check_request);
        run("response decoders", &input, check_responses);
    }
}

#[test]
fn mutated_request_frames_never_panic() {
    let corpus = request_corpus();
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..60_000 {
        let seed = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, seed);
        run("decode_request", &input, check_request);
    }
}

#[test]
fn mutated_response_frames_never_panic() {
    let corpus = response_corpus();
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for _ in 0..20_000 {
        let seed = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, seed);
        run("response decoders", &input, check_responses);
    }
}

#[test]
fn frame_check_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let n = rng.below(12);
        let input = rng.bytes(n);
        let max = [0usize, 1, 100, DEFAULT_MAX_REQUEST_SIZE, usize::MAX][rng.below(5)];
        run("check_frame", &input, |b| {
            if let Ok(Some(n)) = check_frame(&b, max) {
                assert!(n <= b.len() && n > SIZE_PREFIX);
            }
        });
    }
}
