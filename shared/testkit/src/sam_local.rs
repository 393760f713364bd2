//! A function run as `sam local invoke FUNCTION -e EVENT --env-vars events/sam/env.json` runs it,
//! without Docker (none runs here): the binary with `--event`, an environment holding only what
//! the Lambda container sets and `events/sam/env.json`'s variables for that function, and no AWS.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The repository's `events/` folder.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// `events/sam/env.json`'s variables for the template's function `logical_id`.
pub fn variables(logical_id: &str) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(events_dir().join("sam/env.json")).expect("events/sam/env.json");
    let all: serde_json::Value = serde_json::from_str(&text).expect("env.json is JSON");
    all[logical_id]
        .as_object()
        .unwrap_or_else(|| panic!("env.json has no {logical_id}"))
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                value.as_str().expect("string values").to_owned(),
            )
        })
        .collect()
}

/// Runs `binary` on `event` as `sam local invoke` would; panics if it has not answered within
/// a minute (a function that waits on AWS it cannot reach does not answer).
pub fn invoke(binary: &str, logical_id: &str, event: &Path) -> Output {
    let mut command = Command::new(binary);
    command
        .arg("--event")
        .arg(event)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // What the Lambda container sets besides the function's variables.
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_LAMBDA_FUNCTION_NAME", logical_id)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in variables(logical_id) {
        command.env(name, value);
    }
    let child = command.spawn().expect("the binary starts");
    let id = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("the binary ran"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!(
                "{logical_id} on {} did not answer within a minute",
                event.display()
            )
        }
    }
}

/// Every `.json` file of `dir`, sorted.
pub fn events_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("events folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}
