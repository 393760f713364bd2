//! Writes JSON by hand into a byte buffer.
//!
//! `serde_json` can only write a number it holds as `f64`/`i64`/`u64` (short of the
//! `arbitrary_precision` feature, which would change number handling for every crate in the
//! build), so documents are written here, with DynamoDB numbers copied as validated text.
//! Strings go through `serde_json`'s own escaper.

use crate::value::{AttributeValue, Item};

/// Appends `s` as a JSON string.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Serialising a str into a Vec<u8> cannot fail.
        let _ = serde_json::to_writer(out, s);
    }
}

pub(crate) fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub(crate) fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(crate) fn bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Base64 needs no escaping.
fn raw_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// An item as a plain JSON object: the document form of the change record.
pub fn item(out: &mut Vec<u8>, item: &Item<'_>) {
    out.push(b'{');
    for (i, (name, value)) in item.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name.as_str());
        out.push(b':');
        attribute(out, value);
    }
    out.push(b'}');
}

pub(crate) fn attribute(out: &mut Vec<u8>, value: &AttributeValue<'_>) {
    match value {
        AttributeValue::S(s) => string(out, s.as_str()),
        AttributeValue::N(n) => out.extend_from_slice(n.as_str().as_bytes()),
        AttributeValue::B(b) => raw_string(out, b.base64()),
        AttributeValue::Bool(b) => bool(out, *b),
        AttributeValue::Null => out.extend_from_slice(b"null"),
        AttributeValue::M(m) => item(out, m),
        AttributeValue::L(values) => array(out, values, attribute),
        AttributeValue::Ss(values) => array(out, values, |out, s| string(out, s.as_str())),
        AttributeValue::Ns(values) => array(out, values, |out, n| {
            out.extend_from_slice(n.as_str().as_bytes())
        }),
        AttributeValue::Bs(values) => array(out, values, |out, b| raw_string(out, b.base64())),
    }
}

fn array<T>(out: &mut Vec<u8>, values: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, value);
    }
    out.push(b']');
}

/// Copies JSON text without the whitespace between tokens, so that a record which arrived
/// pretty-printed fits on one line of JSON Lines. Expects valid JSON (a `RawValue`, say);
/// the bytes of every token are kept as they are.
pub fn compact(out: &mut Vec<u8>, json: &str) {
    let bytes = json.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b'\n' | b'\r' | b'\t' | b' '))
    {
        out.extend_from_slice(bytes);
        return;
    }
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b'\n' | b'\r' | b'\t' | b' ') {
            in_string = b == b'"';
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn compact_drops_whitespace_between_tokens_only() {
        let mut out = Vec::new();
        compact(&mut out, "{\n  \"a b\": [1, 2],\n  \"c\\\" d\": \" x \"\n}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a b":[1,2],"c\" d":" x "}"#
        );
    }
}
