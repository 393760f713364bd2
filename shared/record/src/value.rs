//! DynamoDB attribute values as they appear in DynamoDB JSON (`{"S": "..."}`, `{"N": "..."}`...).
//!
//! Our own parser rather than `serde_dynamo`/`aws_lambda_events`: those turn 38-digit numbers into
//! `f64` and allocate every string, while this one keeps numbers as text and borrows strings
//! from the payload whenever they hold no JSON escapes.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::number::Number;

/// The type tags DynamoDB JSON uses, for error messages.
pub const TYPE_TAGS: &[&str] = &["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

/// A string borrowed from the payload unless it had to be unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Binary data, kept as the base64 text DynamoDB JSON carries (validated on parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary<'a>(Cow<'a, str>);

impl<'a> Binary<'a> {
    /// Keeps `text` as the value if it is valid standard base64; fails otherwise.
    pub fn parse(text: Cow<'a, str>) -> Result<Self, base64::DecodeError> {
        validate_base64(&text)?;
        Ok(Binary(text))
    }

    /// The base64 text, borrowed from the payload where the parse borrowed it.
    pub fn to_cow(&self) -> Cow<'a, str> {
        self.0.clone()
    }

    /// Standard base64 with padding, as in the source record.
    pub fn base64(&self) -> &str {
        &self.0
    }

    /// The decoded bytes (the text was validated in `parse`, so this fails only on a bug).
    pub fn to_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode(self.0.as_bytes())
    }
}

/// One DynamoDB attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue<'a> {
    /// `S`: a string.
    S(Text<'a>),
    /// `N`: a number, kept as its decimal text.
    N(Number<'a>),
    /// `B`: binary data, kept as base64.
    B(Binary<'a>),
    /// `BOOL`: a boolean.
    Bool(bool),
    /// `NULL`: the null value.
    Null,
    /// `M`: a map of named attributes.
    M(Item<'a>),
    /// `L`: a list of values of any types.
    L(Vec<AttributeValue<'a>>),
    /// `SS`: a string set.
    Ss(Vec<Text<'a>>),
    /// `NS`: a number set.
    Ns(Vec<Number<'a>>),
    /// `BS`: a binary set.
    Bs(Vec<Binary<'a>>),
}

impl AttributeValue<'_> {
    /// The DynamoDB type tag (`S`, `N`, ...).
    pub fn type_tag(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }
}

/// A DynamoDB item or map: attribute names to values, in the order the source wrote them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item<'a>(pub Vec<(Text<'a>, AttributeValue<'a>)>);

impl<'a> Item<'a> {
    /// The value of the attribute `name`, `None` when the item has no such attribute.
    pub fn get(&self, name: &str) -> Option<&AttributeValue<'a>> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the item has no attribute.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes as `(name, value)` pairs, in the order the source wrote them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttributeValue<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Number<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(deserializer)?;
        Number::parse(text.0).map_err(de::Error::custom)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Binary<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(deserializer)?;
        Binary::parse(text.0).map_err(|e| de::Error::custom(format_args!("invalid base64: {e}")))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of attribute names to DynamoDB attribute values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<Text<'de>, AttributeValue<'de>>()? {
                    entries.push(entry);
                }
                Ok(Item(entries))
            }
        }
        deserializer.deserialize_map(ItemVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for AttributeValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AttributeValueVisitor)
    }
}

struct AttributeValueVisitor;

impl<'de> Visitor<'de> for AttributeValueVisitor {
    type Value = AttributeValue<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DynamoDB attribute value such as {\"S\": \"text\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(tag) = map.next_key::<Text<'de>>()? else {
            return Err(de::Error::custom(
                "empty attribute value {}: expected exactly one of S, N, B, BOOL, NULL, M, L, SS, NS, BS",
            ));
        };
        let value = match tag.as_str() {
            "S" => AttributeValue::S(map.next_value()?),
            "N" => AttributeValue::N(map.next_value()?),
            "B" => AttributeValue::B(map.next_value()?),
            "BOOL" => AttributeValue::Bool(map.next_value()?),
            "NULL" => {
                if !map.next_value::<bool>()? {
                    return Err(de::Error::custom("NULL must be true"));
                }
                AttributeValue::Null
            }
            "M" => AttributeValue::M(map.next_value()?),
            "L" => AttributeValue::L(map.next_value::<ValueList<'de>>()?.0),
            "SS" => AttributeValue::Ss(map.next_value()?),
            "NS" => AttributeValue::Ns(map.next_value()?),
            "BS" => AttributeValue::Bs(map.next_value()?),
            other => return Err(de::Error::unknown_variant(other, TYPE_TAGS)),
        };
        if let Some(extra) = map.next_key::<Text<'de>>()? {
            return Err(de::Error::custom(format_args!(
                "attribute value has a second type tag {:?} after {:?}",
                extra.as_str(),
                tag.as_str()
            )));
        }
        Ok(value)
    }
}

/// `L` elements, parsed with a visitor so every element borrows from the payload.
struct ValueList<'a>(Vec<AttributeValue<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for ValueList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = ValueList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of DynamoDB attribute values")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
                Ok(ValueList(values))
            }
        }
        deserializer.deserialize_seq(ListVisitor)
    }
}

/// Decodes into a reused buffer: validation without an allocation per value.
pub(crate) fn validate_base64(text: &str) -> Result<(), base64::DecodeError> {
    use base64::Engine as _;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        scratch.clear();
        base64::engine::general_purpose::STANDARD.decode_vec(text.as_bytes(), &mut scratch)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<AttributeValue<'_>, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn parses_every_type() {
        assert_eq!(
            parse(r#"{"S":"x"}"#).unwrap(),
            AttributeValue::S(Text("x".into()))
        );
        assert_eq!(parse(r#"{"N":"1.5"}"#).unwrap().type_tag(), "N");
        assert_eq!(parse(r#"{"B":"AQI="}"#).unwrap().type_tag(), "B");
        assert_eq!(
            parse(r#"{"BOOL":false}"#).unwrap(),
            AttributeValue::Bool(false)
        );
        assert_eq!(parse(r#"{"NULL":true}"#).unwrap(), AttributeValue::Null);
        assert_eq!(
            parse(r#"{"M":{}}"#).unwrap(),
            AttributeValue::M(Item::default())
        );
        assert_eq!(parse(r#"{"L":[]}"#).unwrap(), AttributeValue::L(vec![]));
        assert_eq!(parse(r#"{"SS":["a"]}"#).unwrap().type_tag(), "SS");
        assert_eq!(parse(r#"{"NS":["1"]}"#).unwrap().type_tag(), "NS");
        assert_eq!(parse(r#"{"BS":["AA=="]}"#).unwrap().type_tag(), "BS");
    }

    #[test]
    fn borrows_unescaped_strings_and_unescapes_the_rest() {
        let AttributeValue::S(plain) = parse(r#"{"S":"plain"}"#).unwrap() else {
            panic!()
        };
        assert!(matches!(plain.0, Cow::Borrowed("plain")));
        let AttributeValue::S(escaped) = parse(r#"{"S":"a\"b\u00e9"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(escaped.as_str(), "a\"bé");
    }

    #[test]
    fn rejects_malformed_values_with_a_reason() {
        let cases = [
            (r#"{}"#, "empty attribute value"),
            (r#"{"X":"1"}"#, "unknown variant `X`"),
            (r#"{"S":"a","N":"1"}"#, "second type tag"),
            (r#"{"N":"12abc"}"#, "not a decimal number"),
            (r#"{"N":15}"#, "expected a string"),
            (r#"{"B":"@@"}"#, "invalid base64"),
            (r#"{"NULL":false}"#, "NULL must be true"),
            (r#"{"L":{"S":"x"}}"#, "expected a list"),
        ];
        for (json, reason) in cases {
            let err = parse(json).unwrap_err().to_string();
            assert!(err.contains(reason), "{json}: {err}");
        }
    }
}
