//! Whether a completed export is loaded: every data file of its `manifest-files.json` loaded
//! by export-processor with exactly its item count, per the state table; and which files to
//! send again because nothing has moved them for a while.

use std::time::Duration;

use cdc_exports::manifest::{self, DataFile, ManifestError, Summary};
use cdc_exports::state::{StateError, StateTable, Status};
use tokio::time::Instant;

use crate::jobs::Audit;

/// Why an audit could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The export's manifests cannot be read or parsed.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A data file's progress cannot be read from the state table.
    #[error(transparent)]
    State(#[from] StateError),
}

/// What an audit found.
#[derive(Debug)]
pub struct Findings {
    /// The export's `manifest-summary.json`.
    pub summary: Summary,
    /// The counts to record on the job.
    pub audit: Audit,
    /// Files to send to the work queue again.
    pub stalled: Vec<DataFile>,
    /// What differs, for each file loaded that does not match its manifest entry.
    pub mismatches: Vec<String>,
}

/// What an audit reads: the manifests in S3 and each data file's progress in the state table.
pub struct Auditor<'a> {
    /// The client the manifests are read with.
    pub s3: &'a aws_sdk_s3::Client,
    /// Where export-processor records each file's progress.
    pub state: &'a StateTable,
    /// The export bucket.
    pub bucket: &'a str,
    /// How long a file may go without progress before it counts as stalled
    /// (`CDC_EXPORT_REDRIVE_AFTER_MINUTES`).
    pub redrive_after: Duration,
}

impl Auditor<'_> {
    /// Audits the export whose summary is at `summary_key`; files without progress since
    /// `since_ms` (or their last progress, if later) for `redrive_after` count as stalled.
    pub async fn audit(
        &self,
        summary_key: &str,
        since_ms: i64,
        now_ms: i64,
        stop_at: Instant,
    ) -> Result<Findings, AuditError> {
        let (summary, files) = manifest::read(self.s3, self.bucket, summary_key, stop_at).await?;
        let mut findings = Findings {
            audit: Audit::default(),
            stalled: Vec::new(),
            mismatches: Vec::new(),
            summary,
        };
        let stale = |at_ms: i64| now_ms - at_ms >= self.redrive_after.as_millis() as i64;
        for file in files {
            let audit = &mut findings.audit;
            audit.files += 1;
            audit.items += file.item_count;
            let progress = self
                .state
                .progress(&findings.summary.export_arn, &file.key, stop_at)
                .await?;
            match progress {
                Some(p) if p.status == Status::Loaded && p.lines == file.item_count => {
                    audit.files_loaded += 1;
                    audit.items_loaded += p.lines;
                }
                Some(p) if p.status == Status::Mismatch => {
                    audit.mismatched += 1;
                    audit.items_loaded += p.lines;
                    findings
                        .mismatches
                        .push(p.detail.unwrap_or_else(|| file.key.clone()));
                }
                Some(p) if p.status == Status::Loaded => {
                    // Loaded, but not the manifest's count: a processor that did not check.
                    audit.mismatched += 1;
                    audit.items_loaded += p.lines;
                    findings.mismatches.push(format!(
                        "{}: {} lines loaded where the manifest says {} items",
                        file.key, p.lines, file.item_count
                    ));
                }
                Some(p) => {
                    audit.items_loaded += p.lines;
                    if stale(p.updated_at_ms.max(since_ms)) {
                        findings.stalled.push(file);
                    }
                }
                None if stale(since_ms) => findings.stalled.push(file),
                None => {}
            }
        }
        Ok(findings)
    }
}
