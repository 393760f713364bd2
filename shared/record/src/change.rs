//! The change record: the one shape every sink receives.

use std::borrow::Cow;

use crate::json;
use crate::key::PrimaryKey;
use crate::value::Item;

/// An item's content: as plain JSON (what most sinks write) and as the DynamoDB JSON it came
/// from (for sinks that need the typed attributes, parsed on demand).
#[derive(Debug, Clone, PartialEq)]
pub struct Document<'a> {
    json: String,
    image: &'a str,
}

impl<'a> Document<'a> {
    pub(crate) fn new(json: String, image: &'a str) -> Self {
        Document { json, image }
    }

    /// The plain JSON object, e.g. `{"pk":"o#1","amount":15}`.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The DynamoDB JSON image it was made from, e.g. `{"pk":{"S":"o#1"},"amount":{"N":"15"}}`.
    pub fn image(&self) -> &'a str {
        self.image
    }

    /// The typed attributes (parsed from the image, which was validated when mapped).
    pub fn item(&self) -> Result<Item<'a>, serde_json::Error> {
        serde_json::from_str(self.image)
    }
}

/// The DynamoDB Streams event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    /// A new item was written.
    Insert,
    /// An existing item was changed or overwritten.
    Modify,
    /// An item was deleted (by a user or by TTL).
    Remove,
}

impl EventName {
    /// The name as DynamoDB Streams writes it: `INSERT`, `MODIFY` or `REMOVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// What a search index (or any keyed sink) does with the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create or replace the document.
    Index,
    /// Delete the document.
    Delete,
}

impl Action {
    /// The action as sinks write it: `index` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Delete => "delete",
        }
    }
}

/// Where the record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A DynamoDB Streams record delivered to stream-handler.
    Stream,
    /// A line of a DynamoDB export data file loaded by export-processor.
    Export,
}

impl Source {
    /// The source as records and dead letters name it: `stream` or `export`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Stream => "stream",
            Source::Export => "export",
        }
    }
}

/// One change to one item, borrowing from the payload it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord<'a> {
    /// The DynamoDB table the item belongs to.
    pub table_name: Cow<'a, str>,
    /// The item's key, rendered and as typed attributes.
    pub key: PrimaryKey<'a>,
    /// `None` for export items.
    pub event_name: Option<EventName>,
    /// Whether keyed sinks index (create or replace) or delete the item: delete for a REMOVE
    /// (and an incremental export's delete), index otherwise.
    pub action: Action,
    /// Milliseconds since the epoch: the stream record's creation time, or the export time.
    pub timestamp_ms: i64,
    /// See the crate docs for the rule.
    pub version: i64,
    /// `None` for export items.
    pub sequence_number: Option<Cow<'a, str>>,
    /// `None` for export items.
    pub event_id: Option<Cow<'a, str>>,
    /// A REMOVE made by DynamoDB's TTL process rather than by a user; always `false` for
    /// export items.
    pub ttl_delete: bool,
    /// Whether the record came from the stream or an export.
    pub source: Source,
    /// `None` for a REMOVE under `view_on_remove = NEW_IMAGE`.
    pub document: Option<Document<'a>>,
    /// An INSERT or MODIFY whose stream carries no new image (`KEYS_ONLY`, `OLD_IMAGE`): the
    /// document holds the key attributes only, not the item. Sinks that keep the item's state
    /// must not write it as the item.
    pub keys_only: bool,
    /// The source record or export line exactly as received.
    pub raw: &'a str,
}

impl ChangeRecord<'_> {
    /// Appends the record as one line of JSON Lines (the stdout and file sinks' format).
    pub fn write_json_line(&self, out: &mut Vec<u8>) {
        self.write_json(out);
        out.push(b'\n');
    }

    /// Appends `{"metadata": {...}, "document": {...}}`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"metadata\":{\"table_name\":");
        json::string(out, &self.table_name);
        out.extend_from_slice(b",\"primary_key\":");
        json::string(out, &self.key.primary_key);
        out.extend_from_slice(b",\"partition_key\":");
        json::string(out, &self.key.partition_key);
        out.extend_from_slice(b",\"sort_key\":");
        json::opt_string(out, self.key.sort_key.as_deref());
        out.extend_from_slice(b",\"dynamodb_event_name\":");
        json::opt_string(out, self.event_name.map(EventName::as_str));
        out.extend_from_slice(b",\"opensearch_action\":");
        json::string(out, self.action.as_str());
        out.extend_from_slice(b",\"dynamodb_timestamp\":");
        json::int(out, self.timestamp_ms);
        out.extend_from_slice(b",\"document_version\":");
        json::int(out, self.version);
        out.extend_from_slice(b",\"sequence_number\":");
        json::opt_string(out, self.sequence_number.as_deref());
        out.extend_from_slice(b",\"event_id\":");
        json::opt_string(out, self.event_id.as_deref());
        out.extend_from_slice(b",\"ttl_delete\":");
        json::bool(out, self.ttl_delete);
        out.extend_from_slice(b",\"source\":");
        json::string(out, self.source.as_str());
        out.extend_from_slice(b"},\"document\":");
        match &self.document {
            Some(document) => out.extend_from_slice(document.json.as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }

    /// The document alone as a JSON object (`{}` when there is none), for sinks that index it.
    pub fn write_document(&self, out: &mut Vec<u8>) {
        match &self.document {
            Some(document) => out.extend_from_slice(document.json.as_bytes()),
            None => out.extend_from_slice(b"{}"),
        }
    }
}
