//! Beta `cloudLicensing` (spec §1.3 C1–C22, §2.11–2.17, §3.12), served under `/beta` only:
//! `admin/cloudLicensing` (allotments, assignments, assignmentErrors), `users/{id}/cloudLicensing`
//! and `me/cloudLicensing` (assignments, assignmentErrors, usageRights, waitingMembers) and
//! `groups/{id}/cloudLicensing` (assignments, usageRights).
//! <https://learn.microsoft.com/en-us/graph/api/resources/cloudlicensing-allotment?view=graph-rest-beta>
//!
//! Every entity is a view of the one licensing state (see `allot_store::cloud_licensing`): an
//! assignment made here is an `assignLicense` seen from another side, and the reverse.

pub mod model;
pub mod options;
mod render;
mod writes;

use std::collections::HashMap;

use allot_core::ids::{GroupId, UserId};
use allot_store::records::{Group, MemberRef, Tenant, User};
use axum::Router;
use axum::extract::MatchedPath;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use self::model::View;
use self::options::{Expand, SkuFilter, invalid_query, parse_expand, parse_filter, parse_select};
use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::perm::{self, Access};
use super::query::ODataQuery;
use super::{ApiVersion, context_url, json_response};
use crate::auth::tokens::Caller;
use crate::state::AppState;

/// The routes, mounted under `/beta` only.
pub fn router() -> Router<AppState> {
    const ADMIN: &str = "/admin/cloudLicensing";
    const ALLOT: &str = "/admin/cloudLicensing/allotments/{aid}";
    let mut r = Router::new()
        .route(&format!("{ADMIN}/allotments"), get(render::list_allotments))
        .route(ALLOT, get(render::get_allotment))
        .route(&format!("{ALLOT}/waitingMembers"), get(render::list_waiting))
        .route(
            &format!("{ALLOT}/waitingMembers/{{id}}"),
            get(render::get_waiting),
        )
        .route(
            &format!("{ALLOT}/waitingMembers/{{id}}/allotment"),
            get(render::waiting_allotment),
        )
        .route(
            &format!("{ALLOT}/waitingMembers/{{id}}/assignedTo"),
            get(render::waiting_assigned_to),
        );
    // Assignments: five collections (admin, allotment, user, me, group), the same operations.
    for base in [
        format!("{ADMIN}/assignments"),
        format!("{ALLOT}/assignments"),
        "/users/{uid}/cloudLicensing/assignments".to_owned(),
        "/me/cloudLicensing/assignments".to_owned(),
        "/groups/{gid}/cloudLicensing/assignments".to_owned(),
    ] {
        r = r
            .route(
                &base,
                get(render::list_assignments).post(writes::create_assignment),
            )
            .route(
                &format!("{base}/{{id}}"),
                get(render::get_assignment)
                    .patch(writes::update_assignment)
                    .delete(writes::delete_assignment),
            )
            .route(
                &format!("{base}/{{id}}/allotment"),
                get(render::assignment_allotment),
            )
            .route(
                &format!("{base}/{{id}}/assignedTo"),
                get(render::assignment_assigned_to),
            );
    }
    for base in ["/users/{uid}/cloudLicensing", "/me/cloudLicensing"] {
        r = r
            .route(
                &format!("{base}/assignments/reprocessAssignments"),
                post(writes::reprocess_assignments),
            )
            // The SDKs call the action by its namespace-qualified name.
            .route(
                &format!("{base}/assignments/microsoft.graph.cloudLicensing.reprocessAssignments"),
                post(writes::reprocess_assignments),
            )
            .route(&format!("{base}/waitingMembers"), get(render::list_waiting))
            .route(&format!("{base}/waitingMembers/{{id}}"), get(render::get_waiting))
            .route(&format!("{base}/waitingMembers/{{id}}/allotment"), get(render::waiting_allotment))
            .route(&format!("{base}/waitingMembers/{{id}}/assignedTo"), get(render::waiting_assigned_to));
    }
    for base in [ADMIN, "/users/{uid}/cloudLicensing", "/me/cloudLicensing"] {
        r = r
            .route(&format!("{base}/assignmentErrors"), get(render::list_errors))
            .route(&format!("{base}/assignmentErrors/{{id}}"), get(render::get_error))
            .route(
                &format!("{base}/assignmentErrors/{{id}}/assignedTo"),
                get(render::error_assigned_to),
            )
            .route(
                &format!("{base}/assignmentErrors/{{id}}/usageRight"),
                get(render::error_usage_right),
            );
    }
    for base in [
        "/users/{uid}/cloudLicensing",
        "/me/cloudLicensing",
        "/groups/{gid}/cloudLicensing",
    ] {
        r = r
            .route(&format!("{base}/usageRights"), get(render::list_usage_rights))
            .route(
                &format!("{base}/usageRights/{{id}}"),
                get(render::get_usage_right),
            )
            .route(
                &format!("{base}/usageRights/{{id}}/assignments"),
                get(render::usage_right_assignments),
            )
            .route(
                &format!("{base}/usageRights/{{id}}/allotments"),
                get(render::usage_right_allotments),
            );
    }
    r
}

// ---- errors -------------------------------------------------------------------------------------

/// 404 for a path segment that names nothing in the caller's tenant (spec §3.12).
pub fn not_found(id: &str) -> GraphError {
    GraphError::cloud(
        StatusCode::NOT_FOUND,
        "notFound",
        "resourceNotFound",
        format!("Resource '{id}' not found"),
    )
}

fn forbidden() -> GraphError {
    GraphError::cloud(
        StatusCode::FORBIDDEN,
        "forbidden",
        "missingRequiredPermission",
        "Cannot process request because the user does not have required permissions.",
    )
}

fn check(access: &Access, caller: &Caller) -> GraphResult<()> {
    access.check(caller).map_err(|_| forbidden())
}

// ---- scopes -------------------------------------------------------------------------------------

/// Which collection a request addresses, known from the route alone (permissions are checked
/// before anything is looked up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Admin,
    Allotment,
    User,
    Me,
    Group,
}

impl Kind {
    fn of(matched: &str) -> Self {
        if matched.contains("/admin/cloudLicensing/allotments/{aid}") {
            Self::Allotment
        } else if matched.contains("/admin/cloudLicensing") {
            Self::Admin
        } else if matched.contains("/me/cloudLicensing") {
            Self::Me
        } else if matched.contains("/groups/{gid}") {
            Self::Group
        } else {
            Self::User
        }
    }

    /// Read permissions of the assignment, waiting-member and error collections.
    const fn read(self) -> &'static Access {
        match self {
            Self::Admin | Self::Allotment => &perm::CL_ADMIN_READ,
            Self::User => &perm::CL_USER_READ,
            Self::Me => &perm::CL_ME_READ,
            Self::Group => &perm::CL_GROUP_READ,
        }
    }

    const fn write(self) -> &'static Access {
        match self {
            Self::Admin | Self::Allotment => &perm::CL_ADMIN_ASSIGN,
            Self::User | Self::Me => &perm::CL_USER_ASSIGN,
            Self::Group => &perm::CL_GROUP_ASSIGN,
        }
    }

    const fn usage_rights(self) -> &'static Access {
        match self {
            Self::Me => &perm::CL_ME_USAGE_RIGHTS,
            Self::Group => &perm::CL_GROUP_USAGE_RIGHTS,
            _ => &perm::CL_USER_USAGE_RIGHTS,
        }
    }
}

/// A resolved collection owner.
#[derive(Debug, Clone)]
pub enum Scope {
    Admin,
    Allotment(allot_core::ids::SubscriptionId, String),
    User(User),
    Group(Group),
}

impl Scope {
    /// The `@odata.context` path of the scope's `cloudLicensing` navigation.
    fn fragment(&self) -> String {
        match self {
            Self::Admin => "admin/cloudLicensing".to_owned(),
            Self::Allotment(_, id) => format!("admin/cloudLicensing/allotments('{id}')"),
            Self::User(u) => format!("users('{}')/cloudLicensing", u.id),
            Self::Group(g) => format!("groups('{}')/cloudLicensing", g.id),
        }
    }

    fn principal(&self) -> Option<MemberRef> {
        match self {
            Self::User(u) => Some(MemberRef::User(u.id)),
            Self::Group(g) => Some(MemberRef::Group(g.id)),
            Self::Admin | Self::Allotment(..) => None,
        }
    }
}

/// What every handler works with.
pub struct Ctx {
    pub state: AppState,
    pub version: ApiVersion,
    pub tenant: Tenant,
    pub view: View,
    pub scope: Scope,
    pub kind: Kind,
    pub params: HashMap<String, String>,
}

impl Ctx {
    pub async fn new(
        state: &AppState,
        auth: &Auth,
        version: ApiVersion,
        matched: &MatchedPath,
        params: HashMap<String, String>,
        access: impl FnOnce(Kind) -> &'static Access,
    ) -> GraphResult<Self> {
        let kind = Kind::of(matched.as_str());
        check(access(kind), &auth.0.caller)?;
        let tenant = super::users::tenant_of(state, auth.0.tenant).await?;
        let view = View::load(&state.store, tenant.id).await?;
        let scope = match kind {
            Kind::Admin => Scope::Admin,
            Kind::Allotment => {
                let aid = params.get("aid").cloned().unwrap_or_default();
                let a = view.allotment_by_id(&aid).ok_or_else(|| not_found(&aid))?;
                Scope::Allotment(a.sub.id, aid)
            }
            Kind::User | Kind::Me => {
                let key = if kind == Kind::Me {
                    auth.me()?.to_string()
                } else {
                    params.get("uid").cloned().unwrap_or_default()
                };
                Scope::User(resolve_user(state, &tenant, &key).await?)
            }
            Kind::Group => {
                let key = params.get("gid").cloned().unwrap_or_default();
                let g = GroupId::parse(&key).ok();
                let found = match g {
                    Some(g) => state.store.group(tenant.id, g).await?,
                    None => None,
                };
                Scope::Group(found.ok_or_else(|| not_found(&key))?)
            }
        };
        Ok(Self {
            state: state.clone(),
            version,
            tenant,
            view,
            scope,
            kind,
            params,
        })
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// `{base}/beta/$metadata#{scope}/{rest}`.
    pub fn context(&self, rest: &str) -> String {
        context_url(self.version, &format!("{}/{rest}", self.scope.fragment()))
    }

    /// The scope's assignments (an allotment's: those drawn from it).
    pub async fn assignments(&self) -> GraphResult<Vec<model::Assignment>> {
        let mut all = self
            .view
            .assignments(&self.state.store, self.scope.principal())
            .await?;
        if let Scope::Allotment(sub, _) = &self.scope {
            all.retain(|a| a.allotment == *sub);
        }
        Ok(all)
    }

    pub async fn assignment(&self) -> GraphResult<model::Assignment> {
        let id = self.param("id");
        self.assignments()
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))
    }

    fn scope_user(&self) -> Option<UserId> {
        match &self.scope {
            Scope::User(u) => Some(u.id),
            _ => None,
        }
    }
}

async fn resolve_user(state: &AppState, tenant: &Tenant, key: &str) -> GraphResult<User> {
    state
        .store
        .find_user(tenant.id, key)
        .await?
        .ok_or_else(|| not_found(key))
}

// ---- shared rendering helpers --------------------------------------------------------------

/// Keeps `@odata.type` and the selected properties.
fn pick(mut m: Map<String, Value>, odata_type: &str, select: Option<&[&str]>) -> Map<String, Value> {
    if let Some(s) = select {
        m.retain(|k, _| s.contains(&k.as_str()));
    }
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!(odata_type));
    out.extend(m);
    out
}

/// One page of `items` ordered by `key`, continuing after `$skiptoken`, and the next token.
fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    top: usize,
    after: Option<&str>,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.is_none_or(|a| key(i).as_str() > a))
        .collect();
    let more = rest.len() > top;
    rest.truncate(top);
    let next = if more { rest.last().map(&key) } else { None };
    (rest, next)
}

/// `{"@odata.context", "@odata.nextLink"?, "value"}`.
fn collection_body(context: String, next: Option<String>, values: Vec<Value>) -> Value {
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context));
    if let Some(n) = next {
        body.insert("@odata.nextLink".into(), json!(n));
    }
    body.insert("value".into(), Value::Array(values));
    Value::Object(body)
}

fn entity_body(context: String, mut m: Map<String, Value>) -> Response {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    out.append(&mut m);
    json_response(StatusCode::OK, &Value::Object(out))
}

/// `#set` or `#set(a,b)` for a selected collection; `…/$entity` for one entity.
fn with_select(set: &str, select: Option<&[&str]>) -> String {
    match select {
        Some(s) => format!("{set}({})", s.join(",")),
        None => set.to_owned(),
    }
}

/// The list options common to every collection: `$select`, `$top`, `$skiptoken`, `$expand`,
/// `$filter` (when the entity has `skuId`).
pub struct ListOptions {
    pub select: Option<Vec<&'static str>>,
    pub top: usize,
    pub after: Option<String>,
    pub expand: Vec<Expand>,
    pub filter: SkuFilter,
}

impl ListOptions {
    fn parse(
        q: &ODataQuery,
        entity: &str,
        props: &[&'static str],
        navs: &[&'static str],
        filterable: Option<bool>,
        extra: &[&str],
    ) -> GraphResult<Self> {
        let mut allowed = vec!["$select", "$top", "$skiptoken", "$expand", "$filter"];
        allowed.extend_from_slice(extra);
        q.only(&allowed).map_err(|e| invalid_query(e.message))?;
        let filter = match (q.filter(), filterable) {
            (None, _) => SkuFilter::default(),
            (Some(f), Some(services)) => parse_filter(f, services)?,
            (Some(_), None) => {
                return Err(invalid_query(format!(
                    "'$filter' is not supported on the {entity} collection."
                )));
            }
        };
        Ok(Self {
            select: parse_select(q.raw("$select"), entity, props)?,
            top: q.top(100, 999).map_err(|e| invalid_query(e.message))?,
            after: q.raw("$skiptoken").map(str::to_owned),
            expand: parse_expand(q.raw("$expand"), navs)?,
            filter,
        })
    }

    /// Single entities take `$select` and `$expand` only.
    fn parse_one(
        q: &ODataQuery,
        entity: &str,
        props: &[&'static str],
        navs: &[&'static str],
    ) -> GraphResult<Self> {
        q.only(&["$select", "$expand"])
            .map_err(|e| invalid_query(e.message))?;
        Ok(Self {
            select: parse_select(q.raw("$select"), entity, props)?,
            top: 1,
            after: None,
            expand: parse_expand(q.raw("$expand"), navs)?,
            filter: SkuFilter::default(),
        })
    }
}
