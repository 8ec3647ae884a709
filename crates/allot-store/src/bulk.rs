//! Bulk loading for large tenants (benchmarks, load tests, big seeds): users and memberships in
//! multi-row statements, many thousand per transaction. Nothing is enqueued; a group that already
//! holds licenses is not re-evaluated (run `reprocess` or a group `assignLicense` afterwards).

use allot_core::ids::{GroupId, TenantId, UserId};
use sqlx::AssertSqlSafe;

use crate::dbid::DbId;
use crate::error::StoreError;
use crate::on_tx;
use crate::records::{User, to_json};
use crate::store::{Store, retry};

/// Rows per multi-row statement (15 parameters a user row; far under both engines' limits).
const ROWS: usize = 500;

impl Store {
    /// Inserts users, all new (any UPN clash fails the batch it is in).
    pub async fn bulk_insert_users(&self, users: &[User]) -> Result<(), StoreError> {
        for batch in users.chunks(10 * ROWS) {
            retry(|| async {
                let mut tx = self.db().begin().await?;
                for rows in batch.chunks(ROWS) {
                    let values: Vec<String> = (0..rows.len())
                        .map(|i| {
                            let b = i * 15;
                            let p: Vec<String> = (1..=15).map(|k| format!("${}", b + k)).collect();
                            format!("({}, 0)", p.join(", "))
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, given_name, surname, mail_nickname, \
                         mail, job_title, usage_location, account_enabled, password_hash, directory_roles, created_at, version) \
                         VALUES {}",
                        values.join(", ")
                    );
                    on_tx!(&mut tx, |c| {
                        let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                        for u in rows {
                            q = q
                                .bind(DbId::from(u.id))
                                .bind(DbId::from(u.tenant_id))
                                .bind(&u.user_principal_name)
                                .bind(u.user_principal_name.to_lowercase())
                                .bind(&u.display_name)
                                .bind(&u.given_name)
                                .bind(&u.surname)
                                .bind(&u.mail_nickname)
                                .bind(&u.mail)
                                .bind(&u.job_title)
                                .bind(&u.usage_location)
                                .bind(u.account_enabled)
                                .bind(&u.password_hash)
                                .bind(to_json(&u.directory_roles))
                                .bind(u.created_at);
                        }
                        q.execute(c).await.map(|r| r.rows_affected())
                    })?;
                }
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
        let base = crate::now();
        let base_seq = base.timestamp_micros();
        for (n, batch) in users.chunks(10 * ROWS).enumerate() {
            retry(|| async {
                let mut tx = self.db().begin().await?;
                for (k, rows) in batch.chunks(ROWS).enumerate() {
                    let values: Vec<String> =
                        (0..rows.len()).map(|i| format!("($1, $2, ${}, 'user', $3, ${})", 4 + 2 * i, 5 + 2 * i)).collect();
                    let sql = format!(
                        "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, added_at, seq) VALUES {}",
                        values.join(", ")
                    );
                    on_tx!(&mut tx, |c| {
                        let mut q =
                            sqlx::query(AssertSqlSafe(sql.clone())).bind(DbId::from(tenant)).bind(DbId::from(group)).bind(base);
                        for (i, u) in rows.iter().enumerate() {
                            let seq = base_seq + i64::try_from((n * 10 + k) * ROWS + i).unwrap_or(0);
                            q = q.bind(DbId::from(*u)).bind(seq);
                        }
                        q.execute(c).await.map(|r| r.rows_affected())
                    })?;
                }
                tx.commit().await
            })
            .await?;
        }
        Ok(())
    }
}
