//! `sns://TOPIC_ARN`: `PublishBatch`, up to 10 entries and 256 KiB per call, 256 KiB per
//! message (body and attributes; larger records are reported as permanent without a call).
//!
//! A FIFO topic (ARN ending in `.fifo`) gets `MessageGroupId` = `primary_key` and the
//! record's `MessageDeduplicationId`, as FIFO queues (see [`super::sqs`]): SNS FIFO keeps
//! per-item order and delivers a replayed batch once within its 5-minute deduplication
//! window. Standard topics are at-least-once.

use async_trait::async_trait;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use super::message::{parse_format, Format, Message};
use super::sink::MessagingSink;
use super::transport::{entries_by_id, results_by_id, CallFailure, EntryError, Limits, Transport};
use crate::per_table::PerTable;
use crate::sink::Calls;
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

const OPTIONS: &[&str] = &[super::message::FORMAT_OPTION];

/// `sns://TOPIC_ARN?...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsConfig {
    /// A topic ARN, `{table}` allowed.
    pub topic: PerTable,
    /// Record (the change record JSON, the default) or raw (the stream record) bodies.
    pub format: Format,
}

impl SnsConfig {
    /// Reads the topic ARN and the `format` option; fails on a target that is not an ARN, and
    /// on any other option.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let expected = "sns://TOPIC_ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC, {table} allowed)";
        let topic = url.required_target(expected)?;
        if !topic.starts_with("arn:") || topic.contains('/') {
            return Err(url.invalid(format!("expected {expected}")));
        }
        let format = parse_format(&mut url)?;
        url.finish(OPTIONS)?;
        Ok(SnsConfig {
            topic: PerTable::new(topic),
            format,
        })
    }

    /// The sink, named `name` (its URL), with a client from `aws`; nothing is checked
    /// before the first write.
    pub async fn build(&self, name: &str, aws: &AwsContext) -> MessagingSink<Sns> {
        let sns = Sns {
            client: aws_sdk_sns::Client::new(aws.config().await),
            topic: self.topic.clone(),
            calls: Calls::default(),
        };
        MessagingSink::new(name, self.format, sns)
    }
}

pub struct Sns {
    client: aws_sdk_sns::Client,
    topic: PerTable,
    calls: Calls,
}

#[async_trait]
impl Transport for Sns {
    const SERVICE: &'static str = "SNS";
    const LIMITS: Limits = Limits {
        entries: 10,
        call_bytes: 256 * 1024,
        entry_bytes: Some(256 * 1024),
    };

    fn entry_bytes(&self, message: &Message) -> usize {
        message.body.len() + message.attribute_bytes()
    }

    async fn destination(&self, table: &str) -> Result<String, CallFailure> {
        Ok(self.topic.for_table(table).into_owned())
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
            .publish_batch()
            .topic_arn(destination)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(&e))?;
        let successful = output.successful().iter().filter_map(|s| s.id());
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
) -> Result<PublishBatchRequestEntry, aws_smithy_types::error::operation::BuildError> {
    let mut entry = PublishBatchRequestEntry::builder()
        .id(id)
        .message(&message.body);
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
