//! The `s3://` sink against moto's S3: one JSON Lines object per batch, table and date, named
//! by the source position so that a retried batch overwrites its object; gzip by default.

use std::io::Read;
use std::time::Duration;

use cdc_lambda::AwsContext;
use cdc_record::{map_export_line, ChangeRecord, ExportSource, KeySchema};
use cdc_sinks::{FailureKind, Sink, SinkConfig};
use cdc_testkit::{changes, image, moto, stream_record_json, unique};
use tokio::time::Instant;

/// The testkit's records are created at 1_795_278_192 s + seq: 2026-11-21T16:23:12Z + seq s.
const DAY_ONE: &str = "2026-11-21";
const DAY_TWO: &str = "2026-11-22";
/// Adding this to a seq moves its record to DAY_TWO.
const NEXT_DAY: u64 = 86_400;

fn s3() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&moto())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn new_bucket() -> String {
    let bucket = unique("cdc-s3-sink");
    s3().create_bucket().bucket(&bucket).send().await.unwrap();
    bucket
}

async fn sink(url: &str) -> Box<dyn Sink> {
    SinkConfig::parse(url)
        .unwrap()
        .build(url, &AwsContext::with_config(moto()))
        .await
        .unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// Stream records of `table` with sequence numbers `seqs` (key `pk` = `item-{seq % 3}`).
fn raw(table: &str, seqs: &[u64]) -> Vec<String> {
    seqs.iter()
        .map(|&seq| {
            let pk = format!("item-{}", seq % 3);
            stream_record_json(
                table,
                seq,
                "MODIFY",
                &pk,
                "v0",
                Some(image(&pk, "v0", seq, "x")),
            )
        })
        .collect()
}

fn seq(n: u64) -> String {
    format!("{n:021}")
}

async fn keys(bucket: &str) -> Vec<String> {
    let listing = s3().list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut keys: Vec<String> = listing
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

struct Object {
    body: Vec<u8>,
    content_type: Option<String>,
    content_encoding: Option<String>,
}

async fn object(bucket: &str, key: &str) -> Object {
    let output = s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let content_type = output.content_type().map(str::to_owned);
    let content_encoding = output.content_encoding().map(str::to_owned);
    let body = output.body.collect().await.unwrap().into_bytes().to_vec();
    Object {
        body,
        content_type,
        content_encoding,
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The JSON Lines the records must appear as, in this order.
fn lines_of(records: &[&ChangeRecord<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        record.write_json_line(&mut out);
    }
    out
}

fn assert_ok(report: cdc_sinks::WriteReport) {
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}

#[tokio::test]
async fn a_batch_becomes_one_gzipped_object_named_by_its_sequence_range() {
    let bucket = new_bucket().await;
    let raw = raw("orders", &[11, 12, 13, 14, 15]);
    let records = changes(&raw);
    let sink = sink(&format!("s3://{bucket}/cdc/lake/")).await;
    assert_ok(sink.write(&records, deadline()).await);

    let key = format!(
        "cdc/lake/table=orders/date={DAY_ONE}/{}-{}.jsonl.gz",
        seq(11),
        seq(15)
    );
    assert_eq!(keys(&bucket).await, vec![key.clone()]);
    let object = object(&bucket, &key).await;
    assert_eq!(object.content_type.as_deref(), Some("application/x-ndjson"));
    assert_eq!(object.content_encoding.as_deref(), Some("gzip"));
    let text = gunzip(&object.body);
    assert_eq!(text, lines_of(&records.iter().collect::<Vec<_>>()));
    // Each line is a change record: every record once, in order.
    let sequence_numbers: Vec<String> = String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["metadata"]["sequence_number"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(sequence_numbers, (11..=15).map(seq).collect::<Vec<_>>());
    assert_eq!(sink.api_calls(), 1);
}

#[tokio::test]
async fn a_retried_identical_batch_overwrites_its_object() {
    let bucket = new_bucket().await;
    let raw = raw("orders", &[1, 2, 3]);
    let records = changes(&raw);
    let sink = sink(&format!("s3://{bucket}/p")).await;
    assert_ok(sink.write(&records, deadline()).await);
    let first = keys(&bucket).await;
    let first_body = object(&bucket, &first[0]).await.body;
    assert_ok(sink.write(&records, deadline()).await);
    assert_eq!(keys(&bucket).await, first, "a retry must not add an object");
    assert_eq!(object(&bucket, &first[0]).await.body, first_body);
    assert_eq!(sink.api_calls(), 2);
}

#[tokio::test]
async fn tables_and_dates_go_to_separate_objects_in_batch_order() {
    let bucket = new_bucket().await;
    // Interleaved tables, and a day boundary in the batch.
    let mut raw_records = Vec::new();
    for (table, s) in [
        ("orders", 1),
        ("users", 2),
        ("orders", 3),
        ("orders", NEXT_DAY + 4),
        ("users", NEXT_DAY + 5),
        ("orders", NEXT_DAY + 6),
    ] {
        raw_records.extend(raw(table, &[s]));
    }
    let records = changes(&raw_records);
    let sink = sink(&format!("s3://{bucket}")).await;
    assert_ok(sink.write(&records, deadline()).await);

    let expected = [
        (
            format!("table=orders/date={DAY_ONE}/{}-{}.jsonl.gz", seq(1), seq(3)),
            vec![0, 2],
        ),
        (
            format!(
                "table=orders/date={DAY_TWO}/{}-{}.jsonl.gz",
                seq(NEXT_DAY + 4),
                seq(NEXT_DAY + 6)
            ),
            vec![3, 5],
        ),
        (
            format!("table=users/date={DAY_ONE}/{}-{}.jsonl.gz", seq(2), seq(2)),
            vec![1],
        ),
        (
            format!(
                "table=users/date={DAY_TWO}/{}-{}.jsonl.gz",
                seq(NEXT_DAY + 5),
                seq(NEXT_DAY + 5)
            ),
            vec![4],
        ),
    ];
    assert_eq!(
        keys(&bucket).await,
        expected.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
    );
    for (key, indices) in &expected {
        let wanted: Vec<&ChangeRecord<'_>> = indices.iter().map(|&i| &records[i]).collect();
        assert_eq!(
            gunzip(&object(&bucket, key).await.body),
            lines_of(&wanted),
            "{key}"
        );
    }
    assert_eq!(sink.api_calls(), 4);
}

#[tokio::test]
async fn gzip_false_writes_plain_json_lines() {
    let bucket = new_bucket().await;
    let raw = raw("orders", &[7, 8]);
    let records = changes(&raw);
    let sink = sink(&format!("s3://{bucket}/plain?gzip=false")).await;
    assert_ok(sink.write(&records, deadline()).await);
    let key = format!(
        "plain/table=orders/date={DAY_ONE}/{}-{}.jsonl",
        seq(7),
        seq(8)
    );
    assert_eq!(keys(&bucket).await, vec![key.clone()]);
    let object = object(&bucket, &key).await;
    assert_eq!(object.content_encoding, None);
    assert_eq!(object.body, lines_of(&records.iter().collect::<Vec<_>>()));
}

#[tokio::test]
async fn table_placeholder_picks_bucket_and_prefix() {
    // The bucket is named after the table; bucket names are lowercase, so is the table.
    let table = unique("tbl");
    s3().create_bucket().bucket(&table).send().await.unwrap();
    let raw = raw(&table, &[5]);
    let records = changes(&raw);
    let sink = sink("s3://{table}/by-table/{table}").await;
    assert_ok(sink.write(&records, deadline()).await);
    assert_eq!(
        keys(&table).await,
        vec![format!(
            "by-table/{table}/table={table}/date={DAY_ONE}/{}-{}.jsonl.gz",
            seq(5),
            seq(5)
        )]
    );
}

fn export_lines(keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| format!(r#"{{"Item":{{"pk":{{"S":"{k}"}},"sk":{{"S":"v0"}},"n":{{"N":"1"}}}}}}"#))
        .collect()
}

fn export_changes<'a>(lines: &'a [String], source: &ExportSource<'a>) -> Vec<ChangeRecord<'a>> {
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| map_export_line(line, i as u64 + 1, source).unwrap())
        .collect()
}

#[tokio::test]
async fn export_items_are_named_by_version_and_a_hash_of_their_keys() {
    let bucket = new_bucket().await;
    let schema = KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    };
    let source = ExportSource {
        table_name: "orders",
        key_schema: &schema,
        kind: cdc_record::ExportKind::Full {
            export_time_ms: 1_795_278_192_000,
        },
        version_margin_ms: 0,
        options: Default::default(),
    };
    let chunk_a = export_lines(&["a", "b", "c"]);
    let chunk_b = export_lines(&["d", "e", "f"]);
    let records_a = export_changes(&chunk_a, &source);
    let records_b = export_changes(&chunk_b, &source);
    let version = records_a[0].version;
    let sink = sink(&format!("s3://{bucket}/snap")).await;
    assert_ok(sink.write(&records_a, deadline()).await);
    assert_ok(sink.write(&records_a, deadline()).await);
    assert_ok(sink.write(&records_b, deadline()).await);

    let keys = keys(&bucket).await;
    assert_eq!(
        keys.len(),
        2,
        "a repeated chunk overwrites, another chunk adds: {keys:?}"
    );
    let prefix = format!("snap/table=orders/date={DAY_ONE}/export-{version}-");
    for key in &keys {
        let hash = key
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".jsonl.gz"))
            .unwrap_or_else(|| panic!("{key} does not start with {prefix}"));
        assert_eq!(hash.len(), 32);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    let bodies = [
        gunzip(&object(&bucket, &keys[0]).await.body),
        gunzip(&object(&bucket, &keys[1]).await.body),
    ];
    let a = lines_of(&records_a.iter().collect::<Vec<_>>());
    let b = lines_of(&records_b.iter().collect::<Vec<_>>());
    assert!(bodies.contains(&a) && bodies.contains(&b));
}

#[tokio::test]
async fn a_missing_bucket_fails_every_record_for_retry() {
    let raw = raw("orders", &[1, 2, NEXT_DAY + 3]);
    let records = changes(&raw);
    let sink = sink(&format!("s3://{}/p", unique("no-such-bucket"))).await;
    let report = sink.write(&records, deadline()).await;
    let mut indices: Vec<usize> = report.failures.iter().map(|f| f.index).collect();
    indices.sort_unstable();
    assert_eq!(indices, vec![0, 1, 2]);
    for failure in &report.failures {
        assert_eq!(failure.kind, FailureKind::Retryable);
        assert!(
            failure.error.to_string().contains("NoSuchBucket"),
            "{}",
            failure.error
        );
    }
}

#[tokio::test]
async fn a_passed_deadline_fails_every_record_for_retry() {
    let bucket = new_bucket().await;
    let raw = raw("orders", &[1, 2]);
    let records = changes(&raw);
    let sink = sink(&format!("s3://{bucket}/p")).await;
    let report = sink.write(&records, Instant::now()).await;
    assert_eq!(report.failures.len(), 2);
    assert!(report
        .failures
        .iter()
        .all(|f| f.kind == FailureKind::Retryable && f.error.is::<cdc_sinks::DeadlineExceeded>()));
}

fn error(url: &str) -> String {
    SinkConfig::parse(url).unwrap_err().to_string()
}

#[test]
fn bad_s3_urls_are_rejected_with_what_is_accepted() {
    assert_eq!(
        error("s3://"),
        "CDC_SINKS: \"s3://\": missing bucket name; expected s3://BUCKET/PREFIX"
    );
    assert!(error("s3:///prefix").contains("missing bucket name"));
    assert_eq!(
        error("s3://bucket/p?compress=1"),
        "CDC_SINKS: \"s3://bucket/p?compress=1\" has unknown option \"compress\"; accepted options: gzip"
    );
    assert!(error("s3://bucket?gzip=yes").contains("option gzip=\"yes\" is not one of true, false"));
    assert!(error("s3://My_Bucket/p").contains("bucket names hold lowercase letters"));
    assert!(error("s3://ab/p").contains("3 to 63 characters"));
    assert!(error(&format!("s3://bucket/{}", "p".repeat(700))).contains("prefix is longer"));
}

#[test]
fn s3_urls_parse_into_bucket_prefix_and_gzip() {
    let SinkConfig::S3(config) =
        SinkConfig::parse("s3://lake-{table}/raw/cdc/?gzip=false").unwrap()
    else {
        panic!("not an S3 sink");
    };
    assert_eq!(config.bucket.template(), "lake-{table}");
    assert_eq!(config.prefix.template(), "raw/cdc");
    assert!(!config.gzip);
    let SinkConfig::S3(config) = SinkConfig::parse("s3://lake").unwrap() else {
        panic!("not an S3 sink");
    };
    assert_eq!(config.prefix.template(), "");
    assert!(config.gzip);
}
