//! Partner Center in the store: partner-customer relationships, the customer-user listing with
//! Partner Center's filter and sort (active or deleted users), restoring a deleted user, and the
//! first answers kept for replaying a repeated `MS-RequestId`.

use allot_core::ids::{GroupId, Source, TenantId, UserId};
use allot_core::licensing::{self, AddLicense, LicenseChange};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::retry;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::ledger::{JobKind, direct_change_in_tx, enqueue, lock_group};
use crate::records::{
    DeletedUser, DeletedUserRow, GroupLicense, RELATIONSHIP_COLS, Relationship, RelationshipRow, USER_COLS,
    User, UserRow, to_json,
};
use crate::store::Store;
use crate::{on_db, on_tx};

/// How long a deleted user can be restored.
pub const RESTORE_WINDOW: TimeDelta = TimeDelta::days(30);
/// How long the first answer to a POST is kept for replays of its `MS-RequestId`.
pub const REPLAY_WINDOW: TimeDelta = TimeDelta::hours(24);
/// After this long, a first request that never finished (its node died) no longer holds its id.
pub const STALE_CLAIM: TimeDelta = TimeDelta::seconds(60);

/// The user properties Partner Center sorts and filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    DisplayName,
    UserPrincipalName,
}

impl UserField {
    const fn column(self) -> &'static str {
        match self {
            Self::DisplayName => "display_name",
            Self::UserPrincipalName => "upn_lower",
        }
    }

    /// The sort key of `u` (what a continuation token carries).
    #[must_use]
    pub fn key_of(self, u: &User) -> String {
        match self {
            Self::DisplayName => u.display_name.clone(),
            Self::UserPrincipalName => u.user_principal_name.to_lowercase(),
        }
    }
}

/// Partner Center's text operators (`equals`, `not_equals`, `substring`, `starts_with`,
/// `not_starts_with`), compared case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    Equals,
    NotEquals,
    Substring,
    StartsWith,
    NotStartsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFilter {
    pub field: UserField,
    pub op: TextOp,
    pub value: String,
}

/// One page of customer users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerUserQuery {
    /// Deleted users (in their restore window) instead of active ones.
    pub deleted: bool,
    pub filter: Option<TextFilter>,
    pub sort: UserField,
    pub descending: bool,
    /// The sort key and id of the last user of the previous page.
    pub after: Option<(String, Uuid)>,
    pub limit: i64,
}

/// What `claim_request` found for an `MS-RequestId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First time: run the request, then `complete_request` (or `release_request`).
    Fresh,
    /// Seen and answered: send this again.
    Replay { status: u16, body: String },
    /// The first request with this id is still running.
    InFlight,
    /// The id was used by a request to another method or path.
    Mismatch,
}

/// One deleted user still in its window: `$1` tenant, `$2` id, `$3` the window's start.
fn deleted_user_sql() -> String {
    format!(
        "SELECT {USER_COLS}, deleted_at FROM deleted_users WHERE tenant_id = $1 AND id = $2 AND deleted_at > $3"
    )
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl Store {
    // ---- relationships -----------------------------------------------------------------------

    /// Creates or replaces the relationship of one partner-customer pair.
    pub async fn upsert_relationship(&self, r: &Relationship) -> Result<(), StoreError> {
        on_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO partner_relationships (id, partner_tenant_id, customer_tenant_id, display_name, roles, users, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (partner_tenant_id, customer_tenant_id) \
             DO UPDATE SET display_name = excluded.display_name, roles = excluded.roles, users = excluded.users"
        )
        .bind(DbId(r.id))
        .bind(DbId::from(r.partner))
        .bind(DbId::from(r.customer))
        .bind(&r.display_name)
        .bind(to_json(&r.roles))
        .bind(to_json(&r.users))
        .bind(r.created_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Removes the relationships of `partner` whose customer is not in `keep`.
    pub async fn prune_relationships(&self, partner: TenantId, keep: &[TenantId]) -> Result<(), StoreError> {
        for r in self.relationships(partner).await? {
            if !keep.contains(&r.customer) {
                on_db!(&self.db, |p| sqlx::query(
                    "DELETE FROM partner_relationships WHERE id = $1"
                )
                .bind(DbId(r.id))
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }

    /// The relationships of `partner`, in customer id order.
    pub async fn relationships(&self, partner: TenantId) -> Result<Vec<Relationship>, StoreError> {
        let sql = format!(
            "SELECT {RELATIONSHIP_COLS} FROM partner_relationships WHERE partner_tenant_id = $1 ORDER BY customer_tenant_id"
        );
        let rows = on_db!(&self.db, |p| sqlx::query_as::<_, RelationshipRow>(AssertSqlSafe(
            sql
        ))
        .bind(DbId::from(partner))
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(Relationship::try_from).collect()
    }

    pub async fn relationship(
        &self,
        partner: TenantId,
        customer: TenantId,
    ) -> Result<Option<Relationship>, StoreError> {
        let sql = format!(
            "SELECT {RELATIONSHIP_COLS} FROM partner_relationships WHERE partner_tenant_id = $1 AND customer_tenant_id = $2"
        );
        let row = on_db!(&self.db, |p| sqlx::query_as::<_, RelationshipRow>(AssertSqlSafe(
            sql
        ))
        .bind(DbId::from(partner))
        .bind(DbId::from(customer))
        .fetch_optional(p)
        .await)?;
        row.map(Relationship::try_from).transpose()
    }

    // ---- customer users ----------------------------------------------------------------------

    /// One page of active or deleted users in `q`'s order, with their deletion times.
    pub async fn customer_users_page(
        &self,
        tenant: TenantId,
        q: &CustomerUserQuery,
    ) -> Result<Vec<(User, Option<DateTime<Utc>>)>, StoreError> {
        let table = if q.deleted { "deleted_users" } else { "users" };
        let cols = if q.deleted {
            format!("{USER_COLS}, deleted_at")
        } else {
            USER_COLS.to_owned()
        };
        let mut sql = format!("SELECT {cols} FROM {table} WHERE tenant_id = $1");
        let mut n = 1;
        if q.deleted {
            n += 1;
            sql.push_str(&format!(" AND deleted_at > ${n}"));
        }
        let mut pattern = None;
        if let Some(f) = &q.filter {
            n += 1;
            let col = f.field.column();
            let (clause, value) = match f.op {
                TextOp::Equals => (format!("lower({col}) = ${n}"), f.value.to_lowercase()),
                TextOp::NotEquals => (format!("lower({col}) <> ${n}"), f.value.to_lowercase()),
                TextOp::Substring => (
                    format!("lower({col}) LIKE ${n} ESCAPE '\\'"),
                    format!("%{}%", escape_like(&f.value)),
                ),
                TextOp::StartsWith => (
                    format!("lower({col}) LIKE ${n} ESCAPE '\\'"),
                    format!("{}%", escape_like(&f.value)),
                ),
                TextOp::NotStartsWith => (
                    format!("lower({col}) NOT LIKE ${n} ESCAPE '\\'"),
                    format!("{}%", escape_like(&f.value)),
                ),
            };
            sql.push_str(&format!(" AND {clause}"));
            pattern = Some(value);
        }
        let col = q.sort.column();
        let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
        if q.after.is_some() {
            sql.push_str(&format!(" AND ({col}, id) {cmp} (${}, ${})", n + 1, n + 2));
            n += 2;
        }
        sql.push_str(&format!(" ORDER BY {col} {dir}, id {dir} LIMIT ${}", n + 1));
        let cutoff = crate::now() - RESTORE_WINDOW;
        let after = q.after.clone();
        if q.deleted {
            let rows = on_db!(&self.db, |p| {
                let mut query = sqlx::query_as::<_, DeletedUserRow>(AssertSqlSafe(sql.clone()))
                    .bind(DbId::from(tenant))
                    .bind(cutoff);
                if let Some(v) = &pattern {
                    query = query.bind(v.clone());
                }
                if let Some((k, id)) = &after {
                    query = query.bind(k.clone()).bind(DbId(*id));
                }
                query.bind(q.limit).fetch_all(p).await
            })?;
            rows.into_iter()
                .map(|r| DeletedUser::try_from(r).map(|d| (d.user, Some(d.deleted_at))))
                .collect()
        } else {
            let rows = on_db!(&self.db, |p| {
                let mut query =
                    sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql.clone())).bind(DbId::from(tenant));
                if let Some(v) = &pattern {
                    query = query.bind(v.clone());
                }
                if let Some((k, id)) = &after {
                    query = query.bind(k.clone()).bind(DbId(*id));
                }
                query.bind(q.limit).fetch_all(p).await
            })?;
            rows.into_iter()
                .map(|r| User::try_from(r).map(|u| (u, None)))
                .collect()
        }
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
                // One license at a time, through the direct change path. A license the rules or
                // the units no longer allow stays off (the restore brings back what it can, as
                // the portal describes): such a refusal comes before the change's first write,
                // so nothing of it is left. Any other error fails the whole restore.
                match direct_change_in_tx(&mut tx, tenant, id, &change).await {
                    Ok(()) | Err(StoreError::License(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            tx.commit().await?;
            Ok(user.clone())
        })
        .await
    }

    // ---- MS-RequestId replays ----------------------------------------------------------------

    /// Claims `request_id` for a first request, or says how it was answered before.
    pub async fn claim_request(
        &self,
        tenant: TenantId,
        request_id: &str,
        fingerprint: &str,
    ) -> Result<Claim, StoreError> {
        let now = crate::now();
        on_db!(&self.db, |p| sqlx::query(
            "DELETE FROM request_replays WHERE created_at < $1"
        )
        .bind(now - REPLAY_WINDOW)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        let inserted = on_db!(&self.db, |p| sqlx::query(
            "INSERT INTO request_replays (tenant_id, request_id, fingerprint, status, body, created_at) \
             VALUES ($1, $2, $3, NULL, NULL, $4) ON CONFLICT (tenant_id, request_id) DO NOTHING"
        )
        .bind(DbId::from(tenant))
        .bind(request_id)
        .bind(fingerprint)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if inserted == 1 {
            return Ok(Claim::Fresh);
        }
        let row = on_db!(&self.db, |p| {
            sqlx::query_as::<
            _,
            (String, Option<i64>, Option<String>, DateTime<Utc>),
        >(
            "SELECT fingerprint, status, body, created_at FROM request_replays WHERE tenant_id = $1 AND request_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(request_id)
        .fetch_optional(p)
        .await
        })?;
        let Some((fp, status, body, created)) = row else {
            // Purged between the two statements: claim again.
            return Box::pin(self.claim_request(tenant, request_id, fingerprint)).await;
        };
        if fp != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if let Some(s) = status {
            return Ok(Claim::Replay {
                status: u16::try_from(s).unwrap_or(500),
                body: body.unwrap_or_default(),
            });
        }
        if created < now - STALE_CLAIM {
            let taken = on_db!(&self.db, |p| sqlx::query(
                "UPDATE request_replays SET created_at = $3 WHERE tenant_id = $1 AND request_id = $2 \
                 AND status IS NULL AND created_at = $4"
            )
            .bind(DbId::from(tenant))
            .bind(request_id)
            .bind(now)
            .bind(created)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
            if taken == 1 {
                return Ok(Claim::Fresh);
            }
        }
        Ok(Claim::InFlight)
    }

    /// Records the answer to a claimed request.
    pub async fn complete_request(
        &self,
        tenant: TenantId,
        request_id: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        on_db!(&self.db, |p| sqlx::query(
            "UPDATE request_replays SET status = $3, body = $4 WHERE tenant_id = $1 AND request_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(request_id)
        .bind(i64::from(status))
        .bind(body)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Gives a claimed id back (the request failed in a way a retry may fix).
    pub async fn release_request(&self, tenant: TenantId, request_id: &str) -> Result<(), StoreError> {
        on_db!(&self.db, |p| sqlx::query(
            "DELETE FROM request_replays WHERE tenant_id = $1 AND request_id = $2 AND status IS NULL"
        )
        .bind(DbId::from(tenant))
        .bind(request_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
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
