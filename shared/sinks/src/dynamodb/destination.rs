//! The destination table's key schema, checked before the first write to it: a replica keyed
//! on `pk` alone for a `pk`+`sk` source would accept every write and silently collapse items
//! that share a partition key. A mismatch (or a table we cannot describe) fails the whole
//! write as retryable, naming the sink, the table and both schemas: the records wait for an
//! operator to fix the table (the iterator-age alarm fires), and none is dead-lettered. A
//! table that matched is not described again for the container's life.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use cdc_record::ChangeRecord;
use tokio::time::{timeout_at, Instant};

use super::history;
use super::{DynamoDbSink, Mode};
use crate::sink::{FailureKind, WriteReport};

/// Key attribute names, partition key first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct KeyNames {
    partition: String,
    sort: Option<String>,
}

impl fmt::Display for KeyNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HASH {:?}", self.partition)?;
        match &self.sort {
            Some(sort) => write!(f, ", RANGE {sort:?}"),
            None => f.write_str(", no sort key"),
        }
    }
}

/// Why a destination table cannot be written safely.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// The table's key is not the one this sink writes.
    #[error("sink {sink}: destination table {table:?} is keyed {found}, but this sink needs {expected}; writing would collapse or split items, so the records are retried until the table is fixed")]
    KeySchema {
        /// The sink's URL.
        sink: String,
        /// The destination table.
        table: String,
        /// The key the sink needs.
        expected: String,
        /// The key the table has.
        found: String,
    },
    /// `DescribeTable` failed or did not answer in time.
    #[error("sink {sink}: cannot check the key schema of destination table {table:?} (allow dynamodb:DescribeTable on it): {reason}")]
    Describe {
        /// The sink's URL.
        sink: String,
        /// The destination table.
        table: String,
        /// Why it could not be described.
        reason: String,
    },
}

/// Destination tables (with the key they were checked for) known to match.
#[derive(Debug, Default)]
pub(crate) struct Checked(Mutex<HashSet<(String, KeyNames)>>);

impl Checked {
    fn contains(&self, entry: &(String, KeyNames)) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(entry)
    }

    fn insert(&self, entry: (String, KeyNames)) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry);
    }
}

/// Checks every destination table of `records`; `Err` is the report that fails them all.
pub(super) async fn check(
    sink: &DynamoDbSink,
    records: &[ChangeRecord<'_>],
    deadline: Instant,
) -> Result<(), WriteReport> {
    // A batch has one table and one key as a rule: only distinct ones are collected, without
    // allocating per record.
    let mut wanted: Vec<(String, KeyNames)> = Vec::new();
    for record in records {
        let table = sink.config.table.for_table(&record.table_name);
        let (partition, sort) = expected(sink.config.mode, record);
        let seen = wanted.iter().any(|(t, k)| {
            t.as_str() == table.as_ref() && k.partition == partition && k.sort.as_deref() == sort
        });
        if !seen {
            let names = KeyNames {
                partition: partition.to_owned(),
                sort: sort.map(str::to_owned),
            };
            wanted.push((table.into_owned(), names));
        }
    }
    for entry in wanted {
        if sink.checked.contains(&entry) {
            continue;
        }
        let (table, expected) = &entry;
        let outcome = match timeout_at(deadline, describe(sink, table)).await {
            Ok(Ok(found)) if &found == expected => Ok(()),
            Ok(Ok(found)) => Err(DestinationError::KeySchema {
                sink: sink.name.clone(),
                table: table.clone(),
                expected: expected.to_string(),
                found: found.to_string(),
            }),
            Ok(Err(reason)) => Err(DestinationError::Describe {
                sink: sink.name.clone(),
                table: table.clone(),
                reason,
            }),
            Err(_) => Err(DestinationError::Describe {
                sink: sink.name.clone(),
                table: table.clone(),
                reason: "no answer before the invocation's deadline".into(),
            }),
        };
        match outcome {
            Ok(()) => sink.checked.insert(entry),
            Err(error) => {
                tracing::error!(sink = %sink.name, table = %table, error = %error, "destination table does not fit");
                return Err(WriteReport::failed_from(
                    0,
                    records.len(),
                    FailureKind::Retryable,
                    Arc::new(error),
                ));
            }
        }
    }
    Ok(())
}

/// The key the destination must have for `record`: the source's key (replica, batch) or the
/// history table's own.
fn expected<'r>(mode: Mode, record: &'r ChangeRecord<'_>) -> (&'r str, Option<&'r str>) {
    match mode {
        Mode::History => (history::PARTITION_KEY, Some(history::SORT_KEY)),
        // The record's key attributes come partition key first (`KeySchema::key_of`).
        Mode::Replica | Mode::Batch => {
            let mut names = record
                .key
                .attributes
                .0
                .iter()
                .map(|(name, _)| name.as_str());
            (names.next().unwrap_or_default(), names.next())
        }
    }
}

async fn describe(sink: &DynamoDbSink, table: &str) -> Result<KeyNames, String> {
    sink.count_call();
    let output = sink
        .client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| crate::retry::CallError::of(&e).to_string())?;
    let schema = cdc_lambda::key_schemas::described_key_schema(output.table())
        .ok_or("DescribeTable returned no HASH key")?;
    Ok(KeyNames {
        partition: schema.partition_key,
        sort: schema.sort_key,
    })
}
