//! The read side: every `GET` of C1–C4, C9, C13–C22 and the collections' `/$count`, with
//! `$select`, `$expand`, `$filter`, `$orderby`, `$count`, `$apply`, `$top` and keyset paging
//! (filtering, sorting, counting and paging done by the store's views), and the JSON shapes of
//! §2.11–2.17.

mod allotments;
mod assignments;
mod errors;
mod usage_rights;
mod waiting;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use allot_core::ids::{GroupId, UserId};
use allot_odata::cloud_schema::{ALLOTMENTS, ASSIGNMENT_ERRORS, ASSIGNMENTS, USAGE_RIGHTS, WAITING_MEMBERS};
use allot_odata::schema::EntitySchema;
use allot_store::cloud_views::{
    AllotmentView, AssignmentView, ErrorView, UsageRightView, ViewQuery, ViewScope, WaitingView,
};
use allot_store::records::{Group, MemberRef, User};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::model::{self, Allotment, Assignment, AssignmentError, UsageRight, WaitingMember};
use super::options::{Expand, List, Nav, invalid_query};
use super::{Ctx, Kind, Req, entity_body, not_found, pick, with_select};
use crate::graph::error::GraphResult;
use crate::graph::kit::Collection;
use crate::graph::render::{group_json, timestamp, user_json};
use crate::graph::{count_response, perm};

pub(super) const ALLOTMENT_TYPE: &str = "#microsoft.graph.cloudLicensing.allotment";
pub(super) const ASSIGNMENT_TYPE: &str = "#microsoft.graph.cloudLicensing.assignment";

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
                .by_ids::<Group>(ctx.tenant.id, groups.iter().copied())
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

/// A collection answer: `@odata.context` of `set` under the scope, `@odata.count`, the next link.
pub(super) fn collection(
    ctx: &Ctx,
    set: &str,
    o: &List,
    values: Vec<Value>,
    next: Option<String>,
    count: Option<i64>,
) -> Response {
    Collection::new(ctx.context(&with_select(set, o.select.as_deref())), values)
        .count(count)
        .next(next)
        .into_response()
}

/// One entity of `set` as an entity body (`…/$entity`).
pub(super) fn entity(
    ctx: &Ctx,
    set: &str,
    select: Option<&[&str]>,
    mut values: Vec<Value>,
) -> GraphResult<Response> {
    let Some(Value::Object(m)) = values.pop() else {
        return Err(not_found(ctx.param("id")));
    };
    Ok(entity_body(
        ctx.context(&format!("{}/$entity", with_select(set, select))),
        m,
    ))
}

/// Expanded `assignedTo` of each item (default properties or the nested `$select`).
async fn assigned_to(ctx: &Ctx, e: Option<&Expand>, who: &[MemberRef]) -> GraphResult<Option<Vec<Value>>> {
    let Some(e) = e else { return Ok(None) };
    let dir = Directory::load(ctx, who).await?;
    Ok(Some(
        who.iter()
            .map(|w| {
                dir.json(*w, e.select.as_deref())
                    .map_or(Value::Null, Value::Object)
            })
            .collect(),
    ))
}

/// Expanded `allotment` of each item.
fn allotment_of(
    ctx: &Ctx,
    e: Option<&Expand>,
    subs: &[allot_core::ids::SubscriptionId],
) -> Option<Vec<Value>> {
    let e = e?;
    Some(
        subs.iter()
            .map(|s| {
                ctx.view.allotment(*s).map_or(Value::Null, |a| {
                    Value::Object(allotment_json(a, e.select.as_deref()))
                })
            })
            .collect(),
    )
}

/// Puts `name: values[i]` into each object, when the navigation was expanded.
fn attach(objects: &mut [Map<String, Value>], name: &str, values: Option<Vec<Value>>) {
    if let Some(values) = values {
        for (m, v) in objects.iter_mut().zip(values) {
            m.insert(name.to_owned(), v);
        }
    }
}

fn into_values(objects: Vec<Map<String, Value>>) -> Vec<Value> {
    objects.into_iter().map(Value::Object).collect()
}

/// An entity that links a principal to an allotment: an assignment or a waiting member.
pub(super) trait Linked {
    fn json(&self, select: Option<&[&str]>) -> Map<String, Value>;
    fn who(&self) -> MemberRef;
    fn allotment(&self) -> allot_core::ids::SubscriptionId;
}

impl Linked for Assignment {
    fn json(&self, select: Option<&[&str]>) -> Map<String, Value> {
        assignment_json(self, select)
    }
    fn who(&self) -> MemberRef {
        self.principal
    }
    fn allotment(&self) -> allot_core::ids::SubscriptionId {
        self.allotment
    }
}

impl Linked for WaitingMember {
    fn json(&self, select: Option<&[&str]>) -> Map<String, Value> {
        waiting_json(self, select)
    }
    fn who(&self) -> MemberRef {
        MemberRef::User(self.user)
    }
    fn allotment(&self) -> allot_core::ids::SubscriptionId {
        self.allotment
    }
}

/// Linked entities as JSON with `$expand=assignedTo,allotment` applied.
pub(super) async fn linked_json<T: Linked>(
    ctx: &Ctx,
    items: &[T],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let find = |n: &str| expand.iter().find(|e| e.name == n);
    let mut out: Vec<Map<String, Value>> = items.iter().map(|a| a.json(select)).collect();
    let who: Vec<MemberRef> = items.iter().map(Linked::who).collect();
    attach(
        &mut out,
        "assignedTo",
        assigned_to(ctx, find("assignedTo"), &who).await?,
    );
    let subs: Vec<_> = items.iter().map(Linked::allotment).collect();
    attach(&mut out, "allotment", allotment_of(ctx, find("allotment"), &subs));
    Ok(into_values(out))
}

/// A list of linked entities (assignments, waiting members): the view's page of the scope with
/// the request's options, rendered with their expansions.
pub(super) async fn list_linked<V, T>(
    req: &Req,
    schema: &'static EntitySchema,
    navs: &[Nav],
    allotment_of: &'static allot_odata::schema::Collection,
    set: &str,
) -> GraphResult<Response>
where
    V: allot_store::cloud_views::View,
    T: Linked + From<V>,
{
    let ctx = req.ctx(Kind::read).await?;
    let o = List::parse(&req.q, schema, navs, Some(allotment_of), &[])?;
    let (rows, next, count) = ctx.page::<V>(&req.q, &o).await?;
    let items: Vec<T> = rows.into_iter().map(Into::into).collect();
    let values = linked_json(&ctx, &items, o.select.as_deref(), &o.expand).await?;
    Ok(collection(&ctx, set, &o, values, next, count))
}

/// Allotments as JSON with `$expand=assignments,waitingMembers` (each read from the views).
pub(super) async fn allotments_json(
    ctx: &Ctx,
    items: &[&Allotment],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> GraphResult<Vec<Value>> {
    let store = &ctx.state.store;
    let all = ViewQuery::default();
    let mut out = Vec::new();
    for a in items {
        let mut m = allotment_json(a, select);
        let scope = ViewScope::Allotment(a.sub.id);
        if let Some(e) = expand.iter().find(|e| e.name == "assignments") {
            let rows = ctx.view.page::<AssignmentView>(store, scope, &all).await?;
            let list = rows
                .into_iter()
                .map(|(x, _)| Value::Object(assignment_json(&x.into(), e.select.as_deref())))
                .collect();
            m.insert("assignments".into(), Value::Array(list));
        }
        if let Some(e) = expand.iter().find(|e| e.name == "waitingMembers") {
            let rows = ctx.view.page::<WaitingView>(store, scope, &all).await?;
            let list = rows
                .into_iter()
                .map(|(w, _)| Value::Object(waiting_json(&w.into(), e.select.as_deref())))
                .collect();
            m.insert("waitingMembers".into(), Value::Array(list));
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}

pub(super) fn usage_rights_json(
    ctx: &Ctx,
    items: &[UsageRight],
    select: Option<&[&str]>,
    expand: &[Expand],
) -> Vec<Value> {
    let find = |n: &str| expand.iter().find(|e| e.name == n);
    items
        .iter()
        .map(|u| {
            let mut m = usage_right_json(u, select);
            if let Some(e) = find("assignments") {
                let list = u
                    .assignments
                    .iter()
                    .map(|a| Value::Object(assignment_json(a, e.select.as_deref())))
                    .collect();
                m.insert("assignments".into(), Value::Array(list));
            }
            if let Some(e) = find("allotments") {
                m.insert(
                    "allotments".into(),
                    Value::Array(usage_right_allotment_list(ctx, u, e.select.as_deref())),
                );
            }
            Value::Object(m)
        })
        .collect()
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
    let find = |n: &str| expand.iter().find(|e| e.name == n);
    let mut out: Vec<Map<String, Value>> = items.iter().map(|e| error_json(e, select)).collect();
    let who: Vec<MemberRef> = items.iter().map(|e| MemberRef::User(e.user)).collect();
    attach(
        &mut out,
        "assignedTo",
        assigned_to(ctx, find("assignedTo"), &who).await?,
    );
    if let Some(x) = find("usageRight") {
        let mut rights: BTreeMap<UserId, Vec<UsageRight>> = BTreeMap::new();
        let mut values = Vec::new();
        for e in items {
            if let std::collections::btree_map::Entry::Vacant(slot) = rights.entry(e.user) {
                slot.insert(user_rights(ctx, e.user).await?);
            }
            values.push(
                rights[&e.user]
                    .iter()
                    .find(|r| r.sku.id == e.sku)
                    .map_or(Value::Null, |r| {
                        Value::Object(usage_right_json(r, x.select.as_deref()))
                    }),
            );
        }
        attach(&mut out, "usageRight", Some(values));
    }
    Ok(into_values(out))
}

/// Every usage right of a user.
pub(super) async fn user_rights(ctx: &Ctx, user: UserId) -> GraphResult<Vec<UsageRight>> {
    let scope = ViewScope::Principal(MemberRef::User(user));
    let rows = ctx
        .view
        .page::<UsageRightView>(&ctx.state.store, scope, &ViewQuery::default())
        .await?;
    Ok(ctx
        .view
        .usage_rights(&ctx.state.store, rows.into_iter().map(|(r, _)| r).collect())
        .await?)
}

/// # `GET …/{collection}/$count`
/// The number of entities of a cloudLicensing collection (matching `$filter`) as `text/plain`,
/// with or without `ConsistencyLevel: eventual`. (inferred)
pub async fn count(req: Req) -> GraphResult<Response> {
    let path = req.matched_path().to_owned();
    let (schema, access): (&EntitySchema, fn(Kind) -> &'static perm::Access) =
        if path.ends_with("/usageRights/$count") {
            (&USAGE_RIGHTS, Kind::usage_rights)
        } else if path.ends_with("/allotments/$count") {
            (&ALLOTMENTS, |_| &perm::CL_ADMIN_READ)
        } else if path.ends_with("/waitingMembers/$count") {
            (&WAITING_MEMBERS, Kind::read)
        } else if path.ends_with("/assignmentErrors/$count") {
            (&ASSIGNMENT_ERRORS, Kind::read)
        } else {
            (&ASSIGNMENTS, Kind::read)
        };
    let ctx = req.ctx(access).await?;
    req.q.only(&["$filter"]).map_err(|e| invalid_query(e.message))?;
    let filter = super::options::filter(&req.q, schema)?;
    let (store, scope, f) = (&ctx.state.store, ctx.view_scope(), filter.as_ref());
    let n = match schema.name {
        "usageRight" => ctx.view.count::<UsageRightView>(store, scope, f).await?,
        "allotment" => ctx.view.count::<AllotmentView>(store, scope, f).await?,
        "waitingMember" => ctx.view.count::<WaitingView>(store, scope, f).await?,
        "assignmentError" => ctx.view.count::<ErrorView>(store, scope, f).await?,
        _ => ctx.view.count::<AssignmentView>(store, scope, f).await?,
    };
    Ok(count_response(n))
}

pub use allotments::*;
pub use assignments::*;
pub use errors::*;
pub use usage_rights::*;
pub use waiting::*;
