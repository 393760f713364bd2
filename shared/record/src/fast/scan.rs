//! A byte scanner over JSON text, for the hot paths: the Lambda payload's envelope, each
//! stream record's fields and its images.
//!
//! A `serde` visitor per token costs several times what the bytes do, and `serde_json` would
//! otherwise tokenise the whole payload once before our own pass. So the scanner validates as
//! it goes, exactly as far as `serde_json` would: JSON grammar, no control characters in
//! strings, escapes well formed, numbers by JSON's grammar. UTF-8 comes checked with the
//! `&str`. Nesting is bounded ([`MAX_DEPTH`], and the transcoder's own bound), so no input can
//! overflow the stack. Beyond that it checks only the
//! shape it expects; every `None` means "not valid, or not the expected shape here", after
//! which the caller lets the typed `serde` parser decide (and explain). So the scanner can
//! only make things faster, never accept or reject differently.

use std::borrow::Cow;

/// `None`: not valid, or not the expected shape; fall back to the typed parser.
pub(crate) type Scan<T = ()> = Option<T>;

/// How deep [`Scanner::skip_value`] goes (its open containers are bits of a `u128`) before
/// handing over to `serde`, which skips values of any depth. DynamoDB items nest 32 levels
/// at most, 64 containers.
pub(crate) const MAX_DEPTH: usize = 100;
const _: () = assert!(MAX_DEPTH <= u128::BITS as usize);

pub(crate) struct Scanner<'a> {
    text: &'a str,
    pub(crate) at: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Scanner { text, at: 0 }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.at == self.text.len()
    }

    pub(crate) fn peek(&mut self) -> Scan<u8> {
        self.skip_ws();
        self.bytes().get(self.at).copied()
    }

    pub(crate) fn eat(&mut self, byte: u8) -> Scan {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// After a member or element: `Some(true)` at a comma, `Some(false)` at `close`.
    pub(crate) fn next_or_close(&mut self, close: u8) -> Scan<bool> {
        let byte = self.peek()?;
        self.at += 1;
        match byte {
            b',' => Some(true),
            b if b == close => Some(false),
            _ => None,
        }
    }

    /// A string token, quotes included, and how it is escaped.
    // Called for every name and string value: inlined into its callers, the call's own cost
    // (a fifth of the scanner's time in a profile) goes.
    #[inline]
    pub(crate) fn string(&mut self) -> Scan<(&'a str, Escapes)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at;
        let (end, escapes) = string_end(self.bytes(), start + 1)?;
        self.at = end;
        Some((self.text.get(start..end)?, escapes))
    }

    /// A string's value, unescaped (allocating) only when it holds escapes.
    pub(crate) fn string_value(&mut self) -> Scan<Cow<'a, str>> {
        let (token, escapes) = self.string()?;
        if escapes != Escapes::None {
            serde_json::from_str::<String>(token).ok().map(Cow::Owned)
        } else {
            token.get(1..token.len() - 1).map(Cow::Borrowed)
        }
    }

    /// A DynamoDB type tag (`"S"`, `"BOOL"`...), matched on its bytes: one per attribute
    /// value, so worth sparing a string comparison. An escaped tag is left to `serde`.
    pub(crate) fn type_tag(&mut self) -> Scan<&'static str> {
        self.skip_ws();
        let (tag, len): (&'static str, usize) = match self.bytes().get(self.at..)? {
            [b'"', b'S', b'"', ..] => ("S", 3),
            [b'"', b'N', b'"', ..] => ("N", 3),
            [b'"', b'B', b'"', ..] => ("B", 3),
            [b'"', b'M', b'"', ..] => ("M", 3),
            [b'"', b'L', b'"', ..] => ("L", 3),
            [b'"', b'S', b'S', b'"', ..] => ("SS", 4),
            [b'"', b'N', b'S', b'"', ..] => ("NS", 4),
            [b'"', b'B', b'S', b'"', ..] => ("BS", 4),
            [b'"', b'B', b'O', b'O', b'L', b'"', ..] => ("BOOL", 6),
            [b'"', b'N', b'U', b'L', b'L', b'"', ..] => ("NULL", 6),
            _ => return None,
        };
        self.at += len;
        Some(tag)
    }

    /// Consumes `word` (`true`, `null`...) if it comes next. What follows it is checked by
    /// whoever reads on (a `,`, a closing bracket or the end must come next).
    pub(crate) fn literal(&mut self, word: &str) -> bool {
        self.skip_ws();
        let found = self.bytes()[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    /// A number token, by JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    pub(crate) fn number_token(&mut self) -> Scan<&'a str> {
        self.skip_ws();
        let bytes = self.bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            (*at > from).then_some(())
        };
        let mut at = start;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        if bytes.get(at) == Some(&b'0') {
            at += 1;
        } else {
            digits(&mut at)?;
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            digits(&mut at)?;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            digits(&mut at)?;
        }
        self.at = at;
        Some(&self.text[start..at])
    }

    /// Skips one value of any kind, validating it, and returns its text.
    pub(crate) fn skip_value(&mut self) -> Scan<&'a str> {
        self.skip_ws();
        let start = self.at;
        // The open containers as bits, innermost lowest: 1 for an object, 0 for an array.
        let (mut open, mut depth) = (0u128, 0usize);
        loop {
            // A value.
            match self.peek()? {
                b'"' => drop(self.string()?),
                b'{' | b'[' => {
                    let object = self.bytes()[self.at] == b'{';
                    self.at += 1;
                    let close = if object { b'}' } else { b']' };
                    if self.eat(close).is_none() {
                        if depth == MAX_DEPTH {
                            return None;
                        }
                        (open, depth) = (open << 1 | u128::from(object), depth + 1);
                        if object {
                            self.member_name()?;
                        }
                        continue;
                    }
                }
                b't' | b'f' | b'n' => {
                    (self.literal("true") || self.literal("false") || self.literal("null"))
                        .then_some(())?;
                }
                _ => drop(self.number_token()?),
            }
            // Then a comma or the end of containers.
            loop {
                if depth == 0 {
                    return Some(&self.text[start..self.at]);
                }
                let object = open & 1 == 1;
                if self.next_or_close(if object { b'}' } else { b']' })? {
                    if object {
                        self.member_name()?;
                    }
                    break;
                }
                (open, depth) = (open >> 1, depth - 1);
            }
        }
    }

    /// `"name":`, inside an object being skipped.
    fn member_name(&mut self) -> Scan {
        self.string()?;
        self.eat(b':')
    }
}

/// Duplicate fields are left to `serde`, which rejects them.
#[derive(Default)]
pub(crate) struct Seen(u16);

impl Seen {
    pub(crate) fn first(&mut self, field: u16) -> Scan {
        let bit = 1 << field;
        (self.0 & bit == 0).then(|| self.0 |= bit)
    }
}

/// `{"key": value, ...}`, calling `member` with the scanner positioned at each value.
pub(crate) fn object<'a>(
    s: &mut Scanner<'a>,
    mut member: impl FnMut(&mut Scanner<'a>, &str) -> Scan,
) -> Scan {
    s.eat(b'{')?;
    if s.eat(b'}').is_some() {
        return Some(());
    }
    loop {
        let key = s.string_value()?;
        s.eat(b':')?;
        member(s, &key)?;
        if !s.next_or_close(b'}')? {
            return Some(());
        }
    }
}

/// The bytes that end a plain run inside a string: the quote, a backslash, and the control
/// characters JSON forbids there.
static STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        stop[byte] = true;
        byte += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// How a string token is escaped. Ordered: a token is as escaped as its least minimal escape
/// (`string_end` takes the maximum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Escapes {
    /// Not at all.
    None,
    /// Only as [`crate::json::string`] escapes (`serde_json`'s escaper): `\"`, `\\`, `\b`,
    /// `\f`, `\n`, `\r`, `\t`, and other control characters as `\u00xx` in lowercase hex. Such a
    /// token is already the minimal form documents hold, so it is copied as it is.
    Minimal,
    /// Otherwise (`\/`, `\u00e9`, uppercase hex...): decoded and written again.
    Other,
}

/// Just past the string whose content starts at `at`, and how it is escaped.
#[inline]
fn string_end(bytes: &[u8], mut at: usize) -> Scan<(usize, Escapes)> {
    let mut escapes = Escapes::None;
    loop {
        at = plain_run_end(bytes, at);
        match *bytes.get(at)? {
            b'"' => return Some((at + 1, escapes)),
            b'\\' => {
                let (len, kind) = match *bytes.get(at + 1)? {
                    b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => (2, Escapes::Minimal),
                    b'/' => (2, Escapes::Other),
                    b'u' => {
                        let hex = bytes.get(at + 2..at + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        (6, unicode_escape(hex))
                    }
                    _ => return None,
                };
                escapes = escapes.max(kind);
                at += len;
            }
            _ => return None, // a control character
        }
    }
}

/// Whether `\\uXXXX` (its four hex digits) is how `serde_json` writes that character: only
/// control characters without a short form, as `00` and two lowercase digits.
fn unicode_escape(hex: &[u8]) -> Escapes {
    let lower = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    match hex {
        [b'0', b'0', high @ (b'0' | b'1'), low] if lower(low) => {
            let short_form = *high == b'0' && matches!(low, b'8' | b'9' | b'a' | b'c' | b'd');
            if short_form {
                Escapes::Other
            } else {
                Escapes::Minimal
            }
        }
        _ => Escapes::Other,
    }
}

/// The first byte from `at` on that ends a plain run ([`STRING_STOP`]), or the end.
///
/// Most strings of DynamoDB JSON are type tags and attribute names, a few bytes long, which
/// the table decides fastest; the rest (free text, base64) goes eight bytes per step, which
/// makes long strings several times cheaper than byte by byte (`memchr` cannot look for
/// control characters, and costs more than it saves on short strings).
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let short_end = bytes.len().min(at + 8);
    while at < short_end {
        if STRING_STOP[bytes[at] as usize] {
            return at;
        }
        at += 1;
    }
    while let Some(chunk) = bytes
        .get(at..at + 8)
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
    {
        let word = u64::from_le_bytes(chunk);
        // The high bit of each byte below 0x20, or equal to `"` or `\` (xor makes those zero).
        // Borrows can also flag a byte above a flagged one, never below it, so the lowest flag
        // is always a stop byte.
        let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
        let stops = below(word, 0x20)
            | below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1);
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < bytes.len() && !STRING_STOP[bytes[at] as usize] {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `\\uXXXX` escape counts as minimal exactly when `serde_json` writes that character so:
    /// every escape of U+0000..U+00FF in lower and upper case, and some beyond.
    #[test]
    fn minimal_unicode_escapes_are_serde_jsons() {
        let mut codes: Vec<u32> = (0..=0xff).collect();
        codes.extend([0x100, 0x2028, 0xfeff]);
        for code in codes {
            let c = char::from_u32(code).expect("not a surrogate");
            let serde = serde_json::to_string(&c.to_string()).expect("serialisable");
            for hex in [format!("{code:04x}"), format!("{code:04X}")] {
                let minimal = serde == format!("\"\\u{hex}\"");
                let expected = if minimal {
                    Escapes::Minimal
                } else {
                    Escapes::Other
                };
                assert_eq!(unicode_escape(hex.as_bytes()), expected, "\\u{hex}");
            }
        }
    }

    /// What `serde_json` writes for any text is a token `string_end` calls unescaped or
    /// minimal, never `Other`, so the transcoder copies it.
    #[test]
    fn serde_json_output_is_minimal() {
        let mut texts: Vec<String> = (0..=0x7fu8).map(|b| format!("a{}b", b as char)).collect();
        texts.extend([
            "Grüße \"x\"\n🚀".to_owned(),
            String::new(),
            "\\/".to_owned(),
        ]);
        for text in texts {
            let token = serde_json::to_string(&text).expect("serialisable");
            let (end, escapes) = string_end(token.as_bytes(), 1).expect("a string");
            assert_eq!(end, token.len(), "{token}");
            assert_ne!(escapes, Escapes::Other, "{token}");
        }
    }

    fn byte_by_byte(bytes: &[u8], mut at: usize) -> usize {
        while at < bytes.len() && !STRING_STOP[bytes[at] as usize] {
            at += 1;
        }
        at
    }

    /// Every stop byte at every position of runs up to 24 long, among fillers next to the
    /// thresholds (0x1f/0x20, `!`/`#` around `"`, `[`/`]` around `\`, high bytes), from every
    /// start: the word-wise scan finds what the byte-wise one finds.
    #[test]
    fn word_scan_finds_the_first_stop_byte() {
        let fillers = [
            b'a', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff,
        ];
        let stops = [0x00, 0x01, 0x1f, b'"', b'\\'];
        for len in 0..24 {
            for &filler in &fillers {
                let plain = vec![filler; len];
                for start in 0..=len {
                    assert_eq!(plain_run_end(&plain, start), len);
                }
                for at in 0..len {
                    for &stop in &stops {
                        let mut bytes = plain.clone();
                        bytes[at] = stop;
                        // A second stop later must not hide the first.
                        if at + 3 < len {
                            bytes[at + 3] = 0x00;
                        }
                        for start in 0..=len {
                            assert_eq!(
                                plain_run_end(&bytes, start),
                                byte_by_byte(&bytes, start),
                                "{bytes:?} from {start}"
                            );
                        }
                    }
                }
            }
        }
    }
}
