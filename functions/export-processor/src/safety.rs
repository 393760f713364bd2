//! Whether loading a snapshot while the stream runs is safe for every sink.
//!
//! A snapshot copy of an item is versioned below every stream change made after the export,
//! so a sink that compares versions refuses it once the stream wrote a newer change. But when
//! the stream *deleted* the item, the sink must still remember that delete's version when the
//! copy arrives, or the copy brings the item back. Sinks that forget deletes (`?mode=batch`,
//! `tombstones=false`, an OpenSearch index whose `index.gc_deletes` is shorter than the load)
//! are refused for snapshot loads, unless `CDC_EXPORT_STREAM_AFTER_LOAD=true` says the stream
//! is only consumed after the load completed.

use std::time::Duration;

use cdc_sinks::{DeleteMemory, FanOut};
use tokio::time::Instant;

/// A sink that may let a snapshot copy resurrect a deleted item: a configuration error.
#[derive(Debug, thiserror::Error)]
#[error("sink {sink} {remembers}, less than the load window ({window_minutes} minutes, CDC_EXPORT_LOAD_WINDOW_MINUTES): a snapshot copy loaded after the stream deleted an item of table {table} would bring the item back. Make the sink keep deletes longer (dynamodb:// replica with tombstones, OpenSearch index.gc_deletes), or set CDC_EXPORT_STREAM_AFTER_LOAD=true if the table's stream is consumed only after the load")]
pub struct UnsafeSink {
    pub sink: String,
    pub table: String,
    pub remembers: String,
    pub window_minutes: u64,
}

/// Checks every sink for loads of `table` that may take up to `window`.
pub async fn check(
    sinks: &FanOut,
    table: &str,
    window: Duration,
    stop_at: Instant,
) -> Result<(), UnsafeSink> {
    for sink in sinks.sinks() {
        let remembers = match sink.delete_memory(table, stop_at).await {
            Ok(DeleteMemory::NotNeeded) => continue,
            Ok(DeleteMemory::For(kept)) if kept >= window => continue,
            Ok(DeleteMemory::For(kept)) => format!("keeps deletes for {}s", kept.as_secs()),
            Ok(DeleteMemory::Never) => "does not keep deletes".to_owned(),
            Err(e) => format!("cannot tell how long it keeps deletes ({e})"),
        };
        return Err(UnsafeSink {
            sink: sink.name().to_owned(),
            table: table.to_owned(),
            remembers,
            window_minutes: window.as_secs() / 60,
        });
    }
    Ok(())
}
