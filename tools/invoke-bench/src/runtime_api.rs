//! A Lambda Runtime API emulator on 127.0.0.1, serving one function process: it hands out the
//! invocations the harness queues and tells the harness each request the function makes, so that
//! the harness can read the process's CPU time exactly when it waits for its next event.
//!
//! It speaks the API as Lambda does (`/2018-06-01/runtime/invocation/next`, `.../response`,
//! `.../error`, `/init/error`, the `Lambda-Runtime-*` headers), for one function at a time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

/// What the function did, in the order it did it.
#[derive(Debug)]
pub enum Event {
    /// It asked for its next invocation (so it is idle).
    Next,
    /// It answered invocation `id`.
    Response {
        /// The request id.
        id: String,
        /// The answer.
        body: Bytes,
    },
    /// It reported invocation `id` failed.
    Error {
        /// The request id.
        id: String,
        /// Lambda's error document.
        body: Bytes,
    },
    /// It failed to start.
    InitError(Bytes),
}

struct Shared {
    events: mpsc::UnboundedSender<Event>,
    invocations: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
}

/// A running emulator; dropping it stops accepting connections once the harness is done.
pub struct RuntimeApi {
    address: SocketAddr,
    events: mpsc::UnboundedReceiver<Event>,
    invocations: mpsc::UnboundedSender<(String, Bytes)>,
    next_id: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Listens on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (invocations, invocations_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: events_tx,
            invocations: Mutex::new(invocations_rx),
        });
        let server = tokio::spawn(serve(listener, shared));
        Ok(RuntimeApi {
            address,
            events,
            invocations,
            next_id: AtomicU64::new(1),
            server,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Queues an invocation; returns its request id.
    pub fn invoke(&self, payload: Bytes) -> String {
        let id = format!("bench-{:08}", self.next_id.fetch_add(1, Ordering::Relaxed));
        // The receiver lives as long as the server task, which lives as long as `self`.
        let _ = self.invocations.send((id.clone(), payload));
        id
    }

    /// The function's next request, if it makes one within `wait`.
    pub async fn event(&mut self, wait: Duration) -> Option<Event> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(request, &shared).await) }
            });
            // A function that goes away mid-request only ends its own connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (request.method(), parts.as_slice()) {
        (&Method::GET, ["2018-06-01", "runtime", "invocation", "next"]) => next(shared).await,
        (&Method::POST, ["2018-06-01", "runtime", "invocation", id, kind]) => {
            let id = (*id).to_owned();
            let kind = (*kind).to_owned();
            let body = body_of(request).await;
            let event = match kind.as_str() {
                "response" => Event::Response { id, body },
                "error" => Event::Error { id, body },
                _ => return reply(StatusCode::NOT_FOUND, Bytes::new()),
            };
            let _ = shared.events.send(event);
            reply(StatusCode::ACCEPTED, Bytes::from_static(b"{}"))
        }
        (&Method::POST, ["2018-06-01", "runtime", "init", "error"]) => {
            let _ = shared.events.send(Event::InitError(body_of(request).await));
            reply(StatusCode::ACCEPTED, Bytes::from_static(b"{}"))
        }
        _ => reply(StatusCode::NOT_FOUND, Bytes::new()),
    }
}

async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    let _ = shared.events.send(Event::Next);
    let Some((id, payload)) = shared.invocations.lock().await.recv().await else {
        return reply(StatusCode::GONE, Bytes::new());
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        + Duration::from_secs(900);
    let mut response = reply(StatusCode::OK, payload);
    let headers = response.headers_mut();
    let pairs = [
        ("lambda-runtime-aws-request-id", id),
        (
            "lambda-runtime-deadline-ms",
            deadline.as_millis().to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:eu-west-1:123456789012:function:bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

async fn body_of(request: Request<Incoming>) -> Bytes {
    match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}
