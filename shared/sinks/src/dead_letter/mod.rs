//! Dead letters: records that cannot be mapped, or that a sink rejects for good, kept whole
//! with the reason so that nothing is lost and the shard is never blocked by them.
//!
//! Queues: JSON Lines on stdout, stderr or a file ([`jsonl`]), an SQS queue ([`sqs`]) or S3
//! objects ([`s3`]). Every one carries each letter as the line [`DeadLetter::write_json_line`]
//! writes.

mod jsonl;
pub mod read;
pub mod s3;
pub mod sqs;

use std::borrow::Cow;

use async_trait::async_trait;
use cdc_record::Source;
use tokio::time::Instant;

use crate::sink::SharedError;

pub use jsonl::JsonLinesDeadLetters;
pub use s3::S3DeadLetterConfig;
pub use sqs::{QueueRef, SqsDeadLetterConfig};

/// One record that will not reach the sinks.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    /// The record exactly as received (a stream record's JSON, or an export line).
    pub raw: &'a str,
    /// Why it was not written: the mapping error or the sink's rejection. It may quote item
    /// data, so it goes into the letter, never into logs.
    pub reason: String,
    /// Whether the record came from the stream or an export.
    pub source: Source,
    /// The stream record's `SequenceNumber`; `None` for export lines and for stream records
    /// where it could not be read.
    pub sequence_number: Option<Cow<'a, str>>,
    /// The record's table, `None` when it could not be read.
    pub table_name: Option<Cow<'a, str>>,
}

impl DeadLetter<'_> {
    /// `{"reason", "source", "sequence_number", "table_name", "record"}` on one line; `record` is
    /// the original JSON, or a string when the original was not JSON.
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        let json_string = cdc_record::write_json_string;
        out.extend_from_slice(b"{\"reason\":");
        json_string(out, &self.reason);
        out.extend_from_slice(b",\"source\":");
        json_string(out, self.source.as_str());
        out.extend_from_slice(b",\"sequence_number\":");
        match &self.sequence_number {
            Some(seq) => json_string(out, seq),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"table_name\":");
        match &self.table_name {
            Some(table) => json_string(out, table),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"record\":");
        if serde_json::from_str::<serde::de::IgnoredAny>(self.raw).is_ok() {
            cdc_record::write_compact_json(out, self.raw);
        } else {
            json_string(out, self.raw);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Letters `..sent` reached the queue; `sent` and later did not.
#[derive(Debug, thiserror::Error)]
#[error("dead-letter queue {queue} took {sent} letters, then failed: {error}")]
pub struct DeadLetterError {
    /// The queue's name (its `CDC_DLQ` URL).
    pub queue: String,
    /// How many letters, from the first, the queue durably holds.
    pub sent: usize,
    /// Why the rest were not sent.
    pub error: SharedError,
}

/// Sends `letters` (each with the position of its record in the caller's batch, in order) to
/// `queue` by `stop_at`, logging each with its sequence number and table, never its content
/// or reason. On failure, names the position of the first letter the queue may not hold, with
/// why: the caller must not acknowledge that record or any after it.
pub async fn send_in_order(
    queue: &dyn DeadLetterQueue,
    letters: &[(usize, DeadLetter<'_>)],
    stop_at: Instant,
) -> Result<(), (usize, String)> {
    let Some((first, _)) = letters.first() else {
        return Ok(());
    };
    // The reason stays in the letter: parse errors quote the values they met, and logs must
    // not carry item data.
    for (_, letter) in letters {
        tracing::warn!(
            sequence_number = letter.sequence_number.as_deref().unwrap_or("unknown"),
            table = letter.table_name.as_deref().unwrap_or("unknown"),
            "dead-lettering record"
        );
    }
    let only: Vec<DeadLetter<'_>> = letters.iter().map(|(_, l)| l.clone()).collect();
    match tokio::time::timeout_at(stop_at, queue.send(&only, stop_at)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err((letters[e.sent.min(letters.len() - 1)].0, e.to_string())),
        Err(_) => Err((
            *first,
            format!("dead-letter queue {}: deadline reached", queue.name()),
        )),
    }
}

/// A durable place for dead letters.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Names the queue in logs and errors (its `CDC_DLQ` URL, or `stderr`/`stdout`).
    fn name(&self) -> &str;

    /// Sends the letters in order; on error, says how many were durably sent first.
    async fn send(
        &self,
        letters: &[DeadLetter<'_>],
        deadline: Instant,
    ) -> Result<(), DeadLetterError>;
}
