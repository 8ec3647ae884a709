//! Group-based licensing in the store: a group's licenses, the durable job queue, and the
//! fan-out that applies a group's licenses to its direct user members in membership order.
//!
//! Every step is one transaction that locks the users it touches (by bumping their version),
//! then the SKU pools, evaluates each member with `allot_core::licensing::evaluate_group`, writes
//! the members' rows and the pool deltas, and advances the job's cursor, so a crash between two
//! steps loses nothing and repeats nothing: the next worker resumes at the cursor.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use allot_core::ids::{GroupId, SkuId, Source, TenantId, UserId};
use allot_core::licensing::{self, AddLicense, Assignment, LicenseChange, UserContext};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::db::Tx;
use crate::dbid::DbId;
use crate::dbid::NIL;
use crate::error::StoreError;
pub use crate::ledger::JobKind;
pub(crate) use crate::ledger::micros_now;
use crate::ledger::{TenantRules, enqueue, forget_allotment, lock_user, seat_if_waiting, tenant_rules};
use crate::records::{ASSIGNMENT_COLS, AssignmentRow, GROUP_COLS, Group, GroupLicense, to_json};
use crate::store::{Store, retry};
use crate::{on_db, on_tx, sql};

mod queue;
mod views;

/// Members evaluated per transaction.
pub const CHUNK: usize = 10000;

/// `licenseProcessingState.state`.
pub const QUEUED: &str = "QueuedForProcessing";
pub const IN_PROGRESS: &str = "ProcessingInProgress";
pub const COMPLETE: &str = "ProcessingComplete";

/// How licensing work runs: in the background (`Async`), before the request answers (`Sync`), or
/// only when `POST /_allot/processing/run` asks (`Manual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessingMode {
    Async,
    Sync,
    Manual,
}

impl ProcessingMode {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Async => "async",
            Self::Sync => "sync",
            Self::Manual => "manual",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "async" => Some(Self::Async),
            "sync" => Some(Self::Sync),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: Uuid,
    pub tenant: TenantId,
    pub kind: JobKind,
    pub group_version: i64,
    pub cursor_seq: i64,
    pub cursor_id: Uuid,
    pub sweeping: bool,
    pub owner: String,
}

/// What one step of a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepReport {
    pub members: usize,
    pub done: bool,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: DbId,
    tenant_id: DbId,
    kind: String,
    target_id: DbId,
    group_version: i64,
    cursor_seq: i64,
    cursor_id: DbId,
    phase: String,
}

const JOB_COLS: &str = "id, tenant_id, kind, target_id, group_version, cursor_seq, cursor_id, phase";

/// Takes the row locks of `users` and returns those that still exist, with their usage location
/// as of the lock. On PostgreSQL a user read before the lock may have been deleted or changed
/// since; on SQLite the transaction holds the database's write lock (`BEGIN IMMEDIATE`) from its
/// first statement, so what the caller read is current and nothing more is taken.
async fn lock_users(
    tx: &mut Tx,
    tenant: TenantId,
    users: &[(UserId, Option<String>, bool)],
) -> Result<HashMap<UserId, Option<String>>, StoreError> {
    if users.is_empty() || matches!(tx, Tx::Sqlite(..)) {
        return Ok(users.iter().map(|(u, loc, _)| (*u, loc.clone())).collect());
    }
    let sql = format!(
        "UPDATE users SET version = version + 1 WHERE tenant_id = $1 AND id IN {} RETURNING id, usage_location",
        sql::ids_in(tx.backend(), 2)
    );
    let rows = on_tx!(tx, |c| sqlx::query_as::<_, (DbId, Option<String>)>(
        AssertSqlSafe(sql)
    )
    .bind(DbId::from(tenant))
    .bind(sql::ids_json(users.iter().map(|u| u.0.as_uuid())))
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, loc)| (UserId::from_uuid(id.0), loc))
        .collect())
}

pub(crate) async fn rows_of(
    tx: &mut Tx,
    users: &[UserId],
) -> Result<HashMap<UserId, Vec<Assignment>>, StoreError> {
    let mut out: HashMap<UserId, Vec<Assignment>> = HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT {ASSIGNMENT_COLS} FROM license_assignments WHERE user_id IN {} ORDER BY assigned_at, sku_id, source_group_id",
        sql::ids_in(tx.backend(), 1)
    );
    let rows = on_tx!(tx, |c| sqlx::query_as::<_, AssignmentRow>(AssertSqlSafe(sql))
        .bind(sql::ids_json(users.iter().map(|u| u.as_uuid())))
        .fetch_all(c)
        .await)?;
    for r in rows {
        let u = UserId::from_uuid(r.user_id.0);
        out.entry(u).or_default().push(Assignment::try_from(r)?);
    }
    Ok(out)
}

/// Locks the pools of `skus` (in SKU order) and returns their free units.
pub(crate) async fn free_units(
    tx: &mut Tx,
    tenant: TenantId,
    skus: &BTreeSet<SkuId>,
) -> Result<BTreeMap<SkuId, i64>, StoreError> {
    let mut free = BTreeMap::new();
    for sku in skus {
        on_tx!(tx, |c| sqlx::query(
            "UPDATE sku_pools SET consumed = consumed WHERE tenant_id = $1 AND sku_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(*sku))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        let consumed = on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
            "SELECT consumed FROM sku_pools WHERE tenant_id = $1 AND sku_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(*sku))
        .fetch_optional(c)
        .await)?
        .unwrap_or(0);
        let enabled = on_tx!(tx, |c| {
            sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(enabled), 0) AS BIGINT) FROM subscriptions WHERE tenant_id = $1 AND sku_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(*sku))
        .fetch_one(c)
        .await
        })?;
        free.insert(*sku, enabled - consumed);
    }
    Ok(free)
}

/// What the rows of one insert statement share: SKU, disabled plans, state, error, timestamps.
type Shape = (SkuId, String, &'static str, &'static str, String, String);

/// Writes the new rows of `source` for `users` (replacing theirs) and the pool deltas.
async fn write_outcomes(
    tx: &mut Tx,
    tenant: TenantId,
    source: Source,
    users: &[UserId],
    rows: &[(UserId, Assignment)],
    deltas: &BTreeMap<SkuId, i64>,
) -> Result<(), StoreError> {
    let backend = tx.backend();
    if !users.is_empty() {
        // Their licenses may change: delta rounds report them (migration 0011).
        let sql = format!(
            "UPDATE users SET change_mark = {} WHERE tenant_id = $1 AND id IN {}",
            sql::change_mark(backend),
            sql::ids_in(backend, 2)
        );
        on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(sql::ids_json(users.iter().map(|u| u.as_uuid())))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let sql = format!(
            "DELETE FROM license_assignments WHERE source_group_id = $1 AND user_id IN {}",
            sql::ids_in(backend, 2)
        );
        on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
            .bind(DbId(source.to_uuid()))
            .bind(sql::ids_json(users.iter().map(|u| u.as_uuid())))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    // Rows of one chunk mostly share everything but the user: one statement per shape, with the
    // users as a JSON array of plain strings (no per-row JSON objects to parse).
    let mut shapes: BTreeMap<Shape, Vec<Uuid>> = BTreeMap::new();
    for (u, a) in rows {
        shapes
            .entry((
                a.sku,
                to_json(&a.disabled_plans),
                a.state.as_str(),
                a.error.as_str(),
                sql::ts(a.assigned_at),
                sql::ts(a.updated_at),
            ))
            .or_default()
            .push(u.as_uuid());
    }
    let insert = format!(
        "INSERT INTO license_assignments (tenant_id, user_id, sku_id, source_group_id, disabled_plans, state, error, \
         assigned_at, updated_at) SELECT $1, {}, $2, $3, $4, $5, $6, {}, {} FROM {}",
        sql::json_value(backend, "uuid"),
        sql::cast_param(backend, 7, "timestamptz"),
        sql::cast_param(backend, 8, "timestamptz"),
        sql::json_scalars(backend, 9)
    );
    for ((sku, disabled, state, error, assigned, updated), users) in &shapes {
        on_tx!(tx, |c| sqlx::query(AssertSqlSafe(insert.clone()))
            .bind(DbId::from(tenant))
            .bind(DbId::from(*sku))
            .bind(DbId(source.to_uuid()))
            .bind(disabled)
            .bind(*state)
            .bind(*error)
            .bind(assigned)
            .bind(updated)
            .bind(sql::ids_json(users.iter().copied()))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    for (sku, delta) in deltas.iter().filter(|(_, d)| **d != 0) {
        on_tx!(tx, |c| sqlx::query(
            "UPDATE sku_pools SET consumed = consumed + $3 WHERE tenant_id = $1 AND sku_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(*sku))
        .bind(*delta)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if *delta < 0 {
            seat_if_waiting(tx, tenant, *sku).await?;
        }
    }
    Ok(())
}

fn group_licenses(json: &str) -> Result<Vec<AddLicense>, StoreError> {
    let list: Vec<GroupLicense> = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("groups.assigned_licenses: {e}")))?;
    Ok(list
        .into_iter()
        .map(|l| AddLicense {
            sku: l.sku_id,
            disabled_plans: l.disabled_plans,
        })
        .collect())
}

/// Evaluates `group` for each of `users` (in the given order) with `desired` licenses (`None`:
/// the user is not a member), inside `tx`. Returns how many users were evaluated.
async fn apply_group(
    tx: &mut Tx,
    tenant: TenantId,
    ctx: &TenantRules,
    group: GroupId,
    users: &[(UserId, Option<String>, bool)],
    desired: &[AddLicense],
) -> Result<(), StoreError> {
    // Users deleted since the caller read them are left out: a deleted user holds nothing.
    let present = lock_users(tx, tenant, users).await?;
    let users: Vec<(UserId, Option<String>, bool)> = users
        .iter()
        .filter_map(|(u, _, member)| present.get(u).map(|loc| (*u, loc.clone(), *member)))
        .collect();
    let ids: Vec<UserId> = users.iter().map(|u| u.0).collect();
    let mut current = rows_of(tx, &ids).await?;
    let source = Source::Group(group);
    let mut skus: BTreeSet<SkuId> = desired.iter().map(|d| d.sku).collect();
    for rows in current.values() {
        skus.extend(rows.iter().filter(|a| a.source == source).map(|a| a.sku));
    }
    let mut free = free_units(tx, tenant, &skus).await?;
    let start = free.clone();
    let now = crate::now();
    let mut out_rows = Vec::new();
    for (uid, location, member) in &users {
        let rows = current.remove(uid).unwrap_or_default();
        let loc = location.clone().unwrap_or_else(|| ctx.country.clone());
        let uctx = UserContext {
            catalog: &ctx.catalog,
            subscribed: &ctx.subscribed,
            usage_location: Some(&loc),
        };
        let wanted: &[AddLicense] = if *member { desired } else { &[] };
        let outcome = licensing::evaluate_group(uctx, &rows, group, wanted, &mut free, now);
        out_rows.extend(outcome.rows.into_iter().map(|r| (*uid, r)));
    }
    let deltas: BTreeMap<SkuId, i64> = start
        .iter()
        .map(|(s, before)| (*s, before - free.get(s).copied().unwrap_or(*before)))
        .collect();
    write_outcomes(tx, tenant, source, &ids, &out_rows, &deltas).await
}

impl Store {
    /// A group's `assignLicense`: validates against the group's current licenses, stores the new
    /// set, marks the group `QueuedForProcessing` and enqueues its fan-out, in one transaction.
    pub async fn assign_group_licenses(
        &self,
        tenant: TenantId,
        group: GroupId,
        change: &LicenseChange,
    ) -> Result<Group, StoreError> {
        self.assign_group_licenses_as(None, tenant, group, change).await
    }

    /// As [`Store::assign_group_licenses`], with the "Change group license" audit record.
    pub async fn assign_group_licenses_by(
        &self,
        actor: &crate::audit::Actor,
        tenant: TenantId,
        group: GroupId,
        change: &LicenseChange,
    ) -> Result<Group, StoreError> {
        self.assign_group_licenses_as(Some(actor), tenant, group, change)
            .await
    }

    async fn assign_group_licenses_as(
        &self,
        actor: Option<&crate::audit::Actor>,
        tenant: TenantId,
        group: GroupId,
        change: &LicenseChange,
    ) -> Result<Group, StoreError> {
        retry(|| async {
            let mut tx = self.db().begin().await?;
            let (g, before) =
                assign_group_licenses_in_tx(&mut tx, tenant, group, change, &|_| Ok(())).await?;
            if let Some(actor) = actor {
                crate::audit::group_license_change(&mut tx, tenant, actor, &g, &before).await?;
            }
            tx.commit().await?;
            Ok(g)
        })
        .await
    }

    /// `licenseProcessingState.state` of a group (`None` before its first license change).
    pub async fn group_processing_state(
        &self,
        tenant: TenantId,
        group: GroupId,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_db!(self.db(), |p| sqlx::query_scalar::<_, Option<String>>(
            "SELECT processing_state FROM groups WHERE tenant_id = $1 AND id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(group))
        .fetch_optional(p)
        .await)?
        .flatten())
    }

    /// Re-evaluates every group assignment of one user now (`reprocessLicenseAssignment`).
    pub async fn reprocess_user(&self, tenant: TenantId, user: UserId) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db().begin().await?;
            evaluate_user_in_tx(&mut tx, tenant, user).await?;
            tx.commit().await
        })
        .await
    }
}

/// The body of [`Store::assign_group_licenses`] inside the caller's transaction. `check` sees
/// the group (row locked) before anything changes and may refuse (cloudLicensing's existence
/// checks run under the same lock).
pub(crate) async fn assign_group_licenses_in_tx(
    tx: &mut Tx,
    tenant: TenantId,
    group: GroupId,
    change: &LicenseChange,
    check: &(dyn Fn(&Group) -> Result<(), StoreError> + Sync),
) -> Result<(Group, Vec<GroupLicense>), StoreError> {
    let row = on_tx!(tx, |c| sqlx::query_as::<_, Group>(AssertSqlSafe(format!(
        "UPDATE groups SET processing_version = processing_version + 1 WHERE tenant_id = $1 AND id = $2 RETURNING {GROUP_COLS}"
    )))
    .bind(DbId::from(tenant))
    .bind(DbId::from(group))
    .fetch_optional(&mut *c)
    .await)?
    .ok_or(StoreError::NotFound)?;
    let mut g = row;
    let before = g.assigned_licenses.clone();
    check(&g)?;
    if !g.security_enabled {
        return Err(StoreError::GroupLicense(
            licensing::GroupLicenseError::NotSecurityEnabled,
        ));
    }
    let ctx = tenant_rules(tx, tenant).await?;
    let current: Vec<AddLicense> = g
        .assigned_licenses
        .iter()
        .map(|l| AddLicense {
            sku: l.sku_id,
            disabled_plans: l.disabled_plans.clone(),
        })
        .collect();
    let next = licensing::plan_group_change(&ctx.catalog, &ctx.subscribed, &current, change)
        .map_err(StoreError::GroupLicense)?;
    g.assigned_licenses = next
        .into_iter()
        .map(|a| GroupLicense {
            sku_id: a.sku,
            disabled_plans: a.disabled_plans,
        })
        .collect();
    let sql = format!(
        "UPDATE groups SET assigned_licenses = $3, processing_state = $4, change_mark = {} \
         WHERE tenant_id = $1 AND id = $2 RETURNING processing_version",
        sql::change_mark(tx.backend())
    );
    let version = on_tx!(tx, |c| {
        sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(DbId::from(group))
            .bind(to_json(&g.assigned_licenses))
            .bind(QUEUED)
            .fetch_one(c)
            .await
    })?;
    for sku in &change.remove {
        forget_allotment(tx, group.as_uuid(), *sku).await?;
    }
    enqueue(tx, tenant, JobKind::Group(group), version).await?;
    Ok((g, before))
}

/// One step of a group job: the next chunk of members in membership order, then the former
/// members that still hold rows from the group.
async fn group_step(tx: &mut Tx, job: &Job, group: GroupId) -> Result<(StepReport, Job), StoreError> {
    let tenant = job.tenant;
    let licenses = on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
        "SELECT assigned_licenses FROM groups WHERE tenant_id = $1 AND id = $2"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(group))
    .fetch_optional(c)
    .await)?;
    let Some(licenses) = licenses else {
        return Ok((
            StepReport {
                members: 0,
                done: true,
            },
            job.clone(),
        ));
    };
    let desired = group_licenses(&licenses)?;
    let ctx = tenant_rules(tx, tenant).await?;
    let mut next = job.clone();
    if !job.sweeping {
        let members = on_tx!(tx, |c| {
            sqlx::query_as::<_, (DbId, i64, Option<String>)>(
            "SELECT m.member_id, m.seq, u.usage_location FROM group_members m JOIN users u ON u.id = m.member_id \
             WHERE m.group_id = $1 AND m.member_type = 'user' AND (m.seq, m.member_id) > ($2, $3) \
             ORDER BY m.seq, m.member_id LIMIT $4"
        )
        .bind(DbId::from(group))
        .bind(job.cursor_seq)
        .bind(DbId(job.cursor_id))
        .bind(i64::try_from(CHUNK).unwrap_or(1000))
        .fetch_all(c)
        .await
        })?;
        if let Some((last_id, last_seq, _)) = members.last() {
            next.cursor_seq = *last_seq;
            next.cursor_id = last_id.0;
        } else {
            next.sweeping = true;
            next.cursor_seq = -1;
            next.cursor_id = Uuid::nil();
        }
        let users: Vec<(UserId, Option<String>, bool)> = members
            .into_iter()
            .map(|(id, _, loc)| (UserId::from_uuid(id.0), loc, true))
            .collect();
        apply_group(tx, tenant, &ctx, group, &users, &desired).await?;
        return Ok((
            StepReport {
                members: users.len(),
                done: false,
            },
            next,
        ));
    }
    let former = on_tx!(tx, |c| {
        sqlx::query_as::<_, (DbId, Option<String>)>(
        "SELECT DISTINCT a.user_id, u.usage_location FROM license_assignments a JOIN users u ON u.id = a.user_id \
         WHERE a.source_group_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM group_members m WHERE m.group_id = $1 AND m.member_id = a.user_id) ORDER BY a.user_id LIMIT $2"
    )
    .bind(DbId::from(group))
    .bind(i64::try_from(CHUNK).unwrap_or(1000))
    .fetch_all(c)
    .await
    })?;
    if former.is_empty() {
        return Ok((
            StepReport {
                members: 0,
                done: true,
            },
            next,
        ));
    }
    let users: Vec<(UserId, Option<String>, bool)> = former
        .into_iter()
        .map(|(id, loc)| (UserId::from_uuid(id.0), loc, false))
        .collect();
    apply_group(tx, tenant, &ctx, group, &users, &desired).await?;
    Ok((
        StepReport {
            members: users.len(),
            done: false,
        },
        next,
    ))
}

/// Deletes the job and, for a group job that covered the newest version, marks the group done.
async fn finish_job(tx: &mut Tx, job: &Job) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query("DELETE FROM jobs WHERE id = $1")
        .bind(DbId(job.id))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if let JobKind::Group(g) = job.kind {
        let completed = on_tx!(tx, |c| sqlx::query(
            "UPDATE groups SET processing_state = $2 WHERE id = $1 AND processing_version <= $3 \
             AND NOT EXISTS (SELECT 1 FROM jobs WHERE target_id = $1 AND kind = 'group')"
        )
        .bind(DbId::from(g))
        .bind(COMPLETE)
        .bind(job.group_version)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if completed > 0 {
            crate::audit::group_processed(tx, job.tenant, g).await?;
        }
    }
    Ok(())
}

/// Re-evaluates every group that licenses, or licensed, `user`.
pub(crate) async fn evaluate_user_in_tx(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
) -> Result<(), StoreError> {
    // The user's lock comes before its memberships are read: a membership change (which locks
    // the group, then the user) is then wholly before this evaluation or wholly after it.
    let location = match lock_user(tx, tenant, user).await {
        Ok(location) => location,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let member_of: BTreeSet<Uuid> = on_tx!(tx, |c| sqlx::query_scalar::<_, DbId>(
        "SELECT group_id FROM group_members WHERE tenant_id = $1 AND member_id = $2"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(user))
    .fetch_all(c)
    .await)?
    .into_iter()
    .map(|d| d.0)
    .collect();
    let from_rows: BTreeSet<Uuid> = on_tx!(tx, |c| sqlx::query_scalar::<_, DbId>(
        "SELECT DISTINCT source_group_id FROM license_assignments WHERE user_id = $1 AND source_group_id <> $2"
    )
    .bind(DbId::from(user))
    .bind(NIL)
    .fetch_all(c)
    .await)?
    .into_iter()
    .map(|d| d.0)
    .collect();
    let ctx = tenant_rules(tx, tenant).await?;
    for gid in member_of.union(&from_rows) {
        let licenses = on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
            "SELECT assigned_licenses FROM groups WHERE tenant_id = $1 AND id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId(*gid))
        .fetch_optional(c)
        .await)?;
        let desired = licenses
            .as_deref()
            .map(group_licenses)
            .transpose()?
            .unwrap_or_default();
        let member = member_of.contains(gid);
        apply_group(
            tx,
            tenant,
            &ctx,
            GroupId::from_uuid(*gid),
            &[(user, location.clone(), member)],
            &desired,
        )
        .await?;
    }
    Ok(())
}

/// One `seat` job: while the SKU has free units, re-evaluates the longest-waiting member (FIFO by
/// `waitingSinceDateTime`, then membership order). A member whose evaluation fails for another
/// reason keeps waiting and the next one is tried. Returns how many members were evaluated.
pub(crate) async fn seat_step(tx: &mut Tx, tenant: TenantId, sku: SkuId) -> Result<usize, StoreError> {
    let sql = format!(
        "SELECT a.user_id FROM license_assignments a LEFT JOIN group_members m \
         ON m.group_id = a.source_group_id AND m.member_id = a.user_id \
         WHERE a.tenant_id = $1 AND a.sku_id = $2 AND {} ORDER BY {} LIMIT $3",
        allot_core::sql_is_waiting!("a"),
        allot_core::sql_seat_order!("a", "m"),
    );
    let candidates = on_tx!(tx, |c| sqlx::query_scalar::<_, DbId>(AssertSqlSafe(sql))
        .bind(DbId::from(tenant))
        .bind(DbId::from(sku))
        .bind(i64::try_from(crate::group_licensing::CHUNK).unwrap_or(10000))
        .fetch_all(c)
        .await)?;
    let mut seen = BTreeSet::new();
    let mut evaluated = 0;
    let one = BTreeSet::from([sku]);
    for user in candidates {
        if !seen.insert(user.0) {
            continue;
        }
        if free_units(tx, tenant, &one)
            .await?
            .get(&sku)
            .copied()
            .unwrap_or(0)
            <= 0
        {
            break;
        }
        evaluate_user_in_tx(tx, tenant, UserId::from_uuid(user.0)).await?;
        evaluated += 1;
    }
    Ok(evaluated)
}
