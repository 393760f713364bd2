//! Reads our JSON output back without losing number precision: every value is first taken as
//! raw text, so numbers stay the exact digits that were written.

use serde_json::value::RawValue;

/// A JSON value whose numbers keep their exact text and whose objects compare equal whatever
/// their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// The number exactly as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array, in order.
    Array(Vec<Json>),
    /// Entries sorted by key.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses `text`; panics when it is not valid JSON (this is for tests).
    pub fn parse(text: &str) -> Json {
        let raw: &RawValue = serde_json::from_str(text).expect("valid JSON");
        Self::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Json {
        let text = raw.get().trim();
        match text.as_bytes()[0] {
            b'n' => Json::Null,
            b't' => Json::Bool(true),
            b'f' => Json::Bool(false),
            b'"' => Json::String(serde_json::from_str(text).unwrap()),
            b'[' => {
                let items: Vec<&RawValue> = serde_json::from_str(text).unwrap();
                Json::Array(items.into_iter().map(Self::from_raw).collect())
            }
            b'{' => {
                // Sorted, so that objects compare equal whatever order their keys were written in.
                let mut entries: Vec<(String, Json)> = ordered_entries(text)
                    .unwrap()
                    .into_iter()
                    .map(|(k, v)| (k, Self::from_raw(v)))
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(entries)
            }
            _ => Json::Number(text.to_owned()),
        }
    }

    /// The value of `key` in an object; panics when this is not an object or has no such key.
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(entries) => entries
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("no key {key:?} in {self:?}")),
            other => panic!("not an object: {other:?}"),
        }
    }

    /// The string this value holds; panics when it is not a string.
    pub fn str(&self) -> &str {
        match self {
            Json::String(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
}

/// Object entries with their values raw.
fn ordered_entries(text: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
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
    serde_json::Deserializer::from_str(text).deserialize_map(Entries)
}
