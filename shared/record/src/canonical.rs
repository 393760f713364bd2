//! DynamoDB's own text for a number, written from its digits and a power of ten.
//!
//! DynamoDB normalises every number it stores and writes it back as a plain decimal: no
//! exponent, no trailing zeros after the point, no leading zeros, no sign on zero. Measured
//! against DynamoDB Local 3.3.0 (AWS's engine; PutItem then GetItem, top-level `N` and `NS`):
//!
//! | sent | read back |
//! |---|---|
//! | `1e5` | `100000` |
//! | `1.50` | `1.5` |
//! | `-0`, `0.0`, `-0.0`, `0.000` | `0` |
//! | `1E-5` | `0.00001` |
//! | `100e-2` | `1` |
//! | `1.23E+4` | `12300` |
//! | `123456789012345678901234567890.12345678` | the same |
//! | `1e125` | `1` and 125 zeros |
//! | `-1e-130` | `-0.` then 129 zeros and `1` |
//! | `9.9999999999999999999999999999999999999E+125` | 38 nines and 88 zeros |
//!
//! It rejects more than 38 significant digits and magnitudes outside 1E-130 to
//! 9.9999999999999999999999999999999999999E+125 (`Number underflow`/`Number overflow`).
//! AWS's export documentation shows the same form: an item whose JSON export reads
//! `"Price":{"N":"2000"}` reads `Price:2d3` in its ION export. So an ION export's decimal is
//! written in this form to give the text the DYNAMODB_JSON export of the same item holds.
//!
//! (DynamoDB Local keeps the sender's text for numbers nested in `M` and `L`, and for values
//! set by UpdateItem, and writes `NS` nested in a list as Java's `BigDecimal.toString`
//! (`1E+5`): quirks of its storage, not of the service, whose numbers are normalised wherever
//! they are.)

/// Why a decimal cannot be a DynamoDB number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberRange {
    /// More than the 38 significant digits DynamoDB keeps.
    #[error("more than 38 significant digits")]
    Precision,
    /// Too large: above 9.9999999999999999999999999999999999999E+125 in magnitude.
    #[error("magnitude above 9.9999999999999999999999999999999999999E+125")]
    Overflow,
    /// Too small but not zero: below 1E-130 in magnitude.
    #[error("magnitude below 1E-130")]
    Underflow,
}

const MAX_DIGITS: usize = 38;
const MAX_POWER: i64 = 125;
const MIN_POWER: i64 = -130;

/// Appends the canonical text of `(-1)^negative × digits × 10^exponent`, where `digits` are
/// the decimal digits of the magnitude.
pub(crate) fn write(
    out: &mut Vec<u8>,
    negative: bool,
    digits: &str,
    exponent: i64,
) -> Result<(), NumberRange> {
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        // Zero of either sign and any exponent.
        out.push(b'0');
        return Ok(());
    }
    if trimmed.len() > MAX_DIGITS {
        return Err(NumberRange::Precision);
    }
    // Every length here is at most the text's length: no overflow in the casts.
    let exponent = exponent.saturating_add((significant.len() - trimmed.len()) as i64);
    // The power of ten of the leading digit, checked before any zero is written: an Ion
    // decimal such as 1d999999999 must not become a billion zeros.
    let leading = exponent.saturating_add(trimmed.len() as i64 - 1);
    if leading > MAX_POWER {
        return Err(NumberRange::Overflow);
    }
    if leading < MIN_POWER {
        return Err(NumberRange::Underflow);
    }
    if negative {
        out.push(b'-');
    }
    let digits = trimmed.as_bytes();
    if exponent >= 0 {
        out.extend_from_slice(digits);
        out.resize(out.len() + exponent as usize, b'0');
    } else {
        // Digits before the point: may be none or negative (then zeros follow the point).
        let point = digits.len() as i64 + exponent;
        if point > 0 {
            let (int, frac) = digits.split_at(point as usize);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(frac);
        } else {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-point) as usize, b'0');
            out.extend_from_slice(digits);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(negative: bool, digits: &str, exponent: i64) -> Result<String, NumberRange> {
        let mut out = Vec::new();
        write(&mut out, negative, digits, exponent)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// The pairs measured against DynamoDB Local (see the module docs), as digits and exponent.
    #[test]
    fn writes_what_dynamodb_reads_back() {
        let cases = [
            ((false, "1", 5), "100000"),           // 1e5
            ((false, "150", -2), "1.5"),           // 1.50
            ((true, "0", 0), "0"),                 // -0
            ((false, "0", -1), "0"),               // 0.0
            ((true, "0", -1), "0"),                // -0.0
            ((false, "0", -5), "0"),               // 0d-5
            ((false, "1", -5), "0.00001"),         // 1E-5
            ((false, "100", -2), "1"),             // 100e-2
            ((false, "123", 2), "12300"),          // 1.23E+4
            ((false, "103", 0), "103"),            // 103.
            ((false, "2", 1), "20"),               // 2d1
            ((false, "1234", -3), "1.234"),        // 1.234
            ((true, "1", -3), "-0.001"),           // -0.001
            ((false, "12340", -3), "12.34"),       // 12.340
            ((false, "600", 0), "600"),            // 600
            ((false, "6", 2), "600"),              // 6d2
            ((false, "15", -1), "1.5"),            // 15e-1
            ((false, "00012300", -8), "0.000123"), // leading zeros ignored
            (
                (false, "12345678901234567890123456789012345678", -8),
                "123456789012345678901234567890.12345678",
            ),
        ];
        for ((negative, digits, exponent), expected) in cases {
            assert_eq!(
                text(negative, digits, exponent).unwrap(),
                expected,
                "{digits}e{exponent}"
            );
        }
        assert_eq!(
            text(false, "1", 125).unwrap(),
            format!("1{}", "0".repeat(125))
        );
        assert_eq!(
            text(true, "1", -130).unwrap(),
            format!("-0.{}1", "0".repeat(129))
        );
        assert_eq!(
            text(false, &"9".repeat(38), 88).unwrap(),
            format!("{}{}", "9".repeat(38), "0".repeat(88))
        );
        // Trailing zeros are no significant digits: 39 digits ending in 0 are 38.
        assert_eq!(
            text(false, &format!("{}0", "1".repeat(38)), 0).unwrap(),
            format!("{}0", "1".repeat(38))
        );
    }

    #[test]
    fn rejects_what_dynamodb_cannot_store() {
        assert_eq!(text(false, &"1".repeat(39), 0), Err(NumberRange::Precision));
        assert_eq!(text(false, "1", 126), Err(NumberRange::Overflow));
        assert_eq!(text(false, "10", 125), Err(NumberRange::Overflow));
        assert_eq!(text(false, "1", -131), Err(NumberRange::Underflow));
        assert_eq!(text(true, "1", i64::MAX), Err(NumberRange::Overflow));
        assert_eq!(text(true, "1", i64::MIN), Err(NumberRange::Underflow));
        // Zero has no magnitude to be out of range.
        assert_eq!(text(false, "0", i64::MAX).unwrap(), "0");
    }
}
