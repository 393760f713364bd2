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
//! older queues), or one SQS rejects as invalid (characters SQS does not accept), goes whole
//! to S3 under `payloads=s3://BUCKET/PREFIX`, and the queue gets a pointer to it in the format
//! of the SQS Extended Client libraries (Java, Python): the body
//! `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"BUCKET","s3Key":"KEY"}]`
//! with the Number attribute `ExtendedPayloadSize` (the letter's bytes), so their consumers
//! read the letter itself. Without `payloads=` such a letter fails as retryable (its record
//! waits and the alarms fire): a letter is never truncated, and never goes to the logs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::time::{timeout_at, Instant};

use super::s3::{S3DeadLetterConfig, S3DeadLetters};
use super::{DeadLetter, DeadLetterError, DeadLetterQueue};
use crate::hash::sha256_hex;
use crate::messaging::{deliver, Attribute, ItemKey, Message, Slot, Sqs};
use crate::per_table::PerTable;
use crate::sink::{FailureKind, SharedError};
use crate::url::SinkUrl;
use crate::url::{ConfigError, DLQ_SETTING};
use cdc_lambda::AwsContext;
/// Used when the queue does not report its limit: SQS's default before 2025, the smallest a
/// queue may have had by default.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;
/// The pointer class name the SQS Extended Client libraries read.
const POINTER_CLASS: &str = "software.amazon.payloadoffloading.PayloadS3Pointer";
/// The attribute the Extended Client libraries recognise a pointer by.
const PAYLOAD_SIZE_ATTRIBUTE: &str = "ExtendedPayloadSize";
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
    /// `payloads=s3://BUCKET/PREFIX`: where letters SQS cannot take go.
    pub payloads: Option<S3DeadLetterConfig>,
}

impl SqsDeadLetterConfig {
    /// Reads the queue of an `sqs://` URL and its `payloads=` bucket; fails when the queue is
    /// neither a valid queue name nor a URL ending in one, and on any other option.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let payloads = match url.option("payloads") {
            Some(location) => Some(S3DeadLetterConfig::parse(SinkUrl::parse(
                DLQ_SETTING,
                &location,
            )?)?),
            None => None,
        };
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
            payloads,
        };
        url.finish(&["payloads"])?;
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
        let payloads = match &self.payloads {
            Some(config) => Some(config.build(aws).await),
            None => None,
        };
        Ok(SqsDeadLetters {
            name: self.raw.clone(),
            payloads,
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
    payloads: Option<S3DeadLetters>,
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
        // Letters too large for the queue go to S3 first, all at once.
        let (fitting, oversize): (Vec<Message>, Vec<Message>) = letters
            .iter()
            .enumerate()
            .map(|(index, letter)| self.message(index, letter))
            .partition(|message| message.body.len() <= self.max_message_bytes);
        let pointers = futures::future::join_all(
            oversize
                .iter()
                .map(|m| self.pointer(m.index, &letters[m.index], deadline)),
        )
        .await;
        let mut messages = fitting;
        for pointer in pointers {
            match pointer {
                Ok(pointer) => messages.push(pointer),
                // Nothing was sent yet: on failure, every letter is retried.
                Err(error) => return Err(self.error(0, error)),
            }
        }
        messages.sort_by_key(|m| m.index);
        // `sent` must name the first letter the queue may not hold: letters are sent at once,
        // so that is the lowest index that failed in any way.
        let mut rejected = Vec::new();
        let mut retry = None;
        for failure in self.deliver(messages, deadline).await {
            match failure.kind {
                FailureKind::Permanent => rejected.push(failure.index),
                FailureKind::Retryable if retry.is_none() => retry = Some(failure),
                FailureKind::Retryable => {}
            }
        }
        if let Some(failure) = retry {
            let sent = rejected
                .first()
                .map_or(failure.index, |&r| r.min(failure.index));
            return Err(self.error(sent, failure.error));
        }
        // SQS refused these as they are (characters it does not accept): whole to S3 instead.
        let built = futures::future::join_all(
            rejected
                .iter()
                .map(|&index| self.pointer(index, &letters[index], deadline)),
        )
        .await;
        let mut pointers = Vec::with_capacity(rejected.len());
        for pointer in built {
            match pointer {
                Ok(pointer) => pointers.push(pointer),
                // No pointer was sent yet: the first refused letter is the first not held.
                Err(error) => return Err(self.error(rejected[0], error)),
            }
        }
        if let Some(failure) = self.deliver(pointers, deadline).await.into_iter().next() {
            return Err(self.error(failure.index, failure.error));
        }
        Ok(())
    }
}

impl SqsDeadLetters {
    /// Sends `messages`, each its own "item" (letters are independent, so all go in one
    /// round); answers the failures, by letter index.
    async fn deliver(
        &self,
        messages: Vec<Message>,
        deadline: Instant,
    ) -> Vec<crate::sink::Failure> {
        let slots = messages
            .into_iter()
            .map(|message| Slot {
                item: ItemKey::new("dead-letters", &message.index.to_string()),
                state: Ok(message),
            })
            .collect();
        let mut failures = deliver(&self.transport, slots, deadline).await;
        failures.sort_by_key(|f| f.index);
        failures
    }

    /// The letter written whole to S3, and a pointer message to it.
    async fn pointer(
        &self,
        index: usize,
        letter: &DeadLetter<'_>,
        deadline: Instant,
    ) -> Result<Message, SharedError> {
        let Some(payloads) = &self.payloads else {
            return Err(Arc::new(NoPayloadBucket {
                max_message_bytes: self.max_message_bytes,
            }));
        };
        // The object is the letter's JSON line, newline included.
        let size = letter_body(letter).len() + 1;
        let (bucket, key) = payloads.put(std::slice::from_ref(letter), deadline).await?;
        let mut message = self.message(index, letter);
        message.body =
            serde_json::json!([POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}]).to_string();
        message.deduplication_id = sha256_hex(message.body.as_bytes());
        message.attributes = vec![Attribute::number(PAYLOAD_SIZE_ATTRIBUTE, size)];
        Ok(message)
    }

    fn error(&self, sent: usize, error: SharedError) -> DeadLetterError {
        DeadLetterError {
            queue: self.name.clone(),
            sent,
            error,
        }
    }

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

/// A letter SQS cannot take, and no `payloads=` bucket to put it in.
#[derive(Debug, thiserror::Error)]
#[error("the letter does not fit the queue (MaximumMessageSize {max_message_bytes} bytes) or SQS refused its content; set payloads=s3://BUCKET/PREFIX on CDC_DLQ so such letters go whole to S3")]
struct NoPayloadBucket {
    max_message_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(valid_queue_name("dlq"));
        assert!(valid_queue_name("dlq.fifo"));
        assert!(!valid_queue_name(".fifo"));
        assert!(!valid_queue_name("a b"));
        assert!(!valid_queue_name(&"a".repeat(81)));
    }
}
