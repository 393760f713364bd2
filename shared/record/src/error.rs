//! Why a record could not be mapped, naming the record.

use std::fmt;

use crate::ion_error::IonError;
use crate::key::KeyError;

/// Which record failed: what an operator needs to find it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordId {
    /// A stream record, by its `SequenceNumber`.
    Sequence(String),
    /// A stream record whose `SequenceNumber` could not be read.
    UnknownSequence,
    /// A line of an export data file (1-based).
    ExportLine(u64),
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordId::Sequence(seq) => write!(f, "stream record {seq}"),
            RecordId::UnknownSequence => {
                f.write_str("stream record without a readable SequenceNumber")
            }
            RecordId::ExportLine(line) => write!(f, "export line {line}"),
        }
    }
}

/// A record that cannot become a change record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record}: {reason}")]
pub struct MapError {
    pub record: RecordId,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The JSON does not have the shape of a stream record or export line; `path` locates the fault.
    #[error("invalid at {path}: {message}")]
    Shape { path: String, message: String },
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("eventName {0:?} is not INSERT, MODIFY or REMOVE")]
    EventName(String),
    #[error("eventSourceARN {0:?} names no table (expected arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL)")]
    EventSourceArn(String),
    #[error("ApproximateCreationDateTime {0} is not a time in seconds since the epoch")]
    Timestamp(String),
    #[error(
        "Metadata.WriteTimestampMicros {0:?} is not a time in whole microseconds since the epoch"
    )]
    WriteTimestamp(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A line of an ION export that has no DYNAMODB_JSON equivalent.
    #[error(transparent)]
    Ion(#[from] IonError),
}
