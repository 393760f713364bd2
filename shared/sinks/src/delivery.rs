//! Delivering one mapped batch: every change to every sink, then the dead letters (unmappable
//! records and those a sink rejected for good), and the first record that must be retried.
//! Stream batches and export data files go through the same steps, so they keep the same
//! guarantee: nothing is acknowledged unless a sink or the dead-letter queue holds it whole.

use std::collections::BTreeMap;
use std::time::Duration;

use cdc_record::ChangeRecord;
use tokio::time::Instant;

use crate::dead_letter::{send_in_order, DeadLetter, DeadLetterQueue};
use crate::fanout::FanOut;

/// A mapped batch: change records with the positions of their source records, and dead letters.
#[derive(Debug, Default)]
pub struct MappedBatch<'a> {
    /// The change records to write, in batch order.
    pub changes: Vec<ChangeRecord<'a>>,
    /// `positions[i]` is the position of `changes[i]`'s source record in the batch.
    pub positions: Vec<usize>,
    /// Source records that could not be mapped, by position.
    pub letters: Vec<(usize, DeadLetter<'a>)>,
    /// Source records left out on purpose (TTL deletes under `CDC_TTL_DELETES=drop`).
    pub filtered: usize,
    /// Changes created before this instant (ms since the epoch) are past `CDC_MAX_RECORD_AGE`:
    /// one a sink still fails is dead-lettered instead of retried.
    pub too_old_before_ms: Option<i64>,
}

/// What became of a delivered batch.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// The first position that must be retried, and why: every record before it is held by
    /// the sinks or the dead-letter queue; it and every later one must be delivered again.
    pub first_failure: Option<(usize, String)>,
    /// The dead letters sent (or attempted, from the first failure on), by position.
    pub letters: Vec<(usize, DeadLetter<'a>)>,
    /// The sinks' share of the time ran out: a failure is then the deadline's doing (the
    /// caller continues later) rather than a destination's.
    pub out_of_time: bool,
    /// Positions dead-lettered (or attempted) because they were too old to wait for a sink.
    pub aged_out: Vec<usize>,
    /// What each sink did with the batch.
    pub sinks: Vec<crate::fanout::SinkOutcome>,
}

impl Delivery<'_> {
    /// The position from which records must be retried (`len` when none).
    pub fn failed_from(&self, len: usize) -> usize {
        self.first_failure
            .as_ref()
            .map_or(len, |(position, _)| *position)
    }

    /// Records dead-lettered for their age: those before the first failure.
    pub fn aged_out(&self, len: usize) -> usize {
        let failed_from = self.failed_from(len);
        self.aged_out.iter().filter(|p| **p < failed_from).count()
    }

    /// Dead letters durably sent: those before the first failure.
    pub fn dead_lettered(&self, len: usize) -> usize {
        let failed_from = self.failed_from(len);
        self.letters
            .iter()
            .filter(|(p, _)| *p < failed_from)
            .count()
    }
}

/// The most of the time left that the dead letters keep for themselves.
const LETTERS_RESERVE: Duration = Duration::from_secs(2);

/// Writes `batch` to every sink, then dead-letters, in order, what cannot be written and comes
/// before the first record some sink must retry, all by `stop_at`. The sinks stop early enough
/// for the letters to go out (a quarter of the time left, at most [`LETTERS_RESERVE`]):
/// otherwise a sink retrying until `stop_at` would leave the letters no time, their records
/// would be retried, and the shard would redo the same records every invocation.
pub async fn deliver<'a>(
    sinks: &FanOut,
    dead_letters: &dyn DeadLetterQueue,
    batch: &mut MappedBatch<'a>,
    stop_at: Instant,
) -> Delivery<'a> {
    let reserve = (stop_at.saturating_duration_since(Instant::now()) / 4).min(LETTERS_RESERVE);
    let sinks_stop = stop_at - reserve;
    let too_old = |i: usize| {
        batch
            .too_old_before_ms
            .is_some_and(|cutoff| batch.changes[i].timestamp_ms < cutoff)
    };
    let report = sinks
        .write_aging(&batch.changes, sinks_stop, &too_old)
        .await;
    let out_of_time = Instant::now() >= sinks_stop;
    let mut first_failure = report
        .first_retryable
        .map(|(i, reason)| (batch.positions[i], reason));
    let limit = first_failure
        .as_ref()
        .map_or(usize::MAX, |(position, _)| *position);
    let aged_out = report
        .aged_out
        .iter()
        .map(|&i| batch.positions[i])
        .collect();
    let letters = letters_before(batch, report.rejected, limit);
    if let Err(failure) = send_in_order(dead_letters, &letters, stop_at).await {
        first_failure = Some(failure);
    }
    Delivery {
        first_failure,
        letters,
        out_of_time,
        aged_out,
        sinks: report.sinks,
    }
}

/// Unmappable records plus those a sink rejected for good, in batch order, before `limit`.
fn letters_before<'a>(
    batch: &mut MappedBatch<'a>,
    rejected: BTreeMap<usize, String>,
    limit: usize,
) -> Vec<(usize, DeadLetter<'a>)> {
    let mut letters: Vec<(usize, DeadLetter<'a>)> = std::mem::take(&mut batch.letters);
    for (i, reason) in rejected {
        let change = &batch.changes[i];
        letters.push((
            batch.positions[i],
            DeadLetter {
                raw: change.raw,
                reason,
                source: change.source,
                sequence_number: change.sequence_number.clone(),
                table_name: Some(change.table_name.clone()),
            },
        ));
    }
    letters.retain(|(position, _)| *position < limit);
    letters.sort_by_key(|(position, _)| *position);
    letters
}
