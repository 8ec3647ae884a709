//! Deleted users and groups: what a deletion keeps for 30 days (the object with its direct
//! licenses and memberships), listing and reading it, restoring it through the direct change
//! path, and deleting it for good.

use allot_core::ids::{GroupId, Source, TenantId, UserId};
use allot_core::licensing::{self, AddLicense, LicenseChange};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::partner::RESTORE_WINDOW;
use super::retry;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::ledger::{JobKind, Units, direct_change_in_tx, enqueue, lock_group};
use crate::records::{
    DeletedGroup, DeletedUser, DeletedUserRow, GROUP_COLS, Group, GroupLicense, MemberRef, USER_COLS, User,
    to_json,
};
use crate::store::{AnyRow, Store};
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
        let rows: Vec<DeletedUserRow> = self
            .kept_page(
                &format!("{USER_COLS}, deleted_at FROM deleted_users"),
                tenant,
                after,
                limit,
            )
            .await?;
        rows.into_iter().map(DeletedUser::try_from).collect()
    }

    /// Deletes a deleted user for good (`DELETE /directory/deletedItems/{id}`); `NotFound` when
    /// it is not in the tenant's deleted items.
    pub async fn purge_deleted_user(&self, tenant: TenantId, id: UserId) -> Result<(), StoreError> {
        self.purge_kept("deleted_users", tenant, id.as_uuid()).await
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
    pub async fn restore_user(
        &self,
        actor: &crate::audit::Actor,
        tenant: TenantId,
        id: UserId,
    ) -> Result<User, StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_kept(&mut tx, "deleted_users", tenant, id.as_uuid()).await?;
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
            let sql = format!(
                "INSERT INTO users ({cols}, upn_lower, change_mark) SELECT {select}, upn_lower, {} FROM deleted_users \
                 WHERE id = $1",
                crate::sql::change_mark(tx.backend())
            );
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
            // The group's mark too: its members changed (members@delta).
            let rejoin = format!(
                "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, added_at, seq, change_mark) \
                 SELECT $1, id, $3, 'user', $4, $5, {} FROM groups WHERE tenant_id = $1 AND id = $2 \
                 ON CONFLICT (group_id, member_id) DO NOTHING",
                crate::sql::change_mark(tx.backend())
            );
            let mut rejoined = 0;
            for g in groups {
                // The group's lock, so that a concurrent group delete is wholly before (the
                // membership is skipped) or wholly after (it removes the membership).
                match lock_group(&mut tx, tenant, g).await {
                    Ok(()) => {}
                    Err(StoreError::NotFound) => continue,
                    Err(e) => return Err(e),
                }
                let added = on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(rejoin.clone()))
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
                    Ok(_) | Err(StoreError::License(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            crate::audit::user_lifecycle(&mut tx, tenant, actor, id, "Restore user", "Update", None).await?;
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
    let groups: Vec<GroupId> = parent_groups(tx, tenant, id.as_uuid())
        .await?
        .into_iter()
        .map(GroupId::from_uuid)
        .collect();
    make_room(tx, "deleted_users", id.as_uuid(), now).await?;
    let sql = format!(
        "INSERT INTO deleted_users ({USER_COLS}, upn_lower, deleted_at, licenses, memberships, change_mark) \
         SELECT {USER_COLS}, upn_lower, $2, $3, $4, {} FROM users WHERE id = $1",
        crate::sql::change_mark(tx.backend())
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

/// A member of a deleted group, as kept in `deleted_groups.members`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptMember {
    id: uuid::Uuid,
    #[serde(rename = "type")]
    kind: String,
}

/// Keeps a Microsoft 365 group (`groupTypes` holds `Unified`) in `deleted_groups` with its members
/// and the groups it belonged to (inside the deleting transaction, before its rows go). Other
/// groups are not kept: Entra restores Microsoft 365 groups only.
pub(crate) async fn keep_deleted_group(
    tx: &mut crate::db::Tx,
    tenant: TenantId,
    id: GroupId,
) -> Result<(), StoreError> {
    let types = on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
        "SELECT group_types FROM groups WHERE tenant_id = $1 AND id = $2"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(id))
    .fetch_one(c)
    .await)?;
    let types: Vec<String> =
        serde_json::from_str(&types).map_err(|e| StoreError::Corrupt(format!("groups.group_types: {e}")))?;
    if !types.iter().any(|t| t.eq_ignore_ascii_case("Unified")) {
        return tombstone(tx, tenant, id.as_uuid(), "group").await;
    }
    let members = on_tx!(tx, |c| {
        sqlx::query_as::<_, (DbId, String)>(
        "SELECT member_id, member_type FROM group_members WHERE tenant_id = $1 AND group_id = $2 ORDER BY seq, member_id"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(id))
    .fetch_all(c)
    .await
    })?;
    let members: Vec<KeptMember> = members
        .into_iter()
        .map(|(m, kind)| KeptMember { id: m.0, kind })
        .collect();
    let parents = parent_groups(tx, tenant, id.as_uuid()).await?;
    let now = crate::now();
    make_room(tx, "deleted_groups", id.as_uuid(), now).await?;
    let sql = format!(
        "INSERT INTO deleted_groups ({GROUP_COLS}, deleted_at, members, member_of, change_mark) \
         SELECT {GROUP_COLS}, $2, $3, $4, {} FROM groups WHERE id = $1",
        crate::sql::change_mark(tx.backend())
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId::from(id))
        .bind(now)
        .bind(to_json(&members))
        .bind(to_json(&parents))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

impl Store {
    /// One page of the tenant's deleted Microsoft 365 groups still in their window, by id.
    pub async fn deleted_groups_page(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeletedGroup>, StoreError> {
        self.kept_page(
            &format!("{GROUP_COLS}, deleted_at FROM deleted_groups"),
            tenant,
            after,
            limit,
        )
        .await
    }

    /// A deleted Microsoft 365 group still in its window.
    pub async fn deleted_group(
        &self,
        tenant: TenantId,
        id: GroupId,
    ) -> Result<Option<DeletedGroup>, StoreError> {
        let sql = format!(
            "SELECT {GROUP_COLS}, deleted_at FROM deleted_groups WHERE tenant_id = $1 AND id = $2 AND deleted_at > $3"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, DeletedGroup>(
            AssertSqlSafe(sql)
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(id))
        .bind(crate::now() - RESTORE_WINDOW)
        .fetch_optional(p)
        .await)?)
    }

    /// Brings a deleted Microsoft 365 group back with the members and parent groups that still
    /// exist. It had no licenses (a licensed group cannot be deleted) and nested groups take no
    /// licenses from their parents, so no licensing work follows. `NotFound` past the window.
    pub async fn restore_group(&self, tenant: TenantId, id: GroupId) -> Result<Group, StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_kept(&mut tx, "deleted_groups", tenant, id.as_uuid()).await?;
            let kept = on_tx!(&mut tx, |c| sqlx::query_as::<_, (String, String)>(
                "SELECT members, member_of FROM deleted_groups WHERE tenant_id = $1 AND id = $2 AND deleted_at > $3"
            )
            .bind(DbId::from(tenant))
            .bind(DbId::from(id))
            .bind(crate::now() - RESTORE_WINDOW)
            .fetch_optional(&mut *c)
            .await)?;
            let (members, parents) = kept.ok_or(StoreError::NotFound)?;
            let members: Vec<KeptMember> = serde_json::from_str(&members)
                .map_err(|e| StoreError::Corrupt(format!("deleted_groups.members: {e}")))?;
            let parents: Vec<uuid::Uuid> = serde_json::from_str(&parents)
                .map_err(|e| StoreError::Corrupt(format!("deleted_groups.member_of: {e}")))?;
            let sql = format!(
                "INSERT INTO groups ({GROUP_COLS}, version, change_mark) SELECT {GROUP_COLS}, 0, {} FROM deleted_groups \
                 WHERE id = $1",
                crate::sql::change_mark(tx.backend())
            );
            on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(sql))
                .bind(DbId::from(id))
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            on_tx!(&mut tx, |c| sqlx::query("DELETE FROM deleted_groups WHERE id = $1")
                .bind(DbId::from(id))
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            // Members and parents deleted meanwhile are left out.
            for m in &members {
                let member = if m.kind == "group" {
                    MemberRef::Group(GroupId::from_uuid(m.id))
                } else {
                    MemberRef::User(UserId::from_uuid(m.id))
                };
                match super::groups::add_members_in_tx(&mut tx, tenant, id, &[member]).await {
                    Ok(()) | Err(StoreError::NotFound | StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            for p in &parents {
                let parent = GroupId::from_uuid(*p);
                match lock_group(&mut tx, tenant, parent).await {
                    Ok(()) => {}
                    Err(StoreError::NotFound) => continue,
                    Err(e) => return Err(e),
                }
                match super::groups::add_members_in_tx(&mut tx, tenant, parent, &[MemberRef::Group(id)]).await {
                    Ok(()) | Err(StoreError::NotFound | StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE id = $1");
            let group = on_tx!(&mut tx, |c| sqlx::query_as::<_, Group>(AssertSqlSafe(sql))
                .bind(DbId::from(id))
                .fetch_one(c)
                .await)?;
            tx.commit().await?;
            Ok(group)
        })
        .await
    }

    /// Deletes a deleted group for good; `NotFound` when it is not in the deleted items.
    pub async fn purge_deleted_group(&self, tenant: TenantId, id: GroupId) -> Result<(), StoreError> {
        self.purge_kept("deleted_groups", tenant, id.as_uuid()).await
    }
}

impl Store {
    /// One page of `what` (`<columns> FROM <table>` of deleted objects) in the tenant's window, in
    /// id order after `after`.
    async fn kept_page<R: AnyRow>(
        &self,
        what: &str,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<R>, StoreError> {
        let sql = format!(
            "SELECT {what} WHERE tenant_id = $1 AND deleted_at > $2 AND id > $3 ORDER BY id LIMIT $4"
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, R>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(crate::now() - RESTORE_WINDOW)
            .bind(DbId(after.unwrap_or(Uuid::nil())))
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Deletes a kept object of `table` for good; `NotFound` when it is not there.
    async fn purge_kept(&self, table: &'static str, tenant: TenantId, id: Uuid) -> Result<(), StoreError> {
        let kind = if table == "deleted_users" { "user" } else { "group" };
        retry(|| async {
            let mut tx = self.db.begin().await?;
            let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND id = $2 AND deleted_at > $3");
            let gone = on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(DbId(id))
                .bind(crate::now() - RESTORE_WINDOW)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            if gone == 0 {
                return Err(StoreError::NotFound);
            }
            tombstone(&mut tx, tenant, id, kind).await?;
            tx.commit().await
        })
        .await
    }
}

/// The row lock of a kept object (a restore's first step): of two concurrent restores, the second
/// waits and then finds the object restored (`NotFound`), instead of inserting it twice.
async fn lock_kept(
    tx: &mut crate::db::Tx,
    table: &'static str,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), StoreError> {
    let sql = format!("UPDATE {table} SET deleted_at = deleted_at WHERE tenant_id = $1 AND id = $2");
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId::from(tenant))
        .bind(DbId(id))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The groups `member` belongs to, in the order it joined them.
async fn parent_groups(
    tx: &mut crate::db::Tx,
    tenant: TenantId,
    member: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    let rows = on_tx!(tx, |c| {
        sqlx::query_scalar::<_, DbId>(
        "SELECT group_id FROM group_members WHERE tenant_id = $1 AND member_id = $2 ORDER BY seq, group_id"
    )
    .bind(DbId::from(tenant))
    .bind(DbId(member))
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(|d| d.0).collect())
}

/// Records that an object is gone for good, for delta rounds ("@removed": "deleted"); tombstones
/// older than the restore window go at the same time.
pub(crate) async fn tombstone(
    tx: &mut crate::db::Tx,
    tenant: TenantId,
    id: Uuid,
    kind: &'static str,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO directory_tombstones (id, tenant_id, kind, change_mark, removed_at) VALUES ($1, $2, $3, {}, $4) \
         ON CONFLICT (id, kind) DO UPDATE SET change_mark = excluded.change_mark, removed_at = excluded.removed_at",
        crate::sql::change_mark(tx.backend())
    );
    let now = crate::now();
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId(id))
        .bind(DbId::from(tenant))
        .bind(kind)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM directory_tombstones WHERE removed_at < $1"
    )
    .bind(now - RESTORE_WINDOW)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Clears the way for keeping `id` in `table`: its older row, if any, and every row past the
/// restore window (the purge happens at the next deletion).
async fn make_room(
    tx: &mut crate::db::Tx,
    table: &'static str,
    id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let sql = format!("DELETE FROM {table} WHERE id = $1 OR deleted_at < $2");
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId(id))
        .bind(now - RESTORE_WINDOW)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
