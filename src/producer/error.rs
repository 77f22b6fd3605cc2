use super::config::ConfigError;
use std::fmt;

/// Why one topic-partition (or a whole topic, when no partition could be chosen) did not
/// take its messages on the last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub topic: String,
    /// `None` when the failure came before a partition was chosen (no metadata, unknown
    /// topic, no partition with a leader for a null key).
    pub partition: Option<i32>,
    /// How many messages were still unsent for it.
    pub messages: usize,
    pub reason: String,
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.partition {
            Some(p) => write!(f, "[{},{}]", self.topic, p)?,
            None => write!(f, "{}", self.topic)?,
        }
        write!(f, " ({} messages): {}", self.messages, self.reason)
    }
}

/// What a producer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProducerError {
    Config(ConfigError),
    /// 0.8.2 `FailedToSendMessageException`: messages still unsent after
    /// `message.send.max.retries` retries (or a non-retriable broker error). Nothing of it
    /// is silently dropped in sync mode.
    FailedToSend {
        attempts: u32,
        failures: Vec<SendFailure>,
    },
    /// 0.8.2 `QueueFullException` (async mode): the queue stayed full for
    /// `queue.enqueue.timeout.ms`. `enqueued` of the messages given to this `send` call
    /// were queued before it filled.
    QueueFull {
        topic: String,
        enqueued: usize,
    },
    /// 0.8.2 `ProducerClosedException`: `send` after `close`.
    Closed,
    /// Async mode: batches sent in the background that failed (reported by `close`, as
    /// 0.8.2 could only log them). `last` is the last such error.
    AsyncSendFailed {
        batches: u64,
        messages: u64,
        last: String,
    },
    /// The blocking producer could not start its runtime.
    Runtime(String),
}

impl ProducerError {
    /// The topic-partitions a `FailedToSend` names, as `[topic,partition]` or `topic`.
    pub fn failed_partitions(&self) -> Vec<(String, Option<i32>)> {
        match self {
            ProducerError::FailedToSend { failures, .. } => {
                failures.iter().map(|f| (f.topic.clone(), f.partition)).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProducerError::Config(e) => write!(f, "{}", e),
            ProducerError::FailedToSend { attempts, failures } => {
                write!(f, "Failed to send messages after {} tries: ", attempts)?;
                for (i, fl) in failures.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{}", fl)?;
                }
                Ok(())
            }
            ProducerError::QueueFull { topic, enqueued } => write!(
                f,
                "Event queue is full of unsent messages, could not send event for topic {} ({} of this call's messages were queued)",
                topic, enqueued
            ),
            ProducerError::Closed => write!(f, "producer already closed"),
            ProducerError::Runtime(e) => write!(f, "cannot start the producer runtime: {}", e),
            ProducerError::AsyncSendFailed { batches, messages, last } => write!(
                f,
                "{} messages in {} batches could not be sent in the background; last error: {}",
                messages, batches, last
            ),
        }
    }
}

impl std::error::Error for ProducerError {}

impl From<ConfigError> for ProducerError {
    fn from(e: ConfigError) -> Self {
        ProducerError::Config(e)
    }
}
