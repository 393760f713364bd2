//! DynamoDB JSON (`{"n": {"N": "1"}}`) straight to plain JSON (`{"n": 1}`) in one pass.
//!
//! Documents are the bulk of every payload, so they go through the [`Scanner`](super::scan)
//! rather than a `serde` visitor or an `Item` tree. A string token without escapes, or with only
//! the minimal escapes of [`json::string`] (`\"`, `\\`, control characters), is copied as it
//! is; any other is decoded and written again with that minimal escaping, so the document does
//! not depend on how the source chose to escape (`\u00e9` or `é`, `\u001F` or `\u001f`, `\/` or
//! `/`): a stream record, a DYNAMODB_JSON export line and an ION export line of one item give
//! the same bytes, and so do this scan and the typed fallback below. Only strings escaped
//! otherwise pay for it.
//! The DynamoDB structure and every number and base64 value are checked. Whenever the scan
//! rejects something, the typed `serde` parser decides instead: it either accepts the item
//! (then its output is used) or says exactly where and why it is wrong.

use std::borrow::Cow;

use super::scan::{Escapes, Scan, Scanner};
use crate::change::Document;
use crate::error::{shape_error, Reason};
use crate::json;
use crate::number::Number;
use crate::value::{AttributeValue, Item, Text};

/// The document of a DynamoDB JSON item; `location` names where the item sits in its record.
/// `image` must be valid JSON: a `RawValue` or a value [`Scanner`] cut out of one.
pub(crate) fn document<'a>(image: &'a str, location: &str) -> Result<Document<'a>, Reason> {
    document_capturing(image, location, &[]).map(|(document, _)| document)
}

/// As [`document`], also returning the top-level attributes named in `capture`, typed.
pub(crate) fn document_capturing<'a>(
    text: &'a str,
    location: &str,
    capture: &[&str],
) -> Result<(Document<'a>, Item<'a>), Reason> {
    let mut out = String::with_capacity(text.len());
    let mut captured = Vec::new();
    let mut scan = Scanner::new(text);
    let mut transcoder = Transcoder {
        scan: &mut scan,
        out: &mut out,
        depth: 0,
    };
    let scanned = transcoder
        .item(capture, &mut captured)
        .filter(|()| scan.at_end());
    let (json, captured) = match scanned {
        Some(()) => (out, captured),
        None => {
            let item: Item<'a> =
                serde_json::from_str(text).map_err(|_| shape_error::<Item>(text, location))?;
            let mut out = Vec::with_capacity(text.len());
            json::item(&mut out, &item);
            // `json::item` writes UTF-8 only.
            let out = String::from_utf8(out).map_err(|e| Reason::Shape {
                path: location.to_owned(),
                message: e.to_string(),
            })?;
            let captured = item
                .0
                .into_iter()
                .filter(|(k, _)| capture.contains(&k.as_str()))
                .collect();
            (out, captured)
        }
    };
    Ok((Document::new(json, text), Item(captured)))
}

/// Transcodes the item at the scanner's position, leaving the scanner after it; `None`
/// (with the scanner anywhere) when the scan cannot, and [`document`] must decide.
pub(crate) fn scan_document<'a>(scan: &mut Scanner<'a>) -> Scan<Document<'a>> {
    scan_document_capturing(scan, &[]).map(|(document, _)| document)
}

/// As [`scan_document`], also returning the top-level attributes named in `capture`, typed.
pub(crate) fn scan_document_capturing<'a>(
    scan: &mut Scanner<'a>,
    capture: &[&str],
) -> Scan<(Document<'a>, Item<'a>)> {
    scan.skip_ws();
    let start = scan.at;
    // Where the image ends is not known yet (the scanner may hold the whole payload): start
    // at a typical item's size and let it double.
    let mut out = String::with_capacity((scan.text().len() - start).min(1024));
    let mut captured = Vec::new();
    Transcoder {
        scan,
        out: &mut out,
        depth: 0,
    }
    .item(capture, &mut captured)?;
    let image = scan.text().get(start..scan.at)?;
    Some((Document::new(out, image), Item(captured)))
}

/// The document of an item known by its keys alone (a `KEYS_ONLY` stream, or a delete whose
/// old image is wanted but absent): the key attributes, its image the raw `Keys`.
pub(crate) fn keys_document<'a>(keys: &'a str, key_attributes: &Item<'_>) -> Document<'a> {
    let mut json = Vec::with_capacity(keys.len());
    json::item(&mut json, key_attributes);
    // `json::item` writes UTF-8 only.
    Document::new(String::from_utf8(json).unwrap_or_default(), keys)
}

/// An image as parsed: raw DynamoDB JSON, or already transcoded by a scan on its way.
#[derive(Debug)]
pub(crate) enum Image<'a> {
    Raw(&'a str),
    Ready(Document<'a>),
}

impl<'a> Image<'a> {
    pub(crate) fn text(&self) -> &'a str {
        match self {
            Image::Raw(text) => text,
            Image::Ready(document) => document.image(),
        }
    }

    pub(crate) fn into_document(self, location: &str) -> Result<Document<'a>, Reason> {
        match self {
            Image::Raw(text) => document(text, location),
            Image::Ready(document) => Ok(document),
        }
    }
}

/// The same image, whether transcoded yet or not.
impl PartialEq for Image<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

/// The key attributes of a stream record's `Keys` (S, N or B values), typed.
pub(crate) fn key_attributes<'a>(text: &'a str, location: &str) -> Result<Item<'a>, Reason> {
    let mut scan = Scanner::new(text);
    match scan_scalars(&mut scan).filter(|_| scan.at_end()) {
        Some(item) => Ok(item),
        None => serde_json::from_str(text).map_err(|_| shape_error::<Item>(text, location)),
    }
}

fn scan_scalars<'a>(scan: &mut Scanner<'a>) -> Scan<Item<'a>> {
    let mut attributes = Vec::with_capacity(2);
    scan.eat(b'{')?;
    loop {
        let name = Text(scan.string_value()?);
        scan.eat(b':')?;
        scan.eat(b'{')?;
        let tag = scan.string_value()?;
        scan.eat(b':')?;
        let value = scan.string_value()?;
        let value = match tag.as_ref() {
            "S" => AttributeValue::S(Text(value)),
            "N" => AttributeValue::N(Number::parse(value).ok()?),
            "B" => AttributeValue::B(crate::value::Binary::parse(value).ok()?),
            _ => return None,
        };
        scan.eat(b'}')?;
        attributes.push((name, value));
        if !scan.next_or_close(b'}')? {
            return Some(Item(attributes));
        }
    }
}

/// Writes plain JSON while scanning DynamoDB JSON, into a `String`: what it writes is ASCII
/// and slices of the (valid UTF-8) text, so the document needs no second UTF-8 check.
struct Transcoder<'s, 'a, 'o> {
    scan: &'s mut Scanner<'a>,
    out: &'o mut String,
    /// Maps and lists entered.
    depth: usize,
}

const MAX_NESTING: usize = 32;

impl<'a> Transcoder<'_, 'a, '_> {
    fn write(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// `{"name": VALUE, ...}`; top-level attributes named in `capture` are also parsed typed.
    fn item(
        &mut self,
        capture: &[&str],
        captured: &mut Vec<(Text<'a>, AttributeValue<'a>)>,
    ) -> Scan {
        self.scan.eat(b'{')?;
        self.write("{");
        if self.scan.eat(b'}').is_some() {
            self.write("}");
            return Some(());
        }
        loop {
            let (name, escapes) = self.scan.string()?;
            self.write_string(name, escapes)?;
            self.scan.eat(b':')?;
            self.write(":");
            if capture.is_empty() {
                self.value()?;
            } else {
                let value_start = self.scan.at;
                self.value()?;
                let unquoted = Cow::Borrowed(&name[1..name.len() - 1]);
                let name = if escapes != Escapes::None {
                    serde_json::from_str(name).ok()?
                } else {
                    unquoted
                };
                if capture.contains(&name.as_ref()) {
                    let value =
                        serde_json::from_str(&self.scan.text()[value_start..self.scan.at]).ok()?;
                    captured.push((Text(name), value));
                }
            }
            match self.scan.peek()? {
                b',' => self.write(","),
                b'}' => break,
                _ => return None,
            }
            self.scan.at += 1;
        }
        self.scan.at += 1;
        self.write("}");
        Some(())
    }

    /// `{"TAG": CONTENT}` written as plain JSON.
    fn value(&mut self) -> Scan {
        self.scan.eat(b'{')?;
        let tag = self.scan.type_tag()?;
        self.scan.eat(b':')?;
        match tag {
            "S" => self.copy_string()?,
            "N" => self.number()?,
            "B" => self.binary()?,
            "BOOL" if self.scan.literal("true") => self.write("true"),
            "BOOL" if self.scan.literal("false") => self.write("false"),
            "NULL" if self.scan.literal("true") => self.write("null"),
            "M" => self.nested(|t| t.item(&[], &mut Vec::new()))?,
            "L" => self.nested(|t| t.list(Self::value))?,
            "SS" => self.list(Self::copy_string)?,
            "NS" => self.list(Self::number)?,
            "BS" => self.list(Self::binary)?,
            _ => return None,
        }
        self.scan.eat(b'}')
    }

    /// DynamoDB nests at most 32 levels deep; anything deeper is left to `serde` (and can
    /// never overflow our stack).
    fn nested(&mut self, inner: impl FnOnce(&mut Self) -> Scan) -> Scan {
        if self.depth == MAX_NESTING {
            return None;
        }
        self.depth += 1;
        let scanned = inner(self);
        self.depth -= 1;
        scanned
    }

    fn list(&mut self, mut element: impl FnMut(&mut Self) -> Scan) -> Scan {
        self.scan.eat(b'[')?;
        self.write("[");
        if self.scan.eat(b']').is_none() {
            loop {
                element(self)?;
                match self.scan.peek()? {
                    b',' => self.write(","),
                    b']' => break,
                    _ => return None,
                }
                self.scan.at += 1;
            }
            self.scan.at += 1;
        }
        self.write("]");
        Some(())
    }

    fn copy_string(&mut self) -> Scan {
        let (token, escapes) = self.scan.string()?;
        self.write_string(token, escapes)
    }

    /// A string token as it is when it holds no escapes or only minimal ones, else decoded
    /// and escaped again minimally (see the module docs). Decoding also rejects escapes that
    /// are no text (a lone surrogate `\ud800`), which JSON validity alone lets through and the
    /// typed parser rejects; minimal escapes never spell a surrogate.
    fn write_string(&mut self, token: &str, escapes: Escapes) -> Scan {
        if escapes == Escapes::Other {
            let text = serde_json::from_str::<String>(token).ok()?;
            let mut escaped = Vec::with_capacity(token.len());
            json::string(&mut escaped, &text);
            self.write(std::str::from_utf8(&escaped).ok()?);
        } else {
            self.write(token);
        }
        Some(())
    }

    fn number(&mut self) -> Scan {
        let number = Number::parse(self.scan.string_value()?).ok()?;
        self.write(number.as_str());
        Some(())
    }

    fn binary(&mut self) -> Scan {
        let text = self.scan.string_value()?;
        crate::value::validate_base64(&text).ok()?;
        // Base64 holds no character JSON escapes.
        self.write("\"");
        self.write(&text);
        self.write("\"");
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(image: &str) -> Option<String> {
        let mut out = String::new();
        let mut scan = Scanner::new(image);
        Transcoder {
            scan: &mut scan,
            out: &mut out,
            depth: 0,
        }
        .item(&[], &mut Vec::new())?;
        scan.at_end().then_some(out)
    }

    #[test]
    fn scans_every_type_with_any_whitespace() {
        let image = r#" { "s" : { "S" : "a\"b" } , "n":{"N":"+1.50"},"b":{"B":"AQ=="},
            "t":{"BOOL":true},"f":{"BOOL":false},"z":{"NULL":true},"m":{"M":{}},"l":{"L":[ ]},
            "ll":{"L":[{"N":"1"},{"M":{"x":{"S":""}}}]},"ss":{"SS":["x","y"]},"ns":{"NS":["1","2"]},
            "bs":{"BS":["AA=="]} } "#;
        assert_eq!(
            fast(image).unwrap(),
            r#"{"s":"a\"b","n":1.50,"b":"AQ==","t":true,"f":false,"z":null,"m":{},"l":[],"ll":[1,{"x":""}],"ss":["x","y"],"ns":[1,2],"bs":["AA=="]}"#
        );
    }

    /// However the source escaped a string, the document holds the same bytes, and the
    /// typed fallback writes them too.
    #[test]
    fn escaped_strings_are_written_with_minimal_escaping() {
        let escaped_everywhere =
            r#"{"k\u00e9\"y":{"S":"\u00e9\/\u001F\u0001\ud83d\ude00\"\\\n\t\r\b\f\u007f\u2028"}}"#;
        let escaped_minimally =
            "{\"k\u{e9}\\\"y\":{\"S\":\"\u{e9}/\\u001f\\u0001\u{1f600}\\\"\\\\\\n\\t\\r\\b\\f\u{7f}\u{2028}\"}}";
        let expected =
            "{\"k\u{e9}\\\"y\":\"\u{e9}/\\u001f\\u0001\u{1f600}\\\"\\\\\\n\\t\\r\\b\\f\u{7f}\u{2028}\"}";
        let spellings = [escaped_everywhere, escaped_minimally];
        for image in spellings {
            assert_eq!(fast(image).unwrap(), expected, "{image}");
            let item: Item = serde_json::from_str(image).unwrap();
            let mut slow = Vec::new();
            json::item(&mut slow, &item);
            assert_eq!(String::from_utf8(slow).unwrap(), expected, "{image}");
        }
        // Strings without escapes are copied as they are.
        let plain = r#"{"k":{"SS":["é😀 ","x"]}}"#;
        assert_eq!(fast(plain).unwrap(), r#"{"k":["é😀 ","x"]}"#);
    }

    #[test]
    fn leaves_whatever_is_not_dynamodb_json_to_the_typed_parser() {
        for image in [
            r#"{"a":{}}"#,
            r#"{"a":{"S":"x","N":"1"}}"#,
            r#"{"a":{"N":"1x"}}"#,
            r#"{"a":{"B":"!!"}}"#,
            r#"{"a":{"NULL":false}}"#,
            r#"{"a":{"BOOL":1}}"#,
            r#"{"a":{"S":1}}"#,
            r#"{"a":{"SS":[1]}}"#,
            r#"{"a":{"X":"1"}}"#,
            r#"{"a":{"L":[{"S":"x"},]}}"#,
            r#"{"a":{"S":"\ud800"}}"#,
            r#"{"\ud800":{"S":"x"}}"#,
            r#"{"a":{"SS":["ok","\udfff"]}}"#,
            r#"[]"#,
        ] {
            assert_eq!(fast(image), None, "{image}");
        }
    }
}
