//! Assignments (C3, C4, C9, C13): lists, get, `allotment` and `assignedTo`.

use super::*;

pub(super) const ASSIGNMENT_NAVS: &[&str] = &["assignedTo", "allotment"];

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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
    let a = ctx.assignment().await?;
    allotment_entity(&ctx, &q, a.allotment, &format!("assignments('{}')", a.id))
}

/// `GET …/{id}/assignedTo`: the user or group, default properties and `@odata.type`.
pub(super) async fn assigned_to_entity(
    ctx: &Ctx,
    q: &ODataQuery,
    who: MemberRef,
    path: &str,
) -> GraphResult<Response> {
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
    let ctx = Ctx::new(&state, &auth, version, &matched, params, super::super::Kind::read).await?;
    let a = ctx.assignment().await?;
    assigned_to_entity(&ctx, &q, a.principal, &format!("assignments('{}')", a.id)).await
}
