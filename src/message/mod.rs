//! Message format v0 and message sets (`kafka.message`).
//!
//! - [`Message`]: one v0 message over `Bytes` (CRC, magic 0, attributes, key, value).
//! - [`shallow_iter`] / [`deep_iter`]: walk a message set; a truncated trailing entry ends
//!   the walk without error (fetch responses end that way).
//! - [`codec`]: none, gzip, xerial/raw snappy, Kafka 0.8.2 LZ4 (KAFKA-3160 header checksum).
//! - [`analyze`] + [`assign_offsets`]: the append path of docs/wire-protocol.md.
//!
//! This module does no I/O: bytes in, bytes out.

mod append;
pub mod codec;
mod error;
#[allow(clippy::module_inception)]
mod message;
mod set;
mod xxhash;

pub use append::{analyze, analyze_and_number, assign_numbered, assign_offsets, AppendInfo, Assigned, MAX_INFLATED_SET_BYTES};
pub use codec::CompressionCodec;
pub use error::MessageError;
pub use message::{validate_message_bytes, Message, MAGIC_V0, MESSAGE_OVERHEAD, MIN_MESSAGE_SIZE};
pub use set::{
    deep_iter, deep_iter_within, encode_messages, shallow_iter, DeepIter, Entry, EntryHeader, MessageSetBuilder, ShallowIter,
    LOG_OVERHEAD,
};
pub use xxhash::xxh32;
