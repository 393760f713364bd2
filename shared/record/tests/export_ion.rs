//! Lines of an ION export become the DYNAMODB_JSON lines of the same items, and so the same
//! change records, byte for byte.

mod support;

use cdc_record::{
    ion_line_to_json, map_export_line, version, ExportKind, ExportSource, IonError, KeySchema,
    MappingOptions, ViewOnRemove,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use support::ion::{self, NumberSpelling};

const SPELLINGS: [NumberSpelling; 3] = [
    NumberSpelling::Exponent,
    NumberSpelling::Plain,
    NumberSpelling::Padded,
];

fn to_json(ion: &str) -> Result<String, IonError> {
    let mut out = String::new();
    ion_line_to_json(ion, &mut out)?;
    Ok(out)
}

fn schema() -> KeySchema {
    KeySchema {
        partition_key: "pk".into(),
        sort_key: Some("sk".into()),
    }
}

fn source(schema: &KeySchema, kind: ExportKind, view_on_remove: ViewOnRemove) -> ExportSource<'_> {
    ExportSource {
        table_name: "orders",
        key_schema: schema,
        kind,
        version_margin_ms: version::DEFAULT_EXPORT_MARGIN_MS,
        options: MappingOptions {
            view_on_remove,
            ..MappingOptions::default()
        },
    }
}

const FULL: ExportKind = ExportKind::Full {
    export_time_ms: 1_795_276_800_000,
};
const INCREMENTAL: ExportKind = ExportKind::Incremental {
    from_ms: 1_795_273_200_250,
    to_ms: 1_795_280_400_250,
};

/// The change record of a DYNAMODB_JSON line and of an ION line, as JSON Lines.
fn records(json_line: &str, ion_line: &str, source: &ExportSource<'_>) -> (Vec<u8>, Vec<u8>) {
    let from_json =
        map_export_line(json_line, 1, source).unwrap_or_else(|e| panic!("{json_line}: {e}"));
    let converted = to_json(ion_line).unwrap_or_else(|e| panic!("{ion_line}: {e}"));
    let from_ion =
        map_export_line(&converted, 1, source).unwrap_or_else(|e| panic!("{converted}: {e}"));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    from_json.write_json_line(&mut a);
    from_ion.write_json_line(&mut b);
    (a, b)
}

fn assert_same_records(json_line: &str, ion_line: &str, source: &ExportSource<'_>) {
    let (a, b) = records(json_line, ion_line, source);
    assert_eq!(
        String::from_utf8(a).unwrap(),
        String::from_utf8(b).unwrap(),
        "\nJSON: {json_line}\nION:  {ion_line}"
    );
}

#[test]
fn the_documented_item_becomes_its_documented_json_line() {
    // AWS's export format documentation shows this item in both formats.
    let ion = r#"$ion_1_0 {Item:{Authors:$dynamodb_SS::["Author1","Author2"],Dimensions:"8.5 x 11.0 x 1.5",ISBN:"333-3333333333",Id:103.,InPublication:false,PageCount:6d2,Price:2d3,ProductCategory:"Book",Title:"Book 103 Title"}}"#;
    let json = r#"{"Item":{"Authors":{"SS":["Author1","Author2"]},"Dimensions":{"S":"8.5 x 11.0 x 1.5"},"ISBN":{"S":"333-3333333333"},"Id":{"N":"103"},"InPublication":{"BOOL":false},"PageCount":{"N":"600"},"Price":{"N":"2000"},"ProductCategory":{"S":"Book"},"Title":{"S":"Book 103 Title"}}}"#;
    assert_eq!(to_json(ion).unwrap(), json);
    let ion = r#"{Item:{Authors:$dynamodb_SS::["Author1","Author2"],Dimensions:"8.5 x 11.0 x 0.5",Id:103.,InPublication:false,PageCount:600.,Price:2d1,Title:"Book 103 Title"}}"#;
    let json = r#"{"Item":{"Authors":{"SS":["Author1","Author2"]},"Dimensions":{"S":"8.5 x 11.0 x 0.5"},"Id":{"N":"103"},"InPublication":{"BOOL":false},"PageCount":{"N":"600"},"Price":{"N":"20"},"Title":{"S":"Book 103 Title"}}}"#;
    assert_eq!(to_json(ion).unwrap(), json);
}

#[test]
fn incremental_lines_keep_their_shape_and_write_time() {
    for micros in [
        "1680109764000123",
        "1680109764000123.",
        "1680109764000123d0",
        "1.680109764000123d15",
    ] {
        let ion = format!(
            "$ion_1_0 {{Metadata:{{WriteTimestampMicros:{micros}}},Keys:{{pk:\"a\",sk:1.}},NewImage:{{pk:\"a\",sk:1.,n:2d1}},OldImage:{{pk:\"a\",sk:1.}}}}"
        );
        assert_eq!(
            to_json(&ion).unwrap(),
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000123"}},"Keys":{"pk":{"S":"a"},"sk":{"N":"1"}},"NewImage":{"pk":{"S":"a"},"sk":{"N":"1"},"n":{"N":"20"}},"OldImage":{"pk":{"S":"a"},"sk":{"N":"1"}}}"#,
            "{ion}"
        );
    }
    // A delete: keys only. Fields neither format's mapping reads are left out.
    let ion = "{Metadata:{Other:1,WriteTimestampMicros:5},Keys:{pk:\"a\"},Extra:[1.0e0]}";
    assert_eq!(
        to_json(ion).unwrap(),
        r#"{"Metadata":{"WriteTimestampMicros":{"N":"5"}},"Keys":{"pk":{"S":"a"}}}"#
    );
}

/// The canonical text DynamoDB gives each value (measured against DynamoDB Local: see
/// `src/canonical.rs`), from the Ion spellings of it.
#[test]
fn numbers_take_dynamodb_s_own_text() {
    let cases = [
        ("1d5", "100000".to_owned()),
        ("2d1", "20".into()),
        ("103.", "103".into()),
        ("103d0", "103".into()),
        ("-0d0", "0".into()),
        ("-0.", "0".into()),
        ("0.0", "0".into()),
        ("0d-5", "0".into()),
        ("-0.000", "0".into()),
        ("1.50", "1.5".into()),
        ("1d-5", "0.00001".into()),
        ("1D-5", "0.00001".into()),
        ("100d-2", "1".into()),
        ("15d-1", "1.5".into()),
        ("1.23d4", "12300".into()),
        ("-12.340", "-12.34".into()),
        ("0.00012300", "0.000123".into()),
        ("100", "100".into()),
        ("-0", "0".into()),
        ("0x10", "16".into()),
        ("-0b101", "-5".into()),
        ("1_000", "1000".into()),
        (
            "123456789012345678901234567890.12345678",
            "123456789012345678901234567890.12345678".into(),
        ),
        (
            "12345678901234567890123456789012345678",
            "12345678901234567890123456789012345678".into(),
        ),
        (
            "-1234567890123456789012345678901234567.8",
            "-1234567890123456789012345678901234567.8".into(),
        ),
        ("1d125", format!("1{}", "0".repeat(125))),
        ("-1d-130", format!("-0.{}1", "0".repeat(129))),
        (
            "9.9999999999999999999999999999999999999d125",
            format!("{}{}", "9".repeat(38), "0".repeat(88)),
        ),
        // An int with more digits than 38, but only 38 significant ones.
        (
            "100000000000000000000000000000000000000000000",
            format!("1{}", "0".repeat(44)),
        ),
    ];
    for (ion, expected) in cases {
        for (line, json) in [
            (
                format!("{{Item:{{n:{ion}}}}}"),
                format!(r#"{{"Item":{{"n":{{"N":"{expected}"}}}}}}"#),
            ),
            (
                format!("{{Item:{{m:{{l:[{ion}]}},ns:$dynamodb_NS::[{ion}]}}}}"),
                format!(
                    r#"{{"Item":{{"m":{{"M":{{"l":{{"L":[{{"N":"{expected}"}}]}}}}}},"ns":{{"NS":["{expected}"]}}}}}}"#
                ),
            ),
        ] {
            assert_eq!(to_json(&line).unwrap(), json, "{ion}");
        }
    }
}

#[test]
fn strings_are_written_as_a_json_writer_writes_them() {
    let cases = [
        (r#""""#, ""),
        (r#""a\"b""#, "a\"b"),
        (r#""back\\slash""#, "back\\slash"),
        (r#""\x00\x01\x1f\x7f""#, "\u{0}\u{1}\u{1f}\u{7f}"),
        (r#""\n\t\r\b\f\v\a\0""#, "\n\t\r\u{8}\u{c}\u{b}\u{7}\u{0}"),
        (r#""\u00e9\U0001F600 é😀 \u2028/""#, "é😀 é😀 \u{2028}/"),
        ("'a symbol'", "a symbol"),
        ("identifier", "identifier"),
        ("'''long ''' '''string'''", "long string"),
        (r#""'single' quotes""#, "'single' quotes"),
    ];
    for (ion, value) in cases {
        let line = format!("{{Item:{{'s\"\\\\ é':{ion},ss:$dynamodb_SS::[{ion}]}}}}");
        let expected = json!({"Item": {"s\"\\ é": {"S": value}, "ss": {"SS": [value]}}});
        // serde_json writes the keys sorted; so does this item's Ion, by luck of its names.
        assert_eq!(to_json(&line).unwrap(), expected.to_string(), "{ion}");
    }
}

/// Every type, nesting, empty values, awkward strings and the numbers above, as DynamoDB's
/// DYNAMODB_JSON export writes them.
fn every_type() -> Map<String, Value> {
    let item = json!({
        "pk": {"S": "o#1|\"q\"\\"}, "sk": {"N": "-12.5"},
        "s": {"S": "plain"}, "empty": {"S": ""}, "unicode": {"S": "é😀\u{2028}"},
        "controls": {"S": "\u{0}\u{1f}\n\t\r\u{8}\u{c}\u{7f}/"},
        "n": {"N": "600"}, "n38": {"N": "12345678901234567890123456789012345678"},
        "frac": {"N": "123456789012345678901234567890.12345678"},
        "big": {"N": format!("1{}", "0".repeat(125))},
        "tiny": {"N": format!("-0.{}1", "0".repeat(129))},
        "zero": {"N": "0"}, "small": {"N": "0.00001"},
        "b": {"B": "AQL/+w=="}, "emptyb": {"B": ""},
        "t": {"BOOL": true}, "f": {"BOOL": false}, "z": {"NULL": true},
        "ss": {"SS": ["a", "é", "\"", ""]}, "ns": {"NS": ["1", "-0.5", "2000"]},
        "bs": {"BS": ["AA==", "//8="]},
        "m": {"M": {"inner": {"M": {"deep": {"L": [{"N": "1"}, {"S": "x"}, {"M": {}}]}}},
                    "emptym": {"M": {}}, "emptyl": {"L": []}}},
        "l": {"L": [{"NULL": true}, {"BOOL": false}, {"SS": ["x"]}, {"L": [{"L": []}]},
                    {"B": "AQI="}, {"N": "0.1"}]},
    });
    item.as_object().unwrap().clone()
}

fn keys_of(item: &Map<String, Value>) -> Map<String, Value> {
    item.iter()
        .filter(|(k, _)| *k == "pk" || *k == "sk")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn json_incremental_line(
    micros: &str,
    keys: &Map<String, Value>,
    new_image: Option<&Map<String, Value>>,
    old_image: Option<&Map<String, Value>>,
) -> String {
    let mut line = json!({"Metadata": {"WriteTimestampMicros": {"N": micros}}, "Keys": keys});
    if let Some(image) = new_image {
        line["NewImage"] = Value::Object(image.clone());
    }
    if let Some(image) = old_image {
        line["OldImage"] = Value::Object(image.clone());
    }
    line.to_string()
}

#[test]
fn every_type_gives_byte_identical_change_records_in_both_formats() {
    let schema = schema();
    let item = every_type();
    let keys = keys_of(&item);
    let mut old = item.clone();
    old.insert("n".into(), json!({"N": "599"}));
    let json_full = json!({ "Item": item }).to_string();
    for spelling in SPELLINGS {
        // However the JSON export escapes its strings.
        for json_line in [json_full.clone(), ion::java_escaped(&json_full)] {
            let ion_line = ion::item_line(&item, spelling);
            assert_same_records(
                &json_line,
                &ion_line,
                &source(&schema, FULL, ViewOnRemove::NewImage),
            );
        }
        let micros = "1795276800700123";
        let lines = [
            (Some(&item), None),
            (Some(&item), Some(&old)),
            (None, Some(&old)),
            (None, None),
        ];
        for (new_image, old_image) in lines {
            let json_line = json_incremental_line(micros, &keys, new_image, old_image);
            let ion_line = ion::incremental_line(micros, &keys, new_image, old_image, spelling);
            for view in [ViewOnRemove::NewImage, ViewOnRemove::OldImage] {
                let source = source(&schema, INCREMENTAL, view);
                assert_same_records(&json_line, &ion_line, &source);
                assert_same_records(&ion::java_escaped(&json_line), &ion_line, &source);
            }
        }
    }
}

#[test]
fn bad_ion_says_what_and_where() {
    let cases = [
        ("", "not Ion text"),
        ("not ion {", "not Ion text"),
        ("{Item:{a:1}} {Item:{a:2}}", "not Ion text"),
        ("{Item:{a:\"unterminated}}", "not Ion text"),
        (
            "[1]",
            "the line: expected a struct such as {Item:{...}}, found list",
        ),
        (
            "{Item:[1]}",
            "at Item: expected a struct of attributes, found list",
        ),
        (
            "{Item:{a:1.5e0}}",
            "at Item.a: an Ion float is no DynamoDB value",
        ),
        (
            "{Item:{a:2001-01-01T}}",
            "at Item.a: an Ion timestamp is no DynamoDB value",
        ),
        (
            "{Item:{a:{{\"clob\"}}}}",
            "at Item.a: an Ion clob is no DynamoDB value",
        ),
        ("{Item:{a:(b c)}}", "an S-expression at byte 9"),
        (
            "{Item:{l:[1,{x:[2, 3e0]}]}}",
            "at Item.l[1].x[1]: an Ion float",
        ),
        (
            "{Item:{a:$dynamodb_SS::\"x\"}}",
            "at Item.a: annotation \"$dynamodb_SS\" on string",
        ),
        (
            "{Item:{a:$dynamodb_SS::{x:1}}}",
            "annotation \"$dynamodb_SS\" on struct",
        ),
        (
            "{Item:{a:$dynamodb_SS::null.list}}",
            "annotation \"$dynamodb_SS\" on null",
        ),
        ("{Item:{a:other::[1]}}", "annotation \"other\" on list"),
        (
            "{Item:{a:$dynamodb_SS::$dynamodb_NS::[1]}}",
            "annotation \"$dynamodb_SS::$dynamodb_NS\" on list",
        ),
        (
            "{Item:{a:$dynamodb_SS::[\"x\",1]}}",
            "at Item.a[1]: expected a string (SS element), found int",
        ),
        (
            "{Item:{a:$dynamodb_NS::[\"1\"]}}",
            "at Item.a[0]: expected a decimal or int (NS element), found string",
        ),
        (
            "{Item:{a:$dynamodb_BS::[\"AA==\"]}}",
            "expected a blob (BS element), found string",
        ),
        (
            "{Item:{a:$dynamodb_NS::[x::1]}}",
            "at Item.a[0]: annotation \"x\" on int",
        ),
        (
            "{Item:{a:1d126}}",
            "at Item.a: 1d126 is no DynamoDB number: magnitude above",
        ),
        ("{Item:{a:1d-131}}", "magnitude below 1E-130"),
        ("{Item:{a:1d999999999999}}", "magnitude above"),
        (
            "{Item:{a:1234567890123456789012345678901234567891}}",
            "more than 38 significant digits",
        ),
        (
            "{Item:{a:$0}}",
            "at Item.a: a field name or symbol without text",
        ),
        (
            "{Item:{$0:1}}",
            "at Item: a field name or symbol without text",
        ),
        ("top::{Item:{}}", "the line: annotation \"top\" on struct"),
        (
            "{Metadata:{WriteTimestampMicros:-1},Keys:{}}",
            "at Metadata.WriteTimestampMicros: -1 is not a whole number of microseconds",
        ),
        (
            "{Metadata:{WriteTimestampMicros:1.5},Keys:{}}",
            "WriteTimestampMicros: 1.5 is not a whole number",
        ),
        (
            "{Metadata:{WriteTimestampMicros:\"1\"},Keys:{}}",
            "WriteTimestampMicros: \"1\" is not a whole number",
        ),
        (
            "{Metadata:[],Keys:{}}",
            "at Metadata: expected a struct such as {WriteTimestampMicros:...}, found list",
        ),
        ("$ion_1_1 {Item:{}}", "not Ion text"),
    ];
    for (ion, message) in cases {
        let mut out = String::from("kept");
        let err = ion_line_to_json(ion, &mut out).expect_err(ion);
        assert_eq!(out, "kept", "{ion}: output untouched on error");
        let text = err.to_string();
        assert!(text.contains(message), "{ion}: {text}");
        assert!(!text.contains('\n'), "{ion}: one line: {text}");
    }
}

#[test]
fn a_huge_bad_number_is_named_briefly() {
    let digits = "7".repeat(100_000);
    let err = to_json(&format!("{{Item:{{a:{digits}}}}}")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("more than 38 significant digits"), "{text}");
    assert!(text.len() < 200, "{text}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [41, 1_000, 1_000_000] {
        let line = format!("{{Item:{{a:{}{}}}}}", "[".repeat(depth), "]".repeat(depth));
        let err = to_json(&line).unwrap_err();
        assert!(matches!(err, IonError::TooDeep { .. }), "{depth}: {err}");
        assert!(err.to_string().contains("nest more than 40"), "{err}");
    }
    // DynamoDB's own limit, 32 levels of M and L, passes.
    let nested = format!(
        "{{Item:{{a:{}1{}}}}}",
        "{x:".repeat(31) + "[",
        "]".to_owned() + &"}".repeat(31)
    );
    to_json(&nested).unwrap();
}

#[test]
fn a_bad_line_names_its_line_when_mapped() {
    let err = to_json("{Item:{a:1.5e0}}").unwrap_err();
    let mapped = cdc_record::MapError {
        record: cdc_record::RecordId::ExportLine(12),
        reason: err.into(),
    };
    assert_eq!(
        mapped.to_string(),
        "export line 12: at Item.a: an Ion float is no DynamoDB value (those are string, symbol, decimal, int, bool, null, blob, struct, list and $dynamodb_SS/NS/BS-annotated lists)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Corrupted lines, and any text at all, give an answer: never a panic (which under the
    /// release profile's `panic = "abort"` would end the invocation).
    #[test]
    fn any_text_is_converted_or_rejected_without_a_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6),
        noise in any::<String>(),
    ) {
        let valid = r#"$ion_1_0 {Metadata:{WriteTimestampMicros:1680109764000123},Keys:{pk:"a",sk:1.},NewImage:{pk:"a",sk:1.,n:2d1,l:[$dynamodb_NS::[1,2.5],{{AQI=}},'''x''',null.int,{m:true}],s:$dynamodb_SS::["x"]}}"#;
        to_json(valid).unwrap();
        let mut line: Vec<char> = valid.chars().collect();
        for (at, kind, c) in edits {
            let i = at.index(line.len());
            match kind {
                0 => line[i] = c,
                1 => line.insert(i, c),
                _ => drop(line.remove(i)),
            }
        }
        let line: String = line.into_iter().collect();
        let _ = to_json(&line);
        let _ = to_json(&noise);
    }
}

// Any item: its DYNAMODB_JSON line and its ION line give byte-identical change records.

/// A number as DynamoDB writes it: up to 38 significant digits, magnitude 1E-130 to 1E+126.
fn canonical_number() -> impl Strategy<Value = String> {
    (any::<bool>(), "[1-9]([0-9]{0,36}[1-9])?", -170i64..126)
        .prop_filter("in range", |(_, digits, exponent)| {
            let leading = exponent + digits.len() as i64 - 1;
            (-130..=125).contains(&leading)
        })
        .prop_map(|(negative, digits, exponent)| {
            let sign = if negative { "-" } else { "" };
            if exponent >= 0 {
                format!("{sign}{digits}{}", "0".repeat(exponent as usize))
            } else {
                let point = digits.len() as i64 + exponent;
                if point > 0 {
                    let (int, frac) = digits.split_at(point as usize);
                    format!("{sign}{int}.{frac}")
                } else {
                    format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
                }
            }
        })
        .boxed()
        .prop_union(Just("0".to_owned()).boxed())
}

fn binary() -> impl Strategy<Value = String> {
    use base64::Engine as _;
    proptest::collection::vec(any::<u8>(), 0..20)
        .prop_map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn attribute() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(|s| json!({ "S": s })),
        canonical_number().prop_map(|n| json!({ "N": n })),
        binary().prop_map(|b| json!({ "B": b })),
        any::<bool>().prop_map(|b| json!({ "BOOL": b })),
        Just(json!({"NULL": true})),
        proptest::collection::vec(any::<String>(), 1..4).prop_map(|v| json!({ "SS": v })),
        proptest::collection::vec(canonical_number(), 1..4).prop_map(|v| json!({ "NS": v })),
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_item_gives_byte_identical_records_in_both_formats(
        attributes in proptest::collection::btree_map(any::<String>(), attribute(), 0..8),
        pk in any::<String>(),
        sk in canonical_number(),
        spelling in prop_oneof![
            Just(NumberSpelling::Exponent), Just(NumberSpelling::Plain), Just(NumberSpelling::Padded)
        ],
        java in any::<bool>(),
        incremental in any::<bool>(),
    ) {
        let mut item: Map<String, Value> = attributes.into_iter().collect();
        item.insert("pk".into(), json!({"S": pk}));
        item.insert("sk".into(), json!({"N": sk}));
        let schema = schema();
        let (json_line, ion_line, kind) = if incremental {
            let keys = keys_of(&item);
            (
                json_incremental_line("1795276800700123", &keys, Some(&item), None),
                ion::incremental_line("1795276800700123", &keys, Some(&item), None, spelling),
                INCREMENTAL,
            )
        } else {
            (json!({ "Item": item }).to_string(), ion::item_line(&item, spelling), FULL)
        };
        let json_line = if java { ion::java_escaped(&json_line) } else { json_line };
        let (a, b) = records(&json_line, &ion_line, &source(&schema, kind, ViewOnRemove::NewImage));
        prop_assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    }
}
