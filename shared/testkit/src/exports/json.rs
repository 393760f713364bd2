//! DYNAMODB_JSON, as AWS writes it in exports: DynamoDB's wire JSON, one line per item.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{IncrementalChange, View};
use crate::items::Item;

/// `item` as DynamoDB JSON (`{"pk":{"S":"a"},"n":{"N":"15"}}`): numbers as DynamoDB returned
/// their text, binaries in standard base64, sets in the order given, attributes and map entries
/// sorted by name so that the same item always gives the same bytes (and the same md5).
pub fn item_to_dynamodb_json(item: &Item) -> String {
    let mut out = String::new();
    write_map(&mut out, item);
    out
}

/// One line of a full export (`{"Item":{...}}`, without the newline).
pub(super) fn full_line(item: &Item) -> String {
    format!("{{\"Item\":{}}}", item_to_dynamodb_json(item))
}

/// One line of an incremental export: `Metadata`, `Keys`, then `NewImage` and `OldImage` as
/// the view keeps them (a delete has no `NewImage`; `NEW_IMAGE` exports have no `OldImage`).
pub(super) fn incremental_line(change: &IncrementalChange, view: View) -> String {
    let mut out = format!(
        "{{\"Metadata\":{{\"WriteTimestampMicros\":{{\"N\":\"{}\"}}}},\"Keys\":",
        change.write_time_micros
    );
    write_map(&mut out, &change.keys);
    if let Some(new) = &change.new_image {
        out.push_str(",\"NewImage\":");
        write_map(&mut out, new);
    }
    if let (Some(old), View::NewAndOldImages) = (&change.old_image, view) {
        out.push_str(",\"OldImage\":");
        write_map(&mut out, old);
    }
    out.push('}');
    out
}

fn write_map(out: &mut String, map: &Item) {
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    out.push('{');
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push(':');
        write_value(out, &map[name]);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &AttributeValue) {
    let list = |out: &mut String, tag: &str, members: &mut dyn Iterator<Item = String>| {
        out.push_str(&format!("{{\"{tag}\":["));
        for (i, member) in members.enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, &member);
        }
        out.push_str("]}");
    };
    match value {
        AttributeValue::S(s) => {
            out.push_str("{\"S\":");
            write_string(out, s);
            out.push('}');
        }
        AttributeValue::N(n) => {
            out.push_str("{\"N\":");
            write_string(out, n);
            out.push('}');
        }
        AttributeValue::B(b) => {
            out.push_str("{\"B\":");
            write_string(out, &STANDARD.encode(b.as_ref()));
            out.push('}');
        }
        AttributeValue::Bool(b) => out.push_str(&format!("{{\"BOOL\":{b}}}")),
        AttributeValue::Null(_) => out.push_str("{\"NULL\":true}"),
        AttributeValue::Ss(v) => list(out, "SS", &mut v.iter().cloned()),
        AttributeValue::Ns(v) => list(out, "NS", &mut v.iter().cloned()),
        AttributeValue::Bs(v) => list(
            out,
            "BS",
            &mut v.iter().map(|b| STANDARD.encode(b.as_ref())),
        ),
        AttributeValue::M(m) => {
            out.push_str("{\"M\":");
            write_map(out, m);
            out.push('}');
        }
        AttributeValue::L(l) => {
            out.push_str("{\"L\":[");
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push_str("]}");
        }
        other => panic!("an attribute value of a type DynamoDB does not have: {other:?}"),
    }
}

/// A JSON string: serde_json escapes as AWS's writer does (quote, backslash and control
/// characters; non-ASCII as UTF-8).
fn write_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string serialises"));
}
