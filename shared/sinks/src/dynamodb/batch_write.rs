//! `BatchWriteItem` in calls of 25 requests, unprocessed items retried with backoff, a call
//! the service rejects as invalid split up to find the request at fault.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use cdc_record::{Action, ChangeRecord};
use futures::stream::{self, StreamExt};
use tokio::time::{timeout_at, Instant};

use super::{document_item, key_item, latest_changes, DynamoDbSink};
use crate::retry::{classify, failure, Backoff, CallError};
use crate::sink::{DeadlineExceeded, Failure, FailureKind, NoNewImage, WriteReport};

/// DynamoDB's limit per `BatchWriteItem` call.
const MAX_REQUESTS: usize = 25;

/// One request and the record it writes.
pub(super) struct Pending {
    pub index: usize,
    pub table: String,
    pub request: WriteRequest,
}

/// `mode=batch`: each item's last change, last writer wins.
pub(super) async fn write_last_per_item(
    sink: &DynamoDbSink,
    records: &[ChangeRecord<'_>],
    deadline: Instant,
) -> WriteReport {
    let indices = latest_changes(sink, records);
    write_requests(sink, records, indices, plain_request, deadline).await
}

/// The record as a put of its document or a delete of its key, unguarded.
fn plain_request(record: &ChangeRecord<'_>) -> Result<WriteRequest, Failure> {
    NoNewImage::check(0, record)?;
    match record.action {
        Action::Index => {
            let put = PutRequest::builder()
                .set_item(document_item(record)?)
                .build();
            put.map(|p| WriteRequest::builder().put_request(p).build())
                .map_err(|e| super::permanent(0, e))
        }
        Action::Delete => {
            let delete = DeleteRequest::builder()
                .set_key(Some(key_item(record)?))
                .build();
            delete
                .map(|d| WriteRequest::builder().delete_request(d).build())
                .map_err(|e| super::permanent(0, e))
        }
    }
}

/// Builds the request of each record at `indices` and writes them all.
pub(super) async fn write_requests(
    sink: &DynamoDbSink,
    records: &[ChangeRecord<'_>],
    indices: impl IntoIterator<Item = usize>,
    request: impl Fn(&ChangeRecord<'_>) -> Result<WriteRequest, Failure>,
    deadline: Instant,
) -> WriteReport {
    let mut failures = Vec::new();
    let mut pending = Vec::new();
    for index in indices {
        let record = &records[index];
        match request(record) {
            Ok(request) => pending.push(Pending {
                index,
                table: sink.table_for(record),
                request,
            }),
            Err(f) => failures.push(Failure { index, ..f }),
        }
    }
    failures.extend(write_all(sink, pending, deadline).await);
    WriteReport { failures }
}

/// Writes every request (keys must be unique per table), calls running concurrently.
pub(super) async fn write_all(
    sink: &DynamoDbSink,
    pending: Vec<Pending>,
    deadline: Instant,
) -> Vec<Failure> {
    let mut chunks: Vec<Vec<Pending>> = Vec::with_capacity(pending.len().div_ceil(MAX_REQUESTS));
    for request in pending {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < MAX_REQUESTS => chunk.push(request),
            _ => chunks.push(vec![request]),
        }
    }
    stream::iter(chunks)
        .map(|chunk| write_chunk(sink, chunk, deadline))
        .buffer_unordered(sink.config.concurrency)
        .flat_map(stream::iter)
        .collect()
        .await
}

async fn write_chunk(
    sink: &DynamoDbSink,
    mut chunk: Vec<Pending>,
    deadline: Instant,
) -> Vec<Failure> {
    let mut backoff = Backoff::default();
    loop {
        let mut request_items: HashMap<String, Vec<WriteRequest>> = HashMap::new();
        for p in &chunk {
            request_items
                .entry(p.table.clone())
                .or_default()
                .push(p.request.clone());
        }
        sink.count_call();
        let call = sink
            .client
            .batch_write_item()
            .set_request_items(Some(request_items))
            .send();
        let output = match timeout_at(deadline, call).await {
            Err(_) => return fail_all(&chunk, FailureKind::Retryable, Arc::new(DeadlineExceeded)),
            Ok(Err(e)) if classify(&e) == FailureKind::Permanent && chunk.len() > 1 => {
                // One bad request (an item over 400 KB, say) fails the whole call: isolate it.
                let mut failures = Vec::new();
                for single in chunk {
                    failures.extend(Box::pin(write_chunk(sink, vec![single], deadline)).await);
                }
                return failures;
            }
            Ok(Err(e)) => return chunk.iter().map(|p| failure(p.index, &e)).collect(),
            Ok(Ok(output)) => output,
        };
        let unprocessed: Vec<(String, WriteRequest)> = output
            .unprocessed_items
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(table, requests)| requests.into_iter().map(move |r| (table.clone(), r)))
            .collect();
        if unprocessed.is_empty() {
            return Vec::new();
        }
        let is_unprocessed = |p: &Pending| {
            unprocessed
                .iter()
                .any(|(table, r)| *table == p.table && *r == p.request)
        };
        if chunk.iter().filter(|p| is_unprocessed(p)).count() != unprocessed.len() {
            // An unprocessed request we cannot tie to its record: count none of them as written.
            let error = CallError(format!(
                "{} unprocessed items could not be matched to the {} requests sent",
                unprocessed.len(),
                chunk.len()
            ));
            return fail_all(&chunk, FailureKind::Retryable, Arc::new(error));
        }
        chunk.retain(is_unprocessed);
        if !backoff.wait(deadline).await {
            let error = CallError(format!(
                "{} items still unprocessed at the deadline",
                chunk.len()
            ));
            return fail_all(&chunk, FailureKind::Retryable, Arc::new(error));
        }
    }
}

fn fail_all(chunk: &[Pending], kind: FailureKind, error: crate::sink::SharedError) -> Vec<Failure> {
    chunk
        .iter()
        .map(|p| Failure {
            index: p.index,
            kind,
            error: error.clone(),
        })
        .collect()
}
