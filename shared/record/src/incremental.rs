//! Lines of an incremental export (DYNAMODB_JSON) to change records.
//!
//! An incremental export writes the last state of every item changed in its window, one line
//! per item: `{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},"Keys":{...},
//! "NewImage":{...},"OldImage":{...}}`. `OldImage` is there only with the
//! `NEW_AND_OLD_IMAGES` view; a deleted item has no `NewImage`. Such a line becomes what the
//! stream record of that last change becomes, with the write time for a timestamp and the
//! version of [`version::incremental_version`].

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::change::{Action, ChangeRecord, Source};
use crate::error::shape_error;
use crate::error::Reason;
use crate::export_source::ExportSource;
use crate::fast::incremental::{scan, Parts};
use crate::fast::transcode::{self, Image};
use crate::options::ViewOnRemove;
use crate::value::Text;
use crate::version;

/// The line as `serde` reads it, once the scan has handed over.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "Metadata", borrow)]
    metadata: Metadata<'a>,
    #[serde(rename = "Keys", borrow)]
    keys: &'a RawValue,
    #[serde(rename = "NewImage", borrow, default)]
    new_image: Option<&'a RawValue>,
    #[serde(rename = "OldImage", borrow, default)]
    old_image: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(rename = "WriteTimestampMicros", borrow)]
    write_timestamp_micros: NumberValue<'a>,
}

/// `{"N": "..."}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberValue<'a> {
    #[serde(rename = "N", borrow)]
    n: Text<'a>,
}

pub(crate) fn map<'a>(
    line: &'a str,
    source: &ExportSource<'a>,
    from_ms: i64,
    to_ms: i64,
) -> Result<ChangeRecord<'a>, Reason> {
    let parts = match scan(line) {
        Some(parts) => parts,
        None => parse(line)?,
    };
    let write_ms = write_time_ms(&parts.write_micros)?;
    let key_attributes = transcode::key_attributes(parts.keys, "Keys")?;
    let key = source.key_schema.key_of_keys(&key_attributes)?;
    // As a stream REMOVE: no document, or the old image (the keys when there is none).
    let (action, document) = match parts.new_image {
        Some(image) => (Action::Index, Some(image.into_document("NewImage")?)),
        None => match source.options.view_on_remove {
            ViewOnRemove::NewImage => (Action::Delete, None),
            ViewOnRemove::OldImage => (
                Action::Delete,
                Some(match parts.old_image {
                    Some(old) => transcode::document(old, "OldImage")?,
                    None => transcode::keys_document(parts.keys, &key_attributes),
                }),
            ),
        },
    };
    Ok(ChangeRecord {
        table_name: Cow::Borrowed(source.table_name),
        key,
        event_name: None,
        action,
        timestamp_ms: write_ms,
        version: version::incremental_version(write_ms, from_ms, to_ms, source.version_margin_ms),
        sequence_number: None,
        event_id: None,
        ttl_delete: false,
        source: Source::Export,
        document,
        keys_only: false,
        raw: line,
    })
}

pub(crate) fn parse(line: &str) -> Result<Parts<'_>, Reason> {
    let parsed: Line = serde_json::from_str(line).map_err(|_| shape_error::<Line>(line, ""))?;
    Ok(Parts {
        write_micros: parsed.metadata.write_timestamp_micros.n.0,
        keys: parsed.keys.get(),
        new_image: parsed.new_image.map(|raw| Image::Raw(raw.get())),
        old_image: parsed.old_image.map(RawValue::get),
    })
}

/// Microseconds (digits only, as DynamoDB writes them) to milliseconds, rounded down.
fn write_time_ms(micros: &str) -> Result<i64, Reason> {
    let invalid = || Reason::WriteTimestamp(micros.to_owned());
    // Up to 17 digits: past any real write (year 5138, as for stream records), far below
    // i64 overflow.
    if micros.is_empty() || micros.len() > 17 || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    Ok(micros / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_times_are_whole_microseconds() {
        assert_eq!(write_time_ms("1680109764123456"), Ok(1_680_109_764_123));
        assert_eq!(write_time_ms("0"), Ok(0));
        for bad in ["", "-1", "1.5", "1e6", "+1", "123456789012345678"] {
            assert_eq!(write_time_ms(bad), Err(Reason::WriteTimestamp(bad.into())));
        }
    }
}
