//! DynamoDB numbers, kept as their decimal text.
//!
//! DynamoDB numbers carry up to 38 significant digits, more than `f64` (about 16) or any
//! primitive holds, so they are never converted: the text is validated and, only when it is
//! not already valid JSON number syntax, rewritten into JSON syntax by steps that keep the value
//! exactly (dropping a leading `+`, leading zeros and a trailing `.`; adding the `0` JSON wants
//! before a leading `.`). Every digit that carries value stays as it was.

use std::borrow::Cow;
use std::fmt;

/// A DynamoDB number as JSON number text with exactly the value DynamoDB sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number<'a>(Cow<'a, str>);

/// Why a string is not a DynamoDB number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a decimal number ({why})")]
pub struct NumberError {
    /// The text that was rejected.
    pub text: String,
    /// What is wrong with it, such as `"no digits"` or `"malformed exponent"`.
    pub why: &'static str,
}

impl<'a> Number<'a> {
    /// Validates `text` and returns it as JSON number text, borrowing when no rewrite is needed.
    pub fn parse(text: Cow<'a, str>) -> Result<Self, NumberError> {
        let parts = Parts::split(&text).map_err(|why| NumberError {
            text: text.to_string(),
            why,
        })?;
        if parts.is_json() {
            Ok(Number(text))
        } else {
            Ok(Number(Cow::Owned(parts.to_json())))
        }
    }

    /// The JSON number text; also DynamoDB's own decimal text for the value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, borrowed from the payload where the parse borrowed it.
    pub fn to_cow(&self) -> Cow<'a, str> {
        self.0.clone()
    }
}

impl fmt::Display for Number<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decimal split into its pieces: `[sign] int [. frac] [e exp]`.
struct Parts<'t> {
    negative: bool,
    plus_sign: bool,
    int: &'t str,
    frac: Option<&'t str>,
    exp: Option<&'t str>,
}

impl<'t> Parts<'t> {
    /// One pass over the bytes (numbers are in every item; this shows in profiles).
    fn split(text: &'t str) -> Result<Self, &'static str> {
        let bytes = text.as_bytes();
        let (negative, plus_sign, mut at) = match bytes.first() {
            Some(b'-') => (true, false, 1),
            Some(b'+') => (false, true, 1),
            Some(_) => (false, false, 0),
            None => return Err("empty"),
        };
        let int_start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let int = &text[int_start..at];
        let frac = if bytes.get(at) == Some(&b'.') {
            let start = at + 1;
            at = start;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            Some(&text[start..at])
        } else {
            None
        };
        if int.is_empty() && frac.unwrap_or("").is_empty() {
            return Err("no digits");
        }
        let exp = match bytes.get(at) {
            None => None,
            Some(b'e' | b'E') => {
                let exp = &text[at + 1..];
                let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("malformed exponent");
                }
                Some(exp)
            }
            Some(b'.') => return Err("more than one decimal point"),
            Some(_) => return Err("unexpected character"),
        };
        Ok(Parts {
            negative,
            plus_sign,
            int,
            frac,
            exp,
        })
    }

    /// JSON: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn is_json(&self) -> bool {
        !self.plus_sign
            && !self.int.is_empty()
            && (self.int == "0" || !self.int.starts_with('0'))
            && self.frac.is_none_or(|f| !f.is_empty())
    }

    fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.int.len() + 8);
        if self.negative {
            out.push('-');
        }
        let int = self.int.trim_start_matches('0');
        out.push_str(if int.is_empty() { "0" } else { int });
        if let Some(frac) = self.frac.filter(|f| !f.is_empty()) {
            out.push('.');
            out.push_str(frac);
        }
        if let Some(exp) = self.exp {
            out.push('E');
            out.push_str(exp);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        Number::parse(Cow::Borrowed(text))
            .unwrap()
            .as_str()
            .to_owned()
    }

    #[test]
    fn keeps_valid_json_numbers_verbatim_and_borrowed() {
        for text in [
            "0",
            "15",
            "-0.5",
            "12345678901234567890.123456789012345678",
            "1E-130",
            "9.9999999999999999999999999999999999999E+125",
            "1e5",
        ] {
            let n = Number::parse(Cow::Borrowed(text)).unwrap();
            assert!(matches!(n.0, Cow::Borrowed(_)), "{text} was rewritten");
            assert_eq!(n.as_str(), text);
        }
    }

    #[test]
    fn rewrites_other_decimal_forms_without_changing_the_value() {
        assert_eq!(json("+5"), "5");
        assert_eq!(json("007"), "7");
        assert_eq!(json("-00.50"), "-0.50");
        assert_eq!(json(".5"), "0.5");
        assert_eq!(json("-.5e3"), "-0.5E3");
        assert_eq!(json("5."), "5");
        assert_eq!(json("000"), "0");
    }

    #[test]
    fn rejects_what_is_not_a_decimal() {
        for text in [
            "", "+", "-", ".", "12abc", "1e", "1e+", "NaN", "Infinity", "1.2.3", "0x10", " 1",
            "1_000",
        ] {
            let err = Number::parse(Cow::Borrowed(text)).unwrap_err();
            assert_eq!(err.text, text);
        }
    }
}
