//! Why a verification could not run to its end (as opposed to finding differences, which is
//! its result). Messages name the table, index or setting, never item values.

use crate::document::DocumentError;
use crate::item::ValueError;
use crate::key::KeyError;

/// Why a verification stopped.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `DescribeTable` failed, so the table's key is unknown.
    #[error("DescribeTable {table:?} failed: {message}")]
    Describe {
        /// The table.
        table: String,
        /// The SDK error.
        message: String,
    },
    /// The table's key, as described, cannot be used (a key attribute without a definition
    /// or of a type keys cannot have).
    #[error("table {table:?}: {problem}")]
    KeySchema {
        /// The table.
        table: String,
        /// What is wrong.
        problem: String,
    },
    #[error(
        "the replica {replica:?} has key {found}, the source {source_table:?} has key {expected}: \
         a dynamodb:// replica (mode replica or batch) has the source's key \
         (a mode=history table, keyed primary_key and change, cannot be verified this way)"
    )]
    /// The replica's key is not the source's, so it cannot be a `dynamodb://` replica of it.
    KeyMismatch {
        /// The source table.
        source_table: String,
        /// The replica table.
        replica: String,
        /// The source's key, such as `pk (S), sk (N)`.
        expected: String,
        /// The replica's key.
        found: String,
    },
    /// A `Scan` page failed.
    #[error("Scan of {table:?} failed: {message}")]
    Scan {
        /// The table scanned.
        table: String,
        /// The SDK error.
        message: String,
    },
    /// A `GetItem` (reading a mismatch again) failed.
    #[error("GetItem on {table:?} failed: {message}")]
    Get {
        /// The table read.
        table: String,
        /// The SDK error.
        message: String,
    },
    #[error("an item of {table:?}: {source}")]
    /// An item whose key cannot be rendered.
    Key {
        /// The table the item is in.
        table: String,
        /// Why the key cannot be rendered.
        #[source]
        source: KeyError,
    },
    #[error("the item {key:?} of {table:?}: {source}")]
    /// An item with a value that cannot be put in canonical form.
    Value {
        /// The table the item is in.
        table: String,
        /// The item's rendered key.
        key: String,
        /// Which attribute, and why.
        #[source]
        source: ValueError,
    },
    /// The index cannot be read: no HTTP client, a failed or refused request, an unreadable
    /// answer.
    #[error("OpenSearch {index}: {message}")]
    OpenSearch {
        /// The index, as `ENDPOINT/INDEX`.
        index: String,
        /// What failed.
        message: String,
    },
    #[error("OpenSearch {index}, document {id:?}: {source}")]
    /// A document of the index that cannot be compared.
    Document {
        /// The index, as `ENDPOINT/INDEX`.
        index: String,
        /// The document's `_id`.
        id: String,
        /// Why it cannot be compared.
        #[source]
        source: DocumentError,
    },
    #[error("the item {key:?} of {table:?} cannot be rendered as a document: {source}")]
    /// A source item whose expected document cannot be rendered.
    Expected {
        /// The source table.
        table: String,
        /// The item's rendered key (empty when that failed too).
        key: String,
        /// Why the document cannot be rendered.
        #[source]
        source: DocumentError,
    },
}
