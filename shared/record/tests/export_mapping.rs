//! Export lines (DYNAMODB_JSON, full and incremental) map to the same change records as stream
//! records.

mod support;

use cdc_record::{
    map_export_line, version, Action, ChangeRecord, ExportKind, ExportSource, KeySchema,
    MappingOptions, RecordId, Source, StreamRecord, ViewOnRemove,
};
use serde_json::json;
use support::Json;

fn schema() -> KeySchema {
    KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    }
}

fn source(schema: &KeySchema) -> ExportSource<'_> {
    ExportSource {
        table_name: "orders",
        key_schema: schema,
        kind: ExportKind::Full {
            export_time_ms: 1_795_278_192_000,
        },
        version_margin_ms: version::DEFAULT_EXPORT_MARGIN_MS,
        options: MappingOptions::default(),
    }
}

#[test]
fn export_item_and_stream_image_of_one_item_give_the_same_document_and_key() {
    let item = json!({"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "amount": {"N": "15.50"}, "blob": {"B": "AQI="}});
    let line = json!({ "Item": item }).to_string();
    let schema = schema();
    let exported = map_export_line(&line, 1, &source(&schema)).unwrap();

    let raw = json!({
        "eventID": "e", "eventName": "INSERT",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/orders/stream/s",
        "dynamodb": {"ApproximateCreationDateTime": 1_795_278_193.0, "SequenceNumber": "5",
                     "Keys": {"pk": {"S": "o#1"}, "sk": {"S": "v0"}}, "NewImage": item}
    })
    .to_string();
    let streamed = StreamRecord::parse(&raw)
        .unwrap()
        .into_change(&schema, &MappingOptions::default())
        .unwrap()
        .unwrap();

    assert_eq!(exported.key, streamed.key);
    assert_eq!(exported.document, streamed.document);
    assert_eq!(exported.table_name, streamed.table_name);
    assert!(
        exported.version < streamed.version,
        "a change after the export outranks it"
    );

    let mut out = Vec::new();
    exported.write_json_line(&mut out);
    let meta = Json::parse(std::str::from_utf8(&out).unwrap())
        .get("metadata")
        .clone();
    assert_eq!(meta.get("source").str(), "export");
    assert_eq!(meta.get("dynamodb_event_name"), &Json::Null);
    assert_eq!(meta.get("sequence_number"), &Json::Null);
    assert_eq!(meta.get("event_id"), &Json::Null);
    assert_eq!(meta.get("opensearch_action").str(), "index");
    assert_eq!(
        meta.get("dynamodb_timestamp"),
        &Json::Number("1795278192000".into())
    );
    assert_eq!(
        meta.get("document_version"),
        &Json::Number("1795278132000".into())
    );
    assert_eq!(exported.source, Source::Export);
}

#[test]
fn bad_export_lines_name_their_line() {
    let schema = schema();
    let cases = [
        (
            r#"{"Item":{"pk":{"S":"a"}}}"#,
            "key attribute \"sk\" is missing",
        ),
        (
            r#"{"Item":{"pk":{"S":"a"},"sk":{"N":"x"}}}"#,
            "invalid at Item.sk",
        ),
        (r#"{"NotItem":{}}"#, "missing field `Item`"),
        (r#"not json"#, "expected ident"),
    ];
    for (line, reason) in cases {
        let err = map_export_line(line, 42, &source(&schema)).unwrap_err();
        assert_eq!(err.record, RecordId::ExportLine(42));
        let text = err.to_string();
        assert!(text.starts_with("export line 42: "), "{text}");
        assert!(text.contains(reason), "{text}");
    }
}

// Incremental exports.

/// 2026-11-21T12:00:00.000Z
const NOON_MS: i64 = 1_795_276_800_000;
const FROM_MS: i64 = NOON_MS - 3_600_000 + 250;
const TO_MS: i64 = NOON_MS + 3_600_000 + 250;

fn incremental(schema: &KeySchema, view_on_remove: ViewOnRemove) -> ExportSource<'_> {
    ExportSource {
        table_name: "orders",
        key_schema: schema,
        kind: ExportKind::Incremental {
            from_ms: FROM_MS,
            to_ms: TO_MS,
        },
        version_margin_ms: version::DEFAULT_EXPORT_MARGIN_MS,
        options: MappingOptions {
            view_on_remove,
            ..MappingOptions::default()
        },
    }
}

fn keys() -> serde_json::Value {
    json!({"pk": {"S": "o#1"}, "sk": {"S": "v0"}})
}

fn new_image() -> serde_json::Value {
    json!({"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "amount": {"N": "15.5"}, "tags": {"SS": ["a", "b"]}})
}

fn old_image() -> serde_json::Value {
    json!({"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "amount": {"N": "14"}})
}

/// 12:00:00.700123 in microseconds, as the export writes it.
const WRITTEN_MICROS: &str = "1795276800700123";

fn incremental_line(new: Option<serde_json::Value>, old: Option<serde_json::Value>) -> String {
    let mut line = json!({
        "Metadata": {"WriteTimestampMicros": {"N": WRITTEN_MICROS}},
        "Keys": keys(),
    });
    if let Some(new) = new {
        line["NewImage"] = new;
    }
    if let Some(old) = old {
        line["OldImage"] = old;
    }
    line.to_string()
}

fn json_line(change: &ChangeRecord<'_>) -> Json {
    let mut out = Vec::new();
    change.write_json_line(&mut out);
    Json::parse(std::str::from_utf8(&out).unwrap())
}

fn stream_record(event_name: &str, seconds: f64, dynamodb: serde_json::Value) -> String {
    let mut data = dynamodb;
    data["ApproximateCreationDateTime"] = json!(seconds);
    data["SequenceNumber"] = json!("7");
    data["Keys"] = keys();
    json!({
        "eventID": "e", "eventName": event_name,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/orders/stream/s",
        "dynamodb": data,
    })
    .to_string()
}

fn streamed<'a>(raw: &'a str, schema: &KeySchema, options: MappingOptions) -> ChangeRecord<'a> {
    StreamRecord::parse(raw)
        .unwrap()
        .into_change(schema, &options)
        .unwrap()
        .unwrap()
}

#[test]
fn an_inserted_or_modified_item_becomes_an_index_of_its_new_image() {
    let schema = schema();
    let expected_version = version::incremental_version(
        1_795_276_800_700,
        FROM_MS,
        TO_MS,
        version::DEFAULT_EXPORT_MARGIN_MS,
    );
    // Without the old image (NEW_IMAGE view) and with it (NEW_AND_OLD_IMAGES): the same record.
    for line in [
        incremental_line(Some(new_image()), None),
        incremental_line(Some(new_image()), Some(old_image())),
    ] {
        let change =
            map_export_line(&line, 3, &incremental(&schema, ViewOnRemove::OldImage)).unwrap();
        assert_eq!(change.action, Action::Index);
        assert!(!change.keys_only);
        assert_eq!(change.raw, line);
        let expected = Json::parse(&format!(
            r#"{{"metadata": {{"table_name": "orders", "primary_key": "o#1|v0", "partition_key": "o#1",
                  "sort_key": "v0", "dynamodb_event_name": null, "opensearch_action": "index",
                  "dynamodb_timestamp": 1795276800700, "document_version": {expected_version},
                  "sequence_number": null, "event_id": null, "ttl_delete": false, "source": "export"}},
                "document": {{"pk": "o#1", "sk": "v0", "amount": 15.5, "tags": ["a", "b"]}}}}"#
        ));
        assert_eq!(json_line(&change), expected, "{line}");
    }
}

#[test]
fn a_deleted_item_becomes_a_delete_whose_document_follows_view_on_remove() {
    let schema = schema();
    let with_old = incremental_line(None, Some(old_image()));
    let keys_only = incremental_line(None, None);
    let cases = [
        (&with_old, ViewOnRemove::NewImage, Json::Null),
        (&keys_only, ViewOnRemove::NewImage, Json::Null),
        (
            &with_old,
            ViewOnRemove::OldImage,
            Json::parse(r#"{"pk": "o#1", "sk": "v0", "amount": 14}"#),
        ),
        // No old image (NEW_IMAGE view): the keys, as for a stream REMOVE without one.
        (
            &keys_only,
            ViewOnRemove::OldImage,
            Json::parse(r#"{"pk": "o#1", "sk": "v0"}"#),
        ),
    ];
    for (line, view, document) in cases {
        let change = map_export_line(line, 1, &incremental(&schema, view)).unwrap();
        assert_eq!(change.action, Action::Delete);
        let out = json_line(&change);
        assert_eq!(out.get("document"), &document, "{line} {view:?}");
        let meta = out.get("metadata");
        assert_eq!(meta.get("opensearch_action").str(), "delete");
        assert_eq!(meta.get("dynamodb_event_name"), &Json::Null);
        assert_eq!(meta.get("primary_key").str(), "o#1|v0");
        assert_eq!(
            meta.get("dynamodb_timestamp"),
            &Json::Number("1795276800700".into())
        );
        // The same record the stream REMOVE of that item gives, but for the stream's fields.
        let raw = stream_record(
            "REMOVE",
            1_795_276_800.0,
            if line == &with_old {
                json!({"OldImage": old_image()})
            } else {
                json!({})
            },
        );
        let options = MappingOptions {
            view_on_remove: view,
            ..MappingOptions::default()
        };
        let removed = streamed(&raw, &schema, options);
        assert_eq!(change.document, removed.document);
        assert_eq!(change.key, removed.key);
    }
}

#[test]
fn an_incremental_line_and_the_stream_record_of_its_change_give_one_document() {
    let schema = schema();
    let line = incremental_line(Some(new_image()), Some(old_image()));
    let exported =
        map_export_line(&line, 1, &incremental(&schema, ViewOnRemove::NewImage)).unwrap();
    let raw = stream_record(
        "MODIFY",
        1_795_276_800.0,
        json!({"NewImage": new_image(), "OldImage": old_image()}),
    );
    let change = streamed(&raw, &schema, MappingOptions::default());
    assert_eq!(exported.document, change.document);
    assert_eq!(exported.key, change.key);
    // The stream record of the change itself (stamped 12:00:00, the write at .700) and any
    // later one outrank the line: ties and replays of the stream still converge.
    assert!(change.version > exported.version);
    // And the line outranks the full export its window starts from.
    let full = ExportSource {
        kind: ExportKind::Full {
            export_time_ms: FROM_MS,
        },
        ..incremental(&schema, ViewOnRemove::NewImage)
    };
    let item_line = json!({ "Item": old_image() }).to_string();
    let snapshot = map_export_line(&item_line, 1, &full).unwrap();
    assert!(exported.version > snapshot.version);
}

#[test]
fn scanned_and_parsed_incremental_lines_map_alike() {
    let schema = schema();
    // Pretty-printed, fields reordered, unknown fields, escapes: still the scan's business,
    // but a whitespace-only difference must not change the record.
    let compact = incremental_line(Some(new_image()), None);
    let pretty = serde_json::to_string_pretty(&json!({
        "Keys": keys(),
        "Extra": [1, {"x": "}"}],
        "NewImage": new_image(),
        "Metadata": {"Other": true, "WriteTimestampMicros": {"N": WRITTEN_MICROS}},
    }))
    .unwrap();
    let source = incremental(&schema, ViewOnRemove::NewImage);
    let a = map_export_line(&compact, 1, &source).unwrap();
    let b = map_export_line(&pretty, 1, &source).unwrap();
    assert_eq!(
        (
            a.key,
            a.version,
            a.timestamp_ms,
            a.document.map(|d| d.json().to_owned())
        ),
        (
            b.key,
            b.version,
            b.timestamp_ms,
            b.document.map(|d| d.json().to_owned())
        )
    );
}

#[test]
fn bad_incremental_lines_name_their_line_and_where() {
    let schema = schema();
    let meta = r#""Metadata":{"WriteTimestampMicros":{"N":"1795276800700123"}}"#;
    let keys = r#""Keys":{"pk":{"S":"a"},"sk":{"S":"b"}}"#;
    let cases = [
        (format!("{{{keys}}}"), "missing field `Metadata`"),
        (format!("{{{meta}}}"), "missing field `Keys`"),
        (
            format!(r#"{{"Metadata":{{}},{keys}}}"#),
            "missing field `WriteTimestampMicros`",
        ),
        (
            format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"S":"1"}}}},{keys}}}"#),
            "invalid at Metadata.WriteTimestampMicros",
        ),
        (
            format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"-5"}}}},{keys}}}"#),
            "WriteTimestampMicros \"-5\" is not a time in whole microseconds",
        ),
        (
            format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"1.5e15"}}}},{keys}}}"#),
            "WriteTimestampMicros \"1.5e15\"",
        ),
        (
            format!(r#"{{{meta},"Keys":{{"pk":{{"S":"a"}}}}}}"#),
            "key attribute \"sk\" is missing",
        ),
        (
            format!(r#"{{{meta},"Keys":{{"pk":{{"S":"a"}},"sk":{{"N":"x"}}}}}}"#),
            "invalid at Keys.sk",
        ),
        (
            format!(r#"{{{meta},{keys},"NewImage":{{"pk":{{"S":"a"}},"n":{{"X":"1"}}}}}}"#),
            "invalid at NewImage.n",
        ),
        (
            format!(r#"{{{meta},{keys},"OldImage":{{"n":{{"N":"1","S":"x"}}}}}}"#),
            "invalid at OldImage.n",
        ),
        (
            format!(r#"{{{meta},{keys},{keys}}}"#),
            "duplicate field `Keys`",
        ),
        // A full export's line where an incremental one belongs.
        (
            r#"{"Item":{"pk":{"S":"a"},"sk":{"S":"b"}}}"#.to_owned(),
            "missing field `Metadata`",
        ),
    ];
    for (line, reason) in cases {
        let err =
            map_export_line(&line, 9, &incremental(&schema, ViewOnRemove::OldImage)).unwrap_err();
        assert_eq!(err.record, RecordId::ExportLine(9));
        let text = err.to_string();
        assert!(text.starts_with("export line 9: "), "{text}");
        assert!(text.contains(reason), "{line}: {text}");
    }
    // And the other way round.
    let line = incremental_line(Some(new_image()), None);
    let err = map_export_line(&line, 2, &source(&schema)).unwrap_err();
    assert!(err.to_string().contains("missing field `Item`"), "{err}");
}

#[test]
fn full_lines_scanned_or_parsed_give_one_record() {
    let schema = schema();
    let item = json!({"pk": {"S": "o#1"}, "sk": {"S": "v0"}, "note": {"S": "é\"\n"}});
    let compact = json!({ "Item": item }).to_string();
    let pretty = serde_json::to_string_pretty(&json!({"Other": [1], "Item": item})).unwrap();
    let a = map_export_line(&compact, 1, &source(&schema)).unwrap();
    let b = map_export_line(&pretty, 1, &source(&schema)).unwrap();
    assert_eq!(json_line(&a), json_line(&b));
    let mut out_a = Vec::new();
    a.write_json(&mut out_a);
    let mut out_b = Vec::new();
    b.write_json(&mut out_b);
    assert_eq!(out_a, out_b, "byte for byte");
    let twice = format!(r#"{{"Item":{item},"Item":{item}}}"#);
    let err = map_export_line(&twice, 4, &source(&schema)).unwrap_err();
    assert!(err.to_string().contains("duplicate field `Item`"), "{err}");
}
