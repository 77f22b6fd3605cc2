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
//! These are the broker-wide raw values. `log` builds per-log settings from them and from
//! topic overrides (zookeeper-layout §6.3); nothing here knows about logs.
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

use crate::common::{Properties, PropertiesError};
use crate::message::{CompressionCodec, LOG_OVERHEAD, MIN_MESSAGE_SIZE};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Every key `KafkaConfig` and `ZKConfig` read in 0.8.2, in the order of 0.8.2's source.
/// A key outside this list (and outside [`METRICS_REPORTER_KEYS`]) is only a warning.
pub const BROKER_KEYS: &[&str] = &[
    // ZKConfig
    "zookeeper.connect",
    "zookeeper.session.timeout.ms",
    "zookeeper.connection.timeout.ms",
    "zookeeper.sync.time.ms",
    // General
    "broker.id",
    "message.max.bytes",
    "num.network.threads",
    "num.io.threads",
    "background.threads",
    "queued.max.requests",
    // Socket server
    "port",
    "host.name",
    "advertised.host.name",
    "advertised.port",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "socket.request.max.bytes",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "connections.max.idle.ms",
    // Log
    "num.partitions",
    "log.dirs",
    "log.dir",
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.hours",
    "log.roll.jitter.ms",
    "log.roll.jitter.hours",
    "log.retention.ms",
    "log.retention.minutes",
    "log.retention.hours",
    "log.retention.bytes",
    "log.retention.check.interval.ms",
    "log.cleanup.policy",
    "log.cleaner.threads",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.backoff.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.enable",
    "log.cleaner.delete.retention.ms",
    "log.index.size.max.bytes",
    "log.index.interval.bytes",
    "log.flush.interval.messages",
    "log.segment.delete.delay.ms",
    "log.flush.scheduler.interval.ms",
    "log.flush.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "num.recovery.threads.per.data.dir",
    "auto.create.topics.enable",
    "min.insync.replicas",
    // Replication
    "controller.socket.timeout.ms",
    "controller.message.queue.size",
    "default.replication.factor",
    "replica.lag.time.max.ms",
    "replica.lag.max.messages",
    "replica.socket.timeout.ms",
    "replica.socket.receive.buffer.bytes",
    "replica.fetch.max.bytes",
    "replica.fetch.wait.max.ms",
    "replica.fetch.min.bytes",
    "num.replica.fetchers",
    // Not in 0.8.2 (0.9 added it); accepted so 0.8-era runbooks that set it keep working.
    "replica.fetch.backoff.ms",
    "replica.high.watermark.checkpoint.interval.ms",
    "fetch.purgatory.purge.interval.requests",
    "producer.purgatory.purge.interval.requests",
    "auto.leader.rebalance.enable",
    "leader.imbalance.per.broker.percentage",
    "leader.imbalance.check.interval.seconds",
    "unclean.leader.election.enable",
    // Controlled shutdown
    "controlled.shutdown.max.retries",
    "controlled.shutdown.retry.backoff.ms",
    "controlled.shutdown.enable",
    // Offset management
    "offset.metadata.max.bytes",
    "offsets.load.buffer.size",
    "offsets.topic.replication.factor",
    "offsets.topic.num.partitions",
    "offsets.topic.segment.bytes",
    "offsets.topic.compression.codec",
    "offsets.retention.minutes",
    "offsets.retention.check.interval.ms",
    "offsets.commit.timeout.ms",
    "offsets.commit.required.acks",
    "delete.topic.enable",
    // kafka08's own: the Prometheus metrics endpoint (0.8.2 had JMX instead).
    "metrics.http.port",
    "metrics.http.host",
];

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

const INT: (i32, i32) = (i32::MIN, i32::MAX);
const POSITIVE: (i32, i32) = (1, i32::MAX);
const NON_NEGATIVE: (i32, i32) = (0, i32::MAX);
const LONG: (i64, i64) = (i64::MIN, i64::MAX);
const TCP_PORT: (i32, i32) = (0, 65535);
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

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), value: value.to_string(), reason: reason.into() }
}

/// The broker's configuration. See the module doc for the naming scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    // ZooKeeper (0.8.2 ZKConfig)
    /// `host:port[,host:port...][/chroot]`. Required.
    pub zookeeper_connect: String,
    pub zookeeper_session_timeout_ms: i32,
    /// Unset means the session timeout: see [`KafkaConfig::zk_connection_timeout_ms`].
    pub zookeeper_connection_timeout_ms: Option<i32>,
    pub zookeeper_sync_time_ms: i32,

    // General
    /// Required, >= 0.
    pub broker_id: i32,
    /// 1000000 + the 12-byte log overhead in 0.8.2's source (its docs say 1000000).
    pub message_max_bytes: i32,
    pub num_network_threads: i32,
    pub num_io_threads: i32,
    pub background_threads: i32,
    /// Requests queued between the network and the handlers before the network blocks.
    pub queued_max_requests: i32,

    // Socket server
    pub port: u16,
    /// Bind address; unset or blank binds every interface.
    pub host_name: Option<String>,
    /// See [`KafkaConfig::advertised_host`].
    pub advertised_host_name: Option<String>,
    /// Unset means `port`: see [`KafkaConfig::advertised_port`].
    pub advertised_port: Option<u16>,
    pub socket_send_buffer_bytes: i32,
    pub socket_receive_buffer_bytes: i32,
    pub socket_request_max_bytes: i32,
    pub max_connections_per_ip: i32,
    /// `host:count` entries in file order; see [`KafkaConfig::max_connections_per_ip_overrides`].
    pub max_connections_per_ip_overrides: Vec<(String, i32)>,
    pub connections_max_idle_ms: i64,

    // Log
    pub num_partitions: i32,
    /// Comma-separated directories; when unset `log.dir` is used. See [`KafkaConfig::log_dirs`].
    pub log_dirs: Option<String>,
    pub log_dir: String,
    pub log_segment_bytes: i32,
    /// Wins over `log.roll.hours`; see [`KafkaConfig::log_roll_ms`].
    pub log_roll_ms: Option<i32>,
    pub log_roll_hours: i32,
    /// Wins over `log.roll.jitter.hours`; see [`KafkaConfig::log_roll_jitter_ms`].
    pub log_roll_jitter_ms: Option<i32>,
    pub log_roll_jitter_hours: i32,
    /// ms > minutes > hours; see [`KafkaConfig::log_retention_ms`]. An Int in 0.8.2, so at
    /// most ~24.8 days when given in ms.
    pub log_retention_ms: Option<i32>,
    pub log_retention_minutes: Option<i32>,
    pub log_retention_hours: i32,
    pub log_retention_bytes: i64,
    pub log_retention_check_interval_ms: i64,
    /// As written; 0.8.2 compacts when it is `compact` (trimmed, any case) and deletes
    /// otherwise. See [`KafkaConfig::log_cleanup_compact`].
    pub log_cleanup_policy: String,
    pub log_cleaner_threads: i32,
    pub log_cleaner_io_max_bytes_per_second: f64,
    pub log_cleaner_dedupe_buffer_size: i64,
    pub log_cleaner_io_buffer_size: i32,
    pub log_cleaner_io_buffer_load_factor: f64,
    pub log_cleaner_backoff_ms: i64,
    pub log_cleaner_min_cleanable_ratio: f64,
    pub log_cleaner_enable: bool,
    pub log_cleaner_delete_retention_ms: i64,
    pub log_index_size_max_bytes: i32,
    pub log_index_interval_bytes: i32,
    pub log_flush_interval_messages: i64,
    pub log_segment_delete_delay_ms: i64,
    pub log_flush_scheduler_interval_ms: i64,
    /// Unset means `log.flush.scheduler.interval.ms`; see [`KafkaConfig::log_flush_interval_ms`].
    pub log_flush_interval_ms: Option<i64>,
    pub log_flush_offset_checkpoint_interval_ms: i32,
    pub num_recovery_threads_per_data_dir: i32,
    pub auto_create_topics_enable: bool,
    /// Parsed but, as in 0.8.2, not a log default (KAFKA-2114); the topic override is.
    pub min_insync_replicas: i32,

    // Replication
    pub controller_socket_timeout_ms: i32,
    pub controller_message_queue_size: i32,
    pub default_replication_factor: i32,
    pub replica_lag_time_max_ms: i64,
    pub replica_lag_max_messages: i64,
    pub replica_socket_timeout_ms: i32,
    pub replica_socket_receive_buffer_bytes: i32,
    pub replica_fetch_max_bytes: i32,
    pub replica_fetch_wait_max_ms: i32,
    pub replica_fetch_min_bytes: i32,
    pub num_replica_fetchers: i32,
    /// Pause after a failed replica fetch (0.9's key; 0.8.2 backed off by
    /// `replica.fetch.wait.max.ms`).
    pub replica_fetch_backoff_ms: i32,
    pub replica_high_watermark_checkpoint_interval_ms: i64,
    pub fetch_purgatory_purge_interval_requests: i32,
    pub producer_purgatory_purge_interval_requests: i32,
    pub auto_leader_rebalance_enable: bool,
    pub leader_imbalance_per_broker_percentage: i32,
    pub leader_imbalance_check_interval_seconds: i32,
    pub unclean_leader_election_enable: bool,

    // Controlled shutdown
    pub controlled_shutdown_max_retries: i32,
    pub controlled_shutdown_retry_backoff_ms: i32,
    pub controlled_shutdown_enable: bool,

    // Offset management
    pub offset_metadata_max_bytes: i32,
    pub offsets_load_buffer_size: i32,
    pub offsets_topic_replication_factor: i16,
    pub offsets_topic_num_partitions: i32,
    pub offsets_topic_segment_bytes: i32,
    pub offsets_topic_compression_codec: CompressionCodec,
    pub offsets_retention_minutes: i32,
    pub offsets_retention_check_interval_ms: i64,
    pub offsets_commit_timeout_ms: i32,
    pub offsets_commit_required_acks: i16,
    pub delete_topic_enable: bool,

    // Metrics (kafka08's own)
    /// Port of the Prometheus endpoint; 0 (the default) turns it off.
    pub metrics_http_port: u16,
    /// Bind address of the endpoint; unset means `host.name`. See [`KafkaConfig::metrics_bind_host`].
    pub metrics_http_host: Option<String>,

    /// The properties this was built from (0.8.2's `config.props`): the controller
    /// overlays topic configs on them (`unclean.leader.election.enable`).
    pub props: Properties,
}

/// Reads typed values the way 0.8.2's `VerifiableProperties` did: values trimmed, a
/// default (when there is one) checked against the range like a given value.
struct Reader<'a>(&'a Properties);

impl<'a> Reader<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).map(str::trim)
    }

    fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }

    fn ranged<T>(&self, key: &str, default: Option<T>, range: (T, T), what: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        let (value, text, defaulted) = match self.get(key) {
            Some(raw) => {
                let v = raw.parse::<T>().map_err(|_| invalid(key, raw, format!("expected {}", what)))?;
                (v, raw.to_string(), false)
            }
            None => match default {
                Some(d) => (d, d.to_string(), true),
                None => return Ok(None),
            },
        };
        if value < range.0 || value > range.1 {
            let mut reason = format!("not in the range [{}, {}]", range.0, range.1);
            if defaulted {
                reason.push_str(" (this is the default; the key is not set)");
            }
            return Err(invalid(key, &text, reason));
        }
        Ok(Some(value))
    }

    fn int(&self, key: &str, default: i32, range: (i32, i32)) -> Result<i32, ConfigError> {
        Ok(self.ranged(key, Some(default), range, "a 32-bit integer")?.unwrap_or(default))
    }

    fn int_opt(&self, key: &str, range: (i32, i32)) -> Result<Option<i32>, ConfigError> {
        self.ranged(key, None, range, "a 32-bit integer")
    }

    fn long(&self, key: &str, default: i64, range: (i64, i64)) -> Result<i64, ConfigError> {
        Ok(self.ranged(key, Some(default), range, "a 64-bit integer")?.unwrap_or(default))
    }

    fn short(&self, key: &str, default: i16, range: (i16, i16)) -> Result<i16, ConfigError> {
        Ok(self.ranged(key, Some(default), range, "a 16-bit integer")?.unwrap_or(default))
    }

    fn double(&self, key: &str, default: f64) -> Result<f64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => parse_java_double(raw).ok_or_else(|| invalid(key, raw, "expected a number")),
        }
    }

    fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid(key, raw, "expected true or false")),
            },
        }
    }
}

/// `Double.parseDouble` also takes a trailing `d`/`f` type suffix (`0.9d`).
fn parse_java_double(s: &str) -> Option<f64> {
    let s = s.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(s);
    s.parse::<f64>().ok()
}

/// `Double.toString`, for [`KafkaConfig::value`]: `0.5`, `1.0E7`, `1.7976931348623157E308`.
fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        let s = format!("{:e}", v);
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{}.0", mantissa) };
        return format!("{}E{}", mantissa, exp);
    }
    let s = v.to_string();
    if s.contains('.') {
        s
    } else {
        format!("{}.0", s)
    }
}

/// 0.8.2's `Utils.parseCsvList`: split on commas (spaces around them dropped), empty
/// entries skipped.
fn parse_csv_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
}

/// `max.connections.per.ip.overrides`: `host:count,host:count`. The host is everything
/// before the last colon, so IPv6 addresses work (later Kafkas split there too; 0.8.2
/// split at the first colon, which is the same for host names and IPv4).
fn parse_connection_overrides(key: &str, raw: &str) -> Result<Vec<(String, i32)>, ConfigError> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (host, count) =
            entry.rsplit_once(':').ok_or_else(|| invalid(key, raw, format!("entry {:?} is not host:count", entry)))?;
        let count = count
            .trim()
            .parse::<i32>()
            .map_err(|_| invalid(key, raw, format!("count in entry {:?} is not a 32-bit integer", entry)))?;
        out.push((host.trim().to_string(), count));
    }
    Ok(out)
}

impl KafkaConfig {
    /// Build from parsed properties. Errors name the key and the value; unknown keys are
    /// not errors (see [`KafkaConfig::unknown_keys`]).
    pub fn from_properties(props: &Properties) -> Result<KafkaConfig, ConfigError> {
        let r = Reader(props);

        // ZKConfig
        let zookeeper_connect =
            r.string("zookeeper.connect").ok_or_else(|| ConfigError::Missing { key: "zookeeper.connect".into() })?;
        if zookeeper_connect.is_empty() {
            return Err(invalid("zookeeper.connect", "", "must name at least one host:port"));
        }
        let zookeeper_session_timeout_ms = r.int("zookeeper.session.timeout.ms", 6000, INT)?;
        let zookeeper_connection_timeout_ms = r.int_opt("zookeeper.connection.timeout.ms", INT)?;
        let zookeeper_sync_time_ms = r.int("zookeeper.sync.time.ms", 2000, INT)?;

        // General
        if r.get("broker.id").is_none() {
            return Err(ConfigError::Missing { key: "broker.id".into() });
        }
        let broker_id = r.int("broker.id", 0, NON_NEGATIVE)?;
        let message_max_bytes = r.int("message.max.bytes", 1_000_000 + LOG_OVERHEAD as i32, NON_NEGATIVE)?;
        let num_network_threads = r.int("num.network.threads", 3, POSITIVE)?;
        let num_io_threads = r.int("num.io.threads", 8, POSITIVE)?;
        let background_threads = r.int("background.threads", 10, POSITIVE)?;
        let queued_max_requests = r.int("queued.max.requests", 500, POSITIVE)?;

        // Socket server
        let port = r.int("port", 9092, TCP_PORT)? as u16;
        let host_name = r.string("host.name");
        // 0.8.2: `getString("advertised.host.name", hostName)`.
        let advertised_host_name = r.string("advertised.host.name");
        let advertised_port = r.int_opt("advertised.port", TCP_PORT)?.map(|p| p as u16);
        let socket_send_buffer_bytes = r.int("socket.send.buffer.bytes", 100 * 1024, INT)?;
        let socket_receive_buffer_bytes = r.int("socket.receive.buffer.bytes", 100 * 1024, INT)?;
        let socket_request_max_bytes = r.int("socket.request.max.bytes", 100 * 1024 * 1024, POSITIVE)?;
        let max_connections_per_ip = r.int("max.connections.per.ip", i32::MAX, POSITIVE)?;
        let max_connections_per_ip_overrides = match r.get("max.connections.per.ip.overrides") {
            Some(raw) => parse_connection_overrides("max.connections.per.ip.overrides", raw)?,
            None => Vec::new(),
        };
        let connections_max_idle_ms = r.long("connections.max.idle.ms", 10 * 60 * 1000, LONG)?;

        // Log
        let num_partitions = r.int("num.partitions", 1, POSITIVE)?;
        let log_dirs = r.string("log.dirs");
        let log_dir = r.string("log.dir").unwrap_or_else(|| DEFAULT_LOG_DIR.to_string());
        // 0.8.2: `require(logDirs.size > 0)`.
        match &log_dirs {
            Some(dirs) if parse_csv_list(dirs).is_empty() => {
                return Err(invalid("log.dirs", dirs, "names no directory"));
            }
            None if parse_csv_list(&log_dir).is_empty() => {
                return Err(invalid("log.dir", &log_dir, "names no directory"));
            }
            _ => {}
        }
        let log_segment_bytes = r.int("log.segment.bytes", 1024 * 1024 * 1024, (MIN_MESSAGE_SIZE as i32, i32::MAX))?;
        // The precise key shadows the coarse one, which 0.8.2 then never read (a bad value
        // there did not stop it), so neither do we; its field keeps the default.
        let log_roll_ms = r.int_opt("log.roll.ms", POSITIVE)?;
        let log_roll_hours = match log_roll_ms {
            Some(_) => 24 * 7,
            None => r.int("log.roll.hours", 24 * 7, POSITIVE)?,
        };
        let log_roll_jitter_ms = r.int_opt("log.roll.jitter.ms", NON_NEGATIVE)?;
        let log_roll_jitter_hours = match log_roll_jitter_ms {
            Some(_) => 0,
            None => r.int("log.roll.jitter.hours", 0, NON_NEGATIVE)?,
        };
        let log_retention_ms = r.int_opt("log.retention.ms", POSITIVE)?;
        let log_retention_minutes = match log_retention_ms {
            Some(_) => None,
            None => r.int_opt("log.retention.minutes", POSITIVE)?,
        };
        let log_retention_hours = match (log_retention_ms, log_retention_minutes) {
            (None, None) => r.int("log.retention.hours", 24 * 7, POSITIVE)?,
            _ => 24 * 7,
        };
        let log_retention_bytes = r.long("log.retention.bytes", -1, LONG)?;
        let log_retention_check_interval_ms =
            r.long("log.retention.check.interval.ms", 5 * 60 * 1000, (1, i64::MAX))?;
        let log_cleanup_policy = r.string("log.cleanup.policy").unwrap_or_else(|| "delete".to_string());
        let log_cleaner_threads = r.int("log.cleaner.threads", 1, NON_NEGATIVE)?;
        let log_cleaner_io_max_bytes_per_second = r.double("log.cleaner.io.max.bytes.per.second", f64::MAX)?;
        let log_cleaner_dedupe_buffer_size =
            r.long("log.cleaner.dedupe.buffer.size", 500 * 1024 * 1024, (0, i64::MAX))?;
        if log_cleaner_threads == 0 {
            return Err(invalid(
                "log.cleaner.threads",
                "0",
                "must be at least 1 (0.8.2 divides log.cleaner.dedupe.buffer.size by it at startup)",
            ));
        }
        // 0.8.2 checks this even with the cleaner disabled.
        if log_cleaner_dedupe_buffer_size / log_cleaner_threads as i64 <= 1024 * 1024 {
            return Err(invalid(
                "log.cleaner.dedupe.buffer.size",
                &log_cleaner_dedupe_buffer_size.to_string(),
                format!("must be more than 1MB per cleaner thread (log.cleaner.threads={})", log_cleaner_threads),
            ));
        }
        let log_cleaner_io_buffer_size = r.int("log.cleaner.io.buffer.size", 512 * 1024, NON_NEGATIVE)?;
        let log_cleaner_io_buffer_load_factor = r.double("log.cleaner.io.buffer.load.factor", 0.9)?;
        let log_cleaner_backoff_ms = r.long("log.cleaner.backoff.ms", 15 * 1000, (0, i64::MAX))?;
        let log_cleaner_min_cleanable_ratio = r.double("log.cleaner.min.cleanable.ratio", 0.5)?;
        let log_cleaner_enable = r.boolean("log.cleaner.enable", false)?;
        let log_cleaner_delete_retention_ms = r.long("log.cleaner.delete.retention.ms", 24 * MS_PER_HOUR, LONG)?;
        let log_index_size_max_bytes = r.int("log.index.size.max.bytes", 10 * 1024 * 1024, (4, i32::MAX))?;
        let log_index_interval_bytes = r.int("log.index.interval.bytes", 4096, NON_NEGATIVE)?;
        let log_flush_interval_messages = r.long("log.flush.interval.messages", i64::MAX, (1, i64::MAX))?;
        let log_segment_delete_delay_ms = r.long("log.segment.delete.delay.ms", 60000, (0, i64::MAX))?;
        let log_flush_scheduler_interval_ms = r.long("log.flush.scheduler.interval.ms", i64::MAX, LONG)?;
        let log_flush_interval_ms = r.ranged("log.flush.interval.ms", None, LONG, "a 64-bit integer")?;
        let log_flush_offset_checkpoint_interval_ms =
            r.int("log.flush.offset.checkpoint.interval.ms", 60000, NON_NEGATIVE)?;
        let num_recovery_threads_per_data_dir = r.int("num.recovery.threads.per.data.dir", 1, POSITIVE)?;
        let auto_create_topics_enable = r.boolean("auto.create.topics.enable", true)?;
        let min_insync_replicas = r.int("min.insync.replicas", 1, POSITIVE)?;

        // Replication
        let controller_socket_timeout_ms = r.int("controller.socket.timeout.ms", 30000, INT)?;
        let controller_message_queue_size = r.int("controller.message.queue.size", i32::MAX, INT)?;
        let default_replication_factor = r.int("default.replication.factor", 1, INT)?;
        let replica_lag_time_max_ms = r.long("replica.lag.time.max.ms", 10000, LONG)?;
        let replica_lag_max_messages = r.long("replica.lag.max.messages", 4000, LONG)?;
        let replica_socket_timeout_ms = r.int("replica.socket.timeout.ms", 30 * 1000, INT)?;
        // 0.8.2 meant `replica.fetch.wait.max.ms <= replica.socket.timeout.ms`, but its check
        // ran before replicaFetchWaitMaxMs was initialised (so it read 0): in effect it only
        // refused a negative socket timeout. Keep that, so every file 0.8.2 took still loads.
        if replica_socket_timeout_ms < 0 {
            return Err(invalid(
                "replica.socket.timeout.ms",
                &replica_socket_timeout_ms.to_string(),
                "must not be negative",
            ));
        }
        let replica_socket_receive_buffer_bytes = r.int("replica.socket.receive.buffer.bytes", 64 * 1024, INT)?;
        // A follower must be able to fetch the largest message the leader accepts.
        let replica_fetch_max_bytes = r.int("replica.fetch.max.bytes", 1024 * 1024, (message_max_bytes, i32::MAX))?;
        let replica_fetch_wait_max_ms = r.int("replica.fetch.wait.max.ms", 500, INT)?;
        if replica_fetch_wait_max_ms as i64 > replica_lag_time_max_ms {
            return Err(invalid(
                "replica.fetch.wait.max.ms",
                &replica_fetch_wait_max_ms.to_string(),
                format!(
                    "must not exceed replica.lag.time.max.ms ({}), or the ISR shrinks on every idle fetch",
                    replica_lag_time_max_ms
                ),
            ));
        }
        let replica_fetch_min_bytes = r.int("replica.fetch.min.bytes", 1, INT)?;
        let num_replica_fetchers = r.int("num.replica.fetchers", 1, POSITIVE)?;
        let replica_fetch_backoff_ms = r.int("replica.fetch.backoff.ms", 1000, NON_NEGATIVE)?;
        let metrics_http_port = r.int("metrics.http.port", 0, TCP_PORT)? as u16;
        let metrics_http_host = r.string("metrics.http.host");
        let replica_high_watermark_checkpoint_interval_ms =
            r.long("replica.high.watermark.checkpoint.interval.ms", 5000, LONG)?;
        let fetch_purgatory_purge_interval_requests = r.int("fetch.purgatory.purge.interval.requests", 1000, INT)?;
        let producer_purgatory_purge_interval_requests =
            r.int("producer.purgatory.purge.interval.requests", 1000, INT)?;
        let auto_leader_rebalance_enable = r.boolean("auto.leader.rebalance.enable", true)?;
        let leader_imbalance_per_broker_percentage = r.int("leader.imbalance.per.broker.percentage", 10, INT)?;
        let leader_imbalance_check_interval_seconds = r.int("leader.imbalance.check.interval.seconds", 300, INT)?;
        let unclean_leader_election_enable = r.boolean("unclean.leader.election.enable", true)?;

        // Controlled shutdown
        let controlled_shutdown_max_retries = r.int("controlled.shutdown.max.retries", 3, INT)?;
        let controlled_shutdown_retry_backoff_ms = r.int("controlled.shutdown.retry.backoff.ms", 5000, INT)?;
        let controlled_shutdown_enable = r.boolean("controlled.shutdown.enable", true)?;

        // Offset management (0.8.2 OffsetManagerConfig defaults)
        let offset_metadata_max_bytes = r.int("offset.metadata.max.bytes", 4096, INT)?;
        let offsets_load_buffer_size = r.int("offsets.load.buffer.size", 5 * 1024 * 1024, POSITIVE)?;
        let offsets_topic_replication_factor = r.short("offsets.topic.replication.factor", 3, (1, i16::MAX))?;
        let offsets_topic_num_partitions = r.int("offsets.topic.num.partitions", 50, POSITIVE)?;
        let offsets_topic_segment_bytes = r.int("offsets.topic.segment.bytes", 100 * 1024 * 1024, POSITIVE)?;
        let offsets_topic_compression_codec = match r.get("offsets.topic.compression.codec") {
            None => CompressionCodec::None,
            Some(raw) => CompressionCodec::parse(raw).ok_or_else(|| {
                invalid("offsets.topic.compression.codec", raw, "expected none, gzip, snappy, lz4 or their ids 0-3")
            })?,
        };
        let offsets_retention_minutes = r.int("offsets.retention.minutes", 24 * 60, POSITIVE)?;
        let offsets_retention_check_interval_ms =
            r.long("offsets.retention.check.interval.ms", 600000, (1, i64::MAX))?;
        let offsets_commit_timeout_ms = r.int("offsets.commit.timeout.ms", 5000, POSITIVE)?;
        let offsets_commit_required_acks =
            r.short("offsets.commit.required.acks", -1, (-1, offsets_topic_replication_factor))?;
        let delete_topic_enable = r.boolean("delete.topic.enable", false)?;

        Ok(KafkaConfig {
            zookeeper_connect,
            zookeeper_session_timeout_ms,
            zookeeper_connection_timeout_ms,
            zookeeper_sync_time_ms,
            broker_id,
            message_max_bytes,
            num_network_threads,
            num_io_threads,
            background_threads,
            queued_max_requests,
            port,
            host_name,
            advertised_host_name,
            advertised_port,
            socket_send_buffer_bytes,
            socket_receive_buffer_bytes,
            socket_request_max_bytes,
            max_connections_per_ip,
            max_connections_per_ip_overrides,
            connections_max_idle_ms,
            num_partitions,
            log_dirs,
            log_dir,
            log_segment_bytes,
            log_roll_ms,
            log_roll_hours,
            log_roll_jitter_ms,
            log_roll_jitter_hours,
            log_retention_ms,
            log_retention_minutes,
            log_retention_hours,
            log_retention_bytes,
            log_retention_check_interval_ms,
            log_cleanup_policy,
            log_cleaner_threads,
            log_cleaner_io_max_bytes_per_second,
            log_cleaner_dedupe_buffer_size,
            log_cleaner_io_buffer_size,
            log_cleaner_io_buffer_load_factor,
            log_cleaner_backoff_ms,
            log_cleaner_min_cleanable_ratio,
            log_cleaner_enable,
            log_cleaner_delete_retention_ms,
            log_index_size_max_bytes,
            log_index_interval_bytes,
            log_flush_interval_messages,
            log_segment_delete_delay_ms,
            log_flush_scheduler_interval_ms,
            log_flush_interval_ms,
            log_flush_offset_checkpoint_interval_ms,
            num_recovery_threads_per_data_dir,
            auto_create_topics_enable,
            min_insync_replicas,
            controller_socket_timeout_ms,
            controller_message_queue_size,
            default_replication_factor,
            replica_lag_time_max_ms,
            replica_lag_max_messages,
            replica_socket_timeout_ms,
            replica_socket_receive_buffer_bytes,
            replica_fetch_max_bytes,
            replica_fetch_wait_max_ms,
            replica_fetch_min_bytes,
            num_replica_fetchers,
            replica_fetch_backoff_ms,
            metrics_http_port,
            metrics_http_host,
            replica_high_watermark_checkpoint_interval_ms,
            fetch_purgatory_purge_interval_requests,
            producer_purgatory_purge_interval_requests,
            auto_leader_rebalance_enable,
            leader_imbalance_per_broker_percentage,
            leader_imbalance_check_interval_seconds,
            unclean_leader_election_enable,
            controlled_shutdown_max_retries,
            controlled_shutdown_retry_backoff_ms,
            controlled_shutdown_enable,
            offset_metadata_max_bytes,
            offsets_load_buffer_size,
            offsets_topic_replication_factor,
            offsets_topic_num_partitions,
            offsets_topic_segment_bytes,
            offsets_topic_compression_codec,
            offsets_retention_minutes,
            offsets_retention_check_interval_ms,
            offsets_commit_timeout_ms,
            offsets_commit_required_acks,
            delete_topic_enable,
            props: props.clone(),
        })
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

    /// The value the broker uses for `key`, rendered as it would be written in the file
    /// (booleans `true`/`false`, doubles as Java prints them, codecs by name). `None` for a
    /// key that is unset and has no default of its own (`host.name`, `log.retention.ms`,
    /// ...) and for keys outside [`BROKER_KEYS`]. Keys whose default is another key's value
    /// (`advertised.port`, `log.flush.interval.ms`, `zookeeper.connection.timeout.ms`,
    /// `log.dirs`) render the resolved value.
    pub fn value(&self, key: &str) -> Option<String> {
        fn s<T: ToString>(v: T) -> Option<String> {
            Some(v.to_string())
        }
        match key {
            "zookeeper.connect" => s(&self.zookeeper_connect),
            "zookeeper.session.timeout.ms" => s(self.zookeeper_session_timeout_ms),
            "zookeeper.connection.timeout.ms" => s(self.zk_connection_timeout_ms()),
            "zookeeper.sync.time.ms" => s(self.zookeeper_sync_time_ms),
            "broker.id" => s(self.broker_id),
            "message.max.bytes" => s(self.message_max_bytes),
            "num.network.threads" => s(self.num_network_threads),
            "num.io.threads" => s(self.num_io_threads),
            "background.threads" => s(self.background_threads),
            "queued.max.requests" => s(self.queued_max_requests),
            "port" => s(self.port),
            "host.name" => self.host_name.clone(),
            "advertised.host.name" => self.advertised_host_name.clone().or_else(|| self.host_name.clone()),
            "advertised.port" => s(self.advertised_port()),
            "socket.send.buffer.bytes" => s(self.socket_send_buffer_bytes),
            "socket.receive.buffer.bytes" => s(self.socket_receive_buffer_bytes),
            "socket.request.max.bytes" => s(self.socket_request_max_bytes),
            "max.connections.per.ip" => s(self.max_connections_per_ip),
            "max.connections.per.ip.overrides" => Some(
                self.max_connections_per_ip_overrides
                    .iter()
                    .map(|(h, n)| format!("{}:{}", h, n))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            "connections.max.idle.ms" => s(self.connections_max_idle_ms),
            "num.partitions" => s(self.num_partitions),
            "log.dirs" => Some(self.log_dirs().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",")),
            "log.dir" => s(&self.log_dir),
            "log.segment.bytes" => s(self.log_segment_bytes),
            "log.roll.ms" => self.log_roll_ms.map(|v| v.to_string()),
            "log.roll.hours" => s(self.log_roll_hours),
            "log.roll.jitter.ms" => self.log_roll_jitter_ms.map(|v| v.to_string()),
            "log.roll.jitter.hours" => s(self.log_roll_jitter_hours),
            "log.retention.ms" => self.log_retention_ms.map(|v| v.to_string()),
            "log.retention.minutes" => self.log_retention_minutes.map(|v| v.to_string()),
            "log.retention.hours" => s(self.log_retention_hours),
            "log.retention.bytes" => s(self.log_retention_bytes),
            "log.retention.check.interval.ms" => s(self.log_retention_check_interval_ms),
            "log.cleanup.policy" => s(&self.log_cleanup_policy),
            "log.cleaner.threads" => s(self.log_cleaner_threads),
            "log.cleaner.io.max.bytes.per.second" => Some(java_double(self.log_cleaner_io_max_bytes_per_second)),
            "log.cleaner.dedupe.buffer.size" => s(self.log_cleaner_dedupe_buffer_size),
            "log.cleaner.io.buffer.size" => s(self.log_cleaner_io_buffer_size),
            "log.cleaner.io.buffer.load.factor" => Some(java_double(self.log_cleaner_io_buffer_load_factor)),
            "log.cleaner.backoff.ms" => s(self.log_cleaner_backoff_ms),
            "log.cleaner.min.cleanable.ratio" => Some(java_double(self.log_cleaner_min_cleanable_ratio)),
            "log.cleaner.enable" => s(self.log_cleaner_enable),
            "log.cleaner.delete.retention.ms" => s(self.log_cleaner_delete_retention_ms),
            "log.index.size.max.bytes" => s(self.log_index_size_max_bytes),
            "log.index.interval.bytes" => s(self.log_index_interval_bytes),
            "log.flush.interval.messages" => s(self.log_flush_interval_messages),
            "log.segment.delete.delay.ms" => s(self.log_segment_delete_delay_ms),
            "log.flush.scheduler.interval.ms" => s(self.log_flush_scheduler_interval_ms),
            "log.flush.interval.ms" => s(self.log_flush_interval_ms()),
            "log.flush.offset.checkpoint.interval.ms" => s(self.log_flush_offset_checkpoint_interval_ms),
            "num.recovery.threads.per.data.dir" => s(self.num_recovery_threads_per_data_dir),
            "auto.create.topics.enable" => s(self.auto_create_topics_enable),
            "min.insync.replicas" => s(self.min_insync_replicas),
            "controller.socket.timeout.ms" => s(self.controller_socket_timeout_ms),
            "controller.message.queue.size" => s(self.controller_message_queue_size),
            "default.replication.factor" => s(self.default_replication_factor),
            "replica.lag.time.max.ms" => s(self.replica_lag_time_max_ms),
            "replica.lag.max.messages" => s(self.replica_lag_max_messages),
            "replica.socket.timeout.ms" => s(self.replica_socket_timeout_ms),
            "replica.socket.receive.buffer.bytes" => s(self.replica_socket_receive_buffer_bytes),
            "replica.fetch.max.bytes" => s(self.replica_fetch_max_bytes),
            "replica.fetch.wait.max.ms" => s(self.replica_fetch_wait_max_ms),
            "replica.fetch.min.bytes" => s(self.replica_fetch_min_bytes),
            "num.replica.fetchers" => s(self.num_replica_fetchers),
            "replica.fetch.backoff.ms" => s(self.replica_fetch_backoff_ms),
            "metrics.http.port" => s(self.metrics_http_port),
            "metrics.http.host" => self.metrics_http_host.clone().or_else(|| self.host_name.clone()),
            "replica.high.watermark.checkpoint.interval.ms" => s(self.replica_high_watermark_checkpoint_interval_ms),
            "fetch.purgatory.purge.interval.requests" => s(self.fetch_purgatory_purge_interval_requests),
            "producer.purgatory.purge.interval.requests" => s(self.producer_purgatory_purge_interval_requests),
            "auto.leader.rebalance.enable" => s(self.auto_leader_rebalance_enable),
            "leader.imbalance.per.broker.percentage" => s(self.leader_imbalance_per_broker_percentage),
            "leader.imbalance.check.interval.seconds" => s(self.leader_imbalance_check_interval_seconds),
            "unclean.leader.election.enable" => s(self.unclean_leader_election_enable),
            "controlled.shutdown.max.retries" => s(self.controlled_shutdown_max_retries),
            "controlled.shutdown.retry.backoff.ms" => s(self.controlled_shutdown_retry_backoff_ms),
            "controlled.shutdown.enable" => s(self.controlled_shutdown_enable),
            "offset.metadata.max.bytes" => s(self.offset_metadata_max_bytes),
            "offsets.load.buffer.size" => s(self.offsets_load_buffer_size),
            "offsets.topic.replication.factor" => s(self.offsets_topic_replication_factor),
            "offsets.topic.num.partitions" => s(self.offsets_topic_num_partitions),
            "offsets.topic.segment.bytes" => s(self.offsets_topic_segment_bytes),
            "offsets.topic.compression.codec" => s(self.offsets_topic_compression_codec.name()),
            "offsets.retention.minutes" => s(self.offsets_retention_minutes),
            "offsets.retention.check.interval.ms" => s(self.offsets_retention_check_interval_ms),
            "offsets.commit.timeout.ms" => s(self.offsets_commit_timeout_ms),
            "offsets.commit.required.acks" => s(self.offsets_commit_required_acks),
            "delete.topic.enable" => s(self.delete_topic_enable),
            _ => None,
        }
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
    fn java_double_renders_like_double_to_string() {
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(0.9), "0.9");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(f64::MAX), "1.7976931348623157E308");
        assert_eq!(parse_java_double("0.9d"), Some(0.9));
        assert_eq!(parse_java_double("1e3"), Some(1000.0));
        assert_eq!(parse_java_double("x"), None);
    }

    #[test]
    fn csv_list_trims_and_drops_empty_entries() {
        assert_eq!(parse_csv_list(" /a , /b,,/c "), vec!["/a", "/b", "/c"]);
        assert!(parse_csv_list(" , ").is_empty());
    }

    #[test]
    fn connection_overrides_split_at_last_colon() {
        let o = parse_connection_overrides("k", "host1:5, 10.0.0.1 : 7,::1:3").unwrap();
        assert_eq!(o, vec![("host1".into(), 5), ("10.0.0.1".into(), 7), ("::1".into(), 3)]);
        assert!(parse_connection_overrides("k", "").unwrap().is_empty());
        assert!(parse_connection_overrides("k", "host1").is_err());
        assert!(parse_connection_overrides("k", "host1:x").is_err());
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
    fn local_hostname_is_never_empty() {
        assert!(!local_hostname().is_empty());
    }
}
