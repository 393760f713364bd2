//! `CDC_DLQ=sqs://QUEUE`: one SQS message per dead letter, its body the letter's JSON line.
//!
//! QUEUE is a queue URL (`sqs://https://sqs.us-east-1.amazonaws.com/123456789012/name`, what
//! template.yaml passes) or a queue name, resolved with `GetQueueUrl` at cold start. Cold start
//! also reads the queue's `MaximumMessageSize` (`GetQueueAttributes`), so a missing queue or
//! missing permission fails there, naming `CDC_DLQ`, rather than at the first bad record. The
//! function therefore needs `sqs:GetQueueAttributes` (and `sqs:GetQueueUrl` for a name) on the
//! queue besides `sqs:SendMessage` (which also covers `SendMessageBatch`).
//!
//! Letters go out through the `sqs://` sink's transport ([`crate::messaging`]):
//! `SendMessageBatch` packed to SQS's limits, entries SQS fails sent again with backoff until
//! the deadline, several calls at once (so letters may arrive in any order: each is a whole
//! record on its own). To a FIFO queue (name ending in `.fifo`) every letter goes with
//! `MessageGroupId` = its table name (or `dead-letters` when unknown) and
//! `MessageDeduplicationId` = the SHA-256 of its body, so a letter sent again within SQS's
//! five-minute window is stored once. A standard queue may hold a letter twice after a retry.
//!
//! **Letters SQS cannot take.** A letter larger than the queue's `MaximumMessageSize` (a
//! stream record with both images of a 400 KB item is bigger than SQS's 256 KiB default of
//! older queues), or one SQS rejects as invalid, is logged at ERROR instead and counted as
//! sent: it must never block the shard, and CloudWatch Logs keeps it. Because CloudWatch Logs
//! truncates events over 256 KB, such a letter is logged in parts of at most 64 KiB of text
//! (`part` of `parts`, with the letter's `letter_sha256` to join them); concatenating the
//! `text` fields in `part` order gives the letter's JSON line.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::time::{timeout_at, Instant};

use super::{DeadLetter, DeadLetterError, DeadLetterQueue};
use crate::hash::sha256_hex;
use crate::messaging::{deliver, ItemKey, Message, Slot, Sqs};
use crate::per_table::PerTable;
use crate::sink::FailureKind;
use crate::url::SinkUrl;
use crate::url::{ConfigError, DLQ_SETTING};
use cdc_lambda::AwsContext;
/// Used when the queue does not report its limit: SQS's default before 2025, the smallest a
/// queue may have had by default.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;
/// Letter text per log event when a letter cannot go to SQS (see the module docs).
const LOG_PART_BYTES: usize = 64 * 1024;
/// Cold start must not hang on an unreachable queue (Lambda's init phase lasts 10 s).
const BUILD_TIMEOUT: Duration = Duration::from_secs(8);

/// The queue, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueRef {
    /// A queue URL, used as is.
    Url(String),
    /// A queue name, turned into its URL with `GetQueueUrl` at cold start.
    Name(String),
}

/// `CDC_DLQ=sqs://QUEUE`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsDeadLetterConfig {
    /// `CDC_DLQ` as given, naming the queue in errors.
    pub raw: String,
    /// The queue, by URL or by name.
    pub queue: QueueRef,
}

impl SqsDeadLetterConfig {
    /// Reads the queue of an `sqs://` URL; fails when it is neither a valid queue name nor a
    /// URL ending in one, and on any option.
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
            transport: Sqs::new(client, PerTable::new(queue_url.clone())),
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
    queue_url: String,
    max_message_bytes: usize,
    /// The `sqs://` sink's transport: batching, FIFO ids, per-entry retries are the same.
    transport: Sqs,
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
        let mut slots = Vec::with_capacity(letters.len());
        for (index, letter) in letters.iter().enumerate() {
            let message = self.message(index, letter);
            if message.body.len() > self.max_message_bytes {
                log_unsendable(
                    &self.name,
                    letter,
                    "larger than the queue's MaximumMessageSize",
                );
                continue;
            }
            // Letters are independent: each its own "item", so all go in one round.
            let item = ItemKey::new("dead-letters", &index.to_string());
            slots.push(Slot {
                item,
                state: Ok(message),
            });
        }
        for failure in deliver(&self.transport, slots, deadline).await {
            match failure.kind {
                FailureKind::Permanent => log_unsendable(
                    &self.name,
                    &letters[failure.index],
                    &failure.error.to_string(),
                ),
                FailureKind::Retryable => {
                    return Err(DeadLetterError {
                        queue: self.name.clone(),
                        sent: failure.index,
                        error: failure.error,
                    })
                }
            }
        }
        Ok(())
    }
}

impl SqsDeadLetters {
    /// The letter's JSON line as a message; on a FIFO queue grouped by table and deduplicated
    /// on its content, so a letter sent again within five minutes is stored once.
    fn message(&self, index: usize, letter: &DeadLetter<'_>) -> Message {
        let body = letter_body(letter);
        let group = match &letter.table_name {
            Some(table) if !table.is_empty() => table.to_string(),
            _ => "dead-letters".to_owned(),
        };
        Message {
            index,
            destination: self.queue_url.clone(),
            deduplication_id: sha256_hex(body.as_bytes()),
            primary_key: group,
            event_name: "DEAD_LETTER",
            timestamp_ms: 0,
            body,
            attributes: Vec::new(),
        }
    }
}

fn letter_body(letter: &DeadLetter<'_>) -> String {
    let mut line = Vec::new();
    letter.write_json_line(&mut line);
    line.pop(); // the newline
    String::from_utf8(line).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Logs a letter SQS cannot take, in parts CloudWatch Logs keeps whole.
fn log_unsendable(queue: &str, letter: &DeadLetter<'_>, why: &str) {
    let body = letter_body(letter);
    let body = body.as_str();
    let parts = split_at_char_boundaries(body, LOG_PART_BYTES);
    let letter_sha256 = sha256_hex(body.as_bytes());
    let count = parts.len();
    for (part, text) in parts.into_iter().enumerate() {
        tracing::error!(
            queue,
            sequence_number = letter.sequence_number.as_deref(),
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
