//! What every Lambda function of the project shares around its handler: the AWS configuration
//! ([`AwsContext`]), the settings all functions read ([`settings`]), key schemas
//! ([`KeySchemas`]), the instant to stop writing before Lambda's deadline ([`deadline`]), and
//! the entry point that serves Lambda invocations or runs one local `--event FILE`
//! ([`runtime::main`]).
//!
//! A function implements [`Function`]; its `main.rs` only builds it from settings. Nothing here
//! knows about sinks, so a function that writes none does not pull in their SDKs. Each binary
//! declares [`allocator::Allocator`] its global allocator (`allocator.rs` says why).

pub mod allocator;
pub mod aws;
pub mod backoff;
pub mod deadline;
mod function;
pub mod key_schemas;
pub mod log_values;
pub mod raw_payload;
pub mod runtime;
pub mod settings;

pub use aws::AwsContext;
pub use function::{
    BatchResponse, ErrorType, Function, Invocation, ItemFailure, Redrive, Response,
};
pub use key_schemas::{KeySchemaError, KeySchemas};
pub use settings::{FunctionSettings, SettingError};

/// Milliseconds since the epoch, for metric timestamps and latencies.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
