//! Why a verification could not run to its end (as opposed to finding differences, which is
//! its result). Messages name the table, index or setting, never item values.

use crate::document::DocumentError;
use crate::item::ValueError;
use crate::key::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("DescribeTable {table:?} failed: {message}")]
    Describe { table: String, message: String },
    #[error("table {table:?}: {problem}")]
    KeySchema { table: String, problem: String },
    #[error(
        "the replica {replica:?} has key {found}, the source {source_table:?} has key {expected}: \
         a dynamodb:// replica (mode replica or batch) has the source's key \
         (a mode=history table, keyed primary_key and change, cannot be verified this way)"
    )]
    KeyMismatch {
        source_table: String,
        replica: String,
        expected: String,
        found: String,
    },
    #[error("Scan of {table:?} failed: {message}")]
    Scan { table: String, message: String },
    #[error("GetItem on {table:?} failed: {message}")]
    Get { table: String, message: String },
    #[error("an item of {table:?}: {source}")]
    Key {
        table: String,
        #[source]
        source: KeyError,
    },
    #[error("the item {key:?} of {table:?}: {source}")]
    Value {
        table: String,
        key: String,
        #[source]
        source: ValueError,
    },
    #[error("OpenSearch {index}: {message}")]
    OpenSearch { index: String, message: String },
    #[error("OpenSearch {index}, document {id:?}: {source}")]
    Document {
        index: String,
        id: String,
        #[source]
        source: DocumentError,
    },
    #[error("the item {key:?} of {table:?} cannot be rendered as a document: {source}")]
    Expected {
        table: String,
        key: String,
        #[source]
        source: DocumentError,
    },
}
