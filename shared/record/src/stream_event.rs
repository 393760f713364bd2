//! The DynamoDB Streams event and record as Lambda delivers them: what either parser (the
//! hand scan in [`crate::fast::stream`] or `serde`) reads, before [`crate::stream`] maps it.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{MapError, Reason, RecordId};
use crate::fast::transcode::Image;
use crate::value::Text;

/// The Lambda payload of a DynamoDB Streams event source mapping (`{"Records": [...]}`),
/// parsed record by record: a malformed record fails alone instead of turning the whole
/// payload into a deserialization error.
#[derive(Debug)]
pub struct StreamEvent<'a> {
    /// Each record's text, in batch order.
    pub raws: Vec<&'a str>,
    /// Each record parsed, in the same order.
    pub records: Vec<Result<StreamRecord<'a>, MapError>>,
}

/// The payload is not `{"Records": [...]}` JSON. Lambda never sends such a payload, so the
/// whole batch fails (as it would in `lambda_runtime`'s own deserialisation).
#[derive(Debug, thiserror::Error)]
#[error("the payload is not a DynamoDB Streams event ({{\"Records\": [...]}}): {0}")]
pub struct EventError(pub(crate) String);

impl StreamEvent<'_> {
    /// The number of records in the batch, parsed or not.
    pub fn len(&self) -> usize {
        self.raws.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.raws.is_empty()
    }
}

/// One stream record, parsed but not yet mapped.
#[derive(Debug, PartialEq, Deserialize)]
pub struct StreamRecord<'a> {
    #[serde(rename = "eventID", borrow, default)]
    pub(crate) event_id: Option<Text<'a>>,
    #[serde(rename = "eventName", borrow, default)]
    pub(crate) event_name: Option<Text<'a>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    pub(crate) event_source_arn: Option<Text<'a>>,
    #[serde(rename = "userIdentity", borrow, default)]
    pub(crate) user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow, default)]
    pub(crate) dynamodb: Option<StreamData<'a>>,
    #[serde(skip)]
    pub(crate) raw: &'a str,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamData<'a> {
    #[serde(default)]
    pub(crate) approximate_creation_date_time: Option<f64>,
    // Images stay raw until mapping, so only the one the document needs is transcoded (the
    // fast scan transcodes a new image on its way: only INSERT and MODIFY have one).
    #[serde(borrow, default, deserialize_with = "raw")]
    pub(crate) keys: Option<&'a str>,
    #[serde(borrow, default, deserialize_with = "raw_image")]
    pub(crate) new_image: Option<Image<'a>>,
    #[serde(borrow, default, deserialize_with = "raw_image")]
    pub(crate) old_image: Option<Image<'a>>,
    #[serde(borrow, default)]
    pub(crate) sequence_number: Option<Text<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub(crate) struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    pub(crate) kind: Option<Text<'a>>,
    #[serde(rename = "principalId", borrow, default)]
    pub(crate) principal_id: Option<Text<'a>>,
}

fn raw<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<&'de str>, D::Error> {
    Option::<&'de RawValue>::deserialize(deserializer).map(|raw| raw.map(RawValue::get))
}

fn raw_image<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Image<'de>>, D::Error> {
    raw(deserializer).map(|raw| raw.map(Image::Raw))
}

/// Only the sequence number, to name a record that fails to parse as a whole.
#[derive(Deserialize)]
struct SequenceOnly<'a> {
    #[serde(borrow, default)]
    pub(crate) dynamodb: Option<SequenceData<'a>>,
}

#[derive(Deserialize)]
struct SequenceData<'a> {
    #[serde(rename = "SequenceNumber", borrow, default)]
    pub(crate) sequence_number: Option<Text<'a>>,
}

/// The `SequenceNumber` of a raw record, read as leniently as possible.
pub fn sequence_number_of(raw: &str) -> Option<Cow<'_, str>> {
    serde_json::from_str::<SequenceOnly>(raw)
        .ok()?
        .dynamodb?
        .sequence_number
        .map(|t| t.0)
}

impl<'a> StreamRecord<'a> {
    /// The record's `dynamodb.SequenceNumber`, `None` when it has none.
    pub fn sequence_number(&self) -> Option<&str> {
        self.dynamodb
            .as_ref()?
            .sequence_number
            .as_ref()
            .map(Text::as_str)
    }

    /// `ApproximateCreationDateTime` in milliseconds, when the record has one.
    pub fn created_ms(&self) -> Option<i64> {
        let seconds = self.dynamodb.as_ref()?.approximate_creation_date_time?;
        Some((seconds * 1000.0).round() as i64)
    }

    /// Names the record in errors.
    pub fn id(&self) -> RecordId {
        record_id(self.sequence_number())
    }

    /// The record's JSON text exactly as it was in the payload.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub(crate) fn error(&self, reason: Reason) -> MapError {
        MapError {
            record: self.id(),
            reason,
        }
    }
}

pub(crate) fn record_id(sequence_number: Option<&str>) -> RecordId {
    match sequence_number {
        Some(seq) => RecordId::Sequence(seq.to_owned()),
        None => RecordId::UnknownSequence,
    }
}
