//! Table contents: every item as DynamoDB returns it ([`scan_all`]), and in a canonical form so
//! that a source and its replica compare item for item ([`scan`]).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

/// An item as the DynamoDB SDK returns and takes it.
pub type Item = HashMap<String, AttributeValue>;

/// A value with sets sorted and numbers in one canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Canonical {
    S(String),
    N(String),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, Canonical>),
    L(Vec<Canonical>),
    Ss(Vec<String>),
    Ns(Vec<String>),
    Bs(Vec<Vec<u8>>),
}

/// An item in canonical form: attributes by name, values canonical.
pub type CanonicalItem = BTreeMap<String, Canonical>;

/// `item` in canonical form.
pub fn canonical_item(item: &HashMap<String, AttributeValue>) -> CanonicalItem {
    item.iter()
        .map(|(k, v)| (k.clone(), canonical(v)))
        .collect()
}

fn canonical(v: &AttributeValue) -> Canonical {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    match v {
        AttributeValue::S(s) => Canonical::S(s.clone()),
        AttributeValue::N(n) => Canonical::N(number(n)),
        AttributeValue::B(b) => Canonical::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => Canonical::Bool(*b),
        AttributeValue::Null(_) => Canonical::Null,
        AttributeValue::M(m) => Canonical::M(canonical_item(m)),
        AttributeValue::L(l) => Canonical::L(l.iter().map(canonical).collect()),
        AttributeValue::Ss(v) => Canonical::Ss(sorted(v.clone())),
        AttributeValue::Ns(v) => Canonical::Ns(sorted(v.iter().map(|n| number(n)).collect())),
        AttributeValue::Bs(v) => {
            let mut v: Vec<Vec<u8>> = v.iter().map(|b| b.as_ref().to_vec()).collect();
            v.sort();
            Canonical::Bs(v)
        }
        other => panic!("unexpected attribute value {other:?}"),
    }
}

/// DynamoDB returns numbers normalised already; this only guards against `1.0` vs `1`.
fn number(n: &str) -> String {
    if n.contains('.') && !n.contains(['e', 'E']) {
        n.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        n.to_owned()
    }
}

/// Every item of a table exactly as DynamoDB returns it (consistent reads, every page), in scan
/// order: numbers in DynamoDB's own spelling, sets in its order. Export fixtures are built from
/// these so that they hold what a real export of the table would.
pub async fn scan_all(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e:?}"));
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    items
}

/// Every item of a table (consistent reads), canonical, sorted.
pub async fn scan(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<CanonicalItem> {
    let mut items: Vec<CanonicalItem> = scan_all(client, table)
        .await
        .iter()
        .map(canonical_item)
        .collect();
    items.sort();
    items
}

/// A replica's items as the source's: tombstones left out, bookkeeping attributes removed.
pub fn live_items(replica: Vec<CanonicalItem>) -> Vec<CanonicalItem> {
    let mut live: Vec<CanonicalItem> = replica
        .into_iter()
        .filter(|item| !item.contains_key("_cdc_deleted"))
        .map(|mut item| {
            item.remove("_cdc_version");
            item
        })
        .collect();
    live.sort();
    live
}
