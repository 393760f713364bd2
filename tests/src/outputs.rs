//! Reads back what the S3 and SQS sinks wrote: the sequence numbers of the change records,
//! per object and per item, to check completeness and per-item order.

use std::collections::BTreeMap;
use std::io::Read;

use flate2::read::GzDecoder;
use serde_json::Value;

/// One change record as read back.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The record's `metadata.primary_key`.
    pub primary_key: String,
    /// The record's `metadata.sequence_number`.
    pub sequence_number: String,
}

fn delivered(line: &str) -> Delivered {
    let record: Value = serde_json::from_str(line).expect("a change record");
    let metadata = &record["metadata"];
    Delivered {
        primary_key: metadata["primary_key"]
            .as_str()
            .expect("primary_key")
            .to_owned(),
        sequence_number: metadata["sequence_number"]
            .as_str()
            .expect("sequence_number")
            .to_owned(),
    }
}

/// Every object under `prefix`, each as its records in the order written.
pub async fn s3_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<Vec<Delivered>> {
    let listing = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list objects");
    let mut objects = Vec::new();
    for object in listing.contents() {
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(object.key().expect("key"))
            .send()
            .await
            .expect("get object")
            .body
            .collect()
            .await
            .expect("object body")
            .into_bytes();
        let mut text = String::new();
        GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gzip JSON Lines");
        objects.push(text.lines().map(delivered).collect());
    }
    objects
}

/// Every message of a FIFO queue, in delivery order (deleting each, as FIFO requires to see the next).
pub async fn sqs_messages(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Delivered> {
    let mut out = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = received.messages();
        if messages.is_empty() {
            return out;
        }
        for message in messages {
            out.push(delivered(message.body().expect("body")));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().expect("receipt handle"))
                .send()
                .await
                .expect("delete");
        }
    }
}

/// Each item's sequence numbers in the order delivered.
pub fn per_item(delivered: &[Delivered]) -> BTreeMap<String, Vec<String>> {
    let mut items: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in delivered {
        items
            .entry(d.primary_key.clone())
            .or_default()
            .push(d.sequence_number.clone());
    }
    items
}
