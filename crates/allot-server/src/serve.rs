//! The connection loop: HTTP/1.1 connections with bounds on what a client may hold. A request
//! head must arrive within `header_read_timeout` (also the idle time of a kept-alive
//! connection), a body within `body_read_timeout` (the `body_deadline` middleware), at most
//! `max_connections` are served at once (one more is answered 503 and closed, instead of the
//! listener running out of descriptors and refusing everyone), and a shutdown finishes within
//! `shutdown_timeout` whatever the clients do. An HTTPS listener (`--tls`) is served by the same
//! loop under the same bounds: its TLS handshake must finish within `header_read_timeout` too, and
//! its requests carry [`Scheme::Https`] so that links are built on `https://`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::Service as _;

use crate::config::{Config, Scheme};
use crate::state::AppState;

/// The bounds of [`serve`], from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
}

impl Bounds {
    #[must_use]
    pub const fn of(config: &Config) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            shutdown_timeout: config.shutdown_timeout,
        }
    }
}

/// The longest request head the connection reads (hyper answers a bare 431 beyond it): room for
/// [`MAX_URI_BYTES`] and [`MAX_HEADER_BYTES`] to be refused in each surface's error shape.
const MAX_HEAD_BUFFER: usize = 2 * 1024 * 1024;
/// The longest request URI served; longer is 414.
pub const MAX_URI_BYTES: usize = 60 * 1024;
/// The most header bytes (names and values) served; more is 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A bound listener and, for HTTPS, its TLS acceptor.
pub struct Listener {
    pub tcp: TcpListener,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

async fn accept(l: Option<&Listener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.tcp.accept().await,
        None => std::future::pending().await,
    }
}

/// The answer to a connection over the cap: written straight to the socket, then closed.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
connection: close\r\ncontent-length: 95\r\n\r\n\
{\"error\":{\"code\":\"serviceUnavailable\",\"message\":\"Too many connections; retry in a second.\"}}\n";

/// Serves `app` on `plain` (and `https`, if any) until `shutdown` completes, then lets each
/// connection finish its request in flight for at most `bounds.shutdown_timeout` and drops what
/// is left.
pub async fn serve(
    plain: Listener,
    https: Option<Listener>,
    app: Router,
    bounds: Bounds,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    let permits = Arc::new(Semaphore::new(bounds.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(bounds.header_read_timeout)
        .max_buf_size(MAX_HEAD_BUFFER)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (accepted, tls) = tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections as they end, so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            a = accept(Some(&plain)) => (a, None),
            a = accept(https.as_ref()) => (a, https.as_ref().and_then(|l| l.tls.clone())),
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors (or a connection reset before accept): wait a little
                // instead of spinning; connections closing free descriptors.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            connections.spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let Ok(svc) = make.call(peer).await;
        let (http, stop) = (http.clone(), stop_rx.clone());
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                None => run(&http, stream, svc, Scheme::Http, stop).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(bounds.header_read_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => run(&http, tls, svc, Scheme::Https, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(plain);
    drop(https);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(bounds.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections still open at the end of the shutdown timeout are closed"
        );
        connections.abort_all();
    }
    Ok(())
}

/// Serves one connection until it ends, or finishes its request in flight once `stop` changes.
async fn run<I, S>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    svc: S,
    scheme: Scheme,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let svc = tower::ServiceExt::map_request(svc, move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(scheme);
        collapse_slashes(&mut req);
        req
    });
    let conn = http.serve_connection(
        TokioIo::new(crate::head_guard::HeadGuard::new(io)),
        TowerToHyperService::new(svc),
    );
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => log_end(res),
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            log_end(conn.await);
        }
    }
}

/// `//` in a request path is `/`, as Graph reads it: the Python Graph SDK, left at its default
/// base URL, asks for `https://graph.microsoft.com/v1.0//subscribedSkus`.
fn collapse_slashes<B>(req: &mut Request<B>) {
    let path = req.uri().path();
    if !path.contains("//") {
        return;
    }
    let mut collapsed = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && collapsed.ends_with('/')) {
            collapsed.push(c);
        }
    }
    let with_query = match req.uri().query() {
        Some(q) => format!("{collapsed}?{q}"),
        None => collapsed,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = with_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

fn log_end(res: Result<(), hyper::Error>) {
    if let Err(e) = res {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Reads the whole request body within `body_read_timeout` (and at most one byte past the size
/// limit), so a client trickling a body holds its connection no longer than that: the answer
/// is 408 in the surface's shape. The handler gets the body from memory; one over the limit
/// still reaches the extractors, which answer their 413.
pub async fn body_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let has_body = req.headers().contains_key(axum::http::header::CONTENT_LENGTH)
        || req.headers().contains_key(axum::http::header::TRANSFER_ENCODING);
    if !has_body {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let limit = state.config.max_body_bytes.saturating_add(1);
    let body =
        match tokio::time::timeout(state.config.body_read_timeout, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => Body::from(bytes),
            // Over the limit (or a broken body): a body the extractors refuse as too large.
            Ok(Err(_)) => Body::from(vec![b' '; limit]),
            Err(_) => return timed_out(parts.uri.path(), state.config.body_read_timeout),
        };
    next.run(Request::from_parts(parts, body)).await
}

/// Refuses a request line or headers over the limits with 414 or 431 in the surface's own error
/// shape (Graph's envelope, or Partner Center's under `/v1`), instead of an empty body.
pub async fn head_limits(req: Request, next: Next) -> Response {
    let uri_len = req.uri().to_string().len();
    let header_len: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    let path = req.uri().path().to_owned();
    if uri_len > MAX_URI_BYTES {
        return refused(
            &path,
            StatusCode::URI_TOO_LONG,
            "RequestUriTooLong",
            format!("The request URL is {uri_len} bytes long; at most {MAX_URI_BYTES} are accepted."),
        );
    }
    if header_len > MAX_HEADER_BYTES {
        return refused(
            &path,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "RequestHeaderFieldsTooLarge",
            format!("The request headers are {header_len} bytes; at most {MAX_HEADER_BYTES} are accepted."),
        );
    }
    next.run(req).await
}

pub(crate) fn refused(path: &str, status: StatusCode, graph_code: &'static str, message: String) -> Response {
    let mut resp = if path.starts_with("/v1/") || path == "/v1" {
        crate::partner::error::PcError::new(status, 800_002, message).into_response()
    } else {
        crate::graph::error::GraphError::new(status, graph_code, message).into_response()
    };
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    resp
}

fn timed_out(path: &str, after: Duration) -> Response {
    let message = format!(
        "The request body was not received within {} seconds.",
        after.as_secs()
    );
    let mut resp = if path.starts_with("/v1/") || path == "/v1" {
        crate::partner::error::PcError::new(StatusCode::REQUEST_TIMEOUT, 800_002, message).into_response()
    } else {
        crate::graph::error::GraphError::new(StatusCode::REQUEST_TIMEOUT, "Request_Timeout", message)
            .into_response()
    };
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    resp
}
