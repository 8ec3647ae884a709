//! The Graph error renderer: every failure on `/v1.0` and `/beta` (and every rejection, 404, 405,
//! oversized or malformed body, panic) leaves as
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
//! Beta `cloudLicensing` errors (spec §3.12) use the same envelope with camelCase codes and a more
//! specific `innerError.code` (plus `propertyName` or `ids` where the case has them).

use std::borrow::Cow;

use allot_store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::tokens::TokenError;
use crate::context;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Extra `innerError` members before `date` (`code`, `propertyName`, `ids`): cloudLicensing.
    pub inner: Vec<(&'static str, serde_json::Value)>,
    /// A 401's `WWW-Authenticate` value when it is more than the plain `invalid_token` (the
    /// continuous-access-evaluation claims challenge).
    pub challenge: Option<String>,
}

pub type GraphResult<T> = Result<T, GraphError>;

impl GraphError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            inner: Vec::new(),
            challenge: None,
        }
    }

    /// A cloudLicensing error: `error.code` and the more specific `innerError.code`.
    pub fn cloud(
        status: StatusCode,
        code: &'static str,
        inner_code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::new(status, code, message);
        e.inner.push(("code", serde_json::Value::from(inner_code)));
        e
    }

    /// Adds an `innerError` member (`propertyName`, `ids`).
    #[must_use]
    pub fn with_inner(mut self, key: &'static str, value: serde_json::Value) -> Self {
        self.inner.push((key, value));
        self
    }

    /// 400 `Request_BadRequest`: the directory's code for invalid requests.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// 404 for an object id or name that is not in the caller's tenant.
    pub fn resource_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    /// 400 for a path segment that must be a GUID and is not.
    pub fn invalid_object_id(id: &str) -> Self {
        Self::bad_request(format!("Invalid object identifier '{id}'."))
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
    }

    pub fn property_not_declared(name: &str) -> Self {
        Self::bad_request(format!(
            "Property '{name}' does not exist as a declared property or extension property."
        ))
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An internal server error occurred.",
        )
    }

    /// A store failure the handler did not map itself.
    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                "Resource not found.",
            ),
            StoreError::License(l) => Self::bad_request(l.to_string()),
            StoreError::GroupLicense(l) => Self::bad_request(l.to_string()),
            StoreError::Invalid(m) | StoreError::Conflict(m) => Self::bad_request(m),
            StoreError::Busy(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily busy. Please retry.",
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::internal()
            }
        }
    }
}

impl From<StoreError> for GraphError {
    fn from(e: StoreError) -> Self {
        Self::from_store(e)
    }
}

/// An OData query the layer refuses, in the directory's wording (`Request_BadRequest`,
/// `Request_UnsupportedQuery`; see docs/compat/odata.md).
impl From<allot_odata::QueryError> for GraphError {
    fn from(e: allot_odata::QueryError) -> Self {
        let g = e.graph(allot_odata::Surface::Directory);
        Self {
            status: StatusCode::from_u16(g.status).unwrap_or(StatusCode::BAD_REQUEST),
            code: Cow::Borrowed(g.code),
            message: g.message,
            inner: Vec::new(),
            challenge: None,
        }
    }
}

impl From<allot_odata::ParseError> for GraphError {
    fn from(e: allot_odata::ParseError) -> Self {
        allot_odata::QueryError::Parse(e).into()
    }
}

impl From<TokenError> for GraphError {
    fn from(e: TokenError) -> Self {
        let mut g = Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            e.to_string(),
        );
        if let TokenError::RevokedChallenge { not_before } = e {
            // Graph's claims challenge: the SDKs ask the credential for a token carrying these
            // claims (one issued after the revocation) and retry once.
            use base64::Engine as _;
            let claims =
                json!({"access_token": {"nbf": {"essential": true, "value": not_before.to_string()}}});
            let claims = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
            g.challenge = Some(format!(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
                 client_id=\"00000003-0000-0000-c000-000000000000\", error=\"insufficient_claims\", claims=\"{claims}\""
            ));
        }
        g
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let ctx = context::current();
        let request_id = ctx.as_ref().map(|c| c.request_id.clone()).unwrap_or_default();
        let client_request_id = ctx
            .as_ref()
            .map(|c| c.client_request_id.clone())
            .unwrap_or_default();
        let mut inner = serde_json::Map::new();
        for (k, v) in self.inner {
            inner.insert(k.to_owned(), v);
        }
        inner.insert(
            "date".into(),
            json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()),
        );
        inner.insert("request-id".into(), json!(request_id));
        inner.insert("client-request-id".into(), json!(client_request_id));
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": inner,
            }
        });
        let mut resp = (self.status, super::json_body(&body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::JSON_CONTENT_TYPE),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = self
                .challenge
                .as_deref()
                .and_then(|c| HeaderValue::from_str(c).ok())
                .unwrap_or_else(|| HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""));
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE || self.status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}
