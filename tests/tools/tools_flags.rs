//! Every tool the `kafka08` binary serves: `--help` prints usage and exits 0; an unknown
//! flag prints a one-line error, then usage, and exits 1; nothing panics.

#[test]
fn every_tool_answers_help_and_refuses_unknown_flags() {
    for (class, _, _) in kafka08::tools::TOOLS {
        let help = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08")).args([class, "--help"]).output().unwrap();
        assert_eq!(help.status.code(), Some(0), "{class} --help");
        assert!(!help.stdout.is_empty(), "{class} --help prints usage");
        let bad = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08")).args([class, "--no-such-flag"]).output().unwrap();
        assert_eq!(bad.status.code(), Some(1), "{class} with an unknown flag");
        let err = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(err.lines().next(), Some("no-such-flag is not a recognized option"), "{class}: {err}");
        assert!(err.lines().count() > 1, "{class}: usage follows the error");
        assert!(!err.contains("panicked"), "{class}: {err}");
    }
}

/// A flag that names a class to load (0.8.2 loaded it by reflection) takes only the class
/// 0.8.2 shipped for it; any other fails as 0.8.2 did without that class on its classpath:
/// one line, exit 1, before the tool connects anywhere (the ZooKeeper and broker addresses
/// here are unreachable on purpose).
#[test]
fn class_name_flags_refuse_classes_kafka08_does_not_have() {
    let cases: [(&str, &[&str]); 4] = [
        ("kafka.tools.ConsoleConsumer", &["--zookeeper", "127.0.0.1:1", "--topic", "t", "--formatter", "com.example.Nope"]),
        ("kafka.tools.ConsoleProducer", &["--broker-list", "127.0.0.1:1", "--topic", "t", "--line-reader", "com.example.Nope"]),
        ("kafka.tools.DumpLogSegments", &["--files", "/nonexistent.log", "--key-decoder-class", "com.example.Nope"]),
        ("kafka.tools.DumpLogSegments", &["--files", "/nonexistent.log", "--value-decoder-class", "com.example.Nope"]),
    ];
    for (class, args) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08")).arg(class).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{class} {args:?}: {err}");
        assert_eq!(err, "java.lang.ClassNotFoundException: com.example.Nope\n", "{class} {args:?}");
    }
    // The classes 0.8.2 shipped are taken (here the tool then fails on the missing file).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kafka08"))
        .args(["kafka.tools.DumpLogSegments", "--files", "/nonexistent.log", "--value-decoder-class", "kafka.serializer.StringDecoder"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ClassNotFoundException"));
}
