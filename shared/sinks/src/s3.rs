//! `s3://BUCKET/PREFIX`: change records as JSON Lines objects, for a data lake.
//!
//! Each batch becomes one object per table and UTC date (of `dynamodb_timestamp`), holding
//! that group's change records in batch order, one [`ChangeRecord::write_json_line`] per line,
//! gzip-compressed unless `?gzip=false`:
//!
//! ```text
//! PREFIX/table=TABLE/date=YYYY-MM-DD/FIRSTSEQ-LASTSEQ.jsonl.gz      stream records
//! PREFIX/table=TABLE/date=YYYY-MM-DD/export-VERSION-HASH.jsonl.gz   export items
//! ```
//!
//! **Names come from the source position**, so a retried identical batch overwrites its
//! objects instead of adding copies. For stream records FIRSTSEQ and LASTSEQ are the sequence
//! numbers of the group's first and last record: one shard's records are contiguous in a
//! batch, so the range names exactly the records inside. Export items have no sequence
//! number, and a change record does not know its export file or line, so their name is the
//! group's `document_version` (one per export, so a later export's items never overwrite an
//! earlier export's object) and the first 32 hex digits of a SHA-256 over the group's primary
//! keys and versions in order: an item appears once per export, so two different chunks of an
//! export never share a name, while the same chunk processed again does. (A hash of the first
//! key alone plus a count would collide when one item starts two chunks of different
//! exports of equal length; the hash over every key costs microseconds.)
//!
//! **Replayed suffixes.** Lambda retries a partly failed batch from the failed record on, so
//! the retry's range starts later than the first attempt's and makes a new object that
//! overlaps the earlier one (the earlier one is not deleted: it may have been read already).
//! The same happens when Lambda re-batches a shard differently. Readers deduplicate by
//! (`primary_key`, `sequence_number`) for stream records and (`primary_key`,
//! `document_version`) for export items; every line carries them.
//!
//! **Failures.** A failed `PutObject` fails every record of that object: retryable unless the
//! service says the request itself is invalid ([`crate::retry::classify`]). A missing bucket
//! (`NoSuchBucket`) is retryable on purpose: it is fixed by an operator, and the records must
//! stay in the stream until then. The objects of one batch are uploaded concurrently.
//!
//! `{table}` may appear in BUCKET or PREFIX. When an endpoint URL is configured
//! (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`, emulators, S3-compatible stores) the client addresses buckets
//! path-style, since such endpoints rarely resolve `BUCKET.host`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use cdc_record::ChangeRecord;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};
use tokio::time::{timeout_at, Instant};

use crate::hash::hex;
use crate::object_key::{
    bucket_and_prefix, key_safe, table_safe, utc_date, with_slash, CONTENT_TYPE,
};
use crate::per_table::PerTable;
use crate::retry::failure;
use crate::sink::{Calls, DeadlineExceeded, Failure, FailureKind, SharedError, Sink, WriteReport};
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

pub(crate) const OPTIONS: &[&str] = &["gzip"];

/// Objects of one batch in flight at once.
const CONCURRENCY: usize = 16;

/// `s3://BUCKET/PREFIX?...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket, `{table}` allowed.
    pub bucket: PerTable,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: PerTable,
    /// Whether objects are gzip-compressed (`.jsonl.gz`; the default) or not (`gzip=false`,
    /// `.jsonl`).
    pub gzip: bool,
}

impl S3Config {
    /// Reads the bucket, the prefix and the `gzip` option; fails on a bad bucket name and on
    /// any other option.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let (bucket, prefix) = bucket_and_prefix(&url, "s3://BUCKET/PREFIX")?;
        let gzip = url.choice("gzip", &["true", "false"])? != Some("false");
        url.finish(OPTIONS)?;
        Ok(S3Config {
            bucket: PerTable::new(bucket),
            prefix: PerTable::new(prefix),
            gzip,
        })
    }

    /// The sink, named `name` (its URL), with an S3 client from `aws`; nothing is checked
    /// before the first write.
    pub async fn build(&self, name: &str, aws: &AwsContext) -> S3Sink {
        S3Sink {
            name: name.to_owned(),
            client: aws.s3().await,
            config: self.clone(),
            calls: Calls::default(),
        }
    }
}

/// The `s3://` sink.
pub struct S3Sink {
    name: String,
    client: aws_sdk_s3::Client,
    config: S3Config,
    calls: Calls,
}

#[async_trait]
impl Sink for S3Sink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        let failures = stream::iter(groups(records))
            .map(|group| self.put(records, group, deadline))
            .buffer_unordered(CONCURRENCY)
            .flat_map(stream::iter)
            .collect()
            .await;
        WriteReport { failures }
    }

    fn api_calls(&self) -> u64 {
        self.calls.get()
    }
}

impl S3Sink {
    /// Uploads one group as one object; on failure, every record of it failed.
    async fn put(
        &self,
        records: &[ChangeRecord<'_>],
        group: Group,
        deadline: Instant,
    ) -> Vec<Failure> {
        let body = match self.body(records, &group.indices) {
            Ok(body) => body,
            Err(e) => return fail_all(&group.indices, FailureKind::Retryable, Arc::new(e)),
        };
        let first = &records[group.indices[0]];
        let key = self.key(&group, records);
        self.calls.add();
        let call = self
            .client
            .put_object()
            .bucket(self.config.bucket.for_table(&first.table_name))
            .key(key)
            .content_type(CONTENT_TYPE)
            .set_content_encoding(self.config.gzip.then(|| "gzip".to_owned()))
            .body(ByteStream::from(body))
            .send();
        match timeout_at(deadline, call).await {
            Ok(Ok(_)) => Vec::new(),
            Ok(Err(e)) => group.indices.iter().map(|&i| failure(i, &e)).collect(),
            Err(_) => fail_all(
                &group.indices,
                FailureKind::Retryable,
                Arc::new(DeadlineExceeded),
            ),
        }
    }

    fn body(&self, records: &[ChangeRecord<'_>], indices: &[usize]) -> std::io::Result<Vec<u8>> {
        let mut lines = Vec::new();
        for &i in indices {
            records[i].write_json_line(&mut lines);
        }
        if !self.config.gzip {
            return Ok(lines);
        }
        // GzEncoder writes mtime 0, so the same records always give the same bytes.
        let mut gz = GzEncoder::new(Vec::with_capacity(lines.len() / 4), Compression::default());
        gz.write_all(&lines)?;
        gz.finish()
    }

    fn key(&self, group: &Group, records: &[ChangeRecord<'_>]) -> String {
        let first = &records[group.indices[0]];
        let name = match group.kind {
            Kind::Stream => {
                let last = &records[group.indices[group.indices.len() - 1]];
                format!(
                    "{}-{}",
                    key_safe(first.sequence_number.as_deref().unwrap_or_default()),
                    key_safe(last.sequence_number.as_deref().unwrap_or_default())
                )
            }
            Kind::Export => {
                let mut hash = Sha256::new();
                for &i in &group.indices {
                    let key = records[i].key.primary_key.as_bytes();
                    // Length-prefixed, so that no two key lists hash the same bytes.
                    hash.update((key.len() as u64).to_le_bytes());
                    hash.update(key);
                    hash.update(records[i].version.to_le_bytes());
                }
                format!("export-{}-{}", first.version, &hex(&hash.finalize())[..32])
            }
        };
        let extension = if self.config.gzip {
            "jsonl.gz"
        } else {
            "jsonl"
        };
        let table = &first.table_name;
        format!(
            "{}table={}/date={}/{name}.{extension}",
            with_slash(&self.config.prefix.for_table(table)),
            table_safe(table),
            group.date,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Stream,
    Export,
}

/// The records of one object, in batch order.
struct Group {
    kind: Kind,
    date: String,
    indices: Vec<usize>,
}

/// Splits a batch by table, UTC date and kind, in order of first appearance.
fn groups<'r>(records: &'r [ChangeRecord<'_>]) -> Vec<Group> {
    const DAY_MS: i64 = 86_400_000;
    let mut groups: Vec<Group> = Vec::new();
    let mut position: HashMap<(&'r str, i64, Kind), usize> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        let kind = match record.sequence_number {
            Some(_) => Kind::Stream,
            None => Kind::Export,
        };
        // Days since the epoch: formatting a date once per group, not per record.
        let day = record.timestamp_ms.div_euclid(DAY_MS);
        let at = *position
            .entry((&record.table_name, day, kind))
            .or_insert_with(|| {
                groups.push(Group {
                    kind,
                    date: utc_date(record.timestamp_ms),
                    indices: Vec::new(),
                });
                groups.len() - 1
            });
        groups[at].indices.push(index);
    }
    groups
}

fn fail_all(indices: &[usize], kind: FailureKind, error: SharedError) -> Vec<Failure> {
    indices
        .iter()
        .map(|&index| Failure {
            index,
            kind,
            error: error.clone(),
        })
        .collect()
}
