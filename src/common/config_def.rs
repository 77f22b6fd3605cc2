//! Declarative configuration keys, in the spirit of 0.8.2's `VerifiableProperties` (typed
//! reads, ranges, "Property X is not valid") and later Kafkas' `ConfigDef` (one table of
//! keys). A config is declared once with [`config_struct!`]: one line per key giving its
//! name, field, type, default, valid range and doc line. From that line come the field,
//! its parse (trimmed, typed, range-checked — a default is checked like a given value, as
//! 0.8.2's `getIntInRange` did), [`ConfigKey`] for the key table, the list of known keys
//! (for the unknown-key warning) and `value(key)` (the value rendered as it would be
//! written in the file).
//!
//! A line may refer to the keys above it: a range that depends on another key's value
//! (`replica.fetch.max.bytes` at least `message.max.bytes`), a default that is another
//! key's (`key.serializer.class`), a key not read when a more precise one is set. What a
//! line cannot say — other checks between keys, a resolved value such as
//! "`log.retention.ms`, else minutes, else hours" — stays hand-written beside the table.

use super::properties::Properties;

/// A type a configuration value can have.
pub trait ConfigValue: Sized + Clone {
    /// The type's name in the key table (0.8.2 names: int, long, short, double, ...).
    const TYPE: &'static str;
    /// Parse a trimmed value; `Err` is the reason, e.g. "expected a 32-bit integer".
    fn parse_value(raw: &str) -> Result<Self, String>;
    /// The value as it would be written in a `.properties` file.
    fn render(&self) -> String;
    /// Whether the value lies outside the inclusive `range`. Types without an order are
    /// never out of range.
    fn out_of_range(&self, _range: &(Self, Self)) -> bool {
        false
    }
}

macro_rules! integer_value {
    ($t:ty, $name:literal, $what:literal) => {
        impl ConfigValue for $t {
            const TYPE: &'static str = $name;
            fn parse_value(raw: &str) -> Result<Self, String> {
                raw.parse::<$t>().map_err(|_| concat!("expected ", $what).to_string())
            }
            fn render(&self) -> String {
                self.to_string()
            }
            fn out_of_range(&self, range: &(Self, Self)) -> bool {
                *self < range.0 || *self > range.1
            }
        }
    };
}

integer_value!(i16, "short", "a 16-bit integer");
integer_value!(i32, "int", "a 32-bit integer");
integer_value!(i64, "long", "a 64-bit integer");
integer_value!(u32, "int", "a non-negative integer");
integer_value!(u64, "long", "a non-negative integer");
integer_value!(usize, "int", "a non-negative integer");

/// A TCP port: read as 0.8.2's Int, then it must fit 0..=65535.
impl ConfigValue for u16 {
    const TYPE: &'static str = "int";
    fn parse_value(raw: &str) -> Result<Self, String> {
        let v = i32::parse_value(raw)?;
        u16::try_from(v).map_err(|_| format!("not in the range [0, {}]", u16::MAX))
    }
    fn render(&self) -> String {
        self.to_string()
    }
    fn out_of_range(&self, range: &(Self, Self)) -> bool {
        *self < range.0 || *self > range.1
    }
}

impl ConfigValue for f64 {
    const TYPE: &'static str = "double";
    fn parse_value(raw: &str) -> Result<Self, String> {
        parse_java_double(raw).ok_or_else(|| "expected a number".to_string())
    }
    fn render(&self) -> String {
        java_double(*self)
    }
    fn out_of_range(&self, range: &(Self, Self)) -> bool {
        *self < range.0 || *self > range.1
    }
}

/// `true`/`false` in any letter case (0.8.2 wanted exactly lower case).
impl ConfigValue for bool {
    const TYPE: &'static str = "boolean";
    fn parse_value(raw: &str) -> Result<Self, String> {
        match raw.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected true or false".to_string()),
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

/// A comma-separated list (0.8.2 `Utils.parseCsvList`).
impl ConfigValue for Vec<String> {
    const TYPE: &'static str = "list";
    fn parse_value(raw: &str) -> Result<Self, String> {
        Ok(parse_csv_list(raw))
    }
    fn render(&self) -> String {
        self.join(",")
    }
}

impl ConfigValue for String {
    const TYPE: &'static str = "string";
    fn parse_value(raw: &str) -> Result<Self, String> {
        Ok(raw.to_string())
    }
    fn render(&self) -> String {
        self.clone()
    }
}

/// [`ConfigValue`] for an enum spelled by fixed words (`sync`/`async`, encoder class
/// names): each variant with its word; a value that matches none is refused with `$err`
/// (which may use the raw value). `any case` compares ignoring ASCII case.
macro_rules! word_config_value {
    ($t:ty, $type_name:literal, |$raw:ident| $err:expr, { $($variant:path => $word:expr),+ $(,)? }) => {
        $crate::common::config_def::word_config_value!(@impl $t, $type_name, |$raw| $err, |a, b| a == b, { $($variant => $word),+ });
    };
    ($t:ty, $type_name:literal, any case, |$raw:ident| $err:expr, { $($variant:path => $word:expr),+ $(,)? }) => {
        $crate::common::config_def::word_config_value!(@impl $t, $type_name, |$raw| $err, |a: &str, b: &str| a.eq_ignore_ascii_case(b), { $($variant => $word),+ });
    };
    (@impl $t:ty, $type_name:literal, |$raw:ident| $err:expr, $eq:expr, { $($variant:path => $word:expr),+ }) => {
        impl $crate::common::config_def::ConfigValue for $t {
            const TYPE: &'static str = $type_name;
            fn parse_value($raw: &str) -> Result<Self, String> {
                let eq: fn(&str, &str) -> bool = $eq;
                $( if eq($raw, $word) { return Ok($variant); } )+
                Err($err)
            }
            fn render(&self) -> String {
                match self {
                    $( $variant => $word.to_string(), )+
                }
            }
        }
    };
}
pub(crate) use word_config_value;

/// How a field holds its key's value: `T` for a key with a default or a required one,
/// `Option<T>` for a key that only matters when set.
pub trait Slot: Sized {
    type Value: ConfigValue;
    /// `None` when the key is unset and has no default: fine for an `Option` field, a
    /// missing required key otherwise.
    fn fill(value: Option<Self::Value>) -> Option<Self>;
    /// The value rendered for `value(key)`; `None` when unset.
    fn shown(&self) -> Option<String>;
}

impl<T: ConfigValue> Slot for T {
    type Value = T;
    fn fill(value: Option<T>) -> Option<T> {
        value
    }
    fn shown(&self) -> Option<String> {
        Some(self.render())
    }
}

impl<T: ConfigValue> Slot for Option<T> {
    type Value = T;
    fn fill(value: Option<T>) -> Option<Option<T>> {
        Some(value)
    }
    fn shown(&self) -> Option<String> {
        self.as_ref().map(ConfigValue::render)
    }
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// A required key is absent.
    Missing { key: String },
    /// A value that does not parse or lies outside the key's range.
    Invalid { key: String, value: String, reason: String },
}

/// One row of a config's key table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    pub name: &'static str,
    /// [`ConfigValue::TYPE`] of the key.
    pub type_name: &'static str,
    /// The default rendered as it would be written; `None` when there is none (a required
    /// key, or one that only matters when set).
    pub default: Option<String>,
    /// The valid range, `[min, max]`, as it applies to this config (a range may depend on
    /// another key's value); `None` for any value.
    pub range: Option<String>,
    pub doc: &'static str,
}

/// Reads one key of `props`: the value trimmed, parsed as `T`, else `default`; either
/// checked against `range`. `Ok(None)`: unset with no default.
pub fn read<T: ConfigValue>(
    props: &Properties,
    key: &str,
    default: Option<T>,
    range: Option<(T, T)>,
) -> Result<Option<T>, KeyError> {
    let invalid = |value: &str, reason: String| KeyError::Invalid { key: key.to_string(), value: value.to_string(), reason };
    let (value, text, defaulted) = match props.get(key).map(str::trim) {
        Some(raw) => (T::parse_value(raw).map_err(|reason| invalid(raw, reason))?, raw.to_string(), false),
        None => match default {
            Some(d) => {
                let text = d.render();
                (d, text, true)
            }
            None => return Ok(None),
        },
    };
    if let Some(range) = &range {
        if value.out_of_range(range) {
            let mut reason = format!("not in the range [{}, {}]", range.0.render(), range.1.render());
            if defaulted {
                reason.push_str(" (this is the default; the key is not set)");
            }
            return Err(invalid(&text, reason));
        }
    }
    Ok(Some(value))
}

/// Declares a config struct from one table of keys. Each key is one line:
///
/// ```text
/// "log.roll.hours" => log_roll_hours: i32 = Some(24 * 7), Some((1, i32::MAX)), read if log_roll_ms.is_none(), "doc";
/// ```
///
/// - the field type is `T` or `Option<T>` ([`Slot`]); a `T` field with default `None` is
///   required (absent: [`KeyError::Missing`]);
/// - the default is `Some(value)` or `None`; the range `Some((min, max))` or `None`;
/// - `read if <condition>` may use the fields of earlier lines (0.8.2 never read a key
///   shadowed by a more precise one; when not read, the field holds its default); the
///   range may use them too (a value that must fit another key's);
/// - an optional `, shown |c| <expr>` after the doc renders `value(key)` from the whole
///   config (for keys whose default is another key's value).
///
/// Generates the struct (derives are the caller's; the `extra` fields are filled by the
/// caller), `KEYS` (the key names in table order), `key_table(&self)` (ranges as they apply
/// to that config), `read_keys(props, extra...)` (private: the caller adds the checks
/// between keys) and `value(key)`.
macro_rules! config_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $field:ident : $ty:ty = $default:expr, $range:expr, read if $cond:expr, $doc:literal
                    $(, shown $show:expr)? ;
            )*
        }
        extra { $( $(#[$emeta:meta])* $efield:ident : $ety:ty ),* $(,)? }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                #[doc = $doc]
                $(#[$fmeta])*
                #[doc = concat!("\n\n`", $key, "`")]
                pub $field: $ty,
            )*
            $( $(#[$emeta])* pub $efield: $ety, )*
        }

        impl $name {
            /// Every key this config reads, in table order.
            pub const KEYS: &'static [&'static str] = &[$($key),*];

            /// The key table: name, type, default, range (as it applies to this config) and
            /// doc of every key.
            #[allow(unused_variables)]
            pub fn key_table(&self) -> Vec<$crate::common::config_def::ConfigKey> {
                use $crate::common::config_def::{ConfigKey, ConfigValue, Slot};
                $( let $field = self.$field.clone(); )*
                vec![$(
                    ConfigKey {
                        name: $key,
                        type_name: <<$ty as Slot>::Value as ConfigValue>::TYPE,
                        default: {
                            let d: Option<<$ty as Slot>::Value> = $default;
                            d.map(|d| d.render())
                        },
                        range: {
                            let r: Option<(<$ty as Slot>::Value, <$ty as Slot>::Value)> = $range;
                            r.map(|(lo, hi)| format!("[{}, {}]", lo.render(), hi.render()))
                        },
                        doc: $doc,
                    },
                )*]
            }

            /// Parse every key of the table from `props` (in table order: the first bad
            /// key is the one reported); `extra` fields are given by the caller.
            #[allow(clippy::too_many_arguments)]
            fn read_keys(
                props: &$crate::common::Properties,
                $( $efield: $ety, )*
            ) -> Result<$name, $crate::common::config_def::KeyError> {
                use $crate::common::config_def::{read, KeyError, Slot};
                $(
                    #[allow(clippy::redundant_closure_call)]
                    let $field: $ty = {
                        type V = <$ty as Slot>::Value;
                        let default: Option<V> = $default;
                        let range: Option<(V, V)> = $range;
                        let value = if $cond { read::<V>(props, $key, default, range)? } else { default };
                        <$ty as Slot>::fill(value).ok_or_else(|| KeyError::Missing { key: $key.to_string() })?
                    };
                )*
                Ok($name { $($field,)* $($efield,)* })
            }

            /// The value the broker uses for `key`, rendered as it would be written in the
            /// file (booleans `true`/`false`, doubles as Java prints them). `None` for a key
            /// that is unset and has no default, and for keys outside [`Self::KEYS`].
            pub fn value(&self, key: &str) -> Option<String> {
                #[allow(unused_imports)]
                use $crate::common::config_def::Slot;
                match key {
                    $( $key => $crate::common::config_def::config_struct!(@show self, $field $(, $show)?), )*
                    _ => None,
                }
            }
        }
    };
    (@show $self:ident, $field:ident) => { $self.$field.shown() };
    (@show $self:ident, $field:ident, $show:expr) => { ($show)($self) };
}
pub(crate) use config_struct;

/// `Double.parseDouble` also takes a trailing `d`/`f` type suffix (`0.9d`).
pub fn parse_java_double(s: &str) -> Option<f64> {
    let s = s.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(s);
    s.parse::<f64>().ok()
}

/// `Double.toString`: `0.5`, `1.0E7`, `1.7976931348623157E308`.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        let s = format!("{:e}", v);
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{}.0", mantissa) };
        return format!("{}E{}", mantissa, exp);
    }
    let s = v.to_string();
    if s.contains('.') {
        s
    } else {
        format!("{}.0", s)
    }
}

/// 0.8.2's `Utils.parseCsvList`: split on commas (spaces around them dropped), empty
/// entries skipped.
pub fn parse_csv_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::parse_properties;

    #[test]
    fn java_double_renders_like_double_to_string() {
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(0.9), "0.9");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(f64::MAX), "1.7976931348623157E308");
        assert_eq!(parse_java_double("0.9d"), Some(0.9));
        assert_eq!(parse_java_double("1e3"), Some(1000.0));
        assert_eq!(parse_java_double("x"), None);
    }

    #[test]
    fn csv_list_trims_and_drops_empty_entries() {
        assert_eq!(parse_csv_list(" /a , /b,,/c "), vec!["/a", "/b", "/c"]);
        assert!(parse_csv_list(" , ").is_empty());
    }

    config_struct! {
        #[derive(Debug)]
        struct Sample {
            "a.int" => a_int: i32 = Some(5), Some((1, 10)), read if true, "An int.";
            "b.req" => b_req: String = None, None, read if true, "Required.";
            "c.opt" => c_opt: Option<i64> = None, Some((0, i64::MAX)), read if true, "Optional.";
            "d.shadowed" => d_shadowed: bool = Some(true), None, read if c_opt.is_none(), "Not read when c.opt is set.";
            "e.below" => e_below: i16 = Some(1), Some((0, a_int as i16)), read if true, "At most a.int.", shown |c: &Sample| Some(format!("<{}>", c.e_below));
        }
        extra { props_len: usize }
    }

    fn sample(text: &str) -> Result<Sample, KeyError> {
        let p = parse_properties(text);
        Sample::read_keys(&p, p.iter().count())
    }

    #[test]
    fn a_table_line_gives_parse_range_default_and_value() {
        let s = sample("b.req= x \n").unwrap();
        assert_eq!((s.a_int, s.b_req.as_str(), s.c_opt, s.d_shadowed, s.e_below, s.props_len), (5, "x", None, true, 1, 1));
        assert_eq!(s.value("a.int").as_deref(), Some("5"));
        assert_eq!(s.value("c.opt"), None);
        assert_eq!(s.value("e.below").as_deref(), Some("<1>"));
        assert_eq!(s.value("nope"), None);
        assert_eq!(Sample::KEYS, &["a.int", "b.req", "c.opt", "d.shadowed", "e.below"]);
        let table = s.key_table();
        assert_eq!(table[0].type_name, "int");
        assert_eq!(table[0].default.as_deref(), Some("5"));
        assert_eq!(table[0].range.as_deref(), Some("[1, 10]"));
        assert_eq!(table[4].range.as_deref(), Some("[0, 5]"), "the range as it applies");
        assert_eq!(table[1].default, None);
        assert_eq!(table[2].doc, "Optional.");
    }

    #[test]
    fn refusals_name_the_key_and_value() {
        assert_eq!(sample("").unwrap_err(), KeyError::Missing { key: "b.req".into() });
        let invalid = |key: &str, value: &str, reason: &str| KeyError::Invalid {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        };
        assert_eq!(sample("b.req=x\na.int=11\n").unwrap_err(), invalid("a.int", "11", "not in the range [1, 10]"));
        assert_eq!(sample("b.req=x\na.int=z\n").unwrap_err(), invalid("a.int", "z", "expected a 32-bit integer"));
        assert_eq!(sample("b.req=x\nd.shadowed=maybe\n").unwrap_err(), invalid("d.shadowed", "maybe", "expected true or false"));
        // A shadowed key is not read at all, as in 0.8.2; its field keeps the default.
        let s = sample("b.req=x\nc.opt=3\nd.shadowed=maybe\n").unwrap();
        assert_eq!((s.c_opt, s.d_shadowed), (Some(3), true));
        // A range that depends on an earlier key; a default is checked like a value.
        assert_eq!(sample("b.req=x\na.int=2\ne.below=3\n").unwrap_err(), invalid("e.below", "3", "not in the range [0, 2]"));
        assert!(sample("b.req=x\na.int=1\ne.below=1\n").is_ok());
        assert_eq!(
            read::<i32>(&Properties::new(), "k", Some(0), Some((1, 2))).unwrap_err(),
            invalid("k", "0", "not in the range [1, 2] (this is the default; the key is not set)")
        );
        assert_eq!(read::<u16>(&parse_properties("p=70000\n"), "p", None, None).unwrap_err(), invalid("p", "70000", "not in the range [0, 65535]"));
    }
}
