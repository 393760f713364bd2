//! OpenSearch time values (`60s`, `500ms`, `10m`, `1h`, `2d`, `-1`), read as OpenSearch
//! itself reads them (`TimeValue.parseTimeValue`), so that a setting the cluster accepted is
//! never misread here and anything else is refused rather than guessed at.

use std::time::Duration;

/// A parsed time value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeValue {
    /// `-1` (with or without a unit): OpenSearch's "none" or "off".
    MinusOne,
    Length(Duration),
}

/// Why a text is not an OpenSearch time value (worded like its own refusals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeValueError {
    #[error(
        "the unit is missing or unrecognized (accepted: a whole number followed by nanos, \
         micros, ms, s, m, h or d; or -1 or 0 alone)"
    )]
    /// No unit, or one OpenSearch does not know (including `M`, which it reads as months).
    Unit,
    /// A number with a fractional part, such as `1.5h`.
    #[error("fractional time values are not supported")]
    Fractional,
    /// The part before the unit (given) is not a whole number.
    #[error("{0:?} is not a whole number")]
    Number(String),
    /// A negative value other than `-1`.
    #[error("negative durations other than -1 are not supported")]
    Negative,
}

/// Turns a count of one unit into a duration.
type ToDuration = fn(u64) -> Duration;

/// Parses `text` as OpenSearch does: the unit is case-insensitive except `m` (minutes), which
/// must be lowercase because OpenSearch reads `M` as months and refuses it; surrounding
/// whitespace is ignored; a bare `0` or `-1` needs no unit.
pub(super) fn parse(text: &str) -> Result<TimeValue, TimeValueError> {
    let normalized = java_trim(text).to_ascii_lowercase();
    // In OpenSearch's order, which matters: "ms" and "nanos" also end in "s".
    let units: [(&str, ToDuration); 4] = [
        ("nanos", Duration::from_nanos),
        ("micros", Duration::from_micros),
        ("ms", Duration::from_millis),
        ("s", Duration::from_secs),
    ];
    for (unit, to_duration) in units {
        if let Some(number) = normalized.strip_suffix(unit) {
            return whole(number).map(|n| length(n, to_duration));
        }
    }
    // OpenSearch tests the untrimmed text for a lowercase `m`: `10M` would be months.
    if text.ends_with('m') {
        let number = &normalized[..normalized.len() - 1];
        return whole(number).map(|n| length(n, |n| seconds(n, 60)));
    }
    if let Some(number) = normalized.strip_suffix('h') {
        return whole(number).map(|n| length(n, |n| seconds(n, 3_600)));
    }
    if let Some(number) = normalized.strip_suffix('d') {
        return whole(number).map(|n| length(n, |n| seconds(n, 86_400)));
    }
    let zeros = |s: &str| s.bytes().all(|b| b == b'0');
    match normalized.strip_prefix('-') {
        // `-0*1`
        Some(rest) if rest.strip_suffix('1').is_some_and(zeros) => Ok(TimeValue::MinusOne),
        // `0+`
        None if !normalized.is_empty() && zeros(&normalized) => {
            Ok(TimeValue::Length(Duration::ZERO))
        }
        _ => Err(TimeValueError::Unit),
    }
}

/// Java's `String.trim()`: strips every character up to U+0020 at both ends.
fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// The number before the unit: a whole number of at least -1 (Java's `Long.parseLong`, which
/// takes an optional sign and ASCII digits).
fn whole(number: &str) -> Result<i64, TimeValueError> {
    let number = java_trim(number);
    match number.parse::<i64>() {
        Ok(n) if n < -1 => Err(TimeValueError::Negative),
        Ok(n) => Ok(n),
        Err(_) if number.parse::<f64>().is_ok() => Err(TimeValueError::Fractional),
        Err(_) => Err(TimeValueError::Number(number.to_owned())),
    }
}

/// `n` units; `-1` of any unit is OpenSearch's "off" (`whole` refused anything lower).
fn length(n: i64, to_duration: impl Fn(u64) -> Duration) -> TimeValue {
    match u64::try_from(n) {
        Ok(n) => TimeValue::Length(to_duration(n)),
        Err(_) => TimeValue::MinusOne,
    }
}

/// Saturates like Java's `TimeUnit` conversions: a value too large to count is "forever".
fn seconds(n: u64, per_unit: u64) -> Duration {
    Duration::from_secs(n.saturating_mul(per_unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(text: &str) -> Duration {
        match parse(text) {
            Ok(TimeValue::Length(duration)) => duration,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn reads_every_unit_opensearch_accepts() {
        assert_eq!(length("60s"), Duration::from_secs(60));
        assert_eq!(length("500ms"), Duration::from_millis(500));
        assert_eq!(length("10m"), Duration::from_secs(600));
        assert_eq!(length("1h"), Duration::from_secs(3_600));
        assert_eq!(length("2d"), Duration::from_secs(172_800));
        assert_eq!(length("1500micros"), Duration::from_micros(1_500));
        assert_eq!(length("7nanos"), Duration::from_nanos(7));
        assert_eq!(length("0"), Duration::ZERO);
        assert_eq!(length("000"), Duration::ZERO);
        assert_eq!(length("0s"), Duration::ZERO);
        // Case and surrounding whitespace as OpenSearch tolerates them.
        assert_eq!(length(" 1H "), Duration::from_secs(3_600));
        assert_eq!(length("30S"), Duration::from_secs(30));
        assert_eq!(length("5MS"), Duration::from_millis(5));
        assert_eq!(length("+5s"), Duration::from_secs(5));
        assert_eq!(length("2 d"), Duration::from_secs(172_800));
        // Too large to count: as long as can be, not an error.
        assert_eq!(
            length("9223372036854775807d"),
            Duration::from_secs(u64::MAX)
        );
    }

    #[test]
    fn minus_one_means_off() {
        for text in ["-1", "-01", "-001", "-1s", "-1ms", "-1d"] {
            assert_eq!(parse(text), Ok(TimeValue::MinusOne), "{text}");
        }
    }

    #[test]
    fn refuses_what_opensearch_refuses() {
        let cases = [
            ("", TimeValueError::Unit),
            ("60", TimeValueError::Unit),
            ("1w", TimeValueError::Unit),
            ("soon", TimeValueError::Unit),
            // OpenSearch reads M as months, which it does not accept.
            ("10M", TimeValueError::Unit),
            // It tests the untrimmed text for m.
            ("10m ", TimeValueError::Unit),
            ("1.5h", TimeValueError::Fractional),
            ("-2s", TimeValueError::Negative),
            ("-2", TimeValueError::Unit),
            ("xs", TimeValueError::Number("x".into())),
            ("s", TimeValueError::Number(String::new())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Err(expected), "{text:?}");
        }
    }
}
