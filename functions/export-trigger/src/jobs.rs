//! Jobs: one per export a table needs (its full export, then each incremental window), kept in
//! the state table so that every step survives a crash. A job is written, with its
//! `ClientToken` and S3 prefix, *before* the export is started, and its export ARN after.
//!
//! Key: `pk` = `table#` + table name, `sk` = `job#` + the zero-padded time its data ends at
//! (export time, or window end), so the last job sorts last.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_exports::manifest::Kind;
use cdc_exports::state::{StateError, StateStore};
use tokio::time::{timeout_at, Instant};

use crate::plan;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Written; the export may or may not have been started (the call's answer was not saved).
    Starting,
    /// The export is running.
    InProgress,
    /// Exported; its files are being loaded.
    Completed,
    /// Every data file loaded with its manifest's item count.
    Loaded,
    /// Every data file went through, but some do not match their manifest (a truncated
    /// object, another item count or MD5): the sinks may lack items. Not chained from; a new
    /// full export repairs it.
    Incomplete,
    /// The export failed `CDC_EXPORT_MAX_ATTEMPTS` times, or an operator abandoned it.
    GaveUp,
}

impl Status {
    /// The status as stored in the state table and shown in reports, such as `IN_PROGRESS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "STARTING",
            Status::InProgress => "IN_PROGRESS",
            Status::Completed => "COMPLETED",
            Status::Loaded => "LOADED",
            Status::Incomplete => "INCOMPLETE",
            Status::GaveUp => "GAVE_UP",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        [
            Status::Starting,
            Status::InProgress,
            Status::Completed,
            Status::Loaded,
            Status::Incomplete,
            Status::GaveUp,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Still being exported or loaded: a new export waits.
    pub fn busy(self) -> bool {
        matches!(
            self,
            Status::Starting | Status::InProgress | Status::Completed
        )
    }

    /// Ended without a complete load: it needs an operator (a new full export), and nothing
    /// is started after it on a schedule, where it would fail or leave a gap alike.
    pub fn blocked(self) -> bool {
        matches!(self, Status::Incomplete | Status::GaveUp)
    }
}

/// One export of one table, through its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The table exported.
    pub table: String,
    /// Full (with its export time) or incremental (with its window).
    pub kind: Kind,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// The attempt's `ClientToken`, which makes starting the export idempotent.
    pub token: String,
    /// Where the export writes in the bucket; it carries the token, so a lost export can be
    /// found again by it.
    pub s3_prefix: String,
    /// Where the job stands.
    pub status: Status,
    /// The export's ARN, once the start call's answer was saved (or the export was found).
    pub export_arn: Option<String>,
    /// The key of the export's `manifest-summary.json`, once known.
    pub manifest_key: Option<String>,
    /// Why the last attempt failed.
    pub failure: Option<String>,
    /// When this attempt was written, in ms since the epoch.
    pub started_at_ms: i64,
    /// When the export was seen completed, in ms since the epoch.
    pub completed_at_ms: Option<i64>,
    /// When this function sent the manifest to the work queue itself.
    pub manifest_sent_at_ms: Option<i64>,
    /// When it last sent files without progress to the work queue again.
    pub redriven_at_ms: Option<i64>,
    /// What the last audit of the load found; `None` before the first.
    pub audit: Option<Audit>,
}

/// What the last audit of a job's load found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audit {
    /// Data files the manifest lists.
    pub files: u64,
    /// Items the manifest says those files hold.
    pub items: u64,
    /// Files loaded with exactly their manifest's item count.
    pub files_loaded: u64,
    /// Lines loaded so far, over every file (finished or not).
    pub items_loaded: u64,
    /// Files loaded whose line count or MD5 differs from the manifest.
    pub mismatched: u64,
}

impl Job {
    /// Attempt `attempt` at exporting `kind` of `table`.
    pub fn new(
        table: &str,
        table_arn: &str,
        kind: Kind,
        attempt: u32,
        prefix: &str,
        now_ms: i64,
    ) -> Job {
        let token = plan::client_token(table_arn, kind, attempt);
        Job {
            table: table.to_owned(),
            kind,
            attempt,
            s3_prefix: plan::s3_prefix(prefix, table, &token),
            token,
            status: Status::Starting,
            export_arn: None,
            manifest_key: None,
            failure: None,
            started_at_ms: now_ms,
            completed_at_ms: None,
            manifest_sent_at_ms: None,
            redriven_at_ms: None,
            audit: None,
        }
    }

    /// The next attempt after a failure: a new token, so DynamoDB starts a new export.
    pub fn retried(&self, table_arn: &str, prefix: &str, now_ms: i64) -> Job {
        Job {
            failure: self.failure.clone(),
            ..Job::new(
                &self.table,
                table_arn,
                self.kind,
                self.attempt + 1,
                prefix,
                now_ms,
            )
        }
    }
}

/// The jobs of every table, kept in the state table.
pub struct Jobs {
    store: StateStore,
}

impl Jobs {
    /// Jobs kept in the state table `table`, reached with `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Jobs {
            store: StateStore { client, table },
        }
    }

    /// The table's last job, if any.
    pub async fn latest(&self, table: &str, stop_at: Instant) -> Result<Option<Job>, StateError> {
        let call = self
            .store
            .client
            .query()
            .table_name(&self.store.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :job)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("table#{table}")))
            .expression_attribute_values(":job", AttributeValue::S("job#".into()))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send();
        let output = self.store.call("Query", stop_at, call).await?;
        match output.items().first() {
            None => Ok(None),
            Some(item) => from_item(item).map(Some).ok_or_else(|| {
                let reason = format!("a job of table {table} cannot be read back: {item:?}");
                self.store.error("Query", reason)
            }),
        }
    }

    /// Writes a new job; `false` when one for the same export exists (another run wrote it).
    pub async fn create(&self, job: &Job, stop_at: Instant) -> Result<bool, StateError> {
        let call = self
            .store
            .client
            .put_item()
            .table_name(&self.store.table)
            .set_item(Some(to_item(job)))
            .condition_expression("attribute_not_exists(pk)")
            .send();
        match timeout_at(stop_at, call).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(SdkError::ServiceError(e)))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Ok(Err(e)) => Err(self
                .store
                .error("PutItem", DisplayErrorContext(e).to_string())),
            Err(_) => Err(self.store.error("PutItem", "deadline reached".into())),
        }
    }

    /// Saves a job's new state.
    pub async fn save(&self, job: &Job, stop_at: Instant) -> Result<(), StateError> {
        let call = self
            .store
            .client
            .put_item()
            .table_name(&self.store.table)
            .set_item(Some(to_item(job)))
            .send();
        self.store.call("PutItem", stop_at, call).await.map(|_| ())
    }
}

fn to_item(job: &Job) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: i64| AttributeValue::N(v.to_string());
    let mut item = HashMap::from([
        ("pk".to_owned(), s(&format!("table#{}", job.table))),
        (
            "sk".to_owned(),
            s(&format!("job#{:013}", plan::end_ms(job.kind))),
        ),
        ("table_name".to_owned(), s(&job.table)),
        ("attempt".to_owned(), n(job.attempt.into())),
        ("token".to_owned(), s(&job.token)),
        ("s3_prefix".to_owned(), s(&job.s3_prefix)),
        ("status".to_owned(), s(job.status.as_str())),
        ("started_at".to_owned(), n(job.started_at_ms)),
    ]);
    match job.kind {
        Kind::Full { export_time_ms } => {
            item.insert("export_type".into(), s("FULL_EXPORT"));
            item.insert("export_time".into(), n(export_time_ms));
        }
        Kind::Incremental { from_ms, to_ms } => {
            item.insert("export_type".into(), s("INCREMENTAL_EXPORT"));
            item.insert("from_time".into(), n(from_ms));
            item.insert("to_time".into(), n(to_ms));
        }
    }
    let optional = [
        ("export_arn", job.export_arn.as_deref().map(s)),
        ("manifest_key", job.manifest_key.as_deref().map(s)),
        ("failure", job.failure.as_deref().map(s)),
        ("completed_at", job.completed_at_ms.map(n)),
        ("manifest_sent_at", job.manifest_sent_at_ms.map(n)),
        ("redriven_at", job.redriven_at_ms.map(n)),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?))),
    );
    if let Some(audit) = job.audit {
        for (name, value) in [
            ("files", audit.files),
            ("items", audit.items),
            ("files_loaded", audit.files_loaded),
            ("items_loaded", audit.items_loaded),
            ("files_mismatched", audit.mismatched),
        ] {
            item.insert(name.into(), n(value as i64));
        }
    }
    item
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Job> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let n = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())?
            .parse::<i64>()
            .ok()
    };
    let kind = match s("export_type")?.as_str() {
        "FULL_EXPORT" => Kind::Full {
            export_time_ms: n("export_time")?,
        },
        _ => Kind::Incremental {
            from_ms: n("from_time")?,
            to_ms: n("to_time")?,
        },
    };
    let audit = n("files").map(|files| Audit {
        files: files as u64,
        items: n("items").unwrap_or(0) as u64,
        files_loaded: n("files_loaded").unwrap_or(0) as u64,
        items_loaded: n("items_loaded").unwrap_or(0) as u64,
        mismatched: n("files_mismatched").unwrap_or(0) as u64,
    });
    Some(Job {
        table: s("table_name")?,
        kind,
        attempt: u32::try_from(n("attempt")?).ok()?,
        token: s("token")?,
        s3_prefix: s("s3_prefix")?,
        status: Status::parse(&s("status")?)?,
        export_arn: s("export_arn"),
        manifest_key: s("manifest_key"),
        failure: s("failure"),
        started_at_ms: n("started_at")?,
        completed_at_ms: n("completed_at"),
        manifest_sent_at_ms: n("manifest_sent_at"),
        redriven_at_ms: n("redriven_at"),
        audit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_back_as_written() {
        let mut job = Job::new(
            "orders",
            "arn:t",
            Kind::Incremental {
                from_ms: 1,
                to_ms: 2,
            },
            2,
            "exports",
            9,
        );
        assert_eq!(from_item(&to_item(&job)), Some(job.clone()));
        job.export_arn = Some("arn:e".into());
        job.status = Status::Completed;
        job.completed_at_ms = Some(10);
        job.audit = Some(Audit {
            files: 3,
            items: 30,
            files_loaded: 2,
            items_loaded: 20,
            mismatched: 1,
        });
        assert_eq!(from_item(&to_item(&job)), Some(job.clone()));
        let retried = job.retried("arn:t", "exports", 11);
        assert_eq!(
            (retried.attempt, retried.status, retried.export_arn),
            (3, Status::Starting, None)
        );
        assert_ne!(retried.token, job.token);
        assert_ne!(retried.s3_prefix, job.s3_prefix);
    }
}
