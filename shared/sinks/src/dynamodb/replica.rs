//! Replica mode: version-guarded `PutItem` per item, tombstones for deletes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use cdc_record::{Action, ChangeRecord};
use futures::stream::{self, StreamExt};
use tokio::time::{timeout_at, Instant};

use super::{document_item, key_item, latest_changes, DynamoDbSink};
use crate::retry::failure;
use crate::sink::{DeadlineExceeded, Failure, FailureKind, NoNewImage, WriteReport};

pub(crate) const VERSION: &str = "_cdc_version";
/// The change's stream sequence number, zero-padded to 40 digits so that text order is number
/// order; all zeros for export items (a stream change of the same version is newer).
pub(crate) const SEQUENCE: &str = "_cdc_sequence";
pub(crate) const DELETED: &str = "_cdc_deleted";
pub(crate) const EXPIRES_AT: &str = "_cdc_expires_at";

/// Newer versions win; between equal versions (changes within one second share one) the
/// later sequence number wins, so a write abandoned at a deadline that lands after a newer
/// same-second change cannot undo it. The same change again is rewritten (replays are
/// idempotent). An item without a version (written by someone else) loses; one without a
/// sequence (written by a release before it was kept) loses to an equal version.
const NEWER: &str =
    "attribute_not_exists(#v) OR #v < :v OR (#v = :v AND (attribute_not_exists(#s) OR #s <= :s))";

pub(super) async fn write(
    sink: &DynamoDbSink,
    records: &[ChangeRecord<'_>],
    deadline: Instant,
) -> WriteReport {
    let writes = latest_changes(sink, records)
        .into_iter()
        .map(|index| async move {
            let outcome = match timeout_at(deadline, put(sink, &records[index])).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure {
                    index,
                    kind: FailureKind::Retryable,
                    error: Arc::new(DeadlineExceeded),
                }),
            };
            outcome.map_err(|failure| Failure { index, ..failure })
        });
    let failures = stream::iter(writes)
        .buffer_unordered(sink.config.concurrency)
        .filter_map(|outcome| async move { outcome.err() })
        .collect::<Vec<_>>()
        .await;
    WriteReport { failures }
}

async fn put(sink: &DynamoDbSink, record: &ChangeRecord<'_>) -> Result<(), Failure> {
    NoNewImage::check(0, record)?;
    let version = AttributeValue::N(record.version.to_string());
    let sequence = AttributeValue::S(super::padded_sequence(record));
    let table = sink.table_for(record);
    let item = match (record.action, sink.config.tombstones) {
        (Action::Index, _) => document_item(record)?.unwrap_or_default(),
        (Action::Delete, true) => {
            let mut tombstone = key_item(record)?;
            tombstone.insert(DELETED.into(), AttributeValue::Bool(true));
            tombstone.insert(
                EXPIRES_AT.into(),
                AttributeValue::N(expiry(sink).to_string()),
            );
            tombstone
        }
        (Action::Delete, false) => {
            sink.count_call();
            let deleted = sink
                .client
                .delete_item()
                .table_name(table)
                .set_key(Some(key_item(record)?))
                .condition_expression(NEWER)
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_names("#s", SEQUENCE)
                .expression_attribute_values(":v", version)
                .expression_attribute_values(":s", sequence)
                .send()
                .await;
            return unless_stale(deleted);
        }
    };
    sink.count_call();
    let put = sink
        .client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .item(VERSION, version.clone())
        .item(SEQUENCE, sequence.clone())
        .condition_expression(NEWER)
        .expression_attribute_names("#v", VERSION)
        .expression_attribute_names("#s", SEQUENCE)
        .expression_attribute_values(":v", version)
        .expression_attribute_values(":s", sequence)
        .send()
        .await;
    unless_stale(put)
}

/// A failed condition means a newer change (or the same one) is already stored: the outcome we want.
fn unless_stale<T, E>(result: Result<T, E>) -> Result<(), Failure>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    match result {
        Err(e) if e.code() != Some("ConditionalCheckFailedException") => Err(failure(0, &e)),
        _ => Ok(()),
    }
}

fn expiry(sink: &DynamoDbSink) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now + sink.config.tombstone_ttl).as_secs()
}
