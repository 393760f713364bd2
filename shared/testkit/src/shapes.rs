//! Stream batches of realistic shapes, for the benchmarks: the in-process mapping benchmark and
//! the invocation-cost harness measure every figure on each, because the mapping's cost depends
//! on the payload (long strings, escapes, many small attributes, big items, view types).
//!
//! Records are written with their fields in the order Lambda sends them, deterministically (the
//! same batch every run), for table `orders` with key `pk` + `sk`.

use serde_json::{json, Value};

/// Lambda's synchronous invocation payload limit.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// The largest batch an event source mapping may ask for (`BatchSize` of a stream).
pub const MAX_RECORDS: usize = 10_000;

/// A kind of stream batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `MODIFY`s of an order item (~750 bytes per image: nested map, list of maps, sets, a
    /// 38-digit number, binary, some non-ASCII), `NEW_AND_OLD_IMAGES`.
    Order,
    /// An item with three descriptions of 500–1,500 characters (quotes, newlines).
    FreeText,
    /// Names and text in several scripts (Latin accents, Greek, CJK, emoji), written raw.
    NonAscii,
    /// The same items with every non-ASCII character written as a `\u` escape, as Python's
    /// `json` and many other writers do.
    NonAsciiEscaped,
    /// 60 small attributes per item.
    ManyAttributes,
    /// Items of 100–350 KB (a long text, a list of maps, a binary).
    LargeItems,
    /// `KEYS_ONLY` stream: keys only, `INSERT`/`MODIFY`/`REMOVE`.
    KeysOnly,
    /// `NEW_IMAGE` stream of order items.
    NewImage,
}

impl Shape {
    /// Every shape, in report order.
    pub const ALL: [Shape; 8] = [
        Shape::Order,
        Shape::FreeText,
        Shape::NonAscii,
        Shape::NonAsciiEscaped,
        Shape::ManyAttributes,
        Shape::LargeItems,
        Shape::KeysOnly,
        Shape::NewImage,
    ];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Order => "order",
            Shape::FreeText => "free-text",
            Shape::NonAscii => "non-ascii",
            Shape::NonAsciiEscaped => "non-ascii-escaped",
            Shape::ManyAttributes => "many-attributes",
            Shape::LargeItems => "large-items",
            Shape::KeysOnly => "keys-only",
            Shape::NewImage => "new-image",
        }
    }

    /// The shape called `name`.
    pub fn named(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Record `i` of a batch of this shape, as Lambda writes it.
    pub fn record(self, i: usize) -> String {
        let (event, view) = match self {
            Shape::KeysOnly => (["INSERT", "MODIFY", "REMOVE"][i % 3], "KEYS_ONLY"),
            Shape::NewImage => ("MODIFY", "NEW_IMAGE"),
            _ => ("MODIFY", "NEW_AND_OLD_IMAGES"),
        };
        let image = match self {
            Shape::Order | Shape::NewImage => order(i),
            Shape::FreeText => free_text(i),
            Shape::NonAscii | Shape::NonAsciiEscaped => non_ascii(i),
            Shape::ManyAttributes => many_attributes(i),
            Shape::LargeItems => large(i),
            Shape::KeysOnly => keys(i),
        };
        let keys = json!({"pk": image["pk"], "sk": image["sk"]});
        let images = match view {
            "KEYS_ONLY" => String::new(),
            "NEW_IMAGE" => format!(r#""NewImage":{image},"#),
            _ => format!(r#""NewImage":{image},"OldImage":{image},"#),
        };
        let text = format!(
            r#"{{"eventID":"{i:032x}","eventName":"{event}","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"eu-west-1","dynamodb":{{"ApproximateCreationDateTime":{ts},"Keys":{keys},{images}"SequenceNumber":"{seq:021}","SizeBytes":{size},"StreamViewType":"{view}"}},"eventSourceARN":"arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-11-21T00:00:00.000"}}"#,
            ts = 1_795_278_192 + i,
            seq = 1_000_000 + i,
            size = images.len() / 2 + 60,
        );
        if self == Shape::NonAsciiEscaped {
            escape_non_ascii(&text)
        } else {
            text
        }
    }

    /// The Lambda payload of records `0..n`.
    pub fn payload(self, n: usize) -> Vec<u8> {
        let mut out = b"{\"Records\":[".to_vec();
        for i in 0..n {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.record(i).as_bytes());
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// The largest batch Lambda could send: as many records as fit under the payload limit, at
    /// most [`MAX_RECORDS`]; with its record count.
    pub fn max_payload(self) -> (Vec<u8>, usize) {
        let mut out = b"{\"Records\":[".to_vec();
        let mut n = 0;
        while n < MAX_RECORDS {
            let record = self.record(n);
            if out.len() + record.len() + 3 >= MAX_PAYLOAD {
                break;
            }
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(record.as_bytes());
            n += 1;
        }
        out.extend_from_slice(b"]}");
        (out, n)
    }
}

fn key_of(i: usize) -> (String, String) {
    (format!("customer#{:08}", i % 977), format!("order#{i:010}"))
}

fn keys(i: usize) -> Value {
    let (pk, sk) = key_of(i);
    json!({"pk": {"S": pk}, "sk": {"S": sk}})
}

fn order(i: usize) -> Value {
    let (pk, sk) = key_of(i);
    json!({
        "pk": {"S": pk},
        "sk": {"S": sk},
        "status": {"S": if i % 3 == 0 { "SHIPPED" } else { "PENDING" }},
        "amount": {"N": format!("{}.{:02}", i * 7 % 100_000, i % 100)},
        "exact": {"N": "12345678901234567890.123456789012345678"},
        "quantity": {"N": (i % 40).to_string()},
        "gift": {"BOOL": i % 5 == 0},
        "coupon": {"NULL": true},
        "tags": {"SS": ["priority", "web", "eu-west"]},
        "scores": {"NS": ["1.5", "2", "99999999999999999999.5"]},
        "thumbnail": {"B": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="},
        "address": {"M": {
            "street": {"S": "Große Straße 1"}, "city": {"S": "Berlin"}, "zip": {"S": "10115"},
            "geo": {"M": {"lat": {"N": "52.520008"}, "lon": {"N": "13.404954"}}}
        }},
        "lines": {"L": [
            {"M": {"sku": {"S": "SKU-1"}, "qty": {"N": "2"}, "price": {"N": "19.99"}}},
            {"M": {"sku": {"S": "SKU-2"}, "qty": {"N": "1"}, "price": {"N": "5.00"}}}
        ]},
        "note": {"S": "Please leave the parcel with the neighbour if nobody is at home. \"Thanks\"!"}
    })
}

const PROSE: &str = "The customer asked for the parcel to be left at the back door, next to the \
    green bin, and to ring twice. Items were checked against the packing list; one was replaced \
    by an equivalent model after a call on Tuesday (\"fine by me\", she said).\nReturn window: \
    30 days from delivery. Gift wrap requested for two items, with a card reading: \"Happy \
    birthday, see you in June!\" ";

/// `len` characters of prose starting at a point that depends on `seed`.
fn prose(seed: usize, len: usize) -> String {
    PROSE
        .chars()
        .cycle()
        .skip(seed % PROSE.len())
        .take(len)
        .collect()
}

fn free_text(i: usize) -> Value {
    let (pk, sk) = key_of(i);
    json!({
        "pk": {"S": pk},
        "sk": {"S": sk},
        "title": {"S": prose(i, 80)},
        "description": {"S": prose(i + 7, 500 + i % 1000)},
        "delivery_notes": {"S": prose(i + 13, 600)},
        "review": {"S": prose(i + 29, 700 + i % 300)},
        "rating": {"N": (i % 5 + 1).to_string()},
        "updated": {"S": "2026-11-21T10:00:00Z"}
    })
}

const SCRIPTS: [&str; 6] = [
    "Zoë Ångström-Müller, Große Straße 7, 80331 München — «très bien»",
    "Αθηνά Παπαδοπούλου, οδός Ερμού 12, Αθήνα",
    "山田太郎、東京都千代田区丸の内一丁目 — 配達は午後希望",
    "김민준, 서울특별시 강남구 테헤란로 152",
    "Отправить до пятницы, пожалуйста. Спасибо!",
    "Party pack 🎉🎈 with cake 🎂 and gifts 🎁 — ✓ confirmed",
];

fn non_ascii(i: usize) -> Value {
    let (pk, sk) = key_of(i);
    let text = |k: usize| SCRIPTS[(i + k) % SCRIPTS.len()];
    json!({
        "pk": {"S": pk},
        "sk": {"S": sk},
        "name": {"S": text(0)},
        "address": {"M": {"line": {"S": text(1)}, "city": {"S": text(2)}}},
        "comment": {"S": format!("{} {} {}", text(3), text(4), text(5))},
        "labels": {"SS": [text(0), text(2)]},
        "amount": {"N": format!("{}.{:02}", i * 7 % 100_000, i % 100)}
    })
}

fn many_attributes(i: usize) -> Value {
    let (pk, sk) = key_of(i);
    let mut item = serde_json::Map::new();
    item.insert("pk".into(), json!({"S": pk}));
    item.insert("sk".into(), json!({"S": sk}));
    for a in 0..60 {
        let value = match a % 4 {
            0 => json!({"N": ((i * 31 + a) % 10_000).to_string()}),
            1 => json!({"S": format!("v{}", (i + a) % 97)}),
            2 => json!({"BOOL": (i + a) % 2 == 0}),
            _ => json!({"N": format!("{}.{}", a, i % 10)}),
        };
        item.insert(format!("attr_{a:02}"), value);
    }
    Value::Object(item)
}

fn large(i: usize) -> Value {
    let (pk, sk) = key_of(i);
    // 100 to 350 KB: half in one text, half in a list of small maps, a binary besides.
    let target = 100_000 + (i * 37_000) % 250_000;
    let rows = target / 2 / 60;
    json!({
        "pk": {"S": pk},
        "sk": {"S": sk},
        "body": {"S": prose(i, target / 2 - 4_000)},
        "rows": {"L": (0..rows).map(|r| json!({"M": {
            "n": {"N": r.to_string()},
            "sku": {"S": format!("SKU-{r:06}")},
            "ok": {"BOOL": r % 2 == 0}
        }})).collect::<Vec<_>>()},
        "blob": {"B": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY".repeat(100)}
    })
}

/// JSON text with every non-ASCII character as `\uXXXX` (a surrogate pair beyond the BMP).
/// Non-ASCII characters only occur inside strings, so the text stays the same JSON.
fn escape_non_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_a_valid_payload_under_the_limit() {
        for shape in Shape::ALL {
            let (payload, n) = shape.max_payload();
            assert!(payload.len() < MAX_PAYLOAD, "{shape:?}");
            let value: Value = serde_json::from_slice(&payload).expect("JSON");
            assert_eq!(value["Records"].as_array().map(Vec::len), Some(n));
            assert_eq!(Shape::named(shape.name()), Some(shape));
        }
    }

    #[test]
    fn escaped_shape_holds_the_same_values_in_ascii() {
        let raw: Value = serde_json::from_str(&Shape::NonAscii.record(5)).expect("JSON");
        let escaped = Shape::NonAsciiEscaped.record(5);
        assert!(escaped.is_ascii() && escaped.contains("\\ud83c"));
        assert_eq!(serde_json::from_str::<Value>(&escaped).expect("JSON"), raw);
    }

    /// Every record of every shape maps (a bad base64 or number would only measure the dead
    /// letter path).
    #[test]
    fn every_shape_maps() {
        let schema = cdc_record::KeySchema {
            partition_key: "pk".into(),
            sort_key: Some("sk".into()),
        };
        for shape in Shape::ALL {
            for i in 0..30 {
                let record = shape.record(i);
                let parsed = cdc_record::StreamRecord::parse(&record)
                    .and_then(|r| r.into_change(&schema, &cdc_record::MappingOptions::default()));
                assert!(parsed.is_ok(), "{shape:?} {i}: {parsed:?}");
            }
        }
    }

    #[test]
    fn large_items_are_100_to_350_kb() {
        for i in 0..8 {
            let size = Shape::LargeItems.record(i).len() / 2;
            assert!((100_000..360_000).contains(&size), "{size}");
        }
    }
}
