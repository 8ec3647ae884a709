//! Partner Center in the store: partner-customer relationships, the customer-user listing with
//! Partner Center's filter and sort (active or deleted users), restoring a deleted user, and the
//! first answers kept for replaying a repeated `MS-RequestId`.

use allot_core::ids::TenantId;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::dbid::DbId;
use crate::error::StoreError;
use crate::on_db;
use crate::records::{
    DeletedUser, DeletedUserRow, RELATIONSHIP_COLS, Relationship, RelationshipRow, USER_COLS, User, UserRow,
    to_json,
};
use crate::store::Store;

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
