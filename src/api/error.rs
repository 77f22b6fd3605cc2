use std::fmt;

/// Why a frame could not be decoded. In 0.8.2 every one of these makes the broker close the
/// connection without a response (docs/wire-protocol.md); a client treats them as a broken
/// connection. Decoders return one of these for any input and never panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ended before the structure did (Scala: `BufferUnderflowException`).
    Truncated,
    /// A length or count that is not allowed where it appears: a negative message-set size,
    /// a `bytes` length below -1, a negative Metadata topic count.
    BadLength(i32),
    /// A frame size prefix `<= 0` or above the configured maximum
    /// (`socket.request.max.bytes`; 0.8.2 `BoundedByteBufferReceive`).
    BadFrameSize { size: i32, max: usize },
    /// An api key this broker does not serve (includes 11 JoinGroup / 12 Heartbeat, 13+).
    UnknownApiKey(i16),
    /// A known api key at a version outside the 0.8.2 set (closed, as docs/wire-protocol.md says).
    UnsupportedVersion { api_key: i16, version: i16 },
    /// A structurally invalid value (null topic name, StopReplica flag other than 0/1, ...).
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => write!(f, "truncated frame"),
            DecodeError::BadLength(n) => write!(f, "invalid length or count {}", n),
            DecodeError::BadFrameSize { size, max } => {
                write!(f, "invalid frame size {} (allowed 1..={})", size, max)
            }
            DecodeError::UnknownApiKey(k) => write!(f, "unknown api key {}", k),
            DecodeError::UnsupportedVersion { api_key, version } => {
                write!(f, "unsupported version {} of api key {}", version, api_key)
            }
            DecodeError::Invalid(what) => write!(f, "invalid request: {}", what),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a value could not be encoded: it does not fit the 0.8 primitive types. Values that
/// came off the wire always fit; these guard caller-built values (a topic name longer than
/// 32767 bytes, a payload over 2 GiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A string longer than an int16 length allows.
    StringTooLong(usize),
    /// A byte size, array count or frame size that does not fit in an int32.
    TooLarge(usize),
    /// The request header names a different api key than the body.
    ApiKeyMismatch { header: i16, body: i16 },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::StringTooLong(n) => write!(f, "string of {} bytes exceeds 32767", n),
            EncodeError::TooLarge(n) => write!(f, "size or count {} exceeds int32", n),
            EncodeError::ApiKeyMismatch { header, body } => {
                write!(f, "header api key {} does not match body api key {}", header, body)
            }
        }
    }
}

impl std::error::Error for EncodeError {}
