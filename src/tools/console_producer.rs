//! `kafka.tools.ConsoleProducer` (`bin/kafka-console-producer.sh`): one message per line
//! of stdin, with 0.8.2's flags and defaults.
//!
//! Flags kept for 0.8.2 command lines that change nothing here: `--message-encoder` (0.8.2
//! declared it and never read it) and `--new-producer` (0.8.2's new Java producer speaks
//! the same 0.8.2 protocol; there is one producer here). `--line-reader` accepts only
//! 0.8.2's own `LineMessageReader`.

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use crate::common::Properties;
use crate::producer::{BlockingProducer, KeyedMessage};
use std::io::BufRead;

/// 0.8.2's only line reader (one message per line, `parse.key` splits off a key).
const LINE_READER: &str = "kafka.tools.ConsoleProducer$LineMessageReader";

fn parser() -> OptionParser {
    OptionParser::new("Read data from standard input and publish it to Kafka.")
        .arg("topic", "REQUIRED: The topic id to produce messages to.", "topic")
        .arg("broker-list", "REQUIRED: The broker list string in the form HOST1:PORT1,HOST2:PORT2.", "broker-list")
        .flag("sync", "If set message send requests to the brokers are synchronously, one at a time as they arrive.")
        .optional_arg("compression-codec", "The compression codec: either 'none', 'gzip', 'snappy', or 'lz4'.If specified without value, then it defaults to 'gzip'", "compression-codec", Some("gzip"))
        .arg_default("batch-size", "Number of messages to send in a single batch if they are not being sent synchronously.", "size", "200")
        .arg_default("message-send-max-retries", "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retires before the producer give up and drop this message.", "Integer", "3")
        .arg_default("retry-backoff-ms", "Before each retry, the producer refreshes the metadata of relevant topics. Since leader election takes a bit of time, this property specifies the amount of time that the producer waits before refreshing the metadata.", "Integer", "100")
        .arg_default("timeout", "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting suffient batch size. The value is given in ms.", "timeout_ms", "1000")
        .arg_default("queue-size", "If set and the producer is running in asynchronous mode, this gives the maximum amount of  messages will queue awaiting suffient batch size.", "queue_size", "10000")
        .arg_default("queue-enqueuetimeout-ms", "Timeout for event enqueue", "queue enqueuetimeout ms", i32::MAX.to_string())
        .arg_default("request-required-acks", "The required acks of the producer requests", "request required acks", "0")
        .arg_default("request-timeout-ms", "The ack timeout of the producer requests. Value must be non-negative and non-zero", "request timeout ms", "1500")
        .arg_default("metadata-expiry-ms", "The period of time in milliseconds after which we force a refresh of metadata even if we haven't seen any leadership changes.", "metadata expiration interval", "300000")
        .arg_default("socket-buffer-size", "The size of the tcp RECV size.", "size", (1024 * 100).to_string())
        .arg("property", "A mechanism to pass user-defined properties in the form key=value to the message reader. This allows custom configuration for a user-defined message reader.", "prop")
        .arg_default("line-reader", "The class name of the class to use for reading lines from standard in. By default each line is read as a separate message.", "reader_class", LINE_READER)
        .arg_default("message-encoder", "The class name of the message encoder implementation to use.", "encoder_class", "kafka.serializer.DefaultEncoder")
        .arg_default("key-serializer", "The class name of the message encoder implementation to use for serializing keys.", "encoder_class", "kafka.serializer.DefaultEncoder")
        .arg_default("value-serializer", "The class name of the message encoder implementation to use for serializing values.", "encoder_class", "kafka.serializer.DefaultEncoder")
        .flag("new-producer", "Use the new producer implementation.")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["topic", "broker-list"])?;
    super::options::require_known_class(&opts, "line-reader", &[LINE_READER])?;
    if !valid_broker_list(opts.value("broker-list").unwrap_or("")) {
        // 0.8.2 ToolsUtils.validatePortOrDie, trailing "\n " included.
        return Err(UsageError("Please provide valid host:port like host1:9091,host2:9092\n ".into()).into());
    }
    // jopt-simple converted these to Integer (metadata-expiry-ms to Long) while parsing.
    for name in INT_OPTIONS {
        opts.parse_value::<i32>(name)?;
    }
    opts.parse_value::<i64>("metadata-expiry-ms")?;
    let topic = opts.value("topic").unwrap_or("").to_string();
    let mut reader_props = Properties::new();
    for kv in opts.values("property") {
        let (k, v) = kv.split_once('=').ok_or_else(|| UsageError(format!("Invalid property {} (expected key=value)", kv)))?;
        reader_props.set(k, v);
    }
    let parse_key = reader_props.get("parse.key").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let key_separator = reader_props.get("key.separator").unwrap_or("\t").to_string();
    let ignore_error = reader_props.get("ignore.error").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let codec = opts.value("compression-codec").filter(|_| opts.has("compression-codec")).unwrap_or("none");
    if crate::message::CompressionCodec::parse(codec).is_none() {
        // Thrown by 0.8.2's ProducerConfig and printed as a stack trace: no usage.
        return Err(ToolError::Failed(format!("kafka.common.UnknownCodecException: {} is an unknown compression codec", codec)));
    }
    let mut props = Properties::new();
    props.set("metadata.broker.list", opts.value("broker-list").unwrap_or(""));
    props.set("compression.codec", codec);
    props.set("producer.type", if opts.has("sync") { "sync" } else { "async" });
    for (key, opt) in [
        ("batch.num.messages", "batch-size"),
        ("message.send.max.retries", "message-send-max-retries"),
        ("retry.backoff.ms", "retry-backoff-ms"),
        ("queue.buffering.max.ms", "timeout"),
        ("queue.buffering.max.messages", "queue-size"),
        ("queue.enqueue.timeout.ms", "queue-enqueuetimeout-ms"),
        ("request.required.acks", "request-required-acks"),
        ("request.timeout.ms", "request-timeout-ms"),
        ("topic.metadata.refresh.interval.ms", "metadata-expiry-ms"),
        ("send.buffer.bytes", "socket-buffer-size"),
    ] {
        props.set(key, opts.value(opt).unwrap_or(""));
    }
    // As 0.8.2's ConsoleProducer: the key encoder decides how keys are hashed to
    // partitions (StringEncoder: Java's String.hashCode, as a Java 0.8.2 producer would).
    // 0.8.2 declared --message-encoder but never read it; neither do we.
    props.set("key.serializer.class", opts.value("key-serializer").unwrap_or(""));
    props.set("serializer.class", opts.value("value-serializer").unwrap_or(""));
    props.set("client.id", "console-producer");
    let producer = BlockingProducer::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?;
    let stdin = std::io::stdin();
    let mut failed = false;
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| ToolError::Failed(format!("cannot read stdin: {}", e)))?;
        let msg = if parse_key {
            match line.split_once(key_separator.as_str()) {
                Some((k, v)) => KeyedMessage::with_key(topic.clone(), k.as_bytes().to_vec(), v.as_bytes().to_vec()),
                None if ignore_error => KeyedMessage::new(topic.clone(), line.as_bytes().to_vec()),
                // 0.8.2's LineMessageReader threw this (lines counted from 1); what was read
                // before it is still sent, as 0.8.2's shutdown hook closed the producer.
                None => {
                    return Err(ToolError::Failed(format!(
                        "kafka.common.KafkaException: No key found on line {}: {}",
                        n + 1,
                        line
                    )))
                }
            }
        } else {
            KeyedMessage::new(topic.clone(), line.into_bytes())
        };
        if let Err(e) = producer.send_one(msg) {
            eprintln!("{}", e);
            failed = true;
        }
    }
    if let Err(e) = producer.close() {
        eprintln!("{}", e);
        failed = true;
    }
    if failed {
        Err(ToolError::Failed(String::new()))
    } else {
        Ok(())
    }
}

/// The options 0.8.2 declared `ofType(classOf[java.lang.Integer])`.
const INT_OPTIONS: &[&str] = &[
    "batch-size",
    "message-send-max-retries",
    "retry-backoff-ms",
    "timeout",
    "queue-size",
    "queue-enqueuetimeout-ms",
    "request-required-acks",
    "request-timeout-ms",
    "socket-buffer-size",
];

/// 0.8.2 `ToolsUtils.validatePortOrDie`: every comma-separated entry (Java's `split`, so
/// trailing empty entries are dropped) must match the client `Utils.getPort` pattern.
pub(crate) fn valid_broker_list(list: &str) -> bool {
    let pattern = regex::Regex::new(r"^.*?\[?([0-9a-zA-Z\-.:]*)\]?:([0-9]+)$").expect("constant regex");
    let mut entries: Vec<&str> = list.split(',').collect();
    while entries.len() > 1 && entries.last() == Some(&"") {
        entries.pop();
    }
    entries.iter().all(|e| pattern.captures(e).is_some_and(|c| c[2].parse::<i32>().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::valid_broker_list;

    #[test]
    fn broker_lists_are_checked_as_082_did() {
        for ok in ["h:9092", "h1:9091,h2:9092", "10.0.0.1:1,", "[::1]:9092", ":9092"] {
            assert!(valid_broker_list(ok), "{ok}");
        }
        for bad in ["", "h", "h:", "h:x", "h:1,h2", ",h:1", "h:1,,h:2", "h:99999999999"] {
            assert!(!valid_broker_list(bad), "{bad}");
        }
    }
}
