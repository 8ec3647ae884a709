//! A customer user's licenses (L1/L2), license updates (L3) and the customer's subscribed SKUs
//! (S1/S2), by license group. The same assignments and units as Graph's `licenseDetails`,
//! `assignLicense` and `subscribedSkus`.

use std::collections::BTreeSet;

use allot_core::catalog::{Sku, TenantCatalog};
use allot_core::ids::{ServicePlanId, SkuId};
use allot_core::licensing::{AddLicense, LicenseChange, effective_licenses};
use allot_core::partner::{LicenseGroup, Operation, ProductSku, plan_target_type};
use allot_store::StoreError;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::access::{Area, PcCaller};
use super::body::{self, PcJson};
use super::error::{PcError, PcResult};
use super::users::resolve_user;
use super::{attributes, json_response};
use crate::state::AppState;

/// The `licenseGroupIds` of the query (repeated key, any case); group1 alone when absent.
fn license_groups(uri: &Uri) -> PcResult<BTreeSet<LicenseGroup>> {
    let mut out = BTreeSet::new();
    for (k, v) in super::query_pairs(uri) {
        if k.eq_ignore_ascii_case("licenseGroupIds") {
            for part in v.split(',').filter(|p| !p.trim().is_empty()) {
                out.insert(
                    LicenseGroup::parse(part).ok_or_else(|| PcError::bad_enum("licenseGroupIds", part))?,
                );
            }
        }
    }
    if out.is_empty() {
        out.insert(LicenseGroup::Group1);
    }
    Ok(out)
}

fn product_sku_json(p: &ProductSku, with_target: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "name": p.name,
        "skuPartNumber": p.sku_part_number,
    });
    if with_target {
        v["targetType"] = json!(p.target_type);
    }
    v["licenseGroupId"] = json!(p.license_group.as_str());
    v
}

fn plans_json(sku: &Sku, product: &ProductSku, status: &str, skip: &[ServicePlanId]) -> Vec<Value> {
    if !product.shows_plans() {
        return Vec::new();
    }
    sku.plans
        .iter()
        .filter(|p| !skip.contains(&p.id))
        .map(|p| {
            json!({
                "displayName": p.display_name,
                "serviceName": p.name,
                "id": p.id,
                "capabilityStatus": status,
                "targetType": plan_target_type(&p.name),
            })
        })
        .collect()
}

/// # `GET /v1/customers/{cid}/users/{uid}/licenses[?licenseGroupIds=Group1&licenseGroupIds=Group2]`
/// The SKUs the user holds (directly or through a group), by product name. A plan the user has
/// disabled is left out: the listed plans are the assigned ones.
pub async fn list_licenses(
    State(state): State<AppState>,
    caller: PcCaller,
    Path((cid, uid)): Path<(String, String)>,
    uri: Uri,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::ReadLicenses, Area::Licensing)
        .await?;
    let groups = license_groups(&uri)?;
    let user = resolve_user(&state, c.tenant.id, &uid).await?;
    let catalog = state.store.tenant_catalog(c.tenant.id).await?;
    let assignments = state.store.assignments(c.tenant.id, user.id).await?;
    let mut items: Vec<(String, Value)> = Vec::new();
    for eff in effective_licenses(&assignments) {
        let Some(sku) = catalog.sku(eff.sku) else {
            continue;
        };
        let product = ProductSku::of(sku);
        if !groups.contains(&product.license_group) {
            continue;
        }
        items.push((
            product.name.clone(),
            json!({
                "servicePlans": plans_json(sku, &product, "Assigned", &eff.disabled_plans),
                "productSku": product_sku_json(&product, false),
                "attributes": attributes("License"),
            }),
        ));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let items = items.into_iter().map(|(_, v)| v).collect();
    Ok(json_response(StatusCode::OK, &super::collection(items)))
}

/// # `GET /v1/customers/{cid}/subscribedskus[?licenseGroupIds=...]`
/// `totalUnits = activeUnits + warningUnits`, `availableUnits = totalUnits − consumedUnits`.
pub async fn list_subscribed_skus(
    State(state): State<AppState>,
    caller: PcCaller,
    Path(cid): Path<String>,
    uri: Uri,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::ReadSubscribedSkus, Area::Licensing)
        .await?;
    let groups = license_groups(&uri)?;
    let catalog = state.store.tenant_catalog(c.tenant.id).await?;
    let mut items = Vec::new();
    for u in state.store.sku_units(c.tenant.id).await? {
        let Some(sku) = catalog.sku(u.sku_id) else {
            continue;
        };
        let product = ProductSku::of(sku);
        if !groups.contains(&product.license_group) {
            continue;
        }
        let total = u.enabled + u.warning;
        items.push(json!({
            "availableUnits": total - u.consumed,
            "activeUnits": u.enabled,
            "consumedUnits": u.consumed,
            "suspendedUnits": u.suspended + u.locked_out,
            "totalUnits": total,
            "warningUnits": u.warning,
            "productSku": product_sku_json(&product, true),
            "servicePlans": plans_json(sku, &product, "Enabled", &[]),
            "capabilityStatus": u.capability_status(),
            "attributes": attributes("SubscribedSku"),
        }));
    }
    Ok(json_response(StatusCode::OK, &super::collection(items)))
}

/// A `LicenseUpdate` body, read case-insensitively (the .NET SDK's PascalCase with nulls, and
/// PowerShell's empty arrays, both work).
struct Update {
    assign: Vec<(SkuId, Vec<ServicePlanId>)>,
    remove: Vec<SkuId>,
}

fn parse_update(b: &Map<String, Value>) -> PcResult<Update> {
    let sku_id = |s: &str| {
        SkuId::parse(s).map_err(|_| PcError::bad_input(format!("The product SKU id '{s}' is not valid.")))
    };
    let mut assign = Vec::new();
    for item in body::array(b, "licensesToAssign")? {
        let m = item
            .as_object()
            .ok_or_else(|| PcError::bad_input("Each of licensesToAssign must be an object."))?;
        let sku = body::string(m, "skuId")?
            .ok_or_else(|| PcError::bad_input("A license to assign needs a skuId."))?;
        let mut excluded = Vec::new();
        for p in body::array(m, "excludedPlans")? {
            let s = p
                .as_str()
                .ok_or_else(|| PcError::bad_input("excludedPlans must hold service plan ids."))?;
            excluded.push(
                ServicePlanId::parse(s)
                    .map_err(|_| PcError::bad_input(format!("The service plan id '{s}' is not valid.")))?,
            );
        }
        assign.push((sku_id(&sku)?, excluded));
    }
    let mut remove = Vec::new();
    for item in body::array(b, "licensesToRemove")? {
        let s = item
            .as_str()
            .ok_or_else(|| PcError::bad_input("licensesToRemove must hold product SKU ids."))?;
        remove.push(sku_id(s)?);
    }
    if assign.is_empty() && remove.is_empty() {
        return Err(PcError::bad_input(
            "The license update must assign or remove at least one license.",
        ));
    }
    Ok(Update { assign, remove })
}

/// Every SKU of the request is one the customer subscribes to, and all are of one license group.
fn check_skus(u: &Update, catalog: &TenantCatalog, subscribed: &BTreeSet<SkuId>) -> PcResult<()> {
    let mut groups = BTreeSet::new();
    for sku in u.assign.iter().map(|(s, _)| *s).chain(u.remove.iter().copied()) {
        let known = catalog.sku(sku).filter(|_| subscribed.contains(&sku));
        let Some(s) = known else {
            return Err(PcError::bad_input(format!(
                "The product SKU {sku} is not one of the customer's subscribed SKUs."
            )));
        };
        groups.insert(ProductSku::of(s).license_group);
    }
    if groups.len() > 1 {
        return Err(PcError::bad_input(
            "A license update can only contain licenses of one license group.",
        ));
    }
    Ok(())
}

/// # `POST /v1/customers/{cid}/users/{uid}/licenseupdates`
/// Assigns and removes in one all-or-nothing change; 201 with the echo and `licenseWarnings`.
/// No unit left is seed 002's 400 / 60012.
pub async fn update_licenses(
    State(state): State<AppState>,
    caller: PcCaller,
    Path((cid, uid)): Path<(String, String)>,
    PcJson(b): PcJson,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::UpdateLicenses, Area::Licensing)
        .await?;
    let update = parse_update(&b)?;
    let user = resolve_user(&state, c.tenant.id, &uid).await?;
    let catalog = state.store.tenant_catalog(c.tenant.id).await?;
    let subscribed: BTreeSet<SkuId> = state
        .store
        .sku_units(c.tenant.id)
        .await?
        .into_iter()
        .map(|u| u.sku_id)
        .collect();
    check_skus(&update, &catalog, &subscribed)?;
    let change = LicenseChange {
        add: update
            .assign
            .iter()
            .map(|(sku, excluded)| AddLicense {
                sku: *sku,
                disabled_plans: excluded.clone(),
            })
            .collect(),
        remove: update.remove.clone(),
    };
    match state
        .operations
        .change_user_licenses(
            &crate::operations::actor(&caller.0, crate::operations::PARTNER_CENTER),
            c.tenant.id,
            user.id,
            &change,
        )
        .await
    {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(PcError::user_not_found(&uid)),
        Err(StoreError::License(e)) => return Err(PcError::license(&e, &c.tenant.id.to_string())),
        Err(e) => return Err(e.into()),
    }
    let mut out = Map::new();
    if !update.assign.is_empty() {
        let assigned: Vec<Value> = update
            .assign
            .iter()
            .map(|(sku, excluded)| {
                let mut v = json!({ "skuId": sku });
                if !excluded.is_empty() {
                    v["excludedPlans"] = json!(excluded);
                }
                v
            })
            .collect();
        out.insert("licensesToAssign".into(), json!(assigned));
    }
    if !update.remove.is_empty() {
        out.insert("licensesToRemove".into(), json!(update.remove));
    }
    out.insert("licenseWarnings".into(), json!([]));
    out.insert("attributes".into(), attributes("LicenseUpdate"));
    Ok(json_response(StatusCode::CREATED, &Value::Object(out)))
}
