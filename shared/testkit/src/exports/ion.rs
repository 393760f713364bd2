//! ION exports, written by hand in the style of AWS's writer (ion-java's text writer): one
//! value per line, the first line after `$ion_1_0 `, numbers as Ion decimals, binaries as
//! blobs, sets as lists annotated `$dynamodb_SS::`, `$dynamodb_NS::` or `$dynamodb_BS::`.
//!
//! This is a fixture generator, so where Ion allows several spellings of the same value it uses
//! them in turn, deterministically, so that a reader meets every form AWS can produce: a number
//! is written in ion-java's shortest form (`2d1` for 20, `103.`, `1.5`, `1d-130`), in the form of
//! DynamoDB's own text (`600.`), or with one more trailing zero (`1.50`, `103.0`), and zero also
//! as `0d0` and `-0d0`; non-ASCII text is written as UTF-8 or as `\u`/`\U` escapes.

use std::fmt::Write;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{IncrementalChange, View};
use crate::items::Item;

/// The Ion version marker that starts the first line of every non-empty ION data file.
pub const VERSION_MARKER: &str = "$ion_1_0";

/// `item` as an Ion struct (`{Id:103.,Price:2d1,Title:"Book"}`), fields sorted by name.
pub fn item_to_ion(item: &Item) -> String {
    let mut writer = Writer::default();
    writer.map(item);
    writer.out
}

/// One line of a full export (`{Item:{...}}`, without the newline or the version marker).
pub(super) fn full_line(item: &Item) -> String {
    let mut writer = Writer::default();
    writer.out.push_str("{Item:");
    writer.map(item);
    writer.out.push('}');
    writer.out
}

/// One line of an incremental export: `{Metadata:{WriteTimestampMicros:…},Keys:{…},…}`, with
/// the timestamp an Ion int as AWS writes it.
pub(super) fn incremental_line(change: &IncrementalChange, view: View) -> String {
    let mut writer = Writer::default();
    write!(
        writer.out,
        "{{Metadata:{{WriteTimestampMicros:{}}},Keys:",
        change.write_time_micros
    )
    .expect("writing to a String");
    writer.map(&change.keys);
    if let Some(new) = &change.new_image {
        writer.out.push_str(",NewImage:");
        writer.map(new);
    }
    if let (Some(old), View::NewAndOldImages) = (&change.old_image, view) {
        writer.out.push_str(",OldImage:");
        writer.map(old);
    }
    writer.out.push('}');
    writer.out
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Numbers and strings written so far: choose the next spelling.
    numbers: usize,
    strings: usize,
}

impl Writer {
    fn map(&mut self, map: &Item) {
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        self.out.push('{');
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.field_name(name);
            self.out.push(':');
            self.value(&map[name]);
        }
        self.out.push('}');
    }

    fn value(&mut self, value: &AttributeValue) {
        match value {
            AttributeValue::S(s) => self.string(s),
            AttributeValue::N(n) => self.number(n),
            AttributeValue::B(b) => blob(&mut self.out, b.as_ref()),
            AttributeValue::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            AttributeValue::Null(_) => self.out.push_str("null"),
            AttributeValue::Ss(v) => {
                self.out.push_str("$dynamodb_SS::[");
                for (i, s) in v.iter().enumerate() {
                    self.comma(i);
                    self.string(s);
                }
                self.out.push(']');
            }
            AttributeValue::Ns(v) => {
                self.out.push_str("$dynamodb_NS::[");
                for (i, n) in v.iter().enumerate() {
                    self.comma(i);
                    self.number(n);
                }
                self.out.push(']');
            }
            AttributeValue::Bs(v) => {
                self.out.push_str("$dynamodb_BS::[");
                for (i, b) in v.iter().enumerate() {
                    self.comma(i);
                    blob(&mut self.out, b.as_ref());
                }
                self.out.push(']');
            }
            AttributeValue::M(m) => self.map(m),
            AttributeValue::L(l) => {
                self.out.push('[');
                for (i, v) in l.iter().enumerate() {
                    self.comma(i);
                    self.value(v);
                }
                self.out.push(']');
            }
            other => panic!("an attribute value of a type DynamoDB does not have: {other:?}"),
        }
    }

    fn comma(&mut self, i: usize) {
        if i > 0 {
            self.out.push(',');
        }
    }

    /// The spelling turns with the numbers written so far and with the number's text, so that
    /// both an item's numbers and the same attribute across items vary.
    fn number(&mut self, n: &str) {
        let spellings = decimal_spellings(n);
        let turn = n.bytes().map(usize::from).sum::<usize>() + self.numbers;
        self.numbers += 1;
        self.out.push_str(&spellings[turn % spellings.len()]);
    }

    fn string(&mut self, s: &str) {
        let ascii_only = self.strings % 2 == 1;
        self.strings += 1;
        self.out.push('"');
        escape(&mut self.out, s, '"', ascii_only);
        self.out.push('"');
    }

    /// A field name: bare when it is an identifier Ion reads as that same text, else quoted.
    fn field_name(&mut self, name: &str) {
        if is_plain_identifier(name) {
            self.out.push_str(name);
        } else {
            self.out.push('\'');
            escape(&mut self.out, name, '\'', false);
            self.out.push('\'');
        }
    }
}

/// An identifier (`[A-Za-z_][A-Za-z0-9_$]*`) that is no Ion keyword. Names starting with `$` are
/// always quoted: `$1` would be symbol id 1 and `$ion_1_0` a version marker.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !matches!(name, "null" | "true" | "false" | "nan")
}

fn blob(out: &mut String, bytes: &[u8]) {
    out.push_str("{{");
    out.push_str(&STANDARD.encode(bytes));
    out.push_str("}}");
}

/// Ion string or quoted-symbol escapes (`quote` is the delimiter): the named escapes for the
/// control characters that have one, `\xHH` for the others and DEL, and with `ascii_only` every
/// non-ASCII character as `\uHHHH` or `\UHHHHHHHH`.
fn escape(out: &mut String, s: &str, quote: char, ascii_only: bool) {
    for c in s.chars() {
        let named = match c {
            '\\' => Some("\\\\"),
            '"' if quote == '"' => Some("\\\""),
            '\'' if quote == '\'' => Some("\\'"),
            '\0' => Some("\\0"),
            '\u{7}' => Some("\\a"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{b}' => Some("\\v"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            _ => None,
        };
        let code = c as u32;
        let written = match named {
            Some(escape) => {
                out.push_str(escape);
                Ok(())
            }
            None if code < 0x20 || code == 0x7f => write!(out, "\\x{code:02x}"),
            None if ascii_only && code > 0xffff => write!(out, "\\U{code:08x}"),
            None if ascii_only && code > 0x7f => write!(out, "\\u{code:04x}"),
            None => {
                out.push(c);
                Ok(())
            }
        };
        written.expect("writing to a String");
    }
}

/// A DynamoDB number's value as sign, coefficient digits (no leading zeros; `0` for zero) and
/// exponent: the value is `±coefficient × 10^exponent`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    coefficient: String,
    exponent: i64,
}

impl Decimal {
    /// Parses DynamoDB's number text (`-12.50`, `1E+125`, `1e5`).
    fn parse(text: &str) -> Decimal {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (
                &unsigned[..at],
                unsigned[at + 1..]
                    .parse::<i64>()
                    .unwrap_or_else(|_| panic!("a DynamoDB number: {text:?}")),
            ),
            None => (unsigned, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        assert!(
            !(whole.is_empty() && fraction.is_empty())
                && whole
                    .chars()
                    .chain(fraction.chars())
                    .all(|c| c.is_ascii_digit()),
            "a DynamoDB number: {text:?}"
        );
        let digits = format!("{whole}{fraction}");
        let coefficient = digits.trim_start_matches('0');
        Decimal {
            negative,
            coefficient: if coefficient.is_empty() {
                "0".into()
            } else {
                coefficient.into()
            },
            exponent: exponent - fraction.len() as i64,
        }
    }

    fn is_zero(&self) -> bool {
        self.coefficient == "0"
    }

    /// The same value with the coefficient's trailing zeros moved into the exponent.
    fn stripped(&self) -> Decimal {
        let coefficient = self.coefficient.trim_end_matches('0');
        Decimal {
            negative: self.negative,
            coefficient: coefficient.into(),
            exponent: self.exponent + (self.coefficient.len() - coefficient.len()) as i64,
        }
    }

    /// The same value with one more trailing zero (one more digit of precision).
    fn padded(&self) -> Decimal {
        Decimal {
            negative: self.negative,
            coefficient: format!("{}0", self.coefficient),
            exponent: self.exponent - 1,
        }
    }

    /// Ion text as ion-java writes a `BigDecimal`: `c.` for exponent 0, `cdE` for a positive
    /// exponent, a plain fraction while the value is not below 1e-6, else `cd-E`.
    fn ion_java(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        let c = &self.coefficient;
        let digits = c.len() as i64;
        match self.exponent {
            0 => format!("{sign}{c}."),
            e if e > 0 => format!("{sign}{c}d{e}"),
            e => {
                let scale = -e;
                let adjusted = digits - 1 - scale;
                if adjusted >= 0 {
                    let whole = (digits - scale) as usize;
                    format!("{sign}{}.{}", &c[..whole], &c[whole..])
                } else if adjusted >= -6 {
                    let zeros = "0".repeat((scale - digits) as usize);
                    format!("{sign}0.{zeros}{c}")
                } else {
                    format!("{sign}{c}d-{scale}")
                }
            }
        }
    }
}

/// Every Ion spelling used for DynamoDB number `text`, in the order they take turns, all of the
/// same value (Ion decimals of different precision): ion-java's form of the value without
/// trailing zeros, of the digits as DynamoDB wrote them, and of either with one more zero.
/// None has a coefficient of more than 38 digits: DynamoDB keeps 38 significant digits, so AWS
/// writes `1d125` for 1E+125, never the 126 digits DynamoDB Local spells it with.
fn decimal_spellings(text: &str) -> Vec<String> {
    let decimal = Decimal::parse(text);
    if decimal.is_zero() {
        return vec!["0.".into(), "0d0".into(), "-0d0".into()];
    }
    let stripped = decimal.stripped();
    let mut spellings: Vec<String> = Vec::new();
    for candidate in [
        stripped.clone(),
        decimal.padded(),
        decimal.clone(),
        stripped.padded(),
    ] {
        let spelling = candidate.ion_java();
        if candidate.coefficient.len() <= 38 && !spellings.contains(&spelling) {
            spellings.push(spelling);
        }
    }
    spellings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_take_each_spelling_aws_uses() {
        let cases: &[(&str, &[&str])] = &[
            ("20", &["2d1", "20.0", "20."]),
            ("103", &["103.", "103.0"]),
            ("600", &["6d2", "600.0", "600.", "60d1"]),
            ("1.5", &["1.5", "1.50"]),
            ("1.50", &["1.5", "1.500", "1.50"]),
            ("-42", &["-42.", "-42.0"]),
            ("1E+125", &["1d125", "10d124"]),
            ("-1E-130", &["-1d-130", "-10d-131"]),
            ("0.000001", &["0.000001", "0.0000010"]),
            ("1E-7", &["1d-7", "10d-8"]),
            ("0", &["0.", "0d0", "-0d0"]),
            ("-0", &["0.", "0d0", "-0d0"]),
            (
                "12345678901234567890123456789012345678",
                &["12345678901234567890123456789012345678."],
            ),
            // DynamoDB Local spells 1E+125 out; AWS writes the value, not those digits.
            (&format!("1{}", "0".repeat(125)), &["1d125", "10d124"]),
            (
                &format!("-0.{}1", "0".repeat(129)),
                &["-1d-130", "-10d-131"],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&decimal_spellings(text), expected, "{text}");
        }
    }

    #[test]
    fn field_names_are_quoted_unless_plain() {
        let mut writer = Writer::default();
        for name in ["Id", "_a$b", "my key", "null", "$1", "é", "'", "1a", ""] {
            writer.field_name(name);
            writer.out.push(' ');
        }
        assert_eq!(
            writer.out,
            "Id _a$b 'my key' 'null' '$1' 'é' '\\'' '1a' '' "
        );
    }

    #[test]
    fn strings_alternate_utf8_and_escapes() {
        let mut writer = Writer::default();
        writer.string("é🚀\u{1}\n\"\\");
        writer.string("é🚀\u{1}\n\"\\");
        assert_eq!(
            writer.out,
            "\"é🚀\\x01\\n\\\"\\\\\"\"\\u00e9\\U0001f680\\x01\\n\\\"\\\\\""
        );
    }
}
