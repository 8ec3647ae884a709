//! `POST /{tenant}/oauth2/v2.0/token` (client credentials and password grants),
//! `GET /{tenant}/v2.0/.well-known/openid-configuration`, `GET /{tenant}/discovery/v2.0/keys`.
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>

use allot_core::ids::AppId;
use allot_core::secret::verify_secret;
use allot_store::records::{App, Tenant};
use allot_store::{Store, StoreError};
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use uuid::Uuid;

use super::tokens::{
    GRAPH_APP_ID, GRAPH_RESOURCE, PARTNER_CENTER_APP_ID, PARTNER_CENTER_RESOURCE, TOKEN_LIFETIME_SECS,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(super::discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(super::discovery::jwks))
        .route(
            "/common/discovery/instance",
            get(super::discovery::instance_discovery),
        )
        .merge(super::interactive::router())
}

/// An Entra-style OAuth error (`AADSTS…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl OAuthError {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    pub(super) fn bad(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, code, description)
    }

    pub(super) fn tenant_not_found(t: &str) -> Self {
        Self::bad(
            "invalid_tenant",
            90002,
            format!(
                "Tenant '{t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure in the token endpoint");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            90033,
            "A transient error has occurred. Please try again.",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let trace = crate::context::current().map_or_else(|| Uuid::new_v4().to_string(), |c| c.request_id);
        let correlation = crate::context::current().map_or_else(|| trace.clone(), |c| c.client_request_id);
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}", self.code, self.description),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
        });
        let mut resp = (self.status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp
    }
}

/// The resource a scope string asks for, and the permissions named in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequest {
    pub audience: String,
    /// Empty when the request used `/.default` (everything granted).
    pub scopes: Vec<String>,
    pub default: bool,
    /// `offline_access` was asked for: a user token comes with a refresh token.
    pub offline: bool,
    /// The `claims` parameter declared the `cp1` capability (continuous access evaluation).
    pub cae: bool,
}

const OIDC_SCOPES: &[&str] = &["openid", "profile", "offline_access", "email"];

/// The resource a scope prefix names: Graph or Partner Center (by URI or application id).
fn resource_of(prefix: &str) -> Option<&'static str> {
    let p = prefix.trim_end_matches('/');
    if p.eq_ignore_ascii_case(GRAPH_APP_ID) || p.eq_ignore_ascii_case(GRAPH_RESOURCE) {
        Some(GRAPH_RESOURCE)
    } else if p.eq_ignore_ascii_case(PARTNER_CENTER_APP_ID) || p.eq_ignore_ascii_case(PARTNER_CENTER_RESOURCE)
    {
        Some(PARTNER_CENTER_RESOURCE)
    } else {
        None
    }
}

/// Parses an OAuth v2 `scope` parameter: `https://graph.microsoft.com/.default`,
/// `https://graph.microsoft.com/User.Read`, bare Graph permission names, or the Partner Center
/// API's `https://api.partnercenter.microsoft.com/user_impersonation` (or `/.default`).
pub fn parse_scope(raw: &str) -> Result<ScopeRequest, OAuthError> {
    let mut audience: Option<String> = None;
    let mut scopes = Vec::new();
    let mut default = false;
    let mut offline = false;
    for item in raw.split_whitespace() {
        if OIDC_SCOPES.iter().any(|s| s.eq_ignore_ascii_case(item)) {
            offline |= item.eq_ignore_ascii_case("offline_access");
            continue;
        }
        let (resource, perm) = match item.rsplit_once('/') {
            Some((r, p)) if r.contains("://") || resource_of(r).is_some() => (r.trim_end_matches('/'), p),
            _ => (GRAPH_RESOURCE, item),
        };
        let Some(resource) = resource_of(resource).map(str::to_owned) else {
            return Err(OAuthError::bad(
                "invalid_resource",
                500_011,
                format!("The resource principal named {resource} was not found in the tenant."),
            ));
        };
        if audience.as_ref().is_some_and(|a| *a != resource) {
            return Err(OAuthError::bad(
                "invalid_scope",
                28000,
                "Provided value for the input parameter scope is not valid because it contains more than one resource.",
            ));
        }
        audience = Some(resource);
        if perm == ".default" {
            default = true;
        } else if !perm.is_empty() {
            scopes.push(perm.to_owned());
        }
    }
    if default && !scopes.is_empty() {
        return Err(OAuthError::bad(
            "invalid_scope",
            70011,
            "The provided value for scope is not valid: '.default' cannot be combined with other scopes.",
        ));
    }
    Ok(ScopeRequest {
        audience: audience.unwrap_or_else(|| GRAPH_RESOURCE.to_owned()),
        default: default || scopes.is_empty(),
        scopes,
        offline,
        cae: false,
    })
}

/// The delegated scopes a user token through `app` carries for `req` (AADSTS65001 when one was
/// not granted to the app).
pub fn granted_scopes(app: &App, req: &ScopeRequest) -> Result<Vec<String>, OAuthError> {
    // Each resource has its own scopes; an app's grant lists both kinds in one list.
    let of_resource = |s: &&String| {
        let partner = allot_core::directory::PARTNER_CENTER_SCOPES
            .iter()
            .any(|p| p.eq_ignore_ascii_case(s));
        partner == (req.audience == PARTNER_CENTER_RESOURCE)
    };
    let granted: Vec<&String> = app.delegated_scopes.iter().filter(of_resource).collect();
    if req.default && !(granted.is_empty() && req.audience == PARTNER_CENTER_RESOURCE) {
        return Ok(granted.into_iter().cloned().collect());
    }
    if granted.is_empty() {
        return Err(not_consented(app));
    }
    let mut out = Vec::new();
    for s in &req.scopes {
        let Some(g) = granted.iter().find(|g| g.eq_ignore_ascii_case(s)) else {
            return Err(not_consented(app));
        };
        out.push((*g).clone());
    }
    Ok(out)
}

fn not_consented(app: &App) -> OAuthError {
    OAuthError::bad(
        "invalid_grant",
        65001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
            app.client_id, app.display_name
        ),
    )
}

pub(super) async fn find_tenant(store: &Store, key: &str) -> Result<Option<Tenant>, OAuthError> {
    Ok(store.find_tenant(key).await?)
}

pub(super) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// # `POST /{tenant}/oauth2/v2.0/token`
/// `client_credentials` (app-only: `roles` are the app's application permissions) and
/// `password` (delegated: `scp` the scopes granted to the app, `wids` the user's roles). Client
/// secrets come in the body or as HTTP Basic. `{tenant}` is the tenant id, a domain,
/// `organizations` or `common`.
pub async fn token(State(state): State<AppState>, Path(tenant_key): Path<String>, req: Request) -> Response {
    match issue(&state, &tenant_key, req).await {
        Ok(v) => {
            let mut resp = (StatusCode::OK, serde_json::to_vec(&v).unwrap_or_default()).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache"),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn issue(state: &AppState, tenant_key: &str, req: Request) -> Result<Value, OAuthError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::bad(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'grant_type'.",
        ));
    }
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|_| OAuthError::bad("invalid_request", 90014, "The request body is too large."))?;
    let pairs = form_pairs(&body);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let grant = get("grant_type").ok_or_else(|| {
        OAuthError::bad(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    })?;
    let assertion = match get("client_assertion_type") {
        None => None,
        Some(t) if t == super::assertion::JWT_BEARER => Some(get("client_assertion").ok_or_else(|| {
            OAuthError::bad(
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'client_assertion'.",
            )
        })?),
        Some(other) => {
            return Err(OAuthError::bad(
                "invalid_request",
                700_025,
                format!(
                    "The client assertion type '{other}' is not supported; use '{}'.",
                    super::assertion::JWT_BEARER
                ),
            ));
        }
    };
    let (client_id, client_secret) = match (get("client_id"), basic) {
        (Some(id), _) => (id, get("client_secret")),
        (None, Some((id, secret))) => (id, Some(secret)),
        (None, None) if let Some(iss) = assertion.as_deref().and_then(super::assertion::claimed_client) => {
            (iss, None)
        }
        (None, None) => {
            return Err(OAuthError::bad(
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'client_id'.",
            ));
        }
    };
    let mut scope = parse_scope(&get("scope").unwrap_or_default())?;
    scope.cae = get("claims").as_deref().is_some_and(declares_cp1);
    let (tenant, app) = tenant_and_app(state, tenant_key, &client_id).await?;
    let client = Client {
        secret: client_secret.as_deref(),
        assertion: assertion.as_deref(),
        tenant_key,
    };
    match grant.as_str() {
        "client_credentials" => {
            client.authenticate(state, &app, &tenant).await?;
            if !scope.default {
                return Err(OAuthError::bad(
                    "invalid_scope",
                    1_002_012,
                    "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                ));
            }
            let token = state
                .tokens
                .mint_app(&app, &scope.audience, scope.cae)
                .map_err(|_| signing_failed())?;
            Ok(token_body(&token, None))
        }
        "password" => {
            // Every Allot app is a confidential client (it has a secret): it authenticates on
            // every grant, as Entra requires of confidential clients.
            client.authenticate(state, &app, &tenant).await?;
            let username = get("username").unwrap_or_default();
            let password = get("password").unwrap_or_default();
            let user = signed_in(state, &tenant, &username, &password).await?;
            user_token(state, &app, &user, &scope, scope.offline)
        }
        "refresh_token" => {
            // The secure application model: a partner app trades its refresh token for access
            // tokens of any resource it is granted (Graph or Partner Center). Allot's apps are
            // confidential clients (each has a secret): the secret comes with every redemption. A
            // public client (the console, a native app) redeems without one, as in Entra.
            client.authenticate_unless_public(state, &app, &tenant).await?;
            let raw = get("refresh_token").ok_or_else(|| {
                OAuthError::bad(
                    "invalid_request",
                    900_144,
                    "The request body must contain the following parameter: 'refresh_token'.",
                )
            })?;
            let bad_token = || {
                OAuthError::bad(
                    "invalid_grant",
                    9_002_313,
                    "Invalid request. Request is malformed or invalid.",
                )
            };
            let (tid, uid, issued_to, issued_at) = match state.tokens.validate_refresh(&raw) {
                Ok(v) => v,
                Err(super::tokens::TokenError::Expired) => {
                    return Err(OAuthError::bad(
                        "invalid_grant",
                        700_082,
                        "The refresh token has expired due to inactivity.",
                    ));
                }
                Err(_) => return Err(bad_token()),
            };
            if tid != tenant.id || issued_to != app.client_id {
                return Err(OAuthError::bad(
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed: the refresh token was issued to another client or tenant.",
                ));
            }
            let Some(user) = state.store.user(tid, uid).await? else {
                return Err(bad_token());
            };
            if !user.account_enabled {
                return Err(OAuthError::bad(
                    "invalid_grant",
                    50057,
                    "The user account is disabled.",
                ));
            }
            // A new password, a disable or a delete and restore since the token was issued.
            let valid_from = state
                .store
                .user_session(tid, uid)
                .await?
                .map_or(i64::MAX, |(_, from)| from);
            if issued_at < valid_from {
                return Err(OAuthError::bad(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                ));
            }
            user_token(state, &app, &user, &scope, true)
        }
        "authorization_code" => {
            super::interactive::redeem_code(state, &app, &tenant, &client, &pairs, &scope).await
        }
        super::interactive::DEVICE_CODE_GRANT => {
            super::interactive::redeem_device(state, &app, &tenant, &client, &pairs, &scope).await
        }
        other => Err(OAuthError::bad(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// The tenant a token or sign-in request is for and the app it names: `{tenant}` is an id or
/// domain, or `common`/`organizations` (the app's own tenant).
pub(super) async fn tenant_and_app(
    state: &AppState,
    tenant_key: &str,
    client_id: &str,
) -> Result<(Tenant, App), OAuthError> {
    let app_id = AppId::parse(client_id).map_err(|_| {
        OAuthError::bad(
            "unauthorized_client",
            700_016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        )
    })?;
    let app = state.store.app(app_id).await?;
    let tenant = if super::discovery::multi_tenant(tenant_key) {
        match &app {
            Some(a) => state.store.tenant(a.tenant_id).await?,
            None => None,
        }
    } else {
        find_tenant(&state.store, tenant_key).await?
    };
    let Some(tenant) = tenant else {
        return Err(OAuthError::tenant_not_found(tenant_key));
    };
    let Some(app) = app.filter(|a| a.tenant_id == tenant.id) else {
        return Err(OAuthError::bad(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                tenant.default_domain
            ),
        ));
    };
    Ok((tenant, app))
}

/// The enabled user of `tenant` whose UPN and password these are (AADSTS50126, 50057).
pub(super) async fn signed_in(
    state: &AppState,
    tenant: &Tenant,
    username: &str,
    password: &str,
) -> Result<allot_store::records::User, OAuthError> {
    let user = state.store.user_by_upn(tenant.id, username).await?;
    let Some(user) = user.filter(|u| {
        u.password_hash
            .as_deref()
            .is_some_and(|h| verify_secret(&u.id.to_string(), password, h))
    }) else {
        return Err(OAuthError::bad(
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        ));
    };
    if !user.account_enabled {
        return Err(OAuthError::bad(
            "invalid_grant",
            50057,
            "The user account is disabled.",
        ));
    }
    Ok(user)
}

/// How a client proved who it is: its secret, or a client assertion (certificate credentials).
pub(super) struct Client<'a> {
    secret: Option<&'a str>,
    assertion: Option<&'a str>,
    tenant_key: &'a str,
}

impl Client<'_> {
    /// Interactive grants of a public client need no credential; anything else authenticates.
    pub(super) async fn authenticate_unless_public(
        &self,
        state: &AppState,
        app: &App,
        tenant: &Tenant,
    ) -> Result<(), OAuthError> {
        if app.public_client && self.secret.is_none() && self.assertion.is_none() {
            return Ok(());
        }
        self.authenticate(state, app, tenant).await
    }

    /// Every grant authenticates the client (every Allot app is a confidential client).
    async fn authenticate(&self, state: &AppState, app: &App, tenant: &Tenant) -> Result<(), OAuthError> {
        match (self.assertion, self.secret) {
            (Some(a), _) => super::assertion::verify(state, app, tenant, self.tenant_key, a).await,
            (None, Some(s)) if verify_secret(&app.client_id.to_string(), s, &app.secret_hash) => Ok(()),
            (None, Some(_)) => Err(invalid_secret(app)),
            (None, None) => Err(missing_client_secret()),
        }
    }
}

/// Whether a `claims` request parameter (JSON) declares the `cp1` client capability:
/// `{"access_token":{"xms_cc":{"values":["cp1"]}}}`, as MSAL and azure-identity send it.
fn declares_cp1(claims: &str) -> bool {
    serde_json::from_str::<Value>(claims).is_ok_and(|v| {
        v["access_token"]["xms_cc"]["values"].as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("cp1")))
        })
    })
}

/// AADSTS7000218: a confidential client's grant without its credential.
fn missing_client_secret() -> OAuthError {
    OAuthError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7_000_218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
}

/// The token response of a delegated grant: an access token with the scopes granted for the
/// requested resource, and a refresh token when asked for.
pub(super) fn user_token(
    state: &AppState,
    app: &App,
    user: &allot_store::records::User,
    scope: &ScopeRequest,
    with_refresh: bool,
) -> Result<Value, OAuthError> {
    let scopes = granted_scopes(app, scope)?;
    let token = state
        .tokens
        .mint_user(app, user, &scopes, &scope.audience, scope.cae)
        .map_err(|_| signing_failed())?;
    let mut body = token_body(&token, Some((&scope.audience, &scopes)));
    if with_refresh {
        let refresh = state
            .tokens
            .mint_refresh(app, user)
            .map_err(|_| signing_failed())?;
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}

fn invalid_secret(app: &App) -> OAuthError {
    OAuthError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7_000_215,
        format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
            app.client_id
        ),
    )
}

pub(super) fn signing_failed() -> OAuthError {
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        90033,
        "The token could not be signed.",
    )
}

fn token_body(token: &str, scopes: Option<(&str, &[String])>) -> Value {
    let mut v = json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS - 1,
        "ext_expires_in": TOKEN_LIFETIME_SECS - 1,
        "access_token": token,
    });
    if let Some((audience, s)) = scopes {
        v["scope"] = json!(
            s.iter()
                .map(|p| format!("{audience}/{p}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    v
}

fn parse_basic(header_value: &str) -> Option<(String, String)> {
    let (scheme, rest) = header_value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_pick_the_audience() {
        let s = parse_scope("https://graph.microsoft.com/.default").unwrap();
        assert_eq!((s.audience.as_str(), s.default), (GRAPH_RESOURCE, true));
        let s = parse_scope("User.Read openid offline_access").unwrap();
        assert_eq!(s.scopes, vec!["User.Read"]);
        assert!(!s.default);
        let s = parse_scope("00000003-0000-0000-c000-000000000000/.default").unwrap();
        assert_eq!(s.audience, GRAPH_RESOURCE);
        assert_eq!(
            parse_scope("https://example.com/.default").unwrap_err().code,
            500_011
        );
        assert!(parse_scope("").unwrap().default);
        let s =
            parse_scope("https://api.partnercenter.microsoft.com/user_impersonation offline_access").unwrap();
        assert_eq!(
            (s.audience.as_str(), s.scopes.as_slice()),
            (
                PARTNER_CENTER_RESOURCE,
                ["user_impersonation".to_owned()].as_slice()
            )
        );
        assert_eq!(
            parse_scope("fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd/.default")
                .unwrap()
                .audience,
            PARTNER_CENTER_RESOURCE
        );
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("id:se%2Fcret")
        );
        assert_eq!(parse_basic(&h), Some(("id".into(), "se/cret".into())));
        assert_eq!(parse_basic("Bearer x"), None);
    }
}
