//! What the verify tests share: source tables of generated items in DynamoDB Local, and
//! targets written through the real sinks, so the tests check `cdc-verify` against what the
//! sinks actually write.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use cdc_lambda::AwsContext;
use cdc_record::{
    map_export_line, ChangeRecord, ExportKind, ExportSource, KeySchema, MappingOptions,
};
use cdc_sinks::SinkConfig;
use cdc_testkit::generate::{items, put_items, KeyAttribute, TableShape};
use cdc_testkit::items::scan_all;
use cdc_testkit::unique;
use cdc_verify::{item_to_dynamodb_json, Options, SdkItem};
use tokio::time::Instant;

/// An export time in the past, so that stream changes made in tests (stamped now) outrank the
/// items written from export lines.
pub const EXPORT_TIME_MS: i64 = 1_700_000_000_000;

pub fn client() -> Client {
    Client::new(&cdc_testkit::dynamodb_local())
}

pub fn shape(pk: (&'static str, char), sk: Option<(&'static str, char)>) -> TableShape {
    TableShape {
        partition_key: KeyAttribute {
            name: pk.0,
            kind: pk.1,
        },
        sort_key: sk.map(|(name, kind)| KeyAttribute { name, kind }),
    }
}

pub fn key_schema(shape: &TableShape) -> KeySchema {
    KeySchema {
        partition_key: shape.partition_key.name.into(),
        sort_key: shape.sort_key.map(|k| k.name.into()),
    }
}

/// A new table of `shape` holding at least `count` generated items (every attribute type and
/// key edge case first, however many that takes); returns its name and its items as DynamoDB
/// returns them.
pub async fn source_table(
    client: &Client,
    shape: &TableShape,
    count: usize,
) -> (String, Vec<SdkItem>) {
    let table = unique("verify-source");
    shape.create(client, &table, false).await;
    let generated = items(shape, 7, count);
    put_items(client, &table, &generated).await;
    let scanned = scan_all(client, &table).await;
    assert_eq!(scanned.len(), generated.len());
    (table, scanned)
}

/// A new empty table with `shape`'s key.
pub async fn empty_table(client: &Client, shape: &TableShape, prefix: &str) -> String {
    let table = unique(prefix);
    shape.create(client, &table, false).await;
    table
}

/// The full-export lines (`{"Item": ...}`) of `items`.
pub fn export_lines(items: &[SdkItem]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            format!(
                "{{\"Item\":{}}}",
                item_to_dynamodb_json(item).expect("known types")
            )
        })
        .collect()
}

/// The change records of export `lines` of `table`.
pub fn export_changes<'a>(
    lines: &'a [String],
    table: &'a str,
    schema: &'a KeySchema,
) -> Vec<ChangeRecord<'a>> {
    let source = ExportSource {
        table_name: table,
        key_schema: schema,
        kind: ExportKind::Full {
            export_time_ms: EXPORT_TIME_MS,
        },
        version_margin_ms: cdc_record::version::DEFAULT_EXPORT_MARGIN_MS,
        options: MappingOptions::default(),
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| map_export_line(line, i as u64 + 1, &source).expect("mappable line"))
        .collect()
}

/// Writes `records` through the sink at `url`; every record must be accepted.
pub async fn write_through(url: &str, records: &[ChangeRecord<'_>]) {
    let aws = AwsContext::with_config(cdc_testkit::dynamodb_local());
    let sink = SinkConfig::parse(url)
        .expect("sink URL")
        .build(url, &aws)
        .await
        .expect("sink");
    for chunk in records.chunks(100) {
        let report = sink
            .write(chunk, Instant::now() + Duration::from_secs(60))
            .await;
        assert!(report.failures.is_empty(), "{url}: {:?}", report.failures);
    }
}

/// Options for a quick run (the read rate is tested on its own).
pub fn fast(options: Options) -> Options {
    Options {
        max_reads_per_second: 1_000_000,
        ..options
    }
}

pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub fn n(text: &str) -> AttributeValue {
    AttributeValue::N(text.into())
}

pub async fn put(client: &Client, table: &str, item: SdkItem) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("put item");
}

pub async fn delete(client: &Client, table: &str, key: SdkItem) {
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key))
        .send()
        .await
        .expect("delete item");
}

pub fn item(attributes: &[(&str, AttributeValue)]) -> SdkItem {
    attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
