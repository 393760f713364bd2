//! Messaging sinks: `sqs://QUEUE`, `sns://TOPIC_ARN`, `kinesis://STREAM` and `events://BUS`
//! (EventBridge). `{table}` in QUEUE, TOPIC_ARN, STREAM or BUS routes each source table to its
//! own destination.
//!
//! # Message body (`format=`)
//!
//! * `format=record` (default): the change record JSON, as the stdout sink writes it.
//! * `format=raw`: the original DynamoDB Streams record, compacted onto one line, with
//!   `EVENT_NAME` and `SEQUENCE_NUMBER` as String message attributes on SQS and SNS and the
//!   eventID as FIFO deduplication id (what Pulsar's DynamoDB source connector emits). Kinesis
//!   records have no attributes: consumers read `eventName` and `dynamodb.SequenceNumber` from
//!   the record itself. EventBridge sends the raw record as `detail`.
//!
//!   Export items have no stream record (their source is an export line, DynamoDB JSON or
//!   Ion), so under `format=raw` they are sent in the record format, with `EVENT_NAME=EXPORT`
//!   and no `SEQUENCE_NUMBER` attribute; `metadata.source` is `"export"` in the body.
//!
//! # Batching and order
//!
//! Records go out in calls as large as each API allows (entries and bytes per call, see each
//! service). Per-item order holds even when a call partly fails: a record is sent only once
//! every earlier record of the same item (table and `primary_key`) was accepted or rejected
//! for good, so each round of calls carries at most one record per item. Entries a call failed
//! transiently (throttling, internal errors) are retried with backoff until the invocation's
//! deadline; what is left is reported as retryable, and the records after it of the same item
//! are not sent. An entry the service rejects as invalid (too large, malformed) is reported as
//! permanent (dead-lettered) and the item's later records go on. A whole call that fails after
//! the SDK's own retries (an endpoint down, a queue that does not exist) stops the write: every
//! record not yet accepted is reported as retryable.
//!
//! # Replays
//!
//! Lambda replays batches, so a record may be sent again. FIFO queues and topics deduplicate
//! on the deduplication id for 5 minutes, which makes SQS and SNS FIFO exactly-once within that
//! window. Standard queues and topics, Kinesis and EventBridge are at-least-once: consumers
//! deduplicate on the event id (or table, primary_key and `document_version` for export
//! items), which every body carries.

mod deliver;
mod eventbridge;
mod kinesis;
mod message;
mod sink;
mod sns;
mod sqs;
mod transport;

use crate::sink::Sink;
use crate::url::{ConfigError, SinkUrl};
use cdc_lambda::AwsContext;

pub(crate) use deliver::{deliver, ItemKey, Slot};
pub use eventbridge::EventBridgeConfig;
pub use kinesis::KinesisConfig;
pub(crate) use message::{Attribute, Message};
pub use message::{Format, EVENT_NAME_ATTRIBUTE, EXPORT_EVENT_NAME, SEQUENCE_NUMBER_ATTRIBUTE};
pub use sink::MessagingSink;
pub use sns::SnsConfig;
pub(crate) use sqs::Sqs;
pub use sqs::SqsConfig;

/// The URL schemes of this module.
pub const SCHEMES: &[&str] = &["sqs", "sns", "kinesis", "events"];

/// One messaging sink as configured, before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagingConfig {
    /// `sqs://QUEUE`.
    Sqs(SqsConfig),
    /// `sns://TOPIC_ARN`.
    Sns(SnsConfig),
    /// `kinesis://STREAM`.
    Kinesis(KinesisConfig),
    /// `events://BUS` (EventBridge).
    EventBridge(EventBridgeConfig),
}

impl MessagingConfig {
    /// Parses a URL whose scheme is one of [`SCHEMES`].
    pub fn parse(url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        match url.scheme {
            "sqs" => SqsConfig::parse(url).map(MessagingConfig::Sqs),
            "sns" => SnsConfig::parse(url).map(MessagingConfig::Sns),
            "kinesis" => KinesisConfig::parse(url).map(MessagingConfig::Kinesis),
            _ => EventBridgeConfig::parse(url).map(MessagingConfig::EventBridge),
        }
    }

    /// Creates the client (and, for a queue given by name, looks up its URL).
    pub async fn build(&self, name: &str, aws: &AwsContext) -> Result<Box<dyn Sink>, ConfigError> {
        Ok(match self {
            MessagingConfig::Sqs(config) => Box::new(config.build(name, aws).await?),
            MessagingConfig::Sns(config) => Box::new(config.build(name, aws).await),
            MessagingConfig::Kinesis(config) => Box::new(config.build(name, aws).await),
            MessagingConfig::EventBridge(config) => Box::new(config.build(name, aws).await),
        })
    }
}
