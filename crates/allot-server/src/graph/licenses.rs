//! Direct licensing: `POST /users/{id}/assignLicense`, `GET /users/{id}/licenseDetails`.
//! <https://learn.microsoft.com/en-us/graph/api/user-assignlicense>,
//! <https://learn.microsoft.com/en-us/graph/api/user-list-licensedetails>

use allot_core::ids::{ServicePlanId, SkuId};
use allot_core::licensing::{AddLicense, LicenseChange};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::error::{GraphError, GraphResult};
use super::extract::{Auth, JsonObject};
use super::kit::{Collection, OrNotFound, Target};
use super::query::ODataQuery;
use super::render::{self, LICENSE_DETAILS_PROPS, Licenses};
use super::users::{resolve_user, user_entity};
use super::{ApiVersion, context_url, json_response, perm};
use crate::state::AppState;

const OPERATION: &str = "assignLicense";

fn null_in(expected: &str) -> GraphError {
    GraphError::bad_request(format!(
        "A null value was found with the expected type '{expected}[Nullable=False]'. The expected type '{expected}[Nullable=False]' does not allow null values."
    ))
}

fn guid(v: &Value, what: &str) -> GraphResult<uuid::Uuid> {
    match v {
        Value::Null => Err(null_in(what)),
        Value::String(s) => allot_core::ids::parse_guid(s).map_err(|_| {
            GraphError::bad_request(format!(
                "Cannot convert the literal '{s}' to the expected type 'Edm.Guid'."
            ))
        }),
        other => Err(GraphError::bad_request(format!(
            "Cannot convert the literal '{other}' to the expected type 'Edm.Guid'."
        ))),
    }
}

/// Parses an `assignLicense` body the way Graph does: both parameters are required (an empty
/// array is fine), nulls are refused, unknown parameters are refused.
pub fn parse_license_change(b: &Map<String, Value>) -> GraphResult<LicenseChange> {
    for key in b.keys() {
        if key != "addLicenses" && key != "removeLicenses" && !key.starts_with("@odata.") {
            return Err(GraphError::bad_request(format!(
                "The parameter '{key}' in the request payload is not a valid parameter for the operation '{OPERATION}'."
            )));
        }
    }
    let missing: Vec<&str> = ["addLicenses", "removeLicenses"]
        .into_iter()
        .filter(|k| !b.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(GraphError::bad_request(format!(
            "One or more parameters of the operation '{OPERATION}' are missing from the request payload. The missing parameters are: {}.",
            missing.join(", ")
        )));
    }
    let collection = |name: &str, item: &str| -> GraphResult<&Vec<Value>> {
        match &b[name] {
            Value::Array(a) => Ok(a),
            Value::Null => Err(GraphError::bad_request(format!(
                "A null value was found for the property named '{name}', which has the expected type 'Collection({item})[Nullable=False]'. The expected type 'Collection({item})[Nullable=False]' does not allow null values."
            ))),
            _ => Err(GraphError::bad_request(format!(
                "An unexpected value was found for the parameter '{name}'; a collection of '{item}' was expected."
            ))),
        }
    };
    let mut change = LicenseChange::default();
    for entry in collection("addLicenses", "microsoft.graph.assignedLicense")? {
        let Value::Object(obj) = entry else {
            return Err(if entry.is_null() {
                null_in("microsoft.graph.assignedLicense")
            } else {
                GraphError::bad_request("An assignedLicense entry must be an object.")
            });
        };
        for key in obj.keys() {
            if key != "skuId" && key != "disabledPlans" && !key.starts_with("@odata.") {
                return Err(GraphError::property_not_declared(key));
            }
        }
        let sku = SkuId::from_uuid(guid(obj.get("skuId").unwrap_or(&Value::Null), "Edm.Guid")?);
        let disabled_plans = match obj.get("disabledPlans") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|p| guid(p, "Edm.Guid").map(ServicePlanId::from_uuid))
                .collect::<GraphResult<Vec<_>>>()?,
            Some(Value::Null) => return Err(null_in("Collection(Edm.Guid)")),
            Some(_) => {
                return Err(GraphError::bad_request(
                    "disabledPlans must be a collection of GUIDs.",
                ));
            }
        };
        change.add.push(AddLicense { sku, disabled_plans });
    }
    for entry in collection("removeLicenses", "Edm.Guid")? {
        change.remove.push(SkuId::from_uuid(guid(entry, "Edm.Guid")?));
    }
    if change.add.is_empty() && change.remove.is_empty() {
        return Err(GraphError::bad_request(
            "No license changes provided. At least one license to add or remove must be specified.",
        ));
    }
    Ok(change)
}

/// # `POST /users/{id | userPrincipalName}/assignLicense`, `POST /me/assignLicense`
/// Synchronous and all-or-nothing: every refusal is a 400 with Graph's message, nothing changed.
pub async fn assign_license(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    target: Target,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    target.authorize(&auth, &perm::ASSIGN_LICENSE, &perm::ASSIGN_LICENSE)?;
    let change = parse_license_change(&b)?;
    // An object id goes straight to the change, which answers with the user as it stands.
    let id = match target.user_id(&auth)? {
        Some(id) => id,
        None => target.user(&state, &auth).await?.id,
    };
    let (user, assignments) = state
        .operations
        .change_user_licenses(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            auth.0.tenant,
            id,
            &change,
        )
        .await
        .or_not_found(&target.key(&auth)?)?;
    // The response is the user's default property set plus its licenses (as the docs' examples).
    let mut m = user_entity(&state, version, &user, None).await?;
    m.insert("assignedLicenses".into(), render::assigned_licenses(&assignments));
    Ok(json_response(StatusCode::OK, &Value::Object(m)))
}

/// # `GET /users/{id | userPrincipalName}/licenseDetails`, `GET /me/licenseDetails`
/// Direct and inherited licenses alike; `$select` only.
pub async fn list_license_details(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    target: Target,
    q: ODataQuery,
) -> GraphResult<Response> {
    target.authorize(&auth, &perm::LICENSE_DETAILS, &perm::ME_LICENSE_DETAILS)?;
    q.only(&["$select"])?;
    let select = q.select("licenseDetails", LICENSE_DETAILS_PROPS)?;
    let id = match target.user_id(&auth)? {
        Some(id) => id,
        None => target.user(&state, &auth).await?.id,
    };
    let Some(licenses) = state.store.user_licenses(auth.0.tenant, id).await? else {
        return Err(GraphError::resource_not_found(&target.key(&auth)?));
    };
    let values = render::license_details_json(
        id,
        Licenses {
            catalog: licenses.catalog(),
            assignments: &licenses.assignments,
        },
        select.as_deref(),
    );
    let fragment = format!("users('{id}')/licenseDetails");
    Ok(Collection::new(context_url(version, &fragment), values).into_response())
}

/// # `GET /users/{id | userPrincipalName}/licenseDetails/{id}`
pub async fn get_license_details(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path((id, detail)): Path<(String, String)>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::LICENSE_DETAILS.check(&auth.0.caller)?;
    q.only(&["$select"])?;
    let select = q.select("licenseDetails", LICENSE_DETAILS_PROPS)?;
    let user = resolve_user(&state, auth.0.tenant, &id).await?;
    let Some((owner, sku)) = render::parse_license_details_id(&detail).filter(|(u, _)| *u == user.id) else {
        return Err(GraphError::resource_not_found(&detail));
    };
    let catalog = state.store.tenant_catalog(auth.0.tenant).await?;
    let assignments = state.store.assignments(auth.0.tenant, owner).await?;
    let all = render::license_details_json(
        owner,
        Licenses {
            catalog: &catalog,
            assignments: &assignments,
        },
        None,
    );
    let Some(Value::Object(found)) = all.into_iter().find(|d| d["skuId"] == json!(sku)) else {
        return Err(GraphError::resource_not_found(&detail));
    };
    let mut m: Map<String, Value> = match select {
        Some(s) => found
            .into_iter()
            .filter(|(k, _)| s.contains(&k.as_str()))
            .collect(),
        None => found,
    };
    m.insert(
        "@odata.context".into(),
        json!(context_url(
            version,
            &format!("users('{}')/licenseDetails/$entity", owner)
        )),
    );
    Ok(json_response(StatusCode::OK, &Value::Object(m)))
}

/// Whether a service plan is a Microsoft Teams plan (`TEAMS1`, `TEAMS_FREE`, `TEAMS_EXPLORATORY`,
/// `TEAMS_GOV`, …): the ones `hasTeamsLicense` looks for. (inferred: Graph does not list them)
fn is_teams_plan(name: &str) -> bool {
    name.starts_with("TEAMS")
}

/// # `GET /users/{id | userPrincipalName}/licenseDetails/getTeamsLicensingDetails`, `GET /me/…`
/// `hasTeamsLicense`: the user holds a license whose Teams plan is enabled (by at least one of its
/// sources). The SDKs call it with `()`; both spellings are served.
/// <https://learn.microsoft.com/en-us/graph/api/licensedetails-getteamslicensingdetails>
pub async fn teams_licensing_details(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    target: Target,
    q: ODataQuery,
) -> GraphResult<Response> {
    target.authorize(&auth, &perm::LICENSE_DETAILS, &perm::ME_LICENSE_DETAILS)?;
    q.only(&[])?;
    let user = target.user(&state, &auth).await?;
    let catalog = state.store.tenant_catalog(auth.0.tenant).await?;
    let assignments = state.store.assignments(auth.0.tenant, user.id).await?;
    let has = allot_core::licensing::effective_licenses(&assignments)
        .iter()
        .filter_map(|l| catalog.sku(l.sku).map(|sku| (sku, l)))
        .any(|(sku, l)| {
            sku.plans
                .iter()
                .any(|p| is_teams_plan(&p.name) && !l.disabled_plans.contains(&p.id))
        });
    let body = json!({
        "@odata.context": context_url(version, "microsoft.graph.teamsLicensingDetails"),
        "hasTeamsLicense": has,
    });
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<LicenseChange, String> {
        let Value::Object(m) = v else { panic!() };
        parse_license_change(&m).map_err(|e| e.message)
    }

    #[test]
    fn both_arrays_are_required() {
        let err = parse(json!({"addLicenses": []})).unwrap_err();
        assert!(
            err.ends_with("The missing parameters are: removeLicenses."),
            "{err}"
        );
        let err = parse(json!({})).unwrap_err();
        assert!(
            err.ends_with("The missing parameters are: addLicenses, removeLicenses."),
            "{err}"
        );
        assert!(
            parse(json!({"addLicenses": null, "removeLicenses": []}))
                .unwrap_err()
                .contains("null value")
        );
    }

    #[test]
    fn nulls_and_bad_guids_inside_arrays_are_refused() {
        assert!(
            parse(json!({"addLicenses": [], "removeLicenses": [null]}))
                .unwrap_err()
                .contains("'Edm.Guid[Nullable=False]'")
        );
        assert!(
            parse(json!({"addLicenses": [null], "removeLicenses": []}))
                .unwrap_err()
                .contains("assignedLicense")
        );
        assert!(
            parse(json!({"addLicenses": [{"skuId": "nope"}], "removeLicenses": []}))
                .unwrap_err()
                .contains("'nope'")
        );
        assert!(
            parse(json!({"addLicenses": [{"skuId": null}], "removeLicenses": []}))
                .unwrap_err()
                .contains("null")
        );
        let sku = "6fd2c87f-b296-42f0-b197-1e91e994b900";
        assert!(
            parse(json!({"addLicenses": [{"skuId": sku, "disabledPlans": [null]}], "removeLicenses": []}))
                .is_err()
        );
        assert!(parse(json!({"addLicenses": [{"skuId": sku, "bogus": 1}], "removeLicenses": []})).is_err());
        assert!(
            parse(json!({"addLicenses": [], "removeLicenses": [], "extra": 1}))
                .unwrap_err()
                .contains("'extra'")
        );
    }

    #[test]
    fn a_valid_body_parses() {
        let sku = "6fd2c87f-b296-42f0-b197-1e91e994b900";
        let c = parse(json!({"addLicenses": [{"skuId": sku}], "removeLicenses": [sku]})).unwrap();
        assert_eq!(c.add.len(), 1);
        assert!(c.add[0].disabled_plans.is_empty());
        assert_eq!(c.remove.len(), 1);
        assert!(
            parse(json!({"addLicenses": [], "removeLicenses": []}))
                .unwrap_err()
                .starts_with("No license changes")
        );
    }
}
