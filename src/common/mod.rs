//! Shared vocabulary: wire error codes, `TopicPartition`, `.properties` files, the clock.
//! Counterpart of `kafka.common` and `kafka.utils`.

mod clock;
mod error_code;
mod properties;
mod topic;

pub use clock::{Clock, MockClock, SystemClock};
pub use error_code::ErrorCode;
pub use properties::{parse_properties, Properties, PropertiesError};
pub use topic::{validate_topic_name, TopicPartition, OFFSETS_TOPIC};
