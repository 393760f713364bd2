//! Table contents: every item as DynamoDB returns it ([`scan_all`]), and in a canonical form so
//! that a source and its replica compare item for item ([`scan`]).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

/// An item as the DynamoDB SDK returns and takes it.
pub type Item = HashMap<String, AttributeValue>;

/// A value with sets sorted and numbers in one canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Canonical {
    /// `S`: a string.
    S(String),
    /// `N`: a number in canonical spelling.
    N(String),
    /// `B`: the decoded bytes.
    B(Vec<u8>),
    /// `BOOL`.
    Bool(bool),
    /// `NULL`.
    Null,
    /// `M`: attributes by name.
    M(BTreeMap<String, Canonical>),
    /// `L`: a list, in order.
    L(Vec<Canonical>),
    /// `SS`: a string set, sorted.
    Ss(Vec<String>),
    /// `NS`: a number set in canonical spelling, sorted.
    Ns(Vec<String>),
    /// `BS`: a binary set, sorted.
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
            item.remove("_cdc_sequence");
            item
        })
        .collect();
    live.sort();
    live
}

/// `item` as a real export holds it: DynamoDB normalises every number it stores, at any depth
/// (plain decimal, no exponent, no trailing zeros after the point, no sign on zero), but
/// DynamoDB Local only does so for top-level `N` and `NS`, keeping the sender's text inside maps
/// and lists. Export fixtures built from DynamoDB Local scans go through this first.
pub fn as_exported(item: &Item) -> Item {
    item.iter()
        .map(|(k, v)| (k.clone(), exported_value(v)))
        .collect()
}

fn exported_value(v: &AttributeValue) -> AttributeValue {
    match v {
        AttributeValue::N(n) => AttributeValue::N(plain_decimal(n)),
        AttributeValue::Ns(ns) => AttributeValue::Ns(ns.iter().map(|n| plain_decimal(n)).collect()),
        AttributeValue::M(m) => AttributeValue::M(as_exported(m)),
        AttributeValue::L(l) => AttributeValue::L(l.iter().map(exported_value).collect()),
        other => other.clone(),
    }
}

/// A decimal number's text (`-1.50E+3`) in DynamoDB's normal form (`-1500`).
pub fn plain_decimal(text: &str) -> String {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().expect("a decimal exponent")),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // value = digits × 10^point, digits without leading or trailing zeros
    let mut digits: String = format!("{int}{frac}");
    let mut point = exponent - frac.len() as i64;
    digits = digits.trim_start_matches('0').to_owned();
    while digits.ends_with('0') {
        digits.pop();
        point += 1;
    }
    if digits.is_empty() {
        return "0".into();
    }
    let sign = if negative { "-" } else { "" };
    if point >= 0 {
        return format!("{sign}{digits}{}", "0".repeat(point as usize));
    }
    let decimals = (-point) as usize;
    if decimals >= digits.len() {
        format!("{sign}0.{}{digits}", "0".repeat(decimals - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(digits.len() - decimals);
        format!("{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::plain_decimal;

    #[test]
    fn numbers_in_dynamodbs_normal_form() {
        for (text, normal) in [
            ("1e5", "100000"),
            ("1.50", "1.5"),
            ("-0", "0"),
            ("0.0", "0"),
            ("1E-5", "0.00001"),
            ("100e-2", "1"),
            ("1.23E+4", "12300"),
            (
                "-9287.5168676229184861534366360810817310",
                "-9287.516867622918486153436636081081731",
            ),
            ("43101.0", "43101"),
            ("007", "7"),
            ("-0.5", "-0.5"),
        ] {
            assert_eq!(plain_decimal(text), normal, "{text}");
        }
    }
}
