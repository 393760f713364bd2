//! Items for DynamoDB Local tables, deterministic from a seed: random values of every attribute
//! type ([`Values`], also what the end-to-end workload writes) and [`items`], a table's worth of
//! items that starts with every edge case DynamoDB accepts (keys of type S, N and B with `|` and
//! `\`, 38-digit and extreme numbers, empty strings, binaries, maps and lists, control characters,
//! attribute names that need quoting in Ion...) followed by random ones.
//!
//! Write them with [`put_items`] (PutItem, one at a time) and read them back with
//! [`crate::items::scan_all`]: what DynamoDB returns (its number spellings, its set order) is
//! what a real export holds, so tests compare against that, never against what was put.

use std::collections::HashSet;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use fastrand::Rng;

use crate::items::Item;

/// A key attribute: name and type (`S`, `N` or `B`).
#[derive(Debug, Clone, Copy)]
pub struct KeyAttribute {
    /// The attribute name.
    pub name: &'static str,
    /// `S`, `N` or `B`.
    pub kind: char,
}

/// A table's key schema, as far as generating items needs it.
#[derive(Debug, Clone)]
pub struct TableShape {
    /// The partition (hash) key.
    pub partition_key: KeyAttribute,
    /// The sort (range) key, if any.
    pub sort_key: Option<KeyAttribute>,
}

impl TableShape {
    /// The `KEY:TYPE` specs [`crate::create_table`] takes.
    pub fn key_specs(&self) -> (String, Option<String>) {
        let spec = |k: KeyAttribute| format!("{}:{}", k.name, k.kind);
        (spec(self.partition_key), self.sort_key.map(spec))
    }

    /// The table's `CDC_KEY_SCHEMA` entry (`TABLE:PK[:SK]`).
    pub fn key_schema_entry(&self, table: &str) -> String {
        match self.sort_key {
            Some(sk) => format!("{table}:{}:{}", self.partition_key.name, sk.name),
            None => format!("{table}:{}", self.partition_key.name),
        }
    }

    /// Creates `table` with this key schema on `client` (see [`crate::create_table`]).
    pub async fn create(&self, client: &aws_sdk_dynamodb::Client, table: &str, stream: bool) {
        let (pk, sk) = self.key_specs();
        crate::create_table(client, table, &pk, sk.as_deref(), stream).await;
    }
}

/// Random attribute values of every type, from a seeded generator.
pub struct Values {
    rng: Rng,
}

impl Values {
    /// A generator whose values depend only on `seed`.
    pub fn new(seed: u64) -> Self {
        Values {
            rng: Rng::with_seed(seed),
        }
    }

    /// The underlying generator, for callers that interleave their own choices with values
    /// (the workload picks keys and operations from the same sequence).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// 1 to 7 attributes `a0`, `a1`... of random values nested up to `depth`, and once in 25
    /// items a `large` string of 100-350 KB (DynamoDB's item limit is 400 KB).
    pub fn item(&mut self, depth: u8) -> Item {
        let mut item: Item = (0..self.rng.usize(1..8))
            .map(|i| (format!("a{i}"), self.value(depth)))
            .collect();
        if self.rng.u8(0..25) == 0 {
            // ASCII, so that its size in bytes is known: up to 350 KB with the rest.
            let len = self.rng.usize(100_000..350_000);
            let large: String = (0..len).map(|_| self.rng.alphanumeric()).collect();
            item.insert("large".into(), AttributeValue::S(large));
        }
        item
    }

    /// A value of any type; maps and lists nest up to `depth` more levels.
    pub fn value(&mut self, depth: u8) -> AttributeValue {
        let kinds = if depth == 0 { 8 } else { 10 };
        match self.rng.u8(0..kinds) {
            0 => {
                let len = self.rng.usize(0..20);
                AttributeValue::S(self.string(len))
            }
            1 => AttributeValue::N(self.number()),
            2 => AttributeValue::B(Blob::new(self.bytes())),
            3 => AttributeValue::Bool(self.rng.bool()),
            4 => AttributeValue::Null(true),
            5 => AttributeValue::Ss(self.distinct(|w| w.string(8))),
            6 => AttributeValue::Ns(self.distinct(|w| w.number())),
            7 => AttributeValue::Bs(self.distinct(|w| Blob::new(w.bytes()))),
            8 => AttributeValue::M(
                (0..self.rng.usize(0..4))
                    .map(|i| (format!("m{i}"), self.value(depth - 1)))
                    .collect(),
            ),
            _ => AttributeValue::L(
                (0..self.rng.usize(0..4))
                    .map(|_| self.value(depth - 1))
                    .collect(),
            ),
        }
    }

    /// 1 to 4 distinct values (sets may not repeat a member).
    fn distinct<T: PartialEq>(&mut self, mut make: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let mut out: Vec<T> = Vec::new();
        for _ in 0..self.rng.usize(1..5) {
            let next = make(self);
            if !out.contains(&next) {
                out.push(next);
            }
        }
        out
    }

    /// Up to 38 significant digits, sometimes fractional or negative.
    pub fn number(&mut self) -> String {
        let digits: String = (0..self.rng.usize(1..=38))
            .map(|_| self.rng.digit(10))
            .collect();
        let digits = format!("{}{}", self.rng.u8(1..10), &digits[1..]);
        let point = self.rng.usize(0..=digits.len());
        let mut n = if point == digits.len() || point == 0 {
            digits
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        };
        if self.rng.bool() {
            n.insert(0, '-');
        }
        n
    }

    /// `len` characters drawn from ASCII, escapes (`|`, `\`, `"`, newline) and non-ASCII.
    pub fn string(&mut self, len: usize) -> String {
        const ALPHABET: &[char] = &['a', 'Z', '0', ' ', '|', '\\', '"', 'é', '🚀', '\n', 'ß'];
        (0..len)
            .map(|_| ALPHABET[self.rng.usize(0..ALPHABET.len())])
            .collect()
    }

    /// 1 to 15 random bytes.
    pub fn bytes(&mut self) -> Vec<u8> {
        (0..self.rng.usize(1..16))
            .map(|_| self.rng.u8(..))
            .collect()
    }
}

/// Key values of type `kind` (`S`, `N` or `B`) that stress key rendering: `|` and `\` (the
/// `primary_key` separator and its escape), quotes, control characters, non-ASCII, 38 digits,
/// DynamoDB's largest and smallest magnitudes, integers with trailing zeros, fractions. No two
/// are equal as DynamoDB compares keys (`100` and `1E2` would be one key), and none is empty
/// (DynamoDB rejects empty key values).
pub fn edge_key_values(kind: char) -> Vec<AttributeValue> {
    match kind {
        'N' => [
            "0",
            "-1",
            "100",
            "1e5",
            "1.50",
            "12345678901234567890123456789012345678",
            "-0.12345678901234567890123456789012345678",
            "1E+125",
            "9.9999999999999999999999999999999999999E+125",
            "-1E-130",
            "1E-130",
        ]
        .into_iter()
        .map(|n| AttributeValue::N(n.into()))
        .collect(),
        'B' => [
            &[0u8][..],
            &[0xff, b'|', b'\\'],
            b"|",
            b"\\",
            b"a|b",
            &(0..=255).collect::<Vec<u8>>(),
        ]
        .into_iter()
        .map(|b| AttributeValue::B(Blob::new(b)))
        .collect(),
        _ => [
            "plain",
            "k|1\\",
            "a|b",
            "a\\|b",
            "|",
            "\\",
            "\\\\|",
            "quote\"d 'single'",
            "tab\tnew\nline\r\u{1}\u{1f}\u{7f}",
            "é中文🚀",
            " leading and trailing ",
            "{\"S\":\"looks like json\"}",
        ]
        .into_iter()
        .map(|s| AttributeValue::S(s.into()))
        .collect(),
    }
}

/// Non-key attributes covering every type and its edges, one attribute per case, named for
/// it. Small enough together for one item.
pub fn edge_attributes() -> Item {
    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: &str| AttributeValue::N(v.into());
    let b = |v: &[u8]| AttributeValue::B(Blob::new(v));
    let mut deep = AttributeValue::L(vec![]);
    // DynamoDB allows 32 levels of nesting; the item is level 1.
    for level in 0..30 {
        deep = if level % 2 == 0 {
            AttributeValue::L(vec![deep])
        } else {
            AttributeValue::M([("d".to_owned(), deep)].into())
        };
    }
    let attributes: Vec<(&str, AttributeValue)> = vec![
        ("s_empty", s("")),
        ("s_unicode", s("é ß 中文 🚀 \u{2028}\u{2029} \u{feff}")),
        ("s_quotes", s("\"double\" 'single' `back`")),
        ("s_backslash", s("\\ \\\\ \\n \\u0041 \\x41")),
        (
            "s_control",
            s("\u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1b}\u{1f}\u{7f}"),
        ),
        ("s_pipe", s("a|b\\|c\\")),
        ("s_json", s("{\"Item\":{\"pk\":{\"S\":\"x\"}}}")),
        ("s_ion", s("$ion_1_0 {{aGk=}} 'sym' $dynamodb_SS::[]")),
        ("n_zero", n("0")),
        ("n_negative_zero", n("-0")),
        ("n_38_digits", n("12345678901234567890123456789012345678")),
        (
            "n_38_fraction",
            n("0.12345678901234567890123456789012345678"),
        ),
        (
            "n_38_negative",
            n("-1234567890123456789.0123456789012345678"),
        ),
        ("n_1e125", n("1E+125")),
        ("n_max", n("9.9999999999999999999999999999999999999E+125")),
        (
            "n_min_negative",
            n("-9.9999999999999999999999999999999999999E+125"),
        ),
        ("n_tiny_negative", n("-1E-130")),
        ("n_tiny", n("1E-130")),
        ("n_100", n("100")),
        ("n_1e5", n("1e5")),
        ("n_1e38", n("100000000000000000000000000000000000000")),
        ("n_negative", n("-42")),
        ("n_1_50", n("1.50")),
        ("n_trailing_zeros", n("123.4500")),
        ("n_micro", n("0.000001")),
        ("n_1e_minus_7", n("1E-7")),
        ("b_empty", b(b"")),
        ("b_all_bytes", b(&(0..=255).collect::<Vec<u8>>())),
        ("b_pipe", b(b"|\\")),
        ("bool_true", AttributeValue::Bool(true)),
        ("bool_false", AttributeValue::Bool(false)),
        ("null", AttributeValue::Null(true)),
        (
            "ss",
            AttributeValue::Ss(vec!["b".into(), "a".into(), "é".into(), "|\\\"".into()]),
        ),
        (
            "ns",
            AttributeValue::Ns(
                ["1", "1.50", "-1E-130", "1E+125", "100", "-0.5"]
                    .map(String::from)
                    .to_vec(),
            ),
        ),
        (
            "bs",
            AttributeValue::Bs(vec![
                Blob::new(vec![0]),
                Blob::new(vec![0xff]),
                Blob::new(b"|".to_vec()),
            ]),
        ),
        ("m_empty", AttributeValue::M(Default::default())),
        ("l_empty", AttributeValue::L(vec![])),
        (
            "m_nested",
            AttributeValue::M(
                [
                    ("my key", s("spaces")),
                    ("null", s("keyword")),
                    ("true", AttributeValue::Bool(false)),
                    ("$1", s("symbol id look-alike")),
                    ("$ion_1_0", s("version marker look-alike")),
                    ("'quoted'", s("quotes")),
                    ("é", n("1")),
                    ("a.b", s("dotted")),
                    ("123", s("digits")),
                    ("m", AttributeValue::M(Default::default())),
                    ("l", AttributeValue::L(vec![])),
                    (
                        "sets",
                        AttributeValue::L(vec![
                            AttributeValue::Ss(vec!["x".into()]),
                            AttributeValue::Ns(vec!["2".into()]),
                            AttributeValue::Bs(vec![Blob::new(vec![1])]),
                        ]),
                    ),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            ),
        ),
        (
            "l_nested",
            AttributeValue::L(vec![
                AttributeValue::L(vec![AttributeValue::L(vec![])]),
                AttributeValue::M(Default::default()),
                n("1.50"),
                s(""),
                AttributeValue::Null(true),
                AttributeValue::Bool(true),
                b(b""),
            ]),
        ),
        ("deep", deep),
        ("my attribute", s("a name with a space")),
        ("$ion", s("a name Ion must quote")),
        ("'", s("a lone quote as a name")),
        ("名前", s("a non-ASCII name")),
    ];
    attributes
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// `count` items for a table of shape `shape` (at least enough for the edge cases: see
/// [`edge_key_values`] and [`edge_attributes`]), deterministic from `seed`, with distinct keys.
///
/// First every edge key value (each partition key edge paired with a sort key edge, and the
/// first partition key with every sort key edge, so that one partition holds several items);
/// the first item also carries every [`edge_attributes`] case. Then random items of
/// [`Values::item`] under random keys.
pub fn items(shape: &TableShape, seed: u64, count: usize) -> Vec<Item> {
    let mut values = Values::new(seed);
    let mut seen = HashSet::new();
    let mut out: Vec<Item> = Vec::with_capacity(count);
    let mut push = |key: Item, attributes: Item, out: &mut Vec<Item>| {
        if seen.insert(key_text(&key)) {
            let mut item = attributes;
            item.extend(key);
            out.push(item);
        }
    };
    let pk_edges = edge_key_values(shape.partition_key.kind);
    let sk_edges = shape.sort_key.map(|sk| edge_key_values(sk.kind));
    let key = |pk: &AttributeValue, sk: Option<&AttributeValue>| -> Item {
        let mut key = Item::new();
        key.insert(shape.partition_key.name.to_owned(), pk.clone());
        if let (Some(attribute), Some(sk)) = (shape.sort_key, sk) {
            key.insert(attribute.name.to_owned(), sk.clone());
        }
        key
    };
    let mut edges: Vec<Item> = Vec::new();
    for (i, pk) in pk_edges.iter().enumerate() {
        edges.push(key(pk, sk_edges.as_ref().map(|s| &s[i % s.len()])));
    }
    for sk in sk_edges.iter().flatten() {
        edges.push(key(&pk_edges[0], Some(sk)));
    }
    for (i, k) in edges.into_iter().enumerate() {
        let attributes = if i == 0 {
            edge_attributes()
        } else {
            values.item(2)
        };
        push(k, attributes, &mut out);
    }
    let mut serial = 0u64;
    while out.len() < count {
        serial += 1;
        let pk = random_key_value(&mut values, shape.partition_key.kind, serial);
        let sk = shape
            .sort_key
            .map(|sk| random_key_value(&mut values, sk.kind, serial));
        let attributes = values.item(2);
        push(key(&pk, sk.as_ref()), attributes, &mut out);
    }
    out
}

/// A random key value made distinct by `serial` (and never equal to an edge value).
fn random_key_value(values: &mut Values, kind: char, serial: u64) -> AttributeValue {
    match kind {
        // The integer part is the serial, so no two are equal whatever DynamoDB normalises.
        'N' => {
            let fraction: String = (0..values.rng().usize(0..20))
                .map(|_| values.rng().digit(10))
                .collect();
            let sign = if values.rng().bool() { "-" } else { "" };
            AttributeValue::N(if fraction.is_empty() {
                format!("{sign}{}", serial + 1_000_000)
            } else {
                format!("{sign}{}.{fraction}", serial + 1_000_000)
            })
        }
        'B' => {
            let mut bytes = b"r".to_vec();
            bytes.extend_from_slice(&serial.to_be_bytes());
            bytes.extend(values.bytes());
            AttributeValue::B(Blob::new(bytes))
        }
        _ => {
            let len = values.rng().usize(0..12);
            AttributeValue::S(format!("r{serial}#{}", values.string(len)))
        }
    }
}

/// A key as text that is equal for equal keys, to keep generated keys distinct.
fn key_text(key: &Item) -> String {
    let mut parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    parts.sort();
    parts.join("\u{0}")
}

/// Writes `items` to `table` with PutItem, one at a time, so that scans return DynamoDB's own
/// canonical values (number spellings, set order) for them.
pub async fn put_items(client: &aws_sdk_dynamodb::Client, table: &str, items: &[Item]) {
    for item in items {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put an item into {table}: {e:?}\nitem: {item:?}"));
    }
}
