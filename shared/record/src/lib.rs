//! The change record and the mapping from DynamoDB Streams records and export items to it.
//!
//! This crate does no I/O. Every function of the project maps through it, so a stream record
//! and an export item of the same item become the same document with comparable versions.
//!
//! Sources: stream records ([`StreamEvent`], [`StreamRecord`]) and the lines of export data
//! files ([`map_export_line`]): full exports (`{"Item": {...}}`, one per item) and
//! incremental exports (one per item changed in the window, its last state: `Keys`, and
//! `NewImage` unless it was deleted, `OldImage` with the `NEW_AND_OLD_IMAGES` view), both in
//! DYNAMODB_JSON; an ION export's lines first become the DYNAMODB_JSON line of the same item
//! ([`ion_line_to_json`]), byte for byte what that export would hold, so both formats give
//! identical change records.
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
//! Export lines have no `dynamodb_event_name`, `sequence_number` or `event_id` (`null`) and
//! `source: "export"`. A full export's item is an `index` stamped with the export time. An
//! incremental export's line is an `index` of its new image, or a `delete` when it has none,
//! whose document follows [`ViewOnRemove`] as a stream REMOVE's does; it is stamped with its
//! write time (`Metadata.WriteTimestampMicros`, in milliseconds).
//!
//! Strings are written with minimal escaping (`\"`, `\\`, control characters) whatever
//! escaping their source used, so the document of one item is the same bytes from a stream
//! record, a DYNAMODB_JSON line or an ION line.
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
//! * **Incremental export lines**: [`version::incremental_version`],
//!   `max(min(floor_to_second(W), to) − margin, (from − margin) + 1)` for a line written at W
//!   by the export of the window `[from, to)`. Incremental exports chain: each window starts
//!   at the time of the export before it (the full export, or the previous window's end). The
//!   line holds the item's last state in its window, so it must rank below every later change
//!   and above everything it supersedes.
//!   - *Every later stream change outranks it.* A change after W is stamped at least
//!     `floor_to_second(W)` (less skew). The first term is a margin below that. The second is
//!     too, as `W ≥ from` gives `floor_to_second(W) > from − 1 s`, so it is enough that the
//!     margin exceed one second plus skew (the default is a minute). W itself would not do: a
//!     line written at 12:00:00.700 would outrank a change made at 12:00:00.900 and stamped
//!     12:00:00, and the sink would keep the older state for good.
//!   - *It outranks the exports it supersedes.* The export its window starts from has
//!     `from − margin`; the line is at least one above, even when W falls in the same second
//!     as `from` (where `floor_to_second(W) − margin` alone is below it). A line of an earlier
//!     window `[from′, from)` has `W′ < from`, so its version is at most `from − margin`: below
//!     every line of a later window. A full export made at or after `to` outranks every line
//!     written in the window in turn. The cap at `to` keeps a write time past the window
//!     (which AWS should never write) from breaking that order.
//!   - *Against the stream's earlier changes* it is the full export's argument again: changes
//!     stamped before `floor_to_second(W) − margin` rank below the line; a change within the
//!     margin may rank above it, but then the stream, whose versions never decrease, also
//!     delivers the change at W (and any later one), and the item ends at its latest state.
//!
//!   So replaying the stream from before the first export's time minus the margin over the
//!   full export and its chain of incremental exports, in any order, converges to the source.

mod canonical;
mod change;
mod error;
mod export;
mod export_source;
mod fast;
mod incremental;
mod ion;
mod ion_error;
mod ion_nesting;
mod json;
mod key;
mod number;
mod options;
mod projection;
mod stream;
mod stream_event;
pub mod utf8;
mod value;
pub mod version;

pub use canonical::NumberRange;
pub use change::{Action, ChangeRecord, Document, EventName, Source};
pub use error::{MapError, Reason, RecordId};
pub use export::map_export_line;
pub use export_source::{ExportKind, ExportSource};
pub use ion::ion_line_to_json;
pub use ion_error::IonError;
pub use json::{compact as write_compact_json, string as write_json_string};
pub use key::{KeyError, KeySchema, PrimaryKey};
pub use number::{Number, NumberError};
pub use options::{MappingOptions, TtlDeletes, ViewOnRemove};
pub use projection::{ProjectedTexts, Projection, ProjectionError};
pub use stream_event::{sequence_number_of, EventError, StreamEvent, StreamRecord};
pub use value::{AttributeValue, Binary, Item, Text, TYPE_TAGS};
