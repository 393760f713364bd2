//! Convergence: a seeded random workload on DynamoDB Local source tables (keys of type S, N
//! and B, with and without sort key, every attribute type, large items); their real stream
//! records, read back through the Streams API, are delivered to stream-handler the way Lambda
//! does — in batches, retried from the reported item, with duplicated batches and replayed
//! suffixes — while the connection to the sinks' DynamoDB breaks at random. At the end the
//! replica and the batch copy equal the source item for item, the history holds every change
//! exactly once, the S3 objects hold every change (each object in stream order) and the SQS
//! FIFO queue every change exactly once in per-item order.
//!
//! The function's AWS configuration comes from the environment, as in Lambda:
//! `AWS_ENDPOINT_URL_DYNAMODB` (through the fault proxy), `AWS_ENDPOINT_URL_S3` and
//! `AWS_ENDPOINT_URL_SQS` (moto), `AWS_MAX_ATTEMPTS=1` so that broken requests reach the
//! handler instead of being retried by the SDK.

use std::sync::Arc;

use std::collections::BTreeMap;

use cdc_e2e::items::{live_items, scan};
use cdc_e2e::lambda::{deliver, handler, Delivery};
use cdc_e2e::proxy::Proxy;
use cdc_e2e::workload::{KeyAttribute, TableShape, Workload};
use cdc_e2e::{outputs, streams};
use cdc_lambda::AwsContext;
use cdc_record::{KeySchema, MappingOptions, StreamRecord};
use cdc_testkit::{
    create_history_table, create_table, dynamodb_local, dynamodb_local_endpoint, moto,
    moto_endpoint, unique,
};

const SEED: u64 = 0x05EE_DCDC;

fn shapes() -> Vec<(&'static str, TableShape)> {
    let key = |name, kind| KeyAttribute { name, kind };
    vec![
        (
            "s-n",
            TableShape {
                partition_key: key("pk", 'S'),
                sort_key: Some(key("sk", 'N')),
            },
        ),
        (
            "b",
            TableShape {
                partition_key: key("id", 'B'),
                sort_key: None,
            },
        ),
        (
            "n-s",
            TableShape {
                partition_key: key("pk", 'N'),
                sort_key: Some(key("sk", 'S')),
            },
        ),
    ]
}

/// Points the function's AWS configuration at the emulators (this binary runs one test, so
/// setting the environment races with nothing).
fn environment(proxy: &Proxy) {
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", &proxy.endpoint);
    std::env::set_var("AWS_ENDPOINT_URL_S3", moto_endpoint());
    std::env::set_var("AWS_ENDPOINT_URL_SQS", moto_endpoint());
    std::env::set_var("AWS_MAX_ATTEMPTS", "1");
}

/// Sequence numbers compare as numbers (they need not have a fixed width).
fn sequence(delivered: &outputs::Delivered) -> u128 {
    delivered
        .sequence_number
        .parse()
        .expect("a decimal sequence number")
}

/// Each item's sequence numbers in stream order, by primary_key.
fn expected_per_item(
    records: &[Box<serde_json::value::RawValue>],
    shape: &TableShape,
) -> BTreeMap<String, Vec<String>> {
    let schema = KeySchema {
        partition_key: shape.partition_key.name.into(),
        sort_key: shape.sort_key.map(|k| k.name.into()),
    };
    let mut items: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for raw in records {
        let change = StreamRecord::parse(raw.get())
            .and_then(|r| r.into_change(&schema, &MappingOptions::default()))
            .expect("mappable")
            .expect("kept");
        items
            .entry(change.key.primary_key.into_owned())
            .or_default()
            .push(change.sequence_number.expect("stream record").into_owned());
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_batch_copy_and_history_converge_under_lambda_delivery_and_faults() {
    let source_config = dynamodb_local();
    let dynamodb = aws_sdk_dynamodb::Client::new(&source_config);
    let streams_client = aws_sdk_dynamodbstreams::Client::new(&source_config);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto())
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&moto());
    let proxy = Proxy::start(&dynamodb_local_endpoint()).await;
    environment(&proxy);
    let aws = Arc::new(AwsContext::new());
    let mut rng = fastrand::Rng::with_seed(SEED);

    for (suffix, shape) in shapes() {
        let table = unique(&format!("conv-{suffix}"));
        let (pk, sk) = shape.key_specs();
        create_table(&dynamodb, &table, &pk, sk.as_deref(), true).await;
        for copy in ["replica", "batch"] {
            create_table(
                &dynamodb,
                &format!("{table}-{copy}"),
                &pk,
                sk.as_deref(),
                false,
            )
            .await;
        }
        create_history_table(&dynamodb, &format!("{table}-history")).await;

        Workload::new(rng.u64(..), 12)
            .run(&dynamodb, &table, &shape, 400)
            .await;
        let records = streams::read_all(
            &dynamodb,
            &streams_client,
            &dynamodb_local_endpoint(),
            &table,
        )
        .await;
        // Deletes of absent items and puts that change nothing make no record.
        assert!(records.len() > 250, "{} stream records", records.len());

        s3.create_bucket()
            .bucket(&table)
            .send()
            .await
            .expect("bucket");
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{table}.fifo"))
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("queue URL");
        let sinks = format!(
            "dynamodb://{table}-replica,dynamodb://{table}-history?mode=history,dynamodb://{table}-batch?mode=batch,s3://{table}/cdc,sqs://{queue_url}"
        );
        let key_schema = shape.key_schema_entry(&table);
        let handler = handler(&sinks, &key_schema, aws.clone()).await;

        proxy.flaky(0.03, rng.u64(..));
        let delivery = Delivery {
            max_batch: 40,
            duplicate_every: 4,
            replay_every: 5,
        };
        let stats = deliver(&handler, &records, delivery, &mut rng).await;
        proxy.heal();
        eprintln!("{suffix}: {} records, {stats:?}", records.len());
        assert!(
            stats.partial_failures > 0,
            "faults reached the handler: {stats:?}"
        );
        assert!(stats.duplicates > 0 && stats.replays > 0, "{stats:?}");

        let source = scan(&dynamodb, &table).await;
        assert!(!source.is_empty());
        assert_eq!(
            live_items(scan(&dynamodb, &format!("{table}-replica")).await),
            source,
            "{suffix}: replica"
        );
        assert_eq!(
            scan(&dynamodb, &format!("{table}-batch")).await,
            source,
            "{suffix}: batch copy"
        );
        let history = scan(&dynamodb, &format!("{table}-history")).await;
        assert_eq!(
            history.len(),
            records.len(),
            "{suffix}: every change once in the history"
        );

        let expected = expected_per_item(&records, &shape);
        let objects = outputs::s3_objects(&s3, &table, "cdc/").await;
        for object in &objects {
            assert!(
                object.windows(2).all(|w| sequence(&w[0]) < sequence(&w[1])),
                "{suffix}: an S3 object in stream order"
            );
        }
        let mut in_s3 = outputs::per_item(&objects.concat());
        in_s3.values_mut().for_each(|seqs| {
            seqs.sort();
            seqs.dedup();
        });
        assert_eq!(in_s3, expected, "{suffix}: every change in S3");
        let messages = outputs::sqs_messages(&sqs, &queue_url).await;
        assert_eq!(
            outputs::per_item(&messages),
            expected,
            "{suffix}: SQS FIFO: every change once, in per-item order"
        );
    }
}
