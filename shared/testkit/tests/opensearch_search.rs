//! The OpenSearch fake's search and scroll API, spoken to over plain HTTP/1.1: hits are the
//! live documents only, each `_source` the exact text written; scroll contexts page, end with
//! an empty page, and are cleared as OpenSearch clears them; the errors a client meets have
//! OpenSearch's statuses and types. (The sink's tests cover the Bulk API; cdc-verify's tests
//! read indices through this API.)
//!
//! Run with `cargo test -p cdc-testkit --features opensearch-fake --test opensearch_search`.

use cdc_testkit::opensearch::FakeOpenSearch;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one request (a JSON body if `body` is not empty); returns the status and the body.
async fn call(fake: &FakeOpenSearch, method: &str, target: &str, body: &str) -> (u16, String) {
    send(fake, method, target, "application/json", body).await
}

async fn send(
    fake: &FakeOpenSearch,
    method: &str,
    target: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let url = fake.http_url("");
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let content_type = if body.is_empty() {
        String::new()
    } else {
        format!("content-type: {content_type}\r\n")
    };
    let request = format!(
        "{method} {target} HTTP/1.1\r\nhost: {host}\r\n{content_type}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").expect("HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_owned())
}

/// Writes `lines` through the Bulk API; every operation must succeed.
async fn bulk(fake: &FakeOpenSearch, lines: &[&str]) {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let (status, answer) = send(fake, "POST", "/_bulk", "application/x-ndjson", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(r#""errors":false"#), "{answer}");
}

fn index(id: &str, version: i64) -> String {
    json!({"index": {"_index": "orders", "_id": id, "version": version, "version_type": "external_gte"}})
        .to_string()
}

fn delete(id: &str, version: i64) -> String {
    json!({"delete": {"_index": "orders", "_id": id, "version": version, "version_type": "external_gte"}})
        .to_string()
}

/// `(_id, _source as its exact text)` of every hit, read without parsing the sources.
fn hits(body: &str) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        hits: Hits<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Hits<'a> {
        #[serde(borrow)]
        hits: Vec<Hit<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Hit<'a> {
        #[serde(rename = "_id")]
        id: String,
        #[serde(rename = "_source", borrow)]
        source: &'a serde_json::value::RawValue,
    }
    let page: Page = serde_json::from_str(body).expect("search answer");
    page.hits
        .hits
        .into_iter()
        .map(|h| (h.id, h.source.get().to_owned()))
        .collect()
}

const PRECISE: &str = r#"{"pk":"p","n":12345678901234567890123456789012345678,"x":1.50}"#;

#[tokio::test]
async fn searches_answer_live_documents_with_their_exact_source_text() {
    let fake = FakeOpenSearch::start().await;
    bulk(
        &fake,
        &[
            &index("p|1", 1),
            PRECISE,
            &index("q|1", 1),
            r#"{"pk":"q"}"#,
            &index("gone|1", 1),
            r#"{"pk":"gone"}"#,
            &delete("gone|1", 2),
        ],
    )
    .await;
    assert_eq!(fake.count("orders"), 2);
    assert_eq!(fake.source_text("orders", "p|1").as_deref(), Some(PRECISE));
    assert_eq!(fake.source_text("orders", "gone|1"), None);
    // The parsed view is unchanged.
    assert_eq!(fake.documents("orders")["q|1"], (1, json!({"pk": "q"})));
    assert!(fake.stored("orders", "gone|1").unwrap().source.is_none());

    let (status, body) = call(
        &fake,
        "POST",
        "/orders/_search",
        r#"{"size":10,"query":{"match_all":{}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        hits(&body),
        [
            ("p|1".to_owned(), PRECISE.to_owned()),
            ("q|1".to_owned(), r#"{"pk":"q"}"#.to_owned())
        ]
    );
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed.get("_scroll_id"), None, "no scroll asked for");
    assert_eq!(
        parsed["hits"]["total"],
        json!({"value": 2, "relation": "eq"})
    );

    let (status, body) = call(
        &fake,
        "POST",
        "/orders/_search",
        r#"{"size":1,"query":{"ids":{"values":["q|1","gone|1","never|1"]}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        hits(&body),
        [("q|1".to_owned(), r#"{"pk":"q"}"#.to_owned())]
    );

    // Changed behind the API's back.
    assert_eq!(
        fake.remove("orders", "q|1").as_deref(),
        Some(r#"{"pk":"q"}"#)
    );
    fake.put("orders", "r|1", r#"{"pk": "r",  "n": 1.0}"#);
    assert_eq!(fake.count("orders"), 2);
    let (_, body) = call(&fake, "POST", "/orders/_search", "").await;
    assert_eq!(
        hits(&body),
        [
            ("p|1".to_owned(), PRECISE.to_owned()),
            ("r|1".to_owned(), r#"{"pk": "r",  "n": 1.0}"#.to_owned())
        ]
    );
}

#[tokio::test]
async fn scrolls_page_end_empty_and_are_cleared() {
    let fake = FakeOpenSearch::start().await;
    for id in ["a", "b", "c"] {
        fake.put("orders", id, &format!(r#"{{"pk":"{id}"}}"#));
    }
    let (status, body) = call(
        &fake,
        "POST",
        "/orders/_search?scroll=5m",
        r#"{"size":2,"sort":["_doc"],"query":{"match_all":{}}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    let scroll_id = first["_scroll_id"].as_str().expect("_scroll_id").to_owned();
    let ids = |body: &str| -> Vec<String> { hits(body).into_iter().map(|h| h.0).collect() };
    assert_eq!(ids(&body), ["a", "b"]);
    assert_eq!(first["hits"]["hits"][0]["_score"], Value::Null, "sorted");
    assert_eq!(fake.open_scrolls(), 1);

    // The scroll sees the index as it was when the search ran.
    fake.put("orders", "d", r#"{"pk":"d"}"#);
    let next = json!({"scroll": "5m", "scroll_id": scroll_id}).to_string();
    let (status, body) = call(&fake, "POST", "/_search/scroll", &next).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), ["c"]);
    let (status, body) = call(&fake, "POST", "/_search/scroll", &next).await;
    assert_eq!((status, ids(&body)), (200, Vec::<String>::new()));

    let clear = json!({ "scroll_id": [scroll_id] }).to_string();
    let (status, body) = call(&fake, "DELETE", "/_search/scroll", &clear).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"succeeded": true, "num_freed": 1})
    );
    assert_eq!(fake.open_scrolls(), 0);
    // Nothing left to free: OpenSearch answers 404.
    let (status, _) = call(&fake, "DELETE", "/_search/scroll", &clear).await;
    assert_eq!(status, 404);
    let (status, body) = call(&fake, "POST", "/_search/scroll", &next).await;
    assert_eq!(status, 404);
    assert!(body.contains("search_context_missing_exception"), "{body}");
}

#[tokio::test]
async fn unknown_indices_and_unimplemented_requests_are_refused() {
    let fake = FakeOpenSearch::start().await;
    fake.create_index("orders", None);
    let (status, body) = call(&fake, "POST", "/nope/_search", "{}").await;
    assert_eq!(status, 404);
    assert!(body.contains("index_not_found_exception"), "{body}");
    let (status, body) = call(&fake, "POST", "/orders/_search", "{}").await;
    assert_eq!((status, hits(&body)), (200, Vec::new()));
    for (target, body) in [
        ("/orders/_search", r#"{"query":{"term":{"pk":"a"}}}"#),
        ("/orders/_search", r#"{"from":10}"#),
        ("/orders/_search", r#"{"sort":["pk"]}"#),
        ("/orders/_search", r#"{"size":-1}"#),
        ("/orders/_search", r#"{"size":10001}"#),
        ("/orders/_search?scroll=5", "{}"),
        ("/orders/_search?routing=x", "{}"),
        ("/_search/scroll", r#"{"scroll":"5m"}"#),
    ] {
        let (status, answer) = call(&fake, "POST", target, body).await;
        assert_eq!(status, 400, "{target} {body}: {answer}");
    }
    let (status, _) = call(&fake, "PUT", "/orders/_search", "{}").await;
    assert_eq!(status, 405);
}
