//! Whether loading a snapshot while the stream runs is safe for every sink.
//!
//! A snapshot copy of an item is versioned below every stream change made after the export,
//! so a sink that compares versions refuses it once the stream wrote a newer change. But when
//! the stream *deleted* the item, the sink must still remember that delete's version when the
//! copy arrives, or the copy brings the item back. Deletes made since the export must be
//! remembered until the load ends: a load is checked, before it starts, for the export's age
//! plus the load window (`CDC_EXPORT_LOAD_WINDOW_MINUTES`), and each data file again, when it
//! loads, for the export's age (a file redriven days later is refused, not loaded). Sinks that
//! forget deletes (`?mode=batch`, `tombstones=false`, an OpenSearch index whose
//! `index.gc_deletes` is shorter) are refused, unless `CDC_EXPORT_STREAM_AFTER_LOAD=true` says
//! the stream is only consumed after the load completed.

use std::time::Duration;

use cdc_sinks::{DeleteMemory, FanOut};
use tokio::time::Instant;

/// A sink that may let a snapshot copy resurrect a deleted item: a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("sink {sink} {remembers}, but a snapshot copy of an item of table {table} may arrive up to {} minutes after the stream deleted it ({why}): it would bring the item back. Make the sink keep deletes longer (a dynamodb:// replica with tombstones, OpenSearch index.gc_deletes), load a newer export, or set CDC_EXPORT_STREAM_AFTER_LOAD=true if the table's stream is consumed only after the load", needed.as_secs().div_ceil(60))]
pub struct UnsafeSink {
    /// The sink's name (its URL).
    pub sink: String,
    /// The source table being loaded.
    pub table: String,
    /// How long the sink keeps deletes, in words (never, a number of seconds, or why it cannot
    /// tell).
    pub remembers: String,
    /// How long it would have to keep them.
    pub needed: Duration,
    /// What `needed` covers: the export's age, plus the load window before a load.
    pub why: &'static str,
}

/// When the check is made, and so what must be covered.
#[derive(Debug, Clone, Copy)]
pub enum Moment {
    /// Before a load: the export's age plus the load window.
    BeforeLoad {
        /// `CDC_EXPORT_LOAD_WINDOW_MINUTES`: how long the load may take.
        window: Duration,
    },
    /// Before one data file: the export's age.
    BeforeFile,
}

/// Checks every sink for a snapshot of `table` taken at `export_ms` (an incremental export:
/// its window's start), at `moment`.
pub async fn check(
    sinks: &FanOut,
    table: &str,
    export_ms: i64,
    moment: Moment,
    stop_at: Instant,
) -> Result<(), UnsafeSink> {
    let age = Duration::from_millis(cdc_lambda::now_ms().saturating_sub(export_ms).max(0) as u64);
    let (needed, why) = match moment {
        Moment::BeforeLoad { window } => (
            age + window,
            "the export's age plus CDC_EXPORT_LOAD_WINDOW_MINUTES",
        ),
        Moment::BeforeFile => (age, "the export's age"),
    };
    for sink in sinks.sinks() {
        let remembers = match sink.delete_memory(table, stop_at).await {
            Ok(DeleteMemory::NotNeeded) => continue,
            Ok(DeleteMemory::For(kept)) if kept >= needed => continue,
            Ok(DeleteMemory::For(kept)) => format!("keeps deletes for {}s", kept.as_secs()),
            Ok(DeleteMemory::Never) => "does not keep deletes".to_owned(),
            Err(e) => format!("cannot tell how long it keeps deletes ({e})"),
        };
        return Err(UnsafeSink {
            sink: sink.name().to_owned(),
            table: table.to_owned(),
            remembers,
            needed,
            why,
        });
    }
    Ok(())
}
