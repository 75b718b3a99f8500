//! A fault-injecting proxy in front of one cluster's API server: it forwards every request
//! (watches stream through) until told to answer `429 Too Many Requests` (with
//! `Retry-After: 1`, as an API server's priority and fairness does) or `500 Internal Server
//! Error` instead, so that a client's handling of an overloaded or failing API server can be
//! tested against the real control plane behind it.
//!
//! It listens on plain HTTP on loopback ([`FaultProxy::url`]); the client's own credentials
//! stay with it (the proxy drops the `Authorization` header) and the proxy reaches the API
//! server with the bed's credentials. It keeps the method and path of every request it was
//! sent ([`FaultProxy::requests`]), so a test can count a client's lists and watches.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kube::Client;

use crate::error::{Error, io};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// What the proxy answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Forward every request.
    None = 0,
    /// `429 Too Many Requests`, `Retry-After: 1`.
    TooManyRequests = 1,
    /// `500 Internal Server Error`.
    ServerError = 2,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    fault: Arc<AtomicU8>,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy to the API server that `upstream` reaches, forwarding everything.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(upstream: Client) -> Result<FaultProxy, Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("cannot bind the fault proxy's port"))?;
        let address = listener
            .local_addr()
            .map_err(io("cannot read the fault proxy's address"))?;
        let fault = Arc::new(AtomicU8::new(Fault::None as u8));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (shared, seen) = (Arc::clone(&fault), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let fault = Arc::clone(&shared);
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let upstream = upstream.clone();
                        let fault = fault.load(Ordering::Relaxed);
                        let line = format!(
                            "{} {}",
                            request.method(),
                            request.uri().path_and_query().map_or("/", |p| p.as_str())
                        );
                        if let Ok(mut seen) = seen.lock() {
                            seen.push(line);
                        }
                        async move { Ok::<_, Infallible>(answer(upstream, fault, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy {
            address,
            fault,
            requests,
            task,
        })
    }

    /// The proxy's URL, for a kubeconfig's `server`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request sent so far, as `METHOD /path?query`, in the order they came.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// From now on, answers as `fault` says.
    pub fn set(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::Relaxed);
    }
}

/// The response to `request` under the fault numbered `fault`.
async fn answer(upstream: Client, fault: u8, request: Request<Incoming>) -> Response<ProxyBody> {
    if fault == Fault::TooManyRequests as u8 {
        return status(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "too many requests, please try again later",
        );
    }
    if fault == Fault::ServerError as u8 {
        return status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "an error on the server has prevented the request from succeeding",
        );
    }
    match forward(upstream, request).await {
        Ok(response) => response,
        Err(error) => status(
            StatusCode::BAD_GATEWAY,
            "ServiceUnavailable",
            &format!("the fault proxy: {error}"),
        ),
    }
}

/// `request` sent on to the API server, its response streamed back.
async fn forward(upstream: Client, request: Request<Incoming>) -> Result<Response<ProxyBody>, BoxError> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut onward = http::Request::builder().method(parts.method).uri(path);
    for (name, value) in &parts.headers {
        let hop = [
            http::header::HOST,
            http::header::AUTHORIZATION,
            http::header::CONNECTION,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
        ];
        if !hop.contains(name) {
            onward = onward.header(name, value);
        }
    }
    let response = upstream
        .send(onward.body(kube::client::Body::from(body))?)
        .await?;
    let (mut parts, body) = response.into_parts();
    for hop in [http::header::CONNECTION, http::header::TRANSFER_ENCODING] {
        parts.headers.remove(hop);
    }
    Ok(Response::from_parts(
        parts,
        body.map_err(|e| Box::new(e) as BoxError).boxed_unsync(),
    ))
}

/// An API server's error answer: `code`, with a `Status` object saying `reason`.
fn status(code: StatusCode, reason: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = code;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if code == StatusCode::TOO_MANY_REQUESTS {
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    }
    response
}
