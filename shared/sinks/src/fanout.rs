//! Writes one batch to every configured sink at once and merges what they report.

use std::collections::BTreeMap;
use std::sync::Arc;

use cdc_record::ChangeRecord;
use futures::future::join_all;
use tokio::time::{timeout_at, Instant};

use crate::sink::{DeadlineExceeded, FailureKind, Sink, WriteReport};

/// Every configured sink.
pub struct FanOut {
    sinks: Vec<Box<dyn Sink>>,
}

/// What the sinks together did with one batch.
#[derive(Debug, Default)]
pub struct FanOutReport {
    /// The first record some sink must retry, with that sink's name and error.
    pub first_retryable: Option<(usize, String)>,
    /// Records some sink rejected for good (and none needs retrying), with the reasons.
    pub rejected: BTreeMap<usize, String>,
    /// Of `rejected`, those a sink would retry but that are too old to wait any longer (see
    /// [`FanOut::write_aging`]).
    pub aged_out: Vec<usize>,
    /// What each sink did, in `CDC_SINKS` order (for per-sink metrics).
    pub sinks: Vec<SinkOutcome>,
}

/// One sink's share of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkOutcome {
    /// The sink's scheme and target (its URL without options), the metrics' `Sink` dimension.
    pub sink: String,
    /// Records it durably accepted.
    pub written: usize,
    /// Records it asks to retry.
    pub retried: usize,
    /// Records it rejected for good (dead-lettered unless a retry comes first).
    pub rejected: usize,
    /// How long its write took, in milliseconds.
    pub write_ms: f64,
}

impl SinkOutcome {
    /// Adds this outcome to `metrics`, on the line of its sink (dimension `Sink`).
    pub fn record(&self, metrics: &mut cdc_telemetry::Metrics) {
        use cdc_telemetry::{names, Unit};
        let sink = metrics.section(vec![("Sink".into(), self.sink.clone())]);
        sink.count(names::SINK_RECORDS_WRITTEN, self.written as u64);
        sink.count(names::SINK_RECORDS_RETRIED, self.retried as u64);
        sink.count(names::SINK_RECORDS_REJECTED, self.rejected as u64);
        sink.distribution(
            names::SINK_WRITE_LATENCY,
            Unit::Milliseconds,
            &[self.write_ms],
        );
    }

    fn of(name: &str, report: &WriteReport, len: usize, write_ms: f64) -> Self {
        let mut failed: Vec<(usize, FailureKind)> =
            report.failures.iter().map(|f| (f.index, f.kind)).collect();
        failed.sort_unstable_by_key(|(index, _)| *index);
        failed.dedup_by_key(|(index, _)| *index);
        let retried = failed
            .iter()
            .filter(|(_, kind)| *kind == FailureKind::Retryable)
            .count();
        SinkOutcome {
            sink: name.split('?').next().unwrap_or(name).to_owned(),
            written: len.saturating_sub(failed.len()),
            retried,
            rejected: failed.len() - retried,
            write_ms,
        }
    }
}

/// A retryable failure on a record too old to wait for its sink any longer.
#[derive(Debug, thiserror::Error)]
#[error("older than CDC_MAX_RECORD_AGE and still failing, so dead-lettered rather than left for Lambda to drop: {0}")]
pub struct TooOld(String);

impl FanOut {
    /// Writes go to all of `sinks`; their order is `CDC_SINKS` order.
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        FanOut { sinks }
    }

    /// The sinks, in `CDC_SINKS` order.
    pub fn sinks(&self) -> impl Iterator<Item = &dyn Sink> {
        self.sinks.iter().map(|sink| sink.as_ref())
    }

    /// Writes `records` to all sinks concurrently; a sink still writing at `deadline` has
    /// failed every record of the batch (retryable, since its outcome is unknown).
    pub async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> FanOutReport {
        self.write_aging(records, deadline, &|_| false).await
    }

    /// As [`FanOut::write`], but a record `too_old` says is past waiting for is reported as
    /// rejected for good (dead-lettered) when a sink would retry it, and the batch goes on.
    pub async fn write_aging(
        &self,
        records: &[ChangeRecord<'_>],
        deadline: Instant,
        too_old: &(dyn Fn(usize) -> bool + Sync),
    ) -> FanOutReport {
        let writes = self.sinks.iter().map(|sink| async move {
            let started = Instant::now();
            let report = timeout_at(deadline, sink.write(records, deadline))
                .await
                .unwrap_or_else(|_| {
                    WriteReport::failed_from(
                        0,
                        records.len(),
                        FailureKind::Retryable,
                        Arc::new(DeadlineExceeded),
                    )
                });
            let write_ms = started.elapsed().as_secs_f64() * 1000.0;
            (sink.name(), report, write_ms)
        });
        let written = join_all(writes).await;
        let sinks = written
            .iter()
            .map(|(name, report, ms)| SinkOutcome::of(name, report, records.len(), *ms))
            .collect();
        let mut reports: Vec<(&str, WriteReport)> = written
            .into_iter()
            .map(|(name, report, _)| (name, report))
            .collect();
        let aged_out = age_out(&mut reports, too_old);
        FanOutReport {
            aged_out,
            sinks,
            ..merge(reports, records.len())
        }
    }
}

/// Turns retryable failures of records too old to wait into permanent ones; answers which.
fn age_out(
    reports: &mut [(&str, WriteReport)],
    too_old: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<usize> {
    let mut aged = Vec::new();
    for (_, report) in reports.iter_mut() {
        for failure in &mut report.failures {
            if failure.kind == FailureKind::Retryable
                && too_old(failure.index)
                && !is_configuration(failure.error.as_ref())
            {
                failure.kind = FailureKind::Permanent;
                failure.error = Arc::new(TooOld(failure.error.to_string()));
                aged.push(failure.index);
            }
        }
    }
    aged.sort_unstable();
    aged.dedup();
    aged
}

/// A destination set up wrong (a key schema that does not fit, a stream without the images a
/// sink needs, a key attribute excluded): retried whatever the record's age, so the shard
/// waits and the alarms fire instead of every record being dead-lettered.
fn is_configuration(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        error.downcast_ref::<crate::dynamodb::DestinationError>(),
        Some(crate::dynamodb::DestinationError::KeySchema { .. })
    ) || error.is::<crate::sink::NoNewImage>()
        || matches!(
            error.downcast_ref::<cdc_record::ProjectionError>(),
            Some(cdc_record::ProjectionError::KeyExcluded(_))
        )
}

fn merge(mut reports: Vec<(&str, WriteReport)>, len: usize) -> FanOutReport {
    // A sink naming a record the batch does not have is a bug in that sink: make it fail the
    // whole batch rather than point anywhere.
    for (name, report) in &mut reports {
        if report.failures.iter().any(|f| f.index >= len) {
            tracing::error!(
                sink = *name,
                len,
                "sink reported a failure outside the batch"
            );
            let error: crate::sink::SharedError = Arc::new(crate::retry::CallError(format!(
                "sink {name} reported a record outside the batch of {len}"
            )));
            *report = WriteReport::failed_from(0, len, FailureKind::Retryable, error);
        }
    }
    let first_retryable = reports
        .iter()
        .filter_map(|(name, report)| {
            report
                .first_retryable()
                .map(|f| (f.index, format!("sink {name}: {}", f.error)))
        })
        .min_by_key(|(index, _)| *index);
    let limit = first_retryable
        .as_ref()
        .map_or(usize::MAX, |(index, _)| *index);
    let mut rejected = BTreeMap::<usize, String>::new();
    for (name, report) in &reports {
        for failure in &report.failures {
            if failure.kind == FailureKind::Permanent && failure.index < limit {
                let reason = format!("sink {name}: {}", failure.error);
                rejected
                    .entry(failure.index)
                    .and_modify(|r| {
                        r.push_str("; ");
                        r.push_str(&reason)
                    })
                    .or_insert(reason);
            }
        }
    }
    FanOutReport {
        first_retryable,
        rejected,
        aged_out: Vec::new(),
        sinks: Vec::new(),
    }
}
