//! Groups and membership in the store: the group records, their members (users and nested
//! groups) and the licensing work a membership change of a licensed group enqueues.

use allot_core::ids::{GroupId, TenantId, UserId};
use allot_odata::validate::Cond;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::retry;
use crate::audit::{self, Actor};
use crate::db::Tx;
use crate::dbid::DbId;
use crate::dbid::NIL;
use crate::error::StoreError;
use crate::ledger::{JobKind, enqueue, lock_group, lock_user};
use crate::records::{GROUP_COLS, Group, MemberRef, to_json};
use crate::store::{Store, row_in_tx};
use crate::{bind_odata, on_db, on_tx, sql};

impl Store {
    // ---- groups and membership ---------------------------------------------------------------

    pub async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
        self.create_group_as(None, g, &[]).await
    }

    pub async fn group(&self, tenant: TenantId, id: GroupId) -> Result<Option<Group>, StoreError> {
        let head = format!("SELECT {GROUP_COLS} FROM groups WHERE tenant_id = $1");
        let row: Option<Group> = self.row_by_id(&head, tenant, id.as_uuid()).await?;
        Ok(row)
    }

    /// How many groups match `filter` (all of the tenant's without one).
    pub async fn count_groups_where(
        &self,
        tenant: TenantId,
        filter: Option<&Cond>,
    ) -> Result<i64, StoreError> {
        self.filtered_count("FROM groups g WHERE g.tenant_id = $1", tenant, filter)
            .await
    }

    /// Read-modify-write of one group under its row lock.
    pub async fn update_group<F>(&self, tenant: TenantId, id: GroupId, edit: F) -> Result<Group, StoreError>
    where
        F: Fn(&mut Group) -> Result<(), StoreError>,
    {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_group(&mut tx, tenant, id).await?;
            let head = format!("SELECT {GROUP_COLS} FROM groups WHERE tenant_id = $1");
            let row: Group = row_in_tx(&mut tx, &head, tenant, id.as_uuid()).await?;
            let mut group = row;
            edit(&mut group)?;
            let sql = "UPDATE groups SET display_name = $3, description = $4, mail_nickname = $5, mail_enabled = $6, \
                       security_enabled = $7, group_types = $8 WHERE tenant_id = $1 AND id = $2";
            on_tx!(&mut tx, |c| sqlx::query(sql)
                .bind(DbId::from(tenant))
                .bind(DbId::from(id))
                .bind(&group.display_name)
                .bind(&group.description)
                .bind(&group.mail_nickname)
                .bind(group.mail_enabled)
                .bind(group.security_enabled)
                .bind(to_json(&group.group_types))
                .execute(c)
                .await.map(|r| r.rows_affected()))?;
            tx.commit().await?;
            Ok(group)
        })
        .await
    }

    /// Deletes a group; refused while it still assigns licenses (spec §3.7).
    pub async fn delete_group(&self, tenant: TenantId, id: GroupId) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_group(&mut tx, tenant, id).await?;
            let licenses = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, String>(
                "SELECT assigned_licenses FROM groups WHERE tenant_id = $1 AND id = $2"
            )
            .bind(DbId::from(tenant))
            .bind(DbId::from(id))
            .fetch_one(c)
            .await)?;
            if licenses.trim() != "[]" || group_has_rows(&mut tx, id).await? {
                return Err(StoreError::Invalid("group has licenses".into()));
            }
            // A Microsoft 365 group waits 30 days in deleted_groups; a security group is gone.
            super::deleted::keep_deleted_group(&mut tx, tenant, id).await?;
            end_memberships(&mut tx, tenant, Ending::OfGroup(id)).await?;
            on_tx!(&mut tx, |c| sqlx::query(
                "DELETE FROM groups WHERE tenant_id = $1 AND id = $2"
            )
            .bind(DbId::from(tenant))
            .bind(DbId::from(id))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            tx.commit().await
        })
        .await
    }

    /// Adds members to a group, all or none: `Conflict` if one is already a member, `NotFound` if
    /// one does not exist in the tenant.
    pub async fn add_members(
        &self,
        actor: &Actor,
        tenant: TenantId,
        group: GroupId,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        self.add_members_as(Some(actor), tenant, group, members).await
    }

    /// As [`Store::add_members`]; without an actor (tenant files) nothing is recorded.
    pub(crate) async fn add_members_as(
        &self,
        actor: Option<&Actor>,
        tenant: TenantId,
        group: GroupId,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_group(&mut tx, tenant, group).await?;
            add_members_in_tx(&mut tx, tenant, group, members).await?;
            if let Some(actor) = actor {
                for m in members {
                    audit::membership(&mut tx, tenant, actor, group, *m, true).await?;
                }
            }
            tx.commit().await
        })
        .await
    }

    /// Removes one member; `NotFound` if it is not a member. Locks the group, then the member
    /// (the lock order of every membership change), so a concurrent delete of the member or a
    /// licensing job on it sees the membership either before or after, never half-way.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        tenant: TenantId,
        group: GroupId,
        member: Uuid,
    ) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            lock_group(&mut tx, tenant, group).await?;
            let kind = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, String>(
                "SELECT member_type FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3"
            )
            .bind(DbId::from(tenant))
            .bind(DbId::from(group))
            .bind(DbId(member))
            .fetch_optional(c)
            .await)?
            .ok_or(StoreError::NotFound)?;
            lock_member(&mut tx, tenant, member_ref(member, &kind)).await?;
            let done = end_memberships(&mut tx, tenant, Ending::One(group, member)).await?;
            if done > 0 {
                audit::membership(&mut tx, tenant, actor, group, member_ref(member, &kind), false).await?;
            }
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            let holds = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM license_assignments WHERE user_id = $1 AND source_group_id = $2"
            )
            .bind(DbId(member))
            .bind(DbId::from(group))
            .fetch_one(c)
            .await)?;
            if holds > 0 {
                enqueue(&mut tx, tenant, JobKind::User(UserId::from_uuid(member)), 0).await?;
            }
            tx.commit().await
        })
        .await
    }

    /// Direct members above `after`, in id order.
    pub async fn members_page(
        &self,
        tenant: TenantId,
        group: GroupId,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<MemberRef>, StoreError> {
        self.members_page_where(tenant, group, None, after, limit).await
    }

    /// Direct members of `group` matching `filter` (a validated OData condition on the
    /// membership row `m`, from `allot_odata::schema::DIRECTORY_OBJECTS`), above `after`.
    pub async fn members_page_where(
        &self,
        tenant: TenantId,
        group: GroupId,
        filter: Option<&Cond>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<MemberRef>, StoreError> {
        let (and, params, n) = sql::odata_where(self.db.backend(), filter, 4);
        let sql = format!(
            "SELECT m.member_id, m.member_type FROM group_members m WHERE m.tenant_id = $1 AND m.group_id = $2 \
             AND m.member_id > $3{and} ORDER BY m.member_id LIMIT ${n}"
        );
        let rows = on_db!(&self.db, |p| bind_odata!(
            sqlx::query_as::<_, (DbId, String)>(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(DbId::from(group))
                .bind(after.map_or(NIL, DbId)),
            &params
        )
        .bind(limit)
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, kind)| member_ref(id.0, &kind))
            .collect())
    }

    /// How many direct members of `group` match `filter`.
    pub async fn count_members_where(
        &self,
        tenant: TenantId,
        group: GroupId,
        filter: Option<&Cond>,
    ) -> Result<i64, StoreError> {
        let (and, params, _) = sql::odata_where(self.db.backend(), filter, 3);
        let sql =
            format!("SELECT COUNT(*) FROM group_members m WHERE m.tenant_id = $1 AND m.group_id = $2{and}");
        Ok(on_db!(&self.db, |p| bind_odata!(
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(DbId::from(group)),
            &params
        )
        .fetch_one(p)
        .await)?)
    }

    /// Groups `member` is a direct member of, above `after`, in id order.
    pub async fn member_of_page(
        &self,
        tenant: TenantId,
        member: Uuid,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Group>, StoreError> {
        let cols = GROUP_COLS
            .split(", ")
            .map(|c| format!("g.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM groups g JOIN group_members m ON m.group_id = g.id \
             WHERE m.tenant_id = $1 AND m.member_id = $2 AND g.id > $3 ORDER BY g.id LIMIT $4"
        );
        let rows = on_db!(&self.db, |p| sqlx::query_as::<_, Group>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(DbId(member))
            .bind(after.map_or(NIL, DbId))
            .bind(limit)
            .fetch_all(p)
            .await)?;
        Ok(rows)
    }

    pub async fn count_users(&self, tenant: TenantId) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM users WHERE tenant_id = $1", tenant)
            .await
    }

    pub async fn count_groups(&self, tenant: TenantId) -> Result<i64, StoreError> {
        self.count("SELECT COUNT(*) FROM groups WHERE tenant_id = $1", tenant)
            .await
    }

    pub async fn count_members(&self, tenant: TenantId, group: GroupId) -> Result<i64, StoreError> {
        Ok(on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM group_members WHERE tenant_id = $1 AND group_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(group))
        .fetch_one(p)
        .await)?)
    }

    async fn count(&self, sql: &'static str, tenant: TenantId) -> Result<i64, StoreError> {
        Ok(on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(sql)
            .bind(DbId::from(tenant))
            .fetch_one(p)
            .await)?)
    }

    /// Creates a group with its first members in one transaction (`members@odata.bind`): if one
    /// member is refused, the group is not created either.
    pub async fn create_group(
        &self,
        actor: &Actor,
        g: &Group,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        self.create_group_as(Some(actor), g, members).await
    }

    /// As [`Store::create_group`]; without an actor (tenant files, tests) nothing is recorded.
    async fn create_group_as(
        &self,
        actor: Option<&Actor>,
        g: &Group,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            insert_group_in_tx(&mut tx, g).await?;
            add_members_in_tx(&mut tx, g.tenant_id, g.id, members).await?;
            if let Some(actor) = actor {
                for m in members {
                    audit::membership(&mut tx, g.tenant_id, actor, g.id, *m, true).await?;
                }
            }
            tx.commit().await
        })
        .await
    }

    pub async fn is_member(
        &self,
        tenant: TenantId,
        group: GroupId,
        member: Uuid,
    ) -> Result<bool, StoreError> {
        let n = on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(group))
        .bind(DbId(member))
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }
}

async fn insert_group_in_tx(tx: &mut Tx, g: &Group) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO groups (id, tenant_id, display_name, description, mail_nickname, mail_enabled, \
         security_enabled, group_types, assigned_licenses, version, created_at, change_mark) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, {})",
        sql::change_mark(tx.backend())
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId::from(g.id))
        .bind(DbId::from(g.tenant_id))
        .bind(&g.display_name)
        .bind(&g.description)
        .bind(&g.mail_nickname)
        .bind(g.mail_enabled)
        .bind(g.security_enabled)
        .bind(to_json(&g.group_types))
        .bind(to_json(&g.assigned_licenses))
        .bind(g.created_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Adds members, all or none: `Conflict` if one is already a member, `NotFound` if one does not
/// exist in the tenant (or is the group itself).
pub(super) async fn add_members_in_tx(
    tx: &mut Tx,
    tenant: TenantId,
    group: GroupId,
    members: &[MemberRef],
) -> Result<(), StoreError> {
    let now = crate::now();
    let insert = format!(
        "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, added_at, seq, change_mark) \
         VALUES ($1, $2, $3, $4, $5, $6, {}) ON CONFLICT (group_id, member_id) DO NOTHING",
        sql::change_mark(tx.backend())
    );
    for m in members {
        let kind = match m {
            MemberRef::User(_) => "user",
            MemberRef::Group(_) => "group",
        };
        if m.uuid() == group.as_uuid() {
            return Err(StoreError::NotFound);
        }
        // The member's row lock, not a look: a concurrent delete of the member either commits
        // first (then the member is gone here) or waits for this membership and removes it.
        lock_member(tx, tenant, *m).await?;
        let inserted = on_tx!(tx, |c| sqlx::query(AssertSqlSafe(insert.clone()))
            .bind(DbId::from(tenant))
            .bind(DbId::from(group))
            .bind(DbId(m.uuid()))
            .bind(kind)
            .bind(now)
            .bind(now.timestamp_micros())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if inserted == 0 {
            return Err(StoreError::Conflict("members".into()));
        }
    }
    let (users, _) = MemberRef::split(members);
    if !users.is_empty() && group_has_licenses(tx, tenant, group).await? {
        // A few new members are evaluated one by one; many at once by one pass over the group.
        if users.len() <= 20 {
            for u in users {
                enqueue(tx, tenant, JobKind::User(u), 0).await?;
            }
        } else {
            let version = group_version(tx, group).await?;
            enqueue(tx, tenant, JobKind::Group(group), version).await?;
        }
    }
    Ok(())
}

async fn group_has_licenses(tx: &mut Tx, tenant: TenantId, group: GroupId) -> Result<bool, StoreError> {
    let licenses = on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
        "SELECT assigned_licenses FROM groups WHERE tenant_id = $1 AND id = $2"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(group))
    .fetch_optional(c)
    .await)?;
    Ok(licenses.is_some_and(|l| l.trim() != "[]"))
}

async fn group_version(tx: &mut Tx, group: GroupId) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "SELECT processing_version FROM groups WHERE id = $1"
    )
    .bind(DbId::from(group))
    .fetch_one(c)
    .await)?)
}

/// Whether any user still holds (or is in error for) a license from `group`.
async fn group_has_rows(tx: &mut Tx, group: GroupId) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM license_assignments WHERE source_group_id = $1"
    )
    .bind(DbId::from(group))
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

pub(crate) fn member_ref(id: Uuid, kind: &str) -> MemberRef {
    if kind == "group" {
        MemberRef::Group(GroupId::from_uuid(id))
    } else {
        MemberRef::User(UserId::from_uuid(id))
    }
}

/// Takes the row lock of a member (user or group); `NotFound` if it is not in the tenant. Every
/// membership change locks the group first, then the member.
async fn lock_member(tx: &mut Tx, tenant: TenantId, member: MemberRef) -> Result<(), StoreError> {
    match member {
        MemberRef::User(u) => lock_user(tx, tenant, u).await.map(|_| ()),
        MemberRef::Group(g) => lock_group(tx, tenant, g).await,
    }
}

/// Which memberships [`end_memberships`] ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending {
    /// One member of one group.
    One(GroupId, Uuid),
    /// Every membership of a member (a user or group being deleted).
    OfMember(Uuid),
    /// A group's members and its own memberships (the group being deleted).
    OfGroup(GroupId),
}

/// Ends memberships: each leaves a tombstone and marks its group changed (for `members@delta`),
/// then goes. Returns how many ended.
pub(crate) async fn end_memberships(
    tx: &mut Tx,
    tenant: TenantId,
    ending: Ending,
) -> Result<u64, StoreError> {
    let (cond, a, b) = match ending {
        Ending::One(g, m) => ("group_id = $2 AND member_id = $3", g.as_uuid(), m),
        Ending::OfMember(m) => ("member_id = $2 AND member_id = $3", m, m),
        Ending::OfGroup(g) => ("(group_id = $2 OR member_id = $3)", g.as_uuid(), g.as_uuid()),
    };
    let mark = sql::change_mark(tx.backend());
    let keep = format!(
        "INSERT INTO membership_tombstones (tenant_id, group_id, member_id, member_type, change_mark, removed_at) \
         SELECT tenant_id, group_id, member_id, member_type, {mark}, $4 FROM group_members \
         WHERE tenant_id = $1 AND {cond} ON CONFLICT (group_id, member_id) DO UPDATE \
         SET member_type = excluded.member_type, change_mark = excluded.change_mark, removed_at = excluded.removed_at"
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(keep))
        .bind(DbId::from(tenant))
        .bind(DbId(a))
        .bind(DbId(b))
        .bind(crate::now())
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    let statements = [
        format!(
            "UPDATE groups SET change_mark = {mark} WHERE tenant_id = $1 AND id IN \
             (SELECT group_id FROM group_members WHERE tenant_id = $1 AND {cond})"
        ),
        format!("DELETE FROM group_members WHERE tenant_id = $1 AND {cond}"),
    ];
    let mut ended = 0;
    for sql in statements {
        ended = on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(DbId(a))
            .bind(DbId(b))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(ended)
}
