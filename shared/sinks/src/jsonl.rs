//! The `stdout` and `file://` sinks: change records as JSON Lines.
//!
//! Appending cannot be idempotent, so a replayed batch appears twice; every line carries
//! `primary_key`, `sequence_number` and `document_version`, by which readers deduplicate. A
//! file write still running at the deadline is reported failed but may complete afterwards
//! (blocking file I/O cannot be cancelled): the replay then appends it again, nothing is lost.

use std::sync::Arc;

use async_trait::async_trait;
use cdc_record::ChangeRecord;
use tokio::time::Instant;

use crate::output::LineOutput;
use crate::sink::{FailureKind, Sink, WriteReport};

/// The `stdout` and `file://` sinks: each change record as one JSON line.
pub struct JsonLinesSink {
    name: String,
    output: LineOutput,
}

impl JsonLinesSink {
    /// A sink writing to `output`, which `name` names in logs and errors.
    pub fn new(name: impl Into<String>, output: LineOutput) -> Self {
        JsonLinesSink {
            name: name.into(),
            output,
        }
    }
}

/// The batch as JSON Lines.
pub fn encode(records: &[ChangeRecord<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.raw.len()).sum::<usize>() + 256);
    for record in records {
        record.write_json_line(&mut out);
    }
    out
}

#[async_trait]
impl Sink for JsonLinesSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, records: &[ChangeRecord<'_>], _deadline: Instant) -> WriteReport {
        match self.output.write(encode(records)).await {
            Ok(()) => WriteReport::ok(),
            // One buffer, one write: after an error nothing of the batch counts as written.
            Err(e) => {
                WriteReport::failed_from(0, records.len(), FailureKind::Retryable, Arc::new(e))
            }
        }
    }
}
