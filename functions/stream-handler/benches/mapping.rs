//! End-to-end mapping throughput: parse the Lambda payload (its bytes, as the function gets
//! them), map every record, serialise JSON Lines into a discarded buffer, against two
//! baselines measured in the same run:
//!
//! * floor: `serde_json` tokenising the payload into `IgnoredAny` (no work can be faster);
//! * naive: `aws_lambda_events`' DynamoDB event plus `serde_dynamo` images to `serde_json::Value`
//!   (what a hand-written Rust function does; it also loses 38-digit numbers to f64).
//!
//! Every figure on each payload shape of `cdc_testkit::shapes` (`MAPPING_BENCH_SHAPES=order,...`
//! for some), in batches of 1,000 records and the largest Lambda sends.
//!
//! Run: `cargo bench -p stream-handler --bench mapping` (figures go to docs/BENCHMARKS.md).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdc_record::{KeySchema, MappingOptions, StreamEvent};
use cdc_testkit::shapes::{Shape, MAX_PAYLOAD};
use serde_json::{json, Value};
use stream_handler::batch;

// The function's allocator, so that the mapping costs here what it costs in the function.
#[global_allocator]
static ALLOCATOR: cdc_lambda::allocator::Allocator = cdc_lambda::allocator::Allocator;

fn floor(payload: &[u8]) -> usize {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).expect("valid");
    0
}

fn ours(payload: &[u8], schemas: &HashMap<String, Arc<KeySchema>>) -> usize {
    let event = StreamEvent::parse(payload).expect("valid");
    let (mapped, _) = batch::map(
        event.records,
        &event.raws,
        schemas,
        &MappingOptions::default(),
    );
    assert!(mapped.letters.is_empty());
    black_box(cdc_sinks::jsonl::encode(&mapped.changes)).len()
}

fn naive(payload: &[u8]) -> usize {
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_slice(payload).expect("valid");
    let mut out = Vec::with_capacity(payload.len());
    for record in event.records {
        let table = record
            .event_source_arn
            .as_deref()
            .and_then(|a| a.split('/').nth(1))
            .unwrap_or_default();
        let document = Value::Object(
            record
                .change
                .new_image
                .into_inner()
                .into_iter()
                .map(|(k, v)| (k, to_json(v)))
                .collect(),
        );
        let line = json!({
            "metadata": {
                "table_name": table,
                "primary_key": format!("{}|{}", document["pk"].as_str().unwrap_or(""), document["sk"].as_str().unwrap_or("")),
                "dynamodb_event_name": record.event_name,
                "dynamodb_timestamp": record.change.approximate_creation_date_time.timestamp_millis(),
                "sequence_number": record.change.sequence_number,
                "event_id": record.event_id,
            },
            "document": document,
        });
        serde_json::to_writer(&mut out, &line).expect("serialisable");
        out.push(b'\n');
    }
    black_box(out).len()
}

/// The conversion a hand-written function does: numbers through f64, binary to base64.
fn to_json(value: serde_dynamo::AttributeValue) -> Value {
    use base64::Engine as _;
    use serde_dynamo::AttributeValue as A;
    let b64 = |b: Vec<u8>| Value::from(base64::engine::general_purpose::STANDARD.encode(b));
    let num = |n: String| json!(n.parse::<f64>().unwrap_or(f64::NAN));
    match value {
        A::S(s) => Value::from(s),
        A::N(n) => num(n),
        A::B(b) => b64(b),
        A::Bool(b) => Value::from(b),
        A::Null(_) => Value::Null,
        A::M(m) => Value::Object(m.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        A::L(l) => Value::Array(l.into_iter().map(to_json).collect()),
        A::Ss(v) => json!(v),
        A::Ns(v) => Value::Array(v.into_iter().map(num).collect()),
        A::Bs(v) => Value::Array(v.into_iter().map(b64).collect()),
    }
}

/// Where our path spends its time, phase by phase (`MAPPING_BENCH_PHASES=1`).
fn phases(payload: &[u8], schemas: &HashMap<String, Arc<KeySchema>>) {
    let mut totals = [0f64; 3];
    let runs = 50;
    for _ in 0..runs {
        let t = Instant::now();
        let event = StreamEvent::parse(payload).expect("valid");
        let t1 = Instant::now();
        let (mapped, _) = batch::map(
            event.records,
            &event.raws,
            schemas,
            &MappingOptions::default(),
        );
        let t2 = Instant::now();
        black_box(cdc_sinks::jsonl::encode(&mapped.changes));
        let t3 = Instant::now();
        for (total, (a, b)) in totals.iter_mut().zip([(t, t1), (t1, t2), (t2, t3)]) {
            *total += (b - a).as_secs_f64();
        }
    }
    let floor = time(&mut || floor(payload), Duration::from_secs(1));
    for (name, total) in ["parse (envelope and records)", "map", "encode"]
        .iter()
        .zip(totals)
    {
        println!("{name}: {:.2} floor units", total / f64::from(runs) / floor);
    }
}

/// Median seconds per run of `f`, over rounds interleaved with the other paths by the caller.
fn time(f: &mut dyn FnMut() -> usize, min: Duration) -> f64 {
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < min || runs < 3 {
        black_box(f());
        runs += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(runs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn shapes() -> Vec<Shape> {
    match std::env::var("MAPPING_BENCH_SHAPES") {
        Ok(list) => list
            .split(',')
            .map(|name| Shape::named(name).unwrap_or_else(|| panic!("unknown shape {name}")))
            .collect(),
        Err(_) => Shape::ALL.to_vec(),
    }
}

fn main() {
    let mut schemas = HashMap::new();
    schemas.insert(
        "orders".to_owned(),
        Arc::new(KeySchema {
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
        }),
    );
    let shapes = shapes();
    let (max, _) = shapes[0].max_payload();
    if std::env::var_os("MAPPING_BENCH_PHASES").is_some() {
        phases(&max, &schemas);
        return;
    }
    // `MAPPING_BENCH_PROFILE=1` runs only our path, for a profiler.
    if std::env::var_os("MAPPING_BENCH_PROFILE").is_some() {
        time(&mut || ours(&max, &schemas), Duration::from_secs(30));
        return;
    }
    println!(
        "| shape | batch | records | payload MB | path | records/s | MB/s | vs floor | vs naive |"
    );
    println!("|---|---|---:|---:|---|---:|---:|---:|---:|");
    for shape in shapes {
        let thousand = shape.payload(1000);
        let mut cases = vec![];
        if thousand.len() < MAX_PAYLOAD {
            cases.push(("1,000 records", thousand, 1000));
        }
        let (max, max_n) = shape.max_payload();
        cases.push(("max batch", max, max_n));
        for (name, payload, n) in &cases {
            measure(shape, name, payload, *n, &schemas);
        }
    }
}

fn measure(
    shape: Shape,
    name: &str,
    payload: &[u8],
    n: usize,
    schemas: &HashMap<String, Arc<KeySchema>>,
) {
    let mb = payload.len() as f64 / 1e6;
    let (mut f, mut o, mut v) = (vec![], vec![], vec![]);
    let round = Duration::from_millis(300);
    // Interleaved rounds, so that machine noise hits every path alike.
    for _ in 0..7 {
        f.push(time(&mut || floor(payload), round));
        o.push(time(&mut || ours(payload, schemas), round));
        v.push(time(&mut || naive(payload), round));
    }
    let (f, o, v) = (median(f), median(o), median(v));
    for (path, secs) in [
        ("floor (IgnoredAny)", f),
        ("**ours**", o),
        ("naive (aws_lambda_events + serde_dynamo)", v),
    ] {
        println!(
            "| {} | {name} | {n} | {mb:.2} | {path} | {:.0} | {:.0} | {:.0}% | {:.2}x |",
            shape.name(),
            n as f64 / secs,
            mb / secs,
            100.0 * f / secs,
            v / secs
        );
    }
}
