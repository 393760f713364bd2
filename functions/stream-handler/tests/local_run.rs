//! The binary as README's first command runs it: `stream-handler --event FILE`, no AWS account.
//! Change records on stdout, the batch response and the EMF metrics on stderr, and logs as JSON
//! when `AWS_LAMBDA_LOG_FORMAT=JSON` (as Lambda sets it).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn run(event: &str, env: &[(&str, &str)]) -> Output {
    let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut command = Command::new(env!("CARGO_BIN_EXE_stream-handler"));
    command
        .arg("--event")
        .arg(events.join(event))
        .env(
            "CDC_KEY_SCHEMA",
            "orders:pk:sk,sessions_ttl:pk,counters:id,users:pk,blobs:pk:sk",
        )
        .env_remove("CDC_SINKS")
        .env_remove("CDC_DLQ")
        .env_remove("AWS_LAMBDA_LOG_FORMAT");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn prints_change_records_on_stdout_and_the_response_and_metrics_on_stderr() {
    let output = run("stream-all-types.json", &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = json_lines(&output.stdout);
    assert_eq!(records.len(), 5);
    assert!(records
        .iter()
        .all(|r| r["metadata"]["table_name"] == "orders"));
    let stderr = json_lines(&output.stderr);
    assert!(stderr.contains(&serde_json::json!({"batchItemFailures": []})));
    let emf = stderr
        .iter()
        .find(|l| l.get("_aws").is_some())
        .expect("an EMF line");
    assert_eq!(emf["changeEventsProcessed"], 5.0);
}

#[test]
fn logs_are_json_when_lambda_asks_for_json() {
    let output = run(
        "stream-malformed.json",
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    );
    assert!(output.status.success());
    assert_eq!(
        json_lines(&output.stdout).len(),
        4,
        "the rest of the batch goes through"
    );
    let stderr = json_lines(&output.stderr);
    assert!(
        stderr
            .iter()
            .any(|l| l["level"] == "WARN" && l["fields"]["dead_letters"] == "stderr"),
        "stderr as the dead-letter queue is said to be for local runs"
    );
    let warning = stderr
        .iter()
        .find(|l| l["level"] == "WARN" && l["fields"].get("sequence_number").is_some())
        .expect("a JSON log line for the dead letter");
    assert_eq!(
        warning["fields"]["sequence_number"],
        "000000000000000000008"
    );
    let letter = stderr
        .iter()
        .find(|l| l.get("reason").is_some())
        .expect("the dead letter");
    assert_eq!(
        letter["record"]["dynamodb"]["SequenceNumber"],
        "000000000000000000008"
    );
    let emf = stderr
        .iter()
        .find(|l| l.get("_aws").is_some())
        .expect("an EMF line");
    assert_eq!(emf["changeEventsProcessingErrors"], 1.0);
}

#[test]
fn a_bad_setting_stops_with_a_message_naming_it() {
    let output = run(
        "stream-all-types.json",
        &[("CDC_SINKS", "kafka://broker/topic")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CDC_SINKS: unknown scheme \"kafka\""),
        "{stderr}"
    );
}
