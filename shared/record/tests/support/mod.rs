//! Test support of this crate's tests: an Ion writer, and the exact JSON reader from testkit.

#![allow(dead_code, unused_imports)]

pub mod ion;

pub use cdc_testkit::json::Json;
