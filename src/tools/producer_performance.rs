//! `kafka.tools.ProducerPerformance` (`bin/kafka-producer-perf-test.sh`): send `--messages`
//! messages from `--threads` producers and print 0.8.2's header and one summary line
//! (`start.time, end.time, compression, message.size, batch.size, total.data.sent.in.MB,
//! MB.sec, total.data.sent.in.nMsg, nMsg.sec`).
//!
//! As in 0.8.2: each thread sends `messages / threads` messages to every topic of `--topics`,
//! with the async producer batching `--batch-size` messages (sync with `--sync`), values of
//! `--message-size` zero bytes (or 1..=size with `--vary-message-size`, or the
//! `Topic:<t>:ThreadID:<n>:MessageID:<10 digits>:xxx...` text with `--initial-message-id`),
//! no stored key and the message number as the partition key. 0.8.2 printed no periodic
//! lines here (`--show-detailed-stats` and `--reporting-interval` are accepted and do
//! nothing), nor does `--csv-reporter-enabled` write anything in kafka08 (no metrics
//! registry). `--new-producer` is accepted; kafka08 has one producer.
//!
//! Unlike 0.8.2, which only logged a failed send, a run in which some message was not
//! acknowledged ends with an error line on stderr and exit code 1 (after the summary).

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use super::perf::{init_tool_logging, jfixed, mb, now_ms, perf_config, PerfSettings};
use crate::common::Properties;
use crate::producer::{KeyedMessage, Producer, ProducerConfig};
use bytes::Bytes;
use std::sync::Arc;

fn parser() -> OptionParser {
    perf_config("A tool to test the producer performance: it sends messages and prints the throughput.")
        .arg("broker-list", "REQUIRED: broker info (the list of broker host and port for bootstrap.", "hostname:port,..,hostname:port")
        .arg("topics", "REQUIRED: The comma separated list of topics to produce to", "topic1,topic2..")
        .arg_default("request-timeout-ms", "The produce request timeout in ms", "Integer", "3000")
        .arg_default("producer-num-retries", "The producer retries number", "Integer", "3")
        .arg_default("producer-retry-backoff-ms", "The producer retry backoff time in milliseconds", "Integer", "100")
        .arg_default("request-num-acks", "Number of acks required for producer request to complete", "Integer", "-1")
        .flag("vary-message-size", "If set, message size will vary up to the given maximum.")
        .flag("sync", "If set, messages are sent synchronously.")
        .arg_default("threads", "Number of sending threads.", "Integer: number of threads", "1")
        .arg(
            "initial-message-id",
            "The is used for generating test data, If set, messages will be tagged with an ID and sent by producer starting from this ID sequentially. Message content will be String type and in the form of 'Message:000...1:xxx...'",
            "Integer: initial message id",
        )
        .arg_default("message-send-gap-ms", "If set, the send thread will wait for specified time between two sends", "Integer: message send time gap", "0")
        .flag("csv-reporter-enabled", "If set, the CSV metrics reporter will be enabled")
        .arg("metrics-dir", "If csv-reporter-enable is set, and this parameter isset, the csv metrics will be outputed here", "metrics dictory")
        .flag("new-producer", "Use the new producer implementation.")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

/// Everything a sending thread needs.
struct Plan {
    topics: Vec<String>,
    messages_per_thread: i64,
    message_size: usize,
    fixed_size: bool,
    initial_message_id: Option<i64>,
    send_gap_ms: u64,
    sync: bool,
}

/// What one thread sent.
#[derive(Default)]
struct ThreadResult {
    bytes: u64,
    messages: u64,
    failed: u64,
    last_error: Option<String>,
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["topics", "broker-list", "messages"])?;
    let settings = PerfSettings::from_options(&opts)?;
    let topics: Vec<String> = opts.value("topics").unwrap_or("").split(',').map(str::to_string).collect();
    if topics.iter().any(|t| t.trim().is_empty()) {
        return Err(UsageError("Invalid value for --topics: empty topic name".into()).into());
    }
    let threads: i32 = opts.parse_value("threads")?.unwrap_or(1);
    if threads < 1 {
        return Err(UsageError(format!("Invalid value for --threads: {} (must be at least 1)", threads)).into());
    }
    if settings.message_size < 0 || (settings.message_size == 0 && opts.has("vary-message-size")) {
        return Err(UsageError(format!("Invalid value for --message-size: {}", settings.message_size)).into());
    }
    let gap: i32 = opts.parse_value("message-send-gap-ms")?.unwrap_or(0);
    let initial_message_id: Option<i32> = opts.parse_value("initial-message-id")?;
    let acks: i32 = opts.parse_value("request-num-acks")?.unwrap_or(-1);
    let timeout: i32 = opts.parse_value("request-timeout-ms")?.unwrap_or(3000);
    let retries: i32 = opts.parse_value("producer-num-retries")?.unwrap_or(3);
    let backoff: i32 = opts.parse_value("producer-retry-backoff-ms")?.unwrap_or(100);
    let sync = opts.has("sync");

    // The properties 0.8.2's ProducerThread gave its (old) producer.
    let mut props = Properties::new();
    props.set("metadata.broker.list", opts.value("broker-list").unwrap_or(""));
    props.set("compression.codec", (settings.compression_codec as u8).to_string());
    props.set("send.buffer.bytes", (64 * 1024).to_string());
    if !sync {
        props.set("producer.type", "async");
        props.set("batch.num.messages", settings.batch_size.to_string());
        props.set("queue.enqueue.timeout.ms", "-1");
    }
    props.set("client.id", "producer-performance");
    props.set("request.required.acks", acks.to_string());
    props.set("request.timeout.ms", timeout.to_string());
    props.set("message.send.max.retries", retries.to_string());
    props.set("retry.backoff.ms", backoff.to_string());
    let config = ProducerConfig::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?;
    init_tool_logging();

    let plan = Arc::new(Plan {
        topics,
        messages_per_thread: settings.messages / threads as i64,
        message_size: settings.message_size as usize,
        fixed_size: !opts.has("vary-message-size"),
        initial_message_id: initial_message_id.map(i64::from),
        send_gap_ms: gap.max(0) as u64,
        sync,
    });
    if !plan.fixed_size {
        log::info!("WARN: Throughput will be slower due to changing message size per request");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ToolError::Failed(e.to_string()))?;
    if !settings.hide_header {
        println!(
            "start.time, end.time, compression, message.size, batch.size, total.data.sent.in.MB, MB.sec, total.data.sent.in.nMsg, nMsg.sec"
        );
    }
    let start_ms = now_ms();
    let results: Vec<ThreadResult> = rt.block_on(async {
        let handles: Vec<_> = (0..threads)
            .map(|id| {
                let producer = Producer::new(config.clone());
                tokio::spawn(producer_thread(id, producer, plan.clone()))
            })
            .collect();
        let mut results = Vec::new();
        for h in handles {
            match h.await {
                Ok(r) => results.push(r),
                Err(e) => results.push(ThreadResult { failed: 1, last_error: Some(e.to_string()), ..Default::default() }),
            }
        }
        results
    });
    let end_ms = now_ms();
    let elapsed_secs = (end_ms - start_ms) as f64 / 1000.0;
    let bytes: u64 = results.iter().map(|r| r.bytes).sum();
    let messages: u64 = results.iter().map(|r| r.messages).sum();
    let total_mb = mb(bytes);
    println!(
        "{}, {}, {}, {}, {}, {}, {}, {}, {}",
        settings.date_format.format(start_ms),
        settings.date_format.format(end_ms),
        settings.compression_codec as u8,
        settings.message_size,
        settings.batch_size,
        jfixed(total_mb, 2),
        jfixed(total_mb / elapsed_secs, 4),
        messages,
        jfixed(messages as f64 / elapsed_secs, 4)
    );
    let failed: u64 = results.iter().map(|r| r.failed).sum();
    if failed > 0 {
        let last = results.iter().rev().find_map(|r| r.last_error.clone()).unwrap_or_default();
        return Err(ToolError::Failed(format!("Error: {} messages were not acknowledged by the brokers: {}", failed, last)));
    }
    Ok(())
}

/// 0.8.2 `ProducerThread.run`: `messages_per_thread` rounds, one message per topic each.
async fn producer_thread(thread_id: i32, producer: Producer, plan: Arc<Plan>) -> ThreadResult {
    let mut result = ThreadResult::default();
    let mut rng = XorShift::seeded(thread_id as u64);
    // Zero-filled values of each size share one buffer (0.8.2 sent `new Array[Byte](size)`).
    let zeros = Bytes::from(vec![0u8; plan.message_size]);
    // Async mode queues messages a chunk at a time (the producer still batches them by
    // `batch.num.messages`); sync mode and a send gap send each message on its own.
    let chunk = if plan.sync || plan.send_gap_ms > 0 { 1 } else { SEND_CHUNK };
    let mut pending: Vec<KeyedMessage> = Vec::with_capacity(chunk);
    let mut pending_bytes = 0u64;
    // Partition keys are cut from one buffer per chunk rather than allocated one by one.
    let mut keys = bytes::BytesMut::new();
    let mut i: i64 = 0;
    while i < plan.messages_per_thread {
        for topic in &plan.topics {
            let size = if plan.fixed_size { plan.message_size } else { 1 + rng.below(plan.message_size) };
            let value = match plan.initial_message_id {
                Some(initial) => {
                    let id = initial + plan.messages_per_thread * thread_id as i64 + i;
                    Bytes::from(message_with_seq_id(topic, thread_id, id, size))
                }
                None => zeros.slice(..size),
            };
            pending_bytes += value.len() as u64;
            pending.push(KeyedMessage {
                topic: topic.clone(),
                key: None,
                part_key: Some(java_big_integer_key(&mut keys, i, chunk)),
                value: Some(value),
            });
            if pending.len() >= chunk {
                let messages = std::mem::replace(&mut pending, Vec::with_capacity(chunk));
                send(&producer, messages, std::mem::take(&mut pending_bytes), plan.sync, &mut result).await;
            }
            if plan.send_gap_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(plan.send_gap_ms)).await;
            }
        }
        i += 1;
    }
    if !pending.is_empty() {
        send(&producer, pending, pending_bytes, plan.sync, &mut result).await;
    }
    if let Err(e) = producer.close().await {
        log::error!("Error when closing producer: {}", e);
        // Async mode: what the background task could not send was counted as sent above.
        let unsent = producer.failed_message_count();
        result.failed += unsent.max(1);
        result.messages = result.messages.saturating_sub(unsent);
        result.last_error = Some(e.to_string());
    }
    result
}

/// Messages handed to the async producer per call.
const SEND_CHUNK: usize = 500;

async fn send(producer: &Producer, messages: Vec<KeyedMessage>, bytes: u64, sync: bool, result: &mut ThreadResult) {
    let n = messages.len() as u64;
    match producer.send(messages).await {
        Ok(()) => {
            result.bytes += bytes;
            result.messages += n;
        }
        Err(e) => {
            if sync {
                log::error!("Error when sending message: {}", e);
            }
            result.failed += n;
            result.last_error = Some(e.to_string());
        }
    }
}

/// 0.8.2 `generateMessageWithSeqId`: the header left-justified in `size` characters, the
/// padding (and any other space) replaced by 'x'.
fn message_with_seq_id(topic: &str, thread_id: i32, id: i64, size: usize) -> Vec<u8> {
    let header = format!("Topic:{}:ThreadID:{}:MessageID:{:010}:", topic, thread_id, id);
    format!("{:<width$}", header, width = size).replace(' ', "x").into_bytes()
}

/// [`java_big_integer_bytes`] of `i` as a slice of `buf`, which is refilled `chunk` keys at
/// a time.
fn java_big_integer_key(buf: &mut bytes::BytesMut, i: i64, chunk: usize) -> Bytes {
    let b = i.to_be_bytes();
    let start = big_integer_start(&b);
    if buf.capacity() - buf.len() < 8 {
        *buf = bytes::BytesMut::with_capacity(8 * chunk.max(1));
    }
    buf.extend_from_slice(&b[start..]);
    buf.split().freeze()
}

/// `java.math.BigInteger.valueOf(i).toByteArray`: the shortest big-endian two's complement.
#[cfg(test)]
fn java_big_integer_bytes(i: i64) -> Vec<u8> {
    let b = i.to_be_bytes();
    b[big_integer_start(&b)..].to_vec()
}

/// Where the shortest two's complement form of `b` starts.
fn big_integer_start(b: &[u8; 8]) -> usize {
    let mut start = 0;
    while start < 7 {
        let (cur, next) = (b[start], b[start + 1]);
        let redundant = (cur == 0x00 && next & 0x80 == 0) || (cur == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    start
}

/// A small per-thread generator for `--vary-message-size` (0.8.2 used `java.util.Random`).
struct XorShift(u64);

impl XorShift {
    fn seeded(salt: u64) -> XorShift {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        XorShift((t ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_id_messages_are_0_8_2s() {
        let m = message_with_seq_id("t", 1, 42, 50);
        assert_eq!(m.len(), 50);
        assert_eq!(String::from_utf8(m).unwrap(), format!("Topic:t:ThreadID:1:MessageID:0000000042:{}", "x".repeat(10)));
        // A header longer than the size is not cut (String.format does not truncate).
        assert_eq!(message_with_seq_id("t", 0, 7, 5).len(), "Topic:t:ThreadID:0:MessageID:0000000007:".len());
    }

    #[test]
    fn big_integer_bytes_are_minimal_twos_complement() {
        assert_eq!(java_big_integer_bytes(0), vec![0]);
        assert_eq!(java_big_integer_bytes(127), vec![0x7f]);
        assert_eq!(java_big_integer_bytes(128), vec![0x00, 0x80]);
        assert_eq!(java_big_integer_bytes(-1), vec![0xff]);
        assert_eq!(java_big_integer_bytes(65536), vec![0x01, 0x00, 0x00]);
        let mut buf = bytes::BytesMut::new();
        for i in [0i64, 127, 128, -1, 65536, i64::MAX] {
            assert_eq!(java_big_integer_key(&mut buf, i, 2).to_vec(), java_big_integer_bytes(i));
        }
    }
}
