//! `--redrive LETTERS.jsonl`: dead letters back into stream payloads for the sinks. Version
//! guards keep a redriven older change from overwriting newer state, but only while a sink
//! remembers deletes: redriving an INSERT of an item deleted since, into a sink that has
//! forgotten that delete (OpenSearch after `index.gc_deletes`, a replica whose tombstone
//! expired, or one that keeps none), would bring the item back. So the sinks' memory of deletes
//! must cover the oldest letter's age, or the redrive is refused (`CDC_REDRIVE_FORCE=true`
//! overrides, for an operator who knows nothing was deleted since).

use std::collections::BTreeSet;
use std::time::Duration;

use cdc_lambda::{now_ms, Redrive};
use cdc_record::StreamRecord;
use cdc_sinks::{records_to_redrive, DeleteMemory, FanOut};
use tokio::time::Instant;

/// Records per redriven payload: as many as a stream batch holds at most.
const REDRIVE_BATCH: usize = 1000;

/// How long the sinks' delete-memory lookups may take.
const LOOKUP_TIME: Duration = Duration::from_secs(30);

/// The payloads redriving `letters` (JSON Lines), once the sinks are known to be safe for them.
pub async fn payloads(sinks: &FanOut, letters: &[u8], force: bool) -> Result<Redrive, String> {
    let text =
        std::str::from_utf8(letters).map_err(|e| format!("the letters are not UTF-8 text: {e}"))?;
    let (records, skipped) = records_to_redrive(text);
    if !force {
        check_delete_memory(sinks, &records).await?;
    }
    let payloads = records.chunks(REDRIVE_BATCH).map(payload).collect();
    Ok(Redrive { payloads, skipped })
}

fn payload(records: &[&str]) -> Vec<u8> {
    let mut payload = b"{\"Records\":[".to_vec();
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            payload.push(b',');
        }
        payload.extend_from_slice(record.as_bytes());
    }
    payload.extend_from_slice(b"]}");
    payload
}

/// Every sink must remember deletes of every table for at least the oldest record's age.
async fn check_delete_memory(sinks: &FanOut, records: &[&str]) -> Result<(), String> {
    let parsed: Vec<StreamRecord<'_>> = records
        .iter()
        .filter_map(|raw| StreamRecord::parse(raw).ok())
        .collect();
    let Some(oldest_ms) = parsed.iter().filter_map(StreamRecord::created_ms).min() else {
        return Ok(());
    };
    let age = Duration::from_millis(now_ms().saturating_sub(oldest_ms).max(0) as u64);
    let tables: BTreeSet<String> = parsed
        .iter()
        .filter_map(|r| r.table_name().ok())
        .map(|t| t.into_owned())
        .collect();
    let deadline = Instant::now() + LOOKUP_TIME;
    for sink in sinks.sinks() {
        for table in &tables {
            let memory = sink.delete_memory(table, deadline).await.map_err(|e| {
                format!(
                    "sink {}: cannot tell how long it remembers deletes: {e}",
                    sink.name()
                )
            })?;
            let short = match memory {
                DeleteMemory::NotNeeded => continue,
                DeleteMemory::For(kept) if kept >= age => continue,
                DeleteMemory::For(kept) => format!("for {}s", kept.as_secs()),
                DeleteMemory::Never => "not at all".to_owned(),
            };
            return Err(format!(
                "sink {} remembers deletes of table {table} {short}, but the oldest letter is {}s old: redriving could bring back items deleted since. Redrive into sinks that remember deletes that long, or set CDC_REDRIVE_FORCE=true if no item was deleted since",
                sink.name(),
                age.as_secs()
            ));
        }
    }
    Ok(())
}
