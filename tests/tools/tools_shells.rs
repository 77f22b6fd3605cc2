//! `bin/kafka-simple-consumer-shell.sh` and `bin/kafka-replica-verification.sh` on a
//! three-broker cluster with a replication-factor-3 topic: messages printed in order from
//! any offset and from a follower, 0.8.2's `next offset = N` and end-of-log lines, and the
//! verification tool's periodic `max lag is 0` line once every replica holds the same log.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::cluster::{try_call, Cluster};
use support::producer::TestProducer;

fn script(path: &str, args: &[&str]) -> support::Output {
    support::run_with_env(path, args, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

fn shell(args: &[&str]) -> support::Output {
    script("bin/kafka-simple-consumer-shell.sh", args)
}

fn one_line_error(out: &support::Output, expected: &str) {
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr.lines().next(), Some(expected), "{}", out.all());
    assert!(!out.all().contains("panicked"), "{}", out.all());
}

/// Kills the tool on drop (it runs until killed, as 0.8.2's did), also when a test fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `yyyy-MM-dd HH:mm:ss,SSS: ` (0.8.2's SimpleDateFormat) in front of a line.
fn strip_date(line: &str) -> Option<&str> {
    let (date, rest) = (line.get(..23)?, line.get(23..)?);
    let digits = |r: std::ops::Range<usize>| date[r].bytes().all(|b| b.is_ascii_digit());
    let shape = digits(0..4) && &date[4..5] == "-" && digits(5..7) && &date[7..8] == "-" && digits(8..10) && &date[10..11] == " "
        && digits(11..13) && &date[13..14] == ":" && digits(14..16) && &date[16..17] == ":" && digits(17..19) && &date[19..20] == ","
        && digits(20..23);
    shape.then_some(rest)
}

#[test]
fn simple_consumer_shell_and_replica_verification_on_a_replicated_topic() {
    let cluster = Cluster::start(3, &[("auto.create.topics.enable", "false")]);
    cluster.create_topic("s", 1, 3);
    let bl = cluster.bootstrap();
    let mut p = TestProducer::new(cluster.brokers.iter().map(|b| b.addr()).collect(), "s");
    let values: Vec<String> = (0..6).map(|i| format!("v{i}")).collect();
    for v in &values {
        p.send(0, v, Duration::from_secs(20)).unwrap();
    }
    let all_values: String = values.iter().map(|v| format!("{v}\n")).collect();
    let end_line = "Terminating. Reached the end of partition (s, 0) at offset 6\n";

    // From the beginning (the default offset -2), to the end of the log.
    let out = shell(&["--broker-list", &bl, "--topic", "s", "--partition", "0", "--no-wait-at-logend"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, format!("{all_values}{end_line}"));

    // From offset 2, two messages, with the offsets: ends after --max-messages.
    let out = shell(&["--broker-list", &bl, "--topic", "s", "--partition", "0", "--offset", "2", "--max-messages", "2", "--print-offsets"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "next offset = 3\nv2\nnext offset = 4\nv3\n");

    // The console consumer's formatter properties.
    let out = shell(&[
        "--broker-list", &bl, "--topic", "s", "--offset", "5", "--no-wait-at-logend",
        "--property", "print.key=true", "--property", "key.separator=:",
    ]);
    assert_eq!(out.stdout, format!("null:v5\n{end_line}"), "{}", out.all());

    // From the end (-1): nothing but the end-of-log line.
    let out = shell(&["--broker-list", &bl, "--topic", "s", "--partition", "0", "--offset", "-1", "--no-wait-at-logend"]);
    assert_eq!(out.stdout, end_line, "{}", out.all());

    // From a follower: the same messages once its high watermark caught up.
    let md = try_call(&cluster.brokers[0].addr(), &kafka08::api::MetadataRequest { topics: vec!["s".into()] }).unwrap();
    let pm = &md.topics[0].partitions[0];
    let follower = *pm.replicas.iter().find(|r| **r != pm.leader).unwrap();
    let follower = follower.to_string();
    let mut last = None;
    let caught_up = support::eventually(Duration::from_secs(20), || {
        let out = shell(&["--broker-list", &bl, "--topic", "s", "--partition", "0", "--replica", &follower, "--no-wait-at-logend"]);
        let ok = out.code == Some(0) && out.stdout == format!("{all_values}{end_line}");
        last = Some(out);
        ok
    });
    assert!(caught_up, "follower {follower}: {}", last.map(|o| o.all()).unwrap_or_default());

    // Bad input: one line, exit 1.
    one_line_error(&shell(&["--broker-list", &bl, "--topic", "s", "--replica", "99"]), "Error: replica 99 does not exist for partition (s, 0)");
    one_line_error(&shell(&["--broker-list", &bl, "--topic", "s", "--offset", "-5"]), "Invalid starting offset: -5");
    one_line_error(&shell(&["--broker-list", &bl, "--topic", "s", "--offset", "abc"]), "Cannot parse argument 'abc' of option offset");
    one_line_error(&shell(&["--broker-list", &bl, "--topic", "nosuch"]), "Error: partition 0 does not exist for topic nosuch");
    one_line_error(&shell(&["--broker-list", &bl, "--topic", "s", "--partition", "7"]), "Error: partition 7 does not exist for topic s");
    one_line_error(&shell(&["--topic", "s"]), "Missing required argument \"[broker-list]\"");

    // Replica verification from the earliest offsets, reporting every 200 ms: once every
    // replica holds the six messages and its high watermark says so, the lag is 0 at 6.
    let mut child = Running(
        Command::new(support::project_root().join("bin/kafka-replica-verification.sh"))
            .args(["--broker-list", &bl, "--topic-white-list", "s", "--time", "-2", "--report-interval-ms", "200", "--max-wait-ms", "100"])
            .env("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    let target = ": max lag is 0 for partition [s,0] at offset 6 among 1 paritions";
    while !lines.iter().any(|l: &String| strip_date(l) == Some(target)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!("no `max lag is 0` line within 30 s; output so far:\n{}", lines.join("\n")),
        }
    }
    assert_eq!(strip_date(&lines[0]), Some(": verification process is started."), "{lines:?}");
    for l in &lines[1..] {
        let rest = strip_date(l).unwrap_or_else(|| panic!("undated line {l:?}"));
        assert!(rest.starts_with(": max lag is "), "only lag reports while the replicas agree: {lines:?}");
    }
    assert_eq!(child.0.try_wait().unwrap(), None, "it runs until killed");
    drop(child);

    let out = script("bin/kafka-replica-verification.sh", &["--broker-list", &bl, "--topic-white-list", "["]);
    one_line_error(&out, "[ is an invalid regex.");
    one_line_error(&script("bin/kafka-replica-verification.sh", &["--time", "-2"]), "Missing required argument \"[broker-list]\"");
}
