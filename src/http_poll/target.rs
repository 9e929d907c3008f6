//! The seam to target APIs: [`Target`] sends one request and reads its response. The daemon's target is
//! [`HttpInvoker`] (reqwest, the outbound policy, per-host limits); tests script their own, so that the executor
//! and the worker loop run under a paused clock with no sockets.
//!
//! Owns: the call signature only. Does not own: building the request ([`super::spec`]) or what a response means
//! ([`super::termination`]).

use std::future::Future;
use std::pin::Pin;

use super::request::{HttpInvoker, InvokeError};
use super::response::HttpResponse;
use super::spec::RequestSpec;

/// A request in flight. Boxed: it exists only while a request is sent, so a task that holds between polls does
/// not carry its size.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, InvokeError>> + Send + 'a>>;

/// Sends requests to target APIs.
pub trait Target: Send + Sync + std::fmt::Debug {
    /// Sends `spec` and reads the whole response within `spec.timeout`. `idempotency_key` is sent with unsafe
    /// methods when the target supports it.
    fn send<'a>(&'a self, spec: &'a RequestSpec, idempotency_key: &'a str) -> Sending<'a>;
}

impl Target for HttpInvoker {
    fn send<'a>(&'a self, spec: &'a RequestSpec, idempotency_key: &'a str) -> Sending<'a> {
        Box::pin(HttpInvoker::send(self, spec, idempotency_key))
    }
}
