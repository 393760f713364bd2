//! `CDC_SINKS` and `CDC_DLQ`: which sinks and dead-letter queue to build, checked at cold start.

use std::path::PathBuf;

use crate::dead_letter::{DeadLetterQueue, JsonLinesDeadLetters};
use crate::dead_letter::{S3DeadLetterConfig, SqsDeadLetterConfig};
use crate::dynamodb::DynamoDbConfig;
use crate::fanout::FanOut;
use crate::jsonl::JsonLinesSink;
use crate::messaging::MessagingConfig;
use crate::opensearch::OpenSearchConfig;
use crate::output::LineOutput;
use crate::projection::{self, ProjectedSink};
use crate::s3::S3Config;
use crate::sink::Sink;
use crate::url::{ConfigError, SinkUrl, DLQ_SETTING, SINKS_SETTING};
use cdc_lambda::AwsContext;
use cdc_record::Projection;

/// Sink URL forms, for error messages.
const SINK_FORMS: &str = "stdout, file:///ABSOLUTE/PATH.jsonl, dynamodb://TABLE, s3://BUCKET/PREFIX, opensearch+https://HOST[:PORT]/INDEX, opensearch+http://HOST[:PORT]/INDEX, sqs://QUEUE (name or https:// URL), sns://TOPIC_ARN, kinesis://STREAM, events://BUS";
const DLQ_FORMS: &str = "stderr, stdout, file:///ABSOLUTE/PATH.jsonl, sqs://QUEUE (name or https:// URL), s3://BUCKET/PREFIX";

/// One sink as configured, before any I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// `stdout`: change records as JSON Lines on standard output (the function's log).
    Stdout,
    /// `file:///ABSOLUTE/PATH.jsonl`: change records appended to a local file as JSON Lines.
    File {
        /// The file's absolute path.
        path: PathBuf,
    },
    /// `dynamodb://TABLE`: a replica, history or batch table.
    DynamoDb(DynamoDbConfig),
    /// `opensearch+https://HOST/INDEX` (or `+http`): an OpenSearch index, written with `_bulk`.
    OpenSearch(OpenSearchConfig),
    /// `s3://BUCKET/PREFIX`: one JSON Lines object per batch.
    S3(S3Config),
    /// `sqs://`, `sns://`, `kinesis://` or `events://`: one message per change record.
    Messaging(MessagingConfig),
    /// Any of the above with `include=`/`exclude=`: it gets projected records.
    Projected {
        /// What the sink may hold.
        projection: Projection,
        /// The sink itself.
        sink: Box<SinkConfig>,
    },
}

impl SinkConfig {
    /// Parses `CDC_SINKS`: comma-separated sink URLs (each kept, to name its sink); unset or
    /// blank means `stdout`.
    pub fn parse_list(spec: Option<&str>) -> Result<Vec<(String, SinkConfig)>, ConfigError> {
        let spec = spec
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("stdout");
        spec.split(',')
            .map(str::trim)
            .map(|url| {
                if url.is_empty() {
                    Err(SinkUrl::parse(SINKS_SETTING, spec)?
                        .invalid("empty entry in the comma-separated list"))
                } else {
                    SinkConfig::parse(url).map(|config| (url.to_owned(), config))
                }
            })
            .collect()
    }

    /// Parses one sink URL; fails on an unknown scheme or option, or a value a sink does not
    /// accept.
    pub fn parse(raw: &str) -> Result<SinkConfig, ConfigError> {
        let mut url = SinkUrl::parse(SINKS_SETTING, raw)?;
        let projection = projection::take(&mut url)?;
        let sink = Self::parse_sink(url, raw)?;
        Ok(match projection {
            Some(projection) => SinkConfig::Projected {
                projection,
                sink: Box::new(sink),
            },
            None => sink,
        })
    }

    fn parse_sink(url: SinkUrl<'_>, raw: &str) -> Result<SinkConfig, ConfigError> {
        match url.scheme {
            "stdout" => url.finish(&[]).map(|()| SinkConfig::Stdout),
            "file" => {
                let path = file_path(&url)?;
                url.finish(&[]).map(|()| SinkConfig::File { path })
            }
            "dynamodb" => DynamoDbConfig::parse(url).map(SinkConfig::DynamoDb),
            "opensearch+https" | "opensearch+http" => {
                OpenSearchConfig::parse(url).map(SinkConfig::OpenSearch)
            }
            "s3" => S3Config::parse(url).map(SinkConfig::S3),
            "sqs" | "sns" | "kinesis" | "events" => {
                MessagingConfig::parse(url).map(SinkConfig::Messaging)
            }
            other => Err(ConfigError::UnknownScheme {
                setting: SINKS_SETTING,
                url: raw.to_owned(),
                scheme: other.to_owned(),
                accepted: SINK_FORMS,
            }),
        }
    }

    /// Sets the sink up (opens files, creates clients); `raw` is its URL, which names it.
    pub async fn build(&self, raw: &str, aws: &AwsContext) -> Result<Box<dyn Sink>, ConfigError> {
        Ok(match self {
            SinkConfig::Projected { projection, sink } => Box::new(ProjectedSink::new(
                Box::pin(sink.build(raw, aws)).await?,
                projection.clone(),
            )),
            SinkConfig::DynamoDb(config) => Box::new(config.build(raw, aws).await),
            SinkConfig::OpenSearch(config) => Box::new(config.build(raw, aws).await?),
            SinkConfig::S3(config) => Box::new(config.build(raw, aws).await),
            SinkConfig::Messaging(config) => config.build(raw, aws).await?,
            SinkConfig::Stdout => Box::new(JsonLinesSink::new("stdout", LineOutput::Stdout)),
            SinkConfig::File { path } => Box::new(JsonLinesSink::new(
                format!("file://{}", path.display()),
                open(SINKS_SETTING, path)?,
            )),
        })
    }
}

/// `CDC_SINKS` and `CDC_DLQ` together: what every function that writes change records reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSettings {
    /// Each sink's URL and configuration.
    pub sinks: Vec<(String, SinkConfig)>,
    /// Where records that cannot be written go.
    pub dead_letters: DeadLetterConfig,
}

impl SinkSettings {
    /// Reads both settings through `env` (the process environment in production).
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(SinkSettings {
            sinks: SinkConfig::parse_list(env(SINKS_SETTING).as_deref())?,
            dead_letters: DeadLetterConfig::parse(env(DLQ_SETTING).as_deref())?,
        })
    }

    /// Sets up every sink and the dead-letter queue (cold start).
    pub async fn build(
        &self,
        aws: &AwsContext,
    ) -> Result<(FanOut, Box<dyn DeadLetterQueue>), ConfigError> {
        Ok((
            build_fan_out(&self.sinks, aws).await?,
            self.dead_letters.build(aws).await?,
        ))
    }
}

/// Builds every sink of `CDC_SINKS`.
pub async fn build_fan_out(
    configs: &[(String, SinkConfig)],
    aws: &AwsContext,
) -> Result<FanOut, ConfigError> {
    let mut sinks = Vec::with_capacity(configs.len());
    for (raw, config) in configs {
        sinks.push(config.build(raw, aws).await?);
    }
    Ok(FanOut::new(sinks))
}

/// The dead-letter queue as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterConfig {
    /// `stderr` (the default): dead letters as JSON Lines in the function's log.
    Stderr,
    /// `stdout`: dead letters as JSON Lines on standard output.
    Stdout,
    /// `file:///ABSOLUTE/PATH.jsonl`: dead letters appended to a local file.
    File {
        /// The file's absolute path.
        path: PathBuf,
    },
    /// `sqs://QUEUE`: one SQS message per dead letter.
    Sqs(SqsDeadLetterConfig),
    /// `s3://BUCKET/PREFIX`: dead letters written as S3 objects.
    S3(S3DeadLetterConfig),
}

impl DeadLetterConfig {
    /// Parses `CDC_DLQ`; unset or blank means `stderr` (the function's log).
    pub fn parse(spec: Option<&str>) -> Result<Self, ConfigError> {
        let raw = spec
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("stderr");
        let url = SinkUrl::parse(DLQ_SETTING, raw)?;
        match url.scheme {
            "stderr" => url.finish(&[]).map(|()| DeadLetterConfig::Stderr),
            "stdout" => url.finish(&[]).map(|()| DeadLetterConfig::Stdout),
            "file" => {
                let path = file_path(&url)?;
                url.finish(&[]).map(|()| DeadLetterConfig::File { path })
            }
            "sqs" => SqsDeadLetterConfig::parse(url).map(DeadLetterConfig::Sqs),
            "s3" => S3DeadLetterConfig::parse(url).map(DeadLetterConfig::S3),
            other => Err(ConfigError::UnknownScheme {
                setting: DLQ_SETTING,
                url: raw.to_owned(),
                scheme: other.to_owned(),
                accepted: DLQ_FORMS,
            }),
        }
    }

    /// Sets the dead-letter queue up (cold start): opens the file, or creates the client and,
    /// for SQS, checks the queue; fails when that is not possible.
    pub async fn build(&self, aws: &AwsContext) -> Result<Box<dyn DeadLetterQueue>, ConfigError> {
        Ok(match self {
            DeadLetterConfig::Stderr | DeadLetterConfig::Stdout => {
                let (name, output) = match self {
                    DeadLetterConfig::Stderr => ("stderr", LineOutput::Stderr),
                    _ => ("stdout", LineOutput::Stdout),
                };
                // Deployed, these are the function's log: item data in CloudWatch Logs,
                // and letters over 256 KB cut there.
                tracing::warn!(
                    dead_letters = name,
                    "CDC_DLQ={name}: dead letters go to the function's output; for local runs only (deployed, set CDC_DLQ to an sqs:// or s3:// queue)"
                );
                Box::new(JsonLinesDeadLetters::new(name, output))
            }
            DeadLetterConfig::File { path } => Box::new(JsonLinesDeadLetters::new(
                format!("file://{}", path.display()),
                open(DLQ_SETTING, path)?,
            )),
            DeadLetterConfig::Sqs(config) => Box::new(config.build(aws).await?),
            DeadLetterConfig::S3(config) => Box::new(config.build(aws).await),
        })
    }
}

/// `file:///abs/path` → `/abs/path`.
fn file_path(url: &SinkUrl<'_>) -> Result<PathBuf, ConfigError> {
    if url.target.starts_with('/') {
        Ok(PathBuf::from(url.target))
    } else {
        Err(url.invalid("a file URL needs an absolute path: file:///ABSOLUTE/PATH.jsonl"))
    }
}

fn open(setting: &'static str, path: &std::path::Path) -> Result<LineOutput, ConfigError> {
    LineOutput::append_to(path).map_err(|source| ConfigError::Open {
        setting,
        path: path.to_owned(),
        source,
    })
}
