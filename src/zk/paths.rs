//! Every znode path kafka08 reads or writes (docs/zookeeper-layout.md). Nothing outside
//! `zk` spells a path.

pub const CONSUMERS: &str = "/consumers";
pub const BROKERS: &str = "/brokers";
pub const BROKER_IDS: &str = "/brokers/ids";
pub const BROKER_TOPICS: &str = "/brokers/topics";
pub const CONTROLLER: &str = "/controller";
pub const CONTROLLER_EPOCH: &str = "/controller_epoch";
pub const ADMIN: &str = "/admin";
pub const REASSIGN_PARTITIONS: &str = "/admin/reassign_partitions";
pub const PREFERRED_REPLICA_ELECTION: &str = "/admin/preferred_replica_election";
pub const DELETE_TOPICS: &str = "/admin/delete_topics";
/// Leaders announce ISR changes here (0.9's layout; 0.8.2 had no such path).
pub const ISR_CHANGE_NOTIFICATION: &str = "/isr_change_notification";
/// Prefix of the sequential nodes under [`ISR_CHANGE_NOTIFICATION`].
pub const ISR_CHANGE_PREFIX: &str = "/isr_change_notification/isr_change_";
pub const CONFIG: &str = "/config";
pub const CONFIG_TOPICS: &str = "/config/topics";
pub const CONFIG_CHANGES: &str = "/config/changes";
/// Prefix of the persistent-sequential change notifications under `/config/changes`.
pub const CONFIG_CHANGE_PREFIX: &str = "config_change_";

/// Created idempotently by every broker at start-up (0.8.2 `KafkaServer.startup` →
/// `ZkUtils.setupCommonPaths`).
pub const PERSISTENT_PATHS: &[&str] = &[CONSUMERS, BROKER_IDS, BROKER_TOPICS, CONFIG_CHANGES, CONFIG_TOPICS, DELETE_TOPICS];

pub fn broker(id: i32) -> String {
    format!("{}/{}", BROKER_IDS, id)
}

pub fn topic(topic: &str) -> String {
    format!("{}/{}", BROKER_TOPICS, topic)
}

pub fn topic_partitions(topic: &str) -> String {
    format!("{}/{}/partitions", BROKER_TOPICS, topic)
}

pub fn partition(topic: &str, partition: i32) -> String {
    format!("{}/{}/partitions/{}", BROKER_TOPICS, topic, partition)
}

pub fn partition_state(topic: &str, partition: i32) -> String {
    format!("{}/{}/partitions/{}/state", BROKER_TOPICS, topic, partition)
}

pub fn topic_config(topic: &str) -> String {
    format!("{}/{}", CONFIG_TOPICS, topic)
}

pub fn delete_topic_marker(topic: &str) -> String {
    format!("{}/{}", DELETE_TOPICS, topic)
}

/// The path to create a sequential change notification under.
pub fn config_change_prefix() -> String {
    format!("{}/{}", CONFIG_CHANGES, CONFIG_CHANGE_PREFIX)
}

/// One ISR change notification, by its child name.
pub fn isr_change_notification(name: &str) -> String {
    format!("{}/{}", ISR_CHANGE_NOTIFICATION, name)
}

/// One config change notification, by its child name.
pub fn config_change(name: &str) -> String {
    format!("{}/{}", CONFIG_CHANGES, name)
}

pub fn consumer_group(group: &str) -> String {
    format!("{}/{}", CONSUMERS, group)
}

pub fn consumer_ids(group: &str) -> String {
    format!("{}/{}/ids", CONSUMERS, group)
}

pub fn consumer_id(group: &str, consumer_id: &str) -> String {
    format!("{}/{}/ids/{}", CONSUMERS, group, consumer_id)
}

pub fn consumer_owners(group: &str) -> String {
    format!("{}/{}/owners", CONSUMERS, group)
}

pub fn consumer_owners_topic(group: &str, topic: &str) -> String {
    format!("{}/{}/owners/{}", CONSUMERS, group, topic)
}

pub fn consumer_owner(group: &str, topic: &str, partition: i32) -> String {
    format!("{}/{}/owners/{}/{}", CONSUMERS, group, topic, partition)
}

pub fn consumer_offsets(group: &str) -> String {
    format!("{}/{}/offsets", CONSUMERS, group)
}

pub fn consumer_offsets_topic(group: &str, topic: &str) -> String {
    format!("{}/{}/offsets/{}", CONSUMERS, group, topic)
}

pub fn consumer_offset(group: &str, topic: &str, partition: i32) -> String {
    format!("{}/{}/offsets/{}/{}", CONSUMERS, group, topic, partition)
}

/// Split `host:port,host:port/chroot` into the hosts and the chroot ("" when none).
pub fn split_chroot(connect: &str) -> (&str, &str) {
    match connect.find('/') {
        Some(i) => {
            let chroot = connect[i..].trim_end_matches('/');
            (&connect[..i], chroot)
        }
        None => (connect, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_082s() {
        assert_eq!(broker(3), "/brokers/ids/3");
        assert_eq!(partition_state("t", 2), "/brokers/topics/t/partitions/2/state");
        assert_eq!(topic_config("t"), "/config/topics/t");
        assert_eq!(config_change_prefix(), "/config/changes/config_change_");
        assert_eq!(consumer_owner("g", "t", 1), "/consumers/g/owners/t/1");
        assert_eq!(consumer_offset("g", "t", 1), "/consumers/g/offsets/t/1");
        assert_eq!(delete_topic_marker("t"), "/admin/delete_topics/t");
    }

    #[test]
    fn chroot_is_split_off_the_connect_string() {
        assert_eq!(split_chroot("a:1,b:2/kafka/x"), ("a:1,b:2", "/kafka/x"));
        assert_eq!(split_chroot("a:1"), ("a:1", ""));
        assert_eq!(split_chroot("a:1/"), ("a:1", ""));
    }
}
