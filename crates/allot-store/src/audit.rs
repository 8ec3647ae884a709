//! The audit log: records of license-relevant changes, appended inside the transaction of the
//! change they record (so a change and its record commit or vanish together), and read back as
//! Graph's `directoryAudit` resources. A user's license change writes Entra's pair: "Change user
//! license" (licenses changed) and "Update user", whose modified properties carry
//! `AssignedLicense`, `AssignedPlan` and `LicenseAssignmentDetail` before and after.

use allot_core::catalog::TenantCatalog;
use allot_core::ids::{AppId, GroupId, Source, TenantId, UserId};
use allot_core::licensing::{self, Assignment};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::db::Tx;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::records::{Group, GroupLicense, MemberRef, Subscription};
use crate::{on_db, on_tx};

/// Who made a change, and through which surface ("Microsoft Graph", "Partner Center", ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user (delegated calls); `None` for app-only calls.
    pub user: Option<UserId>,
    /// The calling app.
    pub app: Option<AppId>,
    pub surface: &'static str,
}

/// One record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub activity_at: DateTime<Utc>,
    pub category: String,
    pub activity: String,
    pub operation_type: String,
    pub result: String,
    pub result_reason: String,
    #[sqlx(try_from = "DbId")]
    pub correlation_id: Uuid,
    pub logged_by_service: String,
    pub initiated_by: String,
    pub target_resources: String,
    pub additional: String,
}

/// The columns of [`AuditRow`], with the table aliased `a`.
pub const AUDIT_COLS: &str = "a.id, a.activity_at, a.category, a.activity, a.operation_type, a.result, \
     a.result_reason, a.correlation_id, a.logged_by_service, a.initiated_by, a.target_resources, a.additional";

/// What a record says happened to what.
struct Event {
    category: &'static str,
    activity: &'static str,
    operation_type: &'static str,
    targets: Vec<Target>,
}

/// An object a record is about (a user or a group), with what changed on it.
#[derive(Clone)]
pub(crate) struct Target {
    id: Uuid,
    kind: &'static str,
    display_name: String,
    upn: Option<String>,
    modified: Vec<Value>,
}

impl Target {
    fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "displayName": self.display_name,
            "type": self.kind,
            "userPrincipalName": self.upn,
            "groupType": null,
            "modifiedProperties": self.modified,
        })
    }
}

/// A user as a target: its name and UPN read in the transaction.
async fn user_target(tx: &mut Tx, user: Uuid) -> Result<Target, StoreError> {
    let row = on_tx!(tx, |c| sqlx::query_as::<_, (String, String)>(
        "SELECT upn, display_name FROM users WHERE id = $1"
    )
    .bind(DbId(user))
    .fetch_optional(c)
    .await)?;
    let (upn, name) = row.unwrap_or_default();
    Ok(Target {
        id: user,
        kind: "User",
        display_name: name,
        upn: Some(upn),
        modified: Vec::new(),
    })
}

/// A group as a target.
async fn group_target(tx: &mut Tx, group: Uuid) -> Result<Target, StoreError> {
    let name = on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
        "SELECT display_name FROM groups WHERE id = $1"
    )
    .bind(DbId(group))
    .fetch_optional(c)
    .await)?;
    Ok(Target {
        id: group,
        kind: "Group",
        display_name: name.unwrap_or_default(),
        upn: None,
        modified: Vec::new(),
    })
}

/// A directory object as a target, whichever kind it is.
async fn member_target(tx: &mut Tx, member: MemberRef) -> Result<Target, StoreError> {
    match member {
        MemberRef::User(u) => user_target(tx, u.as_uuid()).await,
        MemberRef::Group(g) => group_target(tx, g.as_uuid()).await,
    }
}

/// `initiatedBy`, and the initiator's user id, UPN and app id for the filter columns.
async fn initiator(
    tx: &mut Tx,
    actor: &Actor,
) -> Result<(Value, Option<Uuid>, Option<String>, Option<Uuid>), StoreError> {
    let app = match actor.app {
        Some(a) => on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
            "SELECT display_name FROM apps WHERE client_id = $1"
        )
        .bind(DbId(a.as_uuid()))
        .fetch_optional(c)
        .await)?,
        None => None,
    };
    if let Some(u) = actor.user {
        let user = on_tx!(tx, |c| sqlx::query_as::<_, (String, String)>(
            "SELECT upn, display_name FROM users WHERE id = $1"
        )
        .bind(DbId::from(u))
        .fetch_optional(c)
        .await)?;
        let (upn, name) = user.unwrap_or_default();
        let v = json!({
            "app": null,
            "user": {
                "id": u.to_string(),
                "displayName": name,
                "userPrincipalName": upn,
                "ipAddress": null,
                "userType": null,
                "homeTenantId": null,
                "homeTenantName": null,
            },
        });
        return Ok((
            v,
            Some(u.as_uuid()),
            Some(upn.to_lowercase()),
            actor.app.map(|a| a.as_uuid()),
        ));
    }
    // Without an app (the admin API, the licensing worker) the surface names the initiator.
    let app = app.or_else(|| actor.app.is_none().then(|| actor.surface.to_owned()));
    let v = json!({
        "user": null,
        "app": {
            "appId": actor.app.map(|a| a.to_string()),
            "displayName": app.clone(),
            "servicePrincipalId": null,
            "servicePrincipalName": app,
        },
    });
    Ok((v, None, None, actor.app.map(|a| a.as_uuid())))
}

/// Appends the records of one change (they share a correlation id).
async fn append(tx: &mut Tx, tenant: TenantId, actor: &Actor, events: &[Event]) -> Result<(), StoreError> {
    append_changes(tx, tenant, actor, &[events]).await
}

/// The records of several changes by one actor: each change's records share a correlation id of
/// their own; all of them are written in the same two statements.
async fn append_changes(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    changes: &[&[Event]],
) -> Result<(), StoreError> {
    let (initiated_by, user_id, upn, app_id) = initiator(tx, actor).await?;
    let at = crate::now();
    let additional = json!([{"key": "Surface", "value": actor.surface}]).to_string();
    // All the records in one statement and all their targets in another (a JSON array each).
    // (`WHERE 1 = 1`: SQLite reads `ON CONFLICT` after `SELECT ... FROM` as a join's `ON`
    // otherwise.)
    let backend = tx.backend();
    let mut records = Vec::with_capacity(changes.iter().map(|e| e.len()).sum());
    let mut targets = Vec::new();
    for events in changes {
        let correlation = Uuid::new_v4().to_string();
        for e in *events {
            let id = format!("Directory_{}", Uuid::new_v4());
            for t in &e.targets {
                targets.push(json!({"a": id, "t": t.id.to_string(), "n": t.display_name}));
            }
            records.push(json!({
                "id": id,
                "k": correlation,
                "c": e.category,
                "v": e.activity,
                "o": e.operation_type,
                "r": Value::Array(e.targets.iter().map(Target::json).collect()).to_string(),
            }));
        }
    }
    let f = |k: &str| crate::sql::json_field(backend, k, "text");
    let sql = format!(
        "INSERT INTO directory_audits (id, tenant_id, activity_at, category, activity, operation_type, result, \
         result_reason, correlation_id, logged_by_service, initiator_user_id, initiator_upn, initiator_app_id, \
         initiated_by, target_resources, additional) \
         SELECT {}, $2, $3, {}, {}, {}, 'success', '', {}, 'Core Directory', $4, $5, $6, $7, {}, $8 FROM {}",
        f("id"),
        f("c"),
        f("v"),
        f("o"),
        crate::sql::json_field(backend, "k", "uuid"),
        f("r"),
        crate::sql::json_rows(backend, 1)
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(Value::Array(records.clone()).to_string())
        .bind(DbId::from(tenant))
        .bind(at)
        .bind(user_id.map(DbId))
        .bind(upn.clone())
        .bind(app_id.map(DbId))
        .bind(initiated_by.to_string())
        .bind(&additional)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    let sql = format!(
        "INSERT INTO directory_audit_targets (audit_id, tenant_id, target_id, display_name) \
         SELECT {}, $2, {}, {} FROM {} WHERE 1 = 1 ON CONFLICT (audit_id, target_id) DO NOTHING",
        f("a"),
        crate::sql::json_field(backend, "t", "uuid"),
        f("n"),
        crate::sql::json_rows(backend, 1)
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(Value::Array(targets.clone()).to_string())
        .bind(DbId::from(tenant))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// `AssignedLicense`: the licenses held, as Entra lists them.
fn assigned_license(catalog: &TenantCatalog, held: &[Assignment]) -> Value {
    let list: Vec<Value> = licensing::effective_licenses(held)
        .iter()
        .map(|l| {
            json!({
                "SkuName": catalog.sku(l.sku).map(|s| s.part_number.clone()),
                "SkuId": l.sku.to_string(),
                "DisabledPlans": l.disabled_plans.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    Value::Array(list)
}

/// `AssignedPlan`: the plans of the licenses held, enabled or not.
fn assigned_plan(catalog: &TenantCatalog, held: &[Assignment]) -> Value {
    let mut list = Vec::new();
    for l in licensing::effective_licenses(held) {
        let Some(sku) = catalog.sku(l.sku) else {
            continue;
        };
        for p in &sku.plans {
            let status = if l.disabled_plans.contains(&p.id) {
                "Deleted"
            } else {
                "Enabled"
            };
            list.push(
                json!({"ServicePlanId": p.id.to_string(), "Service": p.name, "CapabilityStatus": status}),
            );
        }
    }
    Value::Array(list)
}

/// `LicenseAssignmentDetail`: every assignment, direct or inherited, with its state.
fn assignment_detail(held: &[Assignment]) -> Value {
    Value::Array(
        held.iter()
            .map(|a| {
                json!({
                    "SkuId": a.sku.to_string(),
                    "AssignedByGroup": match a.source {
                        Source::Direct => None,
                        Source::Group(g) => Some(g.to_string()),
                    },
                    "State": a.state.as_str(),
                    "Error": a.error.as_str(),
                })
            })
            .collect(),
    )
}

fn modified(name: &str, old: &Value, new: &Value) -> Value {
    json!({"displayName": name, "oldValue": old.to_string(), "newValue": new.to_string()})
}

/// Records a change of `user`'s licenses (`before` the change; the rows after are read here):
/// "Change user license" and "Update user" with the old and new license properties.
pub(crate) async fn user_license_change(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    user: UserId,
    changed: &crate::ledger::Changed,
    after: &[Assignment],
) -> Result<(), StoreError> {
    let plain = named_user(user, &changed.user.upn, &changed.user.display_name);
    let events = license_events_of(&changed.rules.catalog, &changed.before, after, plain);
    append(tx, tenant, actor, &events).await
}

/// One direct change of a batch (`crate::batch`), for its records.
pub(crate) struct LicenseChanged<'a> {
    pub actor: &'a Actor,
    pub user: UserId,
    pub upn: &'a str,
    pub display_name: &'a str,
    pub before: &'a [Assignment],
    pub after: &'a [Assignment],
}

/// The records of the direct changes of one batch in one tenant: each change's pair with a
/// correlation id of its own, written in two statements per actor.
pub(crate) async fn user_license_changes(
    tx: &mut Tx,
    tenant: TenantId,
    catalog: &TenantCatalog,
    changes: &[LicenseChanged<'_>],
) -> Result<(), StoreError> {
    let mut by_actor: Vec<(&Actor, Vec<Vec<Event>>)> = Vec::new();
    for c in changes {
        let plain = named_user(c.user, c.upn, c.display_name);
        let events = license_events_of(catalog, c.before, c.after, plain);
        match by_actor.iter_mut().find(|(a, _)| *a == c.actor) {
            Some((_, list)) => list.push(events),
            None => by_actor.push((c.actor, vec![events])),
        }
    }
    for (actor, list) in by_actor {
        let slices: Vec<&[Event]> = list.iter().map(Vec::as_slice).collect();
        append_changes(tx, tenant, actor, &slices).await?;
    }
    Ok(())
}

fn named_user(user: UserId, upn: &str, display_name: &str) -> Target {
    Target {
        id: user.as_uuid(),
        kind: "User",
        display_name: display_name.to_owned(),
        upn: Some(upn.to_owned()),
        modified: Vec::new(),
    }
}

/// The pair of records of a change of `user`'s licenses, its licenses after read in `tx`.
async fn license_events(
    tx: &mut Tx,
    catalog: &TenantCatalog,
    user: UserId,
    before: &[Assignment],
    plain: Target,
) -> Result<Vec<Event>, StoreError> {
    let after = crate::ledger::assignments_in_tx(tx, user).await?;
    Ok(license_events_of(catalog, before, &after, plain))
}

/// The pair of records of a change of a user's licenses from `before` to `after`.
fn license_events_of(
    catalog: &TenantCatalog,
    before: &[Assignment],
    after: &[Assignment],
    plain: Target,
) -> Vec<Event> {
    let props = [
        (
            "AssignedLicense",
            assigned_license(catalog, before),
            assigned_license(catalog, after),
        ),
        (
            "AssignedPlan",
            assigned_plan(catalog, before),
            assigned_plan(catalog, after),
        ),
        (
            "LicenseAssignmentDetail",
            assignment_detail(before),
            assignment_detail(after),
        ),
    ];
    let mut changed: Vec<Value> = props.iter().map(|(n, o, a)| modified(n, o, a)).collect();
    changed.push(json!({
        "displayName": "Included Updated Properties",
        "oldValue": null,
        "newValue": "\"AssignedLicense, AssignedPlan, LicenseAssignmentDetail\"",
    }));
    let updated = Target {
        modified: changed,
        ..plain.clone()
    };
    vec![
        Event {
            category: "UserManagement",
            activity: "Change user license",
            operation_type: "Update",
            targets: vec![plain],
        },
        Event {
            category: "UserManagement",
            activity: "Update user",
            operation_type: "Update",
            targets: vec![updated],
        },
    ]
}

/// "Add user", "Delete user" or "Restore user" (`activity`), with `operation_type`; a restore
/// also records the licenses it brought back (from none).
pub(crate) async fn user_lifecycle(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    user: UserId,
    activity: &'static str,
    operation_type: &'static str,
    target: Option<Target>,
) -> Result<(), StoreError> {
    let target = match target {
        Some(t) => t,
        None => user_target(tx, user.as_uuid()).await?,
    };
    let mut events = vec![Event {
        category: "UserManagement",
        activity,
        operation_type,
        targets: vec![target],
    }];
    if activity == "Restore user" && !crate::ledger::assignments_in_tx(tx, user).await?.is_empty() {
        let rules = crate::ledger::tenant_rules(tx, tenant).await?;
        let plain = user_target(tx, user.as_uuid()).await?;
        events.extend(license_events(tx, &rules.catalog, user, &[], plain).await?);
    }
    append(tx, tenant, actor, &events).await
}

/// The target of a user about to be deleted (read while its row still exists).
pub(crate) async fn user_before_delete(tx: &mut Tx, user: UserId) -> Result<Target, StoreError> {
    user_target(tx, user.as_uuid()).await
}

/// "Add member to group" / "Remove member from group": the member (with the group's id and
/// name as its modified properties) and the group.
pub(crate) async fn membership(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    group: GroupId,
    member: MemberRef,
    added: bool,
) -> Result<(), StoreError> {
    let g = group_target(tx, group.as_uuid()).await?;
    let mut m = member_target(tx, member).await?;
    // The group's id and name move from nothing to the member (added) or back (removed).
    let values = |v: String| -> (Value, Value) {
        let quoted = json!(format!("\"{v}\""));
        if added {
            (Value::Null, quoted)
        } else {
            (quoted, Value::Null)
        }
    };
    let (id_old, id_new) = values(group.to_string());
    let (name_old, name_new) = values(g.display_name.clone());
    m.modified = vec![
        json!({"displayName": "Group.ObjectID", "oldValue": id_old, "newValue": id_new}),
        json!({"displayName": "Group.DisplayName", "oldValue": name_old, "newValue": name_new}),
    ];
    let (activity, operation_type) = if added {
        ("Add member to group", "Assign")
    } else {
        ("Remove member from group", "Unassign")
    };
    let events = [Event {
        category: "GroupManagement",
        activity,
        operation_type,
        targets: vec![m, g],
    }];
    append(tx, tenant, actor, &events).await
}

/// `AssignedLicense` of a group: its license assignments.
fn group_licenses(catalog: &TenantCatalog, licenses: &[GroupLicense]) -> Value {
    Value::Array(
        licenses
            .iter()
            .map(|l| {
                json!({
                    "SkuName": catalog.sku(l.sku_id).map(|s| s.part_number.clone()),
                    "SkuId": l.sku_id.to_string(),
                    "DisabledPlans": l.disabled_plans.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// "Change group license": the group's licenses before and after (its members follow through
/// the licensing worker).
pub(crate) async fn group_license_change(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    group: &Group,
    before: &[GroupLicense],
) -> Result<(), StoreError> {
    let rules = crate::ledger::tenant_rules(tx, tenant).await?;
    let catalog = &rules.catalog;
    let mut target = group_target(tx, group.id.as_uuid()).await?;
    target.modified = vec![modified(
        "AssignedLicense",
        &group_licenses(catalog, before),
        &group_licenses(catalog, &group.assigned_licenses),
    )];
    let events = [Event {
        category: "GroupManagement",
        activity: "Change group license",
        operation_type: "Update",
        targets: vec![target],
    }];
    append(tx, tenant, actor, &events).await
}

/// "Update subscription" (inferred name): a subscription's unit counts before (none: created)
/// and after.
pub(crate) async fn subscription_change(
    tx: &mut Tx,
    actor: &Actor,
    sub: &Subscription,
    before: Option<(i64, i64, i64, i64)>,
) -> Result<(), StoreError> {
    let rules = crate::ledger::tenant_rules(tx, sub.tenant_id).await?;
    let catalog = &rules.catalog;
    let name = catalog
        .sku(sub.sku_id)
        .map_or_else(|| sub.sku_id.to_string(), |k| k.part_number.clone());
    let after = [sub.enabled, sub.warning, sub.suspended, sub.locked_out];
    let before = before.map(|b| [b.0, b.1, b.2, b.3]);
    let modified = ["EnabledUnits", "WarningUnits", "SuspendedUnits", "LockedOutUnits"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({
                "displayName": n,
                "oldValue": before.map(|b| b[i].to_string()),
                "newValue": after[i].to_string(),
            })
        })
        .collect();
    let events = [Event {
        category: "DirectoryManagement",
        activity: "Update subscription",
        operation_type: if before.is_some() { "Update" } else { "Add" },
        targets: vec![Target {
            id: sub.id.as_uuid(),
            kind: "Subscription",
            display_name: name,
            upn: None,
            modified,
        }],
    }];
    append(tx, sub.tenant_id, actor, &events).await
}

/// The initiator of what group-based licensing does on its own, as Entra names it.
pub const GROUP_LICENSING: &str = "Microsoft Azure AD Group-Based Licensing";

/// "Group license processing completed" (inferred name): a group's licenses are applied to all
/// its members, with how many members hold them and how many are in error. Initiated by
/// group-based licensing itself; recorded in the transaction that marks the group complete.
pub(crate) async fn group_processed(tx: &mut Tx, tenant: TenantId, group: GroupId) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT COUNT(DISTINCT a.user_id) FILTER (WHERE {}), COUNT(DISTINCT a.user_id) FILTER (WHERE {}) \
         FROM license_assignments a WHERE a.source_group_id = $1",
        allot_core::sql_holds_license!("a"),
        allot_core::sql_in_error!("a"),
    );
    let (holding, in_error) = on_tx!(tx, |c| sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql))
        .bind(DbId::from(group))
        .fetch_one(c)
        .await)?;
    // Every SKU's consumed units as this transaction leaves them: the console's consumption chart
    // is anchored on these (per-member changes by group-based licensing are not recorded).
    let pools = on_tx!(tx, |c| sqlx::query_as::<_, (DbId, i64)>(
        "SELECT sku_id, consumed FROM sku_pools WHERE tenant_id = $1 ORDER BY sku_id"
    )
    .bind(DbId::from(tenant))
    .fetch_all(c)
    .await)?;
    let consumed: Vec<Value> = pools
        .iter()
        .map(|(sku, n)| json!({"SkuId": sku.0.to_string(), "ConsumedUnits": n}))
        .collect();
    let mut target = group_target(tx, group.as_uuid()).await?;
    target.modified = vec![
        json!({"displayName": "LicenseProcessingState", "oldValue": null, "newValue": "\"ProcessingComplete\""}),
        json!({"displayName": "MembersWithLicenses", "oldValue": null, "newValue": holding.to_string()}),
        json!({"displayName": "MembersWithLicenseErrors", "oldValue": null, "newValue": in_error.to_string()}),
        json!({"displayName": "ConsumedUnits", "oldValue": null, "newValue": Value::Array(consumed).to_string()}),
    ];
    let actor = Actor {
        user: None,
        app: None,
        surface: GROUP_LICENSING,
    };
    let events = [Event {
        category: "GroupManagement",
        activity: "Group license processing completed",
        operation_type: "Update",
        targets: vec![target],
    }];
    append(tx, tenant, &actor, &events).await
}

impl crate::store::Store {
    /// One page of the tenant's audit records, newest first, matching `filter` (a validated
    /// condition on `allot_odata::schema::DIRECTORY_AUDITS`), after the record `after` (its time
    /// and id).
    pub async fn audit_page(
        &self,
        tenant: TenantId,
        filter: Option<&allot_odata::validate::Cond>,
        after: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let (and, params, n) = crate::sql::odata_where(self.db().backend(), filter, 2);
        let (after_sql, n) = if after.is_some() {
            (
                format!(
                    " AND (a.activity_at < ${n} OR (a.activity_at = ${n} AND a.id < ${}))",
                    n + 1
                ),
                n + 2,
            )
        } else {
            (String::new(), n)
        };
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM directory_audits a WHERE a.tenant_id = $1{and}{after_sql} \
             ORDER BY a.activity_at DESC, a.id DESC LIMIT ${n}"
        );
        Ok(on_db!(self.db(), |p| {
            let mut q = crate::bind_odata!(
                sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql)).bind(DbId::from(tenant)),
                &params
            );
            if let Some((t, id)) = &after {
                q = q.bind(*t).bind(id.clone());
            }
            q.bind(limit).fetch_all(p).await
        })?)
    }

    /// One audit record of the tenant.
    pub async fn audit_record(&self, tenant: TenantId, id: &str) -> Result<Option<AuditRow>, StoreError> {
        let sql = format!("SELECT {AUDIT_COLS} FROM directory_audits a WHERE a.tenant_id = $1 AND a.id = $2");
        Ok(on_db!(self.db(), |p| sqlx::query_as::<_, AuditRow>(
            AssertSqlSafe(sql)
        )
        .bind(DbId::from(tenant))
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    /// Deletes the audit records older than `before` (retention); how many went.
    pub async fn purge_audits(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        on_db!(self.db(), |p| {
            sqlx::query(
            "DELETE FROM directory_audit_targets WHERE audit_id IN (SELECT id FROM directory_audits WHERE activity_at < $1)"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(on_db!(self.db(), |p| sqlx::query(
            "DELETE FROM directory_audits WHERE activity_at < $1"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
