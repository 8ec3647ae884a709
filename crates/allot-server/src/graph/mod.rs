//! The Microsoft Graph surface, served under `/v1.0` and `/beta` with the same routes.
//! <https://learn.microsoft.com/en-us/graph/api/overview>

pub mod audit;
pub mod batch;
pub mod body;
pub mod cloud_licensing;
pub mod deleted;
pub mod delta;
pub mod error;
pub mod expand;
pub mod extract;
pub mod groups;
pub mod kit;
pub mod licenses;
pub mod perm;
pub mod query;
pub mod render;
pub mod skus;
pub mod users;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::Value;

use crate::context;
use crate::state::AppState;

/// Graph's response content type (clients match the `application/json` prefix).
pub const JSON_CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Which Graph version a request came in on; it shows in `@odata.context` and links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    #[must_use]
    pub const fn segment(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }
}

/// `{base}/{version}/$metadata#{fragment}`.
#[must_use]
pub fn context_url(version: ApiVersion, fragment: &str) -> String {
    format!("{}/{}/$metadata#{fragment}", base_url(), version.segment())
}

/// The base URL of the request being served.
#[must_use]
pub fn base_url() -> String {
    context::current().map_or_else(|| "http://localhost".to_owned(), |c| c.base_url)
}

pub(crate) fn json_body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// A JSON response with Graph's content type and `OData-Version`.
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut resp = (status, json_body(v)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    h.insert("odata-version", HeaderValue::from_static("4.0"));
    resp
}

/// The body of a `/$count` request: the number as `text/plain`.
pub fn count_response(n: i64) -> Response {
    let mut resp = (StatusCode::OK, n.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=utf-8"),
    );
    resp
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The Graph routes (mounted once per version by the app).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(users::list_users).post(users::create_user))
        .route("/users/$count", get(users::count_users))
        // The SDKs call `delta()`; Graph's documentation writes `delta`.
        .route("/users/delta", get(delta::users_delta))
        .route("/users/delta()", get(delta::users_delta))
        .route("/groups/delta", get(delta::groups_delta))
        .route("/groups/delta()", get(delta::groups_delta))
        .route(
            "/users/{id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route("/users/{id}/assignLicense", post(licenses::assign_license))
        .route("/users/{id}/licenseDetails", get(licenses::list_license_details))
        .route(
            "/users/{id}/licenseDetails/{detail}",
            get(licenses::get_license_details),
        )
        .route("/users/{id}/memberOf", get(users::list_member_of))
        .route(
            "/users/{id}/reprocessLicenseAssignment",
            post(users::reprocess_license_assignment),
        )
        // `/me` routes share their handlers with `/users/{id}` (kit::Target tells them apart).
        .route("/me", get(users::get_user))
        .route("/me/assignLicense", post(licenses::assign_license))
        .route("/me/licenseDetails", get(licenses::list_license_details))
        .route(
            "/me/licenseDetails/getTeamsLicensingDetails",
            get(licenses::teams_licensing_details),
        )
        .route(
            "/me/licenseDetails/getTeamsLicensingDetails()",
            get(licenses::teams_licensing_details),
        )
        .route(
            "/users/{id}/licenseDetails/getTeamsLicensingDetails",
            get(licenses::teams_licensing_details),
        )
        .route(
            "/users/{id}/licenseDetails/getTeamsLicensingDetails()",
            get(licenses::teams_licensing_details),
        )
        .route("/me/memberOf", get(users::list_member_of))
        .route("/groups", get(groups::list_groups).post(groups::create_group))
        .route("/groups/$count", get(groups::count_groups))
        .route(
            "/groups/{id}",
            get(groups::get_group)
                .patch(groups::update_group)
                .delete(groups::delete_group),
        )
        .route("/groups/{id}/members", get(groups::list_members))
        .route("/groups/{id}/members/$count", get(groups::count_members))
        .route("/groups/{id}/assignLicense", post(groups::assign_license))
        .route(
            "/groups/{id}/membersWithLicenseErrors",
            get(groups::list_members_with_license_errors),
        )
        .route("/groups/{id}/members/$ref", post(groups::add_member_ref))
        .route(
            "/groups/{id}/members/{member}/$ref",
            delete(groups::remove_member_ref),
        )
        .route(
            "/directory/deletedItems/{item}",
            get(deleted::get_deleted).delete(deleted::purge),
        )
        .route("/directory/deletedItems/{id}/restore", post(deleted::restore))
        .route("/auditLogs/directoryAudits", get(audit::list_directory_audits))
        .route("/auditLogs/directoryAudits/{id}", get(audit::get_directory_audit))
        .route("/subscribedSkus", get(skus::list_subscribed_skus))
        .route("/subscribedSkus/{id}", get(skus::get_subscribed_sku))
}
