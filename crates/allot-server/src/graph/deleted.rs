//! `/directory/deletedItems`: deleted users, kept 30 days with their direct licenses and
//! memberships; listed by type, read, restored (through the operation layer, licenses brought
//! back even beyond the free units, as Entra does) and deleted for good.
//! <https://learn.microsoft.com/en-us/graph/api/resources/directory>

use allot_core::ids::UserId;
use allot_store::StoreError;
use allot_store::records::DeletedUser;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::kit::{Collection, keyset_page};
use super::query::ODataQuery;
use super::render::{self, USER_PROPS};
use super::{ApiVersion, context_url, json_response, no_content, perm};
use crate::state::AppState;

/// The type a `deletedItems/{cast}` segment names (the SDKs send `graph.user`, Graph documents
/// `microsoft.graph.user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

fn cast(segment: &str) -> Option<Kind> {
    let name = segment
        .strip_prefix("microsoft.graph.")
        .or_else(|| segment.strip_prefix("graph."))?;
    match name {
        "user" => Some(Kind::User),
        "group" => Some(Kind::Group),
        _ => None,
    }
}

fn object_id(raw: &str) -> GraphResult<UserId> {
    raw.parse::<UserId>()
        .map_err(|_| GraphError::invalid_object_id(raw))
}

/// A deleted user as Graph shows it: the user's properties with `deletedDateTime`.
fn deleted_user_json(d: &DeletedUser, select: Option<&[&str]>) -> Map<String, Value> {
    let mut m = render::user_json(&d.user, select, None);
    if select.is_none_or(|s| s.contains(&"deletedDateTime")) {
        m.insert("deletedDateTime".into(), json!(render::timestamp(d.deleted_at)));
    }
    m
}

/// # `GET /directory/deletedItems/microsoft.graph.user` (or `graph.user`, `…group`), and
/// # `GET /directory/deletedItems/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-list>,
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-get>
pub async fn get_deleted(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(item): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    match cast(&item) {
        Some(kind) => list(&state, &auth, version, kind, &q).await,
        None => get_one(&state, &auth, version, &item, &q).await,
    }
}

async fn list(
    state: &AppState,
    auth: &Auth,
    version: ApiVersion,
    kind: Kind,
    q: &ODataQuery,
) -> GraphResult<Response> {
    q.only(&["$select", "$top", "$skiptoken"])?;
    let type_name = match kind {
        Kind::User => "microsoft.graph.user",
        Kind::Group => "microsoft.graph.group",
    };
    let context = context_url(version, &format!("directory/deletedItems/{type_name}"));
    match kind {
        Kind::User => {
            perm::USERS_READ.check(&auth.0.caller)?;
            let select = q.select("user", USER_PROPS)?;
            let top = q.top(100, 999)?;
            let tenant = auth.0.tenant;
            let (page, next) = keyset_page(
                q,
                top,
                |d: &DeletedUser| d.user.id.as_uuid(),
                |after, limit| state.store.deleted_users_page(tenant, after, limit),
            )
            .await?;
            let values = page
                .iter()
                .map(|d| Value::Object(deleted_user_json(d, select.as_deref())))
                .collect();
            Ok(Collection::new(context, values).next(next).into_response())
        }
        Kind::Group => {
            perm::GROUPS_READ.check(&auth.0.caller)?;
            Ok(Collection::new(context, Vec::new()).into_response())
        }
    }
}

async fn get_one(
    state: &AppState,
    auth: &Auth,
    version: ApiVersion,
    raw: &str,
    q: &ODataQuery,
) -> GraphResult<Response> {
    perm::USERS_READ.check(&auth.0.caller)?;
    q.only(&["$select"])?;
    let select = q.select("user", USER_PROPS)?;
    let id = object_id(raw)?;
    let d = state
        .store
        .deleted_user(auth.0.tenant, id)
        .await?
        .ok_or_else(|| GraphError::resource_not_found(raw))?;
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        json!(context_url(version, "directory/deletedItems/$entity")),
    );
    m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    m.extend(deleted_user_json(&d, select.as_deref()));
    Ok(json_response(StatusCode::OK, &Value::Object(m)))
}

/// # `POST /directory/deletedItems/{id}/restore`
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-restore>. 200 with the
/// restored user; its memberships and direct licenses come back (a SKU with no free unit ends
/// over-consumed).
pub async fn restore(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(raw): Path<String>,
) -> GraphResult<Response> {
    perm::USERS_DELETE.check(&auth.0.caller)?;
    let id = object_id(&raw)?;
    let user = match state.operations.restore_user(auth.0.tenant, id).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Err(GraphError::resource_not_found(&raw)),
        Err(StoreError::Conflict(_)) => {
            return Err(GraphError::bad_request(
                "Another object with the same value for property userPrincipalName already exists.",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        json!(context_url(version, "directoryObjects/$entity")),
    );
    m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    m.extend(render::user_json(&user, None, None));
    m.insert("deletedDateTime".into(), Value::Null);
    Ok(json_response(StatusCode::OK, &Value::Object(m)))
}

/// # `DELETE /directory/deletedItems/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-delete>. Gone for good.
pub async fn purge(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> GraphResult<Response> {
    perm::USERS_DELETE.check(&auth.0.caller)?;
    let id = object_id(&raw)?;
    match state.store.purge_deleted_user(auth.0.tenant, id).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::NotFound) => Err(GraphError::resource_not_found(&raw)),
        Err(e) => Err(e.into()),
    }
}
