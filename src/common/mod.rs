//! Shared vocabulary: wire error codes, `TopicPartition`, `.properties` files, the clock,
//! and the Java hash functions 0.8.2's partition choices depend on.
//! Counterpart of `kafka.common` and `kafka.utils`.

mod clock;
pub mod config_def;
mod error_code;
pub mod failpoint;
mod java;
mod properties;
mod topic;

pub use clock::{Clock, MockClock, SystemClock};
pub use error_code::ErrorCode;
pub use java::{abs, java_bytes_hash, java_string_hash, scala_collection_order, scala_mutable_hash_order, topic_and_partition_hash};
pub use properties::{parse_properties, Properties, PropertiesError};
pub use topic::{validate_topic_name, TopicPartition, OFFSETS_TOPIC};
