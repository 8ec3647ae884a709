//! Partner Center REST v1 over HTTP, by endpoint family; the helpers they share are here.

mod access;
mod licenses;
mod replays;
mod seeds;
mod users;

use allot_core::tenant_file::TenantFile;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const MEE: &str = "984df360-9a74-4647-8cf8-696749f6247a";
const SPE_E5: &str = "06ebc4ee-1bb5-47dd-8120-11324bc54e06";

/// An App+User Partner Center token for `upn` of `tenant` through `client_id`.
async fn pc_token_for(app: &TestApp, tenant: &str, client_id: &str, secret: &str, upn: &str) -> String {
    let r = app
        .token_request(
            tenant,
            &[
                ("grant_type", "password"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("username", upn),
                ("password", DEMO_PASSWORD),
                ("scope", PC_SCOPE),
            ],
        )
        .await;
    r.ok()["access_token"].as_str().expect("access_token").to_owned()
}

/// The demo partner admin's token.
pub(crate) async fn pc_token(app: &TestApp) -> String {
    pc_token_for(
        app,
        "partner.example",
        PARTNER_APP,
        PARTNER_SECRET,
        "admin@partner.example",
    )
    .await
}

/// A Partner Center request with extra headers.
pub(crate) async fn pc(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    app.as_caller(token).send(method, path, body, headers).await
}

pub(crate) async fn pc_get(app: &TestApp, path: &str, token: &str) -> Resp {
    pc(app, Method::GET, path, token, None, &[]).await
}

/// Asserts a Partner Center error body with this status and code; returns the body.
#[track_caller]
fn pc_error(r: &Resp, status: u16, code: u64) -> Value {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.text);
    let v = r.json();
    assert_eq!(v["code"].as_u64(), Some(code), "body: {}", r.text);
    assert_eq!(v["source"], "PartnerFD", "body: {}", r.text);
    assert!(
        v["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.text
    );
    assert!(r.headers.get("ms-requestid").is_some(), "{:?}", r.headers);
    assert!(r.headers.get("ms-correlationid").is_some(), "{:?}", r.headers);
    v
}

pub(crate) fn customers_path() -> String {
    format!("/v1/customers/{DEMO_TENANT}")
}

/// A customer with the SKUs of seeds 000–002 exactly as the docs name them, and a partner with a
/// License Administrator + Directory Readers relationship to it.
const SEED_TENANTS: &str = r"
tenants:
  - displayName: Seed Customer
    defaultDomain: seedcustomer.example
    catalog:
      skus:
        - skuId: efccb6f7-5641-4e0e-bd10-b4976e1bf68e
          skuPartNumber: EMS
          displayName: Enterprise Mobility + Security E3
          servicePlans:
            - {servicePlanId: 6c57d4b6-3b23-47a5-9bc9-69f17b4947b3, servicePlanName: RMS_S_PREMIUM, displayName: Azure Information Protection Premium P1}
            - {servicePlanId: c1ec4a95-1f05-45b3-a911-aa3fa01094f5, servicePlanName: INTUNE_A, displayName: Microsoft Intune A Direct}
            - {servicePlanId: bea4c11e-220a-4e6d-8eb8-8ea15d019f90, servicePlanName: RMS_S_ENTERPRISE, displayName: Microsoft Azure Active Directory Rights}
            - {servicePlanId: 41781fb2-bc02-4b7c-bd55-b576c07bb09d, servicePlanName: AAD_PREMIUM, displayName: Azure Active Directory Premium P1}
            - {servicePlanId: 8a256a2b-b617-496d-b51b-e76466e88db0, servicePlanName: MFA_PREMIUM, displayName: Microsoft Azure Multi-Factor Authentication}
        - skuId: 1e7e1070-8ccb-4aca-b470-d7cb538cb07e
          skuPartNumber: WIN_ENT_E5
          displayName: Windows 10 Enterprise E5
          servicePlans:
            - {servicePlanId: 871d91ec-ec1a-452b-a83f-bd76c7d770ef, servicePlanName: WINDEFATP, displayName: Windows Defender Advanced Threat Protection}
            - {servicePlanId: 21b439ba-a0ca-424f-a6cc-52f954a5b111, servicePlanName: WIN10_PRO_ENT_SUB, displayName: Windows 10 Enterprise E3}
        - skuId: 984df360-9a74-4647-8cf8-696749f6247a
          skuPartNumber: MEE_FACULTY
          displayName: Minecraft Education Faculty
          servicePlans:
            - {servicePlanId: 4c246bbc-f513-4311-beff-eba54c353256, servicePlanName: MINECRAFT_EDUCATION_EDITION, displayName: Minecraft Education}
        - skuId: f8a1db68-be16-40ed-86d5-cb42ce701560
          skuPartNumber: POWER_BI_PRO
          displayName: Power BI Pro
          servicePlans:
            - {servicePlanId: 70d33638-9c74-4d01-bfd3-562de28bd4ba, servicePlanName: BI_AZURE_P2, displayName: Power BI Pro}
    subscriptions:
      - {sku: EMS, enabled: 5}
      - {sku: WIN_ENT_E5, enabled: 5}
      - {sku: MEE_FACULTY, enabled: 5}
      - {sku: POWER_BI_PRO, enabled: 1}
    users:
      - userPrincipalName: teacher@seedcustomer.example
        displayName: Teacher
        usageLocation: US
        licenses: [{sku: WIN_ENT_E5}, {sku: MEE_FACULTY}]
      - userPrincipalName: ems@seedcustomer.example
        displayName: EMS User
        usageLocation: US
        licenses: [{sku: EMS}]
      - userPrincipalName: newhire@seedcustomer.example
        displayName: New Hire
        usageLocation: US
      - userPrincipalName: second@seedcustomer.example
        displayName: Second Hire
        usageLocation: US
  - displayName: Seed Partner
    defaultDomain: seedpartner.example
    apps:
      - {clientId: 5a1d0000-c0de-4a99-a000-00000000b001, displayName: Seed partner app, clientSecret: seed-secret, delegatedScopes: [user_impersonation]}
    users:
      - {userPrincipalName: agent@seedpartner.example, displayName: Agent, password: allot-demo-password}
    customers:
      - {tenant: seedcustomer.example, roles: [License Administrator, Directory Readers]}
";

struct Seeded {
    token: String,
    customer: String,
}

async fn seed(app: &TestApp) -> Seeded {
    let file = TenantFile::parse(SEED_TENANTS).expect("seed file");
    app.state.store.apply_tenant_file(&file).await.expect("seeded");
    let customer = file.tenants[0].tenant_id().to_string();
    let token = pc_token_for(
        app,
        "seedpartner.example",
        "5a1d0000-c0de-4a99-a000-00000000b001",
        "seed-secret",
        "agent@seedpartner.example",
    )
    .await;
    Seeded { token, customer }
}
