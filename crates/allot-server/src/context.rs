//! Per-request context: Graph's `request-id` (generated) and `client-request-id` (echoed, or the
//! request id when the client sent none, as Graph does), and the base URL links are built on.
//! Error renderers read it from a task-local, so every error body carries the ids.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub client_request_id: String,
    /// `scheme://host[:port]` links are built on (`Config::link_base`).
    pub base_url: String,
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// The context of the request being served, if any.
#[must_use]
pub fn current() -> Option<RequestContext> {
    REQUEST.try_with(Clone::clone).ok()
}

/// Runs `f` as a request of its own: new ids (the client request id the same), for answers
/// written outside the middleware (`head_guard`). Returns the id with `f`'s result.
pub fn with_new_ids<R>(f: impl FnOnce() -> R) -> (String, R) {
    let id = Uuid::new_v4().to_string();
    let ctx = RequestContext {
        request_id: id.clone(),
        client_request_id: id.clone(),
        base_url: String::new(),
    };
    (id.clone(), REQUEST.sync_scope(ctx, f))
}

pub static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
pub static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Assigns the ids, runs the request inside the context, and stamps the ids on the response.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let request_id = Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get(&CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(|| request_id.clone(), str::to_owned);
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let scheme = req
        .extensions()
        .get::<crate::config::Scheme>()
        .copied()
        .unwrap_or(crate::config::Scheme::Http);
    let base_url = state.config.link_base(host, scheme);
    let ctx = RequestContext {
        request_id: request_id.clone(),
        client_request_id: client_request_id.clone(),
        base_url,
    };
    let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id);
    let mut resp = REQUEST.scope(ctx, next.run(req)).instrument(span).await;
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID.clone(), v);
    }
    if let Ok(v) = HeaderValue::from_str(&client_request_id) {
        headers.insert(CLIENT_REQUEST_ID.clone(), v);
    }
    tracing::debug!(request_id = %request_id, status = resp.status().as_u16(), "served");
    resp
}
