//! Who may call Partner Center and on which customer: App+User tokens for the Partner Center
//! audience with an MFA sign-in, a relationship with the customer, and a GDAP role of that
//! relationship that allows the operation (spec §6).

use allot_core::ids::{TenantId, UserId};
use allot_core::partner::Operation;
use allot_store::records::{Relationship, Tenant};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::error::{PcError, PcResult, Replayed};
use crate::auth::tokens::{Caller, PARTNER_CENTER_RESOURCE, Principal, TokenError};
use crate::state::AppState;

/// The caller of a Partner Center request, as its token proves, and the stored answer of the
/// request when it repeats an `MS-RequestId` the same caller sent before (`replay.rs`).
#[derive(Debug, Clone)]
pub struct PcCaller(pub Principal, pub Option<Replayed>);

impl FromRequestParts<AppState> for PcCaller {
    type Rejection = PcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).map_err(|e| PcError::token(&e))?;
        let principal = state
            .tokens
            .validate(token, PARTNER_CENTER_RESOURCE)
            .map_err(|e| PcError::token(&e))?;
        principal
            .check_session(&state.store)
            .await?
            .map_err(|e| PcError::token(&e))?;
        Ok(Self(principal, parts.extensions.get::<Replayed>().cloned()))
    }
}

fn bearer(parts: &Parts) -> Result<&str, TokenError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(TokenError::Missing)?
        .to_str()
        .map_err(|_| TokenError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Malformed);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token)
}

/// Which part of the surface a route is in: app-only tokens are refused differently (seed 002's
/// 900316 on license management; the "application credentials" 403 elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Licensing,
    Directory,
}

/// A customer the caller may act on, with the relationship that allows it.
#[derive(Debug, Clone)]
pub struct Customer {
    pub tenant: Tenant,
    pub relationship: Relationship,
}

impl PcCaller {
    #[must_use]
    pub const fn partner(&self) -> TenantId {
        self.0.tenant
    }

    /// The signed-in partner user; app-only and non-MFA tokens are refused.
    pub fn partner_user(&self, area: Area) -> PcResult<UserId> {
        match &self.0.caller {
            Caller::User { user, scopes, .. } => {
                if !self.0.mfa {
                    return Err(PcError::new(
                        StatusCode::UNAUTHORIZED,
                        900_421,
                        "Multi-factor authentication is required: the token has no MFA claim. Sign in with MFA and request a new token.",
                    ));
                }
                if !scopes
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case("user_impersonation"))
                {
                    return Err(PcError::role_denied());
                }
                Ok(*user)
            }
            Caller::App { .. } => Err(match area {
                Area::Licensing => PcError::new(
                    StatusCode::BAD_REQUEST,
                    900_316,
                    "Partner token is not allowed in license management calls. Please call with Partner Access Token. To learn more, see https://learn.microsoft.com/partner-center/developer/enable-secure-app-model#get-access-token",
                ),
                Area::Directory => PcError::new(
                    StatusCode::FORBIDDEN,
                    900_150,
                    "This resource can't be accessed by application credentials.",
                ),
            }),
        }
    }

    /// The customer `cid` if the partner has a relationship with it whose roles (for this user)
    /// allow `op`: 400 / 900118 for a malformed id, 404 / 60003 for an unknown tenant, 403 / 20002
    /// without a relationship, 403 / 900150 without a suitable role.
    pub async fn customer(
        &self,
        state: &AppState,
        cid: &str,
        op: Operation,
        area: Area,
    ) -> PcResult<Customer> {
        let user = self.partner_user(area)?;
        let id = TenantId::parse(cid).map_err(|_| PcError::invalid_customer_id(cid))?;
        let tenant = state
            .store
            .tenant(id)
            .await?
            .ok_or_else(|| PcError::customer_not_found(cid))?;
        let relationship = state
            .store
            .relationship(self.partner(), id)
            .await?
            .ok_or_else(|| PcError::no_relationship(cid))?;
        let granted = relationship.roles_of(user);
        if granted.is_empty() || !op.allowed_by(granted) {
            return Err(PcError::role_denied());
        }
        // Authorized: a replayed request gets its first answer now, and nothing runs again.
        if let Some(r) = &self.1 {
            return Err(PcError::replayed(r));
        }
        Ok(Customer { tenant, relationship })
    }
}
