//! S3 event notifications of finished exports, through an SQS queue, as the processor receives
//! them. moto sends them synchronously with the PutObject, but tests still poll with a deadline
//! rather than assume it.
//!
//! What moto sends (and the processor must take): first an `s3:TestEvent` message
//! (`{"Service":"Amazon S3","Event":"s3:TestEvent",...}`, no `Records`) when the configuration is
//! put, then one `{"Records":[...]}` message per object created, whose `s3.object.key` is
//! URL-encoded, `/` as `%2F` where AWS leaves `/` alone: decode keys as
//! `application/x-www-form-urlencoded` (`+` is a space) and both forms come out right.

use std::time::{Duration, Instant};

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::SUMMARY_FILE;

/// An S3 client for moto: path-style addressing, since bucket names are no hosts on loopback.
pub fn moto_s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&crate::moto())
            .force_path_style(true)
            .build(),
    )
}

/// An SQS client for moto.
pub fn moto_sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&crate::moto())
}

/// Creates `bucket` (in us-east-1, where no location constraint is given).
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
}

/// The queue that receives a bucket's summary notifications.
#[derive(Debug, Clone)]
pub struct NotificationQueue {
    /// Its URL, for receiving.
    pub queue_url: String,
    /// Its ARN, as the bucket's notification configuration names it.
    pub queue_arn: String,
}

/// Creates an SQS queue and has `bucket` send it an `s3:ObjectCreated:*` notification for every
/// key that starts with `key_prefix` and ends with `manifest-summary.json` (the object written
/// last, when an export is complete). The bucket's other notification configurations are kept,
/// so several tests may share a bucket under different prefixes.
pub async fn notify_summaries(
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    bucket: &str,
    key_prefix: &str,
) -> NotificationQueue {
    let queue_url = sqs
        .create_queue()
        .queue_name(crate::unique("export-summaries"))
        .send()
        .await
        .expect("create the notification queue")
        .queue_url
        .expect("a queue URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("the queue's attributes")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("a queue ARN");
    let existing = match s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(existing) => existing,
        // moto answers a bucket without one with an empty `<GetBucketNotificationResponse/>`,
        // which the SDK cannot decode (AWS sends an empty `<NotificationConfiguration/>`).
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(200) => {
            aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
        }
        Err(e) => panic!("notification configuration of {bucket}: {e:?}"),
    };
    let rule = |name, value: &str| FilterRule::builder().name(name).value(value).build();
    let ours = QueueConfiguration::builder()
        .id(format!("export-summaries-{key_prefix}"))
        .queue_arn(&queue_arn)
        .events(Event::S3ObjectCreated)
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(rule(FilterRuleName::Prefix, key_prefix))
                        .filter_rules(rule(FilterRuleName::Suffix, SUMMARY_FILE))
                        .build(),
                )
                .build(),
        )
        .build()
        .expect("a queue configuration");
    let mut queues = existing.queue_configurations.unwrap_or_default();
    queues.push(ours);
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .set_queue_configurations(Some(queues))
                .set_topic_configurations(existing.topic_configurations)
                .set_lambda_function_configurations(existing.lambda_function_configurations)
                .set_event_bridge_configuration(existing.event_bridge_configuration)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("notification configuration of {bucket}: {e:?}"));
    NotificationQueue {
        queue_url,
        queue_arn,
    }
}

/// Receives (and deletes) messages from `queue_url` until `count` have arrived or `timeout`
/// has passed, and returns their bodies as sent, test events included, in arrival order.
pub async fn receive_notifications(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    count: usize,
    timeout: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut bodies = Vec::new();
    while bodies.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // Long polling waits in the server, up to what is left (SQS allows 0 to 20 s).
        let wait = left.as_secs().clamp(1, 20) as i32;
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .send()
            .await
            .expect("receive notifications");
        for message in received.messages() {
            bodies.push(message.body().unwrap_or_default().to_owned());
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().expect("a receipt handle"))
                .send()
                .await
                .expect("delete a notification");
        }
    }
    bodies
}

/// One object an S3 event notification names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifiedObject {
    /// `eventName`, e.g. `ObjectCreated:Put`.
    pub event_name: String,
    /// `s3.bucket.name`.
    pub bucket: String,
    /// `s3.object.key` as sent (URL-encoded).
    pub raw_key: String,
    /// The key decoded.
    pub key: String,
}

/// The objects an S3 notification message names; none for `s3:TestEvent`. Panics on a body
/// that is not an S3 notification.
pub fn notification_keys(body: &str) -> Vec<NotifiedObject> {
    let message: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("an S3 notification ({e}): {body}"));
    if message["Event"] == "s3:TestEvent" {
        return Vec::new();
    }
    let text = |value: &serde_json::Value| -> String {
        value
            .as_str()
            .unwrap_or_else(|| panic!("an S3 notification record: {body}"))
            .to_owned()
    };
    message["Records"]
        .as_array()
        .unwrap_or_else(|| panic!("an S3 notification with Records: {body}"))
        .iter()
        .map(|record| {
            let raw_key = text(&record["s3"]["object"]["key"]);
            NotifiedObject {
                event_name: text(&record["eventName"]),
                bucket: text(&record["s3"]["bucket"]["name"]),
                key: form_decode(&raw_key),
                raw_key,
            }
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%HH` a byte.
fn form_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok();
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match hex().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_from_either_encoding() {
        assert_eq!(
            form_decode("a%2Fb%2Fmanifest-summary.json"),
            "a/b/manifest-summary.json"
        );
        assert_eq!(form_decode("a/b+c%2Bd%C3%A9"), "a/b c+dé");
        assert_eq!(form_decode("100%"), "100%");
    }
}
