//! Waiting members (C20–C22): FIFO lists, get, `allotment` and `assignedTo`.

use super::*;

pub(super) const WAITING_NAVS: &[Nav] = &[("assignedTo", None), ("allotment", Some(&ALLOTMENTS))];

/// The waiting member named by the path's `{id}`, in the scope.
pub(super) async fn one_waiting(ctx: &Ctx) -> GraphResult<WaitingMember> {
    let id = ctx.param("id");
    let key = model::parse_waiting_member_id(id)
        .map(|(u, sub)| allot_store::cloud_views::identity(&[u.as_uuid(), sub.as_uuid()]));
    Ok(ctx.one::<WaitingView>(id, key).await?.into())
}

/// # `GET /beta/admin/cloudLicensing/allotments/{id}/waitingMembers`, `GET /beta/users/{id}/cloudLicensing/waitingMembers`, `GET /beta/me/cloudLicensing/waitingMembers`
/// C20, C21: FIFO (seat order) unless `$orderby=waitingSinceDateTime`; `$select`, `$top`,
/// `$count`, `$expand=assignedTo,allotment` (a nested `$filter` on the allotment as for
/// assignments).
pub async fn list_waiting(req: Req) -> GraphResult<Response> {
    list_linked::<WaitingView, WaitingMember>(
        &req,
        &WAITING_MEMBERS,
        WAITING_NAVS,
        &allot_odata::cloud_schema::ALLOTMENT_OF_WAITING_MEMBER,
        "waitingMembers",
    )
    .await
}

/// # `GET …/waitingMembers/{id}`
/// C22: `$select`, `$expand=assignedTo,allotment`.
pub async fn get_waiting(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let o = List::parse_one(&req.q, &WAITING_MEMBERS, WAITING_NAVS)?;
    let w = one_waiting(&ctx).await?;
    let v = linked_json(&ctx, &[w], o.select.as_deref(), &o.expand).await?;
    entity(&ctx, "waitingMembers", o.select.as_deref(), v)
}

/// # `GET …/waitingMembers/{id}/allotment`
/// C2 (through a waiting member).
pub async fn waiting_allotment(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let w = one_waiting(&ctx).await?;
    allotment_entity(&ctx, &req.q, w.allotment, &format!("waitingMembers('{}')", w.id))
}

/// # `GET …/waitingMembers/{id}/assignedTo`
pub async fn waiting_assigned_to(req: Req) -> GraphResult<Response> {
    let ctx = req.ctx(Kind::read).await?;
    let w = one_waiting(&ctx).await?;
    assigned_to_entity(
        &ctx,
        &req.q,
        MemberRef::User(w.user),
        &format!("waitingMembers('{}')", w.id),
    )
    .await
}
