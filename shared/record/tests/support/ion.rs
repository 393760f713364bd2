//! Test-only writers: a DynamoDB JSON image as DynamoDB's ION export writes it, and a JSON
//! line re-escaped the way a Java JSON writer might (to show escaping cannot matter).

use serde_json::{Map, Value};

/// How numbers are spelled in Ion: all of these are the same value, and DynamoDB's own
/// export uses the first (`6d2`, `103.`).
#[derive(Debug, Clone, Copy)]
pub enum NumberSpelling {
    /// Coefficient without trailing zeros and an exponent: `6d2`, `15d-1`, `103d0`.
    Exponent,
    /// The plain decimal text: `600` (an Ion int), `1.5`.
    Plain,
    /// Extra trailing zeros in the coefficient: `600000d-3`, `1.500`.
    Padded,
}

/// `{Item:{...}}` for an item given as DynamoDB JSON whose numbers are in DynamoDB's canonical
/// form (as its JSON export writes them).
pub fn item_line(item: &Map<String, Value>, spelling: NumberSpelling) -> String {
    let mut out = String::from("$ion_1_0 {Item:");
    write_item(&mut out, item, spelling);
    out.push('}');
    out
}

/// The incremental line: `{Metadata:{WriteTimestampMicros:...},Keys:...,NewImage:...,OldImage:...}`.
pub fn incremental_line(
    micros: &str,
    keys: &Map<String, Value>,
    new_image: Option<&Map<String, Value>>,
    old_image: Option<&Map<String, Value>>,
    spelling: NumberSpelling,
) -> String {
    let mut out = format!("{{Metadata:{{WriteTimestampMicros:{micros}}},Keys:");
    write_item(&mut out, keys, spelling);
    if let Some(image) = new_image {
        out.push_str(",NewImage:");
        write_item(&mut out, image, spelling);
    }
    if let Some(image) = old_image {
        out.push_str(",OldImage:");
        write_item(&mut out, image, spelling);
    }
    out.push('}');
    out
}

pub fn write_item(out: &mut String, item: &Map<String, Value>, spelling: NumberSpelling) {
    out.push('{');
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Field names as quoted symbols, DynamoDB's own for names that need quoting.
        write_quoted(out, name, '\'');
        out.push(':');
        write_value(out, value, spelling);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value, spelling: NumberSpelling) {
    let (tag, content) = value.as_object().unwrap().iter().next().unwrap();
    let strings = |content: &Value| -> Vec<String> {
        content
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    match tag.as_str() {
        "S" => write_quoted(out, content.as_str().unwrap(), '"'),
        "N" => out.push_str(&number(content.as_str().unwrap(), spelling)),
        "B" => out.push_str(&format!("{{{{{}}}}}", content.as_str().unwrap())),
        "BOOL" => out.push_str(if content.as_bool().unwrap() {
            "true"
        } else {
            "false"
        }),
        "NULL" => out.push_str("null"),
        "M" => write_item(out, content.as_object().unwrap(), spelling),
        "L" => {
            out.push('[');
            for (i, v) in content.as_array().unwrap().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v, spelling);
            }
            out.push(']');
        }
        "SS" => {
            let parts: Vec<String> = strings(content)
                .iter()
                .map(|s| {
                    let mut q = String::new();
                    write_quoted(&mut q, s, '"');
                    q
                })
                .collect();
            out.push_str(&format!("$dynamodb_SS::[{}]", parts.join(",")));
        }
        "NS" => {
            let parts: Vec<String> = strings(content)
                .iter()
                .map(|n| number(n, spelling))
                .collect();
            out.push_str(&format!("$dynamodb_NS::[{}]", parts.join(",")));
        }
        "BS" => {
            let parts: Vec<String> = strings(content)
                .iter()
                .map(|b| format!("{{{{{b}}}}}"))
                .collect();
            out.push_str(&format!("$dynamodb_BS::[{}]", parts.join(",")));
        }
        other => panic!("no such type {other}"),
    }
}

/// An Ion string (`"`) or quoted symbol (`'`): control characters as `\xHH`, the rest as it is.
fn write_quoted(out: &mut String, text: &str, quote: char) {
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A canonical DynamoDB number (`-12.5`, `600`) spelled as an Ion decimal or int.
pub fn number(canonical: &str, spelling: NumberSpelling) -> String {
    let (sign, magnitude) = match canonical.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", canonical),
    };
    let (int, frac) = magnitude.split_once('.').unwrap_or((magnitude, ""));
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let mut exponent = -(frac.len() as i64);
    let mut coefficient = if digits.is_empty() { "0" } else { digits }.to_owned();
    match spelling {
        NumberSpelling::Exponent => {
            while coefficient.len() > 1 && coefficient.ends_with('0') {
                coefficient.pop();
                exponent += 1;
            }
            format!("{sign}{coefficient}d{exponent}")
        }
        NumberSpelling::Plain => canonical.to_owned(),
        NumberSpelling::Padded => {
            // Ion allows no leading zeros: zero stays one digit.
            if coefficient != "0" {
                coefficient.push_str("000");
            }
            exponent -= 3;
            format!("{sign}{coefficient}d{exponent}")
        }
    }
}

/// JSON text re-escaped as a Java writer might: every non-ASCII character as `\uXXXX`
/// (surrogate pairs beyond the BMP), hex digits upper-case, `/` as `\/`. Same JSON value.
pub fn java_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut chars = json.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().unwrap();
                out.push('\\');
                out.push(next);
                if next == 'u' {
                    for _ in 0..4 {
                        out.push(chars.next().unwrap().to_ascii_uppercase());
                    }
                }
            }
            '/' => out.push_str("\\/"),
            c if !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}
