//! One invocation: a command for one table or all of them. Each run moves every job one step
//! on and returns; nothing sleeps inside a run: the schedule is the loop.

use std::sync::Arc;

use cdc_exports::queue::{QueueError, WorkQueue};
use cdc_exports::state::{StateError, StateTable};
use cdc_exports::work::{FileWork, ManifestWork, Work};
use cdc_lambda::{
    now_ms, AwsContext, ErrorType, Function, FunctionSettings, Invocation, KeySchemaError,
    KeySchemas,
};
use cdc_telemetry::{names, Metrics, Unit};
use tokio::time::Instant;

use crate::audit::{AuditError, Auditor};
use crate::command::{self, Action, Command, CommandError, Want};
use crate::exports::{self, ExportError, Exports, State};
use crate::jobs::{Job, Jobs, Status};
use crate::plan::{self, Next};
use crate::report::{Report, TableReport};
use crate::settings::{ExportSettings, Settings};

/// The invocation failed (a scheduled run is retried by the next one; the Errors alarm fires).
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The payload is not a command (`InvalidCommand`).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The command names a table (given) that is not in `CDC_EXPORT_TABLES`
    /// (`InvalidCommand`).
    #[error("table {0:?} is not in CDC_EXPORT_TABLES")]
    UnknownTable(String),
    /// Some tables failed; the others ran. The error type is the first failure's.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Tables(Vec<TableError>),
}

impl ErrorType for TriggerError {
    fn error_type(&self) -> &'static str {
        match self {
            TriggerError::Command(_) | TriggerError::UnknownTable(_) => "InvalidCommand",
            TriggerError::Tables(errors) => errors
                .first()
                .map_or("ExportFailed", TableError::error_type),
        }
    }
}

/// What went wrong for one table (the others still ran).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// DynamoDB's export API failed (`PitrDisabled` when point-in-time recovery is off, else
    /// `ExportApiFailed`).
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The load could not be audited (`AuditFailed`).
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A manifest or stalled files could not be sent to the work queue
    /// (`WorkQueueUnavailable`).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The table's key schema, needed to send stalled files again, is unknown
    /// (`KeySchemaUnavailable`).
    #[error(transparent)]
    KeySchema(#[from] KeySchemaError),
    /// The state table failed (`StateTableUnavailable`).
    #[error(transparent)]
    State(#[from] StateError),
}

impl TableError {
    fn error_type(&self) -> &'static str {
        match self {
            TableError::Export(ExportError::PitrOff { .. }) => "PitrDisabled",
            TableError::Export(_) => "ExportApiFailed",
            TableError::Audit(_) => "AuditFailed",
            TableError::Queue(_) => "WorkQueueUnavailable",
            TableError::KeySchema(_) => "KeySchemaUnavailable",
            TableError::State(_) => "StateTableUnavailable",
        }
    }
}

/// The export-trigger function: its clients, the tables it exports and its settings, built
/// once per container and used for every invocation.
pub struct ExportTrigger {
    exports: Exports,
    jobs: Jobs,
    state: StateTable,
    s3: aws_sdk_s3::Client,
    queue: Option<WorkQueue>,
    key_schemas: KeySchemas,
    tables: Vec<String>,
    export: ExportSettings,
    function: FunctionSettings,
}

impl ExportTrigger {
    /// Builds the clients (cold start).
    pub async fn from_settings(settings: Settings, aws: Arc<AwsContext>) -> Self {
        let config = aws.config().await;
        let ddb = aws_sdk_dynamodb::Client::new(config);
        let export = settings.export;
        ExportTrigger {
            exports: Exports::new(ddb.clone(), export.clone()),
            jobs: Jobs::new(ddb.clone(), export.state_table.clone()),
            state: StateTable::new(ddb, export.state_table.clone()),
            s3: aws.s3().await,
            queue: export
                .work_queue
                .clone()
                .map(|url| WorkQueue::new(aws_sdk_sqs::Client::new(config), url)),
            key_schemas: KeySchemas::new(settings.key_schemas, aws.clone()),
            tables: settings.tables,
            export,
            function: settings.function,
        }
    }

    /// Handles one payload.
    pub async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<Report>, TriggerError> {
        let command = command::parse(payload)?;
        let tables = match &command.table {
            Some(table) if !self.tables.contains(table) => {
                return Err(TriggerError::UnknownTable(table.clone()))
            }
            Some(table) => vec![table.clone()],
            None => self.tables.clone(),
        };
        let mut metrics = self.function.metrics();
        let mut report = Report::default();
        let mut errors = Vec::new();
        for table in tables {
            // Boxed: a run's steps nest deep enough to overflow the compiler's layout limit.
            match Box::pin(self.run(&table, &command, stop_at, &mut metrics)).await {
                Ok(table_report) => report.tables.push(table_report),
                Err(e) => {
                    tracing::error!(%table, error_type = e.error_type(), error = %e, "export step failed");
                    report.tables.push(TableReport::failed(&table, &e));
                    errors.push(e);
                }
            }
        }
        if !errors.is_empty() {
            // Metrics of the tables that did run still count.
            println!("{}", metrics.to_emf(now_ms()));
            return Err(TriggerError::Tables(errors));
        }
        Ok(Invocation {
            response: report,
            metrics,
        })
    }

    async fn run(
        &self,
        table: &str,
        command: &Command,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<TableReport, TableError> {
        let latest = self.jobs.latest(table, stop_at).await?;
        let job = match command.action {
            Action::Status => latest,
            Action::Start => {
                let full = command.kind != Some(Want::Incremental);
                self.start(table, latest, full, stop_at, metrics).await?
            }
            Action::Abandon => match latest {
                Some(job) if job.status.busy() => Some(self.abandon(job, stop_at).await?),
                other => other,
            },
            Action::Poll => {
                let moved = match latest {
                    Some(job) => Some(self.advance(job, stop_at, metrics).await?),
                    None => None,
                };
                match moved {
                    // A blocked job waits for an operator: starting after it would fail alike
                    // (and cost a full export each time) or chain past a gap.
                    Some(job)
                        if job.status.busy()
                            || job.status.blocked()
                            || !self.export.incremental =>
                    {
                        Some(job)
                    }
                    // The chain moves on: the first full export, then each window.
                    other if self.export.incremental => {
                        self.start(table, other, false, stop_at, metrics).await?
                    }
                    other => other,
                }
            }
        };
        if let Some(job) = job.as_ref().filter(|j| j.status.busy()) {
            // From when deletes must be remembered, not from the last attempt: that is the
            // age that sinks' delete memory must cover.
            let age = now_ms() - job.kind.deletes_matter_from_ms();
            metrics.distribution(
                names::EXPORT_LOAD_AGE,
                Unit::Milliseconds,
                &[age.max(0) as f64],
            );
        }
        if job.as_ref().is_some_and(|j| j.status.blocked()) {
            metrics.count(names::EXPORT_JOBS_BLOCKED, 1);
        }
        Ok(TableReport::of(table, job.as_ref(), now_ms()))
    }

    /// Starts the table's next export unless one is under way; the job it is at.
    async fn start(
        &self,
        table: &str,
        latest: Option<Job>,
        full: bool,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<Option<Job>, TableError> {
        if let Some(job) = latest.as_ref().filter(|j| j.status.busy()) {
            tracing::info!(%table, status = job.status.as_str(), "an export is under way; not starting another");
            return Ok(latest);
        }
        let (table_arn, latest_restorable) = self.exports.restorable(table, stop_at).await?;
        let chained_from = latest
            .as_ref()
            .filter(|j| j.status == Status::Loaded)
            .map(|j| plan::end_ms(j.kind));
        let kind = match plan::next(chained_from, latest_restorable, full) {
            Next::Start(kind) => kind,
            Next::Wait { ready_at_ms } => {
                tracing::info!(%table, ready_at_ms, "the next incremental window is not ready yet");
                return Ok(latest);
            }
        };
        let job = Job::new(table, &table_arn, kind, 1, &self.export.prefix, now_ms());
        if !self.jobs.create(&job, stop_at).await? {
            // Another run wrote the same job first: it starts it.
            return Ok(self.jobs.latest(table, stop_at).await?);
        }
        self.begin(job, &table_arn, stop_at, metrics)
            .await
            .map(Some)
    }

    /// Gives up a job an operator says cannot finish.
    async fn abandon(&self, mut job: Job, stop_at: Instant) -> Result<Job, TableError> {
        tracing::warn!(table = %job.table, status = job.status.as_str(), "export job abandoned by an operator");
        job.failure = Some(format!(
            "abandoned by an operator while {}",
            job.status.as_str()
        ));
        job.status = Status::GaveUp;
        self.jobs.save(&job, stop_at).await?;
        Ok(job)
    }

    /// Starts a written job's export and records its ARN; a refused start counts as a
    /// failed attempt.
    async fn begin(
        &self,
        mut job: Job,
        table_arn: &str,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<Job, TableError> {
        let arn = match self.exports.start(&job, table_arn, stop_at).await {
            Ok(arn) => arn,
            Err(ExportError::Refused { reason, .. }) => {
                return Box::pin(self.failed(job, reason, table_arn, stop_at, metrics)).await
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(table = %job.table, export = %arn, attempt = job.attempt, "export started");
        job.export_arn = Some(arn);
        job.status = Status::InProgress;
        self.jobs
            .save(&job, self.function.bookkeeping_deadline(stop_at))
            .await?;
        Ok(job)
    }

    /// One step of a job: recover, poll, retry or audit it.
    async fn advance(
        &self,
        mut job: Job,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<Job, TableError> {
        match job.status {
            Status::Starting => {
                let (table_arn, _) = self.exports.restorable(&job.table, stop_at).await?;
                let since = job.started_at_ms;
                match self
                    .exports
                    .find(&job.table, &table_arn, &job.s3_prefix, since, stop_at)
                    .await?
                {
                    // The start call went through, its answer was lost: adopt the export.
                    Some(found) => {
                        tracing::info!(table = %job.table, export = %found.arn, "recovered an export started before a crash");
                        job.export_arn = Some(found.arn);
                        job.status = Status::InProgress;
                        self.jobs.save(&job, stop_at).await?;
                        Ok(job)
                    }
                    None => self.begin(job, &table_arn, stop_at, metrics).await,
                }
            }
            Status::InProgress => self.poll(job, stop_at, metrics).await,
            Status::Completed => self.audit(job, stop_at, metrics).await,
            Status::Loaded | Status::Incomplete | Status::GaveUp => Ok(job),
        }
    }

    async fn poll(
        &self,
        mut job: Job,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<Job, TableError> {
        let Some(arn) = job.export_arn.clone() else {
            job.status = Status::Starting;
            return Ok(job);
        };
        let described = self.exports.describe(&job.table, &arn, stop_at).await?;
        match described.state {
            State::InProgress => Ok(job),
            State::Completed => {
                metrics.count(names::EXPORT_JOB_SUCCESS, 1);
                job.status = Status::Completed;
                job.completed_at_ms = Some(now_ms());
                job.manifest_key = Some(exports::manifest_key(
                    &job.s3_prefix,
                    &arn,
                    described.manifest.as_deref(),
                ));
                self.jobs.save(&job, stop_at).await?;
                self.audit(job, stop_at, metrics).await
            }
            State::Failed(why) => {
                let (table_arn, _) = self.exports.restorable(&job.table, stop_at).await?;
                self.failed(job, why, &table_arn, stop_at, metrics).await
            }
        }
    }

    /// An attempt failed: the next one, with a new token, or giving up after the last.
    async fn failed(
        &self,
        mut job: Job,
        why: String,
        table_arn: &str,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<Job, TableError> {
        metrics.count(names::EXPORT_JOB_FAILURE, 1);
        tracing::error!(table = %job.table, attempt = job.attempt, failure = %why, "export failed");
        job.failure = Some(why);
        if job.attempt >= self.export.max_attempts {
            job.status = Status::GaveUp;
            self.jobs.save(&job, stop_at).await?;
            return Ok(job);
        }
        let retry = job.retried(table_arn, &self.export.prefix, now_ms());
        self.jobs.save(&retry, stop_at).await?;
        Box::pin(self.begin(retry, table_arn, stop_at, metrics)).await
    }

    /// Checks a completed export's load; sends its manifest when the notification did not
    /// come, and the files nothing has moved for a while.
    async fn audit(
        &self,
        mut job: Job,
        stop_at: Instant,
        metrics: &mut Metrics,
    ) -> Result<Job, TableError> {
        let (Some(arn), Some(manifest_key)) = (job.export_arn.clone(), job.manifest_key.clone())
        else {
            return Ok(job);
        };
        let now = now_ms();
        let completed = job.completed_at_ms.unwrap_or(job.started_at_ms);
        if !self.state.manifest_seen(&arn, stop_at).await? {
            // The first time after the grace; again only after as long as a stalled file
            // waits (each manifest makes the processor queue every file once more).
            let (since, wait) = match job.manifest_sent_at_ms {
                None => (completed, self.export.notify_grace),
                Some(sent) => (sent, self.export.redrive_after),
            };
            if let (Some(queue), true) = (&self.queue, now - since >= wait.as_millis() as i64) {
                let work = Work::Manifest(ManifestWork {
                    bucket: self.export.bucket.clone(),
                    key: manifest_key,
                });
                queue.send_work(&[work], stop_at).await?;
                tracing::warn!(table = %job.table, export = %arn, "no load started after the export completed: sent its manifest to the work queue");
                job.manifest_sent_at_ms = Some(now);
                self.jobs.save(&job, stop_at).await?;
            }
            return Ok(job);
        }
        let auditor = Auditor {
            s3: &self.s3,
            state: &self.state,
            bucket: &self.export.bucket,
            redrive_after: self.export.redrive_after,
        };
        // Files sent again are given the same time before being sent once more.
        let since = completed.max(job.redriven_at_ms.unwrap_or(completed));
        let findings = auditor.audit(&manifest_key, since, now, stop_at).await?;
        let first_audit = job.audit.is_none();
        if first_audit {
            metrics.count(names::EXPORT_S3_OBJECTS_TOTAL, findings.audit.files);
            metrics.count(names::EXPORT_RECORDS_TOTAL, findings.audit.items);
        }
        if !findings.stalled.is_empty() {
            if let Some(queue) = &self.queue {
                let schema = self.key_schemas.get(&job.table, stop_at).await?;
                let works: Vec<Work> = findings
                    .stalled
                    .iter()
                    .map(|file| {
                        Work::File(FileWork::new(
                            &self.export.bucket,
                            &findings.summary,
                            &schema,
                            file,
                        ))
                    })
                    .collect();
                queue.send_work(&works, stop_at).await?;
                job.redriven_at_ms = Some(now);
                tracing::warn!(table = %job.table, export = %arn, files = works.len(), "data files without progress sent to the work queue again");
            }
        }
        let audit = findings.audit;
        if audit.files_loaded + audit.mismatched == audit.files {
            for mismatch in &findings.mismatches {
                tracing::error!(table = %job.table, export = %arn, %mismatch, "data file not loaded as its manifest says");
            }
            // A file that does not match its manifest may have lost items (a truncated
            // object): the load is not complete, and nothing is chained from it.
            job.status = if audit.mismatched == 0 {
                Status::Loaded
            } else {
                Status::Incomplete
            };
            tracing::info!(table = %job.table, export = %arn, status = job.status.as_str(), files = audit.files, items = audit.items, mismatched = audit.mismatched, "export load ended");
        }
        job.audit = Some(audit);
        self.jobs.save(&job, stop_at).await?;
        Ok(job)
    }
}

impl Function for ExportTrigger {
    type Response = Report;
    type Error = TriggerError;

    fn settings(&self) -> &FunctionSettings {
        &self.function
    }

    async fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> Result<Invocation<Report>, TriggerError> {
        ExportTrigger::handle(self, payload, stop_at).await
    }
}
