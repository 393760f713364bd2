//! The fan-out merges per-sink reports: the lowest retryable record wins, permanent
//! rejections before it become dead letters, and a sink past the deadline fails its batch;
//! delivery leaves the dead letters time after the sinks.
//! The sinks are in-test implementations of our own trait.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cdc_record::{ChangeRecord, KeySchema, MappingOptions, StreamRecord};
use cdc_sinks::{
    deliver, DeadLetter, DeadLetterError, DeadLetterQueue, Failure, FailureKind, FanOut,
    MappedBatch, Sink, WriteReport,
};
use tokio::time::Instant;

struct Scripted {
    name: &'static str,
    failures: Vec<(usize, FailureKind)>,
    hang: bool,
    /// Retries until the deadline it is given before it reports.
    until_deadline: bool,
}

#[async_trait]
impl Sink for Scripted {
    fn name(&self) -> &str {
        self.name
    }

    async fn write(&self, _records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        if self.hang {
            std::future::pending::<()>().await;
        }
        if self.until_deadline {
            tokio::time::sleep_until(deadline).await;
        }
        WriteReport {
            failures: self
                .failures
                .iter()
                .map(|(index, kind)| Failure {
                    index: *index,
                    kind: *kind,
                    error: Arc::new(std::io::Error::other(format!("boom {index}"))),
                })
                .collect(),
        }
    }
}

fn records(raw: &[String]) -> Vec<ChangeRecord<'_>> {
    let schema = KeySchema {
        partition_key: "pk".into(),
        sort_key: None,
    };
    raw.iter()
        .map(|r| {
            StreamRecord::parse(r)
                .unwrap()
                .into_change(&schema, &MappingOptions::default())
                .unwrap()
                .unwrap()
        })
        .collect()
}

fn raw(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"eventName":"INSERT","eventSourceARN":"arn:aws:dynamodb:r:1:table/t/stream/s","dynamodb":{{"ApproximateCreationDateTime":1,"SequenceNumber":"{i}","Keys":{{"pk":{{"S":"k{i}"}}}}}}}}"#
            )
        })
        .collect()
}

fn sink(name: &'static str, failures: Vec<(usize, FailureKind)>) -> Box<dyn Sink> {
    Box::new(Scripted {
        name,
        failures,
        hang: false,
        until_deadline: false,
    })
}

#[tokio::test]
async fn lowest_retryable_wins_and_earlier_rejections_are_kept() {
    let raw = raw(8);
    let fan_out = FanOut::new(vec![
        sink(
            "a",
            vec![
                (1, FailureKind::Permanent),
                (5, FailureKind::Retryable),
                (6, FailureKind::Retryable),
            ],
        ),
        sink(
            "b",
            vec![
                (1, FailureKind::Permanent),
                (4, FailureKind::Retryable),
                (7, FailureKind::Permanent),
            ],
        ),
    ]);
    let report = fan_out
        .write(&records(&raw), Instant::now() + Duration::from_secs(5))
        .await;
    let (index, reason) = report.first_retryable.unwrap();
    assert_eq!(index, 4);
    assert_eq!(reason, "sink b: boom 4");
    assert_eq!(
        report.rejected.keys().copied().collect::<Vec<_>>(),
        vec![1],
        "rejections after the retry point are dropped: the retry redoes them"
    );
    assert_eq!(report.rejected[&1], "sink a: boom 1; sink b: boom 1");
}

#[tokio::test(start_paused = true)]
async fn a_sink_still_writing_at_the_deadline_fails_the_whole_batch() {
    let raw = raw(3);
    let fan_out = FanOut::new(vec![
        sink("fast", vec![]),
        Box::new(Scripted {
            name: "slow",
            failures: vec![],
            hang: true,
            until_deadline: false,
        }),
    ]);
    let report = fan_out
        .write(&records(&raw), Instant::now() + Duration::from_secs(2))
        .await;
    let (index, reason) = report.first_retryable.unwrap();
    assert_eq!(index, 0);
    assert!(
        reason.starts_with("sink slow: stopped before the invocation's deadline"),
        "{reason}"
    );
}

/// An in-memory dead-letter queue whose every send takes 100 ms.
#[derive(Default)]
struct SlowQueue(std::sync::Mutex<Vec<String>>);

#[async_trait]
impl DeadLetterQueue for SlowQueue {
    fn name(&self) -> &str {
        "slow"
    }

    async fn send(
        &self,
        letters: &[DeadLetter<'_>],
        _deadline: Instant,
    ) -> Result<(), DeadLetterError> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut held = self.0.lock().unwrap();
        held.extend(letters.iter().map(|l| l.raw.to_owned()));
        Ok(())
    }
}

/// A sink that retries until its deadline must still leave the dead letters time to go out:
/// else the rejected record is retried, and the shard redoes it every invocation.
#[tokio::test(start_paused = true)]
async fn the_dead_letters_have_time_after_a_sink_that_retried_until_its_deadline() {
    let raw = raw(3);
    let fan_out = FanOut::new(vec![Box::new(Scripted {
        name: "stubborn",
        failures: vec![(0, FailureKind::Permanent), (1, FailureKind::Retryable)],
        hang: false,
        until_deadline: true,
    })]);
    let changes = records(&raw);
    let mut batch = MappedBatch {
        positions: (0..changes.len()).collect(),
        changes,
        ..Default::default()
    };
    let queue = SlowQueue::default();
    let stop_at = Instant::now() + Duration::from_secs(10);
    let delivery = deliver(&fan_out, &queue, &mut batch, stop_at).await;
    assert_eq!(delivery.failed_from(3), 1, "{:?}", delivery.first_failure);
    assert_eq!(*queue.0.lock().unwrap(), vec![raw[0].clone()]);
    assert!(Instant::now() <= stop_at);
}

/// A sink failing record 0 as misconfigured (a stream without new images) and record 1 for a
/// transient reason.
struct HalfConfigured;

#[async_trait]
impl Sink for HalfConfigured {
    fn name(&self) -> &str {
        "half"
    }

    async fn write(&self, _records: &[ChangeRecord<'_>], _deadline: Instant) -> WriteReport {
        WriteReport {
            failures: vec![
                Failure {
                    index: 0,
                    kind: FailureKind::Retryable,
                    error: Arc::new(cdc_sinks::NoNewImage),
                },
                Failure {
                    index: 1,
                    kind: FailureKind::Retryable,
                    error: Arc::new(std::io::Error::other("throttled")),
                },
            ],
        }
    }
}

/// Past the record age, a transient failure is dead-lettered; a destination set up wrong is
/// retried whatever the age (misconfiguration is alarmed, never dead-lettered wholesale).
#[tokio::test]
async fn old_records_age_out_of_transient_failures_but_not_of_misconfiguration() {
    let raw = raw(2);
    let fan_out = FanOut::new(vec![Box::new(HalfConfigured)]);
    let report = fan_out
        .write_aging(
            &records(&raw),
            Instant::now() + Duration::from_secs(5),
            &|_| true,
        )
        .await;
    assert_eq!(report.aged_out, vec![1]);
    assert_eq!(report.first_retryable.map(|(index, _)| index), Some(0));
}
