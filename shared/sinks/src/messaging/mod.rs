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
mod sns;
mod sqs;

use async_trait::async_trait;
use cdc_record::{ChangeRecord, Source};
use tokio::time::{timeout_at, Instant};

use crate::sink::{DeadlineExceeded, Failure, FailureKind, SharedError, Sink, WriteReport};
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

pub(crate) use deliver::{deliver, ItemKey, Slot};
pub use eventbridge::EventBridgeConfig;
pub use kinesis::KinesisConfig;
pub use sns::SnsConfig;
pub(crate) use sqs::Sqs;
pub use sqs::SqsConfig;

/// The URL schemes of this module.
pub const SCHEMES: &[&str] = &["sqs", "sns", "kinesis", "events"];

/// One messaging sink as configured, before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagingConfig {
    Sqs(SqsConfig),
    Sns(SnsConfig),
    Kinesis(KinesisConfig),
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

/// What a message carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// The change record JSON.
    #[default]
    Record,
    /// The original DynamoDB Streams record JSON.
    Raw,
}

const FORMAT_OPTION: &str = "format";

/// Takes the `format` option every messaging URL accepts.
fn parse_format(url: &mut SinkUrl<'_>) -> Result<Format, ConfigError> {
    Ok(match url.choice(FORMAT_OPTION, &["record", "raw"])? {
        Some("raw") => Format::Raw,
        _ => Format::Record,
    })
}

/// The destination part of the URL, which must be present (spaces are never valid in it).
fn target<'u>(url: &SinkUrl<'u>, expected: &str) -> Result<&'u str, ConfigError> {
    let target = url.target;
    if target.is_empty() || target.chars().any(char::is_whitespace) {
        return Err(url.invalid(format!("expected {expected}")));
    }
    Ok(target)
}

/// Event name for messages: the stream's, or `EXPORT` for export items.
pub const EXPORT_EVENT_NAME: &str = "EXPORT";

/// Message attribute names under `format=raw` (as Pulsar's DynamoDB source connector).
pub const SEQUENCE_NUMBER_ATTRIBUTE: &str = "SEQUENCE_NUMBER";
pub const EVENT_NAME_ATTRIBUTE: &str = "EVENT_NAME";

/// One record, ready to be sent: what every service needs from it.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// Position in the batch given to `write`.
    pub index: usize,
    /// Queue URL, topic ARN, stream name or ARN, bus name or ARN.
    pub destination: String,
    pub primary_key: String,
    /// INSERT, MODIFY, REMOVE or EXPORT.
    pub event_name: &'static str,
    pub timestamp_ms: i64,
    pub body: String,
    /// FIFO deduplication id (≤ 128 characters of the set SQS and SNS accept).
    pub deduplication_id: String,
    /// String message attributes (SQS, SNS).
    pub attributes: Vec<(&'static str, String)>,
}

impl Message {
    pub fn new(
        index: usize,
        record: &ChangeRecord<'_>,
        format: Format,
        destination: String,
    ) -> Self {
        let event_name = record
            .event_name
            .map_or(EXPORT_EVENT_NAME, |name| name.as_str());
        let raw = format == Format::Raw && record.source == Source::Stream;
        let mut body = Vec::with_capacity(record.raw.len() + 256);
        if raw {
            cdc_record::write_compact_json(&mut body, record.raw);
        } else {
            record.write_json(&mut body);
        }
        let mut attributes = Vec::new();
        if format == Format::Raw {
            if let Some(sequence_number) = &record.sequence_number {
                attributes.push((SEQUENCE_NUMBER_ATTRIBUTE, sequence_number.to_string()));
            }
            attributes.push((EVENT_NAME_ATTRIBUTE, event_name.to_owned()));
        }
        Message {
            index,
            destination,
            primary_key: record.key.primary_key.to_string(),
            event_name,
            timestamp_ms: record.timestamp_ms,
            // Built from `&str` pieces only, so always UTF-8; lossy is never lossy here.
            body: String::from_utf8(body)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            deduplication_id: deduplication_id(record, raw),
            attributes,
        }
    }

    /// `primary_key` as a FIFO message group id.
    pub fn group_id(&self) -> String {
        fifo_id(&self.primary_key)
    }

    /// Bytes of the attributes as SQS and SNS count them (name, type and value).
    pub fn attribute_bytes(&self) -> usize {
        self.attributes
            .iter()
            .map(|(name, value)| name.len() + "String".len() + value.len())
            .sum()
    }
}

/// The FIFO deduplication id: the eventID under `format=raw`, `eventID:document_version` in
/// the record format, `table:primary_key:document_version` for export items (hashed when the
/// result is not a valid id). The same record always gets the same id, so a replayed batch
/// within the 5-minute window is not delivered twice.
fn deduplication_id(record: &ChangeRecord<'_>, raw: bool) -> String {
    match &record.event_id {
        Some(event_id) if raw => fifo_id(event_id),
        Some(event_id) => fifo_id(&format!("{event_id}:{}", record.version)),
        None => fifo_id(&format!(
            "{}:{}:{}",
            record.table_name, record.key.primary_key, record.version
        )),
    }
}

/// SQS and SNS accept up to 128 ASCII letters, digits and punctuation in message group and
/// deduplication ids; anything else becomes its SHA-256 in hex (64 characters).
pub(crate) fn fifo_id(text: &str) -> String {
    bounded_id(text, 128, |c| {
        c.is_ascii_alphanumeric() || c.is_ascii_punctuation()
    })
}

/// `text` if it has 1 to `max_chars` characters that `allowed` accepts, else its SHA-256 hex.
pub(crate) fn bounded_id(text: &str, max_chars: usize, allowed: fn(char) -> bool) -> String {
    let fits = !text.is_empty() && text.chars().count() <= max_chars && text.chars().all(allowed);
    if fits {
        text.to_owned()
    } else {
        crate::hash::sha256_hex(text.as_bytes())
    }
}

/// Per-call limits of a service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub entries: usize,
    /// Total entry bytes per call; a larger entry goes alone.
    pub call_bytes: usize,
    /// The service's fixed limit per entry, when it has one: a larger record is rejected as
    /// permanent without a call. `None` when the destination decides (its limit is configurable).
    pub entry_bytes: Option<usize>,
}

/// A whole call that failed (or a destination that could not be resolved).
#[derive(Debug, Clone)]
pub(crate) struct CallFailure {
    pub kind: FailureKind,
    pub error: SharedError,
}

impl CallFailure {
    pub fn from_sdk<E>(error: &E) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
    {
        let Failure { kind, error, .. } = crate::retry::failure(0, error);
        CallFailure { kind, error }
    }

    /// A request we could not even build: deterministic, so retrying cannot help.
    pub fn build(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        CallFailure {
            kind: FailureKind::Permanent,
            error: std::sync::Arc::new(error),
        }
    }
}

/// Why one entry of a call was not accepted, as the service said.
#[derive(Debug, Clone)]
pub(crate) struct EntryError {
    pub code: String,
    pub message: String,
}

/// The entries of an SQS- or SNS-style batch call, one per message, each named by its position
/// in the call (what [`results_by_id`] reads back). `entry` builds one in the SDK's own type,
/// told whether the destination is FIFO (a queue URL or topic ARN ending in `.fifo`).
pub(crate) fn entries_by_id<E, B>(
    destination: &str,
    batch: &[&Message],
    entry: impl Fn(String, &Message, bool) -> Result<E, B>,
) -> Result<Vec<E>, CallFailure>
where
    B: std::error::Error + Send + Sync + 'static,
{
    let fifo = destination.ends_with(".fifo");
    batch
        .iter()
        .enumerate()
        .map(|(at, message)| entry(at.to_string(), message, fifo))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CallFailure::build)
}

/// Per-entry results of an SQS- or SNS-style batch call, whose entries are named by the id we
/// gave them (their position in the call). An entry counts as sent only when the response lists
/// it as successful: one it does not mention is retried, never assumed delivered.
pub(crate) fn results_by_id<'a>(
    len: usize,
    successful: impl IntoIterator<Item = &'a str>,
    failed: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> Vec<Result<(), EntryError>> {
    let unanswered = || EntryError {
        code: "NoResult".to_owned(),
        message: "the response did not mention this entry".to_owned(),
    };
    let mut results: Vec<Result<(), EntryError>> = (0..len).map(|_| Err(unanswered())).collect();
    for id in successful {
        if let Some(result) = id.parse::<usize>().ok().and_then(|at| results.get_mut(at)) {
            *result = Ok(());
        }
    }
    for (id, code, message) in failed {
        if let Some(result) = id.parse::<usize>().ok().and_then(|at| results.get_mut(at)) {
            *result = Err(EntryError {
                code: code.to_owned(),
                message: message.unwrap_or_default().to_owned(),
            });
        }
    }
    results
}

/// One messaging service: its limits, how to resolve a destination and send one call.
#[async_trait]
pub(crate) trait Transport: Send + Sync {
    /// Names the service in errors.
    const SERVICE: &'static str;
    const LIMITS: Limits;
    /// Calls in flight at once within a round (they carry different items, so order is safe).
    const CONCURRENT_CALLS: usize = 8;

    /// Bytes of an entry as the service counts them against its limits.
    fn entry_bytes(&self, message: &Message) -> usize;

    /// The destination of records of `table`.
    async fn destination(&self, table: &str) -> Result<String, CallFailure>;

    /// Sends `batch` (all to `destination`) in one call; one result per entry, in order.
    async fn send(
        &self,
        destination: &str,
        batch: &[&Message],
    ) -> Result<Vec<Result<(), EntryError>>, CallFailure>;

    fn api_calls(&self) -> u64;
}

/// Errors this module reports for single records.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error("the {service} message is {size} bytes, over the service's limit of {limit} bytes")]
    TooLarge {
        service: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("{service} rejected the entry: {code}: {message}")]
    Rejected {
        service: &'static str,
        code: String,
        message: String,
    },
    #[error("{service} did not accept the entry: {code}: {message}")]
    NotAccepted {
        service: &'static str,
        code: String,
        message: String,
    },
    #[error("not sent: record {earlier} of the same item was not delivered, and per-item order must hold")]
    Blocked { earlier: usize },
}

/// Per-entry error codes of the messaging APIs that mean the entry itself is invalid, on top
/// of [`crate::retry::classify_code`]'s. Anything else (throttling, internal errors, KMS
/// trouble, unknown codes) is retried.
const PERMANENT_ENTRY_CODES: &[&str] = &[
    "InvalidParameter",
    "InvalidArgument",
    "MalformedDetail",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "MessageTooLong",
];

fn entry_failure_kind(code: &str) -> FailureKind {
    if PERMANENT_ENTRY_CODES.contains(&code) {
        FailureKind::Permanent
    } else {
        crate::retry::classify_code(Some(code))
    }
}

/// A messaging sink: the records of one `write` become messages for `T`.
pub struct MessagingSink<T> {
    name: String,
    format: Format,
    transport: T,
}

impl<T> MessagingSink<T> {
    pub(crate) fn new(name: &str, format: Format, transport: T) -> Self {
        MessagingSink {
            name: name.to_owned(),
            format,
            transport,
        }
    }
}

#[async_trait]
impl<T: Transport> Sink for MessagingSink<T> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        let mut destinations = std::collections::HashMap::new();
        let mut slots = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let table: &str = &record.table_name;
            let destination = match destinations.get(table) {
                Some(destination) => Result::clone(destination),
                None => {
                    let destination = resolve(&self.transport, table, deadline).await;
                    destinations.insert(table, destination.clone());
                    destination
                }
            };
            let item = deliver::ItemKey::of(record);
            let state = match destination {
                Ok(destination) => {
                    message(&self.transport, index, record, self.format, destination)
                }
                Err(CallFailure { kind, error }) => Err(Failure { index, kind, error }),
            };
            slots.push(deliver::Slot { item, state });
        }
        WriteReport {
            failures: deliver::deliver(&self.transport, slots, deadline).await,
        }
    }

    fn api_calls(&self) -> u64 {
        self.transport.api_calls()
    }
}

/// The record's message, or a permanent failure if it can never fit.
fn message<T: Transport>(
    transport: &T,
    index: usize,
    record: &ChangeRecord<'_>,
    format: Format,
    destination: String,
) -> Result<Message, Failure> {
    let message = Message::new(index, record, format, destination);
    let size = transport.entry_bytes(&message);
    match T::LIMITS.entry_bytes {
        Some(limit) if size > limit => Err(Failure {
            index,
            kind: FailureKind::Permanent,
            error: std::sync::Arc::new(MessagingError::TooLarge {
                service: T::SERVICE,
                size,
                limit,
            }),
        }),
        _ => Ok(message),
    }
}

async fn resolve<T: Transport>(
    transport: &T,
    table: &str,
    deadline: Instant,
) -> Result<String, CallFailure> {
    timeout_at(deadline, transport.destination(table))
        .await
        .unwrap_or_else(|_| {
            Err(CallFailure {
                kind: FailureKind::Retryable,
                error: std::sync::Arc::new(DeadlineExceeded),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::{bounded_id, fifo_id};

    #[test]
    fn ids_are_kept_when_valid_and_hashed_otherwise() {
        assert_eq!(fifo_id("o#1|v0"), "o#1|v0");
        let long = "k".repeat(129);
        let hashed = fifo_id(&long);
        assert_eq!(hashed.len(), 64);
        assert!(hashed.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fifo_id(&long), hashed, "stable across calls");
        assert_eq!(fifo_id("with space").len(), 64);
        assert_eq!(fifo_id("é").len(), 64);
        assert_eq!(bounded_id("é", 256, |_| true), "é");
        assert_eq!(bounded_id(&"é".repeat(257), 256, |_| true).len(), 64);
    }
}
