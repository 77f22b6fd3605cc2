use crate::common::ErrorCode;
use std::fmt;

/// Why a message or message set was refused. Every decoder returns one of these for bad
/// input; none panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Fewer bytes than the structure needs.
    Truncated { needed: usize, available: usize },
    /// A message shorter than the 14-byte minimum.
    TooSmall(usize),
    /// A set entry (with its 12-byte prefix) over `message.max.bytes`.
    TooLarge { size: usize, max: usize },
    /// A whole set over `log.segment.bytes`.
    SetTooLarge { size: usize, max: usize },
    BadCrc { stored: u32, computed: u32 },
    BadMagic(u8),
    /// Key/value lengths that do not add up to the message size.
    Malformed(&'static str),
    UnknownCodec(u8),
    /// A compressed payload that does not decompress.
    Compression(String),
    /// Compressed messages that inflate past the bytes one set may inflate to (a
    /// compression bomb, or a set far larger than `message.max.bytes` would allow).
    InflatesTooLarge { max: usize },
    /// Follower append whose offsets do not increase.
    NonMonotonicOffsets,
    /// A message without a key for a compacted topic (0.8.2 accepted it and its cleaner
    /// thread then died on it, KAFKA-1755).
    KeylessOnCompactedTopic,
}

impl MessageError {
    /// The 0.8.2 wire error for a partition whose append failed this way.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            MessageError::TooLarge { .. } | MessageError::InflatesTooLarge { .. } => ErrorCode::MessageSizeTooLarge,
            MessageError::SetTooLarge { .. } => ErrorCode::MessageSetSizeTooLarge,
            MessageError::UnknownCodec(_) => ErrorCode::Unknown,
            // 0.8.2 had no code for this. Kafka 0.9 to 2.x refused it with
            // InvalidMessageException / InvalidRecordException, both sent as 2
            // (CorruptMessage); 87 (INVALID_RECORD) came only in 2.5, unknown to 0.8-era
            // clients, which treat 2 as a failed, non-retriable send of that message.
            MessageError::KeylessOnCompactedTopic => ErrorCode::InvalidMessage,
            _ => ErrorCode::InvalidMessage,
        }
    }
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Truncated { needed, available } => {
                write!(f, "truncated: needed {} bytes, {} available", needed, available)
            }
            MessageError::TooSmall(s) => write!(f, "message size {} is less than the minimum 14", s),
            MessageError::TooLarge { size, max } => {
                write!(f, "message size {} is larger than the maximum {}", size, max)
            }
            MessageError::SetTooLarge { size, max } => {
                write!(f, "message set size {} is larger than the segment size {}", size, max)
            }
            MessageError::BadCrc { stored, computed } => {
                write!(f, "message is corrupt (stored crc = {}, computed crc = {})", stored, computed)
            }
            MessageError::BadMagic(m) => write!(f, "unsupported magic byte {}", m),
            MessageError::Malformed(what) => write!(f, "malformed message: {}", what),
            MessageError::UnknownCodec(c) => write!(f, "unknown compression codec {}", c),
            MessageError::Compression(e) => write!(f, "compressed payload does not decompress: {}", e),
            MessageError::InflatesTooLarge { max } => write!(f, "compressed messages inflate to more than {} bytes", max),
            MessageError::NonMonotonicOffsets => write!(f, "offsets in the message set are not increasing"),
            MessageError::KeylessOnCompactedTopic => write!(f, "Compacted topic cannot accept message without key."),
        }
    }
}

impl std::error::Error for MessageError {}
