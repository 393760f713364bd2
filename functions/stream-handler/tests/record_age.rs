//! `CDC_MAX_RECORD_AGE`: a record a sink keeps failing is dead-lettered whole once it is older
//! than that, and the batch goes on; a younger one is retried (against DynamoDB Local, with a
//! replica table that does not exist: every write fails, retryably).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cdc_lambda::AwsContext;
use cdc_sinks::{FanOut, JsonLinesDeadLetters, LineOutput, SinkConfig};
use cdc_testkit::{dynamodb_local, image, payload, stream_record_json, unique};
use serde_json::value::RawValue;
use stream_handler::{Settings, StreamHandler};
use tokio::time::Instant;

async fn handler(letters: &std::path::Path, url: &str) -> StreamHandler {
    let settings = Settings::from_env(|name| match name {
        "CDC_KEY_SCHEMA" => Some("orders:pk:sk".into()),
        "CDC_MAX_RECORD_AGE" => Some("3600".into()),
        "CDC_MAPPING_MAX_RECORD_AGE" => Some("82800".into()),
        _ => None,
    })
    .expect("settings");
    let aws = Arc::new(AwsContext::with_config(dynamodb_local()));
    let sink = SinkConfig::parse(url)
        .unwrap()
        .build(url, &aws)
        .await
        .unwrap();
    let letters = Box::new(JsonLinesDeadLetters::new(
        "letters",
        LineOutput::append_to(letters).unwrap(),
    ));
    StreamHandler::new(FanOut::new(vec![sink]), letters, settings, aws)
}

/// A record of `orders` created `age` ago.
fn record(seq: u64, pk: &str, age: Duration) -> Box<RawValue> {
    let raw = stream_record_json(
        "orders",
        seq,
        "INSERT",
        pk,
        "v0",
        Some(image(pk, "v0", seq, "t")),
    );
    let mut value: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let created = SystemTime::now() - age;
    value["dynamodb"]["ApproximateCreationDateTime"] =
        created.duration_since(UNIX_EPOCH).unwrap().as_secs().into();
    RawValue::from_string(value.to_string()).unwrap()
}

#[tokio::test]
async fn records_past_the_age_are_dead_lettered_and_younger_ones_retried() {
    let letters = std::env::temp_dir().join(format!("{}.jsonl", unique("aged-letters")));
    let url = format!("dynamodb://{}", unique("missing"));
    let handler = handler(&letters, &url).await;
    let hour = Duration::from_secs(3600);
    let records = vec![
        record(1, "old-1", 2 * hour),
        record(2, "old-2", 2 * hour),
        record(3, "young", Duration::from_secs(60)),
        record(4, "old-3", 2 * hour),
    ];
    let invocation = handler
        .handle(&payload(&records), Instant::now() + Duration::from_secs(10))
        .await
        .expect("handled");
    let failures: Vec<&str> = invocation
        .response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failures,
        vec![format!("{:021}", 3)],
        "the young record waits"
    );
    let text = std::fs::read_to_string(&letters).unwrap();
    let held: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(held.len(), 2, "the old records before it, whole: {text}");
    for (letter, pk) in held.iter().zip(["old-1", "old-2"]) {
        assert_eq!(letter["record"]["dynamodb"]["Keys"]["pk"]["S"], pk);
        let reason = letter["reason"].as_str().unwrap();
        assert!(reason.contains("older than CDC_MAX_RECORD_AGE"), "{reason}");
    }
    // Per sink, as the sink saw it: every record asked to be retried.
    let sink = invocation
        .metrics
        .section_of(&[("Sink".to_owned(), url.clone())])
        .expect("the sink's metrics");
    assert_eq!(sink.counter("sinkRecordsRetried"), 4);
    assert_eq!(sink.counter("sinkRecordsWritten"), 0);
    assert_eq!(sink.values("sinkWriteLatency").len(), 1);
    let emf = invocation.metrics.to_emf(0);
    assert!(
        emf.contains(r#""changeEventsDeadLetteredForAge":2"#),
        "{emf}"
    );
}
