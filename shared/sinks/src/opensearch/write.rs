//! One write: each document's last change encoded, split into bulk requests, each request
//! sent and retried until every operation has its outcome or the deadline comes.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use cdc_record::ChangeRecord;
use futures::stream::{self, StreamExt};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use tokio::time::{timeout_at, Instant};

use super::auth::Unsigned;
use super::bulk::{self, Operations, Outcome, MAX_ID_BYTES};
use super::{OpenSearchSink, NDJSON};
use crate::retry::error_chain;
use crate::retry::Backoff;
use crate::sink::{DeadlineExceeded, Failure, FailureKind, NoNewImage, SharedError, WriteReport};
use cdc_lambda::log_values::loggable;

pub(super) async fn write(
    sink: &OpenSearchSink,
    records: &[ChangeRecord<'_>],
    deadline: Instant,
) -> WriteReport {
    let (operations, mut failures) = encode(sink, records);
    let operations = &operations;
    let requests = operations
        .chunks(sink.config.max_bytes)
        .into_iter()
        .map(|chunk| send_all(sink, operations, chunk, deadline));
    let sent: Vec<Vec<Failure>> = stream::iter(requests)
        .buffer_unordered(sink.config.concurrency)
        .collect()
        .await;
    failures.extend(sent.into_iter().flatten());
    failures.sort_by_key(|f| f.index);
    WriteReport { failures }
}

/// The operations for each document's last change in `records`, in stream order, and the
/// records rejected before sending.
fn encode(sink: &OpenSearchSink, records: &[ChangeRecord<'_>]) -> (Operations, Vec<Failure>) {
    let indices: Vec<Cow<'_, str>> = records
        .iter()
        .map(|r| sink.index_for(&r.table_name))
        .collect();
    let latest = crate::sink::last_change_per_item(records, |r| {
        (
            sink.index_for(&r.table_name).into_owned(),
            r.key.primary_key.to_string(),
        )
    });

    let mut operations = Operations::with_capacity(latest.len());
    let mut failures = Vec::new();
    for at in latest {
        let record = &records[at];
        if let Err(failure) = NoNewImage::check(at, record) {
            failures.push(failure);
        } else if record.key.primary_key.len() > MAX_ID_BYTES {
            failures.push(Failure {
                index: at,
                kind: FailureKind::Permanent,
                error: Arc::new(IdTooLong(record.key.primary_key.len())),
            });
        } else {
            operations.push(at, record, &indices[at]);
        }
    }
    (operations, failures)
}

#[derive(Debug, thiserror::Error)]
#[error(
    "the primary key has {0} bytes; OpenSearch accepts a document _id of at most {MAX_ID_BYTES}"
)]
struct IdTooLong(usize);

/// Retrying a failure until the deadline stopped a retry in flight.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} (a retry was still in flight at the invocation's deadline; outcome left for the retry)"
)]
struct CutShort(SharedError);

#[derive(Debug, thiserror::Error)]
#[error("the document's bulk operation ({0} bytes) is larger than the cluster accepts (HTTP 413)")]
struct TooLarge(usize);

/// What one request achieved for the operations it carried.
enum Attempt {
    /// Every operation has its final outcome; these records were rejected for good.
    Done(Vec<Failure>),
    /// `retry` (all of them, or the items the cluster asked to retry) may succeed later.
    Retry {
        rejected: Vec<Failure>,
        retry: Vec<usize>,
        error: SharedError,
    },
    /// The request was too large for the cluster: halve it.
    TooLarge,
    /// Retrying soon cannot help (credentials, settings): give up for now.
    Stop(SharedError),
    /// The deadline came before the request was answered: give up, outcome unknown.
    DeadlinePassed,
}

/// Sends operations `chunk` until each has its outcome; returns the records that failed.
async fn send_all(
    sink: &OpenSearchSink,
    operations: &Operations,
    chunk: Vec<usize>,
    deadline: Instant,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut queue = VecDeque::from([chunk]);
    let mut backoff = Backoff::default();
    // Why the request now being sent is a retry, if it is one.
    let mut retrying: Option<SharedError> = None;
    while let Some(pending) = queue.pop_front() {
        let retry_of = retrying.take();
        match attempt(sink, operations, &pending, deadline).await {
            Attempt::Done(rejected) => failures.extend(rejected),
            Attempt::Retry {
                rejected,
                retry,
                error,
            } => {
                failures.extend(rejected);
                queue.push_front(retry);
                if backoff.wait(deadline).await {
                    let text = loggable(&error.to_string()).into_owned();
                    tracing::warn!(sink = %sink.name, error = %text, "retrying bulk operations");
                    retrying = Some(error);
                } else {
                    give_up(sink, operations, &mut queue, &mut failures, &error);
                }
            }
            Attempt::TooLarge if pending.len() == 1 => {
                let error: SharedError = Arc::new(TooLarge(operations.size(pending[0])));
                failures.push(failure(
                    operations,
                    pending[0],
                    FailureKind::Permanent,
                    &error,
                ));
            }
            Attempt::TooLarge => {
                let (first, second) = pending.split_at(pending.len() / 2);
                queue.push_front(second.to_vec());
                queue.push_front(first.to_vec());
            }
            Attempt::Stop(error) => {
                queue.push_front(pending);
                give_up(sink, operations, &mut queue, &mut failures, &error);
            }
            Attempt::DeadlinePassed => {
                // A retry cut short says less than the failure that made it necessary.
                let error: SharedError = match retry_of {
                    Some(cause) => Arc::new(CutShort(cause)),
                    None => Arc::new(DeadlineExceeded),
                };
                queue.push_front(pending);
                give_up(sink, operations, &mut queue, &mut failures, &error);
            }
        }
    }
    failures
}

/// Everything still queued fails as retryable.
fn give_up(
    sink: &OpenSearchSink,
    operations: &Operations,
    queue: &mut VecDeque<Vec<usize>>,
    failures: &mut Vec<Failure>,
    error: &SharedError,
) {
    let text = loggable(&error.to_string()).into_owned();
    tracing::warn!(sink = %sink.name, error = %text, "bulk operations left for Lambda to retry");
    failures.extend(
        queue
            .drain(..)
            .flatten()
            .map(|op| failure(operations, op, FailureKind::Retryable, error)),
    );
}

fn failure(operations: &Operations, op: usize, kind: FailureKind, error: &SharedError) -> Failure {
    Failure {
        index: operations.record(op),
        kind,
        error: error.clone(),
    }
}

/// One bulk request for operations `ops`, classified.
async fn attempt(
    sink: &OpenSearchSink,
    operations: &Operations,
    ops: &[usize],
    deadline: Instant,
) -> Attempt {
    let body = operations.body(ops);
    let retry_all = |error: SharedError| Attempt::Retry {
        rejected: Vec::new(),
        retry: ops.to_vec(),
        error,
    };
    let unsigned = Unsigned {
        method: "POST",
        url: &sink.bulk_url,
        content_type: Some(NDJSON),
        body: &body,
    };
    let headers = match timeout_at(deadline, sink.auth.headers(&unsigned)).await {
        Ok(Ok(headers)) => headers,
        Ok(Err(e)) => return retry_all(Arc::new(e)),
        Err(_) => return Attempt::DeadlinePassed,
    };
    sink.count_call();
    let request = sink
        .client
        .post(&sink.bulk_url)
        .header(CONTENT_TYPE, NDJSON)
        .headers(headers.into_iter().collect())
        .body(body)
        .send();
    let response = timeout_at(deadline, async {
        let response = request.await?;
        let status = response.status();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    })
    .await;
    let (status, body) = match response {
        Err(_) => return Attempt::DeadlinePassed,
        Ok(Err(e)) => return retry_all(Arc::new(HttpError::Send(error_chain(&e)))),
        Ok(Ok(response)) => response,
    };
    if status.is_success() {
        return match bulk::parse_response(&body, operations, ops) {
            Ok(outcomes) => items(operations, ops, outcomes),
            Err(e) => retry_all(Arc::new(e)),
        };
    }
    let error: SharedError = Arc::new(HttpError::Status {
        status: status.as_u16(),
        body: excerpt(&body),
    });
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => Attempt::TooLarge,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => retry_all(error),
        _ if status.is_server_error() => retry_all(error),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            sink.auth.refused().await;
            Attempt::Stop(error)
        }
        // Our requests are well-formed, so a 400 or 404 for the request as a whole is about
        // the endpoint (a proxy, a wrong path), not about any record: never dead-letter.
        _ => Attempt::Stop(error),
    }
}

/// Splits the item outcomes of one request into done, rejected and to retry.
fn items(operations: &Operations, ops: &[usize], outcomes: Vec<Outcome>) -> Attempt {
    let mut rejected = Vec::new();
    let mut retry = Vec::new();
    let mut error = None;
    for (&op, outcome) in ops.iter().zip(outcomes) {
        match outcome {
            Outcome::Accepted => {}
            Outcome::Reject(e) => {
                rejected.push(failure(
                    operations,
                    op,
                    FailureKind::Permanent,
                    &(Arc::new(e) as SharedError),
                ));
            }
            Outcome::Retry(e) => {
                retry.push(op);
                error.get_or_insert_with(|| Arc::new(e) as SharedError);
            }
        }
    }
    match error {
        None => Attempt::Done(rejected),
        Some(error) => Attempt::Retry {
            rejected,
            retry,
            error,
        },
    }
}

/// A bulk request that failed as a whole.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
    #[error("bulk request failed: {0}")]
    Send(String),
    #[error("bulk request failed with HTTP status {status}: {body}")]
    Status { status: u16, body: String },
}

/// The start of an error response, enough to say what went wrong.
pub(super) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 500;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    if body.len() > MAX {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}
