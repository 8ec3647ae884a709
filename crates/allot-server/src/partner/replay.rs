//! `MS-RequestId` replays. The .NET SDK sends one id per logical call and reuses it when it
//! retries after a timeout or a 5xx, so a POST whose id was answered before gets that first answer
//! again instead of acting twice (spec §5.3, §8.7). The first answer is kept in the database, so
//! every node of a cluster replays it; 5xx answers are not kept (the retry runs for real).
//!
//! Replays are the caller's own: the key is the request id of one signed-in user (or app) of one
//! partner, so another caller's repeat of the same id is a request of its own. And a replay is
//! answered only after the handler authorized the caller for the operation: this middleware
//! puts the stored answer into the request, and `PcCaller::customer` sends it once the caller's
//! relationship and GDAP roles allow the operation (a caller who lost the role gets the 403).

use std::time::Duration;

use allot_store::store::partner::Claim;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{PcError, Replayed};
use crate::auth::tokens::{Caller, PARTNER_CENTER_RESOURCE, Principal};
use crate::state::AppState;

/// How long a retry waits for the first request with its id to finish.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

fn sha256_hex(bytes: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(request_id) = req
        .headers()
        .get(&super::MS_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v.len() <= 128)
    else {
        return next.run(req).await;
    };
    // Replays are per partner: the tenant of a valid token. Without one the handler refuses.
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim().to_owned());
    let Some(principal) = token.and_then(|t| state.tokens.validate(&t, PARTNER_CENTER_RESOURCE).ok()) else {
        return next.run(req).await;
    };
    let tenant = principal.tenant;
    let request_id = format!("{}/{request_id}", caller_key(&principal));
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
        return PcError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            800_002,
            "The request body is too large.",
        )
        .into_response();
    };
    let fingerprint = format!(
        "{} {} {}",
        parts.method,
        parts.uri.path().trim_end_matches('/').to_ascii_lowercase(),
        sha256_hex(&bytes)
    );
    let started = tokio::time::Instant::now();
    loop {
        match state.store.claim_request(tenant, &request_id, &fingerprint).await {
            Ok(Claim::Fresh) => break,
            Ok(Claim::Replay { status, body }) => {
                parts.extensions.insert(Replayed { status, body });
                return next.run(Request::from_parts(parts, Body::from(bytes))).await;
            }
            Ok(Claim::Mismatch) => {
                return PcError::bad_input(format!(
                    "The MS-RequestId {request_id} was already used for a different request."
                ))
                .into_response();
            }
            Ok(Claim::InFlight) if started.elapsed() < WAIT_FOR_FIRST => tokio::time::sleep(POLL).await,
            Ok(Claim::InFlight) => return PcError::busy().into_response(),
            Err(e) => return PcError::from(e).into_response(),
        }
    }
    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let kept = if parts.status.is_server_error() {
        state.store.release_request(tenant, &request_id).await
    } else {
        let text = String::from_utf8_lossy(&bytes);
        state
            .store
            .complete_request(tenant, &request_id, parts.status.as_u16(), &text)
            .await
    };
    if let Err(e) = kept {
        tracing::warn!(error = %e, request_id, "could not record the answer for replays");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Whose replays a request shares: the signed-in user's, or the app's for an app-only token.
fn caller_key(p: &Principal) -> String {
    match &p.caller {
        Caller::User { user, .. } => format!("user:{user}"),
        Caller::App { app, .. } => format!("app:{app}"),
    }
}

/// The stored answer, as it was first sent.
pub fn answer(r: &Replayed) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    if r.body.is_empty() {
        return status.into_response();
    }
    let mut resp = (status, r.body.clone()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(super::JSON_CONTENT_TYPE),
    );
    resp
}
