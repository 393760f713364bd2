//! How long an index remembers deletes: its `index.gc_deletes`, read with
//! `GET /INDEX/_settings/index.gc_deletes?include_defaults=true&flat_settings=true` (see the
//! module docs of [`super`] for why a snapshot load needs it).
//!
//! The answer names each concrete index (an alias resolves to the indices behind it) with the
//! settings set on it and, thanks to `include_defaults`, the defaults that apply otherwise:
//! `{"orders": {"settings": {"index.gc_deletes": "1h"}, "defaults": {}}}` or
//! `{"orders": {"settings": {}, "defaults": {"index.gc_deletes": "60s"}}}`.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use tokio::time::{timeout_at, Instant};

use super::auth::{AuthConfig, SigV4Service, Unsigned};
use super::time_value::{self, TimeValue, TimeValueError};
use super::write::excerpt;
use super::OpenSearchSink;
use crate::retry::error_chain;
use crate::retry::Backoff;
use crate::sink::DeleteMemory;

const SETTING: &str = "index.gc_deletes";

/// OpenSearch's default `index.gc_deletes`.
pub const DEFAULT_GC_DELETES: Duration = Duration::from_secs(60);

/// Why the sink cannot say how long an index remembers deletes.
#[derive(Debug, thiserror::Error)]
#[error("{sink}: cannot tell how long index {index:?} remembers deletes: {problem}")]
pub struct DeleteMemoryError {
    /// The sink's name (its URL).
    pub sink: String,
    /// The index the source table's changes are written to.
    pub index: String,
    /// What stood in the way.
    pub problem: DeleteMemoryProblem,
}

impl DeleteMemoryError {
    /// For an index that does not exist yet: how long it will remember deletes if no index
    /// template sets `index.gc_deletes` (OpenSearch's default), for a caller willing to
    /// assume that.
    pub fn default_memory(&self) -> Option<Duration> {
        matches!(self.problem, DeleteMemoryProblem::IndexMissing { .. })
            .then_some(DEFAULT_GC_DELETES)
    }
}

/// What stood in the way; each names the request where one was sent.
#[derive(Debug, thiserror::Error)]
pub enum DeleteMemoryProblem {
    #[error(
        "OpenSearch Serverless (service=aoss) manages its indexes itself and documents neither \
         index.gc_deletes nor how long it keeps a deleted document's version, so a snapshot \
         copy of an item deleted while the snapshot loads may be indexed again"
    )]
    /// The sink writes to OpenSearch Serverless (`service=aoss`), which has no readable
    /// `index.gc_deletes`; no request is sent.
    Serverless,
    #[error(
        "the index does not exist yet; the write that creates it gives it the index.gc_deletes \
         of a matching index template, else OpenSearch's default of 60s. To remember deletes \
         longer, create the index before loading: PUT /{index} with \
         {{\"settings\": {{\"index.gc_deletes\": \"6h\"}}}} (longer than the load)"
    )]
    /// The index does not exist yet (OpenSearch answered `index_not_found_exception`); see
    /// [`DeleteMemoryError::default_memory`].
    IndexMissing {
        /// The missing index.
        index: String,
    },
    /// The settings URL cannot be built on the sink's endpoint.
    #[error("the endpoint {endpoint} cannot take a path: {reason}")]
    Endpoint {
        /// The sink's endpoint.
        endpoint: String,
        /// Why a path cannot be added to it.
        reason: String,
    },
    /// The request could not be signed or its credentials read (retried until the deadline).
    #[error("cannot authenticate GET {url}: {cause}")]
    Auth {
        /// The settings URL.
        url: String,
        /// Why authentication failed.
        cause: String,
    },
    /// The request got no HTTP answer, such as a refused connection (retried until the
    /// deadline).
    #[error("GET {url} failed: {cause}")]
    Send {
        /// The settings URL.
        url: String,
        /// The HTTP client's error, with its causes.
        cause: String,
    },
    /// The cluster answered with an error status (408, 429 and 5xx are retried until the
    /// deadline first; 401 and 403 are not).
    #[error("GET {url} failed with HTTP status {status}: {body}")]
    Status {
        /// The settings URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body (at most 500 bytes).
        body: String,
    },
    /// The deadline passed before an answer (and no earlier attempt had failed otherwise).
    #[error("GET {url} got no answer before the deadline")]
    Deadline {
        /// The settings URL.
        url: String,
    },
    /// A successful answer that does not hold the settings asked for.
    #[error("unreadable answer to GET {url}: {reason}")]
    Response {
        /// The settings URL.
        url: String,
        /// What is wrong with the answer, with an excerpt of it.
        reason: String,
    },
    #[error(
        "index {index:?} has index.gc_deletes {value}, which is not an OpenSearch time value: \
         {reason}"
    )]
    /// The index's `index.gc_deletes` is not a time value OpenSearch would accept.
    BadValue {
        /// The concrete index (differs from the sink's when that is an alias).
        index: String,
        /// As the cluster wrote it (JSON).
        value: String,
        /// Why it is not a time value.
        reason: TimeValueError,
    },
}

pub(super) async fn delete_memory(
    sink: &OpenSearchSink,
    table: &str,
    deadline: Instant,
) -> Result<DeleteMemory, DeleteMemoryError> {
    let index = sink.index_for(table).into_owned();
    let fail = |problem| DeleteMemoryError {
        sink: sink.name.clone(),
        index: index.clone(),
        problem,
    };
    if let AuthConfig::SigV4 {
        service: SigV4Service::Aoss,
        ..
    } = sink.config.auth
    {
        return Err(fail(DeleteMemoryProblem::Serverless));
    }
    let url = settings_url(&sink.config.endpoint, &index).map_err(fail)?;
    let mut backoff = Backoff::default();
    let mut failed_before = None;
    loop {
        let problem = match attempt(sink, &index, &url, deadline).await {
            Attempt::Done(Err(DeleteMemoryProblem::Deadline { url })) => {
                // Cut short by the deadline after failing already: what kept failing says more.
                let problem = failed_before.unwrap_or(DeleteMemoryProblem::Deadline { url });
                return Err(fail(problem));
            }
            Attempt::Done(result) => return result.map_err(fail),
            Attempt::Retry(problem) => problem,
        };
        tracing::warn!(sink = %sink.name, error = %problem, "index.gc_deletes lookup failed");
        if !backoff.wait(deadline).await {
            return Err(fail(problem));
        }
        failed_before = Some(problem);
    }
}

/// `ENDPOINT/INDEX/_settings/index.gc_deletes?...`, the index name percent-encoded as one
/// path segment.
fn settings_url(endpoint: &str, index: &str) -> Result<String, DeleteMemoryProblem> {
    let bad = |reason: String| DeleteMemoryProblem::Endpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let mut url = reqwest::Url::parse(endpoint).map_err(|e| bad(e.to_string()))?;
    url.path_segments_mut()
        .map_err(|()| bad("it is not a base URL".into()))?
        .pop_if_empty()
        .extend([index, "_settings", SETTING]);
    // Defaults too, so the answer holds the value in force whether or not it was set.
    url.query_pairs_mut()
        .append_pair("include_defaults", "true")
        .append_pair("flat_settings", "true");
    Ok(url.into())
}

enum Attempt {
    Done(Result<DeleteMemory, DeleteMemoryProblem>),
    /// May succeed soon (connection refused, throttled, 5xx).
    Retry(DeleteMemoryProblem),
}

async fn attempt(sink: &OpenSearchSink, index: &str, url: &str, deadline: Instant) -> Attempt {
    let deadline_passed = || {
        Attempt::Done(Err(DeleteMemoryProblem::Deadline {
            url: url.to_owned(),
        }))
    };
    let unsigned = Unsigned {
        method: "GET",
        url,
        content_type: None,
        body: b"",
    };
    let headers = match timeout_at(deadline, sink.auth.headers(&unsigned)).await {
        Ok(Ok(headers)) => headers,
        Ok(Err(e)) => {
            return Attempt::Retry(DeleteMemoryProblem::Auth {
                url: url.to_owned(),
                cause: e.to_string(),
            })
        }
        Err(_) => return deadline_passed(),
    };
    sink.count_call();
    let request = sink
        .client
        .get(url)
        .headers(headers.into_iter().collect())
        .send();
    let response = timeout_at(deadline, async {
        let response = request.await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.bytes().await?))
    })
    .await;
    let (status, body) = match response {
        Err(_) => return deadline_passed(),
        Ok(Err(e)) => {
            return Attempt::Retry(DeleteMemoryProblem::Send {
                url: url.to_owned(),
                cause: error_chain(&e),
            })
        }
        Ok(Ok(response)) => response,
    };
    if status.is_success() {
        return Attempt::Done(memory(&body).map_err(|e| e.at(url)));
    }
    if status == StatusCode::NOT_FOUND && is_index_not_found(&body) {
        return Attempt::Done(Err(DeleteMemoryProblem::IndexMissing {
            index: index.to_owned(),
        }));
    }
    let problem = DeleteMemoryProblem::Status {
        url: url.to_owned(),
        status: status.as_u16(),
        body: excerpt(&body),
    };
    match status {
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Attempt::Retry(problem),
        _ if status.is_server_error() => Attempt::Retry(problem),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            sink.auth.refused().await;
            Attempt::Done(Err(problem))
        }
        // A 404 that is not OpenSearch's "no such index" comes from something else on the
        // path (a proxy, a wrong endpoint): say what answered rather than assume a default.
        _ => Attempt::Done(Err(problem)),
    }
}

/// OpenSearch's error answer for a missing index.
fn is_index_not_found(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Answer {
        error: Error,
    }
    #[derive(Deserialize)]
    struct Error {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Answer>(body)
        .is_ok_and(|a| a.error.kind == "index_not_found_exception")
}

/// The settings of one concrete index, flat (`"index.gc_deletes": "60s"`).
#[derive(Deserialize)]
struct IndexSettings {
    #[serde(default)]
    settings: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    defaults: BTreeMap<String, serde_json::Value>,
}

/// A successful answer that does not say what we asked (before we know the URL).
enum AnswerError {
    Unreadable(String),
    BadValue {
        index: String,
        value: String,
        reason: TimeValueError,
    },
}

impl AnswerError {
    fn at(self, url: &str) -> DeleteMemoryProblem {
        match self {
            AnswerError::Unreadable(reason) => DeleteMemoryProblem::Response {
                url: url.to_owned(),
                reason,
            },
            AnswerError::BadValue {
                index,
                value,
                reason,
            } => DeleteMemoryProblem::BadValue {
                index,
                value,
                reason,
            },
        }
    }
}

/// How long the answer's indices remember deletes: the shortest, when an alias names several
/// (a write may land in any of them as the alias changes).
fn memory(body: &[u8]) -> Result<DeleteMemory, AnswerError> {
    let answer: BTreeMap<String, IndexSettings> = serde_json::from_slice(body)
        .map_err(|e| AnswerError::Unreadable(format!("{e}: {}", excerpt(body))))?;
    let mut shortest: Option<DeleteMemory> = None;
    for (index, settings) in &answer {
        let memory = index_memory(index, settings)?;
        shortest = Some(match shortest {
            Some(other) if rank(other) <= rank(memory) => other,
            _ => memory,
        });
    }
    shortest.ok_or_else(|| AnswerError::Unreadable(format!("it names no index: {}", excerpt(body))))
}

fn index_memory(index: &str, settings: &IndexSettings) -> Result<DeleteMemory, AnswerError> {
    let value = settings
        .settings
        .get(SETTING)
        .or_else(|| settings.defaults.get(SETTING))
        .ok_or_else(|| {
            AnswerError::Unreadable(format!(
                "index {index:?} has no {SETTING}, neither set nor among the defaults"
            ))
        })?;
    let bad = |reason| AnswerError::BadValue {
        index: index.to_owned(),
        value: value.to_string(),
        reason,
    };
    // Settings always come back as strings; a number is read as its text, like OpenSearch.
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return Err(bad(TimeValueError::Unit)),
    };
    Ok(match time_value::parse(&text).map_err(bad)? {
        TimeValue::MinusOne => DeleteMemory::Never,
        TimeValue::Length(length) => remembered_for(length),
    })
}

/// The engine keeps `index.gc_deletes` in whole milliseconds and forgets a delete once more
/// than that has passed, so `0` (or less than a millisecond) forgets deletes at once.
fn remembered_for(length: Duration) -> DeleteMemory {
    let millis = u64::try_from(length.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        DeleteMemory::Never
    } else {
        DeleteMemory::For(Duration::from_millis(millis))
    }
}

/// Orders memories from the shortest.
fn rank(memory: DeleteMemory) -> (u8, Duration) {
    match memory {
        DeleteMemory::Never => (0, Duration::ZERO),
        DeleteMemory::For(length) => (1, length),
        DeleteMemory::NotNeeded => (2, Duration::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: serde_json::Value) -> Result<DeleteMemory, String> {
        memory(body.to_string().as_bytes()).map_err(|e| e.at("URL").to_string())
    }

    #[test]
    fn an_explicit_setting_wins_over_the_default() {
        let body = serde_json::json!({"orders": {
            "settings": {"index.gc_deletes": "1h"},
            "defaults": {"index.gc_deletes": "60s"},
        }});
        assert_eq!(read(body), Ok(DeleteMemory::For(Duration::from_secs(3600))));
    }

    #[test]
    fn the_default_applies_when_nothing_is_set() {
        let body = serde_json::json!({"orders": {
            "settings": {}, "defaults": {"index.gc_deletes": "60s"},
        }});
        assert_eq!(read(body), Ok(DeleteMemory::For(DEFAULT_GC_DELETES)));
    }

    #[test]
    fn an_alias_over_several_indices_remembers_as_long_as_the_shortest() {
        let body = serde_json::json!({
            "orders-2": {"settings": {"index.gc_deletes": "2h"}, "defaults": {}},
            "orders-1": {"settings": {}, "defaults": {"index.gc_deletes": "60s"}},
            "orders-3": {"settings": {"index.gc_deletes": "1d"}, "defaults": {}},
        });
        assert_eq!(read(body), Ok(DeleteMemory::For(Duration::from_secs(60))));
        let off = serde_json::json!({
            "orders-1": {"settings": {"index.gc_deletes": "2h"}},
            "orders-2": {"settings": {"index.gc_deletes": "-1"}},
        });
        assert_eq!(read(off), Ok(DeleteMemory::Never));
    }

    #[test]
    fn zero_minus_one_and_less_than_a_millisecond_remember_nothing() {
        for value in ["0", "0s", "-1", "999micros"] {
            let body = serde_json::json!({"i": {"settings": {"index.gc_deletes": value}}});
            assert_eq!(read(body), Ok(DeleteMemory::Never), "{value}");
        }
        let body = serde_json::json!({"i": {"settings": {"index.gc_deletes": "1500micros"}}});
        assert_eq!(read(body), Ok(DeleteMemory::For(Duration::from_millis(1))));
    }

    #[test]
    fn answers_without_the_value_are_errors_naming_what_is_missing() {
        let err = read(serde_json::json!({})).unwrap_err();
        assert!(err.contains("names no index"), "{err}");
        let err =
            read(serde_json::json!({"orders": {"settings": {}, "defaults": {}}})).unwrap_err();
        assert!(err.contains("\"orders\" has no index.gc_deletes"), "{err}");
        let err = read(serde_json::json!(["not", "an", "object"])).unwrap_err();
        assert!(err.starts_with("unreadable answer to GET URL"), "{err}");
        let err = read(serde_json::json!({"orders": {"settings": {"index.gc_deletes": true}}}))
            .unwrap_err();
        assert!(err.contains("index.gc_deletes true"), "{err}");
    }

    #[test]
    fn the_request_asks_for_the_one_setting_with_defaults_in_flat_form() {
        assert_eq!(
            settings_url("https://search.example.com:9200", "cdc-orders").unwrap(),
            "https://search.example.com:9200/cdc-orders/_settings/index.gc_deletes?include_defaults=true&flat_settings=true"
        );
        // A character that means something in a URL stays part of the index name.
        assert_eq!(
            settings_url("http://h", "a%b").unwrap(),
            "http://h/a%25b/_settings/index.gc_deletes?include_defaults=true&flat_settings=true"
        );
    }
}
