//! Bulk loading for large tenants (benchmarks, load tests, big seeds): users and memberships in
//! multi-row statements, many thousand per transaction. Nothing is enqueued; a group that already
//! holds licenses is not re-evaluated (run `reprocess` or a group `assignLicense` afterwards).

use allot_core::ids::{GroupId, TenantId, UserId};
use sqlx::AssertSqlSafe;

use crate::dbid::DbId;
use crate::error::StoreError;
use crate::records::{User, to_json};
use crate::store::{Store, retry};
use crate::{on_tx, sql};

/// Rows per statement (one JSON parameter) and per transaction.
const BATCH: usize = 5000;

impl Store {
    /// Inserts users, all new (any UPN clash fails the batch it is in).
    pub async fn bulk_insert_users(&self, users: &[User]) -> Result<(), StoreError> {
        let backend = self.db().backend();
        let f = |k: &str, ty: &str| sql::json_field(backend, k, ty);
        let sql = format!(
            "INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, given_name, surname, mail_nickname, mail, \
             job_title, usage_location, account_enabled, password_hash, directory_roles, created_at, version) \
             SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 0 FROM {}",
            f("id", "uuid"),
            f("t", "uuid"),
            f("upn", "text"),
            f("lower", "text"),
            f("name", "text"),
            f("given", "text"),
            f("sur", "text"),
            f("nick", "text"),
            f("mail", "text"),
            f("job", "text"),
            f("loc", "text"),
            f("on", "boolean"),
            f("pw", "text"),
            f("roles", "text"),
            f("at", "timestamptz"),
            sql::json_rows(backend, 1)
        );
        for batch in users.chunks(BATCH) {
            let payload: Vec<serde_json::Value> = batch
                .iter()
                .map(|u| {
                    serde_json::json!({
                        "id": u.id.to_string(), "t": u.tenant_id.to_string(), "upn": u.user_principal_name,
                        "lower": u.user_principal_name.to_lowercase(), "name": u.display_name, "given": u.given_name,
                        "sur": u.surname, "nick": u.mail_nickname, "mail": u.mail, "job": u.job_title,
                        "loc": u.usage_location, "on": u.account_enabled, "pw": u.password_hash,
                        "roles": to_json(&u.directory_roles), "at": sql::ts(u.created_at),
                    })
                })
                .collect();
            let payload = serde_json::Value::Array(payload).to_string();
            retry(|| async {
                let mut tx = self.db().begin().await?;
                on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(&payload)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
                tx.commit().await
            })
            .await?;
        }
        Ok(())
    }

    /// Adds users to a group in the given order (that order is the membership order).
    pub async fn bulk_add_members(
        &self,
        tenant: TenantId,
        group: GroupId,
        users: &[UserId],
    ) -> Result<(), StoreError> {
        let backend = self.db().backend();
        let f = |k: &str, ty: &str| sql::json_field(backend, k, ty);
        let sql = format!(
            "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, added_at, seq) \
             SELECT $1, $2, {}, 'user', $3, {} FROM {}",
            f("m", "uuid"),
            f("q", "bigint"),
            sql::json_rows(backend, 4)
        );
        let base = crate::now();
        let base_seq = base.timestamp_micros();
        for (n, batch) in users.chunks(BATCH).enumerate() {
            let payload: Vec<serde_json::Value> = batch
                .iter()
                .enumerate()
                .map(|(i, u)| serde_json::json!({"m": u.to_string(), "q": base_seq + i64::try_from(n * BATCH + i).unwrap_or(0)}))
                .collect();
            let payload = serde_json::Value::Array(payload).to_string();
            retry(|| async {
                let mut tx = self.db().begin().await?;
                on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(DbId::from(tenant))
                    .bind(DbId::from(group))
                    .bind(base)
                    .bind(&payload)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
                tx.commit().await
            })
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The benchmark ceiling: inserts `n` rows shaped like `license_assignments` (same columns,
    /// same multi-row statements) into a scratch table in one transaction, and returns the time.
    pub async fn bench_raw_insert(&self, n: usize) -> Result<std::time::Duration, StoreError> {
        let mut tx = self.db().begin().await?;
        let ddl = "CREATE TABLE IF NOT EXISTS bench_rows (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, sku_id TEXT NOT NULL, \
                   source_group_id TEXT NOT NULL, disabled_plans TEXT NOT NULL, state TEXT NOT NULL, error TEXT NOT NULL, \
                   assigned_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (user_id, sku_id, source_group_id))";
        on_tx!(&mut tx, |c| sqlx::query(ddl)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        let now = crate::now().to_rfc3339();
        let (tenant, sku, group) = (
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        );
        let backend = self.db().backend();
        let f = |k: &str| sql::json_field(backend, k, "text");
        let insert = format!(
            "INSERT INTO bench_rows SELECT {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {}",
            f("t"),
            f("u"),
            f("s"),
            f("g"),
            f("d"),
            f("st"),
            f("e"),
            f("a"),
            f("b"),
            sql::json_rows(backend, 1)
        );
        let rows: Vec<serde_json::Value> = (0..n)
            .map(|_| {
                serde_json::json!({"t": tenant, "u": uuid::Uuid::new_v4().to_string(), "s": sku, "g": group, "d": "[]",
                    "st": "Active", "e": "None", "a": now, "b": now})
            })
            .collect();
        let start = std::time::Instant::now();
        for chunk in rows.chunks(1000) {
            let payload = serde_json::Value::Array(chunk.to_vec()).to_string();
            on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(insert.clone()))
                .bind(&payload)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        let elapsed = start.elapsed();
        on_tx!(&mut tx, |c| sqlx::query("DROP TABLE bench_rows")
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(elapsed)
    }
}

impl Store {
    /// The write ceiling: `n` single-row inserts into a scratch table, each its own committed
    /// transaction, one after the other; returns the time.
    pub async fn bench_single_commits(&self, n: usize) -> Result<std::time::Duration, StoreError> {
        let ddl = "CREATE TABLE IF NOT EXISTS bench_commits (user_id TEXT PRIMARY KEY, sku_id TEXT NOT NULL, state TEXT NOT NULL)";
        crate::on_db!(self.db(), |p| sqlx::query(ddl)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        let start = std::time::Instant::now();
        for _ in 0..n {
            let mut tx = self.db().begin().await?;
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO bench_commits (user_id, sku_id, state) VALUES ($1, $2, 'Active')"
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind("sku")
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            tx.commit().await?;
        }
        let elapsed = start.elapsed();
        crate::on_db!(self.db(), |p| sqlx::query("DROP TABLE bench_commits")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(elapsed)
    }

    /// PostgreSQL: gathers the planner's statistics now (`ANALYZE`), as autovacuum would some
    /// time after a bulk load; nothing on SQLite. For benchmarks.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        if self.db().backend() == crate::db::Backend::Postgres {
            crate::on_db!(self.db(), |p| sqlx::query("ANALYZE")
                .execute(p)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }
}
