//! Assignment errors (C14, C15): lists, get, `assignedTo` and `usageRight`.

use super::*;

pub(super) const ERROR_NAVS: &[Nav] = &[("assignedTo", None), ("usageRight", Some(&USAGE_RIGHTS))];

/// The assignment error named by the path's `{id}`, in the scope.
pub(super) async fn one_error(ctx: &Ctx) -> GraphResult<AssignmentError> {
    let id = ctx.param("id");
    let key = model::parse_assignment_error_id(id)
        .map(|(u, sku, g)| allot_store::cloud_views::identity(&[u.as_uuid(), sku.as_uuid(), g.as_uuid()]));
    let row = ctx.one::<ErrorView>(id, key).await?;
    let mut e = ctx.view.errors(&ctx.state.store, vec![row]).await?;
    e.pop().ok_or_else(|| not_found(id))
}

/// # `GET /beta/admin/cloudLicensing/assignmentErrors`, `GET /beta/users/{id}/cloudLicensing/assignmentErrors`, `GET /beta/me/cloudLicensing/assignmentErrors`
/// C14: `$select`, `$top`, `$count`, `$orderby`, `$expand=assignedTo,usageRight`, `$filter` on
/// `skuId` (and `code`).
pub async fn list_errors(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let o = List::parse(&req.q, &ASSIGNMENT_ERRORS, ERROR_NAVS, None, &[])?;
    let (rows, next, count) = ctx.page::<ErrorView>(&req.q, &o).await?;
    let items = ctx.view.errors(&ctx.state.store, rows).await?;
    let values = errors_json(&ctx, &items, o.select.as_deref(), &o.expand).await?;
    Ok(collection(&ctx, "assignmentErrors", &o, values, next, count))
}

/// # `GET …/assignmentErrors/{id}`
/// C15: `$select`, `$expand`.
pub async fn get_error(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let o = List::parse_one(&req.q, &ASSIGNMENT_ERRORS, ERROR_NAVS)?;
    let e = one_error(&ctx).await?;
    let v = errors_json(&ctx, &[e], o.select.as_deref(), &o.expand).await?;
    entity(&ctx, "assignmentErrors", o.select.as_deref(), v)
}

/// # `GET …/assignmentErrors/{id}/assignedTo`
/// C15.
pub async fn error_assigned_to(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let e = one_error(&ctx).await?;
    assigned_to_entity(
        &ctx,
        &req.q,
        MemberRef::User(e.user),
        &format!("assignmentErrors('{}')", e.id),
    )
    .await
}

/// # `GET …/assignmentErrors/{id}/usageRight`
/// C15: the affected usage right; 404 when the user holds nothing of that SKU.
pub async fn error_usage_right(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    req.q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = super::super::options::select(req.q.raw("$select"), &USAGE_RIGHTS)?;
    let e = one_error(&ctx).await?;
    let r = user_rights(&ctx, e.user)
        .await?
        .into_iter()
        .find(|r| r.sku.id == e.sku)
        .ok_or_else(|| not_found(&format!("{}/usageRight", e.id)))?;
    Ok(entity_body(
        ctx.context(&format!("assignmentErrors('{}')/usageRight/$entity", e.id)),
        usage_right_json(&r, select.as_deref()),
    ))
}
