//! Usage rights (C16–C19): lists, get, and their assignments and allotments.

use super::*;

pub(super) const USAGE_RIGHT_NAVS: &[&str] = &["assignments", "allotments"];

pub(super) async fn rights_of(ctx: &Ctx) -> GraphResult<Vec<UsageRight>> {
    Ok(match &ctx.scope {
        super::super::Scope::User(u) => ctx.view.user_usage_rights(&ctx.state.store, u.id).await?,
        super::super::Scope::Group(g) => ctx.view.group_usage_rights(&ctx.state.store, g.id).await?,
        _ => Vec::new(),
    })
}

pub(super) async fn one_right(ctx: &Ctx) -> GraphResult<UsageRight> {
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
        super::super::Kind::usage_rights,
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
        super::super::Kind::usage_rights,
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
        super::super::Kind::usage_rights,
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
        super::super::Kind::usage_rights,
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
