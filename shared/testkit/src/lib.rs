//! Test support shared by the crates' tests: AWS configurations for the emulators that
//! `scripts/emulators.sh` starts on a private loopback, change-record builders, table items of
//! every attribute type ([`generate`], [`items`]), stream batches of realistic shapes for the
//! benchmarks ([`shapes`]) and, with the feature `exports`, DynamoDB
//! export folders in AWS's layout written into moto's S3 ([`exports`]); with `opensearch-fake`,
//! an OpenSearch fake that speaks the real wire protocol (`opensearch`).

#[cfg(feature = "exports")]
pub mod exports;
pub mod generate;
pub mod items;
pub mod json;
#[cfg(feature = "opensearch-fake")]
pub mod opensearch;
pub mod sam_local;
pub mod shapes;

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use cdc_record::{ChangeRecord, KeySchema, MappingOptions, StreamRecord};

/// The endpoint an emulator listens on, from the variable `scripts/emulators.sh` exports.
fn endpoint(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the tests through `bash scripts/test` (or `scripts/emulators.sh cargo test`)")
    })
}

fn config(endpoint: String) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "test",
                "test",
                None,
                None,
                "cdc-testkit",
            )),
        )
        .build()
}

/// DynamoDB Local (DynamoDB and DynamoDB Streams).
pub fn dynamodb_local() -> SdkConfig {
    config(endpoint("CDC_TEST_DYNAMODB_ENDPOINT"))
}

/// DynamoDB Local's endpoint URL.
pub fn dynamodb_local_endpoint() -> String {
    endpoint("CDC_TEST_DYNAMODB_ENDPOINT")
}

/// moto_server (S3, SQS, SNS, Kinesis, EventBridge, Secrets Manager...).
pub fn moto() -> SdkConfig {
    config(endpoint("CDC_TEST_MOTO_ENDPOINT"))
}

/// moto_server's endpoint URL.
pub fn moto_endpoint() -> String {
    endpoint("CDC_TEST_MOTO_ENDPOINT")
}

/// Creates a DynamoDB table (on-demand, key attributes of type `S` unless given as
/// `name:N` or `name:B`) and, when `stream` is set, a stream with both images.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk: Option<&str>,
    stream: bool,
) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        StreamSpecification, StreamViewType,
    };
    let attribute = |spec: &str, key_type: KeyType| {
        let (name, kind) = spec.split_once(':').unwrap_or((spec, "S"));
        let kind = match kind {
            "N" => ScalarAttributeType::N,
            "B" => ScalarAttributeType::B,
            _ => ScalarAttributeType::S,
        };
        (
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .unwrap(),
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .unwrap(),
        )
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (spec, key_type) in [(Some(pk), KeyType::Hash), (sk, KeyType::Range)] {
        if let Some(spec) = spec {
            let (definition, element) = attribute(spec, key_type);
            request = request
                .attribute_definitions(definition)
                .key_schema(element);
        }
    }
    if stream {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    }
    request.send().await.expect("create table");
}

/// Creates a table for `dynamodb://TABLE?mode=history` (key `primary_key` + `change`).
pub async fn create_history_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    create_table(client, table, "primary_key", Some("change"), false).await;
}

/// A name no other test in this process uses (tests share one emulator).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A Lambda stream record's JSON for table `table` (key `pk` S, sort key `sk` S).
pub fn stream_record_json(
    table: &str,
    seq: u64,
    event_name: &str,
    pk: &str,
    sk: &str,
    image: Option<serde_json::Value>,
) -> String {
    let keys = serde_json::json!({"pk": {"S": pk}, "sk": {"S": sk}});
    let mut dynamodb = serde_json::json!({
        "ApproximateCreationDateTime": 1_795_278_192 + seq,
        "Keys": keys,
        "SequenceNumber": format!("{seq:021}"),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(image) = image {
        let field = if event_name == "REMOVE" {
            "OldImage"
        } else {
            "NewImage"
        };
        dynamodb[field] = image;
    }
    serde_json::json!({
        "eventID": format!("event-{seq}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-11-21T00:00:00.000"),
    })
    .to_string()
}

/// An image `{"pk":…, "sk":…, "n": {"N": n}, "s": {"S": text}}`.
pub fn image(pk: &str, sk: &str, n: u64, text: &str) -> serde_json::Value {
    serde_json::json!({"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": n.to_string()}, "s": {"S": text}})
}

/// Maps raw records (key `pk` + `sk`) to change records.
pub fn changes(raw: &[String]) -> Vec<ChangeRecord<'_>> {
    let schema = KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    };
    raw.iter()
        .map(|r| {
            StreamRecord::parse(r)
                .and_then(|record| record.into_change(&schema, &MappingOptions::default()))
                .expect("mappable test record")
                .expect("not filtered")
        })
        .collect()
}

/// The Lambda payload (`{"Records": [...]}`) carrying `records`.
pub fn payload(records: &[Box<serde_json::value::RawValue>]) -> Vec<u8> {
    let mut out = b"{\"Records\":[".to_vec();
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(record.get().as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}
