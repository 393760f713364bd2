//! Stream payloads and records scanned by hand; `None` hands over to `serde` in
//! [`crate::stream`].

use super::scan::{object, Scan, Scanner, Seen};
use super::transcode::Image;
use crate::stream_event::{StreamData, StreamEvent, StreamRecord, UserIdentity};
use crate::value::Text;

/// The whole payload. A record the scan cannot read is cut out by a validating skip and
/// left to `serde`. The whole payload hands over when it is no valid JSON, or in rare
/// valid cases the scan leaves to `serde` (a duplicate `Records`, a key whose escapes do
/// not decode, a value nested over [`super::scan::MAX_DEPTH`] deep).
pub(crate) fn event(text: &str) -> Scan<StreamEvent<'_>> {
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

pub(crate) fn record(raw: &str) -> Scan<StreamRecord<'_>> {
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
            "eventSourceARN" => record.event_source_arn = seen.first(2).and_then(|()| text(s))?,
            "userIdentity" => record.user_identity = seen.first(3).and_then(|()| identity(s))?,
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
        if let Some(document) = super::transcode::scan_document(s) {
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
            let fast = record(raw);
            assert_eq!(fast.is_some(), expected_fast, "{raw}");
            let slow = serde_json::from_str::<StreamRecord>(raw).map(|r| StreamRecord { raw, ..r });
            if let Some(fast) = fast {
                assert_eq!(fast, slow.unwrap(), "{raw}");
            }
        }
    }
}
