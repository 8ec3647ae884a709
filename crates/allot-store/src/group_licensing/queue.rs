//! The licensing job queue: claiming a job under a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), running it step by step, releasing it, and its depth.

use allot_core::ids::{GroupId, SkuId, TenantId, UserId};
use sqlx::AssertSqlSafe;

use super::{
    IN_PROGRESS, JOB_COLS, Job, JobKind, JobRow, NIL, ProcessingMode, StepReport, evaluate_user_in_tx,
    finish_job, group_step, micros_now,
};
use crate::db::Backend;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::store::{Store, retry};
use crate::{on_db, on_tx};

impl Store {
    /// Claims the oldest job whose lease is free or expired, for `owner`, for `lease_micros`.
    /// `tenant`: only that tenant's jobs; `include_manual`: also tenants in manual mode.
    pub async fn claim_job(
        &self,
        owner: &str,
        lease_micros: i64,
        default_mode: ProcessingMode,
        tenant: Option<TenantId>,
        include_manual: bool,
    ) -> Result<Option<Job>, StoreError> {
        let now = micros_now();
        let lock = match self.db().backend() {
            Backend::Postgres => "FOR UPDATE OF j SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE id = (\
             SELECT j.id FROM jobs j JOIN tenants t ON t.id = j.tenant_id \
             WHERE (j.lease_until IS NULL OR j.lease_until < $3) \
             AND ($4 = 1 OR COALESCE(t.processing_mode, $5) <> 'manual') \
             AND ($6 = 0 OR j.tenant_id = $7) ORDER BY j.seq, j.id LIMIT 1 {lock}) RETURNING {JOB_COLS}"
        );
        let row = retry(|| async {
            let mut tx = self.db().begin().await?;
            let row = on_tx!(&mut tx, |c| sqlx::query_as::<_, JobRow>(AssertSqlSafe(
                sql.clone()
            ))
            .bind(owner)
            .bind(now + lease_micros)
            .bind(now)
            .bind(i64::from(include_manual))
            .bind(default_mode.as_str())
            .bind(i64::from(tenant.is_some()))
            .bind(tenant.map_or(NIL, DbId::from))
            .fetch_optional(c)
            .await)?;
            if let Some(r) = &row
                && r.kind == "group"
            {
                on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE groups SET processing_state = $2 WHERE id = $1 AND processing_version <= $3"
                )
                .bind(r.target_id)
                .bind(IN_PROGRESS)
                .bind(r.group_version)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
            }
            tx.commit().await?;
            Ok(row)
        })
        .await?;
        Ok(row.map(|r| Job {
            id: r.id.0,
            tenant: TenantId::from_uuid(r.tenant_id.0),
            kind: match r.kind.as_str() {
                "group" => JobKind::Group(GroupId::from_uuid(r.target_id.0)),
                "seat" => JobKind::Seat(SkuId::from_uuid(r.target_id.0)),
                _ => JobKind::User(UserId::from_uuid(r.target_id.0)),
            },
            group_version: r.group_version,
            cursor_seq: r.cursor_seq,
            cursor_id: r.cursor_id.0,
            sweeping: r.phase == "sweep",
            owner: owner.to_owned(),
        }))
    }

    /// Runs one step of `job` (up to [`CHUNK`] members) and, when nothing is left, completes it.
    /// `Err(StoreError::NotFound)` means the lease was lost to another worker.
    pub async fn run_job_step(&self, job: &mut Job, lease_micros: i64) -> Result<StepReport, StoreError> {
        let snapshot = job.clone();
        let (report, next) = retry(|| {
            let job = snapshot.clone();
            async move {
                let mut tx = self.db().begin().await?;
                let kept = on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2"
                )
                .bind(DbId(job.id))
                .bind(&job.owner)
                .bind(micros_now() + lease_micros)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
                if kept == 0 {
                    return Err(StoreError::NotFound);
                }
                let (report, next) = match job.kind {
                    JobKind::User(user) => {
                        evaluate_user_in_tx(&mut tx, job.tenant, user).await?;
                        (
                            StepReport {
                                members: 1,
                                done: true,
                            },
                            job.clone(),
                        )
                    }
                    JobKind::Group(group) => group_step(&mut tx, &job, group).await?,
                    JobKind::Seat(sku) => {
                        let members = super::seat_step(&mut tx, job.tenant, sku).await?;
                        (StepReport { members, done: true }, job.clone())
                    }
                };
                if report.done {
                    finish_job(&mut tx, &job).await?;
                } else {
                    on_tx!(&mut tx, |c| sqlx::query(
                        "UPDATE jobs SET cursor_seq = $2, cursor_id = $3, phase = $4 WHERE id = $1"
                    )
                    .bind(DbId(job.id))
                    .bind(next.cursor_seq)
                    .bind(DbId(next.cursor_id))
                    .bind(if next.sweeping { "sweep" } else { "members" })
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
                }
                tx.commit().await?;
                Ok((report, next))
            }
        })
        .await?;
        *job = next;
        Ok(report)
    }

    /// Gives a claimed job back to the end of the queue (its cursor kept) when a job of another
    /// tenant is waiting to be claimed: a long fan-out then runs step by step in turn with other
    /// tenants' work instead of holding the worker until it ends. Whether it gave the job back.
    pub async fn yield_job_if_others_wait(
        &self,
        job: &Job,
        default_mode: ProcessingMode,
    ) -> Result<bool, StoreError> {
        let now = micros_now();
        let yielded = on_db!(self.db(), |p| {
            sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, seq = $3 WHERE id = $1 AND lease_owner = $2 \
             AND EXISTS (SELECT 1 FROM jobs o JOIN tenants t ON t.id = o.tenant_id WHERE o.tenant_id <> $4 \
             AND (o.lease_until IS NULL OR o.lease_until < $3) AND COALESCE(t.processing_mode, $5) <> 'manual')"
        )
        .bind(DbId(job.id))
        .bind(&job.owner)
        .bind(now)
        .bind(DbId::from(job.tenant))
        .bind(default_mode.as_str())
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(yielded == 1)
    }

    /// Gives a claimed job back (graceful shutdown): another worker may take it at once.
    pub async fn release_job(&self, job: &Job) -> Result<(), StoreError> {
        on_db!(self.db(), |p| sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2"
        )
        .bind(DbId(job.id))
        .bind(&job.owner)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Frees every lease (SQLite at start: one node, so no lease can belong to a live worker).
    pub async fn release_all_leases(&self) -> Result<u64, StoreError> {
        Ok(on_db!(self.db(), |p| sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL"
        )
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Jobs not yet done, for a tenant or all.
    pub async fn pending_jobs(&self, tenant: Option<TenantId>) -> Result<i64, StoreError> {
        Ok(on_db!(self.db(), |p| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM jobs WHERE ($1 = 0 OR tenant_id = $2)"
        )
        .bind(i64::from(tenant.is_some()))
        .bind(tenant.map_or(NIL, DbId::from))
        .fetch_one(p)
        .await)?)
    }

    /// Pending jobs and the age of the oldest one in microseconds (for `/metrics`).
    pub async fn queue_stats(&self) -> Result<(i64, Option<i64>), StoreError> {
        let (n, oldest) = on_db!(self.db(), |p| sqlx::query_as::<_, (i64, Option<i64>)>(
            "SELECT COUNT(*), MIN(seq) FROM jobs"
        )
        .fetch_one(p)
        .await)?;
        Ok((n, oldest.map(|s| micros_now() - s)))
    }
}
