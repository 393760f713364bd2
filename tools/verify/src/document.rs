//! OpenSearch documents: the one the `opensearch://` sink writes for a source item (rendered by
//! the record crate, as an export line of the item would be), a canonical fingerprint of any
//! JSON document, and a type-guided comparison of a document with the item it should hold.
//!
//! JSON is read with every value first taken as raw text (`serde_json::value::RawValue`), so
//! numbers keep their exact digits and compare as decimal values; `serde_json` would turn them
//! into `f64` otherwise (its `arbitrary_precision` feature would change number handling for
//! every crate of the workspace, so it stays off).

use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use cdc_record::{map_export_line, ExportKind, ExportSource, KeySchema, MappingOptions};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::decimal::Decimal;
use crate::item::{fingerprint_of, push_number, Fault, Fingerprint, SdkItem, ValueError};

/// Deeper than any DynamoDB item (32 levels) or OpenSearch mapping (20 by default) nests:
/// a document beyond it is refused instead of recursing without bound.
const MAX_DEPTH: usize = 64;

/// Why a document cannot be compared. Never quotes the document (item data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not valid JSON; the text gives the error's kind and position only.
    #[error("a document is not valid JSON ({0})")]
    Json(String),
    /// Valid JSON, but not an object.
    #[error("a document is not a JSON object")]
    NotAnObject,
    /// Nested deeper than any item or mapping could be.
    #[error("a document nests deeper than {MAX_DEPTH} levels")]
    Depth,
    /// A value that cannot be put in canonical form, such as a malformed number.
    #[error("{0}")]
    Value(#[from] ValueError),
    /// The record crate rejected the source item when rendering its expected document.
    #[error("the record crate cannot map the item: {0}")]
    Map(String),
}

/// Where and what kind of JSON error, without the text `serde_json` may quote.
fn json_error(e: &serde_json::Error) -> DocumentError {
    DocumentError::Json(format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    ))
}

/// What the index should hold for one source item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDocument {
    /// The `_id`: the change record's `primary_key`.
    pub id: String,
    /// The document: the change record's plain-JSON `document`.
    pub json: String,
}

/// Renders what the `opensearch://` sink writes for `item` of `table`: the item is written as
/// a full export's line (`{"Item": <DynamoDB JSON>}`) and mapped by
/// [`cdc_record::map_export_line`], as export-processor does; the stream maps an item's new
/// image to the same document.
pub fn expected_document(
    item: &SdkItem,
    table: &str,
    schema: &KeySchema,
) -> Result<ExpectedDocument, DocumentError> {
    let line = format!("{{\"Item\":{}}}", item_to_dynamodb_json(item)?);
    let source = ExportSource {
        table_name: table,
        key_schema: schema,
        kind: ExportKind::Full { export_time_ms: 0 },
        version_margin_ms: 0,
        options: MappingOptions::default(),
    };
    // The reason may quote values (serde messages do): only key problems are named.
    let record = map_export_line(&line, 1, &source).map_err(|e| match e.reason {
        cdc_record::Reason::Key(key) => DocumentError::Map(key.to_string()),
        _ => DocumentError::Map("the item is not valid DynamoDB JSON".into()),
    })?;
    let mut json = Vec::new();
    record.write_document(&mut json);
    Ok(ExpectedDocument {
        id: record.key.primary_key.into_owned(),
        json: String::from_utf8(json).map_err(|_| DocumentError::Map("not UTF-8".into()))?,
    })
}

/// The fingerprint of a JSON value's canonical form: objects by key, arrays in order, numbers
/// as decimal values (`1.50` = `1.5`, all digits count), strings unescaped.
pub fn json_fingerprint(json: &str) -> Result<Fingerprint, DocumentError> {
    let mut buf = Vec::with_capacity(json.len());
    encode_json(&mut buf, json, 0)?;
    Ok(fingerprint_of(&buf))
}

/// The top-level fields that differ between `item` (a source item) and `document` (the
/// index's), sorted: missing on one side, or holding another value. Guided by the item's types,
/// so a set matches an array of its members in any order (the stream and a scan may list a
/// set's members in different orders) and binary values compare as bytes.
pub fn document_differences(item: &SdkItem, document: &str) -> Result<Vec<String>, DocumentError> {
    let raw: &RawValue = serde_json::from_str(document).map_err(|e| json_error(&e))?;
    let fields = object_entries(raw.get())?.ok_or(DocumentError::NotAnObject)?;
    let mut names: Vec<&str> = item
        .keys()
        .map(String::as_str)
        .chain(
            fields
                .iter()
                .map(|(k, _)| k.as_str())
                .filter(|k| !item.contains_key(*k)),
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut differing = Vec::new();
    for name in names {
        let found = fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.get());
        let same = match (item.get(name), found) {
            (Some(value), Some(raw)) => matches(value, raw, 1).map_err(|fault| fault.at(name))?,
            _ => false,
        };
        if !same {
            differing.push(name.to_owned());
        }
    }
    Ok(differing)
}

/// Object entries in document order with raw values; `None` when `text` is no object.
fn object_entries(text: &str) -> Result<Option<Vec<(String, &RawValue)>>, DocumentError> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    if !text.trim_start().starts_with('{') {
        return Ok(None);
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Entries)
        .map(Some)
        .map_err(|e| json_error(&e))
}

fn array_items(text: &str) -> Result<Option<Vec<&RawValue>>, DocumentError> {
    if !text.trim_start().starts_with('[') {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| json_error(&e))
}

fn string(text: &str) -> Result<Option<String>, DocumentError> {
    if !text.trim_start().starts_with('"') {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| json_error(&e))
}

fn is_number(text: &str) -> bool {
    text.trim_start()
        .starts_with(|c: char| c == '-' || c.is_ascii_digit())
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn encode_json(out: &mut Vec<u8>, text: &str, depth: usize) -> Result<(), DocumentError> {
    if depth > MAX_DEPTH {
        return Err(DocumentError::Depth);
    }
    let text = text.trim();
    match text.as_bytes().first() {
        Some(b'n') => out.push(b'0'),
        Some(b't') => out.push(b'T'),
        Some(b'f') => out.push(b'F'),
        Some(b'"') => {
            let s = string(text)?.unwrap_or_default();
            out.push(b'S');
            push_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Some(b'[') => {
            let values = array_items(text)?.unwrap_or_default();
            out.push(b'L');
            push_len(out, values.len());
            for value in values {
                encode_json(out, value.get(), depth + 1)?;
            }
        }
        Some(b'{') => {
            let mut entries = object_entries(text)?.unwrap_or_default();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push(b'M');
            push_len(out, entries.len());
            for (name, value) in entries {
                push_len(out, name.len());
                out.extend_from_slice(name.as_bytes());
                encode_json(out, value.get(), depth + 1)?;
            }
        }
        Some(_) => {
            out.push(b'N');
            push_number(out, text).map_err(|fault| fault.at("(a number in a document)"))?;
        }
        None => return Err(DocumentError::Json("empty value".into())),
    }
    Ok(())
}

/// Whether the JSON `raw` holds `value` as the sink writes it (see [`cdc_record`]'s docs:
/// N as a number, B and BS as base64, sets as arrays, NULL as null, M and L nested).
fn matches(value: &AttributeValue, raw: &str, depth: usize) -> Result<bool, Fault> {
    if depth > MAX_DEPTH {
        return Ok(false);
    }
    let raw = raw.trim();
    Ok(match value {
        AttributeValue::S(s) => ok(string(raw)).is_some_and(|found| &found == s),
        AttributeValue::N(n) => is_number(raw) && same_number(n, raw)?,
        AttributeValue::B(b) => {
            ok(string(raw)).and_then(|t| decode(&t)).as_deref() == Some(b.as_ref())
        }
        AttributeValue::Bool(b) => raw == if *b { "true" } else { "false" },
        AttributeValue::Null(_) => raw == "null",
        AttributeValue::M(map) => match ok(object_entries(raw)) {
            Some(fields) if fields.len() == map.len() => {
                let mut all = true;
                for (name, found) in &fields {
                    all = all
                        && match map.get(name) {
                            Some(v) => matches(v, found.get(), depth + 1)?,
                            None => false,
                        };
                }
                all
            }
            _ => false,
        },
        AttributeValue::L(list) => match ok(array_items(raw)) {
            Some(found) if found.len() == list.len() => {
                let mut all = true;
                for (v, found) in list.iter().zip(found) {
                    all = all && matches(v, found.get(), depth + 1)?;
                }
                all
            }
            _ => false,
        },
        AttributeValue::Ss(set) => {
            let found = ok(array_items(raw)).map(|items| {
                items
                    .iter()
                    .map(|i| ok(string(i.get())))
                    .collect::<Option<Vec<String>>>()
            });
            same_set(set.clone(), found.flatten())
        }
        AttributeValue::Ns(set) => {
            let expected = set
                .iter()
                .map(|n| Decimal::parse(n).map_err(Fault::Number))
                .collect::<Result<Vec<_>, _>>()?;
            let found = ok(array_items(raw)).map(|items| {
                items
                    .iter()
                    .map(|i| {
                        let t = i.get().trim();
                        is_number(t).then(|| Decimal::parse(t).ok()).flatten()
                    })
                    .collect::<Option<Vec<Decimal>>>()
            });
            same_set(expected, found.flatten())
        }
        AttributeValue::Bs(set) => {
            let expected = set.iter().map(|b| b.as_ref().to_vec()).collect();
            let found = ok(array_items(raw)).map(|items| {
                items
                    .iter()
                    .map(|i| ok(string(i.get())).and_then(|t| decode(&t)))
                    .collect::<Option<Vec<Vec<u8>>>>()
            });
            same_set(expected, found.flatten())
        }
        _ => return Err(Fault::UnknownType),
    })
}

/// A malformed document part cannot hold the value: it differs (not an error).
fn ok<T>(read: Result<Option<T>, DocumentError>) -> Option<T> {
    read.ok().flatten()
}

fn same_number(expected: &str, found: &str) -> Result<bool, Fault> {
    let expected = Decimal::parse(expected).map_err(Fault::Number)?;
    Ok(Decimal::parse(found).is_ok_and(|found| found == expected))
}

fn same_set<T: Ord>(mut expected: Vec<T>, found: Option<Vec<T>>) -> bool {
    let Some(mut found) = found else {
        return false;
    };
    for v in [&mut expected, &mut found] {
        v.sort_unstable();
        v.dedup();
    }
    expected == found
}

fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// `item` as DynamoDB JSON (`{"name":{"S":"..."},...}`), what an export's `Item` holds.
pub fn item_to_dynamodb_json(item: &SdkItem) -> Result<String, ValueError> {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        cdc_record::write_json_string(&mut out, name);
        out.push(b':');
        write_value(&mut out, value).map_err(|fault| fault.at(name))?;
    }
    out.push(b'}');
    // Written from `String`s and base64 only, so it is UTF-8 and nothing is replaced.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Writes `item` as DynamoDB JSON.
fn write_item(out: &mut Vec<u8>, item: &SdkItem) -> Result<(), Fault> {
    out.push(b'{');
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        cdc_record::write_json_string(out, name);
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_value(out: &mut Vec<u8>, value: &AttributeValue) -> Result<(), Fault> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let tagged = |out: &mut Vec<u8>, tag: &str| {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(b"\":");
    };
    let strings = |out: &mut Vec<u8>, tag: &str, items: &mut dyn Iterator<Item = String>| {
        tagged(out, tag);
        out.push(b'[');
        for (i, s) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            cdc_record::write_json_string(out, &s);
        }
        out.extend_from_slice(b"]}");
    };
    match value {
        AttributeValue::S(s) => strings_one(out, "S", s),
        AttributeValue::N(n) => strings_one(out, "N", n),
        AttributeValue::B(b) => strings_one(out, "B", &b64(b.as_ref())),
        AttributeValue::Bool(b) => {
            tagged(out, "BOOL");
            out.extend_from_slice(if *b { b"true}" } else { b"false}" });
        }
        AttributeValue::Null(_) => {
            tagged(out, "NULL");
            out.extend_from_slice(b"true}");
        }
        AttributeValue::M(map) => {
            tagged(out, "M");
            write_item(out, map)?;
            out.push(b'}');
        }
        AttributeValue::L(list) => {
            tagged(out, "L");
            out.push(b'[');
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, v)?;
            }
            out.extend_from_slice(b"]}");
        }
        AttributeValue::Ss(set) => strings(out, "SS", &mut set.iter().cloned()),
        AttributeValue::Ns(set) => strings(out, "NS", &mut set.iter().cloned()),
        AttributeValue::Bs(set) => strings(out, "BS", &mut set.iter().map(|b| b64(b.as_ref()))),
        _ => return Err(Fault::UnknownType),
    }
    Ok(())
}

fn strings_one(out: &mut Vec<u8>, tag: &str, text: &str) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(b"\":");
    cdc_record::write_json_string(out, text);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::Blob;

    use super::*;

    fn schema() -> KeySchema {
        KeySchema {
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
        }
    }

    fn item() -> SdkItem {
        [
            ("pk", AttributeValue::S("o#1|x".into())),
            ("sk", AttributeValue::N("7".into())),
            (
                "amount",
                AttributeValue::N("12345678901234567890123456789012345678".into()),
            ),
            ("price", AttributeValue::N("1.50".into())),
            ("tags", AttributeValue::Ss(vec!["a".into(), "b\"".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2.50".into()])),
            ("blob", AttributeValue::B(Blob::new(vec![1, 2]))),
            (
                "bs",
                AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2])]),
            ),
            ("none", AttributeValue::Null(true)),
            ("yes", AttributeValue::Bool(true)),
            (
                "m",
                AttributeValue::M(
                    [(
                        "l".to_string(),
                        AttributeValue::L(vec![
                            AttributeValue::N("1e2".into()),
                            AttributeValue::M(Default::default()),
                        ]),
                    )]
                    .into(),
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn renders_the_sinks_id_and_document() {
        let expected = expected_document(&item(), "orders", &schema()).unwrap();
        assert_eq!(expected.id, "o#1\\|x|7");
        // Field order follows the item's (a HashMap); compare as JSON.
        let wanted = r#"{"pk":"o#1|x","sk":7,"amount":12345678901234567890123456789012345678,
            "price":1.50,"tags":["a","b\""],"ns":[1,2.50],"blob":"AQI=","bs":["AQ==","Ag=="],
            "none":null,"yes":true,"m":{"l":[1e2,{}]}}"#;
        assert_eq!(
            json_fingerprint(&expected.json).unwrap(),
            json_fingerprint(wanted).unwrap()
        );
        assert_eq!(
            document_differences(&item(), &expected.json).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn json_fingerprints_compare_exact_values() {
        let f = |t: &str| json_fingerprint(t).unwrap();
        assert_eq!(
            f(r#"{"a":1.50,"b":[1,2]}"#),
            f(r#"{ "b": [1, 2], "a": 1.5 }"#)
        );
        assert_eq!(f(r#"{"a":"\u00e9"}"#), f(r#"{"a":"é"}"#));
        assert_ne!(f(r#"{"a":[1,2]}"#), f(r#"{"a":[2,1]}"#));
        assert_ne!(f(r#"{"a":1}"#), f(r#"{"a":"1"}"#));
        assert_ne!(
            f(r#"{"a":12345678901234567890123456789012345678}"#),
            f(r#"{"a":12345678901234567890123456789012345679}"#)
        );
        assert_ne!(f(r#"{"a":null}"#), f(r#"{}"#));
        assert!(json_fingerprint("{").is_err());
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(json_fingerprint(&deep), Err(DocumentError::Depth));
    }

    #[test]
    fn documents_compare_with_items_by_type() {
        let base = r#"{"pk":"o#1|x","sk":7.0,"amount":12345678901234567890123456789012345678,
            "price":1.5,"tags":["b\"","a"],"ns":[2.5,1],"blob":"AQI=","bs":["Ag==","AQ=="],
            "none":null,"yes":true,"m":{"l":[100,{}]}}"#;
        assert_eq!(
            document_differences(&item(), base).unwrap(),
            Vec::<String>::new()
        );
        let changed = base
            .replace(
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345679",
            )
            .replace(r#""none":null,"#, "")
            .replace(r#""yes":true"#, r#""yes":true,"extra":1"#)
            .replace("[100,{}]", "[{},100]")
            .replace(r#""AQI=""#, r#""AQM=""#);
        assert_eq!(
            document_differences(&item(), &changed).unwrap(),
            ["amount", "blob", "extra", "m", "none"]
        );
        assert_eq!(
            document_differences(&item(), "[1]"),
            Err(DocumentError::NotAnObject)
        );
    }

    #[test]
    fn errors_never_quote_the_document() {
        let err = json_fingerprint(r#"{"secret": "s3cr3t" "#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
