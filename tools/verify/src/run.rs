//! One verification: read the targets into memory (key → fingerprint), then stream the source
//! past them once.

use aws_sdk_dynamodb::Client;
use cdc_record::KeySchema;
use tokio::sync::mpsc;

use crate::compare::{Comparison, Verdict};
use crate::document::{document_differences, expected_document, json_fingerprint};
use crate::dynamodb::{describe_key, get_item, scan};
use crate::error::VerifyError;
use crate::item::{Canonicalizer, ReplicaMode, SdkItem};
use crate::key::TableKey;
use crate::opensearch::{IndexReader, OpenSearchTarget};
use crate::pace::Pacer;
use crate::report::{Report, Target, TargetReport};

/// The default of `--max-reads-per-second`: a few read units' worth, safe on a production
/// table (on-demand or provisioned) while still reading 1.8 million items an hour.
pub const DEFAULT_MAX_READS_PER_SECOND: u32 = 500;
/// The default number of example keys per category.
pub const DEFAULT_EXAMPLES: usize = 10;

/// A table written by the `dynamodb://` sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaTarget {
    /// The replica table.
    pub table: String,
    /// How the sink wrote it (`replica` or `batch`).
    pub mode: ReplicaMode,
}

/// What to compare, and how fast to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The source table.
    pub source: String,
    /// The replica to compare with, if any.
    pub replica: Option<ReplicaTarget>,
    /// The index to compare with, if any.
    pub opensearch: Option<OpenSearchTarget>,
    /// Items read per second, all reads of the run together.
    pub max_reads_per_second: u32,
    /// Parallel scan segments per table.
    pub segments: u32,
    /// Example keys kept per category.
    pub examples: usize,
}

impl Options {
    /// Defaults, comparing `source` with nothing yet.
    pub fn new(source: impl Into<String>) -> Self {
        Options {
            source: source.into(),
            replica: None,
            opensearch: None,
            max_reads_per_second: DEFAULT_MAX_READS_PER_SECOND,
            segments: 1,
            examples: DEFAULT_EXAMPLES,
        }
    }

    /// Compares with a `dynamodb://` replica written in `mode`.
    pub fn replica(mut self, table: impl Into<String>, mode: ReplicaMode) -> Self {
        self.replica = Some(ReplicaTarget {
            table: table.into(),
            mode,
        });
        self
    }

    /// Compares with an OpenSearch index.
    pub fn opensearch(mut self, target: OpenSearchTarget) -> Self {
        self.opensearch = Some(target);
        self
    }
}

/// Compares the source table with every target of `options` (a source item is read once for
/// all of them). `client` reads both tables.
pub async fn verify(client: &Client, options: &Options) -> Result<Report, VerifyError> {
    let key = describe_key(client, &options.source).await?;
    let pacer = Pacer::new(options.max_reads_per_second);
    let mut replica = match &options.replica {
        Some(target) => Some(ReplicaSide::load(client, &key, target, options, &pacer).await?),
        None => None,
    };
    let mut index = match &options.opensearch {
        Some(target) => Some(IndexSide::load(target, options, &pacer).await?),
        None => None,
    };
    let schema = key.schema();
    let source = SourceTable {
        client,
        table: &options.source,
        key: &key,
        schema: &schema,
        pacer: &pacer,
    };
    let mut source_items = 0u64;
    let segments = options.segments.max(1);
    let (pages, mut received) = mpsc::channel(segments as usize * 2);
    let consume = async {
        while let Some(page) = received.recv().await {
            for item in page {
                source_items += 1;
                if let Some(replica) = &mut replica {
                    replica.check(&source, &item).await?;
                }
                if let Some(index) = &mut index {
                    index.check(&source, &item).await?;
                }
            }
        }
        Ok(())
    };
    tokio::try_join!(
        scan(client, &options.source, segments, &pacer, pages),
        consume
    )?;
    let targets = replica
        .map(ReplicaSide::finish)
        .into_iter()
        .chain(index.map(IndexSide::finish))
        .collect();
    Ok(Report::new(options.source.clone(), source_items, targets))
}

/// What checking a source item needs besides the item.
struct SourceTable<'a> {
    client: &'a Client,
    table: &'a str,
    key: &'a TableKey,
    schema: &'a KeySchema,
    pacer: &'a Pacer,
}

impl SourceTable<'_> {
    fn key_error(&self, source: crate::key::KeyError) -> VerifyError {
        VerifyError::Key {
            table: self.table.to_owned(),
            source,
        }
    }
}

struct ReplicaSide {
    table: String,
    mode: ReplicaMode,
    key: TableKey,
    comparison: Comparison,
    canonical: Canonicalizer,
    live_items: u64,
    tombstones: u64,
}

impl ReplicaSide {
    async fn load(
        client: &Client,
        source_key: &TableKey,
        target: &ReplicaTarget,
        options: &Options,
        pacer: &Pacer,
    ) -> Result<Self, VerifyError> {
        let key = describe_key(client, &target.table).await?;
        if key != *source_key {
            return Err(VerifyError::KeyMismatch {
                source_table: options.source.clone(),
                replica: target.table.clone(),
                expected: source_key.to_string(),
                found: key.to_string(),
            });
        }
        let mut side = ReplicaSide {
            table: target.table.clone(),
            mode: target.mode,
            key,
            comparison: Comparison::new(options.examples),
            canonical: Canonicalizer::default(),
            live_items: 0,
            tombstones: 0,
        };
        let segments = options.segments.max(1);
        let (pages, mut received) = mpsc::channel(segments as usize * 2);
        let consume = async {
            while let Some(page) = received.recv().await {
                for item in page {
                    side.add(&item)?;
                }
            }
            Ok(())
        };
        tokio::try_join!(scan(client, &target.table, segments, pacer, pages), consume)?;
        Ok(side)
    }

    fn add(&mut self, item: &SdkItem) -> Result<(), VerifyError> {
        if self.mode.is_tombstone(item) {
            self.tombstones += 1;
            return Ok(());
        }
        let key = self.key.render(item).map_err(|source| VerifyError::Key {
            table: self.table.clone(),
            source,
        })?;
        let fingerprint = self
            .canonical
            .fingerprint(item, self.mode.bookkeeping())
            .map_err(|source| VerifyError::Value {
                table: self.table.clone(),
                key: key.clone(),
                source,
            })?;
        self.comparison.add_target(key, fingerprint);
        self.live_items += 1;
        Ok(())
    }

    async fn check(&mut self, source: &SourceTable<'_>, item: &SdkItem) -> Result<(), VerifyError> {
        let skip = self.mode.bookkeeping();
        let key = self.key.render(item).map_err(|e| source.key_error(e))?;
        let value_error = |table: &str, key: &str, source| VerifyError::Value {
            table: table.to_owned(),
            key: key.to_owned(),
            source,
        };
        let fingerprint = self
            .canonical
            .fingerprint(item, skip)
            .map_err(|e| value_error(source.table, &key, e))?;
        if self.comparison.check(&key, fingerprint) != Verdict::Mismatch {
            return Ok(());
        }
        // Only examples need the names: the replica's copy is read again for those alone.
        let mut names = Vec::new();
        if self.comparison.wants_example() {
            let key_item = self.key.key_of(item).map_err(|e| source.key_error(e))?;
            let copy = get_item(source.client, &self.table, key_item, source.pacer).await?;
            if let Some(copy) = copy.filter(|c| !self.mode.is_tombstone(c)) {
                names = self
                    .canonical
                    .differences(item, &copy, skip)
                    .map_err(|e| value_error(&self.table, &key, e))?;
            }
        }
        self.comparison.record_different(&key, names);
        Ok(())
    }

    fn finish(self) -> TargetReport {
        TargetReport {
            target: Target::Dynamodb {
                table: self.table,
                mode: match self.mode {
                    ReplicaMode::Replica => "replica",
                    ReplicaMode::Batch => "batch",
                },
                live_items: self.live_items,
                tombstones: self.tombstones,
            },
            outcome: self.comparison.finish(),
        }
    }
}

struct IndexSide {
    reader: IndexReader,
    name: String,
    comparison: Comparison,
    documents: u64,
}

impl IndexSide {
    async fn load(
        target: &OpenSearchTarget,
        options: &Options,
        pacer: &Pacer,
    ) -> Result<Self, VerifyError> {
        let reader = IndexReader::new(target.clone())?;
        let name = target.display();
        let mut comparison = Comparison::new(options.examples);
        let documents = reader
            .scan(pacer, |id, document| {
                let fingerprint =
                    json_fingerprint(document).map_err(|source| VerifyError::Document {
                        index: name.clone(),
                        id: id.to_owned(),
                        source,
                    })?;
                comparison.add_target(id.to_owned(), fingerprint);
                Ok(())
            })
            .await?;
        Ok(IndexSide {
            reader,
            name,
            comparison,
            documents,
        })
    }

    async fn check(&mut self, source: &SourceTable<'_>, item: &SdkItem) -> Result<(), VerifyError> {
        let expected_error = |e| VerifyError::Expected {
            table: source.table.to_owned(),
            key: source.key.render(item).unwrap_or_default(),
            source: e,
        };
        let expected =
            expected_document(item, source.table, source.schema).map_err(expected_error)?;
        let fingerprint = json_fingerprint(&expected.json).map_err(expected_error)?;
        if self.comparison.check(&expected.id, fingerprint) != Verdict::Mismatch {
            return Ok(());
        }
        // The fingerprints compare arrays in order, but a set's members may be listed in
        // another order by the stream than by the scan: every mismatch is looked at again,
        // guided by the item's types, before it counts.
        match self.reader.get(&expected.id, source.pacer).await? {
            Some(document) => {
                let names = document_differences(item, &document).map_err(|source| {
                    VerifyError::Document {
                        index: self.name.clone(),
                        id: expected.id.clone(),
                        source,
                    }
                })?;
                if names.is_empty() {
                    self.comparison.record_equal();
                } else {
                    self.comparison.record_different(&expected.id, names);
                }
            }
            None => self.comparison.record_different(&expected.id, Vec::new()),
        }
        Ok(())
    }

    fn finish(self) -> TargetReport {
        TargetReport {
            target: Target::Opensearch {
                index: self.name,
                documents: self.documents,
            },
            outcome: self.comparison.finish(),
        }
    }
}
