//! Hands the handler each invocation's payload as bytes, before `lambda_runtime` parses it.
//!
//! `lambda_runtime` deserialises every payload with `serde_json` before it calls the handler,
//! and only hands over owned, typed values. For our payloads (up to 6 MB of stream records)
//! that pass alone costs as much as a third of our whole mapping, while
//! [`cdc_record::StreamEvent::parse`] validates the same JSON in the pass that maps it
//! (docs/BENCHMARKS.md). So this layer, the first to see each invocation, takes the body and
//! leaves `null` in its place, which `lambda_runtime` deserialises as the handler's `()`; the
//! handler then claims the body by its request id. (So `lambda_runtime`'s TRACE-level log of the
//! raw event shows `null`.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::LambdaInvocation;

/// Payloads taken from invocations, by request id, until their handler claims them.
#[derive(Clone, Default)]
pub struct RawPayloads {
    bodies: Arc<Mutex<HashMap<String, Bytes>>>,
}

impl RawPayloads {
    /// The payload of the invocation `request_id`, once.
    pub fn take(&self, request_id: &str) -> Option<Bytes> {
        self.lock().remove(request_id)
    }

    fn keep(&self, request_id: String, body: Bytes) {
        self.lock().insert(request_id, body);
    }

    // A panic elsewhere cannot leave the map half-written: every use is one insert or remove.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> Layer<S> for RawPayloads {
    type Service = TakePayload<S>;

    fn layer(&self, inner: S) -> TakePayload<S> {
        TakePayload {
            inner,
            payloads: self.clone(),
        }
    }
}

/// The service [`RawPayloads`] wraps around the runtime's.
#[derive(Clone)]
pub struct TakePayload<S> {
    inner: S,
    payloads: RawPayloads,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakePayload<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        self.payloads
            .keep(invocation.context.request_id.clone(), body);
        self.inner.call(invocation)
    }
}
