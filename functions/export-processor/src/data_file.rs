//! Loading one data file: stream it from S3, gunzip it beside the mapping ([`crate::decode`]),
//! map each line to a change record and deliver blocks of them to the sinks, dead-lettering
//! the lines that cannot be mapped. Stops at the first line some sink must retry, or before
//! the deadline; everything before that line is held by a sink or the dead-letter queue.

use std::borrow::Cow;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use cdc_record::{ion_line_to_json, map_export_line, ExportSource, MappingOptions, Reason, Source};
use cdc_sinks::{deliver, DeadLetter, DeadLetterQueue, FanOut, MappedBatch, SinkOutcome};
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};

use crate::decode::{self, Block, DecodeError};
use cdc_exports::manifest::Format;
use cdc_exports::work::FileWork;

/// What loading a file from its start line came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Lines loaded from the file's start (all of them when `stop` is `None`).
    pub lines: u64,
    /// Change records written in this run.
    pub records: u64,
    /// Lines dead-lettered in this run.
    pub dead_letters: u64,
    /// Why loading stopped before the end, if it did.
    pub stop: Option<Stop>,
    /// The whole file was read: how it compares with its manifest entry.
    pub check: Option<Check>,
    /// What each sink did with each block written in this run.
    pub sinks: Vec<SinkOutcome>,
}

impl Loaded {
    /// Nothing done yet after line `start`.
    fn from_line(start: u64) -> Self {
        Loaded {
            lines: start,
            records: 0,
            dead_letters: 0,
            stop: None,
            check: None,
            sinks: Vec::new(),
        }
    }
}

/// Why a file stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The deadline came: continue from `lines`.
    Deadline,
    /// A sink, the dead-letter queue or S3 failed: retry from `lines`.
    Failed(String),
}

/// The file against its manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `None` when the file matches; otherwise what differs.
    pub mismatch: Option<String>,
}

/// What a file load needs.
pub struct Loader<'a> {
    /// The client data files are read with.
    pub s3: &'a aws_sdk_s3::Client,
    /// Where change records are written.
    pub sinks: &'a FanOut,
    /// Where lines that cannot be mapped or written go.
    pub dead_letters: &'a dyn DeadLetterQueue,
    /// `CDC_VIEW_ON_REMOVE` and `CDC_TTL_DELETES`.
    pub mapping: MappingOptions,
    /// How far below the export time items are versioned, in milliseconds
    /// (`CDC_EXPORT_VERSION_MARGIN_MS`).
    pub version_margin_ms: i64,
    /// About how many bytes of decompressed lines are mapped and written together.
    pub block_bytes: usize,
}

impl Loader<'_> {
    /// Loads `work`'s file from line `start + 1` on, by `stop_at`.
    pub async fn load(&self, work: &FileWork, start: u64, stop_at: Instant) -> Loaded {
        let stopped = |stop| Loaded {
            stop: Some(stop),
            ..Loaded::from_line(start)
        };
        let object = self
            .s3
            .get_object()
            .bucket(&work.bucket)
            .key(&work.key)
            .send();
        let object = match timeout_at(stop_at, object).await {
            Ok(Ok(object)) => object,
            Ok(Err(e)) => {
                return stopped(Stop::Failed(format!(
                    "{}: GetObject failed: {}",
                    work.object(),
                    DisplayErrorContext(e)
                )))
            }
            Err(_) => return stopped(Stop::Deadline),
        };
        self.load_body(work, start, object.body, stop_at).await
    }

    /// Loads `work`'s file, whose bytes are `body`, from line `start + 1` on, by `stop_at`.
    pub async fn load_body(
        &self,
        work: &FileWork,
        start: u64,
        body: ByteStream,
        stop_at: Instant,
    ) -> Loaded {
        let mut loaded = Loaded::from_line(start);
        let (chunks, received) = mpsc::channel(8);
        let feeder = tokio::spawn(feed(body, chunks));
        let (mut blocks, decoder) = decode::spawn(received, start, self.block_bytes);
        loop {
            // Skipping to a checkpoint, or a slow download, yields nothing for a while.
            let block = match timeout_at(stop_at, blocks.recv()).await {
                Ok(Some(block)) => block,
                Ok(None) => break,
                Err(_) => {
                    loaded.stop = Some(Stop::Deadline);
                    break;
                }
            };
            if Instant::now() >= stop_at {
                loaded.stop = Some(Stop::Deadline);
                break;
            }
            let (done, failure) = self.load_block(work, &block, stop_at).await;
            loaded.records += done.records;
            loaded.dead_letters += done.dead_letters;
            loaded.lines = done.last_line;
            loaded.sinks.extend(done.sinks);
            if let Some(failure) = failure {
                loaded.stop = Some(if failure.out_of_time || Instant::now() >= stop_at {
                    Stop::Deadline
                } else {
                    Stop::Failed(failure.reason)
                });
                break;
            }
        }
        if loaded.stop.is_some() {
            drop(blocks);
            feeder.abort();
            return loaded;
        }
        match decoder.await {
            Ok(Ok(totals)) => {
                loaded.check = Some(check(work, totals.lines, &totals.md5));
            }
            // What is left of the file cannot be read, now or on a retry: record it.
            Ok(Err(e @ (DecodeError::Gzip { .. } | DecodeError::LineTooLong { .. }))) => {
                loaded.check = Some(Check {
                    mismatch: Some(format!("{}: {e}", work.object())),
                });
            }
            Ok(Err(e)) => loaded.stop = Some(Stop::Failed(format!("{}: {e}", work.object()))),
            Err(e) => loaded.stop = Some(Stop::Failed(format!("{}: decoder: {e}", work.object()))),
        }
        loaded
    }

    /// Maps and delivers one block; returns what was done and, on failure, why it stopped.
    async fn load_block(
        &self,
        work: &FileWork,
        block: &Block,
        stop_at: Instant,
    ) -> (BlockDone, Option<Failure>) {
        let lines = lines(block, work.format);
        let schema = work.key_schema();
        let source = ExportSource {
            table_name: &work.table_name,
            key_schema: &schema,
            kind: work.kind.to_record(),
            version_margin_ms: self.version_margin_ms,
            options: self.mapping,
        };
        let mut batch = MappedBatch::default();
        let mut without_key = 0;
        for (position, line) in lines.iter().enumerate() {
            let number = block.first_line + position as u64;
            match line {
                Line::Json(text) => match map_export_line(text, number, &source) {
                    Ok(change) => {
                        batch.changes.push(change);
                        batch.positions.push(position);
                    }
                    Err(e) => {
                        without_key += usize::from(
                            matches!(&e.reason, Reason::Key(k) if k.is_schema_mismatch()),
                        );
                        batch
                            .letters
                            .push((position, letter(work, text, e.to_string())));
                    }
                },
                Line::Bad { raw, reason } => batch.letters.push((
                    position,
                    letter(work, raw, format!("export line {number}: {reason}")),
                )),
            }
        }
        if without_key == lines.len() {
            // Every item of an export has its keys: a key schema none of them has is set up
            // wrong, and dead-lettering the whole table would hide it. Retried until fixed.
            let nothing = BlockDone {
                last_line: block.first_line - 1,
                records: 0,
                dead_letters: 0,
                sinks: Vec::new(),
            };
            let reason = format!(
                "{}: no line from {} on has the key attributes {:?} of table {}: the key schema (CDC_KEY_SCHEMA, or DescribeTable) is not this table's",
                work.object(),
                block.first_line,
                schema.names(),
                work.table_name
            );
            let failure = Failure {
                reason,
                out_of_time: false,
            };
            return (nothing, Some(failure));
        }
        let delivery = deliver(self.sinks, self.dead_letters, &mut batch, stop_at).await;
        let failed_from = delivery.failed_from(lines.len());
        let written = batch.positions.iter().filter(|p| **p < failed_from).count();
        let done = BlockDone {
            last_line: block.first_line + failed_from as u64 - 1,
            records: written as u64,
            dead_letters: delivery.dead_lettered(lines.len()) as u64,
            sinks: delivery.sinks,
        };
        let failure = delivery.first_failure.map(|(_, reason)| Failure {
            reason,
            out_of_time: delivery.out_of_time,
        });
        (done, failure)
    }
}

/// A line that will not reach the sinks, whole, with the object and line it came from.
fn letter<'a>(work: &'a FileWork, raw: &'a str, reason: String) -> DeadLetter<'a> {
    DeadLetter {
        raw,
        reason: format!("{}: {reason}", work.object()),
        source: Source::Export,
        sequence_number: None,
        table_name: Some(Cow::Borrowed(work.table_name.as_str())),
    }
}

/// Why a block stopped short.
struct Failure {
    reason: String,
    /// The deadline's doing: the file continues in a new message.
    out_of_time: bool,
}

struct BlockDone {
    /// The last line loaded (the line before the block's first when none was).
    last_line: u64,
    records: u64,
    dead_letters: u64,
    sinks: Vec<SinkOutcome>,
}

/// One line of a block, as DYNAMODB_JSON text to map or as what it was and why it cannot be.
enum Line<'b> {
    Json(Cow<'b, str>),
    Bad { raw: Cow<'b, str>, reason: String },
}

/// The block's lines, ION ones turned into DYNAMODB_JSON.
fn lines(block: &Block, format: Format) -> Vec<Line<'_>> {
    let text = block.text.strip_suffix(b"\n").unwrap_or(&block.text);
    // One UTF-8 check for the whole block (lines are cut at ASCII newlines, so each is UTF-8
    // when the block is); line by line only to find the bad ones.
    match cdc_record::utf8::text(text) {
        Ok(text) => split(text.as_bytes())
            .map(|(start, end)| line(&text[start..end], format))
            .collect(),
        Err(_) => split(text)
            .map(
                |(start, end)| match std::str::from_utf8(&text[start..end]) {
                    Ok(line_text) => line(line_text, format),
                    Err(_) => Line::Bad {
                        raw: String::from_utf8_lossy(&text[start..end]),
                        reason: "not UTF-8 (shown with replacement characters)".into(),
                    },
                },
            )
            .collect(),
    }
}

/// Where each line of `text` starts and ends.
fn split(text: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
    ends.scan(0, |start, end| {
        let line = (*start, end);
        *start = end + 1;
        Some(line)
    })
}

fn line(text: &str, format: Format) -> Line<'_> {
    if text.trim().is_empty() {
        return Line::Bad {
            raw: Cow::Borrowed(text),
            reason: "an empty line where an item was expected".into(),
        };
    }
    match format {
        Format::DynamoDbJson => Line::Json(Cow::Borrowed(text)),
        Format::Ion => {
            let mut json = String::with_capacity(text.len() * 3 / 2);
            match ion_line_to_json(text, &mut json) {
                Ok(()) => Line::Json(Cow::Owned(json)),
                Err(e) => Line::Bad {
                    raw: Cow::Borrowed(text),
                    reason: format!("not an ION export line: {e}"),
                },
            }
        }
    }
}

/// Compares the whole file with its manifest entry.
fn check(work: &FileWork, lines: u64, md5: &[u8; 16]) -> Check {
    use base64::Engine as _;
    let mut differences = Vec::new();
    if lines != work.item_count {
        differences.push(format!(
            "{lines} lines where the manifest says {} items",
            work.item_count
        ));
    }
    let actual = base64::engine::general_purpose::STANDARD.encode(md5);
    if let Some(expected) = work.md5.as_deref().filter(|m| *m != actual) {
        differences.push(format!("MD5 {actual} where the manifest says {expected}"));
    }
    Check {
        mismatch: (!differences.is_empty())
            .then(|| format!("{}: {}", work.object(), differences.join("; "))),
    }
}

/// Passes the object's bytes on as S3 sends them, until the decoder stops taking them.
async fn feed(mut body: ByteStream, chunks: mpsc::Sender<Result<Bytes, String>>) {
    loop {
        let next = match body.next().await {
            None => return,
            Some(Ok(chunk)) => Ok(chunk),
            Some(Err(e)) => Err(DisplayErrorContext(e).to_string()),
        };
        let failed = next.is_err();
        if chunks.send(next).await.is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &[u8]) -> Vec<String> {
        let block = Block {
            first_line: 1,
            text: text.to_vec(),
        };
        lines(&block, Format::DynamoDbJson)
            .into_iter()
            .map(|line| match line {
                Line::Json(text) => format!("json {text}"),
                Line::Bad { raw, reason } => format!("bad {raw:?}: {reason}"),
            })
            .collect()
    }

    #[test]
    fn a_block_splits_into_its_lines_and_names_the_ones_that_cannot_be_items() {
        assert_eq!(
            kinds(b"{\"a\":1}\n{\"b\":2}\n"),
            ["json {\"a\":1}", "json {\"b\":2}"]
        );
        assert_eq!(
            kinds(b"{\"a\":1}\n{\"b\":2}"),
            ["json {\"a\":1}", "json {\"b\":2}"]
        );
        assert_eq!(
            kinds(b"{\"a\":1}\n\n{\"\xff\":2}\n{\"c\":3}\n"),
            [
                "json {\"a\":1}".to_owned(),
                "bad \"\": an empty line where an item was expected".to_owned(),
                "bad \"{\\\"\u{fffd}\\\":2}\": not UTF-8 (shown with replacement characters)"
                    .to_owned(),
                "json {\"c\":3}".to_owned(),
            ]
        );
    }
}
