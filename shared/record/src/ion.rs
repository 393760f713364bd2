//! Lines of an ION export (Amazon Ion text) to the DYNAMODB_JSON line of the same item, so
//! that both formats map through [`crate::map_export_line`] to the same change records.
//!
//! DynamoDB writes one Ion value per line (`$ion_1_0 ` before the first, or before each):
//! `{Item:{...}}` for a full export, `{Metadata:{WriteTimestampMicros:...},Keys:{...},
//! NewImage:{...},OldImage:{...}}` for an incremental one. Its types map as
//!
//! | Ion | DynamoDB |
//! |---|---|
//! | string, symbol | S |
//! | decimal, int | N |
//! | bool | BOOL |
//! | null (of any type) | NULL |
//! | blob | B |
//! | struct | M |
//! | list | L |
//! | `$dynamodb_SS::[...]`, `$dynamodb_NS::[...]`, `$dynamodb_BS::[...]` | SS, NS, BS |
//!
//! and nothing else (float, timestamp, clob, S-expression, other annotations) is a DynamoDB
//! value. The JSON is written exactly as the DYNAMODB_JSON export writes the same item, so
//! the change records match byte for byte: numbers in DynamoDB's canonical text (see
//! [`crate::canonical`]), strings with [`crate::write_json_string`]'s minimal escaping (which
//! the transcoder also gives any string that arrives escaped), binary as padded base64, fields
//! in the order the line has them.
//!
//! Ion is parsed with ion-rs's `Element` API, its only one without experimental features.
//! That parse is nearly the whole cost of this path: 25,000 to 40,000 lines of 600 bytes a
//! second on one core here (15 to 25 MB/s, a tenth of the DYNAMODB_JSON path's speed);
//! ion-rs's experimental lazy reader measured only 1.2x faster, not worth an unstable API.

use base64::Engine as _;
use ion_rs::{Element, Sequence, Struct, Value};

use crate::canonical;
use crate::ion_error::IonError;
use crate::{ion_nesting, json};

/// Appends the DYNAMODB_JSON text of one line of an ION export (`{"Item":{...}}`, or the
/// incremental export's `{"Metadata":...,"Keys":...,"NewImage":...,"OldImage":...}`), to be
/// mapped by [`crate::map_export_line`]. On error `out` is left as it was. Top-level and
/// `Metadata` fields other than those are left out, as the JSON mapping ignores them.
pub fn ion_line_to_json(line: &str, out: &mut String) -> Result<(), IonError> {
    ion_nesting::check(line)?;
    let element = Element::read_one(line).map_err(IonError::from_ion)?;
    let mut json = Vec::with_capacity(line.len() + line.len() / 2);
    write_line(&element, &mut json)?;
    // Only UTF-8 was written: Ion text, JSON punctuation and base64.
    let json = String::from_utf8(json).map_err(|e| IonError::Syntax {
        offset: None,
        message: e.to_string(),
    })?;
    out.push_str(&json);
    Ok(())
}

fn write_line(element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
    let fields = plain_struct(element, "a struct such as {Item:{...}}")?;
    out.push(b'{');
    let mut first = true;
    for (name, value) in fields.fields() {
        let write: fn(&Element, &mut Vec<u8>) -> Result<(), IonError> = match name.text() {
            Some("Item" | "Keys" | "NewImage" | "OldImage") => write_image,
            Some("Metadata") => write_metadata,
            _ => continue,
        };
        let name = name.text().unwrap_or_default();
        if !first {
            out.push(b',');
        }
        first = false;
        json::string(out, name);
        out.push(b':');
        write(value, out).map_err(|e| e.in_field(name))?;
    }
    out.push(b'}');
    Ok(())
}

/// The struct `element` holds, unannotated; `expected` says what it should be.
fn plain_struct<'e>(element: &'e Element, expected: &'static str) -> Result<&'e Struct, IonError> {
    no_annotations(element)?;
    match element.value() {
        Value::Struct(fields) => Ok(fields),
        other => Err(IonError::Shape {
            path: String::new(),
            expected,
            found: type_name(other),
        }),
    }
}

fn no_annotations(element: &Element) -> Result<(), IonError> {
    match element.annotations().iter().next() {
        None => Ok(()),
        Some(annotation) => Err(IonError::Annotation {
            path: String::new(),
            annotation: annotation.text().unwrap_or("$0").to_owned(),
            on: type_name(element.value()),
        }),
    }
}

/// An item image: a struct of attributes (a null image is written as `null`, which the JSON
/// mapping reads as absent).
fn write_image(element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
    if let (Value::Null(_), true) = (element.value(), element.annotations().is_empty()) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    write_item(plain_struct(element, "a struct of attributes")?, out)
}

fn write_item(fields: &Struct, out: &mut Vec<u8>) -> Result<(), IonError> {
    out.push(b'{');
    for (i, (name, value)) in fields.fields().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let name = name.text().ok_or(IonError::NoText {
            path: String::new(),
        })?;
        json::string(out, name);
        out.push(b':');
        write_attribute(value, out).map_err(|e| e.in_field(name))?;
    }
    out.push(b'}');
    Ok(())
}

/// `{"TAG":VALUE}`.
fn write_attribute(element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
    if !element.annotations().is_empty() {
        return write_set(element, out);
    }
    match element.value() {
        Value::Null(_) => out.extend_from_slice(b"{\"NULL\":true}"),
        Value::Bool(true) => out.extend_from_slice(b"{\"BOOL\":true}"),
        Value::Bool(false) => out.extend_from_slice(b"{\"BOOL\":false}"),
        Value::Int(_) | Value::Decimal(_) => {
            out.extend_from_slice(b"{\"N\":");
            write_number(element.value(), out)?;
            out.push(b'}');
        }
        Value::String(_) | Value::Symbol(_) => {
            out.extend_from_slice(b"{\"S\":");
            write_string(element.value(), out)?;
            out.push(b'}');
        }
        Value::Blob(bytes) => {
            out.extend_from_slice(b"{\"B\":");
            write_base64(bytes.as_ref(), out);
            out.push(b'}');
        }
        Value::Struct(fields) => {
            out.extend_from_slice(b"{\"M\":");
            write_item(fields, out)?;
            out.push(b'}');
        }
        Value::List(elements) => {
            out.extend_from_slice(b"{\"L\":");
            write_list(elements, out, write_attribute)?;
            out.push(b'}');
        }
        other => {
            return Err(IonError::Type {
                path: String::new(),
                found: type_name(other),
            })
        }
    }
    Ok(())
}

/// `$dynamodb_SS::[...]` and its kin: the only annotated values DynamoDB writes.
fn write_set(element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
    let mut annotations = element.annotations().iter();
    let first = annotations.next().and_then(|a| a.text());
    let set = match (first, annotations.next(), element.value()) {
        (Some("$dynamodb_SS"), None, Value::List(elements)) => Some((Set::Strings, elements)),
        (Some("$dynamodb_NS"), None, Value::List(elements)) => Some((Set::Numbers, elements)),
        (Some("$dynamodb_BS"), None, Value::List(elements)) => Some((Set::Binaries, elements)),
        _ => None,
    };
    let Some((set, elements)) = set else {
        let names: Vec<&str> = element
            .annotations()
            .iter()
            .map(|a| a.text().unwrap_or("$0"))
            .collect();
        return Err(IonError::Annotation {
            path: String::new(),
            annotation: names.join("::"),
            on: type_name(element.value()),
        });
    };
    out.extend_from_slice(set.opening());
    write_list(elements, out, |element, out| {
        set.write_element(element, out)
    })?;
    out.push(b'}');
    Ok(())
}

#[derive(Clone, Copy)]
enum Set {
    Strings,
    Numbers,
    Binaries,
}

impl Set {
    fn opening(self) -> &'static [u8] {
        match self {
            Set::Strings => b"{\"SS\":",
            Set::Numbers => b"{\"NS\":",
            Set::Binaries => b"{\"BS\":",
        }
    }

    fn write_element(self, element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
        no_annotations(element)?;
        match (self, element.value()) {
            (Set::Strings, value @ (Value::String(_) | Value::Symbol(_))) => {
                write_string(value, out)
            }
            (Set::Numbers, value @ (Value::Decimal(_) | Value::Int(_))) => write_number(value, out),
            (Set::Binaries, Value::Blob(bytes)) => {
                write_base64(bytes.as_ref(), out);
                Ok(())
            }
            (_, other) => Err(IonError::Shape {
                path: String::new(),
                expected: match self {
                    Set::Strings => "a string (SS element)",
                    Set::Numbers => "a decimal or int (NS element)",
                    Set::Binaries => "a blob (BS element)",
                },
                found: type_name(other),
            }),
        }
    }
}

fn write_list(
    elements: &Sequence,
    out: &mut Vec<u8>,
    write: impl Fn(&Element, &mut Vec<u8>) -> Result<(), IonError>,
) -> Result<(), IonError> {
    out.push(b'[');
    for (i, element) in elements.elements().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(element, out).map_err(|e| e.in_element(i))?;
    }
    out.push(b']');
    Ok(())
}

/// A string or symbol as a JSON string.
fn write_string(value: &Value, out: &mut Vec<u8>) -> Result<(), IonError> {
    let text = match value {
        Value::String(text) => text.text(),
        Value::Symbol(symbol) => symbol.text().ok_or(IonError::NoText {
            path: String::new(),
        })?,
        other => {
            return Err(IonError::Type {
                path: String::new(),
                found: type_name(other),
            })
        }
    };
    json::string(out, text);
    Ok(())
}

/// A decimal or int as a JSON string holding DynamoDB's canonical text of it.
fn write_number(value: &Value, out: &mut Vec<u8>) -> Result<(), IonError> {
    out.push(b'"');
    canonical_number(value, out)?;
    out.push(b'"');
    Ok(())
}

fn canonical_number(value: &Value, out: &mut Vec<u8>) -> Result<(), IonError> {
    let written = match value {
        Value::Decimal(decimal) => {
            let coefficient = decimal.coefficient();
            let digits = coefficient.magnitude().to_string();
            canonical::write(out, coefficient.is_negative(), &digits, decimal.exponent())
        }
        Value::Int(int) => {
            let digits = int.unsigned_abs().to_string();
            canonical::write(out, int.is_negative(), &digits, 0)
        }
        other => {
            return Err(IonError::Type {
                path: String::new(),
                found: type_name(other),
            })
        }
    };
    written.map_err(|why| IonError::Number {
        path: String::new(),
        value: shown(value),
        why,
    })
}

/// Base64 needs no escaping.
fn write_base64(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes(),
    );
    out.push(b'"');
}

/// `{"WriteTimestampMicros":{"N":"..."}}`; other metadata is left out.
fn write_metadata(element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
    let fields = plain_struct(element, "a struct such as {WriteTimestampMicros:...}")?;
    out.push(b'{');
    let mut first = true;
    for (name, value) in fields.fields() {
        if name.text() != Some("WriteTimestampMicros") {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"\"WriteTimestampMicros\":{\"N\":\"");
        micros(value, out).map_err(|e| e.in_field("WriteTimestampMicros"))?;
        out.extend_from_slice(b"\"}");
    }
    out.push(b'}');
    Ok(())
}

/// An int, or a decimal with a whole value (`1680109764000000.`), as its digits.
fn micros(element: &Element, out: &mut Vec<u8>) -> Result<(), IonError> {
    no_annotations(element)?;
    let invalid = || IonError::WriteTimestamp {
        path: String::new(),
        value: shown(element.value()),
    };
    let start = out.len();
    match element.value() {
        Value::Int(_) | Value::Decimal(_) => canonical_number(element.value(), out)?,
        _ => return Err(invalid()),
    }
    // Negative or fractional: a sign or a point among the digits.
    if out[start..].iter().any(|b| !b.is_ascii_digit()) {
        return Err(invalid());
    }
    Ok(())
}

/// A value's Ion text for an error message, cut short: a bad number may have thousands of
/// digits.
fn shown(value: &Value) -> String {
    const MAX_CHARS: usize = 60;
    let text = value.to_string();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null(_) => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Decimal(_) => "decimal",
        Value::Timestamp(_) => "timestamp",
        Value::Symbol(_) => "symbol",
        Value::String(_) => "string",
        Value::Clob(_) => "clob",
        Value::Blob(_) => "blob",
        Value::List(_) => "list",
        Value::SExp(_) => "S-expression",
        Value::Struct(_) => "struct",
    }
}
