//! The Graph response kit: the one way a handler answers a collection (a keyset page with
//! `@odata.context`, `@odata.count` and `@odata.nextLink`), names the user of a `/users/{id}/…`
//! or `/me/…` route, and turns the store's `NotFound` into Graph's 404.

use std::future::Future;

use allot_core::ids::{UserId, UserKey};
use allot_odata::schema::EntitySchema;
use allot_odata::validate::Cond;
use allot_store::StoreError;
use allot_store::records::User;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::json_response;
use super::perm::Access;
use super::query::ODataQuery;
use super::users::resolve_user;
use crate::state::AppState;

/// A collection answer: `@odata.context`, then `@odata.count` and `@odata.nextLink` when they
/// apply, then `value`, in the order Graph writes them.
pub struct Collection {
    context: String,
    count: Option<i64>,
    next: Option<String>,
    values: Vec<Value>,
}

impl Collection {
    #[must_use]
    pub const fn new(context: String, values: Vec<Value>) -> Self {
        Self {
            context,
            count: None,
            next: None,
            values,
        }
    }

    #[must_use]
    pub const fn count(mut self, count: Option<i64>) -> Self {
        self.count = count;
        self
    }

    #[must_use]
    pub fn next(mut self, link: Option<String>) -> Self {
        self.next = link;
        self
    }

    #[must_use]
    pub fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("@odata.context".into(), json!(self.context));
        if let Some(n) = self.count {
            body.insert("@odata.count".into(), json!(n));
        }
        if let Some(n) = self.next {
            body.insert("@odata.nextLink".into(), json!(n));
        }
        body.insert("value".into(), Value::Array(self.values));
        json_response(StatusCode::OK, &Value::Object(body))
    }
}

/// One keyset page: `fetch(after, limit)` is asked for up to `top + 1` rows after the request's
/// `$skiptoken`; the extra row only tells that a next page exists. Returns at most `top` rows and
/// the `@odata.nextLink` that continues after the last one (by its `key`).
pub async fn keyset_page<T, Fut>(
    q: &ODataQuery,
    top: usize,
    key: impl Fn(&T) -> Uuid,
    fetch: impl FnOnce(Option<Uuid>, i64) -> Fut,
) -> GraphResult<(Vec<T>, Option<String>)>
where
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let limit = i64::try_from(top + 1).unwrap_or(1000);
    let mut rows = fetch(q.after()?, limit).await?;
    let more = rows.len() > top;
    rows.truncate(top);
    let next = if more {
        rows.last().map(|r| q.next_link(key(r)))
    } else {
        None
    };
    Ok((rows, next))
}

/// One page of users or groups: `$filter`/`$search` conditions, `$orderby` (spec §4.5: with a
/// filter only in advanced mode) then object id, keyset-paged on the sort keys, so a walk neither
/// repeats nor skips a row while rows are added. Returns at most `top` rows and the next link.
pub async fn directory_page<T: allot_store::store::Listed>(
    state: &AppState,
    q: &ODataQuery,
    tenant: allot_core::ids::TenantId,
    scope: Option<Uuid>,
    cond: Option<&Cond>,
    schema: &EntitySchema,
    top: usize,
) -> GraphResult<(Vec<T>, Option<String>)> {
    let order = q.orderby(schema, cond.is_some())?;
    let after = q.after_keys()?;
    let limit = i64::try_from(top + 1).unwrap_or(1000);
    let mut rows = state
        .store
        .sorted_page_in::<T>(tenant, scope, cond, &order, after.as_deref(), limit)
        .await?;
    let more = rows.len() > top;
    rows.truncate(top);
    let next = if more {
        rows.last().map(|(_, k)| q.next_link_keys(k))
    } else {
        None
    };
    Ok((rows.into_iter().map(|(t, _)| t).collect(), next))
}

/// `@odata.count`: counted only when `$count=true` asks for it, and on the first page only.
pub async fn first_page_count<Fut>(q: &ODataQuery, count: impl FnOnce() -> Fut) -> GraphResult<Option<i64>>
where
    Fut: Future<Output = Result<i64, StoreError>>,
{
    if q.count()? && q.is_first_page() {
        Ok(Some(count().await?))
    } else {
        Ok(None)
    }
}

/// A directory collection's `/$count` (spec §4.5): `$filter` and `$search` only, only with
/// `ConsistencyLevel: eventual`; `count` is asked with the validated conditions.
pub async fn count_segment<Fut>(
    q: &ODataQuery,
    schema: &EntitySchema,
    count: impl FnOnce(Option<Cond>) -> Fut,
) -> GraphResult<Response>
where
    Fut: Future<Output = Result<i64, StoreError>>,
{
    q.only(&["$filter", "$search"])?;
    let cond = q.count_segment_conditions(schema)?;
    Ok(super::count_response(count(cond).await?))
}

/// The store's `NotFound` as Graph's 404 naming `key`; every other error as it maps.
pub trait OrNotFound<T> {
    fn or_not_found(self, key: &str) -> GraphResult<T>;
}

impl<T> OrNotFound<T> for Result<T, StoreError> {
    fn or_not_found(self, key: &str) -> GraphResult<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => GraphError::resource_not_found(key),
            e => e.into(),
        })
    }
}

/// The user a route is about: `/users/{id | userPrincipalName}/…` names one, `/me/…` means the
/// signed-in user of a delegated token.
#[derive(Debug, Clone)]
pub enum Target {
    Key(String),
    Me,
}

impl<S: Send + Sync> FromRequestParts<S> for Target {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| GraphError::bad_request("The request path could not be read."))?;
        Ok(params
            .iter()
            .find(|(name, _)| *name == "id")
            .map_or(Self::Me, |(_, v)| Self::Key(v.to_owned())))
    }
}

impl Target {
    /// Checks the caller against `users` (for `/users/{id}`) or `me` (for `/me`, which needs a
    /// delegated token: an app-only call is Graph's 400 first).
    pub fn authorize(&self, auth: &Auth, users: &Access, me: &Access) -> GraphResult<()> {
        match self {
            Self::Key(_) => users.check(&auth.0.caller),
            Self::Me => {
                auth.me()?;
                me.check(&auth.0.caller)
            }
        }
    }

    /// The user, in the caller's tenant (404 otherwise).
    pub async fn user(&self, state: &AppState, auth: &Auth) -> GraphResult<User> {
        match self {
            Self::Key(key) => resolve_user(state, auth.0.tenant, key).await,
            Self::Me => resolve_user(state, auth.0.tenant, &self.key(auth)?).await,
        }
    }

    /// The user's object id when the target names one (an object id, or `/me`), so that a change
    /// can go to the store without a lookup first (the store answers `NotFound` for an id that
    /// names nobody); `None` for a userPrincipalName.
    pub fn user_id(&self, auth: &Auth) -> GraphResult<Option<UserId>> {
        match self {
            Self::Key(key) => Ok(match UserKey::parse(key) {
                Some(UserKey::Id(id)) => Some(id),
                _ => None,
            }),
            Self::Me => auth.me().map(Some),
        }
    }

    /// How a 404 names the target: the key as sent, or the signed-in user's object id.
    pub fn key(&self, auth: &Auth) -> GraphResult<String> {
        match self {
            Self::Key(k) => Ok(k.clone()),
            Self::Me => Ok(auth.me()?.to_string()),
        }
    }
}
