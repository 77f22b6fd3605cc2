//! `kafka.tools.SimpleConsumerPerformance` (`bin/kafka-simple-consumer-perf-test.sh`): read
//! one partition from one broker with plain fetches and print 0.8.2's header and summary
//! line (`start.time, end.time, fetch.size, data.consumed.in.MB, MB.sec,
//! data.consumed.in.nMsg, nMsg.sec`), or with `--show-detailed-stats` a line each time more
//! than `--reporting-interval` messages were read since the last one.
//!
//! As in 0.8.2: the broker is `--server kafka://host:port`; reading starts at the earliest
//! offset (the latest with `--from-latest`), fetches wait for nothing (max wait 0, min bytes
//! 0), and the run ends at the first empty fetch or at the first fetch that starts with more
//! than `--messages` read (so it may read past `--messages`, as 0.8.2 did). Bytes are
//! message payload bytes.

use super::options::{run_tool, OptionParser, Options, ToolError, UsageError};
use super::perf::{jfixed, mb, now_ms, perf_config, PerfSettings};
use crate::consumer::simple::{ConsumerError, SimpleConsumer};
use std::time::Duration;

fn parser() -> OptionParser {
    perf_config("A tool to test the simple consumer performance: it reads one partition from one broker and prints the throughput.")
        .arg("server", "REQUIRED: The hostname of the server to connect to.", "kafka://hostname:port")
        .arg("topic", "REQUIRED: The topic to consume from.", "topic")
        .flag("from-latest", "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message.")
        .arg_default("partition", "The topic partition to consume from.", "Integer: partition", "0")
        .arg_default("fetch-size", "REQUIRED: The fetch size to use for consumption.", "Integer: bytes", (1024 * 1024).to_string())
        .arg_default("clientId", "The ID of this client.", "clientId", "SimpleConsumerPerformanceClient")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

/// `new URI(s).getHost` / `getPort` for `scheme://host:port[/...]`.
fn parse_server(s: &str) -> Option<(String, u16)> {
    let rest = s.split_once("://").map(|(_, r)| r)?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["topic", "server"])?;
    let settings = PerfSettings::from_options(&opts)?;
    let server = opts.value("server").unwrap_or("");
    let (host, port) = parse_server(server)
        .ok_or_else(|| UsageError(format!("Invalid value for --server: {} (expected kafka://hostname:port)", server)))?;
    let topic = opts.value("topic").unwrap_or("").to_string();
    let partition: i32 = opts.parse_value("partition")?.unwrap_or(0);
    let fetch_size: i32 = opts.parse_value("fetch-size")?.unwrap_or(1024 * 1024);
    if fetch_size < 0 {
        return Err(UsageError(format!("Invalid value for --fetch-size: {}", fetch_size)).into());
    }
    let client_id = opts.value("clientId").unwrap_or("SimpleConsumerPerformanceClient").to_string();
    let from_latest = opts.has("from-latest");
    let s = &settings;
    if !s.hide_header {
        if !s.show_detailed_stats {
            println!("start.time, end.time, fetch.size, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec");
        } else {
            println!("time, fetch.size, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec");
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| ToolError::Failed(e.to_string()))?;
    rt.block_on(async {
        let mut consumer =
            SimpleConsumer::new(host.clone(), port, Duration::from_secs(30), 2 * fetch_size as usize, client_id.clone());
        let time = if from_latest { crate::api::LATEST_TIME } else { crate::api::EARLIEST_TIME };
        let mut offset = consumer.earliest_or_latest_offset(&topic, partition, time).await.map_err(|e| {
            ToolError::Failed(format!("Error: cannot get the offset of [{},{}] from {}:{}: {}", topic, partition, host, port, e))
        })?;
        let start_ms = now_ms();
        let (mut total_bytes, mut total_messages) = (0u64, 0u64);
        let mut consumed_interval: u64 = 0;
        let (mut last_report_ms, mut last_bytes, mut last_messages) = (start_ms, 0u64, 0u64);
        let mut done = false;
        while !done {
            let (messages_read, bytes_read, next) = match consumer.fetch(&topic, partition, offset, fetch_size, 0, 0).await {
                Ok(f) => {
                    let bytes: u64 = f.messages.iter().map(|m| m.message.value_size().max(0) as u64).sum();
                    (f.messages.len() as u64, bytes, f.next_offset())
                }
                // 0.8.2 read an errored partition as an empty message set and stopped.
                Err(ConsumerError::MessageTooLarge { .. }) => (0, 0, offset),
                Err(e) => {
                    eprintln!("Error: fetch of [{},{}] at offset {} from {}:{} failed: {}", topic, partition, offset, host, port, e);
                    (0, 0, offset)
                }
            };
            if messages_read == 0 || total_messages as i64 > s.messages {
                done = true;
            } else {
                offset = next;
            }
            total_bytes += bytes_read;
            total_messages += messages_read;
            consumed_interval += messages_read;
            if consumed_interval > s.reporting_interval.max(0) as u64 {
                let now = now_ms();
                if s.show_detailed_stats {
                    let elapsed = (now - last_report_ms) as f64 / 1000.0;
                    println!(
                        "{}, {}, {}, {}, {}, {}",
                        s.date_format.format(now),
                        fetch_size,
                        jfixed(mb(total_bytes), 4),
                        jfixed(mb(total_bytes - last_bytes) / elapsed, 4),
                        total_messages,
                        jfixed((total_messages - last_messages) as f64 / elapsed, 4)
                    );
                }
                (last_report_ms, last_bytes, last_messages) = (now, total_bytes, total_messages);
                consumed_interval = 0;
            }
        }
        let end_ms = now_ms();
        let elapsed = (end_ms - start_ms) as f64 / 1000.0;
        if !s.show_detailed_stats {
            println!(
                "{}, {}, {}, {}, {}, {}, {}",
                s.date_format.format(start_ms),
                s.date_format.format(end_ms),
                fetch_size,
                jfixed(mb(total_bytes), 4),
                jfixed(mb(total_bytes) / elapsed, 4),
                total_messages,
                jfixed(total_messages as f64 / elapsed, 4)
            );
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_server;

    #[test]
    fn server_is_a_kafka_uri() {
        assert_eq!(parse_server("kafka://localhost:9092"), Some(("localhost".into(), 9092)));
        assert_eq!(parse_server("kafka://127.0.0.1:1/"), Some(("127.0.0.1".into(), 1)));
        assert_eq!(parse_server("localhost:9092"), None);
        assert_eq!(parse_server("kafka://localhost"), None);
    }
}
