//! The Partner Center error renderer: every failure under `/v1` (and every rejection, 404, 405,
//! oversized body) leaves as `{"code","description","data"?,"source":"PartnerFD"}` with
//! `MS-RequestId` and `MS-CorrelationId`, and `Retry-After` on 429 and 503 (spec §5).

use allot_core::licensing::LicenseError;
use allot_store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::tokens::TokenError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcError {
    pub status: StatusCode,
    pub code: u32,
    pub description: String,
    pub data: Vec<String>,
    /// The stored first answer of a replayed `MS-RequestId`, sent instead of an error body
    /// (see `replay.rs`: a replay leaves through the handler's authorization, as this).
    pub replay: Option<Replayed>,
}

/// The first answer to a request whose `MS-RequestId` the same caller sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub status: u16,
    pub body: String,
}

pub type PcResult<T> = Result<T, PcError>;

/// Partner Center caps descriptions at 1024 characters.
const MAX_DESCRIPTION: usize = 1024;

impl PcError {
    pub fn new(status: StatusCode, code: u32, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            data: Vec::new(),
            replay: None,
        }
    }

    /// Not an error: the stored first answer of a replayed request, for a caller the handler
    /// has just authorized.
    #[must_use]
    pub fn replayed(r: &Replayed) -> Self {
        Self {
            replay: Some(r.clone()),
            ..Self::new(StatusCode::OK, 0, "")
        }
    }

    #[must_use]
    pub fn with_data(mut self, data: impl Into<String>) -> Self {
        self.data.push(data.into());
        self
    }

    /// 400 / 800002: invalid request input.
    pub fn bad_input(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 800_002, description)
    }

    /// 400 / 900126: an enum value that does not parse.
    pub fn bad_enum(name: &str, value: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            900_126,
            format!("The value '{value}' is not valid for {name}."),
        )
    }

    pub fn invalid_customer_id(id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            900_118,
            format!("The customer id '{id}' is not valid."),
        )
    }

    pub fn customer_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            60003,
            format!("Tenant {id} was not found."),
        )
    }

    pub fn no_relationship(id: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            20002,
            format!("The partner does not have a relationship with the customer {id}."),
        )
    }

    pub fn user_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            60002,
            format!("The user object {id} was not found."),
        )
    }

    /// 403 / 900150: the relationship grants no role that allows the operation.
    pub fn role_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            900_150,
            "The supplied role does not have the rights to perform the requested operation.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            1000,
            "The requested resource was not found.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            800_003,
            "An unexpected error occurred while processing the request.",
        )
    }

    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            800_003,
            "The service is temporarily busy. Please retry the request.",
        )
    }

    /// A licensing refusal. Running out of units is seed 002's 60012; the rest are invalid input
    /// carrying the licensing rule's text.
    pub fn license(e: &LicenseError, customer: &str) -> Self {
        match e {
            LicenseError::NoFreeUnits(sku) => Self::new(
                StatusCode::BAD_REQUEST,
                60012,
                "We are sorry, it looks like you have run out of licenses. Buy more licenses, and then try again.",
            )
            .with_data(format!(
                "LicenseQuotaExceededException : Subscription with Account {customer} and SKU {sku} does not have any available licenses left."
            )),
            other => Self::bad_input(other.to_string()),
        }
    }

    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found(),
            StoreError::Invalid(m) | StoreError::Conflict(m) => Self::bad_input(m),
            StoreError::License(l) => Self::bad_input(l.to_string()),
            StoreError::GroupLicense(l) => Self::bad_input(l.to_string()),
            StoreError::Busy(_) => Self::busy(),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::internal()
            }
        }
    }

    /// A refused token: 401 with the code Partner Center uses for it (spec §5.4).
    pub fn token(e: &TokenError) -> Self {
        match e {
            TokenError::Missing => Self::new(
                StatusCode::UNAUTHORIZED,
                800_001,
                "The partner token is missing from the request context.",
            ),
            TokenError::Audience => Self::new(
                StatusCode::UNAUTHORIZED,
                900_420,
                "The token audience is not valid: request a token for https://api.partnercenter.microsoft.com.",
            ),
            other => Self::new(
                StatusCode::UNAUTHORIZED,
                400,
                format!("Access is denied: {other}"),
            ),
        }
    }

    #[must_use]
    pub fn body(&self) -> Value {
        let mut description = self.description.clone();
        if description.len() > MAX_DESCRIPTION {
            let mut cut = MAX_DESCRIPTION;
            while !description.is_char_boundary(cut) {
                cut -= 1;
            }
            description.truncate(cut);
        }
        let mut v = json!({ "code": self.code, "description": description });
        if !self.data.is_empty() {
            v["data"] = json!(self.data);
        }
        v["source"] = json!("PartnerFD");
        v
    }
}

impl From<StoreError> for PcError {
    fn from(e: StoreError) -> Self {
        Self::from_store(e)
    }
}

impl IntoResponse for PcError {
    fn into_response(self) -> Response {
        if let Some(r) = &self.replay {
            return super::replay::answer(r);
        }
        let mut resp = super::json_response(self.status, &self.body());
        let headers = resp.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE || self.status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Gives the bare errors axum produces under `/v1` (405, 413, 415, unknown paths) Partner
/// Center's error body.
pub async fn bodies_for_bare_errors(resp: Response) -> Response {
    if !crate::app::is_bare_error(&resp) {
        return resp;
    }
    let status = resp.status();
    let err = match status {
        StatusCode::METHOD_NOT_ALLOWED => PcError::new(
            status,
            3000,
            "The HTTP method is not supported for this resource.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => PcError::new(status, 800_002, "The request body is too large."),
        StatusCode::NOT_FOUND => PcError::not_found(),
        s if s.is_server_error() => PcError::internal(),
        s => PcError::new(s, 800_002, "The request is not valid."),
    };
    let mut out = err.into_response();
    for name in [&super::MS_REQUEST_ID, &super::MS_CORRELATION_ID] {
        if let Some(v) = resp.headers().get(name) {
            out.headers_mut().insert(name.clone(), v.clone());
        }
    }
    out
}
