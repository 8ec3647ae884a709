//! Injected throttling, for testing clients' retry logic: the admin API makes the next N API
//! requests of a tenant answer 429 with `Retry-After`, in the shape of the surface they came in on
//! (Graph's `TooManyRequests` error, or Partner Center's documented
//! `{"statusCode":429,"message":…}` body). Per node and in memory: a test arms it on the node it
//! calls.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use allot_core::ids::TenantId;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::tokens::{GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE};
use crate::graph::error::GraphError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    remaining: u32,
    retry_after_secs: u32,
}

#[derive(Debug, Default)]
pub struct Throttles {
    rules: Mutex<HashMap<TenantId, Rule>>,
    /// Any rule at all: the request path skips the token check when none is armed.
    armed: AtomicBool,
}

impl Throttles {
    /// The next `requests` requests of `tenant` get a 429 asking to wait `retry_after_secs`.
    pub fn set(&self, tenant: TenantId, requests: u32, retry_after_secs: u32) {
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if requests == 0 {
            rules.remove(&tenant);
        } else {
            rules.insert(
                tenant,
                Rule {
                    remaining: requests,
                    retry_after_secs,
                },
            );
        }
        self.armed.store(!rules.is_empty(), Ordering::SeqCst);
    }

    /// The requests still to be refused for `tenant`, and the wait they ask for.
    pub fn get(&self, tenant: TenantId) -> (u32, u32) {
        let rules = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rules
            .get(&tenant)
            .map_or((0, 0), |r| (r.remaining, r.retry_after_secs))
    }

    /// Uses up one refusal of `tenant`, if one is armed: the seconds to ask the client to wait.
    fn take(&self, tenant: TenantId) -> Option<u32> {
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rule = rules.get_mut(&tenant)?;
        let secs = rule.retry_after_secs;
        rule.remaining -= 1;
        if rule.remaining == 0 {
            rules.remove(&tenant);
        }
        self.armed.store(!rules.is_empty(), Ordering::SeqCst);
        Some(secs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Graph,
    PartnerCenter,
}

fn tenant_of(state: &AppState, req: &Request, audience: &str) -> Option<TenantId> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    state
        .tokens
        .validate(token.trim(), audience)
        .ok()
        .map(|p| p.tenant)
}

/// Refuses a Graph request with a 429 when its tenant has a refusal armed.
pub async fn graph(State(state): State<AppState>, req: Request, next: Next) -> Response {
    refuse_or_run(Surface::Graph, &state, req, next).await
}

/// Refuses a Partner Center request with a 429 when its tenant has a refusal armed.
pub async fn partner_center(State(state): State<AppState>, req: Request, next: Next) -> Response {
    refuse_or_run(Surface::PartnerCenter, &state, req, next).await
}

async fn refuse_or_run(surface: Surface, state: &AppState, req: Request, next: Next) -> Response {
    if !state.throttles.armed.load(Ordering::SeqCst) {
        return next.run(req).await;
    }
    let audience = match surface {
        Surface::Graph => GRAPH_RESOURCE,
        Surface::PartnerCenter => PARTNER_CENTER_RESOURCE,
    };
    let Some(secs) = tenant_of(state, &req, audience).and_then(|t| state.throttles.take(t)) else {
        return next.run(req).await;
    };
    too_many(surface, secs)
}

/// A 429 with `Retry-After: secs` in the surface's shape (throttling, and fairness's refusals).
pub fn too_many(surface: Surface, secs: u32) -> Response {
    let mut resp = match surface {
        Surface::Graph => GraphError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!("Too many requests. Retry after {secs} seconds."),
        )
        .into_response(),
        Surface::PartnerCenter => crate::partner::json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({
                "statusCode": 429,
                "message": format!("Rate limit is exceeded. Try again in {secs} seconds."),
            }),
        ),
    };
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}
