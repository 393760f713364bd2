//! Without `CDC_KEY_SCHEMA`, the key schema comes from `DescribeTable` (against DynamoDB Local).

use std::sync::Arc;
use std::time::Duration;

use cdc_lambda::AwsContext;
use cdc_sinks::jsonl::JsonLinesSink;
use cdc_sinks::{FanOut, JsonLinesDeadLetters, LineOutput};
use cdc_testkit::{create_table, dynamodb_local, payload, stream_record_json, unique};
use serde_json::value::RawValue;
use stream_handler::{Settings, StreamHandler};
use tokio::time::Instant;

/// A handler without `CDC_KEY_SCHEMA`, writing change records to `output`.
fn handler(output: &std::path::Path) -> StreamHandler {
    let settings = Settings::from_env(|_| None).expect("defaults");
    let aws = Arc::new(AwsContext::with_config(dynamodb_local()));
    let sink = JsonLinesSink::new("file", LineOutput::append_to(output).unwrap());
    let letters = Box::new(JsonLinesDeadLetters::new("stderr", LineOutput::Stderr));
    StreamHandler::new(FanOut::new(vec![Box::new(sink)]), letters, settings, aws)
}

fn output_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}.jsonl", unique("key-schemas")))
}

fn records(table: &str) -> Vec<Box<RawValue>> {
    let raw = stream_record_json(table, 1, "INSERT", "a|b", "c", None);
    vec![RawValue::from_string(raw).unwrap()]
}

#[tokio::test]
async fn the_key_schema_is_described_once_per_table() {
    let client = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let table = unique("described");
    create_table(&client, &table, "pk", Some("sk"), false).await;
    let output = output_file();
    let handler = handler(&output);
    let records = records(&table);
    let invocation = handler
        .handle(&payload(&records), Instant::now() + Duration::from_secs(10))
        .await
        .expect("described");
    assert!(invocation.response.batch_item_failures.is_empty());
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&output).unwrap().trim()).unwrap();
    assert_eq!(line["metadata"]["partition_key"], "a|b");
    assert_eq!(line["metadata"]["sort_key"], "c");
    assert_eq!(line["metadata"]["primary_key"], r"a\|b|c");

    // Described once: the table can go away and the handler still knows it.
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert!(handler
        .handle(&payload(&records), Instant::now() + Duration::from_secs(10))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_table_that_cannot_be_described_fails_the_invocation_with_a_clear_error() {
    let records = records(&unique("missing"));
    let err = handler(&output_file())
        .handle(&payload(&records), Instant::now() + Duration::from_secs(10))
        .await
        .expect_err("no such table");
    let text = err.to_string();
    assert!(
        text.contains("cannot read the key schema of table"),
        "{text}"
    );
    assert!(text.contains("CDC_KEY_SCHEMA"), "{text}");
}
