//! Our attribute values to the SDK's: numbers stay text, binary is decoded.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Sdk;
use cdc_record::{AttributeValue, Item};

/// An item as the DynamoDB SDK takes it: attribute names to SDK attribute values.
pub type SdkItem = HashMap<String, Sdk>;

pub fn item(item: &Item<'_>) -> Result<SdkItem, base64::DecodeError> {
    item.iter()
        .map(|(name, value)| Ok((name.to_owned(), value_of(value)?)))
        .collect()
}

fn value_of(value: &AttributeValue<'_>) -> Result<Sdk, base64::DecodeError> {
    Ok(match value {
        AttributeValue::S(s) => Sdk::S(s.as_str().to_owned()),
        AttributeValue::N(n) => Sdk::N(n.as_str().to_owned()),
        AttributeValue::B(b) => Sdk::B(Blob::new(b.to_bytes()?)),
        AttributeValue::Bool(b) => Sdk::Bool(*b),
        AttributeValue::Null => Sdk::Null(true),
        AttributeValue::M(m) => Sdk::M(item(m)?),
        AttributeValue::L(l) => Sdk::L(l.iter().map(value_of).collect::<Result<_, _>>()?),
        AttributeValue::Ss(v) => Sdk::Ss(v.iter().map(|s| s.as_str().to_owned()).collect()),
        AttributeValue::Ns(v) => Sdk::Ns(v.iter().map(|n| n.as_str().to_owned()).collect()),
        AttributeValue::Bs(v) => Sdk::Bs(
            v.iter()
                .map(|b| b.to_bytes().map(Blob::new))
                .collect::<Result<_, _>>()?,
        ),
    })
}
