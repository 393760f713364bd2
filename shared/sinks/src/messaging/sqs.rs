//! `sqs://QUEUE`: `SendMessageBatch`, up to 10 entries and 256 KiB per call.
//!
//! QUEUE is a queue name (looked up with `GetQueueUrl` when the sink is built, or at first
//! use per table when it contains `{table}`) or a full queue URL after `sqs://`
//! (`sqs://https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo`).
//!
//! A queue whose name ends in `.fifo` gets `MessageGroupId` = `primary_key` (so SQS keeps
//! per-item order; a key over 128 characters or with characters SQS does not accept becomes
//! its SHA-256 in hex) and a `MessageDeduplicationId` that is the same for every send of the
//! same record (see [`super::message::Message`]), so a batch replayed within SQS's 5-minute
//! deduplication window is delivered once. Standard queues are at-least-once and best-effort
//! ordered: consumers deduplicate on the event id.
//!
//! Size: a message may be up to 1 MiB (SQS's ceiling); a queue configured with a smaller
//! `MaximumMessageSize` rejects larger ones, which are then reported as permanent. The
//! 256 KiB per call is what every queue accepts (SQS counts body and attributes).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::message::{parse_format, Format, Message};
use super::sink::MessagingSink;
use super::transport::{entries_by_id, results_by_id, CallFailure, EntryError, Limits, Transport};
use crate::per_table::PerTable;
use crate::sink::Calls;
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

const OPTIONS: &[&str] = &[super::message::FORMAT_OPTION];

/// `sqs://QUEUE?...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsConfig {
    /// A queue name or URL, `{table}` allowed.
    pub queue: PerTable,
    /// Record (the change record JSON, the default) or raw (the stream record) bodies.
    pub format: Format,
}

impl SqsConfig {
    /// Reads the queue and the `format` option; fails on a queue that is neither a name nor a
    /// URL, and on any other option.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let expected = "sqs://QUEUE (a queue name or a queue URL such as \
                        sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, {table} allowed)";
        let queue = url.required_target(expected)?;
        if !is_url(queue) && queue.contains(['/', ':']) {
            return Err(url.invalid(format!("expected {expected}")));
        }
        let format = parse_format(&mut url)?;
        url.finish(OPTIONS)?;
        Ok(SqsConfig {
            queue: PerTable::new(queue),
            format,
        })
    }

    /// Creates the client; a queue given by name (without `{table}`) is looked up now, so a
    /// missing queue fails at cold start.
    pub async fn build(
        &self,
        name: &str,
        aws: &AwsContext,
    ) -> Result<MessagingSink<Sqs>, ConfigError> {
        let sqs = Sqs::new(
            aws_sdk_sqs::Client::new(aws.config().await),
            self.queue.clone(),
        );
        let template = self.queue.template();
        if !is_url(template) && !template.contains("{table}") {
            sqs.queue_url(template)
                .await
                .map_err(|failure| ConfigError::Invalid {
                    setting: crate::url::SINKS_SETTING,
                    url: name.to_owned(),
                    message: format!(
                        "cannot find queue {template:?} (GetQueueUrl: {})",
                        failure.error
                    ),
                })?;
        }
        Ok(MessagingSink::new(name, self.format, sqs))
    }
}

fn is_url(queue: &str) -> bool {
    queue.starts_with("https://") || queue.starts_with("http://")
}

pub struct Sqs {
    client: aws_sdk_sqs::Client,
    queue: PerTable,
    /// Queue name → URL, looked up once.
    urls: Mutex<HashMap<String, String>>,
    calls: Calls,
}

impl Sqs {
    /// A transport to `queue` (a name or URL, `{table}` allowed).
    pub(crate) fn new(client: aws_sdk_sqs::Client, queue: PerTable) -> Self {
        Sqs {
            client,
            queue,
            urls: Mutex::new(HashMap::new()),
            calls: Calls::default(),
        }
    }

    async fn queue_url(&self, name: &str) -> Result<String, CallFailure> {
        if let Some(url) = self
            .urls
            .lock()
            .ok()
            .and_then(|urls| urls.get(name).cloned())
        {
            return Ok(url);
        }
        self.calls.add();
        let output = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(&e))?;
        let url = output.queue_url.unwrap_or_default();
        if let Ok(mut urls) = self.urls.lock() {
            urls.insert(name.to_owned(), url.clone());
        }
        Ok(url)
    }
}

#[async_trait]
impl Transport for Sqs {
    const SERVICE: &'static str = "SQS";
    const LIMITS: Limits = Limits {
        entries: 10,
        call_bytes: 256 * 1024,
        entry_bytes: Some(1024 * 1024),
    };

    fn entry_bytes(&self, message: &Message) -> usize {
        message.body.len() + message.attribute_bytes()
    }

    async fn destination(&self, table: &str) -> Result<String, CallFailure> {
        let queue = self.queue.for_table(table);
        if is_url(&queue) {
            Ok(queue.into_owned())
        } else {
            self.queue_url(&queue).await
        }
    }

    async fn send(
        &self,
        destination: &str,
        batch: &[&Message],
    ) -> Result<Vec<Result<(), EntryError>>, CallFailure> {
        let entries = entries_by_id(destination, batch, entry)?;
        self.calls.add();
        let output = self
            .client
            .send_message_batch()
            .queue_url(destination)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(&e))?;
        let successful = output.successful().iter().map(|s| s.id());
        let failed = output.failed().iter();
        Ok(results_by_id(
            batch.len(),
            successful,
            failed.map(|f| (f.id(), f.code(), f.message())),
        ))
    }

    fn api_calls(&self) -> u64 {
        self.calls.get()
    }
}

fn entry(
    id: String,
    message: &Message,
    fifo: bool,
) -> Result<SendMessageBatchRequestEntry, aws_smithy_types::error::operation::BuildError> {
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(&message.body);
    for attribute in &message.attributes {
        let value = MessageAttributeValue::builder()
            .data_type(attribute.data_type)
            .string_value(&attribute.value)
            .build()?;
        entry = entry.message_attributes(attribute.name, value);
    }
    if fifo {
        entry = entry
            .message_group_id(message.group_id())
            .message_deduplication_id(&message.deduplication_id);
    }
    entry.build()
}
