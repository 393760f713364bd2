//! DynamoDB Streams payloads to change records: read by the hand scan where it can
//! ([`crate::fast::stream`]), by `serde` where it hands over, then mapped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::change::{Action, ChangeRecord, EventName, Source};
use crate::error::{shape_error, MapError, Reason};
use crate::fast;
use crate::fast::transcode::{self, Image};
use crate::key::KeySchema;
use crate::options::{MappingOptions, TtlDeletes, ViewOnRemove};
use crate::stream_event::{record_id, sequence_number_of, EventError, StreamEvent, StreamRecord};
use crate::value::Text;
use crate::version;

/// The envelope as `serde` reads it, once the scan has handed over.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

impl<'a> StreamEvent<'a> {
    /// Parses a payload as Lambda delivers it, in one pass: each record is parsed where the
    /// envelope scan meets it, so the payload is not tokenised once more beforehand (which
    /// would cost as much as all the rest; see docs/BENCHMARKS.md).
    pub fn parse(payload: &'a [u8]) -> Result<Self, EventError> {
        let text = crate::utf8::text(payload).map_err(|e| EventError(e.to_string()))?;
        if let Some(event) = fast::stream::event(text) {
            return Ok(event);
        }
        // serde reads a struct from an array too (`[[...]]` would pass as an envelope): an
        // event is an object, whatever else follows.
        if text.trim_start().starts_with('[') {
            return Err(EventError(
                "invalid type: sequence, expected an object".to_owned(),
            ));
        }
        let envelope: Envelope =
            serde_json::from_str(text).map_err(|e| EventError(e.to_string()))?;
        let raws: Vec<&str> = envelope.records.into_iter().map(RawValue::get).collect();
        let records = raws.iter().map(|raw| StreamRecord::parse(raw)).collect();
        Ok(StreamEvent { raws, records })
    }
}

impl<'a> StreamRecord<'a> {
    /// Parses one record's text.
    pub fn parse(raw: &'a str) -> Result<Self, MapError> {
        if let Some(record) = fast::stream::record(raw) {
            return Ok(record);
        }
        match serde_json::from_str::<StreamRecord>(raw) {
            Ok(record) => Ok(StreamRecord { raw, ..record }),
            Err(_) => Err(MapError {
                record: record_id(sequence_number_of(raw).as_deref()),
                reason: shape_error::<StreamRecord>(raw, ""),
            }),
        }
    }

    /// The source table, from `eventSourceARN`.
    pub fn table_name(&self) -> Result<Cow<'a, str>, MapError> {
        let arn = self
            .event_source_arn
            .as_ref()
            .ok_or_else(|| self.error(Reason::Missing("eventSourceARN")))?;
        let name = match &arn.0 {
            Cow::Borrowed(whole) => table_of_arn(whole).map(Cow::Borrowed),
            Cow::Owned(whole) => table_of_arn(whole).map(|name| Cow::Owned(name.to_owned())),
        };
        name.ok_or_else(|| self.error(Reason::EventSourceArn(arn.as_str().to_owned())))
    }

    /// Maps the record; `Ok(None)` when the options filter it out (a dropped TTL delete).
    pub fn into_change(
        self,
        schema: &KeySchema,
        options: &MappingOptions,
    ) -> Result<Option<ChangeRecord<'a>>, MapError> {
        let table_name = self.table_name()?;
        let event_name = self.event_name()?;
        let ttl_delete = event_name == EventName::Remove && self.is_ttl_service();
        if ttl_delete && options.ttl_deletes == TtlDeletes::Drop {
            return Ok(None);
        }
        let id = self.id();
        let fail = |reason| MapError {
            record: id.clone(),
            reason,
        };
        let data = self
            .dynamodb
            .ok_or_else(|| fail(Reason::Missing("dynamodb")))?;
        let sequence_number = data
            .sequence_number
            .ok_or_else(|| fail(Reason::Missing("dynamodb.SequenceNumber")))?;
        let timestamp_ms = timestamp_ms(data.approximate_creation_date_time).map_err(fail)?;
        let keys = data
            .keys
            .ok_or_else(|| fail(Reason::Missing("dynamodb.Keys")))?;
        let key_attributes = transcode::key_attributes(keys, "dynamodb.Keys").map_err(fail)?;
        let key = schema
            .key_of_keys(&key_attributes)
            .map_err(|e| fail(e.into()))?;
        // Without the image it wants (KEYS_ONLY, or OLD_IMAGE for a new image), the document is the keys.
        let image = |image: Option<Image<'a>>, location| match image {
            Some(image) => image.into_document(location).map_err(fail),
            None => Ok(transcode::keys_document(keys, &key_attributes)),
        };
        // KEYS_ONLY and OLD_IMAGE streams carry no new image: the document is the keys alone.
        let keys_only =
            matches!(event_name, EventName::Insert | EventName::Modify) && data.new_image.is_none();
        let (action, document) = match event_name {
            EventName::Insert | EventName::Modify => (
                Action::Index,
                Some(image(data.new_image, "dynamodb.NewImage")?),
            ),
            EventName::Remove => match options.view_on_remove {
                ViewOnRemove::NewImage => (Action::Delete, None),
                ViewOnRemove::OldImage => (
                    Action::Delete,
                    Some(image(data.old_image, "dynamodb.OldImage")?),
                ),
            },
        };
        Ok(Some(ChangeRecord {
            table_name,
            key,
            event_name: Some(event_name),
            action,
            timestamp_ms,
            version: version::stream_version(timestamp_ms),
            sequence_number: Some(sequence_number.0),
            event_id: self.event_id.map(|t| t.0),
            ttl_delete,
            source: Source::Stream,
            document,
            keys_only,
            raw: self.raw,
        }))
    }

    fn event_name(&self) -> Result<EventName, MapError> {
        match self.event_name.as_ref().map(Text::as_str) {
            Some("INSERT") => Ok(EventName::Insert),
            Some("MODIFY") => Ok(EventName::Modify),
            Some("REMOVE") => Ok(EventName::Remove),
            Some(other) => Err(self.error(Reason::EventName(other.to_owned()))),
            None => Err(self.error(Reason::Missing("eventName"))),
        }
    }

    /// A delete by DynamoDB's TTL process rather than by a caller.
    fn is_ttl_service(&self) -> bool {
        self.user_identity.as_ref().is_some_and(|u| {
            u.kind.as_ref().map(Text::as_str) == Some("Service")
                && u.principal_id.as_ref().map(Text::as_str) == Some("dynamodb.amazonaws.com")
        })
    }
}

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL` → `NAME`.
fn table_of_arn(arn: &str) -> Option<&str> {
    let (_partition, rest) = arn.strip_prefix("arn:")?.split_once(':')?;
    let (_region, rest) = rest.strip_prefix("dynamodb:")?.split_once(':')?;
    let (_account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("table/")?.split('/').next()?;
    (!name.is_empty()).then_some(name)
}

/// Seconds (as Lambda sends them) to milliseconds; rejects what cannot be a creation time.
fn timestamp_ms(seconds: Option<f64>) -> Result<i64, Reason> {
    let seconds = seconds.ok_or(Reason::Missing("dynamodb.ApproximateCreationDateTime"))?;
    // Up to year 5138: far past any real record, far below i64 overflow.
    if !(0.0..1e11).contains(&seconds) {
        return Err(Reason::Timestamp(seconds.to_string()));
    }
    Ok((seconds * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_table_from_the_stream_arn() {
        assert_eq!(
            table_of_arn("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2015-06-27T00:48:05.899"),
            Some("orders")
        );
        assert_eq!(
            table_of_arn("arn:aws-cn:dynamodb:cn-north-1:1:table/a.b-c_d/stream/x"),
            Some("a.b-c_d")
        );
        assert_eq!(table_of_arn("arn:aws:kinesis:us-east-1:1:stream/x"), None);
        assert_eq!(
            table_of_arn("arn:aws:dynamodb:us-east-1:1:table//stream/x"),
            None
        );
        assert_eq!(table_of_arn("orders"), None);
    }

    #[test]
    fn converts_seconds_to_milliseconds() {
        assert_eq!(timestamp_ms(Some(1_795_278_192.0)), Ok(1_795_278_192_000));
        assert_eq!(timestamp_ms(Some(1_795_278_192.123)), Ok(1_795_278_192_123));
        assert!(timestamp_ms(None).is_err());
        assert!(timestamp_ms(Some(-1.0)).is_err());
        assert!(timestamp_ms(Some(f64::NAN)).is_err());
    }
}
