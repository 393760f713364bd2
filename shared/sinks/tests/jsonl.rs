//! The file sink and file dead-letter queue append whole batches as JSON Lines.

use std::time::Duration;

use cdc_record::{KeySchema, MappingOptions, Source, StreamRecord};
use cdc_sinks::{DeadLetter, DeadLetterConfig, SinkConfig};
use tokio::time::Instant;

const RECORD: &str = r#"{
  "eventID": "e1", "eventName": "INSERT",
  "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
  "dynamodb": {"ApproximateCreationDateTime": 1.5, "SequenceNumber": "42",
               "Keys": {"pk": {"S": "a"}}, "NewImage": {"pk": {"S": "a"}, "n": {"N": "1.0"}}}
}"#;

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cdc-sinks-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn file_sink_appends_one_line_per_record() {
    let path = temp_path("out.jsonl");
    let url = format!("file://{}", path.display());
    let sink = SinkConfig::parse(&url)
        .unwrap()
        .build(&url, &Default::default())
        .await
        .unwrap();
    let schema = KeySchema {
        partition_key: "pk".into(),
        sort_key: None,
    };
    let change = StreamRecord::parse(RECORD)
        .unwrap()
        .into_change(&schema, &MappingOptions::default())
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    assert!(sink
        .write(std::slice::from_ref(&change), deadline)
        .await
        .failures
        .is_empty());
    assert!(sink
        .write(&[change.clone(), change], deadline)
        .await
        .failures
        .is_empty());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with(r#"{"metadata":{"table_name":"t","primary_key":"a","#),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(r#""document":{"pk":"a","n":1.0}}"#),
        "{}",
        lines[0]
    );
}

/// `fdatasync` fails with EINVAL on what is no regular file; writing there still succeeds.
#[tokio::test]
async fn file_sink_writes_to_dev_null_and_a_named_pipe() {
    let pipe = temp_path("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // A reader keeps the pipe open so that opening it for writing does not block.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&pipe)
        .expect("pipe reader");
    for url in [
        "file:///dev/null".to_owned(),
        format!("file://{}", pipe.display()),
    ] {
        let sink = SinkConfig::parse(&url)
            .unwrap()
            .build(&url, &Default::default())
            .await
            .unwrap();
        let change = StreamRecord::parse(RECORD)
            .unwrap()
            .into_change(
                &KeySchema {
                    partition_key: "pk".into(),
                    sort_key: None,
                },
                &MappingOptions::default(),
            )
            .unwrap()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let report = sink.write(&[change], deadline).await;
        assert!(report.failures.is_empty(), "{url}: {:?}", report.failures);
    }
    drop(reader);
}

#[tokio::test]
async fn dead_letters_carry_the_whole_record_compacted_onto_one_line() {
    let path = temp_path("dlq.jsonl");
    let queue = DeadLetterConfig::parse(Some(&format!("file://{}", path.display())))
        .unwrap()
        .build(&Default::default())
        .await
        .unwrap();
    let letters = [
        DeadLetter {
            raw: RECORD,
            reason: "stream record 42: broken".into(),
            source: Source::Stream,
            sequence_number: Some("42".into()),
            table_name: None,
        },
        DeadLetter {
            raw: "not json at all",
            reason: "export line 3: bad".into(),
            source: Source::Export,
            sequence_number: None,
            table_name: Some("t".into()),
        },
    ];
    queue
        .send(&letters, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["reason"], "stream record 42: broken");
    assert_eq!(lines[0]["sequence_number"], "42");
    assert_eq!(lines[0]["source"], "stream");
    let original: serde_json::Value = serde_json::from_str(RECORD).unwrap();
    assert_eq!(lines[0]["record"], original);
    assert_eq!(lines[1]["record"], "not json at all");
    assert_eq!(lines[1]["table_name"], "t");
}
