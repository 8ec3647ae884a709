//! The Partner Center REST v1 surface under `/v1`: customers, customer users, their licenses and
//! license updates, and subscribed SKUs, over the same state as Graph.
//! Spec: `spec/partner-center-licensing.md`; the decisions are in `docs/compat/partner-center.md`.

pub mod access;
pub mod body;
pub mod customers;
pub mod error;
pub mod licenses;
pub mod replay;
pub mod users;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::state::AppState;

pub static MS_REQUEST_ID: HeaderName = HeaderName::from_static("ms-requestid");
pub static MS_CORRELATION_ID: HeaderName = HeaderName::from_static("ms-correlationid");
pub static MS_CONTINUATION_TOKEN: HeaderName = HeaderName::from_static("ms-continuationtoken");

/// Partner Center's response content type.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The ids of the request being served.
#[derive(Debug, Clone)]
pub struct PcContext {
    pub request_id: String,
    pub correlation_id: String,
}

tokio::task_local! {
    static PC_REQUEST: PcContext;
}

#[must_use]
pub fn current() -> Option<PcContext> {
    PC_REQUEST.try_with(Clone::clone).ok()
}

fn header_id(req: &Request, name: &HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
}

/// Echoes `MS-RequestId` and `MS-CorrelationId` (generating them when absent) on every response.
pub async fn ids_middleware(req: Request, next: Next) -> Response {
    let ctx = PcContext {
        request_id: header_id(&req, &MS_REQUEST_ID).unwrap_or_else(|| Uuid::new_v4().to_string()),
        correlation_id: header_id(&req, &MS_CORRELATION_ID).unwrap_or_else(|| Uuid::new_v4().to_string()),
    };
    let mut resp = PC_REQUEST.scope(ctx.clone(), next.run(req)).await;
    let h = resp.headers_mut();
    for (name, value) in [
        (&MS_REQUEST_ID, &ctx.request_id),
        (&MS_CORRELATION_ID, &ctx.correlation_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    }
    resp
}

/// A JSON response with Partner Center's content type.
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut resp = (status, serde_json::to_vec(v).unwrap_or_default()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    resp
}

/// A `Link` (`{"uri","method","headers"}`), relative to `/v1` as the SDK expects.
#[must_use]
pub fn link(uri: &str, headers: &[(&str, &str)]) -> Value {
    json!({
        "uri": uri,
        "method": "GET",
        "headers": headers.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
    })
}

/// `{"objectType": ...}`.
#[must_use]
pub fn attributes(object_type: &str) -> Value {
    json!({ "objectType": object_type })
}

/// A plain `ResourceCollection` (licenses, SKUs, roles: no links).
#[must_use]
pub fn collection(items: Vec<Value>) -> Value {
    json!({
        "totalCount": items.len(),
        "items": items,
        "attributes": attributes("Collection"),
    })
}

/// Registers `path` and `path/` (the SDK sends some paths with a trailing slash).
fn both(router: Router<AppState>, path: &str, method: MethodRouter<AppState>) -> Router<AppState> {
    router
        .route(path, method.clone())
        .route(&format!("{path}/"), method)
}

/// The Partner Center routes (mounted at `/v1` by the app).
pub fn router(state: AppState) -> Router<AppState> {
    let mut r = Router::new();
    r = both(r, "/customers", get(customers::list_customers));
    r = both(r, "/customers/{cid}", get(customers::get_customer));
    r = both(
        r,
        "/customers/{cid}/users",
        get(users::list_users).post(users::create_user),
    );
    r = both(
        r,
        "/customers/{cid}/users/{uid}",
        get(users::get_user)
            .patch(users::patch_user)
            .delete(users::delete_user),
    );
    r = both(
        r,
        "/customers/{cid}/users/{uid}/licenses",
        get(licenses::list_licenses),
    );
    r = both(
        r,
        "/customers/{cid}/users/{uid}/licenseupdates",
        post(licenses::update_licenses),
    );
    r = both(
        r,
        "/customers/{cid}/users/{uid}/directoryroles",
        get(users::list_directory_roles),
    );
    r = both(
        r,
        "/customers/{cid}/subscribedskus",
        get(licenses::list_subscribed_skus),
    );
    r.fallback(unknown_path)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            replay::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::throttle::partner_center,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a Partner Center handler panicked");
                error::PcError::internal().into_response()
            },
        ))
        .layer(axum::middleware::map_response(error::bodies_for_bare_errors))
        .layer(axum::middleware::from_fn(ids_middleware))
}

async fn unknown_path() -> error::PcError {
    error::PcError::not_found()
}

// ---- query strings and seek paging -------------------------------------------------------------

/// The query string's pairs, in order (repeated keys kept).
#[must_use]
pub fn query_pairs(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The first value of parameter `name` (any case: the SDK and the REST reference differ).
#[must_use]
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Default and largest page of a seek collection. `size=0` (the SDK's "simple" query) means
/// the default.
pub const DEFAULT_PAGE: i64 = 500;
pub const MAX_PAGE: i64 = 500;

pub fn page_size(pairs: &[(String, String)]) -> error::PcResult<i64> {
    match param(pairs, "size") {
        None => Ok(DEFAULT_PAGE),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(0) => Ok(DEFAULT_PAGE),
            Ok(n) if n > 0 => Ok(n.min(MAX_PAGE)),
            _ => Err(error::PcError::bad_input(format!(
                "The size '{s}' is not valid: give a number from 1 to {MAX_PAGE}."
            ))),
        },
    }
}

/// An opaque continuation token: the cursor state as base64url JSON.
#[must_use]
pub fn encode_token(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap_or_default())
}

fn decode_token(s: &str) -> error::PcResult<Value> {
    use base64::Engine as _;
    let bad = || error::PcError::bad_input("The continuation token is not valid.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim())
        .map_err(|_| bad())?;
    match serde_json::from_slice::<Value>(&bytes) {
        // A token is ours, but a client can forge one: its text obeys the rule of every input.
        Ok(v @ Value::Object(_)) if allot_core::text::unstorable_in(&v).is_none() => Ok(v),
        _ => Err(bad()),
    }
}

/// The cursor of a seek request: `seekOperation=Next` with the `MS-ContinuationToken` header
/// continues; no seek operation (or `First`) starts over.
pub fn seek(pairs: &[(String, String)], headers: &axum::http::HeaderMap) -> error::PcResult<Option<Value>> {
    let token = headers
        .get(&MS_CONTINUATION_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty());
    match param(pairs, "seekOperation")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => token.map(decode_token).transpose(),
        Some("first") => Ok(None),
        Some("next") => match token {
            Some(t) => decode_token(t).map(Some),
            None => Err(error::PcError::bad_input(
                "seekOperation=Next needs the MS-ContinuationToken header.",
            )),
        },
        Some("previous" | "last" | "pageindex") => Err(error::PcError::bad_input(
            "Only the Next and First seek operations are supported.",
        )),
        Some(_) => Err(error::PcError::bad_enum(
            "seekOperation",
            param(pairs, "seekOperation").unwrap_or_default(),
        )),
    }
}

/// A seek-based collection page: `continuationToken` and `links.next` only when more follows.
#[must_use]
pub fn seek_collection(items: Vec<Value>, self_uri: &str, next: Option<(String, String)>) -> Value {
    let mut links = json!({ "self": link(self_uri, &[]) });
    let mut v = json!({ "totalCount": items.len(), "items": items });
    if let Some((next_uri, token)) = next {
        links["next"] = link(&next_uri, &[("MS-ContinuationToken", &token)]);
        v["continuationToken"] = json!(token);
    }
    v["links"] = links;
    v["attributes"] = attributes("Collection");
    v
}
