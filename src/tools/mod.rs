//! The 0.8.2 command-line tools (`kafka.tools`, `kafka.admin`). Each tool is a
//! `main(&[String]) -> i32`; the `kafka08` binary maps 0.8 class names and script names
//! to them.

pub mod console_consumer;
pub mod console_producer;
pub mod consumer_offset_checker;
pub mod consumer_performance;
pub mod dump_log_segments;
pub mod export_zk_offsets;
pub mod get_offset_shell;
pub mod import_zk_offsets;
pub mod kafka_main;
pub mod manager_command;
pub mod mirror_maker;
pub mod options;
pub mod perf;
pub mod preferred_replica_election;
pub mod producer_performance;
pub mod reassign_partitions_command;
pub mod replay_log_producer;
pub mod replica_verification_tool;
pub mod simple_consumer_performance;
pub mod simple_consumer_shell;
pub mod test_end_to_end_latency;
pub mod topics_command;
pub mod update_offsets_in_zk;

/// A tool entry point: arguments after the tool name; returns the exit code.
pub type ToolMain = fn(&[String]) -> i32;

/// 0.8 class names (as `kafka-run-class.sh` takes them) and our short names.
pub const TOOLS: &[(&str, &str, ToolMain)] = &[
    ("kafka.tools.ConsoleConsumer", "console-consumer", console_consumer::main),
    ("kafka.tools.ConsoleProducer", "console-producer", console_producer::main),
    ("kafka.tools.ConsumerOffsetChecker", "consumer-offset-checker", consumer_offset_checker::main),
    ("kafka.tools.ConsumerPerformance", "consumer-perf-test", consumer_performance::main),
    ("kafka.tools.DumpLogSegments", "dump-log-segments", dump_log_segments::main),
    ("kafka.tools.ExportZkOffsets", "export-zk-offsets", export_zk_offsets::main),
    ("kafka.tools.GetOffsetShell", "get-offset-shell", get_offset_shell::main),
    ("kafka.tools.ImportZkOffsets", "import-zk-offsets", import_zk_offsets::main),
    ("kafka.tools.MirrorMaker", "mirror-maker", mirror_maker::main),
    ("kafka.tools.ProducerPerformance", "producer-perf-test", producer_performance::main),
    ("kafka.tools.ReplayLogProducer", "replay-log-producer", replay_log_producer::main),
    ("kafka.tools.ReplicaVerificationTool", "replica-verification", replica_verification_tool::main),
    ("kafka.tools.SimpleConsumerPerformance", "simple-consumer-perf-test", simple_consumer_performance::main),
    ("kafka.tools.SimpleConsumerShell", "simple-consumer-shell", simple_consumer_shell::main),
    ("kafka.tools.TestEndToEndLatency", "end-to-end-latency", test_end_to_end_latency::main),
    ("kafka.tools.UpdateOffsetsInZK", "update-offsets-in-zk", update_offsets_in_zk::main),
    ("kafka.Kafka", "server", kafka_main::main),
    ("kafka.admin.TopicCommand", "topics", topics_command::main),
    ("kafka.admin.ReassignPartitionsCommand", "reassign-partitions", reassign_partitions_command::main),
    (
        "kafka.admin.PreferredReplicaLeaderElectionCommand",
        "preferred-replica-election",
        preferred_replica_election::main,
    ),
    ("kafka08.Manager", "manager", manager_command::main),
];

/// Find a tool by 0.8 class name or short name.
pub fn find(name: &str) -> Option<ToolMain> {
    TOOLS.iter().find(|(class, short, _)| *class == name || *short == name).map(|(_, _, f)| *f)
}

/// What one run of a tool's command printed on stdout, line by line, and whether it
/// succeeded (exit 0). The admin tools' commands return it so that the web console shows
/// exactly what the tool would have printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolOutput {
    pub lines: Vec<String>,
    pub ok: bool,
}

impl ToolOutput {
    /// Print the lines on stdout (a closed pipe is not worth a panic); the exit code.
    pub fn print(&self) -> i32 {
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        for line in &self.lines {
            let _ = writeln!(lock, "{}", line);
        }
        if self.ok {
            0
        } else {
            1
        }
    }
}
