//! A hand-written fake of OpenSearch's Bulk API and of the one index setting the sink reads,
//! because no OpenSearch engine can run here.
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
//!
//! Indices exist once a bulk write creates them (auto-creation, `index.gc_deletes` left to
//! the default) or once a test creates them with [`FakeOpenSearch::create_index`]. For those
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
//! Faults can be injected: 429 for given ids (once or always), a 500 for the next requests,
//! a `mapper_parsing_exception` for given ids, a `http.max_content_length` (413), requests
//! that are never answered (the next ones, or all after the next ones). Authentication can be required, of every request alike: SigV4
//! (the signature is checked against the request actually received, method, path, query and
//! body) or HTTP basic.

use std::collections::{BTreeMap, HashMap, HashSet};
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
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// A document as stored: `source` is `None` for a deleted one (its tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub version: i64,
    pub source: Option<Value>,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub status: u16,
    pub bytes: usize,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    /// `(action, _index, _id, version)` of each bulk operation.
    pub operations: Vec<(String, String, String, i64)>,
}

/// The authentication the fake requires.
#[derive(Debug, Clone)]
pub enum Expect {
    Nothing,
    SigV4 {
        service: &'static str,
        region: &'static str,
        access_key: &'static str,
        secret_key: &'static str,
    },
    Basic {
        username: String,
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

struct State {
    docs: HashMap<(String, String), Stored>,
    /// Every index that exists, with its `index.gc_deletes` when one was set.
    indices: BTreeMap<String, Option<String>>,
    seq_no: u64,
    received: Vec<Received>,
    faults: Faults,
    expect: Expect,
}

pub struct FakeOpenSearch {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeOpenSearch {
    pub async fn start() -> FakeOpenSearch {
        FakeOpenSearch::start_expecting(Expect::Nothing).await
    }

    pub async fn start_expecting(expect: Expect) -> FakeOpenSearch {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            docs: HashMap::new(),
            indices: BTreeMap::new(),
            seq_no: 0,
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

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    pub fn stored(&self, index: &str, id: &str) -> Option<Stored> {
        self.state()
            .docs
            .get(&(index.to_owned(), id.to_owned()))
            .cloned()
    }

    /// The live documents of `index`: `_id` → (version, source).
    pub fn documents(&self, index: &str) -> BTreeMap<String, (i64, Value)> {
        self.state()
            .docs
            .iter()
            .filter(|((i, _), _)| i == index)
            .filter_map(|((_, id), stored)| {
                Some((id.clone(), (stored.version, stored.source.clone()?)))
            })
            .collect()
    }

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

    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    pub fn throttle_once(&self, id: &str) {
        self.state().faults.throttle_once.insert(id.to_owned());
    }

    pub fn throttle_always(&self, id: &str) {
        self.state().faults.throttle_always.insert(id.to_owned());
    }

    pub fn reject_mapping(&self, id: &str) {
        self.state().faults.reject_mapping.insert(id.to_owned());
    }

    pub fn fail_requests(&self, count: usize) {
        self.state().faults.fail_requests = count;
    }

    pub fn stall_requests(&self, count: usize) {
        self.state().faults.stall_requests = count;
    }

    /// Answers the next `count` requests, then never answers again.
    pub fn stall_after(&self, count: usize) {
        let mut state = self.state();
        state.faults.stall_after = Some(state.faults.arrived + count);
    }

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
    source: Option<Result<Value, String>>,
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
        let content_type = header(parts, "content-type").unwrap_or_default();
        if !content_type.starts_with("application/x-ndjson")
            && !content_type.starts_with("application/json")
        {
            return reply(
                StatusCode::NOT_ACCEPTABLE,
                json!({"error": format!("Content-Type header [{content_type}] is not supported"), "status": 406}),
            );
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
                other => {
                    return request_error(
                        StatusCode::BAD_REQUEST,
                        "illegal_argument_exception",
                        &format!(
                            "request [{}] contains unrecognized parameter: [{other}]",
                            parts.uri.path()
                        ),
                    )
                }
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
        let current = self.docs.get(&key).cloned();
        if let Some(stored) = &current {
            if version < stored.version {
                return error(
                    409,
                    "version_conflict_engine_exception",
                    format!(
                        "[{id}]: version conflict, current version [{}] is higher than the version of this request [{version}]",
                        stored.version
                    ),
                );
            }
        }
        let live = current.as_ref().is_some_and(|s| s.source.is_some());
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
        self.docs.insert(key, Stored { version, source });
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
            Some(match serde_json::from_str::<Value>(line) {
                Ok(source @ Value::Object(_)) => Ok(source),
                Ok(_) => Err("failed to parse, document is not an object".to_owned()),
                Err(e) => Err(format!("failed to parse: {e}")),
            })
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
