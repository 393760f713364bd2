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
use aws_lambda_events::event::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;

use cdc_exports::work::{FileWork, ManifestWork, Work};

/// The object whose creation means an export is complete.
pub const SUMMARY_NAME: &str = "manifest-summary.json";

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Read this `manifest-summary.json` and load its export's data files.
    Manifest {
        /// The export bucket.
        bucket: String,
        /// The key of `manifest-summary.json`.
        key: String,
    },
    /// Load this data file.
    File(FileWork),
}

/// The tasks of one SQS message, or of the whole invocation for other sources.
#[derive(Debug)]
pub struct Delivery {
    /// The SQS message id (the partial batch response names failed messages by it).
    pub message_id: Option<String>,
    /// What to do, or why the message (or payload) cannot be used.
    pub tasks: Result<Vec<Task>, TriggerError>,
}

/// A payload or message that is none of the accepted shapes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// The whole payload is unusable (not JSON, or no accepted event); the text says why.
    #[error("the payload is not an S3, SQS or EventBridge event: {0}")]
    Payload(String),
    /// One SQS message is unusable; the others are still handled.
    #[error("SQS message {message_id}: {reason}")]
    Message {
        /// The message's `messageId`.
        message_id: String,
        /// Why it cannot be used.
        reason: String,
    },
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
    let tasks = match Work::from_message(&body) {
        Some(work) => work
            .map(|work| {
                vec![match work {
                    Work::File(file) => Task::File(file),
                    Work::Manifest(ManifestWork { bucket, key }) => Task::Manifest { bucket, key },
                }]
            })
            .map_err(|e| e.to_string()),
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
            let event: S3Notification = serde_json::from_value(value)
                .map_err(|e| format!("not an S3 notification: {e}"))?;
            let mut tasks = Vec::new();
            for record in event.records {
                if !record.event_name.starts_with("ObjectCreated:") {
                    tracing::debug!(event = %record.event_name, "ignoring S3 event");
                    continue;
                }
                let key = decode_key(&record.s3.object.key)?;
                tasks.extend(manifest(record.s3.bucket.name, key));
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

/// An S3 event notification, the fields we read. Not `aws_lambda_events`' `S3Event`: it
/// requires `eventTime`, `userIdentity` and `requestParameters`, which S3 always sends but
/// emulators and hand-made notifications (moto among them) leave out, and one record it cannot
/// read would fail the whole message.
#[derive(Debug, Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3Record>,
}

#[derive(Debug, Deserialize)]
struct S3Record {
    #[serde(rename = "eventName")]
    event_name: String,
    s3: ObjectCreated,
}

/// The `detail` of S3's `Object Created` EventBridge event, and the `s3` of a notification
/// record (the parts we read).
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "exports/AWSDynamoDB/01764417600000-a1b2c3d4/manifest-summary.json";

    fn sample(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../events/export-processor/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn manifest_task() -> Task {
        Task::Manifest {
            bucket: "cdc-exports".into(),
            key: KEY.into(),
        }
    }

    fn only_tasks(payload: &[u8]) -> (Option<String>, Vec<Task>) {
        let mut deliveries = parse(payload).unwrap();
        assert_eq!(deliveries.len(), 1);
        let delivery = deliveries.remove(0);
        (delivery.message_id, delivery.tasks.unwrap())
    }

    #[test]
    fn a_manifest_notification_arrives_in_each_shape() {
        for name in [
            "s3-manifest-notification.json",
            "sqs-manifest-notification.json",
            "eventbridge-object-created.json",
        ] {
            let (_, tasks) = only_tasks(&sample(name));
            assert_eq!(tasks, vec![manifest_task()], "{name}");
        }
        let (id, _) = only_tasks(&sample("sqs-manifest-notification.json"));
        assert_eq!(id.as_deref(), Some("0c1f0000-7d29-4f43-9b71-5f5d3e2a1c00"));
    }

    #[test]
    fn the_test_event_and_other_objects_are_ignored() {
        let (id, tasks) = only_tasks(&sample("sqs-test-event.json"));
        assert!(id.is_some());
        assert!(tasks.is_empty());
        let data_file = String::from_utf8(sample("s3-manifest-notification.json"))
            .unwrap()
            .replace(
                "manifest-summary.json",
                "data/k3xh2pg5qy5tnbjq4kxw6wz2zm.json.gz",
            );
        assert!(only_tasks(data_file.as_bytes()).1.is_empty());
        let removed = String::from_utf8(sample("s3-manifest-notification.json"))
            .unwrap()
            .replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(only_tasks(removed.as_bytes()).1.is_empty());
    }

    #[test]
    fn work_messages_carry_their_file() {
        let (_, tasks) = only_tasks(&sample("sqs-file-work.json"));
        let [Task::File(work)] = tasks.as_slice() else {
            panic!("{tasks:?}")
        };
        assert_eq!(work.table_name, "orders");
        assert_eq!(work.item_count, 5);
    }

    #[test]
    fn keys_are_url_decoded_as_s3_and_moto_encode_them() {
        assert_eq!(
            decode_key("cdc+exports%2Btests%2Frun%2Fmanifest-summary.json").unwrap(),
            "cdc exports+tests/run/manifest-summary.json"
        );
        assert_eq!(decode_key(KEY).unwrap(), KEY);
    }

    #[test]
    fn bad_payloads_and_messages_name_what_is_wrong() {
        let err = parse(b"not json").unwrap_err().to_string();
        assert!(
            err.starts_with("the payload is not an S3, SQS or EventBridge event: not JSON"),
            "{err}"
        );
        let err = parse(b"{\"hello\":1}").unwrap_err().to_string();
        assert!(err.contains("expected {\"Records\": [...]}"), "{err}");
        let bad = String::from_utf8(sample("sqs-test-event.json"))
            .unwrap()
            .replace("s3:TestEvent", "s3:Unknown");
        let delivery = parse(bad.as_bytes()).unwrap().remove(0);
        let err = delivery.tasks.unwrap_err().to_string();
        assert!(
            err.starts_with("SQS message 0c1f0000-7d29-4f43-9b71-5f5d3e2a1c00: body is neither"),
            "{err}"
        );
    }
}
