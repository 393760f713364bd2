//! One invocation: every task its payload carries (a manifest to fan out, a data file to
//! load), with SQS messages failed one by one in the partial batch response.

use std::sync::Arc;

use cdc_lambda::{
    AwsContext, BatchResponse, ErrorType, Function, FunctionSettings, Invocation, KeySchemaError,
    KeySchemas,
};
use cdc_record::MappingOptions;
use cdc_sinks::{DeadLetterQueue, FanOut};
use cdc_telemetry::{names, Metrics};
use tokio::time::Instant;

use crate::data_file::{Loaded, Loader, Stop};
use crate::safety::{self, Moment, UnsafeSink};
use crate::settings::{ExportSettings, Settings, SettingsError};
use crate::trigger::{self, Task, TriggerError};
use cdc_exports::manifest::{self, Kind, ManifestError};
use cdc_exports::queue::{QueueError, WorkQueue};
use cdc_exports::state::{Progress, StateError, StateTable, Status};
use cdc_exports::work::{FileWork, Work};

/// The invocation failed as a whole (Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// The payload is none of the shapes the function accepts (`InvalidPayload`).
    #[error(transparent)]
    Payload(TriggerError),
    /// A task of a payload that did not come from SQS failed (so there is no message to fail
    /// alone).
    #[error(transparent)]
    Task(#[from] TaskError),
}

impl ErrorType for ProcessorError {
    fn error_type(&self) -> &'static str {
        match self {
            ProcessorError::Payload(_) => "InvalidPayload",
            ProcessorError::Task(e) => e.error_type(),
        }
    }
}

/// A task that must be retried: its SQS message is reported failed, or the invocation fails.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// An SQS message that is none of the accepted shapes (`InvalidMessage`).
    #[error(transparent)]
    Message(TriggerError),
    /// The export's manifests cannot be read or parsed (`InvalidManifest`).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The table's key schema is unknown (`KeySchemaUnavailable`).
    #[error(transparent)]
    KeySchema(#[from] KeySchemaError),
    /// A sink might let a snapshot copy bring a deleted item back (`UnsafeSink`).
    #[error(transparent)]
    UnsafeSink(#[from] UnsafeSink),
    /// The state table failed (`StateTableUnavailable`).
    #[error(transparent)]
    State(#[from] StateError),
    /// Work could not be sent to the work queue (`WorkQueueUnavailable`).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// A data file stopped on a failure (S3, a sink, the dead-letter queue) or made no
    /// progress before the deadline, or a queued message was not started before it
    /// (`LoadFailed`).
    #[error("{0}")]
    Load(String),
    #[error("{object}: the deadline came after line {line}; without a work queue (CDC_EXPORT_QUEUE) the load goes on when the invocation is retried{resume}")]
    /// The deadline stopped a data file part-way and there is no work queue to continue it
    /// (`DeadlineReached`): the retried invocation continues it.
    Deadline {
        /// The data file, as `s3://BUCKET/KEY`.
        object: String,
        /// Lines loaded when the deadline came.
        line: u64,
        /// Where the retry resumes, worded for the message: from this line with a state table,
        /// else from the file's start.
        resume: &'static str,
    },
}

impl ErrorType for TaskError {
    fn error_type(&self) -> &'static str {
        match self {
            TaskError::Message(_) => "InvalidMessage",
            TaskError::Manifest(_) => "InvalidManifest",
            TaskError::KeySchema(_) => "KeySchemaUnavailable",
            TaskError::UnsafeSink(_) => "UnsafeSink",
            TaskError::State(_) => "StateTableUnavailable",
            TaskError::Queue(_) => "WorkQueueUnavailable",
            TaskError::Load(_) => "LoadFailed",
            TaskError::Deadline { .. } => "DeadlineReached",
        }
    }
}

/// The export-processor function: its sinks, dead-letter queue, clients and settings, built
/// once per container and used for every invocation.
pub struct ExportProcessor {
    s3: aws_sdk_s3::Client,
    sinks: FanOut,
    dead_letters: Box<dyn DeadLetterQueue>,
    key_schemas: KeySchemas,
    queue: Option<WorkQueue>,
    state: Option<StateTable>,
    mapping: MappingOptions,
    function: FunctionSettings,
    export: ExportSettings,
}

impl ExportProcessor {
    /// Builds sinks, dead-letter queue and clients from settings (cold start).
    pub async fn from_settings(
        settings: Settings,
        aws: Arc<AwsContext>,
    ) -> Result<Self, SettingsError> {
        let (sinks, dead_letters) = settings.sinks.build(&aws).await?;
        Ok(Self::new(sinks, dead_letters, settings, aws).await)
    }

    /// With sinks built elsewhere (tests bring their own).
    pub async fn new(
        sinks: FanOut,
        dead_letters: Box<dyn DeadLetterQueue>,
        settings: Settings,
        aws: Arc<AwsContext>,
    ) -> Self {
        let config = aws.config().await;
        let export = settings.export;
        ExportProcessor {
            s3: aws.s3().await,
            queue: export
                .work_queue
                .clone()
                .map(|url| WorkQueue::new(aws_sdk_sqs::Client::new(config), url)),
            state: export
                .state_table
                .clone()
                .map(|table| StateTable::new(aws_sdk_dynamodb::Client::new(config), table)),
            sinks,
            dead_letters,
            key_schemas: KeySchemas::new(settings.key_schemas, aws.clone()),
            mapping: settings.mapping,
            function: settings.function,
            export,
        }
    }

    /// Handles one Lambda payload.
    pub async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<BatchResponse>, ProcessorError> {
        let deliveries = trigger::parse(payload).map_err(ProcessorError::Payload)?;
        let mut metrics = self.function.metrics();
        let mut failed = Vec::new();
        for delivery in deliveries {
            let outcome = match delivery.tasks {
                Err(e) => Err(TaskError::Message(e)),
                // Work not started before the stop instant goes back to the queue untouched.
                Ok(_) if Instant::now() >= stop_at && delivery.message_id.is_some() => {
                    Err(TaskError::Load("not started before the deadline".into()))
                }
                Ok(tasks) => {
                    let from_queue = delivery.message_id.is_some();
                    self.run(tasks, from_queue, stop_at, &mut metrics).await
                }
            };
            if let Err(e) = outcome {
                tracing::error!(
                    message_id = delivery.message_id.as_deref().unwrap_or("none"),
                    error_type = e.error_type(),
                    error = %cdc_lambda::log_values::loggable(&e.to_string()),
                    "export task failed; it will be retried"
                );
                match delivery.message_id {
                    Some(id) => failed.push(id),
                    None => return Err(e.into()),
                }
            }
        }
        Ok(Invocation {
            response: BatchResponse::failing(failed),
            metrics,
        })
    }

    async fn run(
        &self,
        tasks: Vec<Task>,
        from_queue: bool,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<(), TaskError> {
        for task in tasks {
            match task {
                Task::Manifest { bucket, key } => {
                    self.manifest(&bucket, &key, stop_at, metrics).await?
                }
                Task::File(work) => self.file(&work, from_queue, stop_at, metrics).await?,
            }
        }
        Ok(())
    }

    /// Reads an export's manifests and sends one piece of work per data file (or loads them
    /// all here, without a work queue).
    async fn manifest(
        &self,
        bucket: &str,
        key: &str,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<(), TaskError> {
        let (summary, files) = manifest::read(&self.s3, bucket, key, stop_at).await?;
        let schema = self.key_schemas.get(&summary.table_name, stop_at).await?;
        let window = self.export.load_window;
        self.check_safety(
            &summary.table_name,
            summary.kind,
            Moment::BeforeLoad { window },
            stop_at,
        )
        .await?;
        let items: u64 = files.iter().map(|f| f.item_count).sum();
        if summary.item_count.is_some_and(|n| n != items) {
            tracing::warn!(
                export = %summary.export_arn,
                summary_items = summary.item_count,
                file_items = items,
                "manifest-summary.json and manifest-files.json disagree on the item count"
            );
        }
        tracing::info!(export = %summary.export_arn, table = %summary.table_name, files = files.len(), items, "export complete; loading");
        metrics.count(names::EXPORT_S3_OBJECTS_TOTAL, files.len() as u64);
        metrics.count(names::EXPORT_RECORDS_TOTAL, items);
        if let Some(state) = &self.state {
            state
                .record_export(bucket, key, &summary, files.len() as u64, items, stop_at)
                .await?;
        }
        let works: Vec<FileWork> = files
            .iter()
            .map(|file| FileWork::new(bucket, &summary, &schema, file))
            .collect();
        match &self.queue {
            Some(queue) => {
                let works: Vec<Work> = works.into_iter().map(Work::File).collect();
                Ok(queue.send_work(&works, stop_at).await?)
            }
            None => {
                for work in &works {
                    self.file(work, false, stop_at, metrics).await?;
                }
                Ok(())
            }
        }
    }

    /// Loads one data file from where it got to; at the deadline, sends the rest back to the
    /// work queue (when it came from there).
    async fn file(
        &self,
        work: &FileWork,
        from_queue: bool,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<(), TaskError> {
        self.check_safety(&work.table_name, work.kind, Moment::BeforeFile, stop_at)
            .await?;
        let saved = match &self.state {
            Some(state) => state.progress(&work.export_arn, &work.key, stop_at).await?,
            None => None,
        };
        if let Some(done) = saved.as_ref().filter(|p| p.status != Status::Loading) {
            tracing::info!(object = %work.object(), lines = done.lines, "data file already loaded; skipping");
            return Ok(());
        }
        let start = work.start_line.max(saved.as_ref().map_or(0, |p| p.lines));
        let loaded = self.loader().load(work, start, stop_at).await;
        metrics.count(names::EXPORT_RECORDS_PROCESSED, loaded.records);
        metrics.count(names::EXPORT_RECORDS_PROCESSING_ERRORS, loaded.dead_letters);
        for outcome in &loaded.sinks {
            outcome.record(metrics);
        }
        let progress = progress(saved.as_ref(), &loaded);
        if let Some(state) = &self.state {
            state
                .save(work, &progress, self.function.bookkeeping_deadline(stop_at))
                .await?;
        }
        match loaded.stop {
            None => {
                metrics.count(names::EXPORT_S3_OBJECTS_PROCESSED, 1);
                if let Some(detail) = &progress.detail {
                    metrics.count(names::EXPORT_S3_OBJECTS_MISMATCHED, 1);
                    tracing::error!(object = %work.object(), %detail, "data file does not match its manifest entry");
                }
                Ok(())
            }
            // Nothing loaded in a whole invocation: continuing would loop unseen (a new message
            // each time never reaches the dead-letter queue); failing lets SQS count it.
            Some(Stop::Deadline) if loaded.lines == start => Err(TaskError::Load(format!(
                "{}: no line loaded after line {start} before the deadline",
                work.object()
            ))),
            Some(Stop::Deadline) => match (&self.queue, from_queue) {
                (Some(queue), true) => {
                    tracing::info!(object = %work.object(), line = loaded.lines, "deadline: continuing in a new message");
                    let rest = [Work::File(work.continued_from(loaded.lines))];
                    Ok(queue
                        .send_work(&rest, self.function.bookkeeping_deadline(stop_at))
                        .await?)
                }
                _ => Err(TaskError::Deadline {
                    object: work.object(),
                    line: loaded.lines,
                    resume: if self.state.is_some() {
                        " from this line (CDC_STATE_TABLE)"
                    } else {
                        " from the file's start (no CDC_STATE_TABLE)"
                    },
                }),
            },
            Some(Stop::Failed(reason)) => Err(TaskError::Load(reason)),
        }
    }

    fn loader(&self) -> Loader<'_> {
        Loader {
            s3: &self.s3,
            sinks: &self.sinks,
            dead_letters: self.dead_letters.as_ref(),
            mapping: self.mapping,
            version_margin_ms: self.export.version_margin_ms,
            block_bytes: self.export.batch_bytes,
        }
    }

    /// Refuses loads into sinks that may let a snapshot copy bring a deleted item back.
    async fn check_safety(
        &self,
        table: &str,
        kind: Kind,
        moment: Moment,
        stop_at: Instant,
    ) -> Result<(), UnsafeSink> {
        if self.export.stream_after_load {
            return Ok(());
        }
        safety::check(
            &self.sinks,
            table,
            kind.deletes_matter_from_ms(),
            moment,
            stop_at,
        )
        .await
    }
}

/// The file's progress after `loaded`, counting on from what was saved.
fn progress(saved: Option<&Progress>, loaded: &Loaded) -> Progress {
    let detail = loaded.check.as_ref().and_then(|c| c.mismatch.clone());
    Progress {
        status: match (&loaded.check, &detail) {
            (None, _) => Status::Loading,
            (Some(_), None) => Status::Loaded,
            (Some(_), Some(_)) => Status::Mismatch,
        },
        lines: loaded.lines,
        records: saved.map_or(0, |p| p.records) + loaded.records,
        dead_letters: saved.map_or(0, |p| p.dead_letters) + loaded.dead_letters,
        detail,
        updated_at_ms: 0,
    }
}

impl Function for ExportProcessor {
    type Response = BatchResponse;
    type Error = ProcessorError;

    fn settings(&self) -> &FunctionSettings {
        &self.function
    }

    async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<BatchResponse>, ProcessorError> {
        ExportProcessor::handle(self, payload, stop_at).await
    }
}
