//! Redrive: a replica that could not be written for a while (here: its table did not exist)
//! leaves the records, past `CDC_MAX_RECORD_AGE`, in the dead-letter file; once the table
//! exists, `stream-handler --redrive FILE` writes them through the sinks, and the replica holds
//! what the source holds. Redriving again changes nothing: the version guards keep newer
//! state (against DynamoDB Local).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cdc_lambda::AwsContext;
use cdc_sinks::{FanOut, JsonLinesDeadLetters, LineOutput, SinkConfig};
use cdc_testkit::{create_table, dynamodb_local, image, payload, stream_record_json, unique};
use serde_json::value::RawValue;
use stream_handler::{Settings, StreamHandler};
use tokio::time::Instant;

const KEY_SCHEMA: &str = "src:pk:sk";

async fn handler(table: &str, letters: &std::path::Path) -> StreamHandler {
    let settings = Settings::from_env(|name| match name {
        "CDC_KEY_SCHEMA" => Some(KEY_SCHEMA.into()),
        "CDC_MAX_RECORD_AGE" => Some("3600".into()),
        _ => None,
    })
    .expect("settings");
    let aws = Arc::new(AwsContext::with_config(dynamodb_local()));
    let url = format!("dynamodb://{table}");
    let sink = SinkConfig::parse(&url)
        .unwrap()
        .build(&url, &aws)
        .await
        .unwrap();
    let letters = Box::new(JsonLinesDeadLetters::new(
        "letters",
        LineOutput::append_to(letters).unwrap(),
    ));
    StreamHandler::new(FanOut::new(vec![sink]), letters, settings, aws)
}

/// A record created two hours (and `seq` seconds) ago: past `CDC_MAX_RECORD_AGE` (one hour),
/// within the replica's memory of deletes (its tombstones last 7 days).
fn record(seq: u64, event: &str, pk: &str, n: u64) -> Box<RawValue> {
    let image = (event != "REMOVE").then(|| image(pk, "v0", n, "t"));
    let mut value: serde_json::Value =
        serde_json::from_str(&stream_record_json("src", seq, event, pk, "v0", image)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    value["dynamodb"]["ApproximateCreationDateTime"] = (now - 7200 + seq).into();
    RawValue::from_string(value.to_string()).unwrap()
}

fn redrive(sink: &str, letters: &std::path::Path, force: bool) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stream-handler"))
        .arg("--redrive")
        .arg(letters)
        .env("CDC_SINKS", sink)
        .env("CDC_REDRIVE_FORCE", force.to_string())
        .env("CDC_KEY_SCHEMA", KEY_SCHEMA)
        .env("CDC_DLQ", "stderr")
        .env("AWS_ENDPOINT_URL", cdc_testkit::dynamodb_local_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("the binary runs")
}

/// `pk` → `n` of the live replica items, and the tombstoned `pk`s.
async fn replica(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> (BTreeMap<String, String>, Vec<String>) {
    let items = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let text = |item: &std::collections::HashMap<String, AttributeValue>, name: &str| match item
        .get(name)
    {
        Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
        other => panic!("{name}: {other:?}"),
    };
    let mut live = BTreeMap::new();
    let mut deleted = Vec::new();
    for item in &items {
        if item.contains_key("_cdc_deleted") {
            deleted.push(text(item, "pk"));
        } else {
            live.insert(text(item, "pk"), text(item, "n"));
        }
    }
    deleted.sort();
    (live, deleted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_of_a_broken_destination_are_redriven_once_it_is_fixed() {
    let client = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let table = unique("redrive");
    let letters = std::env::temp_dir().join(format!("{}.jsonl", unique("redrive-letters")));
    let records = vec![
        record(1, "INSERT", "a", 1),
        record(2, "INSERT", "b", 2),
        record(3, "MODIFY", "a", 3),
        record(4, "REMOVE", "b", 0),
        record(5, "INSERT", "c", 5),
    ];
    // The replica's table does not exist yet: every write fails, the records age out.
    let invocation = handler(&table, &letters)
        .await
        .handle(&payload(&records), Instant::now() + Duration::from_secs(10))
        .await
        .expect("handled");
    assert!(invocation.response.batch_item_failures.is_empty());
    assert_eq!(
        std::fs::read_to_string(&letters).unwrap().lines().count(),
        5
    );

    create_table(&client, &table, "pk", Some("sk"), false).await;
    let expected = (
        BTreeMap::from([
            ("a".to_owned(), "3".to_owned()),
            ("c".to_owned(), "5".to_owned()),
        ]),
        vec!["b".to_owned()],
    );
    // A sink that keeps no tombstones would bring `b` back from its INSERT: refused.
    let output = redrive(
        &format!("dynamodb://{table}?tombstones=false"),
        &letters,
        false,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("remembers deletes of table src not at all"),
        "{stderr}"
    );
    assert_eq!(replica(&client, &table).await, (BTreeMap::new(), vec![]));
    for round in ["redriven", "redriven again"] {
        let output = redrive(&format!("dynamodb://{table}"), &letters, false);
        assert!(
            output.status.success(),
            "{round}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(replica(&client, &table).await, expected, "{round}");
    }
}
