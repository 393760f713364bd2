//! The work queue (`CDC_EXPORT_QUEUE`): one message per data file, so that a large export
//! loads in parallel across as many invocations as its event source mapping allows.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use cdc_lambda::backoff::Backoff;
use tokio::time::{timeout_at, Instant};

use crate::work::Work;

/// SQS takes at most ten messages per `SendMessageBatch`.
const BATCH: usize = 10;

/// Sending work stopped part-way; the messages before `sent` were sent.
#[derive(Debug, thiserror::Error)]
#[error("work queue {queue}: {sent} of {total} messages sent, then: {reason}")]
pub struct QueueError {
    /// The queue's URL.
    pub queue: String,
    /// Messages sent before the failing batch (a multiple of ten).
    pub sent: usize,
    /// Messages there were to send.
    pub total: usize,
    /// The SDK error, the first entry SQS refused, or the deadline.
    pub reason: String,
}

/// The work queue export-processor reads, for sending it [`Work`].
pub struct WorkQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl WorkQueue {
    /// The queue at `url`, reached with `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        WorkQueue { client, url }
    }

    /// Sends every piece of work, retrying entries SQS failed, by `stop_at`. On error, the
    /// caller fails the message that asked for them: its redelivery sends them all again
    /// (a file loaded twice only rewrites what it wrote).
    pub async fn send_work(&self, works: &[Work], stop_at: Instant) -> Result<(), QueueError> {
        for (n, chunk) in works.chunks(BATCH).enumerate() {
            self.send_batch(chunk, stop_at)
                .await
                .map_err(|reason| QueueError {
                    queue: self.url.clone(),
                    sent: n * BATCH,
                    total: works.len(),
                    reason,
                })?;
        }
        Ok(())
    }

    async fn send_batch(&self, works: &[Work], stop_at: Instant) -> Result<(), String> {
        let mut pending: Vec<(String, String)> = works
            .iter()
            .enumerate()
            .map(|(i, work)| (i.to_string(), work.to_message()))
            .collect();
        let mut backoff = Backoff::default();
        loop {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let call = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send();
            let output = match timeout_at(stop_at, call).await {
                Ok(Ok(output)) => output,
                Ok(Err(e)) => return Err(DisplayErrorContext(e).to_string()),
                Err(_) => return Err("deadline reached".into()),
            };
            let failed: Vec<&str> = output.failed().iter().map(|f| f.id()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            let reason = output
                .failed()
                .first()
                .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or("")))
                .unwrap_or_default();
            pending.retain(|(id, _)| failed.contains(&id.as_str()));
            if !backoff.wait(stop_at).await {
                return Err(reason);
            }
        }
    }
}
