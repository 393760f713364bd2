//! A hand-written fake of OpenSearch's Bulk API, of the one index setting the sink reads and
//! of the search and scroll API `cdc-verify` reads an index with, because no OpenSearch engine
//! can run here.
//!
//! It speaks the real wire protocol over HTTP/1.1 on 127.0.0.1 (a random port): `POST /_bulk`
//! with an NDJSON body (`application/x-ndjson`), `index` and `delete` operations carrying
//! `_index`, `_id`, `version` and `version_type`, and responses shaped like OpenSearch's
//! (`{"took", "errors", "items": [{"index": {"_index", "_id", "_version", "result", "_shards",
//! "_seq_no", "_primary_term", "status"}}]}`, error items with `{"type", "reason"}`, whole-request
//! errors with `{"error": {"root_cause", "type", "reason"}, "status"}`). It keeps, per index and
//! `_id`, the version and source of each document, and a tombstone (the version) of each
//! deleted one, and applies `version_type=external_gte` as OpenSearch does: a write whose
//! version is lower than the stored one gets a 409 `version_conflict_engine_exception`.
//! Unlike OpenSearch it keeps tombstones forever (OpenSearch drops them after
//! `index.gc_deletes`), and it only implements `external_gte`, which is what the sink uses.
//! Each source is kept both parsed and as the exact text of its line in the bulk body, which
//! searches answer with, as OpenSearch returns `_source` as sent (so numbers keep every digit).
//!
//! Indices exist once a bulk write creates them (auto-creation, `index.gc_deletes` left to
//! the default) or once a test creates them with [`FakeOpenSearch::create_index`] (or puts a
//! document with [`FakeOpenSearch::put`]). For those
//! it answers the get-settings API, `GET /INDEX/_settings[/NAMES]`, as OpenSearch 2.x does
//! (`TransportGetSettingsAction`, `GetSettingsResponse`): per concrete index
//! `{"settings": {...}}` with the settings set on it, plus `"defaults": {...}` with the
//! defaults in force when `include_defaults=true` (without it, an index with none of the
//! names set is left out); flat keys (`"index.gc_deletes"`) with `flat_settings=true`, nested
//! objects otherwise; the one default it knows, `index.gc_deletes: "60s"`. An unknown index
//! gets OpenSearch's 404 `index_not_found_exception`, an unknown query parameter its 400
//! `contains unrecognized parameter`. It does not resolve aliases, wildcards, comma-separated
//! lists or `_all`, knows no other setting, and stores `index.gc_deletes` without checking it
//! (OpenSearch refuses an invalid value when it is set), so tests can hand the sink values a
//! cluster would not.
//!
//! Search: `GET|POST /INDEX/_search[?scroll=KEEP_ALIVE]` on one concrete index, with a body of
//! `size` (default 10, at most `index.max_result_window`'s default 10000), `query` (`match_all`,
//! or `ids` with `values`) and `sort` (`_doc` only); anything else in the body is refused with
//! a 400, not ignored. Hits are the live documents matched (tombstones are not), in `_id`
//! order, answered in OpenSearch's shape (`{"_scroll_id", "took", "timed_out", "_shards",
//! "hits": {"total": {"value", "relation"}, "max_score", "hits": [{"_index", "_id", "_score",
//! "_source", "sort"}]}}`, `_scroll_id` only with `scroll`, `sort` and null scores when sorted
//! by `_doc`, score 1.0 otherwise) with each `_source` the exact text stored. With `scroll` the
//! matches are fixed as of the search in a scroll context, paged through with `GET|POST
//! /_search/scroll` (`{"scroll", "scroll_id"}`; the same `_scroll_id` on every page, an empty
//! page at the end) and cleared with `DELETE /_search/scroll` (`{"scroll_id": ID or [IDS]}`,
//! answered `{"succeeded", "num_freed"}`, 404 when nothing was freed, as OpenSearch's
//! `ClearScrollResponse`). A scroll id with no open context gets a 404
//! `search_context_missing_exception`. Unlike OpenSearch, contexts never expire (the keep-alive
//! is checked, not applied) and scroll ids are only read from the body.
//!
//! Faults can be injected: 429 for given ids (once or always), a 500 for the next requests,
//! a `mapper_parsing_exception` for given ids, a `http.max_content_length` (413), requests
//! that are never answered (the next ones, or all after the next ones). Authentication can be
//! required, of every request alike: SigV4 (the signature is checked against the request
//! actually received, method, path, query and body) or HTTP basic. Tests can also change an
//! index behind the API's back ([`FakeOpenSearch::put`], [`FakeOpenSearch::remove`]) and read
//! what it holds, sources as their exact text included ([`FakeOpenSearch::source_text`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// A document as stored: `source` is `None` for a deleted one (its tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The external version it was written with.
    pub version: i64,
    /// The document, or `None` for a delete's tombstone.
    pub source: Option<Value>,
}

/// A document as kept: its version, and its source (parsed and as the exact text received)
/// unless it was deleted (a tombstone).
struct Document {
    version: i64,
    source: Option<Source>,
}

/// A document's source: parsed, for [`FakeOpenSearch::documents`], and the exact text
/// received, which searches answer with (so numbers keep every digit they were written with,
/// as OpenSearch keeps `_source` as sent).
struct Source {
    value: Value,
    text: String,
}

impl Source {
    /// `text` if it is a JSON object, as OpenSearch requires of a document.
    fn parse(text: &str) -> Result<Source, String> {
        match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Ok(Source {
                value,
                text: text.to_owned(),
            }),
            Ok(_) => Err("failed to parse, document is not an object".to_owned()),
            Err(e) => Err(format!("failed to parse: {e}")),
        }
    }
}

impl Document {
    fn stored(&self) -> Stored {
        Stored {
            version: self.version,
            source: self.source.as_ref().map(|s| s.value.clone()),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The HTTP method.
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// The status the fake answered.
    pub status: u16,
    /// Bytes of the request body.
    pub bytes: usize,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// `(action, _index, _id, version)` of each bulk operation.
    pub operations: Vec<(String, String, String, i64)>,
}

/// The authentication the fake requires.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Any request is accepted.
    Nothing,
    /// Requests must be SigV4-signed with these credentials.
    SigV4 {
        /// The service signed for (`es` or `aoss`).
        service: &'static str,
        /// The region signed for.
        region: &'static str,
        /// The access key id.
        access_key: &'static str,
        /// The secret key.
        secret_key: &'static str,
    },
    /// Requests must carry HTTP basic auth with these credentials.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

#[derive(Default)]
struct Faults {
    throttle_once: HashSet<String>,
    throttle_always: HashSet<String>,
    reject_mapping: HashSet<String>,
    fail_requests: usize,
    stall_requests: usize,
    /// Requests to answer before stalling the rest.
    stall_after: Option<usize>,
    /// Requests that reached the fake so far, answered or not.
    arrived: usize,
    max_content_length: Option<usize>,
}

/// OpenSearch's default `index.gc_deletes`, as its settings API writes it.
const DEFAULT_GC_DELETES: &str = "60s";

/// An open scroll context: what the search that opened it matched (as of then, as a scroll
/// sees the index as it was when the search ran), and the pages not yet fetched.
struct Scroll {
    index: String,
    /// `(_id, source text)` of the hits still to page through.
    remaining: VecDeque<(String, String)>,
    /// Hits already handed out (the `_doc` sort value of the next one).
    handed_out: usize,
    size: usize,
    total: usize,
    sorted: bool,
}

struct State {
    docs: HashMap<(String, String), Document>,
    /// Every index that exists, with its `index.gc_deletes` when one was set.
    indices: BTreeMap<String, Option<String>>,
    seq_no: u64,
    /// Open scroll contexts by `_scroll_id`; they stay open until cleared (no keep-alive
    /// expiry).
    scrolls: HashMap<String, Scroll>,
    next_scroll: u64,
    received: Vec<Received>,
    faults: Faults,
    expect: Expect,
}

/// A fake OpenSearch cluster on 127.0.0.1 (see the module docs).
pub struct FakeOpenSearch {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeOpenSearch {
    /// Starts the fake, accepting any request.
    pub async fn start() -> FakeOpenSearch {
        FakeOpenSearch::start_expecting(Expect::Nothing).await
    }

    /// Starts the fake, requiring `expect` of every request.
    pub async fn start_expecting(expect: Expect) -> FakeOpenSearch {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            docs: HashMap::new(),
            indices: BTreeMap::new(),
            seq_no: 0,
            scrolls: HashMap::new(),
            next_scroll: 0,
            received: Vec::new(),
            faults: Faults::default(),
            expect,
        }));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |request| handle(state.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeOpenSearch { addr, state }
    }

    /// `opensearch+http://127.0.0.1:PORT/INDEX_AND_OPTIONS`.
    pub fn url(&self, index_and_options: &str) -> String {
        format!("opensearch+http://{}/{index_and_options}", self.addr)
    }

    /// `http://127.0.0.1:PORT/INDEX`: the plain HTTP address of `index`, as clients other than
    /// the sink take it (`cdc-verify --opensearch`).
    pub fn http_url(&self, index: &str) -> String {
        format!("http://{}/{index}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// The document `id` of `index` as stored (tombstones included).
    pub fn stored(&self, index: &str, id: &str) -> Option<Stored> {
        self.state()
            .docs
            .get(&(index.to_owned(), id.to_owned()))
            .map(Document::stored)
    }

    /// The live documents of `index`: `_id` → (version, source).
    pub fn documents(&self, index: &str) -> BTreeMap<String, (i64, Value)> {
        self.state()
            .docs
            .iter()
            .filter(|((i, _), _)| i == index)
            .filter_map(|((_, id), doc)| {
                Some((
                    id.clone(),
                    (doc.version, doc.source.as_ref()?.value.clone()),
                ))
            })
            .collect()
    }

    /// How many live documents `index` holds (tombstones are not counted).
    pub fn count(&self, index: &str) -> usize {
        self.state()
            .docs
            .iter()
            .filter(|((i, _), doc)| i == index && doc.source.is_some())
            .count()
    }

    /// The source of the live document `id` of `index` exactly as it was written (the bulk
    /// body's line, or [`FakeOpenSearch::put`]'s text); `None` if it is absent or deleted.
    pub fn source_text(&self, index: &str, id: &str) -> Option<String> {
        let state = self.state();
        let doc = state.docs.get(&(index.to_owned(), id.to_owned()))?;
        Some(doc.source.as_ref()?.text.clone())
    }

    /// Stores `source`, kept as this exact text, as the live document `id` of `index`, without
    /// going through the Bulk API (no versioning, faults or authentication): a test's way to
    /// make an index differ from what the sink wrote. The index is created if needed; the
    /// document keeps the version stored for `id` (live or tombstone), or gets version 1.
    ///
    /// Panics if `source` is not a JSON object (OpenSearch stores nothing else).
    pub fn put(&self, index: &str, id: &str, source: &str) {
        let source =
            Source::parse(source).unwrap_or_else(|e| panic!("put {index}/{id}: {e}: {source}"));
        let mut state = self.state();
        state.indices.entry(index.to_owned()).or_insert(None);
        let key = (index.to_owned(), id.to_owned());
        let version = state.docs.get(&key).map_or(1, |doc| doc.version);
        state.docs.insert(
            key,
            Document {
                version,
                source: Some(source),
            },
        );
    }

    /// Removes the document `id` of `index` outright, tombstone included, as if it had never
    /// been written (a test's way to make an index lose one); returns its exact source text if
    /// it was live.
    pub fn remove(&self, index: &str, id: &str) -> Option<String> {
        let doc = self
            .state()
            .docs
            .remove(&(index.to_owned(), id.to_owned()))?;
        Some(doc.source?.text)
    }

    /// How many scroll contexts are open (opened by a search with `?scroll=` and not yet
    /// cleared with `DELETE /_search/scroll`).
    pub fn open_scrolls(&self) -> usize {
        self.state().scrolls.len()
    }

    /// Every index that exists, by name.
    pub fn indices(&self) -> Vec<String> {
        self.state().indices.keys().cloned().collect()
    }

    /// Creates `index` as `PUT /INDEX` would, with `index.gc_deletes` set to `gc_deletes`
    /// (stored as given, unchecked) or left to the default.
    pub fn create_index(&self, index: &str, gc_deletes: Option<&str>) {
        self.state()
            .indices
            .insert(index.to_owned(), gc_deletes.map(str::to_owned));
    }

    /// Requires `expect` from now on (a rotated password, say).
    pub fn expect(&self, expect: Expect) {
        self.state().expect = expect;
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    /// Answers the next bulk operation on `id` with a 429 once.
    pub fn throttle_once(&self, id: &str) {
        self.state().faults.throttle_once.insert(id.to_owned());
    }

    /// Answers every bulk operation on `id` with a 429.
    pub fn throttle_always(&self, id: &str) {
        self.state().faults.throttle_always.insert(id.to_owned());
    }

    /// Rejects every bulk operation on `id` with a mapping error (400).
    pub fn reject_mapping(&self, id: &str) {
        self.state().faults.reject_mapping.insert(id.to_owned());
    }

    /// Fails the next `count` requests as a whole with a 500.
    pub fn fail_requests(&self, count: usize) {
        self.state().faults.fail_requests = count;
    }

    /// Leaves the next `count` requests unanswered.
    pub fn stall_requests(&self, count: usize) {
        self.state().faults.stall_requests = count;
    }

    /// Answers the next `count` requests, then never answers again.
    pub fn stall_after(&self, count: usize) {
        let mut state = self.state();
        state.faults.stall_after = Some(state.faults.arrived + count);
    }

    /// Answers bulk requests over `bytes` with an empty 413, as Netty does.
    pub fn max_content_length(&self, bytes: usize) {
        self.state().faults.max_content_length = Some(bytes);
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, Value::Null)),
    };
    let stall = {
        let mut state = state.lock().expect("fake state");
        let faults = &mut state.faults;
        let stall = faults.stall_requests > 0
            || faults
                .stall_after
                .is_some_and(|after| faults.arrived >= after);
        faults.stall_requests = faults.stall_requests.saturating_sub(1);
        faults.arrived += 1;
        stall
    };
    if stall {
        std::future::pending::<()>().await;
    }
    let mut state = state.lock().expect("fake state");
    let mut received = Received {
        method: parts.method.to_string(),
        target: parts.uri.to_string(),
        status: 0,
        bytes: body.len(),
        content_type: header(&parts, "content-type"),
        authorization: header(&parts, "authorization"),
        operations: Vec::new(),
    };
    let response = state.respond(&parts, &body, &mut received);
    received.status = response.status().as_u16();
    state.received.push(received);
    Ok(response)
}

fn header(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn reply(status: StatusCode, body: Value) -> Reply {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(text)))
        .expect("valid response")
}

/// OpenSearch's shape for a failed request.
fn request_error(status: StatusCode, kind: &str, reason: &str) -> Reply {
    reply(
        status,
        json!({
            "error": {
                "root_cause": [{"type": kind, "reason": reason}],
                "type": kind,
                "reason": reason,
            },
            "status": status.as_u16(),
        }),
    )
}

/// OpenSearch's answer for an index that does not exist.
fn index_not_found(index: &str) -> Reply {
    let cause = json!({
        "type": "index_not_found_exception",
        "reason": format!("no such index [{index}]"),
        "index": index,
        "resource.id": index,
        "resource.type": "index_or_alias",
        "index_uuid": "_na_",
    });
    let mut error = cause.clone();
    error["root_cause"] = json!([cause]);
    reply(
        StatusCode::NOT_FOUND,
        json!({"error": error, "status": 404}),
    )
}

/// OpenSearch's 406 for a body whose `Content-Type` it does not read (JSON and NDJSON are what
/// this fake reads).
fn unsupported_content_type(parts: &Parts) -> Option<Reply> {
    let content_type = header(parts, "content-type").unwrap_or_default();
    if content_type.starts_with("application/x-ndjson")
        || content_type.starts_with("application/json")
    {
        return None;
    }
    Some(reply(
        StatusCode::NOT_ACCEPTABLE,
        json!({"error": format!("Content-Type header [{content_type}] is not supported"), "status": 406}),
    ))
}

/// OpenSearch's 400 for a query parameter the endpoint does not know.
fn unrecognized_parameter(parts: &Parts, name: &str) -> Reply {
    request_error(
        StatusCode::BAD_REQUEST,
        "illegal_argument_exception",
        &format!(
            "request [{}] contains unrecognized parameter: [{name}]",
            parts.uri.path()
        ),
    )
}

/// OpenSearch's 405 for a method the endpoint does not take (`None`: the method is allowed).
fn wrong_method(parts: &Parts, allowed: &[hyper::Method]) -> Option<Reply> {
    if allowed.contains(&parts.method) {
        return None;
    }
    let allowed: Vec<&str> = allowed.iter().map(hyper::Method::as_str).collect();
    Some(request_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "illegal_argument_exception",
        &format!(
            "Incorrect HTTP method for uri [{}] and method [{}], allowed: [{}]",
            parts.uri,
            parts.method,
            allowed.join(", ")
        ),
    ))
}

/// Whether `text` is a time value OpenSearch accepts for `scroll` (`-1`, `0`, or a whole
/// number with one of its units, e.g. `5m`).
fn is_time_value(text: &str) -> bool {
    if text == "-1" || text == "0" {
        return true;
    }
    // Longest units first: `ms` before `s` and `m`.
    ["nanos", "micros", "ms", "d", "h", "m", "s"]
        .iter()
        .find_map(|unit| text.strip_suffix(unit))
        .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// The 400 for a `scroll` keep-alive that is no time value.
fn bad_keep_alive(keep_alive: &str) -> Reply {
    request_error(
        StatusCode::BAD_REQUEST,
        "parse_exception",
        &format!("failed to parse setting [scroll] with value [{keep_alive}] as a time value: unit is missing or unrecognized"),
    )
}

/// OpenSearch's default `index.max_result_window`, which bounds a search's `size` (and a
/// scroll's pages).
const MAX_RESULT_WINDOW: usize = 10_000;

/// What a search asks for: how many hits per page, which documents (`None`: all, `match_all`),
/// and whether it sorts by `_doc` (hits then have no score and a `sort` value).
struct SearchRequest {
    size: usize,
    ids: Option<HashSet<String>>,
    sorted: bool,
}

fn parsing(reason: impl Into<String>) -> ParseError {
    ("parsing_exception".into(), reason.into())
}

/// Parses a search body as far as this fake implements search: `size`, `query` (`match_all`
/// or `ids` with `values`) and `sort` (`_doc` only); anything else is refused as OpenSearch
/// refuses what it does not know, rather than ignored.
fn parse_search(body: &[u8]) -> Result<SearchRequest, ParseError> {
    let mut request = SearchRequest {
        size: 10,
        ids: None,
        sorted: false,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(request);
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(parsing("request body is not a JSON object"));
    };
    for (key, value) in &fields {
        match key.as_str() {
            "size" => {
                request.size = match value.as_i64() {
                    Some(size) if size < 0 => {
                        return Err(invalid(format!(
                            "[size] parameter cannot be negative, found [{size}]"
                        )))
                    }
                    Some(size) => usize::try_from(size).unwrap_or(usize::MAX),
                    None => return Err(parsing("[size] must be an integer")),
                }
            }
            "query" => request.ids = parse_query(value)?,
            "sort" => {
                let by_doc = |v: &Value| v.as_str() == Some("_doc");
                let ok = by_doc(value)
                    || value
                        .as_array()
                        .is_some_and(|a| !a.is_empty() && a.iter().all(by_doc));
                if !ok {
                    return Err(invalid(format!(
                        "this fake sorts by [_doc] only, not by {value}"
                    )));
                }
                request.sorted = true;
            }
            other => {
                return Err(parsing(format!(
                    "Unknown key for a search request [{other}] (this fake implements size, query and sort)"
                )))
            }
        }
    }
    Ok(request)
}

/// `{"match_all": {}}` → `None`; `{"ids": {"values": [...]}}` → those `_id`s.
fn parse_query(query: &Value) -> Result<Option<HashSet<String>>, ParseError> {
    let Some((name, inner)) = query
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(parsing("[query] must hold exactly one query object"));
    };
    let Some(inner) = inner.as_object() else {
        return Err(parsing(format!(
            "[{name}] query malformed, no start_object"
        )));
    };
    match name.as_str() {
        "match_all" => Ok(None),
        "ids" => {
            if let Some(other) = inner.keys().find(|k| *k != "values") {
                return Err(parsing(format!("[ids] query does not support [{other}]")));
            }
            let values = inner.get("values").and_then(Value::as_array);
            let ids = values
                .into_iter()
                .flatten()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<HashSet<String>>>()
                .ok_or_else(|| parsing("[ids] values must be strings"))?;
            Ok(Some(ids))
        }
        other => Err(parsing(format!(
            "unknown query [{other}] (this fake implements match_all and ids)"
        ))),
    }
}

/// The JSON body of a scroll request, `{}` when there is none.
fn body_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(parsing("request body is not a JSON object")),
    }
}

/// OpenSearch's answer for a `_scroll_id` with no open context (cleared, or never opened).
fn search_context_missing(scroll_id: &str) -> Reply {
    let reason = format!("No search context found for id [{scroll_id}]");
    reply(
        StatusCode::NOT_FOUND,
        json!({
            "error": {
                "root_cause": [{"type": "search_context_missing_exception", "reason": reason}],
                "type": "search_phase_execution_exception",
                "reason": "all shards failed",
                "phase": "query",
                "grouped": true,
                "failed_shards": [],
            },
            "status": 404,
        }),
    )
}

/// A search answer in OpenSearch's shape. Serialized field by field so that each `_source` is
/// written as the exact text stored.
#[derive(Serialize)]
struct SearchAnswer<'a> {
    #[serde(rename = "_scroll_id", skip_serializing_if = "Option::is_none")]
    scroll_id: Option<&'a str>,
    took: u64,
    timed_out: bool,
    #[serde(rename = "_shards")]
    shards: Value,
    hits: HitsAnswer<'a>,
}

#[derive(Serialize)]
struct HitsAnswer<'a> {
    total: Value,
    max_score: Option<f64>,
    hits: Vec<HitAnswer<'a>>,
}

#[derive(Serialize)]
struct HitAnswer<'a> {
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(rename = "_id")]
    id: &'a str,
    #[serde(rename = "_score")]
    score: Option<f64>,
    #[serde(rename = "_source")]
    source: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    sort: Option<[usize; 1]>,
}

impl Scroll {
    /// Hands out the next page (of `size` hits) as a search answer carrying `scroll_id`.
    fn next_page(&mut self, scroll_id: Option<&str>) -> Reply {
        let take = self.size.min(self.remaining.len());
        let page: Vec<(String, String)> = self.remaining.drain(..take).collect();
        let first = self.handed_out;
        self.handed_out += take;
        let score = (!self.sorted).then_some(1.0);
        let hits = page
            .iter()
            .enumerate()
            .map(|(i, (id, text))| HitAnswer {
                index: &self.index,
                id,
                score,
                // Stored only once parsed as a JSON object, so it is JSON.
                source: serde_json::from_str(text).expect("stored sources are JSON"),
                sort: self.sorted.then_some([first + i]),
            })
            .collect::<Vec<_>>();
        let answer = SearchAnswer {
            scroll_id,
            took: 1,
            timed_out: false,
            shards: json!({"total": 1, "successful": 1, "skipped": 0, "failed": 0}),
            hits: HitsAnswer {
                total: json!({"value": self.total, "relation": "eq"}),
                max_score: if hits.is_empty() { None } else { score },
                hits,
            },
        };
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=UTF-8")
            .body(Full::new(Bytes::from(
                serde_json::to_string(&answer).expect("serializable answer"),
            )))
            .expect("valid response")
    }
}

/// `"index.gc_deletes": v` as `{"index": {"gc_deletes": v}}` (settings without flat_settings).
fn nest(object: &mut serde_json::Map<String, Value>, key: &str, value: &str) {
    match key.split_once('.') {
        None => {
            object.insert(key.to_owned(), json!(value));
        }
        Some((head, rest)) => {
            let inner = object.entry(head.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(inner) = inner {
                nest(inner, rest, value);
            }
        }
    }
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// One parsed operation.
struct Operation {
    action: String,
    index: String,
    id: String,
    version: i64,
    source: Option<Result<Source, String>>,
}

impl State {
    fn respond(&mut self, parts: &Parts, body: &[u8], received: &mut Received) -> Reply {
        if let Some(reply) = self.refuse(parts, body) {
            return reply;
        }
        if self.faults.fail_requests > 0 {
            self.faults.fail_requests -= 1;
            return request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "injected failure of the whole request",
            );
        }
        let path = parts.uri.path();
        if path == "/_bulk" {
            return self.bulk(parts, body, received);
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["_search", "scroll"] => self.scroll(parts, body),
            [index, "_search"] => self.search(parts, index, body),
            [index, "_settings"] => self.settings(parts, index, None),
            [index, "_settings", names] => self.settings(parts, index, Some(names)),
            _ => reply(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("no handler found for uri [{}] and method [{}]", parts.uri, parts.method)}),
            ),
        }
    }

    fn bulk(&mut self, parts: &Parts, body: &[u8], received: &mut Received) -> Reply {
        if parts.method != hyper::Method::POST && parts.method != hyper::Method::PUT {
            return request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "illegal_argument_exception",
                "Incorrect HTTP method for uri [/_bulk]",
            );
        }
        if self
            .faults
            .max_content_length
            .is_some_and(|max| body.len() > max)
        {
            // Netty's HttpObjectAggregator answers with an empty 413.
            return reply(StatusCode::PAYLOAD_TOO_LARGE, Value::Null);
        }
        if let Some(reply) = unsupported_content_type(parts) {
            return reply;
        }
        let operations = match parse(body) {
            Ok(operations) => operations,
            Err((kind, reason)) => return request_error(StatusCode::BAD_REQUEST, &kind, &reason),
        };
        received.operations = operations
            .iter()
            .map(|o| (o.action.clone(), o.index.clone(), o.id.clone(), o.version))
            .collect();
        let items: Vec<Value> = operations.into_iter().map(|o| self.apply(o)).collect();
        let errors = items.iter().any(|item| {
            item.as_object()
                .and_then(|o| o.values().next())
                .is_some_and(|r| r.get("error").is_some())
        });
        reply(
            StatusCode::OK,
            json!({"took": 3, "errors": errors, "items": items}),
        )
    }

    /// `GET|POST /INDEX/_search[?scroll=KEEP_ALIVE]` on one concrete index: the live documents
    /// the query matches, in `_id` order, `size` per page. With `scroll` the matches are taken
    /// as of now into a scroll context that `/_search/scroll` pages through.
    fn search(&mut self, parts: &Parts, index: &str, body: &[u8]) -> Reply {
        if let Some(reply) = wrong_method(parts, &[hyper::Method::GET, hyper::Method::POST]) {
            return reply;
        }
        if !body.is_empty() {
            if let Some(reply) = unsupported_content_type(parts) {
                return reply;
            }
        }
        let mut keep_alive = None;
        let query = parts.uri.query().unwrap_or_default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "scroll" => keep_alive = Some(value.into_owned()),
                other => return unrecognized_parameter(parts, other),
            }
        }
        if let Some(keep_alive) = keep_alive.as_deref().filter(|k| !is_time_value(k)) {
            return bad_keep_alive(keep_alive);
        }
        let request = match parse_search(body) {
            Ok(request) => request,
            Err((kind, reason)) => return request_error(StatusCode::BAD_REQUEST, &kind, &reason),
        };
        let index = percent_decode(index);
        if !self.indices.contains_key(&index) {
            return index_not_found(&index);
        }
        if request.size > MAX_RESULT_WINDOW {
            let reason = if keep_alive.is_some() {
                format!("Batch size is too large, size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.", request.size)
            } else {
                format!("Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", request.size)
            };
            return request_error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &reason,
            );
        }
        let mut hits: Vec<(String, String)> = self
            .docs
            .iter()
            .filter(|((i, id), _)| {
                *i == index && request.ids.as_ref().is_none_or(|ids| ids.contains(id))
            })
            .filter_map(|((_, id), doc)| Some((id.clone(), doc.source.as_ref()?.text.clone())))
            .collect();
        hits.sort();
        let mut context = Scroll {
            index,
            total: hits.len(),
            remaining: hits.into(),
            handed_out: 0,
            size: request.size,
            sorted: request.sorted,
        };
        if keep_alive.is_none() {
            return context.next_page(None);
        }
        let scroll_id = format!("fake-scroll-{}", self.next_scroll);
        self.next_scroll += 1;
        let answer = context.next_page(Some(&scroll_id));
        self.scrolls.insert(scroll_id, context);
        answer
    }

    /// `GET|POST /_search/scroll` (the next page of a scroll context) and `DELETE
    /// /_search/scroll` (clearing contexts), with the scroll ids in the body (`{"scroll":
    /// KEEP_ALIVE, "scroll_id": ID}`, `{"scroll_id": ID or [IDS]}`).
    fn scroll(&mut self, parts: &Parts, body: &[u8]) -> Reply {
        use hyper::Method;
        if let Some(reply) = wrong_method(parts, &[Method::GET, Method::POST, Method::DELETE]) {
            return reply;
        }
        if !body.is_empty() {
            if let Some(reply) = unsupported_content_type(parts) {
                return reply;
            }
        }
        let query = parts.uri.query().unwrap_or_default();
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes()).next() {
            return unrecognized_parameter(parts, &name);
        }
        let fields = match body_object(body) {
            Ok(fields) => fields,
            Err((kind, reason)) => return request_error(StatusCode::BAD_REQUEST, &kind, &reason),
        };
        let known: &[&str] = if parts.method == Method::DELETE {
            &["scroll_id"]
        } else {
            &["scroll_id", "scroll"]
        };
        if let Some(other) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return request_error(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!(
                    "Unknown parameter [{other}] in request body or parameter is of the wrong type"
                ),
            );
        }
        if parts.method == Method::DELETE {
            let ids: Vec<&str> = match fields.get("scroll_id") {
                Some(Value::String(id)) => vec![id.as_str()],
                Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if ids.is_empty() {
                return request_error(
                    StatusCode::BAD_REQUEST,
                    "action_request_validation_exception",
                    "Validation Failed: 1: no scroll ids specified;",
                );
            }
            let freed = ids
                .iter()
                .filter(|id| self.scrolls.remove(**id).is_some())
                .count();
            // ClearScrollResponse: 404 when nothing was freed.
            let status = if freed == 0 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            return reply(status, json!({"succeeded": true, "num_freed": freed}));
        }
        if let Some(keep_alive) = fields.get("scroll") {
            match keep_alive.as_str() {
                Some(text) if is_time_value(text) => {}
                _ => return bad_keep_alive(&keep_alive.to_string()),
            }
        }
        let Some(scroll_id) = fields.get("scroll_id").and_then(Value::as_str) else {
            return request_error(
                StatusCode::BAD_REQUEST,
                "action_request_validation_exception",
                "Validation Failed: 1: scrollId is missing;",
            );
        };
        match self.scrolls.get_mut(scroll_id) {
            Some(context) => context.next_page(Some(scroll_id)),
            None => search_context_missing(scroll_id),
        }
    }

    /// `GET /INDEX/_settings[/NAMES]` for one concrete index and exact setting names.
    fn settings(&self, parts: &Parts, index: &str, names: Option<&str>) -> Reply {
        if parts.method != hyper::Method::GET {
            return request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "illegal_argument_exception",
                &format!(
                    "Incorrect HTTP method for uri [{}] and method [{}], allowed: [GET] (this fake implements GET only)",
                    parts.uri, parts.method
                ),
            );
        }
        let mut include_defaults = false;
        let mut flat_settings = false;
        let query = parts.uri.query().unwrap_or_default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            // OpenSearch's booleans: a bare parameter is true.
            let flag = value.is_empty() || value == "true";
            match &*name {
                "include_defaults" => include_defaults = flag,
                "flat_settings" => flat_settings = flag,
                "local"
                | "ignore_unavailable"
                | "allow_no_indices"
                | "expand_wildcards"
                | "cluster_manager_timeout"
                | "master_timeout"
                | "pretty"
                | "human"
                | "error_trace"
                | "filter_path" => {}
                other => return unrecognized_parameter(parts, other),
            }
        }
        let index = percent_decode(index);
        let Some(gc_deletes) = self.indices.get(&index) else {
            return index_not_found(&index);
        };
        let wanted = |setting: &str| {
            names.is_none_or(|names| names.split(',').any(|n| percent_decode(n) == setting))
        };
        let mut set = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        if wanted("index.gc_deletes") {
            match gc_deletes {
                Some(value) => set.insert("index.gc_deletes", value.clone()),
                None => defaults.insert("index.gc_deletes", DEFAULT_GC_DELETES.to_owned()),
            };
        }
        let render = |settings: &BTreeMap<&str, String>| {
            let mut object = serde_json::Map::new();
            for (key, value) in settings {
                if flat_settings {
                    object.insert((*key).to_owned(), json!(value));
                } else {
                    nest(&mut object, key, value);
                }
            }
            Value::Object(object)
        };
        let mut answer = serde_json::Map::new();
        if include_defaults {
            answer.insert(
                index,
                json!({"settings": render(&set), "defaults": render(&defaults)}),
            );
        } else if !set.is_empty() {
            answer.insert(index, json!({"settings": render(&set)}));
        }
        reply(StatusCode::OK, Value::Object(answer))
    }

    /// The answer to a request without the expected authentication (`None`: authenticated).
    fn refuse(&self, parts: &Parts, body: &[u8]) -> Option<Reply> {
        match &self.expect {
            Expect::Nothing => None,
            Expect::Basic { username, password } => {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                if header(parts, "authorization") == Some(format!("Basic {token}")) {
                    None
                } else {
                    // The security plugin's answer.
                    Some(
                        Response::builder()
                            .status(StatusCode::UNAUTHORIZED)
                            .header("www-authenticate", "Basic realm=\"OpenSearch Security\"")
                            .body(Full::new(Bytes::from("Unauthorized")))
                            .expect("valid response"),
                    )
                }
            }
            Expect::SigV4 {
                service,
                region,
                access_key,
                secret_key,
            } => verify_sigv4(parts, body, service, region, access_key, secret_key)
                .err()
                .map(|message| reply(StatusCode::FORBIDDEN, json!({ "message": message }))),
        }
    }

    fn apply(&mut self, op: Operation) -> Value {
        let Operation {
            action,
            index,
            id,
            version,
            source,
        } = op;
        let error = |status: u16, kind: &str, reason: String| {
            json!({action.as_str(): {
                "_index": index, "_id": id, "status": status,
                "error": {"type": kind, "reason": reason, "index": index, "shard": "0",
                          "index_uuid": "fAkEiNdExUuId0123456789"},
            }})
        };
        if self.faults.throttle_always.contains(&id) || self.faults.throttle_once.remove(&id) {
            return error(
                429,
                "rejected_execution_exception",
                "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=120, max_coordinating_and_primary_bytes=53687091]".into(),
            );
        }
        // Auto-creation (`action.auto_create_index` is on by default) comes before the
        // operations run, so even a refused one leaves the index behind; deletes create it
        // too, because with an external version their tombstone must be kept.
        self.indices.entry(index.clone()).or_insert(None);
        let key = (index.clone(), id.clone());
        let current = self.docs.get(&key).map(|d| (d.version, d.source.is_some()));
        if let Some((stored_version, _)) = current {
            if version < stored_version {
                return error(
                    409,
                    "version_conflict_engine_exception",
                    format!(
                        "[{id}]: version conflict, current version [{stored_version}] is higher than the version of this request [{version}]"
                    ),
                );
            }
        }
        let live = current.is_some_and(|(_, live)| live);
        let (result, status, source) = if action == "delete" {
            if live {
                ("deleted", 200, None)
            } else {
                ("not_found", 404, None)
            }
        } else {
            let source = match source {
                Some(Ok(source)) if !self.faults.reject_mapping.contains(&id) => source,
                Some(Err(reason)) => return error(400, "mapper_parsing_exception", reason),
                _ => {
                    return error(
                        400,
                        "mapper_parsing_exception",
                        format!("failed to parse field [n] of type [long] in document with id '{id}'. Preview of field's value: 'x'"),
                    )
                }
            };
            if live {
                ("updated", 200, Some(source))
            } else {
                ("created", 201, Some(source))
            }
        };
        self.docs.insert(key, Document { version, source });
        self.seq_no += 1;
        json!({action.as_str(): {
            "_index": index, "_id": id, "_version": version, "result": result,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
            "_seq_no": self.seq_no - 1, "_primary_term": 1, "status": status,
        }})
    }
}

type ParseError = (String, String);

fn invalid(reason: impl Into<String>) -> ParseError {
    ("illegal_argument_exception".into(), reason.into())
}

fn validation(reason: impl Into<String>) -> ParseError {
    (
        "action_request_validation_exception".into(),
        format!("Validation Failed: 1: {};", reason.into()),
    )
}

/// Parses the NDJSON body as OpenSearch's `BulkRequestParser` does (action lines strictly,
/// sources only as far as the operation needs).
fn parse(body: &[u8]) -> Result<Vec<Operation>, ParseError> {
    if body.last() != Some(&b'\n') {
        return Err(invalid(
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid("body is not UTF-8"))?;
    let mut lines = text.split_terminator('\n');
    let mut operations = Vec::new();
    while let Some(line) = lines.next() {
        let action: Value = serde_json::from_str(line)
            .map_err(|e| invalid(format!("Malformed action/metadata line: {e}")))?;
        let Some((name, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
            return Err(invalid(
                "Malformed action/metadata line, expected START_OBJECT",
            ));
        };
        if !matches!(name.as_str(), "index" | "delete") {
            return Err(invalid(format!("Malformed action/metadata line, expected field [create], [delete], [index] or [update] but found [{name}] (this fake implements index and delete)")));
        }
        let field = |f: &str| meta.get(f).and_then(Value::as_str).map(str::to_owned);
        let index = field("_index").ok_or_else(|| validation("index is missing"))?;
        let id = field("_id").ok_or_else(|| validation("id is missing"))?;
        if id.len() > 512 {
            return Err(validation(format!(
                "id [{id}] is too long, must be no longer than 512 bytes but was: {}",
                id.len()
            )));
        }
        if field("version_type").as_deref() != Some("external_gte") {
            return Err(invalid(
                "this fake only implements version_type [external_gte]",
            ));
        }
        let version = meta
            .get("version")
            .and_then(Value::as_i64)
            .ok_or_else(|| validation("an external version must be set"))?;
        let source = if name == "index" {
            let line = lines
                .next()
                .ok_or_else(|| invalid("The bulk request must be terminated by a newline [\\n]"))?;
            Some(Source::parse(line))
        } else {
            None
        };
        operations.push(Operation {
            action: name.clone(),
            index,
            id,
            version,
            source,
        });
    }
    Ok(operations)
}

/// Checks the request's SigV4 signature by signing what was received again with the
/// expected credentials: any header or body byte changed after signing, or a wrong scope,
/// fails the check.
fn verify_sigv4(
    parts: &Parts,
    body: &[u8],
    service: &str,
    region: &str,
    access_key: &str,
    secret_key: &str,
) -> Result<(), String> {
    let authorization = header(parts, "authorization")
        .ok_or("Authorization header requires 'Credential' parameter")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("Authorization header is not AWS4-HMAC-SHA256")?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|f| f.strip_prefix(name))
            .map(str::to_owned)
            .ok_or(format!("Authorization header requires '{name}' parameter"))
    };
    let credential = field("Credential=")?;
    let signed_headers = field("SignedHeaders=")?;
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5
        || scope[0] != access_key
        || scope[2] != region
        || scope[3] != service
        || scope[4] != "aws4_request"
    {
        return Err(format!(
            "Credential should be scoped to {access_key}/DATE/{region}/{service}/aws4_request, got {credential}"
        ));
    }
    let amz_date = header(parts, "x-amz-date").ok_or("missing X-Amz-Date")?;
    let time = parse_amz_date(&amz_date).ok_or("bad X-Amz-Date")?;
    let signed: Vec<&str> = signed_headers.split(';').collect();
    let hashes_payload = signed.contains(&"x-amz-content-sha256");
    if service == "aoss" && !hashes_payload {
        return Err("aoss requires the x-amz-content-sha256 header to be signed".into());
    }
    let mut values = Vec::new();
    for name in &signed {
        if matches!(
            *name,
            "x-amz-date" | "x-amz-content-sha256" | "x-amz-security-token"
        ) {
            continue;
        }
        values.push((
            *name,
            header(parts, name).ok_or(format!("signed header {name} missing"))?,
        ));
    }
    let host = header(parts, "host").ok_or("missing Host")?;
    let uri = format!("http://{host}{}", parts.uri);
    let identity = Credentials::new(access_key, secret_key, None, None, "fake").into();
    let mut settings = SigningSettings::default();
    if hashes_payload {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(
        parts.method.as_str(),
        uri,
        values.iter().map(|(n, v)| (*n, v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    for (name, value) in instructions.headers() {
        if header(parts, name).as_deref() != Some(value) {
            return Err(format!(
                "The request signature we calculated does not match the signature you provided ({name} differs)"
            ));
        }
    }
    Ok(())
}

/// `20260101T120000Z` → the instant.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let digits = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    if text.len() != 16 || text.get(8..9) != Some("T") || !text.ends_with('Z') {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hh, mm, ss) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}
