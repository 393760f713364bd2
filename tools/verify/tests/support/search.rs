//! A minimal OpenSearch for these tests (no engine can run here): enough of the Bulk API for
//! the `opensearch://` sink to write an index (`POST /_bulk`: `index` and `delete`, versions not
//! enforced, every item answered 2xx), and the reads `cdc-verify` makes: `POST
//! /INDEX/_search[?scroll=]` with `match_all` or an `ids` query and `size`, `POST
//! /_search/scroll`, `DELETE /_search/scroll`, answered in OpenSearch's shape (`_scroll_id`,
//! `hits.hits[]._id/_source`). Sources are kept and returned as the exact text written, so
//! numbers keep their digits as in OpenSearch. Unknown indices get a 404
//! `index_not_found_exception`.
//!
//! (The shared fake, `cdc_testkit::opensearch`, has no search API yet; giving it one would let
//! this file go.)

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

type Reply = Response<Full<Bytes>>;

struct Scroll {
    index: String,
    ids: Vec<String>,
    size: usize,
}

#[derive(Default)]
struct State {
    /// index → `_id` → `_source` exactly as written.
    indices: HashMap<String, BTreeMap<String, String>>,
    scrolls: HashMap<String, Scroll>,
    next_scroll: u64,
    /// `METHOD path?query` of every request.
    requests: Vec<String>,
}

pub struct FakeSearch {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeSearch {
    pub async fn start() -> FakeSearch {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let state = Arc::new(Mutex::new(State::default()));
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
        FakeSearch { addr, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// `http://127.0.0.1:PORT/INDEX`, for `--opensearch`.
    pub fn url(&self, index: &str) -> String {
        format!("http://{}/{index}", self.addr)
    }

    /// The sink's URL for `index`.
    pub fn sink_url(&self, index: &str) -> String {
        format!("opensearch+http://{}/{index}", self.addr)
    }

    pub fn put(&self, index: &str, id: &str, source: &str) {
        self.state()
            .indices
            .entry(index.to_owned())
            .or_default()
            .insert(id.to_owned(), source.to_owned());
    }

    pub fn remove(&self, index: &str, id: &str) -> Option<String> {
        self.state().indices.get_mut(index)?.remove(id)
    }

    pub fn source(&self, index: &str, id: &str) -> Option<String> {
        self.state().indices.get(index)?.get(id).cloned()
    }

    pub fn len(&self, index: &str) -> usize {
        self.state().indices.get(index).map_or(0, BTreeMap::len)
    }

    pub fn open_scrolls(&self) -> usize {
        self.state().scrolls.len()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state().requests.clone()
    }
}

async fn handle(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, json!({}))),
    };
    let mut state = state.lock().expect("fake state");
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    state
        .requests
        .push(format!("{} {}", parts.method, parts.uri));
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(match (&parts.method, path.as_str()) {
        (&Method::POST, "/_bulk") => state.bulk(&body),
        (&Method::POST, "/_search/scroll") => {
            let request: Value = serde_json::from_str(&body).unwrap_or_default();
            let id = request["scroll_id"].as_str().unwrap_or_default().to_owned();
            state.next_page(&id)
        }
        (&Method::DELETE, "/_search/scroll") => {
            let request: Value = serde_json::from_str(&body).unwrap_or_default();
            for id in request["scroll_id"].as_array().into_iter().flatten() {
                state.scrolls.remove(id.as_str().unwrap_or_default());
            }
            reply(StatusCode::OK, json!({"succeeded": true}))
        }
        (&Method::POST, search) if search.ends_with("/_search") => {
            let index = search.trim_start_matches('/').trim_end_matches("/_search");
            state.search(index, &body, query.contains("scroll="))
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "no handler"})),
    })
}

impl State {
    fn bulk(&mut self, body: &str) -> Reply {
        let mut lines = body.lines().filter(|l| !l.trim().is_empty());
        let mut items = Vec::new();
        while let Some(line) = lines.next() {
            let action: Value = serde_json::from_str(line).expect("bulk action line");
            let (kind, meta) = action
                .as_object()
                .and_then(|o| o.iter().next())
                .expect("one action");
            let index = meta["_index"].as_str().expect("_index").to_owned();
            let id = meta["_id"].as_str().expect("_id").to_owned();
            let docs = self.indices.entry(index.clone()).or_default();
            let status = match kind.as_str() {
                "index" => {
                    let source = lines.next().expect("document line");
                    docs.insert(id.clone(), source.to_owned());
                    201
                }
                "delete" => {
                    if docs.remove(&id).is_some() {
                        200
                    } else {
                        404
                    }
                }
                other => panic!("unexpected bulk action {other}"),
            };
            items.push(json!({ kind.clone(): {"_index": index, "_id": id, "status": status} }));
        }
        reply(
            StatusCode::OK,
            json!({"took": 1, "errors": false, "items": items}),
        )
    }

    fn search(&mut self, index: &str, body: &str, scroll: bool) -> Reply {
        let Some(docs) = self.indices.get(index) else {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"error": {"type": "index_not_found_exception", "reason": format!("no such index [{index}]")}, "status": 404}),
            );
        };
        let request: Value = serde_json::from_str(body).unwrap_or_default();
        let size = request["size"].as_u64().unwrap_or(10) as usize;
        let ids: Vec<String> = match request["query"]["ids"]["values"].as_array() {
            Some(values) => values
                .iter()
                .filter_map(|v| v.as_str())
                .filter(|id| docs.contains_key(*id))
                .map(str::to_owned)
                .collect(),
            None => docs.keys().cloned().collect(),
        };
        let scroll_id = format!("scroll-{}", self.next_scroll);
        self.next_scroll += 1;
        self.scrolls.insert(
            scroll_id.clone(),
            Scroll {
                index: index.to_owned(),
                ids,
                size,
            },
        );
        let page = self.next_page(&scroll_id);
        if !scroll {
            self.scrolls.remove(&scroll_id);
        }
        page
    }

    fn next_page(&mut self, scroll_id: &str) -> Reply {
        let Some(scroll) = self.scrolls.get_mut(scroll_id) else {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"error": {"type": "search_context_missing_exception"}, "status": 404}),
            );
        };
        let take = scroll.size.min(scroll.ids.len());
        let ids: Vec<String> = scroll.ids.drain(..take).collect();
        let docs = &self.indices[&scroll.index];
        // Hand-built so that each `_source` is the exact text stored.
        let hits: Vec<String> = ids
            .iter()
            .filter_map(|id| {
                docs.get(id).map(|source| {
                    format!(
                        r#"{{"_index":{},"_id":{},"_score":null,"_source":{source}}}"#,
                        Value::from(scroll.index.as_str()),
                        Value::from(id.as_str())
                    )
                })
            })
            .collect();
        let text = format!(
            r#"{{"_scroll_id":{},"took":1,"timed_out":false,"hits":{{"hits":[{}]}}}}"#,
            Value::from(scroll_id),
            hits.join(",")
        );
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json; charset=UTF-8")
            .body(Full::new(Bytes::from(text)))
            .expect("valid response")
    }
}

fn reply(status: StatusCode, body: Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}
