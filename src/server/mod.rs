//! The broker (`kafka.server`): configuration, start-up and shutdown, request dispatch,
//! replica management (partitions, high watermark, fetchers), the metadata cache,
//! broker registration and live topic config changes.

mod apis;
mod broker_metrics;
pub mod config;
mod controller_fence;
mod fetcher;
mod kafka_server;
mod metadata_cache;
mod offset_manager;
mod partition;
mod replica_manager;

pub use apis::KafkaApis;
pub use config::{apply_overrides, local_hostname, ConfigError, KafkaConfig, BROKER_KEYS, METRICS_REPORTER_KEYS};
pub use fetcher::{BrokerEndPoint, EndPointError, FetcherManager, FollowerLog, LeaderEndPoint};
pub use kafka_server::{KafkaServer, StartupError};
pub use metadata_cache::{MetadataCache, LEADER_DURING_DELETE};
pub use offset_manager::{metadata_too_large, partition_for, record as offsets_record, OffsetManager, OffsetManagerConfig};
pub use partition::{LeaderState, Partition};
pub use replica_manager::{LeadershipListener, PartitionError, ReplicaManager};
