//! How deeply a line of Ion text nests, found before ion-rs parses it.
//!
//! ion-rs reads containers recursively with no depth limit: a line of a few hundred
//! kilobytes of `[` overflows the stack and aborts the process (no panic to catch). DynamoDB
//! nests items at most 32 levels deep, so any line nesting deeper than [`MAX_DEPTH`] is
//! rejected here, by a single pass that follows only what decides where containers are:
//! strings, quoted symbols, comments and lobs. It may count some bracket too many (in
//! malformed text ion-rs rejects anyway), never too few.

use crate::ion_error::IonError;

/// Containers deep: the line's struct, the image's struct, 32 levels of `M`/`L`, and a set's
/// list inside the deepest one, with room to spare.
pub(crate) const MAX_DEPTH: usize = 40;

/// Fails with [`IonError::TooDeep`] where the text opens its container number
/// `MAX_DEPTH + 1`, or at the first S-expression (no DynamoDB value, and the only place where
/// Ion reads `//` and `/*` as operators rather than comments).
pub(crate) fn check(text: &str) -> Result<(), IonError> {
    let bytes = text.as_bytes();
    let (mut at, mut depth) = (0, 0usize);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'[' | b'{' if bytes.get(at..at + 2) == Some(b"{{") => at = lob_end(bytes, at + 2),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(IonError::TooDeep {
                        offset: at,
                        limit: MAX_DEPTH,
                    });
                }
                at += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'(' => return Err(IonError::SExp { offset: at }),
            b'"' => at = quoted_end(bytes, at + 1, b'"'),
            b'\'' if bytes.get(at..at + 3) == Some(b"'''") => at = long_string_end(bytes, at + 3),
            b'\'' => at = quoted_end(bytes, at + 1, b'\''),
            b'/' if bytes.get(at + 1) == Some(&b'/') => at = line_end(bytes, at + 2),
            b'/' if bytes.get(at + 1) == Some(&b'*') => at = block_comment_end(bytes, at + 2),
            _ => at += 1,
        }
    }
    Ok(())
}

/// Just past the `close` that ends a string or quoted symbol whose content starts at `at`
/// (the end of the text if none does).
fn quoted_end(bytes: &[u8], mut at: usize, close: u8) -> usize {
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        if byte == b'\\' {
            at += 1;
        } else if byte == close {
            break;
        }
    }
    at
}

fn long_string_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&byte) = bytes.get(at) {
        if byte == b'\\' {
            at += 2;
        } else if bytes.get(at..at + 3) == Some(b"'''") {
            return at + 3;
        } else {
            at += 1;
        }
    }
    at
}

fn line_end(bytes: &[u8], at: usize) -> usize {
    memchr::memchr2(b'\n', b'\r', &bytes[at.min(bytes.len())..]).map_or(bytes.len(), |i| at + i)
}

fn block_comment_end(bytes: &[u8], at: usize) -> usize {
    let rest = &bytes[at.min(bytes.len())..];
    memchr::memmem::find(rest, b"*/").map_or(bytes.len(), |i| at + i + 2)
}

/// Just past the `}}` that ends a blob (base64, which may hold `/`) or clob (strings, which
/// may hold `}}`) whose content starts at `at`.
fn lob_end(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'}' if bytes.get(at + 1) == Some(&b'}') => return at + 2,
            b'"' => at = quoted_end(bytes, at + 1, b'"'),
            b'\'' if bytes.get(at..at + 3) == Some(b"'''") => at = long_string_end(bytes, at + 3),
            _ => at += 1,
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        "[".repeat(depth) + &"]".repeat(depth)
    }

    #[test]
    fn accepts_up_to_the_limit_and_rejects_beyond() {
        assert_eq!(check(&nested(MAX_DEPTH)), Ok(()));
        assert_eq!(
            check(&nested(MAX_DEPTH + 1)),
            Err(IonError::TooDeep {
                offset: MAX_DEPTH,
                limit: MAX_DEPTH
            })
        );
        assert!(check(&nested(1_000_000)).is_err());
        assert!(check(&"{a:".repeat(MAX_DEPTH + 1)).is_err());
    }

    #[test]
    fn brackets_inside_strings_comments_and_lobs_do_not_count() {
        let deep = "[".repeat(MAX_DEPTH + 5);
        for text in [
            format!("{{a:\"{deep}\"}}"),
            format!("{{a:\"\\\"{deep}\"}}"),
            format!("{{'{deep}':1}}"),
            format!("{{a:'''{deep}'''}}"),
            format!("{{a:'''x\\'''{deep}'''}}"),
            format!("{{a:1}} // {deep}"),
            format!("{{a:/* {deep} */1}}"),
            format!("{{a:{{{{\"}}}}{deep}\"}}}}}}"),
        ] {
            assert_eq!(check(&text), Ok(()), "{text}");
        }
    }

    #[test]
    fn a_blob_holding_slashes_is_no_comment() {
        // `//` and `/*` are base64 here; read as comments, the `[`s after them would be missed.
        let text = format!(
            "{{a:{{{{//8=}}}},b:{{{{/*8=}}}},c:{}}}",
            nested(MAX_DEPTH + 1)
        );
        assert!(check(&text).is_err());
    }

    #[test]
    fn s_expressions_are_rejected_where_they_start() {
        assert_eq!(check("{a:(b // c)}"), Err(IonError::SExp { offset: 3 }));
    }
}
