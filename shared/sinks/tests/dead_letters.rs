//! `CDC_DLQ=sqs://…` and `CDC_DLQ=s3://…` against moto: every letter arrives whole (reason
//! and the full original record), in order; FIFO queues get group and deduplication ids;
//! letters SQS cannot take go whole to S3 with an SQS Extended Client pointer, never to the
//! logs; bad values fail at cold start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use cdc_lambda::AwsContext;
use cdc_record::Source;
use cdc_sinks::{DeadLetter, DeadLetterConfig, DeadLetterQueue, QueueRef};
use cdc_testkit::{image, moto, stream_record_json, unique};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto())
}

fn s3() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&moto())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn create_queue(name: &str, attributes: &[(QueueAttributeName, &str)]) -> String {
    let mut call = sqs().create_queue().queue_name(name);
    for (attribute, value) in attributes {
        call = call.attributes(attribute.clone(), *value);
    }
    call.send().await.unwrap().queue_url.unwrap()
}

async fn queue(spec: &str) -> Box<dyn DeadLetterQueue> {
    DeadLetterConfig::parse(Some(spec))
        .unwrap()
        .build(&AwsContext::with_config(moto()))
        .await
        .unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// Pretty-printed stream records (the queue must put each on one line), the `n`th with
/// `filler` bytes of text in its image.
fn raw_records(count: u64, filler: usize) -> Vec<String> {
    (1..=count)
        .map(|seq| {
            let text = "y".repeat(filler);
            let json = stream_record_json(
                "orders",
                seq,
                "INSERT",
                &format!("o#{seq}"),
                "v0",
                Some(image(&format!("o#{seq}"), "v0", seq, &text)),
            );
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            serde_json::to_string_pretty(&value).unwrap()
        })
        .collect()
}

fn letters(raw: &[String]) -> Vec<DeadLetter<'_>> {
    raw.iter()
        .enumerate()
        .map(|(i, raw)| DeadLetter {
            raw,
            reason: format!("record {i}: cannot be mapped"),
            source: Source::Stream,
            sequence_number: Some(format!("{:021}", i + 1).into()),
            table_name: (i % 2 == 0).then(|| "orders".into()),
        })
        .collect()
}

fn body_of(letter: &DeadLetter<'_>) -> String {
    let mut line = Vec::new();
    letter.write_json_line(&mut line);
    line.pop();
    String::from_utf8(line).unwrap()
}

struct Received {
    body: String,
    group: Option<String>,
    deduplication: Option<String>,
    /// The `ExtendedPayloadSize` message attribute, with its data type.
    payload_size: Option<(String, String)>,
}

/// Every message in the queue, in the order received, each deleted once read (a FIFO queue
/// hands out a group's next message only after the previous one is deleted).
async fn drain(queue_url: &str) -> Vec<Received> {
    let mut received = Vec::new();
    loop {
        let output = sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = output.messages();
        if messages.is_empty() {
            return received;
        }
        for message in messages {
            let attributes = message.attributes();
            let attribute =
                |name: MessageSystemAttributeName| attributes.and_then(|a| a.get(&name)).cloned();
            received.push(Received {
                body: message.body().unwrap().to_owned(),
                group: attribute(MessageSystemAttributeName::MessageGroupId),
                deduplication: attribute(MessageSystemAttributeName::MessageDeduplicationId),
                payload_size: message
                    .message_attributes()
                    .and_then(|a| a.get("ExtendedPayloadSize"))
                    .map(|v| {
                        (
                            v.data_type().to_owned(),
                            v.string_value().unwrap_or_default().to_owned(),
                        )
                    }),
            });
            sqs()
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The original records, compared as JSON values, of the message bodies.
fn records_in(bodies: &[String]) -> Vec<serde_json::Value> {
    bodies
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["record"].clone())
        .collect()
}

fn parsed(raw: &[String]) -> Vec<serde_json::Value> {
    raw.iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

#[tokio::test]
async fn sqs_by_url_gets_every_letter_whole() {
    let url = create_queue(&unique("dlq"), &[]).await;
    let raw = raw_records(23, 10);
    let letters = letters(&raw);
    queue(&format!("sqs://{url}"))
        .await
        .send(&letters, deadline())
        .await
        .unwrap();
    // Letters are independent records; calls run concurrently, so order is not kept.
    let mut bodies: Vec<String> = drain(&url).await.into_iter().map(|r| r.body).collect();
    let mut expected: Vec<String> = letters.iter().map(body_of).collect();
    bodies.sort_by_key(|b| {
        serde_json::from_str::<serde_json::Value>(b).unwrap()["sequence_number"].to_string()
    });
    expected.sort_by_key(|b| {
        serde_json::from_str::<serde_json::Value>(b).unwrap()["sequence_number"].to_string()
    });
    assert_eq!(bodies, expected);
    assert_eq!(records_in(&bodies), parsed(&raw));
    let first: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(first["reason"], "record 0: cannot be mapped");
    assert_eq!(first["sequence_number"], "000000000000000000001");
    assert_eq!(first["table_name"], "orders");
    assert_eq!(first["source"], "stream");
}

#[tokio::test]
async fn sqs_by_name_resolves_the_queue_url() {
    let name = unique("dlq-by-name");
    let url = create_queue(&name, &[]).await;
    let raw = raw_records(3, 10);
    queue(&format!("sqs://{name}"))
        .await
        .send(&letters(&raw), deadline())
        .await
        .unwrap();
    let bodies: Vec<String> = drain(&url).await.into_iter().map(|r| r.body).collect();
    assert_eq!(records_in(&bodies), parsed(&raw));
}

#[tokio::test]
async fn fifo_queue_gets_group_and_deduplication_ids() {
    let name = format!("{}.fifo", unique("dlq"));
    let url = create_queue(&name, &[(QueueAttributeName::FifoQueue, "true")]).await;
    let raw = raw_records(12, 10);
    let letters = letters(&raw);
    let queue = queue(&format!("sqs://{name}")).await;
    queue.send(&letters, deadline()).await.unwrap();
    // Sent again within the deduplication window: stored once.
    queue.send(&letters, deadline()).await.unwrap();
    let received = drain(&url).await;
    assert_eq!(received.len(), letters.len());
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &received {
        let body_hash = hex(&Sha256::digest(r.body.as_bytes()));
        assert_eq!(r.deduplication.as_deref(), Some(body_hash.as_str()));
        by_group
            .entry(r.group.clone().unwrap())
            .or_default()
            .push(r.body.clone());
    }
    // Letters with a table are grouped under it, the others under "dead-letters" (letters
    // are independent records: their order is not kept across calls).
    let expected_group = |table: bool| if table { "orders" } else { "dead-letters" };
    for (group, bodies) in &mut by_group {
        let mut wanted: Vec<String> = letters
            .iter()
            .filter(|l| expected_group(l.table_name.is_some()) == group)
            .map(body_of)
            .collect();
        wanted.sort();
        bodies.sort();
        assert_eq!(bodies, &wanted, "group {group}");
    }
    assert_eq!(by_group.len(), 2);
}

#[tokio::test]
async fn letters_too_large_for_one_batch_all_arrive() {
    // 150 KB letters: ten of them would exceed the 1 MiB SQS (and moto) allow per batch, so
    // they must be packed into smaller batches.
    let url = create_queue(&unique("dlq-big"), &[]).await;
    let raw = raw_records(11, 150_000);
    queue(&format!("sqs://{url}"))
        .await
        .send(&letters(&raw), deadline())
        .await
        .unwrap();
    let bodies: Vec<String> = drain(&url).await.into_iter().map(|r| r.body).collect();
    let sorted = |mut v: Vec<serde_json::Value>| {
        v.sort_by_key(|r| r["dynamodb"]["SequenceNumber"].to_string());
        v
    };
    assert_eq!(sorted(records_in(&bodies)), sorted(parsed(&raw)));
}

/// Captures every log event's fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields(BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Over 1 MiB, to a queue with SQS's old 256 KiB limit: the letter goes whole to S3 and the
/// queue gets the SQS Extended Client's pointer; nothing of it reaches the logs.
#[tokio::test]
async fn a_letter_over_the_queue_limit_goes_whole_to_s3_behind_an_extended_client_pointer() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let url = create_queue(
        &unique("dlq-small"),
        &[(QueueAttributeName::MaximumMessageSize, "262144")],
    )
    .await;
    let bucket = unique("dlq-payloads");
    s3().create_bucket().bucket(&bucket).send().await.unwrap();
    let mut raw = raw_records(3, 10);
    raw[1] = raw_records(2, 1_100_000).remove(1);
    let letters = letters(&raw);
    let queue = queue(&format!("sqs://{url}?payloads=s3://{bucket}/letters")).await;
    queue.send(&letters, deadline()).await.unwrap();

    let received = drain(&url).await;
    let bodies: Vec<&str> = received.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.contains(&body_of(&letters[0]).as_str()));
    assert!(bodies.contains(&body_of(&letters[2]).as_str()));
    let pointer = received
        .iter()
        .find(|r| r.payload_size.is_some())
        .expect("a pointer message");
    let body: serde_json::Value = serde_json::from_str(&pointer.body).unwrap();
    assert_eq!(
        body[0], "software.amazon.payloadoffloading.PayloadS3Pointer",
        "{body}"
    );
    assert_eq!(body[1]["s3BucketName"], bucket.as_str());
    let key = body[1]["s3Key"].as_str().unwrap();
    assert!(key.starts_with("letters/"), "{key}");
    let object = s3()
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let object = String::from_utf8(object.to_vec()).unwrap();
    assert_eq!(object.trim_end(), body_of(&letters[1]), "the letter whole");
    assert_eq!(
        pointer.payload_size,
        Some(("Number".to_owned(), object.len().to_string()))
    );
    let filler = "y".repeat(100);
    assert!(
        capture
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|event| event.values().all(|v| !v.contains(&filler))),
        "no letter content in the logs"
    );
}

/// Without a bucket for them, a letter SQS cannot take is retried, never truncated or logged.
#[tokio::test]
async fn without_a_payload_bucket_an_oversized_letter_is_retried() {
    let url = create_queue(
        &unique("dlq-small"),
        &[(QueueAttributeName::MaximumMessageSize, "262144")],
    )
    .await;
    let raw = raw_records(2, 300_000);
    let letters = letters(&raw);
    let error = queue(&format!("sqs://{url}"))
        .await
        .send(&letters, deadline())
        .await
        .expect_err("no room for the letter");
    assert_eq!(error.sent, 0);
    assert!(
        error.error.to_string().contains("payloads=s3://"),
        "{error}"
    );
    assert!(drain(&url).await.is_empty());
}

#[tokio::test]
async fn s3_dead_letters_are_one_object_per_send_overwritten_on_retry() {
    let bucket = unique("cdc-dlq");
    s3().create_bucket().bucket(&bucket).send().await.unwrap();
    let raw = raw_records(4, 10);
    let letters = letters(&raw);
    let queue = queue(&format!("s3://{bucket}/dead/")).await;
    // The date is today's (UTC) when the object is written: between these two.
    let today = || {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        now.fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap()[..10]
            .to_owned()
    };
    let before = today();
    queue.send(&letters, deadline()).await.unwrap();
    queue.send(&letters, deadline()).await.unwrap();
    let after = today();

    let listing = s3().list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listing.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = keys[0];
    let content = s3()
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let text = String::from_utf8(content.to_vec()).unwrap();
    let hash = hex(&Sha256::digest(text.as_bytes()));
    let name = format!("000000000000000000001-{}.jsonl", &hash[..16]);
    assert!(
        [before, after]
            .iter()
            .any(|day| key == format!("dead/date={day}/{name}")),
        "{key}"
    );
    let bodies: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(bodies, letters.iter().map(body_of).collect::<Vec<_>>());
    assert_eq!(records_in(&bodies), parsed(&raw));

    // Letters without a sequence number are named by their source.
    let export = [DeadLetter {
        raw: "not json",
        reason: "export line 7: bad".into(),
        source: Source::Export,
        sequence_number: None,
        table_name: Some("orders".into()),
    }];
    queue.send(&export, deadline()).await.unwrap();
    let listing = s3().list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert!(listing
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .any(|k| k.contains("/export-")));
}

#[tokio::test]
async fn an_s3_dead_letter_queue_without_its_bucket_sends_nothing() {
    let queue = queue(&format!("s3://{}/dead", unique("no-such-bucket"))).await;
    let raw = raw_records(2, 10);
    let error = queue
        .send(&letters(&raw), deadline())
        .await
        .expect_err("no bucket");
    assert_eq!(error.sent, 0);
    assert!(error.error.to_string().contains("NoSuchBucket"), "{error}");
}

fn parse_error(spec: &str) -> String {
    DeadLetterConfig::parse(Some(spec)).unwrap_err().to_string()
}

#[test]
fn dead_letter_urls_parse_into_queue_urls_names_and_buckets() {
    let url = "https://sqs.us-east-1.amazonaws.com/123456789012/cdc-dlq";
    let DeadLetterConfig::Sqs(config) =
        DeadLetterConfig::parse(Some(&format!("sqs://{url}"))).unwrap()
    else {
        panic!("not SQS");
    };
    assert_eq!(config.queue, QueueRef::Url(url.into()));
    let DeadLetterConfig::Sqs(config) =
        DeadLetterConfig::parse(Some("sqs://cdc-dlq.fifo")).unwrap()
    else {
        panic!("not SQS");
    };
    assert_eq!(config.queue, QueueRef::Name("cdc-dlq.fifo".into()));
    let DeadLetterConfig::S3(config) = DeadLetterConfig::parse(Some("s3://bucket/a/b/")).unwrap()
    else {
        panic!("not S3");
    };
    assert_eq!(
        (config.bucket.as_str(), config.prefix.as_str()),
        ("bucket", "a/b")
    );
}

#[test]
fn bad_dead_letter_urls_are_rejected_with_what_is_accepted() {
    assert!(parse_error("sqs://").contains("is not a queue name"));
    assert!(parse_error("sqs://bad name").contains("is not a queue name"));
    assert!(
        parse_error("sqs://https://sqs.us-east-1.amazonaws.com/123/")
            .contains("queue URL ending in the queue name")
    );
    assert_eq!(
        parse_error("sqs://dlq?batch=5"),
        "CDC_DLQ: \"sqs://dlq?batch=5\" has unknown option \"batch\"; accepted options: payloads"
    );
    assert!(parse_error("s3://").contains("missing bucket name; expected s3://BUCKET/PREFIX"));
    assert!(parse_error("s3://bucket/{table}").contains("{table} is not allowed"));
    assert!(parse_error("s3://bucket?gzip=true").contains("unknown option \"gzip\""));
    assert!(parse_error("kafka://x")
        .contains("accepted: stderr, stdout, file:///ABSOLUTE/PATH.jsonl, sqs://QUEUE (name or https:// URL), s3://BUCKET/PREFIX"));
}

#[tokio::test]
async fn a_queue_that_does_not_exist_fails_at_cold_start_naming_cdc_dlq() {
    let name = unique("missing-dlq");
    let error = DeadLetterConfig::parse(Some(&format!("sqs://{name}")))
        .unwrap()
        .build(&AwsContext::with_config(moto()))
        .await
        .err()
        .expect("no such queue")
        .to_string();
    assert!(error.starts_with("CDC_DLQ: "), "{error}");
    assert!(
        error.contains(&format!("cannot find queue \"{name}\"")),
        "{error}"
    );

    let url = format!("{}/123456789012/{name}", cdc_testkit::moto_endpoint());
    let error = DeadLetterConfig::parse(Some(&format!("sqs://{url}")))
        .unwrap()
        .build(&AwsContext::with_config(moto()))
        .await
        .err()
        .expect("no such queue")
        .to_string();
    assert!(error.starts_with("CDC_DLQ: "), "{error}");
    assert!(error.contains("cannot read queue"), "{error}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
