//! The state table (`CDC_STATE_TABLE`): how far each data file got, so that a file stopped by
//! the deadline or a failure resumes from its last checkpoint, and so that an audit can tell
//! every file of an export was loaded with exactly its item count.
//!
//! Key: `pk` (S) = the export's ARN, `sk` (S) = `file#` + the data object's key (one item per
//! data file) or `manifest` (one per export). A file's item holds `status` (`loading`,
//! `loaded`, `mismatch`), `lines` (lines loaded, counted from the file's start), `records` and
//! `dead_letters` (cumulative), `item_count` (the manifest's), `object`, `detail` (why a
//! mismatch) and `updated_at` (epoch ms). Progress only moves forward: a write that would
//! take `lines` back (a late duplicate delivery) is refused by its condition.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_lambda::now_ms;
use tokio::time::{timeout_at, Instant};

use crate::manifest::Summary;
use crate::work::FileWork;

/// Where a file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not every line is loaded yet: loading resumes after `lines`.
    Loading,
    /// Every line was processed and the file matches its manifest entry.
    Loaded,
    /// Every line was processed, but the file does not match the manifest (item count or
    /// MD5): its lines are written, so this is recorded for an operator, not retried.
    Mismatch,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Loading => "loading",
            Status::Loaded => "loaded",
            Status::Mismatch => "mismatch",
        }
    }
}

/// A file's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Where the file stands.
    pub status: Status,
    /// Lines loaded from the file's start: loading resumes after them.
    pub lines: u64,
    /// Items written to the sinks, over every invocation that worked on the file.
    pub records: u64,
    /// Lines sent to the dead-letter queue instead, over every invocation.
    pub dead_letters: u64,
    /// Why the file does not match its manifest entry.
    pub detail: Option<String>,
    /// When it was saved, in ms since the epoch (saving writes the current time instead).
    pub updated_at_ms: i64,
}

/// A state-table call that failed or did not answer by the stop instant.
#[derive(Debug, thiserror::Error)]
#[error("state table {table}: {operation} failed: {reason}")]
pub struct StateError {
    /// The state table's name.
    pub table: String,
    /// What was being done, such as `"GetItem"`.
    pub operation: &'static str,
    /// The SDK error or the deadline.
    pub reason: String,
}

/// The state table as every user of it calls it: bounded by the stop instant, with errors
/// naming the table and the operation. export-trigger keeps its jobs through it too.
#[derive(Clone)]
pub struct StateStore {
    /// The DynamoDB client every call goes through.
    pub client: aws_sdk_dynamodb::Client,
    /// The state table's name.
    pub table: String,
}

impl StateStore {
    /// Awaits `call` (`operation` names it in errors) until `stop_at`.
    pub async fn call<T, E: std::error::Error>(
        &self,
        operation: &'static str,
        stop_at: Instant,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, StateError> {
        cdc_lambda::deadline::bounded(stop_at, call)
            .await
            .map_err(|reason| self.error(operation, reason))
    }

    /// A [`StateError`] for this table.
    pub fn error(&self, operation: &'static str, reason: String) -> StateError {
        StateError {
            table: self.table.clone(),
            operation,
            reason,
        }
    }
}

/// export-processor's records: each export's manifest, each data file's progress.
pub struct StateTable {
    store: StateStore,
}

impl StateTable {
    /// The state table `table`, reached with `client`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        StateTable {
            store: StateStore { client, table },
        }
    }

    /// The saved progress of the data file `key` of the export `export_arn`, if any.
    pub async fn progress(
        &self,
        export_arn: &str,
        key: &str,
        stop_at: Instant,
    ) -> Result<Option<Progress>, StateError> {
        let item = self
            .get(export_arn, &format!("file#{key}"), stop_at)
            .await?;
        if item.is_empty() {
            return Ok(None);
        }
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let status = match item
            .get("status")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some("loaded") => Status::Loaded,
            Some("mismatch") => Status::Mismatch,
            _ => Status::Loading,
        };
        Ok(Some(Progress {
            status,
            lines: number("lines"),
            records: number("records"),
            dead_letters: number("dead_letters"),
            detail: item.get("detail").and_then(|v| v.as_s().ok()).cloned(),
            updated_at_ms: number("updated_at") as i64,
        }))
    }

    /// Whether export-processor has read the export's manifest (it records it first).
    pub async fn manifest_seen(
        &self,
        export_arn: &str,
        stop_at: Instant,
    ) -> Result<bool, StateError> {
        Ok(!self.get(export_arn, "manifest", stop_at).await?.is_empty())
    }

    async fn get(
        &self,
        pk: &str,
        sk: &str,
        stop_at: Instant,
    ) -> Result<HashMap<String, AttributeValue>, StateError> {
        let call = self
            .store
            .client
            .get_item()
            .table_name(&self.store.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send();
        Ok(self
            .store
            .call("GetItem", stop_at, call)
            .await?
            .item
            .unwrap_or_default())
    }

    /// Saves the file's progress, unless a saved one got further.
    pub async fn save(
        &self,
        work: &FileWork,
        progress: &Progress,
        stop_at: Instant,
    ) -> Result<(), StateError> {
        let n = |v: u64| AttributeValue::N(v.to_string());
        let mut values = HashMap::from([
            (
                ":status".to_owned(),
                AttributeValue::S(progress.status.as_str().into()),
            ),
            (":lines".to_owned(), n(progress.lines)),
            (":records".to_owned(), n(progress.records)),
            (":dead_letters".to_owned(), n(progress.dead_letters)),
            (":item_count".to_owned(), n(work.item_count)),
            (":object".to_owned(), AttributeValue::S(work.object())),
            (
                ":updated_at".to_owned(),
                AttributeValue::N(now_ms().to_string()),
            ),
        ]);
        let mut update = "SET #status = :status, #lines = :lines, records = :records, \
             dead_letters = :dead_letters, item_count = :item_count, #object = :object, \
             updated_at = :updated_at"
            .to_owned();
        match &progress.detail {
            Some(detail) => {
                update.push_str(", detail = :detail");
                values.insert(":detail".into(), AttributeValue::S(detail.clone()));
            }
            None => update.push_str(" REMOVE detail"),
        }
        let call = self
            .store
            .client
            .update_item()
            .table_name(&self.store.table)
            .set_key(Some(file_key(work)))
            .update_expression(update)
            .condition_expression("attribute_not_exists(#lines) OR #lines <= :lines")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lines", "lines")
            .expression_attribute_names("#object", "object")
            .set_expression_attribute_values(Some(values))
            .send();
        match timeout_at(stop_at, call).await {
            Ok(Ok(_)) => Ok(()),
            // A duplicate delivery of the same file got further: keep its progress.
            Ok(Err(SdkError::ServiceError(e)))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Ok(Err(e)) => Err(self
                .store
                .error("UpdateItem", DisplayErrorContext(e).to_string())),
            Err(_) => Err(self.store.error("UpdateItem", "deadline reached".into())),
        }
    }

    /// Records that an export's manifest arrived: what it holds, for audits and `status`.
    pub async fn record_export(
        &self,
        bucket: &str,
        summary_key: &str,
        summary: &Summary,
        files: u64,
        items: u64,
        stop_at: Instant,
    ) -> Result<(), StateError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: u64| AttributeValue::N(v.to_string());
        let call = self
            .store
            .client
            .put_item()
            .table_name(&self.store.table)
            .item("pk", s(&summary.export_arn))
            .item("sk", s("manifest"))
            .item("table_name", s(&summary.table_name))
            .item("summary_object", s(&format!("s3://{bucket}/{summary_key}")))
            .item("files", n(files))
            .item("item_count", n(items))
            .item("received_at", AttributeValue::N(now_ms().to_string()))
            .send();
        self.store.call("PutItem", stop_at, call).await.map(|_| ())
    }
}

fn file_key(work: &FileWork) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(work.export_arn.clone())),
        (
            "sk".to_owned(),
            AttributeValue::S(format!("file#{}", work.key)),
        ),
    ])
}
