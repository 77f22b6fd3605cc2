//! Topic administration (`kafka.admin`): replica assignment now; topic create/alter/delete
//! in ZooKeeper as the broker issue lands.

mod assignment;

pub use assignment::{assign_replicas_to_brokers, time_seeded_random, AssignmentError};

mod topics_tmp;
pub use topics_tmp::{create_topic, AdminError};
