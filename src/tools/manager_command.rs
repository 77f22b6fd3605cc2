//! `kafka08-manager.sh`: the cluster web console (see [`crate::manager`]).
//!
//!   bin/kafka08-manager.sh --zookeeper HOST:PORT[/chroot] [--http-port 9000] [--http-host 0.0.0.0]

use super::options::{run_tool, OptionParser, Options, ToolError};

fn parser() -> OptionParser {
    OptionParser::new("A web console for a kafka08 cluster: brokers, topics, consumer groups, throughput and lag.")
        .arg("zookeeper", "The ZooKeeper connect string of the cluster, host:port[/chroot].", "urls")
        .arg_default("http-port", "The port the console listens on.", "Integer", "9000")
        .arg_default("http-host", "The address the console binds to.", "String", "0.0.0.0")
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    run_tool(&p, args, |opts| run(&p, opts))
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["zookeeper"])?;
    let zk = opts.value("zookeeper").unwrap_or_default().to_string();
    let port = opts.parse_value::<u16>("http-port")?.unwrap_or(9000);
    let host = opts.value("http-host").unwrap_or("0.0.0.0").to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| ToolError::Failed(e.to_string()))?;
    rt.block_on(crate::manager::serve(&zk, &host, port)).map_err(ToolError::Failed)
}
