//! Waiting members (C20–C22): FIFO lists, get, `allotment` and `assignedTo`.

use super::*;

pub(super) const WAITING_NAVS: &[&str] = &["assignedTo", "allotment"];

pub(super) async fn waiting_of(ctx: &Ctx) -> GraphResult<Vec<WaitingMember>> {
    let allotment = match &ctx.scope {
        super::super::Scope::Allotment(sub, _) => Some(*sub),
        _ => None,
    };
    Ok(ctx
        .view
        .waiting(&ctx.state.store, ctx.scope_user(), allotment)
        .await?)
}

pub(super) async fn one_waiting(ctx: &Ctx) -> GraphResult<WaitingMember> {
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
    let w = one_waiting(&ctx).await?;
    assigned_to_entity(
        &ctx,
        &q,
        MemberRef::User(w.user),
        &format!("waitingMembers('{}')", w.id),
    )
    .await
}
