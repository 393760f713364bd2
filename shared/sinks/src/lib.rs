//! Sinks: the [`Sink`] interface, the [`FanOut`] that writes one batch to all of them, the
//! sinks themselves (chosen by `CDC_SINKS` URLs) and dead-letter queues (`CDC_DLQ`).

pub mod config;
mod dead_letter;
mod delivery;
pub mod dynamodb;
mod fanout;
mod hash;
pub mod jsonl;
pub mod messaging;
mod object_key;
pub mod opensearch;
mod output;
mod per_table;
mod projection;
pub mod retry;
pub mod s3;
mod sink;
mod url;

pub use config::{build_fan_out, DeadLetterConfig, SinkConfig, SinkSettings};
pub use dead_letter::read::records_to_redrive;
pub use dead_letter::{
    send_in_order, DeadLetter, DeadLetterError, DeadLetterQueue, JsonLinesDeadLetters,
};
pub use dead_letter::{QueueRef, S3DeadLetterConfig, SqsDeadLetterConfig};
pub use delivery::{deliver, Delivery, MappedBatch};
pub use fanout::{FanOut, FanOutReport, SinkOutcome, TooOld};
pub use output::LineOutput;
pub use per_table::PerTable;
pub use projection::ProjectedSink;
pub use sink::{
    DeadlineExceeded, DeleteMemory, Failure, FailureKind, NoNewImage, SharedError, Sink,
    WriteReport,
};
pub use url::{ConfigError, SinkUrl};
