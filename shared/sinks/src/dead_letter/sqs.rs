//! `CDC_DLQ=sqs://QUEUE`: one SQS message per dead letter, its body the letter's JSON line.
//!
//! QUEUE is a queue URL (`sqs://https://sqs.us-east-1.amazonaws.com/123456789012/name`, what
//! template.yaml passes) or a queue name, resolved with `GetQueueUrl` at cold start. Cold start
//! also reads the queue's `MaximumMessageSize` (`GetQueueAttributes`), so a missing queue or
//! missing permission fails there, naming `CDC_DLQ`, rather than at the first bad record. The
//! function therefore needs `sqs:GetQueueAttributes` (and `sqs:GetQueueUrl` for a name) on the
//! queue besides `sqs:SendMessage` (which also covers `SendMessageBatch`).
//!
//! Letters go out with `SendMessageBatch`, in order, up to 10 per call and no more bytes per
//! call than the queue's message size limit (SQS's limit for a whole batch is at least that).
//! Entries SQS fails are sent again with backoff until the deadline. To a FIFO queue (name
//! ending in `.fifo`) every letter goes with `MessageGroupId` = its table name (or
//! `dead-letters` when unknown) and `MessageDeduplicationId` = the SHA-256 of its body, so a
//! letter sent again within SQS's five-minute window is stored once. A standard queue may
//! hold a letter twice after a retry.
//!
//! **Letters SQS cannot take.** A letter larger than the queue's `MaximumMessageSize` (a
//! stream record with both images of a 400 KB item is bigger than SQS's 256 KiB default of
//! older queues), or one SQS rejects as invalid, is logged at ERROR instead and counted as
//! sent: it must never block the shard, and CloudWatch Logs keeps it. Because CloudWatch Logs
//! truncates events over 256 KB, such a letter is logged in parts of at most 64 KiB of text
//! (`part` of `parts`, with the letter's `letter_sha256` to join them); concatenating the
//! `text` fields in `part` order gives the letter's JSON line.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::time::{timeout_at, Instant};

use super::{DeadLetter, DeadLetterError, DeadLetterQueue};
use crate::aws::AwsContext;
use crate::config::{ConfigError, DLQ_SETTING};
use crate::retry::{classify, classify_code, Backoff, CallError};
use crate::s3::sha256_hex;
use crate::sink::{DeadlineExceeded, FailureKind, SharedError};
use crate::url::SinkUrl;

/// SQS's limit of entries per `SendMessageBatch`.
const MAX_ENTRIES: usize = 10;
/// Used when the queue does not report its limit: SQS's default before 2025, the smallest a
/// queue may have had by default.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;
/// Letter text per log event when a letter cannot go to SQS (see the module docs).
const LOG_PART_BYTES: usize = 64 * 1024;
/// Cold start must not hang on an unreachable queue (Lambda's init phase lasts 10 s).
const BUILD_TIMEOUT: Duration = Duration::from_secs(8);
/// SQS's limit on `MessageGroupId`.
const MAX_GROUP_ID: usize = 128;

/// The queue, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    Url(String),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsDeadLetterConfig {
    /// `CDC_DLQ` as given, naming the queue in errors.
    pub raw: String,
    pub queue: QueueRef,
}

impl SqsDeadLetterConfig {
    pub fn parse(url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let target = url.target;
        let queue = if target.starts_with("https://") || target.starts_with("http://") {
            let name = target.rsplit('/').next().unwrap_or_default();
            if !valid_queue_name(name) {
                return Err(url.invalid(
                    "expected sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE (a queue URL ending in the queue name) or sqs://QUEUE",
                ));
            }
            QueueRef::Url(target.to_owned())
        } else if valid_queue_name(target) {
            QueueRef::Name(target.to_owned())
        } else {
            return Err(url.invalid(format!(
                "{target:?} is not a queue name (1 to 80 letters, digits, '-' or '_', optionally ending in .fifo) or queue URL; expected sqs://QUEUE or sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE"
            )));
        };
        let config = SqsDeadLetterConfig {
            raw: url.raw.to_owned(),
            queue,
        };
        url.finish(&[])?;
        Ok(config)
    }

    /// Creates the client, finds the queue's URL and message size limit.
    pub async fn build(&self, aws: &AwsContext) -> Result<SqsDeadLetters, ConfigError> {
        let client = aws_sdk_sqs::Client::new(aws.config().await);
        let deadline = Instant::now() + BUILD_TIMEOUT;
        let queue_url = match &self.queue {
            QueueRef::Url(url) => url.clone(),
            QueueRef::Name(name) => {
                let call = client.get_queue_url().queue_name(name).send();
                let output = timeout_at(deadline, call)
                    .await
                    .map_err(|_| self.invalid(format!("GetQueueUrl for {name:?}: no answer")))?
                    .map_err(|e| {
                        self.invalid(format!(
                            "cannot find queue {name:?} (GetQueueUrl): {}",
                            DisplayErrorContext(&e)
                        ))
                    })?;
                output
                    .queue_url
                    .ok_or_else(|| self.invalid(format!("GetQueueUrl for {name:?}: no URL")))?
            }
        };
        let call = client
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::MaximumMessageSize)
            .send();
        let attributes = timeout_at(deadline, call)
            .await
            .map_err(|_| self.invalid(format!("GetQueueAttributes for {queue_url}: no answer")))?
            .map_err(|e| {
                self.invalid(format!(
                    "cannot read queue {queue_url} (GetQueueAttributes): {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        let max_message_bytes = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::MaximumMessageSize))
            .and_then(|size| size.parse().ok())
            .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
        Ok(SqsDeadLetters {
            name: self.raw.clone(),
            fifo: queue_url.ends_with(".fifo"),
            client,
            queue_url,
            max_message_bytes,
        })
    }

    fn invalid(&self, message: String) -> ConfigError {
        ConfigError::Invalid {
            setting: DLQ_SETTING,
            url: self.raw.clone(),
            message,
        }
    }
}

fn valid_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub struct SqsDeadLetters {
    name: String,
    client: aws_sdk_sqs::Client,
    queue_url: String,
    fifo: bool,
    max_message_bytes: usize,
}

/// One letter ready to send.
struct Message {
    body: String,
    group: String,
    sequence_number: Option<String>,
}

/// Letters `..sent` are done; the rest of the call failed with `error`.
struct Stopped {
    sent: usize,
    error: SharedError,
}

#[async_trait]
impl DeadLetterQueue for SqsDeadLetters {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(
        &self,
        letters: &[DeadLetter<'_>],
        deadline: Instant,
    ) -> Result<(), DeadLetterError> {
        let messages: Vec<Message> = letters.iter().map(message).collect();
        let mut batch = 0..0;
        let mut batch_bytes = 0;
        for (index, message) in messages.iter().enumerate() {
            let bytes = message.body.len();
            if bytes > self.max_message_bytes {
                // Earlier letters go first, so that `sent` stays a prefix.
                self.send_batch(&messages, batch.clone(), deadline)
                    .await
                    .map_err(|s| self.error(s))?;
                log_unsendable(
                    &self.name,
                    message,
                    "larger than the queue's MaximumMessageSize",
                );
                batch = index + 1..index + 1;
                batch_bytes = 0;
                continue;
            }
            if batch.len() == MAX_ENTRIES || batch_bytes + bytes > self.max_message_bytes {
                self.send_batch(&messages, batch.clone(), deadline)
                    .await
                    .map_err(|s| self.error(s))?;
                batch = index..index;
                batch_bytes = 0;
            }
            batch.end = index + 1;
            batch_bytes += bytes;
        }
        self.send_batch(&messages, batch, deadline)
            .await
            .map_err(|s| self.error(s))
    }
}

impl SqsDeadLetters {
    /// Sends `messages[range]` in one call, then again whatever SQS failed.
    async fn send_batch(
        &self,
        messages: &[Message],
        range: Range<usize>,
        deadline: Instant,
    ) -> Result<(), Stopped> {
        let mut pending: Vec<usize> = range.collect();
        let mut backoff = Backoff::default();
        while !pending.is_empty() {
            let entries = pending
                .iter()
                .map(|&i| self.entry(i, &messages[i]))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| stopped(&pending, Arc::new(e)))?;
            let call = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send();
            let output = match timeout_at(deadline, call).await {
                Err(_) => return Err(stopped(&pending, Arc::new(DeadlineExceeded))),
                Ok(Err(e)) if classify(&e) == FailureKind::Permanent => {
                    if pending.len() == 1 {
                        let reason = DisplayErrorContext(&e).to_string();
                        log_unsendable(&self.name, &messages[pending[0]], &reason);
                        return Ok(());
                    }
                    // One bad letter fails the whole call: send one by one to find it.
                    for &i in &pending {
                        Box::pin(self.send_batch(messages, i..i + 1, deadline)).await?;
                    }
                    return Ok(());
                }
                Ok(Err(e)) => {
                    let error = CallError(DisplayErrorContext(&e).to_string());
                    return Err(stopped(&pending, Arc::new(error)));
                }
                Ok(Ok(output)) => output,
            };
            let sent: HashSet<usize> = output
                .successful()
                .iter()
                .filter_map(|entry| entry.id().parse().ok())
                .collect();
            let mut last_error = String::new();
            for failed in output.failed() {
                let Some(i) = failed.id().parse().ok().filter(|i| pending.contains(i)) else {
                    continue;
                };
                let reason = format!("{}: {}", failed.code(), failed.message().unwrap_or(""));
                if failed.sender_fault()
                    && classify_code(Some(failed.code())) == FailureKind::Permanent
                {
                    log_unsendable(&self.name, &messages[i], &reason);
                    pending.retain(|&p| p != i);
                } else {
                    last_error = reason;
                }
            }
            pending.retain(|i| !sent.contains(i));
            if !pending.is_empty() && !backoff.wait(deadline).await {
                let error = CallError(format!(
                    "{} letters still failing at the deadline; last error: {last_error}",
                    pending.len()
                ));
                return Err(stopped(&pending, Arc::new(error)));
            }
        }
        Ok(())
    }

    fn entry(
        &self,
        index: usize,
        message: &Message,
    ) -> Result<SendMessageBatchRequestEntry, aws_smithy_types::error::operation::BuildError> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(index.to_string())
            .message_body(message.body.clone());
        if self.fifo {
            entry = entry
                .message_group_id(message.group.clone())
                .message_deduplication_id(sha256_hex(message.body.as_bytes()));
        }
        entry.build()
    }

    fn error(&self, stopped: Stopped) -> DeadLetterError {
        DeadLetterError {
            queue: self.name.clone(),
            sent: stopped.sent,
            error: stopped.error,
        }
    }
}

fn message(letter: &DeadLetter<'_>) -> Message {
    let mut line = Vec::new();
    letter.write_json_line(&mut line);
    line.pop(); // the newline
    let body = String::from_utf8(line)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let group = match &letter.table_name {
        Some(table) if !table.is_empty() => table.chars().take(MAX_GROUP_ID).collect(),
        _ => "dead-letters".to_owned(),
    };
    Message {
        body,
        group,
        sequence_number: letter.sequence_number.as_deref().map(str::to_owned),
    }
}

/// The first letter of `pending` (sorted) and everything after it are not known to be sent.
fn stopped(pending: &[usize], error: SharedError) -> Stopped {
    Stopped {
        sent: pending.iter().copied().min().unwrap_or(0),
        error,
    }
}

/// Logs a letter SQS cannot take, in parts CloudWatch Logs keeps whole.
fn log_unsendable(queue: &str, message: &Message, why: &str) {
    let body = message.body.as_str();
    let parts = split_at_char_boundaries(body, LOG_PART_BYTES);
    let letter_sha256 = sha256_hex(body.as_bytes());
    let count = parts.len();
    for (part, text) in parts.into_iter().enumerate() {
        tracing::error!(
            queue,
            sequence_number = message.sequence_number.as_deref(),
            letter_sha256 = letter_sha256.as_str(),
            bytes = body.len(),
            part = part + 1,
            parts = count,
            text,
            "dead letter not accepted by SQS ({why}); kept in this log instead"
        );
    }
}

fn split_at_char_boundaries(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut at = max;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        let (part, tail) = rest.split_at(at);
        parts.push(part);
        rest = tail;
    }
    parts.push(rest);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_characters_whole() {
        let text = "é".repeat(10);
        let parts = split_at_char_boundaries(&text, 5);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.len() <= 5));
    }

    #[test]
    fn queue_names() {
        assert!(valid_queue_name("dlq"));
        assert!(valid_queue_name("dlq.fifo"));
        assert!(!valid_queue_name(".fifo"));
        assert!(!valid_queue_name("a b"));
        assert!(!valid_queue_name(&"a".repeat(81)));
    }
}
