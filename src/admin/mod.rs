//! Topic administration (`kafka.admin`): replica assignment, and topics in ZooKeeper —
//! create, add partitions, change config overrides, mark for deletion, describe, reassign — as
//! 0.8.2's `AdminUtils` did. The `kafka-topics.sh` tool (`tools::topics_command`) and the
//! broker's auto-creation both go through here.

mod assignment;
mod java_order;
mod reassign;
mod topics;

pub use assignment::{assign_replicas_to_brokers, time_seeded_random, AssignmentError};
pub use java_order::JavaHashtable;
pub use reassign::{
    check_generate_input, check_reassignment, current_reassignment, parse_reassignment_json, parse_topics_json,
    partitions_being_reassigned, propose_reassignment, reassignment_json, reassignment_status, scala_map_order, start_reassignment,
    Reassignment, ReassignmentStatus,
};
pub use topics::{
    add_partitions, change_topic_config, create_topic, create_topic_with_assignment, describe_topic,
    fetch_assignment, fetch_partition_state, fetch_topic_config, is_marked_for_deletion, java_parse_int,
    list_topics, live_brokers, mark_topic_for_deletion, parse_replica_assignment, topic_exists, validate_config,
    validate_topic, AdminError, AdminResult, PartitionDescription, ReplicaAssignment, TopicDescription,
    OFFSETS_TOPIC_NAME,
};
