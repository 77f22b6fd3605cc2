//! `server.properties` as Kafka 0.8.2 read it: the shipped config files, every default,
//! refusals that name the key and value, unknown keys as warnings, precedence rules and
//! `--override`.

use kafka08::common::{parse_properties, Properties};
use kafka08::server::{apply_overrides, local_hostname, ConfigError, KafkaConfig, BROKER_KEYS};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every broker key and its 0.8.2 default as the broker uses it (`None`: unset, no default
/// of its own). `broker.id` and `zookeeper.connect` are required and have none.
/// Source: 0.8.2 `kafka/server/KafkaConfig.scala`, `kafka/utils/ZKConfig.scala`,
/// `OffsetManagerConfig` and `ConsumerConfig` constants.
const DEFAULTS: &[(&str, Option<&str>)] = &[
    ("zookeeper.session.timeout.ms", Some("6000")),
    ("zookeeper.connection.timeout.ms", Some("6000")),
    ("zookeeper.sync.time.ms", Some("2000")),
    ("message.max.bytes", Some("1000012")),
    ("num.network.threads", Some("3")),
    ("num.io.threads", Some("8")),
    ("background.threads", Some("10")),
    ("queued.max.requests", Some("500")),
    ("port", Some("9092")),
    ("host.name", None),
    ("advertised.host.name", None),
    ("advertised.port", Some("9092")),
    ("socket.send.buffer.bytes", Some("102400")),
    ("socket.receive.buffer.bytes", Some("102400")),
    ("socket.request.max.bytes", Some("104857600")),
    ("max.connections.per.ip", Some("2147483647")),
    ("max.connections.per.ip.overrides", Some("")),
    ("connections.max.idle.ms", Some("600000")),
    ("num.partitions", Some("1")),
    ("log.dirs", Some("/tmp/kafka-logs")),
    ("log.dir", Some("/tmp/kafka-logs")),
    ("log.segment.bytes", Some("1073741824")),
    ("log.roll.ms", None),
    ("log.roll.hours", Some("168")),
    ("log.roll.jitter.ms", None),
    ("log.roll.jitter.hours", Some("0")),
    ("log.retention.ms", None),
    ("log.retention.minutes", None),
    ("log.retention.hours", Some("168")),
    ("log.retention.bytes", Some("-1")),
    ("log.retention.check.interval.ms", Some("300000")),
    ("log.cleanup.policy", Some("delete")),
    ("log.cleaner.threads", Some("1")),
    ("log.cleaner.io.max.bytes.per.second", Some("1.7976931348623157E308")),
    ("log.cleaner.dedupe.buffer.size", Some("524288000")),
    ("log.cleaner.io.buffer.size", Some("524288")),
    ("log.cleaner.io.buffer.load.factor", Some("0.9")),
    ("log.cleaner.backoff.ms", Some("15000")),
    ("log.cleaner.min.cleanable.ratio", Some("0.5")),
    ("log.cleaner.enable", Some("true")),
    ("log.cleaner.delete.retention.ms", Some("86400000")),
    ("log.index.size.max.bytes", Some("10485760")),
    ("log.index.interval.bytes", Some("4096")),
    ("log.flush.interval.messages", Some("9223372036854775807")),
    ("log.segment.delete.delay.ms", Some("60000")),
    ("log.flush.scheduler.interval.ms", Some("9223372036854775807")),
    ("log.flush.interval.ms", Some("9223372036854775807")),
    ("log.flush.offset.checkpoint.interval.ms", Some("60000")),
    ("num.recovery.threads.per.data.dir", Some("1")),
    ("auto.create.topics.enable", Some("true")),
    ("min.insync.replicas", Some("1")),
    ("controller.socket.timeout.ms", Some("30000")),
    ("controller.message.queue.size", Some("2147483647")),
    ("default.replication.factor", Some("1")),
    ("replica.lag.time.max.ms", Some("10000")),
    ("replica.lag.max.messages", Some("4000")),
    ("replica.socket.timeout.ms", Some("30000")),
    ("replica.socket.receive.buffer.bytes", Some("65536")),
    ("replica.fetch.max.bytes", Some("1048576")),
    ("replica.fetch.wait.max.ms", Some("500")),
    ("replica.fetch.min.bytes", Some("1")),
    ("num.replica.fetchers", Some("1")),
    // 0.9 key accepted as an extension; 1000 is 0.9.0's default.
    ("replica.fetch.backoff.ms", Some("1000")),
    // kafka08's metrics endpoint: off unless a port is given; host defaults to host.name.
    ("metrics.http.port", Some("0")),
    ("metrics.http.host", None),
    ("replica.high.watermark.checkpoint.interval.ms", Some("5000")),
    ("fetch.purgatory.purge.interval.requests", Some("1000")),
    ("producer.purgatory.purge.interval.requests", Some("1000")),
    ("auto.leader.rebalance.enable", Some("true")),
    ("leader.imbalance.per.broker.percentage", Some("10")),
    ("leader.imbalance.check.interval.seconds", Some("300")),
    ("unclean.leader.election.enable", Some("true")),
    ("controlled.shutdown.max.retries", Some("3")),
    ("controlled.shutdown.retry.backoff.ms", Some("5000")),
    ("controlled.shutdown.enable", Some("true")),
    ("offset.metadata.max.bytes", Some("4096")),
    ("offsets.load.buffer.size", Some("5242880")),
    ("offsets.topic.replication.factor", Some("3")),
    ("offsets.topic.num.partitions", Some("50")),
    ("offsets.topic.segment.bytes", Some("104857600")),
    ("offsets.topic.compression.codec", Some("none")),
    ("offsets.retention.minutes", Some("1440")),
    ("offsets.retention.check.interval.ms", Some("600000")),
    ("offsets.commit.timeout.ms", Some("5000")),
    ("offsets.commit.required.acks", Some("-1")),
    ("delete.topic.enable", Some("false")),
];

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn props(text: &str) -> Properties {
    parse_properties(text)
}

/// The two required keys, then `extra`.
fn with_required(extra: &str) -> Properties {
    props(&format!("broker.id=1\nzookeeper.connect=zk1:2181\n{}", extra))
}

fn config(extra: &str) -> KafkaConfig {
    KafkaConfig::from_properties(&with_required(extra)).unwrap_or_else(|e| panic!("{}: {}", extra, e))
}

fn refusal(extra: &str) -> String {
    match KafkaConfig::from_properties(&with_required(extra)) {
        Ok(_) => panic!("accepted {:?}", extra),
        Err(e) => e.to_string(),
    }
}

/// `key=value` lines of a file, and the keys of commented-out `#key=value` lines.
fn keys_of(text: &str) -> (Vec<String>, Vec<String>) {
    let mut set = Vec::new();
    let mut commented = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('#') {
            if let Some((k, _)) = rest.split_once('=') {
                if !k.is_empty() && !k.contains(' ') {
                    commented.push(k.to_string());
                }
            }
        } else if let Some((k, _)) = line.split_once('=') {
            set.push(k.trim().to_string());
        }
    }
    (set, commented)
}

#[test]
fn every_default_matches_0_8_2() {
    let cfg = KafkaConfig::with_defaults(7, "zk1:2181,zk2:2181/kafka").unwrap();
    assert_eq!(cfg.value("broker.id").as_deref(), Some("7"));
    assert_eq!(cfg.value("zookeeper.connect").as_deref(), Some("zk1:2181,zk2:2181/kafka"));
    let mut wrong = Vec::new();
    for (key, default) in DEFAULTS {
        let got = cfg.value(key);
        if got.as_deref() != *default {
            wrong.push(format!("{}: got {:?}, 0.8.2 default {:?}", key, got, default));
        }
    }
    assert!(wrong.is_empty(), "defaults differ from 0.8.2:\n{}", wrong.join("\n"));

    // The resolved views of the same defaults.
    assert_eq!(cfg.log_retention_ms(), 7 * 24 * 3600 * 1000);
    assert_eq!(cfg.log_roll_ms(), 7 * 24 * 3600 * 1000);
    assert_eq!(cfg.log_roll_jitter_ms(), 0);
    assert_eq!(cfg.log_flush_interval_ms(), i64::MAX);
    assert_eq!(cfg.zk_connection_timeout_ms(), 6000);
    assert_eq!(cfg.advertised_port(), 9092);
    assert_eq!(cfg.log_dirs(), vec![PathBuf::from("/tmp/kafka-logs")]);
    assert!(cfg.max_connections_per_ip_overrides().is_empty());
    assert!(!cfg.log_cleanup_compact());
    assert!(cfg.bind_host().is_none());
}

#[test]
fn default_table_and_broker_keys_name_the_same_keys() {
    let table: BTreeSet<&str> = DEFAULTS.iter().map(|(k, _)| *k).chain(["broker.id", "zookeeper.connect"]).collect();
    let keys: BTreeSet<&str> = BROKER_KEYS.iter().copied().collect();
    assert_eq!(keys.len(), BROKER_KEYS.len(), "BROKER_KEYS has duplicates");
    assert_eq!(table, keys);
    // Every accepted key is rendered by `value` once it is set.
    let cfg = KafkaConfig::with_defaults(0, "zk:2181").unwrap();
    for key in BROKER_KEYS {
        let optional = DEFAULTS.iter().any(|(k, d)| k == key && d.is_none());
        assert_eq!(cfg.value(key).is_some(), !optional, "{}", key);
    }
    assert_eq!(cfg.value("no.such.key"), None);
}

#[test]
fn writing_each_default_explicitly_changes_nothing() {
    let base = KafkaConfig::with_defaults(1, "zk1:2181").unwrap();
    for (key, default) in DEFAULTS {
        let Some(default) = default else { continue };
        let cfg = config(&format!("{}={}\n", key, default));
        assert_eq!(cfg.values(), base.values(), "writing {}={} changed the config", key, default);
    }
}

#[test]
fn shipped_server_properties_loads_with_0_8_2_values_and_no_unknown_keys() {
    let path = config_dir().join("server.properties");
    let text = std::fs::read_to_string(&path).unwrap();
    let (set, commented) = keys_of(&text);
    assert_eq!(
        set,
        [
            "broker.id",
            "port",
            "num.network.threads",
            "num.io.threads",
            "socket.send.buffer.bytes",
            "socket.receive.buffer.bytes",
            "socket.request.max.bytes",
            "log.dirs",
            "num.partitions",
            "num.recovery.threads.per.data.dir",
            "log.retention.hours",
            "log.segment.bytes",
            "log.retention.check.interval.ms",
            "log.cleaner.enable",
            "zookeeper.connect",
            "zookeeper.connection.timeout.ms",
        ]
    );
    for key in &commented {
        assert!(BROKER_KEYS.contains(&key.as_str()), "commented-out key {} is not a broker key", key);
    }

    let props = Properties::load(&path).unwrap();
    assert!(KafkaConfig::unknown_keys(&props).is_empty(), "{:?}", KafkaConfig::unknown_keys(&props));
    let cfg = KafkaConfig::load(&path).unwrap();
    assert_eq!(cfg.broker_id, 0);
    assert_eq!(cfg.port, 9092);
    assert_eq!(cfg.num_network_threads, 3);
    assert_eq!(cfg.num_io_threads, 8);
    assert_eq!(cfg.socket_send_buffer_bytes, 102400);
    assert_eq!(cfg.socket_receive_buffer_bytes, 102400);
    assert_eq!(cfg.socket_request_max_bytes, 104857600);
    assert_eq!(cfg.log_dirs(), vec![PathBuf::from("/tmp/kafka-logs")]);
    assert_eq!(cfg.num_partitions, 1);
    assert_eq!(cfg.num_recovery_threads_per_data_dir, 1);
    assert_eq!(cfg.log_retention_hours, 168);
    assert_eq!(cfg.log_retention_ms(), 604_800_000);
    assert_eq!(cfg.log_segment_bytes, 1_073_741_824);
    assert_eq!(cfg.log_retention_check_interval_ms, 300_000);
    assert!(cfg.log_cleaner_enable, "on by default, unlike 0.8.2");
    assert_eq!(cfg.zookeeper_connect, "localhost:2181");
    assert_eq!(cfg.zk_connection_timeout_ms(), 6000);

    // The file only restates defaults: it loads to exactly the all-defaults config.
    let defaults = KafkaConfig::with_defaults(0, "localhost:2181").unwrap();
    assert_eq!(cfg.values(), defaults.values());
}

#[test]
fn shipped_client_properties_are_0_8_2s_and_are_not_broker_configs() {
    let producer = std::fs::read_to_string(config_dir().join("producer.properties")).unwrap();
    let (set, commented) = keys_of(&producer);
    assert_eq!(set, ["metadata.broker.list", "producer.type", "compression.codec", "serializer.class"]);
    assert_eq!(
        commented,
        [
            "partitioner.class",
            "compressed.topics",
            "queue.buffering.max.ms",
            "queue.buffering.max.messages",
            "queue.enqueue.timeout.ms",
            "batch.num.messages",
        ]
    );
    let p = props(&producer);
    assert_eq!(p.get("metadata.broker.list"), Some("localhost:9092"));
    assert_eq!(p.get("producer.type"), Some("sync"));
    assert_eq!(p.get("compression.codec"), Some("none"));
    assert_eq!(p.get("serializer.class"), Some("kafka.serializer.DefaultEncoder"));

    let consumer = std::fs::read_to_string(config_dir().join("consumer.properties")).unwrap();
    let (set, commented) = keys_of(&consumer);
    assert_eq!(set, ["zookeeper.connect", "zookeeper.connection.timeout.ms", "group.id"]);
    assert_eq!(commented, ["consumer.timeout.ms"]);
    let c = props(&consumer);
    assert_eq!(c.get("zookeeper.connect"), Some("127.0.0.1:2181"));
    assert_eq!(c.get("zookeeper.connection.timeout.ms"), Some("6000"));
    assert_eq!(c.get("group.id"), Some("test-consumer-group"));

    // Handed to the broker by mistake: refused for the missing broker.id, and the client
    // keys are only warnings.
    let err = KafkaConfig::load(&config_dir().join("consumer.properties")).unwrap_err();
    assert!(matches!(&err, ConfigError::Missing { key } if key == "broker.id"), "{}", err);
    assert_eq!(KafkaConfig::unknown_keys(&c), vec!["group.id".to_string()]);
}

#[test]
fn bad_values_are_refused_naming_the_key_and_the_value() {
    // (lines added to a valid config, key the message must name, value it must show)
    let cases: &[(&str, &str, &str)] = &[
        ("num.partitions=abc", "num.partitions", "abc"),
        ("num.partitions=0", "num.partitions", "0"),
        ("broker.id=-1", "broker.id", "-1"),
        ("broker.id=1.5", "broker.id", "1.5"),
        ("broker.id=2147483648", "broker.id", "2147483648"),
        ("port=70000", "port", "70000"),
        ("port=-1", "port", "-1"),
        ("advertised.port=65536", "advertised.port", "65536"),
        ("message.max.bytes=-5", "message.max.bytes", "-5"),
        ("num.network.threads=0", "num.network.threads", "0"),
        ("num.io.threads=0", "num.io.threads", "0"),
        ("background.threads=0", "background.threads", "0"),
        ("queued.max.requests=0", "queued.max.requests", "0"),
        ("socket.request.max.bytes=0", "socket.request.max.bytes", "0"),
        ("max.connections.per.ip=0", "max.connections.per.ip", "0"),
        ("max.connections.per.ip.overrides=hostonly", "max.connections.per.ip.overrides", "hostonly"),
        ("max.connections.per.ip.overrides=h:many", "max.connections.per.ip.overrides", "h:many"),
        ("connections.max.idle.ms=10m", "connections.max.idle.ms", "10m"),
        ("log.dirs= , ", "log.dirs", ","),
        ("log.segment.bytes=13", "log.segment.bytes", "13"),
        ("log.roll.hours=0", "log.roll.hours", "0"),
        ("log.roll.ms=0", "log.roll.ms", "0"),
        ("log.roll.jitter.hours=-1", "log.roll.jitter.hours", "-1"),
        ("log.retention.hours=0", "log.retention.hours", "0"),
        ("log.retention.minutes=x", "log.retention.minutes", "x"),
        ("log.retention.ms=-1", "log.retention.ms", "-1"),
        // An Int in 0.8.2: more than ~24.8 days in ms does not fit.
        ("log.retention.ms=2592000000", "log.retention.ms", "2592000000"),
        ("log.retention.check.interval.ms=0", "log.retention.check.interval.ms", "0"),
        ("log.cleaner.threads=0", "log.cleaner.threads", "0"),
        ("log.cleaner.dedupe.buffer.size=1048576", "log.cleaner.dedupe.buffer.size", "1048576"),
        ("log.cleaner.threads=600", "log.cleaner.dedupe.buffer.size", "524288000"),
        ("log.cleaner.io.buffer.load.factor=high", "log.cleaner.io.buffer.load.factor", "high"),
        ("log.cleaner.enable=yes", "log.cleaner.enable", "yes"),
        ("log.index.size.max.bytes=3", "log.index.size.max.bytes", "3"),
        ("log.flush.interval.messages=0", "log.flush.interval.messages", "0"),
        ("num.recovery.threads.per.data.dir=0", "num.recovery.threads.per.data.dir", "0"),
        ("auto.create.topics.enable=ture", "auto.create.topics.enable", "ture"),
        ("min.insync.replicas=0", "min.insync.replicas", "0"),
        ("replica.socket.timeout.ms=-1", "replica.socket.timeout.ms", "-1"),
        ("replica.fetch.max.bytes=1000", "replica.fetch.max.bytes", "1000"),
        ("replica.fetch.wait.max.ms=20000", "replica.fetch.wait.max.ms", "20000"),
        ("offsets.topic.replication.factor=0", "offsets.topic.replication.factor", "0"),
        ("offsets.topic.replication.factor=40000", "offsets.topic.replication.factor", "40000"),
        ("offsets.topic.compression.codec=zip", "offsets.topic.compression.codec", "zip"),
        ("offsets.commit.required.acks=4", "offsets.commit.required.acks", "4"),
        ("offsets.commit.required.acks=-2", "offsets.commit.required.acks", "-2"),
        ("zookeeper.session.timeout.ms=6s", "zookeeper.session.timeout.ms", "6s"),
        ("delete.topic.enable=1", "delete.topic.enable", "1"),
    ];
    for (line, key, value) in cases {
        let msg = refusal(&format!("{}\n", line));
        assert!(msg.contains(key), "{:?}: message does not name {}: {}", line, key, msg);
        assert!(msg.contains(&format!("{:?}", value)), "{:?}: message does not show {:?}: {}", line, value, msg);
        assert!(!msg.contains('\n'), "{:?}: message is not one line: {}", line, msg);
    }
}

#[test]
fn values_at_the_edges_of_0_8_2s_ranges_are_accepted() {
    let cfg = config(
        "port=0\nlog.segment.bytes=14\nlog.index.size.max.bytes=4\nlog.retention.ms=2147483647\n\
         log.roll.jitter.ms=0\nnum.partitions=2147483647\noffsets.commit.required.acks=3\n\
         log.cleaner.threads=499\nreplica.fetch.wait.max.ms=10000\nmessage.max.bytes=0\n",
    );
    assert_eq!(cfg.port, 0);
    assert_eq!(cfg.log_segment_bytes, 14);
    assert_eq!(cfg.log_retention_ms(), i32::MAX as i64);
    assert_eq!(cfg.offsets_commit_required_acks, 3);
    // Values are trimmed, booleans take any case, doubles take Java's `d` suffix, codecs
    // take names or ids.
    let cfg = config(
        "num.partitions =  4  \nauto.create.topics.enable=FALSE\nlog.cleaner.min.cleanable.ratio=0.75d\n\
         offsets.topic.compression.codec=2\n",
    );
    assert_eq!(cfg.num_partitions, 4);
    assert!(!cfg.auto_create_topics_enable);
    assert_eq!(cfg.log_cleaner_min_cleanable_ratio, 0.75);
    assert_eq!(cfg.value("offsets.topic.compression.codec").as_deref(), Some("snappy"));
}

#[test]
fn replica_socket_timeout_below_fetch_wait_is_accepted_as_0_8_2_did() {
    // 0.8.2's check of replica.fetch.wait.max.ms <= replica.socket.timeout.ms ran before
    // the wait was initialised, so it never fired; files relying on that must still load.
    let cfg = config("replica.socket.timeout.ms=100\nreplica.fetch.wait.max.ms=500\n");
    assert_eq!(cfg.replica_socket_timeout_ms, 100);
}

#[test]
fn missing_required_keys_are_errors_naming_the_key() {
    let err = KafkaConfig::from_properties(&props("broker.id=0\n")).unwrap_err();
    assert!(matches!(&err, ConfigError::Missing { key } if key == "zookeeper.connect"), "{:?}", err);
    assert!(err.to_string().contains("zookeeper.connect"));

    let err = KafkaConfig::from_properties(&props("zookeeper.connect=localhost:2181\n")).unwrap_err();
    assert!(matches!(&err, ConfigError::Missing { key } if key == "broker.id"), "{:?}", err);
    assert!(err.to_string().contains("broker.id"));

    let err = KafkaConfig::from_properties(&props("broker.id=0\nzookeeper.connect=\n")).unwrap_err();
    assert!(err.to_string().contains("zookeeper.connect"), "{}", err);
}

#[test]
fn unknown_keys_are_warnings_never_errors() {
    let p = with_required(
        "no.such.key=1\nmetadata.broker.list=localhost:9092\ngroup.id=g\nlog.cleanup.interval.mins=10\n\
         kafka.metrics.reporters=kafka.metrics.KafkaCSVMetricsReporter\nkafka.metrics.polling.interval.secs=5\n\
         external.kafka.statsd.host=localhost\n",
    );
    let cfg = KafkaConfig::from_properties(&p).unwrap();
    assert_eq!(cfg.broker_id, 1);
    assert_eq!(
        KafkaConfig::unknown_keys(&p),
        vec!["group.id", "log.cleanup.interval.mins", "metadata.broker.list", "no.such.key"]
    );
    assert_eq!(KafkaConfig::unknown_key_warnings(&p)[0], "Property group.id is not valid");
    assert!(KafkaConfig::unknown_keys(&with_required("")).is_empty());
}

#[test]
fn retention_ms_wins_over_minutes_wins_over_hours() {
    assert_eq!(config("log.retention.hours=1\n").log_retention_ms(), 3_600_000);
    assert_eq!(config("log.retention.hours=1\nlog.retention.minutes=2\n").log_retention_ms(), 120_000);
    assert_eq!(config("log.retention.hours=1\nlog.retention.minutes=2\nlog.retention.ms=3\n").log_retention_ms(), 3);
    assert_eq!(config("log.retention.ms=5000\n").log_retention_ms(), 5000);
    // Hours and minutes are computed in 64 bits.
    assert_eq!(config("log.retention.hours=2147483647\n").log_retention_ms(), 2147483647 * 3_600_000);
    // 0.8.2 never read a shadowed key, so a bad value there did not stop it.
    assert_eq!(config("log.retention.ms=7\nlog.retention.hours=abc\n").log_retention_ms(), 7);
    assert_eq!(config("log.retention.minutes=1\nlog.retention.hours=abc\n").log_retention_ms(), 60_000);
}

#[test]
fn roll_ms_wins_over_hours_and_jitter_ms_over_jitter_hours() {
    assert_eq!(config("log.roll.hours=2\n").log_roll_ms(), 7_200_000);
    assert_eq!(config("log.roll.hours=2\nlog.roll.ms=1234\n").log_roll_ms(), 1234);
    assert_eq!(config("log.roll.jitter.hours=1\n").log_roll_jitter_ms(), 3_600_000);
    assert_eq!(config("log.roll.jitter.hours=1\nlog.roll.jitter.ms=99\n").log_roll_jitter_ms(), 99);
}

#[test]
fn log_dirs_wins_over_log_dir_and_is_split_and_trimmed() {
    assert_eq!(config("").log_dirs(), vec![PathBuf::from("/tmp/kafka-logs")]);
    assert_eq!(config("log.dir=/data/k\n").log_dirs(), vec![PathBuf::from("/data/k")]);
    assert_eq!(
        config("log.dir=/data/k\nlog.dirs= /d1 , /d2,,/d3 \n").log_dirs(),
        vec![PathBuf::from("/d1"), PathBuf::from("/d2"), PathBuf::from("/d3")]
    );
    assert!(refusal("log.dir=\n").contains("log.dir"));
}

#[test]
fn overrides_apply_over_the_file_later_wins() {
    let path = config_dir().join("server.properties");
    let cfg = KafkaConfig::load_with_overrides(
        &path,
        &["broker.id=3", "port=9093", "log.dirs=/k/a,/k/b", "zookeeper.connect=h:2181/chroot", "port=9094"],
    )
    .unwrap();
    assert_eq!(cfg.broker_id, 3);
    assert_eq!(cfg.port, 9094);
    assert_eq!(cfg.advertised_port(), 9094);
    assert_eq!(cfg.log_dirs(), vec![PathBuf::from("/k/a"), PathBuf::from("/k/b")]);
    assert_eq!(cfg.zookeeper_connect, "h:2181/chroot");
    assert_eq!(cfg.props.get("broker.id"), Some("3"));

    let mut p = Properties::new();
    apply_overrides(&mut p, &["a.b=x=y", " c = ", "d="]).unwrap();
    assert_eq!(p.get("a.b"), Some("x=y"));
    assert_eq!(p.get("c"), Some(" "));
    assert_eq!(p.get("d"), Some(""));
    for bad in ["noequals", "=v", " =v"] {
        let err = apply_overrides(&mut p, &[bad]).unwrap_err();
        assert!(matches!(&err, ConfigError::BadOverride { arg } if arg == bad), "{:?}", err);
    }
    // A bad value arriving by override is refused like one from the file.
    let err = KafkaConfig::load_with_overrides(&path, &["num.partitions=none"]).unwrap_err().to_string();
    assert!(err.contains("num.partitions") && err.contains("\"none\""), "{}", err);
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let err = KafkaConfig::load(Path::new("/nonexistent/kafka08/server.properties")).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{:?}", err);
    assert!(err.to_string().contains("/nonexistent/kafka08/server.properties"));
}

#[test]
fn advertised_host_and_port_fall_back_as_0_8_2() {
    let cfg = config("");
    assert_eq!(cfg.advertised_host(), local_hostname());
    assert_eq!(cfg.advertised_port(), 9092);

    let cfg = config("host.name=10.0.0.5\nport=9999\n");
    assert_eq!(cfg.bind_host(), Some("10.0.0.5"));
    assert_eq!(cfg.advertised_host(), "10.0.0.5");
    assert_eq!(cfg.advertised_port(), 9999);

    let cfg = config("host.name=10.0.0.5\nadvertised.host.name=broker1.example.com\nadvertised.port=19092\n");
    assert_eq!(cfg.advertised_host(), "broker1.example.com");
    assert_eq!(cfg.advertised_port(), 19092);
    assert_eq!(cfg.port, 9092);

    // Blank host.name binds every interface and advertises this machine.
    let cfg = config("host.name=\n");
    assert_eq!(cfg.bind_host(), None);
    assert_eq!(cfg.advertised_host(), local_hostname());
}

#[test]
fn zk_connection_timeout_defaults_to_the_session_timeout() {
    assert_eq!(config("zookeeper.session.timeout.ms=9000\n").zk_connection_timeout_ms(), 9000);
    let cfg = config("zookeeper.session.timeout.ms=9000\nzookeeper.connection.timeout.ms=3000\n");
    assert_eq!(cfg.zk_connection_timeout_ms(), 3000);
    assert_eq!(cfg.zookeeper_session_timeout_ms, 9000);
}

#[test]
fn flush_interval_defaults_to_the_scheduler_interval() {
    assert_eq!(config("log.flush.scheduler.interval.ms=2000\n").log_flush_interval_ms(), 2000);
    assert_eq!(
        config("log.flush.scheduler.interval.ms=2000\nlog.flush.interval.ms=100\n").log_flush_interval_ms(),
        100
    );
}

#[test]
fn max_connections_per_ip_overrides_parse_host_count_pairs() {
    let cfg = config("max.connections.per.ip=100\nmax.connections.per.ip.overrides=host1:5, 10.0.0.2 : 50,host1:7\n");
    let o = cfg.max_connections_per_ip_overrides();
    assert_eq!(o.len(), 2);
    assert_eq!(o["host1"], 7);
    assert_eq!(o["10.0.0.2"], 50);
    assert_eq!(cfg.max_connections_per_ip, 100);
}

#[test]
fn cleanup_policy_compacts_only_for_compact() {
    assert!(config("log.cleanup.policy= Compact \n").log_cleanup_compact());
    // 0.8.2 read any other value as delete.
    assert!(!config("log.cleanup.policy=dedupe\n").log_cleanup_compact());
    assert!(!config("log.cleanup.policy=delete\n").log_cleanup_compact());
}
