//! Without `CDC_KEY_SCHEMA`, the key schema comes from `DescribeTable`; a configured one that
//! no record fits is a configuration error, retried, never dead-lettered (against DynamoDB
//! Local).

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
    handler_with(output, None, LineOutput::Stderr)
}

/// A handler with `key_schema` as `CDC_KEY_SCHEMA` (if any), dead letters to `letters`.
fn handler_with(
    output: &std::path::Path,
    key_schema: Option<&str>,
    letters: LineOutput,
) -> StreamHandler {
    let settings = Settings::from_env(|name| {
        (name == "CDC_KEY_SCHEMA")
            .then(|| key_schema.map(str::to_owned))
            .flatten()
    })
    .expect("settings");
    let aws = Arc::new(AwsContext::with_config(dynamodb_local()));
    let sink = JsonLinesSink::new("file", LineOutput::append_to(output).unwrap());
    let letters = Box::new(JsonLinesDeadLetters::new("letters", letters));
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

/// `CDC_KEY_SCHEMA` leaving out the sort key would merge every item of a partition: no record
/// fits it, so the whole invocation fails (Lambda retries it) with the table's own schema in
/// the message, and nothing is written or dead-lettered.
#[tokio::test]
async fn a_key_schema_no_record_fits_is_retried_not_dead_lettered() {
    let client = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let table = unique("wrong-schema");
    create_table(&client, &table, "pk", Some("sk"), false).await;
    let (output, letters) = (output_file(), output_file());
    for configured in ["pk", "pk:other", "id"] {
        let handler = handler_with(
            &output,
            Some(&format!("{table}:{configured}")),
            LineOutput::append_to(&letters).unwrap(),
        );
        let raws: Vec<Box<RawValue>> = (1..=3)
            .map(|seq| {
                let raw = stream_record_json(&table, seq, "INSERT", "a", &seq.to_string(), None);
                RawValue::from_string(raw).unwrap()
            })
            .collect();
        let error = handler
            .handle(&payload(&raws), Instant::now() + Duration::from_secs(10))
            .await
            .err()
            .unwrap_or_else(|| panic!("{configured}: accepted"));
        let text = error.to_string();
        assert!(
            text.contains(&table)
                && text.contains(&format!("key schema {configured} "))
                && text.contains("the table's key is pk:sk"),
            "{text}"
        );
        assert_eq!(
            cdc_lambda::ErrorType::error_type(&error),
            "KeySchemaMismatch"
        );
    }
    for file in [&output, &letters] {
        assert_eq!(std::fs::read_to_string(file).unwrap_or_default(), "");
    }
}

/// One record without the key attributes among good ones is a bad record: dead-lettered.
#[tokio::test]
async fn a_single_record_without_its_keys_is_a_dead_letter() {
    let (output, letters) = (output_file(), output_file());
    let handler = handler_with(
        &output,
        Some("orders:pk:sk"),
        LineOutput::append_to(&letters).unwrap(),
    );
    let good = stream_record_json("orders", 1, "INSERT", "a", "1", None);
    let mut bad: serde_json::Value =
        serde_json::from_str(&stream_record_json("orders", 2, "INSERT", "b", "2", None)).unwrap();
    bad["dynamodb"]["Keys"]
        .as_object_mut()
        .unwrap()
        .remove("sk");
    let raws = vec![
        RawValue::from_string(good).unwrap(),
        RawValue::from_string(bad.to_string()).unwrap(),
    ];
    let invocation = handler
        .handle(&payload(&raws), Instant::now() + Duration::from_secs(10))
        .await
        .expect("handled");
    assert!(invocation.response.batch_item_failures.is_empty());
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 1);
    let letter = std::fs::read_to_string(&letters).unwrap();
    assert_eq!(letter.lines().count(), 1);
    assert!(
        letter.contains(r#"key attribute \"sk\" is missing"#),
        "{letter}"
    );
}
