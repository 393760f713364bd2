//! Exports load exactly: every item reaches the sinks once and equal to the source item, from
//! DYNAMODB_JSON and ION alike, and a full export plus an incremental one leave a replica equal
//! to the table. Exports are written in AWS's layout into moto's S3 from real DynamoDB Local
//! scans (moto's own export files are not AWS's); the manifest notification arrives as moto
//! delivers it through SQS.

mod support;

use cdc_telemetry::names;
use cdc_testkit::exports::{write_incremental_export, Format, IncrementalChange, Kind, View};
use cdc_testkit::generate::{put_items, KeyAttribute, TableShape};
use cdc_testkit::items::{live_items, scan, scan_all, Item};
use cdc_testkit::json::Json;
use cdc_testkit::{dynamodb_local, unique};
use support::*;

fn shapes() -> Vec<TableShape> {
    let key = |name, kind| KeyAttribute { name, kind };
    vec![
        TableShape {
            partition_key: key("pk", 'S'),
            sort_key: Some(key("sk", 'N')),
        },
        TableShape {
            partition_key: key("id", 'B'),
            sort_key: None,
        },
        TableShape {
            partition_key: key("n", 'N'),
            sort_key: Some(key("b", 'B')),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_arrives_once_and_exact_from_json_and_ion_alike() {
    let bucket = Bucket::new().await;
    for (seed, shape) in shapes().into_iter().enumerate() {
        let source = Source::new(shape, seed as u64, 60).await;
        let mut outputs = Vec::new();
        let exported = source.spec(&bucket.name);
        for format in [Format::DynamoDbJson, Format::Ion] {
            let mut spec = exported.clone();
            spec.prefix = unique("exports");
            spec.format = format;
            spec.partitions = 4;
            spec.empty_partitions = 1;
            spec.zero_byte_partitions = 1;
            spec.gzip_members = 2;
            let (written, notification) = bucket.export(&spec, &source.items).await;
            let output = output_file("records");
            let processor =
                processor(&[("CDC_SINKS", file_url(&output)), source.key_schema()]).await;
            let invocation = invoke(&processor, &sqs_event(&[notification])).await;

            assert!(
                invocation.response.batch_item_failures.is_empty(),
                "{format:?}"
            );
            let metrics = &invocation.metrics;
            assert_eq!(
                metrics.counter(names::EXPORT_S3_OBJECTS_TOTAL),
                written.data_files.len() as u64
            );
            assert_eq!(
                metrics.counter(names::EXPORT_S3_OBJECTS_PROCESSED),
                written.data_files.len() as u64
            );
            assert_eq!(
                metrics.counter(names::EXPORT_RECORDS_TOTAL),
                source.items.len() as u64
            );
            assert_eq!(
                metrics.counter(names::EXPORT_RECORDS_PROCESSED),
                source.items.len() as u64
            );
            assert_eq!(metrics.counter(names::EXPORT_RECORDS_PROCESSING_ERRORS), 0);
            let sink = metrics
                .section_of(&[("Sink".to_owned(), file_url(&output))])
                .expect("the file sink's metrics");
            assert_eq!(
                sink.counter(names::SINK_RECORDS_WRITTEN),
                source.items.len() as u64
            );
            assert_eq!(
                documents(&output),
                expected_documents(&source.items),
                "{format:?}"
            );
            for line in lines(&output) {
                let metadata = Json::parse(&line).get("metadata").clone();
                assert_eq!(metadata.get("source").str(), "export");
                assert_eq!(metadata.get("table_name").str(), source.table);
                assert_eq!(metadata.get("dynamodb_event_name"), &Json::Null);
                assert_eq!(
                    metadata.get("document_version"),
                    &Json::Number((spec.export_time_ms - 60_000).to_string())
                );
            }
            let mut sorted = lines(&output);
            sorted.sort();
            outputs.push(sorted);
        }
        assert_eq!(
            outputs[0], outputs[1],
            "ION and DYNAMODB_JSON give byte-identical change records"
        );
    }
}

/// The table's changes between two exports, as an incremental export holds them: each changed
/// item's last state (or its delete), with its old image.
fn changes_between(
    before: &[Item],
    after: &[Item],
    keys: &[&str],
    write_time_micros: i64,
) -> Vec<IncrementalChange> {
    let key_of = |item: &Item| {
        format!(
            "{:?}",
            cdc_testkit::items::canonical_item(&cdc_testkit::exports::keys_of(item, keys))
        )
    };
    let find = |items: &[Item], key: &str| items.iter().find(|i| key_of(i) == key).cloned();
    let mut changes = Vec::new();
    for item in after {
        let old = find(before, &key_of(item));
        if old.as_ref().map(cdc_testkit::items::canonical_item)
            != Some(cdc_testkit::items::canonical_item(item))
        {
            changes.push(IncrementalChange::upsert(
                keys,
                item.clone(),
                old,
                write_time_micros,
            ));
        }
    }
    for item in before {
        if find(after, &key_of(item)).is_none() {
            changes.push(IncrementalChange::delete(
                keys,
                item.clone(),
                write_time_micros,
            ));
        }
    }
    changes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_and_an_incremental_export_leave_the_replica_equal_to_the_table_in_either_order() {
    let bucket = Bucket::new().await;
    let ddb = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let shape = shapes().remove(0);
    let source = Source::new(shape.clone(), 11, 80).await;
    let before = source.items.clone();

    // The table changes after the full export: updates, deletes and inserts.
    let later = cdc_testkit::generate::items(&shape, 12, 200);
    let updated: Vec<Item> = before
        .iter()
        .take(20)
        .map(|item| {
            let mut item = item.clone();
            item.insert(
                "version".into(),
                aws_sdk_dynamodb::types::AttributeValue::N("2".into()),
            );
            item
        })
        .collect();
    put_items(&ddb, &source.table, &updated).await;
    put_items(&ddb, &source.table, &later[190..]).await;
    for item in before.iter().skip(20).take(15) {
        ddb.delete_item()
            .table_name(&source.table)
            .set_key(Some(cdc_testkit::exports::keys_of(
                item,
                &source.key_names(),
            )))
            .send()
            .await
            .expect("delete");
    }
    let after: Vec<Item> = scan_all(&ddb, &source.table)
        .await
        .iter()
        .map(cdc_testkit::items::as_exported)
        .collect();

    let mut full = source.spec(&bucket.name);
    full.export_time_ms = (cdc_lambda::now_ms() - 7_200_000) / 1000 * 1000;
    let (_, full_notification) = bucket.export(&full, &before).await;
    let mut incremental = source.spec(&bucket.name);
    incremental.format = Format::Ion;
    incremental.kind = Kind::Incremental {
        from_ms: full.export_time_ms,
        to_ms: full.export_time_ms + 3_600_000,
        view: View::NewAndOldImages,
    };
    // Written in the same second as the full export time, the hardest case for versions.
    let changes = changes_between(
        &before,
        &after,
        &source.key_names(),
        (full.export_time_ms + 400) * 1000,
    );
    assert_eq!(changes.len(), 20 + 10 + 15);
    write_incremental_export(&cdc_testkit::exports::moto_s3(), &incremental, &changes).await;
    let incremental_notification = bucket.notification().await;

    for order in [
        [&full_notification, &incremental_notification],
        [&incremental_notification, &full_notification],
    ] {
        let replica = unique("replica");
        shape.create(&ddb, &replica, false).await;
        let processor = processor(&[
            ("CDC_SINKS", format!("dynamodb://{replica}")),
            source.key_schema(),
        ])
        .await;
        for notification in order {
            let invocation =
                invoke(&processor, &sqs_event(std::slice::from_ref(notification))).await;
            assert!(invocation.response.batch_item_failures.is_empty());
        }
        assert_eq!(
            live_items(scan(&ddb, &replica).await),
            scan(&ddb, &source.table).await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_that_forget_deletes_are_refused_for_snapshot_loads_unless_the_stream_starts_after() {
    let bucket = Bucket::new().await;
    let source = Source::new(shapes().remove(1), 3, 5).await;
    let (_, notification) = bucket
        .export(&source.spec(&bucket.name), &source.items)
        .await;
    let payload = sqs_event(&[notification]);
    let ddb = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let replica = unique("replica");
    source.shape.create(&ddb, &replica, false).await;
    let cases = [
        (
            format!("dynamodb://{replica}?mode=batch"),
            "does not keep deletes",
        ),
        (
            format!("dynamodb://{replica}?tombstones=false"),
            "does not keep deletes",
        ),
        (
            format!("dynamodb://{replica}?tombstone_ttl_days=1"),
            "keeps deletes for 86400s",
        ),
    ];
    for (sink, why) in cases {
        let settings = [
            ("CDC_SINKS", sink.clone()),
            source.key_schema(),
            ("CDC_EXPORT_LOAD_WINDOW_MINUTES", "2880".into()),
        ];
        let refused = processor(&settings).await;
        // Through SQS the message fails (retried, then the work queue's DLQ and its alarm)...
        let invocation = invoke(&refused, &payload).await;
        assert_eq!(invocation.response.batch_item_failures.len(), 1, "{sink}");
        // ...and invoked directly, the invocation fails naming the sink and the way out.
        let s3_event = serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["Records"][0]
            ["body"]
            .as_str()
            .unwrap()
            .to_owned();
        let err = refused
            .handle(s3_event.as_bytes(), tokio::time::Instant::now() + timeout())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&sink)
                && err.contains(why)
                && err.contains("CDC_EXPORT_STREAM_AFTER_LOAD=true"),
            "{err}"
        );
        assert!(scan_all(&ddb, &replica).await.is_empty(), "nothing written");

        let mut allowed = settings.to_vec();
        allowed.push(("CDC_EXPORT_STREAM_AFTER_LOAD", "true".into()));
        let invocation = invoke(&processor(&allowed).await, &payload).await;
        assert!(invocation.response.batch_item_failures.is_empty(), "{sink}");
        assert_eq!(
            live_items(scan(&ddb, &replica).await),
            scan(&ddb, &source.table).await
        );
        for item in scan_all(&ddb, &replica).await {
            ddb.delete_item()
                .table_name(&replica)
                .set_key(Some(cdc_testkit::exports::keys_of(
                    &item,
                    &source.key_names(),
                )))
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_file_older_than_its_sinks_remember_deletes_is_refused_when_it_loads() {
    let bucket = Bucket::new().await;
    let source = Source::new(shapes().remove(0), 4, 5).await;
    let ddb = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let replica = unique("replica");
    source.shape.create(&ddb, &replica, false).await;
    let processor = processor(&[
        (
            "CDC_SINKS",
            format!("dynamodb://{replica}?tombstone_ttl_days=1"),
        ),
        source.key_schema(),
        ("CDC_EXPORT_LOAD_WINDOW_MINUTES", "60".into()),
    ])
    .await;
    let mut spec = source.spec(&bucket.name);
    for (age_hours, loads) in [(2, true), (30, false)] {
        // A work message for one file, as the manifest step sent it (or a redrive, later).
        spec.export_time_ms = cdc_lambda::now_ms() - age_hours * 3_600_000;
        let (written, _) = bucket.export(&spec, &source.items).await;
        let file = &written.data_files[0];
        let work = cdc_exports::work::FileWork {
            bucket: bucket.name.clone(),
            key: file.key.clone(),
            export_arn: written.export_arn.clone(),
            table_name: source.table.clone(),
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
            format: cdc_exports::manifest::Format::DynamoDbJson,
            kind: cdc_exports::manifest::Kind::Full {
                export_time_ms: spec.export_time_ms,
            },
            item_count: file.manifest_item_count as u64,
            md5: Some(file.md5.clone()),
            start_line: 0,
        };
        let invocation = invoke(&processor, &sqs_event(&[work.to_message()])).await;
        assert_eq!(
            invocation.response.batch_item_failures.is_empty(),
            loads,
            "export {age_hours} h old, tombstones kept 24 h"
        );
    }
}
