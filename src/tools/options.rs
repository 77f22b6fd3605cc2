//! Command-line options the way 0.8.2's tools read them (jopt-simple via
//! `CommandLineUtils`): `--name value` or `--name=value`, flags without values, a usage
//! table of `Option` / `Description` columns, and on a bad or missing option a one-line
//! error, the usage, and exit code 1.

use std::collections::HashMap;
use std::fmt::Write as _;

#[derive(Debug, Clone)]
struct OptSpec {
    name: &'static str,
    description: &'static str,
    /// `Some(arg description)` when the option takes a value.
    arg: Option<&'static str>,
    default: Option<String>,
    /// jopt-simple `withOptionalArg`: a value may follow, or not.
    optional_arg: bool,
}

/// The declared options of one tool.
#[derive(Debug, Clone)]
pub struct OptionParser {
    summary: &'static str,
    specs: Vec<OptSpec>,
}

/// The parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    values: HashMap<&'static str, Vec<String>>,
    defaults: HashMap<&'static str, String>,
    /// Words that are not options (jopt-simple's non-option arguments).
    pub rest: Vec<String>,
}

/// Why parsing stopped: the message is what the tool prints before its usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl OptionParser {
    pub fn new(summary: &'static str) -> OptionParser {
        OptionParser { summary, specs: Vec::new() }
    }

    /// A flag (no value).
    pub fn flag(mut self, name: &'static str, description: &'static str) -> Self {
        self.specs.push(OptSpec { name, description, arg: None, default: None, optional_arg: false });
        self
    }

    /// An option that requires a value.
    pub fn arg(mut self, name: &'static str, description: &'static str, arg: &'static str) -> Self {
        self.specs.push(OptSpec { name, description, arg: Some(arg), default: None, optional_arg: false });
        self
    }

    /// An option that requires a value and has a default.
    pub fn arg_default(mut self, name: &'static str, description: &'static str, arg: &'static str, default: impl Into<String>) -> Self {
        self.specs.push(OptSpec { name, description, arg: Some(arg), default: Some(default.into()), optional_arg: false });
        self
    }

    /// An option whose value may be left out (jopt-simple `withOptionalArg`).
    pub fn optional_arg(mut self, name: &'static str, description: &'static str, arg: &'static str, default: Option<&str>) -> Self {
        self.specs.push(OptSpec { name, description, arg: Some(arg), default: default.map(str::to_string), optional_arg: true });
        self
    }

    pub fn summary(&self) -> &'static str {
        self.summary
    }

    fn spec(&self, name: &str) -> Option<&OptSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    pub fn parse<S: AsRef<str>>(&self, args: &[S]) -> Result<Options, UsageError> {
        let mut opts = Options::default();
        for s in &self.specs {
            if let Some(d) = &s.default {
                opts.defaults.insert(s.name, d.clone());
            }
        }
        let mut i = 0;
        while i < args.len() {
            let word = args[i].as_ref();
            i += 1;
            let body = if let Some(b) = word.strip_prefix("--") {
                b
            } else if let Some(b) = word.strip_prefix('-').filter(|b| !b.is_empty() && !b.starts_with(|c: char| c.is_ascii_digit())) {
                b
            } else {
                opts.rest.push(word.to_string());
                continue;
            };
            if body.is_empty() {
                // "--" ends the options.
                opts.rest.extend(args[i..].iter().map(|a| a.as_ref().to_string()));
                break;
            }
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let spec = self.spec(name).ok_or_else(|| UsageError(format!("{} is not a recognized option", name)))?;
            let value = match (spec.arg, inline) {
                (None, Some(_)) => return Err(UsageError(format!("Option {} does not take an argument", name))),
                (None, None) => String::new(),
                (Some(_), Some(v)) => v,
                (Some(_), None) => {
                    let next = args.get(i).map(|a| a.as_ref());
                    match next {
                        Some(v) if !v.starts_with("--") => {
                            i += 1;
                            v.to_string()
                        }
                        _ if spec.optional_arg => spec.default.clone().unwrap_or_default(),
                        _ => return Err(UsageError(format!("Option {} requires an argument", name))),
                    }
                }
            };
            opts.values.entry(spec.name).or_default().push(value);
        }
        Ok(opts)
    }

    /// 0.8.2's `CommandLineUtils.checkRequiredArgs`.
    pub fn check_required(&self, opts: &Options, required: &[&str]) -> Result<(), UsageError> {
        for r in required {
            if !opts.has(r) {
                return Err(UsageError(format!("Missing required argument \"[{}]\"", r)));
            }
        }
        Ok(())
    }

    /// The jopt-simple help table.
    pub fn usage(&self) -> String {
        let mut rows: Vec<(String, String)> = Vec::new();
        let mut specs: Vec<&OptSpec> = self.specs.iter().collect();
        specs.sort_by_key(|s| s.name);
        for s in specs {
            let mut left = format!("--{}", s.name);
            if let Some(a) = s.arg {
                if s.optional_arg {
                    let _ = write!(left, " [{}]", a);
                } else {
                    let _ = write!(left, " <{}>", a);
                }
            }
            let mut desc = s.description.to_string();
            if let Some(d) = &s.default {
                let _ = write!(desc, " (default: {})", d);
            }
            rows.push((left, desc));
        }
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(6).max(6) + 2;
        let mut out = String::new();
        let _ = writeln!(out, "{:<width$}{}", "Option", "Description", width = width);
        let _ = writeln!(out, "{:<width$}{}", "------", "-----------", width = width);
        for (l, d) in rows {
            let wrapped = wrap(&d, 60);
            for (n, line) in wrapped.iter().enumerate() {
                if n == 0 {
                    let _ = writeln!(out, "{:<width$}{}", l, line, width = width);
                } else {
                    let _ = writeln!(out, "{:<width$}  {}", "", line, width = width);
                }
            }
        }
        out
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let cur = lines.last_mut().expect("non-empty");
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

impl Options {
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The last value given, else the default.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
            .or_else(|| self.defaults.get(name).map(String::as_str))
    }

    pub fn values(&self, name: &str) -> Vec<&str> {
        self.values.get(name).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default()
    }

    /// A typed value; a value that does not parse is a usage error naming the option.
    pub fn parse_value<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, UsageError> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|_| UsageError(format!("Cannot parse argument '{}' of option {}", v, name))),
        }
    }
}

/// Run a tool body: `Err(UsageError)` prints the message and the usage to stderr and exits
/// 1, as 0.8.2's `CommandLineUtils.printUsageAndDie` did; `--help` prints usage and exits 0.
pub fn run_tool<F>(parser: &OptionParser, args: &[String], body: F) -> i32
where
    F: FnOnce(Options) -> Result<(), ToolError>,
{
    if args.iter().any(|a| a == "--help" || a == "-h") && parser.spec("help").is_none() {
        print!("{}\n{}", parser.summary(), parser.usage());
        return 0;
    }
    let opts = match parser.parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}", e);
            eprint!("{}", parser.usage());
            return 1;
        }
    };
    match body(opts) {
        Ok(()) => 0,
        Err(ToolError::Usage(e)) => {
            eprintln!("{}", e);
            eprint!("{}", parser.usage());
            1
        }
        Err(ToolError::Failed(msg)) => {
            // An empty message: the tool already said what went wrong.
            if !msg.is_empty() {
                eprintln!("{}", msg);
            }
            1
        }
    }
}

/// How a tool fails: a usage error (message + usage) or a plain one-line failure.
#[derive(Debug)]
pub enum ToolError {
    Usage(UsageError),
    Failed(String),
}

impl From<UsageError> for ToolError {
    fn from(e: UsageError) -> Self {
        ToolError::Usage(e)
    }
}

/// A flag of a 0.8.2 tool that names a class to load (a formatter, a line reader, a
/// decoder). kafka08 has no class loader, only the classes 0.8.2 shipped for that flag, so
/// another name fails the way 0.8.2 failed on a class missing from its classpath: one line,
/// exit 1, before anything is read or written.
pub fn require_known_class(opts: &Options, flag: &str, known: &[&str]) -> Result<(), ToolError> {
    match opts.value(flag) {
        Some(class) if !known.contains(&class) => {
            Err(ToolError::Failed(format!("java.lang.ClassNotFoundException: {}", class)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser() -> OptionParser {
        OptionParser::new("test tool")
            .flag("print-data-log", "print")
            .arg("files", "REQUIRED: files", "file1, file2, ...")
            .arg_default("max-message-size", "Size of largest message.", "size", "5242880")
    }

    #[test]
    fn parses_both_value_forms_flags_and_defaults() {
        let o = parser().parse(&["--files", "a,b", "--print-data-log", "--max-message-size=10"]).unwrap();
        assert_eq!(o.value("files"), Some("a,b"));
        assert!(o.has("print-data-log"));
        assert_eq!(o.parse_value::<i32>("max-message-size").unwrap(), Some(10));
        let o = parser().parse(&["--files", "x"]).unwrap();
        assert_eq!(o.value("max-message-size"), Some("5242880"));
    }

    #[test]
    fn errors_are_one_line_and_name_the_option() {
        assert_eq!(parser().parse(&["--nope"]).unwrap_err().0, "nope is not a recognized option");
        assert_eq!(parser().parse(&["--files"]).unwrap_err().0, "Option files requires an argument");
        let o = parser().parse::<&str>(&[]).unwrap();
        assert_eq!(parser().check_required(&o, &["files"]).unwrap_err().0, "Missing required argument \"[files]\"");
        let o = parser().parse(&["--max-message-size", "big", "--files", "f"]).unwrap();
        assert!(o.parse_value::<i32>("max-message-size").is_err());
    }

    #[test]
    fn usage_lists_every_option() {
        let u = parser().usage();
        assert!(u.starts_with("Option"));
        assert!(u.contains("--files <file1, file2, ...>"));
        assert!(u.contains("--print-data-log"));
        assert!(u.contains("(default: 5242880)"));
    }
}

/// 0.8.2 `CommandLineUtils.printUsageAndDie`: `message` (what the tool does, or what is
/// wrong), then the usage, on stderr; exit code 1.
/// The start of a 0.8.2 admin command (`CommandLineUtils.printUsageAndDie` style): no
/// arguments prints `summary` and the usage and fails; `--help`/`-h` prints the usage to
/// stdout and succeeds; a flag that does not parse is one line plus the usage. `Err` holds
/// the exit code to return.
pub fn parse_admin_args(p: &OptionParser, args: &[String], summary: &str) -> Result<Options, i32> {
    use std::io::Write as _;
    if args.is_empty() {
        return Err(usage_and_die(p, summary));
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let _ = write!(std::io::stdout().lock(), "{}\n{}", p.summary(), p.usage());
        return Err(0);
    }
    p.parse(args).map_err(|e| usage_and_die(p, &e.0))
}

pub fn usage_and_die(p: &OptionParser, message: &str) -> i32 {
    use std::io::Write as _;
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    let _ = writeln!(lock, "{}", message);
    let _ = write!(lock, "{}", p.usage());
    1
}
