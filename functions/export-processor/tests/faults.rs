//! Loads that stop or meet bad data: a file stopped by the deadline continues exactly from its
//! checkpoint through the work queue, a redelivered file is not loaded twice, and truncated,
//! corrupt or mismatched data files are named, counted and recorded while the others load.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_exports::work::Work;
use cdc_record::ChangeRecord;
use cdc_sinks::{
    DeadlineExceeded, FailureKind, FanOut, JsonLinesDeadLetters, LineOutput, Sink, WriteReport,
};
use cdc_telemetry::names;
use cdc_testkit::exports::{moto_sqs, receive_notifications, Fault, FileKind, Format};
use cdc_testkit::generate::{KeyAttribute, TableShape};
use cdc_testkit::json::Json;
use cdc_testkit::{create_table, dynamodb_local, unique};
use export_processor::{ExportProcessor, Settings};
use support::*;
use tokio::time::Instant;

/// Keeps what it is given; its `stall_on`-th write (0-based) hangs until the deadline, as a
/// sink too slow to finish before it would.
#[derive(Clone, Default)]
struct SlowSink(Arc<Slow>);

#[derive(Default)]
struct Slow {
    written: Mutex<Vec<String>>,
    calls: AtomicUsize,
    stall_on: AtomicUsize,
}

impl std::ops::Deref for SlowSink {
    type Target = Slow;
    fn deref(&self) -> &Slow {
        &self.0
    }
}

#[async_trait]
impl Sink for SlowSink {
    fn name(&self) -> &str {
        "slow"
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        if self.calls.fetch_add(1, Ordering::SeqCst) == self.stall_on.load(Ordering::SeqCst) {
            tokio::time::sleep_until(deadline).await;
            return WriteReport::failed_from(
                0,
                records.len(),
                FailureKind::Retryable,
                Arc::new(DeadlineExceeded),
            );
        }
        let mut written = self.written.lock().unwrap();
        for record in records {
            let mut line = Vec::new();
            record.write_json(&mut line);
            written.push(String::from_utf8(line).unwrap());
        }
        WriteReport::ok()
    }
}

fn shape() -> TableShape {
    TableShape {
        partition_key: KeyAttribute {
            name: "pk",
            kind: 'S',
        },
        sort_key: Some(KeyAttribute {
            name: "sk",
            kind: 'N',
        }),
    }
}

async fn state_table() -> String {
    let table = unique("state");
    create_table(
        &aws_sdk_dynamodb::Client::new(&dynamodb_local()),
        &table,
        "pk",
        Some("sk"),
        false,
    )
    .await;
    table
}

/// The state table's item for a data file.
async fn file_state(table: &str, export_arn: &str, key: &str) -> HashMap<String, AttributeValue> {
    aws_sdk_dynamodb::Client::new(&dynamodb_local())
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(export_arn.into()))
        .key("sk", AttributeValue::S(format!("file#{key}")))
        .consistent_read(true)
        .send()
        .await
        .expect("get state")
        .item
        .unwrap_or_else(|| panic!("no state for {key}"))
}

fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

fn letters(path: &Path) -> Vec<Json> {
    lines(path).iter().map(|l| Json::parse(l)).collect()
}

/// A work queue on moto.
async fn work_queue() -> String {
    moto_sqs()
        .create_queue()
        .queue_name(unique("work"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

/// The function with these settings, writing to `sink` (dead letters to stderr).
async fn slow_processor(settings: &[(&str, String)], sink: &SlowSink) -> ExportProcessor {
    let settings = Settings::from_env(|name| {
        settings
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let dead_letters = Box::new(JsonLinesDeadLetters::new("stderr", LineOutput::Stderr));
    ExportProcessor::new(
        FanOut::new(vec![Box::new(sink.clone())]),
        dead_letters,
        settings,
        aws(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_stopped_at_the_deadline_continues_exactly_from_its_checkpoint() {
    let bucket = Bucket::new().await;
    let source = Source::new(shape(), 21, 300).await;
    let mut spec = source.spec(&bucket.name);
    spec.partitions = 1;
    let (written, notification) = bucket.export(&spec, &source.items).await;
    let sqs = moto_sqs();
    let work_queue = work_queue().await;
    let state = state_table().await;
    let sink = SlowSink::default();
    sink.stall_on.store(2, Ordering::SeqCst);
    let processor = slow_processor(
        &[
            ("CDC_EXPORT_QUEUE", work_queue.clone()),
            ("CDC_STATE_TABLE", state.clone()),
            ("CDC_EXPORT_BATCH_BYTES", "4096".into()),
            source.key_schema(),
        ],
        &sink,
    )
    .await;

    // The manifest: one message per data file on the work queue.
    assert!(invoke(&processor, &sqs_event(&[notification]))
        .await
        .response
        .batch_item_failures
        .is_empty());
    let work = receive_notifications(&sqs, &work_queue, 1, timeout()).await;
    assert_eq!(work.len(), written.data_files.len());

    // The file: two blocks written, the third too slow for the deadline.
    let invocation = processor
        .handle(&sqs_event(&work), Instant::now() + Duration::from_secs(3))
        .await
        .unwrap();
    assert!(
        invocation.response.batch_item_failures.is_empty(),
        "the message is done: the rest is a new one"
    );
    let loaded = sink.written.lock().unwrap().len() as u64;
    assert!(loaded > 0 && loaded < source.items.len() as u64, "{loaded}");
    let saved = file_state(&state, &written.export_arn, &written.data_files[0].key).await;
    assert_eq!(
        (s(&saved, "status"), n(&saved, "lines")),
        ("loading", loaded)
    );
    let continuation = receive_notifications(&sqs, &work_queue, 1, timeout()).await;
    let Some(Ok(Work::File(rest))) = Work::from_message(&continuation[0]) else {
        panic!("a continuation: {continuation:?}")
    };
    assert_eq!(rest.start_line, loaded);

    // The continuation loads the rest: every item exactly once in all.
    sink.stall_on.store(usize::MAX, Ordering::SeqCst);
    assert!(invoke(&processor, &sqs_event(&continuation))
        .await
        .response
        .batch_item_failures
        .is_empty());
    let records = sink.written.lock().unwrap().clone();
    let mut got: Vec<Json> = records
        .iter()
        .map(|r| Json::parse(r).get("document").clone())
        .collect();
    got.sort_by_key(|d| format!("{d:?}"));
    assert_eq!(got, expected_documents(&source.items));
    let saved = file_state(&state, &written.export_arn, &written.data_files[0].key).await;
    assert_eq!(
        (s(&saved, "status"), n(&saved, "lines")),
        ("loaded", source.items.len() as u64)
    );
    assert_eq!(n(&saved, "records"), source.items.len() as u64);

    // A late duplicate of the first message finds the file loaded and writes nothing.
    assert!(invoke(&processor, &sqs_event(&work))
        .await
        .response
        .batch_item_failures
        .is_empty());
    assert_eq!(sink.written.lock().unwrap().len(), source.items.len());
    let saved = file_state(&state, &written.export_arn, &written.data_files[0].key).await;
    assert_eq!(
        n(&saved, "lines"),
        source.items.len() as u64,
        "progress never goes back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_files_are_named_counted_and_recorded_while_the_others_load() {
    let bucket = Bucket::new().await;
    let source = Source::new(shape(), 22, 80).await;
    for format in [Format::DynamoDbJson, Format::Ion] {
        let mut spec = source.spec(&bucket.name);
        spec.format = format;
        spec.partitions = 5;
        spec.faults = vec![
            Fault::TruncatedGzip { partition: 0 },
            Fault::BadLine {
                partition: 1,
                line: 2,
            },
            Fault::WrongItemCount {
                partition: 2,
                delta: 1,
            },
            Fault::WrongMd5 { partition: 3 },
        ];
        let (written, notification) = bucket.export(&spec, &source.items).await;
        let file = |p: usize| {
            written
                .data_files
                .iter()
                .find(|f| f.kind == FileKind::Items(p))
                .unwrap()
        };
        let (output, dead_letters, state) = (
            output_file("records"),
            output_file("letters"),
            state_table().await,
        );
        let processor = processor(&[
            ("CDC_SINKS", file_url(&output)),
            ("CDC_DLQ", file_url(&dead_letters)),
            ("CDC_STATE_TABLE", state.clone()),
            source.key_schema(),
        ])
        .await;
        let invocation = invoke(&processor, &sqs_event(&[notification])).await;

        assert!(
            invocation.response.batch_item_failures.is_empty(),
            "{format:?}: bad data is not retried"
        );
        let metrics = &invocation.metrics;
        assert_eq!(metrics.counter(names::EXPORT_S3_OBJECTS_PROCESSED), 5);
        assert_eq!(metrics.counter(names::EXPORT_S3_OBJECTS_MISMATCHED), 3);

        // The bad line: dead-lettered whole, named by object and line.
        let bad = file(1);
        let (letters, cut): (Vec<Json>, Vec<Json>) = letters(&dead_letters)
            .into_iter()
            .partition(|l| l.get("reason").str().contains(&bad.key));
        assert_eq!(letters.len(), 1, "{format:?}");
        let reason = letters[0].get("reason").str().to_owned();
        let object = format!("s3://{}/{}", bucket.name, bad.key);
        assert!(
            reason.starts_with(&format!("{object}: export line 3: ")),
            "{reason}"
        );
        assert_eq!(letters[0].get("record").str(), bad.lines[2]);
        assert_eq!(letters[0].get("source").str(), "export");
        // The truncated file's last, incomplete line (if the cut fell inside one) too.
        assert!(
            cut.len() <= 1
                && cut
                    .iter()
                    .all(|l| l.get("reason").str().contains(&file(0).key))
        );
        assert_eq!(
            metrics.counter(names::EXPORT_RECORDS_PROCESSING_ERRORS),
            1 + cut.len() as u64
        );

        // Each file's state names what is wrong with it.
        let state_of = |p: usize| file_state(&state, &written.export_arn, &file(p).key);
        let truncated = state_of(0).await;
        assert_eq!(s(&truncated, "status"), "mismatch");
        assert!(
            s(&truncated, "detail").contains(&format!(
                "not a complete gzip file (after line {})",
                n(&truncated, "lines")
            )),
            "{truncated:?}"
        );
        let with_bad_line = state_of(1).await;
        assert_eq!(
            (
                s(&with_bad_line, "status"),
                n(&with_bad_line, "dead_letters")
            ),
            ("loaded", 1)
        );
        let miscounted = state_of(2).await;
        assert_eq!(s(&miscounted, "status"), "mismatch");
        assert!(
            s(&miscounted, "detail").ends_with(&format!(
                "{} lines where the manifest says {} items",
                file(2).lines.len(),
                file(2).lines.len() + 1
            )),
            "{miscounted:?}"
        );
        let wrong_md5 = state_of(3).await;
        assert!(
            s(&wrong_md5, "detail").contains(&format!("where the manifest says {}", file(3).md5)),
            "{wrong_md5:?}"
        );
        assert_eq!(s(&state_of(4).await, "status"), "loaded");

        // Every line read reached the sink or the dead-letter queue, once: all but the bad line
        // and the lines the truncated file lost.
        let read = n(&truncated, "lines");
        assert!(read > 0 && read < file(0).lines.len() as u64, "{read}");
        let records = lines(&output);
        assert_eq!(
            records.len() as u64 + cut.len() as u64,
            source.items.len() as u64 - 1 - (file(0).lines.len() as u64 - read)
        );
        let expected = expected_documents(&source.items);
        let got = documents(&output);
        assert!(got.windows(2).all(|w| w[0] != w[1]), "no item twice");
        assert!(
            got.iter().all(|d| expected.contains(d)),
            "every record is a source item"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_schema_is_retried_not_dead_lettered_line_by_line() {
    let bucket = Bucket::new().await;
    let source = Source::new(shape(), 23, 20).await;
    let (_, notification) = bucket
        .export(&source.spec(&bucket.name), &source.items)
        .await;
    let (output, dead_letters) = (output_file("records"), output_file("letters"));
    let processor = processor(&[
        ("CDC_SINKS", file_url(&output)),
        ("CDC_DLQ", file_url(&dead_letters)),
        ("CDC_KEY_SCHEMA", format!("{}:id", source.table)),
    ])
    .await;
    let invocation = invoke(&processor, &sqs_event(&[notification])).await;
    assert_eq!(
        invocation.response.batch_item_failures.len(),
        1,
        "the message is retried"
    );
    assert!(lines(&dead_letters).is_empty(), "nothing dead-lettered");
    assert!(lines(&output).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_loads_nothing_before_the_deadline_fails_its_message_instead_of_looping() {
    let bucket = Bucket::new().await;
    let source = Source::new(shape(), 24, 30).await;
    let mut spec = source.spec(&bucket.name);
    spec.partitions = 1;
    let (_, notification) = bucket.export(&spec, &source.items).await;
    let sqs = moto_sqs();
    let work_queue = work_queue().await;
    let sink = SlowSink::default();
    sink.stall_on.store(0, Ordering::SeqCst);
    let processor = slow_processor(
        &[
            ("CDC_EXPORT_QUEUE", work_queue.clone()),
            source.key_schema(),
        ],
        &sink,
    )
    .await;
    invoke(&processor, &sqs_event(&[notification])).await;
    let work = receive_notifications(&sqs, &work_queue, 1, timeout()).await;

    let invocation = processor
        .handle(&sqs_event(&work), Instant::now() + Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        invocation.response.batch_item_failures.len(),
        1,
        "SQS counts the receive: the work dead-letter queue and its alarm end the loop"
    );
    let waiting = sqs
        .get_queue_attributes()
        .queue_url(&work_queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let waiting = waiting.attributes().unwrap()
        [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
        .clone();
    assert_eq!(waiting, "0", "no continuation sent");
}
