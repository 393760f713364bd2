//! Delivers stream records to stream-handler the way Lambda's event source mapping does:
//! batches in shard order, retried from the reported `itemIdentifier`, at least once
//! (duplicated batches), and whole suffixes replayed (as after a function error).

use std::time::Duration;

use fastrand::Rng;
use serde_json::value::RawValue;
use stream_handler::StreamHandler;
use tokio::time::Instant;

/// The function as deployed with these two settings (everything else default).
pub async fn handler(
    sinks: &str,
    key_schema: &str,
    aws: std::sync::Arc<cdc_lambda::AwsContext>,
) -> StreamHandler {
    let settings = stream_handler::Settings::from_env(|name| match name {
        "CDC_SINKS" => Some(sinks.to_owned()),
        "CDC_KEY_SCHEMA" => Some(key_schema.to_owned()),
        _ => None,
    })
    .expect("settings");
    StreamHandler::from_settings(settings, aws)
        .await
        .expect("handler")
}

/// How hard delivery is made.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// The largest batch; each batch has a random size from 1 to this.
    pub max_batch: usize,
    /// Every n-th invocation's batch is delivered twice.
    pub duplicate_every: usize,
    /// After every n-th invocation, delivery restarts up to `max_batch` records earlier.
    pub replay_every: usize,
}

/// What a delivery took.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Calls to the handler, duplicates included.
    pub invocations: usize,
    /// Invocations that reported a failed record.
    pub partial_failures: usize,
    /// Batches delivered a second time.
    pub duplicates: usize,
    /// Times delivery went back to records already acknowledged.
    pub replays: usize,
}

/// Delivers every record until the handler has acknowledged all of them.
pub async fn deliver(
    handler: &StreamHandler,
    records: &[Box<RawValue>],
    delivery: Delivery,
    rng: &mut Rng,
) -> Stats {
    let mut stats = Stats::default();
    let mut position = 0;
    let mut stuck = 0;
    while position < records.len() {
        let size = rng
            .usize(1..=delivery.max_batch)
            .min(records.len() - position);
        let batch = &records[position..position + size];
        let acknowledged = invoke(handler, batch, &mut stats).await;
        if stats.invocations % delivery.duplicate_every == 0 {
            stats.duplicates += 1;
            invoke(handler, batch, &mut stats).await;
        }
        position += acknowledged;
        stuck = if acknowledged == 0 { stuck + 1 } else { 0 };
        assert!(
            stuck < 500,
            "no progress at record {position} after 500 attempts"
        );
        if stats.invocations % delivery.replay_every == 0 && position > 0 {
            stats.replays += 1;
            position -= rng.usize(0..=delivery.max_batch.min(position));
        }
    }
    stats
}

/// One invocation; returns how many records of the batch are acknowledged.
async fn invoke(handler: &StreamHandler, batch: &[Box<RawValue>], stats: &mut Stats) -> usize {
    stats.invocations += 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    let Ok(invocation) = handler.handle(&cdc_testkit::payload(batch), deadline).await else {
        // A failed invocation: Lambda retries the whole batch.
        return 0;
    };
    match invocation.response.batch_item_failures.first() {
        None => batch.len(),
        Some(failure) => {
            stats.partial_failures += 1;
            batch
                .iter()
                .position(|r| cdc_record_sequence(r.get()) == failure.item_identifier)
                .expect("the reported itemIdentifier is a record of the batch")
        }
    }
}

fn cdc_record_sequence(raw: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(raw).expect("valid record");
    value["dynamodb"]["SequenceNumber"]
        .as_str()
        .expect("sequence number")
        .to_owned()
}
