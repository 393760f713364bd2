//! No item value reaches a log line: records carrying a marker value go through every failure
//! path of the binary (`--event`, as Lambda's runtime reports the same errors) and the marker
//! is in nothing it prints, while the `file://` dead-letter queue holds those records whole.
//! The OpenSearch cluster is `cdc_testkit`'s fake, speaking the real Bulk API (no engine runs
//! here); its mapping rejections quote the document id, as OpenSearch's do.

use std::path::{Path, PathBuf};
use std::process::Output;

use cdc_testkit::opensearch::FakeOpenSearch;
use cdc_testkit::{image, stream_record_json, unique};
use serde_json::{json, Value};

const MARKER: &str = "M4RKER-s3cret";

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}-{name}", unique("no-values")))
}

/// Runs the binary on `payload` with `env`; answers what it printed (stdout, then stderr).
async fn run(payload: &[u8], env: Vec<(&'static str, String)>) -> (Output, String) {
    let event = temp("event.json");
    std::fs::write(&event, payload).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_stream-handler"));
        command
            .arg("--event")
            .arg(&event)
            .env("CDC_KEY_SCHEMA", "orders:pk:sk")
            .env("RUST_LOG", "trace")
            .env_remove("CDC_LOG_VALUES");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("the binary runs")
    })
    .await
    .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, printed)
}

/// A stream record of `orders` whose key is `pk`, with `change` applied to it.
fn record(seq: u64, pk: &str, change: impl FnOnce(&mut Value)) -> Value {
    let raw = stream_record_json(
        "orders",
        seq,
        "INSERT",
        pk,
        "v0",
        Some(image(pk, "v0", seq, "text")),
    );
    let mut value: Value = serde_json::from_str(&raw).unwrap();
    change(&mut value);
    value
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marker_values_reach_the_dead_letters_and_no_log_line() {
    let fake = FakeOpenSearch::start().await;
    let rejected = format!("{MARKER}-rejected");
    // The sink addresses documents by primary key `pk|sk`.
    fake.reject_mapping(&format!("{rejected}|v0"));
    let records = vec![
        // Mapped and written whole: the marker is item data of the sinks.
        record(1, "good", |r| {
            r["dynamodb"]["NewImage"]["s"]["S"] = json!(MARKER)
        }),
        // A number that is none: its parse error quotes it.
        record(2, "bad-number", |r| {
            r["dynamodb"]["NewImage"]["n"]["N"] = json!(MARKER)
        }),
        // A shape error: serde's message quotes the value.
        record(3, "bad-time", |r| {
            r["dynamodb"]["ApproximateCreationDateTime"] = json!(MARKER)
        }),
        // OpenSearch refuses the document, quoting its id (the key value).
        record(4, &rejected, |_| {}),
    ];
    let payload = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let (sink_file, letters) = (temp("sink.jsonl"), temp("letters.jsonl"));
    let env = vec![
        (
            "CDC_SINKS",
            format!("file://{},{}", sink_file.display(), fake.url("orders")),
        ),
        ("CDC_DLQ", format!("file://{}", letters.display())),
    ];
    let (output, printed) = run(&payload, env.clone()).await;
    assert!(output.status.success(), "{printed}");
    let letters_text = read(&letters);
    assert_eq!(letters_text.lines().count(), 3, "{letters_text}");
    assert!(
        letters_text.lines().all(|letter| letter.contains(MARKER)),
        "the records whole"
    );
    assert!(read(&sink_file).contains(MARKER));
    assert!(!printed.contains(MARKER), "{printed}");

    // A payload that is no event, quoting the marker in serde's explanation: the error the
    // runtime reports (here printed) keeps it out.
    let (output, printed) = run(
        &serde_json::to_vec(&json!({ "Records": MARKER })).unwrap(),
        env,
    )
    .await;
    assert!(!output.status.success());
    assert!(
        printed.contains("not a DynamoDB Streams event"),
        "{printed}"
    );
    assert!(!printed.contains(MARKER), "{printed}");
}
