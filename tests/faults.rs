//! Faults: the sinks' endpoint disappears in the middle of a batch. The reported
//! `itemIdentifier` must be the first record not durably written, and the retry from there
//! must complete with nothing lost and nothing duplicated.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_e2e::items::{live_items, scan, Canonical};
use cdc_e2e::lambda::handler;
use cdc_e2e::proxy::Proxy;
use cdc_e2e::streams;
use cdc_lambda::AwsContext;
use cdc_testkit::{
    create_history_table, create_table, dynamodb_local, dynamodb_local_endpoint, payload, unique,
};
use tokio::time::Instant;

fn sequence_number(raw: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(raw).expect("record");
    value["dynamodb"]["SequenceNumber"]
        .as_str()
        .expect("sequence number")
        .to_owned()
}

fn pk(raw: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(raw).expect("record");
    value["dynamodb"]["Keys"]["pk"]["S"]
        .as_str()
        .expect("pk")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_disappearing_mid_batch_reports_the_first_record_not_written() {
    let config = dynamodb_local();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let streams_client = aws_sdk_dynamodbstreams::Client::new(&config);
    let table = unique("faults");
    create_table(&dynamodb, &table, "pk", None, true).await;
    create_table(&dynamodb, &format!("{table}-replica"), "pk", None, false).await;
    create_history_table(&dynamodb, &format!("{table}-history")).await;
    for i in 0..120 {
        let item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("item-{i:03}"))),
            ("n".to_owned(), AttributeValue::N(i.to_string())),
        ]);
        dynamodb
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put");
    }
    let records = streams::read_all(
        &dynamodb,
        &streams_client,
        &dynamodb_local_endpoint(),
        &table,
    )
    .await;
    assert_eq!(records.len(), 120);

    let proxy = Proxy::start(&dynamodb_local_endpoint()).await;
    let sinks_config = config
        .into_builder()
        .endpoint_url(&proxy.endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    // One request at a time per sink, so that which requests get through is deterministic.
    let sinks = format!(
        "dynamodb://{table}-replica?concurrency=1,dynamodb://{table}-history?mode=history&concurrency=1"
    );
    let key_schema = format!("{table}:pk");
    let handler = handler(
        &sinks,
        &key_schema,
        Arc::new(AwsContext::with_config(sinks_config)),
    )
    .await;
    let deadline = || Instant::now() + Duration::from_secs(60);

    // The endpoint takes 40 requests, then is gone.
    proxy.disappear_after(40);
    let invocation = handler
        .handle(&payload(&records), deadline())
        .await
        .expect("invocation");
    let failed = &invocation.response.batch_item_failures;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let k = records
        .iter()
        .position(|r| sequence_number(r.get()) == failed[0].item_identifier)
        .expect("itemIdentifier names a record of the batch");
    assert!(k > 0 && k < records.len(), "k = {k}");

    // Every record before k is durably in both sinks; record k is not in the replica.
    let replica_keys: Vec<Canonical> = scan(&dynamodb, &format!("{table}-replica"))
        .await
        .iter()
        .map(|item| item["pk"].clone())
        .collect();
    let history = scan(&dynamodb, &format!("{table}-history")).await;
    let in_replica = |raw: &str| replica_keys.contains(&Canonical::S(pk(raw)));
    for record in &records[..k] {
        assert!(
            in_replica(record.get()),
            "{} before k is in the replica",
            pk(record.get())
        );
    }
    let history_of = |raw: &str| {
        history
            .iter()
            .filter(|item| item["primary_key"] == Canonical::S(pk(raw)))
            .count()
    };
    for record in &records[..k] {
        assert_eq!(
            history_of(record.get()),
            1,
            "{} before k is in the history",
            pk(record.get())
        );
    }
    assert!(
        !in_replica(records[k].get()) || history_of(records[k].get()) == 0,
        "record k was not durably written to every sink"
    );

    // Lambda retries from k once the endpoint is back: everything arrives, once.
    proxy.heal();
    let retry = handler
        .handle(&payload(&records[k..]), deadline())
        .await
        .expect("retry");
    assert!(retry.response.batch_item_failures.is_empty());
    assert_eq!(
        live_items(scan(&dynamodb, &format!("{table}-replica")).await),
        scan(&dynamodb, &table).await
    );
    let history = scan(&dynamodb, &format!("{table}-history")).await;
    assert_eq!(
        history.len(),
        records.len(),
        "each change exactly once in the history"
    );
}

/// A replica write of an older change, abandoned at its deadline but still on its way, lands
/// after the newer change of the same second (same `document_version`) was written: the
/// replica keeps the newer one (the sequence number breaks the tie). The proxy holds the older
/// write until the newer one is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_older_write_landing_late_does_not_undo_a_newer_same_second_change() {
    let config = dynamodb_local();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("held");
    create_table(&dynamodb, &table, "pk", Some("sk"), false).await;
    let proxy = Proxy::start(&dynamodb_local_endpoint()).await;
    let through_proxy = config
        .to_builder()
        .endpoint_url(&proxy.endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    let url = format!("dynamodb://{table}");
    let sink = cdc_sinks::SinkConfig::parse(&url)
        .unwrap()
        .build(&url, &AwsContext::with_config(through_proxy))
        .await
        .unwrap();
    // Two changes of one item in one second: the older carries a marker the proxy holds.
    let change = |seq: u64, text: &str| {
        let mut record: serde_json::Value = serde_json::from_str(&cdc_testkit::stream_record_json(
            "src",
            seq,
            "MODIFY",
            "a",
            "v0",
            Some(cdc_testkit::image("a", "v0", seq, text)),
        ))
        .unwrap();
        record["dynamodb"]["ApproximateCreationDateTime"] = 1_795_278_200.into();
        record.to_string()
    };
    let (older, newer) = (change(20, "HOLD-ME"), change(21, "newer"));
    proxy.hold_requests_containing(b"HOLD-ME");
    let report = sink
        .write(
            &cdc_testkit::changes(std::slice::from_ref(&older)),
            Instant::now() + Duration::from_secs(2),
        )
        .await;
    assert_eq!(report.failures.len(), 1, "abandoned at the deadline");
    proxy.held(1).await;
    let report = sink
        .write(
            &cdc_testkit::changes(std::slice::from_ref(&newer)),
            Instant::now() + Duration::from_secs(10),
        )
        .await;
    assert!(report.failures.is_empty(), "{report:?}");
    proxy.release(1).await;
    let item = dynamodb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("a".into()))
        .key("sk", AttributeValue::S("v0".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["s"], AttributeValue::S("newer".into()));
}
