//! Export items (DYNAMODB_JSON lines) map to the same change record as stream records.

mod support;

use cdc_record::{
    map_export_line, version, ExportSource, KeySchema, MappingOptions, RecordId, Source,
    StreamRecord,
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
        export_time_ms: 1_795_278_192_000,
        version_margin_ms: version::DEFAULT_EXPORT_MARGIN_MS,
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
