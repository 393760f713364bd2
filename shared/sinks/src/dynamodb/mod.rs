//! `dynamodb://TABLE`: a replica (default), a history (`?mode=history`) or a fast
//! last-writer-wins copy (`?mode=batch`) of the source table. `{table}` in TABLE routes each
//! source table to its own destination.
//!
//! **Replica** (`mode=replica`): one item per source item, written with `PutItem` only if its
//! `document_version` is newer than the stored one, or equal with a sequence number
//! (`_cdc_sequence`, zero-padded) at least the stored one. A REMOVE writes a *tombstone* (the keys, `_cdc_version`,
//! `_cdc_deleted = true`, `_cdc_expires_at` = now + `tombstone_ttl_days`) instead of deleting,
//! so a late snapshot copy of a deleted item (older version) cannot bring it back; enable TTL
//! on `_cdc_expires_at` to have DynamoDB remove tombstones. So the replica holds: every live
//! source item with its attributes as in the source plus `_cdc_version` and `_cdc_sequence`, and tombstones for
//! recent deletes. `tombstones=false` deletes with a conditional `DeleteItem` instead (no
//! protection against a late snapshot). Within a batch only each item's last change is
//! written: the earlier ones would be overwritten anyway. (So when that last change is rejected
//! for good — an item over 400 KB — it goes whole to the dead-letter queue and the item keeps
//! its state from before the batch.)
//!
//! Before the first write to a destination table its key schema is checked with
//! `DescribeTable` (see [`destination`]): a mismatch is retried, never written.
//!
//! **History** (`mode=history`): every change is its own item, keyed by `primary_key` (S,
//! partition key) and `change` (S, sort key: zero-padded `document_version`, `#`, zero-padded
//! sequence number or `export`), holding the change's metadata and its `document` (M), written
//! with `BatchWriteItem`. Retries rewrite the same items.
//!
//! **Batch** (`mode=batch`): `BatchWriteItem`, 25 requests per call, each item's last change
//! in the batch only (DynamoDB rejects two requests for one key in a call), unprocessed items
//! retried. No version guard: last writer wins, as Flink's DynamoDB sink with
//! `overwriteByPartitionKeys`. Fed by the stream alone the destination holds exactly the source
//! items; it does not protect against a late snapshot copy (use the replica for that).

mod batch_write;
mod convert;
mod destination;
mod history;
mod replica;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cdc_record::ChangeRecord;
use tokio::time::Instant;

use crate::per_table::PerTable;
use crate::sink::{Calls, DeleteMemory, Failure, FailureKind, SharedError, Sink, WriteReport};
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

pub use convert::SdkItem;
pub use destination::DestinationError;

/// What the destination table holds (`?mode=`; see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One item per source item, guarded by version, with tombstones for deletes (the default).
    Replica,
    /// One item per change.
    History,
    /// One item per source item, last writer wins, no version guard.
    Batch,
}

/// `dynamodb://TABLE?...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbConfig {
    /// The destination table's name; `{table}` in it stands for the source table's.
    pub table: PerTable,
    /// Replica, history or batch.
    pub mode: Mode,
    /// Replica mode: whether a REMOVE writes a tombstone (`true`, the default) or deletes the
    /// item (`tombstones=false`).
    pub tombstones: bool,
    /// How long a tombstone is kept (`_cdc_expires_at` = write time + this;
    /// `tombstone_ttl_days`, 7 days by default).
    pub tombstone_ttl: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
}

pub(crate) const OPTIONS: &[&str] = &["mode", "tombstones", "tombstone_ttl_days", "concurrency"];

impl DynamoDbConfig {
    /// Reads the table and the options `mode`, `tombstones`, `tombstone_ttl_days` (1 to 3650)
    /// and `concurrency` (1 to 256, 32 by default); fails on any other option or value.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        if url.target.is_empty() || url.target.contains('/') {
            return Err(url.invalid("expected dynamodb://TABLE (a table name, {table} allowed)"));
        }
        let mode = match url.choice("mode", &["replica", "history", "batch"])? {
            None | Some("replica") => Mode::Replica,
            Some("history") => Mode::History,
            _ => Mode::Batch,
        };
        let tombstones = url.choice("tombstones", &["true", "false"])? != Some("false");
        let days = url.number("tombstone_ttl_days", 1..=3650)?.unwrap_or(7);
        let concurrency = url.number("concurrency", 1..=256)?.unwrap_or(32);
        let config = DynamoDbConfig {
            table: PerTable::new(url.target),
            mode,
            tombstones,
            tombstone_ttl: Duration::from_secs(days * 86_400),
            concurrency: concurrency as usize,
        };
        url.finish(OPTIONS)?;
        Ok(config)
    }

    /// The sink, named `name` (its URL), with a DynamoDB client from `aws`.
    pub async fn build(&self, name: &str, aws: &AwsContext) -> DynamoDbSink {
        DynamoDbSink {
            name: name.to_owned(),
            client: aws_sdk_dynamodb::Client::new(aws.config().await),
            config: self.clone(),
            calls: Calls::default(),
            checked: destination::Checked::default(),
        }
    }
}

/// The `dynamodb://` sink.
pub struct DynamoDbSink {
    name: String,
    client: aws_sdk_dynamodb::Client,
    config: DynamoDbConfig,
    calls: Calls,
    checked: destination::Checked,
}

#[async_trait]
impl Sink for DynamoDbSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        if let Err(report) = destination::check(self, records, deadline).await {
            return report;
        }
        match self.config.mode {
            Mode::Replica => replica::write(self, records, deadline).await,
            Mode::History => history::write(self, records, deadline).await,
            Mode::Batch => batch_write::write_last_per_item(self, records, deadline).await,
        }
    }

    fn api_calls(&self) -> u64 {
        self.calls.get()
    }

    async fn delete_memory(
        &self,
        _table: &str,
        _deadline: Instant,
    ) -> Result<DeleteMemory, SharedError> {
        Ok(match self.config.mode {
            Mode::Replica if self.config.tombstones => DeleteMemory::For(self.config.tombstone_ttl),
            Mode::Replica | Mode::Batch => DeleteMemory::Never,
            Mode::History => DeleteMemory::NotNeeded,
        })
    }
}

impl DynamoDbSink {
    fn count_call(&self) {
        self.calls.add();
    }

    fn table_for(&self, record: &ChangeRecord<'_>) -> String {
        self.config.table.for_table(&record.table_name).into_owned()
    }
}

/// Each destination item's last change in the batch (see [`crate::sink::last_change_per_item`]).
fn latest_changes(sink: &DynamoDbSink, records: &[ChangeRecord<'_>]) -> Vec<usize> {
    crate::sink::last_change_per_item(records, |r| {
        let table = sink.config.table.for_table(&r.table_name);
        (table.into_owned(), r.key.primary_key.to_string())
    })
}

/// The document as SDK attributes (`None`: a REMOVE without document).
fn document_item(record: &ChangeRecord<'_>) -> Result<Option<SdkItem>, Failure> {
    let Some(document) = &record.document else {
        return Ok(None);
    };
    let item = document.item().map_err(|e| permanent(0, e))?;
    convert::item(&item).map(Some).map_err(|e| permanent(0, e))
}

/// The stream sequence number zero-padded to 40 digits (text order is number order), or all
/// zeros for an export item.
fn padded_sequence(record: &ChangeRecord<'_>) -> String {
    format!(
        "{:0>40}",
        record.sequence_number.as_deref().unwrap_or_default()
    )
}

fn key_item(record: &ChangeRecord<'_>) -> Result<SdkItem, Failure> {
    convert::item(&record.key.attributes).map_err(|e| permanent(0, e))
}

fn permanent(index: usize, error: impl std::error::Error + Send + Sync + 'static) -> Failure {
    Failure {
        index,
        kind: FailureKind::Permanent,
        error: Arc::new(error),
    }
}
