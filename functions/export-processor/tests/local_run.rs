//! The binary as README runs it: `export-processor --event FILE` on the sample events, against
//! the sample export of events/export-processor/cdc-exports uploaded to moto's S3. Change
//! records go to stdout, the response and EMF metrics to stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cdc_testkit::exports::moto_s3;
use cdc_testkit::moto_endpoint;
use serde_json::Value;

fn events() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/export-processor")
}

/// The sample export, in bucket `cdc-exports` (uploaded once per test: the same bytes).
async fn upload_sample_export() {
    let s3 = moto_s3();
    let _ = s3.create_bucket().bucket("cdc-exports").send().await;
    let root = events().join("cdc-exports");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let key = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        s3.put_object()
            .bucket("cdc-exports")
            .key(key)
            .body(std::fs::read(&path).unwrap().into())
            .send()
            .await
            .unwrap();
    }
}

fn run(event: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_export-processor"))
        .arg("--event")
        .arg(events().join(event))
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("CDC_KEY_SCHEMA", "orders:pk:sk")
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .output()
        .expect("run export-processor")
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn every_sample_event_loads_the_sample_export_or_is_ignored() {
    upload_sample_export().await;
    for (event, records) in [
        ("s3-manifest-notification.json", 5),
        ("sqs-manifest-notification.json", 5),
        ("eventbridge-object-created.json", 5),
        ("sqs-file-work.json", 5),
        ("sqs-test-event.json", 0),
    ] {
        let output = run(event);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{event}: {stderr}");
        let changes = json_lines(&output.stdout);
        assert_eq!(changes.len(), records, "{event}");
        assert!(changes.iter().all(
            |c| c["metadata"]["source"] == "export" && c["metadata"]["table_name"] == "orders"
        ));
        let stderr = json_lines(&output.stderr);
        assert!(
            stderr.contains(&serde_json::json!({"batchItemFailures": []})),
            "{event}"
        );
        let emf = stderr
            .iter()
            .find(|v| v.get("_aws").is_some())
            .expect("EMF line");
        if records > 0 {
            assert_eq!(emf["exportRecordsProcessed"], 5.0, "{event}");
        }
    }
}

#[test]
fn a_bad_setting_stops_the_function_at_cold_start_naming_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_export-processor"))
        .args(["--event", "/nonexistent"])
        .env("CDC_EXPORT_LOAD_WINDOW_MINUTES", "soon")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CDC_EXPORT_LOAD_WINDOW_MINUTES: \"soon\" is not accepted"),
        "{stderr}"
    );
}
