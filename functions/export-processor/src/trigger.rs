//! What an invocation asks for: the payload, in any of the shapes that can deliver an export's
//! manifest notification or a work-queue message, turned into tasks.
//!
//! - an S3 event notification (S3 invoking the function directly);
//! - an SQS event (the work queue), each message being an S3 notification (S3 sending to the
//!   queue), an EventBridge event (S3 through EventBridge to the queue), an `s3:TestEvent`, or
//!   a [`FileWork`] this function sent;
//! - an EventBridge event (`Object Created` from `aws.s3`).
//!
//! Only `manifest-summary.json` objects start a load: the data files appear before the export
//! is complete and carry no table or export time. Every other key is ignored with a debug line.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::work::FileWork;

/// The object whose creation means an export is complete.
pub const SUMMARY_NAME: &str = "manifest-summary.json";

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Read this `manifest-summary.json` and load its export's data files.
    Manifest { bucket: String, key: String },
    /// Load this data file.
    File(FileWork),
}

/// The tasks of one SQS message, or of the whole invocation for other sources.
#[derive(Debug)]
pub struct Delivery {
    /// The SQS message id (the partial batch response names failed messages by it).
    pub message_id: Option<String>,
    pub tasks: Result<Vec<Task>, TriggerError>,
}

/// A payload or message that is none of the accepted shapes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("the payload is not an S3, SQS or EventBridge event: {0}")]
    Payload(String),
    #[error("SQS message {message_id}: {reason}")]
    Message { message_id: String, reason: String },
}

/// Reads an invocation's payload.
pub fn parse(payload: &[u8]) -> Result<Vec<Delivery>, TriggerError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| TriggerError::Payload(format!("not JSON: {e}")))?;
    match shape(&value) {
        Shape::Sqs => {
            let event: SqsEvent = from_value(value)?;
            Ok(event.records.into_iter().map(message).collect())
        }
        Shape::S3 | Shape::EventBridge | Shape::TestEvent => Ok(vec![Delivery {
            message_id: None,
            tasks: tasks_of(value).map_err(TriggerError::Payload),
        }]),
        Shape::Other => Err(TriggerError::Payload(
            "expected {\"Records\": [...]} from S3 or SQS, or an EventBridge event".into(),
        )),
    }
}

enum Shape {
    Sqs,
    S3,
    EventBridge,
    TestEvent,
    Other,
}

fn shape(value: &Value) -> Shape {
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        let source = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str);
        return match source {
            Some("aws:sqs") => Shape::Sqs,
            _ => Shape::S3,
        };
    }
    if value.get("detail-type").is_some() {
        Shape::EventBridge
    } else if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        Shape::TestEvent
    } else {
        Shape::Other
    }
}

fn message(message: aws_lambda_events::event::sqs::SqsMessage) -> Delivery {
    let message_id = message.message_id.unwrap_or_default();
    let body = message.body.unwrap_or_default();
    let tasks = match FileWork::from_message(&body) {
        Some(work) => work.map(|w| vec![Task::File(w)]).map_err(|e| e.to_string()),
        None => serde_json::from_str::<Value>(&body)
            .map_err(|e| format!("body is not JSON: {e}"))
            .and_then(|value| match shape(&value) {
                Shape::S3 | Shape::EventBridge | Shape::TestEvent => tasks_of(value),
                Shape::Sqs | Shape::Other => Err(
                    "body is neither an S3 notification, an EventBridge event nor export work"
                        .into(),
                ),
            }),
    };
    Delivery {
        tasks: tasks.map_err(|reason| TriggerError::Message {
            message_id: message_id.clone(),
            reason,
        }),
        message_id: Some(message_id),
    }
}

/// The manifests an S3 notification, EventBridge event or test event names.
fn tasks_of(value: Value) -> Result<Vec<Task>, String> {
    match shape(&value) {
        Shape::TestEvent => {
            tracing::debug!("ignoring s3:TestEvent");
            Ok(vec![])
        }
        Shape::EventBridge => {
            let event: EventBridgeEvent<ObjectCreated> = serde_json::from_value(value)
                .map_err(|e| format!("not an S3 EventBridge event: {e}"))?;
            if event.source != "aws.s3" || event.detail_type != "Object Created" {
                tracing::debug!(source = %event.source, detail_type = %event.detail_type, "ignoring event");
                return Ok(vec![]);
            }
            // EventBridge carries the key as it is, not URL-encoded.
            Ok(manifest(event.detail.bucket.name, event.detail.object.key)
                .into_iter()
                .collect())
        }
        _ => {
            let event: S3Event = serde_json::from_value(value)
                .map_err(|e| format!("not an S3 notification: {e}"))?;
            let mut tasks = Vec::new();
            for record in event.records {
                if !record
                    .event_name
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("ObjectCreated:")
                {
                    tracing::debug!(event = ?record.event_name, "ignoring S3 event");
                    continue;
                }
                let bucket = record.s3.bucket.name.unwrap_or_default();
                let key = decode_key(record.s3.object.key.as_deref().unwrap_or(""))?;
                tasks.extend(manifest(bucket, key));
            }
            Ok(tasks)
        }
    }
}

fn manifest(bucket: String, key: String) -> Option<Task> {
    let is_summary = key == SUMMARY_NAME || key.ends_with(&format!("/{SUMMARY_NAME}"));
    if is_summary && !bucket.is_empty() {
        Some(Task::Manifest { bucket, key })
    } else {
        tracing::debug!(%key, "ignoring object: not an export's manifest-summary.json");
        None
    }
}

/// S3 notifications URL-encode keys, a space as `+`.
fn decode_key(key: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|e| format!("object key {key:?} does not decode to UTF-8: {e}"))
}

fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, TriggerError> {
    serde_json::from_value(value).map_err(|e| TriggerError::Payload(e.to_string()))
}

/// The `detail` of S3's `Object Created` EventBridge event (the part we read).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
struct ObjectCreated {
    bucket: Named,
    object: Keyed,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
struct Named {
    name: String,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
struct Keyed {
    key: String,
}
