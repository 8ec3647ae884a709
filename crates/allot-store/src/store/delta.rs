//! Delta rounds over users and groups (Graph's `/users/delta`, `/groups/delta`): a watermark to
//! start a round, and pages of what changed since a watermark, in object id order: the objects
//! as they are now, and the ones deleted since ("changed": in the deleted items; "deleted": gone
//! for good). How the marks are written and why they are safe: migration 0011.

use allot_core::ids::{GroupId, TenantId};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::partner::RESTORE_WINDOW;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::records::{GROUP_COLS, Group, MemberRef, USER_COLS, User, UserRow};
use crate::store::{AnyRow, Store};
use crate::{on_db, sql};

/// Why an object left the directory, as a delta round reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted and restorable (in the deleted items).
    Changed,
    /// Gone for good.
    Deleted,
}

impl Removal {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Deleted => "deleted",
        }
    }
}

/// One entry of a delta page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaItem<T> {
    Present(T),
    Removed(Uuid, Removal),
}

impl<T> DeltaItem<T> {
    /// The object id (the paging key).
    pub fn id(&self) -> Uuid
    where
        T: HasId,
    {
        match self {
            Self::Present(t) => t.uuid(),
            Self::Removed(id, _) => *id,
        }
    }
}

/// Objects with an id, for [`DeltaItem::id`].
pub trait HasId {
    fn uuid(&self) -> Uuid;
}

impl HasId for User {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

impl HasId for Group {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// Where a delta round starts: the changes it reports next time are those marked at or after
/// `from`, or by one of the `running` writers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    #[serde(rename = "f")]
    pub from: i64,
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<i64>,
}

impl Watermark {
    /// Everything: a first sync.
    #[must_use]
    pub const fn all() -> Self {
        Self {
            from: i64::MIN,
            running: Vec::new(),
        }
    }

    fn running_json(&self) -> String {
        serde_json::to_string(&self.running).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// A membership change of a group since a watermark, for `members@delta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberDelta {
    pub member: MemberRef,
    pub removed: bool,
}

impl Store {
    /// Starts a delta round: the watermark its delta token carries.
    pub async fn delta_watermark(&self) -> Result<Watermark, StoreError> {
        let sql = sql::change_watermark(self.db.backend());
        let (from, running) = on_db!(&self.db, |p| sqlx::query_as::<_, (i64, String)>(sql)
            .fetch_one(p)
            .await)?;
        let running = running
            .split(',')
            .filter_map(|x| x.trim().parse::<i64>().ok())
            .collect();
        Ok(Watermark { from, running })
    }

    /// Up to `limit` users after `after` in id order: all of them (`since` absent, a round's
    /// first sync), or those changed, deleted or purged since the watermark `since`.
    pub async fn users_delta_page(
        &self,
        tenant: TenantId,
        since: Option<&Watermark>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeltaItem<User>>, StoreError> {
        let present: Vec<UserRow> = self
            .delta_rows(&format!("{USER_COLS} FROM users"), tenant, since, after, limit)
            .await?;
        let present = present
            .into_iter()
            .map(|r| User::try_from(r).map(DeltaItem::Present))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(since) = since else {
            return Ok(present);
        };
        let removed = self.removed(tenant, "users", "user", since, after, limit).await?;
        Ok(merge(present, removed, limit))
    }

    /// As [`Store::users_delta_page`], for groups.
    pub async fn groups_delta_page(
        &self,
        tenant: TenantId,
        since: Option<&Watermark>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<DeltaItem<Group>>, StoreError> {
        let present: Vec<Group> = self
            .delta_rows(&format!("{GROUP_COLS} FROM groups"), tenant, since, after, limit)
            .await?;
        let present = present.into_iter().map(DeltaItem::Present).collect();
        let Some(since) = since else {
            return Ok(present);
        };
        let removed = self
            .removed(tenant, "groups", "group", since, after, limit)
            .await?;
        Ok(merge(present, removed, limit))
    }

    /// The membership changes of `group` since `since` (all its members without one): members
    /// added or still there, and memberships that ended.
    pub async fn member_deltas(
        &self,
        tenant: TenantId,
        group: GroupId,
        since: Option<&Watermark>,
    ) -> Result<Vec<MemberDelta>, StoreError> {
        let since = since.cloned().unwrap_or_else(Watermark::all);
        let changed = |t: &str| marked(self.db.backend(), t, 3, 4);
        let sql = format!(
            "SELECT member_id, member_type, FALSE FROM group_members \
             WHERE tenant_id = $1 AND group_id = $2 AND {} \
             UNION ALL SELECT t.member_id, t.member_type, TRUE FROM membership_tombstones t \
             WHERE t.tenant_id = $1 AND t.group_id = $2 AND {} AND NOT EXISTS \
             (SELECT 1 FROM group_members m WHERE m.group_id = t.group_id AND m.member_id = t.member_id) \
             ORDER BY 1",
            changed("group_members"),
            changed("t")
        );
        let rows = on_db!(&self.db, |p| sqlx::query_as::<_, (DbId, String, bool)>(
            AssertSqlSafe(sql.clone())
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(group))
        .bind(since.from)
        .bind(since.running_json())
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, removed)| MemberDelta {
                member: if kind == "group" {
                    MemberRef::Group(GroupId::from_uuid(id.0))
                } else {
                    MemberRef::User(allot_core::ids::UserId::from_uuid(id.0))
                },
                removed,
            })
            .collect())
    }

    /// Rows of `what` (`<columns> FROM <table>`) of the tenant after `after`, marked at or after
    /// `since` when given.
    async fn delta_rows<R: AnyRow>(
        &self,
        what: &str,
        tenant: TenantId,
        since: Option<&Watermark>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<R>, StoreError> {
        let since = since.cloned().unwrap_or_else(Watermark::all);
        let table = what.rsplit(' ').next().unwrap_or("");
        let sql = format!(
            "SELECT {what} WHERE tenant_id = $1 AND {} AND id > $3 ORDER BY id LIMIT $4",
            marked(self.db.backend(), table, 2, 5)
        );
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, R>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(since.from)
            .bind(DbId(after.unwrap_or(Uuid::nil())))
            .bind(limit)
            .bind(since.running_json())
            .fetch_all(p)
            .await)?)
    }

    /// Objects of `table` deleted since `since`: restorable ones (`deleted_<table>`) and ones
    /// gone for good (tombstones of `kind`), in id order after `after`.
    async fn removed(
        &self,
        tenant: TenantId,
        table: &str,
        kind: &str,
        since: &Watermark,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(Uuid, Removal)>, StoreError> {
        let backend = self.db.backend();
        let sql = format!(
            "SELECT id, FALSE FROM deleted_{table} WHERE tenant_id = $1 AND {} AND id > $3 \
             AND deleted_at > $5 \
             UNION ALL SELECT id, TRUE FROM directory_tombstones WHERE tenant_id = $1 AND kind = $6 \
             AND {} AND id > $3 ORDER BY 1 LIMIT $4",
            marked(backend, &format!("deleted_{table}"), 2, 7),
            marked(backend, "directory_tombstones", 2, 7)
        );
        let rows = on_db!(&self.db, |p| sqlx::query_as::<_, (DbId, bool)>(AssertSqlSafe(
            sql
        ))
        .bind(DbId::from(tenant))
        .bind(since.from)
        .bind(DbId(after.unwrap_or(Uuid::nil())))
        .bind(limit)
        .bind(crate::now() - RESTORE_WINDOW)
        .bind(kind)
        .bind(since.running_json())
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, gone)| (id.0, if gone { Removal::Deleted } else { Removal::Changed }))
            .collect())
    }
}

/// The rows of `table` changed since a watermark: marked at or after `$from`, or by one of the
/// writers running then (the JSON array at `$running`).
fn marked(backend: crate::db::Backend, table: &str, from: usize, running: usize) -> String {
    format!(
        "({table}.change_mark >= ${from} OR {table}.change_mark IN (SELECT {} FROM {}))",
        sql::json_value(backend, "bigint"),
        sql::json_scalars(backend, running)
    )
}

/// The first `limit` of present and removed objects together, in id order.
fn merge<T: HasId>(
    present: Vec<DeltaItem<T>>,
    removed: Vec<(Uuid, Removal)>,
    limit: i64,
) -> Vec<DeltaItem<T>> {
    let mut all: Vec<DeltaItem<T>> = present
        .into_iter()
        .chain(removed.into_iter().map(|(id, r)| DeltaItem::Removed(id, r)))
        .collect();
    all.sort_by_key(DeltaItem::id);
    all.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    all
}
