//! `cdc-verify` against DynamoDB Local: replicas written by the real `dynamodb://` sink (replica
//! and batch modes), then broken on purpose, item by item.
//!
//! Run with `scripts/emulators.sh cargo test -p cdc-verify`.

mod support;

use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_testkit::items::scan_all;
use cdc_verify::{expected_document, verify, Options, ReplicaMode, Target, VerifyError};
use support::*;
use tokio::time::Instant;

#[tokio::test]
async fn equal_tables_with_keys_of_every_type_are_equal_in_both_modes() {
    let client = client();
    let shapes = [
        shape(("pk", 'S'), Some(("sk", 'N'))),
        shape(("id", 'N'), Some(("at", 'B'))),
        shape(("bin", 'B'), None),
    ];
    for shape in shapes {
        let (source, items) = source_table(&client, &shape, 40).await;
        let count = items.len() as u64;
        let schema = key_schema(&shape);
        let lines = export_lines(&items);
        let records = export_changes(&lines, &source, &schema);
        let replica = empty_table(&client, &shape, "verify-replica").await;
        write_through(&format!("dynamodb://{replica}"), &records).await;
        let batch = empty_table(&client, &shape, "verify-batch").await;
        write_through(&format!("dynamodb://{batch}?mode=batch"), &records).await;

        for (table, mode) in [
            (&replica, ReplicaMode::Replica),
            (&batch, ReplicaMode::Batch),
        ] {
            let options = fast(Options::new(&source).replica(table, mode));
            let report = verify(&client, &options).await.expect("verify");
            assert!(report.equal, "{mode:?} {shape:?}\n{}", report.to_text());
            assert_eq!(report.source_items, count);
            let target = &report.targets[0];
            assert_eq!(target.outcome.equal_items, count);
            assert!(
                matches!(target.target, Target::Dynamodb { live_items, tombstones: 0, .. } if live_items == count),
                "{:?}",
                target.target
            );
        }

        // The mode matters: read as a plain copy, every replica-mode item has an extra
        // `_cdc_version` and `_cdc_sequence`, and the report names those attributes.
        let options = fast(Options::new(&source).replica(&replica, ReplicaMode::Batch));
        let report = verify(&client, &options).await.expect("verify");
        let different = &report.targets[0].outcome.different;
        assert_eq!(different.count, count);
        assert_eq!(different.examples.len(), 10);
        assert!(different
            .examples
            .iter()
            .all(|d| d.attributes == ["_cdc_sequence", "_cdc_version"]));
    }
}

#[tokio::test]
async fn reports_one_missing_one_extra_one_different_and_no_tombstone_as_extra() {
    let client = client();
    let shape = shape(("pk", 'S'), Some(("sk", 'S')));
    let (source, items) = source_table(&client, &shape, 30).await;
    let schema = key_schema(&shape);
    let lines = export_lines(&items);
    let replica = empty_table(&client, &shape, "verify-replica").await;
    let url = format!("dynamodb://{replica}");
    write_through(&url, &export_changes(&lines, &source, &schema)).await;
    let key_of = |item: &cdc_verify::SdkItem| {
        item.iter()
            .filter(|(k, _)| *k == "pk" || *k == "sk")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<cdc_verify::SdkItem>()
    };
    let id = |item: &cdc_verify::SdkItem| expected_document(item, &source, &schema).unwrap().id;
    let text = |item: &cdc_verify::SdkItem, name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{name}: {other:?}"),
    };
    // Items with generated attributes `a0`... (the first edge item has named edge cases).
    let plain: Vec<_> = items.iter().filter(|i| i.contains_key("a0")).collect();

    // Missing: gone from the replica only.
    let gone = plain[0];
    delete(&client, &replica, key_of(gone)).await;
    // Extra: live in the replica only.
    put(
        &client,
        &replica,
        item(&[("pk", s("extra")), ("sk", s("1")), ("_cdc_version", n("1"))]),
    )
    .await;
    // Different: one attribute changed, one added (values that must not reach the report).
    let mut changed = plain[1].clone();
    changed.insert("a0".into(), s("SECRET-VALUE-42"));
    changed.insert("added".into(), n("4242424242"));
    changed.insert("_cdc_version".into(), n("1"));
    put(&client, &replica, changed).await;
    // Deleted in the source, and the delete replicated as a tombstone: not extra.
    let deleted = plain[2];
    delete(&client, &source, key_of(deleted)).await;
    let remove = vec![cdc_testkit::stream_record_json(
        &source,
        1,
        "REMOVE",
        &text(deleted, "pk"),
        &text(deleted, "sk"),
        None,
    )];
    write_through(&url, &cdc_testkit::changes(&remove)).await;
    let tombstone = scan_all(&client, &replica)
        .await
        .into_iter()
        .find(|i| i.contains_key("_cdc_deleted"))
        .expect("the sink wrote a tombstone");
    assert_eq!(key_of(&tombstone), key_of(deleted));

    let options = fast(Options::new(&source).replica(&replica, ReplicaMode::Replica));
    let report = verify(&client, &options).await.expect("verify");
    let outcome = &report.targets[0].outcome;
    assert!(!report.equal);
    assert_eq!(report.source_items, 29);
    assert_eq!(
        report.targets[0].target,
        Target::Dynamodb {
            table: replica.clone(),
            mode: "replica",
            live_items: 29,
            tombstones: 1
        }
    );
    assert_eq!(outcome.equal_items, 27);
    assert_eq!(outcome.missing.count, 1);
    assert_eq!(outcome.missing.examples, [id(gone)]);
    assert_eq!(outcome.extra.count, 1);
    assert_eq!(outcome.extra.examples, ["extra|1"]);
    assert_eq!(outcome.different.count, 1);
    assert_eq!(outcome.different.examples[0].key, id(plain[1]));
    assert_eq!(outcome.different.examples[0].attributes, ["a0", "added"]);
    for output in [report.to_text(), report.to_json()] {
        assert!(
            !output.contains("SECRET-VALUE-42") && !output.contains("4242424242"),
            "{output}"
        );
    }
}

#[tokio::test]
async fn numbers_compare_by_exact_value_and_sets_in_any_order() {
    let client = client();
    let shape = shape(("pk", 'S'), None);
    let source = empty_table(&client, &shape, "verify-source").await;
    let replica = empty_table(&client, &shape, "verify-replica").await;
    let m = |entries: &[(&str, AttributeValue)]| {
        AttributeValue::M(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    let ss = |v: &[&str]| AttributeValue::Ss(v.iter().map(|s| s.to_string()).collect());
    let ns = |v: &[&str]| AttributeValue::Ns(v.iter().map(|s| s.to_string()).collect());
    let bs = |v: &[&[u8]]| AttributeValue::Bs(v.iter().map(|b| Blob::new(*b)).collect());
    let digits38 = "12345678901234567890123456789012345678";
    let digits38_last = "12345678901234567890123456789012345679";
    let pairs = [
        (
            item(&[
                ("pk", s("spelling")),
                ("top", n("1.50")),
                (
                    "m",
                    m(&[
                        ("price", n("1.50")),
                        ("l", AttributeValue::L(vec![n("2.0"), n("1e2")])),
                    ]),
                ),
            ]),
            item(&[
                ("pk", s("spelling")),
                ("top", n("1.5")),
                (
                    "m",
                    m(&[
                        ("price", n("1.5")),
                        ("l", AttributeValue::L(vec![n("2"), n("100")])),
                    ]),
                ),
            ]),
        ),
        (
            item(&[
                ("pk", s("sets")),
                ("ss", ss(&["a", "b", "c"])),
                ("ns", ns(&["1", "2.5", "10"])),
                ("bs", bs(&[b"x", b"y"])),
                (
                    "nested",
                    AttributeValue::L(vec![ss(&["p", "q", "r"]), ns(&["3", "1.50"])]),
                ),
            ]),
            item(&[
                ("pk", s("sets")),
                ("ss", ss(&["c", "a", "b"])),
                ("ns", ns(&["10", "2.50", "1"])),
                ("bs", bs(&[b"y", b"x"])),
                (
                    "nested",
                    AttributeValue::L(vec![ss(&["r", "q", "p"]), ns(&["1.5", "3"])]),
                ),
            ]),
        ),
        (
            item(&[
                ("pk", s("precise-equal")),
                ("n", n(&format!("0.{digits38}"))),
                ("m", m(&[("n", n(digits38))])),
            ]),
            item(&[
                ("pk", s("precise-equal")),
                ("n", n(&format!("0.{digits38}0"))),
                ("m", m(&[("n", n(digits38))])),
            ]),
        ),
        (
            item(&[
                ("pk", s("precise")),
                ("n", n(digits38)),
                ("m", m(&[("n", n(&format!("-{digits38}")))])),
                ("same", n("1")),
            ]),
            item(&[
                ("pk", s("precise")),
                ("n", n(digits38_last)),
                ("m", m(&[("n", n(&format!("-{digits38_last}")))])),
                ("same", n("1")),
            ]),
        ),
    ];
    for (a, b) in pairs {
        put(&client, &source, a).await;
        let mut b = b;
        b.insert("_cdc_version".into(), n("1"));
        put(&client, &replica, b).await;
    }
    // DynamoDB Local keeps nested numbers as sent: the tables really hold other spellings.
    let nested_price = |table: String| {
        let client = client.clone();
        async move {
            let items = scan_all(&client, &table).await;
            let item = items
                .iter()
                .find(|i| i.get("pk") == Some(&s("spelling")))
                .unwrap();
            item["m"].as_m().unwrap()["price"].as_n().unwrap().clone()
        }
    };
    assert_eq!(nested_price(source.clone()).await, "1.50");
    assert_eq!(nested_price(replica.clone()).await, "1.5");

    let options = fast(Options::new(&source).replica(&replica, ReplicaMode::Replica));
    let report = verify(&client, &options).await.expect("verify");
    let outcome = &report.targets[0].outcome;
    assert_eq!(outcome.equal_items, 3, "{}", report.to_text());
    assert_eq!((outcome.missing.count, outcome.extra.count), (0, 0));
    assert_eq!(outcome.different.count, 1);
    assert_eq!(outcome.different.examples[0].key, "precise");
    assert_eq!(outcome.different.examples[0].attributes, ["m", "n"]);
}

#[tokio::test]
async fn a_replica_with_another_key_or_no_table_is_an_error_naming_it() {
    let client = client();
    let (source, _) = source_table(&client, &shape(("pk", 'S'), Some(("sk", 'N'))), 3).await;
    let other = empty_table(
        &client,
        &shape(("pk", 'S'), Some(("sk", 'S'))),
        "verify-other",
    )
    .await;
    let options = fast(Options::new(&source).replica(&other, ReplicaMode::Replica));
    let err = verify(&client, &options).await.unwrap_err();
    assert!(matches!(err, VerifyError::KeyMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("pk (S), sk (S)") && message.contains("pk (S), sk (N)"),
        "{message}"
    );

    let options = fast(Options::new(&source).replica("verify-no-such-table", ReplicaMode::Replica));
    let err = verify(&client, &options).await.unwrap_err();
    assert!(matches!(err, VerifyError::Describe { .. }), "{err}");
    assert!(err.to_string().contains("verify-no-such-table"), "{err}");
}

#[tokio::test]
async fn reads_stay_under_the_rate_with_parallel_segments() {
    let client = client();
    let shape = shape(("pk", 'S'), None);
    let (source, items) = source_table(&client, &shape, 60).await;
    let schema = key_schema(&shape);
    let lines = export_lines(&items);
    let replica = empty_table(&client, &shape, "verify-replica").await;
    write_through(
        &format!("dynamodb://{replica}"),
        &export_changes(&lines, &source, &schema),
    )
    .await;

    let started = Instant::now();
    let options = Options {
        max_reads_per_second: 100,
        segments: 3,
        ..Options::new(&source).replica(&replica, ReplicaMode::Replica)
    };
    let report = verify(&client, &options).await.expect("verify");
    let elapsed = started.elapsed();
    assert!(report.equal, "{}", report.to_text());
    assert_eq!(report.source_items, 60);
    // 120 items at 100/s, in pages of 25 reserved ahead: at least about a second.
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
}

#[tokio::test]
async fn the_command_exits_0_when_equal_1_when_different_2_on_errors() {
    let client = client();
    let shape = shape(("pk", 'S'), Some(("sk", 'N')));
    let (source, items) = source_table(&client, &shape, 12).await;
    let schema = key_schema(&shape);
    let lines = export_lines(&items);
    let replica = empty_table(&client, &shape, "verify-replica").await;
    write_through(
        &format!("dynamodb://{replica}"),
        &export_changes(&lines, &source, &schema),
    )
    .await;
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_cdc-verify"))
            .args(args)
            .env("AWS_ENDPOINT_URL", cdc_testkit::dynamodb_local_endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("run cdc-verify");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let args = [
        "--source",
        &source,
        "--replica",
        &replica,
        "--max-reads-per-second",
        "100000",
    ];

    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.ends_with("result: EQUAL\n"), "{stdout}");

    let mut changed = items[3].clone();
    changed.insert("extra attribute".into(), s("SECRET"));
    put(&client, &replica, changed).await;
    let (code, stdout, stderr) = run(&[&args[..], &["--report", "json"]].concat());
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert_eq!(
        json["targets"][0]["different"]["examples"][0]["attributes"][0],
        "extra attribute"
    );
    assert!(!stdout.contains("SECRET"));

    let (code, _, stderr) = run(&["--source", "verify-no-such-table", "--replica", &replica]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("verify-no-such-table"), "{stderr}");

    let (code, _, stderr) = run(&[&args[..], &["--segments", "0"]].concat());
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--segments \"0\" is not accepted"),
        "{stderr}"
    );

    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("cdc-verify: compare"), "{stdout}");
}
