//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers) and
//! `/metrics` (Prometheus text: requests by route, latency histograms, the licensing queue).
//! `/metrics` answers loopback clients only unless `--admin-remote` is set.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::state::AppState;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The process-wide Prometheus recorder (installed once; every server in the process shares it).
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// # `GET /healthz`
/// 200 while the process serves requests; names this node (the lease owner of its worker).
pub async fn healthz(State(state): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "node": state.worker.node})).into_response()
}

/// # `GET /readyz`
/// 200 when the database answers, 503 otherwise (take the node out of the load balancer).
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

/// # `GET /metrics`
pub async fn metrics_text(State(state): State<AppState>, req: Request) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    if !state.config.admin_remote && !peer.is_some_and(|p| p.ip().is_loopback()) {
        return (StatusCode::FORBIDDEN, "metrics answer loopback clients only\n").into_response();
    }
    if let Ok((pending, oldest)) = state.store.queue_stats().await {
        #[expect(clippy::cast_precision_loss, reason = "gauge values")]
        {
            metrics::gauge!("allot_fanout_jobs_pending").set(pending as f64);
            metrics::gauge!("allot_fanout_oldest_job_age_seconds")
                .set(oldest.map_or(0.0, |micros| micros as f64 / 1e6));
        }
    }
    let body = prometheus().map(PrometheusHandle::render).unwrap_or_default();
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

/// Counts every request and times it, labelled by route template (never the raw path).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("allot_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("allot_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
