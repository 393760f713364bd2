//! A table's key and the text each item's key renders to: the change record's `primary_key`
//! (`pk|sk`, `|` and `\` escaped), which is also the `_id` the OpenSearch sink writes.

use std::borrow::Cow;
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use cdc_record::{Binary, KeySchema, Number, Text};

use crate::decimal::{Decimal, DecimalError};
use crate::item::SdkItem;

/// A key attribute's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A string.
    S,
    /// A number.
    N,
    /// Binary.
    B,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        })
    }
}

/// One key attribute: name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPart {
    /// The attribute's name.
    pub name: String,
    /// Its declared type.
    pub kind: KeyType,
}

/// A table's primary key (from `DescribeTable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKey {
    /// The partition (HASH) key.
    pub partition: KeyPart,
    /// The sort (RANGE) key, `None` when the table has none.
    pub sort: Option<KeyPart>,
}

/// Why an item's key cannot be rendered (names the attribute, never its value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The item lacks the key attribute named.
    #[error("an item has no key attribute {0:?}")]
    Missing(String),
    /// A key attribute is not a string, number or binary.
    #[error("key attribute {name:?} has type {found}; keys are S, N or B")]
    Type {
        /// The key attribute.
        name: String,
        /// The type it has, such as `M`.
        found: &'static str,
    },
    /// A number key whose text is not a decimal.
    #[error("key attribute {name:?}: {reason}")]
    Number {
        /// The key attribute.
        name: String,
        /// What is wrong with the number.
        reason: DecimalError,
    },
}

impl fmt::Display for TableKey {
    /// `pk (S)` or `pk (S), sk (N)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.partition.name, self.partition.kind)?;
        if let Some(sort) = &self.sort {
            write!(f, ", {} ({})", sort.name, sort.kind)?;
        }
        Ok(())
    }
}

impl TableKey {
    /// The record crate's view of this key.
    pub fn schema(&self) -> KeySchema {
        KeySchema {
            partition_key: self.partition.name.clone(),
            sort_key: self.sort.as_ref().map(|s| s.name.clone()),
        }
    }

    fn parts(&self) -> impl Iterator<Item = &KeyPart> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }

    /// The item's `primary_key`, rendered by the record crate as every sink does: S as is, N
    /// as its decimal text (DynamoDB's plain form, whatever spelling it was given in), B as
    /// base64.
    pub fn render(&self, item: &SdkItem) -> Result<String, KeyError> {
        let mut attributes = Vec::with_capacity(2);
        for part in self.parts() {
            let value = item
                .get(&part.name)
                .ok_or_else(|| KeyError::Missing(part.name.clone()))?;
            attributes.push((
                Text(Cow::Borrowed(part.name.as_str())),
                record_value(part, value)?,
            ));
        }
        let key = self
            .schema()
            .key_of(&cdc_record::Item(attributes))
            .map_err(|e| match e {
                cdc_record::KeyError::Missing(name) => KeyError::Missing(name),
                cdc_record::KeyError::Type { name, found } => KeyError::Type { name, found },
                // Only `key_of_keys` reports attributes beyond the schema's.
                cdc_record::KeyError::Unexpected(name) => KeyError::Missing(name),
            })?;
        Ok(key.primary_key.into_owned())
    }

    /// The key attributes of `item` (for `GetItem`).
    pub fn key_of(&self, item: &SdkItem) -> Result<SdkItem, KeyError> {
        self.parts()
            .map(|part| {
                item.get(&part.name)
                    .map(|v| (part.name.clone(), v.clone()))
                    .ok_or_else(|| KeyError::Missing(part.name.clone()))
            })
            .collect()
    }
}

fn record_value<'a>(
    part: &KeyPart,
    value: &'a AttributeValue,
) -> Result<cdc_record::AttributeValue<'a>, KeyError> {
    // Both are rendered from valid text, so these parses cannot fail; map them anyway.
    let number = |text: String| {
        Number::parse(Cow::Owned(text)).map_err(|_| KeyError::Number {
            name: part.name.clone(),
            reason: DecimalError::Character,
        })
    };
    Ok(match value {
        AttributeValue::S(s) => cdc_record::AttributeValue::S(Text(Cow::Borrowed(s))),
        AttributeValue::N(n) => {
            let decimal = Decimal::parse(n).map_err(|reason| KeyError::Number {
                name: part.name.clone(),
                reason,
            })?;
            cdc_record::AttributeValue::N(number(decimal.plain())?)
        }
        AttributeValue::B(b) => {
            let text = base64::engine::general_purpose::STANDARD.encode(b.as_ref());
            cdc_record::AttributeValue::B(Binary::parse(Cow::Owned(text)).map_err(|_| {
                KeyError::Type {
                    name: part.name.clone(),
                    found: "B",
                }
            })?)
        }
        other => {
            return Err(KeyError::Type {
                name: part.name.clone(),
                found: type_tag(other),
            })
        }
    })
}

/// The DynamoDB type tag of an SDK value, for messages.
pub(crate) fn type_tag(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::M(_) => "M",
        AttributeValue::L(_) => "L",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
        _ => "an unknown type",
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::Blob;

    use super::*;

    fn key(pk: KeyType, sk: Option<KeyType>) -> TableKey {
        TableKey {
            partition: KeyPart {
                name: "pk".into(),
                kind: pk,
            },
            sort: sk.map(|kind| KeyPart {
                name: "sk".into(),
                kind,
            }),
        }
    }

    #[test]
    fn renders_the_change_records_primary_key() {
        let item: SdkItem = [
            ("pk".to_string(), AttributeValue::S("a|b\\".into())),
            ("sk".to_string(), AttributeValue::N("1.50".into())),
            ("x".to_string(), AttributeValue::Bool(true)),
        ]
        .into();
        let k = key(KeyType::S, Some(KeyType::N));
        assert_eq!(k.render(&item).unwrap(), "a\\|b\\\\|1.5");
        assert_eq!(k.key_of(&item).unwrap().len(), 2);
        let item: SdkItem = [(
            "pk".to_string(),
            AttributeValue::B(Blob::new(vec![0, 1, 2])),
        )]
        .into();
        assert_eq!(key(KeyType::B, None).render(&item).unwrap(), "AAEC");
        assert_eq!(
            key(KeyType::S, Some(KeyType::N)).to_string(),
            "pk (S), sk (N)"
        );
    }

    #[test]
    fn names_a_missing_or_mistyped_key_attribute() {
        let item: SdkItem = [("pk".to_string(), AttributeValue::Bool(true))].into();
        assert_eq!(
            key(KeyType::S, None).render(&item).unwrap_err().to_string(),
            "key attribute \"pk\" has type BOOL; keys are S, N or B"
        );
        assert_eq!(
            key(KeyType::S, Some(KeyType::S)).key_of(&item).unwrap_err(),
            KeyError::Missing("sk".into())
        );
    }
}
