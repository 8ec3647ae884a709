//! The web console at `/console/`: static pages embedded in the binary (no front-end build step),
//! signing people in through Allot's own authorization-code flow with PKCE as the tenant's "Allot
//! console" public client, and reading the same Graph API with their token (docs/console.md).

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use crate::state::AppState;

/// The console's files, by name under `/console/`: the page, its style and its ES modules.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        include_str!("../console/app.css"),
        "text/css; charset=utf-8",
    ),
    ("app.js", include_str!("../console/app.js"), JS),
    ("kit.js", include_str!("../console/kit.js"), JS),
    ("products.js", include_str!("../console/products.js"), JS),
    ("users.js", include_str!("../console/users.js"), JS),
    ("groups.js", include_str!("../console/groups.js"), JS),
    ("errors.js", include_str!("../console/errors.js"), JS),
    ("history.js", include_str!("../console/history.js"), JS),
    ("partner.js", include_str!("../console/partner.js"), JS),
    ("emulator.js", include_str!("../console/emulator.js"), JS),
];
const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../console/index.html");

fn page(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The pages load nothing but their own script and style.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    resp
}

/// `/console`, `/console/` and its files; any other name under it is a 404.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route(
            "/console/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route("/console/app", get(console_app))
        .route("/console/{file}", get(file))
}

/// # `GET /console/app?tenant={id or domain}`
/// The client id under which the tenant registered the console: its public client with a
/// `/console/` redirect URI (app ids are unique across tenants, so each tenant has its own).
async fn console_app(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let key = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "tenant")
            .map(|(_, v)| v.into_owned())
    });
    let missing = |m: String| {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": {"code": "notFound", "message": m}})),
        )
            .into_response()
    };
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return missing("Name a tenant: ?tenant=ID-or-domain.".into());
    };
    let tenant = match state.store.find_tenant(&key).await {
        Ok(Some(t)) => t,
        Ok(None) => return missing(format!("No tenant '{key}'.")),
        Err(e) => {
            tracing::error!(error = %e, "console app lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let apps = match state.store.apps(tenant.id).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "console app lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let console = apps
        .iter()
        .find(|a| a.public_client && a.redirect_uris.iter().any(|u| u.ends_with("/console/")));
    match console {
        Some(a) => axum::Json(json!({"clientId": a.client_id})).into_response(),
        None => missing(format!(
            "The tenant '{key}' has not registered the console: add its public client with a /console/ redirect URI (docs/console.md)."
        )),
    }
}

async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, body, kind)) => page(body, kind),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
