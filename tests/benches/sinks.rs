//! Records per second into each sink against the local engines, and API calls per 1,000
//! records, beside a naive baseline measured in the same run: one request per record, in
//! sequence, as a hand-written Lambda does.
//!
//! Run: `scripts/emulators.sh cargo bench -p cdc-e2e --bench sinks` (figures go to
//! docs/BENCHMARKS.md). The engines are emulators on loopback, so absolute rates say little
//! about AWS; the ratios and the call counts carry over.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use cdc_sinks::{AwsContext, Sink, SinkConfig};
use cdc_testkit::{changes, create_table, image, stream_record_json, unique};

const RECORDS: usize = 2_000;
/// Lambda's default batch size for DynamoDB Streams.
const BATCH: usize = 100;

fn insert_records(table: &str) -> Vec<String> {
    (0..RECORDS as u64)
        .map(|i| {
            let text = "lorem ipsum dolor sit amet ".repeat(30);
            stream_record_json(
                table,
                i,
                "INSERT",
                &format!("item-{i:06}"),
                "v0",
                Some(image(&format!("item-{i:06}"), "v0", i, &text)),
            )
        })
        .collect()
}

struct Row {
    name: String,
    seconds: f64,
    calls: u64,
}

async fn run_sink(url: &str, aws: &AwsContext, raw: &[String]) -> Row {
    let sink: Box<dyn Sink> = SinkConfig::parse(url)
        .expect("url")
        .build(url, aws)
        .await
        .expect("sink");
    let records = changes(raw);
    let start = Instant::now();
    for batch in records.chunks(BATCH) {
        let report = sink
            .write(
                batch,
                tokio::time::Instant::now() + Duration::from_secs(120),
            )
            .await;
        assert!(
            report.failures.is_empty(),
            "{url}: {:?}",
            report.failures.first()
        );
    }
    Row {
        name: url.to_owned(),
        seconds: start.elapsed().as_secs_f64(),
        calls: sink.api_calls(),
    }
}

async fn naive_put_item(client: &aws_sdk_dynamodb::Client, table: &str, raw: &[String]) -> Row {
    let records = changes(raw);
    let start = Instant::now();
    for record in &records {
        let item: HashMap<String, AttributeValue> = record
            .document
            .as_ref()
            .expect("document")
            .item()
            .expect("item")
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    cdc_record_value::S(s) => AttributeValue::S(s.as_str().to_owned()),
                    cdc_record_value::N(n) => AttributeValue::N(n.as_str().to_owned()),
                    other => panic!("unexpected {other:?}"),
                };
                (k.to_owned(), value)
            })
            .collect();
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }
    Row {
        name: "naive: PutItem per record, in sequence".into(),
        seconds: start.elapsed().as_secs_f64(),
        calls: records.len() as u64,
    }
}

use cdc_record::AttributeValue as cdc_record_value;

fn print(rows: &[Row], baseline: &Row) {
    println!("| sink | records/s | API calls per 1,000 records | records per call | vs naive |");
    println!("|---|---:|---:|---:|---:|");
    for row in rows.iter().chain([baseline]) {
        let rate = RECORDS as f64 / row.seconds;
        let per_1000 = row.calls as f64 * 1000.0 / RECORDS as f64;
        println!(
            "| `{}` | {:.0} | {:.0} | {:.1} | {:.1}x |",
            row.name,
            rate,
            per_1000,
            RECORDS as f64 / row.calls.max(1) as f64,
            baseline.seconds / row.seconds
        );
    }
}

#[tokio::main]
async fn main() {
    let config = cdc_testkit::dynamodb_local();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let aws = AwsContext::with_config(config);
    let mut rows = Vec::new();
    for url_of in [
        |t: &str| format!("dynamodb://{t}"),
        |t: &str| format!("dynamodb://{t}?mode=batch"),
        |t: &str| format!("dynamodb://{t}?mode=history"),
    ] {
        let table = unique("bench");
        let history = url_of(&table).ends_with("history");
        let (pk, sk) = if history {
            ("primary_key", "change")
        } else {
            ("pk", "sk")
        };
        create_table(&client, &table, pk, Some(sk), false).await;
        rows.push(run_sink(&url_of(&table), &aws, &insert_records("orders")).await);
    }
    let table = unique("bench");
    create_table(&client, &table, "pk", Some("sk"), false).await;
    let baseline = naive_put_item(&client, &table, &insert_records("orders")).await;
    print(&rows, &baseline);
}
