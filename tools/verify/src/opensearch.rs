//! Reading an OpenSearch index over plain HTTP: every document through the scroll API
//! (`POST /INDEX/_search?scroll=`, then `POST /_search/scroll`, sorted by `_doc`, the cheapest
//! order), and single documents again by `_id` (an `ids` query, so any `_id` works without
//! escaping it into a URL path). Authentication: none or basic (SigV4 is not implemented).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::VerifyError;
use crate::pace::Pacer;

/// How long OpenSearch keeps the scroll context between two pages.
const SCROLL_KEEP_ALIVE: &str = "5m";
const TIMEOUT: Duration = Duration::from_secs(60);

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum OpenSearchAuth {
    /// No credentials (`--opensearch-auth none`, the default).
    None,
    /// HTTP basic auth (`--opensearch-auth basic`), from the two environment variables.
    Basic {
        /// The user name.
        username: String,
        /// The password; never printed, not even by `Debug`.
        password: String,
    },
}

impl fmt::Debug for OpenSearchAuth {
    /// Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenSearchAuth::None => f.write_str("None"),
            OpenSearchAuth::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: <hidden> }}")
            }
        }
    }
}

/// An index: `scheme://host[:port]` and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSearchTarget {
    /// `scheme://host[:port]`, without a trailing slash.
    pub endpoint: String,
    /// One resolved index name.
    pub index: String,
    /// How requests authenticate.
    pub auth: OpenSearchAuth,
}

/// What `--opensearch` accepts.
pub const TARGET_FORM: &str = "http(s)://HOST[:PORT]/INDEX (or the sink's opensearch+http(s)://HOST[:PORT]/INDEX, without options; a resolved index name, no {table})";

impl OpenSearchTarget {
    /// Parses `http(s)://HOST[:PORT]/INDEX`; the sink's `opensearch+http(s)://` form is
    /// accepted too, so its URL can be pasted (without its `?` options).
    pub fn parse(url: &str, auth: OpenSearchAuth) -> Result<Self, String> {
        let url_text = url.strip_prefix("opensearch+").unwrap_or(url);
        let parsed = reqwest::Url::parse(url_text).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("scheme {:?} is not http or https", parsed.scheme()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("credentials do not belong in the URL (they would show in process lists): use --opensearch-auth basic".into());
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err("no ?options or #fragment: the sink's options do not apply here".into());
        }
        let host = parsed.host_str().ok_or("no host")?;
        let index = parsed.path().trim_start_matches('/');
        if index.is_empty() || index.contains('/') {
            return Err("the path must be exactly one index name".into());
        }
        if index.contains(['{', '}', '%', '*', ',']) {
            return Err("give one resolved index name (no {table}, patterns or lists)".into());
        }
        let endpoint = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        Ok(OpenSearchTarget {
            endpoint,
            index: index.to_owned(),
            auth,
        })
    }

    /// `endpoint/index`, for reports and messages.
    pub fn display(&self) -> String {
        format!("{}/{}", self.endpoint, self.index)
    }
}

/// A connection to one index.
pub struct IndexReader {
    client: reqwest::Client,
    target: OpenSearchTarget,
}

#[derive(Deserialize)]
struct SearchPage<'a> {
    #[serde(rename = "_scroll_id")]
    scroll_id: Option<String>,
    #[serde(borrow)]
    hits: Hits<'a>,
}

#[derive(Deserialize)]
struct Hits<'a> {
    #[serde(borrow)]
    hits: Vec<Hit<'a>>,
}

#[derive(Deserialize)]
struct Hit<'a> {
    #[serde(rename = "_id")]
    id: String,
    #[serde(rename = "_source", borrow)]
    source: Option<&'a RawValue>,
}

impl IndexReader {
    /// A reader for `target` (nothing is sent yet); fails only if the HTTP client cannot be
    /// created.
    pub fn new(target: OpenSearchTarget) -> Result<Self, VerifyError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| VerifyError::OpenSearch {
                index: target.display(),
                message: format!("cannot create the HTTP client: {e}"),
            })?;
        Ok(IndexReader { client, target })
    }

    fn error(&self, message: String) -> VerifyError {
        VerifyError::OpenSearch {
            index: self.target.display(),
            message,
        }
    }

    /// An answer that is not a search result (where and what kind only: `serde_json` may
    /// quote the text, which holds documents).
    fn unexpected(&self, e: &serde_json::Error) -> VerifyError {
        self.error(format!(
            "unexpected search answer ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    }

    /// Calls `each(id, source)` for every document of the index; returns how many.
    pub async fn scan(
        &self,
        pacer: &Pacer,
        mut each: impl FnMut(&str, &str) -> Result<(), VerifyError>,
    ) -> Result<u64, VerifyError> {
        let page = pacer.page();
        let first = format!(
            "{}/{}/_search?scroll={SCROLL_KEEP_ALIVE}",
            self.target.endpoint, self.target.index
        );
        let body = serde_json::json!({"size": page, "sort": ["_doc"], "query": {"match_all": {}}});
        pacer.reserve(page).await;
        let mut response = self.post(&first, &body).await?;
        let mut documents = 0u64;
        let mut scroll_ids = Vec::new();
        let outcome = loop {
            let parsed: SearchPage = match serde_json::from_slice(&response) {
                Ok(parsed) => parsed,
                Err(e) => break Err(self.unexpected(&e)),
            };
            let count = parsed.hits.hits.len();
            pacer.refund(page.saturating_sub(u32::try_from(count).unwrap_or(page)));
            if let Some(id) = &parsed.scroll_id {
                if scroll_ids.last() != Some(id) {
                    scroll_ids.push(id.clone());
                }
            }
            let handled = parsed.hits.hits.iter().try_for_each(|hit| {
                let source = hit.source.ok_or_else(|| {
                    self.error(
                        "a document has no _source (the index stores none): nothing to compare"
                            .into(),
                    )
                })?;
                each(&hit.id, source.get())
            });
            if let Err(e) = handled {
                break Err(e);
            }
            documents += count as u64;
            let Some(scroll_id) = parsed.scroll_id.filter(|_| count > 0) else {
                break Ok(documents);
            };
            pacer.reserve(page).await;
            let next = format!("{}/_search/scroll", self.target.endpoint);
            let body = serde_json::json!({"scroll": SCROLL_KEEP_ALIVE, "scroll_id": scroll_id});
            response = match self.post(&next, &body).await {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
        };
        // Frees the cluster's scroll contexts now rather than at their keep-alive; a failure
        // here only means they expire on their own.
        if !scroll_ids.is_empty() {
            let url = format!("{}/_search/scroll", self.target.endpoint);
            let body = serde_json::json!({ "scroll_id": scroll_ids });
            let _ = self
                .authorized(self.client.delete(&url))
                .json_body(&body)
                .send()
                .await;
        }
        outcome
    }

    /// The `_source` of the document `id`, if the index holds it.
    pub async fn get(&self, id: &str, pacer: &Pacer) -> Result<Option<String>, VerifyError> {
        pacer.reserve(1).await;
        let url = format!("{}/{}/_search", self.target.endpoint, self.target.index);
        let body = serde_json::json!({"size": 1, "query": {"ids": {"values": [id]}}});
        let response = self.post(&url, &body).await?;
        let parsed: SearchPage =
            serde_json::from_slice(&response).map_err(|e| self.unexpected(&e))?;
        Ok(parsed
            .hits
            .hits
            .into_iter()
            .find(|hit| hit.id == id)
            .and_then(|hit| hit.source.map(|s| s.get().to_owned())))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.target.auth {
            OpenSearchAuth::None => request,
            OpenSearchAuth::Basic { username, password } => {
                request.basic_auth(username, Some(password))
            }
        }
    }

    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<Vec<u8>, VerifyError> {
        let response = self
            .authorized(self.client.post(url))
            .json_body(body)
            .send()
            .await
            .map_err(|e| self.error(format!("request failed: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.error(format!("reading the answer failed: {}", error_chain(&e))))?;
        if !status.is_success() {
            // Error answers describe the request, not documents; cut short all the same.
            let text = String::from_utf8_lossy(&bytes);
            let text: String = text.chars().take(300).collect();
            return Err(self.error(format!("HTTP {status}: {text}")));
        }
        Ok(bytes.to_vec())
    }
}

/// A JSON body without reqwest's `json` feature (which the workspace does not enable).
trait JsonBody {
    fn json_body(self, body: &serde_json::Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &serde_json::Value) -> Self {
        self.header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<OpenSearchTarget, String> {
        OpenSearchTarget::parse(url, OpenSearchAuth::None)
    }

    #[test]
    fn accepts_plain_and_sink_urls() {
        let t = parse("http://127.0.0.1:9200/orders").unwrap();
        assert_eq!(
            (t.endpoint.as_str(), t.index.as_str()),
            ("http://127.0.0.1:9200", "orders")
        );
        let t = parse("opensearch+https://search.example.com/orders-v2").unwrap();
        assert_eq!(t.endpoint, "https://search.example.com");
        assert_eq!(t.display(), "https://search.example.com/orders-v2");
    }

    #[test]
    fn refuses_what_is_not_one_index() {
        for (url, problem) in [
            ("ftp://h/i", "scheme"),
            ("http://h", "exactly one index"),
            ("http://h/a/b", "exactly one index"),
            ("http://u:p@h/i", "credentials"),
            ("opensearch+https://h/i?auth=basic", "options"),
            ("http://h/{table}", "resolved index"),
            ("h/i", "not a URL"),
        ] {
            let err = parse(url).unwrap_err();
            assert!(err.contains(problem), "{url}: {err}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let auth = OpenSearchAuth::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
