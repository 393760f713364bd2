//! A seeded random workload: puts, updates and deletes of items with every attribute type,
//! some large, on a small key space so that items change many times. The values come from
//! `cdc_testkit::generate::Values`, which the export fixtures share.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use cdc_testkit::generate::Values;
pub use cdc_testkit::generate::{KeyAttribute, TableShape};

/// A random workload, the same for the same seed.
pub struct Workload {
    values: Values,
    keys: usize,
}

impl Workload {
    /// Operations on up to `keys` distinct item keys, every choice drawn from `seed`.
    pub fn new(seed: u64, keys: usize) -> Self {
        Workload {
            values: Values::new(seed),
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
            match self.values.rng().u8(0..10) {
                0..=4 => {
                    let mut item = self.values.item(2);
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
                    let name = format!("a{}", self.values.rng().u8(0..6));
                    let value = self.values.value(2);
                    let remove = format!("a{}", self.values.rng().u8(0..6));
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
        let id = self.values.rng().usize(0..self.keys);
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
}

fn key_value(kind: char, id: usize) -> AttributeValue {
    match kind {
        'N' => AttributeValue::N(format!("{id}.5")),
        'B' => AttributeValue::B(Blob::new(vec![0xff, id as u8, b'|'])),
        _ => AttributeValue::S(format!("k|{id}\\")),
    }
}
