//! `kafka-run-class.sh kafka.tools.ExportZkOffsets / ImportZkOffsets / UpdateOffsetsInZK`
//! against a live cluster: 0.8.2's export file lines, an export → delete → import round
//! trip that restores every offset znode exactly, and offsets reset to what the leader
//! reports as earliest and latest.

use crate::support;

use std::time::Duration;
use support::cluster::{try_call, Cluster};
use support::producer::TestProducer;
use support::TempDir;

fn tool(class: &str, args: &[&str]) -> support::Output {
    let mut a = vec![class];
    a.extend_from_slice(args);
    support::run_with_env("bin/kafka-run-class.sh", &a, None, &[("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))])
}

fn one_line_error(out: &support::Output) {
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.all());
    assert!(!out.all().contains("panicked"), "{}", out.all());
}

#[test]
fn export_delete_import_restores_offsets_and_update_sets_earliest_or_latest() {
    let cluster = Cluster::start(1, &[]);
    cluster.create_topic("o", 2, 1);
    let mut p = TestProducer::new(vec![cluster.brokers[0].addr()], "o");
    for i in 0..5 {
        p.send(0, &format!("a{i}"), Duration::from_secs(20)).unwrap();
    }
    for i in 0..3 {
        p.send(1, &format!("b{i}"), Duration::from_secs(20)).unwrap();
    }
    let zkc = cluster.zk.connect_string();
    let rt = Cluster::runtime();
    let zk = rt.block_on(kafka08::zk::ZkClient::connect(&zkc, Duration::from_secs(6), Duration::from_secs(10))).unwrap();
    let get = |path: &str| rt.block_on(zk.get_data(path)).unwrap().map(|(d, _)| String::from_utf8(d).unwrap());
    rt.block_on(async {
        zk.update_persistent("/consumers/g1/offsets/o/0", b"3").await.unwrap();
        zk.update_persistent("/consumers/g1/offsets/o/1", b"1").await.unwrap();
        zk.update_persistent("/consumers/g2/offsets/o/0", b"4").await.unwrap();
        // A group that never committed: skipped when exporting every group.
        zk.update_persistent("/consumers/idle/ids/idle_host-1-0", b"{}").await.unwrap();
    });

    // Export: every group by default, one `path:offset` line per offset znode.
    let dir = TempDir::new("zk-offsets");
    let all = dir.path().join("all.txt");
    let out = tool("kafka.tools.ExportZkOffsets", &["--zkconnect", &zkc, "--output-file", all.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    let exported = std::fs::read_to_string(&all).unwrap();
    assert_eq!(exported, "/consumers/g1/offsets/o/0:3\n/consumers/g1/offsets/o/1:1\n/consumers/g2/offsets/o/0:4\n");
    let g1 = dir.path().join("g1.txt");
    let out = tool("kafka.tools.ExportZkOffsets", &["--zkconnect", &zkc, "--group", "g1", "--output-file", g1.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(std::fs::read_to_string(&g1).unwrap(), "/consumers/g1/offsets/o/0:3\n/consumers/g1/offsets/o/1:1\n");

    // Delete the groups, import the export: every znode is back with its offset.
    rt.block_on(async {
        zk.delete_recursive("/consumers/g1").await.unwrap();
        zk.delete_recursive("/consumers/g2").await.unwrap();
    });
    assert_eq!(get("/consumers/g1/offsets/o/0"), None);
    let out = tool("kafka.tools.ImportZkOffsets", &["--zkconnect", &zkc, "--input-file", all.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "");
    assert_eq!(get("/consumers/g1/offsets/o/0").as_deref(), Some("3"));
    assert_eq!(get("/consumers/g1/offsets/o/1").as_deref(), Some("1"));
    assert_eq!(get("/consumers/g2/offsets/o/0").as_deref(), Some("4"));
    let again = dir.path().join("again.txt");
    tool("kafka.tools.ExportZkOffsets", &["--zkconnect", &zkc, "--output-file", again.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), exported, "a second export is identical");

    // Bad input: one line, exit 1, nothing written.
    one_line_error(&tool("kafka.tools.ImportZkOffsets", &["--zkconnect", &zkc, "--input-file", "/nonexistent/offsets.txt"]));
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "/consumers/g1/offsets/o/0:7\n/consumers/g1/offsets/o/1 12\n").unwrap();
    let out = tool("kafka.tools.ImportZkOffsets", &["--zkconnect", &zkc, "--input-file", bad.to_str().unwrap()]);
    one_line_error(&out);
    assert!(out.stderr.contains("line 2"), "{}", out.all());
    assert_eq!(get("/consumers/g1/offsets/o/0").as_deref(), Some("3"), "a bad file changes nothing");
    let out = tool("kafka.tools.ExportZkOffsets", &["--zkconnect", &zkc]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.starts_with("Missing required argument \"[output-file]\""), "{}", out.all());
    let out = tool("kafka.tools.ExportZkOffsets", &["--zkconnect", &zkc, "--group", "nosuch", "--output-file", again.to_str().unwrap()]);
    one_line_error(&out);

    // UpdateOffsetsInZK: the group and ZooKeeper come from the consumer properties.
    let props = dir.path().join("consumer.properties");
    std::fs::write(&props, format!("zookeeper.connect={zkc}\ngroup.id=g3\n")).unwrap();
    let props = props.to_str().unwrap();
    let leader_offset = |partition: i32, time: i64| -> i64 {
        let r = try_call(
            &cluster.brokers[0].addr(),
            &kafka08::api::OffsetsRequest {
                replica_id: -1,
                topics: vec![kafka08::api::OffsetsTopic { topic: "o".into(), partitions: vec![kafka08::api::OffsetsPartition { partition, time, max_offsets: 1 }] }],
            },
        )
        .unwrap();
        r.topics[0].partitions[0].offsets[0]
    };
    let out = tool("kafka.tools.UpdateOffsetsInZK", &["latest", props, "o"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!((leader_offset(0, -1), leader_offset(1, -1)), (5, 3));
    assert_eq!(out.stdout, "updating partition 0 with new offset: 5\nupdating partition 1 with new offset: 3\nupdated the offset for 2 partitions\n");
    assert_eq!(get("/consumers/g3/offsets/o/0").as_deref(), Some("5"));
    assert_eq!(get("/consumers/g3/offsets/o/1").as_deref(), Some("3"));
    let out = tool("kafka.tools.UpdateOffsetsInZK", &["earliest", props, "o"]);
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert_eq!(out.stdout, "updating partition 0 with new offset: 0\nupdating partition 1 with new offset: 0\nupdated the offset for 2 partitions\n");
    assert_eq!(get("/consumers/g3/offsets/o/0").as_deref(), Some("0"));

    // Its bad input: 0.8.2's usage line (stdout), or one error line.
    let usage = "USAGE: kafka.tools.UpdateOffsetsInZK$ [earliest | latest] consumer.properties topic\n";
    for args in [&["latest", props][..], &["newest", props, "o"][..]] {
        let out = tool("kafka.tools.UpdateOffsetsInZK", args);
        assert_eq!((out.code, out.stdout.as_str()), (Some(1), usage), "{}", out.all());
    }
    let out = tool("kafka.tools.UpdateOffsetsInZK", &["latest", props, "nosuch"]);
    one_line_error(&out);
    assert_eq!(out.stderr, "Can't find topic nosuch\n");
    one_line_error(&tool("kafka.tools.UpdateOffsetsInZK", &["latest", "/nonexistent/consumer.properties", "o"]));
    let no_group = dir.path().join("nogroup.properties");
    std::fs::write(&no_group, format!("zookeeper.connect={zkc}\n")).unwrap();
    let out = tool("kafka.tools.UpdateOffsetsInZK", &["latest", no_group.to_str().unwrap(), "o"]);
    one_line_error(&out);
    assert!(out.stderr.contains("group.id"), "{}", out.all());
}
