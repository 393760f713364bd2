//! What the export-processor tests share: the function configured against the local emulators
//! (S3 and SQS on moto, DynamoDB on DynamoDB Local, as Lambda would be through
//! `AWS_ENDPOINT_URL_*`), source tables, export notifications as SQS delivers them, and the
//! change records a file sink received.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use cdc_lambda::{AwsContext, BatchResponse, Invocation};
use cdc_testkit::exports::{
    create_bucket, moto_s3, moto_sqs, notify_summaries, receive_notifications, write_full_export,
    ExportSpec, WrittenExport,
};
use cdc_testkit::generate::{items, put_items, TableShape};
use cdc_testkit::items::{as_exported, scan_all, Item};
use cdc_testkit::json::Json;
use cdc_testkit::{dynamodb_local, dynamodb_local_endpoint, moto_endpoint, unique};
use export_processor::{ExportProcessor, Settings};
use tokio::time::Instant;

/// The AWS context the function gets in Lambda, here pointed at the emulators.
pub fn aws() -> Arc<AwsContext> {
    static ENDPOINTS: Once = Once::new();
    // Every test of this binary sets the same values, once, before any client reads them.
    ENDPOINTS.call_once(|| {
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local_endpoint());
        std::env::set_var("AWS_ENDPOINT_URL_S3", moto_endpoint());
        std::env::set_var("AWS_ENDPOINT_URL_SQS", moto_endpoint());
    });
    Arc::new(AwsContext::new())
}

/// The function with these settings (everything else default).
pub async fn processor(settings: &[(&str, String)]) -> ExportProcessor {
    let settings = Settings::from_env(|name| {
        settings
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("settings");
    ExportProcessor::from_settings(settings, aws())
        .await
        .expect("processor")
}

/// A source table on DynamoDB Local with `count` generated items (every attribute type and
/// edge case), and its items as DynamoDB returns them.
pub struct Source {
    pub table: String,
    pub shape: TableShape,
    pub items: Vec<Item>,
}

impl Source {
    pub async fn new(shape: TableShape, seed: u64, count: usize) -> Source {
        let ddb = aws_sdk_dynamodb::Client::new(&dynamodb_local());
        let table = unique("source");
        shape.create(&ddb, &table, false).await;
        put_items(&ddb, &table, &items(&shape, seed, count)).await;
        let items = scan_all(&ddb, &table)
            .await
            .iter()
            .map(as_exported)
            .collect();
        Source {
            table,
            shape,
            items,
        }
    }

    pub fn key_schema(&self) -> (&'static str, String) {
        ("CDC_KEY_SCHEMA", self.shape.key_schema_entry(&self.table))
    }

    pub fn key_names(&self) -> Vec<&'static str> {
        let mut names = vec![self.shape.partition_key.name];
        names.extend(self.shape.sort_key.map(|k| k.name));
        names
    }

    /// An export spec for this table into `bucket`.
    pub fn spec(&self, bucket: &str) -> ExportSpec {
        let mut spec = ExportSpec::new(
            bucket,
            &unique("exports"),
            &self.table,
            self.shape.partition_key.name,
        );
        spec.seed = 7;
        // Ten minutes ago (whole seconds, as DynamoDB's export times): loads are checked against
        // the export's age.
        spec.export_time_ms = (cdc_lambda::now_ms() - 600_000) / 1000 * 1000;
        spec
    }
}

/// A bucket whose `manifest-summary.json` notifications go to a queue, as the template wires it.
pub struct Bucket {
    pub name: String,
    pub queue_url: String,
}

impl Bucket {
    pub async fn new() -> Bucket {
        let s3 = moto_s3();
        let name = unique("exports").to_lowercase();
        create_bucket(&s3, &name).await;
        let queue = notify_summaries(&s3, &moto_sqs(), &name, "exports").await;
        // moto's first message on a new notification configuration.
        let test_event = receive_notifications(&moto_sqs(), &queue.queue_url, 1, timeout()).await;
        assert_eq!(test_event.len(), 1, "the s3:TestEvent");
        Bucket {
            name,
            queue_url: queue.queue_url,
        }
    }

    /// Writes the export and returns it with the notification moto sent for it.
    pub async fn export(&self, spec: &ExportSpec, items: &[Item]) -> (WrittenExport, String) {
        let written = write_full_export(&moto_s3(), spec, items).await;
        (written, self.notification().await)
    }

    /// The next notification (an SQS message body).
    pub async fn notification(&self) -> String {
        let mut bodies = receive_notifications(&moto_sqs(), &self.queue_url, 1, timeout()).await;
        assert_eq!(bodies.len(), 1, "one notification");
        bodies.remove(0)
    }
}

/// How long to wait for moto to deliver a message.
pub fn timeout() -> std::time::Duration {
    std::time::Duration::from_secs(20)
}

/// A Lambda SQS event carrying `bodies`, message ids `m0`, `m1`...
pub fn sqs_event(bodies: &[String]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            serde_json::json!({
                "messageId": format!("m{i}"),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:work",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
        .to_string()
        .into_bytes()
}

/// Runs one invocation with a long deadline; it must succeed.
pub async fn invoke(processor: &ExportProcessor, payload: &[u8]) -> Invocation<BatchResponse> {
    processor
        .handle(
            payload,
            Instant::now() + std::time::Duration::from_secs(120),
        )
        .await
        .expect("invocation")
}

/// A fresh file for a `file://` sink or dead-letter queue.
pub fn output_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.jsonl", unique(name)))
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Every JSON line of a file (none if it does not exist).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The documents of the change records in `path`, canonical (objects sorted, numbers exact),
/// sorted.
pub fn documents(path: &Path) -> Vec<Json> {
    let mut documents: Vec<Json> = lines(path)
        .iter()
        .map(|line| Json::parse(line).get("document").clone())
        .collect();
    documents.sort_by_key(|d| format!("{d:?}"));
    documents
}

/// What the document of `items` must be: each item as plain JSON, canonical, sorted.
pub fn expected_documents(items: &[Item]) -> Vec<Json> {
    let mut documents: Vec<Json> = items
        .iter()
        .map(|item| Json::parse(&plain_json(item)))
        .collect();
    documents.sort_by_key(|d| format!("{d:?}"));
    documents
}

/// An item as the change record's plain JSON: numbers with DynamoDB's digits, binary as
/// base64, sets as arrays, written here independently of the mapping under test.
pub fn plain_json(item: &Item) -> String {
    let entries: Vec<String> = item
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), value(v)))
        .collect();
    format!("{{{}}}", entries.join(","))
}

fn value(v: &AttributeValue) -> String {
    let b64 = |b: &[u8]| {
        serde_json::to_string(&base64::engine::general_purpose::STANDARD.encode(b)).unwrap()
    };
    let list = |values: Vec<String>| format!("[{}]", values.join(","));
    match v {
        AttributeValue::S(s) => serde_json::to_string(s).unwrap(),
        AttributeValue::N(n) => n.clone(),
        AttributeValue::B(b) => b64(b.as_ref()),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null(_) => "null".into(),
        AttributeValue::M(m) => plain_json(m),
        AttributeValue::L(l) => list(l.iter().map(value).collect()),
        AttributeValue::Ss(v) => list(
            v.iter()
                .map(|s| serde_json::to_string(s).unwrap())
                .collect(),
        ),
        AttributeValue::Ns(v) => list(v.clone()),
        AttributeValue::Bs(v) => list(v.iter().map(|b| b64(b.as_ref())).collect()),
        other => panic!("unexpected value {other:?}"),
    }
}
