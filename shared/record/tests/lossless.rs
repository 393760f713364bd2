//! Property: any attribute value survives mapping and serialisation exactly (numbers compared
//! as decimals, since `+.5` legitimately becomes `0.5`).

mod support;

use std::str::FromStr;

use base64::Engine as _;
use bigdecimal::BigDecimal;
use cdc_record::{KeySchema, MappingOptions, StreamRecord};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use support::Json;

fn number() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just(""), Just("-"), Just("+")],
        "[0-9]{0,38}",
        proptest::option::of("[0-9]{0,20}"),
        proptest::option::of((
            prop_oneof![Just("E"), Just("e")],
            prop_oneof![Just(""), Just("+"), Just("-")],
            0u32..130,
        )),
    )
        .prop_filter("needs a digit", |(_, int, frac, _)| {
            !int.is_empty() || frac.as_deref().is_some_and(|f| !f.is_empty())
        })
        .prop_map(|(sign, int, frac, exp)| {
            let mut n = format!("{sign}{int}");
            if let Some(frac) = frac {
                n.push('.');
                n.push_str(&frac);
            }
            if let Some((e, s, x)) = exp {
                n.push_str(&format!("{e}{s}{x}"));
            }
            n
        })
}

fn binary() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 0..40)
        .prop_map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn attribute() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(|s| json!({ "S": s })),
        number().prop_map(|n| json!({ "N": n })),
        binary().prop_map(|b| json!({ "B": b })),
        any::<bool>().prop_map(|b| json!({ "BOOL": b })),
        Just(json!({"NULL": true})),
        proptest::collection::vec(any::<String>(), 1..4).prop_map(|v| json!({ "SS": v })),
        proptest::collection::vec(number(), 1..4).prop_map(|v| json!({ "NS": v })),
        proptest::collection::vec(binary(), 1..4).prop_map(|v| json!({ "BS": v })),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(|v| json!({ "L": v })),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| json!({ "M": m.into_iter().collect::<Map<String, Value>>() })),
        ]
    })
}

/// Asserts that `output` (our JSON) holds exactly the value of `input` (DynamoDB JSON).
fn assert_same(input: &Value, output: &Json) {
    let (tag, value) = input.as_object().unwrap().iter().next().unwrap();
    match (tag.as_str(), output) {
        ("S" | "B", Json::String(s)) => assert_eq!(value.as_str().unwrap(), s),
        ("N", Json::Number(n)) => assert_same_number(value.as_str().unwrap(), n),
        ("BOOL", Json::Bool(b)) => assert_eq!(value.as_bool().unwrap(), *b),
        ("NULL", Json::Null) => {}
        ("SS" | "BS", Json::Array(out)) => {
            let expected: Vec<Json> = value
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Json::String(s.as_str().unwrap().to_owned()))
                .collect();
            assert_eq!(&expected, out);
        }
        ("NS", Json::Array(out)) => {
            assert_eq!(value.as_array().unwrap().len(), out.len());
            for (n, o) in value.as_array().unwrap().iter().zip(out) {
                let Json::Number(o) = o else { panic!("{o:?}") };
                assert_same_number(n.as_str().unwrap(), o);
            }
        }
        ("L", Json::Array(out)) => {
            assert_eq!(value.as_array().unwrap().len(), out.len());
            for (v, o) in value.as_array().unwrap().iter().zip(out) {
                assert_same(v, o);
            }
        }
        ("M", Json::Object(out)) => assert_same_item(value.as_object().unwrap(), out),
        (tag, out) => panic!("{tag} became {out:?}"),
    }
}

fn assert_same_item(input: &Map<String, Value>, output: &[(String, Json)]) {
    assert_eq!(input.len(), output.len());
    for (name, out) in output {
        assert_same(&input[name], out);
    }
}

fn assert_same_number(input: &str, output: &str) {
    // BigDecimal has no leading '+' or bare '.'; write the input as a decimal it accepts.
    let normal = input.strip_prefix('+').unwrap_or(input);
    let normal = normal.replace("-.", "-0.");
    let normal = if normal.starts_with('.') {
        format!("0{normal}")
    } else {
        normal
    };
    let normal = normal.replace(".E", "E").replace(".e", "e");
    let normal = normal.strip_suffix('.').unwrap_or(&normal).to_owned();
    let expected = BigDecimal::from_str(&normal).unwrap();
    let actual = BigDecimal::from_str(output).unwrap();
    assert_eq!(expected, actual, "{input} became {output}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_values_survive_exactly(
        attributes in proptest::collection::btree_map("[a-z]{1,8}", attribute(), 0..8),
        pk in any::<String>(),
        sk in number(),
    ) {
        let mut image: Map<String, Value> = attributes.into_iter().collect();
        image.insert("pk".into(), json!({"S": pk}));
        image.insert("sk".into(), json!({"N": sk}));
        let raw = json!({
            "eventID": "e", "eventName": "INSERT",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
            "dynamodb": {"ApproximateCreationDateTime": 1.0, "SequenceNumber": "1",
                         "Keys": {"pk": image["pk"], "sk": image["sk"]}, "NewImage": image}
        }).to_string();
        let schema = KeySchema { partition_key: "pk".into(), sort_key: Some("sk".into()) };
        let change = StreamRecord::parse(&raw).unwrap()
            .into_change(&schema, &MappingOptions::default()).unwrap().unwrap();
        let mut out = Vec::new();
        change.write_json_line(&mut out);
        let line = Json::parse(std::str::from_utf8(&out).unwrap());
        let Json::Object(document) = line.get("document") else { panic!() };
        assert_same_item(&image, document);
        assert_eq!(line.get("metadata").get("partition_key").str(), pk);
        assert_same_number(&sk, line.get("metadata").get("sort_key").str());
    }
}
