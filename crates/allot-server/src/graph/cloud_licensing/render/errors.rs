//! Assignment errors (C14, C15): lists, get, `assignedTo` and `usageRight`.

use super::*;

pub(super) const ERROR_NAVS: &[&str] = &["assignedTo", "usageRight"];

pub(super) async fn one_error(ctx: &Ctx) -> GraphResult<AssignmentError> {
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
