//! Users in the store: create, read, page, update under the row lock, delete (freeing units).

use allot_core::ids::{TenantId, UserId, UserKey};
use allot_odata::validate::Cond;
use sqlx::AssertSqlSafe;

use super::retry;
use crate::audit::{self, Actor};
use crate::db::Tx;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::ledger::{assignments_in_tx, lock_user, release_unit};
use crate::records::{USER_COLS, User, UserRow, to_json};
use crate::store::{Store, row_in_tx};
use crate::{on_db, on_tx, sql};
use allot_core::licensing;

/// Binds a user's stored fields, `upn` through `phone_number`, in the column order both
/// `insert_user` and `update_user` write them.
macro_rules! bind_user_fields {
    ($q:expr, $u:expr) => {
        $q.bind(&$u.user_principal_name)
            .bind($u.user_principal_name.to_lowercase())
            .bind(&$u.display_name)
            .bind(&$u.given_name)
            .bind(&$u.surname)
            .bind(&$u.mail_nickname)
            .bind(&$u.mail)
            .bind(&$u.job_title)
            .bind(&$u.usage_location)
            .bind($u.account_enabled)
            .bind(&$u.password_hash)
            .bind(to_json(&$u.directory_roles))
            .bind(&$u.immutable_id)
            .bind(&$u.phone_number)
    };
}

impl Store {
    // ---- users -------------------------------------------------------------------------------

    /// Inserts a new user; `Conflict` when the UPN (case-insensitive) is taken in the tenant.
    pub async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        self.insert_user_as(None, u).await
    }

    /// Creates a user (Graph `POST /users`, Partner Center) with its "Add user" audit record, in
    /// one transaction. [`Store::insert_user`] (tenant files, tests) records nothing.
    pub async fn create_user(&self, actor: &Actor, u: &User) -> Result<(), StoreError> {
        self.insert_user_as(Some(actor), u).await
    }

    async fn insert_user_as(&self, actor: Option<&Actor>, u: &User) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, given_name, surname, mail_nickname, mail, \
             job_title, usage_location, account_enabled, password_hash, directory_roles, immutable_id, phone_number, \
             version, created_at, change_mark) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0, $17, {})",
            crate::sql::change_mark(self.db.backend())
        );
        retry(|| async {
            let mut tx = self.db.begin().await?;
            on_tx!(&mut tx, |c| bind_user_fields!(
                sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(DbId::from(u.id))
                    .bind(DbId::from(u.tenant_id)),
                u
            )
            .bind(u.created_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            if let Some(actor) = actor {
                audit::user_lifecycle(&mut tx, u.tenant_id, actor, u.id, "Add user", "Add", None).await?;
            }
            tx.commit().await
        })
        .await
    }

    pub async fn user(&self, tenant: TenantId, id: UserId) -> Result<Option<User>, StoreError> {
        let head = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1");
        let row: Option<UserRow> = self.row_by_id(&head, tenant, id.as_uuid()).await?;
        row.map(User::try_from).transpose()
    }

    /// Whether the user is enabled, and since when (microseconds) its sign-in sessions are valid;
    /// `None` when there is no such user. Read on every delegated request.
    pub async fn user_session(
        &self,
        tenant: TenantId,
        id: UserId,
    ) -> Result<Option<(bool, i64)>, StoreError> {
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, (bool, i64)>(
            "SELECT account_enabled, sessions_valid_from FROM users WHERE tenant_id = $1 AND id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(id))
        .fetch_optional(p)
        .await)?)
    }

    /// The user a request names (object id or UPN, `UserKey`'s rules), in `tenant` only: the one
    /// lookup of every surface.
    pub async fn find_user(&self, tenant: TenantId, key: &str) -> Result<Option<User>, StoreError> {
        match UserKey::parse(key) {
            Some(UserKey::Id(id)) => self.user(tenant, id).await,
            Some(UserKey::Upn(upn)) => self.user_by_upn(tenant, &upn).await,
            None => Ok(None),
        }
    }

    pub async fn user_by_upn(&self, tenant: TenantId, upn: &str) -> Result<Option<User>, StoreError> {
        if upn.contains('\0') {
            return Ok(None);
        }
        let sql = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND upn_lower = $2");
        let row = on_db!(&self.db, |p| sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(upn.to_lowercase())
            .fetch_optional(p)
            .await)?;
        row.map(User::try_from).transpose()
    }

    /// How many users match `filter` (all of the tenant's without one). A filter that is only
    /// `assignedLicenses/any(x: x/skuId eq|in …)` is counted from the license index
    /// (`license_assignments_sku_tenant_user_idx`, migrations 0005 and 0006) instead of probing every user.
    pub async fn count_users_where(
        &self,
        tenant: TenantId,
        filter: Option<&Cond>,
    ) -> Result<i64, StoreError> {
        if let Some(skus) = filter.and_then(|c| c.any_guid_in(&allot_odata::schema::USER_ASSIGNED_LICENSES)) {
            if let [sku] = skus.as_slice() {
                // One SKU: its pool counts exactly the users holding it (the invariant `allot
                // check` verifies, kept in the same transaction as every assignment change).
                let consumed = on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(
                    "SELECT consumed FROM sku_pools WHERE tenant_id = $1 AND sku_id = $2"
                )
                .bind(DbId::from(tenant))
                .bind(DbId(*sku))
                .fetch_optional(p)
                .await)?;
                return Ok(consumed.unwrap_or(0));
            }
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT la.user_id FROM license_assignments la WHERE la.tenant_id = $1 \
                 AND la.sku_id IN {} AND {} GROUP BY la.user_id) held",
                sql::ids_in(self.db.backend(), 2),
                allot_core::sql_holds_license!("la")
            );
            return Ok(on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(
                AssertSqlSafe(sql)
            )
            .bind(DbId::from(tenant))
            .bind(sql::ids_json(skus.iter().copied()))
            .fetch_one(p)
            .await)?);
        }
        self.filtered_count("FROM users u WHERE u.tenant_id = $1", tenant, filter)
            .await
    }

    /// Read-modify-write of one user under its row lock; `edit` may refuse with an error.
    pub async fn update_user<F>(&self, tenant: TenantId, id: UserId, edit: F) -> Result<User, StoreError>
    where
        F: Fn(&mut User) -> Result<(), StoreError>,
    {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_user(&mut tx, tenant, id).await?;
            let head = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1");
            let row: UserRow = row_in_tx(&mut tx, &head, tenant, id.as_uuid()).await?;
            let mut user = User::try_from(row)?;
            let before = user.clone();
            edit(&mut user)?;
            // A new password or a disable signs the user out everywhere (as Entra revokes its
            // refresh tokens; access tokens stop too, see Principal::check_session).
            if user.password_hash != before.password_hash || (before.account_enabled && !user.account_enabled) {
                revoke_sessions(&mut tx, tenant, id).await?;
            }
            let sql = "UPDATE users SET upn = $3, upn_lower = $4, display_name = $5, given_name = $6, surname = $7, \
                       mail_nickname = $8, mail = $9, job_title = $10, usage_location = $11, account_enabled = $12, \
                       password_hash = $13, directory_roles = $14, immutable_id = $15, phone_number = $16 \
                       WHERE tenant_id = $1 AND id = $2";
            on_tx!(&mut tx, |c| bind_user_fields!(
                sqlx::query(sql).bind(DbId::from(tenant)).bind(DbId::from(id)),
                user
            )
            .execute(c)
                .await.map(|r| r.rows_affected()))?;
            tx.commit().await?;
            Ok(user)
        })
        .await
    }

    /// Deletes a user: its units go back to the pools, its memberships and assignments go, and
    /// the user waits 30 days in `deleted_users` with what it had, ready for a restore.
    pub async fn delete_user(&self, actor: &Actor, tenant: TenantId, id: UserId) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_user(&mut tx, tenant, id).await?;
            let target = audit::user_before_delete(&mut tx, id).await?;
            let held = assignments_in_tx(&mut tx, id).await?;
            super::deleted::keep_deleted_user(&mut tx, tenant, id, &held).await?;
            for sku in licensing::held_skus(&held) {
                release_unit(&mut tx, tenant, sku).await?;
            }
            super::groups::end_memberships(&mut tx, tenant, super::groups::Ending::OfMember(id.as_uuid()))
                .await?;
            for sql in [
                "DELETE FROM license_assignments WHERE tenant_id = $1 AND user_id = $2",
                "DELETE FROM cloud_assignment_allotments WHERE tenant_id = $1 AND principal_id = $2",
                "DELETE FROM users WHERE tenant_id = $1 AND id = $2",
            ] {
                on_tx!(&mut tx, |c| sqlx::query(sql)
                    .bind(DbId::from(tenant))
                    .bind(DbId::from(id))
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
            audit::user_lifecycle(&mut tx, tenant, actor, id, "Delete user", "Delete", Some(target)).await?;
            tx.commit().await
        })
        .await
    }
}

/// Tokens of `user` issued before now no longer stand.
pub(crate) async fn revoke_sessions(tx: &mut Tx, tenant: TenantId, user: UserId) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE users SET sessions_valid_from = $3 WHERE tenant_id = $1 AND id = $2"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(user))
    .bind(crate::now().timestamp_micros())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
