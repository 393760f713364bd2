//! Support for the end-to-end tests: a seeded workload on DynamoDB Local, its real stream
//! records read back as Lambda would deliver them, a Lambda delivery simulator, a loopback
//! proxy that breaks connections, and item comparison.

pub mod lambda;
pub mod outputs;
pub mod proxy;
pub mod streams;
pub mod workload;

/// Item comparison lives in testkit, beside the export fixtures that also use it.
pub use cdc_testkit::items;
