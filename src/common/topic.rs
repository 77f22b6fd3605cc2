use std::fmt;

/// The internal topic of Kafka-stored consumer offsets (0.8.2).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// A topic and one of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }

    /// The log folder name, `<topic>-<partition>` (0.8.2 `Log.logDirName`).
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Parse a log folder name. The topic may itself contain '-', so split at the last one
    /// (0.8.2 `Log.parseTopicPartitionName`).
    pub fn parse_dir_name(name: &str) -> Option<TopicPartition> {
        let idx = name.rfind('-')?;
        let (topic, part) = (&name[..idx], &name[idx + 1..]);
        if topic.is_empty() {
            return None;
        }
        let partition: i32 = part.parse().ok()?;
        if partition < 0 {
            return None;
        }
        Some(TopicPartition::new(topic, partition))
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{},{}]", self.topic, self.partition)
    }
}

/// 0.8.2 `kafka.common.Topic.validate`: non-empty, not "." or "..", at most 255 characters,
/// only ASCII letters, digits, '.', '_' and '-'. The error text is 0.8.2's.
pub fn validate_topic_name(topic: &str) -> Result<(), String> {
    const MAX_NAME_LENGTH: usize = 255;
    if topic.is_empty() {
        return Err("topic name is illegal, can't be empty".to_string());
    }
    if topic == "." || topic == ".." {
        return Err("topic name cannot be \".\" or \"..\"".to_string());
    }
    if topic.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "topic name is illegal, can't be longer than {} characters",
            MAX_NAME_LENGTH
        ));
    }
    if !topic.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
        return Err(format!(
            "topic name {} is illegal, contains a character other than ASCII alphanumerics, '.', '_' and '-'",
            topic
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_name_round_trips_with_dashes_in_topic() {
        let tp = TopicPartition::new("my-replicated-topic", 12);
        assert_eq!(tp.dir_name(), "my-replicated-topic-12");
        assert_eq!(TopicPartition::parse_dir_name("my-replicated-topic-12"), Some(tp));
        assert_eq!(TopicPartition::parse_dir_name("nodash"), None);
        assert_eq!(TopicPartition::parse_dir_name("-3"), None);
        assert_eq!(TopicPartition::parse_dir_name("t-x"), None);
    }

    #[test]
    fn topic_names_validated_as_082() {
        assert!(validate_topic_name("test").is_ok());
        assert!(validate_topic_name("a.b_c-D9").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name(".").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("has space").is_err());
        assert!(validate_topic_name("slash/").is_err());
        assert!(validate_topic_name(&"x".repeat(255)).is_ok());
        assert!(validate_topic_name(&"x".repeat(256)).is_err());
    }
}
