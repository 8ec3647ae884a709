//! Assignments (C3, C4, C9, C13): lists, get, `allotment` and `assignedTo`.

use super::*;

pub(super) const ASSIGNMENT_NAVS: &[Nav] = &[("assignedTo", None), ("allotment", Some(&ALLOTMENTS))];

/// # `GET /beta/admin/cloudLicensing/assignments` (and under an allotment, a user, `/me`, a group)
/// C3, C4: `$select`, `$top`, `$count`, `$expand=assignedTo,allotment` (nested `$select`, and a
/// nested `$filter` on the allotment that keeps the assignments whose allotment passes: the beta
/// page's "filtered by skuId" example, inferred).
pub async fn list_assignments(req: Req) -> GraphResult<Response> {
    list_linked::<AssignmentView, Assignment>(
        &req,
        &ASSIGNMENTS,
        ASSIGNMENT_NAVS,
        &allot_odata::cloud_schema::ALLOTMENT_OF_ASSIGNMENT,
        "assignments",
    )
    .await
}

/// # `GET …/cloudLicensing/assignments/{id}` (five paths)
/// C9: `$select`, `$expand=assignedTo,allotment`.
pub async fn get_assignment(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let o = List::parse_one(&req.q, &ASSIGNMENTS, ASSIGNMENT_NAVS)?;
    let a = ctx.assignment().await?;
    let v = linked_json(&ctx, &[a], o.select.as_deref(), &o.expand).await?;
    entity(&ctx, "assignments", o.select.as_deref(), v)
}

/// One assignment as an entity body (POST's 201, PATCH's 200).
pub async fn assignment_response(
    ctx: &Ctx,
    a: Assignment,
    status: axum::http::StatusCode,
) -> GraphResult<Response> {
    let v = linked_json(ctx, &[a], None, &[]).await?;
    let mut resp = entity(ctx, "assignments", None, v)?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// # `GET …/assignments/{id}/allotment`
/// C2 (through an assignment): `$select`.
pub async fn assignment_allotment(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let a = ctx.assignment().await?;
    allotment_entity(&ctx, &req.q, a.allotment, &format!("assignments('{}')", a.id))
}

/// `GET …/{id}/assignedTo`: the user or group, default properties and `@odata.type`.
pub(super) async fn assigned_to_entity(
    ctx: &Ctx,
    q: &crate::graph::query::ODataQuery,
    who: MemberRef,
    path: &str,
) -> GraphResult<Response> {
    q.only(&["$select"]).map_err(|e| invalid_query(e.message))?;
    let select = super::super::options::directory_select_raw(q.raw("$select"))?;
    let dir = Directory::load(ctx, &[who]).await?;
    let m = dir
        .json(who, select.as_deref())
        .ok_or_else(|| not_found(ctx.param("id")))?;
    Ok(entity_body(ctx.context(&format!("{path}/assignedTo/$entity")), m))
}

/// # `GET …/assignments/{id}/assignedTo`
/// C13.
pub async fn assignment_assigned_to(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let a = ctx.assignment().await?;
    assigned_to_entity(&ctx, &req.q, a.principal, &format!("assignments('{}')", a.id)).await
}
