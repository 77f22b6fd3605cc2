//! `bin/kafka-console-producer.sh`: one message per stdin line, sync and async, with
//! compression and `parse.key`, read back from the broker.

use crate::support;

use std::time::Duration;
use support::cluster::Cluster;
use support::producer::read_partition;

fn produce(args: &[&str], stdin: &str) -> support::Output {
    support::run_with_env("bin/kafka-console-producer.sh", args, Some(stdin), &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

#[test]
fn lines_become_messages() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("lines", 1, 1);
    let bl = cluster.bootstrap();
    let out = produce(&["--broker-list", &bl, "--topic", "lines"], "This is a message\nThis is another message\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let out = produce(&["--broker-list", &bl, "--topic", "lines", "--sync", "--compression-codec", "snappy", "--request-required-acks", "1"], "third\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let got: Vec<String> = read_partition(&[bl.clone()], "lines", 0, Duration::from_secs(30)).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, vec!["This is a message", "This is another message", "third"]);

    // parse.key: the key goes before the separator.
    let out = produce(&["--broker-list", &bl, "--topic", "lines", "--sync", "--property", "parse.key=true", "--property", "key.separator=:"], "k1:v1\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let last = read_partition(&[bl.clone()], "lines", 0, Duration::from_secs(30));
    assert_eq!(last.last().unwrap().1, "v1");

    // Bad flags: one line, usage, non-zero.
    let out = produce(&["--topic", "lines"], "");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Missing required argument \"[broker-list]\""), "{}", out.all());
    let out = produce(&["--broker-list", &bl, "--topic", "lines", "--compression-codec", "zip"], "x\n");
    assert_eq!(out.code, Some(1));
    assert_eq!(out.stderr, "kafka.common.UnknownCodecException: zip is an unknown compression codec\n", "{}", out.all());
}

fn consume(args: &[&str]) -> support::Output {
    support::run_with_env("bin/kafka-console-consumer.sh", args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

/// Every codec by name and number (and `--compression-codec` without a value: gzip) with
/// the async tuning flags, checked in the broker's log with DumpLogSegments.
#[test]
fn each_codec_is_what_the_broker_stores() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("codecs", 1, 1);
    let bl = cluster.bootstrap();
    let tuning = [
        "--batch-size", "2", "--timeout", "50", "--queue-size", "100", "--queue-enqueuetimeout-ms", "1000",
        "--message-send-max-retries", "5", "--retry-backoff-ms", "200", "--request-timeout-ms", "3000",
        "--request-required-acks", "1", "--metadata-expiry-ms", "60000", "--socket-buffer-size", "65536",
    ];
    let cases: [(&[&str], &str); 6] = [
        (&["--compression-codec", "none"], "NoCompressionCodec"),
        (&["--compression-codec", "gzip"], "GZIPCompressionCodec"),
        (&["--compression-codec", "snappy"], "SnappyCompressionCodec"),
        (&["--compression-codec", "lz4"], "LZ4CompressionCodec"),
        (&["--compression-codec"], "GZIPCompressionCodec"),
        (&["--compression-codec", "3"], "LZ4CompressionCodec"),
    ];
    let mut want = Vec::new();
    for (n, (codec, _)) in cases.iter().enumerate() {
        let mut args = vec!["--broker-list", bl.as_str(), "--topic", "codecs"];
        args.extend_from_slice(&tuning);
        args.extend_from_slice(codec);
        let out = produce(&args, &format!("a{n}\nb{n}\n"));
        assert_eq!(out.code, Some(0), "{codec:?}: {}", out.all());
        want.extend([format!("a{n}"), format!("b{n}")]);
        // One batch at a time, so that the log holds the cases in order.
        let stored = support::producer::read_until_complete(&[bl.clone()], "codecs", 0, &want, Duration::from_secs(30));
        assert_eq!(stored.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), want);
    }
    let segment = cluster.brokers[0].data_dir().join("codecs-0/00000000000000000000.log");
    let dump = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08"))
        .args(["kafka.tools.DumpLogSegments", "--files", segment.to_str().unwrap()])
        .output()
        .unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    let mut codecs: Vec<&str> = dump.lines().filter_map(|l| l.split("compresscodec: ").nth(1)).map(|c| c.split(' ').next().unwrap()).collect();
    codecs.dedup();
    assert_eq!(codecs, cases.iter().map(|(_, c)| *c).collect::<Vec<_>>(), "{dump}");
}

/// `parse.key`/`key.separator` put the key on the message (read back with `print.key`); a
/// line without the separator stops 0.8.2's LineMessageReader with its line number, after
/// the lines before it were sent; `ignore.error=true` sends such a line without a key.
#[test]
fn keys_and_bad_input_as_082() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("keys", 1, 1);
    let bl = cluster.bootstrap();
    let zk = cluster.zk.connect_string();
    let keyed = ["--broker-list", bl.as_str(), "--topic", "keys", "--sync", "--property", "parse.key=true", "--property", "key.separator=::"];
    let out = produce(&keyed, "k1::v1\nk2::v::2\nno key here\nk3::v3\n");
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr, "kafka.common.KafkaException: No key found on line 3: no key here\n");
    let mut lenient = keyed.to_vec();
    lenient.extend(["--property", "ignore.error=true"]);
    let out = produce(&lenient, "plain\n::empty key\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let out = consume(&[
        "--zookeeper", &zk, "--topic", "keys", "--from-beginning", "--max-messages", "4",
        "--property", "print.key=true", "--property", "key.separator=|",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "k1|v1\nk2|v::2\nnull|plain\n|empty key\n");

    // Bad flags: one line (0.8.2's text), usage, exit 1; nothing sent.
    let out = produce(&["--broker-list", "localhost", "--topic", "keys"], "x\n");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Please provide valid host:port like host1:9091,host2:9092\n \nOption"), "{}", out.all());
    let out = produce(&["--broker-list", &bl, "--topic", "keys", "--batch-size", "many"], "x\n");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Cannot parse argument 'many' of option batch-size\nOption"), "{}", out.all());
    let out = produce(&["--broker-list", &bl, "--topic", "keys", "--request-required-acks"], "x\n");
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Option request-required-acks requires an argument\n"), "{}", out.all());
    assert!(!out.stderr.contains("panicked"));
}

/// `--key-serializer kafka.serializer.StringEncoder` hashes keys as Java's
/// `String.hashCode` (0.8.2's ConsoleProducer passed it on as `key.serializer.class`), so
/// the console producer puts a key where a Java 0.8.2 producer would. The partitions are
/// worked out by hand from 0.8.2's `Utils.abs(hashCode) % 3`:
/// - "a": String.hashCode 97 → 1 (as a byte array, Arrays.hashCode 128 → 2);
/// - "my-group": String.hashCode -1906497762, abs 1906497762 → 0 (`n & 0x7fffffff` would
///   give 240985886 → 2).
#[test]
fn key_serializer_string_encoder_partitions_keys_as_java_does() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("keyed", 3, 1);
    let bl = cluster.bootstrap();
    let keyed = ["--property", "parse.key=true", "--sync", "--request-required-acks", "1"];
    let mut args = vec!["--broker-list", bl.as_str(), "--topic", "keyed", "--key-serializer", "kafka.serializer.StringEncoder"];
    args.extend_from_slice(&keyed);
    let out = produce(&args, "a\tstring-a\nmy-group\tstring-my-group\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    // The default (DefaultEncoder: keys are byte arrays) hashes "a" as Arrays.hashCode.
    let mut args = vec!["--broker-list", bl.as_str(), "--topic", "keyed"];
    args.extend_from_slice(&keyed);
    let out = produce(&args, "a\tbytes-a\n");
    assert_eq!(out.code, Some(0), "{}", out.all());
    let values = |p: i32| -> Vec<String> {
        read_partition(&[bl.clone()], "keyed", p, Duration::from_secs(30)).into_iter().map(|(_, v)| v).collect()
    };
    assert_eq!(values(0), vec!["string-my-group"]);
    assert_eq!(values(1), vec!["string-a"]);
    assert_eq!(values(2), vec!["bytes-a"]);
}
