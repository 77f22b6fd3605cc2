//! Broker configuration: `server.properties` read the way Kafka 0.8.2's `KafkaConfig` (and
//! the `ZKConfig` it extends) read it — same keys, defaults, allowed ranges and precedence —
//! so an operator's 0.8.2 file works verbatim.
//!
//! # Naming
//! One public field per key, named after the key with `.` turned into `_`
//! (`log.retention.hours` → `log_retention_hours`), typed as 0.8.2 read it: Int → `i32`,
//! Long → `i64`, Short → `i16`, Double → `f64`. A key that only matters when it is set, or
//! whose default is another key's value (`log.retention.ms`, `advertised.port`,
//! `zookeeper.connection.timeout.ms`, ...), is an `Option` field holding what the file said;
//! the method of the same name (or the one named in its doc) resolves it to the value the
//! broker uses: [`KafkaConfig::log_retention_ms`], [`KafkaConfig::advertised_port`],
//! [`KafkaConfig::log_dirs`], [`KafkaConfig::zk_connection_timeout_ms`], ...
//!
//! # The key table
//! Every key is one line of the [`KafkaConfig`] table (`config_struct!`, see
//! [`crate::common::config_def`]): name, field, type, default, valid range, when it is read,
//! and 0.8.2's doc line. Parsing, [`BROKER_KEYS`] (and so the unknown-key warning),
//! [`KafkaConfig::value`] and [`KafkaConfig::key_table`] all come from it: adding a key is
//! adding a line. Checks between keys that a range cannot express are in `check`.
//!
//! These are the broker-wide values. [`KafkaConfig::log_defaults`] turns the log keys into
//! the default [`LogConfig`] every log starts from (topic overrides apply on top of it,
//! docs/zookeeper-layout.md, topic configs); nothing parses the log keys a second time.
//!
//! # Errors and warnings
//! A missing required key (`broker.id`, `zookeeper.connect`), a value that does not parse,
//! or one outside the range 0.8.2 accepted (`getIntInRange` and the `require`s of its
//! constructor) is a [`ConfigError`] naming the key and the value, on one line. A key the
//! broker does not read is never an error: [`KafkaConfig::unknown_keys`] lists it, and the
//! broker logs "Property X is not valid" as 0.8.2's `VerifiableProperties.verify` did.
//!
//! # Where kafka08 differs (never by refusing a file 0.8.2 started with)
//! - `port` / `advertised.port` outside 0..=65535 are refused here; 0.8.2 took any integer
//!   and then failed to bind (or registered a port no client could use).
//! - Booleans accept any letter case; 0.8.2 wanted exactly `true` or `false`.
//! - `log.cleaner.threads=0` is refused with a message; 0.8.2 died at startup dividing
//!   `log.cleaner.dedupe.buffer.size` by it.
//! - An empty `zookeeper.connect` is refused here rather than when connecting.

use crate::common::config_def::{config_struct, parse_csv_list, ConfigValue, KeyError};
use crate::common::{Properties, PropertiesError};
use crate::log::{CleanupPolicy, LogConfig};
use crate::message::{CompressionCodec, LOG_OVERHEAD, MIN_MESSAGE_SIZE};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Every key `KafkaConfig` and `ZKConfig` read in 0.8.2, in the order of 0.8.2's source
/// (the names of [`KafkaConfig`]'s key table). A key outside this list (and outside
/// [`METRICS_REPORTER_KEYS`]) is only a warning.
pub const BROKER_KEYS: &[&str] = KafkaConfig::KEYS;

/// Keys 0.8.2's metrics reporters read from `server.properties` (after `KafkaConfig`, so
/// 0.8.2 itself warned about them). kafka08 has no JMX/CSV reporters; they are accepted
/// and ignored without a warning. Keys starting with `external` are also exempt, as in
/// `VerifiableProperties.verify` (third-party reporters use that prefix).
pub const METRICS_REPORTER_KEYS: &[&str] = &[
    "kafka.metrics.reporters",
    "kafka.metrics.polling.interval.secs",
    "kafka.csv.metrics.dir",
    "kafka.csv.metrics.reporter.enabled",
];

const INT: Option<(i32, i32)> = Some((i32::MIN, i32::MAX));
const POSITIVE: Option<(i32, i32)> = Some((1, i32::MAX));
const NON_NEGATIVE: Option<(i32, i32)> = Some((0, i32::MAX));
const LONG: Option<(i64, i64)> = Some((i64::MIN, i64::MAX));
const POSITIVE_LONG: Option<(i64, i64)> = Some((1, i64::MAX));
const NON_NEGATIVE_LONG: Option<(i64, i64)> = Some((0, i64::MAX));
const TCP_PORT: Option<(u16, u16)> = Some((0, u16::MAX));
const MS_PER_MINUTE: i64 = 60 * 1000;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const DEFAULT_LOG_DIR: &str = "/tmp/kafka-logs";

#[derive(Debug)]
pub enum ConfigError {
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A required key (`broker.id`, `zookeeper.connect`) is absent.
    Missing {
        key: String,
    },
    /// A key holds a value that does not parse or that 0.8.2 refused.
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    /// A `--override` argument that is not `key=value`.
    BadOverride {
        arg: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => write!(f, "cannot read {}: {}", path, source),
            ConfigError::Missing { key } => write!(f, "missing required configuration {}", key),
            // `{:?}` keeps a value with a newline in it on one line.
            ConfigError::Invalid { key, value, reason } => {
                write!(f, "invalid value {:?} for configuration {}: {}", value, key, reason)
            }
            ConfigError::BadOverride { arg } => write!(f, "invalid override {:?}: expected key=value", arg),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<PropertiesError> for ConfigError {
    fn from(e: PropertiesError) -> ConfigError {
        match e {
            PropertiesError::Io(path, source) => ConfigError::Io { path, source },
            PropertiesError::BadValue(key, value, reason) => ConfigError::Invalid { key, value, reason },
        }
    }
}

impl From<KeyError> for ConfigError {
    fn from(e: KeyError) -> ConfigError {
        match e {
            KeyError::Missing { key } => ConfigError::Missing { key },
            KeyError::Invalid { key, value, reason } => ConfigError::Invalid { key, value, reason },
        }
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), value: value.to_string(), reason: reason.into() }
}

/// `max.connections.per.ip.overrides`: `host:count,host:count`, in file order. The host is
/// everything before the last colon, so IPv6 addresses work (later Kafkas split there too;
/// 0.8.2 split at the first colon, which is the same for host names and IPv4).
impl ConfigValue for Vec<(String, i32)> {
    const TYPE: &'static str = "list";
    fn parse_value(raw: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (host, count) = entry.rsplit_once(':').ok_or_else(|| format!("entry {:?} is not host:count", entry))?;
            let count = count
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("count in entry {:?} is not a 32-bit integer", entry))?;
            out.push((host.trim().to_string(), count));
        }
        Ok(out)
    }
    fn render(&self) -> String {
        self.iter().map(|(h, n)| format!("{}:{}", h, n)).collect::<Vec<_>>().join(",")
    }
}

config_struct! {
    #[derive(Debug, Clone, PartialEq)]
    /// The broker's configuration. See the module doc for the naming scheme. Each line of
    /// the table is one 0.8.2 key: name, field, default, valid range, when it is read, and
    /// 0.8.2's doc line.
    pub struct KafkaConfig {
        // ZKConfig
        /// `host:port[,host:port...][/chroot]`. Required.
        "zookeeper.connect" => zookeeper_connect: String = None, None, read if true, "ZooKeeper connection string: host:port pairs, comma-separated, optionally followed by a /chroot path.";
        "zookeeper.session.timeout.ms" => zookeeper_session_timeout_ms: i32 = Some(6000), INT, read if true, "ZooKeeper session timeout.";
        /// Unset means the session timeout: see [`KafkaConfig::zk_connection_timeout_ms`].
        "zookeeper.connection.timeout.ms" => zookeeper_connection_timeout_ms: Option<i32> = None, INT, read if true, "The max time the client waits to establish a connection to ZooKeeper (default: the session timeout).", shown |c: &KafkaConfig| Some(c.zk_connection_timeout_ms().to_string());
        "zookeeper.sync.time.ms" => zookeeper_sync_time_ms: i32 = Some(2000), INT, read if true, "How far a ZooKeeper follower can be behind a ZooKeeper leader.";
        // General
        /// Required, >= 0.
        "broker.id" => broker_id: i32 = None, NON_NEGATIVE, read if true, "The broker's unique, non-negative id in the cluster.";
        /// 1000000 + the 12-byte log overhead in 0.8.2's source (its docs say 1000000).
        "message.max.bytes" => message_max_bytes: i32 = Some(1_000_000 + LOG_OVERHEAD as i32), NON_NEGATIVE, read if true, "The maximum size of a message the server can receive.";
        "num.network.threads" => num_network_threads: i32 = Some(3), POSITIVE, read if true, "The number of network threads the server uses for handling network requests.";
        "num.io.threads" => num_io_threads: i32 = Some(8), POSITIVE, read if true, "The number of I/O threads the server uses for executing requests.";
        "background.threads" => background_threads: i32 = Some(10), POSITIVE, read if true, "The number of threads for background processing tasks such as file deletion.";
        /// Requests queued between the network and the handlers before the network blocks.
        "queued.max.requests" => queued_max_requests: i32 = Some(500), POSITIVE, read if true, "The number of requests that can be queued for the I/O threads before the network threads stop reading.";
        // Socket server
        "port" => port: u16 = Some(9092), TCP_PORT, read if true, "The port on which the server accepts client connections.";
        /// Bind address; unset or blank binds every interface.
        "host.name" => host_name: Option<String> = None, None, read if true, "Hostname of the broker; if set it binds only to this address, else to all interfaces.";
        /// See [`KafkaConfig::advertised_host`].
        "advertised.host.name" => advertised_host_name: Option<String> = None, None, read if true, "The hostname published to ZooKeeper for clients (default: host.name).", shown |c: &KafkaConfig| c.advertised_host_name.clone().or_else(|| c.host_name.clone());
        /// Unset means `port`: see [`KafkaConfig::advertised_port`].
        "advertised.port" => advertised_port: Option<u16> = None, TCP_PORT, read if true, "The port published to ZooKeeper for clients (default: port).", shown |c: &KafkaConfig| Some(c.advertised_port().to_string());
        "socket.send.buffer.bytes" => socket_send_buffer_bytes: i32 = Some(100 * 1024), INT, read if true, "The SO_SNDBUF buffer of the socket server's sockets.";
        "socket.receive.buffer.bytes" => socket_receive_buffer_bytes: i32 = Some(100 * 1024), INT, read if true, "The SO_RCVBUF buffer of the socket server's sockets.";
        "socket.request.max.bytes" => socket_request_max_bytes: i32 = Some(100 * 1024 * 1024), POSITIVE, read if true, "The maximum size of a request the server accepts (protects against OOM).";
        "max.connections.per.ip" => max_connections_per_ip: i32 = Some(i32::MAX), POSITIVE, read if true, "The maximum number of connections allowed from each IP address.";
        /// `host:count` entries in file order; see [`KafkaConfig::max_connections_per_ip_overrides`].
        "max.connections.per.ip.overrides" => max_connections_per_ip_overrides: Vec<(String, i32)> = Some(Vec::new()), None, read if true, "Per-IP or hostname overrides of the connection limit, as host:count,host:count.";
        "connections.max.idle.ms" => connections_max_idle_ms: i64 = Some(10 * 60 * 1000), LONG, read if true, "Idle connections are closed after this many milliseconds.";
        // Log
        "num.partitions" => num_partitions: i32 = Some(1), POSITIVE, read if true, "The default number of partitions per topic when a topic is created without one.";
        /// Comma-separated directories; when unset `log.dir` is used. See [`KafkaConfig::log_dirs`].
        "log.dirs" => log_dirs: Option<String> = None, None, read if true, "The directories in which the log data is kept, comma-separated (default: log.dir).", shown |c: &KafkaConfig| Some(c.log_dirs().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(","));
        "log.dir" => log_dir: String = Some(DEFAULT_LOG_DIR.to_string()), None, read if true, "The directory in which the log data is kept (when log.dirs is unset).";
        "log.segment.bytes" => log_segment_bytes: i32 = Some(1024 * 1024 * 1024), Some((MIN_MESSAGE_SIZE as i32, i32::MAX)), read if true, "The maximum size of a single log segment file.";
        /// Wins over `log.roll.hours`; see [`KafkaConfig::log_roll_ms`].
        "log.roll.ms" => log_roll_ms: Option<i32> = None, POSITIVE, read if true, "The maximum time before a new log segment is rolled out, in milliseconds (wins over log.roll.hours).";
        // The precise key shadows the coarse one, which 0.8.2 then never read (a bad value
        // there did not stop it), so neither do we; its field keeps the default.
        "log.roll.hours" => log_roll_hours: i32 = Some(24 * 7), POSITIVE, read if log_roll_ms.is_none(), "The maximum time before a new log segment is rolled out, in hours.";
        /// Wins over `log.roll.jitter.hours`; see [`KafkaConfig::log_roll_jitter_ms`].
        "log.roll.jitter.ms" => log_roll_jitter_ms: Option<i32> = None, NON_NEGATIVE, read if true, "The maximum jitter subtracted from the roll time, in milliseconds (wins over log.roll.jitter.hours).";
        "log.roll.jitter.hours" => log_roll_jitter_hours: i32 = Some(0), NON_NEGATIVE, read if log_roll_jitter_ms.is_none(), "The maximum jitter subtracted from the roll time, in hours.";
        /// ms > minutes > hours; see [`KafkaConfig::log_retention_ms`]. An Int in 0.8.2, so at
        /// most ~24.8 days when given in ms.
        "log.retention.ms" => log_retention_ms: Option<i32> = None, POSITIVE, read if true, "The time to keep a log segment before deleting it, in milliseconds (wins over minutes and hours).";
        "log.retention.minutes" => log_retention_minutes: Option<i32> = None, POSITIVE, read if log_retention_ms.is_none(), "The time to keep a log segment before deleting it, in minutes (wins over hours).";
        "log.retention.hours" => log_retention_hours: i32 = Some(24 * 7), POSITIVE, read if log_retention_ms.is_none() && log_retention_minutes.is_none(), "The time to keep a log segment before deleting it, in hours.";
        "log.retention.bytes" => log_retention_bytes: i64 = Some(-1), LONG, read if true, "The maximum size of a log before old segments are deleted (-1: no size limit).";
        "log.retention.check.interval.ms" => log_retention_check_interval_ms: i64 = Some(5 * 60 * 1000), POSITIVE_LONG, read if true, "How often log segments are checked for deletion.";
        /// As written; 0.8.2 compacts when it is `compact` (trimmed, any case) and deletes
        /// otherwise (`dedupe`, the name 0.8.1's docs gave, included). See
        /// [`KafkaConfig::log_cleanup_compact`].
        "log.cleanup.policy" => log_cleanup_policy: String = Some("delete".to_string()), None, read if true, "The default cleanup policy for segments beyond the retention window: delete or compact.";
        "log.cleaner.threads" => log_cleaner_threads: i32 = Some(1), NON_NEGATIVE, read if true, "The number of background threads to use for log cleaning.";
        "log.cleaner.io.max.bytes.per.second" => log_cleaner_io_max_bytes_per_second: f64 = Some(f64::MAX), None, read if true, "The log cleaner's I/O throttle: read plus write bytes per second.";
        "log.cleaner.dedupe.buffer.size" => log_cleaner_dedupe_buffer_size: i64 = Some(500 * 1024 * 1024), NON_NEGATIVE_LONG, read if true, "The total memory used for log deduplication across all cleaner threads.";
        "log.cleaner.io.buffer.size" => log_cleaner_io_buffer_size: i32 = Some(512 * 1024), NON_NEGATIVE, read if true, "The total memory used for log cleaner I/O buffers across all cleaner threads.";
        "log.cleaner.io.buffer.load.factor" => log_cleaner_io_buffer_load_factor: f64 = Some(0.9), None, read if true, "The load factor of the log cleaner's dedupe hash table.";
        "log.cleaner.backoff.ms" => log_cleaner_backoff_ms: i64 = Some(15 * 1000), NON_NEGATIVE_LONG, read if true, "The amount of time to sleep when there are no logs to clean.";
        "log.cleaner.min.cleanable.ratio" => log_cleaner_min_cleanable_ratio: f64 = Some(0.5), None, read if true, "The minimum ratio of dirty log to total log for a log to be eligible for cleaning.";
        "log.cleaner.enable" => log_cleaner_enable: bool = Some(true), None, read if true, "Enable the log cleaner (needed for compacted topics). On by default, unlike 0.8.2 (whose offsets topic then grew forever), as later Kafka.";
        "log.cleaner.delete.retention.ms" => log_cleaner_delete_retention_ms: i64 = Some(24 * MS_PER_HOUR), LONG, read if true, "How long delete markers are retained in compacted logs.";
        "log.index.size.max.bytes" => log_index_size_max_bytes: i32 = Some(10 * 1024 * 1024), Some((4, i32::MAX)), read if true, "The maximum size in bytes of an offset index.";
        "log.index.interval.bytes" => log_index_interval_bytes: i32 = Some(4096), NON_NEGATIVE, read if true, "The interval in bytes at which an entry is added to the offset index.";
        "log.flush.interval.messages" => log_flush_interval_messages: i64 = Some(i64::MAX), POSITIVE_LONG, read if true, "The number of messages accumulated on a log partition before they are flushed to disk.";
        "log.segment.delete.delay.ms" => log_segment_delete_delay_ms: i64 = Some(60000), NON_NEGATIVE_LONG, read if true, "The amount of time to wait before deleting a file from the filesystem.";
        "log.flush.scheduler.interval.ms" => log_flush_scheduler_interval_ms: i64 = Some(i64::MAX), LONG, read if true, "How often the log flusher checks whether any log needs to be flushed.";
        /// Unset means `log.flush.scheduler.interval.ms`; see [`KafkaConfig::log_flush_interval_ms`].
        "log.flush.interval.ms" => log_flush_interval_ms: Option<i64> = None, LONG, read if true, "The maximum time a message stays in memory before it is flushed (default: log.flush.scheduler.interval.ms).", shown |c: &KafkaConfig| Some(c.log_flush_interval_ms().to_string());
        "log.flush.offset.checkpoint.interval.ms" => log_flush_offset_checkpoint_interval_ms: i32 = Some(60000), NON_NEGATIVE, read if true, "How often the last flush is recorded as the log recovery point.";
        "num.recovery.threads.per.data.dir" => num_recovery_threads_per_data_dir: i32 = Some(1), POSITIVE, read if true, "The number of threads per data directory used for log recovery at startup and flushing at shutdown.";
        "auto.create.topics.enable" => auto_create_topics_enable: bool = Some(true), None, read if true, "Enable auto creation of topics on the server.";
        /// A log default, which 0.8.2 forgot to pass on (KAFKA-2114, fixed in 0.9); a topic
        /// override wins.
        "min.insync.replicas" => min_insync_replicas: i32 = Some(1), POSITIVE, read if true, "The minimum number of in-sync replicas for an acks=-1 produce to succeed.";
        // Replication
        "controller.socket.timeout.ms" => controller_socket_timeout_ms: i32 = Some(30000), INT, read if true, "The socket timeout for commands from the partition management controller to the replicas.";
        "controller.message.queue.size" => controller_message_queue_size: i32 = Some(i32::MAX), INT, read if true, "The buffer size for the controller-to-broker channels.";
        "default.replication.factor" => default_replication_factor: i32 = Some(1), INT, read if true, "The default replication factor for automatically created topics.";
        "replica.lag.time.max.ms" => replica_lag_time_max_ms: i64 = Some(10000), LONG, read if true, "A follower that has sent no fetch request for this long is removed from the ISR.";
        "replica.lag.max.messages" => replica_lag_max_messages: i64 = Some(4000), LONG, read if true, "A follower more than this many messages behind the leader is removed from the ISR.";
        "replica.socket.timeout.ms" => replica_socket_timeout_ms: i32 = Some(30 * 1000), INT, read if true, "The socket timeout for network requests to the leader for replicating data.";
        "replica.socket.receive.buffer.bytes" => replica_socket_receive_buffer_bytes: i32 = Some(64 * 1024), INT, read if true, "The socket receive buffer for network requests to the leader for replicating data.";
        // A follower must be able to fetch the largest message the leader accepts.
        "replica.fetch.max.bytes" => replica_fetch_max_bytes: i32 = Some(1024 * 1024), Some((message_max_bytes, i32::MAX)), read if true, "The number of bytes of messages to attempt to fetch for each partition in a replica fetch (at least message.max.bytes).";
        "replica.fetch.wait.max.ms" => replica_fetch_wait_max_ms: i32 = Some(500), INT, read if true, "The maximum time the leader waits for data in a replica fetch request.";
        "replica.fetch.min.bytes" => replica_fetch_min_bytes: i32 = Some(1), INT, read if true, "The minimum bytes expected in a replica fetch response, else wait up to replica.fetch.wait.max.ms.";
        "num.replica.fetchers" => num_replica_fetchers: i32 = Some(1), POSITIVE, read if true, "The number of threads used to replicate messages from leaders.";
        /// Pause after a failed replica fetch (0.9's key; 0.8.2 backed off by
        /// `replica.fetch.wait.max.ms`). Accepted so 0.8-era runbooks that set it keep working.
        "replica.fetch.backoff.ms" => replica_fetch_backoff_ms: i32 = Some(1000), NON_NEGATIVE, read if true, "The time to sleep after a failed replica fetch (not in 0.8.2; from 0.9).";
        "replica.high.watermark.checkpoint.interval.ms" => replica_high_watermark_checkpoint_interval_ms: i64 = Some(5000), LONG, read if true, "How often the high watermark is saved to disk.";
        "fetch.purgatory.purge.interval.requests" => fetch_purgatory_purge_interval_requests: i32 = Some(1000), INT, read if true, "The purge interval (in number of requests) of the fetch request purgatory.";
        "producer.purgatory.purge.interval.requests" => producer_purgatory_purge_interval_requests: i32 = Some(1000), INT, read if true, "The purge interval (in number of requests) of the producer request purgatory.";
        "auto.leader.rebalance.enable" => auto_leader_rebalance_enable: bool = Some(true), None, read if true, "Let the controller move leadership back to the preferred replicas periodically.";
        "leader.imbalance.per.broker.percentage" => leader_imbalance_per_broker_percentage: i32 = Some(10), INT, read if true, "The percentage of leader imbalance allowed per broker before a rebalance is triggered.";
        "leader.imbalance.check.interval.seconds" => leader_imbalance_check_interval_seconds: i32 = Some(300), INT, read if true, "How often the controller checks for leader imbalance.";
        "unclean.leader.election.enable" => unclean_leader_election_enable: bool = Some(true), None, read if true, "Allow a replica outside the ISR to become leader as a last resort, at the risk of data loss.";
        // Controlled shutdown
        "controlled.shutdown.max.retries" => controlled_shutdown_max_retries: i32 = Some(3), INT, read if true, "How many times a controlled shutdown is attempted before an unclean shutdown.";
        "controlled.shutdown.retry.backoff.ms" => controlled_shutdown_retry_backoff_ms: i32 = Some(5000), INT, read if true, "The time to wait between controlled shutdown attempts.";
        "controlled.shutdown.enable" => controlled_shutdown_enable: bool = Some(true), None, read if true, "Move leadership off this broker before it shuts down.";
        // Offset management (0.8.2 OffsetManagerConfig defaults)
        "offset.metadata.max.bytes" => offset_metadata_max_bytes: i32 = Some(4096), INT, read if true, "The maximum size of the metadata string committed with an offset.";
        "offsets.load.buffer.size" => offsets_load_buffer_size: i32 = Some(5 * 1024 * 1024), POSITIVE, read if true, "The batch size for reading the offsets topic when loading offsets into the cache.";
        "offsets.topic.replication.factor" => offsets_topic_replication_factor: i16 = Some(3), Some((1, i16::MAX)), read if true, "The replication factor of the offsets topic.";
        "offsets.topic.num.partitions" => offsets_topic_num_partitions: i32 = Some(50), POSITIVE, read if true, "The number of partitions of the offsets topic.";
        "offsets.topic.segment.bytes" => offsets_topic_segment_bytes: i32 = Some(100 * 1024 * 1024), POSITIVE, read if true, "The segment size of the offsets topic.";
        "offsets.topic.compression.codec" => offsets_topic_compression_codec: CompressionCodec = Some(CompressionCodec::None), None, read if true, "The compression codec of the offsets topic.";
        "offsets.retention.minutes" => offsets_retention_minutes: i32 = Some(24 * 60), POSITIVE, read if true, "Offsets older than this are discarded.";
        "offsets.retention.check.interval.ms" => offsets_retention_check_interval_ms: i64 = Some(600000), POSITIVE_LONG, read if true, "How often stale offsets are looked for.";
        "offsets.commit.timeout.ms" => offsets_commit_timeout_ms: i32 = Some(5000), POSITIVE, read if true, "An offset commit waits this long for the offsets topic's replicas to acknowledge it.";
        "offsets.commit.required.acks" => offsets_commit_required_acks: i16 = Some(-1), Some((-1, offsets_topic_replication_factor)), read if true, "The acks an offset commit requires (at most offsets.topic.replication.factor).";
        "delete.topic.enable" => delete_topic_enable: bool = Some(false), None, read if true, "Enable topic deletion.";
        // kafka08's own: the Prometheus metrics endpoint (0.8.2 had JMX instead).
        "metrics.http.port" => metrics_http_port: u16 = Some(0), TCP_PORT, read if true, "Port of the Prometheus metrics endpoint; 0 turns it off.";
        "metrics.http.host" => metrics_http_host: Option<String> = None, None, read if true, "Address of the metrics endpoint; unset means host.name.";
    }
    extra {
        /// The properties this was built from (0.8.2's `config.props`): the controller
        /// overlays topic configs on them (`unclean.leader.election.enable`).
        props: Properties,
    }
}

impl KafkaConfig {
    /// Build from parsed properties: every key of the table, then the checks between
    /// keys. Errors name the key and the value; unknown keys are not errors (see
    /// [`KafkaConfig::unknown_keys`]).
    pub fn from_properties(props: &Properties) -> Result<KafkaConfig, ConfigError> {
        let c = KafkaConfig::read_keys(props, props.clone())?;
        c.check()?;
        Ok(c)
    }

    /// The `require`s of 0.8.2's constructor and kafka08's own refusals (module doc).
    fn check(&self) -> Result<(), ConfigError> {
        if self.zookeeper_connect.is_empty() {
            return Err(invalid("zookeeper.connect", "", "must name at least one host:port"));
        }
        // 0.8.2: `require(logDirs.size > 0)`.
        match &self.log_dirs {
            Some(dirs) if parse_csv_list(dirs).is_empty() => return Err(invalid("log.dirs", dirs, "names no directory")),
            None if parse_csv_list(&self.log_dir).is_empty() => {
                return Err(invalid("log.dir", &self.log_dir, "names no directory"))
            }
            _ => {}
        }
        if self.log_cleaner_threads == 0 {
            return Err(invalid(
                "log.cleaner.threads",
                "0",
                "must be at least 1 (0.8.2 divides log.cleaner.dedupe.buffer.size by it at startup)",
            ));
        }
        // 0.8.2 checks this even with the cleaner disabled.
        if self.log_cleaner_dedupe_buffer_size / self.log_cleaner_threads as i64 <= 1024 * 1024 {
            return Err(invalid(
                "log.cleaner.dedupe.buffer.size",
                &self.log_cleaner_dedupe_buffer_size.to_string(),
                format!("must be more than 1MB per cleaner thread (log.cleaner.threads={})", self.log_cleaner_threads),
            ));
        }
        // 0.8.2 meant `replica.fetch.wait.max.ms <= replica.socket.timeout.ms`, but its check
        // ran before replicaFetchWaitMaxMs was initialised (so it read 0): in effect it only
        // refused a negative socket timeout. Keep that, so every file 0.8.2 took still loads.
        if self.replica_socket_timeout_ms < 0 {
            return Err(invalid(
                "replica.socket.timeout.ms",
                &self.replica_socket_timeout_ms.to_string(),
                "must not be negative",
            ));
        }
        if self.replica_fetch_wait_max_ms as i64 > self.replica_lag_time_max_ms {
            return Err(invalid(
                "replica.fetch.wait.max.ms",
                &self.replica_fetch_wait_max_ms.to_string(),
                format!(
                    "must not exceed replica.lag.time.max.ms ({}), or the ISR shrinks on every idle fetch",
                    self.replica_lag_time_max_ms
                ),
            ));
        }
        Ok(())
    }

    /// Every default, with the two required keys given (for tests and embedding).
    pub fn with_defaults(broker_id: i32, zookeeper_connect: &str) -> Result<KafkaConfig, ConfigError> {
        let mut props = Properties::new();
        props.set("broker.id", broker_id.to_string());
        props.set("zookeeper.connect", zookeeper_connect);
        KafkaConfig::from_properties(&props)
    }

    /// Read a `server.properties` file.
    pub fn load(path: impl AsRef<Path>) -> Result<KafkaConfig, ConfigError> {
        KafkaConfig::load_with_overrides::<&str>(path, &[])
    }

    /// Read a `server.properties` file, then apply `key=value` overrides (later wins), as
    /// `kafka-server-start.sh config/server.properties --override broker.id=2` does.
    pub fn load_with_overrides<S: AsRef<str>>(
        path: impl AsRef<Path>,
        overrides: &[S],
    ) -> Result<KafkaConfig, ConfigError> {
        let mut props = Properties::load(path.as_ref())?;
        apply_overrides(&mut props, overrides)?;
        KafkaConfig::from_properties(&props)
    }

    /// Keys in `props` the broker does not read, sorted (0.8.2 logged them sorted). The
    /// broker logs each as "Property X is not valid"; they are never an error. Producer and
    /// consumer keys land here too.
    pub fn unknown_keys(props: &Properties) -> Vec<String> {
        let mut keys: Vec<String> = props
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !BROKER_KEYS.contains(k) && !METRICS_REPORTER_KEYS.contains(k) && !k.starts_with("external"))
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    /// The warning lines 0.8.2's `VerifiableProperties.verify` logged for `props`.
    pub fn unknown_key_warnings(props: &Properties) -> Vec<String> {
        KafkaConfig::unknown_keys(props).into_iter().map(|k| format!("Property {} is not valid", k)).collect()
    }

    /// The data directories: `log.dirs`, else `log.dir` (default `/tmp/kafka-logs`), split
    /// on commas, trimmed, empty entries dropped. Never empty (checked at load).
    pub fn log_dirs(&self) -> Vec<PathBuf> {
        parse_csv_list(self.log_dirs.as_deref().unwrap_or(&self.log_dir)).into_iter().map(PathBuf::from).collect()
    }

    /// Time retention: `log.retention.ms`, else `log.retention.minutes`, else
    /// `log.retention.hours` (168), as 0.8.2 resolved it.
    pub fn log_retention_ms(&self) -> i64 {
        match (self.log_retention_ms, self.log_retention_minutes) {
            (Some(ms), _) => ms as i64,
            (None, Some(minutes)) => minutes as i64 * MS_PER_MINUTE,
            (None, None) => self.log_retention_hours as i64 * MS_PER_HOUR,
        }
    }

    /// Segment roll time: `log.roll.ms`, else `log.roll.hours` (168).
    pub fn log_roll_ms(&self) -> i64 {
        match self.log_roll_ms {
            Some(ms) => ms as i64,
            None => self.log_roll_hours as i64 * MS_PER_HOUR,
        }
    }

    /// Maximum jitter subtracted from the roll time: `log.roll.jitter.ms`, else
    /// `log.roll.jitter.hours` (0).
    pub fn log_roll_jitter_ms(&self) -> i64 {
        match self.log_roll_jitter_ms {
            Some(ms) => ms as i64,
            None => self.log_roll_jitter_hours as i64 * MS_PER_HOUR,
        }
    }

    /// `log.flush.interval.ms`, else `log.flush.scheduler.interval.ms` (Long.MaxValue: never).
    pub fn log_flush_interval_ms(&self) -> i64 {
        self.log_flush_interval_ms.unwrap_or(self.log_flush_scheduler_interval_ms)
    }

    /// Whether the default cleanup policy is compaction (0.8.2: `trim.toLowerCase == "compact"`;
    /// any other value means delete).
    pub fn log_cleanup_compact(&self) -> bool {
        self.log_cleanup_policy.trim().eq_ignore_ascii_case("compact")
    }

    /// The default configuration of every log (0.8.2 `KafkaServer.createLogManager`): the
    /// broker's log keys as resolved above. Topic overrides apply on top of it
    /// ([`LogConfig::with_topic_overrides`]). Every config that loads yields one: the
    /// ranges of the keys it reads are checked at load.
    pub fn log_defaults(&self) -> LogConfig {
        // Ranges checked at load make these non-negative; `max(0)` only keeps the
        // conversion total.
        let size = |v: i32| v.max(0) as usize;
        LogConfig {
            segment_bytes: size(self.log_segment_bytes),
            segment_ms: self.log_roll_ms(),
            segment_jitter_ms: self.log_roll_jitter_ms(),
            max_index_size: size(self.log_index_size_max_bytes),
            index_interval_bytes: size(self.log_index_interval_bytes),
            flush_interval_messages: self.log_flush_interval_messages,
            flush_ms: self.log_flush_interval_ms(),
            retention_bytes: self.log_retention_bytes,
            retention_ms: self.log_retention_ms(),
            max_message_size: size(self.message_max_bytes),
            file_delete_delay_ms: self.log_segment_delete_delay_ms,
            delete_retention_ms: self.log_cleaner_delete_retention_ms,
            min_cleanable_ratio: self.log_cleaner_min_cleanable_ratio,
            cleanup_policy: if self.log_cleanup_compact() { CleanupPolicy::Compact } else { CleanupPolicy::Delete },
            unclean_leader_election_enable: self.unclean_leader_election_enable,
            min_insync_replicas: self.min_insync_replicas,
        }
    }

    /// The metrics endpoint's address: `metrics.http.host` when set and not blank, else
    /// [`KafkaConfig::bind_host`].
    pub fn metrics_bind_host(&self) -> Option<&str> {
        self.metrics_http_host.as_deref().filter(|h| !h.trim().is_empty()).or(self.bind_host())
    }

    /// The address to bind: `host.name` when set and not blank, else `None` (every interface).
    pub fn bind_host(&self) -> Option<&str> {
        self.host_name.as_deref().filter(|h| !h.trim().is_empty())
    }

    /// The host registered in `/brokers/ids/<id>`: `advertised.host.name` if the key is
    /// present, else `host.name`; when that is unset or blank, this machine's host name
    /// (0.8.2 used `InetAddress.getLocalHost.getCanonicalHostName`; see [`local_hostname`]).
    pub fn advertised_host(&self) -> String {
        match self.advertised_host_name.as_ref().or(self.host_name.as_ref()) {
            Some(h) if !h.trim().is_empty() => h.trim().to_string(),
            _ => local_hostname(),
        }
    }

    /// The port registered in `/brokers/ids/<id>`: `advertised.port`, else `port`.
    pub fn advertised_port(&self) -> u16 {
        self.advertised_port.unwrap_or(self.port)
    }

    /// `zookeeper.connection.timeout.ms`, else the session timeout.
    pub fn zk_connection_timeout_ms(&self) -> i32 {
        self.zookeeper_connection_timeout_ms.unwrap_or(self.zookeeper_session_timeout_ms)
    }

    /// Per-host connection limits overriding `max.connections.per.ip` (a later entry for the
    /// same host wins). Keys are as written: host names are resolved by the network layer.
    pub fn max_connections_per_ip_overrides(&self) -> HashMap<String, i32> {
        self.max_connections_per_ip_overrides.iter().cloned().collect()
    }

    /// `(key, value)` for every key in [`BROKER_KEYS`], for logging at startup.
    pub fn values(&self) -> Vec<(&'static str, Option<String>)> {
        BROKER_KEYS.iter().map(|k| (*k, self.value(k))).collect()
    }
}

/// Apply `key=value` overrides to `props` (split at the first `=`; the key is trimmed and
/// must not be empty; the value may be empty or contain `=`).
pub fn apply_overrides<S: AsRef<str>>(props: &mut Properties, overrides: &[S]) -> Result<(), ConfigError> {
    for arg in overrides {
        let arg = arg.as_ref();
        let (key, value) = arg.split_once('=').ok_or_else(|| ConfigError::BadOverride { arg: arg.to_string() })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::BadOverride { arg: arg.to_string() });
        }
        props.set(key, value);
    }
    Ok(())
}

/// This machine's host name: `/proc/sys/kernel/hostname`, else `gethostname(2)`, else
/// `localhost`. (0.8.2 registered `getCanonicalHostName()`, a DNS-qualified name; set
/// `advertised.host.name` when clients need one.)
pub fn local_hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            return name.to_string();
        }
    }
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, and gethostname writes at most
    // that many; we read only up to the first NUL (or the whole buffer if it was truncated).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(name) = std::str::from_utf8(&buf[..end]) {
            if !name.is_empty() {
                return name.to_string();
            }
        }
    }
    "localhost".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::parse_properties;

    fn cfg(text: &str) -> Result<KafkaConfig, ConfigError> {
        KafkaConfig::from_properties(&parse_properties(&format!("broker.id=0\nzookeeper.connect=zk:2181\n{}", text)))
    }

    #[test]
    fn connection_overrides_split_at_last_colon() {
        let o = cfg("max.connections.per.ip.overrides=host1:5, 10.0.0.1 : 7,::1:3\n").unwrap();
        assert_eq!(o.max_connections_per_ip_overrides, vec![("host1".into(), 5), ("10.0.0.1".into(), 7), ("::1".into(), 3)]);
        assert_eq!(o.value("max.connections.per.ip.overrides").as_deref(), Some("host1:5,10.0.0.1:7,::1:3"));
        assert!(cfg("max.connections.per.ip.overrides=\n").unwrap().max_connections_per_ip_overrides.is_empty());
        assert!(cfg("max.connections.per.ip.overrides=host1\n").is_err());
        assert!(cfg("max.connections.per.ip.overrides=host1:x\n").is_err());
    }

    #[test]
    fn default_checked_against_range_like_a_value() {
        // 0.8.2 refused to start when message.max.bytes rose above the default
        // replica.fetch.max.bytes (1 MiB) without raising that too.
        let err = cfg("message.max.bytes=2000000\n").unwrap_err().to_string();
        assert!(
            err.contains("replica.fetch.max.bytes") && err.contains("1048576") && err.contains("default"),
            "{}",
            err
        );
        assert!(cfg("message.max.bytes=2000000\nreplica.fetch.max.bytes=2000000\n").is_ok());
    }

    #[test]
    fn no_log_keys_give_the_082_log_defaults() {
        let c = cfg("").unwrap().log_defaults();
        assert_eq!(c, LogConfig::default());
        assert_eq!(c.segment_bytes, 1073741824);
        assert_eq!(c.segment_ms, 168 * 3600 * 1000);
        assert_eq!(c.max_index_size, 10485760);
        assert_eq!(c.index_interval_bytes, 4096);
        assert_eq!(c.flush_interval_messages, i64::MAX);
        assert_eq!(c.flush_ms, i64::MAX);
        assert_eq!(c.retention_ms, 168 * 3600 * 1000);
        assert_eq!(c.retention_bytes, -1);
        assert_eq!(c.max_message_size, 1000012);
        assert_eq!(c.file_delete_delay_ms, 60000);
        assert_eq!(c.cleanup_policy, CleanupPolicy::Delete);
        assert!(c.unclean_leader_election_enable);
        assert_eq!(c.min_insync_replicas, 1);
    }

    #[test]
    fn log_defaults_follow_the_broker_keys_and_their_precedence() {
        let c = cfg(
            "log.segment.bytes=1024\nlog.roll.hours=2\nlog.retention.hours=5\nlog.retention.minutes=7\n\
             log.index.size.max.bytes=4100\nlog.index.interval.bytes=10\nlog.flush.interval.messages=3\n\
             log.flush.scheduler.interval.ms=900\nlog.retention.bytes=5000\nmessage.max.bytes=2000\n\
             log.segment.delete.delay.ms=0\nlog.cleanup.policy=compact\nunclean.leader.election.enable=false\n\
             min.insync.replicas=2\nlog.roll.jitter.hours=1\nlog.cleaner.delete.retention.ms=77\n\
             log.cleaner.min.cleanable.ratio=0.25\n",
        )
        .unwrap()
        .log_defaults();
        assert_eq!(c.segment_bytes, 1024);
        assert_eq!(c.segment_ms, 2 * 3600 * 1000);
        assert_eq!(c.segment_jitter_ms, 3600 * 1000);
        assert_eq!(c.retention_ms, 7 * 60 * 1000, "minutes override hours");
        assert_eq!(c.max_index_size, 4100);
        assert_eq!(c.max_index_size_rounded(), 4096);
        assert_eq!(c.index_interval_bytes, 10);
        assert_eq!(c.flush_interval_messages, 3);
        assert_eq!(c.flush_ms, 900, "flush.interval.ms defaults to the scheduler interval");
        assert_eq!(c.retention_bytes, 5000);
        assert_eq!(c.max_message_size, 2000);
        assert_eq!(c.file_delete_delay_ms, 0);
        assert_eq!(c.delete_retention_ms, 77);
        assert_eq!(c.min_cleanable_ratio, 0.25);
        assert_eq!(c.cleanup_policy, CleanupPolicy::Compact);
        assert!(!c.unclean_leader_election_enable);
        assert_eq!(c.min_insync_replicas, 2);

        let c = cfg("log.roll.hours=2\nlog.roll.ms=500\nlog.retention.minutes=7\nlog.retention.ms=99\nlog.flush.interval.ms=5\n")
            .unwrap()
            .log_defaults();
        assert_eq!(c.segment_ms, 500);
        assert_eq!(c.retention_ms, 99);
        assert_eq!(c.flush_ms, 5);
    }

    #[test]
    fn cleanup_policy_dedupe_loads_and_deletes_as_in_0_8_2() {
        // 0.8.1's docs named the compacting policy "dedupe"; 0.8.2 compacted only for
        // "compact" and deleted for any other value. A broker used to refuse to start here.
        for policy in ["dedupe", "Delete", " shred "] {
            let c = cfg(&format!("log.cleanup.policy={}\n", policy)).unwrap();
            assert_eq!(c.log_defaults().cleanup_policy, CleanupPolicy::Delete, "{}", policy);
            assert_eq!(c.value("log.cleanup.policy").as_deref(), Some(policy.trim()));
        }
        assert_eq!(cfg("log.cleanup.policy= COMPACT\n").unwrap().log_defaults().cleanup_policy, CleanupPolicy::Compact);
    }

    #[test]
    fn bad_log_values_name_the_key() {
        for (text, key) in [
            ("log.segment.bytes=abc\n", "log.segment.bytes"),
            ("log.segment.bytes=13\n", "log.segment.bytes"),
            ("log.roll.hours=0\n", "log.roll.hours"),
            ("log.retention.hours=0\n", "log.retention.hours"),
            ("log.retention.hours=-1\n", "log.retention.hours"),
            ("min.insync.replicas=0\n", "min.insync.replicas"),
            ("log.flush.interval.messages=0\n", "log.flush.interval.messages"),
            ("unclean.leader.election.enable=yes\n", "unclean.leader.election.enable"),
            ("log.index.size.max.bytes=3\n", "log.index.size.max.bytes"),
        ] {
            let err = cfg(text).unwrap_err().to_string();
            assert!(err.contains(key) && !err.contains('\n'), "{} -> {}", text, err);
        }
    }

    /// Edge values of every ranged broker key (its minimum, its maximum, its default): each
    /// file the broker accepts yields log defaults that carry the resolved broker values.
    #[test]
    fn every_accepted_edge_value_yields_log_defaults() {
        let table = cfg("").unwrap().key_table();
        assert_eq!(table.len(), BROKER_KEYS.len());
        let mut tried = 0;
        for key in &table {
            let Some(range) = &key.range else { continue };
            let (lo, hi) = range.trim_matches(['[', ']']).split_once(", ").unwrap();
            let edges: Vec<String> = [lo.to_string(), hi.to_string()].into_iter().chain(key.default.clone()).collect();
            for edge in edges {
                // Keys whose edge needs a companion (fetch size vs message size, cleaner
                // buffer vs threads, fetch wait vs lag time, acks vs replication factor).
                let text = format!(
                    "{}={}\nreplica.fetch.max.bytes=2147483647\nreplica.lag.time.max.ms=9223372036854775807\n\
                     offsets.topic.replication.factor=32767\nlog.cleaner.dedupe.buffer.size=9223372036854775807\n",
                    key.name, edge
                );
                let text = text.replacen(&format!("\n{}=", key.name), "\nignored.dup=", 1);
                let Ok(c) = cfg(&text) else { continue };
                tried += 1;
                let l = c.log_defaults();
                assert_eq!(l.segment_bytes as i64, c.log_segment_bytes as i64, "{}={}", key.name, edge);
                assert_eq!(l.segment_ms, c.log_roll_ms());
                assert_eq!(l.segment_jitter_ms, c.log_roll_jitter_ms());
                assert_eq!(l.max_index_size as i64, c.log_index_size_max_bytes as i64);
                assert_eq!(l.index_interval_bytes as i64, c.log_index_interval_bytes as i64);
                assert_eq!(l.flush_interval_messages, c.log_flush_interval_messages);
                assert_eq!(l.flush_ms, c.log_flush_interval_ms());
                assert_eq!(l.retention_bytes, c.log_retention_bytes);
                assert_eq!(l.retention_ms, c.log_retention_ms());
                assert_eq!(l.max_message_size as i64, c.message_max_bytes as i64);
                assert_eq!(l.file_delete_delay_ms, c.log_segment_delete_delay_ms);
                assert_eq!(l.delete_retention_ms, c.log_cleaner_delete_retention_ms);
                assert_eq!(l.min_insync_replicas, c.min_insync_replicas);
                assert!(l.segment_bytes >= MIN_MESSAGE_SIZE && l.segment_ms > 0 && l.retention_ms > 0);
                // What the log layer needs of the defaults holds at every edge.
                assert!(l.segment_jitter_ms >= 0 && l.flush_interval_messages >= 1 && l.file_delete_delay_ms >= 0);
            }
        }
        assert!(tried > 100, "only {} edge files loaded", tried);
    }

    #[test]
    fn local_hostname_is_never_empty() {
        assert!(!local_hostname().is_empty());
    }
}
