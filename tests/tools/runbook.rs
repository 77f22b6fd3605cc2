//! The "done when": `tests/runbook/runbook-0.8.2.sh`, a runbook of Kafka 0.8.2
//! commands written for 0.8.2 (kafka-topics.sh create/describe/alter, the console producer
//! and consumer with a group, ConsumerOffsetChecker), runs unchanged against a kafka08
//! cluster brought up by `zk-scripts/cluster.sh`, and prints what 0.8.2 printed.

use crate::support;

use support::local_cluster::{cluster_sh, Down};
use support::{run_with_env, TempDir};

/// One command of the runbook (`$ ...`) and the lines it printed.
struct Command {
    line: String,
    output: Vec<String>,
}

/// The runbook's output cut into its `### N. title` steps, each a list of commands.
fn steps(stdout: &str) -> Vec<(String, Vec<Command>)> {
    let mut steps: Vec<(String, Vec<Command>)> = Vec::new();
    for line in stdout.lines() {
        if let Some(title) = line.strip_prefix("### ") {
            steps.push((title.to_string(), Vec::new()));
        } else if let Some((_, cmds)) = steps.last_mut() {
            if let Some(cmd) = line.strip_prefix("$ ") {
                cmds.push(Command { line: cmd.to_string(), output: Vec::new() });
            } else if let Some(c) = cmds.last_mut() {
                if !line.is_empty() {
                    c.output.push(line.to_string());
                }
            }
        }
    }
    steps
}

/// The output of the `which`-th command in step `n` whose command line contains `needle`.
fn output_of<'a>(steps: &'a [(String, Vec<Command>)], n: usize, needle: &str, which: usize) -> &'a [String] {
    let (title, cmds) =
        steps.iter().find(|(t, _)| t.starts_with(&format!("{n}. "))).unwrap_or_else(|| panic!("no step {n}"));
    &cmds
        .iter()
        .filter(|c| c.line.contains(needle))
        .nth(which)
        .unwrap_or_else(|| panic!("step {title:?} has no command #{which} with {needle:?}"))
        .output
}

/// A ConsumerOffsetChecker row: (partition, offset, log size, lag, owner).
struct Row {
    pid: i32,
    offset: String,
    log_size: i64,
    lag: String,
    owner: String,
}

/// 0.8.2's table: a header, then one `%-15s %-30s %-3s %-15s %-15s %-15s %s` row per partition.
fn offset_table(lines: &[String], group: &str, topic: &str) -> Vec<Row> {
    let fmt =
        |c: [&str; 7]| format!("{:<15} {:<30} {:<3} {:<15} {:<15} {:<15} {}", c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
    assert_eq!(lines.first(), Some(&fmt(["Group", "Topic", "Pid", "Offset", "logSize", "Lag", "Owner"])), "{lines:#?}");
    let rows: Vec<Row> = lines[1..]
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 7, "{l:?}");
            assert_eq!(l, &fmt([f[0], f[1], f[2], f[3], f[4], f[5], f[6]]), "column widths");
            assert_eq!((f[0], f[1]), (group, topic), "{l:?}");
            Row {
                pid: f[2].parse().unwrap(),
                offset: f[3].to_string(),
                log_size: f[4].parse().unwrap(),
                lag: f[5].to_string(),
                owner: f[6].to_string(),
            }
        })
        .collect();
    let pids: Vec<i32> = rows.iter().map(|r| r.pid).collect();
    assert_eq!(pids, (0..rows.len() as i32).collect::<Vec<_>>(), "one row per partition, in order");
    for r in &rows {
        if let (Ok(o), Ok(lag)) = (r.offset.parse::<i64>(), r.lag.parse::<i64>()) {
            assert_eq!(lag, r.log_size - o, "Lag = logSize - Offset");
        }
        assert_eq!(r.owner, "none", "no consumer runs while the checker does");
    }
    rows
}

fn lag_sum(rows: &[Row]) -> i64 {
    rows.iter().map(|r| r.lag.parse::<i64>().unwrap_or_else(|_| panic!("lag {:?} of partition {}", r.lag, r.pid))).sum()
}

fn sorted(lines: &[String]) -> Vec<String> {
    let mut v = lines.to_vec();
    v.sort_by_key(|m| m.trim_start_matches("message ").parse::<u32>().unwrap_or(u32::MAX));
    v
}

fn messages(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| format!("message {i}")).collect()
}

/// The describe output: the topic line, then partition lines checked field by field
/// (leader in the replicas, Isr = Replicas, `rf` distinct brokers out of 0..3).
fn check_describe(lines: &[String], topic: &str, partitions: usize, rf: usize) {
    assert_eq!(
        lines.first().map(String::as_str),
        Some(format!("Topic:{topic}\tPartitionCount:{partitions}\tReplicationFactor:{rf}\tConfigs:").as_str()),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), partitions + 1, "{lines:#?}");
    for (p, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 6, "{line:?}");
        assert_eq!(
            (f[0], f[1], f[2]),
            ("", format!("Topic: {topic}").as_str(), format!("Partition: {p}").as_str()),
            "{line:?}"
        );
        let leader = f[3].strip_prefix("Leader: ").unwrap();
        let replicas = f[4].strip_prefix("Replicas: ").unwrap();
        let isr = f[5].strip_prefix("Isr: ").unwrap();
        let ids: Vec<&str> = replicas.split(',').collect();
        assert_eq!(ids.len(), rf, "{line:?}");
        assert!(ids.iter().all(|i| ["0", "1", "2"].contains(i)), "{line:?}");
        assert!(ids.iter().enumerate().all(|(n, i)| !ids[..n].contains(i)), "distinct replicas: {line:?}");
        assert!(ids.contains(&leader), "leader among the replicas: {line:?}");
        assert_eq!(isr, replicas, "all replicas in sync, in assignment order: {line:?}");
    }
}

#[test]
fn the_082_runbook_runs_unchanged_and_prints_082_output() {
    let tmp = TempDir::new("runbook");
    let dir = tmp.path().join("cluster");
    let _down = Down(&dir);
    let up = cluster_sh(&dir, &["up", "-n", "3", "--override", "controlled.shutdown.retry.backoff.ms=500"]);
    assert_eq!(up.code, Some(0), "{}", up.all());
    let zk = up.stdout.lines().find_map(|l| l.strip_prefix("zookeeper.connect=")).unwrap().to_string();
    let brokers = up.stdout.lines().find_map(|l| l.strip_prefix("metadata.broker.list=")).unwrap().to_string();

    let out = run_with_env(
        "tests/runbook/runbook-0.8.2.sh",
        &[],
        None,
        &[("ZK_CONNECT", &zk), ("BROKER_LIST", &brokers), ("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))],
    );
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(out.stdout.ends_with("### runbook done\n"), "{}", out.all());
    let s = steps(&out.stdout);
    let (t, g) = ("runbook", "runbook-group");

    assert_eq!(output_of(&s, 1, "--create", 0), ["Created topic \"runbook\"."]);
    assert_eq!(output_of(&s, 1, "--list", 0), ["runbook"]);
    check_describe(output_of(&s, 2, "--describe", 0), t, 2, 2);

    assert_eq!(output_of(&s, 3, "", 0), Vec::<String>::new(), "the console producer prints nothing");
    assert_eq!(sorted(output_of(&s, 4, "kafka-console-consumer.sh", 0)), messages(1..=6));
    let rows = offset_table(output_of(&s, 5, "ConsumerOffsetChecker", 0), g, t);
    assert_eq!(rows.len(), 2);
    assert_eq!(lag_sum(&rows), 0, "everything consumed");
    assert_eq!(rows.iter().map(|r| r.log_size).sum::<i64>(), 6);

    let rows = offset_table(output_of(&s, 6, "ConsumerOffsetChecker", 0), g, t);
    assert_eq!(lag_sum(&rows), 4, "four produced since");
    assert_eq!(rows.iter().map(|r| r.log_size).sum::<i64>(), 10);

    assert_eq!(
        output_of(&s, 7, "--alter", 0),
        [
            "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected",
            "Adding partitions succeeded!"
        ]
    );
    assert_eq!(sorted(output_of(&s, 8, "kafka-console-consumer.sh", 0)), messages(7..=10), "the waiting four, no more");
    let rows = offset_table(output_of(&s, 8, "ConsumerOffsetChecker", 0), g, t);
    assert_eq!(rows.len(), 4, "the checker sees the new partitions");
    assert_eq!(lag_sum(&rows), 0, "the group has an offset on every partition, new ones too");

    let rows = offset_table(output_of(&s, 9, "ConsumerOffsetChecker", 0), g, t);
    assert_eq!(lag_sum(&rows), 3);
    assert_eq!(sorted(output_of(&s, 9, "kafka-console-consumer.sh", 0)), messages(11..=13), "only the new messages");
    let rows = offset_table(output_of(&s, 9, "ConsumerOffsetChecker", 1), g, t);
    assert_eq!(lag_sum(&rows), 0);
    assert_eq!(rows.iter().map(|r| r.log_size).sum::<i64>(), 13);

    check_describe(output_of(&s, 10, "--describe", 0), t, 4, 2);
    assert_eq!(out.stderr.matches("Consumed ").count(), 3, "{}", out.stderr);

    let down = cluster_sh(&dir, &["down"]);
    assert_eq!(down.code, Some(0), "{}", down.all());
}
