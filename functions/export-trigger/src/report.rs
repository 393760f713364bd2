//! What `status` (and every run) answers: where each table's last export stands, in words a
//! person reads, and in fields a script reads.

use aws_smithy_types::date_time::{DateTime, Format as DateFormat};
use cdc_exports::manifest::Kind;
use serde::Serialize;

use crate::jobs::{Job, Status};

/// The answer of one invocation.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// One entry per table the command covered.
    pub tables: Vec<TableReport>,
}

impl cdc_lambda::Response for Report {
    fn has_failures(&self) -> bool {
        self.tables.iter().any(|t| t.error.is_some())
    }
}

/// Where one table stands: a sentence for people, fields for scripts. Fields that do not
/// apply are left out of the JSON.
#[derive(Debug, Default, Serialize)]
pub struct TableReport {
    /// The table.
    pub table: String,
    /// One sentence: what is going on.
    pub summary: String,
    /// The last job's status, such as `LOADED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// The last export in words: `full export at TIME` or `incremental export FROM to TO`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
    /// The export's ARN, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_arn: Option<String>,
    /// The job's attempt number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Time since the attempt started, such as `2h 05m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed: Option<String>,
    /// `N of M` data files loaded, once audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_loaded: Option<String>,
    /// `N of M` items loaded, once audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_loaded: Option<String>,
    /// Files that do not match their manifest entry, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_mismatched: Option<u64>,
    /// Why the job's last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// What went wrong in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TableReport {
    /// The table's last job (none yet) as of `now_ms`.
    pub fn of(table: &str, job: Option<&Job>, now_ms: i64) -> TableReport {
        let Some(job) = job else {
            return TableReport {
                table: table.to_owned(),
                summary: "no export yet: run {\"action\": \"start\"}".into(),
                ..Default::default()
            };
        };
        let export = describe(job.kind);
        let elapsed = duration(now_ms - job.started_at_ms);
        let audit = job.audit;
        let summary = match job.status {
            Status::Starting => format!("{export}: starting (attempt {})", job.attempt),
            Status::InProgress => format!("{export}: exporting for {elapsed} (attempt {})", job.attempt),
            Status::Completed => match audit {
                Some(a) => format!(
                    "{export}: loading for {elapsed}: {} of {} files, {} of {} items",
                    a.files_loaded, a.files, a.items_loaded, a.items
                ),
                None => format!("{export}: exported, waiting for the load to start ({elapsed})"),
            },
            Status::Loaded => format!("{export}: loaded"),
            Status::Incomplete => format!(
                "{export}: incomplete: {} of {} files do not match their manifest (see the state table); start a new full export",
                audit.map_or(0, |a| a.mismatched),
                audit.map_or(0, |a| a.files)
            ),
            Status::GaveUp => format!(
                "{export}: gave up after attempt {}: {}; start a new export",
                job.attempt,
                job.failure.as_deref().unwrap_or("no reason given")
            ),
        };
        TableReport {
            table: table.to_owned(),
            summary,
            status: Some(job.status.as_str()),
            export: Some(export),
            export_arn: job.export_arn.clone(),
            attempt: Some(job.attempt),
            elapsed: Some(elapsed),
            files_loaded: audit.map(|a| format!("{} of {}", a.files_loaded, a.files)),
            items_loaded: audit.map(|a| format!("{} of {}", a.items_loaded, a.items)),
            files_mismatched: audit.map(|a| a.mismatched).filter(|n| *n > 0),
            failure: job.failure.clone(),
            error: None,
        }
    }

    /// A table whose run failed.
    pub fn failed(table: &str, error: &dyn std::error::Error) -> TableReport {
        TableReport {
            table: table.to_owned(),
            summary: format!("failed: {error}"),
            error: Some(error.to_string()),
            ..Default::default()
        }
    }
}

fn describe(kind: Kind) -> String {
    match kind {
        Kind::Full { export_time_ms } => format!("full export at {}", time(export_time_ms)),
        Kind::Incremental { from_ms, to_ms } => {
            format!("incremental export {} to {}", time(from_ms), time(to_ms))
        }
    }
}

fn time(ms: i64) -> String {
    DateTime::from_millis(ms)
        .fmt(DateFormat::DateTime)
        .unwrap_or_else(|_| ms.to_string())
}

/// `2h 05m`, `4m 10s`.
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Audit;

    #[test]
    fn says_where_a_load_stands_in_words() {
        let mut job = Job::new(
            "orders",
            "arn:t",
            Kind::Full {
                export_time_ms: 1_795_278_192_000,
            },
            1,
            "exports",
            0,
        );
        job.status = Status::Completed;
        job.audit = Some(Audit {
            files: 10,
            items: 5000,
            files_loaded: 3,
            items_loaded: 1200,
            mismatched: 0,
        });
        let report = TableReport::of("orders", Some(&job), 7_500_000);
        assert_eq!(
            report.summary,
            "full export at 2026-11-21T16:23:12Z: loading for 2h 05m: 3 of 10 files, 1200 of 5000 items"
        );
        assert_eq!(report.files_loaded.as_deref(), Some("3 of 10"));
        assert!(TableReport::of("users", None, 0)
            .summary
            .starts_with("no export yet"));
    }
}
