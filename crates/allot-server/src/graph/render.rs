//! Graph's JSON shapes for users, groups, subscribed SKUs and license details, with `$select`.
//! <https://learn.microsoft.com/en-us/graph/api/resources/user>,
//! <https://learn.microsoft.com/en-us/graph/api/resources/group>,
//! <https://learn.microsoft.com/en-us/graph/api/resources/subscribedsku>

use allot_core::catalog::{TenantCatalog, service_name_for_plan};
use allot_core::ids::{SkuId, UserId};
use allot_core::licensing::{Assignment, effective_licenses};
use allot_store::records::{Group, SkuUnits, Tenant, User};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// Graph's timestamp form: UTC, seconds, `Z`.
#[must_use]
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The properties a user has without `$select` (v1.0).
pub const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Every user property `$select` may name.
pub const USER_PROPS: &[&str] = &[
    "id",
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "accountEnabled",
    "usageLocation",
    "assignedLicenses",
    "assignedPlans",
    "licenseAssignmentStates",
    "provisionedPlans",
    "createdDateTime",
    "deletedDateTime",
    "mailNickname",
    "otherMails",
    "proxyAddresses",
    "userType",
    "onPremisesImmutableId",
];

/// The user properties that need the user's license assignments.
pub const USER_LICENSE_PROPS: &[&str] = &[
    "assignedLicenses",
    "assignedPlans",
    "licenseAssignmentStates",
    "provisionedPlans",
];

#[must_use]
pub fn needs_licenses(select: Option<&[&str]>) -> bool {
    select.is_some_and(|s| s.iter().any(|p| USER_LICENSE_PROPS.contains(p)))
}

/// A user's license state, for the license properties.
#[derive(Clone, Copy)]
pub struct Licenses<'a> {
    pub catalog: &'a TenantCatalog,
    pub assignments: &'a [Assignment],
}

pub fn user_json(u: &User, select: Option<&[&str]>, lic: Option<Licenses<'_>>) -> Map<String, Value> {
    let mut m = Map::new();
    for &p in select.unwrap_or(USER_DEFAULT) {
        m.insert(p.to_owned(), user_prop(u, p, lic));
    }
    m
}

fn user_prop(u: &User, p: &str, lic: Option<Licenses<'_>>) -> Value {
    match p {
        "id" => json!(u.id.to_string()),
        "businessPhones" | "otherMails" => json!([]),
        "displayName" => json!(u.display_name),
        "givenName" => json!(u.given_name),
        "surname" => json!(u.surname),
        "jobTitle" => json!(u.job_title),
        "mail" => json!(u.mail),
        "userPrincipalName" => json!(u.user_principal_name),
        "accountEnabled" => json!(u.account_enabled),
        "usageLocation" => json!(u.usage_location),
        "createdDateTime" => json!(timestamp(u.created_at)),
        "mailNickname" => json!(u.mail_nickname),
        "proxyAddresses" => json!(u.mail.iter().map(|m| format!("SMTP:{m}")).collect::<Vec<_>>()),
        "userType" => json!("Member"),
        "assignedLicenses" => lic.map_or(json!([]), |l| assigned_licenses(l.assignments)),
        "assignedPlans" => lic.map_or(json!([]), assigned_plans),
        "licenseAssignmentStates" => lic.map_or(json!([]), |l| assignment_states(l.assignments)),
        "provisionedPlans" => lic.map_or(json!([]), provisioned_plans),
        // mobilePhone, officeLocation, preferredLanguage, deletedDateTime, onPremisesImmutableId
        _ => Value::Null,
    }
}

/// `assignedLicenses`: one entry per held SKU; disabled plans are the sources' intersection.
#[must_use]
pub fn assigned_licenses(assignments: &[Assignment]) -> Value {
    Value::Array(
        effective_licenses(assignments)
            .into_iter()
            .map(|l| json!({"disabledPlans": l.disabled_plans, "skuId": l.sku}))
            .collect(),
    )
}

/// `assignedPlans`: every plan of every held SKU; plans every source disables show as `Deleted`
/// (what real tenants show for plans switched off, (inferred)).
fn assigned_plans(l: Licenses<'_>) -> Value {
    let mut out = Vec::new();
    for eff in effective_licenses(l.assignments) {
        let Some(sku) = l.catalog.sku(eff.sku) else {
            continue;
        };
        for plan in &sku.plans {
            let status = if eff.disabled_plans.contains(&plan.id) {
                "Deleted"
            } else {
                "Enabled"
            };
            out.push(json!({
                "assignedDateTime": timestamp(eff.assigned_at),
                "capabilityStatus": status,
                "service": service_name_for_plan(&plan.name),
                "servicePlanId": plan.id,
            }));
        }
    }
    Value::Array(out)
}

fn provisioned_plans(l: Licenses<'_>) -> Value {
    let mut out = Vec::new();
    for eff in effective_licenses(l.assignments) {
        let Some(sku) = l.catalog.sku(eff.sku) else {
            continue;
        };
        for plan in sku.plans.iter().filter(|p| !eff.disabled_plans.contains(&p.id)) {
            out.push(json!({
                "capabilityStatus": "Enabled",
                "provisioningStatus": "Success",
                "service": service_name_for_plan(&plan.name),
            }));
        }
    }
    Value::Array(out)
}

/// `licenseAssignmentStates`: one entry per (SKU, source), `error: "None"` when fine.
#[must_use]
pub fn assignment_states(assignments: &[Assignment]) -> Value {
    Value::Array(
        assignments
            .iter()
            .map(|a| {
                json!({
                    "assignedByGroup": a.source.group().map(|g| g.to_string()),
                    "disabledPlans": a.disabled_plans,
                    "error": a.error.as_str(),
                    "lastUpdatedDateTime": timestamp(a.updated_at),
                    "skuId": a.sku,
                    "state": a.state.as_str(),
                })
            })
            .collect(),
    )
}

/// A group's properties: those it has without `$select`, then `$extra` (`$select`-only ones).
macro_rules! group_properties {
    ($($extra:literal),*) => {
        &[
            "id",
            "deletedDateTime",
            "classification",
            "createdDateTime",
            "creationOptions",
            "description",
            "displayName",
            "expirationDateTime",
            "groupTypes",
            "isAssignableToRole",
            "mail",
            "mailEnabled",
            "mailNickname",
            "membershipRule",
            "membershipRuleProcessingState",
            "onPremisesSyncEnabled",
            "preferredDataLocation",
            "preferredLanguage",
            "proxyAddresses",
            "renewedDateTime",
            "resourceBehaviorOptions",
            "resourceProvisioningOptions",
            "securityEnabled",
            "securityIdentifier",
            "theme",
            "visibility",
            $($extra,)*
        ]
    };
}

/// The properties a group has without `$select`.
pub const GROUP_DEFAULT: &[&str] = group_properties!();

/// Every group property `$select` may name (`hasMembersWithLicenseErrors` is filter-only).
pub const GROUP_PROPS: &[&str] = group_properties!("assignedLicenses", "licenseProcessingState");

pub fn group_json(g: &Group, domain: &str, select: Option<&[&str]>) -> Map<String, Value> {
    let mut m = Map::new();
    for &p in select.unwrap_or(GROUP_DEFAULT) {
        m.insert(p.to_owned(), group_prop(g, domain, p));
    }
    m
}

fn group_prop(g: &Group, domain: &str, p: &str) -> Value {
    let mail = g.mail_enabled.then(|| format!("{}@{domain}", g.mail_nickname));
    match p {
        "id" => json!(g.id.to_string()),
        "createdDateTime" | "renewedDateTime" => json!(timestamp(g.created_at)),
        "creationOptions" | "resourceBehaviorOptions" | "resourceProvisioningOptions" => json!([]),
        "description" => json!(g.description),
        "displayName" => json!(g.display_name),
        "groupTypes" => json!(g.group_types),
        "mail" => json!(mail),
        "mailEnabled" => json!(g.mail_enabled),
        "mailNickname" => json!(g.mail_nickname),
        "proxyAddresses" => json!(mail.iter().map(|m| format!("SMTP:{m}")).collect::<Vec<_>>()),
        "securityEnabled" => json!(g.security_enabled),
        "securityIdentifier" => json!(security_identifier(g.id.as_uuid())),
        "visibility" => {
            if g.group_types.iter().any(|t| t == "Unified") {
                json!("Public")
            } else {
                Value::Null
            }
        }
        "assignedLicenses" => {
            json!(
                g.assigned_licenses
                    .iter()
                    .map(|l| json!({"disabledPlans": l.disabled_plans, "skuId": l.sku_id}))
                    .collect::<Vec<_>>()
            )
        }
        "licenseProcessingState" => {
            if g.assigned_licenses.is_empty() {
                Value::Null
            } else {
                json!({"state": "ProcessingComplete"})
            }
        }
        _ => Value::Null,
    }
}

/// Entra's SID form of an object id: `S-1-12-1-` and the GUID's bytes as four little-endian words.
fn security_identifier(id: uuid::Uuid) -> String {
    let b = id.to_bytes_le();
    let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    format!("S-1-12-1-{}-{}-{}-{}", w(0), w(4), w(8), w(12))
}

pub const SKU_PROPS: &[&str] = &[
    "accountId",
    "accountName",
    "appliesTo",
    "capabilityStatus",
    "consumedUnits",
    "id",
    "prepaidUnits",
    "servicePlans",
    "skuId",
    "skuPartNumber",
    "subscriptionIds",
];

/// `subscribedSku.id`: `{tenantId}_{skuId}`.
#[must_use]
pub fn subscribed_sku_id(tenant: &Tenant, sku: SkuId) -> String {
    format!("{}_{sku}", tenant.id)
}

pub fn subscribed_sku_json(
    tenant: &Tenant,
    units: &SkuUnits,
    catalog: &TenantCatalog,
    select: Option<&[&str]>,
) -> Map<String, Value> {
    let sku = catalog.sku(units.sku_id);
    let mut m = Map::new();
    for &p in select.unwrap_or(SKU_PROPS) {
        let v = match p {
            "accountId" => json!(tenant.id.to_string()),
            "accountName" => json!(tenant.display_name),
            "appliesTo" => json!(sku.map_or("User", |s| s.applies_to.as_str())),
            "capabilityStatus" => json!(units.capability_status()),
            "consumedUnits" => json!(units.consumed),
            "id" => json!(subscribed_sku_id(tenant, units.sku_id)),
            "prepaidUnits" => json!({
                "enabled": units.enabled,
                "suspended": units.suspended,
                "warning": units.warning,
                "lockedOut": units.locked_out,
            }),
            "servicePlans" => json!(sku.map_or_else(Vec::new, |s| {
                s.plans
                    .iter()
                    .map(|p| {
                        json!({
                            "servicePlanId": p.id,
                            "servicePlanName": p.name,
                            "provisioningStatus": "Success",
                            "appliesTo": s.applies_to.as_str(),
                        })
                    })
                    .collect()
            })),
            "skuId" => json!(units.sku_id),
            "skuPartNumber" => json!(sku.map(|s| s.part_number.clone())),
            "subscriptionIds" => json!(units.subscription_ids),
            _ => Value::Null,
        };
        m.insert(p.to_owned(), v);
    }
    m
}

pub const LICENSE_DETAILS_PROPS: &[&str] = &["id", "servicePlans", "skuId", "skuPartNumber"];

/// `licenseDetails.id`: the user's and the SKU's GUID bytes, base64url (43 characters, like
/// Graph's ids), so that it can be decoded back.
#[must_use]
pub fn license_details_id(user: UserId, sku: SkuId) -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(user.as_uuid().as_bytes());
    bytes.extend_from_slice(sku.as_uuid().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

#[must_use]
pub fn parse_license_details_id(id: &str) -> Option<(UserId, SkuId)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let user = uuid::Uuid::from_slice(&bytes[..16]).ok()?;
    let sku = uuid::Uuid::from_slice(&bytes[16..]).ok()?;
    Some((UserId::from_uuid(user), SkuId::from_uuid(sku)))
}

/// One `licenseDetails` entry per held SKU (direct and inherited).
pub fn license_details_json(user: UserId, l: Licenses<'_>, select: Option<&[&str]>) -> Vec<Value> {
    effective_licenses(l.assignments)
        .into_iter()
        .map(|eff| {
            let sku = l.catalog.sku(eff.sku);
            let mut m = Map::new();
            for &p in select.unwrap_or(LICENSE_DETAILS_PROPS) {
                let v = match p {
                    "id" => json!(license_details_id(user, eff.sku)),
                    "skuId" => json!(eff.sku),
                    "skuPartNumber" => json!(sku.map(|s| s.part_number.clone())),
                    "servicePlans" => json!(sku.map_or_else(Vec::new, |s| {
                        s.plans
                            .iter()
                            .map(|p| {
                                let status = if eff.disabled_plans.contains(&p.id) {
                                    "Disabled"
                                } else {
                                    "Success"
                                };
                                json!({
                                    "servicePlanId": p.id,
                                    "servicePlanName": p.name,
                                    "provisioningStatus": status,
                                    "appliesTo": "User",
                                })
                            })
                            .collect()
                    })),
                    _ => Value::Null,
                };
                m.insert(p.to_owned(), v);
            }
            Value::Object(m)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_details_ids_round_trip_and_look_like_graphs() {
        let (u, s) = (UserId::new(), SkuId::new());
        let id = license_details_id(u, s);
        assert_eq!(id.len(), 43);
        assert_eq!(parse_license_details_id(&id), Some((u, s)));
        assert_eq!(parse_license_details_id("abc"), None);
    }

    #[test]
    fn security_identifier_has_entras_shape() {
        let sid = security_identifier(uuid::Uuid::nil());
        assert_eq!(sid, "S-1-12-1-0-0-0-0");
    }
}
