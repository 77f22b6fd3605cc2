//! `kafka.tools.DumpLogSegments`: print the messages of `.log` segments and the entries
//! of `.index` files in 0.8.2's output shape.

use super::options::{run_tool, usage_and_die, OptionParser, Options, ToolError, UsageError};
use crate::message::{deep_iter, shallow_iter, Entry, EntryHeader, Message, MIN_MESSAGE_SIZE, LOG_OVERHEAD};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// 0.8.2's default decoder for printed keys and payloads (UTF-8 text).
const STRING_DECODER: &str = "kafka.serializer.StringDecoder";

fn parser() -> OptionParser {
    OptionParser::new("Parse a log file and dump its contents to the console, useful for debugging a seemingly corrupt log segment.")
        .flag("print-data-log", "if set, printing the messages content when dumping data logs")
        .flag("verify-index-only", "if set, just verify the index log without printing its content")
        .arg("files", "REQUIRED: The comma separated list of data and index log files to be dumped", "file1, file2, ...")
        .arg_default("max-message-size", "Size of largest message.", "size", (5 * 1024 * 1024).to_string())
        .flag("deep-iteration", "if set, uses deep instead of shallow iteration")
        .optional_arg("value-decoder-class", "if set, used to deserialize the messages. This class should implement kafka.serializer.Decoder trait. Custom jar should be available in kafka/libs directory.", "String", Some(STRING_DECODER))
        .optional_arg("key-decoder-class", "if set, used to deserialize the keys. This class should implement kafka.serializer.Decoder trait. Custom jar should be available in kafka/libs directory.", "String", Some(STRING_DECODER))
}

pub fn main(args: &[String]) -> i32 {
    let p = parser();
    if args.is_empty() {
        return usage_and_die(&p, p.summary());
    }
    run_tool(&p, args, |opts| run(&p, opts))
}

struct Settings {
    print_data: bool,
    verify_only: bool,
    deep: bool,
    max_message_size: usize,
}

fn run(p: &OptionParser, opts: Options) -> Result<(), ToolError> {
    p.check_required(&opts, &["files"])?;
    // 0.8.2 decoded keys and payloads for printing with these classes; kafka08 prints them
    // as 0.8.2's StringDecoder did and knows no other decoder.
    for flag in ["key-decoder-class", "value-decoder-class"] {
        super::options::require_known_class(&opts, flag, &[STRING_DECODER])?;
    }
    let max: i64 = opts.parse_value("max-message-size")?.unwrap_or(5 * 1024 * 1024);
    if max <= 0 {
        return Err(UsageError("max-message-size must be positive".into()).into());
    }
    let s = Settings {
        print_data: opts.has("print-data-log"),
        verify_only: opts.has("verify-index-only"),
        deep: opts.has("deep-iteration"),
        max_message_size: max as usize,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut index_mismatches: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut non_consecutive: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    let mut failed = false;
    for name in opts.value("files").unwrap_or_default().split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let path = Path::new(name);
        let result = if name.ends_with(".log") {
            let _ = writeln!(out, "Dumping {}", name);
            dump_log(path, &s, &mut out, &mut non_consecutive)
        } else if name.ends_with(".index") {
            let _ = writeln!(out, "Dumping {}", name);
            dump_index(path, &s, &mut out, &mut index_mismatches)
        } else {
            continue;
        };
        if let Err(e) = result {
            let _ = out.flush();
            eprintln!("Error dumping {}: {}", name, e);
            failed = true;
        }
    }
    let _ = out.flush();
    for (file, list) in &index_mismatches {
        eprintln!("Mismatches in :{}", file);
        for (index_offset, log_offset) in list {
            eprintln!("  Index offset: {}, log offset: {}", index_offset, log_offset);
        }
    }
    for (file, list) in &non_consecutive {
        eprintln!("Non-secutive offsets in :{}", file);
        for (a, b) in list {
            eprintln!("  {} is followed by {}", a, b);
        }
    }
    if failed {
        return Err(ToolError::Failed("some files could not be dumped".into()));
    }
    Ok(())
}

fn base_offset_of(path: &Path) -> std::io::Result<i64> {
    let stem = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.split('.').next()).unwrap_or("");
    stem.parse::<i64>().map_err(|_| std::io::Error::other(format!("{} is not named <base offset>.log/.index", path.display())))
}

fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// Reads the shallow entries of a segment file one at a time, so a 1 GiB segment is
/// never held in memory.
struct EntryReader<R: Read> {
    r: R,
    position: u64,
    max_message_size: usize,
}

enum Next {
    Entry(Entry),
    End,
    /// A size field the reader refuses (below 14, above the maximum).
    Invalid(String),
}

impl<R: Read> EntryReader<R> {
    fn next(&mut self) -> std::io::Result<Next> {
        let mut head = [0u8; LOG_OVERHEAD];
        if !read_full(&mut self.r, &mut head)? {
            return Ok(Next::End);
        }
        let EntryHeader { offset, size } = EntryHeader::parse(&head).expect("12 bytes read");
        if size < MIN_MESSAGE_SIZE as i32 {
            return Ok(Next::Invalid(format!("Invalid message size: {}", size)));
        }
        if size as usize > self.max_message_size {
            return Ok(Next::Invalid(format!("Message size exceeds the largest allowable message size ({}).", self.max_message_size)));
        }
        let mut body = vec![0u8; size as usize];
        if !read_full(&mut self.r, &mut body)? {
            return Ok(Next::End);
        }
        let message = Message::from_bytes(Bytes::from(body)).expect("size >= 14 checked");
        let entry = Entry { offset, position: self.position as usize, message };
        self.position += (LOG_OVERHEAD + size as usize) as u64;
        Ok(Next::Entry(entry))
    }
}

/// Fill `buf` completely; false if the input ended first (a partial tail is not an error).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok(false),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn lossy(b: Option<Bytes>) -> String {
    match b {
        None => "null".to_string(),
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
    }
}

fn print_message(out: &mut impl Write, offset: i64, position: u64, m: &Message, print_data: bool) -> std::io::Result<()> {
    let codec = crate::message::CompressionCodec::from_id(m.codec_id()).map(|c| c.class_name()).unwrap_or("UnknownCodec");
    write!(
        out,
        "offset: {} position: {} isvalid: {} payloadsize: {} magic: {} compresscodec: {} crc: {}",
        offset,
        position,
        m.crc() == m.compute_crc(),
        m.value_size(),
        m.magic(),
        codec,
        m.crc()
    )?;
    if m.key_size() >= 0 {
        write!(out, " keysize: {}", m.key_size())?;
    }
    if print_data {
        if m.key_size() >= 0 {
            write!(out, " key: {}", lossy(m.key()))?;
        }
        write!(out, " payload: {}", lossy(m.value()))?;
    }
    writeln!(out)
}

fn dump_log(path: &Path, s: &Settings, out: &mut impl Write, non_consecutive: &mut BTreeMap<String, Vec<(i64, i64)>>) -> std::io::Result<()> {
    let base = base_offset_of(path)?;
    writeln!(out, "Starting offset: {}", base)?;
    let file = File::open(path)?;
    let file_size = file.metadata()?.len();
    let mut reader = EntryReader { r: BufReader::with_capacity(1 << 20, file), position: 0, max_message_size: s.max_message_size };
    let mut last_offset = -1i64;
    loop {
        let shallow = match reader.next()? {
            Next::Entry(e) => e,
            Next::End => break,
            Next::Invalid(why) => {
                writeln!(out, "{}", why)?;
                break;
            }
        };
        let position = shallow.position as u64;
        let items: Vec<Result<Entry, String>> = if s.deep && shallow.message.is_compressed() {
            let mut b = crate::message::MessageSetBuilder::new();
            b.push(shallow.offset, &shallow.message);
            deep_iter(b.finish()).map(|r| r.map_err(|e| e.to_string())).collect()
        } else {
            vec![Ok(shallow.clone())]
        };
        for item in items {
            match item {
                Ok(e) => {
                    if last_offset != -1 && !e.message.is_compressed() && e.offset != last_offset + 1 {
                        non_consecutive.entry(absolute(path)).or_default().push((last_offset, e.offset));
                    }
                    last_offset = e.offset;
                    print_message(out, e.offset, position, &e.message, s.print_data)?;
                }
                Err(why) => writeln!(out, "offset: {} position: {} cannot be decompressed: {}", shallow.offset, position, why)?,
            }
        }
    }
    let trailing = file_size.saturating_sub(reader.position);
    if trailing > 0 {
        writeln!(out, "Found {} invalid bytes at the end of {}", trailing, path.file_name().and_then(|n| n.to_str()).unwrap_or(""))?;
    }
    Ok(())
}

fn dump_index(path: &Path, s: &Settings, out: &mut impl Write, mismatches: &mut BTreeMap<String, Vec<(i64, i64)>>) -> std::io::Result<()> {
    let base = base_offset_of(path)?;
    let entries = crate::log::raw_index_entries(&std::fs::read(path)?, base);
    let log_path = path.with_extension("log");
    let log = File::open(&log_path)?;
    for (i, e) in entries.into_iter().enumerate() {
        let (offset, position) = (e.offset, e.position);
        // A preallocated index ends in zero entries after a crash: stop at the first.
        if offset == base && i > 0 {
            break;
        }
        if let Some(first) = first_offset_at(&log, position as u64, s.max_message_size)? {
            if first != offset {
                mismatches.entry(absolute(path)).or_default().push((offset, first));
            }
        }
        if !s.verify_only {
            writeln!(out, "offset: {} position: {}", offset, position)?;
        }
    }
    Ok(())
}

/// The offset of the first (deep) message stored at `position` in a segment.
fn first_offset_at(log: &File, position: u64, max: usize) -> std::io::Result<Option<i64>> {
    let mut head = [0u8; LOG_OVERHEAD];
    if log.read_exact_at(&mut head, position).is_err() {
        return Ok(None);
    }
    let size = EntryHeader::parse(&head).expect("12 bytes read").size;
    if size < MIN_MESSAGE_SIZE as i32 || size as usize > max {
        return Ok(None);
    }
    let mut buf = vec![0u8; LOG_OVERHEAD + size as usize];
    if log.read_exact_at(&mut buf, position).is_err() {
        return Ok(None);
    }
    let set = Bytes::from(buf);
    let first = match shallow_iter(set.clone()).next() {
        Some(Ok(e)) if e.message.is_compressed() => deep_iter(set).next().and_then(|r| r.ok()).map(|e| e.offset),
        Some(Ok(e)) => Some(e.offset),
        _ => None,
    };
    Ok(first)
}
