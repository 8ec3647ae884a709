//! What each kind of change records: the records' activities, targets and modified properties
//! (licenses before and after, memberships, subscriptions, a group's finished processing), built
//! here and written by [`super::append`] inside the change's transaction.

use allot_core::catalog::TenantCatalog;
use allot_core::ids::{GroupId, Source, TenantId, UserId};
use allot_core::licensing::{self, Assignment};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

use super::{Actor, Event, Target, append, append_changes, group_target, member_target, user_target};
use crate::db::Tx;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::on_tx;
use crate::records::{Group, GroupLicense, MemberRef, Subscription};

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
