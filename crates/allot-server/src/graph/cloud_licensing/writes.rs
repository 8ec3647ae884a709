//! The write side: create (C5–C8), update (C10), delete (C11) and `reprocessAssignments` (C12),
//! with the error catalogue of spec §3.12.

use std::collections::HashMap;

use allot_core::ids::{GroupId, ServicePlanId, UserId};
use allot_core::licensing::{GroupLicenseError, LicenseError};
use allot_store::StoreError;
use allot_store::cloud_licensing::CloudWrite;
use allot_store::records::MemberRef;
use axum::Extension;
use axum::extract::{MatchedPath, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::model::{self, Allotment};
use super::render::assignment_response;
use super::{Ctx, Kind, Scope, not_found};
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::extract::{Auth, JsonObject};
use crate::graph::query::ODataQuery;
use crate::graph::{ApiVersion, no_content};
use crate::state::AppState;

type Params = Path<HashMap<String, String>>;

const ALLOTMENT_BIND: &str = "allotment@odata.bind";
const ASSIGNED_TO_BIND: &str = "assignedTo@odata.bind";
const DISABLED: &str = "disabledServicePlanIds";

fn bad(inner: &'static str, message: impl Into<String>) -> GraphError {
    GraphError::cloud(StatusCode::BAD_REQUEST, "badRequest", inner, message)
}

fn missing(property: &str) -> GraphError {
    bad(
        "requiredFieldOrParameterMissing",
        "Cannot process the request because it is malformed or incorrect.",
    )
    .with_inner("propertyName", json!(property))
}

fn referenced_not_found(property: &str) -> GraphError {
    bad(
        "notFound",
        "Cannot process request because a referenced item was not found.",
    )
    .with_inner("propertyName", json!(property))
}

fn immutable(property: &str) -> GraphError {
    bad(
        "immutablePropertyModified",
        "Cannot process the request because an immutable property was modified.",
    )
    .with_inner("propertyName", json!(property))
}

fn invalid_value(property: &str, message: impl Into<String>) -> GraphError {
    bad("invalidPropertyValue", message).with_inner("propertyName", json!(property))
}

fn wrong_assignee() -> GraphError {
    bad(
        "invalidAssigneeType",
        "Cannot process the request because the allotment does not support assignee type.",
    )
}

/// The store's refusals in §3.12's words.
fn write_error(e: StoreError) -> GraphError {
    match e {
        StoreError::License(l) | StoreError::GroupLicense(GroupLicenseError::License(l)) => license_error(&l),
        StoreError::GroupLicense(GroupLicenseError::NotSecurityEnabled) => wrong_assignee(),
        StoreError::GroupLicense(g @ GroupLicenseError::MissingPrerequisite { .. }) => {
            bad("missingDependency", g.to_string())
        }
        StoreError::GroupLicense(GroupLicenseError::NotOnGroup(sku)) => not_found(&sku.to_string()),
        StoreError::Conflict(m) => {
            GraphError::cloud(StatusCode::CONFLICT, "conflict", "assignmentAlreadyExists", m)
        }
        other => GraphError::from_store(other),
    }
}

fn license_error(l: &LicenseError) -> GraphError {
    match l {
        LicenseError::NoFreeUnits(_) => bad(
            "noAvailableLicenses",
            "There are no available licenses for the specified allotment",
        ),
        LicenseError::NoUsageLocation | LicenseError::ProhibitedInUsageLocation { .. } => bad(
            "invalidUsageLocation",
            "Cannot process request because a referenced item has an invalid usage location.",
        ),
        LicenseError::MutuallyExclusive(a, b) => bad(
            "mutuallyExclusiveServicePlans",
            format!("License assignment failed because service plans {a},{b} are mutually exclusive"),
        )
        .with_inner("ids", json!([a, b])),
        LicenseError::Dependency { .. } => bad("missingDependency", l.to_string()),
        LicenseError::NotAssignableToUsers(_) => wrong_assignee(),
        LicenseError::UnknownSku(_) => referenced_not_found("allotment"),
        other => bad("invalidRequest", other.to_string()),
    }
}

/// `disabledServicePlanIds`: a collection of GUIDs, each a plan of the allotment's SKU.
fn disabled_plans(v: &Value, allotment: &Allotment) -> GraphResult<Vec<ServicePlanId>> {
    let Value::Array(items) = v else {
        return Err(invalid_value(
            DISABLED,
            "'disabledServicePlanIds' must be a collection of GUIDs.",
        ));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let property = format!("{DISABLED}[{i}]");
        let plan = item
            .as_str()
            .and_then(|s| allot_core::ids::parse_guid(s).ok())
            .map(ServicePlanId::from_uuid)
            .ok_or_else(|| invalid_value(&property, format!("'{property}' is not a GUID.")))?;
        if !allotment.sku.has_plan(plan) {
            return Err(bad(
                "notFound",
                "Cannot process the request because a referenced item does not exist or is not associated with the request.",
            )
            .with_inner("propertyName", json!(property)));
        }
        out.push(plan);
    }
    Ok(out)
}

fn bind_url<'a>(b: &'a Map<String, Value>, key: &str) -> GraphResult<Option<&'a str>> {
    match b.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid_value(
            key.trim_end_matches("@odata.bind"),
            format!("'{key}' must be a URL."),
        )),
    }
}

/// The allotment a bind URL names (`…/admin/cloudLicensing/allotments/{id}`).
fn bound_allotment<'a>(ctx: &'a Ctx, url: &str) -> GraphResult<&'a Allotment> {
    let id = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    ctx.view
        .allotment_by_id(id)
        .ok_or_else(|| referenced_not_found("allotment"))
}

/// The user or group a bind URL names (`…/users/{id}`, `…/groups/{id}`, `…/directoryObjects/{id}`).
async fn bound_principal(ctx: &Ctx, url: &str) -> GraphResult<MemberRef> {
    let id = crate::graph::body::bind_target(url).ok_or_else(|| referenced_not_found("assignedTo"))?;
    let lower = url.to_ascii_lowercase();
    let store = &ctx.state.store;
    if !lower.contains("/groups/") && store.user(ctx.tenant.id, UserId::from_uuid(id)).await?.is_some() {
        return Ok(MemberRef::User(UserId::from_uuid(id)));
    }
    if !lower.contains("/users/")
        && store
            .group(ctx.tenant.id, GroupId::from_uuid(id))
            .await?
            .is_some()
    {
        return Ok(MemberRef::Group(GroupId::from_uuid(id)));
    }
    Err(referenced_not_found("assignedTo"))
}

fn only_known(b: &Map<String, Value>, allowed: &[&str]) -> GraphResult<()> {
    for k in b.keys() {
        if k == "@odata.type" || allowed.contains(&k.as_str()) {
            continue;
        }
        return Err(invalid_value(
            k,
            format!("Property '{k}' does not exist as a declared property or extension property."),
        ));
    }
    Ok(())
}

/// # `POST /beta/admin/cloudLicensing/assignments`, `…/allotments/{id}/assignments`, `/beta/users/{id}/cloudLicensing/assignments`, `/beta/me/…`, `/beta/groups/{id}/…`
/// C5–C8: the bindings required depend on the collection (admin: `allotment` and `assignedTo`;
/// allotment: `assignedTo`; user and group: `allotment`), `disabledServicePlanIds` always. A user
/// assignment is applied at once (units, usage location and plan rules, as `assignLicense`); a
/// group assignment answers 201 and its members are processed as for the group's `assignLicense`.
pub async fn create_assignment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, Kind::write).await?;
    only_known(&b, &[ALLOTMENT_BIND, ASSIGNED_TO_BIND, DISABLED])?;
    let needs_allotment = matches!(ctx.kind, Kind::Admin | Kind::User | Kind::Me | Kind::Group);
    let needs_assignee = matches!(ctx.kind, Kind::Admin | Kind::Allotment);
    let allot_url = bind_url(&b, ALLOTMENT_BIND)?;
    let to_url = bind_url(&b, ASSIGNED_TO_BIND)?;
    if needs_allotment && allot_url.is_none() {
        return Err(missing("allotment"));
    }
    if needs_assignee && to_url.is_none() {
        return Err(missing("assignedTo"));
    }
    let disabled_raw = match b.get(DISABLED) {
        None | Some(Value::Null) => return Err(missing(DISABLED)),
        Some(v) => v,
    };
    // The path's own allotment or principal; a binding that names another is refused. (inferred)
    let allotment = match (&ctx.scope, allot_url) {
        (Scope::Allotment(sub, _), url) => {
            let a = ctx
                .view
                .allotment(*sub)
                .ok_or_else(|| not_found(ctx.param("aid")))?;
            if let Some(u) = url
                && bound_allotment(&ctx, u)?.sub.id != a.sub.id
            {
                return Err(bad(
                    "invalidReference",
                    "The allotment binding does not match the allotment posted to.",
                ));
            }
            a
        }
        (_, Some(u)) => bound_allotment(&ctx, u)?,
        (_, None) => return Err(missing("allotment")),
    };
    let principal = match (ctx.scope.principal(), to_url) {
        (Some(p), url) => {
            if let Some(u) = url
                && bound_principal(&ctx, u).await? != p
            {
                return Err(bad(
                    "invalidReference",
                    "The assignedTo binding does not match the principal posted to.",
                ));
            }
            p
        }
        (None, Some(u)) => bound_principal(&ctx, u).await?,
        (None, None) => return Err(missing("assignedTo")),
    };
    if !model::assignable(&allotment.sku) {
        return Err(wrong_assignee());
    }
    let disabled = disabled_plans(disabled_raw, allotment)?;
    let sku = allotment.sku.id;
    let write = CloudWrite::Create {
        allotment: allotment.sub.id,
        disabled_plans: disabled,
    };
    match state
        .operations
        .cloud_write(&cloud_actor(&auth), ctx.tenant.id, principal, sku, &write)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(referenced_not_found("assignedTo")),
        Err(e) => return Err(write_error(e)),
    }
    let ctx = ctx.reload().await?;
    let created = ctx
        .assignment_by_id(&model::assignment_id(principal, sku))
        .await?;
    assignment_response(&ctx, created, StatusCode::CREATED).await
}

/// # `PATCH …/cloudLicensing/assignments/{id}` (five paths)
/// C10: only `disabledServicePlanIds` changes; a binding that names another allotment or
/// principal is `immutablePropertyModified`.
pub async fn update_assignment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, Kind::write).await?;
    let current = ctx.assignment().await?;
    only_known(&b, &[ALLOTMENT_BIND, ASSIGNED_TO_BIND, DISABLED, "id"])?;
    if let Some(id) = b.get("id")
        && id.as_str() != Some(current.id.as_str())
    {
        return Err(immutable("id"));
    }
    if let Some(u) = bind_url(&b, ALLOTMENT_BIND)? {
        let same = ctx
            .view
            .allotment_by_id(u.trim_end_matches('/').rsplit('/').next().unwrap_or(""))
            .is_some_and(|a| a.sub.id == current.allotment);
        if !same {
            return Err(immutable("allotment"));
        }
    }
    if let Some(u) = bind_url(&b, ASSIGNED_TO_BIND)? {
        let same = crate::graph::body::bind_target(u).is_some_and(|id| id == current.principal.uuid());
        if !same {
            return Err(immutable("assignedTo"));
        }
    }
    if let Some(v) = b.get(DISABLED) {
        if v.is_null() {
            return Err(invalid_value(
                DISABLED,
                "'disabledServicePlanIds' cannot be null.",
            ));
        }
        let allotment = ctx
            .view
            .allotment(current.allotment)
            .ok_or_else(|| not_found(&current.id))?;
        let disabled = disabled_plans(v, allotment)?;
        let write = CloudWrite::Update {
            disabled_plans: disabled,
        };
        match state
            .operations
            .cloud_write(
                &cloud_actor(&auth),
                ctx.tenant.id,
                current.principal,
                current.sku,
                &write,
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(not_found(&current.id)),
            Err(e) => return Err(write_error(e)),
        }
    }
    let ctx = ctx.reload().await?;
    let updated = ctx.assignment_by_id(&current.id).await?;
    assignment_response(&ctx, updated, StatusCode::OK).await
}

/// # `DELETE …/cloudLicensing/assignments/{id}` (five paths)
/// C11: the license goes (a user's unit is freed unless a group still gives the SKU); a group's
/// members lose it as for the group's `assignLicense` removal. 204.
pub async fn delete_assignment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, Kind::write).await?;
    let current = ctx.assignment().await?;
    match state
        .operations
        .cloud_write(
            &cloud_actor(&auth),
            ctx.tenant.id,
            current.principal,
            current.sku,
            &CloudWrite::Delete,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(not_found(&current.id)),
        Err(e) => return Err(write_error(e)),
    }
    Ok(no_content())
}

/// # `POST /beta/users/{id}/cloudLicensing/assignments/reprocessAssignments`, `/beta/me/…`
/// C12: re-evaluates every group assignment of the user now (as `reprocessLicenseAssignment`);
/// `200 OK` with no body.
pub async fn reprocess_assignments(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    matched: MatchedPath,
    Path(params): Params,
    q: ODataQuery,
) -> GraphResult<Response> {
    let ctx = Ctx::new(&state, &auth, version, &matched, params, Kind::write).await?;
    q.only(&[])
        .map_err(|e| super::options::invalid_query(e.message))?;
    let Scope::User(u) = &ctx.scope else {
        return Err(not_found(ctx.param("uid")));
    };
    state.operations.reprocess_user(ctx.tenant.id, u.id).await?;
    Ok(StatusCode::OK.into_response())
}

/// The caller of a cloudLicensing write, for the audit log.
fn cloud_actor(auth: &Auth) -> allot_store::audit::Actor {
    crate::operations::actor(&auth.0, crate::operations::CLOUD_LICENSING)
}
