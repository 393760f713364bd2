//! DynamoDB Streams records (as Lambda delivers them) to change records.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::change::{Action, ChangeRecord, EventName, Source};
use crate::error::{MapError, Reason, RecordId};
use crate::key::KeySchema;
use crate::transcode::Image;
use crate::value::Text;
use crate::{shape_error, transcode, version, MappingOptions, TtlDeletes, ViewOnRemove};

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
pub struct EventError(String);

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
        let text = std::str::from_utf8(payload).map_err(|e| EventError(e.to_string()))?;
        if let Some(event) = fast::event(text) {
            return Ok(event);
        }
        let envelope: Envelope =
            serde_json::from_str(text).map_err(|e| EventError(e.to_string()))?;
        let raws: Vec<&str> = envelope.records.into_iter().map(RawValue::get).collect();
        let records = raws.iter().map(|raw| StreamRecord::parse(raw)).collect();
        Ok(StreamEvent { raws, records })
    }

    pub fn len(&self) -> usize {
        self.raws.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raws.is_empty()
    }
}

/// One stream record, parsed but not yet mapped.
#[derive(Debug, PartialEq, Deserialize)]
pub struct StreamRecord<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Text<'a>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Text<'a>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    event_source_arn: Option<Text<'a>>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow, default)]
    dynamodb: Option<StreamData<'a>>,
    #[serde(skip)]
    raw: &'a str,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamData<'a> {
    #[serde(default)]
    approximate_creation_date_time: Option<f64>,
    // Images stay raw until mapping, so only the one the document needs is transcoded (the
    // fast scan transcodes a new image on its way: only INSERT and MODIFY have one).
    #[serde(borrow, default, deserialize_with = "raw")]
    keys: Option<&'a str>,
    #[serde(borrow, default, deserialize_with = "raw_image")]
    new_image: Option<Image<'a>>,
    #[serde(borrow, default, deserialize_with = "raw_image")]
    old_image: Option<Image<'a>>,
    #[serde(borrow, default)]
    sequence_number: Option<Text<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Text<'a>>,
    #[serde(rename = "principalId", borrow, default)]
    principal_id: Option<Text<'a>>,
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
    dynamodb: Option<SequenceData<'a>>,
}

#[derive(Deserialize)]
struct SequenceData<'a> {
    #[serde(rename = "SequenceNumber", borrow, default)]
    sequence_number: Option<Text<'a>>,
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
    /// Parses one record's text.
    pub fn parse(raw: &'a str) -> Result<Self, MapError> {
        if let Some(record) = fast::record(raw) {
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

    pub fn sequence_number(&self) -> Option<&str> {
        self.dynamodb
            .as_ref()?
            .sequence_number
            .as_ref()
            .map(Text::as_str)
    }

    /// Names the record in errors.
    pub fn id(&self) -> RecordId {
        record_id(self.sequence_number())
    }

    pub fn raw(&self) -> &'a str {
        self.raw
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
        let key = schema.key_of(&key_attributes).map_err(|e| fail(e.into()))?;
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

    fn error(&self, reason: Reason) -> MapError {
        MapError {
            record: self.id(),
            reason,
        }
    }
}

fn record_id(sequence_number: Option<&str>) -> RecordId {
    match sequence_number {
        Some(seq) => RecordId::Sequence(seq.to_owned()),
        None => RecordId::UnknownSequence,
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

/// The common case scanned by hand (see [`crate::scan`]); `None` hands over to `serde`.
mod fast {
    use super::{Image, StreamData, StreamEvent, StreamRecord, Text, UserIdentity};
    use crate::scan::{object, Scan, Scanner, Seen};

    /// The whole payload. A record the scan cannot read is cut out by a validating skip and
    /// left to `serde`. The whole payload hands over when it is no valid JSON, or in rare
    /// valid cases the scan leaves to `serde` (a duplicate `Records`, a key whose escapes do
    /// not decode, a value nested over [`crate::scan::MAX_DEPTH`] deep).
    pub(super) fn event(text: &str) -> Scan<StreamEvent<'_>> {
        let mut s = Scanner::new(text);
        let mut event = None;
        object(&mut s, |s, key| {
            match key {
                // A second `Records` too is left to `serde`, which rejects it.
                "Records" if event.is_none() => event = Some(records(s)?),
                "Records" => return None,
                _ => drop(s.skip_value()?),
            }
            Some(())
        })?;
        s.at_end().then_some(())?;
        event
    }

    fn records<'a>(s: &mut Scanner<'a>) -> Scan<StreamEvent<'a>> {
        let mut event = StreamEvent {
            raws: Vec::new(),
            records: Vec::new(),
        };
        s.eat(b'[')?;
        if s.eat(b']').is_some() {
            return Some(event);
        }
        loop {
            s.skip_ws();
            let start = s.at;
            let parsed = match record_at(s) {
                Some(record) => Ok(record),
                None => {
                    s.at = start;
                    StreamRecord::parse(s.skip_value()?)
                }
            };
            event.raws.push(&s.text()[start..s.at]);
            event.records.push(parsed);
            if !s.next_or_close(b']')? {
                return Some(event);
            }
        }
    }

    pub(super) fn record(raw: &str) -> Scan<StreamRecord<'_>> {
        let mut s = Scanner::new(raw);
        let record = record_at(&mut s)?;
        s.at_end().then_some(StreamRecord { raw, ..record })
    }

    /// The record at the scanner's position, leaving the scanner after it.
    fn record_at<'a>(s: &mut Scanner<'a>) -> Scan<StreamRecord<'a>> {
        s.skip_ws();
        let start = s.at;
        let mut record = StreamRecord {
            event_id: None,
            event_name: None,
            event_source_arn: None,
            user_identity: None,
            dynamodb: None,
            raw: "",
        };
        let mut seen = Seen::default();
        object(s, |s, key| {
            match key {
                "eventID" => record.event_id = seen.first(0).and_then(|()| text(s))?,
                "eventName" => record.event_name = seen.first(1).and_then(|()| text(s))?,
                "eventSourceARN" => {
                    record.event_source_arn = seen.first(2).and_then(|()| text(s))?
                }
                "userIdentity" => {
                    record.user_identity = seen.first(3).and_then(|()| identity(s))?
                }
                "dynamodb" => record.dynamodb = seen.first(4).and_then(|()| data(s))?,
                _ => drop(s.skip_value()?),
            }
            Some(())
        })?;
        record.raw = s.text().get(start..s.at)?;
        Some(record)
    }

    fn text<'a>(s: &mut Scanner<'a>) -> Scan<Option<Text<'a>>> {
        if s.literal("null") {
            return Some(None);
        }
        s.string_value().map(|v| Some(Text(v)))
    }

    fn raw<'a>(s: &mut Scanner<'a>) -> Scan<Option<&'a str>> {
        if s.literal("null") {
            return Some(None);
        }
        s.skip_value().map(Some)
    }

    fn identity<'a>(s: &mut Scanner<'a>) -> Scan<Option<UserIdentity<'a>>> {
        if s.literal("null") {
            return Some(None);
        }
        let mut identity = UserIdentity {
            kind: None,
            principal_id: None,
        };
        let mut seen = Seen::default();
        object(s, |s, key| {
            match key {
                "type" => identity.kind = seen.first(0).and_then(|()| text(s))?,
                "principalId" => identity.principal_id = seen.first(1).and_then(|()| text(s))?,
                _ => drop(s.skip_value()?),
            }
            Some(())
        })?;
        Some(Some(identity))
    }

    /// A raw image, or when `transcode` the document straight away (raw if that fails: the
    /// mapping then reports why).
    fn image<'a>(s: &mut Scanner<'a>, transcode: bool) -> Scan<Option<Image<'a>>> {
        if s.literal("null") {
            return Some(None);
        }
        let start = s.at;
        if transcode {
            if let Some(document) = crate::transcode::scan_document(s) {
                return Some(Some(Image::Ready(document)));
            }
            s.at = start;
        }
        Some(raw(s)?.map(Image::Raw))
    }

    fn data<'a>(s: &mut Scanner<'a>) -> Scan<Option<StreamData<'a>>> {
        if s.literal("null") {
            return Some(None);
        }
        let mut data = StreamData {
            approximate_creation_date_time: None,
            keys: None,
            new_image: None,
            old_image: None,
            sequence_number: None,
        };
        let mut seen = Seen::default();
        object(s, |s, key| {
            match key {
                "ApproximateCreationDateTime" => {
                    seen.first(0)?;
                    data.approximate_creation_date_time = if s.literal("null") {
                        None
                    } else {
                        // serde_json's own float parsing, so both paths read the same value.
                        Some(serde_json::from_str(s.number_token()?).ok()?)
                    }
                }
                "Keys" => data.keys = seen.first(1).and_then(|()| raw(s))?,
                // Only INSERT and MODIFY carry a new image, and their document is that image.
                "NewImage" => data.new_image = seen.first(2).and_then(|()| image(s, true))?,
                "OldImage" => data.old_image = seen.first(3).and_then(|()| image(s, false))?,
                "SequenceNumber" => data.sequence_number = seen.first(4).and_then(|()| text(s))?,
                _ => drop(s.skip_value()?),
            }
            Some(())
        })?;
        Some(Some(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand scan either hands over or yields exactly what `serde` does.
    #[test]
    fn fast_scan_agrees_with_serde() {
        let records = [
            (
                true,
                r#"{"eventID":"e","eventName":"INSERT","eventSourceARN":"arn:aws:dynamodb:r:1:table/t/stream/s","awsRegion":"r","dynamodb":{"ApproximateCreationDateTime":1.7E9,"Keys":{"k":{"S":"a"}},"NewImage":{"k":{"S":"a"}},"OldImage":null,"SequenceNumber":"1","SizeBytes":5,"StreamViewType":"NEW_IMAGE"},"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com","x":[1,{"y":"}"}]}}"#,
            ),
            (
                true,
                r#" {
 "eventName" : "RE\u004dOVE" , "dynamodb" : { "Keys" : 5 , "SequenceNumber" : null } } "#,
            ),
            (
                true,
                r#"{"eventID":null,"userIdentity":null,"dynamodb":null,"extra":{"a":[true,false,null,-1.5e3,"\""]}}"#,
            ),
            (true, r#"{}"#),
            (false, r#"{"eventName":"INSERT","eventName":"REMOVE"}"#),
            (false, r#"{"eventName":5}"#),
            (
                false,
                r#"{"dynamodb":{"ApproximateCreationDateTime":"soon"}}"#,
            ),
            (false, r#"{"dynamodb":{"SequenceNumber":1}}"#),
            (false, r#"{"userIdentity":{"type":1}}"#),
            (false, r#"[1]"#),
        ];
        for (expected_fast, raw) in records {
            let fast = fast::record(raw);
            assert_eq!(fast.is_some(), expected_fast, "{raw}");
            let slow = serde_json::from_str::<StreamRecord>(raw).map(|r| StreamRecord { raw, ..r });
            if let Some(fast) = fast {
                assert_eq!(fast, slow.unwrap(), "{raw}");
            }
        }
    }

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
