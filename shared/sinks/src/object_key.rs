//! How objects are named in S3, by the S3 sink and the S3 dead-letter queue alike: bucket and
//! prefix of an `s3://` URL, dates, and key components that can be neither `/` levels nor
//! overlong.

use aws_smithy_types::date_time::{DateTime, Format};

use crate::hash::sha256_hex;
use crate::url::{ConfigError, SinkUrl};

/// S3 keys are at most 1024 bytes; what we append to PREFIX (table name up to 255 bytes,
/// date, two sequence numbers) stays under 400.
const MAX_PREFIX_BYTES: usize = 600;

/// JSON Lines.
pub(crate) const CONTENT_TYPE: &str = "application/x-ndjson";

/// `YYYY-MM-DD` of a time in milliseconds since the epoch, UTC; `unknown` for a time S3 keys
/// cannot name (beyond year 9999), which no stream or export produces.
pub(crate) fn utc_date(epoch_ms: i64) -> String {
    DateTime::from_millis(epoch_ms)
        .fmt(Format::DateTime)
        .ok()
        .and_then(|text| {
            let (date, _) = text.split_once('T')?;
            (date.len() == 10).then(|| date.to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `BUCKET/PREFIX` of an `s3://` URL: the bucket checked, the prefix without outer slashes.
pub(crate) fn bucket_and_prefix(
    url: &SinkUrl<'_>,
    form: &str,
) -> Result<(String, String), ConfigError> {
    let (bucket, prefix) = url.target.split_once('/').unwrap_or((url.target, ""));
    if bucket.is_empty() {
        return Err(url.invalid(format!("missing bucket name; expected {form}")));
    }
    // `{table}` stands for a table name, checked by DynamoDB; the rest must be a bucket name.
    let fixed = bucket.replace("{table}", "");
    if let Some(bad) = fixed
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(url.invalid(format!(
            "bucket {bucket:?} has {bad:?}; bucket names hold lowercase letters, digits, '.' and '-' (expected {form})"
        )));
    }
    if !bucket.contains("{table}") && !(3..=63).contains(&bucket.len()) {
        return Err(url.invalid(format!("bucket {bucket:?} must be 3 to 63 characters long")));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(url.invalid(format!(
            "the prefix is longer than {MAX_PREFIX_BYTES} bytes; object keys must stay under 1024"
        )));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// `prefix/`, or nothing for an empty prefix.
pub(crate) fn with_slash(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    }
}

/// A sequence number as is when it is plain (digits, as DynamoDB's are), else a hash of it, so
/// a malformed value can neither add `/` levels nor overlong keys.
pub(crate) fn key_safe(text: &str) -> String {
    if !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        text.to_owned()
    } else {
        format!("h{}", &sha256_hex(text.as_bytes())[..16])
    }
}

/// A table name for a key: DynamoDB allows `[A-Za-z0-9_.-]`; anything else becomes `_`.
pub(crate) fn table_safe(table: &str) -> String {
    table
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_date(1_795_278_192_000), "2026-11-21");
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(i64::MAX), "unknown");
    }

    #[test]
    fn odd_sequence_numbers_are_hashed() {
        assert_eq!(key_safe("000123"), "000123");
        assert_eq!(key_safe("a/b").len(), 17);
        assert_eq!(key_safe(""), key_safe(""));
    }
}
