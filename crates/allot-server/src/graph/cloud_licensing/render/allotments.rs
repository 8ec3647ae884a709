//! Allotments (C1, C2): list with `$filter`, `$orderby`, `$expand` and `$apply`, get, and the
//! allotment of an assignment or waiting member.

use allot_odata::apply::Method;

use super::*;

pub(super) const ALLOTMENT_NAVS: &[Nav] = &[
    ("assignments", Some(&ASSIGNMENTS)),
    ("waitingMembers", Some(&WAITING_MEMBERS)),
];

/// # `GET /beta/admin/cloudLicensing/allotments`
/// C1: `$select`, `$top`, `$count`, `$orderby`, `$expand=assignments,waitingMembers`, `$filter`
/// (skuId, services/any) and `$apply` (`groupby`/`aggregate` over `allottedUnits` and
/// `consumedUnits`).
pub async fn list_allotments(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(|_| &perm::CL_ADMIN_READ).await?;
    let o = List::parse(&req.q, &ALLOTMENTS, ALLOTMENT_NAVS, None, &["$apply"])?;
    if let Some(raw) = req.q.raw("$apply") {
        if o.select.is_some() || !o.expand.is_empty() || !o.order.is_empty() {
            return Err(invalid_query(
                "'$apply' cannot be combined with '$select', '$expand' or '$orderby'.",
            ));
        }
        let all = List {
            top: 1_000_000,
            after: None,
            count: false,
            ..o
        };
        let (rows, _, _) = ctx.page::<AllotmentView>(&req.q, &all).await?;
        let items: Vec<&Allotment> = rows.iter().filter_map(|a| ctx.view.allotment(a.sub.id)).collect();
        return apply(&ctx, raw, &items);
    }
    let (rows, next, count) = ctx.page::<AllotmentView>(&req.q, &o).await?;
    let items: Vec<&Allotment> = rows.iter().filter_map(|a| ctx.view.allotment(a.sub.id)).collect();
    let values = allotments_json(&ctx, &items, o.select.as_deref(), &o.expand).await?;
    Ok(collection(&ctx, "allotments", &o, values, next, count))
}

/// `$apply` over the allotments: grouped keys and aggregated aliases, as plain objects.
pub(super) fn apply(ctx: &Ctx, raw: &str, items: &[&Allotment]) -> GraphResult<Response> {
    let spec = super::super::options::apply(raw, &ALLOTMENTS)?;
    // Grouping key (the keys' JSON texts) → the keys as properties and the group's allotments.
    type Groups<'a> = BTreeMap<Vec<String>, (Map<String, Value>, Vec<&'a Allotment>)>;
    let mut groups: Groups<'_> = BTreeMap::new();
    for a in items {
        let full = allotment_json(a, None);
        let mut key = Vec::new();
        let mut keys = Map::new();
        for k in &spec.group_by {
            let v = full.get(*k).cloned().unwrap_or(Value::Null);
            key.push(v.to_string());
            keys.insert((*k).to_owned(), v);
        }
        groups.entry(key).or_insert_with(|| (keys, Vec::new())).1.push(a);
    }
    if spec.group_by.is_empty() && groups.is_empty() {
        groups.insert(Vec::new(), (Map::new(), Vec::new()));
    }
    let values = groups
        .into_values()
        .map(|(mut m, members)| {
            for agg in &spec.aggregates {
                let nums: Vec<i64> = members
                    .iter()
                    .map(|a| {
                        if agg.property == "allottedUnits" {
                            a.allotted
                        } else {
                            a.consumed
                        }
                    })
                    .collect();
                let v = match agg.method {
                    Method::Sum => json!(nums.iter().sum::<i64>()),
                    Method::Min => nums.iter().min().map_or(Value::Null, |n| json!(n)),
                    Method::Max => nums.iter().max().map_or(Value::Null, |n| json!(n)),
                    Method::Average => {
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
    let mut names: Vec<String> = spec.group_by.iter().map(|k| (*k).to_owned()).collect();
    names.extend(spec.aggregates.iter().map(|a| a.alias.clone()));
    Ok(Collection::new(ctx.context(&format!("allotments({})", names.join(","))), values).into_response())
}

/// # `GET /beta/admin/cloudLicensing/allotments/{allotmentId}`
/// C2: `$select`, `$expand=assignments,waitingMembers`.
pub async fn get_allotment(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(|_| &perm::CL_ADMIN_READ).await?;
    let o = List::parse_one(&req.q, &ALLOTMENTS, ALLOTMENT_NAVS)?;
    let super::super::Scope::Allotment(sub, _) = &ctx.scope else {
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
        ctx.version,
        &format!(
            "admin/cloudLicensing/{}/$entity",
            with_select("allotments", o.select.as_deref())
        ),
    );
    Ok(entity_body(ctx_url, m))
}

/// `GET …/{id}/allotment` of an assignment or waiting member.
pub(super) fn allotment_entity(
    ctx: &Ctx,
    q: &crate::graph::query::ODataQuery,
    sub: allot_core::ids::SubscriptionId,
    path: &str,
) -> GraphResult<Response> {
    q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = super::super::options::select(q.raw("$select"), &ALLOTMENTS)?;
    let a = ctx
        .view
        .allotment(sub)
        .ok_or_else(|| not_found(ctx.param("id")))?;
    Ok(entity_body(
        ctx.context(&format!("{path}/allotment/$entity")),
        allotment_json(a, select.as_deref()),
    ))
}
