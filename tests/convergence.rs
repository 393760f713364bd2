//! Convergence: a seeded random workload on DynamoDB Local source tables (keys of type S, N
//! and B, with and without sort key, every attribute type, large items); their real stream
//! records, read back through the Streams API, are delivered to stream-handler the way Lambda
//! does — in batches, retried from the reported item, with duplicated batches and replayed
//! suffixes — while the connection to the sinks' DynamoDB breaks at random. At the end the
//! replica and the batch copy equal the source item for item, and the history holds every
//! change exactly once, in per-item order.

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use cdc_e2e::items::{live_items, scan};
use cdc_e2e::lambda::{deliver, Delivery};
use cdc_e2e::proxy::Proxy;
use cdc_e2e::streams;
use cdc_e2e::workload::{KeyAttribute, TableShape, Workload};
use cdc_sinks::AwsContext;
use cdc_testkit::{create_table, dynamodb_local, dynamodb_local_endpoint, unique};
use stream_handler::{Settings, StreamHandler};

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

/// The sinks' connection: through the fault proxy, without SDK retries, so that broken
/// requests surface as failed records and Lambda-style retries.
fn through(proxy: &Proxy) -> SdkConfig {
    dynamodb_local()
        .into_builder()
        .endpoint_url(&proxy.endpoint)
        .retry_config(RetryConfig::disabled())
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_batch_copy_and_history_converge_under_lambda_delivery_and_faults() {
    let source_config = dynamodb_local();
    let dynamodb = aws_sdk_dynamodb::Client::new(&source_config);
    let streams_client = aws_sdk_dynamodbstreams::Client::new(&source_config);
    let proxy = Proxy::start(&dynamodb_local_endpoint()).await;
    let aws = Arc::new(AwsContext::with_config(through(&proxy)));
    let mut rng = fastrand::Rng::with_seed(SEED);

    for (suffix, shape) in shapes() {
        let table = unique(&format!("conv-{suffix}"));
        let (pk, sk) = shape.key_specs();
        create_table(&dynamodb, &table, &pk, sk.as_deref(), true).await;
        create_table(
            &dynamodb,
            &format!("{table}-replica"),
            &pk,
            sk.as_deref(),
            false,
        )
        .await;
        create_table(
            &dynamodb,
            &format!("{table}-batch"),
            &pk,
            sk.as_deref(),
            false,
        )
        .await;
        create_table(
            &dynamodb,
            &format!("{table}-history"),
            "primary_key",
            Some("change"),
            false,
        )
        .await;

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

        let sinks = format!("dynamodb://{table}-replica,dynamodb://{table}-history?mode=history,dynamodb://{table}-batch?mode=batch");
        let key_schema = shape.key_schema_entry(&table);
        let settings = Settings::from_env(|name| match name {
            "CDC_SINKS" => Some(sinks.clone()),
            "CDC_KEY_SCHEMA" => Some(key_schema.clone()),
            _ => None,
        })
        .expect("settings");
        let handler = StreamHandler::from_settings(settings, aws.clone())
            .await
            .expect("handler");

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
    }
}
