//! The broker (`kafka.server`): its configuration for now; startup, request dispatch,
//! replica management and the purgatories will live here too.

pub mod config;

pub use config::{apply_overrides, local_hostname, ConfigError, KafkaConfig, BROKER_KEYS, METRICS_REPORTER_KEYS};
