//! Records per second into each sink against the local engines, and API calls per 1,000
//! records, beside a naive baseline measured in the same run on the same engine: one request
//! per record, in sequence, with the same SDK, as a hand-written Lambda does.
//!
//! Run: `cargo bench -p cdc-e2e --bench sinks --no-run && scripts/emulators.sh cargo bench -p
//! cdc-e2e --bench sinks --offline` (figures go to docs/BENCHMARKS.md). DynamoDB sinks write
//! to DynamoDB Local, S3/SQS/SNS/Kinesis/EventBridge sinks to moto_server, OpenSearch to the
//! in-test fake (`cdc_testkit::opensearch`), the file sink to /tmp. The
//! engines are emulators on loopback, so absolute rates say little about AWS; the ratios and
//! the call counts carry over.
//!
//! Time is summed over the writes of the batches: what happens between batches (an SQS
//! consumer emptying the queue, see [`Engines::consume`]) is not timed.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use cdc_lambda::AwsContext;
use cdc_record::{AttributeValue as RecordValue, ChangeRecord};
use cdc_sinks::{Sink, SinkConfig};
use cdc_testkit::{changes, create_table, image, stream_record_json, unique};

// The bench drives only the fake's Bulk API, not its fault injection or inspection helpers.
#[allow(dead_code)]
use cdc_testkit::opensearch::FakeOpenSearch;

/// Insert-heavy workload: this many INSERTs of distinct items.
const RECORDS: usize = 2_000;
/// Lambda's default batch size for DynamoDB Streams.
const BATCH: usize = 100;
/// Records each sink and baseline writes once, untimed, before the measurements, so no
/// measurement pays for a cold JVM (DynamoDB Local), first connections or first-use code paths.
const WARM_UP: usize = 200;

/// A destination the benchmark creates, fresh for every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Setup {
    /// DynamoDB table keyed `pk`, `sk` (the replica's and batch mode's layout).
    Table,
    /// DynamoDB table keyed `primary_key`, `change` (history mode's layout).
    HistoryTable,
    Bucket,
    Queue,
    FifoQueue,
    Topic,
    Stream,
    Bus,
    Index,
    File,
}

/// The naive baseline: one request per record, in sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Naive {
    PutItem,
    PutObject,
    SendMessage,
    SendFifoMessage,
    Publish,
    PutRecord,
    PutEvents,
    Bulk,
    Append,
}

/// One row: the sink URL (`{}` stands for the destination), where it writes, its baseline, and
/// how many records Lambda hands it per invocation.
struct Case {
    url: &'static str,
    setup: Setup,
    naive: Naive,
    batch: usize,
}

const fn case(url: &'static str, setup: Setup, naive: Naive) -> Case {
    Case {
        url,
        setup,
        naive,
        batch: BATCH,
    }
}

const CASES: &[Case] = &[
    case("dynamodb://{}", Setup::Table, Naive::PutItem),
    case("dynamodb://{}?mode=batch", Setup::Table, Naive::PutItem),
    // Larger Lambda batches show whether BatchWriteItem calls fill up to their 25 requests.
    Case {
        batch: 1_000,
        ..case("dynamodb://{}?mode=batch", Setup::Table, Naive::PutItem)
    },
    case(
        "dynamodb://{}?mode=history",
        Setup::HistoryTable,
        Naive::PutItem,
    ),
    case("s3://{}/cdc", Setup::Bucket, Naive::PutObject),
    case("sqs://{}", Setup::Queue, Naive::SendMessage),
    case("sqs://{}", Setup::FifoQueue, Naive::SendFifoMessage),
    case("sns://{}", Setup::Topic, Naive::Publish),
    case("kinesis://{}", Setup::Stream, Naive::PutRecord),
    case("events://{}", Setup::Bus, Naive::PutEvents),
    case("opensearch+http://{}", Setup::Index, Naive::Bulk),
    case("file://{}", Setup::File, Naive::Append),
];

impl Setup {
    /// How the destination appears in the table.
    fn placeholder(self) -> &'static str {
        match self {
            Setup::Table | Setup::HistoryTable => "TABLE",
            Setup::Bucket => "BUCKET",
            Setup::Queue => "QUEUE",
            Setup::FifoQueue => "QUEUE.fifo",
            Setup::Topic => "TOPIC_ARN",
            Setup::Stream => "STREAM",
            Setup::Bus => "BUS",
            Setup::Index => "127.0.0.1:PORT/INDEX",
            Setup::File => "/tmp/FILE.jsonl",
        }
    }
}

impl Naive {
    /// Where the baseline writes (the same engine as the sinks it is compared with).
    fn setup(self) -> Setup {
        match self {
            Naive::PutItem => Setup::Table,
            Naive::PutObject => Setup::Bucket,
            Naive::SendMessage => Setup::Queue,
            Naive::SendFifoMessage => Setup::FifoQueue,
            Naive::Publish => Setup::Topic,
            Naive::PutRecord => Setup::Stream,
            Naive::PutEvents => Setup::Bus,
            Naive::Bulk => Setup::Index,
            Naive::Append => Setup::File,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Naive::PutItem => "PutItem",
            Naive::PutObject => "PutObject (plain JSON)",
            Naive::SendMessage | Naive::SendFifoMessage => "SendMessage",
            Naive::Publish => "Publish",
            Naive::PutRecord => "PutRecord",
            Naive::PutEvents => "PutEvents, 1 entry",
            Naive::Bulk => "`_bulk`, 1 operation",
            Naive::Append => "write + fdatasync",
        }
    }
}

/// A created destination: `name` goes into the sink URL, `address` is what the SDK call of
/// the baseline takes (a queue URL for SQS, the same as `name` elsewhere).
struct Target {
    name: String,
    address: String,
}

struct Measured {
    seconds: f64,
    calls: u64,
}

/// Clients for every engine.
struct Engines {
    dynamodb_aws: AwsContext,
    moto_aws: AwsContext,
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
    kinesis: aws_sdk_kinesis::Client,
    events: aws_sdk_eventbridge::Client,
    opensearch: FakeOpenSearch,
    http: reqwest::Client,
}

impl Engines {
    async fn start() -> Engines {
        let dynamodb = cdc_testkit::dynamodb_local();
        let moto = cdc_testkit::moto();
        Engines {
            dynamodb: aws_sdk_dynamodb::Client::new(&dynamodb),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&moto)
                    .force_path_style(true)
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::new(&moto),
            sns: aws_sdk_sns::Client::new(&moto),
            kinesis: aws_sdk_kinesis::Client::new(&moto),
            events: aws_sdk_eventbridge::Client::new(&moto),
            dynamodb_aws: AwsContext::with_config(dynamodb),
            moto_aws: AwsContext::with_config(moto),
            opensearch: FakeOpenSearch::start().await,
            http: reqwest::Client::new(),
        }
    }

    fn aws(&self, setup: Setup) -> &AwsContext {
        match setup {
            Setup::Table | Setup::HistoryTable => &self.dynamodb_aws,
            _ => &self.moto_aws,
        }
    }

    async fn create(&self, setup: Setup) -> Target {
        let name = unique("bench");
        let same = |name: String| Target {
            address: name.clone(),
            name,
        };
        match setup {
            Setup::Table => {
                create_table(&self.dynamodb, &name, "pk", Some("sk"), false).await;
                same(name)
            }
            Setup::HistoryTable => {
                create_table(&self.dynamodb, &name, "primary_key", Some("change"), false).await;
                same(name)
            }
            Setup::Bucket => {
                self.s3
                    .create_bucket()
                    .bucket(&name)
                    .send()
                    .await
                    .expect("bucket");
                same(name)
            }
            Setup::Queue | Setup::FifoQueue => {
                let fifo = setup == Setup::FifoQueue;
                let name = if fifo { format!("{name}.fifo") } else { name };
                let mut create = self.sqs.create_queue().queue_name(&name);
                if fifo {
                    create = create
                        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
                }
                let url = create.send().await.expect("queue").queue_url;
                Target {
                    name,
                    address: url.expect("queue URL"),
                }
            }
            Setup::Topic => {
                let topic = self.sns.create_topic().name(&name).send().await;
                same(topic.expect("topic").topic_arn.expect("topic ARN"))
            }
            Setup::Stream => {
                self.kinesis
                    .create_stream()
                    .stream_name(&name)
                    .shard_count(1)
                    .send()
                    .await
                    .expect("stream");
                same(name)
            }
            Setup::Bus => {
                self.events
                    .create_event_bus()
                    .name(&name)
                    .send()
                    .await
                    .expect("bus");
                same(name)
            }
            Setup::Index => {
                let url = self.opensearch.url(&name);
                same(url.trim_start_matches("opensearch+http://").to_owned())
            }
            Setup::File => same(format!("/tmp/{name}.jsonl")),
        }
    }

    /// Writes `records` through the case's sink on a fresh destination, in Lambda batches.
    async fn run_sink(&self, case: &Case, records: &[ChangeRecord<'_>]) -> Measured {
        let target = self.create(case.setup).await;
        let url = case.url.replace("{}", &target.name);
        let sink: Box<dyn Sink> = SinkConfig::parse(&url)
            .expect("url")
            .build(&url, self.aws(case.setup))
            .await
            .expect("sink");
        let mut elapsed = Duration::ZERO;
        for batch in records.chunks(case.batch) {
            let start = Instant::now();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            let report = sink.write(batch, deadline).await;
            elapsed += start.elapsed();
            assert!(
                report.failures.is_empty(),
                "{url}: {:?}",
                report.failures.first()
            );
            self.consume(case.setup, &target).await;
        }
        let measured = Measured {
            seconds: elapsed.as_secs_f64(),
            calls: sink.api_calls(),
        };
        if case.setup == Setup::File {
            let _ = std::fs::remove_file(&target.name);
        }
        measured
    }

    /// Writes `records` one request at a time, in sequence, to a fresh destination.
    async fn run_naive(&self, naive: Naive, records: &[ChangeRecord<'_>]) -> Measured {
        let target = self.create(naive.setup()).await;
        let mut file = (naive == Naive::Append).then(|| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&target.address)
                .expect("file")
        });
        let mut elapsed = Duration::ZERO;
        for batch in records.chunks(BATCH) {
            let start = Instant::now();
            for record in batch {
                let mut body = Vec::new();
                record.write_json(&mut body);
                let body = String::from_utf8(body).expect("JSON is UTF-8");
                self.send_one(naive, &target.address, record, body, file.as_mut())
                    .await;
            }
            elapsed += start.elapsed();
            self.consume(naive.setup(), &target).await;
        }
        let measured = Measured {
            seconds: elapsed.as_secs_f64(),
            calls: records.len() as u64,
        };
        if file.is_some() {
            let _ = std::fs::remove_file(&target.address);
        }
        measured
    }

    /// Empties an SQS queue as its consumers would, between batches and outside the timed
    /// part (for the sinks and their baselines alike). moto's SendMessage does work in
    /// proportion to the queue's depth (it recomputes the queue's attributes over every stored
    /// message), so an unconsumed queue makes every send slower, up to ~30 ms at 1,000 messages,
    /// and the SQS rows would measure moto alone.
    async fn consume(&self, setup: Setup, target: &Target) {
        if !matches!(setup, Setup::Queue | Setup::FifoQueue) {
            return;
        }
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&target.address)
                .max_number_of_messages(10)
                .visibility_timeout(300)
                .send()
                .await
                .expect("ReceiveMessage");
            let entries: Vec<_> = received
                .messages()
                .iter()
                .enumerate()
                .map(|(at, message)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(at.to_string())
                        .set_receipt_handle(message.receipt_handle.clone())
                        .build()
                        .expect("delete entry")
                })
                .collect();
            if entries.is_empty() {
                return;
            }
            self.sqs
                .delete_message_batch()
                .queue_url(&target.address)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("DeleteMessageBatch");
        }
    }

    /// One request carrying one record's change-record JSON (`body`), or its document for
    /// DynamoDB and OpenSearch.
    async fn send_one(
        &self,
        naive: Naive,
        to: &str,
        record: &ChangeRecord<'_>,
        body: String,
        file: Option<&mut std::fs::File>,
    ) {
        let primary_key = record.key.primary_key.as_ref();
        match naive {
            Naive::PutItem => {
                self.dynamodb
                    .put_item()
                    .table_name(to)
                    .set_item(Some(dynamodb_item(record)))
                    .send()
                    .await
                    .expect("PutItem");
            }
            Naive::PutObject => {
                let sequence = record.sequence_number.as_deref().unwrap_or_default();
                self.s3
                    .put_object()
                    .bucket(to)
                    .key(format!("naive/{sequence}.json"))
                    .body(body.into_bytes().into())
                    .send()
                    .await
                    .expect("PutObject");
            }
            Naive::SendMessage | Naive::SendFifoMessage => {
                let mut send = self.sqs.send_message().queue_url(to).message_body(body);
                if naive == Naive::SendFifoMessage {
                    send = send
                        .message_group_id(primary_key)
                        .message_deduplication_id(record.event_id.as_deref().unwrap_or_default());
                }
                send.send().await.expect("SendMessage");
            }
            Naive::Publish => {
                let publish = self.sns.publish().topic_arn(to).message(body);
                publish.send().await.expect("Publish");
            }
            Naive::PutRecord => {
                self.kinesis
                    .put_record()
                    .stream_name(to)
                    .partition_key(primary_key)
                    .data(aws_sdk_kinesis::primitives::Blob::new(body))
                    .send()
                    .await
                    .expect("PutRecord");
            }
            Naive::PutEvents => {
                let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(to)
                    .source("dynamodb.cdc")
                    .detail_type(record.event_name.map_or("EXPORT", |e| e.as_str()))
                    .detail(body)
                    .build();
                let output = self.events.put_events().entries(entry).send().await;
                assert_eq!(output.expect("PutEvents").failed_entry_count, 0);
            }
            Naive::Bulk => {
                let (host, index) = to.split_once('/').expect("HOST/INDEX");
                let action = serde_json::json!({"index": {
                    "_index": index, "_id": primary_key,
                    "version": record.version, "version_type": "external_gte",
                }});
                let document = record.document.as_ref().map_or("{}", |d| d.json());
                let response = self
                    .http
                    .post(format!("http://{host}/_bulk"))
                    .header("content-type", "application/x-ndjson")
                    .body(format!("{action}\n{document}\n"))
                    .send()
                    .await
                    .expect("_bulk");
                assert!(response.status().is_success(), "_bulk: {response:?}");
                let text = response.text().await.expect("_bulk response");
                assert!(text.contains(r#""errors":false"#), "_bulk: {text}");
            }
            Naive::Append => {
                let file = file.expect("open file");
                file.write_all(body.as_bytes())
                    .and_then(|()| file.write_all(b"\n"))
                    .and_then(|()| file.sync_data())
                    .expect("append");
            }
        }
    }
}

/// The record's image as a `PutItem` item (the workload has only S and N attributes).
fn dynamodb_item(record: &ChangeRecord<'_>) -> HashMap<String, AttributeValue> {
    let item = record.document.as_ref().expect("document").item();
    item.expect("item")
        .iter()
        .map(|(name, value)| {
            let value = match value {
                RecordValue::S(s) => AttributeValue::S(s.as_str().to_owned()),
                RecordValue::N(n) => AttributeValue::N(n.as_str().to_owned()),
                other => panic!("unexpected {other:?}"),
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// INSERTs of distinct items of about 1 KB each.
fn insert_records(table: &str) -> Vec<String> {
    let text = "lorem ipsum dolor sit amet ".repeat(30);
    (0..RECORDS as u64)
        .map(|i| {
            let pk = format!("item-{i:06}");
            stream_record_json(
                table,
                i,
                "INSERT",
                &pk,
                "v0",
                Some(image(&pk, "v0", i, &text)),
            )
        })
        .collect()
}

fn print(rows: &[(&Case, Measured)], naive: &HashMap<Naive, Measured>) {
    println!(
        "| sink | batch | records/s | API calls per 1,000 records | records per call | naive baseline (per record, in sequence) | naive records/s | vs naive |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|");
    for (case, sink) in rows {
        let base = &naive[&case.naive];
        let records = RECORDS as f64;
        let (per_1000, per_call) = if sink.calls == 0 {
            ("—".to_owned(), "—".to_owned())
        } else {
            let calls = sink.calls as f64;
            (
                format!("{:.1}", calls * 1000.0 / records),
                format!("{:.1}", records / calls),
            )
        };
        println!(
            "| `{}` | {} | {:.0} | {per_1000} | {per_call} | {} | {:.0} | {:.1}x |",
            case.url.replace("{}", case.setup.placeholder()),
            case.batch,
            records / sink.seconds,
            case.naive.label(),
            records / base.seconds,
            base.seconds / sink.seconds,
        );
    }
}

#[tokio::main]
async fn main() {
    let engines = Engines::start().await;
    let raw = insert_records("orders");
    let records = changes(&raw);
    for case in CASES {
        engines.run_sink(case, &records[..WARM_UP]).await;
        engines.run_naive(case.naive, &records[..WARM_UP]).await;
    }
    let mut naive: HashMap<Naive, Measured> = HashMap::new();
    let mut rows = Vec::new();
    for case in CASES {
        let sink = engines.run_sink(case, &records).await;
        if let Entry::Vacant(slot) = naive.entry(case.naive) {
            slot.insert(engines.run_naive(case.naive, &records).await);
        }
        rows.push((case, sink));
    }
    print(&rows, &naive);
}
