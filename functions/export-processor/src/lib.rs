//! export-processor: loads DynamoDB point-in-time exports (full or incremental, DYNAMODB_JSON
//! or ION) from S3 into the configured sinks, as the same change records stream-handler writes.
//!
//! An export's `manifest-summary.json` notification starts a load ([`trigger`]); the manifest
//! names the data files (`cdc_exports::manifest`), each sent as one piece of work to the work
//! queue (`cdc_exports::work`, `cdc_exports::queue`) or, without one, loaded in the same
//! invocation. A data file is streamed and gunzipped beside the mapping ([`decode`],
//! [`data_file`]), its progress kept in the state table (`cdc_exports::state`) so that a file
//! stopped by the deadline continues where it was.

pub mod data_file;
pub mod decode;
pub mod handler;
pub mod safety;
pub mod settings;
pub mod trigger;

pub use handler::{ExportProcessor, ProcessorError};
pub use settings::{Settings, SettingsError};
