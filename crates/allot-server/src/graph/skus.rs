//! `GET /subscribedSkus`, `GET /subscribedSkus/{id}`: the tenant's SKUs with their units.
//! <https://learn.microsoft.com/en-us/graph/api/subscribedsku-list>

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::kit::Collection;
use super::query::ODataQuery;
use super::render::{self, SKU_PROPS};
use super::users::tenant_of;
use super::{ApiVersion, context_url, json_response, perm};
use crate::state::AppState;

/// # `GET /subscribedSkus`
/// Unpaged; `$select` only (`$filter` is not supported upstream either).
pub async fn list_subscribed_skus(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::SUBSCRIBED_SKUS.check(&auth.0.caller)?;
    q.only(&["$select"])?;
    let select = q.select("subscribedSku", SKU_PROPS)?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let catalog = state.store.tenant_catalog(tenant.id).await?;
    let units = state.store.sku_units(tenant.id).await?;
    let values: Vec<Value> = units
        .iter()
        .map(|u| {
            Value::Object(render::subscribed_sku_json(
                &tenant,
                u,
                &catalog,
                select.as_deref(),
            ))
        })
        .collect();
    let context = ODataQuery::collection_context(version, "subscribedSkus", select.as_deref());
    Ok(Collection::new(context, values).into_response())
}

/// # `GET /subscribedSkus/{id}`
/// `id` is `{tenantId}_{skuId}`.
pub async fn get_subscribed_sku(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::SUBSCRIBED_SKUS.check(&auth.0.caller)?;
    q.only(&["$select"])?;
    let select = q.select("subscribedSku", SKU_PROPS)?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let catalog = state.store.tenant_catalog(tenant.id).await?;
    let units = state.store.sku_units(tenant.id).await?;
    let Some(u) = units
        .iter()
        .find(|u| render::subscribed_sku_id(&tenant, u.sku_id).eq_ignore_ascii_case(&id))
    else {
        return Err(GraphError::resource_not_found(&id));
    };
    let mut m = render::subscribed_sku_json(&tenant, u, &catalog, select.as_deref());
    let fragment = select.map_or_else(
        || "subscribedSkus/$entity".to_owned(),
        |s| format!("subscribedSkus({})/$entity", s.join(",")),
    );
    m.insert("@odata.context".into(), json!(context_url(version, &fragment)));
    Ok(json_response(StatusCode::OK, &Value::Object(m)))
}
