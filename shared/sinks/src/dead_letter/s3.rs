//! `CDC_DLQ=s3://BUCKET/PREFIX`: one JSON Lines object per `send`, one letter per line.
//!
//! Key: `PREFIX/date=YYYY-MM-DD/FIRST-HASH.jsonl`, where the date is today's (UTC; letters
//! carry no reliable time of their own), FIRST the first letter's sequence number (or its
//! source, `stream` or `export`, when it has none) and HASH the first 16 hex digits of the
//! SHA-256 of the object's content. A retried `send` of the same letters therefore overwrites
//! its object (unless the retry happens after midnight UTC, when it adds a second copy under
//! the next date). The object is written whole or not at all, so on failure no letter counts
//! as sent. Objects are not compressed: dead letters are few, and operators read them as is.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use tokio::time::{timeout_at, Instant};

use super::{DeadLetter, DeadLetterError, DeadLetterQueue};
use crate::hash::sha256_hex;
use crate::object_key::{bucket_and_prefix, key_safe, utc_date, with_slash};
use crate::retry::CallError;
use crate::sink::{DeadlineExceeded, SharedError};
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

/// `CDC_DLQ=s3://BUCKET/PREFIX`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3DeadLetterConfig {
    /// `CDC_DLQ` as given, naming the queue.
    pub raw: String,
    /// The bucket the letters are written to.
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl S3DeadLetterConfig {
    /// Reads the bucket and prefix of an `s3://` URL; fails on a bad bucket name, on
    /// `{table}` and on any option.
    pub fn parse(url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let (bucket, prefix) = bucket_and_prefix(&url, "s3://BUCKET/PREFIX")?;
        if url.target.contains("{table}") {
            return Err(url.invalid(
                "{table} is not allowed here: one object holds the letters of one batch, whatever their table",
            ));
        }
        let config = S3DeadLetterConfig {
            raw: url.raw.to_owned(),
            bucket,
            prefix,
        };
        url.finish(&[])?;
        Ok(config)
    }

    /// The queue, with an S3 client from `aws` (nothing is checked before the first letter).
    pub async fn build(&self, aws: &AwsContext) -> S3DeadLetters {
        S3DeadLetters {
            client: aws.s3().await,
            config: self.clone(),
        }
    }
}

pub struct S3DeadLetters {
    client: aws_sdk_s3::Client,
    config: S3DeadLetterConfig,
}

#[async_trait]
impl DeadLetterQueue for S3DeadLetters {
    fn name(&self) -> &str {
        &self.config.raw
    }

    async fn send(
        &self,
        letters: &[DeadLetter<'_>],
        deadline: Instant,
    ) -> Result<(), DeadLetterError> {
        if letters.is_empty() {
            return Ok(());
        }
        match self.put(letters, deadline).await {
            Ok(_) => Ok(()),
            Err(error) => Err(DeadLetterError {
                queue: self.config.raw.clone(),
                sent: 0,
                error,
            }),
        }
    }
}

impl S3DeadLetters {
    /// Writes `letters` (at least one) as one object, whole or not at all; answers the
    /// bucket and key written.
    pub(crate) async fn put(
        &self,
        letters: &[DeadLetter<'_>],
        deadline: Instant,
    ) -> Result<(String, String), SharedError> {
        let mut body = Vec::new();
        for letter in letters {
            letter.write_json_line(&mut body);
        }
        let key = format!(
            "{}date={}/{}-{}.jsonl",
            with_slash(&self.config.prefix),
            utc_date(now_ms()),
            match letters
                .first()
                .map(|first| (&first.sequence_number, first.source))
            {
                Some((Some(seq), _)) => key_safe(seq),
                Some((None, source)) => source.as_str().to_owned(),
                None => "empty".to_owned(),
            },
            &sha256_hex(&body)[..16],
        );
        let call = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(&key)
            .content_type(crate::object_key::CONTENT_TYPE)
            .body(ByteStream::from(body))
            .send();
        match timeout_at(deadline, call).await {
            Ok(Ok(_)) => Ok((self.config.bucket.clone(), key)),
            Ok(Err(e)) => Err(Arc::new(CallError::of(&e))),
            Err(_) => Err(Arc::new(DeadlineExceeded)),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
