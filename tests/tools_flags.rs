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
