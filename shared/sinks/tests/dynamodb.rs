//! The DynamoDB sink against DynamoDB Local (AWS's own engine): replica, history and batch modes.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cdc_lambda::AwsContext;
use cdc_sinks::{FailureKind, Sink, SinkConfig};
use cdc_testkit::{changes, create_table, image, stream_record_json, unique};
use tokio::time::Instant;

type Item = HashMap<String, AttributeValue>;

struct Fixture {
    client: aws_sdk_dynamodb::Client,
    aws: AwsContext,
}

fn fixture() -> Fixture {
    let config = cdc_testkit::dynamodb_local();
    Fixture {
        client: aws_sdk_dynamodb::Client::new(&config),
        aws: AwsContext::with_config(config),
    }
}

impl Fixture {
    async fn sink(&self, url: &str) -> Box<dyn Sink> {
        SinkConfig::parse(url)
            .unwrap()
            .build(url, &self.aws)
            .await
            .unwrap()
    }

    async fn table(&self, pk: &str, sk: Option<&str>) -> String {
        let name = unique("replica");
        create_table(&self.client, &name, pk, sk, false).await;
        name
    }

    async fn scan(&self, table: &str) -> Vec<Item> {
        let mut items = self
            .client
            .scan()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        items.sort_by_key(|i| format!("{:?}{:?}", i.get("pk"), i.get("sk")));
        items
    }

    async fn get(&self, table: &str, pk: &str, sk: &str) -> Option<Item> {
        self.client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

fn n(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn rec(table: &str, seq: u64, event: &str, pk: &str, value: u64) -> String {
    let image = (event != "REMOVE").then(|| image(pk, "v0", value, "text"));
    stream_record_json(table, seq, event, pk, "v0", image)
}

#[tokio::test]
async fn replica_applies_changes_and_keeps_the_version() {
    let f = fixture();
    let table = f.table("pk", Some("sk")).await;
    let sink = f.sink(&format!("dynamodb://{table}")).await;
    let raw = vec![
        rec("src", 1, "INSERT", "a", 1),
        rec("src", 2, "INSERT", "b", 2),
        rec("src", 3, "MODIFY", "a", 3),
        rec("src", 4, "REMOVE", "b", 0),
    ];
    let report = sink.write(&changes(&raw), deadline()).await;
    assert!(report.failures.is_empty(), "{report:?}");
    let a = f.get(&table, "a", "v0").await.unwrap();
    assert_eq!(n(&a, "n"), "3");
    assert_eq!(n(&a, "_cdc_version"), "1795278195000");
    let b = f.get(&table, "b", "v0").await.unwrap();
    assert_eq!(
        b.get("_cdc_deleted"),
        Some(&AttributeValue::Bool(true)),
        "a tombstone"
    );
    assert!(
        !b.contains_key("n"),
        "tombstones hold only keys and bookkeeping"
    );
    assert!(b.contains_key("_cdc_expires_at"));
    // One DescribeTable, then only each item's last change was written.
    assert_eq!(sink.api_calls(), 1 + 2);
}

#[tokio::test]
async fn replica_ignores_older_versions_so_replays_and_late_snapshots_converge() {
    let f = fixture();
    let table = f.table("pk", Some("sk")).await;
    let sink = f.sink(&format!("dynamodb://{table}")).await;
    let newer = vec![
        rec("src", 10, "MODIFY", "a", 10),
        rec("src", 11, "REMOVE", "b", 0),
    ];
    assert!(sink
        .write(&changes(&newer), deadline())
        .await
        .failures
        .is_empty());
    // A replay of older records, and a snapshot copy of the deleted item, arrive late.
    let older = vec![
        rec("src", 5, "MODIFY", "a", 5),
        rec("src", 6, "INSERT", "b", 6),
    ];
    assert!(sink
        .write(&changes(&older), deadline())
        .await
        .failures
        .is_empty());
    assert_eq!(n(&f.get(&table, "a", "v0").await.unwrap(), "n"), "10");
    let b = f.get(&table, "b", "v0").await.unwrap();
    assert_eq!(
        b.get("_cdc_deleted"),
        Some(&AttributeValue::Bool(true)),
        "the deleted item did not come back"
    );
    // Equal versions: the later write wins (ties are delivered in stream order).
    let same_version = vec![stream_record_json(
        "src",
        10,
        "MODIFY",
        "a",
        "v0",
        Some(image("a", "v0", 99, "t")),
    )];
    assert!(sink
        .write(&changes(&same_version), deadline())
        .await
        .failures
        .is_empty());
    assert_eq!(n(&f.get(&table, "a", "v0").await.unwrap(), "n"), "99");
}

/// `rec` with the creation time of record `second_of`: changes within one second share a
/// `document_version`.
fn rec_at(second_of: u64, seq: u64, event: &str, pk: &str, value: u64) -> String {
    let mut record: serde_json::Value =
        serde_json::from_str(&rec("src", seq, event, pk, value)).expect("test record");
    record["dynamodb"]["ApproximateCreationDateTime"] =
        serde_json::from_str(&rec("src", second_of, event, pk, value))
            .map(|r: serde_json::Value| r["dynamodb"]["ApproximateCreationDateTime"].clone())
            .expect("test record");
    record.to_string()
}

#[tokio::test]
async fn replica_breaks_ties_by_sequence_number() {
    let f = fixture();
    let table = f.table("pk", Some("sk")).await;
    let sink = f.sink(&format!("dynamodb://{table}")).await;
    let write = |raw: Vec<String>| {
        let sink = &sink;
        async move {
            let report = sink.write(&changes(&raw), deadline()).await;
            assert!(report.failures.is_empty(), "{report:?}");
        }
    };
    // The newer of two same-second changes is written; the older one, abandoned by an earlier
    // invocation at its deadline, lands on the server afterwards.
    write(vec![rec_at(20, 21, "MODIFY", "a", 21)]).await;
    write(vec![rec_at(20, 20, "MODIFY", "a", 20)]).await;
    assert_eq!(n(&f.get(&table, "a", "v0").await.unwrap(), "n"), "21");
    // Likewise a delete followed, in the same second, by nothing older may come back.
    write(vec![rec_at(30, 31, "REMOVE", "b", 0)]).await;
    write(vec![rec_at(30, 30, "INSERT", "b", 30)]).await;
    let b = f.get(&table, "b", "v0").await.unwrap();
    assert_eq!(b.get("_cdc_deleted"), Some(&AttributeValue::Bool(true)));
    // An item written before sequence numbers were kept loses to an equal version.
    let version = changes(&[rec("src", 40, "MODIFY", "c", 1)])[0].version;
    f.client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("c".into()))
        .item("sk", AttributeValue::S("v0".into()))
        .item("n", AttributeValue::N("0".into()))
        .item("_cdc_version", AttributeValue::N(version.to_string()))
        .send()
        .await
        .unwrap();
    write(vec![rec("src", 40, "MODIFY", "c", 40)]).await;
    let c = f.get(&table, "c", "v0").await.unwrap();
    assert_eq!(n(&c, "n"), "40");
    assert_eq!(
        c.get("_cdc_sequence"),
        Some(&AttributeValue::S(format!("{:0>40}", 40)))
    );
}

#[tokio::test]
async fn replica_without_tombstones_deletes() {
    let f = fixture();
    let table = f.table("pk", Some("sk")).await;
    let sink = f
        .sink(&format!("dynamodb://{table}?tombstones=false"))
        .await;
    let raw = vec![
        rec("src", 1, "INSERT", "a", 1),
        rec("src", 2, "INSERT", "b", 2),
    ];
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    let raw = vec![rec("src", 3, "REMOVE", "a", 0)];
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    assert!(f.get(&table, "a", "v0").await.is_none());
    assert!(f.get(&table, "b", "v0").await.is_some());
}

#[tokio::test]
async fn table_placeholder_routes_each_source_table() {
    let f = fixture();
    let prefix = unique("route");
    for source in ["orders", "users"] {
        create_table(
            &f.client,
            &format!("{prefix}-{source}"),
            "pk",
            Some("sk"),
            false,
        )
        .await;
    }
    let sink = f.sink(&format!("dynamodb://{prefix}-{{table}}")).await;
    let raw = vec![
        rec("orders", 1, "INSERT", "o", 1),
        rec("users", 2, "INSERT", "u", 2),
    ];
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    assert!(f
        .get(&format!("{prefix}-orders"), "o", "v0")
        .await
        .is_some());
    assert!(f.get(&format!("{prefix}-users"), "u", "v0").await.is_some());
    assert!(f
        .get(&format!("{prefix}-orders"), "u", "v0")
        .await
        .is_none());
}

#[tokio::test]
async fn an_item_over_400_kb_is_rejected_for_good_and_the_rest_is_written() {
    let f = fixture();
    for mode in ["replica", "batch"] {
        let table = f.table("pk", Some("sk")).await;
        let sink = f.sink(&format!("dynamodb://{table}?mode={mode}")).await;
        let big = "x".repeat(420 * 1024);
        let raw = vec![
            rec("src", 1, "INSERT", "a", 1),
            stream_record_json(
                "src",
                2,
                "INSERT",
                "big",
                "v0",
                Some(image("big", "v0", 2, &big)),
            ),
            rec("src", 3, "INSERT", "c", 3),
        ];
        let report = sink.write(&changes(&raw), deadline()).await;
        assert_eq!(report.failures.len(), 1, "{mode}: {report:?}");
        assert_eq!(report.failures[0].index, 1);
        assert_eq!(report.failures[0].kind, FailureKind::Permanent, "{mode}");
        assert!(f.get(&table, "a", "v0").await.is_some(), "{mode}");
        assert!(f.get(&table, "c", "v0").await.is_some(), "{mode}");
    }
}

#[tokio::test]
async fn a_missing_table_fails_every_record_for_retry() {
    let f = fixture();
    for mode in ["replica", "history", "batch"] {
        let sink = f
            .sink(&format!("dynamodb://{}?mode={mode}", unique("missing")))
            .await;
        let raw = vec![
            rec("src", 1, "INSERT", "a", 1),
            rec("src", 2, "INSERT", "b", 2),
        ];
        let report = sink.write(&changes(&raw), deadline()).await;
        assert_eq!(report.failures.len(), 2, "{mode}");
        assert!(
            report
                .failures
                .iter()
                .all(|f| f.kind == FailureKind::Retryable),
            "{mode}"
        );
    }
}

#[tokio::test]
async fn a_destination_with_the_wrong_key_schema_is_retried_not_dead_lettered() {
    let f = fixture();
    // `pk` alone for a `pk`+`sk` source: DynamoDB would accept every write and collapse the
    // items that share a partition key. `id`: every write would fail alike.
    for (mode, pk, sk) in [
        ("replica", "pk", None),
        ("batch", "pk", None),
        ("replica", "id", None),
        ("batch", "id", None),
        ("history", "id", None),
        ("history", "primary_key", None),
        ("replica", "pk", Some("other")),
    ] {
        let table = f.table(pk, sk).await;
        let url = format!("dynamodb://{table}?mode={mode}");
        let sink = f.sink(&url).await;
        let raw = vec![
            rec("src", 1, "INSERT", "a", 1),
            stream_record_json(
                "src",
                2,
                "INSERT",
                "a",
                "v1",
                Some(image("a", "v1", 2, "x")),
            ),
        ];
        let report = sink.write(&changes(&raw), deadline()).await;
        let case = format!("{mode} keyed {pk} {sk:?}");
        assert_eq!(report.failures.len(), 2, "{case}: {report:?}");
        assert!(
            report
                .failures
                .iter()
                .all(|f| f.kind == FailureKind::Retryable),
            "{case}"
        );
        let message = report.failures[0].error.to_string();
        let expected = if mode == "history" {
            r#"HASH "primary_key", RANGE "change""#
        } else {
            r#"HASH "pk", RANGE "sk""#
        };
        assert!(
            message.contains(&url) && message.contains(&table) && message.contains(expected),
            "{case}: {message}"
        );
        assert!(f.scan(&table).await.is_empty(), "{case}: nothing written");
    }
}

#[tokio::test]
async fn a_matching_destination_is_described_once() {
    let f = fixture();
    let table = f.table("pk", Some("sk")).await;
    let sink = f.sink(&format!("dynamodb://{table}")).await;
    for seq in 1..=2 {
        let raw = vec![rec("src", seq, "INSERT", "a", seq)];
        assert!(sink
            .write(&changes(&raw), deadline())
            .await
            .failures
            .is_empty());
    }
    // DescribeTable once, then one PutItem per write.
    assert_eq!(sink.api_calls(), 3);
}

#[tokio::test]
async fn a_stream_without_new_images_does_not_overwrite_items_with_their_keys() {
    let f = fixture();
    for mode in ["replica", "batch"] {
        let table = f.table("pk", Some("sk")).await;
        let sink = f.sink(&format!("dynamodb://{table}?mode={mode}")).await;
        assert!(sink
            .write(&changes(&[rec("src", 1, "INSERT", "a", 1)]), deadline())
            .await
            .failures
            .is_empty());
        // A KEYS_ONLY record: no NewImage.
        let keys_only = vec![stream_record_json("src", 2, "MODIFY", "a", "v0", None)];
        let report = sink.write(&changes(&keys_only), deadline()).await;
        assert_eq!(report.failures.len(), 1, "{mode}");
        assert_eq!(report.failures[0].kind, FailureKind::Retryable, "{mode}");
        assert_eq!(
            n(&f.get(&table, "a", "v0").await.unwrap(), "n"),
            "1",
            "{mode}: item kept whole"
        );
    }
}

#[tokio::test]
async fn history_keeps_every_change_once_even_when_replayed() {
    let f = fixture();
    let table = f.table("primary_key", Some("change")).await;
    let sink = f.sink(&format!("dynamodb://{table}?mode=history")).await;
    let raw = vec![
        rec("src", 1, "INSERT", "a", 1),
        rec("src", 2, "MODIFY", "a", 2),
        rec("src", 3, "REMOVE", "a", 0),
    ];
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    assert!(
        sink.write(&changes(&raw[1..]), deadline())
            .await
            .failures
            .is_empty(),
        "a replayed suffix"
    );
    let items = f
        .client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 3);
    let mut changes_seen: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            let s = |k: &str| match i.get(k) {
                Some(AttributeValue::S(s)) => s.clone(),
                other => panic!("{k}: {other:?}"),
            };
            (s("change"), s("dynamodb_event_name"))
        })
        .collect();
    changes_seen.sort();
    assert_eq!(
        changes_seen
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<Vec<_>>(),
        ["INSERT", "MODIFY", "REMOVE"],
        "sorted by change id = in stream order"
    );
    assert_eq!(
        changes_seen[0].0,
        format!("{:020}#{:0>40}", 1_795_278_193_000u64, format!("{:021}", 1))
    );
    let insert = items
        .iter()
        .find(|i| i.get("dynamodb_event_name") == Some(&AttributeValue::S("INSERT".into())))
        .unwrap();
    let Some(AttributeValue::M(document)) = insert.get("document") else {
        panic!("{insert:?}")
    };
    assert_eq!(document.get("n"), Some(&AttributeValue::N("1".into())));
}

#[tokio::test]
async fn batch_mode_fills_calls_and_keeps_the_last_change_per_key() {
    let f = fixture();
    let table = f.table("pk", Some("sk")).await;
    let sink = f.sink(&format!("dynamodb://{table}?mode=batch")).await;
    // 1,000 inserts of 1,000 items, then the same key twice in one batch.
    let raw: Vec<String> = (0..1000)
        .map(|i| rec("src", i, "INSERT", &format!("k{i}"), i))
        .collect();
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    assert_eq!(
        sink.api_calls(),
        1 + 40,
        "one DescribeTable, then 25 requests per BatchWriteItem call"
    );
    let raw = vec![
        rec("src", 2000, "MODIFY", "k1", 7),
        rec("src", 2001, "MODIFY", "k1", 8),
        rec("src", 2002, "REMOVE", "k2", 0),
    ];
    assert!(sink
        .write(&changes(&raw), deadline())
        .await
        .failures
        .is_empty());
    assert_eq!(n(&f.get(&table, "k1", "v0").await.unwrap(), "n"), "8");
    assert!(f.get(&table, "k2", "v0").await.is_none());
    let k3 = f.get(&table, "k3", "v0").await.unwrap();
    assert!(
        !k3.contains_key("_cdc_version"),
        "batch mode copies items as they are"
    );
    assert_eq!(f.scan(&table).await.len(), 999);
}

#[test]
fn urls_and_options() {
    for good in [
        "dynamodb://t",
        "dynamodb://{table}-replica?mode=replica&tombstones=false&tombstone_ttl_days=30&concurrency=8",
        "dynamodb://t?mode=history",
        "dynamodb://t?mode=batch",
    ] {
        SinkConfig::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    let cases = [
        ("dynamodb://", "expected dynamodb://TABLE"),
        ("dynamodb://a/b", "expected dynamodb://TABLE"),
        ("dynamodb://t?mode=fast", "option mode=\"fast\" is not one of replica, history, batch"),
        ("dynamodb://t?tombstones=maybe", "option tombstones=\"maybe\" is not one of true, false"),
        ("dynamodb://t?concurrency=0", "option concurrency=\"0\" is not a whole number from 1 to 256"),
        ("dynamodb://t?ttl=1", "unknown option \"ttl\"; accepted options: mode, tombstones, tombstone_ttl_days, concurrency"),
    ];
    for (url, message) in cases {
        let err = SinkConfig::parse(url).unwrap_err().to_string();
        assert!(err.starts_with("CDC_SINKS: "), "{err}");
        assert!(err.contains(message), "{url}: {err}");
    }
}
