//! The consumers (`kafka.consumer`): the ZooKeeper-coordinated high-level consumer
//! ([`zk`], 0.8's `ZookeeperConsumerConnector`).

pub mod zk;
