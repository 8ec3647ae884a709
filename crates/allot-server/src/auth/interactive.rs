//! Interactive sign-in, as the Microsoft identity platform offers it to people:
//!
//! - **Authorization code with PKCE**: `GET /{tenant}/oauth2/v2.0/authorize` shows a plain sign-in
//!   page for the tenant's users; signing in redirects to the app's registered `redirect_uri`
//!   with a code (10 minutes, redeemable once, bound to the `code_challenge`).
//! - **Device code**: `POST /{tenant}/oauth2/v2.0/devicecode` hands out a device code and a user
//!   code; a person enters the user code and signs in at `/devicelogin`; the device polls the
//!   token endpoint (`authorization_pending` until then, `expired_token` after 15 minutes).
//!
//! Consent is implied by what the app is granted (its delegated scopes). Tokens carry the same
//! claims as the password grant's, with an `id_token` and `client_info` as MSAL expects.

use allot_core::ids::UserId;
use allot_store::records::{App, Tenant, User};
use allot_store::store::sign_in::{Redeemed, SignInGrant};
use aws_lc_rs::digest;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::oauth::{
    Client, OAuthError, ScopeRequest, form_pairs, parse_scope, signed_in, signing_failed, tenant_and_app,
    user_token,
};
use crate::state::AppState;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const CODE_LIFETIME_SECS: i64 = 600;
const DEVICE_LIFETIME_SECS: i64 = 900;
const DEVICE_INTERVAL_SECS: i64 = 5;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
        .route("/devicelogin", get(device_page).post(device_submit))
}

// ---- codes ---------------------------------------------------------------------------------

fn random(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // aws-lc-rs's system random: an error here means no entropy at all.
    let _ = aws_lc_rs::rand::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

fn hash(code: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, code.as_bytes()).as_ref())
}

/// Eight characters a person reads and types without confusion (no 0/O, 1/I/L).
fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b.iter()
        .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
        .collect()
}

// ---- pages ---------------------------------------------------------------------------------

fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>body{{font-family:sans-serif;max-width:28em;\
         margin:3em auto;padding:0 1em}}label{{display:block;margin:.8em 0 .2em}}input{{width:100%;padding:.4em}}\
         button{{margin-top:1.2em;padding:.5em 1.5em}}.error{{color:#a4262c}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    let mut resp = (status, html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn error_page(e: &OAuthError) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign in",
        &format!("<p class=\"error\">AADSTS{}: {}</p>", e.code, esc(&e.description)),
    )
}

fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

// ---- authorization code --------------------------------------------------------------------

/// The parameters of an authorization request, checked: the app, its registered redirect URI,
/// `response_type=code`, the scope and the PKCE challenge.
struct AuthRequest {
    tenant: Tenant,
    app: App,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    challenge: Option<(String, String)>,
    nonce: Option<String>,
    login_hint: Option<String>,
}

/// Checks what the sign-in page was asked for. Errors before the redirect URI is known to be
/// the app's are shown on the page (never redirected to an unregistered address), as Entra does.
async fn auth_request(
    state: &AppState,
    tenant_key: &str,
    pairs: &[(String, String)],
) -> Result<Result<AuthRequest, Response>, OAuthError> {
    let client_id = field(pairs, "client_id").ok_or_else(|| {
        OAuthError::bad(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    let (tenant, app) = tenant_and_app(state, tenant_key, &client_id).await?;
    let redirect_uri = field(pairs, "redirect_uri").unwrap_or_default();
    if !redirect_allowed(&app.redirect_uris, &redirect_uri) {
        return Err(OAuthError::bad(
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.",
                app.client_id
            ),
        ));
    }
    let st = field(pairs, "state");
    let redirect_error = |error: &str, code: u32, description: &str| {
        let mut url = format!(
            "{redirect_uri}{}error={error}&error_description={}",
            if redirect_uri.contains('?') { '&' } else { '?' },
            urlencode(&format!("AADSTS{code}: {description}"))
        );
        if let Some(s) = &st {
            url.push_str(&format!("&state={}", urlencode(s)));
        }
        redirect(&url)
    };
    if field(pairs, "response_type").as_deref() != Some("code") {
        return Ok(Err(redirect_error(
            "unsupported_response_type",
            700_054,
            "response_type 'code' is the only one supported.",
        )));
    }
    let scope = field(pairs, "scope").unwrap_or_default();
    if let Err(e) = parse_scope(&scope) {
        return Ok(Err(redirect_error(e.error, e.code, &e.description)));
    }
    let challenge = match (
        field(pairs, "code_challenge"),
        field(pairs, "code_challenge_method"),
    ) {
        (None, _) => None,
        (Some(c), m) => {
            let method = m.unwrap_or_else(|| "plain".to_owned());
            if method != "S256" && method != "plain" {
                return Ok(Err(redirect_error(
                    "invalid_request",
                    50_146,
                    "The code_challenge_method must be 'S256' or 'plain'.",
                )));
            }
            Some((c, method))
        }
    };
    Ok(Ok(AuthRequest {
        tenant,
        app,
        redirect_uri,
        scope,
        state: st,
        challenge,
        nonce: field(pairs, "nonce"),
        login_hint: field(pairs, "login_hint"),
    }))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn redirect(url: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn sign_in_form(pairs: &[(String, String)], r: &AuthRequest, error: Option<&str>) -> Response {
    let hidden: String = pairs
        .iter()
        .filter(|(k, _)| k != "username" && k != "password")
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v)))
        .collect();
    let user = r.login_hint.clone().unwrap_or_default();
    let body = format!(
        "<p>Sign in to <b>{app}</b> with your account of {tenant}.</p>{err}\
         <form method=\"post\">{hidden}\
         <label for=\"username\">Email or user name</label><input id=\"username\" name=\"username\" value=\"{user}\" autocomplete=\"username\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form>",
        app = esc(&r.app.display_name),
        tenant = esc(&r.tenant.default_domain),
        err = error.map_or_else(String::new, |e| format!("<p class=\"error\">{}</p>", esc(e))),
        user = esc(&user),
    );
    page(StatusCode::OK, "Sign in", &body)
}

/// # `GET /{tenant}/oauth2/v2.0/authorize`
pub async fn authorize_page(
    State(state): State<AppState>,
    Path(tenant_key): Path<String>,
    req: Request,
) -> Response {
    let pairs = form_pairs(req.uri().query().unwrap_or_default().as_bytes());
    match auth_request(&state, &tenant_key, &pairs).await {
        Ok(Ok(r)) => sign_in_form(&pairs, &r, None),
        Ok(Err(redirected)) => redirected,
        Err(e) => error_page(&e),
    }
}

/// # `POST /{tenant}/oauth2/v2.0/authorize`
/// The sign-in form: on success a redirect with the code (and `state`).
pub async fn authorize_submit(
    State(state): State<AppState>,
    Path(tenant_key): Path<String>,
    req: Request,
) -> Response {
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
        return error_page(&OAuthError::bad(
            "invalid_request",
            90014,
            "The request body is too large.",
        ));
    };
    let pairs = form_pairs(&body);
    let r = match auth_request(&state, &tenant_key, &pairs).await {
        Ok(Ok(r)) => r,
        Ok(Err(redirected)) => return redirected,
        Err(e) => return error_page(&e),
    };
    let username = field(&pairs, "username").unwrap_or_default();
    let password = field(&pairs, "password").unwrap_or_default();
    let user = match signed_in(&state, &r.tenant, &username, &password).await {
        Ok(u) => u,
        Err(e) if e.code == 50126 => {
            return sign_in_form(&pairs, &r, Some("Your account or password is incorrect."));
        }
        Err(e) => return sign_in_form(&pairs, &r, Some(&format!("AADSTS{}: {}", e.code, e.description))),
    };
    let code = random(48);
    let grant = SignInGrant {
        code_hash: hash(&code),
        kind: "code".into(),
        client_id: r.app.client_id,
        tenant_id: r.tenant.id,
        user_id: Some(allot_store::dbid::DbId(user.id.as_uuid())),
        user_code: None,
        redirect_uri: Some(r.redirect_uri.clone()),
        scope: r.scope.clone(),
        code_challenge: r.challenge.as_ref().map(|c| c.0.clone()),
        challenge_method: r.challenge.as_ref().map(|c| c.1.clone()),
        nonce: r.nonce.clone(),
        expires_at: chrono::Utc::now() + chrono::Duration::seconds(CODE_LIFETIME_SECS),
        redeemed: false,
    };
    if let Err(e) = state.store.create_sign_in_grant(&grant).await {
        return error_page(&e.into());
    }
    let mut url = format!(
        "{}{}code={}",
        r.redirect_uri,
        if r.redirect_uri.contains('?') { '&' } else { '?' },
        urlencode(&code)
    );
    if let Some(s) = &r.state {
        url.push_str(&format!("&state={}", urlencode(s)));
    }
    redirect(&url)
}

/// Why a code of `kind` (`code` or `device`) could not be redeemed.
fn refusal(kind: &str, r: &Redeemed) -> OAuthError {
    let device = kind == "device";
    match r {
        Redeemed::Pending(g) if device && g.expires_at > chrono::Utc::now() => OAuthError::bad(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        ),
        Redeemed::Pending(_) if device => {
            OAuthError::bad("expired_token", 70019, "Verification code expired.")
        }
        Redeemed::Pending(_) => OAuthError::bad(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ),
        Redeemed::Spent if device => {
            OAuthError::bad("invalid_grant", 54005, "The device code was already redeemed.")
        }
        Redeemed::Spent => OAuthError::bad(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ),
        Redeemed::Unknown | Redeemed::Fresh(_) => OAuthError::bad(
            "invalid_grant",
            9_002_313,
            "Invalid request. Request is malformed or invalid.",
        ),
    }
}

/// The `code_verifier` against the stored challenge (RFC 7636).
fn pkce_ok(grant: &SignInGrant, verifier: Option<&str>) -> bool {
    let Some(challenge) = &grant.code_challenge else {
        return true;
    };
    let Some(verifier) = verifier else {
        return false;
    };
    match grant.challenge_method.as_deref() {
        Some("S256") => {
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
                == *challenge
        }
        _ => verifier == challenge,
    }
}

/// `grant_type=authorization_code`.
pub(super) async fn redeem_code(
    state: &AppState,
    app: &App,
    tenant: &Tenant,
    client: &Client<'_>,
    pairs: &[(String, String)],
    scope: &ScopeRequest,
) -> Result<Value, OAuthError> {
    client.authenticate_unless_public(state, app, tenant).await?;
    let code = field(pairs, "code").ok_or_else(|| {
        OAuthError::bad(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'code'.",
        )
    })?;
    let grant = match state.store.redeem_sign_in_grant("code", &hash(&code)).await? {
        Redeemed::Fresh(g) => g,
        other => return Err(refusal("code", &other)),
    };
    if grant.client_id != app.client_id || grant.tenant_id != tenant.id {
        return Err(OAuthError::bad(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the code was issued to another client or tenant.",
        ));
    }
    if field(pairs, "redirect_uri") != grant.redirect_uri {
        return Err(OAuthError::bad(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the redirect_uri does not match the one the code was issued for.",
        ));
    }
    if !pkce_ok(&grant, field(pairs, "code_verifier").as_deref()) {
        return Err(OAuthError::bad(
            "invalid_grant",
            501_481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    signed_in_token(state, app, &grant, pairs, scope).await
}

/// The token response of an interactive grant: the delegated token (and refresh token), the
/// `id_token` and `client_info` MSAL builds its account from.
async fn signed_in_token(
    state: &AppState,
    app: &App,
    grant: &SignInGrant,
    pairs: &[(String, String)],
    scope: &ScopeRequest,
) -> Result<Value, OAuthError> {
    let user = user_of(state, grant).await?;
    let requested = if field(pairs, "scope").is_some() {
        scope.clone()
    } else {
        parse_scope(&grant.scope)?
    };
    let mut body = user_token(state, app, &user, &requested, requested.offline)?;
    let id_token = state
        .tokens
        .mint_id_token(app, &user, grant.nonce.as_deref())
        .map_err(|_| signing_failed())?;
    body["id_token"] = json!(id_token);
    body["client_info"] = json!(
        URL_SAFE_NO_PAD
            .encode(json!({"uid": user.id.to_string(), "utid": user.tenant_id.to_string()}).to_string())
    );
    Ok(body)
}

async fn user_of(state: &AppState, grant: &SignInGrant) -> Result<User, OAuthError> {
    let gone = || {
        OAuthError::bad(
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
        )
    };
    let id: UserId = grant.user().ok_or_else(gone)?;
    let user = state.store.user(grant.tenant_id, id).await?.ok_or_else(gone)?;
    if !user.account_enabled {
        return Err(OAuthError::bad(
            "invalid_grant",
            50057,
            "The user account is disabled.",
        ));
    }
    Ok(user)
}

// ---- device code ---------------------------------------------------------------------------

/// # `POST /{tenant}/oauth2/v2.0/devicecode`
pub async fn device_code(
    State(state): State<AppState>,
    Path(tenant_key): Path<String>,
    req: Request,
) -> Response {
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
        return OAuthError::bad("invalid_request", 90014, "The request body is too large.").into_response();
    };
    let pairs = form_pairs(&body);
    match issue_device_code(&state, &tenant_key, &pairs).await {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn issue_device_code(
    state: &AppState,
    tenant_key: &str,
    pairs: &[(String, String)],
) -> Result<Value, OAuthError> {
    let client_id = field(pairs, "client_id").ok_or_else(|| {
        OAuthError::bad(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    let (tenant, app) = tenant_and_app(state, tenant_key, &client_id).await?;
    let scope = field(pairs, "scope").unwrap_or_default();
    parse_scope(&scope)?;
    let (device, user_code) = (random(48), user_code());
    state
        .store
        .create_sign_in_grant(&SignInGrant {
            code_hash: hash(&device),
            kind: "device".into(),
            client_id: app.client_id,
            tenant_id: tenant.id,
            user_id: None,
            user_code: Some(user_code.clone()),
            redirect_uri: None,
            scope,
            code_challenge: None,
            challenge_method: None,
            nonce: None,
            expires_at: chrono::Utc::now() + chrono::Duration::seconds(DEVICE_LIFETIME_SECS),
            redeemed: false,
        })
        .await?;
    let uri = format!("{}/devicelogin", crate::graph::base_url());
    Ok(json!({
        "user_code": user_code,
        "device_code": device,
        "verification_uri": uri,
        "expires_in": DEVICE_LIFETIME_SECS,
        "interval": DEVICE_INTERVAL_SECS,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
}

fn device_form(error: Option<&str>, code: &str) -> Response {
    let body = format!(
        "<p>Enter the code shown on your device, then sign in.</p>{err}<form method=\"post\">\
         <label for=\"user_code\">Code</label><input id=\"user_code\" name=\"user_code\" value=\"{code}\" autocomplete=\"off\">\
         <label for=\"username\">Email or user name</label><input id=\"username\" name=\"username\" autocomplete=\"username\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form>",
        err = error.map_or_else(String::new, |e| format!("<p class=\"error\">{}</p>", esc(e))),
        code = esc(code),
    );
    page(StatusCode::OK, "Enter code", &body)
}

/// # `GET /devicelogin`
pub async fn device_page(req: Request) -> Response {
    let pairs = form_pairs(req.uri().query().unwrap_or_default().as_bytes());
    device_form(None, &field(&pairs, "otc").unwrap_or_default())
}

/// # `POST /devicelogin`
/// The code and the person's credentials: approves the device's grant for them.
pub async fn device_submit(State(state): State<AppState>, req: Request) -> Response {
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
        return device_form(Some("The request is too large."), "");
    };
    let pairs = form_pairs(&body);
    let code = field(&pairs, "user_code").unwrap_or_default().trim().to_owned();
    let grant = match state.store.device_grant_by_user_code(&code).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            return device_form(
                Some("That code didn't work. Check the code and try again."),
                &code,
            );
        }
        Err(e) => return error_page(&e.into()),
    };
    let tenant = match state.store.tenant(grant.tenant_id).await {
        Ok(Some(t)) => t,
        Ok(None) => return device_form(Some("That code didn't work."), &code),
        Err(e) => return error_page(&e.into()),
    };
    let username = field(&pairs, "username").unwrap_or_default();
    let password = field(&pairs, "password").unwrap_or_default();
    let user = match signed_in(&state, &tenant, &username, &password).await {
        Ok(u) => u,
        Err(e) if e.code == 50126 => {
            return device_form(Some("Your account or password is incorrect."), &code);
        }
        Err(e) => return device_form(Some(&format!("AADSTS{}: {}", e.code, e.description)), &code),
    };
    if let Err(e) = state.store.approve_device_grant(&grant.code_hash, user.id).await {
        return error_page(&e.into());
    }
    let app = state
        .store
        .app(grant.client_id)
        .await
        .ok()
        .flatten()
        .map_or_else(|| grant.client_id.to_string(), |a| a.display_name);
    page(
        StatusCode::OK,
        "You're signed in",
        &format!(
            "<p>You have signed in to the <b>{}</b> application on your device. You may now close this window.</p>",
            esc(&app)
        ),
    )
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
pub(super) async fn redeem_device(
    state: &AppState,
    app: &App,
    tenant: &Tenant,
    client: &Client<'_>,
    pairs: &[(String, String)],
    scope: &ScopeRequest,
) -> Result<Value, OAuthError> {
    client.authenticate_unless_public(state, app, tenant).await?;
    let device = field(pairs, "device_code")
        .or_else(|| field(pairs, "code"))
        .ok_or_else(|| {
            OAuthError::bad(
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'device_code'.",
            )
        })?;
    let grant = match state.store.redeem_sign_in_grant("device", &hash(&device)).await? {
        Redeemed::Fresh(g) => g,
        other => return Err(refusal("device", &other)),
    };
    if grant.client_id != app.client_id {
        return Err(OAuthError::bad(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the device code was issued to another client.",
        ));
    }
    signed_in_token(state, app, &grant, pairs, scope).await
}

/// Whether `requested` is one of the app's redirect URIs. As Entra does for loopback redirect
/// URIs (RFC 8252 §7.3, §8.3), a registered `http://localhost`, `http://127.0.0.1` or
/// `http://[::1]` URI matches whatever port the request names: native apps and local consoles
/// listen on a port chosen at run time.
fn redirect_allowed(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(asked) = requested.parse::<axum::http::Uri>() else {
        return false;
    };
    let loopback = |u: &axum::http::Uri| {
        u.scheme_str() == Some("http") && matches!(u.host(), Some("localhost" | "127.0.0.1" | "[::1]"))
    };
    if !loopback(&asked) {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| r.parse::<axum::http::Uri>().ok())
        .any(|r| loopback(&r) && r.host() == asked.host() && r.path_and_query() == asked.path_and_query())
}

#[cfg(test)]
mod redirect_tests {
    use super::redirect_allowed;

    #[test]
    fn loopback_redirects_match_any_port_and_nothing_else_does() {
        let reg = vec![
            "http://localhost:8400/callback".to_owned(),
            "https://app.example/cb".to_owned(),
        ];
        assert!(redirect_allowed(&reg, "http://localhost:8400/callback"));
        assert!(redirect_allowed(&reg, "http://localhost:53111/callback"));
        assert!(redirect_allowed(&reg, "http://localhost/callback"));
        assert!(!redirect_allowed(&reg, "http://localhost:53111/other"));
        assert!(!redirect_allowed(&reg, "http://127.0.0.1:53111/callback"));
        assert!(!redirect_allowed(&reg, "https://localhost:53111/callback"));
        assert!(redirect_allowed(&reg, "https://app.example/cb"));
        assert!(!redirect_allowed(&reg, "https://app.example:8443/cb"));
        assert!(!redirect_allowed(&reg, "http://evil.example:8400/callback"));
    }
}
