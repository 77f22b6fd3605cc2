/// Kafka 0.8.2 wire error codes (`kafka.common.ErrorMapping`). Codes >= 21 do not exist in
/// 0.8 and are never sent to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
pub enum ErrorCode {
    Unknown = -1,
    NoError = 0,
    OffsetOutOfRange = 1,
    InvalidMessage = 2,
    UnknownTopicOrPartition = 3,
    InvalidFetchSize = 4,
    LeaderNotAvailable = 5,
    NotLeaderForPartition = 6,
    RequestTimedOut = 7,
    BrokerNotAvailable = 8,
    ReplicaNotAvailable = 9,
    MessageSizeTooLarge = 10,
    StaleControllerEpoch = 11,
    OffsetMetadataTooLarge = 12,
    StaleLeaderEpoch = 13,
    OffsetsLoadInProgress = 14,
    ConsumerCoordinatorNotAvailable = 15,
    NotCoordinatorForConsumer = 16,
    InvalidTopic = 17,
    MessageSetSizeTooLarge = 18,
    NotEnoughReplicas = 19,
    NotEnoughReplicasAfterAppend = 20,
}

impl ErrorCode {
    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> ErrorCode {
        use ErrorCode::*;
        match code {
            0 => NoError,
            1 => OffsetOutOfRange,
            2 => InvalidMessage,
            3 => UnknownTopicOrPartition,
            4 => InvalidFetchSize,
            5 => LeaderNotAvailable,
            6 => NotLeaderForPartition,
            7 => RequestTimedOut,
            8 => BrokerNotAvailable,
            9 => ReplicaNotAvailable,
            10 => MessageSizeTooLarge,
            11 => StaleControllerEpoch,
            12 => OffsetMetadataTooLarge,
            13 => StaleLeaderEpoch,
            14 => OffsetsLoadInProgress,
            15 => ConsumerCoordinatorNotAvailable,
            16 => NotCoordinatorForConsumer,
            17 => InvalidTopic,
            18 => MessageSetSizeTooLarge,
            19 => NotEnoughReplicas,
            20 => NotEnoughReplicasAfterAppend,
            _ => Unknown,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn codes_round_trip() {
        for c in -1..=20i16 {
            assert_eq!(ErrorCode::from_code(c).code(), c);
        }
        assert_eq!(ErrorCode::from_code(35), ErrorCode::Unknown);
    }
}
