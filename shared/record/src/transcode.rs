//! DynamoDB JSON (`{"n": {"N": "1"}}`) straight to plain JSON (`{"n": 1}`) in one pass.
//!
//! Building an [`Item`](crate::Item) tree first and writing it out afterwards costs an
//! allocation per map, list and escaped string; documents are the bulk of every payload, so
//! they are transcoded while they are parsed, validating every value on the way. Strings that
//! arrive without escapes are copied as they are: `serde_json` only lends such a string when
//! it holds no quote, backslash or control character, so it needs no escaping on the way out.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as _;

use crate::change::Document;
use crate::json;
use crate::number::Number;
use crate::value::{AttributeValue, Item, Text, TYPE_TAGS};
use crate::{shape_error, Reason};

/// The document of a DynamoDB JSON item; `location` names where the item sits in its record,
/// for the error.
pub(crate) fn document<'a>(image: &'a str, location: &str) -> Result<Document<'a>, Reason> {
    document_capturing(image, location, &[]).map(|(document, _)| document)
}

/// As [`document`], also returning the top-level attributes named in `capture`, typed.
pub(crate) fn document_capturing<'a>(
    image: &'a str,
    location: &str,
    capture: &[&str],
) -> Result<(Document<'a>, Item<'a>), Reason> {
    let mut out = Vec::with_capacity(image.len());
    match item(image, &mut out, capture) {
        // The typed parser accepts exactly what the transcoder does, and says where it failed.
        Err(_) => Err(shape_error::<Item>(image, location)),
        Ok(captured) => {
            let json = String::from_utf8(out).map_err(|e| Reason::Shape {
                path: location.to_owned(),
                message: e.to_string(),
            })?;
            Ok((Document::new(json, image), Item(captured)))
        }
    }
}

/// Transcodes the DynamoDB JSON item in `image` into `out`. Top-level attributes named in
/// `capture` are also returned typed (the key attributes of an export item).
fn item<'a>(
    image: &'a str,
    out: &mut Vec<u8>,
    capture: &[&str],
) -> Result<Vec<(Text<'a>, AttributeValue<'a>)>, serde_json::Error> {
    let mut captured = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(image);
    ItemSeed {
        out,
        capture,
        captured: &mut captured,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(captured)
}

struct ItemSeed<'o, 'c, 'a> {
    out: &'o mut Vec<u8>,
    capture: &'c [&'c str],
    captured: &'c mut Vec<(Text<'a>, AttributeValue<'a>)>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of attribute names to DynamoDB attribute values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut first = true;
        while let Some(name) = map.next_key::<Text<'de>>()? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            text(self.out, &name);
            self.out.push(b':');
            if self.capture.contains(&name.as_str()) {
                let value: AttributeValue<'de> = map.next_value()?;
                json::attribute(self.out, &value);
                self.captured.push((name, value));
            } else {
                map.next_value_seed(ValueSeed(self.out))?;
            }
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// Writes a string; a borrowed one arrived without escapes, so needs none (see the module docs).
fn text(out: &mut Vec<u8>, text: &Text<'_>) {
    match &text.0 {
        Cow::Owned(owned) => json::string(out, owned),
        Cow::Borrowed(borrowed) => unescaped(out, borrowed),
    }
}

/// A string known to need no escaping.
fn unescaped(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// One attribute value.
struct ValueSeed<'o>(&'o mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DynamoDB attribute value such as {\"S\": \"text\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.0;
        let Some(tag) = map.next_key::<Text<'de>>()? else {
            return Err(de::Error::custom(
                "empty attribute value {}: expected exactly one of S, N, B, BOOL, NULL, M, L, SS, NS, BS",
            ));
        };
        match tag.as_str() {
            "S" => map.next_value_seed(StringSeed(out))?,
            "N" => map.next_value_seed(NumberSeed(out))?,
            "B" => map.next_value_seed(BinarySeed(out))?,
            "BOOL" => json::bool(out, map.next_value()?),
            "NULL" => {
                if !map.next_value::<bool>()? {
                    return Err(de::Error::custom("NULL must be true"));
                }
                out.extend_from_slice(b"null");
            }
            "M" => map.next_value_seed(ItemSeed {
                out,
                capture: &[],
                captured: &mut Vec::new(),
            })?,
            "L" => map.next_value_seed(ListSeed(out, Element::Value))?,
            "SS" => map.next_value_seed(ListSeed(out, Element::String))?,
            "NS" => map.next_value_seed(ListSeed(out, Element::Number))?,
            "BS" => map.next_value_seed(ListSeed(out, Element::Binary))?,
            other => return Err(de::Error::unknown_variant(other, TYPE_TAGS)),
        }
        if let Some(extra) = map.next_key::<Text<'de>>()? {
            return Err(de::Error::custom(format_args!(
                "attribute value has a second type tag {:?} after {:?}",
                extra.as_str(),
                tag.as_str()
            )));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Element {
    Value,
    String,
    Number,
    Binary,
}

struct ListSeed<'o>(&'o mut Vec<u8>, Element);

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ListSeed(out, element) = self;
        out.push(b'[');
        let mut first = true;
        loop {
            if !first {
                out.push(b',');
            }
            let more = match element {
                Element::Value => seq.next_element_seed(ValueSeed(out))?,
                Element::String => seq.next_element_seed(StringSeed(out))?,
                Element::Number => seq.next_element_seed(NumberSeed(out))?,
                Element::Binary => seq.next_element_seed(BinarySeed(out))?,
            };
            if more.is_none() {
                if !first {
                    out.pop(); // the comma written for an element that did not come
                }
                break;
            }
            first = false;
        }
        out.push(b']');
        Ok(())
    }
}

struct StringSeed<'o>(&'o mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for StringSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        text(self.0, &Text::deserialize(deserializer)?);
        Ok(())
    }
}

struct NumberSeed<'o>(&'o mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for NumberSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let number = Number::deserialize(deserializer)?;
        self.0.extend_from_slice(number.as_str().as_bytes());
        Ok(())
    }
}

struct BinarySeed<'o>(&'o mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for BinarySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let text = Text::deserialize(deserializer)?;
        validate_base64(text.as_str()).map_err(|e| de::Error::custom(format_args!("invalid base64: {e}")))?;
        // Base64 has no character JSON escapes.
        unescaped(self.0, text.as_str());
        Ok(())
    }
}

/// Decodes into a reused buffer: validation without an allocation per value.
pub(crate) fn validate_base64(text: &str) -> Result<(), base64::DecodeError> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        scratch.clear();
        base64::engine::general_purpose::STANDARD.decode_vec(text.as_bytes(), &mut scratch)
    })
}
