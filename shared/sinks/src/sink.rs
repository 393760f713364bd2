//! The interface every sink implements, and what a write reports back.

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use cdc_record::ChangeRecord;
use tokio::time::Instant;

/// A destination for change records.
///
/// `write` receives records in stream order and must keep that order for the records of one
/// item. Writes must be idempotent (deterministic ids, keys or object names, or conditional on
/// `document_version`), because Lambda delivers at least once and replays whole suffixes.
/// A record is reported as failed unless the sink durably accepted it; the write must return
/// by `deadline` (the fan-out treats whatever is still running then as failed).
#[async_trait]
pub trait Sink: Send + Sync {
    /// Names the sink in logs and dead letters (its URL without secrets).
    fn name(&self) -> &str;

    /// Writes `records` (see the trait docs for the contract) and reports those not durably
    /// accepted.
    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport;

    /// Requests sent to the destination so far (for benchmarks and metrics).
    fn api_calls(&self) -> u64 {
        0
    }

    /// How long the sink remembers a delete of an item of `table`, so that an older copy of
    /// the item arriving later (a snapshot copy loaded while the stream runs) is refused
    /// rather than bringing the item back. Read by the export loader before loading a table.
    async fn delete_memory(
        &self,
        _table: &str,
        _deadline: Instant,
    ) -> Result<DeleteMemory, SharedError> {
        Ok(DeleteMemory::NotNeeded)
    }
}

/// How long a sink remembers deletes (see [`Sink::delete_memory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMemory {
    /// Every change is its own record (history tables, S3, queues, files): a late copy adds a
    /// record with its older version; it does not undo the delete.
    NotNeeded,
    /// For this long: tombstones until their TTL, OpenSearch's `index.gc_deletes`.
    For(std::time::Duration),
    /// Not at all: the last write wins, or deletes leave nothing behind.
    Never,
}

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Throttling, a timeout, an unreachable endpoint: report it so Lambda retries.
    Retryable,
    /// The sink will never accept this record (too large, invalid): dead-letter it.
    Permanent,
}

/// An error shared by every record it failed (one failed call fails many records).
pub type SharedError = Arc<dyn Error + Send + Sync>;

/// One record a sink did not accept.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Position in the slice given to `write`.
    pub index: usize,
    /// Whether a retry can succeed, or the record must be dead-lettered.
    pub kind: FailureKind,
    /// Why the sink did not accept it.
    pub error: SharedError,
}

/// The records of one `write` that were not durably accepted; all others were.
#[derive(Debug, Clone, Default)]
pub struct WriteReport {
    /// The records that failed, with why and whether to retry them.
    pub failures: Vec<Failure>,
}

impl WriteReport {
    /// Every record was accepted.
    pub fn ok() -> Self {
        WriteReport::default()
    }

    /// Every record from `from` on failed for the same reason.
    pub fn failed_from(from: usize, len: usize, kind: FailureKind, error: SharedError) -> Self {
        WriteReport {
            failures: (from..len)
                .map(|index| Failure {
                    index,
                    kind,
                    error: error.clone(),
                })
                .collect(),
        }
    }

    /// The first record that must be retried.
    pub fn first_retryable(&self) -> Option<&Failure> {
        self.failures
            .iter()
            .filter(|f| f.kind == FailureKind::Retryable)
            .min_by_key(|f| f.index)
    }
}

/// The write did not finish before the invocation's deadline.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineExceeded;

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stopped before the invocation's deadline; outcome left for the retry")
    }
}

impl Error for DeadlineExceeded {}

/// A sink that keeps whole items (a replica, a search index) got a change whose stream carries
/// no new image: writing the keys as the item would wipe its attributes. This is how the
/// stream is set up, not something the record can fix, so it is retried (the shard waits and
/// the iterator-age alarm fires) rather than dead-lettered record by record.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the stream carries no new image (StreamViewType KEYS_ONLY or OLD_IMAGE); this sink keeps whole items and needs NEW_IMAGE or NEW_AND_OLD_IMAGES")]
pub struct NoNewImage;

impl NoNewImage {
    /// The failure of record `index`, if it is such a change.
    pub(crate) fn check(index: usize, record: &ChangeRecord<'_>) -> Result<(), Failure> {
        if record.keys_only {
            return Err(Failure {
                index,
                kind: FailureKind::Retryable,
                error: Arc::new(NoNewImage),
            });
        }
        Ok(())
    }
}

/// The index of each destination item's last change in the batch, in batch order. A sink that
/// keeps only an item's latest state (a replica, a search index) writes just these: the
/// earlier changes would be overwritten within the same batch anyway. `destination_key` names
/// the item in the destination (its table or index, and its primary key).
pub(crate) fn last_change_per_item<K: std::hash::Hash + Eq>(
    records: &[ChangeRecord<'_>],
    destination_key: impl Fn(&ChangeRecord<'_>) -> K,
) -> Vec<usize> {
    let mut last = std::collections::HashMap::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        last.insert(destination_key(record), index);
    }
    let mut indices: Vec<usize> = last.into_values().collect();
    indices.sort_unstable();
    indices
}

/// Counts the requests a sink sent (`Sink::api_calls`): one type for every sink.
#[derive(Debug, Default)]
pub(crate) struct Calls(AtomicU64);

impl Calls {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
