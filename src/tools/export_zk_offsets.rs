//! `kafka.tools.ExportZkOffsets`: every offset znode of some consumer groups (all groups by
//! default) written to a file, one `/consumers/<group>/offsets/<topic>/<partition>:<offset>`
//! line each, the input `ImportZkOffsets` reads back.

use super::options::{run_tool, OptionParser, Options, ToolError};
use crate::zk::{paths, ZkClient};
use std::io::Write;
use std::time::Duration;

/// 0.8.2's ZkClient timeouts for these tools (session and connection, 30 s each).
pub(crate) const ZK_TIMEOUT: Duration = Duration::from_secs(30);

fn parser() -> OptionParser {
    OptionParser::new("Export consumer offsets to an output file.")
        .arg_default("zkconnect", "ZooKeeper connect string.", "String", "localhost:2181")
        .arg("group", "Consumer group.", "String")
        .arg("output-file", "Output file", "String")
        .flag("help", "Print this message.")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

pub(crate) fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(format!("Error: {}", e))
}

/// Children sorted as a person reads them: numbers by value, then names.
pub(crate) fn sorted_children(mut names: Vec<String>) -> Vec<String> {
    names.sort_by(|a, b| match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    });
    names
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    if opts.has("help") {
        print!("{}", p.usage());
        return Ok(());
    }
    // jopt-simple's `has` is false for a defaulted option that was not given, so 0.8.2's
    // required-argument check demands --zkconnect despite its default.
    p.check_required(&opts, &["zkconnect", "output-file"])?;
    let zk_connect = opts.value("zkconnect").unwrap_or("").to_string();
    let named: Vec<String> = opts.values("group").into_iter().map(str::to_string).collect();
    let out_path = opts.value("output-file").unwrap_or("").to_string();
    // 0.8.2 opens (truncates) the output file before it connects.
    let mut out = std::fs::File::create(&out_path).map_err(|e| failed(format!("cannot write {}: {}", out_path, e)))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(failed)?;
    let lines = rt.block_on(async {
        let zk = ZkClient::connect(&zk_connect, ZK_TIMEOUT, ZK_TIMEOUT).await.map_err(|e| failed(format!("cannot connect to ZooKeeper at {}: {}", zk_connect, e)))?;
        let all_groups = named.is_empty();
        let groups = if all_groups { sorted_children(zk.consumer_groups().await.map_err(failed)?) } else { named };
        let mut lines = String::new();
        for group in &groups {
            let topics = match zk.consumer_offset_topics(group).await.map_err(failed)? {
                Some(t) => sorted_children(t),
                // A group that never committed (a pykafka group, a console consumer that
                // just started) holds no offsets: nothing to export. 0.8.2 failed with
                // ZkNoNodeException here, on the whole export.
                None if all_groups => continue,
                None => return Err(ToolError::Failed(format!("Error: consumer group {} has no offsets in ZooKeeper ({} does not exist)", group, paths::consumer_offsets(group)))),
            };
            for topic in &topics {
                for partition in zk.consumer_offset_partitions(group, topic).await.map_err(failed)? {
                    let path = paths::consumer_offset(group, topic, partition);
                    match zk.consumer_offset_text(group, topic, partition).await.map_err(failed)? {
                        Some(offset) => {
                            lines.push_str(&path);
                            lines.push(':');
                            lines.push_str(&offset);
                            lines.push('\n');
                        }
                        None => log::error!("Could not retrieve offset value from {}", path),
                    }
                }
            }
        }
        Ok(lines)
    })?;
    out.write_all(lines.as_bytes()).and_then(|_| out.flush()).map_err(|e| failed(format!("cannot write {}: {}", out_path, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_sort_numerically_then_by_name() {
        let v = sorted_children(vec!["10".into(), "2".into(), "b".into(), "a".into(), "0".into()]);
        assert_eq!(v, vec!["0", "2", "10", "a", "b"]);
    }
}
