//! Deleted users and groups: what a deletion keeps for 30 days (the object with its direct
//! licenses and memberships), listing and reading it, restoring it through the direct change
//! path, and deleting it for good.

use allot_core::ids::{GroupId, Source, TenantId, UserId};
use allot_core::licensing::{self, AddLicense, LicenseChange};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::partner::RESTORE_WINDOW;
use super::retry;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::ledger::{JobKind, Units, direct_change_in_tx, enqueue, lock_group};
use crate::records::{DeletedUser, DeletedUserRow, GroupLicense, USER_COLS, User, to_json};
use crate::store::Store;
use crate::{on_db, on_tx};

/// One deleted user still in its window: `$1` tenant, `$2` id, `$3` the window's start.
fn deleted_user_sql() -> String {
    format!(
        "SELECT {USER_COLS}, deleted_at FROM deleted_users WHERE tenant_id = $1 AND id = $2 AND deleted_at > $3"
    )
}

impl Store {
    /// One page of the tenant's deleted users still in their window, in id order after `after`.
    pub async fn deleted_users_page(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeletedUser>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLS}, deleted_at FROM deleted_users WHERE tenant_id = $1 AND deleted_at > $2 \
             AND id > $3 ORDER BY id LIMIT $4"
        );
        let rows = on_db!(&self.db, |p| sqlx::query_as::<_, DeletedUserRow>(AssertSqlSafe(
            sql
        ))
        .bind(DbId::from(tenant))
        .bind(crate::now() - RESTORE_WINDOW)
        .bind(DbId(after.unwrap_or(Uuid::nil())))
        .bind(limit)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(DeletedUser::try_from).collect()
    }

    /// Deletes a deleted user for good (`DELETE /directory/deletedItems/{id}`); `NotFound` when
    /// it is not in the tenant's deleted items.
    pub async fn purge_deleted_user(&self, tenant: TenantId, id: UserId) -> Result<(), StoreError> {
        let gone = on_db!(&self.db, |p| sqlx::query(
            "DELETE FROM deleted_users WHERE tenant_id = $1 AND id = $2 AND deleted_at > $3"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(id))
        .bind(crate::now() - RESTORE_WINDOW)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A deleted user still in its restore window.
    pub async fn deleted_user(
        &self,
        tenant: TenantId,
        id: UserId,
    ) -> Result<Option<DeletedUser>, StoreError> {
        let sql = deleted_user_sql();
        let row = on_db!(&self.db, |p| sqlx::query_as::<_, DeletedUserRow>(AssertSqlSafe(
            sql
        ))
        .bind(DbId::from(tenant))
        .bind(DbId::from(id))
        .bind(crate::now() - RESTORE_WINDOW)
        .fetch_optional(p)
        .await)?;
        row.map(DeletedUser::try_from).transpose()
    }

    /// Brings a deleted user back with its memberships and, where units and the licensing rules
    /// allow, its direct licenses. `NotFound` past the window; `Conflict` when its UPN was taken.
    pub async fn restore_user(&self, tenant: TenantId, id: UserId) -> Result<User, StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            // The deleted row's lock first: of two concurrent restores, the second waits and
            // then finds the user restored (`NotFound`), instead of inserting it twice.
            on_tx!(&mut tx, |c| sqlx::query(
                "UPDATE deleted_users SET deleted_at = deleted_at WHERE tenant_id = $1 AND id = $2"
            )
            .bind(DbId::from(tenant))
            .bind(DbId::from(id))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            let sql = deleted_user_sql();
            let row = on_tx!(&mut tx, |c| sqlx::query_as::<_, DeletedUserRow>(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(DbId::from(id))
                .bind(crate::now() - RESTORE_WINDOW)
                .fetch_optional(c)
                .await)?;
            let user = DeletedUser::try_from(row.ok_or(StoreError::NotFound)?)?.user;
            let (licenses, memberships) = on_tx!(&mut tx, |c| sqlx::query_as::<_, (String, String)>(
                "SELECT licenses, memberships FROM deleted_users WHERE id = $1"
            )
            .bind(DbId::from(id))
            .fetch_one(c)
            .await)?;
            let taken = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND upn_lower = $2"
            )
            .bind(DbId::from(tenant))
            .bind(user.user_principal_name.to_lowercase())
            .fetch_one(c)
            .await)?;
            if taken > 0 {
                return Err(StoreError::Conflict("userPrincipalName".into()));
            }
            let cols = USER_COLS.replace("created_at", "version, created_at");
            let select = USER_COLS.replace("created_at", "0, created_at");
            let sql = format!("INSERT INTO users ({cols}, upn_lower) SELECT {select}, upn_lower FROM deleted_users WHERE id = $1");
            on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(sql))
                .bind(DbId::from(id))
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            // Tokens issued before the delete stay dead after the restore.
            super::users::revoke_sessions(&mut tx, tenant, id).await?;
            on_tx!(&mut tx, |c| sqlx::query("DELETE FROM deleted_users WHERE id = $1")
                .bind(DbId::from(id))
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;

            let groups: Vec<GroupId> = serde_json::from_str(&memberships)
                .map_err(|e| StoreError::Corrupt(format!("deleted_users.memberships: {e}")))?;
            let now = crate::now();
            let mut rejoined = 0;
            for g in groups {
                // The group's lock, so that a concurrent group delete is wholly before (the
                // membership is skipped) or wholly after (it removes the membership).
                match lock_group(&mut tx, tenant, g).await {
                    Ok(()) => {}
                    Err(StoreError::NotFound) => continue,
                    Err(e) => return Err(e),
                }
                let added = on_tx!(&mut tx, |c| sqlx::query(
                    "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, added_at, seq) \
                     SELECT $1, id, $3, 'user', $4, $5 FROM groups WHERE tenant_id = $1 AND id = $2 \
                     ON CONFLICT (group_id, member_id) DO NOTHING"
                )
                .bind(DbId::from(tenant))
                .bind(DbId::from(g))
                .bind(DbId::from(id))
                .bind(now)
                .bind(now.timestamp_micros())
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
                rejoined += added;
            }
            if rejoined > 0 {
                enqueue(&mut tx, tenant, JobKind::User(id), 0).await?;
            }

            let wanted: Vec<GroupLicense> = serde_json::from_str(&licenses)
                .map_err(|e| StoreError::Corrupt(format!("deleted_users.licenses: {e}")))?;
            for l in &wanted {
                let change = LicenseChange {
                    add: vec![AddLicense {
                        sku: l.sku_id,
                        disabled_plans: l.disabled_plans.clone(),
                    }],
                    remove: Vec::new(),
                };
                // One license at a time, through the direct change path, taking a unit even when
                // none is free: Entra restores the licenses a user had "even if there are no seats
                // available", leaving the SKU over-consumed. A license the rules no longer allow
                // (the tenant lost the subscription, a plan conflict) stays off: such a refusal
                // comes before the change's first write, so nothing of it is left. Any other
                // error fails the whole restore.
                match direct_change_in_tx(&mut tx, tenant, id, &change, Units::Overdraw).await {
                    Ok(()) | Err(StoreError::License(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            tx.commit().await?;
            Ok(user.clone())
        })
        .await
    }
}

/// Moves a user's row to `deleted_users` with its direct licenses and memberships (inside the
/// deleting transaction, before the user's rows go).
pub(crate) async fn keep_deleted_user(
    tx: &mut crate::db::Tx,
    tenant: TenantId,
    id: UserId,
    held: &[licensing::Assignment],
) -> Result<(), StoreError> {
    let now = crate::now();
    let direct: Vec<GroupLicense> = held
        .iter()
        .filter(|a| a.source == Source::Direct)
        .map(|a| GroupLicense {
            sku_id: a.sku,
            disabled_plans: a.disabled_plans.clone(),
        })
        .collect();
    let groups = on_tx!(tx, |c| {
        sqlx::query_scalar::<_, DbId>(
        "SELECT group_id FROM group_members WHERE tenant_id = $1 AND member_id = $2 ORDER BY seq, group_id"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(id))
    .fetch_all(c)
    .await
    })?;
    let groups: Vec<GroupId> = groups.into_iter().map(|d| GroupId::from_uuid(d.0)).collect();
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM deleted_users WHERE id = $1 OR deleted_at < $2"
    )
    .bind(DbId::from(id))
    .bind(now - RESTORE_WINDOW)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let sql = format!(
        "INSERT INTO deleted_users ({USER_COLS}, upn_lower, deleted_at, licenses, memberships) \
         SELECT {USER_COLS}, upn_lower, $2, $3, $4 FROM users WHERE id = $1"
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId::from(id))
        .bind(now)
        .bind(to_json(&direct))
        .bind(to_json(&groups))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
