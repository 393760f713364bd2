//! DynamoDB items in one canonical byte form, compared by value: numbers as decimal values,
//! sets unordered, binaries as bytes, maps by attribute name, lists in order.
//!
//! The canonical form is hashed (SHA-256, the first 128 bits) so one side of a comparison can
//! be held as key → fingerprint while the other streams past: 16 bytes per item instead of
//! the item. A 128-bit fingerprint makes an accidental collision (two different items
//! reported equal) about as likely as 2^-64 over 2^32 items: never, in practice.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use crate::decimal::{Decimal, DecimalError};

/// An item as the DynamoDB SDK returns it.
pub type SdkItem = HashMap<String, AttributeValue>;

/// The first 128 bits of the SHA-256 of an item's (or document's) canonical form.
pub type Fingerprint = [u8; 16];

/// The attribute the `dynamodb://` sink's replica mode adds to every item it writes.
pub const VERSION: &str = "_cdc_version";
/// The stream sequence number the replica mode keeps beside the version (ties within a second).
pub const SEQUENCE: &str = "_cdc_sequence";
/// Marks a replica item as a tombstone (a delete, kept so a late snapshot copy cannot revive it).
pub const DELETED: &str = "_cdc_deleted";
/// When DynamoDB's TTL may remove a tombstone.
pub const EXPIRES_AT: &str = "_cdc_expires_at";

/// How the replica was written by the `dynamodb://` sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicaMode {
    /// `mode=replica` (the default): items carry `_cdc_version` and `_cdc_sequence`; deletes leave tombstones
    /// (`_cdc_deleted = true`) unless `tombstones=false`.
    #[default]
    Replica,
    /// `mode=batch`: items exactly as in the source, deletes delete.
    Batch,
}

impl ReplicaMode {
    /// Attributes of replica items that are bookkeeping, not the source's: left out of the
    /// comparison on both sides (the sink overwrites a source attribute of that name anyway).
    pub fn bookkeeping(self) -> &'static [&'static str] {
        match self {
            ReplicaMode::Replica => &[VERSION, SEQUENCE],
            ReplicaMode::Batch => &[],
        }
    }

    /// Whether a replica item is a tombstone, not a live item. (A source item that itself
    /// holds `_cdc_deleted = true` would look like one too: the sink cannot tell them apart.)
    pub fn is_tombstone(self, item: &SdkItem) -> bool {
        self == ReplicaMode::Replica
            && matches!(item.get(DELETED), Some(AttributeValue::Bool(true)))
    }
}

/// An attribute whose value cannot be put in canonical form (names the attribute, never the
/// value: item data must not reach logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A number (or number set element) that is not a decimal.
    #[error("attribute {attribute:?}: {reason}")]
    Number {
        /// The attribute's name.
        attribute: String,
        /// What is wrong with the number.
        reason: DecimalError,
    },
    /// A value of an attribute type this tool does not handle (the SDK may add types).
    #[error("attribute {attribute:?} has an attribute type this tool does not know")]
    UnknownType {
        /// The attribute's name.
        attribute: String,
    },
}

/// Computes fingerprints and canonical forms, reusing one buffer.
#[derive(Debug, Default)]
pub struct Canonicalizer {
    buf: Vec<u8>,
}

impl Canonicalizer {
    /// The fingerprint of `item` without the attributes named in `skip`.
    pub fn fingerprint(
        &mut self,
        item: &SdkItem,
        skip: &[&str],
    ) -> Result<Fingerprint, ValueError> {
        self.buf.clear();
        let mut names: Vec<&String> = item
            .keys()
            .filter(|n| !skip.contains(&n.as_str()))
            .collect();
        names.sort_unstable();
        push_len(&mut self.buf, names.len());
        for name in names {
            push_bytes(&mut self.buf, name.as_bytes());
            encode(&mut self.buf, &item[name]).map_err(|fault| fault.at(name))?;
        }
        Ok(fingerprint_of(&self.buf))
    }

    /// The names of the attributes (leaving out `skip`) that differ between two items with the
    /// same key: present on one side only, or with other values. Sorted.
    pub fn differences(
        &mut self,
        source: &SdkItem,
        replica: &SdkItem,
        skip: &[&str],
    ) -> Result<Vec<String>, ValueError> {
        let mut names: Vec<&String> = source
            .keys()
            .chain(replica.keys().filter(|n| !source.contains_key(*n)))
            .filter(|n| !skip.contains(&n.as_str()))
            .collect();
        names.sort_unstable();
        let mut differing = Vec::new();
        for name in names {
            let same = match (source.get(name), replica.get(name)) {
                (Some(a), Some(b)) => self.same_value(a, b).map_err(|fault| fault.at(name))?,
                _ => false,
            };
            if !same {
                differing.push(name.clone());
            }
        }
        Ok(differing)
    }

    fn same_value(&mut self, a: &AttributeValue, b: &AttributeValue) -> Result<bool, Fault> {
        self.buf.clear();
        encode(&mut self.buf, a)?;
        let split = self.buf.len();
        encode(&mut self.buf, b)?;
        let (left, right) = self.buf.split_at(split);
        Ok(left == right)
    }
}

/// The first 128 bits of SHA-256 of `bytes`.
pub(crate) fn fingerprint_of(bytes: &[u8]) -> Fingerprint {
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// What went wrong inside a value, before the attribute it is in is known.
pub(crate) enum Fault {
    Number(DecimalError),
    UnknownType,
}

impl Fault {
    pub(crate) fn at(self, attribute: &str) -> ValueError {
        let attribute = attribute.to_owned();
        match self {
            Fault::Number(reason) => ValueError::Number { attribute, reason },
            Fault::UnknownType => ValueError::UnknownType { attribute },
        }
    }
}

/// Lengths prefix every variable part, so no two different values share an encoding.
fn push_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    push_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

pub(crate) fn push_number(out: &mut Vec<u8>, text: &str) -> Result<(), Fault> {
    let mut canonical = Vec::with_capacity(text.len() + 4);
    Decimal::parse(text)
        .map_err(Fault::Number)?
        .canonical_bytes(&mut canonical);
    push_bytes(out, &canonical);
    Ok(())
}

/// A set: its members' encodings sorted and deduplicated (`1.5` and `1.50` are one member).
fn push_set(out: &mut Vec<u8>, mut members: Vec<Vec<u8>>) {
    members.sort_unstable();
    members.dedup();
    push_len(out, members.len());
    for member in members {
        push_bytes(out, &member);
    }
}

fn encode(out: &mut Vec<u8>, value: &AttributeValue) -> Result<(), Fault> {
    match value {
        AttributeValue::S(s) => {
            out.push(b'S');
            push_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(b'N');
            push_number(out, n)?;
        }
        AttributeValue::B(b) => {
            out.push(b'B');
            push_bytes(out, b.as_ref());
        }
        AttributeValue::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
        AttributeValue::Null(_) => out.push(b'0'),
        AttributeValue::M(map) => {
            out.push(b'M');
            let mut names: Vec<&String> = map.keys().collect();
            names.sort_unstable();
            push_len(out, names.len());
            for name in names {
                push_bytes(out, name.as_bytes());
                encode(out, &map[name])?;
            }
        }
        AttributeValue::L(list) => {
            out.push(b'L');
            push_len(out, list.len());
            for value in list {
                encode(out, value)?;
            }
        }
        AttributeValue::Ss(set) => {
            out.push(b's');
            push_set(out, set.iter().map(|s| s.as_bytes().to_vec()).collect());
        }
        AttributeValue::Ns(set) => {
            out.push(b'n');
            let members = set
                .iter()
                .map(|n| {
                    let mut member = Vec::new();
                    push_number(&mut member, n).map(|()| member)
                })
                .collect::<Result<_, _>>()?;
            push_set(out, members);
        }
        AttributeValue::Bs(set) => {
            out.push(b'b');
            push_set(out, set.iter().map(|b| b.as_ref().to_vec()).collect());
        }
        // The SDK's enum is non-exhaustive: a type added later cannot be compared blindly.
        _ => return Err(Fault::UnknownType),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::Blob;

    use super::*;

    fn item(attributes: &[(&str, AttributeValue)]) -> SdkItem {
        attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.into())
    }

    fn same(a: &SdkItem, b: &SdkItem) -> bool {
        let mut c = Canonicalizer::default();
        c.fingerprint(a, &[]).unwrap() == c.fingerprint(b, &[]).unwrap()
    }

    #[test]
    fn numbers_compare_by_value_at_any_depth() {
        let nested = |text: &str| {
            item(&[(
                "m",
                AttributeValue::M([("l".to_string(), AttributeValue::L(vec![n(text)]))].into()),
            )])
        };
        assert!(same(&nested("1.50"), &nested("1.5")));
        assert!(same(&nested("1e5"), &nested("100000")));
        assert!(!same(&nested("1.5"), &nested("1.51")));
        let a = "12345678901234567890123456789012345678";
        let b = "12345678901234567890123456789012345679";
        assert!(!same(&item(&[("x", n(a))]), &item(&[("x", n(b))])));
    }

    #[test]
    fn sets_are_unordered_lists_are_not() {
        let ss = |v: &[&str]| {
            item(&[(
                "s",
                AttributeValue::Ss(v.iter().map(|s| s.to_string()).collect()),
            )])
        };
        assert!(same(&ss(&["a", "b"]), &ss(&["b", "a"])));
        let ns = |v: &[&str]| {
            item(&[(
                "s",
                AttributeValue::Ns(v.iter().map(|s| s.to_string()).collect()),
            )])
        };
        assert!(same(&ns(&["1.50", "2"]), &ns(&["2", "1.5"])));
        let bs = |v: &[&[u8]]| {
            item(&[(
                "s",
                AttributeValue::Bs(v.iter().map(|b| Blob::new(*b)).collect()),
            )])
        };
        assert!(same(&bs(&[b"x", b"y"]), &bs(&[b"y", b"x"])));
        let l = |v: &[&str]| {
            item(&[(
                "s",
                AttributeValue::L(v.iter().map(|s| AttributeValue::S(s.to_string())).collect()),
            )])
        };
        assert!(!same(&l(&["a", "b"]), &l(&["b", "a"])));
    }

    #[test]
    fn types_and_structure_matter() {
        assert!(!same(
            &item(&[("a", n("1"))]),
            &item(&[("a", AttributeValue::S("1".into()))])
        ));
        assert!(!same(
            &item(&[("a", AttributeValue::Ss(vec!["x".into()]))]),
            &item(&[("a", AttributeValue::L(vec![AttributeValue::S("x".into())]))])
        ));
        // Lengths prefix every part: moving bytes between a name and a value changes the form.
        assert!(!same(
            &item(&[("ab", AttributeValue::S("c".into()))]),
            &item(&[("a", AttributeValue::S("bc".into()))])
        ));
        assert!(!same(
            &item(&[]),
            &item(&[("a", AttributeValue::Null(true))])
        ));
        assert!(!same(
            &item(&[("a", AttributeValue::Bool(true))]),
            &item(&[("a", AttributeValue::Bool(false))])
        ));
    }

    #[test]
    fn names_the_attributes_that_differ_never_values() {
        let source = item(&[
            ("pk", AttributeValue::S("k".into())),
            ("a", n("1.50")),
            ("b", n("2")),
            ("c", AttributeValue::Null(true)),
        ]);
        let replica = item(&[
            ("pk", AttributeValue::S("k".into())),
            ("a", n("1.5")),
            ("b", n("3")),
            ("d", AttributeValue::Bool(true)),
            (VERSION, n("7")),
        ]);
        let names = Canonicalizer::default()
            .differences(&source, &replica, ReplicaMode::Replica.bookkeeping())
            .unwrap();
        assert_eq!(names, ["b", "c", "d"]);
    }

    #[test]
    fn bookkeeping_is_left_out_and_tombstones_recognised() {
        let mut c = Canonicalizer::default();
        let source = item(&[("pk", AttributeValue::S("k".into()))]);
        let replica = item(&[("pk", AttributeValue::S("k".into())), (VERSION, n("1"))]);
        let skip = ReplicaMode::Replica.bookkeeping();
        assert_eq!(
            c.fingerprint(&source, skip).unwrap(),
            c.fingerprint(&replica, skip).unwrap()
        );
        assert_ne!(
            c.fingerprint(&source, &[]).unwrap(),
            c.fingerprint(&replica, &[]).unwrap()
        );
        let tombstone = item(&[
            ("pk", AttributeValue::S("k".into())),
            (DELETED, AttributeValue::Bool(true)),
        ]);
        assert!(ReplicaMode::Replica.is_tombstone(&tombstone));
        assert!(!ReplicaMode::Batch.is_tombstone(&tombstone));
        assert!(!ReplicaMode::Replica.is_tombstone(&replica));
    }

    #[test]
    fn a_bad_number_names_its_attribute_only() {
        let err = Canonicalizer::default()
            .fingerprint(&item(&[("price", n("12abc"))]), &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "attribute \"price\": a number has an unexpected character"
        );
    }
}
