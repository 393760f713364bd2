//! Parsing and mapping one Lambda batch, with no I/O: what goes to the sinks, what is dead-lettered.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cdc_record::{KeySchema, MapError, MappingOptions, Reason, RecordId, Source, StreamRecord};
use cdc_sinks::{DeadLetter, MappedBatch};

/// The tables the parsed records come from (one, for a stream's event source mapping).
pub fn tables<'a>(parsed: &[Result<StreamRecord<'a>, MapError>]) -> BTreeSet<String> {
    parsed
        .iter()
        .filter_map(|r| r.as_ref().ok()?.table_name().ok())
        .map(|t| t.into_owned())
        .collect()
}

/// A record whose `Keys` do not fit its table's key schema (an attribute missing or one too
/// many). When no record of a batch fits, the schema is wrong, not the records.
#[derive(Debug)]
pub struct KeyMismatch {
    /// The source table.
    pub table: String,
    /// The first such record's error: names attributes, never values.
    pub example: MapError,
}

/// Maps every parsed record; `schemas` must hold every table of [`tables`].
pub fn map<'a>(
    parsed: Vec<Result<StreamRecord<'a>, MapError>>,
    raws: &[&'a str],
    schemas: &HashMap<String, Arc<KeySchema>>,
    options: &MappingOptions,
) -> (MappedBatch<'a>, Option<KeyMismatch>) {
    let mut mismatch = None;
    let mut batch = MappedBatch {
        changes: Vec::with_capacity(parsed.len()),
        positions: Vec::with_capacity(parsed.len()),
        ..Default::default()
    };
    for (index, (parsed, raw)) in parsed.into_iter().zip(raws).enumerate() {
        let table = parsed.as_ref().ok().and_then(|r| r.table_name().ok());
        let mapped = parsed.and_then(|record| {
            let table = record.table_name()?;
            match schemas.get(table.as_ref()) {
                Some(schema) => record.into_change(schema, options),
                // Unreachable when `schemas` covers `tables`; dead-lettered rather than trusted.
                None => Err(MapError {
                    record: record.id(),
                    reason: cdc_record::Reason::Missing("a key schema for its table"),
                }),
            }
        });
        match mapped {
            Ok(Some(change)) => {
                batch.changes.push(change);
                batch.positions.push(index);
            }
            Ok(None) => batch.filtered += 1,
            Err(error) => {
                if let (None, Reason::Key(key), Some(table)) = (&mismatch, &error.reason, &table) {
                    if key.is_schema_mismatch() {
                        mismatch = Some(KeyMismatch {
                            table: table.to_string(),
                            example: error.clone(),
                        });
                    }
                }
                batch.letters.push((index, unmappable(raw, error, table)))
            }
        }
    }
    (batch, mismatch)
}

fn unmappable<'a>(raw: &'a str, error: MapError, table: Option<Cow<'a, str>>) -> DeadLetter<'a> {
    let sequence_number = match &error.record {
        RecordId::Sequence(seq) => Some(Cow::Owned(seq.clone())),
        _ => None,
    };
    DeadLetter {
        raw,
        reason: error.to_string(),
        source: Source::Stream,
        sequence_number,
        table_name: table,
    }
}
