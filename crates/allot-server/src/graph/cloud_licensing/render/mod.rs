//! The read side: every `GET` of C1–C4, C9, C13–C22, with `$select`, `$expand`, `$filter`,
//! `$apply`, `$top` and paging, and the JSON shapes of §2.11–2.17.

mod allotments;
mod assignments;
mod errors;
mod usage_rights;
mod waiting;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use allot_core::ids::{GroupId, UserId};
use allot_store::records::{Group, MemberRef, User};
use axum::extract::{MatchedPath, Path, State};
use axum::response::Response;
use axum::{Extension, http::StatusCode};
use serde_json::{Map, Value, json};

use super::model::{self, Allotment, Assignment, AssignmentError, UsageRight, WaitingMember};
use super::options::{Expand, SkuFilter, invalid_query, parse_apply, parse_filter, parse_select};
use super::{Ctx, ListOptions, collection_body, entity_body, not_found, page, pick, with_select};
use crate::graph::error::GraphResult;
use crate::graph::extract::Auth;
use crate::graph::query::ODataQuery;
use crate::graph::render::{GROUP_PROPS, USER_PROPS, group_json, timestamp, user_json};
use crate::graph::{ApiVersion, json_response, perm};
use crate::state::AppState;

pub const ALLOTMENT_PROPS: &[&str] = &[
    "id",
    "allottedUnits",
    "assignableTo",
    "consumedUnits",
    "services",
    "skuId",
    "skuPartNumber",
    "subscriptions",
];
pub const ASSIGNMENT_PROPS: &[&str] = &["id", "disabledServicePlanIds"];
pub(super) const USAGE_RIGHT_PROPS: &[&str] = &["id", "services", "skuId", "skuPartNumber"];
pub(super) const WAITING_PROPS: &[&str] = &["id", "waitingSinceDateTime"];
pub(super) const ERROR_PROPS: &[&str] = &["id", "code", "message", "occurrenceDateTime", "skuId"];

pub(super) const ALLOTMENT_TYPE: &str = "#microsoft.graph.cloudLicensing.allotment";
pub(super) const ASSIGNMENT_TYPE: &str = "#microsoft.graph.cloudLicensing.assignment";

pub(super) type Params = Path<HashMap<String, String>>;

// ---- JSON shapes ------------------------------------------------------------------------------

pub(super) fn assignable_to(a: &Allotment) -> &'static str {
    if model::assignable(&a.sku) {
        "user,group"
    } else {
        "none"
    }
}

pub(super) fn services_json(
    a_sku: &allot_core::catalog::Sku,
    plans: Option<&[allot_core::ids::ServicePlanId]>,
) -> Value {
    let to = if model::assignable(a_sku) {
        "user,group"
    } else {
        "none"
    };
    Value::Array(
        a_sku
            .plans
            .iter()
            .filter(|p| plans.is_none_or(|only| only.contains(&p.id)))
            .map(|p| {
                json!({
                    "@odata.type": "#microsoft.graph.cloudLicensing.service",
                    "assignableTo": to,
                    "planId": p.id,
                    "planName": p.name,
                })
            })
            .collect(),
    )
}

/// `subscriptionState` from the units of the subscription, best state first. (inferred)
pub(super) fn subscription_state(s: &allot_store::records::Subscription) -> &'static str {
    if s.enabled > 0 {
        "active"
    } else if s.warning > 0 {
        "warning"
    } else if s.suspended > 0 {
        "suspended"
    } else if s.locked_out > 0 {
        "lockedOut"
    } else {
        "active"
    }
}

pub fn allotment_json(a: &Allotment, select: Option<&[&str]>) -> Map<String, Value> {
    let start = a.sub.created_at.date_naive();
    let next = start.checked_add_months(chrono::Months::new(12)).unwrap_or(start);
    let m = json!({
        "id": a.id,
        "allottedUnits": a.allotted,
        "assignableTo": assignable_to(a),
        "consumedUnits": a.consumed,
        "services": services_json(&a.sku, None),
        "skuId": a.sku.id,
        "skuPartNumber": a.sku.part_number,
        "subscriptions": [{
            "@odata.type": "#microsoft.graph.cloudLicensing.subscription",
            "subscriptionId": a.sub.id,
            "startDate": start.format("%Y-%m-%d").to_string(),
            "nextLifecycleDate": next.format("%Y-%m-%d").to_string(),
            "state": subscription_state(&a.sub),
            "tags": "none",
        }],
    });
    pick(into_map(m), ALLOTMENT_TYPE, select)
}

pub fn assignment_json(a: &Assignment, select: Option<&[&str]>) -> Map<String, Value> {
    let m = json!({"id": a.id, "disabledServicePlanIds": a.disabled});
    pick(into_map(m), ASSIGNMENT_TYPE, select)
}

pub(super) fn usage_right_json(u: &UsageRight, select: Option<&[&str]>) -> Map<String, Value> {
    let m = json!({
        "id": u.id,
        "services": services_json(&u.sku, Some(&u.enabled)),
        "skuId": u.sku.id,
        "skuPartNumber": u.sku.part_number,
    });
    pick(into_map(m), "#microsoft.graph.cloudLicensing.usageRight", select)
}

pub(super) fn waiting_json(w: &WaitingMember, select: Option<&[&str]>) -> Map<String, Value> {
    let m = json!({"id": w.id, "waitingSinceDateTime": timestamp(w.since)});
    pick(
        into_map(m),
        "#microsoft.graph.cloudLicensing.waitingMember",
        select,
    )
}

pub(super) fn error_json(e: &AssignmentError, select: Option<&[&str]>) -> Map<String, Value> {
    let m = json!({
        "id": e.id,
        "code": e.code,
        "message": e.message,
        "occurrenceDateTime": timestamp(e.at),
        "skuId": e.sku,
    });
    pick(
        into_map(m),
        "#microsoft.graph.cloudLicensing.assignmentError",
        select,
    )
}

pub(super) fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The directory objects named by `refs`, for `assignedTo` (default properties, `@odata.type`).
pub(super) struct Directory {
    users: HashMap<UserId, User>,
    groups: HashMap<GroupId, Group>,
    domain: String,
}

impl Directory {
    async fn load(ctx: &Ctx, refs: &[MemberRef]) -> GraphResult<Self> {
        let users: Vec<UserId> = refs
            .iter()
            .filter_map(|r| match r {
                MemberRef::User(u) => Some(*u),
                MemberRef::Group(_) => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let groups: Vec<GroupId> = refs
            .iter()
            .filter_map(|r| match r {
                MemberRef::Group(g) => Some(*g),
                MemberRef::User(_) => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let store = &ctx.state.store;
        Ok(Self {
            users: store.users_map(ctx.tenant.id, &users).await?,
            groups: store
                .groups_by_ids(ctx.tenant.id, &groups)
                .await?
                .into_iter()
                .map(|g| (g.id, g))
                .collect(),
            domain: ctx.tenant.default_domain.clone(),
        })
    }

    fn json(&self, r: MemberRef, select: Option<&[&str]>) -> Option<Map<String, Value>> {
        match r {
            MemberRef::User(u) => self.users.get(&u).map(|u| {
                let mut m = Map::new();
                m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                m.extend(user_json(u, select, None));
                m
            }),
            MemberRef::Group(g) => self.groups.get(&g).map(|g| {
                let mut m = Map::new();
                m.insert("@odata.type".into(), json!("#microsoft.graph.group"));
                m.extend(group_json(g, &self.domain, select));
                m
            }),
        }
    }
}

/// `$select` inside `assignedTo(...)`: user or group properties.
pub(super) fn directory_select(e: &Expand) -> GraphResult<Option<Vec<&'static str>>> {
    let Some(raw) = e.select.as_deref() else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim) {
        let found = USER_PROPS
            .iter()
            .chain(GROUP_PROPS.iter())
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                invalid_query(format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.directoryObject'."
                ))
            })?;
        if !out.contains(found) {
            out.push(*found);
        }
    }
    Ok(Some(out))
}

/// A nested `$filter` of an expanded allotment: which allotments pass.
pub(super) fn nested_filter(e: &Expand) -> GraphResult<SkuFilter> {
    e.filter
        .as_deref()
        .map_or_else(|| Ok(SkuFilter::default()), |f| parse_filter(f, true))
}

pub(super) fn allotment_plans(a: &Allotment) -> Vec<allot_core::ids::ServicePlanId> {
    a.sku.plans.iter().map(|p| p.id).collect()
}

/// Assignments as JSON with `$expand=assignedTo,allotment` applied. An expanded allotment with a
/// nested `$filter` keeps only the assignments whose allotment passes (the beta page's example
/// "filtered by skuId"). (inferred)
pub(super) async fn assignments_json(
    ctx: &Ctx,
    items: Vec<Assignment>,
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let to = expand.iter().find(|e| e.name == "assignedTo");
    let allot = expand.iter().find(|e| e.name == "allotment");
    let dir = match to {
        Some(_) => Some(Directory::load(ctx, &items.iter().map(|a| a.principal).collect::<Vec<_>>()).await?),
        None => None,
    };
    let to_select = to.map(directory_select).transpose()?.flatten();
    let (allot_select, allot_filter) = match allot {
        Some(e) => (
            parse_select(e.select.as_deref(), "allotment", ALLOTMENT_PROPS)?,
            nested_filter(e)?,
        ),
        None => (None, SkuFilter::default()),
    };
    let mut out = Vec::new();
    for a in &items {
        let mut m = assignment_json(a, select);
        if let Some(dir) = &dir {
            m.insert(
                "assignedTo".into(),
                dir.json(a.principal, to_select.as_deref())
                    .map_or(Value::Null, Value::Object),
            );
        }
        if allot.is_some() {
            let Some(al) = ctx.view.allotment(a.allotment) else {
                continue;
            };
            if !allot_filter.matches(al.sku.id, &allotment_plans(al)) {
                continue;
            }
            m.insert(
                "allotment".into(),
                Value::Object(allotment_json(al, allot_select.as_deref())),
            );
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

pub(super) async fn waiting_json_all(
    ctx: &Ctx,
    items: &[WaitingMember],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let to = expand.iter().find(|e| e.name == "assignedTo");
    let allot = expand.iter().find(|e| e.name == "allotment");
    let dir = match to {
        Some(_) => Some(
            Directory::load(
                ctx,
                &items.iter().map(|w| MemberRef::User(w.user)).collect::<Vec<_>>(),
            )
            .await?,
        ),
        None => None,
    };
    let to_select = to.map(directory_select).transpose()?.flatten();
    let (allot_select, allot_filter) = match allot {
        Some(e) => (
            parse_select(e.select.as_deref(), "allotment", ALLOTMENT_PROPS)?,
            nested_filter(e)?,
        ),
        None => (None, SkuFilter::default()),
    };
    let mut out = Vec::new();
    for w in items {
        let mut m = waiting_json(w, select);
        if let Some(dir) = &dir {
            m.insert(
                "assignedTo".into(),
                dir.json(MemberRef::User(w.user), to_select.as_deref())
                    .map_or(Value::Null, Value::Object),
            );
        }
        if allot.is_some() {
            let Some(al) = ctx.view.allotment(w.allotment) else {
                continue;
            };
            if !allot_filter.matches(al.sku.id, &allotment_plans(al)) {
                continue;
            }
            m.insert(
                "allotment".into(),
                Value::Object(allotment_json(al, allot_select.as_deref())),
            );
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

pub(super) async fn allotments_json(
    ctx: &Ctx,
    items: &[&Allotment],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let with_assignments = expand.iter().find(|e| e.name == "assignments");
    let with_waiting = expand.iter().find(|e| e.name == "waitingMembers");
    let all = match with_assignments {
        Some(_) => ctx.view.assignments(&ctx.state.store, None).await?,
        None => Vec::new(),
    };
    let waiting = match with_waiting {
        Some(_) => ctx.view.waiting(&ctx.state.store, None, None).await?,
        None => Vec::new(),
    };
    let a_select = with_assignments
        .map(|e| parse_select(e.select.as_deref(), "assignment", ASSIGNMENT_PROPS))
        .transpose()?
        .flatten();
    let w_select = with_waiting
        .map(|e| parse_select(e.select.as_deref(), "waitingMember", WAITING_PROPS))
        .transpose()?
        .flatten();
    Ok(items
        .iter()
        .map(|a| {
            let mut m = allotment_json(a, select);
            if with_assignments.is_some() {
                let list: Vec<Value> = all
                    .iter()
                    .filter(|x| x.allotment == a.sub.id)
                    .map(|x| Value::Object(assignment_json(x, a_select.as_deref())))
                    .collect();
                m.insert("assignments".into(), Value::Array(list));
            }
            if with_waiting.is_some() {
                let list: Vec<Value> = waiting
                    .iter()
                    .filter(|w| w.allotment == a.sub.id)
                    .map(|w| Value::Object(waiting_json(w, w_select.as_deref())))
                    .collect();
                m.insert("waitingMembers".into(), Value::Array(list));
            }
            Value::Object(m)
        })
        .collect())
}

pub(super) fn usage_rights_json(
    ctx: &Ctx,
    items: &[UsageRight],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let with_assignments = expand.iter().find(|e| e.name == "assignments");
    let with_allotments = expand.iter().find(|e| e.name == "allotments");
    let a_select = with_assignments
        .map(|e| parse_select(e.select.as_deref(), "assignment", ASSIGNMENT_PROPS))
        .transpose()?
        .flatten();
    let al_select = with_allotments
        .map(|e| parse_select(e.select.as_deref(), "allotment", ALLOTMENT_PROPS))
        .transpose()?
        .flatten();
    Ok(items
        .iter()
        .map(|u| {
            let mut m = usage_right_json(u, select);
            if with_assignments.is_some() {
                let list = u
                    .assignments
                    .iter()
                    .map(|a| Value::Object(assignment_json(a, a_select.as_deref())))
                    .collect();
                m.insert("assignments".into(), Value::Array(list));
            }
            if with_allotments.is_some() {
                m.insert(
                    "allotments".into(),
                    Value::Array(usage_right_allotment_list(ctx, u, al_select.as_deref())),
                );
            }
            Value::Object(m)
        })
        .collect())
}

pub(super) fn usage_right_allotment_list(ctx: &Ctx, u: &UsageRight, select: Option<&[&str]>) -> Vec<Value> {
    let subs: BTreeSet<_> = u.assignments.iter().map(|a| a.allotment).collect();
    ctx.view
        .allotments
        .iter()
        .filter(|a| subs.contains(&a.sub.id))
        .map(|a| Value::Object(allotment_json(a, select)))
        .collect()
}

pub(super) async fn errors_json(
    ctx: &Ctx,
    items: &[AssignmentError],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let to = expand.iter().find(|e| e.name == "assignedTo");
    let right = expand.iter().find(|e| e.name == "usageRight");
    let dir = match to {
        Some(_) => Some(
            Directory::load(
                ctx,
                &items.iter().map(|e| MemberRef::User(e.user)).collect::<Vec<_>>(),
            )
            .await?,
        ),
        None => None,
    };
    let to_select = to.map(directory_select).transpose()?.flatten();
    let r_select = right
        .map(|e| parse_select(e.select.as_deref(), "usageRight", USAGE_RIGHT_PROPS))
        .transpose()?
        .flatten();
    let mut rights: HashMap<UserId, Vec<UsageRight>> = HashMap::new();
    if right.is_some() {
        for e in items {
            if let std::collections::hash_map::Entry::Vacant(slot) = rights.entry(e.user) {
                slot.insert(ctx.view.user_usage_rights(&ctx.state.store, e.user).await?);
            }
        }
    }
    Ok(items
        .iter()
        .map(|e| {
            let mut m = error_json(e, select);
            if let Some(dir) = &dir {
                m.insert(
                    "assignedTo".into(),
                    dir.json(MemberRef::User(e.user), to_select.as_deref())
                        .map_or(Value::Null, Value::Object),
                );
            }
            if right.is_some() {
                let r = rights
                    .get(&e.user)
                    .and_then(|l| l.iter().find(|r| r.sku.id == e.sku))
                    .map_or(Value::Null, |r| {
                        Value::Object(usage_right_json(r, r_select.as_deref()))
                    });
                m.insert("usageRight".into(), r);
            }
            Value::Object(m)
        })
        .collect())
}

pub use allotments::*;
pub use assignments::*;
pub use errors::*;
pub use usage_rights::*;
pub use waiting::*;
