//! export-trigger against moto's DynamoDB export API, S3 and SQS: it starts exports
//! idempotently, recovers one whose start answer was lost, retries failed ones a bounded number
//! of times, and follows a completed export until export-processor (run here as Lambda would
//! run it) has loaded every data file. moto's export writes no manifests and not AWS's layout,
//! so each test writes a faithful export where DynamoDB would have, named after moto's ARN.

use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PointInTimeRecoverySpecification};
use cdc_exports::work::Work;
use cdc_lambda::AwsContext;
use cdc_telemetry::names;
use cdc_testkit::exports::{
    create_bucket, moto_s3, moto_sqs, receive_notifications, write_full_export, ExportSpec,
};
use cdc_testkit::{create_table, moto, moto_endpoint, unique};
use export_trigger::jobs::{Job, Jobs, Status};
use export_trigger::{ExportTrigger, Settings};
use serde_json::Value;
use tokio::time::Instant;

fn aws() -> Arc<AwsContext> {
    static ENDPOINTS: Once = Once::new();
    // Every test of this binary sets the same values, once, before any client reads them.
    ENDPOINTS.call_once(|| {
        for service in ["DYNAMODB", "S3", "SQS"] {
            std::env::set_var(format!("AWS_ENDPOINT_URL_{service}"), moto_endpoint());
        }
    });
    Arc::new(AwsContext::new())
}

fn ddb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&moto())
}

/// A source table with PITR on (or off), a bucket, a work queue and a state table, on moto.
struct Setup {
    table: String,
    bucket: String,
    queue: String,
    state: String,
    items: Vec<HashMap<String, AttributeValue>>,
}

impl Setup {
    async fn new(pitr: bool, bucket_exists: bool) -> Setup {
        let ddb = ddb();
        let table = unique("orders");
        create_table(&ddb, &table, "pk", Some("sk"), false).await;
        let items: Vec<HashMap<String, AttributeValue>> = (0..7)
            .map(|i| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(format!("o#{i}"))),
                    ("sk".to_owned(), AttributeValue::S("v0".into())),
                    ("amount".to_owned(), AttributeValue::N(format!("{i}.5"))),
                ])
            })
            .collect();
        for item in &items {
            ddb.put_item()
                .table_name(&table)
                .set_item(Some(item.clone()))
                .send()
                .await
                .unwrap();
        }
        if pitr {
            ddb.update_continuous_backups()
                .table_name(&table)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        let bucket = unique("exports").to_lowercase();
        if bucket_exists {
            create_bucket(&moto_s3(), &bucket).await;
        }
        let queue = moto_sqs()
            .create_queue()
            .queue_name(unique("work"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let state = unique("state");
        create_table(&ddb, &state, "pk", Some("sk"), false).await;
        Setup {
            table,
            bucket,
            queue,
            state,
            items,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CDC_EXPORT_TABLES", self.table.clone()),
            ("CDC_EXPORT_BUCKET", self.bucket.clone()),
            ("CDC_EXPORT_PREFIX", "exports".into()),
            ("CDC_STATE_TABLE", self.state.clone()),
            ("CDC_EXPORT_QUEUE", self.queue.clone()),
            ("CDC_EXPORT_MAX_ATTEMPTS", "2".into()),
            ("CDC_EXPORT_NOTIFY_GRACE_MINUTES", "0".into()),
            ("CDC_KEY_SCHEMA", format!("{}:pk:sk", self.table)),
        ]
    }

    async fn trigger(&self, extra: &[(&'static str, String)]) -> ExportTrigger {
        let mut env = self.env();
        env.extend(extra.iter().cloned());
        let settings =
            Settings::from_env(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
                .unwrap();
        ExportTrigger::from_settings(settings, aws()).await
    }

    async fn latest(&self) -> Option<Job> {
        Jobs::new(ddb(), self.state.clone())
            .latest(&self.table, later())
            .await
            .unwrap()
    }

    async fn exports_started(&self) -> usize {
        let arn = ddb()
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap()
            .table_arn
            .unwrap();
        ddb()
            .list_exports()
            .table_arn(arn)
            .send()
            .await
            .unwrap()
            .export_summaries()
            .len()
    }
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

async fn run(trigger: &ExportTrigger, command: &str) -> (Value, cdc_telemetry::Metrics) {
    let invocation = trigger
        .handle(command.as_bytes(), later())
        .await
        .expect("invocation");
    (
        serde_json::to_value(&invocation.response).unwrap(),
        invocation.metrics,
    )
}

/// Polls until the job leaves `status` (moto's export runs on a thread of its own).
async fn poll_while(setup: &Setup, trigger: &ExportTrigger, status: Status) -> Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        run(trigger, r#"{"action":"poll"}"#).await;
        let job = setup.latest().await.unwrap();
        if job.status != status || std::time::Instant::now() > deadline {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_is_idempotent_and_an_export_whose_answer_was_lost_is_recovered_not_started_twice()
{
    let setup = Setup::new(true, true).await;
    let trigger = setup.trigger(&[]).await;

    // Crash after the call returned, before the ARN was saved: the job is written, the export
    // started, nothing else.
    let ddb = ddb();
    let table_arn = ddb
        .describe_table()
        .table_name(&setup.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .table_arn
        .unwrap();
    let job = Job::new(
        &setup.table,
        &table_arn,
        cdc_exports::manifest::Kind::Full {
            export_time_ms: cdc_lambda::now_ms() / 1000 * 1000,
        },
        1,
        "exports",
        cdc_lambda::now_ms(),
    );
    let jobs = Jobs::new(ddb.clone(), setup.state.clone());
    assert!(jobs.create(&job, later()).await.unwrap());
    let exports = export_trigger::exports::Exports::new(ddb.clone(), setup_settings(&setup).export);
    let started = exports.start(&job, &table_arn, later()).await.unwrap();
    assert_eq!(setup.exports_started().await, 1);

    // The next run finds that export by its S3 prefix (moto ignores ClientToken: only the
    // recovery keeps it from starting a second one).
    let (report, _) = run(&trigger, r#"{"action":"poll"}"#).await;
    let recovered = setup.latest().await.unwrap();
    assert_eq!(
        recovered.export_arn.as_deref(),
        Some(started.as_str()),
        "{report}"
    );
    assert_ne!(recovered.status, Status::Starting);
    assert_eq!(setup.exports_started().await, 1);

    // A second start while it runs does nothing.
    let (report, _) = run(
        &trigger,
        &format!(r#"{{"action":"start","table":"{}"}}"#, setup.table),
    )
    .await;
    assert_eq!(setup.exports_started().await, 1, "{report}");
}

fn setup_settings(setup: &Setup) -> Settings {
    let env = setup.env();
    Settings::from_env(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_export_is_retried_with_a_new_token_then_given_up_with_the_reason() {
    // moto fails exports to a bucket that does not exist.
    let setup = Setup::new(true, false).await;
    let trigger = setup.trigger(&[]).await;
    let (_, _) = run(&trigger, r#"{"action":"start"}"#).await;
    let first = setup.latest().await.unwrap();
    let second = poll_while(&setup, &trigger, Status::InProgress).await;
    assert_eq!(second.attempt, 2, "{second:?}");
    assert_ne!(second.token, first.token);
    assert!(
        second
            .failure
            .as_deref()
            .unwrap_or("")
            .contains("S3NoSuchBucket"),
        "{second:?}"
    );
    let gave_up = loop {
        let job = poll_while(&setup, &trigger, Status::InProgress).await;
        if job.status != Status::Starting {
            break job;
        }
    };
    assert_eq!(
        (gave_up.status, gave_up.attempt),
        (Status::GaveUp, 2),
        "{gave_up:?}"
    );
    assert_eq!(setup.exports_started().await, 2);
    let (report, _) = run(&trigger, r#"{"action":"status"}"#).await;
    let summary = report["tables"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("gave up after attempt 2: S3NoSuchBucket"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitr_off_is_an_error_naming_the_table() {
    let setup = Setup::new(false, true).await;
    let trigger = setup.trigger(&[]).await;
    let err = trigger
        .handle(br#"{"action":"start"}"#, later())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "table {}: point-in-time recovery is off",
            setup.table
        )),
        "{err}"
    );
    let err = trigger
        .handle(br#"{"action":"start","table":"other"}"#, later())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "table \"other\" is not in CDC_EXPORT_TABLES");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_export_is_followed_until_every_data_file_is_loaded() {
    let setup = Setup::new(true, true).await;
    let trigger = setup
        .trigger(&[("CDC_EXPORT_REDRIVE_AFTER_MINUTES", "0".into())])
        .await;
    run(&trigger, r#"{"action":"start"}"#).await;
    let job = setup.latest().await.unwrap();
    // Where DynamoDB would have written it: the job's prefix, the folder named after its ARN.
    let mut spec = ExportSpec::new(&setup.bucket, &job.s3_prefix, &setup.table, "pk");
    spec.export_arn = job.export_arn.clone();
    spec.partitions = 3;
    let written = write_full_export(&moto_s3(), &spec, &setup.items).await;

    // Completed, and no load started: the trigger sends the manifest itself.
    let completed = poll_while(&setup, &trigger, Status::InProgress).await;
    assert_eq!(completed.status, Status::Completed, "{completed:?}");
    let sent = receive_notifications(&moto_sqs(), &setup.queue, 1, Duration::from_secs(10)).await;
    assert!(
        matches!(Work::from_message(&sent[0]), Some(Ok(Work::Manifest(_)))),
        "{sent:?}"
    );

    // export-processor, as deployed, with the same state table: the manifest fans out files.
    let output = std::env::temp_dir().join(format!("{}.jsonl", unique("records")));
    let processor_env = [
        ("CDC_SINKS", format!("file://{}", output.display())),
        ("CDC_STATE_TABLE", setup.state.clone()),
        ("CDC_EXPORT_QUEUE", setup.queue.clone()),
        ("CDC_KEY_SCHEMA", format!("{}:pk:sk", setup.table)),
    ];
    let processor = export_processor::ExportProcessor::from_settings(
        export_processor::Settings::from_env(|name| {
            processor_env
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap(),
        aws(),
    )
    .await
    .unwrap();
    let sqs_event = |bodies: &[String]| {
        let records: Vec<Value> = bodies.iter().enumerate().map(|(i, body)| serde_json::json!({"messageId": format!("m{i}"), "body": body, "eventSource": "aws:sqs"})).collect();
        serde_json::json!({"Records": records}).to_string()
    };
    processor
        .handle(sqs_event(&sent).as_bytes(), later())
        .await
        .unwrap();
    let files = receive_notifications(
        &moto_sqs(),
        &setup.queue,
        written.data_files.len(),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(files.len(), written.data_files.len());

    // One file loads; the audit re-drives the others (nothing moved them), then all load.
    processor
        .handle(sqs_event(&files[..1]).as_bytes(), later())
        .await
        .unwrap();
    let (report, metrics) = run(&trigger, r#"{"action":"poll"}"#).await;
    assert_eq!(
        metrics.counter(names::EXPORT_S3_OBJECTS_TOTAL),
        written.data_files.len() as u64,
        "{report}"
    );
    assert_eq!(
        metrics.counter(names::EXPORT_RECORDS_TOTAL),
        setup.items.len() as u64
    );
    let partial = setup.latest().await.unwrap();
    assert_eq!(partial.status, Status::Completed);
    assert_eq!(partial.audit.unwrap().files_loaded, 1);
    let redriven = receive_notifications(
        &moto_sqs(),
        &setup.queue,
        written.data_files.len() - 1,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(redriven.len(), written.data_files.len() - 1);
    processor
        .handle(sqs_event(&redriven).as_bytes(), later())
        .await
        .unwrap();

    let (report, _) = run(&trigger, r#"{"action":"poll"}"#).await;
    let loaded = setup.latest().await.unwrap();
    assert_eq!(loaded.status, Status::Loaded, "{report}");
    let audit = loaded.audit.unwrap();
    assert_eq!(
        (audit.files_loaded, audit.items_loaded),
        (written.data_files.len() as u64, setup.items.len() as u64)
    );
    let records = std::fs::read_to_string(&output).unwrap();
    assert_eq!(records.lines().count(), setup.items.len());
    let (report, _) = run(&trigger, r#"{"action":"status"}"#).await;
    let summary = report["tables"][0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("full export at ") && summary.ends_with(": loaded"),
        "{summary}"
    );
}

/// Moves moto's `LatestRestorableDateTime` on, as time does on AWS (moto freezes it when PITR
/// is enabled): without this every planned full export falls on the same second.
async fn move_restorable_time_on(setup: &Setup) {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for on in [false, true] {
        ddb()
            .update_continuous_backups()
            .table_name(&setup.table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(on)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_gave_up_waits_for_an_operator_even_when_exports_are_chained() {
    let setup = Setup::new(true, false).await;
    let trigger = setup
        .trigger(&[("CDC_EXPORT_INCREMENTAL", "true".into())])
        .await;
    let gave_up = loop {
        run(&trigger, r#"{"action":"poll"}"#).await;
        let job = setup.latest().await.unwrap();
        if job.status == Status::GaveUp {
            break job;
        }
        assert!(setup.exports_started().await <= 2, "{job:?}");
    };
    assert_eq!(gave_up.attempt, 2);
    move_restorable_time_on(&setup).await;
    let (_, metrics) = run(&trigger, r#"{"action":"poll"}"#).await;
    run(&trigger, r#"{"action":"poll"}"#).await;
    assert_eq!(
        setup.exports_started().await,
        2,
        "CDC_EXPORT_MAX_ATTEMPTS=2 bounds the exports"
    );
    assert_eq!(
        setup.latest().await.unwrap().status,
        Status::GaveUp,
        "still shown"
    );
    assert_eq!(
        metrics.counter(names::EXPORT_JOBS_BLOCKED),
        1,
        "alarmed while it lasts"
    );
    // An operator starts again once the cause is fixed.
    create_bucket(&moto_s3(), &setup.bucket).await;
    run(&trigger, r#"{"action":"start"}"#).await;
    assert_eq!(setup.exports_started().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_job_can_be_abandoned_and_a_new_export_started() {
    let setup = Setup::new(true, true).await;
    let trigger = setup.trigger(&[]).await;
    run(&trigger, r#"{"action":"start"}"#).await;
    let (report, _) = run(&trigger, r#"{"action":"abandon"}"#).await;
    let job = setup.latest().await.unwrap();
    assert_eq!(job.status, Status::GaveUp, "{report}");
    assert!(job.failure.unwrap().starts_with("abandoned by an operator"));
    move_restorable_time_on(&setup).await;
    run(&trigger, r#"{"action":"start"}"#).await;
    assert_eq!(setup.exports_started().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_do_not_match_their_manifest_leave_the_load_incomplete_not_loaded() {
    let setup = Setup::new(true, true).await;
    // Default re-drive interval: the manifest is sent once, then not on every run.
    let trigger = setup
        .trigger(&[("CDC_EXPORT_INCREMENTAL", "true".into())])
        .await;
    run(&trigger, r#"{"action":"start"}"#).await;
    let job = setup.latest().await.unwrap();
    let mut spec = ExportSpec::new(&setup.bucket, &job.s3_prefix, &setup.table, "pk");
    spec.export_arn = job.export_arn.clone();
    spec.partitions = 3;
    let written = write_full_export(&moto_s3(), &spec, &setup.items).await;
    assert_eq!(
        poll_while(&setup, &trigger, Status::InProgress)
            .await
            .status,
        Status::Completed
    );
    run(&trigger, r#"{"action":"poll"}"#).await;
    run(&trigger, r#"{"action":"poll"}"#).await;
    let sent = receive_notifications(&moto_sqs(), &setup.queue, 3, Duration::from_secs(3)).await;
    assert_eq!(sent.len(), 1, "the manifest once, not on every run");

    // The processor read the manifest; one file came out truncated (fewer lines than items).
    let arn = job.export_arn.clone().unwrap();
    let state = |sk: String, extra: Vec<(&str, AttributeValue)>| {
        let mut item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(arn.clone())),
            ("sk".to_owned(), AttributeValue::S(sk)),
        ]);
        item.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        ddb()
            .put_item()
            .table_name(&setup.state)
            .set_item(Some(item))
            .send()
    };
    state("manifest".into(), vec![]).await.unwrap();
    for (i, file) in written.data_files.iter().enumerate() {
        let lines = if i == 0 { 0 } else { file.lines.len() };
        let status = if i == 0 { "mismatch" } else { "loaded" };
        state(
            format!("file#{}", file.key),
            vec![
                ("status", AttributeValue::S(status.into())),
                ("lines", AttributeValue::N(lines.to_string())),
                (
                    "detail",
                    AttributeValue::S("not a complete gzip file (after line 0)".into()),
                ),
            ],
        )
        .await
        .unwrap();
    }
    let (report, metrics) = run(&trigger, r#"{"action":"poll"}"#).await;
    let job = setup.latest().await.unwrap();
    assert_eq!(job.status, Status::Incomplete, "{report}");
    assert_eq!(metrics.counter(names::EXPORT_JOBS_BLOCKED), 1);
    let summary = report["tables"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("incomplete: 1 of 3 files do not match their manifest"),
        "{summary}"
    );
    // Nothing is chained from an incomplete load.
    move_restorable_time_on(&setup).await;
    run(&trigger, r#"{"action":"poll"}"#).await;
    assert_eq!(setup.exports_started().await, 1);
}
