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
    /// Which record failed.
    pub record: RecordId,
    /// Why it failed.
    pub reason: Reason,
}

/// Why a record cannot become a change record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The JSON does not have the shape of a stream record or export line; `path` locates the fault.
    #[error("invalid at {path}: {message}")]
    Shape {
        /// Where in the record, as a JSON path such as `dynamodb.NewImage.tags.L[2]`.
        path: String,
        /// What `serde_json` found wrong there.
        message: String,
    },
    /// A required field is absent; the text names it, such as `dynamodb.Keys`.
    #[error("missing {0}")]
    Missing(&'static str),
    /// `eventName` (given) is not one of the three DynamoDB Streams event names.
    #[error("eventName {0:?} is not INSERT, MODIFY or REMOVE")]
    EventName(String),
    /// `eventSourceARN` (given) is not a stream ARN, so the table is unknown.
    #[error("eventSourceARN {0:?} names no table (expected arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL)")]
    EventSourceArn(String),
    /// `ApproximateCreationDateTime` (given) is negative or implausibly far in the future.
    #[error("ApproximateCreationDateTime {0} is not a time in seconds since the epoch")]
    Timestamp(String),
    /// An incremental export line's `Metadata.WriteTimestampMicros` (given) is not a whole,
    /// non-negative number of microseconds.
    #[error(
        "Metadata.WriteTimestampMicros {0:?} is not a time in whole microseconds since the epoch"
    )]
    WriteTimestamp(String),
    /// The item's key attributes are missing or of a type a key cannot have.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A line of an ION export that has no DYNAMODB_JSON equivalent.
    #[error(transparent)]
    Ion(#[from] IonError),
}

/// Locates why `raw` (found at `location` in its record, `""` for the whole record) does not
/// deserialize as `T`. Only called once a fast parse has failed, so the path tracking costs
/// nothing on good records.
pub(crate) fn shape_error<'a, T: serde::Deserialize<'a>>(raw: &'a str, location: &str) -> Reason {
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
