//! One invocation: map the batch, write it to every sink, dead-letter what cannot be written,
//! and report the first record that must be retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cdc_record::{sequence_number_of, EventError, MappingOptions, StreamEvent};
use cdc_sinks::{AwsContext, DeadLetter, DeadLetterQueue, FanOut};
use cdc_telemetry::{names, Metrics, Unit};
use serde::Serialize;
use tokio::time::{timeout_at, Instant};

use crate::batch::{self, MappedBatch};
use crate::key_schemas::{KeySchemaError, KeySchemas};
use crate::settings::{Settings, SettingsError};

/// Lambda's longest invocation.
pub const MAX_INVOCATION: Duration = Duration::from_secs(900);

/// Deadlines before September 2001 (10^12 ms since the epoch) are durations, not times.
const NOT_A_DEADLINE_BEFORE: Duration = Duration::from_secs(1_000_000_000);

/// Lambda's partial batch response for stream event sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The whole batch must be retried (Lambda does so when the invocation fails).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    KeySchema(#[from] KeySchemaError),
    #[error("record {index} of the batch must be retried ({reason}), but no record up to it has a readable SequenceNumber to report")]
    Unreportable { index: usize, reason: String },
}

impl HandlerError {
    /// A name for the kind of failure: Lambda records it as the invocation's `errorType`,
    /// where alarms and log queries can match it.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(_) => "InvalidPayload",
            HandlerError::KeySchema(_) => "KeySchemaUnavailable",
            HandlerError::Unreportable { .. } => "UnreportableFailure",
        }
    }
}

/// What an invocation produced.
#[derive(Debug)]
pub struct Invocation {
    pub response: BatchResponse,
    pub metrics: Metrics,
}

pub struct StreamHandler {
    sinks: FanOut,
    dead_letters: Box<dyn DeadLetterQueue>,
    key_schemas: KeySchemas,
    mapping: MappingOptions,
    deadline_margin: Duration,
    metrics_namespace: String,
    function_name: String,
}

impl StreamHandler {
    /// Builds sinks and dead-letter queue from settings (cold start).
    pub async fn from_settings(
        settings: Settings,
        aws: Arc<AwsContext>,
    ) -> Result<Self, SettingsError> {
        let sinks = cdc_sinks::build_fan_out(&settings.sinks, &aws).await?;
        let dead_letters = settings.dead_letters.build(&aws).await?;
        Ok(Self::new(sinks, dead_letters, settings, aws))
    }

    /// With sinks built elsewhere (tests bring their own).
    pub fn new(
        sinks: FanOut,
        dead_letters: Box<dyn DeadLetterQueue>,
        settings: Settings,
        aws: Arc<AwsContext>,
    ) -> Self {
        StreamHandler {
            sinks,
            dead_letters,
            key_schemas: KeySchemas::new(settings.key_schemas, aws),
            mapping: settings.mapping,
            deadline_margin: settings.deadline_margin,
            metrics_namespace: settings.metrics_namespace,
            function_name: settings.function_name,
        }
    }

    /// The instant to stop writing: the invocation deadline less the margin.
    pub fn stop_at(&self, deadline: SystemTime) -> Instant {
        let remaining = match deadline.duration_since(SystemTime::now()) {
            Ok(remaining) => remaining,
            // `cargo lambda watch` sends 600000, a duration, where Lambda sends epoch
            // milliseconds: keeping to it would fail every record. Any other past deadline
            // (a clock ahead) is kept: stop at once rather than be killed mid-write.
            Err(_) if deadline < UNIX_EPOCH + NOT_A_DEADLINE_BEFORE => {
                tracing::warn!(
                    deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
                    "the invocation's deadline is a duration, not a time (a local emulator); working to Lambda's longest invocation"
                );
                MAX_INVOCATION
            }
            Err(_) => Duration::ZERO,
        };
        // A margin as long as the invocation would stop every batch before it starts and the
        // shard would never advance: keep at least half the time for the work.
        let margin = if self.deadline_margin > remaining / 2 {
            tracing::warn!(
                margin_ms = self.deadline_margin.as_millis() as u64,
                remaining_ms = remaining.as_millis() as u64,
                "CDC_DEADLINE_MARGIN_MS is more than half the invocation's time; using half"
            );
            remaining / 2
        } else {
            self.deadline_margin
        };
        Instant::now() + remaining - margin
    }

    /// Handles one Lambda payload (`{"Records": [...]}`, as Lambda sends it).
    pub async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation, HandlerError> {
        let StreamEvent { raws, records } = StreamEvent::parse(payload)?;
        let mut schemas = HashMap::new();
        for table in batch::tables(&records) {
            let schema = self.key_schemas.get(&table, stop_at).await?;
            schemas.insert(table, schema);
        }
        let mut mapped = batch::map(records, &raws, &schemas, &self.mapping);

        let report = self.sinks.write(&mapped.changes, stop_at).await;
        let mut first_failure = report
            .first_retryable
            .map(|(i, reason)| (mapped.positions[i], reason));
        let limit = first_failure
            .as_ref()
            .map_or(usize::MAX, |(index, _)| *index);
        let letters = letters_before(&mut mapped, report.rejected, limit);
        let sent = self.send_dead_letters(&letters, stop_at).await;
        if let Err((index, reason)) = sent {
            first_failure = Some((index, reason));
        }
        let failed_from = first_failure
            .as_ref()
            .map_or(raws.len(), |(index, _)| *index);
        let metrics = self.metrics(&mapped, &letters, failed_from, raws.len());
        let response = self.response(&raws, first_failure)?;
        Ok(Invocation { response, metrics })
    }

    /// Sends dead letters in batch order; on failure, the first letter not sent fails the batch there.
    async fn send_dead_letters(
        &self,
        letters: &[(usize, DeadLetter<'_>)],
        stop_at: Instant,
    ) -> Result<(), (usize, String)> {
        if letters.is_empty() {
            return Ok(());
        }
        for (_, letter) in letters {
            tracing::warn!(
                sequence_number = letter.sequence_number.as_deref().unwrap_or("unknown"),
                reason = %letter.reason,
                "dead-lettering record"
            );
        }
        let only: Vec<DeadLetter<'_>> = letters.iter().map(|(_, l)| l.clone()).collect();
        match timeout_at(stop_at, self.dead_letters.send(&only, stop_at)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err((letters[e.sent.min(letters.len() - 1)].0, e.to_string())),
            Err(_) => Err((
                letters[0].0,
                format!(
                    "dead-letter queue {}: deadline reached",
                    self.dead_letters.name()
                ),
            )),
        }
    }

    fn metrics(
        &self,
        mapped: &MappedBatch<'_>,
        letters: &[(usize, DeadLetter<'_>)],
        failed_from: usize,
        total: usize,
    ) -> Metrics {
        let mut metrics = Metrics::new(
            self.metrics_namespace.clone(),
            vec![("FunctionName".into(), self.function_name.clone())],
        );
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let written: Vec<f64> = mapped
            .changes
            .iter()
            .zip(&mapped.positions)
            .filter(|(_, index)| **index < failed_from)
            .map(|(change, _)| (now_ms - change.timestamp_ms).max(0) as f64)
            .collect();
        let dead_lettered = letters
            .iter()
            .filter(|(index, _)| *index < failed_from)
            .count();
        metrics.count(names::CHANGE_EVENTS_PROCESSED, written.len() as u64);
        metrics.count(names::CHANGE_EVENTS_PROCESSING_ERRORS, dead_lettered as u64);
        metrics.count(names::CHANGE_EVENTS_FILTERED, mapped.filtered as u64);
        metrics.count(names::CHANGE_EVENTS_FAILED, (total - failed_from) as u64);
        // As Data Prepper: one progress event per batch that moved its shard forward.
        metrics.count(names::SHARD_PROGRESS, u64::from(failed_from > 0));
        if !written.is_empty() {
            metrics.distribution(names::CHANGE_EVENT_LATENCY, Unit::Milliseconds, &written);
        }
        metrics
    }

    /// Names the first failed record; Lambda retries the batch from there, in order.
    fn response(
        &self,
        raws: &[&str],
        first_failure: Option<(usize, String)>,
    ) -> Result<BatchResponse, HandlerError> {
        let Some((index, reason)) = first_failure else {
            return Ok(BatchResponse {
                batch_item_failures: vec![],
            });
        };
        // A record without a readable sequence number cannot be named; retrying from an earlier
        // one only repeats idempotent writes.
        let sequence_number = raws[..=index]
            .iter()
            .rev()
            .find_map(|raw| sequence_number_of(raw))
            .ok_or_else(|| HandlerError::Unreportable {
                index,
                reason: reason.clone(),
            })?;
        tracing::error!(%sequence_number, index, %reason, "reporting batch item failure");
        Ok(BatchResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: sequence_number.into_owned(),
            }],
        })
    }
}

/// Unmappable records plus those a sink rejected for good, in batch order, before `limit`.
fn letters_before<'a>(
    mapped: &mut MappedBatch<'a>,
    rejected: std::collections::BTreeMap<usize, String>,
    limit: usize,
) -> Vec<(usize, DeadLetter<'a>)> {
    let mut letters: Vec<(usize, DeadLetter<'a>)> = std::mem::take(&mut mapped.letters);
    for (i, reason) in rejected {
        let change = &mapped.changes[i];
        letters.push((
            mapped.positions[i],
            DeadLetter {
                raw: change.raw,
                reason,
                source: change.source,
                sequence_number: change.sequence_number.clone(),
                table_name: Some(change.table_name.clone()),
            },
        ));
    }
    letters.retain(|(index, _)| *index < limit);
    letters.sort_by_key(|(index, _)| *index);
    letters
}
