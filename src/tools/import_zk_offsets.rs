//! `kafka.tools.ImportZkOffsets`: read `path:offset` lines (as `ExportZkOffsets` writes them)
//! and set each znode to its offset, creating it and its parents when missing.

use super::export_zk_offsets::{failed, ZK_TIMEOUT};
use super::options::{run_tool, OptionParser, Options, ToolError};
use crate::zk::ZkClient;
use std::collections::BTreeMap;

fn parser() -> OptionParser {
    OptionParser::new("Import offsets to zookeeper from files.")
        .arg_default("zkconnect", "ZooKeeper connect string.", "String", "localhost:2181")
        .arg("input-file", "Input file", "String")
        .flag("help", "Print this message.")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

/// The file's `path:offset` lines as a map (a later line for the same path wins, as in
/// 0.8.2). Blank lines are skipped (0.8.2 stopped reading at the first one, silently
/// dropping the rest). A line without a `:`, a path that is not absolute or an offset that
/// is not an integer is an error naming the line: nothing is written then.
pub fn parse_offsets_file(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| format!("Error: line {} of the input file ({}): {}", n + 1, line, why);
        // 0.8.2 splits on ':' and takes the first two fields.
        let mut fields = line.split(':');
        let path = fields.next().unwrap_or("").trim();
        let Some(offset) = fields.next().map(str::trim) else {
            return Err(bad("expected <znode path>:<offset>"));
        };
        if !path.starts_with('/') || path.len() < 2 || path.ends_with('/') || path.contains("//") {
            return Err(bad("the znode path must be absolute, like /consumers/<group>/offsets/<topic>/<partition>"));
        }
        if offset.parse::<i64>().is_err() {
            return Err(bad("the offset is not an integer"));
        }
        out.insert(path.to_string(), offset.to_string());
    }
    Ok(out)
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    if opts.has("help") {
        print!("{}", p.usage());
        return Ok(());
    }
    p.check_required(&opts, &["input-file"])?;
    let zk_connect = opts.value("zkconnect").unwrap_or("localhost:2181").to_string();
    let file = opts.value("input-file").unwrap_or("").to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| failed(format!("cannot read {}: {}", file, e)))?;
    let offsets = parse_offsets_file(&text).map_err(ToolError::Failed)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(failed)?;
    rt.block_on(async {
        let zk = ZkClient::connect(&zk_connect, ZK_TIMEOUT, ZK_TIMEOUT).await.map_err(|e| failed(format!("cannot connect to ZooKeeper at {}: {}", zk_connect, e)))?;
        let mut errors = 0;
        for (path, offset) in &offsets {
            log::debug!("updating [{}] with offset [{}]", path, offset);
            // 0.8.2 reports a failed path and goes on with the others.
            if let Err(e) = zk.update_persistent(path, offset.as_bytes()).await {
                eprintln!("Error: cannot update {} with offset {}: {}", path, offset, e);
                errors += 1;
            }
        }
        if errors > 0 {
            Err(ToolError::Failed(String::new()))
        } else {
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_export_lines_and_refuses_malformed_ones() {
        let m = parse_offsets_file("/consumers/g/offsets/t/0:12\n\n/consumers/g/offsets/t/1:7\r\n/consumers/g/offsets/t/0:13\n").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["/consumers/g/offsets/t/0"], "13");
        assert_eq!(m["/consumers/g/offsets/t/1"], "7");
        assert!(parse_offsets_file("/consumers/g/offsets/t/0\n").unwrap_err().contains("line 1"));
        assert!(parse_offsets_file("ok:1\n").is_err());
        assert!(parse_offsets_file("/a/b:x\n").unwrap_err().contains("not an integer"));
        assert!(parse_offsets_file("").unwrap().is_empty());
    }
}
