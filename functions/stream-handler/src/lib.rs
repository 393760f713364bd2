//! stream-handler: consumes DynamoDB Streams batches from a Lambda event source mapping and
//! fans every change out to the configured sinks, reporting partial batch failures.

pub mod batch;
pub mod handler;
pub mod redrive;
pub mod settings;

pub use cdc_lambda::{BatchResponse, Invocation, ItemFailure};
pub use handler::{HandlerError, StreamHandler};
pub use settings::{Settings, SettingsError};
