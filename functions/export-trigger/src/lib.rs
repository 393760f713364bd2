//! export-trigger: starts DynamoDB point-in-time exports (full, then incremental windows
//! chained from it) for export-processor to load, polls them, audits their loads and reports
//! where each table stands. Every step is recorded in the state table before the next, so a
//! crash at any point repeats nothing and loses nothing.
//!
//! [`plan`] decides the next export, [`jobs`] keeps each in the state table, [`exports`] calls
//! DynamoDB's export API, [`audit`] checks the load against the manifest, [`report`] says where
//! things stand, [`handler`] runs one invocation's [`command`].

pub mod audit;
pub mod command;
pub mod exports;
pub mod handler;
pub mod jobs;
pub mod plan;
pub mod report;
pub mod settings;

pub use handler::{ExportTrigger, TriggerError};
pub use settings::{Settings, SettingsError};
