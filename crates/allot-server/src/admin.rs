//! Allot's own admin API under `/_allot/`: create tenants from a tenant file, reset a tenant to
//! its seed, read and change subscription units. Guarded by the admin key (`Authorization:
//! Bearer <key>` or `x-allot-admin-key`), and answering loopback clients only unless
//! `--admin-remote` is set. Errors are `{"error":{"code","message"}}`.

use std::net::SocketAddr;

use allot_core::ids::SubscriptionId;
use allot_core::secret::verify_secret;
use allot_core::tenant_file::TenantFile;
use allot_store::StoreError;
use allot_store::group_licensing::ProcessingMode;
use allot_store::records::{Subscription, Tenant};
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list_tenants).post(create_tenants))
        .route("/tenants/{tenant}/reset", post(reset_tenant))
        .route("/tenants/{tenant}/subscriptions", get(list_subscriptions))
        .route("/tenants/{tenant}/subscriptions/{id}", patch(update_subscription))
        .route("/processing", get(get_processing).put(set_processing))
        .route("/processing/run", post(run_processing))
        .route(
            "/tenants/{tenant}/processing",
            get(get_tenant_processing).put(set_tenant_processing),
        )
        .route(
            "/tenants/{tenant}/throttle",
            get(get_throttle).put(set_throttle).delete(clear_throttle),
        )
}

#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (
            self.0,
            axum::Json(json!({"error": {"code": self.1, "message": self.2}})),
        )
            .into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self(StatusCode::NOT_FOUND, "notFound", "No such object.".into()),
            StoreError::Invalid(m) => Self(StatusCode::BAD_REQUEST, "invalidTenantFile", m),
            StoreError::Conflict(m) => Self(StatusCode::CONFLICT, "conflict", m),
            other => {
                tracing::error!(error = %other, "admin API storage failure");
                Self(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "An internal error occurred.".into(),
                )
            }
        }
    }
}

/// Proof that the caller presented the admin key from an allowed address.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        if !state.config.admin_remote && !peer.is_some_and(|p| p.ip().is_loopback()) {
            return Err(AdminError(
                StatusCode::FORBIDDEN,
                "forbidden",
                "The admin API answers loopback clients only.".into(),
            ));
        }
        let key = parts
            .headers
            .get("x-allot-admin-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
                let (scheme, token) = v.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            });
        match key {
            Some(k) if verify_secret("allot-admin", &k, &state.admin_key_hash) => Ok(Self),
            Some(_) => Err(AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The admin key is not valid.".into(),
            )),
            None => Err(AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The admin key is missing.".into(),
            )),
        }
    }
}

fn tenant_json(t: &Tenant) -> Value {
    json!({"id": t.id, "displayName": t.display_name, "defaultDomain": t.default_domain, "country": t.country})
}

async fn tenant(state: &AppState, key: &str) -> Result<Tenant, AdminError> {
    state
        .store
        .find_tenant(key)
        .await?
        .ok_or_else(|| AdminError(StatusCode::NOT_FOUND, "notFound", format!("No tenant '{key}'.")))
}

/// # `GET /_allot/tenants`
pub async fn list_tenants(_: Admin, State(state): State<AppState>) -> Result<Response, AdminError> {
    let tenants = state.store.tenants().await?;
    Ok(axum::Json(json!({"value": tenants.iter().map(tenant_json).collect::<Vec<_>>()})).into_response())
}

/// # `POST /_allot/tenants`
/// Body: a tenant file (YAML or JSON). Creates or updates every tenant in it (idempotent).
pub async fn create_tenants(
    _: Admin,
    State(state): State<AppState>,
    body: String,
) -> Result<Response, AdminError> {
    let file = TenantFile::parse(&body)
        .map_err(|e| AdminError(StatusCode::BAD_REQUEST, "invalidTenantFile", e.to_string()))?;
    let report = state.store.apply_tenant_file(&file).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(report))).into_response())
}

/// # `POST /_allot/tenants/{tenant}/reset`
/// Deletes everything in the tenant and applies its seed again.
pub async fn reset_tenant(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    let report = state.store.reset_tenant(t.id).await?;
    Ok(axum::Json(json!(report)).into_response())
}

fn subscription_json(s: &Subscription) -> Value {
    json!({
        "id": s.id,
        "skuId": s.sku_id,
        "enabled": s.enabled,
        "warning": s.warning,
        "suspended": s.suspended,
        "lockedOut": s.locked_out,
    })
}

/// # `GET /_allot/tenants/{tenant}/subscriptions`
pub async fn list_subscriptions(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    let subs = state.store.subscriptions(t.id).await?;
    Ok(axum::Json(json!({"value": subs.iter().map(subscription_json).collect::<Vec<_>>()})).into_response())
}

/// # `PATCH /_allot/tenants/{tenant}/subscriptions/{id}`
/// Body: any of `enabled`, `warning`, `suspended`, `lockedOut` (non-negative integers).
/// Lowering units below what is consumed is allowed (as when a subscription lapses): existing
/// assignments stay, new ones are refused until units free up.
pub async fn update_subscription(
    _: Admin,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    body: String,
) -> Result<Response, AdminError> {
    let bad = |m: String| AdminError(StatusCode::BAD_REQUEST, "badRequest", m);
    let t = tenant(&state, &key).await?;
    let id = SubscriptionId::parse(&id).map_err(|e| bad(e.to_string()))?;
    let mut sub = state.store.subscription(t.id, id).await?.ok_or_else(|| {
        AdminError(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("No subscription '{id}'."),
        )
    })?;
    let Ok(Value::Object(b)) = serde_json::from_str::<Value>(&body) else {
        return Err(bad("The body must be a JSON object.".into()));
    };
    for (k, v) in &b {
        let n = v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad(format!("'{k}' must be a non-negative integer.")))?;
        match k.as_str() {
            "enabled" => sub.enabled = n,
            "warning" => sub.warning = n,
            "suspended" => sub.suspended = n,
            "lockedOut" => sub.locked_out = n,
            other => return Err(bad(format!("Unknown property '{other}'."))),
        }
    }
    // Units raised: waiting members are seated (or queued for the worker, by processing mode).
    state.operations.update_subscription(&sub).await?;
    Ok(axum::Json(subscription_json(&sub)).into_response())
}

fn mode_from_body(body: &str, allow_null: bool) -> Result<Option<ProcessingMode>, AdminError> {
    let bad = |m: &str| AdminError(StatusCode::BAD_REQUEST, "badRequest", m.to_owned());
    let Ok(Value::Object(b)) = serde_json::from_str::<Value>(body) else {
        return Err(bad("The body must be a JSON object with 'mode'."));
    };
    match b.get("mode") {
        Some(Value::Null) if allow_null => Ok(None),
        Some(Value::String(m)) => ProcessingMode::parse(m)
            .map(Some)
            .ok_or_else(|| bad("'mode' must be async, sync or manual.")),
        _ => Err(bad("'mode' must be async, sync or manual.")),
    }
}

/// # `GET /_allot/processing`
/// The server-wide processing mode and how many licensing jobs are pending.
pub async fn get_processing(_: Admin, State(state): State<AppState>) -> Result<Response, AdminError> {
    let mode = state.store.default_processing_mode().await?;
    let pending = state.store.pending_jobs(None).await?;
    Ok(axum::Json(json!({"mode": mode.as_str(), "pendingJobs": pending})).into_response())
}

/// # `PUT /_allot/processing`
/// Body `{"mode": "async" | "sync" | "manual"}`: the default of every tenant without its own.
pub async fn set_processing(
    _: Admin,
    State(state): State<AppState>,
    body: String,
) -> Result<Response, AdminError> {
    let mode = mode_from_body(&body, false)?.unwrap_or(ProcessingMode::Async);
    state.store.set_default_processing_mode(mode).await?;
    state.worker.wake();
    Ok(axum::Json(json!({"mode": mode.as_str()})).into_response())
}

/// # `GET /_allot/tenants/{tenant}/processing`
pub async fn get_tenant_processing(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    let mode = state.store.processing_mode(t.id).await?;
    let pending = state.store.pending_jobs(Some(t.id)).await?;
    Ok(axum::Json(json!({"mode": mode.as_str(), "pendingJobs": pending})).into_response())
}

/// # `PUT /_allot/tenants/{tenant}/processing`
/// Body `{"mode": "async" | "sync" | "manual" | null}` (`null`: follow the server default).
pub async fn set_tenant_processing(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: String,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    let mode = mode_from_body(&body, true)?;
    state.store.set_tenant_processing_mode(t.id, mode).await?;
    state.worker.wake();
    let effective = state.store.processing_mode(t.id).await?;
    Ok(axum::Json(json!({"mode": effective.as_str()})).into_response())
}

/// # `POST /_allot/processing/run`
/// Runs every pending licensing job now (of one tenant with `?tenant=ID-or-domain`), manual-mode
/// tenants included, and answers when they are done.
pub async fn run_processing(
    _: Admin,
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, AdminError> {
    let tenant_key = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "tenant")
            .map(|(_, v)| v.into_owned())
    });
    let tenant_id = match tenant_key {
        Some(k) => Some(tenant(&state, &k).await?.id),
        None => None,
    };
    let ran = state.worker.drain(tenant_id, true).await?;
    let pending = state.store.pending_jobs(tenant_id).await?;
    Ok(axum::Json(json!({"jobsRun": ran, "pendingJobs": pending})).into_response())
}

/// # `GET /_allot/tenants/{tenant}/throttle`
pub async fn get_throttle(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    let (requests, secs) = state.throttles.get(t.id);
    Ok(axum::Json(json!({"requests": requests, "retryAfterSeconds": secs})).into_response())
}

/// # `PUT /_allot/tenants/{tenant}/throttle`
/// `{"requests": N, "retryAfterSeconds": S}`: the tenant's next N Graph or Partner Center
/// requests (on this node) answer 429 with `Retry-After: S` (default 1).
pub async fn set_throttle(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: String,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    let bad = |m: &str| AdminError(StatusCode::BAD_REQUEST, "invalidRequest", m.to_owned());
    let v: Value = serde_json::from_str(&body).map_err(|_| bad("The body must be a JSON object."))?;
    let requests = v["requests"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad("requests must be a whole number."))?;
    let secs = match &v["retryAfterSeconds"] {
        Value::Null => 1,
        n => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=3600).contains(n))
            .ok_or_else(|| bad("retryAfterSeconds must be from 1 to 3600."))?,
    };
    state.throttles.set(t.id, requests, secs);
    Ok(axum::Json(json!({"requests": requests, "retryAfterSeconds": secs})).into_response())
}

/// # `DELETE /_allot/tenants/{tenant}/throttle`
pub async fn clear_throttle(
    _: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let t = tenant(&state, &key).await?;
    state.throttles.set(t.id, 0, 0);
    Ok(StatusCode::NO_CONTENT.into_response())
}
