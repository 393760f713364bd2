//! What each messaging service provides to the shared delivery loop: its limits, how a
//! destination is resolved and one call sent, and how its per-entry answers are read.

use async_trait::async_trait;

use super::message::Message;
use crate::sink::{Failure, FailureKind, SharedError};

/// Per-call limits of a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub entries: usize,
    /// Total entry bytes per call; a larger entry goes alone.
    pub call_bytes: usize,
    /// The service's fixed limit per entry, when it has one: a larger record is rejected as
    /// permanent without a call. `None` when the destination decides (its limit is configurable).
    pub entry_bytes: Option<usize>,
}

/// A whole call that failed (or a destination that could not be resolved).
#[derive(Debug, Clone)]
pub(crate) struct CallFailure {
    pub kind: FailureKind,
    pub error: SharedError,
}

impl CallFailure {
    pub fn from_sdk<E>(error: &E) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
    {
        let Failure { kind, error, .. } = crate::retry::failure(0, error);
        CallFailure { kind, error }
    }

    /// A request we could not even build: deterministic, so retrying cannot help.
    pub fn build(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        CallFailure {
            kind: FailureKind::Permanent,
            error: std::sync::Arc::new(error),
        }
    }
}

/// Why one entry of a call was not accepted, as the service said.
#[derive(Debug, Clone)]
pub(crate) struct EntryError {
    pub code: String,
    pub message: String,
}

/// The entries of an SQS- or SNS-style batch call, one per message, each named by its position
/// in the call (what [`results_by_id`] reads back). `entry` builds one in the SDK's own type,
/// told whether the destination is FIFO (a queue URL or topic ARN ending in `.fifo`).
pub(crate) fn entries_by_id<E, B>(
    destination: &str,
    batch: &[&Message],
    entry: impl Fn(String, &Message, bool) -> Result<E, B>,
) -> Result<Vec<E>, CallFailure>
where
    B: std::error::Error + Send + Sync + 'static,
{
    let fifo = destination.ends_with(".fifo");
    batch
        .iter()
        .enumerate()
        .map(|(at, message)| entry(at.to_string(), message, fifo))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CallFailure::build)
}

/// Per-entry results of an SQS- or SNS-style batch call, whose entries are named by the id we
/// gave them (their position in the call). An entry counts as sent only when the response lists
/// it as successful: one it does not mention is retried, never assumed delivered.
pub(crate) fn results_by_id<'a>(
    len: usize,
    successful: impl IntoIterator<Item = &'a str>,
    failed: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> Vec<Result<(), EntryError>> {
    let unanswered = || EntryError {
        code: "NoResult".to_owned(),
        message: "the response did not mention this entry".to_owned(),
    };
    let mut results: Vec<Result<(), EntryError>> = (0..len).map(|_| Err(unanswered())).collect();
    for id in successful {
        if let Some(result) = id.parse::<usize>().ok().and_then(|at| results.get_mut(at)) {
            *result = Ok(());
        }
    }
    for (id, code, message) in failed {
        if let Some(result) = id.parse::<usize>().ok().and_then(|at| results.get_mut(at)) {
            *result = Err(EntryError {
                code: code.to_owned(),
                message: message.unwrap_or_default().to_owned(),
            });
        }
    }
    results
}

/// One messaging service: its limits, how to resolve a destination and send one call.
#[async_trait]
pub(crate) trait Transport: Send + Sync {
    /// Names the service in errors.
    const SERVICE: &'static str;
    const LIMITS: Limits;
    /// Calls in flight at once within a round (they carry different items, so order is safe).
    const CONCURRENT_CALLS: usize = 8;

    /// Bytes of an entry as the service counts them against its limits.
    fn entry_bytes(&self, message: &Message) -> usize;

    /// The destination of records of `table`.
    async fn destination(&self, table: &str) -> Result<String, CallFailure>;

    /// Sends `batch` (all to `destination`) in one call; one result per entry, in order.
    async fn send(
        &self,
        destination: &str,
        batch: &[&Message],
    ) -> Result<Vec<Result<(), EntryError>>, CallFailure>;

    fn api_calls(&self) -> u64;
}

/// Errors this module reports for single records.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error("the {service} message is {size} bytes, over the service's limit of {limit} bytes")]
    TooLarge {
        service: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("{service} rejected the entry: {code}: {message}")]
    Rejected {
        service: &'static str,
        code: String,
        message: String,
    },
    #[error("{service} did not accept the entry: {code}: {message}")]
    NotAccepted {
        service: &'static str,
        code: String,
        message: String,
    },
    #[error("not sent: record {earlier} of the same item was not delivered, and per-item order must hold")]
    Blocked { earlier: usize },
}

/// Per-entry error codes of the messaging APIs that mean the entry itself is invalid, on top
/// of [`crate::retry::classify_code`]'s. Anything else (throttling, internal errors, KMS
/// trouble, unknown codes) is retried.
const PERMANENT_ENTRY_CODES: &[&str] = &[
    "InvalidParameter",
    "InvalidArgument",
    "MalformedDetail",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "MessageTooLong",
];

pub(crate) fn entry_failure_kind(code: &str) -> FailureKind {
    if PERMANENT_ENTRY_CODES.contains(&code) {
        FailureKind::Permanent
    } else {
        crate::retry::classify_code(Some(code))
    }
}
