//! DynamoDB's export API: is PITR on, start an export, find one again, ask how it is going.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::export_table_to_point_in_time::ExportTableToPointInTimeError;
use aws_sdk_dynamodb::types::{
    ExportFormat, ExportStatus, ExportType, ExportViewType, IncrementalExportSpecification,
    PointInTimeRecoveryStatus, S3SseAlgorithm,
};
use aws_smithy_types::DateTime;
use cdc_exports::manifest::{Format, Kind};
use tokio::time::{timeout_at, Instant};

use crate::jobs::Job;
use crate::settings::ExportSettings;

/// A call to DynamoDB's export API that did not give what was needed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The table has point-in-time recovery off, so it cannot be exported.
    #[error("table {table}: point-in-time recovery is off, and exports need it: enable it (UpdateContinuousBackups, PointInTimeRecoveryEnabled=true), then start again")]
    PitrOff {
        /// The table.
        table: String,
    },
    /// A call failed, did not answer by the deadline, or answered without what was asked;
    /// the next run tries again.
    #[error("table {table}: {operation} failed: {reason}")]
    Call {
        /// The table the call was about.
        table: String,
        /// The API operation, such as `DescribeExport`.
        operation: &'static str,
        /// The SDK error, the deadline, or what the answer lacked.
        reason: String,
    },
    /// DynamoDB refused to start the export for a reason retrying the same call cannot
    /// change (its time outside the PITR window, PITR off, no such table, an S3 conflict).
    #[error("table {table}: ExportTableToPointInTime refused: {reason}")]
    Refused {
        /// The table.
        table: String,
        /// DynamoDB's error.
        reason: String,
    },
}

/// What DescribeExport says of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The export's ARN.
    pub arn: String,
    /// Whether it is running, done or failed.
    pub state: State,
    /// The S3 prefix it writes under (which carries the job's token), when DynamoDB says.
    pub s3_prefix: Option<String>,
    /// `ExportManifest`: the manifest summary's key, when DynamoDB names it.
    pub manifest: Option<String>,
}

/// Where an export stands, per `DescribeExport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Still running (also any status DynamoDB may add later).
    InProgress,
    /// Done: its files and manifests are in S3.
    Completed,
    /// Failed, with DynamoDB's failure code and message.
    Failed(String),
}

/// DynamoDB's export API as this function calls it: every call bounded by the stop instant,
/// errors naming the table.
pub struct Exports {
    client: aws_sdk_dynamodb::Client,
    settings: ExportSettings,
}

impl Exports {
    /// Calls go through `client`; exports are made as `settings` say (bucket, prefix, format,
    /// encryption).
    pub fn new(client: aws_sdk_dynamodb::Client, settings: ExportSettings) -> Self {
        Exports { client, settings }
    }

    /// The table's ARN and its latest restorable time (ms); an error naming the table when
    /// point-in-time recovery is off.
    pub async fn restorable(
        &self,
        table: &str,
        stop_at: Instant,
    ) -> Result<(String, i64), ExportError> {
        let fail = |operation, reason: String| ExportError::Call {
            table: table.to_owned(),
            operation,
            reason,
        };
        let described = timeout_at(
            stop_at,
            self.client.describe_table().table_name(table).send(),
        )
        .await
        .map_err(|_| fail("DescribeTable", "deadline reached".into()))?
        .map_err(|e| fail("DescribeTable", DisplayErrorContext(e).to_string()))?;
        let arn = described
            .table()
            .and_then(|t| t.table_arn())
            .ok_or_else(|| fail("DescribeTable", "no TableArn in the answer".into()))?
            .to_owned();
        let backups = timeout_at(
            stop_at,
            self.client
                .describe_continuous_backups()
                .table_name(table)
                .send(),
        )
        .await
        .map_err(|_| fail("DescribeContinuousBackups", "deadline reached".into()))?
        .map_err(|e| {
            fail(
                "DescribeContinuousBackups",
                DisplayErrorContext(e).to_string(),
            )
        })?;
        let pitr = backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description());
        let latest = match pitr {
            Some(p)
                if p.point_in_time_recovery_status()
                    == Some(&PointInTimeRecoveryStatus::Enabled) =>
            {
                p.latest_restorable_date_time().map(|t| t.to_millis())
            }
            _ => {
                return Err(ExportError::PitrOff {
                    table: table.to_owned(),
                })
            }
        };
        let latest = latest.and_then(Result::ok).ok_or_else(|| {
            fail(
                "DescribeContinuousBackups",
                "no LatestRestorableDateTime".into(),
            )
        })?;
        Ok((arn, latest))
    }

    /// Starts the job's export (idempotent for 8 hours through its ClientToken); its ARN.
    pub async fn start(
        &self,
        job: &Job,
        table_arn: &str,
        stop_at: Instant,
    ) -> Result<String, ExportError> {
        let settings = &self.settings;
        let mut request = self
            .client
            .export_table_to_point_in_time()
            .table_arn(table_arn)
            .client_token(&job.token)
            .s3_bucket(&settings.bucket)
            .s3_prefix(&job.s3_prefix)
            .set_s3_bucket_owner(settings.bucket_owner.clone())
            .export_format(match settings.format {
                Format::DynamoDbJson => ExportFormat::DynamodbJson,
                Format::Ion => ExportFormat::Ion,
            });
        if let Some(key) = &settings.kms_key {
            request = request
                .s3_sse_algorithm(S3SseAlgorithm::Kms)
                .s3_sse_kms_key_id(key);
        }
        request = match job.kind {
            Kind::Full { export_time_ms } => request
                .export_type(ExportType::FullExport)
                .export_time(DateTime::from_millis(export_time_ms)),
            Kind::Incremental { from_ms, to_ms } => request
                .export_type(ExportType::IncrementalExport)
                .incremental_export_specification(
                    IncrementalExportSpecification::builder()
                        .export_from_time(DateTime::from_millis(from_ms))
                        .export_to_time(DateTime::from_millis(to_ms))
                        .export_view_type(ExportViewType::NewAndOldImages)
                        .build(),
                ),
        };
        let fail = |reason: String| ExportError::Call {
            table: job.table.clone(),
            operation: "ExportTableToPointInTime",
            reason,
        };
        let output = match timeout_at(stop_at, request.send()).await {
            Err(_) => return Err(fail("deadline reached".into())),
            Ok(Err(SdkError::ServiceError(e))) if refused(e.err()) => {
                return Err(ExportError::Refused {
                    table: job.table.clone(),
                    reason: DisplayErrorContext(e.into_err()).to_string(),
                })
            }
            // Anything else (a timeout, throttling, 5xx) may have started it: the next run
            // finds it by its prefix, or calls again with the same token.
            Ok(Err(e)) => return Err(fail(DisplayErrorContext(e).to_string())),
            Ok(Ok(output)) => output,
        };
        output
            .export_description()
            .and_then(|d| d.export_arn())
            .map(str::to_owned)
            .ok_or_else(|| fail("no ExportArn in the answer".into()))
    }

    /// The export of `table_arn` written under `s3_prefix`, if one was started at or after
    /// `since_ms`: how a job whose start call's answer was lost finds its export, even after
    /// the token expired.
    pub async fn find(
        &self,
        table: &str,
        table_arn: &str,
        s3_prefix: &str,
        since_ms: i64,
        stop_at: Instant,
    ) -> Result<Option<Described>, ExportError> {
        let mut pages = self
            .client
            .list_exports()
            .table_arn(table_arn)
            .into_paginator()
            .send();
        loop {
            let page = match timeout_at(stop_at, pages.next()).await {
                Err(_) => return Err(call(table, "ListExports", "deadline reached".into())),
                Ok(None) => return Ok(None),
                Ok(Some(page)) => page
                    .map_err(|e| call(table, "ListExports", DisplayErrorContext(e).to_string()))?,
            };
            for summary in page.export_summaries() {
                let Some(arn) = summary.export_arn() else {
                    continue;
                };
                // Export ids start with their start time in ms: older ones cannot be the
                // job's, and describing 90 days of 15-minute exports would not fit a run.
                if started_ms(arn).is_some_and(|started| started < since_ms - CLOCK_SKEW_MS) {
                    continue;
                }
                let described = self.describe(table, arn, stop_at).await?;
                if described.s3_prefix.as_deref() == Some(s3_prefix) {
                    return Ok(Some(described));
                }
            }
        }
    }

    /// What `DescribeExport` says of the export `arn` (of `table`, named in errors), by
    /// `stop_at`.
    pub async fn describe(
        &self,
        table: &str,
        arn: &str,
        stop_at: Instant,
    ) -> Result<Described, ExportError> {
        let output = timeout_at(
            stop_at,
            self.client.describe_export().export_arn(arn).send(),
        )
        .await
        .map_err(|_| call(table, "DescribeExport", "deadline reached".into()))?
        .map_err(|e| call(table, "DescribeExport", DisplayErrorContext(e).to_string()))?;
        let description = output.export_description().ok_or_else(|| {
            call(
                table,
                "DescribeExport",
                "no ExportDescription in the answer".into(),
            )
        })?;
        let state = match description.export_status() {
            Some(ExportStatus::Completed) => State::Completed,
            Some(ExportStatus::Failed) => State::Failed(format!(
                "{}: {}",
                description.failure_code().unwrap_or("FAILED"),
                description.failure_message().unwrap_or("no message")
            )),
            _ => State::InProgress,
        };
        Ok(Described {
            arn: arn.to_owned(),
            state,
            s3_prefix: description.s3_prefix().map(str::to_owned),
            manifest: description.export_manifest().map(str::to_owned),
        })
    }
}

/// DynamoDB's clock and ours may differ by this much.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// When an export started, from its id (`.../export/01693685827463-2d8752fd`).
fn started_ms(export_arn: &str) -> Option<i64> {
    let id = export_arn.rsplit('/').next()?;
    let (time, _) = id.split_once('-')?;
    (time.len() == 14).then(|| time.parse().ok()).flatten()
}

/// Start errors that the same call will meet again.
fn refused(error: &ExportTableToPointInTimeError) -> bool {
    matches!(
        error,
        ExportTableToPointInTimeError::InvalidExportTimeException(_)
            | ExportTableToPointInTimeError::PointInTimeRecoveryUnavailableException(_)
            | ExportTableToPointInTimeError::TableNotFoundException(_)
            | ExportTableToPointInTimeError::ExportConflictException(_)
    )
}

fn call(table: &str, operation: &'static str, reason: String) -> ExportError {
    ExportError::Call {
        table: table.to_owned(),
        operation,
        reason,
    }
}

/// The key of an export's `manifest-summary.json`: what DynamoDB names (relative to the prefix
/// or not), else where DynamoDB writes it, `PREFIX/AWSDynamoDB/EXPORT_ID/`.
pub fn manifest_key(s3_prefix: &str, export_arn: &str, named: Option<&str>) -> String {
    let prefix = s3_prefix.trim_end_matches('/');
    match named {
        Some(key) if key.starts_with(prefix) => key.to_owned(),
        Some(key) => format!("{prefix}/{}", key.trim_start_matches('/')),
        None => {
            let export_id = export_arn.rsplit('/').next().unwrap_or(export_arn);
            format!("{prefix}/AWSDynamoDB/{export_id}/manifest-summary.json")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exports_start_time_is_read_from_its_id() {
        assert_eq!(
            started_ms("arn:aws:dynamodb:us-east-1:1:table/t/export/01693685827463-2d8752fd"),
            Some(1_693_685_827_463)
        );
        assert_eq!(
            started_ms("arn:aws:dynamodb:us-east-1:1:table/t/import/6d0c0f4e"),
            None
        );
    }

    #[test]
    fn the_manifest_key_is_found_however_dynamodb_names_it() {
        let arn = "arn:aws:dynamodb:us-east-1:1:table/t/export/01693685827463-2d8752fd";
        let full = "exports/t/tok/AWSDynamoDB/01693685827463-2d8752fd/manifest-summary.json";
        assert_eq!(manifest_key("exports/t/tok", arn, None), full);
        assert_eq!(manifest_key("exports/t/tok", arn, Some(full)), full);
        assert_eq!(
            manifest_key(
                "exports/t/tok/",
                arn,
                Some("AWSDynamoDB/01693685827463-2d8752fd/manifest-summary.json")
            ),
            full
        );
    }
}
