//! Lines of a DynamoDB export's data files (DYNAMODB_JSON; ION lines are first turned into
//! this by [`crate::ion_line_to_json`]) to change records. A full export writes one
//! `{"Item": {...}}` per item; an incremental export one `{"Metadata": ..., "Keys": ...,
//! "NewImage": ..., "OldImage": ...}` per changed item (see [`crate::incremental`]).

use std::borrow::Cow;

use serde::Deserialize;

use crate::change::{Action, ChangeRecord, Source};
use crate::error::shape_error;
use crate::error::{MapError, Reason, RecordId};
use crate::export_source::{ExportKind, ExportSource};
use crate::fast::{self, transcode};
use crate::{incremental, version};

/// A full export's line, as `serde` reads it once the scan has handed over.
#[derive(Deserialize)]
struct FullLine<'a> {
    #[serde(rename = "Item", borrow)]
    item: &'a serde_json::value::RawValue,
}

/// Maps one line (`line_number` is 1-based, for error messages).
pub fn map_export_line<'a>(
    line: &'a str,
    line_number: u64,
    source: &ExportSource<'a>,
) -> Result<ChangeRecord<'a>, MapError> {
    let mapped = match source.kind {
        ExportKind::Full { export_time_ms } => full(line, source, export_time_ms),
        ExportKind::Incremental { from_ms, to_ms } => {
            incremental::map(line, source, from_ms, to_ms)
        }
    };
    mapped.map_err(|reason| MapError {
        record: RecordId::ExportLine(line_number),
        reason,
    })
}

fn full<'a>(
    line: &'a str,
    source: &ExportSource<'a>,
    export_time_ms: i64,
) -> Result<ChangeRecord<'a>, Reason> {
    let names = source.key_schema.names();
    let (document, key_attributes) = match fast::export::full(line, &names) {
        Some(found) => found,
        None => {
            let image = serde_json::from_str::<FullLine>(line)
                .map_err(|_| shape_error::<FullLine>(line, ""))?
                .item;
            transcode::document_capturing(image.get(), "Item", &names)?
        }
    };
    let key = source.key_schema.key_of(&key_attributes)?;
    Ok(ChangeRecord {
        table_name: Cow::Borrowed(source.table_name),
        key,
        event_name: None,
        action: Action::Index,
        timestamp_ms: export_time_ms,
        version: version::export_version(export_time_ms, source.version_margin_ms),
        sequence_number: None,
        event_id: None,
        ttl_delete: false,
        source: Source::Export,
        document: Some(document),
        keys_only: false,
        raw: line,
    })
}
