//! Item values stay out of logs. Log lines name tables, sequence numbers, sinks and attribute
//! paths; the texts they carry from elsewhere (a sink's error, `serde`'s explanation of a bad
//! payload, OpenSearch's mapping errors) may quote attribute or key values, so every such text
//! goes through [`loggable`] first, which blanks whatever stands in quotes. Dead letters are
//! the one place records and their reasons go whole.
//!
//! `CDC_LOG_VALUES=true` keeps the texts as they are, for debugging (read once per process).

use std::borrow::Cow;
use std::sync::OnceLock;

/// The environment variable that lets values into logs.
pub const SETTING: &str = "CDC_LOG_VALUES";

/// `text` fit for a log line: as is under `CDC_LOG_VALUES=true`, else [`redact`]ed.
pub fn loggable(text: &str) -> Cow<'_, str> {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    let allowed = *ALLOWED.get_or_init(|| std::env::var(SETTING).is_ok_and(|v| v == "true"));
    if allowed {
        Cow::Borrowed(text)
    } else {
        redact(text)
    }
}

/// Blanks the inside of every quoted or bracketed span (`"…"`, `'…'`, `` `…` ``, `[…]`), which
/// is where error texts put values (`invalid type: string "…"`, `document with id '…'`,
/// OpenSearch's `failed to parse date field […]`). An apostrophe inside a word opens nothing;
/// an unclosed span blanks the rest. Over-blanking (field names too) is the safe mistake.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !text.contains(['"', '\'', '`', '[']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        let opens = matches!(c, '"' | '`' | '[') || (c == '\'' && !previous.is_alphanumeric());
        let closes = if c == '[' { ']' } else { c };
        previous = c;
        out.push(c);
        if !opens {
            continue;
        }
        out.push('…');
        let mut escaped = false;
        for inner in chars.by_ref() {
            if inner == closes && !escaped {
                out.push(closes);
                break;
            }
            escaped = c == '"' && inner == '\\' && !escaped;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn quoted_values_are_blanked() {
        for (text, expected) in [
            ("no quotes: 42", "no quotes: 42"),
            (
                r#"invalid type: string "s3cr\"et", expected f64"#,
                r#"invalid type: string "…", expected f64"#,
            ),
            (
                "failed to parse field [n] of type [long] in document with id 'o#1'. Preview of field's value: 'x'",
                "failed to parse field […] of type […] in document with id '…'. Preview of field's value: '…'",
            ),
            ("invalid value: integer `5`", "invalid value: integer `…`"),
            ("unclosed \"secret and more", "unclosed \"…"),
        ] {
            assert_eq!(redact(text), expected);
        }
    }
}
