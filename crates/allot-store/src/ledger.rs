//! The ledger: the in-transaction primitives every license change is made of. Locks (group,
//! user, pool), units taken and freed, assignment rows written and removed, the tenant's rules
//! read once per transaction, the cloudLicensing allotment choice, the waiting room's seating
//! and the licensing job queue's enqueue. The store's operations (`store`, `group_licensing`,
//! `cloud_licensing`) call these; this module calls none of them.
//!
//! Lock order, everywhere: group rows, then user rows, then pool rows in SKU order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use allot_core::catalog::{CatalogExtension, TenantCatalog};
use allot_core::ids::{GroupId, SkuId, Source, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{self, Assignment, LicenseChange, LicenseError, UserContext};
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::db::{Db, Tx};
use crate::dbid::{DbId, NIL};
use crate::error::StoreError;
use crate::records::{ASSIGNMENT_COLS, AssignmentRow, to_json};
use crate::{on_db, on_tx};

/// What the licensing rules need of a tenant: its catalog, the SKUs it subscribes to and its
/// country (the usage location of members who have none, for group licensing).
pub(crate) struct TenantRules {
    pub catalog: TenantCatalog,
    pub subscribed: BTreeSet<SkuId>,
    pub country: String,
}

/// This node's copies of tenants' rules, each with the stamp (`tenants.rules_version`, migration
/// 0014) it was read at. A copy is used only when the stamp read inside the change's own
/// transaction is the same, so no node plans a change with rules another node has changed; the
/// direct path reads the stamp in the statement that locks the user, and so pays no statement for
/// the rules at all.
#[derive(Default)]
pub struct RulesCache(Mutex<HashMap<TenantId, (i64, Arc<TenantRules>)>>);

impl std::fmt::Debug for RulesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RulesCache")
    }
}

impl RulesCache {
    fn get(&self, tenant: TenantId, stamp: i64) -> Option<Arc<TenantRules>> {
        let copies = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        copies
            .get(&tenant)
            .filter(|(at, _)| *at == stamp)
            .map(|(_, rules)| Arc::clone(rules))
    }

    fn put(&self, tenant: TenantId, stamp: i64, rules: &Arc<TenantRules>) {
        let mut copies = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        copies.insert(tenant, (stamp, Arc::clone(rules)));
    }
}

/// Reads the tenant's rules inside the transaction: the stamp, then this node's copy if it is
/// current, or the rules themselves.
pub(crate) async fn tenant_rules(tx: &mut Tx, tenant: TenantId) -> Result<Arc<TenantRules>, StoreError> {
    let stamp = on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "SELECT rules_version FROM tenants WHERE id = $1"
    )
    .bind(DbId::from(tenant))
    .fetch_one(c)
    .await)?;
    rules_at(tx, tenant, stamp).await
}

/// The tenant's rules as of `stamp`: this node's copy if it was read at that stamp, else read
/// (catalog, country, stamp and subscribed SKUs in one statement, so they agree) and kept.
pub(crate) async fn rules_at(
    tx: &mut Tx,
    tenant: TenantId,
    stamp: i64,
) -> Result<Arc<TenantRules>, StoreError> {
    if let Some(rules) = tx.rules().get(tenant, stamp) {
        return Ok(rules);
    }
    let rows = on_tx!(tx, |c| sqlx::query_as::<_, RulesRow>(RULES_SQL)
        .bind(DbId::from(tenant))
        .fetch_all(c)
        .await)?;
    kept(tx.rules(), tenant, &rows)
}

/// As [`rules_at`], outside a transaction (reads).
pub(crate) async fn rules_read(
    db: &Db,
    tenant: TenantId,
    stamp: i64,
) -> Result<Arc<TenantRules>, StoreError> {
    if let Some(rules) = db.rules().get(tenant, stamp) {
        return Ok(rules);
    }
    let rows = on_db!(db, |p| sqlx::query_as::<_, RulesRow>(RULES_SQL)
        .bind(DbId::from(tenant))
        .fetch_all(p)
        .await)?;
    kept(db.rules(), tenant, &rows)
}

const RULES_SQL: &str = "SELECT t.catalog_doc, t.country, t.rules_version, s.sku_id FROM tenants t \
     LEFT JOIN (SELECT DISTINCT tenant_id, sku_id FROM subscriptions) s ON s.tenant_id = t.id WHERE t.id = $1";

type RulesRow = (String, String, i64, Option<DbId>);

/// The rules from [`RULES_SQL`]'s rows, kept in `cache` at the stamp they were read at.
fn kept(cache: &RulesCache, tenant: TenantId, rows: &[RulesRow]) -> Result<Arc<TenantRules>, StoreError> {
    let (doc, country, read_at, _) = rows.first().ok_or(StoreError::NotFound)?;
    let rules = Arc::new(TenantRules {
        catalog: catalog_from_doc(doc)?,
        subscribed: rows
            .iter()
            .filter_map(|r| r.3)
            .map(|d| SkuId::from_uuid(d.0))
            .collect(),
        country: country.clone(),
    });
    cache.put(tenant, *read_at, &rules);
    Ok(rules)
}

/// Whether a change may take units beyond the enabled ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Units {
    /// Only free enabled units (every change but a restore).
    Enabled,
    /// Over-consumption allowed (a restore).
    Overdraw,
}

/// What a direct change saw: the user's assignments before it, the tenant's rules (for the audit
/// record's catalog, without reading them twice) and the user as locked.
pub(crate) struct Changed {
    pub before: Vec<Assignment>,
    pub rules: Arc<TenantRules>,
    pub user: LockedUser,
}

/// The names of a user as its lock returned them.
pub(crate) struct LockedUser {
    pub upn: String,
    pub display_name: String,
}

/// A direct license change (`assignLicense`, `licenseupdates`, a cloudLicensing user assignment,
/// each license a restore brings back), inside the caller's transaction: locks the user, plans
/// the change with core's rules, takes and frees units in SKU order, writes the rows. A refusal
/// returns before the first write.
pub(crate) async fn direct_change_in_tx(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    change: &LicenseChange,
    units: Units,
) -> Result<Changed, StoreError> {
    // The user's lock, its names for the audit record and the tenant's rules stamp: one statement.
    let sql = format!(
        "UPDATE users SET version = version + 1, change_mark = {} WHERE tenant_id = $1 AND id = $2 \
         RETURNING usage_location, upn, display_name, (SELECT rules_version FROM tenants WHERE id = $1)",
        crate::sql::change_mark(tx.backend())
    );
    let (usage_location, upn, display_name, stamp) = on_tx!(tx, |c| sqlx::query_as::<
        _,
        (Option<String>, String, String, i64),
    >(AssertSqlSafe(sql))
    .bind(DbId::from(tenant))
    .bind(DbId::from(user))
    .fetch_optional(c)
    .await)?
    .ok_or(StoreError::NotFound)?;
    let rules = rules_at(tx, tenant, stamp).await?;
    let current = assignments_in_tx(tx, user).await?;
    let ctx = UserContext {
        catalog: &rules.catalog,
        subscribed: &rules.subscribed,
        usage_location: usage_location.as_deref(),
    };
    let plan = licensing::plan_direct_change(ctx, &current, change)?;

    // Pool rows are locked in SKU order, after the user row: one global order, no deadlock.
    let mut deltas: BTreeMap<SkuId, i8> = BTreeMap::new();
    for s in &plan.gained {
        deltas.insert(*s, 1);
    }
    for s in &plan.lost {
        deltas.insert(*s, -1);
    }
    for (sku, delta) in deltas {
        if delta > 0 {
            take_unit(tx, tenant, sku, units).await?;
        } else {
            release_unit(tx, tenant, sku).await?;
        }
    }
    for sku in &plan.deletes {
        on_tx!(tx, |c| sqlx::query(
            "DELETE FROM license_assignments WHERE user_id = $1 AND sku_id = $2 AND source_group_id = $3"
        )
        .bind(DbId::from(user))
        .bind(DbId::from(*sku))
        .bind(NIL)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        forget_allotment(tx, user.as_uuid(), *sku).await?;
    }
    let now = crate::now();
    for add in &plan.upserts {
        upsert_assignment(
            tx,
            tenant,
            user,
            add.sku,
            Source::Direct,
            &to_json(&add.disabled_plans),
            now,
        )
        .await?;
    }
    Ok(Changed {
        before: current,
        rules,
        user: LockedUser { upn, display_name },
    })
}

/// The tenant's catalog (the built-in one with the tenant's extension) from its stored document.
pub(crate) fn catalog_from_doc(doc: &str) -> Result<TenantCatalog, StoreError> {
    let ext: CatalogExtension =
        serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("tenants.catalog_doc: {e}")))?;
    TenantCatalog::with_extension(&ext).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Takes the user's row lock (bumping its version) and returns its usage location; `NotFound` if
/// the user is not in the tenant.
pub(crate) async fn lock_user(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
) -> Result<Option<String>, StoreError> {
    let sql = format!(
        "UPDATE users SET version = version + 1, change_mark = {} WHERE tenant_id = $1 AND id = $2 \
         RETURNING usage_location",
        crate::sql::change_mark(tx.backend())
    );
    on_tx!(tx, |c| sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(
        sql
    ))
    .bind(DbId::from(tenant))
    .bind(DbId::from(user))
    .fetch_optional(c)
    .await)?
    .ok_or(StoreError::NotFound)
}

pub(crate) async fn lock_pool(tx: &mut Tx, tenant: TenantId, sku: SkuId) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE sku_pools SET consumed = consumed WHERE tenant_id = $1 AND sku_id = $2"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(sku))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Takes one unit of `sku` or refuses with `NoFreeUnits`. The check and the increment are one
/// statement on the pool row, so concurrent writers can never both take the last unit.
pub(crate) async fn take_unit(
    tx: &mut Tx,
    tenant: TenantId,
    sku: SkuId,
    units: Units,
) -> Result<(), StoreError> {
    // `Overdraw`: a restore brings back the licenses a user had even when that leaves the SKU
    // over-consumed (Entra's rule); then no `Enabled` take passes until enough units are freed.
    // Either way there must be a pool for the SKU.
    let sql = match units {
        Units::Enabled => {
            "UPDATE sku_pools SET consumed = consumed + 1 WHERE tenant_id = $1 AND sku_id = $2 AND consumed < \
             (SELECT COALESCE(SUM(enabled), 0) FROM subscriptions WHERE tenant_id = $1 AND sku_id = $2)"
        }
        Units::Overdraw => {
            "UPDATE sku_pools SET consumed = consumed + 1 WHERE tenant_id = $1 AND sku_id = $2"
        }
    };
    let done = on_tx!(tx, |c| sqlx::query(sql)
        .bind(DbId::from(tenant))
        .bind(DbId::from(sku))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if done == 0 {
        Err(StoreError::License(LicenseError::NoFreeUnits(sku)))
    } else {
        Ok(())
    }
}

pub(crate) async fn release_unit(tx: &mut Tx, tenant: TenantId, sku: SkuId) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE sku_pools SET consumed = consumed - 1 WHERE tenant_id = $1 AND sku_id = $2 AND consumed > 0"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(sku))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    // A freed unit goes to the longest-waiting member, if any (cloudLicensing waiting room).
    seat_if_waiting(tx, tenant, sku).await
}

pub(crate) async fn assignments_in_tx(tx: &mut Tx, user: UserId) -> Result<Vec<Assignment>, StoreError> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLS} FROM license_assignments WHERE user_id = $1 ORDER BY assigned_at, sku_id, source_group_id"
    );
    let rows = on_tx!(tx, |c| sqlx::query_as::<_, AssignmentRow>(AssertSqlSafe(sql))
        .bind(DbId::from(user))
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(Assignment::try_from).collect()
}

pub(crate) async fn upsert_assignment(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    sku: SkuId,
    source: Source,
    disabled_json: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO license_assignments (tenant_id, user_id, sku_id, source_group_id, disabled_plans, state, error, \
         assigned_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'Active', 'None', $6, $6) \
         ON CONFLICT (user_id, sku_id, source_group_id) DO UPDATE SET disabled_plans = excluded.disabled_plans, \
         state = 'Active', error = 'None', updated_at = excluded.updated_at"
    )
    .bind(DbId::from(tenant))
    .bind(DbId::from(user))
    .bind(DbId::from(sku))
    .bind(DbId(source.to_uuid()))
    .bind(disabled_json)
    .bind(now)
    .execute(c)
    .await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub(crate) async fn lock_group(tx: &mut Tx, tenant: TenantId, group: GroupId) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE groups SET version = version + 1, change_mark = {} WHERE tenant_id = $1 AND id = $2",
        crate::sql::change_mark(tx.backend())
    );
    let done = on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(DbId::from(tenant))
        .bind(DbId::from(group))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if done == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Group(GroupId),
    User(UserId),
    /// Seat the longest-waiting members of the SKU's waiting room while it has free units.
    Seat(SkuId),
}

pub(crate) fn micros_now() -> i64 {
    crate::now().timestamp_micros()
}

/// Enqueues a job unless an unclaimed one for the same target is already waiting.
///
/// The waiting job is taken by its row lock (an `UPDATE`), not by a look: a worker claims jobs
/// with `FOR UPDATE SKIP LOCKED`, so it cannot claim this one before the caller's transaction
/// commits, and its run sees the caller's change. When the worker's claim wins instead, the
/// `UPDATE` finds the job claimed and a new job is queued, so no change is ever left without
/// work to pick it up.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    tenant: TenantId,
    kind: JobKind,
    group_version: i64,
) -> Result<(), StoreError> {
    let (kind_s, target) = match kind {
        JobKind::Group(g) => ("group", g.as_uuid()),
        JobKind::User(u) => ("user", u.as_uuid()),
        JobKind::Seat(s) => ("seat", s.as_uuid()),
    };
    // A waiting group job will read the newest licenses: it completes the newest version.
    let waiting = on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET group_version = CASE WHEN kind = 'group' THEN $4 ELSE group_version END \
         WHERE tenant_id = $1 AND target_id = $2 AND kind = $3 AND lease_owner IS NULL"
    )
    .bind(DbId::from(tenant))
    .bind(DbId(target))
    .bind(kind_s)
    .bind(group_version)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if waiting > 0 {
        return Ok(());
    }
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO jobs (id, seq, tenant_id, kind, target_id, group_version, cursor_seq, cursor_id, phase, \
         lease_owner, lease_until, attempts, created_at, last_error) \
         VALUES ($1, $2, $3, $4, $5, $6, -1, $7, 'members', NULL, NULL, 0, $8, NULL)"
    )
    .bind(DbId(Uuid::new_v4()))
    .bind(micros_now())
    .bind(DbId::from(tenant))
    .bind(kind_s)
    .bind(DbId(target))
    .bind(group_version)
    .bind(NIL)
    .bind(crate::now())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// `cloud_assignment_allotments` rows: which allotment (principal, SKU) was drawn from.
pub(crate) async fn forget_allotment(tx: &mut Tx, principal: Uuid, sku: SkuId) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM cloud_assignment_allotments WHERE principal_id = $1 AND sku_id = $2"
    )
    .bind(DbId(principal))
    .bind(DbId::from(sku))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub(crate) async fn remember_allotment(
    tx: &mut Tx,
    tenant: TenantId,
    principal: Uuid,
    sku: SkuId,
    allotment: SubscriptionId,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO cloud_assignment_allotments (tenant_id, principal_id, sku_id, subscription_id) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (principal_id, sku_id) DO UPDATE SET subscription_id = excluded.subscription_id"
    )
    .bind(DbId::from(tenant))
    .bind(DbId(principal))
    .bind(DbId::from(sku))
    .bind(DbId::from(allotment))
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Queues a `seat` job for (tenant, SKU) when the SKU has waiting members and no seat job is
/// queued yet. Called in every transaction that frees units or adds them.
pub(crate) async fn seat_if_waiting(tx: &mut Tx, tenant: TenantId, sku: SkuId) -> Result<(), StoreError> {
    // One index probe (the partial waiting-room index), however many members wait.
    let sql = format!(
        "SELECT 1 FROM license_assignments a WHERE a.tenant_id = $1 AND a.sku_id = $2 AND {} LIMIT 1",
        allot_core::sql_is_waiting!("a")
    );
    let waiting = on_tx!(tx, |c| sqlx::query_scalar::<_, i32>(AssertSqlSafe(sql))
        .bind(DbId::from(tenant))
        .bind(DbId::from(sku))
        .fetch_optional(c)
        .await)?;
    if waiting.is_none() {
        return Ok(());
    }
    enqueue(tx, tenant, JobKind::Seat(sku), 0).await
}
