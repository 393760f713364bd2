//! Incremental export lines scanned by hand; `None` hands over to `serde` in
//! [`crate::incremental`].

use std::borrow::Cow;

use super::scan::{object, Scan, Scanner, Seen};
use super::transcode::Image;

/// The fields of a line, whichever parser read them.
pub(crate) struct Parts<'a> {
    /// The `N` text of `Metadata.WriteTimestampMicros`.
    pub(crate) write_micros: Cow<'a, str>,
    pub(crate) keys: &'a str,
    pub(crate) new_image: Option<Image<'a>>,
    pub(crate) old_image: Option<&'a str>,
}

/// The common case scanned by hand (see [`super::scan`]): one validating pass, the new image
/// transcoded on the way (it is the document whenever there is one). `None` hands over to
/// `serde`, which also explains what is wrong.
pub(crate) fn scan(line: &str) -> Scan<Parts<'_>> {
    let mut s = Scanner::new(line);
    let (mut write_micros, mut keys, mut new_image, mut old_image) = (None, None, None, None);
    let mut seen = Seen::default();
    object(&mut s, |s, key| {
        match key {
            "Metadata" => write_micros = seen.first(0).and_then(|()| metadata(s))?,
            "Keys" => keys = Some(seen.first(1).and_then(|()| s.skip_value())?),
            "NewImage" => new_image = seen.first(2).and_then(|()| image(s))?,
            "OldImage" => old_image = seen.first(3).and_then(|()| raw(s))?,
            _ => drop(s.skip_value()?),
        }
        Some(())
    })?;
    s.at_end().then_some(())?;
    Some(Parts {
        write_micros: write_micros?,
        keys: keys?,
        new_image,
        old_image,
    })
}

/// `{"WriteTimestampMicros": {"N": "..."}, ...}`.
fn metadata<'a>(s: &mut Scanner<'a>) -> Scan<Option<Cow<'a, str>>> {
    let mut micros = None;
    let mut seen = Seen::default();
    object(s, |s, key| {
        match key {
            "WriteTimestampMicros" => {
                seen.first(0)?;
                s.eat(b'{')?;
                (s.type_tag()? == "N").then_some(())?;
                s.eat(b':')?;
                micros = Some(s.string_value()?);
                s.eat(b'}')?;
            }
            _ => drop(s.skip_value()?),
        }
        Some(())
    })?;
    Some(micros)
}

fn raw<'a>(s: &mut Scanner<'a>) -> Scan<Option<&'a str>> {
    if s.literal("null") {
        return Some(None);
    }
    s.skip_value().map(Some)
}

/// The new image transcoded, or raw if that fails (the mapping then reports why).
fn image<'a>(s: &mut Scanner<'a>) -> Scan<Option<Image<'a>>> {
    if s.literal("null") {
        return Some(None);
    }
    let start = s.at;
    if let Some(document) = super::transcode::scan_document(s) {
        return Some(Some(Image::Ready(document)));
    }
    s.at = start;
    Some(raw(s)?.map(Image::Raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incremental::parse;

    /// The hand scan either hands over or reads exactly what `serde` does.
    #[test]
    fn scan_agrees_with_serde() {
        let lines = [
            (
                true,
                r#"{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},"Keys":{"pk":{"S":"a"}},"NewImage":{"pk":{"S":"a"},"n":{"N":"1"}},"OldImage":{"pk":{"S":"a"}}}"#,
            ),
            (
                true,
                r#" { "Keys" : {"pk":{"S":"a"}} , "Metadata" : { "x" : [1] , "WriteTimestampMicros" : { "N" : "5" } } , "NewImage" : null, "extra": {"y": "}"} } "#,
            ),
            (
                true,
                r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"pk":{"S":"a"}},"NewImage":{"pk":{"X":"bad"}}}"#,
            ),
            (false, r#"{"Metadata":{},"Keys":{}}"#),
            (
                false,
                r#"{"Metadata":{"WriteTimestampMicros":{"N":"1","S":"x"}},"Keys":{}}"#,
            ),
            (
                false,
                r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{},"Keys":{}}"#,
            ),
            (false, r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}}}"#),
            (false, r#"{"Metadata":null,"Keys":{}}"#),
            (false, r#"[1]"#),
        ];
        for (expected_fast, line) in lines {
            let fast = scan(line);
            assert_eq!(fast.is_some(), expected_fast, "{line}");
            let slow = parse(line);
            let Some(fast) = fast else { continue };
            let slow = slow.unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(fast.write_micros, slow.write_micros, "{line}");
            assert_eq!(fast.keys, slow.keys, "{line}");
            assert_eq!(fast.new_image, slow.new_image, "{line}");
            assert_eq!(fast.old_image, slow.old_image, "{line}");
        }
    }
}
