//! What a messaging sink sends: the body of a record in the chosen format, its event name,
//! FIFO ids and message attributes, the same for every service.

use cdc_record::{ChangeRecord, Source};

use crate::url::{ConfigError, SinkUrl};

/// What a message carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// The change record JSON.
    #[default]
    Record,
    /// The original DynamoDB Streams record JSON.
    Raw,
}

pub(crate) const FORMAT_OPTION: &str = "format";

/// Takes the `format` option every messaging URL accepts.
pub(crate) fn parse_format(url: &mut SinkUrl<'_>) -> Result<Format, ConfigError> {
    Ok(match url.choice(FORMAT_OPTION, &["record", "raw"])? {
        Some("raw") => Format::Raw,
        _ => Format::Record,
    })
}

/// Event name for messages: the stream's, or `EXPORT` for export items.
pub const EXPORT_EVENT_NAME: &str = "EXPORT";

/// Message attribute names under `format=raw` (as Pulsar's DynamoDB source connector).
/// This one holds the stream record's sequence number (absent for export items).
pub const SEQUENCE_NUMBER_ATTRIBUTE: &str = "SEQUENCE_NUMBER";
/// The message attribute holding the event name (INSERT, MODIFY, REMOVE or EXPORT) under
/// `format=raw`, on SQS and SNS.
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
    /// Message attributes (SQS, SNS).
    pub attributes: Vec<Attribute>,
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
                attributes.push(Attribute::string(
                    SEQUENCE_NUMBER_ATTRIBUTE,
                    sequence_number.to_string(),
                ));
            }
            attributes.push(Attribute::string(
                EVENT_NAME_ATTRIBUTE,
                event_name.to_owned(),
            ));
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
            .map(|a| a.name.len() + a.data_type.len() + a.value.len())
            .sum()
    }
}

/// One message attribute (SQS and SNS take the same three parts).
#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub name: &'static str,
    /// `String` or `Number`.
    pub data_type: &'static str,
    pub value: String,
}

impl Attribute {
    pub fn string(name: &'static str, value: String) -> Self {
        Attribute {
            name,
            data_type: "String",
            value,
        }
    }

    pub fn number(name: &'static str, value: usize) -> Self {
        Attribute {
            name,
            data_type: "Number",
            value: value.to_string(),
        }
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
