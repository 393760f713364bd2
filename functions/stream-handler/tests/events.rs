//! Every sample in events/ (real DynamoDB Local stream records): parse, map, serialise, and
//! read back; the document must hold exactly the values of the image it came from.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use cdc_record::{KeySchema, MappingOptions, StreamEvent};
use cdc_testkit::json::Json;
use serde_json::Value;
use stream_handler::batch;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// The key schemas of the sample tables (events/README.md).
fn schemas() -> HashMap<String, Arc<KeySchema>> {
    [
        ("orders", "pk", Some("sk")),
        ("sessions_ttl", "pk", None),
        ("counters", "id", None),
        ("users", "pk", None),
        ("blobs", "pk", Some("sk")),
    ]
    .into_iter()
    .map(|(table, pk, sk)| {
        (
            table.to_owned(),
            Arc::new(KeySchema {
                partition_key: pk.into(),
                sort_key: sk.map(Into::into),
            }),
        )
    })
    .collect()
}

/// DynamoDB JSON to the plain JSON we promise, computed independently of the crate.
fn expected(value: &Value) -> Json {
    let (tag, inner) = value.as_object().unwrap().iter().next().unwrap();
    match tag.as_str() {
        "S" | "B" => Json::String(inner.as_str().unwrap().to_owned()),
        "N" => Json::Number(inner.as_str().unwrap().to_owned()),
        "BOOL" => Json::Bool(inner.as_bool().unwrap()),
        "NULL" => Json::Null,
        "SS" | "BS" => Json::Array(
            inner
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Json::String(s.as_str().unwrap().to_owned()))
                .collect(),
        ),
        "NS" => Json::Array(
            inner
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Json::Number(s.as_str().unwrap().to_owned()))
                .collect(),
        ),
        "L" => Json::Array(inner.as_array().unwrap().iter().map(expected).collect()),
        "M" => expected_item(inner),
        other => panic!("unknown tag {other}"),
    }
}

fn expected_item(item: &Value) -> Json {
    let mut entries: Vec<(String, Json)> = item
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), expected(v)))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Json::Object(entries)
}

#[test]
fn every_sample_event_round_trips_exactly() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    let schemas = schemas();
    for file in files {
        let text = std::fs::read(&file).unwrap();
        let event = StreamEvent::parse(&text).unwrap();
        let raws = event.raws.clone();
        let (mapped, _) = batch::map(event.records, &raws, &schemas, &MappingOptions::default());
        let malformed = file.ends_with("stream-malformed.json");
        assert_eq!(mapped.letters.len(), usize::from(malformed), "{file:?}");
        assert_eq!(mapped.changes.len() + mapped.letters.len(), raws.len());

        for (change, &index) in mapped.changes.iter().zip(&mapped.positions) {
            let source: Value = serde_json::from_str(raws[index]).unwrap();
            let mut line = Vec::new();
            change.write_json_line(&mut line);
            let out = Json::parse(std::str::from_utf8(&line).unwrap());
            let meta = out.get("metadata");
            let dynamodb = &source["dynamodb"];
            assert_eq!(
                meta.get("sequence_number").str(),
                dynamodb["SequenceNumber"].as_str().unwrap()
            );
            assert_eq!(
                meta.get("event_id").str(),
                source["eventID"].as_str().unwrap()
            );
            assert_eq!(
                meta.get("dynamodb_event_name").str(),
                source["eventName"].as_str().unwrap()
            );
            let want = match (
                source["eventName"].as_str().unwrap(),
                dynamodb.get("NewImage"),
            ) {
                ("REMOVE", _) => Json::Null,
                (_, Some(image)) => expected_item(image),
                (_, None) => expected_item(&dynamodb["Keys"]),
            };
            assert_eq!(out.get("document"), &want, "{file:?} record {index}");
            // Reserialised, the line parses again to the same value.
            assert_eq!(Json::parse(&String::from_utf8(line).unwrap()), out);
        }
    }
}

#[test]
fn the_ttl_sample_flags_only_the_service_delete() {
    let text = std::fs::read(events_dir().join("stream-ttl-delete.json")).unwrap();
    let event = StreamEvent::parse(&text).unwrap();
    let (mapped, _) = batch::map(
        event.records,
        &event.raws,
        &schemas(),
        &MappingOptions::default(),
    );
    let flags: Vec<bool> = mapped.changes.iter().map(|c| c.ttl_delete).collect();
    assert_eq!(flags, [false, false, false, true]);
}
