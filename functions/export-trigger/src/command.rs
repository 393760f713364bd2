//! What an invocation asks: a command (`{"action": "start"|"poll"|"status", "table": ...,
//! "kind": "full"|"incremental"}`, from EventBridge Scheduler's input or a person), or an
//! EventBridge scheduled event, which means `poll`.

use serde::Deserialize;

/// What the invocation is asked to do (`action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Start an export (a full one unless `kind` says incremental).
    Start,
    /// Move every job on: recover, poll, audit, retry; with `CDC_EXPORT_INCREMENTAL`, start
    /// the next incremental export when due.
    Poll,
    /// Report where every job stands, changing nothing.
    Status,
    /// Give up the job under way (an export that cannot finish: its manifests expired, its
    /// time left the PITR window), so that a new one can start.
    Abandon,
}

/// Which kind of export `start` begins (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Want {
    /// A full export at the latest restorable time.
    Full,
    /// An incremental export from where the last export's data ends.
    Incremental,
}

/// One invocation's command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// What to do.
    pub action: Action,
    /// One table of `CDC_EXPORT_TABLES`; every one when absent.
    #[serde(default)]
    pub table: Option<String>,
    /// For `start`: full (the default, also when absent) or incremental; other actions
    /// ignore it.
    #[serde(default)]
    pub kind: Option<Want>,
}

/// The payload is neither a command nor a scheduled event; the text says what did not parse.
#[derive(Debug, thiserror::Error)]
#[error("the payload is not a command ({{\"action\": \"start\"|\"poll\"|\"status\"|\"abandon\", \"table\": NAME, \"kind\": \"full\"|\"incremental\"}}) or a scheduled event: {0}")]
pub struct CommandError(String);

/// Reads an invocation's payload.
pub fn parse(payload: &[u8]) -> Result<Command, CommandError> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| CommandError(e.to_string()))?;
    if value.get("detail-type").and_then(|v| v.as_str()) == Some("Scheduled Event") {
        return Ok(Command {
            action: Action::Poll,
            table: None,
            kind: None,
        });
    }
    serde_json::from_value(value).map_err(|e| CommandError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands_and_scheduled_events() {
        let start = parse(br#"{"action":"start","table":"orders","kind":"incremental"}"#).unwrap();
        assert_eq!(
            start,
            Command {
                action: Action::Start,
                table: Some("orders".into()),
                kind: Some(Want::Incremental)
            }
        );
        assert_eq!(
            parse(br#"{"action":"status"}"#).unwrap().action,
            Action::Status
        );
        let scheduled = br#"{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events","detail":{}}"#;
        assert_eq!(parse(scheduled).unwrap().action, Action::Poll);
    }

    #[test]
    fn every_sample_command_in_events_is_read() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/export-trigger");
        let mut actions = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let command = parse(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            actions.push(command.action);
        }
        for action in [Action::Start, Action::Poll, Action::Status] {
            assert!(actions.contains(&action), "a sample of {action:?}");
        }
    }

    #[test]
    fn other_payloads_say_what_is_accepted() {
        for payload in [
            &b"{}"[..],
            br#"{"action":"stop"}"#,
            br#"{"action":"poll","tabel":"x"}"#,
            b"nope",
        ] {
            let err = parse(payload).unwrap_err().to_string();
            assert!(
                err.starts_with("the payload is not a command ({\"action\": \"start\""),
                "{err}"
            );
        }
    }
}
