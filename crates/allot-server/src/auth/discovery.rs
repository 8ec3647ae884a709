//! Discovery: the OpenID configuration per tenant (and for `organizations`/`common`), the signing
//! keys, and MSAL's instance discovery.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::keys;
use super::oauth::{OAuthError, find_tenant, form_pairs};
use crate::state::AppState;
use allot_store::records::Tenant;

pub(super) async fn discovery_tenant(state: &AppState, key: &str) -> Result<Tenant, OAuthError> {
    find_tenant(&state.store, key)
        .await?
        .ok_or_else(|| OAuthError::tenant_not_found(key))
}

/// The multi-tenant authorities: the tenant is the signed-in user's (or the app's home tenant).
pub(super) fn multi_tenant(key: &str) -> bool {
    ["common", "organizations"].contains(&key.to_ascii_lowercase().as_str())
}

/// # `GET /{tenant}/v2.0/.well-known/openid-configuration`
/// Per tenant (id or domain), and for `organizations` and `common` (issuer with `{tenantid}`, as
/// Entra's). The endpoints are on the host and scheme the client used (an HTTPS authority gets
/// HTTPS endpoints); the issuer is the one tokens carry.
pub async fn openid_configuration(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    let (segment, issuer) = if multi_tenant(&key) {
        let issuer = format!("{}/{{tenantid}}/v2.0", state.tokens.issuer_base());
        (key.to_ascii_lowercase(), issuer)
    } else {
        match discovery_tenant(&state, &key).await {
            Ok(t) => (t.id.to_string(), state.tokens.issuer(t.id)),
            Err(e) => return e.into_response(),
        }
    };
    let base = crate::graph::base_url();
    let t = segment;
    let doc = json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
        "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/devicecode"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
        "grant_types_supported": ["authorization_code", "client_credentials", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["aud", "iss", "iat", "nbf", "exp", "tid", "oid", "sub", "appid", "roles", "scp", "wids", "upn", "name"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "allot",
    });
    (StatusCode::OK, axum::Json(doc)).into_response()
}

/// # `GET /common/discovery/instance?authorization_endpoint=…`
/// Instance discovery, as MSAL asks it: where the authority's tenant discovery document is, and
/// the host's aliases (only itself). MSAL calls it on Microsoft's host for an authority it does not
/// know, so clients turn it off (docs/compat/identity.md); it answers here for clients that reach
/// Allot under Microsoft's names.
pub async fn instance_discovery(req: Request) -> Response {
    let pairs = form_pairs(req.uri().query().unwrap_or_default().as_bytes());
    let endpoint = pairs
        .iter()
        .find(|(k, _)| k == "authorization_endpoint")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    // https://host[:port]/{tenant}/oauth2/v2.0/authorize
    let Some((scheme_host, path)) = endpoint
        .strip_prefix("https://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(host, path)| (format!("https://{host}"), path))
    else {
        return OAuthError::bad("invalid_instance", 50049, "Unknown or invalid instance.").into_response();
    };
    let tenant = path.split('/').next().unwrap_or("common");
    let host = scheme_host.trim_start_matches("https://").to_owned();
    let doc = json!({
        "tenant_discovery_endpoint": format!("{scheme_host}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    });
    (StatusCode::OK, axum::Json(doc)).into_response()
}

/// # `GET /{tenant}/discovery/v2.0/keys`
/// The public keys of every signing key (the same for all tenants).
pub async fn jwks(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    if !multi_tenant(&key)
        && let Err(e) = discovery_tenant(&state, &key).await
    {
        return e.into_response();
    }
    (StatusCode::OK, axum::Json(keys::jwks(state.tokens.keys()))).into_response()
}
