//! The read side: every `GET` of C1–C4, C9, C13–C22, with `$select`, `$expand`, `$filter`,
//! `$apply`, `$top` and paging, and the JSON shapes of §2.11–2.17.

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
const USAGE_RIGHT_PROPS: &[&str] = &["id", "services", "skuId", "skuPartNumber"];
const WAITING_PROPS: &[&str] = &["id", "waitingSinceDateTime"];
const ERROR_PROPS: &[&str] = &["id", "code", "message", "occurrenceDateTime", "skuId"];

const ALLOTMENT_TYPE: &str = "#microsoft.graph.cloudLicensing.allotment";
const ASSIGNMENT_TYPE: &str = "#microsoft.graph.cloudLicensing.assignment";

type Params = Path<HashMap<String, String>>;

// ---- JSON shapes ------------------------------------------------------------------------------

fn assignable_to(a: &Allotment) -> &'static str {
    if model::assignable(&a.sku) {
        "user,group"
    } else {
        "none"
    }
}

fn services_json(
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
fn subscription_state(s: &allot_store::records::Subscription) -> &'static str {
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

fn usage_right_json(u: &UsageRight, select: Option<&[&str]>) -> Map<String, Value> {
    let m = json!({
        "id": u.id,
        "services": services_json(&u.sku, Some(&u.enabled)),
        "skuId": u.sku.id,
        "skuPartNumber": u.sku.part_number,
    });
    pick(into_map(m), "#microsoft.graph.cloudLicensing.usageRight", select)
}

fn waiting_json(w: &WaitingMember, select: Option<&[&str]>) -> Map<String, Value> {
    let m = json!({"id": w.id, "waitingSinceDateTime": timestamp(w.since)});
    pick(
        into_map(m),
        "#microsoft.graph.cloudLicensing.waitingMember",
        select,
    )
}

fn error_json(e: &AssignmentError, select: Option<&[&str]>) -> Map<String, Value> {
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

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The directory objects named by `refs`, for `assignedTo` (default properties, `@odata.type`).
struct Directory {
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
fn directory_select(e: &Expand) -> GraphResult<Option<Vec<&'static str>>> {
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
fn nested_filter(e: &Expand) -> GraphResult<SkuFilter> {
    e.filter
        .as_deref()
        .map_or_else(|| Ok(SkuFilter::default()), |f| parse_filter(f, true))
}

fn allotment_plans(a: &Allotment) -> Vec<allot_core::ids::ServicePlanId> {
    a.sku.plans.iter().map(|p| p.id).collect()
}

/// Assignments as JSON with `$expand=assignedTo,allotment` applied. An expanded allotment with a
/// nested `$filter` keeps only the assignments whose allotment passes (the beta page's example
/// "filtered by skuId"). (inferred)
async fn assignments_json(
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

async fn waiting_json_all(
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

async fn allotments_json(
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

fn usage_rights_json(
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

fn usage_right_allotment_list(ctx: &Ctx, u: &UsageRight, select: Option<&[&str]>) -> Vec<Value> {
    let subs: BTreeSet<_> = u.assignments.iter().map(|a| a.allotment).collect();
    ctx.view
        .allotments
        .iter()
        .filter(|a| subs.contains(&a.sub.id))
        .map(|a| Value::Object(allotment_json(a, select)))
        .collect()
}

async fn errors_json(
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

// ---- allotments (C1, C2) -------------------------------------------------------------------

const ALLOTMENT_NAVS: &[&str] = &["assignments", "waitingMembers"];

/// # `GET /beta/admin/cloudLicensing/allotments`
/// C1: `$select`, `$top`, `$expand=assignments,waitingMembers`, `$filter` (skuId,
/// services/any) and `$apply` (`groupby`/`aggregate` over `allottedUnits` and `consumedUnits`).
pub async fn list_allotments(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, |_| &perm::CL_ADMIN_READ).await?;
    let o = ListOptions::parse(
        &q,
        "allotment",
        ALLOTMENT_PROPS,
        ALLOTMENT_NAVS,
        Some(true),
        &["$apply"],
    )?;
    let items: Vec<&Allotment> = ctx
        .view
        .allotments
        .iter()
        .filter(|a| o.filter.matches(a.sku.id, &allotment_plans(a)))
        .collect();
    if let Some(raw) = q.raw("$apply") {
        if o.select.is_some() || !o.expand.is_empty() {
            return Err(invalid_query(
                "'$apply' cannot be combined with '$select' or '$expand'.",
            ));
        }
        return apply(&ctx, raw, &items);
    }
    let mut sorted = items;
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let (rows, next) = page(sorted, |a| a.id.clone(), o.top, o.after.as_deref());
    let values = allotments_json(&ctx, &rows, o.select.as_deref(), &o.expand).await?;
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&with_select("allotments", o.select.as_deref())),
            next.map(|n| q.next_link_token(&n)),
            values,
        ),
    ))
}

/// `$apply` over the allotments: grouped keys and aggregated aliases, as plain objects.
fn apply(ctx: &Ctx, raw: &str, items: &[&Allotment]) -> GraphResult<Response> {
    let spec = parse_apply(
        raw,
        &[
            "id",
            "skuId",
            "skuPartNumber",
            "assignableTo",
            "allottedUnits",
            "consumedUnits",
        ],
        &["allottedUnits", "consumedUnits"],
    )?;
    // Grouping key (the keys' JSON texts) → the keys as properties and the group's allotments.
    type Groups<'a> = BTreeMap<Vec<String>, (Map<String, Value>, Vec<&'a Allotment>)>;
    let mut groups: Groups<'_> = BTreeMap::new();
    for a in items {
        let full = allotment_json(a, None);
        let mut key = Vec::new();
        let mut keys = Map::new();
        for k in &spec.keys {
            let v = full.get(*k).cloned().unwrap_or(Value::Null);
            key.push(v.to_string());
            keys.insert((*k).to_owned(), v);
        }
        groups.entry(key).or_insert_with(|| (keys, Vec::new())).1.push(a);
    }
    if spec.keys.is_empty() && groups.is_empty() {
        groups.insert(Vec::new(), (Map::new(), Vec::new()));
    }
    let values = groups
        .into_values()
        .map(|(mut m, members)| {
            for agg in &spec.aggregates {
                let nums: Vec<i64> = members
                    .iter()
                    .map(|a| {
                        if agg.prop == "allottedUnits" {
                            a.allotted
                        } else {
                            a.consumed
                        }
                    })
                    .collect();
                let v = match agg.method {
                    "sum" => json!(nums.iter().sum::<i64>()),
                    "min" => nums.iter().min().map_or(Value::Null, |n| json!(n)),
                    "max" => nums.iter().max().map_or(Value::Null, |n| json!(n)),
                    _ => {
                        if nums.is_empty() {
                            Value::Null
                        } else {
                            // Unit counts are far below 2^52: the conversion is exact.
                            let avg = nums.iter().sum::<i64>() as f64 / nums.len() as f64;
                            json!(avg)
                        }
                    }
                };
                m.insert(agg.alias.clone(), v);
            }
            Value::Object(m)
        })
        .collect();
    let mut names: Vec<String> = spec.keys.iter().map(|k| (*k).to_owned()).collect();
    names.extend(spec.aggregates.iter().map(|a| a.alias.clone()));
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&format!("allotments({})", names.join(","))),
            None,
            values,
        ),
    ))
}

/// # `GET /beta/admin/cloudLicensing/allotments/{allotmentId}`
/// C2: `$select`, `$expand=assignments,waitingMembers`.
pub async fn get_allotment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, |_| &perm::CL_ADMIN_READ).await?;
    let o = ListOptions::parse_one(&q, "allotment", ALLOTMENT_PROPS, ALLOTMENT_NAVS)?;
    let super::Scope::Allotment(sub, _) = &ctx.scope else {
        return Err(not_found(ctx.param("aid")));
    };
    let a = ctx
        .view
        .allotment(*sub)
        .ok_or_else(|| not_found(ctx.param("aid")))?;
    let mut v = allotments_json(&ctx, &[a], o.select.as_deref(), &o.expand).await?;
    let m = match v.pop() {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let ctx_url = crate::graph::context_url(
        version,
        &format!(
            "admin/cloudLicensing/{}/$entity",
            with_select("allotments", o.select.as_deref())
        ),
    );
    Ok(entity_body(ctx_url, m))
}

/// `GET …/{id}/allotment` of an assignment or waiting member.
fn allotment_entity(
    ctx: &Ctx,
    q: &ODataQuery,
    sub: allot_core::ids::SubscriptionId,
    path: &str,
) -> GraphResult<Response> {
    q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = parse_select(q.raw("$select"), "allotment", ALLOTMENT_PROPS)?;
    let a = ctx
        .view
        .allotment(sub)
        .ok_or_else(|| not_found(ctx.param("id")))?;
    Ok(entity_body(
        ctx.context(&format!("{path}/allotment/$entity")),
        allotment_json(a, select.as_deref()),
    ))
}

// ---- assignments (C3, C4, C9, C13, C2 via assignment) -----------------------------------------

const ASSIGNMENT_NAVS: &[&str] = &["assignedTo", "allotment"];

/// # `GET /beta/admin/cloudLicensing/assignments` (and under an allotment, a user, `/me`, a group)
/// C3, C4: `$select`, `$top`, `$expand=assignedTo,allotment` (nested `$select`, `$filter`).
pub async fn list_assignments(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let o = ListOptions::parse(&q, "assignment", ASSIGNMENT_PROPS, ASSIGNMENT_NAVS, None, &[])?;
    let items = ctx.assignments().await?;
    let (rows, next) = page(items, |a| a.id.clone(), o.top, o.after.as_deref());
    let values = assignments_json(&ctx, rows, o.select.as_deref(), &o.expand).await?;
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&with_select("assignments", o.select.as_deref())),
            next.map(|n| q.next_link_token(&n)),
            values,
        ),
    ))
}

/// # `GET …/cloudLicensing/assignments/{id}` (five paths)
/// C9: `$select`, `$expand=assignedTo,allotment`.
pub async fn get_assignment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let o = ListOptions::parse_one(&q, "assignment", ASSIGNMENT_PROPS, ASSIGNMENT_NAVS)?;
    let a = ctx.assignment().await?;
    assignment_response(&ctx, a, o.select.as_deref(), &o.expand, StatusCode::OK).await
}

/// One assignment as an entity body (GET, POST's 201, PATCH's 200).
pub async fn assignment_response(
    ctx: &Ctx,
    a: Assignment,
    select: Option<&[&str]>,
    expand: &[Expand],
    status: StatusCode,
) -> GraphResult<Response> {
    let id = a.id.clone();
    let mut v = assignments_json(ctx, vec![a], select, expand).await?;
    let Some(Value::Object(m)) = v.pop() else {
        return Err(not_found(&id));
    };
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(ctx.context(&format!("{}/$entity", with_select("assignments", select)))),
    );
    out.extend(m);
    Ok(json_response(status, &Value::Object(out)))
}

/// # `GET …/assignments/{id}/allotment`
/// C2 (through an assignment): `$select`.
pub async fn assignment_allotment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let a = ctx.assignment().await?;
    allotment_entity(&ctx, &q, a.allotment, &format!("assignments('{}')", a.id))
}

/// `GET …/{id}/assignedTo`: the user or group, default properties and `@odata.type`.
async fn assigned_to_entity(ctx: &Ctx, q: &ODataQuery, who: MemberRef, path: &str) -> GraphResult<Response> {
    q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = directory_select(&Expand {
        name: "assignedTo",
        select: q.raw("$select").map(str::to_owned),
        filter: None,
    })?;
    let dir = Directory::load(ctx, &[who]).await?;
    let m = dir
        .json(who, select.as_deref())
        .ok_or_else(|| not_found(ctx.param("id")))?;
    Ok(entity_body(ctx.context(&format!("{path}/assignedTo/$entity")), m))
}

/// # `GET …/assignments/{id}/assignedTo`
/// C13.
pub async fn assignment_assigned_to(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let a = ctx.assignment().await?;
    assigned_to_entity(&ctx, &q, a.principal, &format!("assignments('{}')", a.id)).await
}

// ---- waiting members (C20–C22) -------------------------------------------------------------

const WAITING_NAVS: &[&str] = &["assignedTo", "allotment"];

async fn waiting_of(ctx: &Ctx) -> GraphResult<Vec<WaitingMember>> {
    let allotment = match &ctx.scope {
        super::Scope::Allotment(sub, _) => Some(*sub),
        _ => None,
    };
    Ok(ctx
        .view
        .waiting(&ctx.state.store, ctx.scope_user(), allotment)
        .await?)
}

async fn one_waiting(ctx: &Ctx) -> GraphResult<WaitingMember> {
    let id = ctx.param("id");
    waiting_of(ctx)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| not_found(id))
}

/// # `GET /beta/admin/cloudLicensing/allotments/{id}/waitingMembers`, `GET /beta/users/{id}/cloudLicensing/waitingMembers`, `GET /beta/me/cloudLicensing/waitingMembers`
/// C20, C21: FIFO by `waitingSinceDateTime`; `$select`, `$top`, `$expand=assignedTo,allotment`.
pub async fn list_waiting(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let o = ListOptions::parse(&q, "waitingMember", WAITING_PROPS, WAITING_NAVS, None, &[])?;
    let items = waiting_of(&ctx).await?;
    // FIFO order is the paging order: the token is the position in the waiting room.
    let numbered: Vec<(usize, WaitingMember)> = items.into_iter().enumerate().collect();
    let (rows, next) = page(numbered, |(i, _)| format!("{i:010}"), o.top, o.after.as_deref());
    let rows: Vec<WaitingMember> = rows.into_iter().map(|(_, w)| w).collect();
    let values = waiting_json_all(&ctx, &rows, o.select.as_deref(), &o.expand).await?;
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&with_select("waitingMembers", o.select.as_deref())),
            next.map(|n| q.next_link_token(&n)),
            values,
        ),
    ))
}

/// # `GET …/waitingMembers/{id}`
/// C22: `$select`, `$expand=assignedTo,allotment`.
pub async fn get_waiting(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let o = ListOptions::parse_one(&q, "waitingMember", WAITING_PROPS, WAITING_NAVS)?;
    let w = one_waiting(&ctx).await?;
    let mut v = waiting_json_all(&ctx, &[w], o.select.as_deref(), &o.expand).await?;
    let Some(Value::Object(m)) = v.pop() else {
        return Err(not_found(ctx.param("id")));
    };
    Ok(entity_body(
        ctx.context(&format!(
            "{}/$entity",
            with_select("waitingMembers", o.select.as_deref())
        )),
        m,
    ))
}

/// # `GET …/waitingMembers/{id}/allotment`
/// C2 (through a waiting member).
pub async fn waiting_allotment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let w = one_waiting(&ctx).await?;
    allotment_entity(&ctx, &q, w.allotment, &format!("waitingMembers('{}')", w.id))
}

/// # `GET …/waitingMembers/{id}/assignedTo`
pub async fn waiting_assigned_to(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let w = one_waiting(&ctx).await?;
    assigned_to_entity(
        &ctx,
        &q,
        MemberRef::User(w.user),
        &format!("waitingMembers('{}')", w.id),
    )
    .await
}

// ---- assignment errors (C14, C15) ----------------------------------------------------------

const ERROR_NAVS: &[&str] = &["assignedTo", "usageRight"];

async fn one_error(ctx: &Ctx) -> GraphResult<AssignmentError> {
    let id = ctx.param("id");
    ctx.view
        .errors(&ctx.state.store, ctx.scope_user(), None)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| not_found(id))
}

/// # `GET /beta/admin/cloudLicensing/assignmentErrors`, `GET /beta/users/{id}/cloudLicensing/assignmentErrors`, `GET /beta/me/cloudLicensing/assignmentErrors`
/// C14: `$select`, `$top`, `$expand=assignedTo,usageRight`, `$filter` on `skuId`.
pub async fn list_errors(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let o = ListOptions::parse(&q, "assignmentError", ERROR_PROPS, ERROR_NAVS, Some(false), &[])?;
    // The skuId condition is applied in SQL (the store's pushdown slot).
    let skus: Option<Vec<allot_core::ids::SkuId>> =
        o.filter.skus.as_ref().map(|s| s.iter().copied().collect());
    let items: Vec<AssignmentError> = ctx
        .view
        .errors(&ctx.state.store, ctx.scope_user(), skus.as_deref())
        .await?;
    let (rows, next) = page(items, |e| e.id.clone(), o.top, o.after.as_deref());
    let values = errors_json(&ctx, &rows, o.select.as_deref(), &o.expand).await?;
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&with_select("assignmentErrors", o.select.as_deref())),
            next.map(|n| q.next_link_token(&n)),
            values,
        ),
    ))
}

/// # `GET …/assignmentErrors/{id}`
/// C15: `$select`, `$expand`.
pub async fn get_error(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let o = ListOptions::parse_one(&q, "assignmentError", ERROR_PROPS, ERROR_NAVS)?;
    let e = one_error(&ctx).await?;
    let mut v = errors_json(&ctx, &[e], o.select.as_deref(), &o.expand).await?;
    let Some(Value::Object(m)) = v.pop() else {
        return Err(not_found(ctx.param("id")));
    };
    Ok(entity_body(
        ctx.context(&format!(
            "{}/$entity",
            with_select("assignmentErrors", o.select.as_deref())
        )),
        m,
    ))
}

/// # `GET …/assignmentErrors/{id}/assignedTo`
/// C15.
pub async fn error_assigned_to(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    let e = one_error(&ctx).await?;
    assigned_to_entity(
        &ctx,
        &q,
        MemberRef::User(e.user),
        &format!("assignmentErrors('{}')", e.id),
    )
    .await
}

/// # `GET …/assignmentErrors/{id}/usageRight`
/// C15: the affected usage right; 404 when the user holds nothing of that SKU.
pub async fn error_usage_right(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::Kind::read).await?;
    q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = parse_select(q.raw("$select"), "usageRight", USAGE_RIGHT_PROPS)?;
    let e = one_error(&ctx).await?;
    let r = ctx
        .view
        .user_usage_rights(&ctx.state.store, e.user)
        .await?
        .into_iter()
        .find(|r| r.sku.id == e.sku)
        .ok_or_else(|| not_found(&format!("{}/usageRight", e.id)))?;
    Ok(entity_body(
        ctx.context(&format!("assignmentErrors('{}')/usageRight/$entity", e.id)),
        usage_right_json(&r, select.as_deref()),
    ))
}

// ---- usage rights (C16–C19) ----------------------------------------------------------------

const USAGE_RIGHT_NAVS: &[&str] = &["assignments", "allotments"];

async fn rights_of(ctx: &Ctx) -> GraphResult<Vec<UsageRight>> {
    Ok(match &ctx.scope {
        super::Scope::User(u) => ctx.view.user_usage_rights(&ctx.state.store, u.id).await?,
        super::Scope::Group(g) => ctx.view.group_usage_rights(&ctx.state.store, g.id).await?,
        _ => Vec::new(),
    })
}

async fn one_right(ctx: &Ctx) -> GraphResult<UsageRight> {
    let id = ctx.param("id");
    rights_of(ctx)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(id))
}

/// # `GET /beta/users/{id}/cloudLicensing/usageRights`, `/beta/me/…`, `/beta/groups/{id}/…`
/// C16, C17: one per SKU, the union of what direct and inherited assignments enable; `$select`,
/// `$top`, `$expand=assignments,allotments`, `$filter` (skuId eq|in, services/any(c:c/planId …)).
pub async fn list_usage_rights(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(
        &state,
        &auth,
        version,
        &matched,
        params,
        super::Kind::usage_rights,
    )
    .await?;
    let o = ListOptions::parse(
        &q,
        "usageRight",
        USAGE_RIGHT_PROPS,
        USAGE_RIGHT_NAVS,
        Some(true),
        &[],
    )?;
    let items: Vec<UsageRight> = rights_of(&ctx)
        .await?
        .into_iter()
        .filter(|r| o.filter.matches(r.sku.id, &r.enabled))
        .collect();
    let (rows, next) = page(items, |r| r.id.clone(), o.top, o.after.as_deref());
    let values = usage_rights_json(&ctx, &rows, o.select.as_deref(), &o.expand)?;
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&with_select("usageRights", o.select.as_deref())),
            next.map(|n| q.next_link_token(&n)),
            values,
        ),
    ))
}

/// # `GET …/usageRights/{id}`
/// C18: `$select`, `$expand=assignments,allotments`.
pub async fn get_usage_right(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(
        &state,
        &auth,
        version,
        &matched,
        params,
        super::Kind::usage_rights,
    )
    .await?;
    let o = ListOptions::parse_one(&q, "usageRight", USAGE_RIGHT_PROPS, USAGE_RIGHT_NAVS)?;
    let r = one_right(&ctx).await?;
    let mut v = usage_rights_json(&ctx, &[r], o.select.as_deref(), &o.expand)?;
    let Some(Value::Object(m)) = v.pop() else {
        return Err(not_found(ctx.param("id")));
    };
    Ok(entity_body(
        ctx.context(&format!(
            "{}/$entity",
            with_select("usageRights", o.select.as_deref())
        )),
        m,
    ))
}

/// # `GET …/usageRights/{id}/assignments`
/// C19: the direct and inherited assignments behind the right; `$select`, `$expand`.
pub async fn usage_right_assignments(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(
        &state,
        &auth,
        version,
        &matched,
        params,
        super::Kind::usage_rights,
    )
    .await?;
    let o = ListOptions::parse(&q, "assignment", ASSIGNMENT_PROPS, ASSIGNMENT_NAVS, None, &[])?;
    let r = one_right(&ctx).await?;
    let (rows, next) = page(r.assignments.clone(), |a| a.id.clone(), o.top, o.after.as_deref());
    let values = assignments_json(&ctx, rows, o.select.as_deref(), &o.expand).await?;
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&format!(
                "usageRights('{}')/{}",
                r.id,
                with_select("assignments", o.select.as_deref())
            )),
            next.map(|n| q.next_link_token(&n)),
            values,
        ),
    ))
}

/// # `GET …/usageRights/{id}/allotments`
/// The allotments of the assignments behind the right; `$select`.
pub async fn usage_right_allotments(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(
        &state,
        &auth,
        version,
        &matched,
        params,
        super::Kind::usage_rights,
    )
    .await?;
    q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = parse_select(q.raw("$select"), "allotment", ALLOTMENT_PROPS)?;
    let r = one_right(&ctx).await?;
    let values = usage_right_allotment_list(&ctx, &r, select.as_deref());
    Ok(json_response(
        StatusCode::OK,
        &collection_body(
            ctx.context(&format!(
                "usageRights('{}')/{}",
                r.id,
                with_select("allotments", select.as_deref())
            )),
            None,
            values,
        ),
    ))
}
