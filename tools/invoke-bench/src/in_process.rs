//! The same batch mapped in-process, as `cargo bench -p stream-handler --bench mapping` does:
//! parse, map every record, encode JSON Lines. The floor of what an invocation can cost.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use cdc_record::{KeySchema, MappingOptions, StreamEvent};
use stream_handler::batch;

use crate::proc;

/// Median CPU time per mapping of `payload`, over `runs` (after one). The mapping runs on a
/// thread of its own that waits between runs, so that its CPU time is read while it is idle
/// (see [`proc::thread_cpu_ns`]).
pub fn map_cpu(payload: &[u8], runs: usize) -> Result<Duration, String> {
    let (go, mapper_go) = mpsc::channel::<()>();
    let (mapper_done, done) = mpsc::channel::<Result<u32, String>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let tid = proc::thread_id().map_err(|e| e.to_string());
            while mapper_go.recv().is_ok() {
                let outcome = tid.clone().and_then(|tid| map(payload).map(|()| tid));
                if mapper_done.send(outcome).is_err() {
                    break;
                }
            }
        });
        let mut spent = vec![];
        let mut before = None;
        for run in 0..=runs {
            go.send(()).map_err(|e| e.to_string())?;
            let tid = done.recv().map_err(|e| e.to_string())??;
            let now = proc::thread_cpu_ns(tid).map_err(|e| e.to_string())?;
            if let (Some(before), true) = (before, run > 0) {
                spent.push(Duration::from_nanos(now.saturating_sub(before)));
            }
            before = Some(now);
        }
        drop(go);
        Ok(crate::report::median(&spent))
    })
}

/// Parse, map and encode, as the mapping benchmark does.
fn map(payload: &[u8]) -> Result<(), String> {
    let schemas = HashMap::from([(
        "orders".to_owned(),
        Arc::new(KeySchema {
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
        }),
    )]);
    let event = StreamEvent::parse(payload).map_err(|e| e.to_string())?;
    let (mapped, _) = batch::map(
        event.records,
        &event.raws,
        &schemas,
        &MappingOptions::default(),
    );
    if let Some((_, letter)) = mapped.letters.first() {
        return Err(format!(
            "{} records did not map, the first: {}",
            mapped.letters.len(),
            letter.reason
        ));
    }
    black_box(cdc_sinks::jsonl::encode(&mapped.changes));
    Ok(())
}
