//! The OpenSearch sink against a hand-written fake of OpenSearch's Bulk API and get-settings
//! API (`cdc_testkit::opensearch`): no OpenSearch engine can run here, so the fake speaks
//! the real wire protocol (NDJSON bulk requests, OpenSearch-shaped per-item results and
//! errors, settings answers) and implements `version_type=external_gte` as OpenSearch does.
//! Basic-auth secrets live in Secrets Manager on moto server.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use cdc_lambda::AwsContext;
use cdc_record::ChangeRecord;
use cdc_sinks::opensearch::{AuthConfig, DeleteMemoryError, OpenSearchConfig, SigV4Service};
use cdc_sinks::{
    ConfigError, DeleteMemory, FailureKind, PerTable, SharedError, Sink, SinkConfig, WriteReport,
};
use cdc_testkit::opensearch::{Expect, FakeOpenSearch};
use cdc_testkit::{changes, image, stream_record_json, unique};
use serde_json::Value;
use tokio::time::Instant;

const ACCESS_KEY: &str = "AKIDFAKEOPENSEARCH";
const SECRET_KEY: &str = "fake-secret-key";

/// An AWS configuration with static credentials (SigV4 tests need no emulator).
fn signing_config() -> AwsContext {
    AwsContext::with_config(
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            )))
            .build(),
    )
}

async fn sink_with(url: &str, aws: &AwsContext) -> Box<dyn Sink> {
    SinkConfig::parse(url)
        .unwrap()
        .build(url, aws)
        .await
        .unwrap()
}

async fn sink(url: &str) -> Box<dyn Sink> {
    sink_with(url, &AwsContext::with_config(SdkConfig::builder().build())).await
}

/// A fresh fake cluster and a sink writing to its `orders` index.
async fn orders_index() -> (FakeOpenSearch, Box<dyn Sink>) {
    let fake = FakeOpenSearch::start().await;
    let sink = sink(&fake.url("orders")).await;
    (fake, sink)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// A change of item `pk`/`sk` in `table`: `seq` orders it and sets its version.
fn change(table: &str, seq: u64, event: &str, pk: &str, n: u64) -> String {
    let image = (event != "REMOVE").then(|| image(pk, "1", n, &format!("{pk} #{n}")));
    stream_record_json(table, seq, event, pk, "1", image)
}

/// The same with `ApproximateCreationDateTime` forced, so several changes share a version.
fn change_at(table: &str, seq: u64, seconds: u64, pk: &str, n: u64) -> String {
    let mut record: Value = serde_json::from_str(&change(table, seq, "MODIFY", pk, n)).unwrap();
    record["dynamodb"]["ApproximateCreationDateTime"] = seconds.into();
    record.to_string()
}

fn document(record: &ChangeRecord<'_>) -> Value {
    serde_json::from_str(record.document.as_ref().unwrap().json()).unwrap()
}

/// Each item's last change: `_id` → (version, document), deleted items left out.
fn expected(records: &[ChangeRecord<'_>]) -> BTreeMap<String, (i64, Value)> {
    let mut last = BTreeMap::new();
    for record in records {
        last.insert(record.key.primary_key.to_string(), record);
    }
    last.into_iter()
        .filter(|(_, r)| r.document.is_some() && r.action == cdc_record::Action::Index)
        .map(|(id, r)| (id, (r.version, document(r))))
        .collect()
}

fn failures(report: &WriteReport) -> Vec<(usize, FailureKind)> {
    report.failures.iter().map(|f| (f.index, f.kind)).collect()
}

#[tokio::test]
async fn indexes_each_document_under_its_primary_key_and_version() {
    let (fake, sink) = orders_index().await;
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 2),
        change("orders", 3, "MODIFY", "a", 3),
    ];
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let docs = fake.documents("orders");
    assert_eq!(docs, expected(&records));
    assert_eq!(docs["a|1"], (records[2].version, document(&records[2])));
    assert_eq!(docs["b|1"].0, records[1].version);
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(sink.api_calls(), 1);
    assert_eq!(
        received[0].content_type.as_deref(),
        Some("application/x-ndjson")
    );
    // Only each item's last change is sent: the earlier one would be superseded anyway.
    assert_eq!(
        received[0].operations,
        vec![
            (
                "index".into(),
                "orders".into(),
                "b|1".into(),
                records[1].version
            ),
            (
                "index".into(),
                "orders".into(),
                "a|1".into(),
                records[2].version
            ),
        ]
    );
}

#[tokio::test]
async fn documents_with_newlines_and_quotes_stay_one_ndjson_line() {
    let (fake, sink) = orders_index().await;
    let image = serde_json::json!({
        "pk": {"S": "a\"b|c"}, "sk": {"S": "1"},
        "text": {"S": "two\nlines, \"quoted\", ü"},
        "n": {"N": "12345678901234567890123456789012345678"},
        "nested": {"M": {"l": {"L": [{"S": "x\ny"}]}}},
    });
    let raw = vec![stream_record_json(
        "orders",
        1,
        "INSERT",
        "a\"b|c",
        "1",
        Some(image),
    )];
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(fake.documents("orders"), expected(&records));
    assert_eq!(
        fake.received()[0].operations[0].2,
        records[0].key.primary_key
    );
}

#[tokio::test]
async fn replays_duplicates_and_late_changes_converge_to_the_last_change() {
    let (fake, sink) = orders_index().await;
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 1),
        change("orders", 3, "REMOVE", "b", 0),
        change("orders", 4, "INSERT", "c", 1),
        change("orders", 5, "MODIFY", "a", 2),
    ];
    let records = changes(&raw);
    assert!(sink.write(&records, soon()).await.failures.is_empty());
    let converged = fake.documents("orders");
    assert_eq!(converged, expected(&records));
    assert!(fake
        .stored("orders", "b|1")
        .is_some_and(|s| s.source.is_none()));

    // Lambda replays a suffix, and then the whole batch once more.
    assert!(sink.write(&records[2..], soon()).await.failures.is_empty());
    assert!(sink.write(&records, soon()).await.failures.is_empty());
    assert_eq!(fake.documents("orders"), converged);

    // Changes older than what is stored (a late snapshot copy) are refused by
    // external_gte with a 409, which counts as done: nothing changes, b stays deleted.
    let late = vec![
        change("orders", 0, "INSERT", "a", 99),
        change("orders", 0, "INSERT", "b", 99),
        change("orders", 2, "MODIFY", "c", 99),
    ];
    let late_records = changes(&late);
    let report = sink.write(&late_records, soon()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let statuses: Vec<u16> = fake
        .received()
        .last()
        .map(|r| r.status)
        .into_iter()
        .collect();
    assert_eq!(statuses, vec![200]);
    assert_eq!(fake.documents("orders"), converged);
}

#[tokio::test]
async fn changes_sharing_a_version_apply_in_stream_order() {
    let (fake, sink) = orders_index().await;
    // DynamoDB stamps changes with a rounded time: several share a version, and the later
    // one must still win, in one write and across writes (external_gte, not external).
    let raw = vec![
        change_at("orders", 1, 100, "a", 1),
        change_at("orders", 2, 100, "a", 2),
    ];
    let records = changes(&raw);
    assert_eq!(records[0].version, records[1].version);
    assert!(sink.write(&records, soon()).await.failures.is_empty());
    assert_eq!(fake.documents("orders"), expected(&records));

    let next = vec![change_at("orders", 3, 100, "a", 3)];
    let next_records = changes(&next);
    assert!(sink.write(&next_records, soon()).await.failures.is_empty());
    assert_eq!(fake.documents("orders"), expected(&next_records));
}

#[tokio::test]
async fn deletes_remove_documents_and_deleting_a_missing_one_succeeds() {
    let (fake, sink) = orders_index().await;
    let raw = vec![change("orders", 1, "INSERT", "a", 1)];
    assert!(sink.write(&changes(&raw), soon()).await.failures.is_empty());

    let deletes = vec![
        change("orders", 2, "REMOVE", "a", 0),
        change("orders", 3, "REMOVE", "never-there", 0),
    ];
    let records = changes(&deletes);
    let report = sink.write(&records, soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(fake.documents("orders").is_empty());
    let received = fake.received();
    let last = received.last().unwrap();
    assert_eq!(
        last.operations,
        vec![
            (
                "delete".into(),
                "orders".into(),
                "a|1".into(),
                records[0].version
            ),
            (
                "delete".into(),
                "orders".into(),
                "never-there|1".into(),
                records[1].version
            ),
        ]
    );
    assert_eq!(
        fake.stored("orders", "a|1").unwrap().version,
        records[0].version
    );
}

#[tokio::test]
async fn table_placeholder_routes_each_table_to_its_own_index() {
    let fake = FakeOpenSearch::start().await;
    let sink = sink(&fake.url("cdc-{table}")).await;
    let raw = vec![
        change("Orders", 1, "INSERT", "a", 1),
        change("users", 2, "INSERT", "a", 2),
    ];
    let records = changes(&raw);
    assert!(sink.write(&records, soon()).await.failures.is_empty());

    // Index names must be lowercase: the table name is lowercased.
    assert_eq!(fake.indices(), vec!["cdc-orders", "cdc-users"]);
    assert_eq!(fake.documents("cdc-orders"), expected(&records[..1]));
    assert_eq!(fake.documents("cdc-users"), expected(&records[1..]));
    assert_eq!(sink.api_calls(), 1);
}

#[tokio::test]
async fn throttled_items_are_retried_alone_until_accepted() {
    let (fake, sink) = orders_index().await;
    fake.throttle_once("b|1");
    fake.throttle_once("d|1");
    let raw: Vec<String> = ["a", "b", "c", "d", "e"]
        .iter()
        .enumerate()
        .map(|(seq, pk)| change("orders", seq as u64, "INSERT", pk, 1))
        .collect();
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(fake.documents("orders"), expected(&records));
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(sink.api_calls(), 2);
    let retried: Vec<&str> = received[1]
        .operations
        .iter()
        .map(|o| o.2.as_str())
        .collect();
    assert_eq!(retried, vec!["b|1", "d|1"]);
}

#[tokio::test]
async fn persistent_throttling_is_retryable_at_that_record_only() {
    let (fake, sink) = orders_index().await;
    fake.throttle_always("b|1");
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 1),
        change("orders", 3, "INSERT", "c", 1),
    ];
    let records = changes(&raw);

    let deadline = Instant::now() + Duration::from_millis(600);
    let report = sink.write(&records, deadline).await;

    assert_eq!(failures(&report), vec![(1, FailureKind::Retryable)]);
    let message = report.failures[0].error.to_string();
    assert!(
        message.contains("429") && message.contains("rejected_execution_exception"),
        "{message}"
    );
    assert!(Instant::now() <= deadline + Duration::from_millis(100));
    assert!(
        sink.api_calls() > 1,
        "throttled items are retried before giving up"
    );
    let ids: Vec<String> = fake.documents("orders").into_keys().collect();
    assert_eq!(ids, vec!["a|1", "c|1"]);
}

#[tokio::test]
async fn mapping_errors_are_permanent_for_that_record_only() {
    let (fake, sink) = orders_index().await;
    fake.reject_mapping("b|1");
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 1),
        change("orders", 3, "INSERT", "c", 1),
    ];
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert_eq!(failures(&report), vec![(1, FailureKind::Permanent)]);
    assert!(report.failures[0]
        .error
        .to_string()
        .contains("mapper_parsing_exception"));
    assert_eq!(sink.api_calls(), 1, "a rejected document is not retried");
    let ids: Vec<String> = fake.documents("orders").into_keys().collect();
    assert_eq!(ids, vec!["a|1", "c|1"]);
}

#[tokio::test]
async fn a_stream_without_new_images_is_not_indexed_as_items() {
    let (_fake, sink) = orders_index().await;
    // KEYS_ONLY: an INSERT carries no new image; indexing the keys would wipe the document.
    let raw = vec![stream_record_json("orders", 1, "INSERT", "a", "1", None)];
    let records = changes(&raw);
    assert!(records[0].keys_only);

    let report = sink.write(&records, soon()).await;

    assert_eq!(failures(&report), vec![(0, FailureKind::Retryable)]);
    assert!(report.failures[0]
        .error
        .to_string()
        .contains("NEW_IMAGE or NEW_AND_OLD_IMAGES"));
    assert_eq!(sink.api_calls(), 0);
}

#[tokio::test]
async fn a_failed_request_is_retried_with_backoff() {
    let (fake, sink) = orders_index().await;
    fake.fail_requests(2);
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 1),
    ];
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(fake.documents("orders"), expected(&records));
    let statuses: Vec<u16> = fake.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    assert_eq!(sink.api_calls(), 3);
}

#[tokio::test]
async fn a_cluster_failing_until_the_deadline_leaves_every_record_retryable() {
    let (fake, sink) = orders_index().await;
    fake.fail_requests(usize::MAX);
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 1),
    ];
    let records = changes(&raw);

    let report = sink
        .write(&records, Instant::now() + Duration::from_millis(400))
        .await;

    assert_eq!(
        failures(&report),
        vec![(0, FailureKind::Retryable), (1, FailureKind::Retryable)]
    );
    assert!(report.failures[0].error.to_string().contains("500"));
    assert!(sink.api_calls() > 1);
}

#[tokio::test]
async fn an_unreachable_cluster_leaves_every_record_retryable() {
    // A port nothing listens on: bind one, then close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("opensearch+http://127.0.0.1:{port}/orders");
    let sink = sink(&url).await;
    let raw = vec![change("orders", 1, "INSERT", "a", 1)];

    let report = sink
        .write(&changes(&raw), Instant::now() + Duration::from_millis(300))
        .await;

    assert_eq!(failures(&report), vec![(0, FailureKind::Retryable)]);
    assert!(report.failures[0]
        .error
        .to_string()
        .contains("bulk request failed"));
}

#[tokio::test]
async fn a_request_without_answer_is_abandoned_at_the_deadline() {
    let (fake, sink) = orders_index().await;
    fake.stall_requests(usize::MAX);
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "INSERT", "b", 1),
    ];

    let deadline = Instant::now() + Duration::from_millis(300);
    let report = sink.write(&changes(&raw), deadline).await;

    assert!(Instant::now() < deadline + Duration::from_millis(100));
    assert_eq!(
        failures(&report),
        vec![(0, FailureKind::Retryable), (1, FailureKind::Retryable)]
    );
    assert!(report.failures[0].error.to_string().contains("deadline"));
}

#[tokio::test]
async fn a_retry_cut_short_by_the_deadline_reports_the_failure_it_retried() {
    let (fake, sink) = orders_index().await;
    // The first request fails, its retry is never answered.
    fake.fail_requests(1);
    fake.stall_after(1);
    let raw = vec![change("orders", 1, "INSERT", "a", 1)];

    let deadline = Instant::now() + Duration::from_millis(400);
    let report = sink.write(&changes(&raw), deadline).await;

    assert!(Instant::now() < deadline + Duration::from_millis(100));
    assert_eq!(failures(&report), vec![(0, FailureKind::Retryable)]);
    let message = report.failures[0].error.to_string();
    assert!(
        message.contains("HTTP status 500")
            && message.contains("in flight at the invocation's deadline"),
        "{message}"
    );
    assert_eq!(sink.api_calls(), 2);
}

#[tokio::test]
async fn requests_stay_under_max_bytes() {
    let fake = FakeOpenSearch::start().await;
    let sink = sink(&fake.url("orders?max_bytes=1024&concurrency=1")).await;
    let raw: Vec<String> = (0..30)
        .map(|i| change("orders", i, "INSERT", &format!("item-{i}"), i))
        .collect();
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(fake.documents("orders"), expected(&records));
    let received = fake.received();
    assert!(received.len() > 1);
    assert_eq!(sink.api_calls(), received.len() as u64);
    assert!(
        received.iter().all(|r| r.bytes <= 1024),
        "{:?}",
        received.iter().map(|r| r.bytes).collect::<Vec<_>>()
    );
    // Sent in stream order.
    let sent: Vec<String> = received
        .iter()
        .flat_map(|r| r.operations.iter().map(|o| o.2.clone()))
        .collect();
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.key.primary_key.to_string())
        .collect();
    assert_eq!(sent, ids);
}

#[tokio::test]
async fn a_request_too_large_for_the_cluster_is_halved_and_an_oversized_document_rejected() {
    let fake = FakeOpenSearch::start().await;
    fake.max_content_length(2000);
    let sink = sink(&fake.url("orders")).await;
    let mut raw: Vec<String> = (0..12)
        .map(|i| change("orders", i, "INSERT", &format!("item-{i}"), i))
        .collect();
    let big = image("big", "1", 1, &"x".repeat(3000));
    raw.insert(
        5,
        stream_record_json("orders", 99, "INSERT", "big", "1", Some(big)),
    );
    let records = changes(&raw);

    let report = sink.write(&records, soon()).await;

    assert_eq!(failures(&report), vec![(5, FailureKind::Permanent)]);
    let message = report.failures[0].error.to_string();
    assert!(
        message.contains("larger than the cluster accepts (HTTP 413)"),
        "{message}"
    );
    let mut rest = records.clone();
    rest.remove(5);
    assert_eq!(fake.documents("orders"), expected(&rest));
    assert!(fake.received().iter().any(|r| r.status == 413));
}

#[tokio::test]
async fn an_id_longer_than_opensearch_accepts_is_rejected_without_sending() {
    let (fake, sink) = orders_index().await;
    let raw = vec![
        change("orders", 1, "INSERT", &"k".repeat(600), 1),
        change("orders", 2, "INSERT", "b", 1),
    ];

    let report = sink.write(&changes(&raw), soon()).await;

    assert_eq!(failures(&report), vec![(0, FailureKind::Permanent)]);
    assert!(report.failures[0].error.to_string().contains("512"));
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].operations.len(), 1);
}

async fn signed_write(url_options: &str, expect: Expect) -> (FakeOpenSearch, WriteReport) {
    let fake = FakeOpenSearch::start_expecting(expect).await;
    let sink = sink_with(&fake.url(url_options), &signing_config()).await;
    let raw = vec![
        change("orders", 1, "INSERT", "a", 1),
        change("orders", 2, "REMOVE", "b", 0),
    ];
    let report = sink.write(&changes(&raw), soon()).await;
    (fake, report)
}

#[tokio::test]
async fn sigv4_signs_every_request_for_es() {
    let expect = Expect::SigV4 {
        service: "es",
        region: "us-west-2",
        access_key: ACCESS_KEY,
        secret_key: SECRET_KEY,
    };
    let (fake, report) = signed_write("orders?auth=sigv4&region=us-west-2", expect).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let authorization = fake.received()[0].authorization.clone().unwrap();
    assert!(
        authorization.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"))
            && authorization.contains("/us-west-2/es/aws4_request"),
        "{authorization}"
    );
    assert_eq!(fake.documents("orders").len(), 1);
}

#[tokio::test]
async fn sigv4_for_aoss_signs_the_payload_hash_in_the_configured_region() {
    let expect = Expect::SigV4 {
        service: "aoss",
        region: "us-east-1",
        access_key: ACCESS_KEY,
        secret_key: SECRET_KEY,
    };
    let (fake, report) = signed_write("orders?auth=sigv4&service=aoss", expect).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let authorization = fake.received()[0].authorization.clone().unwrap();
    assert!(
        authorization.contains("/us-east-1/aoss/aws4_request"),
        "{authorization}"
    );
    assert!(
        authorization.contains("x-amz-content-sha256"),
        "{authorization}"
    );
}

#[tokio::test]
async fn a_refused_signature_is_retryable_not_dead_lettered() {
    let expect = Expect::SigV4 {
        service: "es",
        region: "us-east-1",
        access_key: ACCESS_KEY,
        secret_key: "another-secret",
    };
    let (fake, report) = signed_write("orders?auth=sigv4", expect).await;

    assert_eq!(
        failures(&report),
        vec![(0, FailureKind::Retryable), (1, FailureKind::Retryable)]
    );
    assert!(report.failures[0].error.to_string().contains("403"));
    assert_eq!(
        fake.received().len(),
        1,
        "credentials are not fixed by retrying at once"
    );
}

#[tokio::test]
async fn sigv4_needs_credentials_and_a_region() {
    let fake = FakeOpenSearch::start().await;
    let url = fake.url("orders?auth=sigv4");
    let config = SinkConfig::parse(&url).unwrap();
    let no_credentials = AwsContext::with_config(
        SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .build(),
    );
    let err = config.build(&url, &no_credentials).await.err().unwrap();
    assert!(
        err.to_string().contains("auth=sigv4 needs AWS credentials"),
        "{err}"
    );

    let no_region = AwsContext::with_config(
        SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "a", "b", None, None, "test",
            )))
            .build(),
    );
    let err = config.build(&url, &no_region).await.err().unwrap();
    assert!(err.to_string().starts_with("CDC_SINKS: "), "{err}");
    assert!(err.to_string().contains("needs a region"), "{err}");
}

async fn create_secret(value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&cdc_testkit::moto());
    let name = unique("opensearch-basic");
    client
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    name
}

#[tokio::test]
async fn basic_auth_comes_from_a_secrets_manager_secret() {
    let secret = create_secret(r#"{"username": "cdc", "password": "s3cr:et"}"#).await;
    let fake = FakeOpenSearch::start_expecting(Expect::Basic {
        username: "cdc".into(),
        password: "s3cr:et".into(),
    })
    .await;
    let aws = AwsContext::with_config(cdc_testkit::moto());
    let url = fake.url(&format!(
        "orders?auth=basic&secret={secret}&insecure_basic_auth=true"
    ));
    let sink = sink_with(&url, &aws).await;
    let raw = vec![change("orders", 1, "INSERT", "a", 1)];

    let report = sink.write(&changes(&raw), soon()).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(fake.documents("orders").len(), 1);
    // The settings lookup authenticates the same way (the write created the index).
    assert_eq!(
        sink.delete_memory("orders", soon()).await.unwrap(),
        DeleteMemory::For(Duration::from_secs(60))
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.status == 200
        && r.authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))));

    // Without the credentials the cluster answers 401: retryable, the records are kept.
    let anonymous = sink_with(&fake.url("orders"), &aws).await;
    let report = anonymous.write(&changes(&raw), soon()).await;
    assert_eq!(failures(&report), vec![(0, FailureKind::Retryable)]);
    assert!(report.failures[0].error.to_string().contains("401"));
    let err = message(anonymous.delete_memory("orders", soon()).await);
    assert!(err.contains("HTTP status 401"), "{err}");
}

/// A rotated password is re-read on the cluster's 401, at most once a minute: the write that
/// met the 401 is retried by Lambda and then succeeds; a second rotation within the minute is
/// not re-read yet.
#[tokio::test]
async fn a_rotated_basic_auth_password_is_re_read_after_a_401() {
    let client = aws_sdk_secretsmanager::Client::new(&cdc_testkit::moto());
    let secret = create_secret(r#"{"username": "cdc", "password": "one"}"#).await;
    let basic = |password: &str| Expect::Basic {
        username: "cdc".into(),
        password: password.into(),
    };
    let fake = FakeOpenSearch::start_expecting(basic("one")).await;
    let aws = AwsContext::with_config(cdc_testkit::moto());
    let url = fake.url(&format!(
        "orders?auth=basic&secret={secret}&insecure_basic_auth=true"
    ));
    let sink = sink_with(&url, &aws).await;
    let rotate = |password: &'static str| {
        let (client, secret, fake) = (&client, &secret, &fake);
        async move {
            client
                .put_secret_value()
                .secret_id(secret)
                .secret_string(format!(
                    r#"{{"username": "cdc", "password": "{password}"}}"#
                ))
                .send()
                .await
                .unwrap();
            fake.expect(basic(password));
        }
    };
    let write = |seq: u64| {
        let sink = &sink;
        async move {
            let raw = vec![change("orders", seq, "INSERT", "a", seq)];
            failures(&sink.write(&changes(&raw), soon()).await)
        }
    };
    assert_eq!(write(1).await, vec![]);
    rotate("two").await;
    assert_eq!(write(2).await, vec![(0, FailureKind::Retryable)], "401");
    assert_eq!(write(2).await, vec![], "re-read after the 401");
    rotate("three").await;
    assert_eq!(write(3).await, vec![(0, FailureKind::Retryable)]);
    assert_eq!(
        write(3).await,
        vec![(0, FailureKind::Retryable)],
        "not re-read twice within the interval"
    );
}

#[test]
fn basic_auth_over_plain_http_is_refused_without_the_insecure_option() {
    let err = SinkConfig::parse("opensearch+http://localhost:9200/orders?auth=basic&secret=s")
        .unwrap_err()
        .to_string();
    assert!(err.contains("clear text"), "{err}");
    assert!(SinkConfig::parse(
        "opensearch+http://localhost:9200/orders?auth=basic&secret=s&insecure_basic_auth=true"
    )
    .is_ok());
    let err = SinkConfig::parse("opensearch+http://localhost:9200/orders?insecure_basic_auth=true")
        .unwrap_err()
        .to_string();
    assert!(err.contains("only for auth=basic"), "{err}");
}

#[tokio::test]
async fn an_unreadable_basic_auth_secret_fails_at_cold_start() {
    let aws = AwsContext::with_config(cdc_testkit::moto());
    let build = |url: String| {
        let aws = &aws;
        async move {
            let config = SinkConfig::parse(&url).unwrap();
            config.build(&url, aws).await.err().unwrap().to_string()
        }
    };

    let missing = unique("no-such-secret");
    let err = build(format!(
        "opensearch+https://search.example.com/orders?auth=basic&secret={missing}"
    ))
    .await;
    assert!(err.starts_with("CDC_SINKS: "), "{err}");
    assert!(
        err.contains(&format!(
            "cannot read the Secrets Manager secret {missing:?}"
        )),
        "{err}"
    );

    let not_json = create_secret("hunter2").await;
    let err = build(format!(
        "opensearch+https://search.example.com/orders?auth=basic&secret={not_json}"
    ))
    .await;
    assert!(err.contains("\"username\" and \"password\""), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the secret's value must not be shown: {err}"
    );

    let no_password = create_secret(r#"{"username": "cdc", "pass": "hunter2"}"#).await;
    let err = build(format!(
        "opensearch+https://search.example.com/orders?auth=basic&secret={no_password}"
    ))
    .await;
    assert!(err.contains("\"username\" and \"password\""), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

// How long deletes are remembered: `Sink::delete_memory` reads the index's `index.gc_deletes`.

/// The error's message (the loader shows it as is).
fn message(result: Result<DeleteMemory, SharedError>) -> String {
    match result {
        Ok(memory) => panic!("expected an error, got {memory:?}"),
        Err(e) => e.to_string(),
    }
}

const SETTINGS_QUERY: &str = "/_settings/index.gc_deletes?include_defaults=true&flat_settings=true";

#[tokio::test]
async fn delete_memory_is_the_gc_deletes_set_on_the_tables_index() {
    let fake = FakeOpenSearch::start().await;
    fake.create_index("cdc-orders", Some("90m"));
    fake.create_index("cdc-users", Some("2d"));
    let sink = sink(&fake.url("cdc-{table}")).await;

    // The index the table's changes go to: {table} is the table's name in lowercase.
    let orders = sink.delete_memory("Orders", soon()).await.unwrap();
    let users = sink.delete_memory("users", soon()).await.unwrap();

    assert_eq!(orders, DeleteMemory::For(Duration::from_secs(90 * 60)));
    assert_eq!(users, DeleteMemory::For(Duration::from_secs(2 * 86_400)));
    let received = fake.received();
    let targets: Vec<(&str, &str, u16)> = received
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str(), r.status))
        .collect();
    assert_eq!(
        targets,
        vec![
            ("GET", &*format!("/cdc-orders{SETTINGS_QUERY}"), 200),
            ("GET", &*format!("/cdc-users{SETTINGS_QUERY}"), 200),
        ]
    );
    assert_eq!(sink.api_calls(), 2);
}

#[tokio::test]
async fn delete_memory_is_the_default_where_the_index_sets_none() {
    let (fake, orders) = orders_index().await;
    fake.create_index("orders", None);
    assert_eq!(
        orders.delete_memory("orders", soon()).await.unwrap(),
        DeleteMemory::For(Duration::from_secs(60))
    );

    // An index created by the stream's first write (auto-creation) has the default too.
    let fake = FakeOpenSearch::start().await;
    let per_table = sink(&fake.url("{table}")).await;
    let raw = vec![change("events", 1, "REMOVE", "a", 0)];
    assert!(per_table
        .write(&changes(&raw), soon())
        .await
        .failures
        .is_empty());
    assert_eq!(
        per_table.delete_memory("events", soon()).await.unwrap(),
        DeleteMemory::For(Duration::from_secs(60))
    );
}

#[tokio::test]
async fn gc_deletes_of_zero_or_minus_one_remembers_nothing() {
    let fake = FakeOpenSearch::start().await;
    fake.create_index("off", Some("-1"));
    fake.create_index("zero", Some("0"));
    let sink = sink(&fake.url("{table}")).await;
    assert_eq!(
        sink.delete_memory("off", soon()).await.unwrap(),
        DeleteMemory::Never
    );
    assert_eq!(
        sink.delete_memory("zero", soon()).await.unwrap(),
        DeleteMemory::Never
    );
}

#[tokio::test]
async fn an_index_that_does_not_exist_yet_is_an_error_naming_the_default() {
    let (fake, sink) = orders_index().await;

    let result = sink.delete_memory("orders", soon()).await;

    let error = result.as_ref().err().unwrap();
    let memory_error = error.downcast_ref::<DeleteMemoryError>().unwrap();
    assert_eq!(memory_error.default_memory(), Some(Duration::from_secs(60)));
    let err = message(result);
    assert!(
        err.starts_with(&format!("{}: ", fake.url("orders"))),
        "{err}"
    );
    for expected in [
        "index \"orders\"",
        "does not exist yet",
        "index template",
        "default of 60s",
        "PUT /orders",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    // A missing index is an answer, not a failure: asked once.
    let statuses: Vec<u16> = fake.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![404]);
}

#[tokio::test]
async fn a_gc_deletes_that_is_no_time_value_is_an_error_naming_it() {
    let fake = FakeOpenSearch::start().await;
    fake.create_index("soon", Some("soon"));
    // OpenSearch reads M as months, which is no unit it accepts.
    fake.create_index("months", Some("1M"));
    let sink = sink(&fake.url("{table}")).await;

    let err = message(sink.delete_memory("soon", soon()).await);
    assert!(err.starts_with(&fake.url("{table}")), "{err}");
    assert!(
        err.contains(
            "index \"soon\" has index.gc_deletes \"soon\", which is not an OpenSearch time value"
        ),
        "{err}"
    );
    assert!(err.contains("unit is missing or unrecognized"), "{err}");
    let err = message(sink.delete_memory("months", soon()).await);
    assert!(err.contains("index.gc_deletes \"1M\""), "{err}");
}

#[tokio::test]
async fn the_settings_request_is_signed_like_the_bulk_requests() {
    let expect = Expect::SigV4 {
        service: "es",
        region: "us-west-2",
        access_key: ACCESS_KEY,
        secret_key: SECRET_KEY,
    };
    let fake = FakeOpenSearch::start_expecting(expect).await;
    fake.create_index("orders", Some("6h"));
    let sink = sink_with(
        &fake.url("orders?auth=sigv4&region=us-west-2"),
        &signing_config(),
    )
    .await;
    let raw = vec![change("orders", 1, "INSERT", "a", 1)];

    assert!(sink.write(&changes(&raw), soon()).await.failures.is_empty());
    let memory = sink.delete_memory("orders", soon()).await.unwrap();

    assert_eq!(memory, DeleteMemory::For(Duration::from_secs(6 * 3600)));
    // The fake re-signs what it received (method, path, query, headers, body) and compares.
    let received = fake.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(request.status, 200, "{request:?}");
        let authorization = request.authorization.as_deref().unwrap();
        assert!(
            authorization.contains("/us-west-2/es/aws4_request"),
            "{authorization}"
        );
    }
    assert_eq!(received[1].method, "GET");
}

#[tokio::test]
async fn a_refused_signature_is_an_error_naming_the_sink_and_the_request() {
    let expect = Expect::SigV4 {
        service: "es",
        region: "us-east-1",
        access_key: ACCESS_KEY,
        secret_key: "another-secret",
    };
    let fake = FakeOpenSearch::start_expecting(expect).await;
    fake.create_index("orders", Some("6h"));
    let url = fake.url("orders?auth=sigv4");
    let sink = sink_with(&url, &signing_config()).await;

    let err = message(sink.delete_memory("orders", soon()).await);

    assert!(err.starts_with(&format!("{url}: ")), "{err}");
    let request = url
        .replace("opensearch+http://", "http://")
        .replace("/orders?auth=sigv4", "/orders");
    assert!(
        err.contains(&format!(
            "GET {request}{SETTINGS_QUERY} failed with HTTP status 403"
        )),
        "{err}"
    );
    assert!(err.contains("signature"), "{err}");
    assert_eq!(
        fake.received().len(),
        1,
        "credentials are not fixed by retrying at once"
    );
}

#[tokio::test]
async fn serverless_collections_cannot_tell_and_nothing_is_asked() {
    let fake = FakeOpenSearch::start().await;
    let url = fake.url("orders?auth=sigv4&service=aoss");
    let sink = sink_with(&url, &signing_config()).await;

    let err = message(sink.delete_memory("orders", soon()).await);

    assert!(err.starts_with(&format!("{url}: ")), "{err}");
    assert!(
        err.contains("OpenSearch Serverless (service=aoss)"),
        "{err}"
    );
    assert!(err.contains("index.gc_deletes"), "{err}");
    assert!(fake.received().is_empty());
    assert_eq!(sink.api_calls(), 0);
}

#[tokio::test]
async fn an_unreachable_cluster_is_retried_until_the_deadline_then_an_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("opensearch+http://127.0.0.1:{port}/orders");
    let sink = sink(&url).await;
    let deadline = Instant::now() + Duration::from_millis(400);

    let err = message(sink.delete_memory("orders", deadline).await);

    assert!(Instant::now() <= deadline + Duration::from_millis(100));
    assert!(err.starts_with(&format!("{url}: ")), "{err}");
    assert!(
        err.contains(&format!(
            "GET http://127.0.0.1:{port}/orders{SETTINGS_QUERY} failed: "
        )),
        "{err}"
    );
    assert!(sink.api_calls() > 1, "retried before giving up");
}

#[tokio::test]
async fn a_failing_cluster_is_asked_again() {
    let (fake, sink) = orders_index().await;
    fake.create_index("orders", Some("1h"));
    fake.fail_requests(2);

    let memory = sink.delete_memory("orders", soon()).await.unwrap();

    assert_eq!(memory, DeleteMemory::For(Duration::from_secs(3600)));
    let statuses: Vec<u16> = fake.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 500, 200]);
}

#[tokio::test]
async fn a_settings_request_without_answer_is_abandoned_at_the_deadline() {
    let (fake, sink) = orders_index().await;
    fake.create_index("orders", Some("1h"));
    fake.stall_requests(usize::MAX);
    let deadline = Instant::now() + Duration::from_millis(300);

    let err = message(sink.delete_memory("orders", deadline).await);

    assert!(Instant::now() < deadline + Duration::from_millis(100));
    assert!(err.contains("got no answer before the deadline"), "{err}");
}

#[tokio::test]
async fn a_settings_retry_cut_short_by_the_deadline_reports_the_failure_it_retried() {
    let (fake, sink) = orders_index().await;
    fake.create_index("orders", Some("1h"));
    fake.fail_requests(1);
    fake.stall_after(1);
    let deadline = Instant::now() + Duration::from_millis(400);

    let err = message(sink.delete_memory("orders", deadline).await);

    assert!(Instant::now() < deadline + Duration::from_millis(100));
    assert!(err.contains("failed with HTTP status 500"), "{err}");
    assert_eq!(sink.api_calls(), 2);
}

/// The fake's settings answers, checked directly, so the tests above rest on OpenSearch's
/// shapes and not on whatever the sink happens to send.
#[tokio::test]
async fn the_fake_answers_get_settings_as_opensearch_does() {
    let fake = FakeOpenSearch::start().await;
    fake.create_index("set", Some("1h"));
    fake.create_index("unset", None);
    let base = fake.url("").replace("opensearch+http://", "http://");
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("{base}{path}")).send();
        async move {
            let response = request.await.unwrap();
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let json = |text: &str| serde_json::from_str::<Value>(text).unwrap();

    assert_eq!(
        get("set/_settings/index.gc_deletes?include_defaults=true&flat_settings=true").await,
        (
            200,
            json(r#"{"set":{"settings":{"index.gc_deletes":"1h"},"defaults":{}}}"#)
        )
    );
    assert_eq!(
        get("unset/_settings/index.gc_deletes?include_defaults&flat_settings=true").await,
        (
            200,
            json(r#"{"unset":{"settings":{},"defaults":{"index.gc_deletes":"60s"}}}"#)
        )
    );
    // Nested without flat_settings; an index with none of the names set is left out
    // without include_defaults.
    assert_eq!(
        get("set/_settings/index.gc_deletes").await,
        (
            200,
            json(r#"{"set":{"settings":{"index":{"gc_deletes":"1h"}}}}"#)
        )
    );
    assert_eq!(
        get("unset/_settings/index.gc_deletes").await,
        (200, json("{}"))
    );
    let (status, body) = get("nope/_settings/index.gc_deletes").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["type"], "index_not_found_exception");
    assert_eq!(
        body["error"]["root_cause"][0]["reason"],
        "no such index [nope]"
    );
    let (status, body) = get("set/_settings?flat=true").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["reason"],
        "request [/set/_settings] contains unrecognized parameter: [flat]"
    );
}

fn parsed(url: &str) -> OpenSearchConfig {
    match SinkConfig::parse(url) {
        Ok(SinkConfig::OpenSearch(config)) => config,
        other => panic!("{url}: {other:?}"),
    }
}

#[test]
fn urls_parse_with_documented_defaults() {
    let https = parsed("opensearch+https://search-x.us-east-1.es.amazonaws.com/orders");
    assert_eq!(
        https,
        OpenSearchConfig {
            endpoint: "https://search-x.us-east-1.es.amazonaws.com".into(),
            index: PerTable::new("orders"),
            auth: AuthConfig::SigV4 {
                service: SigV4Service::Es,
                region: None
            },
            max_bytes: 5 << 20,
            timeout: Duration::from_secs(30),
            concurrency: 4,
        }
    );
    let aoss = parsed("opensearch+https://abc.us-east-1.aoss.amazonaws.com/{table}-cdc");
    assert_eq!(
        aoss.auth,
        AuthConfig::SigV4 {
            service: SigV4Service::Aoss,
            region: None
        }
    );
    assert_eq!(aoss.index, PerTable::new("{table}-cdc"));
    let http = parsed("opensearch+http://localhost:9200/orders");
    assert_eq!(http.endpoint, "http://localhost:9200");
    assert_eq!(http.auth, AuthConfig::None);
    let all = parsed(
        "opensearch+https://10.0.0.1:9200/orders?auth=sigv4&service=es&region=eu-west-1&max_bytes=1048576&timeout_ms=5000&concurrency=2",
    );
    assert_eq!(
        all.auth,
        AuthConfig::SigV4 {
            service: SigV4Service::Es,
            region: Some("eu-west-1".into())
        }
    );
    assert_eq!(
        (all.max_bytes, all.timeout, all.concurrency),
        (1 << 20, Duration::from_secs(5), 2)
    );
    assert_eq!(
        parsed("opensearch+https://h/orders?auth=basic&secret=arn:aws:secretsmanager:us-east-1:1:secret:os").auth,
        AuthConfig::Basic {
            secret: "arn:aws:secretsmanager:us-east-1:1:secret:os".into()
        }
    );
    assert_eq!(
        parsed("opensearch+https://h/orders?auth=none").auth,
        AuthConfig::None
    );
}

fn error(url: &str) -> String {
    let err = SinkConfig::parse(url)
        .err()
        .unwrap_or_else(|| panic!("{url} parsed"));
    assert!(
        matches!(
            err,
            ConfigError::Invalid { .. } | ConfigError::UnknownOption { .. }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.starts_with(&format!("CDC_SINKS: {url:?}")), "{text}");
    text
}

#[test]
fn bad_urls_and_options_say_what_is_accepted() {
    let form =
        "expected opensearch+https://HOST[:PORT]/INDEX or opensearch+http://HOST[:PORT]/INDEX";
    let cases: &[(&str, &str)] = &[
        ("opensearch+https://search.example.com", form),
        ("opensearch+https:///orders", "is not HOST[:PORT]"),
        ("opensearch+https://host:99999/orders", "is not HOST[:PORT]"),
        ("opensearch+https://user:pw@host/orders", "credentials do not belong in the URL"),
        ("opensearch+https://host/", "the index name is missing"),
        ("opensearch+https://host/Orders", "must be lowercase"),
        ("opensearch+https://host/a/b", "must be lowercase, without spaces or any of"),
        ("opensearch+https://host/a b", "(found ' ')"),
        ("opensearch+https://host/_orders", "cannot start with _, - or +"),
        ("opensearch+https://host/..", "cannot be named . or .."),
        ("opensearch+https://host/{tabel}", "only {table} can be substituted"),
        ("opensearch+https://host/orders?auth=iam", "option auth=\"iam\" is not one of none, sigv4, basic"),
        ("opensearch+https://host/orders?service=es2", "option service=\"es2\" is not one of es, aoss"),
        ("opensearch+https://host/orders?auth=basic", "auth=basic needs secret=SECRET_ID"),
        ("opensearch+https://host/orders?auth=basic&secret=", "auth=basic needs secret=SECRET_ID"),
        ("opensearch+https://host/orders?auth=basic&secret=s&service=es", "option service is only for auth=sigv4 (this URL has auth=basic)"),
        ("opensearch+https://host/orders?secret=s", "option secret is only for auth=basic (this URL has auth=sigv4)"),
        ("opensearch+http://host/orders?region=us-east-1", "option region is only for auth=sigv4 (this URL has auth=none)"),
        ("opensearch+https://host/orders?region=", "option region is empty"),
        ("opensearch+https://host/orders?max_bytes=10", "option max_bytes=\"10\" is not a whole number from 1024 to 104857600"),
        ("opensearch+https://host/orders?timeout_ms=soon", "option timeout_ms=\"soon\" is not a whole number from 100 to 900000"),
        ("opensearch+https://host/orders?concurrency=0", "option concurrency=\"0\" is not a whole number from 1 to 64"),
        ("opensearch+https://host/orders?refresh=true", "unknown option \"refresh\"; accepted options: auth, service, region, secret, insecure_basic_auth, max_bytes, timeout_ms, concurrency"),
    ];
    for (url, expected) in cases {
        let text = error(url);
        assert!(text.contains(expected), "{url}: {text}");
    }
}

#[test]
fn the_unknown_scheme_error_lists_the_opensearch_forms() {
    let err = SinkConfig::parse("opensearch://host/orders")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("opensearch+https://HOST[:PORT]/INDEX, opensearch+http://HOST[:PORT]/INDEX"),
        "{err}"
    );
}
