//! `cdc-verify`: compares a source DynamoDB table with what the sinks wrote from it, a replica
//! table written by the `dynamodb://` sink (`mode=replica` or `mode=batch`) and/or an
//! OpenSearch index written by the `opensearch://` sink, and reports the items **missing**
//! (in the source, not live in the target), **extra** (live in the target, not in the source;
//! tombstones are not live) and **different** (same key, other attributes), by key, with the
//! names of the attributes that differ: never values, so reports can go to logs.
//!
//! Values compare exactly: numbers as decimal values with all their digits (`1.50` = `1.5`,
//! no `f64`), sets in any order, binaries as bytes, maps and lists recursively. A replica
//! item's `_cdc_version` is bookkeeping and left out. An index document must be the
//! change record's `document` for the item under the `_id` = `primary_key`, both rendered by
//! the record crate as the sink writes them.
//!
//! How: the target is read first into memory as key → 128-bit fingerprint of the item's
//! canonical form ([`compare`]), then the source is scanned once and each item checked and
//! dropped. Only mismatches are read again (the replica's copy of an example, to name the
//! attributes; the index's document of every mismatch, since a fingerprint cannot tell a
//! set's order from a list's). All reads share one pace ([`pace`]).
//!
//! For tests of other crates: [`verify`] with [`Options`] runs a whole comparison;
//! [`Comparison`], [`Canonicalizer`], [`json_fingerprint`], [`expected_document`] and
//! [`document_differences`] are the parts without I/O.

pub mod cli;
pub mod compare;
pub mod decimal;
pub mod document;
pub mod dynamodb;
mod error;
pub mod item;
pub mod key;
pub mod opensearch;
pub mod pace;
pub mod report;
mod run;

pub use compare::{Comparison, Verdict};
pub use decimal::{Decimal, DecimalError};
pub use document::{
    document_differences, expected_document, item_to_dynamodb_json, json_fingerprint,
    DocumentError, ExpectedDocument,
};
pub use error::VerifyError;
pub use item::{Canonicalizer, Fingerprint, ReplicaMode, SdkItem, ValueError};
pub use key::{KeyError, KeyPart, KeyType, TableKey};
pub use opensearch::{OpenSearchAuth, OpenSearchTarget};
pub use report::{Difference, Differences, KeyList, Outcome, Report, Target, TargetReport};
pub use run::{verify, Options, ReplicaTarget, DEFAULT_EXAMPLES, DEFAULT_MAX_READS_PER_SECOND};
