//! A string token escaped otherwise than documents escape strings (`\u00e9`, `\/`, `\u000A`...)
//! rewritten in the minimal form of [`crate::json::string`] in one pass, without decoding it
//! into a `String` and escaping that again (which cost text escaped by Python's `json`, every
//! non-ASCII character a `\u` escape, twice the CPU per byte of raw text).

use std::fmt::Write as _;

/// Appends the minimal form of `token` (a JSON string token, quotes included, already checked
/// by the scanner) to `out`; `None`, leaving `out` partly written, for escapes that are no
/// text (a lone surrogate), which the typed parser must judge.
pub(crate) fn reescape(out: &mut String, token: &str) -> Option<()> {
    let inner = token.get(1..token.len().checked_sub(1)?)?;
    out.push('"');
    let mut rest = inner;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let (c, len) = escape_at(&rest[at..])?;
        push_minimal(out, c);
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out.push('"');
    Some(())
}

/// The character an escape at the start of `text` stands for, and the escape's length.
fn escape_at(text: &str) -> Option<(char, usize)> {
    let bytes = text.as_bytes();
    let c = match *bytes.get(1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return unicode_at(text),
        _ => return None,
    };
    Some((c, 2))
}

/// `\uXXXX`, or a surrogate pair `\uD83D\uDE00`, at the start of `text`.
fn unicode_at(text: &str) -> Option<(char, usize)> {
    let unit = |at: usize| u32::from_str_radix(text.get(at..at + 4)?, 16).ok();
    let high = unit(2)?;
    match high {
        0xd800..=0xdbff => {
            if text.get(6..8)? != "\\u" {
                return None;
            }
            let low = unit(8).filter(|low| (0xdc00..=0xdfff).contains(low))?;
            let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
            Some((char::from_u32(code)?, 12))
        }
        _ => Some((char::from_u32(high)?, 6)),
    }
}

/// `c` as `serde_json` writes it inside a string.
fn push_minimal(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 => {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the transcoder wrote before: decode with serde, escape with `json::string`.
    fn by_serde(token: &str) -> Option<String> {
        let text = serde_json::from_str::<String>(token).ok()?;
        let mut out = Vec::new();
        crate::json::string(&mut out, &text);
        String::from_utf8(out).ok()
    }

    fn ours(token: &str) -> Option<String> {
        let mut out = String::new();
        reescape(&mut out, token).map(|()| out)
    }

    /// One character spelled any way JSON allows: raw where allowed, its short escape, `\u` in
    /// either case (a surrogate pair beyond the BMP), `\/` for `/`.
    fn spell(c: char, how: u8) -> String {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let raw_allowed = c >= ' ' && c != '"' && c != '\\';
        let unicode = |upper: bool| {
            let mut units = [0u16; 2];
            c.encode_utf16(&mut units)
                .iter()
                .map(|u| {
                    if upper {
                        format!("\\u{u:04X}")
                    } else {
                        format!("\\u{u:04x}")
                    }
                })
                .collect::<String>()
        };
        match how % 4 {
            0 if raw_allowed => c.to_string(),
            1 if short.is_some() => short.unwrap_or_default().to_owned(),
            2 => unicode(true),
            _ => unicode(false),
        }
    }

    fn interesting_char() -> impl Strategy<Value = char> {
        prop_oneof![
            (0u32..0x80).prop_map(|c| char::from_u32(c).unwrap_or('a')),
            Just('\u{7f}'),
            Just('é'),
            Just('\u{2028}'),
            Just('山'),
            Just('🚀'),
            any::<char>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any text, spelled with any mix of escapes, comes out as serde + `json::string` make it.
        #[test]
        fn agrees_with_decoding_and_escaping_again(
            text in proptest::collection::vec((interesting_char(), any::<u8>()), 0..40)
        ) {
            let token: String = std::iter::once("\"".to_owned())
                .chain(text.iter().map(|&(c, how)| spell(c, how)))
                .chain(std::iter::once("\"".to_owned()))
                .collect();
            prop_assert_eq!(ours(&token), by_serde(&token), "{}", token);
        }
    }

    #[test]
    fn lone_surrogates_are_refused_as_serde_refuses_them() {
        for token in [
            r#""\ud800""#,
            r#""\udc00""#,
            r#""a\ud83dx""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\ud83d""#,
            r#""\ud83d""#,
        ] {
            assert_eq!(ours(token), None, "{token}");
            assert_eq!(by_serde(token), None, "{token}");
        }
        assert_eq!(ours(r#""\uD83D\uDE80\/""#).as_deref(), Some("\"🚀/\""));
    }
}
