//! Usage rights (C16–C19): lists, get, and their assignments and allotments.

use super::*;

pub(super) const USAGE_RIGHT_NAVS: &[Nav] = &[
    ("assignments", Some(&ASSIGNMENTS)),
    ("allotments", Some(&ALLOTMENTS)),
];

/// The usage right named by the path's `{id}`, in the scope.
pub(super) async fn one_right(ctx: &Ctx) -> GraphResult<UsageRight> {
    let id = ctx.param("id");
    let key = model::parse_usage_right_id(id)
        .filter(|(p, _)| ctx.scope.principal().is_some_and(|s| s.uuid() == *p))
        .map(|(p, sku)| allot_store::cloud_views::identity(&[p, sku.as_uuid()]));
    let row = ctx.one::<UsageRightView>(id, key).await?;
    let mut r = ctx.view.usage_rights(&ctx.state.store, vec![row]).await?;
    r.pop().ok_or_else(|| not_found(id))
}

/// # `GET /beta/users/{id}/cloudLicensing/usageRights`, `/beta/me/…`, `/beta/groups/{id}/…`
/// C16, C17: one per SKU, the union of what direct and inherited assignments enable; `$select`,
/// `$top`, `$count`, `$orderby`, `$expand=assignments,allotments`, `$filter` (skuId eq|in,
/// services/any(c:c/planId …)).
pub async fn list_usage_rights(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::usage_rights).await?;
    let o = List::parse(&req.q, &USAGE_RIGHTS, USAGE_RIGHT_NAVS, None, &[])?;
    let (rows, next, count) = ctx.page::<UsageRightView>(&req.q, &o).await?;
    let items = ctx.view.usage_rights(&ctx.state.store, rows).await?;
    let values = usage_rights_json(&ctx, &items, o.select.as_deref(), &o.expand);
    Ok(collection(&ctx, "usageRights", &o, values, next, count))
}

/// # `GET …/usageRights/{id}`
/// C18: `$select`, `$expand=assignments,allotments`.
pub async fn get_usage_right(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::usage_rights).await?;
    let o = List::parse_one(&req.q, &USAGE_RIGHTS, USAGE_RIGHT_NAVS)?;
    let r = one_right(&ctx).await?;
    let v = usage_rights_json(&ctx, &[r], o.select.as_deref(), &o.expand);
    entity(&ctx, "usageRights", o.select.as_deref(), v)
}

/// # `GET …/usageRights/{id}/assignments`
/// C19: the direct and inherited assignments behind the right; `$select`, `$expand`.
pub async fn usage_right_assignments(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::usage_rights).await?;
    let o = List::parse_one(&req.q, &ASSIGNMENTS, ASSIGNMENT_NAVS)?;
    let r = one_right(&ctx).await?;
    let values = linked_json(&ctx, &r.assignments, o.select.as_deref(), &o.expand).await?;
    let set = format!("usageRights('{}')/assignments", r.id);
    Ok(collection(&ctx, &set, &o, values, None, None))
}

/// # `GET …/usageRights/{id}/allotments`
/// The allotments of the assignments behind the right; `$select`.
pub async fn usage_right_allotments(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::usage_rights).await?;
    req.q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let o = List::parse_one(&req.q, &ALLOTMENTS, &[])?;
    let r = one_right(&ctx).await?;
    let values = usage_right_allotment_list(&ctx, &r, o.select.as_deref());
    let set = format!("usageRights('{}')/allotments", r.id);
    Ok(collection(&ctx, &set, &o, values, None, None))
}
