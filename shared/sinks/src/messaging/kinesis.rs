//! `kinesis://STREAM` (a stream name or ARN): `PutRecords`, up to 500 records and 5 MiB
//! (data and partition keys) per call.
//!
//! `PartitionKey` = `primary_key`, so all changes of an item go to one shard, where Kinesis
//! keeps their order (a key over 256 characters becomes its SHA-256 in hex). Kinesis records
//! have no attributes: under `format=raw` the record carries its own `eventName` and
//! `dynamodb.SequenceNumber`. Records failed with `ProvisionedThroughputExceededException` or
//! `InternalFailure` are retried with backoff. There is no deduplication: replays are
//! at-least-once and consumers deduplicate on the event id (or table, `primary_key` and
//! `document_version`). The largest record a stream takes is configurable, so an oversized
//! record is left for Kinesis to reject (then reported as permanent).

use async_trait::async_trait;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::message::{bounded_id, parse_format, Format, Message};
use super::sink::MessagingSink;
use super::transport::{CallFailure, EntryError, Limits, Transport};
use crate::per_table::PerTable;
use crate::sink::Calls;
use crate::url::ConfigError;
use crate::url::SinkUrl;
use cdc_lambda::AwsContext;

const OPTIONS: &[&str] = &[super::message::FORMAT_OPTION];

/// `kinesis://STREAM?...`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisConfig {
    /// A stream name or ARN, `{table}` allowed.
    pub stream: PerTable,
    /// Record (the change record JSON, the default) or raw (the stream record) bodies.
    pub format: Format,
}

impl KinesisConfig {
    /// Reads the stream and the `format` option; fails on a stream that is neither a name nor
    /// an ARN, and on any other option.
    pub fn parse(mut url: SinkUrl<'_>) -> Result<Self, ConfigError> {
        let expected = "kinesis://STREAM (a stream name or ARN, {table} allowed)";
        let stream = url.required_target(expected)?;
        if !is_arn(stream) && stream.contains(['/', ':']) {
            return Err(url.invalid(format!("expected {expected}")));
        }
        let format = parse_format(&mut url)?;
        url.finish(OPTIONS)?;
        Ok(KinesisConfig {
            stream: PerTable::new(stream),
            format,
        })
    }

    /// The sink, named `name` (its URL), with a client from `aws`; nothing is checked
    /// before the first write.
    pub async fn build(&self, name: &str, aws: &AwsContext) -> MessagingSink<Kinesis> {
        let kinesis = Kinesis {
            client: aws_sdk_kinesis::Client::new(aws.config().await),
            stream: self.stream.clone(),
            calls: Calls::default(),
        };
        MessagingSink::new(name, self.format, kinesis)
    }
}

fn is_arn(stream: &str) -> bool {
    stream.starts_with("arn:")
}

/// `primary_key` as a partition key: Kinesis takes 1 to 256 Unicode characters.
pub(crate) fn partition_key(primary_key: &str) -> String {
    bounded_id(primary_key, 256, |_| true)
}

pub struct Kinesis {
    client: aws_sdk_kinesis::Client,
    stream: PerTable,
    calls: Calls,
}

#[async_trait]
impl Transport for Kinesis {
    const SERVICE: &'static str = "Kinesis";
    // One 500-record call already fills a shard's 1 MB/s; concurrent calls to the same shards
    // mostly earn ProvisionedThroughputExceeded (and moto's PutRecords is not thread-safe).
    const CONCURRENT_CALLS: usize = 1;
    const LIMITS: Limits = Limits {
        entries: 500,
        call_bytes: 5 * 1024 * 1024,
        entry_bytes: None,
    };

    fn entry_bytes(&self, message: &Message) -> usize {
        message.body.len() + partition_key(&message.primary_key).len()
    }

    async fn destination(&self, table: &str) -> Result<String, CallFailure> {
        Ok(self.stream.for_table(table).into_owned())
    }

    async fn send(
        &self,
        destination: &str,
        batch: &[&Message],
    ) -> Result<Vec<Result<(), EntryError>>, CallFailure> {
        let records = batch
            .iter()
            .map(|message| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(message.body.as_bytes()))
                    .partition_key(partition_key(&message.primary_key))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(CallFailure::build)?;
        let call = self.client.put_records().set_records(Some(records));
        let call = if is_arn(destination) {
            call.stream_arn(destination)
        } else {
            call.stream_name(destination)
        };
        self.calls.add();
        let output = call.send().await.map_err(|e| CallFailure::from_sdk(&e))?;
        Ok(output
            .records()
            .iter()
            .map(|r| match r.error_code() {
                None => Ok(()),
                Some(code) => Err(EntryError {
                    code: code.to_owned(),
                    message: r.error_message().unwrap_or_default().to_owned(),
                }),
            })
            .collect())
    }

    fn api_calls(&self) -> u64 {
        self.calls.get()
    }
}
