//! The payload is parsed by our own scanner, not by `serde_json` first, so the scanner must
//! accept exactly the payloads `serde_json` accepts and cut out the same records. Checked here
//! on the real sample events, corrupted byte by byte, and on arbitrary JSON.

use std::path::PathBuf;

use cdc_record::{StreamEvent, StreamRecord};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The envelope as `serde_json` reads it: the authority.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

fn samples() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("events/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
        .iter()
        .map(|f| std::fs::read(f).expect("readable"))
        .collect()
}

/// Our parse agrees with `serde_json`'s: both accept or both reject, and on acceptance the
/// records are the same texts, each parsed as `StreamRecord::parse` alone parses it.
fn agrees_with_serde(payload: &[u8]) {
    let ours = StreamEvent::parse(payload);
    // An event is an object: serde alone would also read the struct from an array.
    let theirs = std::str::from_utf8(payload)
        .ok()
        .filter(|text| !text.trim_start().starts_with('['))
        .and_then(|text| serde_json::from_str::<Envelope>(text).ok());
    match (ours, theirs) {
        (Ok(ours), Some(theirs)) => {
            let raws: Vec<&str> = theirs.records.iter().map(|r| r.get()).collect();
            assert_eq!(ours.raws, raws);
            let alone: Vec<_> = raws.iter().map(|raw| StreamRecord::parse(raw)).collect();
            assert_eq!(ours.records, alone);
            // And each record parses (or not) as the typed serde parser alone parses it.
            for (raw, ours) in raws.iter().zip(&ours.records) {
                let typed = serde_json::from_str::<StreamRecord>(raw);
                assert_eq!(ours.is_ok(), typed.is_ok(), "{raw}");
            }
        }
        (Err(_), None) => {}
        (ours, theirs) => panic!(
            "ours: {:?}, serde_json accepts: {}, payload: {}",
            ours.map(|e| e.raws.len()),
            theirs.is_some(),
            String::from_utf8_lossy(payload)
        ),
    }
}

#[test]
fn every_sample_event_parses_as_serde_json_reads_it() {
    for sample in samples() {
        agrees_with_serde(&sample);
        assert!(StreamEvent::parse(&sample).is_ok());
    }
}

/// Bytes that matter to JSON's grammar, and some that must never appear raw in a string.
const INTERESTING: &[u8] = b"{}[]\":,\\/ \n0-1.eE+tfnu\x00\x01\x1f\x7fa";

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop::sample::select(INTERESTING.to_vec());
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut payload: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = payload.len().max(1);
        match *edit {
            Edit::Replace(at, b) if !payload.is_empty() => payload[at % len] = b,
            Edit::Insert(at, b) => payload.insert(at % (payload.len() + 1), b),
            Edit::Delete(at) if !payload.is_empty() => drop(payload.remove(at % len)),
            Edit::Truncate(at) => payload.truncate(at % (payload.len() + 1)),
            _ => {}
        }
    }
    payload
}

/// A JSON value of any shape.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Corrupted samples: wherever the corruption lands (a record's image, a skipped field,
    /// the envelope), our parse accepts and rejects as `serde_json` does.
    #[test]
    fn corrupted_payloads_are_judged_as_serde_json_judges_them(
        sample in 0usize..64,
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let samples = samples();
        let payload = apply(samples[sample % samples.len()].clone(), &edits);
        agrees_with_serde(&payload);
    }

    /// Arbitrary JSON in the envelope and in fields the mapping skips, compact or pretty.
    #[test]
    fn arbitrary_json_around_the_records_is_judged_as_serde_json_judges_it(
        extra in json(),
        pretty in any::<bool>(),
        edits in prop::collection::vec(edit(), 0..2),
    ) {
        let record = serde_json::json!({
            "eventName": "INSERT", "extra": extra,
            "dynamodb": {"Keys": {"pk": {"S": "a"}}, "SequenceNumber": "1", "SizeBytes": extra},
        });
        let event = serde_json::json!({"before": extra, "Records": [record, extra], "after": extra});
        let text = if pretty {
            serde_json::to_vec_pretty(&event)
        } else {
            serde_json::to_vec(&event)
        };
        let payload = apply(text.expect("serialisable"), &edits);
        agrees_with_serde(&payload);
    }
}

#[test]
fn deep_nesting_is_judged_as_serde_json_judges_it_without_overflowing_the_stack() {
    for depth in [127, 128, 100_000] {
        let mut payload = br#"{"Records":[{"eventName":"INSERT","x":"#.to_vec();
        payload.extend(std::iter::repeat_n(b'[', depth));
        payload.extend(std::iter::repeat_n(b']', depth));
        payload.extend_from_slice(b"}]}");
        agrees_with_serde(&payload);
    }
    let mut image = String::new();
    for _ in 0..100_000 {
        image.push_str(r#"{"a":{"M":"#);
    }
    let payload = format!(r#"{{"Records":[{{"dynamodb":{{"NewImage":{image}}}}}]}}"#);
    assert!(StreamEvent::parse(payload.as_bytes()).is_err());
}

#[test]
fn a_payload_that_is_no_event_says_why() {
    // Deeper than any nesting bound: it must fail as `[]` does, not pass as an empty batch.
    let deep_array = [&b"["[..], &b"]"[..]].map(|b| b.repeat(200_000)).concat();
    for (payload, why) in [
        (&b""[..], "EOF"),
        (b"5", "invalid type"),
        (b"{}", "missing field `Records`"),
        (
            b"{\"Records\":[],\"Records\":[]}",
            "duplicate field `Records`",
        ),
        (b"{\"Records\":[{\"a\":\"\x01\"}]}", "control character"),
        (b"{\"Records\":[{}]}\xff", "invalid utf-8"),
        (b"[]", "invalid type"),
        (b" [[{\"eventName\":\"INSERT\"}]]", "invalid type"),
        (&deep_array, "invalid type"),
    ] {
        let error = StreamEvent::parse(payload)
            .expect_err("not an event")
            .to_string();
        assert!(
            error.contains("not a DynamoDB Streams event") && error.contains(why),
            "{error}"
        );
    }
}
