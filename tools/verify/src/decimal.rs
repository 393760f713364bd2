//! Decimal numbers compared by value, exactly.
//!
//! DynamoDB numbers carry up to 38 significant digits, more than `f64` holds, and the same value
//! may be spelled several ways (DynamoDB Local returns nested numbers as they were sent: `1.50`
//! in the source, `1.5` in a replica). So a number is reduced to one canonical form, the sign,
//! the significant digits and the power of ten of the last one, and compared as that.

/// A decimal's exact value: `(-1)^negative × digits × 10^exponent`, `digits` without leading
/// or trailing zeros (empty for zero, which has no sign).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

/// Why a text is not a decimal. It names the fault, never the text: numbers are item data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Neither side of the decimal point has a digit.
    #[error("a number has no digits")]
    NoDigits,
    /// A character that has no place in a decimal number.
    #[error("a number has an unexpected character")]
    Character,
    /// The part after `e` or `E` has no digits or is too large to handle.
    #[error("a number's exponent is malformed or out of range")]
    Exponent,
}

/// Beyond this power of ten a value is written in scientific form (DynamoDB's own range is
/// 1E-130 to 1E+126, so its numbers are always written plain).
const PLAIN_LIMIT: i64 = 1_000;

impl Decimal {
    /// Parses `[+-]digits[.digits][(e|E)[+-]digits]` (either side of the point may be empty,
    /// not both), the forms DynamoDB accepts and JSON numbers.
    pub fn parse(text: &str) -> Result<Self, DecimalError> {
        let (negative, unsigned) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => (&unsigned[..at], parse_exponent(&unsigned[at + 1..])?),
            None => (unsigned, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(DecimalError::NoDigits);
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(DecimalError::Character);
        }
        let frac_len = i64::try_from(frac.len()).map_err(|_| DecimalError::Exponent)?;
        let mut exponent = exponent
            .checked_sub(frac_len)
            .ok_or(DecimalError::Exponent)?;
        let mut digits: String = int.chars().chain(frac.chars()).collect();
        let trailing = digits.len() - digits.trim_end_matches('0').len();
        digits.truncate(digits.len() - trailing);
        let leading = digits.len() - digits.trim_start_matches('0').len();
        digits.drain(..leading);
        if digits.is_empty() {
            return Ok(Decimal {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        let trailing = i64::try_from(trailing).map_err(|_| DecimalError::Exponent)?;
        exponent = exponent
            .checked_add(trailing)
            .ok_or(DecimalError::Exponent)?;
        Ok(Decimal {
            negative,
            digits,
            exponent,
        })
    }

    /// Bytes equal exactly for equal values (for hashing).
    pub fn canonical_bytes(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        out.extend_from_slice(self.digits.as_bytes());
        out.push(b'e');
        out.extend_from_slice(self.exponent.to_string().as_bytes());
    }

    /// DynamoDB's own spelling: plain decimal, no exponent, no trailing zeros after the point,
    /// no sign on zero (`1e5` → `100000`, `1.50` → `1.5`). Values far outside DynamoDB's range
    /// keep a scientific form rather than thousands of zeros.
    pub fn plain(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let sign = if self.negative { "-" } else { "" };
        let len = self.digits.len() as i64;
        if self.exponent > PLAIN_LIMIT || self.exponent.saturating_add(len) < -PLAIN_LIMIT {
            return format!("{sign}{}E{}", self.digits, self.exponent);
        }
        if self.exponent >= 0 {
            return format!(
                "{sign}{}{}",
                self.digits,
                "0".repeat(self.exponent as usize)
            );
        }
        let point = len + self.exponent;
        if point > 0 {
            let (int, frac) = self.digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{}", "0".repeat((-point) as usize), self.digits)
        }
    }
}

fn parse_exponent(text: &str) -> Result<i64, DecimalError> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalError::Exponent);
    }
    text.parse().map_err(|_| DecimalError::Exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn equal_values_in_any_spelling_are_equal() {
        let groups: &[&[&str]] = &[
            &[
                "1.5", "1.50", "+1.5", "15e-1", "0.15E1", "01.5000", ".15e+1",
            ],
            &["0", "-0", "0.0", "-0.000", "0e99", "00", ".0", "0."],
            &["100000", "1e5", "1E+5", "100000.", "10e4"],
            &["-0.001", "-1E-3", "-.001", "-0.0010"],
        ];
        for group in groups {
            for text in *group {
                assert_eq!(d(text), d(group[0]), "{text} vs {}", group[0]);
            }
        }
        assert_ne!(d("1.5"), d("-1.5"));
        assert_ne!(d("1.5"), d("15"));
    }

    #[test]
    fn keeps_all_38_digits() {
        let a = "12345678901234567890123456789012345678";
        let b = "12345678901234567890123456789012345679";
        assert_ne!(d(a), d(b));
        assert_ne!(
            d("0.12345678901234567890123456789012345678"),
            d("0.12345678901234567890123456789012345677")
        );
        assert_eq!(d(a).plain(), a);
    }

    #[test]
    fn writes_dynamodbs_plain_form() {
        for (text, plain) in [
            ("1e5", "100000"),
            ("1.50", "1.5"),
            ("-0", "0"),
            ("1E-5", "0.00001"),
            ("100e-2", "1"),
            ("1.23E+4", "12300"),
            ("-12.340", "-12.34"),
            ("0.5", "0.5"),
        ] {
            assert_eq!(d(text).plain(), plain, "{text}");
        }
        assert_eq!(d("1E+125").plain(), format!("1{}", "0".repeat(125)));
        assert_eq!(d("-1E-130").plain(), format!("-0.{}1", "0".repeat(129)));
        assert_eq!(d("1e999999").plain(), "1E999999");
    }

    #[test]
    fn canonical_bytes_follow_the_value() {
        let bytes = |t: &str| {
            let mut out = Vec::new();
            d(t).canonical_bytes(&mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(bytes("1.50"), "15e-1");
        assert_eq!(bytes("-1500"), "-15e2");
        assert_eq!(bytes("-0.0"), "e0");
    }

    #[test]
    fn rejects_what_is_not_a_decimal_without_quoting_it() {
        for (text, error) in [
            ("", DecimalError::NoDigits),
            ("-", DecimalError::NoDigits),
            (".", DecimalError::NoDigits),
            ("1.2.3", DecimalError::Character),
            ("12abc", DecimalError::Character),
            ("NaN", DecimalError::Character),
            ("1e", DecimalError::Exponent),
            ("1e+", DecimalError::Exponent),
            ("1e99999999999999999999", DecimalError::Exponent),
        ] {
            assert_eq!(Decimal::parse(text), Err(error), "{text:?}");
        }
        assert!(!DecimalError::Character.to_string().contains("abc"));
    }
}
