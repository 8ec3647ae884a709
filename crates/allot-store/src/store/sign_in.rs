//! Interactive sign-in grants: authorization codes and device codes, kept by the SHA-256 of the
//! code (the caller hashes) so that any node can redeem them, each once.

use allot_core::ids::{AppId, TenantId, UserId};
use chrono::{DateTime, Utc};

use crate::dbid::DbId;
use crate::error::StoreError;
use crate::store::Store;
use crate::{on_db, on_tx};

/// What a sign-in handed out.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignInGrant {
    pub code_hash: String,
    /// `code` or `device`.
    pub kind: String,
    #[sqlx(try_from = "DbId")]
    pub client_id: AppId,
    #[sqlx(try_from = "DbId")]
    pub tenant_id: TenantId,
    /// The signed-in user (a device code: once approved); see [`SignInGrant::user`].
    pub user_id: Option<DbId>,
    pub user_code: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub redeemed: bool,
}

const COLS: &str = "code_hash, kind, client_id, tenant_id, user_id, user_code, redirect_uri, scope, \
                    code_challenge, challenge_method, nonce, expires_at, redeemed";

impl SignInGrant {
    #[must_use]
    pub fn user(&self) -> Option<UserId> {
        self.user_id.map(|d| UserId::from_uuid(d.0))
    }
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The grant, now spent.
    Fresh(SignInGrant),
    /// It was redeemed before.
    Spent,
    /// No such code (or another kind).
    Unknown,
    /// A device code nobody has approved yet.
    Pending(SignInGrant),
}

impl Store {
    /// Stores a new grant (expired ones are dropped on the way).
    pub async fn create_sign_in_grant(&self, g: &SignInGrant) -> Result<(), StoreError> {
        let now = crate::now();
        on_db!(self.db(), |p| {
            sqlx::query("DELETE FROM sign_in_grants WHERE expires_at < $1")
                .bind(now)
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO sign_in_grants (code_hash, kind, client_id, tenant_id, user_id, user_code, redirect_uri, \
                 scope, code_challenge, challenge_method, nonce, expires_at, redeemed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&g.code_hash)
            .bind(&g.kind)
            .bind(DbId::from(g.client_id))
            .bind(DbId::from(g.tenant_id))
            .bind(g.user_id)
            .bind(&g.user_code)
            .bind(&g.redirect_uri)
            .bind(&g.scope)
            .bind(&g.code_challenge)
            .bind(&g.challenge_method)
            .bind(&g.nonce)
            .bind(g.expires_at)
            .bind(g.redeemed)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The unexpired, unapproved device grant with this user code.
    pub async fn device_grant_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<SignInGrant>, StoreError> {
        let sql = format!(
            "SELECT {COLS} FROM sign_in_grants WHERE kind = 'device' AND user_code = $1 AND user_id IS NULL AND expires_at > $2"
        );
        Ok(on_db!(self.db(), |p| sqlx::query_as::<_, SignInGrant>(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(user_code.to_ascii_uppercase())
        .bind(crate::now())
        .fetch_optional(p)
        .await)?)
    }

    /// Approves a device grant for `user` (the person signed in on the device page).
    pub async fn approve_device_grant(&self, code_hash: &str, user: UserId) -> Result<(), StoreError> {
        on_db!(self.db(), |p| sqlx::query(
            "UPDATE sign_in_grants SET user_id = $2 WHERE code_hash = $1 AND user_id IS NULL"
        )
        .bind(code_hash)
        .bind(DbId::from(user))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Redeems the grant of `kind` with this code hash: spent at most once, even when two nodes
    /// race (the row is locked for the check).
    pub async fn redeem_sign_in_grant(&self, kind: &str, code_hash: &str) -> Result<Redeemed, StoreError> {
        let mut tx = self.db().begin().await?;
        let lock = if self.db().backend() == crate::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!("SELECT {COLS} FROM sign_in_grants WHERE code_hash = $1 AND kind = $2{lock}");
        let found = on_tx!(&mut tx, |c| sqlx::query_as::<_, SignInGrant>(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(code_hash)
        .bind(kind)
        .fetch_optional(c)
        .await)?;
        let out = match found {
            None => Redeemed::Unknown,
            Some(g) if g.redeemed => Redeemed::Spent,
            Some(g) if g.user_id.is_none() || g.expires_at <= crate::now() => Redeemed::Pending(g),
            Some(mut g) => {
                on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE sign_in_grants SET redeemed = $2 WHERE code_hash = $1"
                )
                .bind(code_hash)
                .bind(true)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
                g.redeemed = true;
                Redeemed::Fresh(g)
            }
        };
        tx.commit().await?;
        Ok(out)
    }
}
