//! History mode: every change as its own item, keyed by item and change.

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use cdc_record::ChangeRecord;
use tokio::time::Instant;

use super::batch_write::write_requests;
use super::{document_item, permanent, DynamoDbSink};
use crate::sink::{Failure, WriteReport};

pub(crate) const PARTITION_KEY: &str = "primary_key";
pub(crate) const SORT_KEY: &str = "change";

pub(super) async fn write(
    sink: &DynamoDbSink,
    records: &[ChangeRecord<'_>],
    deadline: Instant,
) -> WriteReport {
    write_requests(sink, records, 0..records.len(), history_item, deadline).await
}

/// `change` sorts by version, then by sequence number (both zero-padded).
pub(crate) fn change_id(record: &ChangeRecord<'_>) -> String {
    match &record.sequence_number {
        Some(_) => format!("{:020}#{}", record.version, super::padded_sequence(record)),
        None => format!("{:020}#export", record.version),
    }
}

fn history_item(record: &ChangeRecord<'_>) -> Result<WriteRequest, Failure> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let opt = |v: Option<&str>| v.map_or(AttributeValue::Null(true), s);
    let document = match document_item(record)? {
        Some(item) => AttributeValue::M(item),
        None => AttributeValue::Null(true),
    };
    let put = PutRequest::builder()
        .item(PARTITION_KEY, s(&record.key.primary_key))
        .item(SORT_KEY, s(&change_id(record)))
        .item("table_name", s(&record.table_name))
        .item("partition_key", s(&record.key.partition_key))
        .item("sort_key", opt(record.key.sort_key.as_deref()))
        .item(
            "dynamodb_event_name",
            opt(record.event_name.map(|e| e.as_str())),
        )
        .item("opensearch_action", s(record.action.as_str()))
        .item(
            "dynamodb_timestamp",
            AttributeValue::N(record.timestamp_ms.to_string()),
        )
        .item(
            "document_version",
            AttributeValue::N(record.version.to_string()),
        )
        .item("sequence_number", opt(record.sequence_number.as_deref()))
        .item("event_id", opt(record.event_id.as_deref()))
        .item("ttl_delete", AttributeValue::Bool(record.ttl_delete))
        .item("source", s(record.source.as_str()))
        .item("document", document)
        .build()
        .map_err(|e| permanent(0, e))?;
    Ok(WriteRequest::builder().put_request(put).build())
}
