//! Primary keys: which attributes form the key, and how key values render as text.

use std::borrow::Cow;

use crate::value::{AttributeValue, Item};

/// The key attributes of a table (from `CDC_KEY_SCHEMA` or `DescribeTable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    /// The partition (HASH) key attribute's name.
    pub partition_key: String,
    /// The sort (RANGE) key attribute's name, `None` when the table has none.
    pub sort_key: Option<String>,
}

/// Why an item's key cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The item lacks the key attribute named.
    #[error("key attribute {0:?} is missing")]
    Missing(String),
    /// A key attribute is not a string, number or binary.
    #[error("key attribute {name:?} has type {found}; keys are S, N or B")]
    Type {
        /// The key attribute's name.
        name: String,
        /// The DynamoDB type it has, such as `M`.
        found: &'static str,
    },
    /// The record's `Keys` hold an attribute the schema does not name.
    #[error("the record's Keys hold attribute {0:?}, which the key schema does not name")]
    Unexpected(String),
}

impl KeyError {
    /// The key schema does not fit the item (an attribute missing or one too many), as
    /// opposed to a key value of the wrong type. When no record of a batch fits, the schema
    /// is not the table's: a configuration error, not bad records.
    pub fn is_schema_mismatch(&self) -> bool {
        matches!(self, KeyError::Missing(_) | KeyError::Unexpected(_))
    }
}

/// The rendered key of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimaryKey<'a> {
    /// `partition|sort` (or `partition` alone), with `|` and `\` escaped in each component.
    pub primary_key: Cow<'a, str>,
    /// The partition key value as text (unescaped): S as is, N as its decimal text, B as base64.
    pub partition_key: Cow<'a, str>,
    /// The sort key value as text, rendered the same way; `None` when the table has no sort key.
    pub sort_key: Option<Cow<'a, str>>,
    /// The key attributes with their DynamoDB types, for sinks that address the item by key.
    pub attributes: Item<'a>,
}

impl KeySchema {
    /// As `CDC_KEY_SCHEMA` writes it for one table: `PARTITION_KEY[:SORT_KEY]`.
    pub fn setting(&self) -> String {
        match &self.sort_key {
            Some(sort) => format!("{}:{sort}", self.partition_key),
            None => self.partition_key.clone(),
        }
    }

    /// The key attribute names (the partition key twice when there is no sort key).
    pub fn names(&self) -> [&str; 2] {
        [
            &self.partition_key,
            self.sort_key.as_deref().unwrap_or(&self.partition_key),
        ]
    }

    /// Renders the key of `item` (a stream record's `Keys` or a whole item).
    pub fn key_of<'a>(&self, item: &Item<'a>) -> Result<PrimaryKey<'a>, KeyError> {
        let (pk_name, pk_value) = self.find(item, &self.partition_key)?;
        let partition_key = render(&self.partition_key, pk_value)?;
        let mut attributes = vec![(pk_name, pk_value.clone())];
        let sort_key = match &self.sort_key {
            Some(name) => {
                let (sk_name, sk_value) = self.find(item, name)?;
                attributes.push((sk_name, sk_value.clone()));
                Some(render(name, sk_value)?)
            }
            None => None,
        };
        let primary_key = match &sort_key {
            None => escape(&partition_key),
            Some(sort) => {
                let mut joined = escape(&partition_key).into_owned();
                joined.push('|');
                joined.push_str(&escape(sort));
                Cow::Owned(joined)
            }
        };
        Ok(PrimaryKey {
            primary_key,
            partition_key,
            sort_key,
            attributes: Item(attributes),
        })
    }

    /// Renders the key from a record's `Keys`, which hold exactly the table's key attributes:
    /// one the schema does not name means the schema is not the table's (a sort key left out
    /// would merge every item of a partition into one).
    pub fn key_of_keys<'a>(&self, keys: &Item<'a>) -> Result<PrimaryKey<'a>, KeyError> {
        let key = self.key_of(keys)?;
        let names = self.names();
        match keys
            .0
            .iter()
            .find(|(name, _)| !names.contains(&name.as_str()))
        {
            Some((name, _)) => Err(KeyError::Unexpected(name.as_str().to_owned())),
            None => Ok(key),
        }
    }

    fn find<'i, 'a>(
        &self,
        item: &'i Item<'a>,
        name: &str,
    ) -> Result<(crate::value::Text<'a>, &'i AttributeValue<'a>), KeyError> {
        item.0
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(k, v)| (k.clone(), v))
            .ok_or_else(|| KeyError::Missing(name.to_owned()))
    }
}

/// S as is, N as its decimal text, B as base64.
fn render<'a>(name: &str, value: &AttributeValue<'a>) -> Result<Cow<'a, str>, KeyError> {
    match value {
        AttributeValue::S(text) => Ok(text.0.clone()),
        AttributeValue::N(number) => Ok(number.to_cow()),
        AttributeValue::B(binary) => Ok(binary.to_cow()),
        other => Err(KeyError::Type {
            name: name.to_owned(),
            found: other.type_tag(),
        }),
    }
}

/// Escapes `\` and `|` so that joined components never collide: `a|b` + `c` ≠ `a` + `b|c`.
fn escape<'a>(component: &Cow<'a, str>) -> Cow<'a, str> {
    if !component.bytes().any(|b| b == b'|' || b == b'\\') {
        return component.clone();
    }
    let mut out = String::with_capacity(component.len() + 4);
    for ch in component.chars() {
        if ch == '|' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_hold_exactly_the_schema_attributes() {
        let keys = item(r#"{"pk":{"S":"a"},"sk":{"S":"b"}}"#);
        assert!(schema("pk", Some("sk")).key_of_keys(&keys).is_ok());
        assert!(schema("sk", Some("pk")).key_of_keys(&keys).is_ok());
        let error = schema("pk", None).key_of_keys(&keys).unwrap_err();
        assert_eq!(error, KeyError::Unexpected("sk".into()));
        assert!(error.is_schema_mismatch());
        // A whole item may hold more than its keys.
        assert!(schema("pk", None).key_of(&keys).is_ok());
    }

    fn item(json: &str) -> Item<'_> {
        serde_json::from_str(json).unwrap()
    }

    fn schema(pk: &str, sk: Option<&str>) -> KeySchema {
        KeySchema {
            partition_key: pk.into(),
            sort_key: sk.map(Into::into),
        }
    }

    #[test]
    fn renders_s_n_and_b_keys() {
        let keys = item(r#"{"sk":{"N":"-1.50"},"pk":{"S":"o#1"}}"#);
        let key = schema("pk", Some("sk")).key_of(&keys).unwrap();
        assert_eq!(key.primary_key, "o#1|-1.50");
        assert_eq!(key.partition_key, "o#1");
        assert_eq!(key.sort_key.as_deref(), Some("-1.50"));
        assert_eq!(key.attributes.0[0].0.as_str(), "pk");

        let keys = item(r#"{"id":{"B":"AQL/"}}"#);
        let key = schema("id", None).key_of(&keys).unwrap();
        assert_eq!(key.primary_key, "AQL/");
        assert_eq!(key.sort_key, None);
    }

    #[test]
    fn escapes_separator_and_backslash_so_keys_never_collide() {
        let a = schema("pk", Some("sk"))
            .key_of(&item(r#"{"pk":{"S":"a|b"},"sk":{"S":"c"}}"#))
            .unwrap();
        let b = schema("pk", Some("sk"))
            .key_of(&item(r#"{"pk":{"S":"a"},"sk":{"S":"b|c"}}"#))
            .unwrap();
        assert_eq!(a.primary_key, r"a\|b|c");
        assert_eq!(b.primary_key, r"a|b\|c");
        let c = schema("pk", Some("sk"))
            .key_of(&item(r#"{"pk":{"S":"a\\"},"sk":{"S":"|c"}}"#))
            .unwrap();
        assert_eq!(c.primary_key, r"a\\|\|c");
        assert_ne!(a.primary_key, c.primary_key);
        assert_eq!(c.partition_key, "a\\", "components stay unescaped");
    }

    #[test]
    fn names_the_missing_or_mistyped_key_attribute() {
        let err = schema("pk", Some("sk"))
            .key_of(&item(r#"{"pk":{"S":"a"}}"#))
            .unwrap_err();
        assert_eq!(err, KeyError::Missing("sk".into()));
        let err = schema("pk", None)
            .key_of(&item(r#"{"pk":{"BOOL":true}}"#))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"key attribute "pk" has type BOOL; keys are S, N or B"#
        );
    }
}
