//! `stream-handler --event FILE`: one invocation on a sample event, no Lambda or AWS account
//! needed. Change records go to the sinks (stdout by default); the batch response and the
//! metrics go to stderr so that stdout stays pure JSON Lines.

use std::path::{Path, PathBuf};

use cdc_record::EventError;
use tokio::time::Instant;

use crate::handler::MAX_INVOCATION;
use crate::{now_ms, BatchResponse, HandlerError, Settings, SettingsError, StreamHandler};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Event { path: PathBuf, source: EventError },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Handler(#[from] HandlerError),
}

/// Runs the handler once on the event in `path`.
pub async fn run(path: &Path, settings: Settings) -> Result<BatchResponse, LocalError> {
    let payload = std::fs::read(path).map_err(|source| LocalError::Read {
        path: path.to_owned(),
        source,
    })?;
    let handler = StreamHandler::from_settings(settings, Default::default()).await?;
    let invocation = match handler
        .handle(&payload, Instant::now() + MAX_INVOCATION)
        .await
    {
        Err(HandlerError::Event(source)) => Err(LocalError::Event {
            path: path.to_owned(),
            source,
        }),
        other => Ok(other?),
    }?;
    eprintln!("{}", invocation.metrics.to_emf(now_ms()));
    eprintln!(
        "{}",
        serde_json::to_string(&invocation.response).unwrap_or_else(|e| e.to_string())
    );
    Ok(invocation.response)
}
