//! The Bulk API's wire format: operations as NDJSON, and the response's per-item results
//! classified into what they mean for the record.

use std::fmt;
use std::ops::Range;

use cdc_record::{Action, ChangeRecord};
use serde::Deserialize;

/// OpenSearch rejects a document `_id` longer than this (in bytes) since 2.9, and it does
/// so for the whole bulk request; such records are rejected before sending.
pub(super) const MAX_ID_BYTES: usize = 512;

/// The encoded operations of one write, in one buffer.
pub(super) struct Operations {
    buf: Vec<u8>,
    ops: Vec<Operation>,
}

struct Operation {
    record: usize,
    action: Action,
    bytes: Range<usize>,
}

impl Operations {
    pub(super) fn with_capacity(operations: usize) -> Self {
        Operations {
            buf: Vec::new(),
            ops: Vec::with_capacity(operations),
        }
    }

    /// Appends record `record`'s action line (and document line for `index`).
    ///
    /// `version_type=external_gte`: a change applies unless the stored document has a newer
    /// version; equal versions apply too, because changes made within the same millisecond
    /// (or second, as DynamoDB rounds) share a version and the later one must win.
    pub(super) fn push(&mut self, record: usize, change: &ChangeRecord<'_>, index: &str) {
        let start = self.buf.len();
        let buf = &mut self.buf;
        buf.extend_from_slice(b"{\"");
        buf.extend_from_slice(change.action.as_str().as_bytes());
        buf.extend_from_slice(b"\":{\"_index\":");
        cdc_record::write_json_string(buf, index);
        buf.extend_from_slice(b",\"_id\":");
        cdc_record::write_json_string(buf, &change.key.primary_key);
        buf.extend_from_slice(b",\"version\":");
        buf.extend_from_slice(change.version.to_string().as_bytes());
        buf.extend_from_slice(b",\"version_type\":\"external_gte\"}}\n");
        if change.action == Action::Index {
            change.write_document(buf);
            buf.push(b'\n');
        }
        self.ops.push(Operation {
            record,
            action: change.action,
            bytes: start..self.buf.len(),
        });
    }

    pub(super) fn record(&self, op: usize) -> usize {
        self.ops[op].record
    }

    pub(super) fn action(&self, op: usize) -> Action {
        self.ops[op].action
    }

    pub(super) fn size(&self, op: usize) -> usize {
        self.ops[op].bytes.len()
    }

    /// Groups all operations, in order, into requests of at most `max_bytes` each (an
    /// operation larger than that alone goes in a request of its own).
    pub(super) fn chunks(&self, max_bytes: usize) -> Vec<Vec<usize>> {
        let mut chunks = Vec::new();
        let mut chunk = Vec::new();
        let mut size = 0;
        for (op, operation) in self.ops.iter().enumerate() {
            let len = operation.bytes.len();
            if !chunk.is_empty() && size + len > max_bytes {
                chunks.push(std::mem::take(&mut chunk));
                size = 0;
            }
            chunk.push(op);
            size += len;
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        chunks
    }

    /// The request body holding operations `ops`, in that order.
    pub(super) fn body(&self, ops: &[usize]) -> Vec<u8> {
        let size = ops.iter().map(|&op| self.ops[op].bytes.len()).sum();
        let mut body = Vec::with_capacity(size);
        for &op in ops {
            body.extend_from_slice(&self.buf[self.ops[op].bytes.clone()]);
        }
        body
    }
}

/// What one item's result means for its record.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Durably applied, or superseded by a newer version: done.
    Accepted,
    /// May succeed later (throttled, unavailable, unauthorised, index missing).
    Retry(ItemError),
    /// The cluster will never accept this document (mapping or validation error).
    Reject(ItemError),
}

/// An item the cluster did not apply.
#[derive(Debug, Clone)]
pub struct ItemError {
    /// The item's HTTP status in the bulk response, such as 400 or 429.
    pub status: u16,
    /// OpenSearch's error type, such as `mapper_parsing_exception` (empty when absent).
    pub kind: String,
    /// OpenSearch's explanation of the error.
    pub reason: String,
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OpenSearch bulk item failed with status {}: {}: {}",
            self.status, self.kind, self.reason
        )
    }
}

impl std::error::Error for ItemError {}

/// A bulk response we cannot map back to the operations sent (the outcome is unknown).
#[derive(Debug, thiserror::Error)]
pub(super) enum ResponseError {
    #[error("unreadable bulk response: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the bulk response has {got} items for {sent} operations")]
    Count { got: usize, sent: usize },
}

#[derive(Deserialize)]
struct Response {
    items: Vec<Item>,
}

/// `{"index": {...}}` or `{"delete": {...}}`: one key naming the operation.
#[derive(Deserialize)]
struct Item {
    #[serde(alias = "index", alias = "delete", alias = "create", alias = "update")]
    result: ItemResult,
}

#[derive(Deserialize)]
struct ItemResult {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Error types that say "not now" whatever their status: a read-only or closed index (disk
/// watermark, maintenance), a missing index (auto-creation off), overload.
const RETRYABLE_TYPES: &[&str] = &[
    "cluster_block_exception",
    "index_closed_exception",
    "index_not_found_exception",
    "rejected_execution_exception",
    "es_rejected_execution_exception",
    "circuit_breaking_exception",
    "unavailable_shards_exception",
    "process_cluster_event_timeout_exception",
    "no_shard_available_action_exception",
    "node_not_connected_exception",
    "timeout_exception",
];

/// Maps the response of a request holding operations `ops` back to them, in order.
pub(super) fn parse_response(
    body: &[u8],
    operations: &Operations,
    ops: &[usize],
) -> Result<Vec<Outcome>, ResponseError> {
    let response: Response = serde_json::from_slice(body)?;
    if response.items.len() != ops.len() {
        return Err(ResponseError::Count {
            got: response.items.len(),
            sent: ops.len(),
        });
    }
    Ok(response
        .items
        .into_iter()
        .zip(ops)
        .map(|(item, &op)| classify(operations.action(op), item.result))
        .collect())
}

fn classify(action: Action, result: ItemResult) -> Outcome {
    let error = item_error(&result);
    match result.status {
        200..=299 => Outcome::Accepted,
        // `external_gte` refused it: the stored document is newer, which is the outcome we want.
        409 if error.kind == "version_conflict_engine_exception" => Outcome::Accepted,
        // Deleting what is not there: it is gone either way.
        404 if action == Action::Delete => Outcome::Accepted,
        400..=499 if is_permanent(&error) => Outcome::Reject(error),
        _ => Outcome::Retry(error),
    }
}

/// A 4xx says the document itself is wrong, unless it is about access, conflicts, throttling
/// or the index's state: those get fixed without changing the record.
fn is_permanent(error: &ItemError) -> bool {
    !matches!(error.status, 401 | 403 | 404 | 408 | 409 | 429)
        && !RETRYABLE_TYPES.contains(&error.kind.as_str())
}

fn item_error(result: &ItemResult) -> ItemError {
    let (kind, reason) = match &result.error {
        Some(serde_json::Value::Object(error)) => (
            error.get("type").and_then(|t| t.as_str()).unwrap_or(""),
            error
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_owned(),
        ),
        Some(other) => ("", other.to_string()),
        None => ("", String::new()),
    };
    ItemError {
        status: result.status,
        kind: kind.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: u16, kind: &str) -> ItemResult {
        ItemResult {
            status,
            error: (!kind.is_empty())
                .then(|| serde_json::json!({"type": kind, "reason": "because"})),
        }
    }

    fn is(outcome: Outcome) -> &'static str {
        match outcome {
            Outcome::Accepted => "accepted",
            Outcome::Retry(_) => "retry",
            Outcome::Reject(_) => "reject",
        }
    }

    #[test]
    fn classifies_item_results() {
        let index = Action::Index;
        let delete = Action::Delete;
        let cases = [
            (index, 201, "", "accepted"),
            (index, 200, "", "accepted"),
            (index, 409, "version_conflict_engine_exception", "accepted"),
            (delete, 409, "version_conflict_engine_exception", "accepted"),
            (delete, 404, "", "accepted"),
            (index, 404, "index_not_found_exception", "retry"),
            (index, 429, "rejected_execution_exception", "retry"),
            (index, 500, "exception", "retry"),
            (index, 503, "unavailable_shards_exception", "retry"),
            (index, 403, "cluster_block_exception", "retry"),
            (index, 400, "index_closed_exception", "retry"),
            (index, 409, "other_conflict", "retry"),
            (index, 400, "mapper_parsing_exception", "reject"),
            (index, 400, "illegal_argument_exception", "reject"),
            (index, 413, "", "reject"),
        ];
        for (action, status, kind, expected) in cases {
            assert_eq!(
                is(classify(action, result(status, kind))),
                expected,
                "{action:?} {status} {kind}"
            );
        }
    }

    #[test]
    fn chunks_keep_order_and_respect_the_size_cap() {
        let mut operations = Operations::with_capacity(3);
        for (record, len) in [(0, 40), (1, 40), (2, 200), (3, 10)] {
            let start = operations.buf.len();
            operations.buf.extend(std::iter::repeat_n(b'x', len));
            operations.ops.push(Operation {
                record,
                action: Action::Index,
                bytes: start..start + len,
            });
        }
        assert_eq!(operations.chunks(100), vec![vec![0, 1], vec![2], vec![3]]);
        assert_eq!(operations.chunks(1000), vec![vec![0, 1, 2, 3]]);
    }
}
