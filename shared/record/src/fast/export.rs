//! Full export lines scanned by hand; `None` hands over to `serde` in [`crate::export`].

use super::scan::{object, Scan, Scanner};
use crate::change::Document;
use crate::value::Item;

/// The common case in one validating pass: the item is transcoded where the scan meets it,
/// instead of `serde` tokenising the line once more beforehand. `None` hands over to `serde`
/// (which also explains what is wrong).
pub(crate) fn full<'a>(line: &'a str, key_names: &[&str]) -> Scan<(Document<'a>, Item<'a>)> {
    let mut s = Scanner::new(line);
    let mut found = None;
    object(&mut s, |s, key| {
        match key {
            "Item" if found.is_none() => {
                found = Some(super::transcode::scan_document_capturing(s, key_names)?)
            }
            // A second `Item` too is left to `serde`, which rejects it.
            "Item" => return None,
            _ => drop(s.skip_value()?),
        }
        Some(())
    })?;
    s.at_end().then_some(())?;
    found
}
