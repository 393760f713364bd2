//! stream-handler: consumes DynamoDB Streams batches from a Lambda event source mapping and
//! fans every change out to the configured sinks, reporting partial batch failures.

pub mod batch;
pub mod handler;
pub mod key_schemas;
pub mod local;
pub mod raw_payload;
pub mod settings;

pub use handler::{BatchResponse, HandlerError, Invocation, ItemFailure, StreamHandler};
pub use settings::{Settings, SettingsError};

/// Milliseconds since the epoch, for metric timestamps.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
