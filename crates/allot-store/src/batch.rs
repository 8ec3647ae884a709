//! Direct license additions in sets (SQLite): the changes waiting together are applied by one
//! pass of set statements in one savepoint of the writer's batch, instead of a dozen statements
//! each.
//!
//! Through sqlx's SQLite driver every statement is a hand-off to the connection's thread and
//! back; the writer's batch is a chain of them, so the cost of a change is its number of
//! statements (docs/benchmarks.md). Here a set of additions costs about as many statements as one
//! addition did: read the users, their licenses and the pools once, plan each change with core's
//! rules against running free-unit counts, write the rows, the pool deltas and the audit records
//! once.
//!
//! Each change is still all or nothing: a change refused by the rules or by the units writes
//! nothing, and the others go on. Only additions come here (a removal frees units, which may seat
//! waiting members); a change that removes, a user twice in one set, and every change on
//! PostgreSQL (row locks, concurrent transactions) take the one-change path,
//! `ledger::direct_change_in_tx`. If the pass itself fails (a database error), its savepoint is
//! rolled back and every change of the set is applied alone, so each caller gets its own answer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use allot_core::ids::{SkuId, Source, TenantId, UserId};
use allot_core::licensing::{
    self, Assignment, AssignmentErrorCode, AssignmentState, LicenseChange, LicenseError, UserContext,
};
use sqlx::AssertSqlSafe;
use tokio::sync::{mpsc, oneshot};

use crate::audit::{Actor, LicenseChanged};
use crate::db::{Db, Tx};
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::group_licensing::rows_of;
use crate::ledger::{Units, assignments_in_tx, direct_change_in_tx};
use crate::records::{USER_COLS, User, UserRow, to_json};
use crate::{on_tx, sql};

/// What a change's caller is answered: the user and its licenses as committed, or why not.
pub(crate) type Answer = Result<(User, Vec<Assignment>), StoreError>;

/// The most changes one pass applies.
const MAX_SET: usize = 256;

/// One direct change (an addition, when it comes to a pass).
#[derive(Clone)]
pub(crate) struct Addition {
    pub actor: Option<Actor>,
    pub tenant: TenantId,
    pub user: UserId,
    pub change: LicenseChange,
}

struct Waiting {
    addition: Addition,
    answer: oneshot::Sender<Answer>,
}

/// The queue of additions of one database, and the task that applies them in sets.
#[derive(Debug, Default)]
pub(crate) struct Additions(OnceLock<mpsc::UnboundedSender<Waiting>>);

impl Additions {
    /// Applies `addition` in the next pass and answers, with the user's licenses as committed,
    /// after the commit that holds it.
    pub(crate) async fn apply(&self, db: &Db, addition: Addition) -> Answer {
        let queue = self.0.get_or_init(|| {
            let (queue, waiting) = mpsc::unbounded_channel();
            tokio::spawn(run(db.clone(), waiting));
            queue
        });
        let (answer, answered) = oneshot::channel();
        queue
            .send(Waiting { addition, answer })
            .map_err(|_| StoreError::Unapplied("the additions queue has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Unapplied("the pass holding the change failed (a panic)".into()))?
    }
}

async fn run(db: Db, mut queue: mpsc::UnboundedReceiver<Waiting>) {
    let mut next: Vec<Waiting> = Vec::new();
    let mut drained = Vec::with_capacity(MAX_SET);
    loop {
        if next.is_empty() && queue.recv_many(&mut drained, MAX_SET).await == 0 {
            return;
        }
        while let Ok(w) = queue.try_recv() {
            drained.push(w);
            if drained.len() + next.len() >= MAX_SET {
                break;
            }
        }
        next.append(&mut drained);
        // A user twice in one set waits for the next pass, so each pass sees each user once.
        let mut seen = BTreeSet::new();
        let (set, later): (Vec<Waiting>, Vec<Waiting>) =
            next.drain(..).partition(|w| seen.insert(w.addition.user));
        next = later;
        apply_set(&db, set).await;
    }
}

/// A direct change alone, in a write transaction of its own (on SQLite: a savepoint of the
/// writer's batch).
pub(crate) async fn alone(db: &Db, a: &Addition) -> Answer {
    let a = Arc::new(a.clone());
    db.write(move |tx| {
        let a = Arc::clone(&a);
        Box::pin(async move { in_tx(tx, &a).await })
    })
    .await
}

/// The one-change path: `ledger::direct_change_in_tx` and the change's audit records; the
/// user and its licenses after it.
async fn in_tx(tx: &mut Tx, a: &Addition) -> Answer {
    let changed = direct_change_in_tx(tx, a.tenant, a.user, &a.change, Units::Enabled).await?;
    let after = assignments_in_tx(tx, a.user).await?;
    if let Some(actor) = &a.actor {
        crate::audit::user_license_change(tx, a.tenant, actor, a.user, &changed, &after).await?;
    }
    // By key, not through `people`'s JSON list: PostgreSQL plans `id IN (jsonb …)` without
    // statistics as a scan of every user.
    let query = format!("SELECT {USER_COLS} FROM users WHERE tenant_id = $1 AND id = $2");
    let row = on_tx!(tx, |c| sqlx::query_as::<_, UserRow>(AssertSqlSafe(query))
        .bind(DbId::from(a.tenant))
        .bind(DbId::from(a.user))
        .fetch_optional(c)
        .await)?
    .ok_or(StoreError::NotFound)?;
    Ok((User::try_from(row)?, after))
}

/// One pass, or each change alone when the pass fails.
async fn apply_set(db: &Db, set: Vec<Waiting>) {
    let (additions, answers): (Vec<Addition>, Vec<_>) =
        set.into_iter().map(|w| (w.addition, w.answer)).unzip();
    let additions = Arc::new(additions);
    let shared = Arc::clone(&additions);
    let pass = db
        .write(move |tx| {
            let additions = Arc::clone(&shared);
            Box::pin(async move { apply_all(tx, &additions).await })
        })
        .await;
    match pass {
        Ok(results) => {
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(result);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "a set of additions failed as a whole; applying each alone");
            for (answer, a) in answers.into_iter().zip(additions.iter()) {
                let _ = answer.send(alone(db, a).await);
            }
        }
    }
}

/// Applies every addition (users distinct) in `tx`; one answer per addition, in order.
async fn apply_all(tx: &mut Tx, additions: &[Addition]) -> Result<Vec<Answer>, StoreError> {
    let mut results: Vec<Option<Answer>> = additions.iter().map(|_| None).collect();
    let tenants: BTreeSet<TenantId> = additions.iter().map(|a| a.tenant).collect();
    for tenant in tenants {
        let mine: Vec<usize> = (0..additions.len())
            .filter(|i| additions[*i].tenant == tenant)
            .collect();
        apply_in_tenant(tx, tenant, additions, &mine, &mut results).await?;
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Unapplied("not reached".into()))))
        .collect())
}

async fn apply_in_tenant(
    tx: &mut Tx,
    tenant: TenantId,
    additions: &[Addition],
    mine: &[usize],
    results: &mut [Option<Answer>],
) -> Result<(), StoreError> {
    let users: Vec<UserId> = mine.iter().map(|i| additions[*i].user).collect();
    let (people, stamp) = people(tx, tenant, &users).await?;
    let rules = match stamp {
        Some(stamp) => crate::ledger::rules_at(tx, tenant, stamp).await?,
        None => crate::ledger::tenant_rules(tx, tenant).await?,
    };
    let before = rows_of(tx, &users).await?;
    let none: Vec<Assignment> = Vec::new();

    // Plan each change; those the rules accept wait for their units.
    let mut planned: Vec<(usize, licensing::DirectPlan)> = Vec::new();
    for &i in mine {
        let a = &additions[i];
        let Some(person) = people.get(&a.user) else {
            results[i] = Some(Err(StoreError::NotFound));
            continue;
        };
        let ctx = UserContext {
            catalog: &rules.catalog,
            subscribed: &rules.subscribed,
            usage_location: person.usage_location.as_deref(),
        };
        let held = before.get(&a.user).unwrap_or(&none);
        match licensing::plan_direct_change(ctx, held, &a.change) {
            Err(e) => results[i] = Some(Err(e.into())),
            Ok(plan) if !plan.lost.is_empty() || !plan.deletes.is_empty() => {
                // Not an addition after all: it frees units, so it goes alone (below).
                results[i] = None;
            }
            Ok(plan) => planned.push((i, plan)),
        }
    }

    // Units, in arrival order: a change takes all its units or none.
    let wanted: BTreeSet<SkuId> = planned
        .iter()
        .flat_map(|(_, p)| p.gained.iter().copied())
        .collect();
    let mut free = free_units(tx, tenant, &wanted).await?;
    let mut accepted: Vec<(usize, licensing::DirectPlan)> = Vec::new();
    for (i, plan) in planned {
        let mut gained = plan.gained.clone();
        gained.sort_unstable();
        if let Some(short) = gained.iter().find(|s| free.get(s).copied().unwrap_or(0) < 1) {
            results[i] = Some(Err(LicenseError::NoFreeUnits(*short).into()));
            continue;
        }
        for s in &gained {
            *free.entry(*s).or_default() -= 1;
        }
        accepted.push((i, plan));
    }
    write(tx, tenant, additions, &accepted).await?;

    // The records, from the rows as written.
    let changed_users: Vec<UserId> = accepted.iter().map(|(i, _)| additions[*i].user).collect();
    let after = rows_of(tx, &changed_users).await?;
    let mut records = Vec::new();
    for (i, _) in &accepted {
        let a = &additions[*i];
        let Some(person) = people.get(&a.user) else {
            continue;
        };
        results[*i] = Some(Ok((
            person.clone(),
            after.get(&a.user).cloned().unwrap_or_default(),
        )));
        let Some(actor) = &a.actor else {
            continue;
        };
        records.push(LicenseChanged {
            actor,
            user: a.user,
            upn: &person.user_principal_name,
            display_name: &person.display_name,
            before: before.get(&a.user).unwrap_or(&none),
            after: after.get(&a.user).unwrap_or(&none),
        });
    }
    crate::audit::user_license_changes(tx, tenant, &rules.catalog, &records).await?;

    // The few that were not additions, each alone in its own savepoint.
    for &i in mine {
        if results[i].is_none() {
            results[i] = Some(alone_in_pass(tx, &additions[i]).await);
        }
    }
    Ok(())
}

/// A change that is not a pure addition, inside the pass: its own savepoint, the one-change path.
async fn alone_in_pass(tx: &mut Tx, a: &Addition) -> Answer {
    tx.execute_raw("SAVEPOINT alone").await?;
    let done = in_tx(tx, a).await;
    let end = if done.is_ok() {
        "RELEASE alone"
    } else {
        "ROLLBACK TO alone; RELEASE alone"
    };
    tx.execute_raw(end).await?;
    done
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    #[sqlx(flatten)]
    user: UserRow,
    rules_version: i64,
}

/// The users of a set as they are, and the tenant's rules stamp (read in the same statement;
/// `None` when none of the users exists).
async fn people(
    tx: &mut Tx,
    tenant: TenantId,
    users: &[UserId],
) -> Result<(HashMap<UserId, User>, Option<i64>), StoreError> {
    let query = format!(
        "SELECT {USER_COLS}, (SELECT rules_version FROM tenants WHERE id = $1) AS rules_version \
         FROM users WHERE tenant_id = $1 AND id IN {}",
        sql::ids_in(tx.backend(), 2)
    );
    let rows = on_tx!(tx, |c| sqlx::query_as::<_, PersonRow>(AssertSqlSafe(query))
        .bind(DbId::from(tenant))
        .bind(sql::ids_json(users.iter().map(|u| u.as_uuid())))
        .fetch_all(c)
        .await)?;
    let stamp = rows.first().map(|r| r.rules_version);
    let mut people = HashMap::with_capacity(rows.len());
    for row in rows {
        let user = User::try_from(row.user)?;
        people.insert(user.id, user);
    }
    Ok((people, stamp))
}

/// The free enabled units of `skus` in one statement (a SKU without a pool has none). The
/// writer holds SQLite's write lock, so they cannot change before this pass writes.
async fn free_units(
    tx: &mut Tx,
    tenant: TenantId,
    skus: &BTreeSet<SkuId>,
) -> Result<BTreeMap<SkuId, i64>, StoreError> {
    if skus.is_empty() {
        return Ok(BTreeMap::new());
    }
    let query = format!(
        "SELECT p.sku_id, CAST(COALESCE((SELECT SUM(s.enabled) FROM subscriptions s \
         WHERE s.tenant_id = p.tenant_id AND s.sku_id = p.sku_id), 0) AS BIGINT) - p.consumed \
         FROM sku_pools p WHERE p.tenant_id = $1 AND p.sku_id IN {}",
        sql::ids_in(tx.backend(), 2)
    );
    let rows = on_tx!(tx, |c| sqlx::query_as::<_, (DbId, i64)>(AssertSqlSafe(query))
        .bind(DbId::from(tenant))
        .bind(sql::ids_json(skus.iter().map(|s| s.as_uuid())))
        .fetch_all(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|(s, free)| (SkuId::from_uuid(s.0), free))
        .collect())
}

/// The accepted changes' writes: the users' version and change mark, the direct rows (one
/// statement per SKU and plan choice), the pools' deltas.
async fn write(
    tx: &mut Tx,
    tenant: TenantId,
    additions: &[Addition],
    accepted: &[(usize, licensing::DirectPlan)],
) -> Result<(), StoreError> {
    if accepted.is_empty() {
        return Ok(());
    }
    let backend = tx.backend();
    let users = sql::ids_json(accepted.iter().map(|(i, _)| additions[*i].user.as_uuid()));
    let bump = format!(
        "UPDATE users SET version = version + 1, change_mark = {} WHERE tenant_id = $1 AND id IN {}",
        sql::change_mark(backend),
        sql::ids_in(backend, 2)
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(bump))
        .bind(DbId::from(tenant))
        .bind(&users)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;

    let mut shapes: BTreeMap<(SkuId, String), Vec<uuid::Uuid>> = BTreeMap::new();
    let mut deltas: BTreeMap<SkuId, i64> = BTreeMap::new();
    for (i, plan) in accepted {
        for add in &plan.upserts {
            shapes
                .entry((add.sku, to_json(&add.disabled_plans)))
                .or_default()
                .push(additions[*i].user.as_uuid());
        }
        for s in &plan.gained {
            *deltas.entry(*s).or_default() += 1;
        }
    }
    // As `ledger::upsert_assignment`, for many users at once.
    let upsert = format!(
        "INSERT INTO license_assignments (tenant_id, user_id, sku_id, source_group_id, disabled_plans, state, error, \
         assigned_at, updated_at) SELECT $1, {}, $2, $3, $4, $5, $6, {}, {} FROM {} WHERE 1 = 1 \
         ON CONFLICT (user_id, sku_id, source_group_id) DO UPDATE SET disabled_plans = excluded.disabled_plans, \
         state = excluded.state, error = excluded.error, updated_at = excluded.updated_at",
        sql::json_value(backend, "uuid"),
        sql::cast_param(backend, 7, "timestamptz"),
        sql::cast_param(backend, 7, "timestamptz"),
        sql::json_scalars(backend, 8)
    );
    let now = sql::ts(crate::now());
    for ((sku, disabled), users) in &shapes {
        on_tx!(tx, |c| sqlx::query(AssertSqlSafe(upsert.clone()))
            .bind(DbId::from(tenant))
            .bind(DbId::from(*sku))
            .bind(DbId(Source::Direct.to_uuid()))
            .bind(disabled)
            .bind(AssignmentState::Active.as_str())
            .bind(AssignmentErrorCode::None.as_str())
            .bind(&now)
            .bind(sql::ids_json(users.iter().copied()))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    for (sku, delta) in deltas {
        let moved = on_tx!(tx, |c| sqlx::query(
            "UPDATE sku_pools SET consumed = consumed + $3 WHERE tenant_id = $1 AND sku_id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(sku))
        .bind(delta)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if moved != 1 {
            return Err(StoreError::Corrupt(format!("no unit pool for {sku}")));
        }
    }
    Ok(())
}
