//! Access tokens: minting (token endpoint and `allot token`) and validation (every API request).
//! RS256 JWTs with Entra's claim names; the algorithm list is pinned to RS256.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use allot_core::ids::{AppId, TenantId, UserId};
use allot_store::records::{App, User};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::SigningKey;

/// Microsoft Graph's resource (the `aud` of Graph tokens).
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// Graph's well-known application id, accepted as a synonym of [`GRAPH_RESOURCE`] in scopes.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The Partner Center API's resource (the `aud` of its tokens).
pub const PARTNER_CENTER_RESOURCE: &str = "https://api.partnercenter.microsoft.com";
/// The Partner Center API's well-known application id, a synonym of [`PARTNER_CENTER_RESOURCE`].
pub const PARTNER_CENTER_APP_ID: &str = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd";
pub const TOKEN_LIFETIME_SECS: i64 = 3600;
/// Refresh tokens last 90 days, as Entra's do.
pub const REFRESH_LIFETIME_SECS: i64 = 90 * 24 * 3600;
/// The `aud` of Allot's refresh tokens (no API accepts them as access tokens).
const REFRESH_AUDIENCE: &str = "urn:allot:refresh";

/// What a refresh token proves: this user signed in through this app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    /// `iat` in microseconds: a token issued in the same second as a revocation is on the right
    /// side of it (absent in tokens minted before it existed: `iat` then counts).
    #[serde(default)]
    pub allot_iat_us: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub oid: String,
    pub appid: String,
    pub uti: String,
}

/// The claims Allot puts in (and reads from) an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    /// `iat` in microseconds (see [`RefreshClaims::allot_iat_us`]).
    #[serde(default)]
    pub allot_iat_us: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    pub appid: String,
    pub app_displayname: String,
    pub idtyp: String,
    pub ver: String,
    pub uti: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How the user signed in (`pwd`, `mfa`); Partner Center refuses App+User tokens without `mfa`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// Client capabilities: `cp1` when the client asked for continuous access evaluation (it
    /// then gets the claims challenge when its token is revoked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xms_cc: Vec<String>,
}

/// Who is calling, as proven by a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// App-only: the app's application permissions.
    App { app: AppId, roles: Vec<String> },
    /// Delegated: a signed-in user, the scopes granted to the app, the user's directory roles.
    User {
        app: AppId,
        user: UserId,
        scopes: Vec<String>,
        roles: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub caller: Caller,
    /// The token says the user passed multi-factor authentication (`amr` has `mfa`).
    pub mfa: bool,
    /// When the token was issued, in microseconds since the epoch.
    pub issued_at_us: i64,
    /// The client declared continuous access evaluation (`xms_cc` has `cp1`).
    pub cae: bool,
}

impl Principal {
    /// For a delegated token, whether it still stands: its user exists, is enabled, and had no
    /// session revocation (new password, disable, restore) after the token was issued. Checked
    /// on every request, so a deleted or disabled user's tokens stop at once on every node.
    /// App-only tokens have no user and always stand.
    pub async fn check_session(
        &self,
        store: &allot_store::Store,
    ) -> Result<Result<(), TokenError>, allot_store::StoreError> {
        let Caller::User { user, .. } = &self.caller else {
            return Ok(Ok(()));
        };
        let session = store.user_session(self.tenant, *user).await?;
        Ok(match session {
            Some((true, valid_from)) if self.issued_at_us >= valid_from => Ok(()),
            // A CAE-capable client gets the claims challenge: a token issued after the
            // revocation (now, for a deleted or disabled user) is what it must come back with.
            _ if self.cae => Err(TokenError::RevokedChallenge {
                not_before: session.filter(|(enabled, _)| *enabled).map_or_else(
                    || chrono::Utc::now().timestamp(),
                    |(_, from)| from.div_euclid(1_000_000),
                ),
            }),
            _ => Err(TokenError::Revoked),
        })
    }
}

/// A token's issue time in microseconds: its own claim, or `iat` for older tokens.
fn issued_at_us(iat: i64, iat_us: i64) -> i64 {
    if iat_us > 0 {
        iat_us
    } else {
        iat.saturating_mul(1_000_000)
    }
}

/// Why a token was refused. The messages are Graph's `InvalidAuthenticationToken` texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Access token is empty.")]
    Missing,
    #[error("IDX14100: JWT is not well formed. The token needs to be in JWS Compact Serialization Format.")]
    Malformed,
    #[error("Lifetime validation failed, the token is expired.")]
    Expired,
    #[error("Access token validation failure. Invalid audience.")]
    Audience,
    #[error("Access token validation failure. Invalid issuer.")]
    Issuer,
    #[error("Access token validation failure. Invalid signature.")]
    Signature,
    /// A delegated token of a user who was deleted or disabled, or whose sessions were revoked
    /// (a new password) after the token was issued.
    #[error(
        "The access token has been revoked: its user was deleted or disabled, or signed out everywhere, after it was issued."
    )]
    Revoked,
    /// [`TokenError::Revoked`] for a client that declared continuous access evaluation: Graph's
    /// claims challenge asks for a token issued at or after `not_before` (seconds).
    #[error(
        "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp"
    )]
    RevokedChallenge { not_before: i64 },
}

/// Signs and checks tokens with the database's keys.
#[derive(Debug, Clone)]
pub struct TokenService {
    keys: Vec<SigningKey>,
    issuer_base: String,
    /// Tokens whose signature and issuer were checked already, keyed by the whole token text
    /// (so only the very same bytes hit): an RS256 verification costs more than the rest of a
    /// license read. Lifetime and audience are still checked on every use.
    verified: Arc<Mutex<HashMap<Box<str>, Verified>>>,
}

/// A token that passed [`TokenService::validate`] once.
#[derive(Debug, Clone)]
struct Verified {
    aud: String,
    nbf: i64,
    exp: i64,
    principal: Principal,
}

/// At most this many verified tokens are remembered; the map is emptied when it is full.
const VERIFIED_CAPACITY: usize = 10_000;
/// Clock skew allowed on `nbf` and `exp`, as for the signature check.
const LEEWAY_SECS: i64 = 60;

impl TokenService {
    #[must_use]
    pub fn new(keys: Vec<SigningKey>, issuer_base: &str) -> Self {
        Self {
            keys,
            issuer_base: issuer_base.trim_end_matches('/').to_owned(),
            verified: Arc::default(),
        }
    }

    #[must_use]
    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// `iss` for tokens of `tenant`.
    #[must_use]
    pub fn issuer(&self, tenant: TenantId) -> String {
        format!("{}/{tenant}/v2.0", self.issuer_base)
    }

    #[must_use]
    pub fn issuer_base(&self) -> &str {
        &self.issuer_base
    }

    /// Signs arbitrary claims with the current key (tests use it to forge expired or odd tokens).
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self
            .keys
            .first()
            .ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
        let header = Header {
            kid: Some(key.kid.clone()),
            typ: Some("JWT".into()),
            ..Header::new(Algorithm::RS256)
        };
        jsonwebtoken::encode(&header, claims, &key.encoding)
    }

    /// Decodes `token` with the key its `kid` names (RS256 only, 60 s leeway), mapping failures
    /// to [`TokenError`].
    fn decode<C: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        mut v: Validation,
    ) -> Result<C, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Signature);
        }
        let key = header
            .kid
            .as_ref()
            .and_then(|kid| self.keys.iter().find(|k| &k.kid == kid))
            .ok_or(TokenError::Signature)?;
        v.algorithms = vec![Algorithm::RS256];
        v.leeway = LEEWAY_SECS.unsigned_abs();
        let data = jsonwebtoken::decode::<C>(token, &key.decoding, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::Signature,
                _ => TokenError::Malformed,
            }
        })?;
        Ok(data.claims)
    }

    pub fn base_claims(&self, tenant: TenantId, app: &App, audience: &str) -> Claims {
        let now_us = chrono::Utc::now().timestamp_micros();
        let now = now_us.div_euclid(1_000_000);
        Claims {
            aud: audience.to_owned(),
            iss: self.issuer(tenant),
            iat: now,
            allot_iat_us: now_us,
            nbf: now - 5 * 60,
            exp: now + TOKEN_LIFETIME_SECS,
            tid: tenant.to_string(),
            oid: app.service_principal_id.to_string(),
            sub: app.service_principal_id.to_string(),
            appid: app.client_id.to_string(),
            app_displayname: app.display_name.clone(),
            idtyp: "app".into(),
            ver: "1.0".into(),
            uti: Uuid::new_v4().simple().to_string(),
            roles: Vec::new(),
            scp: None,
            wids: Vec::new(),
            upn: None,
            name: None,
            amr: Vec::new(),
            xms_cc: Vec::new(),
        }
    }

    /// The claims every token of a request shares: `cp1` when the client declared CAE.
    fn with_capabilities(mut c: Claims, cae: bool) -> Claims {
        if cae {
            c.xms_cc = vec!["cp1".into()];
        }
        c
    }

    /// An app-only token: `roles` are the app's application permissions.
    pub fn mint_app(
        &self,
        app: &App,
        audience: &str,
        cae: bool,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut c = self.base_claims(app.tenant_id, app, audience);
        c.roles.clone_from(&app.application_permissions);
        self.sign(&Self::with_capabilities(c, cae))
    }

    /// A delegated token for `user` through `app`, with the granted `scopes`.
    pub fn mint_user(
        &self,
        app: &App,
        user: &User,
        scopes: &[String],
        audience: &str,
        cae: bool,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut c = Self::with_capabilities(self.base_claims(user.tenant_id, app, audience), cae);
        c.oid = user.id.to_string();
        c.sub = user.id.to_string();
        c.idtyp = "user".into();
        c.scp = Some(scopes.join(" "));
        c.wids.clone_from(&user.directory_roles);
        c.upn = Some(user.user_principal_name.clone());
        c.name = Some(user.display_name.clone());
        // Allot's sign-in stands for a completed MFA sign-in (Partner Center requires one).
        c.amr = vec!["pwd".into(), "mfa".into()];
        self.sign(&c)
    }

    /// The `id_token` of an interactive sign-in: who signed in, for `app` (its audience).
    pub fn mint_id_token(
        &self,
        app: &App,
        user: &User,
        nonce: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let mut c = serde_json::json!({
            "aud": app.client_id.to_string(),
            "iss": self.issuer(user.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECS,
            "sub": user.id.to_string(),
            "oid": user.id.to_string(),
            "tid": user.tenant_id.to_string(),
            "name": user.display_name,
            "preferred_username": user.user_principal_name,
            "ver": "2.0",
        });
        if let Some(n) = nonce {
            c["nonce"] = serde_json::Value::from(n);
        }
        self.sign(&c)
    }

    /// A refresh token for `user` through `app` (a signed JWT the token endpoint alone accepts).
    pub fn mint_refresh(&self, app: &App, user: &User) -> Result<String, jsonwebtoken::errors::Error> {
        let now_us = chrono::Utc::now().timestamp_micros();
        let now = now_us.div_euclid(1_000_000);
        let c = RefreshClaims {
            aud: REFRESH_AUDIENCE.to_owned(),
            iss: self.issuer(user.tenant_id),
            iat: now,
            allot_iat_us: now_us,
            nbf: now - 5 * 60,
            exp: now + REFRESH_LIFETIME_SECS,
            tid: user.tenant_id.to_string(),
            oid: user.id.to_string(),
            appid: app.client_id.to_string(),
            uti: Uuid::new_v4().simple().to_string(),
        };
        self.sign(&c)
    }

    /// Checks a refresh token: the tenant, user and app it was issued to, and when (microseconds).
    pub fn validate_refresh(&self, token: &str) -> Result<(TenantId, UserId, AppId, i64), TokenError> {
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&[REFRESH_AUDIENCE]);
        let c: RefreshClaims = self.decode(token, v)?;
        let tenant = TenantId::parse(&c.tid).map_err(|_| TokenError::Malformed)?;
        if c.iss != self.issuer(tenant) {
            return Err(TokenError::Issuer);
        }
        Ok((
            tenant,
            UserId::parse(&c.oid).map_err(|_| TokenError::Malformed)?,
            AppId::parse(&c.appid).map_err(|_| TokenError::Malformed)?,
            issued_at_us(c.iat, c.allot_iat_us),
        ))
    }

    /// Checks signature, lifetime, issuer and audience, and says who the caller is. A token seen
    /// before skips the signature check (see [`TokenService::verified`]); its lifetime and
    /// audience are checked again every time.
    pub fn validate(&self, token: &str, audience: &str) -> Result<Principal, TokenError> {
        let known = self.verified.lock().ok().and_then(|m| m.get(token).cloned());
        let v = match known {
            Some(v) => v,
            None => {
                let v = self.verify(token)?;
                if let Ok(mut m) = self.verified.lock() {
                    if m.len() >= VERIFIED_CAPACITY {
                        m.clear();
                    }
                    m.insert(token.into(), v.clone());
                }
                v
            }
        };
        let now = chrono::Utc::now().timestamp();
        if now > v.exp + LEEWAY_SECS || v.nbf > now + LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if v.aud.trim_end_matches('/') != audience {
            return Err(TokenError::Audience);
        }
        Ok(v.principal)
    }

    /// The signature, lifetime and issuer checks of [`TokenService::validate`].
    fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_nbf = true;
        v.validate_aud = false;
        v.required_spec_claims = HashSet::from([
            "exp".to_owned(),
            "nbf".to_owned(),
            "iss".to_owned(),
            "aud".to_owned(),
        ]);
        let c: Claims = self.decode(token, v)?;
        let tenant = TenantId::parse(&c.tid).map_err(|_| TokenError::Malformed)?;
        if c.iss != self.issuer(tenant) {
            return Err(TokenError::Issuer);
        }
        let app = AppId::parse(&c.appid).map_err(|_| TokenError::Malformed)?;
        let mfa = c.amr.iter().any(|m| m == "mfa");
        let caller = match c.scp {
            Some(scp) => Caller::User {
                app,
                user: UserId::parse(&c.oid).map_err(|_| TokenError::Malformed)?,
                scopes: scp
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                roles: c.wids,
            },
            None => Caller::App { app, roles: c.roles },
        };
        Ok(Verified {
            aud: c.aud,
            nbf: c.nbf,
            exp: c.exp,
            principal: Principal {
                tenant,
                caller,
                mfa,
                issued_at_us: issued_at_us(c.iat, c.allot_iat_us),
                cae: c.xms_cc.iter().any(|x| x.eq_ignore_ascii_case("cp1")),
            },
        })
    }
}
