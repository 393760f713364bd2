//! Retrying what a call partly failed (unprocessed items, per-entry errors), with exponential
//! backoff and full jitter, never past the invocation's stop instant. Whole-call failures are
//! retried by the SDK itself (see [`cdc_lambda::aws`]).

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
pub use cdc_lambda::backoff::Backoff;

use crate::sink::FailureKind;

/// Error codes that mean the request itself is wrong for good: retrying cannot help, so the
/// record is dead-lettered. Everything else (throttling, 5xx, timeouts, unknown) is retried,
/// so a transient failure is never dead-lettered.
const PERMANENT_CODES: &[&str] = &[
    "ValidationException",
    "SerializationException",
    "ItemCollectionSizeLimitExceededException",
    "InvalidParameterValue",
    "InvalidParameterException",
    "InvalidMessageContents",
    "InvalidArgumentException",
    "InvalidRequest",
    "EntityTooLarge",
    "KeyTooLongError",
    "MalformedXML",
    "BatchRequestTooLong",
];

/// Validation messages that come from a destination set up wrong (a replica whose key schema
/// is not the source's) rather than from the record: every record would fail alike, so they
/// are retried until an operator fixes the destination, never dead-lettered one by one.
const MISCONFIGURED_DESTINATION: &[&str] = &[
    "key element does not match the schema",
    "Missing the key",
    "One of the required keys was not given a value",
    "Type mismatch for key",
    "Requested resource not found",
];

/// Classifies an SDK error (or an error code from a per-entry failure).
pub fn classify(error: &impl ProvideErrorMetadata) -> FailureKind {
    let misconfigured = error.message().is_some_and(|m| {
        MISCONFIGURED_DESTINATION
            .iter()
            .any(|needle| m.contains(needle))
    });
    if misconfigured {
        return FailureKind::Retryable;
    }
    classify_code(error.code())
}

/// Classifies an error code alone: permanent for the codes that say the request itself is
/// invalid (such as `ValidationException`), retryable for any other code and for none.
pub fn classify_code(code: Option<&str>) -> FailureKind {
    match code {
        Some(code) if PERMANENT_CODES.contains(&code) => FailureKind::Permanent,
        _ => FailureKind::Retryable,
    }
}

/// An AWS call that failed, as text with the SDK's full context.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

impl CallError {
    /// An SDK error with its whole chain of causes: the one formatter every sink uses.
    pub fn of(error: &impl std::error::Error) -> CallError {
        CallError(aws_smithy_types::error::display::DisplayErrorContext(error).to_string())
    }
}

/// An error with its causes, `: `-joined, for messages that must say why (connection
/// refused, ...) when the error is no SDK error (those go through [`CallError::of`]).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The failure of record `index` from an SDK error, classified.
pub fn failure<E>(index: usize, error: &E) -> crate::sink::Failure
where
    E: ProvideErrorMetadata + std::error::Error,
{
    crate::sink::Failure {
        index,
        kind: classify(error),
        error: std::sync::Arc::new(CallError::of(error)),
    }
}
