//! Every mapping rule for stream records, on records shaped exactly like Lambda's.

mod support;

use cdc_record::{
    Action, ChangeRecord, KeySchema, MappingOptions, Reason, RecordId, StreamEvent, StreamRecord,
    TtlDeletes, ViewOnRemove,
};
use serde_json::json;
use support::Json;

const ARN: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-21T17:44:05.899";

fn orders() -> KeySchema {
    KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    }
}

fn record(event_name: &str, dynamodb: serde_json::Value) -> String {
    json!({
        "eventID": "8e36a2b1",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": ARN,
        "dynamodb": dynamodb,
    })
    .to_string()
}

fn keys() -> serde_json::Value {
    json!({"pk": {"S": "o#1"}, "sk": {"S": "v0"}})
}

fn map(raw: &str, options: MappingOptions) -> Option<ChangeRecord<'_>> {
    StreamRecord::parse(raw)
        .unwrap()
        .into_change(&orders(), &options)
        .unwrap()
}

fn line(change: &ChangeRecord<'_>) -> Json {
    let mut out = Vec::new();
    change.write_json_line(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "one line: {text}"
    );
    Json::parse(&text)
}

#[test]
fn modify_becomes_the_documented_change_record() {
    let raw = record(
        "MODIFY",
        json!({
            "ApproximateCreationDateTime": 1795278192.0,
            "Keys": keys(),
            "NewImage": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "amount": {"N": "15"},
                         "tags": {"SS": ["a", "b"]}, "blob": {"B": "AQI="}},
            "OldImage": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "amount": {"N": "14"}},
            "SequenceNumber": "1100000000017454423010",
            "SizeBytes": 90,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }),
    );
    let change = map(&raw, MappingOptions::default()).unwrap();
    assert!(!change.keys_only);
    let expected = Json::parse(
        r#"{"metadata": {"table_name": "orders", "primary_key": "o#1|v0", "partition_key": "o#1", "sort_key": "v0",
              "dynamodb_event_name": "MODIFY", "opensearch_action": "index",
              "dynamodb_timestamp": 1795278192000, "document_version": 1795278192000,
              "sequence_number": "1100000000017454423010", "event_id": "8e36a2b1", "ttl_delete": false,
              "source": "stream"},
            "document": {"pk": "o#1", "sk": "v0", "amount": 15, "tags": ["a", "b"], "blob": "AQI="}}"#,
    );
    assert_eq!(line(&change), expected);
    assert_eq!(change.raw, raw);
}

#[test]
fn every_attribute_type_is_written_losslessly() {
    let raw = record(
        "INSERT",
        json!({
            "ApproximateCreationDateTime": 1795278192,
            "Keys": keys(),
            "NewImage": {
                "pk": {"S": "o#1"}, "sk": {"S": "v0"},
                "big": {"N": "12345678901234567890.123456789012345678"},
                "tiny": {"N": "1E-130"},
                "huge": {"N": "9.9999999999999999999999999999999999999E+125"},
                "neg": {"N": "-0.5"},
                "unicode": {"S": "Grüße 🚀 \"quoted\" \\ \n"},
                "empty": {"S": ""},
                "bin": {"B": "AQL/"},
                "yes": {"BOOL": true}, "no": {"BOOL": false},
                "nothing": {"NULL": true},
                "ss": {"SS": ["x", "y"]},
                "ns": {"NS": ["1", "99999999999999999999999999999999999999"]},
                "bs": {"BS": ["AA==", "AQ=="]},
                "m": {"M": {"inner": {"M": {}}, "list": {"L": [{"N": "1"}, {"S": "s"}, {"M": {"k": {"NULL": true}}}]}}},
                "l": {"L": [{"L": []}, {"BOOL": true}, {"NS": ["0.1"]}]},
            },
            "SequenceNumber": "200",
            "StreamViewType": "NEW_IMAGE",
        }),
    );
    let change = map(&raw, MappingOptions::default()).unwrap();
    let document = line(&change).get("document").clone();
    let expected = Json::parse(
        r#"{"pk": "o#1", "sk": "v0",
            "big": 12345678901234567890.123456789012345678,
            "tiny": 1E-130,
            "huge": 9.9999999999999999999999999999999999999E+125,
            "neg": -0.5,
            "unicode": "Grüße 🚀 \"quoted\" \\ \n",
            "empty": "",
            "bin": "AQL/",
            "yes": true, "no": false,
            "nothing": null,
            "ss": ["x", "y"],
            "ns": [1, 99999999999999999999999999999999999999],
            "bs": ["AA==", "AQ=="],
            "m": {"inner": {}, "list": [1, "s", {"k": null}]},
            "l": [[], true, [0.1]]}"#,
    );
    assert_eq!(document, expected);
    // The exact digits, not merely an equal f64.
    assert_eq!(
        document.get("big"),
        &Json::Number("12345678901234567890.123456789012345678".into())
    );
}

#[test]
fn numbers_in_other_decimal_forms_become_json_with_the_same_value() {
    let raw = record(
        "INSERT",
        json!({
            "ApproximateCreationDateTime": 1795278192,
            "Keys": keys(),
            "NewImage": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "a": {"N": "+.50"}, "b": {"N": "007"}},
            "SequenceNumber": "200",
        }),
    );
    let document = line(&map(&raw, MappingOptions::default()).unwrap())
        .get("document")
        .clone();
    assert_eq!(document.get("a"), &Json::Number("0.50".into()));
    assert_eq!(document.get("b"), &Json::Number("7".into()));
}

#[test]
fn insert_and_modify_without_new_image_carry_the_keys() {
    for view in ["KEYS_ONLY", "OLD_IMAGE"] {
        let raw = record(
            "MODIFY",
            json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "1", "StreamViewType": view,
                   "OldImage": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "old": {"N": "1"}}}),
        );
        let change = map(&raw, MappingOptions::default()).unwrap();
        assert_eq!(change.action, Action::Index);
        assert!(
            change.keys_only,
            "{view}: flagged, so that sinks keeping items do not wipe them"
        );
        assert_eq!(
            line(&change).get("document"),
            &Json::parse(r#"{"pk":"o#1","sk":"v0"}"#),
            "{view}"
        );
    }
}

#[test]
fn remove_follows_view_on_remove() {
    let with_old = record(
        "REMOVE",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "3",
               "OldImage": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "amount": {"N": "15"}},
               "StreamViewType": "NEW_AND_OLD_IMAGES"}),
    );
    let keys_only = record(
        "REMOVE",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "3", "StreamViewType": "KEYS_ONLY"}),
    );
    let new_image = MappingOptions::default();
    let old_image = MappingOptions {
        view_on_remove: ViewOnRemove::OldImage,
        ..Default::default()
    };

    let change = map(&with_old, new_image).unwrap();
    assert_eq!(change.action, Action::Delete);
    let out = line(&change);
    assert_eq!(out.get("document"), &Json::Null);
    assert_eq!(out.get("metadata").get("opensearch_action").str(), "delete");
    assert_eq!(
        out.get("metadata").get("dynamodb_event_name").str(),
        "REMOVE"
    );

    let out = line(&map(&with_old, old_image).unwrap());
    assert_eq!(
        out.get("document"),
        &Json::parse(r#"{"pk":"o#1","sk":"v0","amount":15}"#)
    );

    let out = line(&map(&keys_only, old_image).unwrap());
    assert_eq!(
        out.get("document"),
        &Json::parse(r#"{"pk":"o#1","sk":"v0"}"#)
    );
}

fn ttl_remove() -> String {
    let mut value: serde_json::Value = serde_json::from_str(&record(
        "REMOVE",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "4", "StreamViewType": "NEW_AND_OLD_IMAGES"}),
    ))
    .unwrap();
    value["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    value.to_string()
}

#[test]
fn ttl_deletes_are_flagged_or_dropped() {
    let raw = ttl_remove();
    let change = map(&raw, MappingOptions::default()).unwrap();
    assert!(change.ttl_delete);
    assert_eq!(
        line(&change).get("metadata").get("ttl_delete"),
        &Json::Bool(true)
    );

    let drop = MappingOptions {
        ttl_deletes: TtlDeletes::Drop,
        ..Default::default()
    };
    assert!(map(&raw, drop).is_none());

    // A delete by a user, or by another service, is not a TTL delete.
    let user = record(
        "REMOVE",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "5"}),
    );
    assert!(!map(&user, MappingOptions::default()).unwrap().ttl_delete);
    let other_service = raw.replace("dynamodb.amazonaws.com", "lambda.amazonaws.com");
    assert!(!map(&other_service, drop).unwrap().ttl_delete);
}

#[test]
fn tables_without_sort_key_and_numeric_or_binary_keys() {
    let raw = json!({
        "eventID": "1", "eventName": "INSERT",
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:1:table/counters/stream/x",
        "dynamodb": {"ApproximateCreationDateTime": 2.5, "Keys": {"id": {"N": "42"}}, "SequenceNumber": "9",
                     "NewImage": {"id": {"N": "42"}, "n": {"N": "1"}}}
    })
    .to_string();
    let schema = KeySchema {
        partition_key: "id".into(),
        sort_key: None,
    };
    let change = StreamRecord::parse(&raw)
        .unwrap()
        .into_change(&schema, &MappingOptions::default())
        .unwrap()
        .unwrap();
    let meta = line(&change).get("metadata").clone();
    assert_eq!(meta.get("table_name").str(), "counters");
    assert_eq!(meta.get("primary_key").str(), "42");
    assert_eq!(meta.get("partition_key").str(), "42");
    assert_eq!(meta.get("sort_key"), &Json::Null);
    assert_eq!(meta.get("dynamodb_timestamp"), &Json::Number("2500".into()));
}

fn map_err(raw: &str) -> cdc_record::MapError {
    match StreamRecord::parse(raw) {
        Err(e) => e,
        Ok(record) => record
            .into_change(&orders(), &MappingOptions::default())
            .expect_err("should not map"),
    }
}

#[test]
fn unmappable_records_name_their_sequence_number_and_reason() {
    let bad_number = record(
        "INSERT",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "77",
               "NewImage": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "n": {"N": "12abc"}}}),
    );
    let err = map_err(&bad_number);
    assert_eq!(err.record, RecordId::Sequence("77".into()));
    let text = err.to_string();
    assert!(
        text.starts_with("stream record 77: invalid at dynamodb.NewImage.n"),
        "{text}"
    );
    assert!(text.contains("\"12abc\" is not a decimal number"), "{text}");

    let cases: Vec<(String, &str)> = vec![
        (record("UPSERT", json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "1"})), "eventName \"UPSERT\""),
        (record("INSERT", json!({"Keys": keys(), "SequenceNumber": "1"})), "missing dynamodb.ApproximateCreationDateTime"),
        (record("INSERT", json!({"ApproximateCreationDateTime": 1.0, "SequenceNumber": "1"})), "missing dynamodb.Keys"),
        (record("INSERT", json!({"ApproximateCreationDateTime": 1.0, "Keys": {"pk": {"S": "a"}}, "SequenceNumber": "1"})), "key attribute \"sk\" is missing"),
        (record("INSERT", json!({"ApproximateCreationDateTime": 1.0, "Keys": {"pk": {"BOOL": true}, "sk": {"S": "x"}}, "SequenceNumber": "1"})), "has type BOOL"),
        (record("INSERT", json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "1", "NewImage": {"x": {}}})), "empty attribute value"),
        (record("INSERT", json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "1", "NewImage": {"x": {"S": "LONE"}}})).replace("LONE", "\\ud800"), "invalid at dynamodb.NewImage.x.S"),
        (record("INSERT", json!({"ApproximateCreationDateTime": "soon", "Keys": keys(), "SequenceNumber": "1"})), "invalid at dynamodb.ApproximateCreationDateTime"),
        (json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1"}}).to_string(), "missing eventSourceARN"),
        (record("INSERT", json!({"ApproximateCreationDateTime": 1.0, "Keys": 5, "SequenceNumber": "1"})), "invalid at dynamodb.Keys: invalid type: integer `5`"),
        (record("MODIFY", json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "1", "NewImage": {"m": {"M": {"x": {"L": [{"S": 1}]}}}}})), "invalid at dynamodb.NewImage.m.M.x.L[0].S: invalid type: integer `1`"),
        (json!({"eventName": "INSERT", "eventSourceARN": "arn:aws:sqs:x:y:z", "dynamodb": {"SequenceNumber": "1"}}).to_string(), "names no table"),
    ];
    for (raw, reason) in cases {
        let err = map_err(&raw);
        assert_eq!(err.record, RecordId::Sequence("1".into()), "{raw}");
        assert!(err.to_string().contains(reason), "{raw}: {err}");
    }

    let no_sequence = map_err(&json!({"eventName": 7, "dynamodb": {"Keys": {}}}).to_string());
    assert_eq!(no_sequence.record, RecordId::UnknownSequence);
    assert!(matches!(no_sequence.reason, Reason::Shape { .. }));
}

#[test]
fn one_malformed_record_does_not_fail_the_payload() {
    let good = record(
        "INSERT",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": keys(), "SequenceNumber": "1"}),
    );
    let bad = record(
        "INSERT",
        json!({"ApproximateCreationDateTime": 1.0, "Keys": {"pk": {"S": "a", "N": "1"}}, "SequenceNumber": "2"}),
    );
    let payload = format!(r#"{{"Records":[{good},{bad},{good},7]}}"#);
    let event = StreamEvent::parse(payload.as_bytes()).unwrap();
    let outcomes: Vec<bool> = event
        .records
        .into_iter()
        .map(|parsed| {
            parsed
                .and_then(|r| r.into_change(&orders(), &MappingOptions::default()))
                .is_ok()
        })
        .collect();
    assert_eq!(outcomes, [true, false, true, false]);
    assert_eq!(event.raws, [&good[..], &bad[..], &good[..], "7"]);
}
