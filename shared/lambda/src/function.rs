//! The contract between a function's handler and the shared entry point.

use std::future::Future;

use cdc_telemetry::Metrics;

use crate::settings::FunctionSettings;
use serde::Serialize;
use tokio::time::Instant;

/// A Lambda function of the project: handles one invocation's payload, as raw bytes.
pub trait Function {
    /// What the invocation answers Lambda.
    type Response: Response;
    /// Why a whole invocation failed (Lambda then retries it).
    type Error: std::error::Error + ErrorType;

    /// The settings every function has (the deadline margin among them).
    fn settings(&self) -> &FunctionSettings;

    /// Handles one payload, finishing by `stop_at`.
    fn handle(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> impl Future<Output = Result<Invocation<Self::Response>, Self::Error>>;

    /// The payloads that send the records of a file of dead letters (`--redrive FILE`)
    /// through [`Function::handle_redriven`] again; refuses what redriving could make diverge.
    /// A function that cannot redrive says so.
    fn redrive(&self, letters: &[u8]) -> impl Future<Output = Result<Redrive, String>> {
        let _ = letters;
        async { Err("this function does not redrive dead letters".into()) }
    }

    /// Handles one redriven payload: as [`Function::handle`], for records that were
    /// dead-lettered already (so none is dead-lettered again for its age).
    fn handle_redriven(
        &self,
        payload: &[u8],
        stop_at: Instant,
    ) -> impl Future<Output = Result<Invocation<Self::Response>, Self::Error>> {
        self.handle(payload, stop_at)
    }
}

/// Dead letters turned back into payloads (see [`Function::redrive`]).
#[derive(Debug, Default)]
pub struct Redrive {
    /// Payloads to handle, in the letters' order.
    pub payloads: Vec<Vec<u8>>,
    /// Letters that cannot be redriven this way, each with its line and why (no values).
    pub skipped: Vec<String>,
}

/// What an invocation produced: its answer and its metrics.
#[derive(Debug)]
pub struct Invocation<R> {
    /// The answer serialized back to Lambda.
    pub response: R,
    /// The metrics written to stdout as one EMF line once the invocation ends.
    pub metrics: Metrics,
}

/// An invocation's answer to Lambda.
pub trait Response: Serialize {
    /// Whether some of the work must be retried (a local run then exits with failure).
    fn has_failures(&self) -> bool;
}

/// Names the kind of a failure: Lambda records it as the invocation's `errorType`, where alarms
/// and log queries can match it.
pub trait ErrorType {
    /// A short, stable name for the failure kind, such as `"ExportFailed"`.
    fn error_type(&self) -> &'static str;
}

/// Lambda's partial batch response, the same for stream and SQS event sources: the stream's
/// first failed `SequenceNumber`, or each failed SQS `messageId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    /// The items Lambda must retry; empty when the whole batch succeeded.
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One entry of a [`BatchResponse`]: an item Lambda must retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    /// The stream record's `SequenceNumber` or the SQS message's `messageId`.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl BatchResponse {
    /// A response failing exactly these items.
    pub fn failing(identifiers: impl IntoIterator<Item = String>) -> Self {
        BatchResponse {
            batch_item_failures: identifiers
                .into_iter()
                .map(|item_identifier| ItemFailure { item_identifier })
                .collect(),
        }
    }
}

impl Response for BatchResponse {
    fn has_failures(&self) -> bool {
        !self.batch_item_failures.is_empty()
    }
}
