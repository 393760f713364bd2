//! `include=POINTER` / `exclude=POINTER` on any sink URL (repeat the option for more
//! attributes): the sink gets records whose images are projected ([`cdc_record::Projection`]),
//! the document, a REMOVE's old image and the raw record's images alike, so an attribute a
//! destination must not hold never reaches it. Pointers are JSON Pointers (RFC 6901), URL-encoded
//! where needed (`%2C` for a comma, which separates `CDC_SINKS` entries).

use std::sync::Arc;

use async_trait::async_trait;
use cdc_record::{ChangeRecord, Projection, ProjectionError};
use tokio::time::Instant;

use crate::sink::{DeleteMemory, Failure, FailureKind, SharedError, Sink, WriteReport};
use crate::url::{ConfigError, SinkUrl};

/// Takes `include`/`exclude` from `url`; `None` when neither is given.
pub(crate) fn take(url: &mut SinkUrl<'_>) -> Result<Option<Projection>, ConfigError> {
    let include = url.take_all("include");
    let exclude = url.take_all("exclude");
    let projection = match (include.is_empty(), exclude.is_empty()) {
        (true, true) => return Ok(None),
        (false, false) => {
            return Err(url.invalid("give include= or exclude=, not both"));
        }
        (false, true) => Projection::include(&include),
        (true, false) => Projection::exclude(&exclude),
    };
    projection.map(Some).map_err(|e| url.invalid(e.to_string()))
}

/// A sink that writes projected records to the sink it wraps.
pub struct ProjectedSink {
    inner: Box<dyn Sink>,
    projection: Projection,
}

impl ProjectedSink {
    /// Wraps `inner`, which then only sees what `projection` keeps.
    pub fn new(inner: Box<dyn Sink>, projection: Projection) -> Self {
        ProjectedSink { inner, projection }
    }
}

#[async_trait]
impl Sink for ProjectedSink {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn write(&self, records: &[ChangeRecord<'_>], deadline: Instant) -> WriteReport {
        let mut failures = Vec::new();
        let texts: Vec<_> = records
            .iter()
            .enumerate()
            .map(|(index, record)| match self.projection.texts(record) {
                Ok(texts) => Some(texts),
                Err(error) => {
                    failures.push(failure(index, error));
                    None
                }
            })
            .collect();
        let mut positions = Vec::with_capacity(records.len());
        let mut projected = Vec::with_capacity(records.len());
        for (index, (record, texts)) in records.iter().zip(&texts).enumerate() {
            let Some(texts) = texts else { continue };
            match self.projection.apply(record, texts) {
                Ok(record) => {
                    positions.push(index);
                    projected.push(record);
                }
                Err(reason) => failures.push(Failure {
                    index,
                    kind: FailureKind::Permanent,
                    error: Arc::new(reason),
                }),
            }
        }
        let report = self.inner.write(&projected, deadline).await;
        failures.extend(report.failures.into_iter().map(|f| Failure {
            index: positions[f.index],
            ..f
        }));
        WriteReport { failures }
    }

    fn api_calls(&self) -> u64 {
        self.inner.api_calls()
    }

    async fn delete_memory(
        &self,
        table: &str,
        deadline: Instant,
    ) -> Result<DeleteMemory, SharedError> {
        self.inner.delete_memory(table, deadline).await
    }
}

/// A key attribute excluded is configuration (retried until fixed); an image that will not
/// project is the record's own fault (dead-lettered).
fn failure(index: usize, error: ProjectionError) -> Failure {
    let kind = match error {
        ProjectionError::KeyExcluded(_) => FailureKind::Retryable,
        _ => FailureKind::Permanent,
    };
    Failure {
        index,
        kind,
        error: Arc::new(error),
    }
}
