//! Extractors whose rejections are Graph errors: the caller (from the bearer token) and JSON
//! bodies (content type, size limit, syntax).

use allot_core::ids::UserId;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::error::GraphError;
use crate::auth::tokens::{Caller, GRAPH_RESOURCE, Principal, TokenError};
use crate::state::AppState;

/// The authenticated caller of a Graph request.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let principal = state.tokens.validate(token, GRAPH_RESOURCE)?;
        principal.check_session(&state.store).await??;
        Ok(Self(principal))
    }
}

/// The bearer token of the request (401 when absent or not a bearer token).
pub fn bearer(parts: &Parts) -> Result<&str, GraphError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(TokenError::Missing.into());
    };
    let value = value
        .to_str()
        .map_err(|_| GraphError::from(TokenError::Malformed))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| GraphError::from(TokenError::Malformed))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Malformed.into());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing.into());
    }
    Ok(token)
}

impl Auth {
    /// The signed-in user of a delegated call (`/me`); app-only calls are refused as Graph does.
    pub fn me(&self) -> Result<UserId, GraphError> {
        match &self.0.caller {
            Caller::User { user, .. } => Ok(*user),
            Caller::App { .. } => Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.",
            )),
        }
    }
}

/// A JSON object body. Refuses a wrong content type (415), an oversized body (413) and anything
/// that is not a JSON object (400), with Graph's error body.
#[derive(Debug, Clone)]
pub struct JsonObject(pub Map<String, Value>);

pub const UNREADABLE_JSON: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";

impl FromRequest<AppState> for JsonObject {
    type Rejection = GraphError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(GraphError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("Content-Type '{content_type}' is not supported: send application/json."),
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), state.config.max_body_bytes)
            .await
            .map_err(|_| {
                GraphError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    format!(
                        "The request body exceeds the limit of {} bytes.",
                        state.config.max_body_bytes
                    ),
                )
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            // Text no backend can store is refused before anything reads the body.
            Ok(v) if let Some(path) = allot_core::text::unstorable_in(&v) => Err(super::body::invalid_value(
                path.first().map_or("", String::as_str),
                "object",
            )),
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) | Err(_) => Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                UNREADABLE_JSON,
            )),
        }
    }
}
