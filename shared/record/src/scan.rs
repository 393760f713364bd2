//! A byte scanner over JSON text that `serde_json` has already validated.
//!
//! The hot paths (a stream record's fields, its images) are scanned by hand because a `serde`
//! visitor per token costs several times what the bytes do. The scanner assumes valid JSON and
//! checks only the shape it expects; every `None` means "not the expected shape here", after
//! which the caller lets the typed `serde` parser decide (and explain). So the scanner can only
//! make things faster, never accept or reject differently.

use std::borrow::Cow;

/// `None`: not the expected shape; fall back to the typed parser.
pub(crate) type Scan<T = ()> = Option<T>;

pub(crate) struct Scanner<'a> {
    text: &'a str,
    pub(crate) at: usize,
}

impl<'a> Scanner<'a> {
    /// `text` must be valid JSON (a `RawValue`, or a slice of one cut at token boundaries).
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

    /// A string token, quotes included, and whether it holds escapes.
    pub(crate) fn string(&mut self) -> Scan<(&'a str, bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at;
        let (end, escaped) = string_end(self.bytes(), start + 1)?;
        self.at = end;
        Some((self.text.get(start..end)?, escaped))
    }

    /// A string token to copy as it is: one with escapes is checked first, because JSON
    /// validity alone lets through escapes that are no text (a lone surrogate `\ud800`), which
    /// the typed parser rejects.
    pub(crate) fn checked_string(&mut self) -> Scan<&'a str> {
        let (token, escaped) = self.string()?;
        if escaped {
            check_escapes(token)?;
        }
        Some(token)
    }

    /// A string's value, unescaped (allocating) only when it holds escapes.
    pub(crate) fn string_value(&mut self) -> Scan<Cow<'a, str>> {
        let (token, escaped) = self.string()?;
        if escaped {
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

    /// Consumes `word` (`true`, `null`...) if it comes next.
    pub(crate) fn literal(&mut self, word: &str) -> bool {
        self.skip_ws();
        let found = self.bytes()[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    /// A number token.
    pub(crate) fn number_token(&mut self) -> Scan<&'a str> {
        self.skip_ws();
        let start = self.at;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.bytes().get(self.at) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.text[start..self.at])
    }

    /// Skips one value of any kind and returns its text.
    pub(crate) fn skip_value(&mut self) -> Scan<&'a str> {
        let start = {
            self.skip_ws();
            self.at
        };
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => self.at = container_end(self.bytes(), self.at)?,
            b't' | b'f' | b'n' => {
                let _ = self.literal("true") || self.literal("false") || self.literal("null");
            }
            _ => {
                self.number_token()?;
            }
        }
        (self.at > start).then(|| &self.text[start..self.at])
    }
}

/// Whether the escapes of a string token decode to text.
pub(crate) fn check_escapes(token: &str) -> Scan {
    serde_json::from_str::<String>(token).ok().map(drop)
}

/// What a byte means to [`container_end`]: nothing, or one of these.
const QUOTE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const BACKSLASH: u8 = 4;

static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    class[b'"' as usize] = QUOTE;
    class[b'{' as usize] = OPEN;
    class[b'[' as usize] = OPEN;
    class[b'}' as usize] = CLOSE;
    class[b']' as usize] = CLOSE;
    class[b'\\' as usize] = BACKSLASH;
    class
};

/// Just past the string whose content starts at `at`, and whether it holds escapes. Tight
/// table-driven loops: DynamoDB JSON strings are short, too short for `memchr` to pay off.
fn string_end(bytes: &[u8], mut at: usize) -> Scan<(usize, bool)> {
    let mut escaped = false;
    loop {
        while CLASS[*bytes.get(at)? as usize] != QUOTE && bytes[at] != b'\\' {
            at += 1;
        }
        if bytes[at] == b'"' {
            return Some((at + 1, escaped));
        }
        escaped = true;
        at += 2;
    }
}

/// Just past the object or array opening at `at` (valid JSON assumed).
fn container_end(bytes: &[u8], mut at: usize) -> Scan<usize> {
    let mut depth = 0usize;
    loop {
        while CLASS[*bytes.get(at)? as usize] == 0 {
            at += 1;
        }
        match CLASS[bytes[at] as usize] {
            QUOTE => {
                at = string_end(bytes, at + 1)?.0;
                continue;
            }
            OPEN => depth += 1,
            CLOSE => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {} // a backslash outside a string cannot happen in valid JSON
        }
        at += 1;
    }
}
