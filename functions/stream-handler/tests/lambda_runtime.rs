//! The function as Lambda runs it: the built binary polling a Lambda Runtime API, here
//! cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`, installed by
//! scripts/emulators.sh), invoked with `cargo lambda invoke`. The payload reaches the handler
//! as raw bytes (see `raw_payload`), so the sinks must receive exactly what the local
//! `--event` run gives them for every sample event.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const KEY_SCHEMAS: &str = "orders:pk:sk,sessions_ttl:pk,counters:id,users:pk,blobs:pk:sk";

/// Killed when dropped, whatever the test's outcome.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cargo_lambda() -> Command {
    let mut command = Command::new("cargo-lambda");
    command.arg("lambda");
    command
}

fn events() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("events/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// The emulator, once it accepts connections. Readiness is its log line, then a bare TCP
/// connect: any HTTP request to it would be queued as an invocation.
fn start_emulator(port: u16) -> Running {
    let mut child = cargo_lambda()
        .args(["watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P"])
        .arg(port.to_string())
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cargo-lambda on PATH: run the tests through scripts/emulators.sh");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let running = Running(child);
    loop {
        let line = lines
            .next()
            .expect("the emulator exited before it was ready")
            .expect("readable output");
        if line.contains("starting Runtime server") {
            break;
        }
    }
    // Keep draining its output so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the emulator never listened");
        std::thread::yield_now();
    }
    running
}

/// The function, as Lambda starts it, writing change records and dead letters to files.
fn start_function(port: u16, out: &Path, dead_letters: &Path) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_stream-handler"))
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("CDC_KEY_SCHEMA", KEY_SCHEMAS)
        .env("CDC_SINKS", format!("file://{}", out.display()))
        .env("CDC_DLQ", format!("file://{}", dead_letters.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    Running(child)
}

fn invoke_raw(port: u16, event: &Path) -> std::process::Output {
    cargo_lambda()
        .args(["invoke", "-A", "127.0.0.1", "-P"])
        .arg(port.to_string())
        .arg("-F")
        .arg(event)
        .output()
        .expect("cargo lambda invoke runs")
}

fn invoke(port: u16, event: &Path) -> Value {
    let output = invoke_raw(port, event);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON response")
}

fn run_locally(event: &Path, out: &Path, dead_letters: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_stream-handler"))
        .arg("--event")
        .arg(event)
        .env("CDC_KEY_SCHEMA", KEY_SCHEMAS)
        .env("CDC_SINKS", format!("file://{}", out.display()))
        .env("CDC_DLQ", format!("file://{}", dead_letters.display()))
        .stderr(Stdio::null())
        .status()
        .expect("the binary runs");
    assert!(status.success());
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn under_the_lambda_runtime_the_sinks_get_what_the_local_run_gives_them() {
    let dir = std::env::temp_dir().join(format!("cdc-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = |name: &str| dir.join(name);
    let port = free_port();
    let _emulator = start_emulator(port);
    let _function = start_function(port, &file("lambda.jsonl"), &file("lambda-dlq.jsonl"));

    // A payload that is no stream event fails the invocation, named, and the function lives on.
    std::fs::write(file("not-an-event.json"), r#"{"Records": 5}"#).expect("written");
    let failed = invoke_raw(port, &file("not-an-event.json"));
    let message = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        message.contains("InvalidPayload") && message.contains("expected a sequence"),
        "{message}"
    );

    for event in events() {
        let response = invoke(port, &event);
        assert_eq!(
            response,
            serde_json::json!({"batchItemFailures": []}),
            "{event:?}"
        );
        run_locally(&event, &file("local.jsonl"), &file("local-dlq.jsonl"));
    }

    let (lambda, local) = (read(&file("lambda.jsonl")), read(&file("local.jsonl")));
    assert!(lambda.lines().count() > 20, "{lambda}");
    assert_eq!(lambda, local);
    let (lambda, local) = (
        read(&file("lambda-dlq.jsonl")),
        read(&file("local-dlq.jsonl")),
    );
    assert_eq!(lambda.lines().count(), 1, "the malformed sample's record");
    assert_eq!(lambda, local);
    let _ = std::fs::remove_dir_all(&dir);
}
