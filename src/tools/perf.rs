//! What the 0.8.2 performance tools share (`kafka.tools.PerfConfig` and the way they print):
//! the common options, `java.text.SimpleDateFormat` patterns for the time columns, and
//! numbers printed as Java prints them (`"%.4f".format(x)`, `Double.toString`).

use super::options::{OptionParser, Options, UsageError};
use crate::message::CompressionCodec;
use std::io::Write;

/// 0.8.2 `PerfConfig`'s options, on top of which each perf tool declares its own.
pub fn perf_config(summary: &'static str) -> OptionParser {
    OptionParser::new(summary)
        .arg_default("messages", "The number of messages to send or consume", "Long: count", i64::MAX.to_string())
        .arg_default("reporting-interval", "Interval at which to print progress info.", "Integer: size", "5000")
        .arg_default(
            "date-format",
            "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options.",
            "date format",
            DEFAULT_DATE_FORMAT,
        )
        .flag("show-detailed-stats", "If set, stats are reported for each reporting interval as configured by reporting-interval")
        .flag("hide-header", "If set, skips printing the header for the stats ")
        .arg_default("message-size", "The size of each message.", "Integer: size", "100")
        .arg_default("batch-size", "Number of messages to write in a single batch.", "Integer: size", "200")
        .arg_default(
            "compression-codec",
            // 0.8.2 put the codec list in the argument's description; here it sits in the
            // description column so that the usage table stays narrow.
            "If set, messages are sent compressed (supported codec: NoCompressionCodec as 0, GZIPCompressionCodec as 1, SnappyCompressionCodec as 2, LZ4CompressionCodec as 3)",
            "Integer: codec",
            "0",
        )
}

pub const DEFAULT_DATE_FORMAT: &str = "yyyy-MM-dd HH:mm:ss:SSS";

/// The `PerfConfig` values every perf tool reads.
#[derive(Debug, Clone)]
pub struct PerfSettings {
    pub messages: i64,
    pub reporting_interval: i32,
    pub date_format: DateFormat,
    pub show_detailed_stats: bool,
    pub hide_header: bool,
    pub message_size: i32,
    pub batch_size: i32,
    pub compression_codec: CompressionCodec,
}

impl PerfSettings {
    pub fn from_options(opts: &Options) -> Result<PerfSettings, UsageError> {
        let codec_id: i32 = opts.parse_value("compression-codec")?.unwrap_or(0);
        // 0.8.2 `CompressionCodec.getCompressionCodec` throws UnknownCodecException.
        let compression_codec = u8::try_from(codec_id)
            .ok()
            .and_then(|id| CompressionCodec::from_id(id).ok())
            .ok_or_else(|| UsageError(format!("{} is an unknown compression codec", codec_id)))?;
        let date_format = DateFormat::new(opts.value("date-format").unwrap_or(DEFAULT_DATE_FORMAT)).map_err(UsageError)?;
        Ok(PerfSettings {
            messages: opts.parse_value("messages")?.unwrap_or(i64::MAX),
            reporting_interval: opts.parse_value("reporting-interval")?.unwrap_or(5000),
            date_format,
            show_detailed_stats: opts.has("show-detailed-stats"),
            hide_header: opts.has("hide-header"),
            message_size: opts.parse_value("message-size")?.unwrap_or(100),
            batch_size: opts.parse_value("batch-size")?.unwrap_or(200),
            compression_codec,
        })
    }
}

/// Milliseconds since the epoch (`System.currentTimeMillis`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Bytes as MB the way the perf tools count them (`bytes / (1024 * 1024)`).
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Java's `String.format("%.<n>f", x)`: like Rust's, except the non-finite values, which
/// Java spells `NaN`, `Infinity` and `-Infinity`.
pub fn jfixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{:.*}", decimals, x)
    }
}

/// Java's `Double.toString` (what Scala's `"" + d` prints): at least one digit after the
/// point, scientific notation (`1.0E-4`) outside [1e-3, 1e7).
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = x.abs();
    if x == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{}", x);
        if s.contains('.') {
            s
        } else {
            format!("{}.0", s)
        }
    } else {
        let s = format!("{:e}", x);
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{}.0", mantissa) };
        format!("{}E{}", mantissa, exp)
    }
}

/// Log WARN and above to stderr, as 0.8.2's tools did (`config/tools-log4j.properties`:
/// `log4j.rootLogger=WARN, stderr`); `RUST_LOG` overrides.
pub fn init_tool_logging() {
    let mut b =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(format!("warn,{}=error", crate::zk::CLIENT_LOG_TARGET)));
    b.format(|buf, record| {
        writeln!(buf, "[{}] {} {} ({})", DateFormat::log4j().format(now_ms()), record.level(), record.args(), record.target())
    });
    b.target(env_logger::Target::Stderr);
    let _ = b.try_init();
}

/// A `java.text.SimpleDateFormat` pattern, formatted in the local time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A pattern letter repeated `count` times.
    Field(char, usize),
}

const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The broken-down local time of an instant.
struct LocalTime {
    year: i64,
    /// 0-11
    month: usize,
    day: i64,
    /// 0-6, Sunday = 0
    weekday: usize,
    /// 0-365
    yearday: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    gmtoff_secs: i64,
    zone: String,
}

fn local_time(ms: i64) -> LocalTime {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        // Out of the C library's range: show UTC fields of the epoch rather than fail.
        return LocalTime {
            year: 1970,
            month: 0,
            day: 1,
            weekday: 4,
            yearday: 0,
            hour: 0,
            minute: 0,
            second: 0,
            millis,
            gmtoff_secs: 0,
            zone: "UTC".into(),
        };
    }
    let zone = if tm.tm_zone.is_null() {
        "UTC".to_string()
    } else {
        // SAFETY: glibc points tm_zone at a NUL-terminated static zone abbreviation.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }.to_string_lossy().into_owned()
    };
    LocalTime {
        year: tm.tm_year as i64 + 1900,
        month: tm.tm_mon.clamp(0, 11) as usize,
        day: tm.tm_mday as i64,
        weekday: tm.tm_wday.clamp(0, 6) as usize,
        yearday: tm.tm_yday as i64,
        hour: tm.tm_hour as i64,
        minute: tm.tm_min as i64,
        second: tm.tm_sec as i64,
        millis,
        gmtoff_secs: tm.tm_gmtoff as i64,
        zone,
    }
}

impl DateFormat {
    /// Parse a pattern; an unknown letter is refused as Java refuses it.
    pub fn new(pattern: &str) -> Result<DateFormat, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                // Quoted text up to the closing quote; '' inside is one quote.
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("Unterminated quote in date format {}", pattern)),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            literal.push(ch);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if c.is_ascii_alphabetic() {
                if !"GyYMLwWDdFEuaHkKhmsSzZX".contains(c) {
                    return Err(format!("Illegal pattern character '{}'", c));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field(c, n));
                i += n;
                continue;
            }
            literal.push(c);
            i += 1;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(DateFormat { parts })
    }

    /// log4j's `ISO8601`-like layout our tool log lines use.
    fn log4j() -> DateFormat {
        DateFormat::new("yyyy-MM-dd HH:mm:ss,SSS").expect("valid pattern")
    }

    /// Format an instant (ms since the epoch) in the local time zone.
    pub fn format(&self, ms: i64) -> String {
        let t = local_time(ms);
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Field(c, n) => format_field(&mut out, &t, *c, *n),
            }
        }
        out
    }
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", v.abs(), width = width));
}

fn format_field(out: &mut String, t: &LocalTime, c: char, n: usize) {
    match c {
        'G' => out.push_str(if t.year > 0 { "AD" } else { "BC" }),
        'y' | 'Y' => {
            if n == 2 {
                pad(out, t.year.rem_euclid(100), 2)
            } else {
                pad(out, t.year, n)
            }
        }
        'M' | 'L' => match n {
            1 | 2 => pad(out, t.month as i64 + 1, n),
            3 => out.push_str(&MONTHS[t.month][..3]),
            _ => out.push_str(MONTHS[t.month]),
        },
        'd' => pad(out, t.day, n),
        'D' => pad(out, t.yearday + 1, n),
        'w' => pad(out, t.yearday / 7 + 1, n),
        'W' | 'F' => pad(out, (t.day - 1) / 7 + 1, n),
        'E' => {
            if n >= 4 {
                out.push_str(DAYS[t.weekday])
            } else {
                out.push_str(&DAYS[t.weekday][..3])
            }
        }
        'u' => pad(out, if t.weekday == 0 { 7 } else { t.weekday as i64 }, n),
        'a' => out.push_str(if t.hour < 12 { "AM" } else { "PM" }),
        'H' => pad(out, t.hour, n),
        'k' => pad(out, if t.hour == 0 { 24 } else { t.hour }, n),
        'K' => pad(out, t.hour % 12, n),
        'h' => pad(out, if t.hour % 12 == 0 { 12 } else { t.hour % 12 }, n),
        'm' => pad(out, t.minute, n),
        's' => pad(out, t.second, n),
        'S' => pad(out, t.millis, n),
        'z' => out.push_str(&t.zone),
        'Z' | 'X' => {
            let off = t.gmtoff_secs / 60;
            if c == 'X' && off == 0 {
                out.push('Z');
                return;
            }
            out.push(if off < 0 { '-' } else { '+' });
            let (h, m) = (off.abs() / 60, off.abs() % 60);
            match (c, n) {
                ('X', 1) => pad(out, h, 2),
                ('X', 3) => {
                    pad(out, h, 2);
                    out.push(':');
                    pad(out, m, 2)
                }
                _ => {
                    pad(out, h, 2);
                    pad(out, m, 2)
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_has_0_8_2_shape() {
        let f = DateFormat::new(DEFAULT_DATE_FORMAT).unwrap();
        let s = f.format(now_ms());
        let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3}$").unwrap();
        assert!(re.is_match(&s), "{s}");
    }

    #[test]
    fn quotes_literals_and_bad_letters() {
        let f = DateFormat::new("'at' HH 'o''clock' ''").unwrap();
        let s = f.format(0);
        assert!(s.starts_with("at "), "{s}");
        assert!(s.ends_with(" o'clock '"), "{s}");
        assert_eq!(DateFormat::new("yyyy-qq").unwrap_err(), "Illegal pattern character 'q'");
        assert!(DateFormat::new("'open").is_err());
        let millis = DateFormat::new("S|SSS|SSSSS").unwrap().format(1_234_005);
        assert_eq!(millis, "5|005|00005");
    }

    #[test]
    fn numbers_print_as_java_prints_them() {
        assert_eq!(jfixed(1.0 / 3.0, 4), "0.3333");
        assert_eq!(jfixed(2.5, 2), "2.50");
        assert_eq!(jfixed(f64::INFINITY, 4), "Infinity");
        assert_eq!(jfixed(f64::NAN, 4), "NaN");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(12.345678), "12.345678");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(0.00012), "1.2E-4");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
        assert_eq!(java_double(0.0), "0.0");
    }
}
