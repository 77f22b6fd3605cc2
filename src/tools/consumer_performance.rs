//! `kafka.tools.ConsumerPerformance` (`bin/kafka-consumer-perf-test.sh`): read a topic with
//! the high-level (ZooKeeper) consumer in `--threads` streams and print 0.8.2's header and
//! summary line (`start.time, end.time, fetch.size, data.consumed.in.MB, MB.sec,
//! data.consumed.in.nMsg, nMsg.sec`), or with `--show-detailed-stats` one line per stream
//! every `--reporting-interval` messages and at its end.
//!
//! As in 0.8.2: the group's znodes (`/consumers/<group>`) are deleted before the run, so
//! it reads from the earliest offset (the latest with `--from-latest`); the group defaults
//! to `perf-consumer-<random>`; `consumer.timeout.ms` is 5000, and each stream ends after
//! `--messages` messages or 5 s without one. Bytes are message payload bytes.
//!
//! Two 0.8.2 bugs are fixed, keeping the output's shape: a stream that has read
//! `--messages` stops at once (0.8.2 waited for one more message or the timeout), and the
//! rates are taken over the time from the start to the last message read (0.8.2 subtracted
//! the 5 s timeout from the whole run, which goes negative when no stream times out).

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use super::perf::{init_tool_logging, jfixed, mb, now_ms, perf_config, DateFormat, PerfSettings};
use crate::common::Properties;
use crate::consumer::zk::{ConsumerConfig, ConsumerError, KafkaStream, ZookeeperConsumerConnector};
use crate::zk::{paths, ZkClient};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// 0.8.2's tool set `consumer.timeout.ms` to this.
const CONSUMER_TIMEOUT_MS: i64 = 5000;

fn parser() -> OptionParser {
    perf_config("A tool to test the high-level (ZooKeeper) consumer performance: it reads a topic and prints the throughput.")
        .arg("zookeeper", "REQUIRED: The connection string for the zookeeper connection in the form host:port. Multiple URLS can be given to allow fail-over.", "urls")
        .arg("topic", "REQUIRED: The topic to consume from.", "topic")
        .arg_default("group", "The group id to consume on.", "gid", format!("perf-consumer-{}", random_below(100_000)))
        .arg_default("fetch-size", "The amount of data to fetch in a single request.", "Integer: size", (1024 * 1024).to_string())
        .flag("from-latest", "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message.")
        .arg_default("socket-buffer-size", "The size of the tcp RECV size.", "Integer: size", (2 * 1024 * 1024).to_string())
        .arg_default("threads", "Number of processing threads.", "Integer: count", "10")
        .arg_default("num-fetch-threads", "Number of fetcher threads.", "Integer: count", "1")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

/// What a stream thread reports at its end.
#[derive(Default, Clone, Copy)]
struct StreamResult {
    messages: u64,
    bytes: u64,
    /// When it read its last message (ms), if it read any.
    last_message_ms: Option<i64>,
}

struct Reporting {
    settings: PerfSettings,
    fetch_size: i32,
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["topic", "zookeeper"])?;
    let settings = PerfSettings::from_options(&opts)?;
    let threads: i32 = opts.parse_value("threads")?.unwrap_or(10);
    if threads < 1 {
        return Err(UsageError(format!("Invalid value for --threads: {} (must be at least 1)", threads)).into());
    }
    let fetch_size: i32 = opts.parse_value("fetch-size")?.unwrap_or(1024 * 1024);
    let socket_buffer: i32 = opts.parse_value("socket-buffer-size")?.unwrap_or(2 * 1024 * 1024);
    let fetchers: i32 = opts.parse_value("num-fetch-threads")?.unwrap_or(1);
    if settings.reporting_interval < 1 {
        return Err(UsageError(format!("Invalid value for --reporting-interval: {}", settings.reporting_interval)).into());
    }
    let group = opts.value("group").unwrap_or("").to_string();
    let topic = opts.value("topic").unwrap_or("").to_string();
    let zk_connect = opts.value("zookeeper").unwrap_or("").to_string();

    let mut props = Properties::new();
    props.set("group.id", group.clone());
    props.set("socket.receive.buffer.bytes", socket_buffer.to_string());
    props.set("fetch.message.max.bytes", fetch_size.to_string());
    props.set("auto.offset.reset", if opts.has("from-latest") { "largest" } else { "smallest" });
    props.set("zookeeper.connect", zk_connect.clone());
    props.set("consumer.timeout.ms", CONSUMER_TIMEOUT_MS.to_string());
    props.set("num.consumer.fetchers", fetchers.to_string());
    let config = ConsumerConfig::from_properties(&props).map_err(|e| ToolError::Failed(e.to_string()))?;
    init_tool_logging();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ToolError::Failed(e.to_string()))?;
    let reporting = Arc::new(Reporting { settings, fetch_size });
    let settings = &reporting.settings;
    if !settings.hide_header {
        if !settings.show_detailed_stats {
            println!("start.time, end.time, fetch.size, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec");
        } else {
            println!("time, fetch.size, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec");
        }
    }
    let reporting2 = reporting.clone();
    let (start_ms, end_ms, results) = rt.block_on(async move {
        // 0.8.2: "clean up zookeeper state for this group id for every perf run"
        // (ZkUtils.maybeDeletePath, which ignores every error).
        let zk = ZkClient::connect(&zk_connect, Duration::from_secs(30), Duration::from_secs(30))
            .await
            .map_err(|e| ToolError::Failed(format!("Error: cannot connect to ZooKeeper at {}: {}", zk_connect, e)))?;
        if let Err(e) = zk.delete_recursive(&paths::consumer_group(&group)).await {
            log::warn!("could not delete {}: {}", paths::consumer_group(&group), e);
        }
        drop(zk);
        let connector = ZookeeperConsumerConnector::create(config).await.map_err(|e| ToolError::Failed(e.to_string()))?;
        let mut wanted = BTreeMap::new();
        wanted.insert(topic.clone(), threads as usize);
        let streams = match connector.create_message_streams(&wanted).await {
            Ok(mut s) => s.remove(&topic).unwrap_or_default(),
            Err(e) => {
                connector.shutdown().await;
                return Err(ToolError::Failed(e.to_string()));
            }
        };
        let start_ms = now_ms();
        let handles: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(id, stream)| tokio::spawn(perf_thread(id, stream, reporting2.clone())))
            .collect();
        let mut results = Vec::new();
        for h in handles {
            results.push(h.await.unwrap_or_default());
        }
        let end_ms = now_ms();
        connector.shutdown().await;
        Ok::<_, ToolError>((start_ms, end_ms, results))
    })?;
    if !settings.show_detailed_stats {
        let messages: u64 = results.iter().map(|r| r.messages).sum();
        let total_mb = mb(results.iter().map(|r| r.bytes).sum());
        let last = results.iter().filter_map(|r| r.last_message_ms).max().unwrap_or(start_ms);
        let elapsed_secs = (last - start_ms) as f64 / 1000.0;
        let (mb_sec, msg_sec) =
            if elapsed_secs > 0.0 { (total_mb / elapsed_secs, messages as f64 / elapsed_secs) } else { (0.0, 0.0) };
        println!(
            "{}, {}, {}, {}, {}, {}, {}",
            settings.date_format.format(start_ms),
            settings.date_format.format(end_ms),
            fetch_size,
            jfixed(total_mb, 4),
            jfixed(mb_sec, 4),
            messages,
            jfixed(msg_sec, 4)
        );
    }
    Ok(())
}

/// 0.8.2 `ConsumerPerfThread.run`.
async fn perf_thread(id: usize, mut stream: KafkaStream, r: Arc<Reporting>) -> StreamResult {
    let s = &r.settings;
    let start_ms = now_ms();
    let mut result = StreamResult::default();
    let (mut last_report_ms, mut last_bytes, mut last_messages) = (start_ms, 0u64, 0u64);
    while (result.messages as i64) < s.messages {
        match stream.next().await {
            Some(Ok(m)) => {
                result.messages += 1;
                result.bytes += m.value.as_ref().map_or(0, |v| v.len()) as u64;
                result.last_message_ms = Some(now_ms());
                if result.messages % s.reporting_interval as u64 == 0 {
                    let now = now_ms();
                    if s.show_detailed_stats {
                        print_stats(&r, &s.date_format, id, result, last_bytes, last_messages, last_report_ms, now);
                    }
                    (last_report_ms, last_bytes, last_messages) = (now, result.bytes, result.messages);
                }
            }
            Some(Err(ConsumerError::Timeout)) | None => break,
            Some(Err(e)) => {
                eprintln!("Error: stream {} stopped: {}", id, e);
                break;
            }
        }
    }
    if s.show_detailed_stats {
        print_stats(&r, &s.date_format, id, result, 0, 0, start_ms, now_ms());
    }
    result
}

/// 0.8.2 `printMessage`: `time, thread, fetch.size, MB read, MB/s and messages/s since the
/// last report, messages read`.
#[allow(clippy::too_many_arguments)]
fn print_stats(
    r: &Reporting,
    date_format: &DateFormat,
    id: usize,
    now: StreamResult,
    last_bytes: u64,
    last_messages: u64,
    since_ms: i64,
    end_ms: i64,
) {
    let elapsed_ms = (end_ms - since_ms) as f64;
    println!(
        "{}, {}, {}, {}, {}, {}, {}",
        date_format.format(end_ms),
        id,
        r.fetch_size,
        jfixed(mb(now.bytes), 4),
        jfixed(1000.0 * (mb(now.bytes - last_bytes) / elapsed_ms), 4),
        now.messages,
        jfixed((now.messages - last_messages) as f64 / elapsed_ms * 1000.0, 4)
    );
}

/// 0.8.2 `new Random().nextInt(n)` for the default group name.
fn random_below(n: u64) -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    (t ^ (std::process::id() as u64).rotate_left(17)) % n
}
