//! `events://BUS` (an EventBridge bus name or ARN; option `source=`, default `dynamodb.cdc`):
//! `PutEvents`, up to 10 entries and 256 KiB per call, 256 KiB per entry (larger records are
//! reported as permanent without a call).
//!
//! Each event has `detail-type` = the event name (INSERT, MODIFY, REMOVE; EXPORT for export
//! items), `source` from the option, `time` = the change's timestamp, `detail` = the message
//! body (the change record, or the raw stream record under `format=raw`) and no resources.
//! Entries failed with throttling or internal errors are retried with backoff; invalid ones
//! are permanent. Records are sent in per-item order, but EventBridge does not guarantee the
//! order in which targets receive events, nor deduplicate them: delivery is at-least-once, and
//! consumers deduplicate and order on the event id and `document_version` (or table,
//! `primary_key` and `document_version` for export items).

use async_trait::async_trait;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::message::{parse_format, Format, Message};
use super::sink::MessagingSink;
use super::transport::{CallFailure, EntryError, Limits, Transport};
use crate::per_table::PerTable;
use crate::sink::Calls;
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

const OPTIONS: &[&str] = &[super::message::FORMAT_OPTION, "source"];
pub const DEFAULT_SOURCE: &str = "dynamodb.cdc";

/// EventBridge counts a set `Time` as 14 bytes of an entry.
const TIME_BYTES: usize = 14;

/// `events://BUS?...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBridgeConfig {
    /// A bus name or ARN, `{table}` allowed.
    pub bus: PerTable,
    /// Every event's `source` (`source=`, `dynamodb.cdc` by default).
    pub source: String,
    /// Record (the change record JSON, the default) or raw (the stream record) bodies.
    pub format: Format,
}

impl EventBridgeConfig {
    /// Reads the bus and the options `source` and `format`; fails on a bus that is neither a
    /// name nor an ARN, a `source` that is empty, over 256 characters or starts with `aws.`,
    /// and on any other option.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let expected = "events://BUS (an event bus name or ARN, {table} allowed)";
        let bus = url.required_target(expected)?;
        if !bus.starts_with("arn:") && bus.contains(['/', ':']) {
            return Err(url.invalid(format!("expected {expected}")));
        }
        let source = url
            .option("source")
            .unwrap_or_else(|| DEFAULT_SOURCE.into());
        if source.is_empty() || source.len() > 256 || source.starts_with("aws.") {
            return Err(url.invalid(format!(
                "option source={source:?} must be 1 to 256 characters and not start with \"aws.\" \
                 (reserved for AWS services)"
            )));
        }
        let format = parse_format(&mut url)?;
        url.finish(OPTIONS)?;
        Ok(EventBridgeConfig {
            bus: PerTable::new(bus),
            source,
            format,
        })
    }

    /// The sink, named `name` (its URL), with a client from `aws`; nothing is checked
    /// before the first write.
    pub async fn build(&self, name: &str, aws: &AwsContext) -> MessagingSink<EventBridge> {
        let events = EventBridge {
            client: aws_sdk_eventbridge::Client::new(aws.config().await),
            bus: self.bus.clone(),
            source: self.source.clone(),
            calls: Calls::default(),
        };
        MessagingSink::new(name, self.format, events)
    }
}

pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    bus: PerTable,
    source: String,
    calls: Calls,
}

#[async_trait]
impl Transport for EventBridge {
    const SERVICE: &'static str = "EventBridge";
    const LIMITS: Limits = Limits {
        entries: 10,
        call_bytes: 256 * 1024,
        entry_bytes: Some(256 * 1024),
    };

    /// As EventBridge computes it: time, source, detail-type and detail (no resources).
    fn entry_bytes(&self, message: &Message) -> usize {
        TIME_BYTES + self.source.len() + message.event_name.len() + message.body.len()
    }

    async fn destination(&self, table: &str) -> Result<String, CallFailure> {
        Ok(self.bus.for_table(table).into_owned())
    }

    async fn send(
        &self,
        destination: &str,
        batch: &[&Message],
    ) -> Result<Vec<Result<(), EntryError>>, CallFailure> {
        let entries = batch
            .iter()
            .map(|message| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(destination)
                    .source(&self.source)
                    .detail_type(message.event_name)
                    .detail(&message.body)
                    .time(DateTime::from_millis(message.timestamp_ms))
                    .build()
            })
            .collect();
        self.calls.add();
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(&e))?;
        Ok(output
            .entries()
            .iter()
            .map(|e| match e.error_code() {
                None => Ok(()),
                Some(code) => Err(EntryError {
                    code: code.to_owned(),
                    message: e.error_message().unwrap_or_default().to_owned(),
                }),
            })
            .collect())
    }

    fn api_calls(&self) -> u64 {
        self.calls.get()
    }
}
