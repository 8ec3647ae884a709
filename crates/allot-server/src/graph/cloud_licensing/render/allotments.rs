//! Allotments (C1, C2): list with `$filter`, `$expand` and `$apply`, get, and the allotment of an assignment or waiting member.

use super::*;

pub(super) const ALLOTMENT_NAVS: &[&str] = &["assignments", "waitingMembers"];

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
pub(super) fn apply(ctx: &Ctx, raw: &str, items: &[&Allotment]) -> GraphResult<Response> {
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
        version,
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
