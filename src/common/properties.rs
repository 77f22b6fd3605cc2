//! Java `.properties` files, as `java.util.Properties.load` reads them: `#`/`!` comments,
//! `key=value`, `key:value` or `key value`, backslash line continuations and escapes.
//! Later keys override earlier ones; the order of first appearance is kept.

use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum PropertiesError {
    Io(String, std::io::Error),
    /// A key holds a value that does not parse: (key, value, what was expected).
    BadValue(String, String, String),
}

impl fmt::Display for PropertiesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertiesError::Io(path, e) => write!(f, "cannot read {}: {}", path, e),
            PropertiesError::BadValue(k, v, what) => {
                write!(f, "invalid value {:?} for configuration {}: {}", v, k, what)
            }
        }
    }
}

impl std::error::Error for PropertiesError {}

impl Properties {
    pub fn new() -> Properties {
        Properties::default()
    }

    pub fn load(path: &Path) -> Result<Properties, PropertiesError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PropertiesError::Io(path.display().to_string(), e))?;
        Ok(parse_properties(&text))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(idx).1)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A typed value: `Ok(None)` when absent, an error naming the key when it does not parse.
    pub fn parse<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, PropertiesError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                PropertiesError::BadValue(
                    key.to_string(),
                    v.to_string(),
                    format!("expected {}", std::any::type_name::<T>()),
                )
            }),
        }
    }

    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, PropertiesError> {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// Booleans as Java's `toBoolean`: "true" (any case) is true; anything else must be
    /// "false", which a typo would silently be in 0.8 — here it is an error.
    pub fn parse_bool(&self, key: &str) -> Result<Option<bool>, PropertiesError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(PropertiesError::BadValue(key.into(), v.into(), "expected true or false".into())),
            },
        }
    }

    /// Render as a `.properties` file (keys in insertion order).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.entries {
            s.push_str(&escape(k, true));
            s.push('=');
            s.push_str(&escape(v, false));
            s.push('\n');
        }
        s
    }
}

fn escape(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '=' | ':' if is_key => {
                out.push('\\');
                out.push(c)
            }
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '#' | '!' if i == 0 => {
                out.push('\\');
                out.push(c)
            }
            _ => out.push(c),
        }
    }
    out
}

/// Parse the text of a `.properties` file.
pub fn parse_properties(text: &str) -> Properties {
    let mut props = Properties::new();
    let mut logical = String::new();
    let mut continuing = false;
    for raw in text.lines() {
        let line = if continuing { raw.trim_start() } else { raw.trim_start() };
        if !continuing && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        // A line ends in a continuation when it ends with an odd number of backslashes.
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        let (k, v) = split_key_value(&logical);
        props.set(k, v);
        logical.clear();
    }
    if continuing && !logical.is_empty() {
        let (k, v) = split_key_value(&logical);
        props.set(k, v);
    }
    props
}

fn split_key_value(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key_end = chars.len();
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                key_end = i;
                break;
            }
            _ => i += 1,
        }
    }
    let key: String = chars[..key_end.min(chars.len())].iter().collect();
    let mut j = key_end;
    while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\x0c') {
        j += 1;
    }
    if j < chars.len() && matches!(chars[j], '=' | ':') {
        j += 1;
        while j < chars.len() && matches!(chars[j], ' ' | '\t' | '\x0c') {
            j += 1;
        }
    }
    let value: String = chars[j.min(chars.len())..].iter().collect();
    (unescape(&key), unescape(&value))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_properties_forms() {
        let text = "# comment\n! also comment\n\nbroker.id=0\nport : 9092\nlog.dirs /tmp/kafka-logs\n\
                    zookeeper.connect=localhost:2181/chroot\nmulti=a,\\\n    b\nesc\\=key=v\\u0041\nempty=\n";
        let p = parse_properties(text);
        assert_eq!(p.get("broker.id"), Some("0"));
        assert_eq!(p.get("port"), Some("9092"));
        assert_eq!(p.get("log.dirs"), Some("/tmp/kafka-logs"));
        assert_eq!(p.get("zookeeper.connect"), Some("localhost:2181/chroot"));
        assert_eq!(p.get("multi"), Some("a,b"));
        assert_eq!(p.get("esc=key"), Some("vA"));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(p.parse::<i32>("broker.id").unwrap(), Some(0));
        assert!(p.parse::<i32>("log.dirs").is_err());
    }

    #[test]
    fn later_keys_override_and_text_round_trips() {
        let p = parse_properties("a=1\nb=2\na=3\n");
        assert_eq!(p.get("a"), Some("3"));
        assert_eq!(p.len(), 2);
        assert_eq!(parse_properties(&p.to_text()), p);
    }

    #[test]
    fn bad_bool_names_the_key() {
        let p = parse_properties("x=ture\n");
        let err = p.parse_bool("x").unwrap_err().to_string();
        assert!(err.contains("x"), "{}", err);
    }
}
