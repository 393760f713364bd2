//! `include=`/`exclude=` on sink URLs: an attribute a sink must not hold reaches it in no
//! form (document, REMOVE's old image, raw record), for each kind of sink: a file, a DynamoDB
//! replica (DynamoDB Local), an SQS queue with `format=raw` (moto) and OpenSearch (the
//! testkit's fake of the Bulk API, as no engine runs here).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cdc_lambda::AwsContext;
use cdc_sinks::{FailureKind, Sink, SinkConfig};
use cdc_testkit::opensearch::FakeOpenSearch;
use cdc_testkit::{changes, create_table, stream_record_json, unique};
use serde_json::{json, Value};
use tokio::time::Instant;

const SECRET: &str = "s3cret-ssn";

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// An INSERT and a REMOVE (with its old image) of an item holding a secret at `/ssn` and at
/// `/address/zip`, with a `/` in one attribute's name.
fn records() -> Vec<String> {
    let image = json!({
        "pk": {"S": "p1"}, "sk": {"S": "v0"}, "ssn": {"S": SECRET}, "name": {"S": "Ada"},
        "a/b": {"N": "1.50"},
        "address": {"M": {"zip": {"S": SECRET}, "city": {"S": "Paris"}}},
    });
    let insert = stream_record_json("src", 1, "INSERT", "p1", "v0", Some(image.clone()));
    let mut remove: Value = serde_json::from_str(&stream_record_json(
        "src",
        2,
        "REMOVE",
        "p2",
        "v0",
        Some(json!({"pk": {"S": "p2"}, "sk": {"S": "v0"}, "ssn": {"S": SECRET}})),
    ))
    .unwrap();
    remove["dynamodb"]["StreamViewType"] = json!("NEW_AND_OLD_IMAGES");
    vec![insert, remove.to_string()]
}

async fn sink(url: &str, aws: &AwsContext) -> Box<dyn Sink> {
    SinkConfig::parse(url)
        .unwrap()
        .build(url, aws)
        .await
        .unwrap()
}

const EXCLUDE: &str = "exclude=/ssn&exclude=/address/zip";

#[tokio::test]
async fn a_file_sink_never_sees_excluded_attributes() {
    let path = std::env::temp_dir().join(format!("{}.jsonl", unique("projected")));
    let url = format!("file://{}?{EXCLUDE}", path.display());
    let sink = sink(&url, &AwsContext::with_config(cdc_testkit::moto())).await;
    let raw = records();
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["document"],
        json!({"pk": "p1", "sk": "v0", "name": "Ada", "a/b": 1.50, "address": {"city": "Paris"}})
    );
}

#[tokio::test]
async fn a_replica_keeps_only_included_attributes_and_its_keys() {
    let config = cdc_testkit::dynamodb_local();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("projected");
    create_table(&client, &table, "pk", Some("sk"), false).await;
    let url = format!("dynamodb://{table}?include=/name&include=/a~1b");
    let sink = sink(&url, &AwsContext::with_config(config)).await;
    let raw = records();
    assert!(sink
        .write(&changes(&raw)[..1], deadline())
        .await
        .failures
        .is_empty());
    let item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("p1".into()))
        .key("sk", AttributeValue::S("v0".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        vec!["_cdc_sequence", "_cdc_version", "a/b", "name", "pk", "sk"]
    );
    // DynamoDB stores numbers in canonical form.
    assert_eq!(item["a/b"], AttributeValue::N("1.5".into()));
}

#[tokio::test]
async fn a_raw_queue_gets_records_whose_images_are_projected() {
    let aws = AwsContext::with_config(cdc_testkit::moto());
    let sqs = aws_sdk_sqs::Client::new(aws.config().await);
    let queue = sqs
        .create_queue()
        .queue_name(unique("projected"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let url = format!("sqs://{queue}?format=raw&{EXCLUDE}");
    let sink = sink(&url, &aws).await;
    let raw = records();
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    let mut bodies = Vec::new();
    while bodies.len() < 2 {
        let output = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        bodies.extend(
            output
                .messages()
                .iter()
                .map(|m| m.body().unwrap().to_owned()),
        );
    }
    for body in &bodies {
        assert!(!body.contains(SECRET), "{body}");
        let record: Value = serde_json::from_str(body).unwrap();
        assert!(record["dynamodb"]["Keys"]["pk"]["S"].is_string(), "{body}");
    }
    assert!(
        bodies.iter().any(|b| b.contains("OldImage")),
        "the REMOVE's old image is kept, projected"
    );
}

#[tokio::test]
async fn an_index_never_sees_excluded_attributes_and_keys_cannot_be_excluded() {
    let fake = FakeOpenSearch::start().await;
    let aws = AwsContext::with_config(cdc_testkit::moto());
    let index = sink(&fake.url(&format!("orders?{EXCLUDE}")), &aws).await;
    let raw = records();
    assert!(index
        .write(&changes(&raw)[..1], deadline())
        .await
        .failures
        .is_empty());
    let stored = fake.stored("orders", "p1|v0").expect("indexed");
    let source = stored.source.unwrap().to_string();
    assert!(!source.contains(SECRET), "{source}");
    assert!(source.contains("Paris"), "{source}");

    let keyless = sink(&fake.url("orders?exclude=/pk"), &aws).await;
    let report = keyless.write(&changes(&raw)[..1], deadline()).await;
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        report.failures[0].kind,
        FailureKind::Retryable,
        "configuration, not the record"
    );
    assert!(report.failures[0]
        .error
        .to_string()
        .contains("cannot be excluded"));
}

#[test]
fn projection_options_are_checked_at_cold_start() {
    let error = |url: &str| SinkConfig::parse(url).unwrap_err().to_string();
    assert!(error("stdout?include=/a&exclude=/b").contains("not both"));
    assert!(error("stdout?exclude=ssn").contains("is not a JSON Pointer"));
    assert!(error("stdout?exclude=/a~2").contains("is not a JSON Pointer"));
    assert!(SinkConfig::parse("stdout?exclude=/a&exclude=/b~1c").is_ok());
}
