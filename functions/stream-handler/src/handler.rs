//! One invocation: map the batch, write it to every sink, dead-letter what cannot be written,
//! and report the first record that must be retried.

use std::collections::HashMap;
use std::sync::Arc;

use cdc_lambda::{
    now_ms, AwsContext, BatchResponse, ErrorType, Function, FunctionSettings, Invocation,
    ItemFailure, KeySchemaError, KeySchemas, Redrive,
};
use cdc_record::{sequence_number_of, EventError, KeySchema, MappingOptions, StreamEvent};
use cdc_sinks::{deliver, DeadLetterQueue, Delivery, FanOut, MappedBatch};
use cdc_telemetry::{names, Metrics, Unit};
use tokio::time::Instant;

use crate::batch;
use crate::redrive;
use crate::settings::{Settings, SettingsError};

/// The whole batch must be retried (Lambda does so when the invocation fails).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not a DynamoDB Streams event (`InvalidPayload`).
    #[error(transparent)]
    Event(#[from] EventError),
    /// The key schema of a table in the batch could not be read before the deadline
    /// (`KeySchemaUnavailable`).
    #[error(transparent)]
    KeySchema(#[from] KeySchemaError),
    /// No record of the batch fits the configured key schema: a configuration error
    /// (`KeySchemaMismatch`), retried until corrected.
    #[error("table {table}: no record of the batch fits the key schema {schema} ({example}); DescribeTable: {described}. The batch is retried until CDC_KEY_SCHEMA is corrected")]
    KeySchemaMismatch {
        /// The source table.
        table: String,
        /// The configured key schema, as `CDC_KEY_SCHEMA` writes it.
        schema: String,
        /// The first record's key error (attribute names, never values).
        example: String,
        /// The table's own key schema, or why DescribeTable could not tell.
        described: String,
    },
    /// A record must be retried, but neither it nor any record before it has a sequence number
    /// to report as the first failure, so the whole batch is failed instead
    /// (`UnreportableFailure`).
    #[error("record {index} of the batch must be retried ({reason}), but no record up to it has a readable SequenceNumber to report")]
    Unreportable {
        /// The failed record's position in the batch.
        index: usize,
        /// Why it failed.
        reason: String,
    },
}

impl ErrorType for HandlerError {
    fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(_) => "InvalidPayload",
            HandlerError::KeySchema(_) => "KeySchemaUnavailable",
            HandlerError::KeySchemaMismatch { .. } => "KeySchemaMismatch",
            HandlerError::Unreportable { .. } => "UnreportableFailure",
        }
    }
}

/// The stream-handler function: its sinks, dead-letter queue, key schemas and settings, built
/// once per container and used for every invocation.
pub struct StreamHandler {
    sinks: FanOut,
    dead_letters: Box<dyn DeadLetterQueue>,
    key_schemas: KeySchemas,
    mapping: MappingOptions,
    max_record_age: Option<std::time::Duration>,
    redrive_force: bool,
    function: FunctionSettings,
}

impl StreamHandler {
    /// Builds sinks and dead-letter queue from settings (cold start).
    pub async fn from_settings(
        settings: Settings,
        aws: Arc<AwsContext>,
    ) -> Result<Self, SettingsError> {
        let (sinks, dead_letters) = settings.sinks.build(&aws).await?;
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
            max_record_age: settings.max_record_age,
            redrive_force: settings.redrive_force,
            function: settings.function,
        }
    }

    /// Handles one Lambda payload (`{"Records": [...]}`, as Lambda sends it).
    pub async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<BatchResponse>, HandlerError> {
        self.handle_with(payload, stop_at, self.max_record_age)
            .await
    }

    /// Handles one payload, dead-lettering records a sink still fails once older than
    /// `max_record_age` (none when redriving: those records were dead-lettered already).
    async fn handle_with(
        &self,
        payload: &[u8],
        stop_at: Instant,
        max_record_age: Option<std::time::Duration>,
    ) -> Result<Invocation<BatchResponse>, HandlerError> {
        let StreamEvent { raws, records } = StreamEvent::parse(payload)?;
        let mut schemas = HashMap::new();
        for table in batch::tables(&records) {
            let schema = self.key_schemas.get(&table, stop_at).await?;
            schemas.insert(table, schema);
        }
        let (mut mapped, mismatch) = batch::map(records, &raws, &schemas, &self.mapping);
        mapped.too_old_before_ms = max_record_age.map(|age| now_ms() - age.as_millis() as i64);
        if let (true, Some(mismatch)) = (mapped.changes.is_empty(), mismatch) {
            return Err(self.key_schema_mismatch(mismatch, &schemas, stop_at).await);
        }
        let delivery = deliver(
            &self.sinks,
            self.dead_letters.as_ref(),
            &mut mapped,
            stop_at,
        )
        .await;
        let metrics = self.metrics(&mapped, &delivery, raws.len());
        let response = self.response(&raws, delivery.first_failure)?;
        Ok(Invocation { response, metrics })
    }

    /// No record fits the key schema: a configuration error (retried, never dead-lettered),
    /// explained with the table's own schema where DescribeTable is permitted.
    async fn key_schema_mismatch(
        &self,
        mismatch: batch::KeyMismatch,
        schemas: &HashMap<String, Arc<KeySchema>>,
        stop_at: Instant,
    ) -> HandlerError {
        let described = match self.key_schemas.describe(&mismatch.table, stop_at).await {
            Ok(found) => format!("the table's key is {}", found.setting()),
            Err(e) => e.reason,
        };
        HandlerError::KeySchemaMismatch {
            schema: schemas
                .get(&mismatch.table)
                .map_or_else(|| "(none)".to_owned(), |s| s.setting()),
            table: mismatch.table,
            example: mismatch.example.to_string(),
            described,
        }
    }

    fn metrics(&self, mapped: &MappedBatch<'_>, delivery: &Delivery<'_>, total: usize) -> Metrics {
        let failed_from = delivery.failed_from(total);
        let mut metrics = self.function.metrics();
        let now_ms = now_ms();
        let written: Vec<f64> = mapped
            .changes
            .iter()
            .zip(&mapped.positions)
            .filter(|(_, index)| **index < failed_from)
            .map(|(change, _)| (now_ms - change.timestamp_ms).max(0) as f64)
            .collect();
        let dead_lettered = delivery.dead_lettered(total);
        metrics.count(names::CHANGE_EVENTS_PROCESSED, written.len() as u64);
        metrics.count(names::CHANGE_EVENTS_PROCESSING_ERRORS, dead_lettered as u64);
        metrics.count(names::CHANGE_EVENTS_FILTERED, mapped.filtered as u64);
        metrics.count(names::CHANGE_EVENTS_FAILED, (total - failed_from) as u64);
        // As Data Prepper: one progress event per batch that moved its shard forward.
        metrics.count(names::SHARD_PROGRESS, u64::from(failed_from > 0));
        metrics.count(
            names::CHANGE_EVENTS_DEAD_LETTERED_FOR_AGE,
            delivery.aged_out(total) as u64,
        );
        for outcome in &delivery.sinks {
            outcome.record(&mut metrics);
        }
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
            return Ok(BatchResponse::default());
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
        let reason = cdc_lambda::log_values::loggable(&reason);
        tracing::error!(%sequence_number, index, %reason, "reporting batch item failure");
        Ok(BatchResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: sequence_number.into_owned(),
            }],
        })
    }
}

impl Function for StreamHandler {
    type Response = BatchResponse;
    type Error = HandlerError;

    fn settings(&self) -> &FunctionSettings {
        &self.function
    }

    async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<BatchResponse>, HandlerError> {
        StreamHandler::handle(self, payload, stop_at).await
    }

    async fn handle_redriven(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<BatchResponse>, HandlerError> {
        self.handle_with(payload, stop_at, None).await
    }

    async fn redrive(&self, letters: &[u8]) -> Result<Redrive, String> {
        redrive::payloads(&self.sinks, letters, self.redrive_force).await
    }
}
