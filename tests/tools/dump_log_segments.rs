//! `kafka-run-class.sh kafka.tools.DumpLogSegments` against segment files in 0.8.2's
//! layout: output shape line by line.

use kafka08::message::{encode_messages, CompressionCodec, Message};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kafka08-dump-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_class(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("bin/kafka-run-class.sh"))
        .args(args)
        .env("KAFKA08_BIN", env!("CARGO_BIN_EXE_kafka08"))
        .output()
        .expect("run kafka-run-class.sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_segment(dir: &Path) -> PathBuf {
    let plain: Vec<Message> = vec![
        Message::new(None, Some(b"hello"), CompressionCodec::None),
        Message::new(Some(b"k1"), Some(b"world"), CompressionCodec::None),
    ];
    let inner: Vec<Message> = (0..3).map(|i| Message::new(None, Some(format!("z{}", i).as_bytes()), CompressionCodec::None)).collect();
    let mut bytes = encode_messages(CompressionCodec::None, &plain, 0).to_vec();
    bytes.extend_from_slice(&encode_messages(CompressionCodec::Gzip, &inner, 2));
    let path = dir.join("00000000000000000000.log");
    std::fs::write(&path, &bytes).unwrap();
    path
}

#[test]
fn dumps_a_log_segment_in_082_shape() {
    let dir = tmpdir("log");
    let log = write_segment(&dir);
    let (code, out, err) = run_class(&["kafka.tools.DumpLogSegments", "--files", log.to_str().unwrap()]);
    assert_eq!(code, 0, "stderr: {}", err);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Dumping {}", log.display()));
    assert_eq!(lines[1], "Starting offset: 0");
    // The CRC is CRC32 of the bytes after the crc field (message format v0: magic,
    // attributes, key length + key, value length + value), printed unsigned in decimal:
    //   "hello", null key: 00 00 ffffffff 00000005 68656c6c6f
    //     zlib.crc32 = 0x87a77ab2 = 2275900082 (docs/wire-protocol.md 9.1)
    //   "world", key "k1": 00 00 00000002 6b31 00000005 776f726c64
    //     zlib.crc32 = 0x7d88e0b5 = 2106122421
    // Positions: entry = offset 8 + size 4 + message; "hello" is 4+1+1+4+4+5 = 19 bytes,
    // so the second entry starts at 12 + 19 = 31, and being 4+1+1+4+2+4+5 = 21 bytes, the
    // third at 31 + 12 + 21 = 64.
    assert_eq!(
        lines[2],
        "offset: 0 position: 0 isvalid: true payloadsize: 5 magic: 0 compresscodec: NoCompressionCodec crc: 2275900082"
    );
    assert_eq!(
        lines[3],
        "offset: 1 position: 31 isvalid: true payloadsize: 5 magic: 0 compresscodec: NoCompressionCodec crc: 2106122421 keysize: 2"
    );
    // Shallow: the gzip wrapper shows once, with the last inner offset.
    assert!(lines[4].starts_with("offset: 4 position: 64 isvalid: true payloadsize: "), "{}", lines[4]);
    assert!(lines[4].contains("compresscodec: GZIPCompressionCodec"));
    assert_eq!(lines.len(), 5);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn deep_iteration_and_print_data_log() {
    let dir = tmpdir("deep");
    let log = write_segment(&dir);
    let (code, out, _) = run_class(&["kafka.tools.DumpLogSegments", "--files", log.to_str().unwrap(), "--deep-iteration", "--print-data-log"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(lines.len(), 5);
    assert!(lines[0].ends_with(" payload: hello"), "{}", lines[0]);
    assert!(lines[1].ends_with(" keysize: 2 key: k1 payload: world"), "{}", lines[1]);
    for (i, l) in lines[2..].iter().enumerate() {
        assert!(l.starts_with(&format!("offset: {} position: 64 ", i + 2)), "{}", l);
        assert!(l.ends_with(&format!("payload: z{}", i)), "{}", l);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corrupt_message_and_trailing_garbage_are_reported_not_fatal() {
    let dir = tmpdir("corrupt");
    let log = write_segment(&dir);
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[30] ^= 0xff; // last byte of the first message's value
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0]);
    std::fs::write(&log, &bytes).unwrap();
    let (code, out, _) = run_class(&["kafka.tools.DumpLogSegments", "--files", log.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.lines().nth(2).unwrap().contains("isvalid: false"));
    assert!(out.contains("Found 10 invalid bytes at the end of 00000000000000000000.log"), "{}", out);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dumps_index_entries_and_verifies_them() {
    let dir = tmpdir("index");
    let log = write_segment(&dir);
    let index = dir.join("00000000000000000000.index");
    let mut idx = Vec::new();
    for (rel, pos) in [(1u32, 31u32), (2, 64)] {
        idx.extend_from_slice(&rel.to_be_bytes());
        idx.extend_from_slice(&pos.to_be_bytes());
    }
    idx.extend_from_slice(&[0u8; 16]); // preallocated zero tail
    std::fs::write(&index, &idx).unwrap();
    let files = format!("{},{}", index.display(), log.display());
    let (code, out, err) = run_class(&["kafka.tools.DumpLogSegments", "--files", &files]);
    assert_eq!(code, 0, "{}", err);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Dumping {}", index.display()));
    assert_eq!(lines[1], "offset: 1 position: 31");
    assert_eq!(lines[2], "offset: 2 position: 64");
    assert_eq!(lines[3], format!("Dumping {}", log.display()));
    assert!(err.is_empty(), "{}", err);

    // A wrong entry is reported as a mismatch; --verify-index-only prints no entries.
    idx[7] = 64; // entry 1 -> position 64 (offset 2 lives there, not 1)
    std::fs::write(&index, &idx).unwrap();
    let (code, out, err) = run_class(&["kafka.tools.DumpLogSegments", "--files", index.to_str().unwrap(), "--verify-index-only"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1);
    assert!(err.contains("Mismatches in :"), "{}", err);
    assert!(err.contains("  Index offset: 1, log offset: 2"), "{}", err);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_flags_print_one_line_and_usage_and_exit_non_zero() {
    let (code, _, err) = run_class(&["kafka.tools.DumpLogSegments", "--bogus"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().next(), Some("bogus is not a recognized option"));
    assert!(err.contains("--files <file1, file2, ...>"));
    let (code, _, err) = run_class(&["kafka.tools.DumpLogSegments", "--print-data-log"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().next(), Some("Missing required argument \"[files]\""));
    let (code, out, _) = run_class(&["kafka.tools.DumpLogSegments", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--deep-iteration"));
    let (code, _, err) = run_class(&["kafka.tools.NoSuchTool"]);
    assert_eq!(code, 1);
    assert!(err.contains("Could not find or load main class kafka.tools.NoSuchTool"));
    let (code, _, err) = run_class(&["kafka.tools.DumpLogSegments", "--files", "/nonexistent/00000000000000000000.log"]);
    assert_eq!(code, 1);
    assert!(err.contains("Error dumping"), "{}", err);
}

#[test]
fn dumps_a_directory_written_by_the_log_with_a_consistent_index() {
    use kafka08::common::SystemClock;
    use kafka08::log::{Log, LogConfig};
    use std::sync::Arc;
    let dir = tmpdir("fromlog").join("t-0");
    let config = LogConfig { index_interval_bytes: 100, ..LogConfig::default() };
    let log = Log::open(&dir, config, 0, false, Arc::new(SystemClock)).unwrap();
    for i in 0..20 {
        let codec = [CompressionCodec::None, CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4][i % 4];
        let msgs: Vec<Message> = (0..3).map(|j| Message::new(None, Some(format!("m{}-{}", i, j).as_bytes()), CompressionCodec::None)).collect();
        log.append(encode_messages(codec, &msgs, 0), true).unwrap();
    }
    log.close().unwrap();
    let index = dir.join("00000000000000000000.index");
    let logf = dir.join("00000000000000000000.log");
    let files = format!("{},{}", index.display(), logf.display());
    let (code, out, err) = run_class(&["kafka.tools.DumpLogSegments", "--files", &files, "--deep-iteration"]);
    assert_eq!(code, 0, "{}", err);
    assert!(err.is_empty(), "index mismatches or gaps reported: {}", err);
    let index_lines = out.lines().filter(|l| l.starts_with("offset: ") && !l.contains("isvalid")).count();
    assert!(index_lines >= 5, "expected index entries in: {}", out);
    let messages: Vec<&str> = out.lines().filter(|l| l.contains("isvalid: true")).collect();
    assert_eq!(messages.len(), 60);
    for (i, l) in messages.iter().enumerate() {
        assert!(l.starts_with(&format!("offset: {} ", i)), "{}", l);
    }
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
