//! The controller (`kafka.controller`): TEMPORARY placeholder API until the controller lands.
use crate::server::KafkaConfig;
use crate::zk::ZkClient;

pub struct ControllerConfig;

impl ControllerConfig {
    pub fn from_kafka_config(_c: &KafkaConfig) -> ControllerConfig {
        ControllerConfig
    }
}

pub struct ControllerHandle;

impl ControllerHandle {
    pub async fn shutdown(self) {}
}

pub struct KafkaController;

impl KafkaController {
    pub fn start(_zk: ZkClient, _broker_id: i32, _config: ControllerConfig) -> ControllerHandle {
        ControllerHandle
    }
}
