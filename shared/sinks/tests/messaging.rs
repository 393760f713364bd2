//! The messaging sinks (`sqs://`, `sns://`, `kinesis://`, `events://`) against moto_server:
//! every record delivered once and in per-item order, with the right body, attributes, group
//! and deduplication ids, partition keys and detail-types; calls packed to the APIs' limits;
//! failures classified; every URL form and every bad URL.
//!
//! SNS messages are read back through an SQS subscription with raw message delivery, and
//! EventBridge events through a rule whose target is an SQS queue (moto supports both).
//! moto cannot be made to fail single entries of a call, so the ordering and retry rules under
//! partial failures are tested against a scripted transport in `src/messaging/deliver.rs`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use cdc_lambda::AwsContext;
use cdc_record::{ChangeRecord, ExportSource, KeySchema};
use cdc_sinks::messaging::{
    EventBridgeConfig, Format, KinesisConfig, MessagingConfig, SnsConfig, SqsConfig,
};
use cdc_sinks::{FailureKind, PerTable, Sink, SinkConfig, WriteReport};
use cdc_testkit::{changes, image, moto, moto_endpoint, stream_record_json, unique};
use serde_json::Value;
use tokio::time::Instant;

const TABLE: &str = "orders";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn sink(url: &str) -> Box<dyn Sink> {
    let aws = AwsContext::with_config(moto());
    SinkConfig::parse(url)
        .expect("valid sink URL")
        .build(url, &aws)
        .await
        .expect("sink builds")
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

async fn write(sink: &dyn Sink, records: &[ChangeRecord<'_>]) -> WriteReport {
    sink.write(records, deadline()).await
}

/// One INSERT per item `item-0` … `item-{n-1}`.
fn distinct_items(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let pk = format!("item-{i}");
            stream_record_json(
                TABLE,
                i + 1,
                "INSERT",
                &pk,
                "v0",
                Some(image(&pk, "v0", i, "x")),
            )
        })
        .collect()
}

/// Three items with four changes each, interleaved (INSERT, MODIFY, MODIFY, REMOVE).
fn interleaved_changes() -> Vec<String> {
    let events = ["INSERT", "MODIFY", "MODIFY", "REMOVE"];
    (0..12u64)
        .map(|seq| {
            let pk = ["a", "b", "c"][(seq % 3) as usize];
            let event = events[(seq / 3) as usize];
            stream_record_json(
                TABLE,
                seq + 1,
                event,
                pk,
                "s",
                Some(image(pk, "s", seq, "y")),
            )
        })
        .collect()
}

fn record_json(record: &ChangeRecord<'_>) -> Value {
    let mut out = Vec::new();
    record.write_json(&mut out);
    serde_json::from_slice(&out).unwrap()
}

fn compact(raw: &str) -> String {
    let mut out = Vec::new();
    cdc_record::write_compact_json(&mut out, raw);
    String::from_utf8(out).unwrap()
}

/// The sequence numbers of each item, in the order given.
fn order_per_item<'a>(
    bodies: impl IntoIterator<Item = &'a Value>,
) -> BTreeMap<String, Vec<String>> {
    let mut order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for body in bodies {
        let metadata = &body["metadata"];
        order
            .entry(metadata["primary_key"].as_str().unwrap().to_owned())
            .or_default()
            .push(
                metadata["sequence_number"]
                    .as_str()
                    .unwrap_or("export")
                    .to_owned(),
            );
    }
    order
}

fn expected_order(records: &[ChangeRecord<'_>]) -> BTreeMap<String, Vec<String>> {
    let bodies: Vec<Value> = records.iter().map(record_json).collect();
    order_per_item(&bodies)
}

fn export_item<'a>(line: &'a str, schema: &'a KeySchema) -> ChangeRecord<'a> {
    let source = ExportSource {
        table_name: TABLE,
        key_schema: schema,
        kind: cdc_record::ExportKind::Full {
            export_time_ms: 1_795_000_000_000,
        },
        version_margin_ms: 60_000,
        options: Default::default(),
    };
    cdc_record::map_export_line(line, 1, &source).unwrap()
}

fn key_schema() -> KeySchema {
    KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    }
}

fn kinds(report: &WriteReport) -> Vec<(usize, FailureKind)> {
    let mut kinds: Vec<_> = report.failures.iter().map(|f| (f.index, f.kind)).collect();
    kinds.sort_by_key(|(index, _)| *index);
    kinds
}

// --- SQS ---------------------------------------------------------------------------------------

fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto())
}

async fn create_queue(name: &str, attributes: &[(QueueAttributeName, &str)]) -> String {
    let mut create = sqs().create_queue().queue_name(name);
    if name.ends_with(".fifo") {
        create = create.attributes(QueueAttributeName::FifoQueue, "true");
    }
    for (name, value) in attributes {
        create = create.attributes(name.clone(), *value);
    }
    create.send().await.unwrap().queue_url.unwrap()
}

async fn queue_arn(url: &str) -> String {
    let attributes = sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    attributes.attributes.unwrap()[&QueueAttributeName::QueueArn].clone()
}

/// A message read back from a queue.
#[derive(Debug)]
struct Received {
    body: String,
    attributes: HashMap<String, String>,
    group_id: Option<String>,
    deduplication_id: Option<String>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Reads and deletes messages until `expected` arrived, then checks that no more come.
async fn receive_all(url: &str, expected: usize) -> Vec<Received> {
    let client = sqs();
    let mut received = Vec::new();
    let mut empty_polls = 0;
    while received.len() < expected && empty_polls < 5 {
        let batch = receive(&client, url, 1).await;
        empty_polls = if batch.is_empty() { empty_polls + 1 } else { 0 };
        received.extend(batch);
    }
    assert_eq!(received.len(), expected, "messages received: {received:#?}");
    assert!(
        receive(&client, url, 0).await.is_empty(),
        "more messages than records"
    );
    received
}

async fn receive(client: &aws_sdk_sqs::Client, url: &str, wait_seconds: i32) -> Vec<Received> {
    let output = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let mut received = Vec::new();
    for message in output.messages.unwrap_or_default() {
        client
            .delete_message()
            .queue_url(url)
            .receipt_handle(message.receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
        let system = message.attributes.clone().unwrap_or_default();
        received.push(Received {
            body: message.body.clone().unwrap(),
            attributes: message
                .message_attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name, value.string_value.unwrap_or_default()))
                .collect(),
            group_id: system
                .get(&MessageSystemAttributeName::MessageGroupId)
                .cloned(),
            deduplication_id: system
                .get(&MessageSystemAttributeName::MessageDeduplicationId)
                .cloned(),
        });
    }
    received
}

/// `sqs://` followed by the queue's URL.
fn sqs_url_form(queue_url: &str) -> String {
    format!("sqs://{queue_url}")
}

// ---------------------------------------------------------------------------------------------
// SQS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sqs_sends_25_records_in_3_calls_each_once_as_the_change_record() {
    let name = unique("sqs-std");
    let url = create_queue(&name, &[]).await;
    let raw = distinct_items(25);
    let records = changes(&raw);
    let sink = sink(&format!("sqs://{name}")).await;
    let calls_before = sink.api_calls();

    assert!(write(&*sink, &records).await.failures.is_empty());

    assert_eq!(sink.api_calls() - calls_before, 3, "10 + 10 + 5 entries");
    let mut bodies: Vec<Value> = receive_all(&url, 25)
        .await
        .iter()
        .map(Received::json)
        .collect();
    let mut expected: Vec<Value> = records.iter().map(record_json).collect();
    let by_key = |v: &Value| v["metadata"]["primary_key"].as_str().unwrap().to_owned();
    bodies.sort_by_key(by_key);
    expected.sort_by_key(by_key);
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn sqs_fifo_groups_by_primary_key_and_a_replayed_batch_is_delivered_once() {
    let url = create_queue(&format!("{}.fifo", unique("sqs-fifo")), &[]).await;
    let long_pk = "p".repeat(200);
    let mut raw = interleaved_changes();
    raw.push(stream_record_json(
        TABLE,
        13,
        "INSERT",
        &long_pk,
        "s",
        Some(image(&long_pk, "s", 13, "z")),
    ));
    let records = changes(&raw);
    let sink = sink(&sqs_url_form(&url)).await;

    assert!(write(&*sink, &records).await.failures.is_empty());
    // Lambda retries the batch: the same deduplication ids, so nothing arrives twice.
    assert!(write(&*sink, &records).await.failures.is_empty());

    let received = receive_all(&url, records.len()).await;
    let bodies: Vec<Value> = received.iter().map(Received::json).collect();
    assert_eq!(order_per_item(&bodies), expected_order(&records));
    for (message, body) in received.iter().zip(&bodies) {
        let metadata = &body["metadata"];
        let primary_key = metadata["primary_key"].as_str().unwrap();
        let group = if primary_key.len() <= 128 {
            primary_key.to_owned()
        } else {
            sha256_hex(primary_key)
        };
        assert_eq!(message.group_id.as_deref(), Some(group.as_str()));
        let deduplication_id = format!(
            "{}:{}",
            metadata["event_id"].as_str().unwrap(),
            metadata["document_version"]
        );
        assert_eq!(message.deduplication_id, Some(deduplication_id));
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn sqs_raw_format_sends_the_stream_record_with_sequence_number_and_event_name() {
    let url = create_queue(&format!("{}.fifo", unique("sqs-raw")), &[]).await;
    let mut raw = interleaved_changes();
    // Pretty-printed, as a record may arrive: it is sent on one line.
    let pretty: Value = serde_json::from_str(&raw[0]).unwrap();
    raw[0] = serde_json::to_string_pretty(&pretty).unwrap();
    let export_line = r#"{"Item":{"pk":{"S":"e"},"sk":{"S":"s"},"n":{"N":"1"}}}"#;
    let schema = key_schema();
    let mut records = changes(&raw);
    records.push(export_item(export_line, &schema));
    let sink = sink(&format!("{}?format=raw", sqs_url_form(&url))).await;

    assert!(write(&*sink, &records).await.failures.is_empty());

    let received = receive_all(&url, records.len()).await;
    let by_body: HashMap<&str, &Received> = received.iter().map(|m| (m.body.as_str(), m)).collect();
    let first = compact(&raw[0]);
    assert!(!first.contains('\n'));
    assert_eq!(serde_json::from_str::<Value>(&first).unwrap(), pretty);
    let sent_as = |i: usize| {
        if i == 0 {
            first.clone()
        } else {
            raw[i].clone()
        }
    };
    for (i, record) in records[..raw.len()].iter().enumerate() {
        let message = by_body
            .get(sent_as(i).as_str())
            .unwrap_or_else(|| panic!("record {i} not delivered as is"));
        assert_eq!(
            message.attributes["SEQUENCE_NUMBER"],
            record.sequence_number.as_deref().unwrap()
        );
        assert_eq!(
            message.attributes["EVENT_NAME"],
            record.event_name.unwrap().as_str()
        );
        assert_eq!(
            message.deduplication_id.as_deref(),
            record.event_id.as_deref()
        );
        assert_eq!(message.group_id.as_deref(), Some(&*record.key.primary_key));
    }
    // An export item has no stream record: it goes as the change record, marked EXPORT.
    let export = &records[raw.len()];
    let message = received
        .iter()
        .find(|m| m.attributes["EVENT_NAME"] == "EXPORT")
        .expect("export item delivered");
    assert_eq!(message.json(), record_json(export));
    assert!(!message.attributes.contains_key("SEQUENCE_NUMBER"));
    assert_eq!(
        message.deduplication_id,
        Some(format!("{TABLE}:e|s:{}", export.version))
    );
}

#[tokio::test]
async fn sqs_missing_queue_fails_retryable_from_the_first_record_and_a_missing_name_at_build() {
    let url = format!("{}/123456789012/{}", moto_endpoint(), unique("missing"));
    let raw = interleaved_changes();
    let records = changes(&raw);
    let sink = sink(&sqs_url_form(&url)).await;

    let report = write(&*sink, &records).await;

    let all_retryable: Vec<_> = (0..records.len())
        .map(|i| (i, FailureKind::Retryable))
        .collect();
    assert_eq!(kinds(&report), all_retryable);
    assert_eq!(report.first_retryable().unwrap().index, 0);

    let name = unique("missing");
    let url = format!("sqs://{name}");
    let aws = AwsContext::with_config(moto());
    let built = SinkConfig::parse(&url).unwrap().build(&url, &aws).await;
    let error = match built {
        Ok(_) => panic!("a missing queue must fail at cold start"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.starts_with(&format!(
            "CDC_SINKS: \"{url}\": cannot find queue \"{name}\""
        )),
        "{error}"
    );
}

#[tokio::test]
async fn sqs_oversized_messages_are_permanent_and_the_others_are_delivered() {
    // The queue takes up to 256 KiB: SQS rejects the 300 KiB record; the 1.1 MiB one is over
    // SQS's ceiling for any queue and is never sent.
    let name = unique("sqs-size");
    let url = create_queue(&name, &[(QueueAttributeName::MaximumMessageSize, "262144")]).await;
    let big = "b".repeat(300 * 1024);
    let huge = "h".repeat(1100 * 1024);
    let raw = vec![
        stream_record_json(
            TABLE,
            1,
            "INSERT",
            "a",
            "s",
            Some(image("a", "s", 1, "small")),
        ),
        stream_record_json(TABLE, 2, "MODIFY", "a", "s", Some(image("a", "s", 2, &big))),
        stream_record_json(
            TABLE,
            3,
            "MODIFY",
            "a",
            "s",
            Some(image("a", "s", 3, "after")),
        ),
        stream_record_json(
            TABLE,
            4,
            "INSERT",
            "b",
            "s",
            Some(image("b", "s", 4, &huge)),
        ),
        stream_record_json(
            TABLE,
            5,
            "INSERT",
            "c",
            "s",
            Some(image("c", "s", 5, "small")),
        ),
    ];
    let records = changes(&raw);
    let sink = sink(&format!("sqs://{name}")).await;

    let report = write(&*sink, &records).await;

    assert_eq!(
        kinds(&report),
        [(1, FailureKind::Permanent), (3, FailureKind::Permanent)]
    );
    assert!(report.failures[0]
        .error
        .to_string()
        .contains("InvalidParameterValue"));
    assert!(report.failures[1]
        .error
        .to_string()
        .contains("over the service's limit"));
    let bodies: Vec<Value> = receive_all(&url, 3)
        .await
        .iter()
        .map(Received::json)
        .collect();
    let order = order_per_item(&bodies);
    assert_eq!(order["a|s"], [format!("{:021}", 1), format!("{:021}", 3)]);
    assert_eq!(order["c|s"], [format!("{:021}", 5)]);
}

// ---------------------------------------------------------------------------------------------
// SNS (read back through an SQS subscription with raw message delivery)
// ---------------------------------------------------------------------------------------------

async fn topic_with_queue(name: &str) -> (String, String) {
    let fifo = name.ends_with(".fifo");
    let sns = aws_sdk_sns::Client::new(&moto());
    let mut create = sns.create_topic().name(name);
    if fifo {
        create = create.attributes("FifoTopic", "true");
    }
    let topic = create.send().await.unwrap().topic_arn.unwrap();
    let queue_name = format!("{}{}", unique("sns-q"), if fifo { ".fifo" } else { "" });
    let queue = create_queue(&queue_name, &[]).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn(&queue).await)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic, queue)
}

#[tokio::test]
async fn sns_fifo_topic_keeps_item_order_and_a_replayed_batch_is_delivered_once() {
    let (topic, queue) = topic_with_queue(&format!("{}.fifo", unique("sns-fifo"))).await;
    let raw = interleaved_changes();
    let records = changes(&raw);
    let sink = sink(&format!("sns://{topic}")).await;

    assert!(write(&*sink, &records).await.failures.is_empty());
    assert!(write(&*sink, &records).await.failures.is_empty());

    let received = receive_all(&queue, records.len()).await;
    let bodies: Vec<Value> = received.iter().map(Received::json).collect();
    assert_eq!(order_per_item(&bodies), expected_order(&records));
    for (message, body) in received.iter().zip(&bodies) {
        let metadata = &body["metadata"];
        assert_eq!(
            message.group_id.as_deref(),
            metadata["primary_key"].as_str()
        );
        let deduplication_id = format!(
            "{}:{}",
            metadata["event_id"].as_str().unwrap(),
            metadata["document_version"]
        );
        assert_eq!(message.deduplication_id, Some(deduplication_id));
    }
}

#[tokio::test]
async fn sns_publishes_25_raw_records_in_3_calls_with_attributes_and_rejects_oversized_ones() {
    let (topic, queue) = topic_with_queue(&unique("sns-std")).await;
    let mut raw = distinct_items(25);
    raw.push(stream_record_json(
        TABLE,
        26,
        "INSERT",
        "big",
        "s",
        Some(image("big", "s", 26, &"b".repeat(260 * 1024))),
    ));
    let records = changes(&raw);
    let sink = sink(&format!("sns://{topic}?format=raw")).await;

    let report = write(&*sink, &records).await;

    assert_eq!(kinds(&report), [(25, FailureKind::Permanent)]);
    assert_eq!(
        sink.api_calls(),
        3,
        "10 + 10 + 5 entries; the oversized one is not sent"
    );
    let received = receive_all(&queue, 25).await;
    let by_body: HashMap<&str, &Received> = received.iter().map(|m| (m.body.as_str(), m)).collect();
    for (raw, record) in raw.iter().zip(&records).take(25) {
        let message = by_body
            .get(raw.as_str())
            .expect("raw record delivered as is");
        assert_eq!(
            message.attributes["SEQUENCE_NUMBER"],
            record.sequence_number.as_deref().unwrap()
        );
        assert_eq!(message.attributes["EVENT_NAME"], "INSERT");
    }
}

// ---------------------------------------------------------------------------------------------
// Kinesis
// ---------------------------------------------------------------------------------------------

fn kinesis() -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::new(&moto())
}

/// Creates a two-shard stream; returns its ARN.
async fn create_stream(name: &str) -> String {
    let client = kinesis();
    client
        .create_stream()
        .stream_name(name)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    let summary = client
        .describe_stream_summary()
        .stream_name(name)
        .send()
        .await
        .unwrap();
    summary.stream_description_summary.unwrap().stream_arn
}

/// Every record of every shard as (partition key, data), each shard in its order.
async fn read_stream(name: &str) -> Vec<(String, String)> {
    let client = kinesis();
    let shards = client.list_shards().stream_name(name).send().await.unwrap();
    let mut records = Vec::new();
    for shard in shards.shards.unwrap_or_default() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(shard.shard_id)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator {
            let output = client
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .unwrap();
            if output.records.is_empty() {
                break;
            }
            for record in output.records {
                let data = String::from_utf8(record.data.into_inner()).unwrap();
                records.push((record.partition_key.unwrap_or_default(), data));
            }
            iterator = output.next_shard_iterator;
        }
    }
    records
}

#[tokio::test]
async fn kinesis_partitions_by_primary_key_keeps_item_order_and_packs_500_per_call() {
    let name = unique("stream");
    create_stream(&name).await;
    let many = distinct_items(600);
    let long_pk = "p".repeat(300);
    let mut raw = interleaved_changes();
    raw.push(stream_record_json(
        TABLE,
        13,
        "INSERT",
        &long_pk,
        "s",
        Some(image(&long_pk, "s", 13, "z")),
    ));
    let many_records = changes(&many);
    let records = changes(&raw);
    let sink = sink(&format!("kinesis://{name}")).await;

    assert!(write(&*sink, &many_records).await.failures.is_empty());
    assert_eq!(sink.api_calls(), 2, "500 + 100 records");
    assert!(write(&*sink, &records).await.failures.is_empty());

    let stored = read_stream(&name).await;
    assert_eq!(stored.len(), many.len() + raw.len());
    let bodies: Vec<Value> = stored
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    for ((partition_key, _), body) in stored.iter().zip(&bodies) {
        let primary_key = body["metadata"]["primary_key"].as_str().unwrap();
        if primary_key.chars().count() <= 256 {
            assert_eq!(partition_key, primary_key);
        } else {
            assert_eq!(*partition_key, sha256_hex(primary_key));
        }
    }
    let mut expected = expected_order(&many_records);
    expected.extend(expected_order(&records));
    assert_eq!(order_per_item(&bodies), expected);
}

#[tokio::test]
async fn kinesis_raw_format_by_stream_arn_sends_the_stream_record() {
    let name = unique("stream-raw");
    let arn = create_stream(&name).await;
    let raw = interleaved_changes();
    let records = changes(&raw);
    let sink = sink(&format!("kinesis://{arn}?format=raw")).await;

    assert!(write(&*sink, &records).await.failures.is_empty());

    let mut stored = read_stream(&name).await;
    // Each item's records in stream order: compare per partition key.
    stored.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, String)> = records
        .iter()
        .zip(&raw)
        .map(|(record, raw)| (record.key.primary_key.to_string(), raw.clone()))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(stored, expected);
}

// ---------------------------------------------------------------------------------------------
// EventBridge (read back through rules whose target is an SQS queue)
// ---------------------------------------------------------------------------------------------

/// A rule on `bus` sending events from `source` to a new queue; returns the queue's URL.
async fn rule_to_queue(bus: &str, source: &str) -> String {
    let events = aws_sdk_eventbridge::Client::new(&moto());
    let queue = create_queue(&unique("eb-q"), &[]).await;
    let rule = unique("rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(bus)
        .event_pattern(serde_json::json!({ "source": [source] }).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn(&queue).await)
        .build()
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus)
        .targets(target)
        .send()
        .await
        .unwrap();
    queue
}

#[tokio::test]
async fn eventbridge_events_carry_event_name_source_and_the_record_as_detail() {
    let events = aws_sdk_eventbridge::Client::new(&moto());
    let bus = unique("bus");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue = rule_to_queue(&bus, "cdc.test").await;
    let mut raw = distinct_items(25);
    raw.push(stream_record_json(
        TABLE,
        26,
        "INSERT",
        "big",
        "s",
        Some(image("big", "s", 26, &"b".repeat(260 * 1024))),
    ));
    let schema = key_schema();
    let export_line = r#"{"Item":{"pk":{"S":"e"},"sk":{"S":"s"},"n":{"N":"1"}}}"#;
    let mut records = changes(&raw);
    records.push(export_item(export_line, &schema));
    let sink = sink(&format!("events://{bus}?source=cdc.test")).await;

    let report = write(&*sink, &records).await;

    assert_eq!(kinds(&report), [(25, FailureKind::Permanent)]);
    assert_eq!(
        sink.api_calls(),
        3,
        "10 + 10 + 6 entries; the oversized one is not sent"
    );
    let received = receive_all(&queue, 26).await;
    let expected: HashMap<String, &ChangeRecord<'_>> = records
        .iter()
        .map(|r| (r.key.primary_key.to_string(), r))
        .collect();
    for event in received.iter().map(Received::json) {
        assert_eq!(event["source"], "cdc.test");
        assert_eq!(event["resources"], serde_json::json!([]));
        let primary_key = event["detail"]["metadata"]["primary_key"].as_str().unwrap();
        let record = expected[primary_key];
        let detail_type = record.event_name.map_or("EXPORT", |e| e.as_str());
        assert_eq!(event["detail-type"], detail_type);
        assert_eq!(event["detail"], record_json(record));
        if record.event_name.is_none() {
            // The change's own time (the export time here), not the time of the call.
            assert_eq!(event["time"], "2026-11-18T11:06:40Z");
        }
    }
}

#[tokio::test]
async fn eventbridge_raw_format_by_bus_arn_sends_the_stream_record_as_detail() {
    let events = aws_sdk_eventbridge::Client::new(&moto());
    let bus = unique("bus-raw");
    let arn = events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap()
        .event_bus_arn
        .unwrap();
    let queue = rule_to_queue(&bus, "dynamodb.cdc").await;
    let raw = interleaved_changes();
    let records = changes(&raw);
    let sink = sink(&format!("events://{arn}?format=raw")).await;

    assert!(write(&*sink, &records).await.failures.is_empty());

    let received = receive_all(&queue, raw.len()).await;
    let mut details: Vec<Value> = Vec::new();
    for event in received.iter().map(Received::json) {
        assert_eq!(event["source"], "dynamodb.cdc", "the default source");
        assert_eq!(event["detail-type"], event["detail"]["eventName"]);
        details.push(event["detail"].clone());
    }
    let mut expected: Vec<Value> = raw
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let by_event_id = |v: &Value| v["eventID"].as_str().unwrap().to_owned();
    details.sort_by_key(by_event_id);
    expected.sort_by_key(by_event_id);
    assert_eq!(details, expected);
}

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

fn parse(url: &str) -> MessagingConfig {
    match SinkConfig::parse(url) {
        Ok(SinkConfig::Messaging(config)) => config,
        other => panic!("{url}: {other:?}"),
    }
}

fn error(url: &str) -> String {
    SinkConfig::parse(url).unwrap_err().to_string()
}

#[test]
fn every_messaging_url_form_parses() {
    assert_eq!(
        parse("sqs://orders"),
        MessagingConfig::Sqs(SqsConfig {
            queue: PerTable::new("orders"),
            format: Format::Record
        })
    );
    assert_eq!(
        parse("sqs://https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo?format=raw"),
        MessagingConfig::Sqs(SqsConfig {
            queue: PerTable::new("https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"),
            format: Format::Raw
        })
    );
    assert_eq!(
        parse("sqs://{table}-changes?format=record"),
        MessagingConfig::Sqs(SqsConfig {
            queue: PerTable::new("{table}-changes"),
            format: Format::Record
        })
    );
    assert_eq!(
        parse("sns://arn:aws:sns:us-east-1:123456789012:{table}.fifo"),
        MessagingConfig::Sns(SnsConfig {
            topic: PerTable::new("arn:aws:sns:us-east-1:123456789012:{table}.fifo"),
            format: Format::Record
        })
    );
    assert_eq!(
        parse("kinesis://changes-{table}?format=raw"),
        MessagingConfig::Kinesis(KinesisConfig {
            stream: PerTable::new("changes-{table}"),
            format: Format::Raw
        })
    );
    assert_eq!(
        parse("kinesis://arn:aws:kinesis:us-east-1:123456789012:stream/changes"),
        MessagingConfig::Kinesis(KinesisConfig {
            stream: PerTable::new("arn:aws:kinesis:us-east-1:123456789012:stream/changes"),
            format: Format::Record
        })
    );
    assert_eq!(
        parse("events://default"),
        MessagingConfig::EventBridge(EventBridgeConfig {
            bus: PerTable::new("default"),
            source: "dynamodb.cdc".into(),
            format: Format::Record
        })
    );
    assert_eq!(
        parse(
            "events://arn:aws:events:us-east-1:123456789012:event-bus/b?source=my.app&format=raw"
        ),
        MessagingConfig::EventBridge(EventBridgeConfig {
            bus: PerTable::new("arn:aws:events:us-east-1:123456789012:event-bus/b"),
            source: "my.app".into(),
            format: Format::Raw
        })
    );
}

#[test]
fn bad_messaging_urls_say_what_is_accepted() {
    assert_eq!(
        error("sqs://q?fmt=raw"),
        "CDC_SINKS: \"sqs://q?fmt=raw\" has unknown option \"fmt\"; accepted options: format"
    );
    assert_eq!(
        error("events://b?detail_type=x"),
        "CDC_SINKS: \"events://b?detail_type=x\" has unknown option \"detail_type\"; accepted options: format, source"
    );
    assert_eq!(
        error("kinesis://s?format=avro"),
        "CDC_SINKS: \"kinesis://s?format=avro\": option format=\"avro\" is not one of record, raw"
    );
    assert_eq!(
        error("sqs://"),
        "CDC_SINKS: \"sqs://\": expected sqs://QUEUE (a queue name or a queue URL such as sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, {table} allowed)"
    );
    assert_eq!(
        error("sns://?format=raw"),
        "CDC_SINKS: \"sns://?format=raw\": expected sns://TOPIC_ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC, {table} allowed)"
    );
    assert!(error("sns://my-topic").contains("expected sns://TOPIC_ARN"));
    assert!(error("kinesis://").contains("expected kinesis://STREAM (a stream name or ARN"));
    assert!(error("events://").contains("expected events://BUS (an event bus name or ARN"));
    assert!(error("sqs://a/b").contains("expected sqs://QUEUE"));
    assert!(error("kinesis://a/b").contains("expected kinesis://STREAM"));
    assert!(error("events://b?source=aws.dynamodb").contains("reserved for AWS services"));
    assert!(error("events://b?source=").contains("must be 1 to 256 characters"));
    assert!(error("sqs://q?format=raw&format=record").contains("given more than once"));
    assert!(error("sqs").contains("expected sqs://QUEUE"));
}
