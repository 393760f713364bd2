//! Lines of a DynamoDB export in DYNAMODB_JSON format (`{"Item": {...}}`) to change records.

use std::borrow::Cow;

use serde::Deserialize;

use crate::change::{Action, ChangeRecord, Source};
use crate::error::{MapError, RecordId};
use crate::key::KeySchema;
use crate::{shape_error, transcode, version};

/// What every item of one export shares.
#[derive(Debug, Clone)]
pub struct ExportSource<'s> {
    pub table_name: &'s str,
    pub key_schema: &'s KeySchema,
    /// `ExportTime` of the export, in milliseconds since the epoch.
    pub export_time_ms: i64,
    /// See [`version::DEFAULT_EXPORT_MARGIN_MS`].
    pub version_margin_ms: i64,
}

#[derive(Deserialize)]
struct ExportLine<'a> {
    #[serde(rename = "Item", borrow)]
    item: &'a serde_json::value::RawValue,
}

/// Maps one line (`line_number` is 1-based, for error messages).
pub fn map_export_line<'a>(
    line: &'a str,
    line_number: u64,
    source: &ExportSource<'a>,
) -> Result<ChangeRecord<'a>, MapError> {
    let fail = |reason| MapError {
        record: RecordId::ExportLine(line_number),
        reason,
    };
    let image = serde_json::from_str::<ExportLine>(line)
        .map_err(|_| fail(shape_error::<ExportLine>(line, "")))?
        .item;
    let (document, key_attributes) =
        transcode::document_capturing(image.get(), "Item", &source.key_schema.names())
            .map_err(fail)?;
    let key = source
        .key_schema
        .key_of(&key_attributes)
        .map_err(|e| fail(e.into()))?;
    Ok(ChangeRecord {
        table_name: Cow::Borrowed(source.table_name),
        key,
        event_name: None,
        action: Action::Index,
        timestamp_ms: source.export_time_ms,
        version: version::export_version(source.export_time_ms, source.version_margin_ms),
        sequence_number: None,
        event_id: None,
        ttl_delete: false,
        source: Source::Export,
        document: Some(document),
        keys_only: false,
        raw: line,
    })
}
