//! The hand-written fast path: one validating pass over the bytes of a payload or export
//! line, transcoding each image where it meets it. Every function here answers `Some` with
//! exactly what `serde` would read, or `None` to hand over; `serde` (in the modules above:
//! [`crate::stream`], [`crate::incremental`], [`crate::export`]) stays the authority and
//! explains whatever it rejects. Nothing outside this module parses JSON by hand.
//!
//! The tests that hold the fast path to `serde`: each module's `*_agrees_with_serde` unit
//! test, and `tests/payload_validation.rs` (byte-by-byte corruptions, arbitrary JSON, deep
//! nesting), `tests/lossless.rs` (fast vs serde on arbitrary values).

pub(crate) mod export;
pub(crate) mod incremental;
pub(crate) mod scan;
pub(crate) mod stream;
pub(crate) mod transcode;
