//! A seeded random workload: puts, updates and deletes of items with every attribute type,
//! some large, on a small key space so that items change many times.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use fastrand::Rng;

/// A key attribute: name and type (`S`, `N` or `B`).
#[derive(Debug, Clone, Copy)]
pub struct KeyAttribute {
    pub name: &'static str,
    pub kind: char,
}

#[derive(Debug, Clone)]
pub struct TableShape {
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
}

impl TableShape {
    /// The `KEY:TYPE` specs `cdc_testkit::create_table` takes, and the `CDC_KEY_SCHEMA` entry.
    pub fn key_specs(&self) -> (String, Option<String>) {
        let spec = |k: KeyAttribute| format!("{}:{}", k.name, k.kind);
        (spec(self.partition_key), self.sort_key.map(spec))
    }

    pub fn key_schema_entry(&self, table: &str) -> String {
        match self.sort_key {
            Some(sk) => format!("{table}:{}:{}", self.partition_key.name, sk.name),
            None => format!("{table}:{}", self.partition_key.name),
        }
    }
}

pub struct Workload {
    rng: Rng,
    keys: usize,
}

impl Workload {
    pub fn new(seed: u64, keys: usize) -> Self {
        Workload {
            rng: Rng::with_seed(seed),
            keys,
        }
    }

    /// Runs `ops` random operations against `table`.
    pub async fn run(
        &mut self,
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        shape: &TableShape,
        ops: usize,
    ) {
        for _ in 0..ops {
            let key = self.key(shape);
            match self.rng.u8(0..10) {
                0..=4 => {
                    let mut item = self.item(2);
                    item.extend(key);
                    client
                        .put_item()
                        .table_name(table)
                        .set_item(Some(item))
                        .send()
                        .await
                        .expect("put");
                }
                5..=7 => {
                    let (name, value) = (format!("a{}", self.rng.u8(0..6)), self.value(2));
                    let remove = format!("a{}", self.rng.u8(0..6));
                    let expression = if remove != name {
                        "SET #n = :v REMOVE #r"
                    } else {
                        "SET #n = :v"
                    };
                    let mut update = client
                        .update_item()
                        .table_name(table)
                        .set_key(Some(key))
                        .update_expression(expression)
                        .expression_attribute_names("#n", name.clone())
                        .expression_attribute_values(":v", value);
                    if remove != name {
                        update = update.expression_attribute_names("#r", remove);
                    }
                    update.send().await.expect("update");
                }
                _ => {
                    client
                        .delete_item()
                        .table_name(table)
                        .set_key(Some(key))
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
    }

    fn key(&mut self, shape: &TableShape) -> HashMap<String, AttributeValue> {
        let mut key = HashMap::new();
        let id = self.rng.usize(0..self.keys);
        key.insert(
            shape.partition_key.name.into(),
            key_value(shape.partition_key.kind, id % 7),
        );
        if let Some(sk) = shape.sort_key {
            key.insert(sk.name.into(), key_value(sk.kind, id));
        } else {
            key.insert(
                shape.partition_key.name.into(),
                key_value(shape.partition_key.kind, id),
            );
        }
        key
    }

    fn item(&mut self, depth: u8) -> HashMap<String, AttributeValue> {
        let mut item: HashMap<String, AttributeValue> = (0..self.rng.usize(1..8))
            .map(|i| (format!("a{i}"), self.value(depth)))
            .collect();
        if self.rng.u8(0..25) == 0 {
            // A large item: DynamoDB's limit is 400 KB.
            // ASCII, so that its size in bytes is known: up to 350 KB with the rest.
            let len = self.rng.usize(100_000..350_000);
            let large: String = (0..len).map(|_| self.rng.alphanumeric()).collect();
            item.insert("large".into(), AttributeValue::S(large));
        }
        item
    }

    fn value(&mut self, depth: u8) -> AttributeValue {
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
    fn number(&mut self) -> String {
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

    fn string(&mut self, len: usize) -> String {
        const ALPHABET: &[char] = &['a', 'Z', '0', ' ', '|', '\\', '"', 'é', '🚀', '\n', 'ß'];
        (0..len)
            .map(|_| ALPHABET[self.rng.usize(0..ALPHABET.len())])
            .collect()
    }

    fn bytes(&mut self) -> Vec<u8> {
        (0..self.rng.usize(1..16))
            .map(|_| self.rng.u8(..))
            .collect()
    }
}

fn key_value(kind: char, id: usize) -> AttributeValue {
    match kind {
        'N' => AttributeValue::N(format!("{id}.5")),
        'B' => AttributeValue::B(Blob::new(vec![0xff, id as u8, b'|'])),
        _ => AttributeValue::S(format!("k|{id}\\")),
    }
}
