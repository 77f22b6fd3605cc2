//! `kafka.tools.SimpleConsumerShell` (`bin/kafka-simple-consumer-shell.sh`): fetch one
//! partition straight from one replica (the leader by default) as the debugging consumer
//! (replica id -2), printing each message with the console consumer's formatters, as 0.8.2.

use super::get_offset_shell::parse_broker_list;
use super::options::{run_tool, usage_and_die, OptionParser, Options, ToolError, UsageError};
use crate::api::{Broker, FetchPartition, FetchRequest, FetchTopic, MetadataRequest, MetadataResponse, DEBUGGING_REPLICA_ID, EARLIEST_TIME};
use crate::common::ErrorCode;
use crate::consumer::simple::{MessageAndOffset, SimpleConsumer};
use crate::message::{deep_iter, shallow_iter, CompressionCodec, Message};
use crate::network::BrokerConnection;
use std::io::Write;
use std::time::Duration;

const SUMMARY: &str = "A low-level tool for fetching data directly from a particular replica.";
/// 0.8.2 `ConsumerConfig.MinFetchBytes`.
const MIN_FETCH_BYTES: i32 = 1;

fn parser() -> OptionParser {
    OptionParser::new(SUMMARY)
        .arg("broker-list", "REQUIRED: The list of hostname and port of the server to connect to.", "hostname:port,...,hostname:port")
        .arg("topic", "REQUIRED: The topic to consume from.", "topic")
        .arg_default("partition", "The partition to consume from.", "partition", "0")
        .arg_default("replica", "The replica id to consume from, default -1 means leader broker.", "replica id", "-1")
        .arg_default("offset", "The offset id to consume from, default to -2 which means from beginning; while value -1 means from end", "consume offset", "-2")
        .arg_default("clientId", "The ID of this client.", "clientId", "SimpleConsumerShell")
        .arg_default("fetchsize", "The fetch size of each request.", "fetchsize", (1024 * 1024).to_string())
        .arg_default("formatter", "The name of a class to use for formatting kafka messages for display.", "class", "kafka.tools.DefaultMessageFormatter")
        .arg("property", "", "prop")
        .flag("print-offsets", "Print the offsets returned by the iterator")
        .arg_default("max-wait-ms", "The max amount of time each fetch request waits.", "ms", "1000")
        .arg_default("max-messages", "The number of messages to consume", "max-messages", i32::MAX.to_string())
        .flag("skip-message-on-error", "If there is an error when processing a message, skip it instead of halt.")
        .flag("no-wait-at-logend", "If set, when the simple consumer reaches the end of the Log, it will stop, not waiting for new produced messages")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    if args.is_empty() {
        return usage_and_die(&p, SUMMARY);
    }
    run_tool(&p, args, |opts| run(&p, opts))
}

/// The console consumer's message formatters (0.8.2 `kafka.tools.*MessageFormatter`).
#[derive(Debug, Clone)]
pub enum Formatter {
    /// `print.key` (false), `key.separator` ("\t"), `line.separator` ("\n"); a null key or
    /// value prints as `null`.
    Default { print_key: bool, key_separator: Vec<u8>, line_separator: Vec<u8> },
    /// Prints nothing.
    NoOp,
    /// `[<topic>:]checksum:<crc of a message built from key and value>`.
    Checksum { topic_prefix: String },
}

impl Formatter {
    /// The formatter named by `--formatter`, configured by `--property key=value` words.
    pub fn new(class: &str, properties: &[&str]) -> Result<Formatter, ToolError> {
        let mut props = std::collections::HashMap::new();
        for kv in properties {
            match kv.split_once('=') {
                Some((k, v)) => {
                    props.insert(k.to_string(), v.to_string());
                }
                None => return Err(ToolError::Failed(format!("Invalid parser arguments: {}", properties.join(" ")))),
            }
        }
        let short = class.rsplit('.').next().unwrap_or(class);
        match short {
            "DefaultMessageFormatter" => Ok(Formatter::Default {
                print_key: props.get("print.key").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
                key_separator: props.get("key.separator").map_or(b"\t".to_vec(), |s| s.as_bytes().to_vec()),
                line_separator: props.get("line.separator").map_or(b"\n".to_vec(), |s| s.as_bytes().to_vec()),
            }),
            "NoOpMessageFormatter" => Ok(Formatter::NoOp),
            "ChecksumMessageFormatter" => {
                Ok(Formatter::Checksum { topic_prefix: props.get("topic").map(|t| format!("{}:", t)).unwrap_or_default() })
            }
            _ => Err(ToolError::Failed(format!("Error: unknown message formatter class {}", class))),
        }
    }

    /// The bytes printed for one message.
    pub fn format(&self, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
        match self {
            Formatter::Default { print_key, key_separator, line_separator } => {
                let mut out = Vec::new();
                if *print_key {
                    out.extend_from_slice(key.unwrap_or(b"null"));
                    out.extend_from_slice(key_separator);
                }
                out.extend_from_slice(value.unwrap_or(b"null"));
                out.extend_from_slice(line_separator);
                out
            }
            Formatter::NoOp => Vec::new(),
            Formatter::Checksum { topic_prefix } => {
                let crc = Message::new(key, value, CompressionCodec::None).crc();
                format!("{}checksum:{}\n", topic_prefix, crc).into_bytes()
            }
        }
    }
}

fn failed(msg: impl Into<String>) -> ToolError {
    ToolError::Failed(msg.into())
}

/// 0.8.2 `ClientUtils.fetchTopicMetadata`: ask the brokers of the list in turn until one
/// answers.
pub(crate) async fn fetch_metadata(brokers: &[(String, u16)], topics: &[String], client_id: &str, timeout: Duration) -> Result<MetadataResponse, ToolError> {
    for (h, port) in brokers {
        if let Ok(mut c) = BrokerConnection::connect(h, *port, timeout).await {
            c.set_request_timeout(timeout);
            if let Ok(md) = c.send(client_id, &MetadataRequest { topics: topics.to_vec() }).await {
                return Ok(md);
            }
        }
    }
    let list = brokers.iter().map(|(h, p)| format!("{}:{}", h, p)).collect::<Vec<_>>().join(",");
    Err(failed(format!("Error: fetching topic metadata for topics [{}] from broker [{}] failed", topics.join(","), list)))
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["broker-list", "topic"])?;
    let brokers = parse_broker_list(opts.value("broker-list").unwrap_or(""))?;
    if brokers.is_empty() {
        return Err(UsageError("Please provide valid host:port like host1:9091,host2:9092".into()).into());
    }
    let topic = opts.value("topic").unwrap_or("").to_string();
    let partition: i32 = opts.parse_value("partition")?.unwrap_or(0);
    let replica: i32 = opts.parse_value("replica")?.unwrap_or(-1);
    let offset_opt: i64 = opts.parse_value("offset")?.unwrap_or(EARLIEST_TIME);
    let client_id = opts.value("clientId").unwrap_or("SimpleConsumerShell").to_string();
    let fetch_size: i32 = opts.parse_value("fetchsize")?.unwrap_or(1024 * 1024);
    let max_wait_ms: i32 = opts.parse_value("max-wait-ms")?.unwrap_or(1000);
    let max_messages: i64 = opts.parse_value("max-messages")?.unwrap_or(i32::MAX as i64);
    let skip_errors = opts.has("skip-message-on-error");
    let print_offsets = opts.has("print-offsets");
    let no_wait = opts.has("no-wait-at-logend");
    let formatter = Formatter::new(opts.value("formatter").unwrap_or("kafka.tools.DefaultMessageFormatter"), &opts.values("property"))?;
    if fetch_size <= 0 {
        return Err(UsageError(format!("Invalid fetch size {} (must be positive)", fetch_size)).into());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| failed(e.to_string()))?;
    rt.block_on(async move {
        let timeout = Duration::from_secs(10);
        let md = fetch_metadata(&brokers, std::slice::from_ref(&topic), &client_id, timeout).await?;
        let Some(tm) = md.topics.iter().find(|t| t.topic == topic).filter(|_| md.topics.len() == 1) else {
            return Err(failed(format!("Error: no valid topic metadata for topic: {}, what we get from server is only: {:?}", topic, md.topics)));
        };
        let Some(pm) = tm.partitions.iter().find(|p| p.partition == partition) else {
            return Err(failed(format!("Error: partition {} does not exist for topic {}", partition, topic)));
        };
        let broker_of = |id: i32| -> Option<Broker> { md.brokers.iter().find(|b| b.id == id).cloned() };
        let target = if replica == -1 {
            // (0.8.2's text, typo included.)
            broker_of(pm.leader).ok_or_else(|| {
                failed(format!("Error: user speicifies to fetch from leader for partition ({}, {}) which has not been elected yet", topic, partition))
            })?
        } else {
            pm.replicas
                .iter()
                .find(|r| **r == replica)
                .and_then(|r| broker_of(*r))
                .ok_or_else(|| failed(format!("Error: replica {} does not exist for partition ({}, {})", replica, topic, partition)))?
        };
        if offset_opt < EARLIEST_TIME {
            return Err(failed(format!("Invalid starting offset: {}", offset_opt)));
        }
        // Long polls wait up to max-wait-ms on the broker: the socket waits longer.
        let so_timeout = Duration::from_millis(10_000 + max_wait_ms.max(0) as u64);
        let mut consumer = SimpleConsumer::new(target.host.clone(), target.port as u16, so_timeout, 64 * 1024, client_id.clone());
        let mut offset = offset_opt;
        if offset < 0 {
            let found = consumer.offsets_before_as(&topic, partition, offset, 1, DEBUGGING_REPLICA_ID).await.ok().and_then(|o| o.first().copied());
            offset = found.ok_or_else(|| {
                failed(format!("Error in getting earliest or latest offset of partition ({}, {}) from broker {}", topic, partition, target.id))
            })?;
        }
        log::info!(
            "Starting simple consumer shell to partition [{}, {}], replica [{}], host and port: [{}, {}], from offset [{}]",
            topic, partition, replica, target.host, target.port, offset
        );
        let stdout = std::io::stdout();
        let mut consumed: i64 = 0;
        while consumed < max_messages {
            let request = FetchRequest {
                replica_id: DEBUGGING_REPLICA_ID,
                max_wait_ms,
                min_bytes: MIN_FETCH_BYTES,
                topics: vec![FetchTopic { topic: topic.clone(), partitions: vec![FetchPartition { partition, fetch_offset: offset, max_bytes: fetch_size }] }],
            };
            let consuming = |e: &dyn std::fmt::Display| {
                failed(format!("Error consuming topic, partition, replica ({}, {}, {}) with offset [{}]: {}", topic, partition, replica, offset, e))
            };
            let response = consumer.fetch_request(&request).await.map_err(|e| consuming(&e))?;
            let Some(data) = response.topics.into_iter().filter(|t| t.topic == topic).flat_map(|t| t.partitions).find(|p| p.partition == partition) else {
                return Err(consuming(&"the response has no data for the partition"));
            };
            if data.error_code != ErrorCode::NoError {
                return Err(consuming(&data.error_code));
            }
            let set = data.message_set;
            let fetched = decode_set(&set, offset, skip_errors).map_err(|e| consuming(&e))?;
            if fetched.valid_bytes == 0 && !set.is_empty() {
                return Err(consuming(&format!(
                    "Found a message larger than the maximum fetch size of this consumer at fetch offset {}. Increase the fetch size (now {}), or decrease the maximum message size the broker will allow.",
                    offset, fetch_size
                )));
            }
            if fetched.valid_bytes == 0 && no_wait {
                println!("Terminating. Reached the end of partition ({}, {}) at offset {}", topic, partition, offset);
                return Ok(());
            }
            for item in &fetched.items {
                if consumed >= max_messages {
                    break;
                }
                let (next, key, value) = match item {
                    Item::Skipped(next) => {
                        offset = *next;
                        continue;
                    }
                    Item::Message(m) => (m.next_offset(), m.message.key(), m.message.value()),
                };
                offset = next;
                let mut out = Vec::new();
                if print_offsets {
                    out.extend_from_slice(format!("next offset = {}\n", offset).as_bytes());
                }
                out.extend_from_slice(&formatter.format(key.as_deref(), value.as_deref()));
                let mut lock = stdout.lock();
                if lock.write_all(&out).and_then(|_| lock.flush()).is_err() {
                    // Nobody reads our output any more (a pipe to `head`).
                    return Err(failed("Unable to write to standard out, closing consumer."));
                }
                consumed += 1;
            }
        }
        log::info!("Consumed {} messages", consumed);
        Ok(())
    })
}

/// One fetched entry at or after the fetch offset: a message, or a corrupt one skipped
/// (`--skip-message-on-error`) with the offset after it.
enum Item {
    Message(MessageAndOffset),
    Skipped(i64),
}

struct Decoded {
    items: Vec<Item>,
    /// Bytes of complete entries (0.8.2 `validBytes`).
    valid_bytes: usize,
}

/// Decode a fetched set: complete entries only, compressed wrappers opened, messages below
/// `offset` dropped (a wrapper comes back whole), CRCs checked. A corrupt message is an
/// error, or with `skip` an [`Item::Skipped`] reported on stderr as 0.8.2 did.
fn decode_set(set: &bytes::Bytes, offset: i64, skip: bool) -> Result<Decoded, String> {
    let mut items = Vec::new();
    let mut valid_bytes = 0;
    let corrupt = |at: i64, e: &dyn std::fmt::Display, items: &mut Vec<Item>| -> Result<(), String> {
        if skip {
            eprintln!("Error processing message, skipping this message: corrupt message at offset {}: {}", at, e);
            items.push(Item::Skipped(at + 1));
            Ok(())
        } else {
            Err(format!("corrupt message at offset {}: {}", at, e))
        }
    };
    for entry in shallow_iter(set.clone()) {
        let entry = entry.map_err(|e| format!("corrupt message set at offset {}: {}", offset, e))?;
        let end = entry.position + entry.size();
        valid_bytes = end;
        if entry.offset < offset {
            continue;
        }
        if let Err(e) = entry.message.validate() {
            corrupt(entry.offset, &e, &mut items)?;
            continue;
        }
        if !entry.message.is_compressed() {
            items.push(Item::Message(MessageAndOffset { offset: entry.offset, message: entry.message }));
            continue;
        }
        for inner in deep_iter(set.slice(entry.position..end)) {
            match inner {
                Ok(inner) if inner.offset < offset => {}
                Ok(inner) => match inner.message.validate() {
                    Ok(()) => items.push(Item::Message(MessageAndOffset { offset: inner.offset, message: inner.message })),
                    Err(e) => corrupt(inner.offset, &e, &mut items)?,
                },
                Err(e) => {
                    corrupt(entry.offset, &e, &mut items)?;
                    break;
                }
            }
        }
    }
    Ok(Decoded { items, valid_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_formatter_prints_value_or_key_and_value() {
        let f = Formatter::new("kafka.tools.DefaultMessageFormatter", &[]).unwrap();
        assert_eq!(f.format(Some(b"k"), Some(b"v")), b"v\n");
        assert_eq!(f.format(None, None), b"null\n");
        let f = Formatter::new("kafka.tools.DefaultMessageFormatter", &["print.key=true", "key.separator=:"]).unwrap();
        assert_eq!(f.format(Some(b"k"), Some(b"v")), b"k:v\n");
        assert_eq!(f.format(None, Some(b"v")), b"null:v\n");
        assert!(Formatter::new("kafka.tools.DefaultMessageFormatter", &["print.key"]).is_err());
        assert!(Formatter::new("com.example.Nope", &[]).is_err());
        let f = Formatter::new("kafka.tools.ChecksumMessageFormatter", &["topic=t"]).unwrap();
        let crc = Message::new(None, Some(b"v"), CompressionCodec::None).crc();
        assert_eq!(f.format(None, Some(b"v")), format!("t:checksum:{}\n", crc).into_bytes());
    }
}
