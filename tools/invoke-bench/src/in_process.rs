//! The same batch mapped in-process, as `cargo bench -p stream-handler --bench mapping` does:
//! parse, map every record, encode JSON Lines. The floor of what an invocation can cost.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use cdc_record::{KeySchema, MappingOptions, StreamEvent};
use stream_handler::batch;

use crate::proc;

/// Median CPU time of the calling thread per mapping of `payload`, over `runs` (after one).
pub fn map_cpu(payload: &[u8], runs: usize) -> Result<Duration, String> {
    let schemas = HashMap::from([(
        "orders".to_owned(),
        Arc::new(KeySchema {
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
        }),
    )]);
    let mut spent = vec![];
    for run in 0..=runs {
        let before = proc::thread_cpu_ns().map_err(|e| e.to_string())?;
        let event = StreamEvent::parse(payload).map_err(|e| e.to_string())?;
        let (mapped, _) = batch::map(
            event.records,
            &event.raws,
            &schemas,
            &MappingOptions::default(),
        );
        if !mapped.letters.is_empty() {
            return Err(format!("{} records did not map", mapped.letters.len()));
        }
        black_box(cdc_sinks::jsonl::encode(&mapped.changes));
        let after = proc::thread_cpu_ns().map_err(|e| e.to_string())?;
        if run > 0 {
            spent.push(Duration::from_nanos(after.saturating_sub(before)));
        }
    }
    Ok(crate::report::median(&spent))
}
