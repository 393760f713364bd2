//! The change record and the mapping from DynamoDB Streams records and export items to it.
//!
//! This crate does no I/O. Every function of the project maps through it, so a stream record
//! and an export item of the same item become the same document with comparable versions.
//!
//! # The change record
//!
//! ```json
//! {"metadata": {"table_name": "orders", "primary_key": "o#1|v0", "partition_key": "o#1",
//!               "sort_key": "v0", "dynamodb_event_name": "MODIFY", "opensearch_action": "index",
//!               "dynamodb_timestamp": 1795278192000, "document_version": 1795278192000,
//!               "sequence_number": "1100000000017454423010", "event_id": "8e36...",
//!               "ttl_delete": false, "source": "stream"},
//!  "document": {"pk": "o#1", "sk": "v0", "amount": 15, "tags": ["a", "b"], "blob": "AQI="}}
//! ```
//!
//! Values are lossless: N is written as a JSON number with DynamoDB's own digits (never through
//! `f64`), B and BS as base64, SS/NS/BS as arrays, NULL as `null`, M and L nested. Key
//! components render S as is, N as its decimal text and B as base64; `primary_key` joins them
//! with `|` after escaping `|` and `\` with `\`, so two different keys never share one.
//!
//! `document` is the new image for INSERT and MODIFY (the keys alone when the stream carries
//! no new image: `KEYS_ONLY` and `OLD_IMAGE` streams). For REMOVE it follows
//! [`ViewOnRemove`]: `null` (the default, as Data Prepper) or the old image (the keys when the
//! stream carries none).
//!
//! # `document_version`
//!
//! An `i64` meant as an OpenSearch external version with `version_type=external_gte`, and
//! as the guard of conditional writes in other sinks (a write wins when its version is
//! greater than or equal to the stored one).
//!
//! * **Stream records**: `ApproximateCreationDateTime` in milliseconds
//!   ([`version::stream_version`]). DynamoDB writes the changes of one item to one shard in
//!   order, and the timestamps along a shard do not decrease, so versions never decrease along
//!   an item's changes. Several changes may share a version (the timestamp has whole seconds;
//!   DynamoDB Local even rounds to the minute): as ties go to the later write and Lambda
//!   delivers and replays a shard in order, the last change of an item is always written last,
//!   so replays still converge.
//! * **Export items**: the export time minus a margin ([`version::export_version`], default
//!   [`version::DEFAULT_EXPORT_MARGIN_MS`]). A change the export may not contain happened after
//!   the export time T, so its timestamp is at least T rounded down to the second (minus any
//!   clock skew, which the margin absorbs): it outranks the export item, whichever arrives
//!   first. A change older than T − margin is contained in the export, which outranks it.
//!   Changes between the two may be in the export or not; the stream record wins, and as the
//!   stream delivers every later change of that item too, the item ends at its latest state.
//!   Hence replaying the stream from before T − margin over the snapshot converges to the
//!   source, and a larger margin is never wrong, only a smaller one. A REMOVE in the stream
//!   after T must also beat a late snapshot copy of the deleted item: sinks keep the delete's
//!   version (a tombstone) for that.

mod change;
mod error;
mod export;
mod incremental;
mod json;
mod key;
mod number;
mod scan;
mod stream;
mod transcode;
mod value;
pub mod version;

pub use change::{Action, ChangeRecord, Document, EventName, Source};
pub use error::{MapError, Reason, RecordId};
pub use export::{map_export_line, ExportKind, ExportSource};
pub use json::{compact as write_compact_json, string as write_json_string};
pub use key::{KeyError, KeySchema, PrimaryKey};
pub use number::{Number, NumberError};
pub use stream::{sequence_number_of, EventError, StreamEvent, StreamRecord};
pub use value::{AttributeValue, Binary, Item, Text, TYPE_TAGS};

/// What a REMOVE's `document` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ViewOnRemove {
    /// No document (`null`), as Data Prepper.
    #[default]
    NewImage,
    /// The old image, or the keys when the stream has no old image.
    OldImage,
}

/// What happens to deletes made by DynamoDB's TTL process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TtlDeletes {
    /// Deliver them, flagged `ttl_delete: true`.
    #[default]
    Keep,
    /// Leave them out (an archive that should keep expired items).
    Drop,
}

/// Mapping settings shared by every source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MappingOptions {
    pub view_on_remove: ViewOnRemove,
    pub ttl_deletes: TtlDeletes,
}

/// Locates why `raw` (found at `location` in its record, `""` for the whole record) does not
/// deserialize as `T`. Only called once a fast parse has failed, so the path tracking costs
/// nothing on good records.
fn shape_error<'a, T: serde::Deserialize<'a>>(raw: &'a str, location: &str) -> Reason {
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(e) => Reason::Shape {
            path: match (location, e.path().to_string()) {
                ("", path) => path,
                (location, path) if path == "." => location.to_owned(),
                (location, path) => format!("{location}.{path}"),
            },
            message: e.into_inner().to_string(),
        },
        Ok(_) => Reason::Shape {
            path: ".".into(),
            // Only called after the same parse failed, so this cannot happen; say so if it does.
            message: "rejected once, accepted when parsed again (a bug: please report)".into(),
        },
    }
}
