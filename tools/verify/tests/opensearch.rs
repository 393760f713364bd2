//! `cdc-verify` against an index written by the real `opensearch://` sink into the in-test
//! OpenSearch (`cdc_testkit::opensearch`, which keeps each `_source` as the exact text
//! written), with the source in DynamoDB Local.
//!
//! Run with `scripts/emulators.sh cargo test -p cdc-verify`.

mod support;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_testkit::items::scan_all;
use cdc_testkit::opensearch::FakeOpenSearch;
use cdc_verify::{
    expected_document, verify, OpenSearchAuth, OpenSearchTarget, Options, ReplicaMode, SdkItem,
    Target, VerifyError,
};
use support::*;

const INDEX: &str = "orders";

/// Reverses the members of every set, at any depth.
fn reversed_sets(value: &AttributeValue) -> AttributeValue {
    match value {
        AttributeValue::Ss(v) => AttributeValue::Ss(v.iter().rev().cloned().collect()),
        AttributeValue::Ns(v) => AttributeValue::Ns(v.iter().rev().cloned().collect()),
        AttributeValue::Bs(v) => AttributeValue::Bs(v.iter().rev().cloned().collect()),
        AttributeValue::L(l) => AttributeValue::L(l.iter().map(reversed_sets).collect()),
        AttributeValue::M(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), reversed_sets(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[tokio::test]
async fn an_index_written_by_the_sink_is_equal_then_each_fault_is_found() {
    let client = client();
    let shape = shape(("pk", 'S'), Some(("sk", 'N')));
    let (source, _) = source_table(&client, &shape, 40).await;
    let digits38 = "12345678901234567890123456789012345678";
    let ss = |v: &[&str]| AttributeValue::Ss(v.iter().map(|s| s.to_string()).collect());
    for extra in [
        item(&[
            ("pk", s("sets")),
            ("sk", n("1")),
            ("ss", ss(&["a", "b", "c"])),
            (
                "ns",
                AttributeValue::Ns(vec!["1".into(), "2.5".into(), "10".into()]),
            ),
            (
                "bs",
                AttributeValue::Bs(vec![Blob::new(b"x".to_vec()), Blob::new(b"y".to_vec())]),
            ),
            ("l", AttributeValue::L(vec![ss(&["p", "q"])])),
        ]),
        item(&[
            ("pk", s("spelling")),
            ("sk", n("1")),
            (
                "m",
                AttributeValue::M([("price".to_string(), n("1.50"))].into()),
            ),
        ]),
        item(&[("pk", s("precise")), ("sk", n("1")), ("n", n(digits38))]),
    ] {
        put(&client, &source, extra).await;
    }
    let items = scan_all(&client, &source).await;
    assert_eq!(items.len(), 43);
    let schema = key_schema(&shape);
    let lines = export_lines(&items);
    let records = export_changes(&lines, &source, &schema);
    let search = FakeOpenSearch::start().await;
    write_through(&search.url(INDEX), &records).await;
    assert_eq!(search.count(INDEX), 43);
    let replica = empty_table(&client, &shape, "verify-replica").await;
    write_through(&format!("dynamodb://{replica}"), &records).await;

    // Both targets in one pass over the source; 40 reads/s means pages of 10 documents.
    let target = OpenSearchTarget::parse(&search.http_url(INDEX), OpenSearchAuth::None).unwrap();
    let options = Options {
        max_reads_per_second: 40,
        ..Options::new(&source)
            .replica(&replica, ReplicaMode::Replica)
            .opensearch(target.clone())
    };
    let report = verify(&client, &options).await.expect("verify");
    assert!(report.equal, "{}", report.to_text());
    assert_eq!(report.targets.len(), 2);
    assert_eq!(
        report.targets[1].target,
        Target::Opensearch {
            index: search.http_url(INDEX),
            documents: 43
        }
    );
    assert_eq!(report.targets[1].outcome.equal_items, 43);
    let requests: Vec<String> = search
        .received()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    let scroll_pages = requests
        .iter()
        .filter(|r| r.starts_with("POST /_search/scroll"))
        .count();
    assert!(scroll_pages >= 4, "{requests:?}");
    assert_eq!(search.open_scrolls(), 0, "scroll contexts are cleared");

    let by_pk =
        |pk: &str| -> &SdkItem { items.iter().find(|i| i.get("pk") == Some(&s(pk))).unwrap() };
    let id = |item: &SdkItem| expected_document(item, &source, &schema).unwrap().id;
    let plain: Vec<&SdkItem> = items.iter().filter(|i| i.contains_key("a0")).collect();
    // Missing.
    search.remove(INDEX, &id(plain[0])).expect("indexed");
    // Extra.
    search.put(INDEX, "extra|1", r#"{"pk":"extra","sk":1}"#);
    // Different: a changed attribute, rendered as the sink would.
    let mut changed = plain[1].clone();
    changed.insert("a0".into(), s("SECRET-VALUE-42"));
    let changed = expected_document(&changed, &source, &schema).unwrap();
    search.put(INDEX, &changed.id, &changed.json);
    // Different: the last of 38 digits.
    search.put(
        INDEX,
        "precise|1",
        &format!(r#"{{"pk":"precise","sk":1,"n":{}9}}"#, &digits38[..37]),
    );
    // Equal: the same number spelled otherwise, and sets listed in another order (the stream
    // and a scan may list members differently).
    search.put(
        INDEX,
        "spelling|1",
        r#"{"sk":1.0,"m":{"price":1.5},"pk":"spelling"}"#,
    );
    let reordered: SdkItem = by_pk("sets")
        .iter()
        .map(|(k, v)| (k.clone(), reversed_sets(v)))
        .collect();
    let reordered = expected_document(&reordered, &source, &schema).unwrap();
    assert_ne!(
        Some(&reordered.json),
        search.source_text(INDEX, "sets|1").as_ref()
    );
    search.put(INDEX, "sets|1", &reordered.json);

    let options = fast(Options::new(&source).opensearch(target));
    let report = verify(&client, &options).await.expect("verify");
    let outcome = &report.targets[0].outcome;
    assert!(!report.equal);
    assert_eq!(outcome.equal_items, 40, "{}", report.to_text());
    assert_eq!(outcome.missing.examples, [id(plain[0])]);
    assert_eq!(outcome.extra.examples, ["extra|1"]);
    assert_eq!(outcome.different.count, 2);
    let mut different: Vec<(String, Vec<String>)> = outcome
        .different
        .examples
        .iter()
        .map(|d| (d.key.clone(), d.attributes.clone()))
        .collect();
    different.sort();
    let mut wanted = vec![
        (changed.id.clone(), vec!["a0".to_string()]),
        ("precise|1".to_string(), vec!["n".to_string()]),
    ];
    wanted.sort();
    assert_eq!(different, wanted);
    for output in [report.to_text(), report.to_json()] {
        assert!(!output.contains("SECRET-VALUE-42"), "{output}");
    }
}

#[tokio::test]
async fn a_missing_index_is_an_error_naming_it() {
    let client = client();
    let (source, _) = source_table(&client, &shape(("pk", 'S'), None), 2).await;
    let search = FakeOpenSearch::start().await;
    let target = OpenSearchTarget::parse(&search.http_url("nope"), OpenSearchAuth::None).unwrap();
    let err = verify(&client, &fast(Options::new(&source).opensearch(target)))
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::OpenSearch { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("/nope") && message.contains("404"),
        "{message}"
    );
}
