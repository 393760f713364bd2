//! Snapshot plus stream converge: a table on DynamoDB Local is preloaded, exported at T (a
//! faithful export of a consistent scan, in AWS's layout, into moto's S3), then changed by a
//! random workload; its whole stream (from before T) is delivered to stream-handler
//! Lambda-style (duplicated batches, retries from the reported record, replayed suffixes)
//! while export-processor loads the export (a) before, (b) after and (c) in the middle of the
//! stream. Every destination the product accepts for snapshot loads ends equal to the source,
//! deleted items staying deleted: the DynamoDB replica, and an OpenSearch index that keeps
//! deletes long enough (the in-test fake of OpenSearch's wire protocol: no OpenSearch engine
//! runs here). An index with OpenSearch's default 60-second `index.gc_deletes` is refused with
//! a message that says why and what to do.
//!
//! Versions are the crux: DynamoDB Local stamps stream records to the whole minute, the export
//! is versioned 60 s below T, so replays and either order must still end at the latest state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cdc_e2e::items::{live_items, scan};
use cdc_e2e::lambda::{deliver, handler, Delivery};
use cdc_e2e::streams;
use cdc_e2e::workload::{KeyAttribute, TableShape, Workload};
use cdc_lambda::AwsContext;
use cdc_record::{map_export_line, ExportKind, ExportSource, KeySchema, MappingOptions};
use cdc_testkit::exports::{
    create_bucket, item_to_dynamodb_json, moto_s3, write_full_export, ExportSpec,
};
use cdc_testkit::items::{as_exported, scan_all, Item};
use cdc_testkit::{create_table, dynamodb_local, dynamodb_local_endpoint, moto_endpoint, unique};
use export_processor::ExportProcessor;
use serde_json::Value;
use tokio::time::Instant;

use cdc_testkit::opensearch::FakeOpenSearch;

const SEED: u64 = 0x5EA9_5407;

fn shape() -> TableShape {
    TableShape {
        partition_key: KeyAttribute {
            name: "pk",
            kind: 'S',
        },
        sort_key: Some(KeyAttribute {
            name: "sk",
            kind: 'N',
        }),
    }
}

#[derive(Debug, Clone, Copy)]
enum Order {
    ExportFirst,
    StreamFirst,
    Interleaved,
}

/// The processor as deployed, writing to `sinks`.
async fn processor(sinks: &str, key_schema: &str, aws: Arc<AwsContext>) -> ExportProcessor {
    let env = [
        ("CDC_SINKS", sinks.to_owned()),
        ("CDC_KEY_SCHEMA", key_schema.to_owned()),
    ];
    let settings = export_processor::Settings::from_env(|name| {
        env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .expect("settings");
    ExportProcessor::from_settings(settings, aws)
        .await
        .expect("processor")
}

/// The notification S3 sends when the export's summary is written, as Lambda passes it.
fn notification(bucket: &str, summary_key: &str) -> Vec<u8> {
    serde_json::json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": summary_key}}}]})
    .to_string()
    .into_bytes()
}

/// What the OpenSearch index must hold for `items`: each item's document under its primary key.
fn expected_documents(items: &[Item], table: &str) -> BTreeMap<String, Value> {
    let schema = KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    };
    let source = ExportSource {
        table_name: table,
        key_schema: &schema,
        kind: ExportKind::Full { export_time_ms: 0 },
        version_margin_ms: 0,
        options: MappingOptions::default(),
    };
    items
        .iter()
        .map(|item| {
            let line = format!("{{\"Item\":{}}}", item_to_dynamodb_json(item));
            let change = map_export_line(&line, 1, &source).expect("mappable");
            let document =
                serde_json::from_str(change.document.as_ref().expect("a document").json()).unwrap();
            (change.key.primary_key.into_owned(), document)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_stream_converge_in_any_order_into_every_destination_that_accepts_them() {
    let ddb = aws_sdk_dynamodb::Client::new(&dynamodb_local());
    let streams_client = aws_sdk_dynamodbstreams::Client::new(&dynamodb_local());
    // The functions' AWS configuration comes from the environment, as in Lambda (this binary
    // runs one test, so setting it races with nothing).
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local_endpoint());
    std::env::set_var("AWS_ENDPOINT_URL_S3", moto_endpoint());
    std::env::set_var("AWS_ENDPOINT_URL_SQS", moto_endpoint());
    let aws = Arc::new(AwsContext::new());
    let mut rng = fastrand::Rng::with_seed(SEED);
    let shape = shape();

    // Preloaded, exported at T, then changed.
    let table = unique("snap");
    let (pk, sk) = shape.key_specs();
    create_table(&ddb, &table, &pk, sk.as_deref(), true).await;
    let mut workload = Workload::new(rng.u64(..), 30);
    workload.run(&ddb, &table, &shape, 150).await;
    let export_time_ms = cdc_lambda::now_ms() / 1000 * 1000;
    let snapshot: Vec<Item> = scan_all(&ddb, &table)
        .await
        .iter()
        .map(as_exported)
        .collect();
    workload.run(&ddb, &table, &shape, 250).await;
    let records =
        streams::read_all(&ddb, &streams_client, &dynamodb_local_endpoint(), &table).await;
    let source = scan(&ddb, &table).await;
    // Items of the snapshot deleted after T: a late snapshot copy must not bring them back.
    let key = |item: &Item| {
        format!(
            "{:?}",
            cdc_testkit::items::canonical_item(&cdc_testkit::exports::keys_of(item, &["pk", "sk"]))
        )
    };
    let live_keys: Vec<String> = scan_all(&ddb, &table).await.iter().map(key).collect();
    let deleted_after_t = snapshot
        .iter()
        .filter(|item| !live_keys.contains(&key(item)))
        .count();
    assert!(
        deleted_after_t > 0 && !source.is_empty(),
        "{deleted_after_t} deleted after T"
    );

    let bucket = unique("snap").to_lowercase();
    create_bucket(&moto_s3(), &bucket).await;
    let mut spec = ExportSpec::new(&bucket, "exports", &table, "pk");
    spec.export_time_ms = export_time_ms;
    spec.partitions = 4;
    let written = write_full_export(&moto_s3(), &spec, &snapshot).await;
    let load = notification(&bucket, &written.summary_key);
    let key_schema = shape.key_schema_entry(&table);

    for order in [Order::ExportFirst, Order::StreamFirst, Order::Interleaved] {
        let replica = unique("snap-replica");
        create_table(&ddb, &replica, &pk, sk.as_deref(), false).await;
        let opensearch = FakeOpenSearch::start().await;
        opensearch.create_index("kept", Some("2d"));
        let sinks = format!("dynamodb://{replica},{}", opensearch.url("kept"));
        let stream = handler(&sinks, &key_schema, aws.clone()).await;
        let snapshot_loader = processor(&sinks, &key_schema, aws.clone()).await;
        let delivery = Delivery {
            max_batch: 25,
            duplicate_every: 3,
            replay_every: 4,
        };
        let load_export = || async {
            let invocation = snapshot_loader
                .handle(&load, Instant::now() + Duration::from_secs(120))
                .await
                .expect("the export loads");
            assert!(invocation.response.batch_item_failures.is_empty());
        };
        match order {
            Order::ExportFirst => {
                load_export().await;
                deliver(&stream, &records, delivery, &mut rng).await;
            }
            Order::StreamFirst => {
                deliver(&stream, &records, delivery, &mut rng).await;
                load_export().await;
            }
            Order::Interleaved => {
                let half = records.len() / 2;
                deliver(&stream, &records[..half], delivery, &mut rng).await;
                load_export().await;
                deliver(&stream, &records[half..], delivery, &mut rng).await;
            }
        }
        // What an operator runs after a bootstrap, here with no read-rate bound.
        let mut check = cdc_verify::Options::new(table.clone())
            .replica(replica.clone(), cdc_verify::ReplicaMode::Replica);
        check.max_reads_per_second = 1_000_000;
        let report = cdc_verify::verify(&ddb, &check).await.expect("verify");
        assert!(report.equal, "{order:?}: replica\n{}", report.to_text());
        assert_eq!(
            live_items(scan(&ddb, &replica).await),
            source,
            "{order:?}: replica"
        );
        let live: Vec<Item> = scan_all(&ddb, &table)
            .await
            .iter()
            .map(as_exported)
            .collect();
        let indexed: BTreeMap<String, Value> = opensearch
            .documents("kept")
            .into_iter()
            .map(|(id, (_, document))| (id, document))
            .collect();
        assert_eq!(
            indexed,
            expected_documents(&live, &table),
            "{order:?}: OpenSearch"
        );
    }

    // OpenSearch's default: deletes forgotten after 60 s. A load could resurrect items: refused.
    let opensearch = FakeOpenSearch::start().await;
    opensearch.create_index("default", None);
    let refused = processor(&opensearch.url("default"), &key_schema, aws.clone()).await;
    let err = refused
        .handle(&load, Instant::now() + Duration::from_secs(60))
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("keeps deletes for 60s")
            && err.contains("index.gc_deletes")
            && err.contains("CDC_EXPORT_STREAM_AFTER_LOAD=true"),
        "{err}"
    );
    assert!(opensearch.documents("default").is_empty());
}
