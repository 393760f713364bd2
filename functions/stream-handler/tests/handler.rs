//! stream-handler's invocation contract: partial batch failures name the first record not
//! durably written, dead letters never block the shard, and the deadline is kept.
//!
//! The sinks here are small in-test implementations of our own `Sink` trait that fail on
//! demand; the real sinks are tested against real engines elsewhere.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cdc_record::ChangeRecord;
use cdc_sinks::{
    DeadLetter, DeadLetterError, DeadLetterQueue, FailureKind, FanOut, Sink, WriteReport,
};
use cdc_telemetry::names;
use cdc_testkit::payload;
use serde_json::json;
use serde_json::value::RawValue;
use stream_handler::{ItemFailure, Settings, StreamHandler};
use tokio::time::Instant;

fn raw_record(seq: u32, pk: &str) -> Box<RawValue> {
    let record = json!({
        "eventID": format!("e{seq}"), "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-21T00:00:00.000",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_278_192 + seq,
            "Keys": {"pk": {"S": pk}, "sk": {"S": "v0"}},
            "NewImage": {"pk": {"S": pk}, "sk": {"S": "v0"}, "n": {"N": seq.to_string()}},
            "SequenceNumber": format!("{:021}", 100 + seq),
            "StreamViewType": "NEW_IMAGE",
        }
    });
    RawValue::from_string(record.to_string()).unwrap()
}

fn malformed_record(seq: u32) -> Box<RawValue> {
    let text = raw_record(seq, "bad")
        .get()
        .replace(&format!("{{\"N\":\"{seq}\"}}"), "{\"N\":\"12abc\"}");
    assert!(text.contains("12abc"));
    RawValue::from_string(text).unwrap()
}

fn seq(n: u32) -> String {
    format!("{:021}", 100 + n)
}

/// The partial batch response naming record `n`.
fn failure_at(n: u32) -> Vec<ItemFailure> {
    vec![ItemFailure {
        item_identifier: seq(n),
    }]
}

fn batch(n: u32) -> Vec<Box<RawValue>> {
    (0..n).map(|i| raw_record(i, &format!("o#{i}"))).collect()
}

fn settings() -> Settings {
    Settings::from_env(|name| match name {
        "CDC_KEY_SCHEMA" => Some("orders:pk:sk".into()),
        _ => None,
    })
    .unwrap()
}

/// Accepts records until it meets `fail_at` (a sequence number), then fails that one and the
/// rest of the batch, as a sink whose endpoint went away would.
#[derive(Default, Clone)]
struct FlakySink {
    written: Arc<Mutex<Vec<String>>>,
    fail_at: Arc<Mutex<Option<(String, FailureKind)>>>,
    hang: bool,
}

#[async_trait]
impl Sink for FlakySink {
    fn name(&self) -> &str {
        "flaky"
    }

    async fn write(&self, records: &[ChangeRecord<'_>], _deadline: Instant) -> WriteReport {
        if self.hang {
            std::future::pending::<()>().await;
        }
        let fail_at = self.fail_at.lock().unwrap().clone();
        let mut report = WriteReport::ok();
        for (index, record) in records.iter().enumerate() {
            let seq = record.sequence_number.as_deref().unwrap().to_owned();
            match &fail_at {
                Some((at, FailureKind::Retryable)) if *at <= seq => {
                    return WriteReport::failed_from(
                        index,
                        records.len(),
                        FailureKind::Retryable,
                        Arc::new(std::io::Error::other("connection reset")),
                    );
                }
                Some((at, FailureKind::Permanent)) if *at == seq => {
                    report.failures.push(cdc_sinks::Failure {
                        index,
                        kind: FailureKind::Permanent,
                        error: Arc::new(std::io::Error::other("item larger than 400 KB")),
                    });
                }
                _ => self.written.lock().unwrap().push(seq),
            }
        }
        report
    }
}

/// A dead letter as received: sequence number, reason, raw record.
type Sent = (Option<String>, String, String);

#[derive(Default, Clone)]
struct Letters {
    sent: Arc<Mutex<Vec<Sent>>>,
    fail: bool,
}

#[async_trait]
impl DeadLetterQueue for Letters {
    fn name(&self) -> &str {
        "letters"
    }

    async fn send(
        &self,
        letters: &[DeadLetter<'_>],
        _deadline: Instant,
    ) -> Result<(), DeadLetterError> {
        if self.fail {
            return Err(DeadLetterError {
                queue: "letters".into(),
                sent: 0,
                error: Arc::new(std::io::Error::other("queue unavailable")),
            });
        }
        self.sent.lock().unwrap().extend(letters.iter().map(|l| {
            (
                l.sequence_number.as_deref().map(str::to_owned),
                l.reason.clone(),
                l.raw.to_owned(),
            )
        }));
        Ok(())
    }
}

fn handler(sinks: Vec<FlakySink>, letters: Letters) -> StreamHandler {
    let sinks: Vec<Box<dyn Sink>> = sinks
        .into_iter()
        .map(|s| Box::new(s) as Box<dyn Sink>)
        .collect();
    StreamHandler::new(
        FanOut::new(sinks),
        Box::new(letters),
        settings(),
        Default::default(),
    )
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn all_written_reports_no_failures() {
    let sink = FlakySink::default();
    let h = handler(vec![sink.clone()], Letters::default());
    let records = batch(5);
    let invocation = h.handle(&payload(&records), later()).await.unwrap();
    assert!(invocation.response.batch_item_failures.is_empty());
    assert_eq!(
        *sink.written.lock().unwrap(),
        (0..5).map(seq).collect::<Vec<_>>()
    );
    assert_eq!(
        invocation.metrics.counter(names::CHANGE_EVENTS_PROCESSED),
        5
    );
    assert_eq!(
        serde_json::to_value(&invocation.response).unwrap(),
        json!({"batchItemFailures": []})
    );
}

#[tokio::test]
async fn a_sink_failing_at_record_k_reports_k_and_the_retry_completes_without_duplicates() {
    let k = 6;
    let healthy = FlakySink::default();
    let flaky = FlakySink::default();
    *flaky.fail_at.lock().unwrap() = Some((seq(k), FailureKind::Retryable));
    let h = handler(vec![healthy.clone(), flaky.clone()], Letters::default());
    let records = batch(10);

    let invocation = h.handle(&payload(&records), later()).await.unwrap();
    assert_eq!(invocation.response.batch_item_failures, failure_at(k));
    assert_eq!(
        *flaky.written.lock().unwrap(),
        (0..k).map(seq).collect::<Vec<_>>(),
        "records before k written once"
    );
    assert_eq!(
        invocation.metrics.counter(names::CHANGE_EVENTS_PROCESSED),
        u64::from(k)
    );
    assert_eq!(
        invocation.metrics.counter(names::CHANGE_EVENTS_FAILED),
        u64::from(10 - k)
    );
    assert_eq!(
        serde_json::to_value(&invocation.response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": seq(k)}]})
    );

    // Lambda retries from k, in order: the suffix completes and nothing before k is written again.
    *flaky.fail_at.lock().unwrap() = None;
    let retry = h
        .handle(&payload(&records[k as usize..]), later())
        .await
        .unwrap();
    assert!(retry.response.batch_item_failures.is_empty());
    assert_eq!(
        *flaky.written.lock().unwrap(),
        (0..10).map(seq).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_lowest_failure_across_sinks_is_reported() {
    let a = FlakySink::default();
    let b = FlakySink::default();
    *a.fail_at.lock().unwrap() = Some((seq(7), FailureKind::Retryable));
    *b.fail_at.lock().unwrap() = Some((seq(3), FailureKind::Retryable));
    let invocation = handler(vec![a, b], Letters::default())
        .handle(&payload(&batch(10)), later())
        .await
        .unwrap();
    assert_eq!(invocation.response.batch_item_failures, failure_at(3));
}

#[tokio::test]
async fn an_unmappable_record_is_dead_lettered_whole_and_does_not_block_the_shard() {
    let sink = FlakySink::default();
    let letters = Letters::default();
    let mut records = batch(5);
    records[2] = malformed_record(2);
    let invocation = handler(vec![sink.clone()], letters.clone())
        .handle(&payload(&records), later())
        .await
        .unwrap();

    assert!(invocation.response.batch_item_failures.is_empty());
    assert_eq!(
        *sink.written.lock().unwrap(),
        vec![seq(0), seq(1), seq(3), seq(4)]
    );
    let sent = letters.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    let (sequence_number, reason, raw) = &sent[0];
    assert_eq!(sequence_number.as_deref(), Some(seq(2).as_str()));
    assert!(
        reason.contains("\"12abc\" is not a decimal number"),
        "{reason}"
    );
    assert_eq!(raw, records[2].get(), "the full record, not just metadata");
    assert_eq!(
        invocation
            .metrics
            .counter(names::CHANGE_EVENTS_PROCESSING_ERRORS),
        1
    );
    assert_eq!(
        invocation.metrics.counter(names::CHANGE_EVENTS_PROCESSED),
        4
    );
}

#[tokio::test]
async fn a_record_a_sink_rejects_for_good_is_dead_lettered_not_retried() {
    let sink = FlakySink::default();
    *sink.fail_at.lock().unwrap() = Some((seq(1), FailureKind::Permanent));
    let letters = Letters::default();
    let records = batch(3);
    let invocation = handler(vec![sink.clone()], letters.clone())
        .handle(&payload(&records), later())
        .await
        .unwrap();
    assert!(invocation.response.batch_item_failures.is_empty());
    let sent = letters.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.as_deref(), Some(seq(1).as_str()));
    assert!(
        sent[0].1.contains("sink flaky: item larger than 400 KB"),
        "{}",
        sent[0].1
    );
    assert_eq!(sent[0].2, records[1].get());
}

#[tokio::test]
async fn when_the_dead_letter_queue_fails_the_unmappable_record_is_retried() {
    let sink = FlakySink::default();
    let mut records = batch(5);
    records[3] = malformed_record(3);
    let letters = Letters {
        fail: true,
        ..Default::default()
    };
    let invocation = handler(vec![sink], letters)
        .handle(&payload(&records), later())
        .await
        .unwrap();
    assert_eq!(invocation.response.batch_item_failures, failure_at(3));
    assert_eq!(
        invocation
            .metrics
            .counter(names::CHANGE_EVENTS_PROCESSING_ERRORS),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn stops_before_the_deadline_and_reports_the_unfinished_records() {
    let hanging = FlakySink {
        hang: true,
        ..Default::default()
    };
    let h = handler(vec![FlakySink::default(), hanging], Letters::default());
    let records = batch(4);
    let stop_at = Instant::now() + Duration::from_secs(3);
    let invocation = h.handle(&payload(&records), stop_at).await.unwrap();
    assert!(
        Instant::now() <= stop_at + Duration::from_millis(1),
        "returned at the deadline, not after"
    );
    assert_eq!(invocation.response.batch_item_failures, failure_at(0));
    assert_eq!(invocation.metrics.counter(names::CHANGE_EVENTS_FAILED), 4);
}

#[tokio::test]
async fn a_malformed_first_record_without_sequence_number_fails_the_invocation_only_if_it_must_be_retried(
) {
    let no_seq = RawValue::from_string(json!({"eventName": "INSERT"}).to_string()).unwrap();
    let mut records = vec![no_seq];
    records.extend(batch(2));
    // Dead-lettered fine: no failure.
    let ok = handler(vec![FlakySink::default()], Letters::default())
        .handle(&payload(&records), later())
        .await
        .unwrap();
    assert!(ok.response.batch_item_failures.is_empty());
    // The queue is down: the record cannot be named, so the whole batch is retried.
    let failing = Letters {
        fail: true,
        ..Default::default()
    };
    let err = handler(vec![FlakySink::default()], failing)
        .handle(&payload(&records), later())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no record up to it has a readable SequenceNumber"),
        "{err}"
    );
}
