//! Partner Center REST v1 over HTTP: the seed examples replayed, tokens and GDAP roles, customer
//! users end to end, licenses and license updates, paging, replays, and the one state shared with
//! Graph.

use allot_core::tenant_file::TenantFile;
use allot_server::auth::tokens::PARTNER_CENTER_RESOURCE;
use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
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
async fn pc(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    read(req.send().await.expect("send")).await
}

async fn pc_get(app: &TestApp, path: &str, token: &str) -> Resp {
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

fn customers_path() -> String {
    format!("/v1/customers/{DEMO_TENANT}")
}

// ---- the seeds ---------------------------------------------------------------------------------

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

e2e!(
    seed_000_licenses_by_license_group_are_the_documented_bodies,
    |app| {
        let s = seed(&app).await;
        let path = format!(
            "/v1/customers/{}/users/teacher@seedcustomer.example/licenses?licenseGroupIds=Group1&licenseGroupIds=Group2",
            s.customer
        );
        let r = pc(
            &app,
            Method::GET,
            &path,
            &s.token,
            None,
            &[
                ("MS-RequestId", "a1d077e4-28b1-4578-b873-6d1a82fa1644"),
                ("MS-CorrelationId", "c8cb5a60-ae08-4afc-92f0-efc42adfa186"),
                ("X-Locale", "en-US"),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.headers["ms-requestid"], "a1d077e4-28b1-4578-b873-6d1a82fa1644");
        assert_eq!(
            r.headers["ms-correlationid"],
            "c8cb5a60-ae08-4afc-92f0-efc42adfa186"
        );
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let documented = json!({
            "totalCount": 2,
            "items": [{
                "servicePlans": [],
                "productSku": {
                    "id": "984df360-9a74-4647-8cf8-696749f6247a",
                    "name": "Minecraft Education Edition Faculty",
                    "skuPartNumber": "CFQ7TTC0K5DR/0002",
                    "licenseGroupId": "group2"
                },
                "attributes": {"objectType": "License"}
            }, {
                "servicePlans": [{
                    "displayName": "Windows Defender Advanced Threat Protection",
                    "serviceName": "WINDEFATP",
                    "id": "871d91ec-ec1a-452b-a83f-bd76c7d770ef",
                    "capabilityStatus": "Assigned",
                    "targetType": "User"
                }, {
                    "displayName": "Windows 10 Enterprise E3",
                    "serviceName": "WIN10_PRO_ENT_SUB",
                    "id": "21b439ba-a0ca-424f-a6cc-52f954a5b111",
                    "capabilityStatus": "Assigned",
                    "targetType": "User"
                }],
                "productSku": {
                    "id": "1e7e1070-8ccb-4aca-b470-d7cb538cb07e",
                    "name": "Windows 10 Enterprise E5",
                    "skuPartNumber": "WIN_ENT_E5",
                    "licenseGroupId": "group1"
                },
                "attributes": {"objectType": "License"}
            }],
            "attributes": {"objectType": "Collection"}
        });
        assert_eq!(r.json(), documented);
        // Group2 alone, and group values in any case.
        let r = pc_get(
            &app,
            &format!(
                "/v1/customers/{}/users/teacher@seedcustomer.example/licenses?licensegroupids=GROUP2",
                s.customer
            ),
            &s.token,
        )
        .await;
        assert_eq!(r.ok()["items"].as_array().unwrap().len(), 1);
        // No matching licenses: the documented empty collection.
        let r = pc_get(
        &app,
        &format!(
            "/v1/customers/{}/users/newhire@seedcustomer.example/licenses?licenseGroupIds=Group1&licenseGroupIds=Group2",
            s.customer
        ),
        &s.token,
    )
    .await;
        assert_eq!(
            r.ok(),
            json!({"totalCount": 0, "items": [], "attributes": {"objectType": "Collection"}})
        );
        // An unknown group is an enum that does not parse.
        let r = pc_get(
            &app,
            &format!(
                "/v1/customers/{}/users/newhire@seedcustomer.example/licenses?licenseGroupIds=Group3",
                s.customer
            ),
            &s.token,
        )
        .await;
        pc_error(&r, 400, 900_126);
    }
);

e2e!(seed_001_licenses_default_to_group1, |app| {
    let s = seed(&app).await;
    let r = pc_get(
        &app,
        &format!(
            "/v1/customers/{}/users/ems@seedcustomer.example/licenses",
            s.customer
        ),
        &s.token,
    )
    .await;
    let plan = |name: &str, id: &str, service: &str| json!({"displayName": name, "serviceName": service, "id": id, "capabilityStatus": "Assigned", "targetType": "User"});
    let documented = json!({
        "totalCount": 1,
        "items": [{
            "servicePlans": [
                plan("Azure Information Protection Premium P1", "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3", "RMS_S_PREMIUM"),
                plan("Microsoft Intune A Direct", "c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A"),
                plan("Microsoft Azure Active Directory Rights", "bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMS_S_ENTERPRISE"),
                plan("Azure Active Directory Premium P1", "41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM"),
                plan("Microsoft Azure Multi-Factor Authentication", "8a256a2b-b617-496d-b51b-e76466e88db0", "MFA_PREMIUM"),
            ],
            "productSku": {
                "id": "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
                "name": "Enterprise Mobility + Security E3",
                "skuPartNumber": "EMS",
                "licenseGroupId": "group1"
            },
            "attributes": {"objectType": "License"}
        }],
        "attributes": {"objectType": "Collection"}
    });
    assert_eq!(r.ok(), documented);
    // The teacher's default view has Windows only (Minecraft is group2).
    let r = pc_get(
        &app,
        &format!(
            "/v1/customers/{}/users/teacher@seedcustomer.example/licenses",
            s.customer
        ),
        &s.token,
    )
    .await;
    let v = r.ok();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["items"][0]["productSku"]["skuPartNumber"], "WIN_ENT_E5");
});

e2e!(seed_002_license_updates_assign_then_run_out, |app| {
    let s = seed(&app).await;
    let newhire = format!(
        "/v1/customers/{}/users/newhire@seedcustomer.example/licenseupdates",
        s.customer
    );
    // The .NET SDK's exact body (PascalCase, explicit nulls).
    let sdk_body = json!({
        "LicensesToAssign": [{"ExcludedPlans": null, "SkuId": PBI}],
        "LicensesToRemove": null,
        "LicenseWarnings": null,
        "Attributes": {"ObjectType": "LicenseUpdate"}
    });
    let r = pc(
        &app,
        Method::POST,
        &newhire,
        &s.token,
        Some(sdk_body.clone()),
        &[
            ("MS-RequestId", "a37d3009-665d-4e12-b76e-1aa10cf80140"),
            ("MS-CorrelationId", "c73c9570-c352-459e-98a3-dafe4bd8c821"),
            ("MS-PartnerCenter-Client", "Partner Center .NET SDK"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "licensesToAssign": [{"skuId": PBI}],
            "licenseWarnings": [],
            "attributes": {"objectType": "LicenseUpdate"}
        })
    );
    assert_eq!(
        r.headers["ms-correlationid"],
        "c73c9570-c352-459e-98a3-dafe4bd8c821"
    );
    // The one Power BI unit is gone: the next user gets the documented 60012 body.
    let second = format!(
        "/v1/customers/{}/users/second@seedcustomer.example/licenseupdates",
        s.customer
    );
    let r = pc(&app, Method::POST, &second, &s.token, Some(sdk_body), &[]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "code": 60012,
            "description": "We are sorry, it looks like you have run out of licenses. Buy more licenses, and then try again.",
            "data": [format!("LicenseQuotaExceededException : Subscription with Account {} and SKU {PBI} does not have any available licenses left.", s.customer)],
            "source": "PartnerFD"
        })
    );
    // Subscribed SKUs agree: Power BI Pro 1 total, 1 consumed, 0 available; EMS 5/1/4 (spec §3.7).
    let r = pc_get(
        &app,
        &format!("/v1/customers/{}/subscribedskus", s.customer),
        &s.token,
    )
    .await;
    let v = r.ok();
    let sku = |id: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["productSku"]["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let pbi = sku(PBI);
    assert_eq!(
        (
            pbi["totalUnits"].as_i64(),
            pbi["consumedUnits"].as_i64(),
            pbi["availableUnits"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let ems = sku(EMS);
    assert_eq!(
        (
            ems["totalUnits"].as_i64(),
            ems["consumedUnits"].as_i64(),
            ems["availableUnits"].as_i64()
        ),
        (Some(5), Some(1), Some(4))
    );
    assert_eq!(ems["productSku"]["targetType"], "User");
    assert_eq!(ems["capabilityStatus"], "Enabled");
    assert_eq!(ems["attributes"]["objectType"], "SubscribedSku");
    assert_eq!(ems["servicePlans"].as_array().unwrap().len(), 5);
    assert_eq!(ems["servicePlans"][0]["capabilityStatus"], "Enabled");
    // Group1 by default: no Minecraft; Group2 alone: Minecraft with an empty plan list.
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["productSku"]["licenseGroupId"] == "group1")
    );
    let r = pc_get(
        &app,
        &format!(
            "/v1/customers/{}/subscribedskus?licenseGroupIds=Group2",
            s.customer
        ),
        &s.token,
    )
    .await;
    let v = r.ok();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["items"][0]["productSku"]["id"], MEE);
    assert_eq!(v["items"][0]["servicePlans"], json!([]));
    assert_eq!(v["items"][0]["consumedUnits"], 1);
});

// ---- tokens, relationships, roles ------------------------------------------------------------

e2e!(customers_are_the_partners_relationships, |app| {
    let token = pc_token(&app).await;
    let c = claims(&token);
    assert_eq!(c["aud"], PARTNER_CENTER_RESOURCE);
    assert_eq!(c["scp"], "user_impersonation");
    assert!(c["amr"].as_array().unwrap().iter().any(|m| m == "mfa"));
    let r = pc_get(&app, "/v1/customers", &token).await;
    let v = r.ok();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["attributes"]["objectType"], "Collection");
    assert!(v.get("continuationToken").is_none() && v["links"].get("next").is_none());
    let c = &v["items"][0];
    assert_eq!(c["id"], DEMO_TENANT);
    assert_eq!(c["companyProfile"]["tenantId"], DEMO_TENANT);
    assert_eq!(c["companyProfile"]["domain"], "contoso.example");
    assert_eq!(c["relationshipToPartner"], "reseller");
    assert_eq!(c["attributes"]["objectType"], "Customer");
    assert_eq!(c["links"]["self"]["uri"], format!("/customers/{DEMO_TENANT}"));
    let r = pc_get(&app, &customers_path(), &token).await;
    let one = r.ok();
    assert_eq!(one["companyProfile"]["companyName"], "Contoso (Allot demo)");
    assert_eq!(one["allowDelegatedAccess"], true);
    // Trailing slashes work as the SDK sends them.
    assert_eq!(pc_get(&app, "/v1/customers/", &token).await.status, 200);
    // Not a GUID, no such tenant, no relationship (the partner itself).
    pc_error(
        &pc_get(&app, "/v1/customers/not-a-guid", &token).await,
        400,
        900_118,
    );
    pc_error(
        &pc_get(&app, "/v1/customers/11111111-2222-3333-4444-555555555555", &token).await,
        404,
        60003,
    );
    pc_error(
        &pc_get(
            &app,
            "/v1/customers/5a1d0000-c0de-4c0e-a000-000000000002/users",
            &token,
        )
        .await,
        403,
        20002,
    );
});

e2e!(tokens_that_partner_center_refuses, |app| {
    let users = format!("{}/users", customers_path());
    let skus = format!("{}/subscribedskus", customers_path());
    // No token at all, a Graph token, a malformed one.
    let r = app.send(Method::GET, &users, None, None).await;
    pc_error(&r, 401, 800_001);
    pc_error(&pc_get(&app, &users, &app.token).await, 401, 900_420);
    pc_error(&pc_get(&app, &users, "not.a.token").await, 401, 400);
    // App-only Partner Center tokens: seed 002's 900316 on license management, 403 elsewhere.
    let r = app
        .token_request(
            "partner.example",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", PARTNER_APP),
                ("client_secret", PARTNER_SECRET),
                ("scope", "https://api.partnercenter.microsoft.com/.default"),
            ],
        )
        .await;
    let app_only = r.ok()["access_token"].as_str().unwrap().to_owned();
    let v = pc_error(&pc_get(&app, &skus, &app_only).await, 400, 900_316);
    assert_eq!(
        v,
        json!({
            "code": 900316,
            "description": "Partner token is not allowed in license management calls. Please call with Partner Access Token. To learn more, see https://learn.microsoft.com/partner-center/developer/enable-secure-app-model#get-access-token",
            "source": "PartnerFD"
        })
    );
    let v = pc_error(&pc_get(&app, &users, &app_only).await, 403, 900_150);
    assert_eq!(
        v["description"],
        "This resource can't be accessed by application credentials."
    );
    // An App+User token without an MFA sign-in (2026 enforcement).
    let store = &app.state.store;
    let partner = store.find_tenant("partner.example").await.unwrap().unwrap();
    let papp = store
        .app(allot_core::ids::AppId::parse(PARTNER_APP).unwrap())
        .await
        .unwrap()
        .unwrap();
    let user = store
        .user_by_upn(partner.id, "admin@partner.example")
        .await
        .unwrap()
        .unwrap();
    let mut c = app
        .state
        .tokens
        .base_claims(partner.id, &papp, PARTNER_CENTER_RESOURCE);
    c.oid = user.id.to_string();
    c.sub = user.id.to_string();
    c.idtyp = "user".into();
    c.scp = Some("user_impersonation".into());
    let no_mfa = app.state.tokens.sign(&c).unwrap();
    pc_error(&pc_get(&app, &users, &no_mfa).await, 401, 900_421);
    // A Partner Center token is no Graph token.
    let pc_tok = pc_token(&app).await;
    app.send(Method::GET, "/v1.0/users", Some(&pc_tok), None)
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    // An app without user_impersonation cannot get a Partner Center user token.
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", READONLY_APP),
                ("client_secret", READONLY_SECRET),
                ("username", "admin@contoso.example"),
                ("password", DEMO_PASSWORD),
                ("scope", PC_SCOPE),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error_codes"][0], 65001);
});

e2e!(gdap_roles_decide_what_a_partner_may_do, |app| {
    // The seed partner holds License Administrator and Directory Readers only.
    let s = seed(&app).await;
    let base = format!("/v1/customers/{}", s.customer);
    assert_eq!(pc_get(&app, &format!("{base}/users"), &s.token).await.status, 200);
    assert_eq!(
        pc_get(&app, &format!("{base}/subscribedskus"), &s.token)
            .await
            .status,
        200
    );
    assert_eq!(
        pc_get(
            &app,
            &format!("{base}/users/newhire@seedcustomer.example/directoryroles"),
            &s.token
        )
        .await
        .status,
        200
    );
    let create = json!({
        "userPrincipalName": "x@seedcustomer.example",
        "displayName": "X",
        "passwordProfile": {"password": "P@ssw0rd!", "forceChangePassword": false}
    });
    pc_error(
        &pc(
            &app,
            Method::POST,
            &format!("{base}/users"),
            &s.token,
            Some(create),
            &[],
        )
        .await,
        403,
        900_150,
    );
    pc_error(
        &pc(
            &app,
            Method::DELETE,
            &format!("{base}/users/newhire@seedcustomer.example"),
            &s.token,
            None,
            &[],
        )
        .await,
        403,
        900_150,
    );
    pc_error(
        &pc(
            &app,
            Method::PATCH,
            &format!("{base}/users/newhire@seedcustomer.example"),
            &s.token,
            Some(json!({"passwordProfile": {"password": "N3w-pass!"}})),
            &[],
        )
        .await,
        403,
        900_150,
    );
    // The demo partner has no relationship with the seed customer.
    let demo = pc_token(&app).await;
    pc_error(&pc_get(&app, &format!("{base}/users"), &demo).await, 403, 20002);
    // And the seed partner none with Contoso: it sees only its own customer.
    let v = pc_get(&app, "/v1/customers", &s.token).await.ok();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["items"][0]["id"], s.customer.as_str());
    pc_error(
        &pc_get(&app, &format!("{}/users", customers_path()), &s.token).await,
        403,
        20002,
    );
});

// ---- customer users --------------------------------------------------------------------------

e2e!(customer_users_create_get_update_reset_delete_restore, |app| {
    let token = pc_token(&app).await;
    let users = format!("{}/users", customers_path());
    // Create through the SDK's path (trailing slash), camelCase body.
    let r = pc(
        &app,
        Method::POST,
        &format!("{users}/"),
        &token,
        Some(json!({
            "usageLocation": "US",
            "userPrincipalName": "newuser@contoso.example",
            "firstName": "New",
            "lastName": "User",
            "displayName": "New User",
            "immutableId": "aW1tdXRhYmxl",
            "passwordProfile": {"password": "Pa55w0rd!", "forceChangePassword": false}
        })),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "active");
    assert_eq!(created["userDomainType"], "none");
    assert_eq!(created["immutableId"], "aW1tdXRhYmxl");
    assert_eq!(created["passwordProfile"]["password"], "Pa55w0rd!");
    assert_eq!(created["attributes"]["objectType"], "CustomerUser");
    assert_eq!(
        created["links"]["self"]["uri"],
        format!("/customers/{DEMO_TENANT}/users/{id}")
    );
    // The same user through Graph.
    let g = app
        .get(&format!("/v1.0/users/{id}?$select=givenName,usageLocation"))
        .await
        .ok();
    assert_eq!(
        (g["givenName"].as_str(), g["usageLocation"].as_str()),
        (Some("New"), Some("US"))
    );
    // Duplicate UPN, foreign domain, missing password.
    for (body, needle) in [
        (
            json!({"userPrincipalName": "NEWUSER@contoso.example", "displayName": "D", "passwordProfile": {"password": "x1!Aaaaa"}}),
            "already exists",
        ),
        (
            json!({"userPrincipalName": "a@elsewhere.example", "displayName": "D", "passwordProfile": {"password": "x1!Aaaaa"}}),
            "verified domain",
        ),
        (
            json!({"userPrincipalName": "b@contoso.example", "displayName": "D"}),
            "passwordProfile",
        ),
    ] {
        let r = pc(&app, Method::POST, &users, &token, Some(body), &[]).await;
        let v = pc_error(&r, 400, 800_002);
        assert!(v["description"].as_str().unwrap().contains(needle), "{v}");
    }
    let me = format!("{users}/{id}");
    let got = pc_get(&app, &me, &token).await.ok();
    assert_eq!(got["displayName"], "New User");
    assert!(got.get("passwordProfile").is_none());
    // The SDK's update body: every property, PascalCase, nulls, state and domain type defaults.
    let r = pc(
        &app,
        Method::PATCH,
        &me,
        &token,
        Some(json!({
            "UsageLocation": "CA", "Id": null, "UserPrincipalName": null, "FirstName": null, "LastName": null,
            "DisplayName": "Renamed User", "ImmutableId": null, "PasswordProfile": null,
            "LastDirectorySyncTime": null, "UserDomainType": "none", "State": "active",
            "SoftDeletionTime": null, "Attributes": {"ObjectType": "CustomerUser"}
        })),
        &[],
    )
    .await;
    let v = r.ok();
    assert_eq!(
        (v["usageLocation"].as_str(), v["displayName"].as_str()),
        (Some("CA"), Some("Renamed User"))
    );
    assert_eq!(v["firstName"], "New", "a null leaves the property as it was");
    // Reset the password, then sign in with it.
    let r = pc(
        &app,
        Method::PATCH,
        &me,
        &token,
        Some(json!({"passwordProfile": {"password": "Fr3sh-Pass", "forceChangePassword": true}, "attributes": {"objectType": "CustomerUser"}})),
        &[],
    )
    .await;
    assert_eq!(
        r.ok()["passwordProfile"],
        json!({"password": "Fr3sh-Pass", "forceChangePassword": true})
    );
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("username", "newuser@contoso.example"),
                ("password", "Fr3sh-Pass"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // License it, then delete it: 204, the unit is freed, the user is gone from the list.
    let before = app.consumed(EMS).await;
    let r = pc(
        &app,
        Method::POST,
        &format!("{me}/licenseupdates"),
        &token,
        Some(json!({"licensesToAssign": [{"skuId": EMS, "excludedPlans": []}], "licensesToRemove": []})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.consumed(EMS).await, before + 1);
    let r = pc(&app, Method::DELETE, &me, &token, None, &[]).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (204, ""));
    assert_eq!(app.consumed(EMS).await, before);
    pc_error(&pc_get(&app, &me, &token).await, 404, 60002);
    app.get(&format!("/v1.0/users/{id}"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    let active = pc_get(&app, &users, &token).await.ok();
    assert!(
        active["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["id"] != id.as_str())
    );
    // Deleted users, through the documented filter.
    let filter = r#"{"Field":"UserState","Value":"Inactive","Operator":"equals"}"#;
    let url = format!("{users}?size=500&filter={}", urlencode(filter));
    let deleted = pc_get(&app, &url, &token).await.ok();
    let items = deleted["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{deleted}");
    assert_eq!(
        (items[0]["id"].as_str(), items[0]["state"].as_str()),
        (Some(id.as_str()), Some("inactive"))
    );
    assert!(
        items[0]["softDeletionTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    // Restore (the SDK's body): active again, with its license back since a unit is free.
    let r = pc(
        &app,
        Method::PATCH,
        &me,
        &token,
        Some(json!({"State": "active", "Attributes": {"ObjectType": "CustomerUser"}})),
        &[],
    )
    .await;
    let v = r.ok();
    assert_eq!(
        (v["state"].as_str(), v["displayName"].as_str()),
        (Some("active"), Some("Renamed User"))
    );
    assert_eq!(app.consumed(EMS).await, before + 1);
    let lic = pc_get(&app, &format!("{me}/licenses"), &token).await.ok();
    assert_eq!(lic["items"][0]["productSku"]["id"], EMS);
    let deleted = pc_get(&app, &url, &token).await.ok();
    assert_eq!(deleted["totalCount"], 0);
    // Unknown users.
    pc_error(
        &pc_get(&app, &format!("{users}/{}", uuid::Uuid::new_v4()), &token).await,
        404,
        60002,
    );
    pc_error(
        &pc(
            &app,
            Method::PATCH,
            &format!("{users}/{}", uuid::Uuid::new_v4()),
            &token,
            Some(json!({"State": "active"})),
            &[],
        )
        .await,
        404,
        60002,
    );
    pc_error(
        &pc(
            &app,
            Method::DELETE,
            &format!("{users}/nobody@contoso.example"),
            &token,
            None,
            &[],
        )
        .await,
        404,
        60002,
    );
});

e2e!(a_restore_brings_back_only_the_licenses_units_allow, |app| {
    let token = pc_token(&app).await;
    let users = format!("{}/users", customers_path());
    let id = app.create_user("restoree", Some("US")).await;
    let me = format!("{users}/{id}");
    let r = pc(
        &app,
        Method::POST,
        &format!("{me}/licenseupdates"),
        &token,
        Some(json!({"licensesToAssign": [{"skuId": PBI}]})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(pc(&app, Method::DELETE, &me, &token, None, &[]).await.status, 204);
    // Someone else takes the freed unit and the rest of the pool.
    let free = 5 - app.consumed(PBI).await;
    for i in 0..free {
        let other = app.create_user(&format!("pbi{i}"), Some("US")).await;
        let r = app
            .post(
                &format!("/v1.0/users/{other}/assignLicense"),
                json!({"addLicenses": [{"skuId": PBI, "disabledPlans": []}], "removeLicenses": []}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(app.consumed(PBI).await, 5);
    let r = pc(
        &app,
        Method::PATCH,
        &me,
        &token,
        Some(json!({"state": "active"})),
        &[],
    )
    .await;
    assert_eq!(r.ok()["state"], "active");
    let lic = pc_get(&app, &format!("{me}/licenses"), &token).await.ok();
    assert_eq!(lic["totalCount"], 0, "{lic}");
    assert_eq!(app.consumed(PBI).await, 5);
});

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

e2e!(customer_users_page_with_continuation_tokens, |app| {
    let token = pc_token(&app).await;
    let users = format!("{}/users", customers_path());
    let all = pc_get(&app, &users, &token).await.ok();
    let total = all["items"].as_array().unwrap().len();
    assert!(total >= 25, "{total}");
    assert!(all.get("continuationToken").is_none());
    // Pages of 7, following links.next with its header, as the SDK enumerators do.
    let mut seen: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut r = pc_get(&app, &format!("{users}?size=7"), &token).await.ok();
    let mut pages = 1;
    loop {
        for u in r["items"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_owned());
            names.push(u["displayName"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            r["totalCount"].as_u64(),
            Some(r["items"].as_array().unwrap().len() as u64)
        );
        let Some(next) = r["links"].get("next").cloned() else {
            assert!(r.get("continuationToken").is_none());
            break;
        };
        assert_eq!(next["headers"][0]["key"], "MS-ContinuationToken");
        assert_eq!(next["headers"][0]["value"], r["continuationToken"]);
        let uri = next["uri"].as_str().unwrap();
        assert!(uri.starts_with("/customers/"), "relative: {uri}");
        // A user added mid-way sorts after the cursor or before it, but never shows twice.
        if pages == 1 {
            app.create_user("zzz-latecomer", None).await;
        }
        r = pc(
            &app,
            Method::GET,
            &format!("/v1{uri}"),
            &token,
            None,
            &[(
                "MS-ContinuationToken",
                next["headers"][0]["value"].as_str().unwrap(),
            )],
        )
        .await
        .ok();
        pages += 1;
        assert!(pages < 50);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(
        seen.len(),
        total + 1,
        "every user once, the latecomer too (it sorts last)"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "display name order");
    // Descending by UPN.
    let v = pc_get(
        &app,
        &format!("{users}?size=3&sortField=UserPrincipalName&sortDirection=Descending"),
        &token,
    )
    .await
    .ok();
    let upns: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(upns[0], "zzz-latecomer@contoso.example");
    assert!(upns.windows(2).all(|w| w[0] > w[1]), "{upns:?}");
    // A text filter.
    let f = urlencode(r#"{"Field":"DisplayName","Value":"adele","Operator":"starts_with"}"#);
    let v = pc_get(&app, &format!("{users}?filter={f}"), &token).await.ok();
    assert_eq!(v["items"][0]["userPrincipalName"], "adelev@contoso.example");
    assert_eq!(v["totalCount"], 1);
    // Bad paging input.
    pc_error(
        &pc_get(&app, &format!("{users}?seekOperation=Next"), &token).await,
        400,
        800_002,
    );
    pc_error(
        &pc(
            &app,
            Method::GET,
            &format!("{users}?seekOperation=Next"),
            &token,
            None,
            &[("MS-ContinuationToken", "garbage")],
        )
        .await,
        400,
        800_002,
    );
    pc_error(
        &pc_get(&app, &format!("{users}?sortField=Shoe"), &token).await,
        400,
        900_126,
    );
    pc_error(
        &pc_get(&app, &format!("{users}?size=-1"), &token).await,
        400,
        800_002,
    );
    pc_error(
        &pc_get(&app, &format!("{users}?filter=%7Bnot"), &token).await,
        400,
        800_002,
    );
});

// ---- licenses --------------------------------------------------------------------------------

e2e!(license_updates_are_all_or_nothing_and_one_license_group, |app| {
    let token = pc_token(&app).await;
    let id = app.create_user("lic", Some("US")).await;
    let updates = format!("{}/users/{id}/licenseupdates", customers_path());
    let post = |body: Value| {
        let (app, token, updates) = (&app, &token, &updates);
        async move { pc(app, Method::POST, updates, token, Some(body), &[]).await }
    };
    // Mixed license groups, an unknown SKU, a bad GUID, an empty update.
    for body in [
        json!({"licensesToAssign": [{"skuId": EMS}, {"skuId": MEE}]}),
        json!({"licensesToAssign": [{"skuId": "11111111-1111-1111-1111-111111111111"}]}),
        json!({"licensesToAssign": [{"skuId": "nope"}]}),
        json!({"licensesToAssign": [], "licensesToRemove": []}),
        json!({"licensesToRemove": [EMS]}),
    ] {
        pc_error(&post(body).await, 400, 800_002);
    }
    // All or nothing: EMS is free but Power BI runs out, so neither is assigned.
    let free = 5 - app.consumed(PBI).await;
    for i in 0..free {
        let other = app.create_user(&format!("p{i}"), Some("US")).await;
        app.post(
            &format!("/v1.0/users/{other}/assignLicense"),
            json!({"addLicenses": [{"skuId": PBI, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await
        .ok();
    }
    let ems_before = app.consumed(EMS).await;
    pc_error(
        &post(json!({"licensesToAssign": [{"skuId": EMS}, {"skuId": PBI}]})).await,
        400,
        60012,
    );
    assert_eq!(app.consumed(EMS).await, ems_before);
    // Excluded plans: assign with two plans off, then change them without using another unit.
    let plans = pc_get(&app, &format!("{}/subscribedskus", customers_path()), &token)
        .await
        .ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["productSku"]["id"] == EMS)
        .unwrap()["servicePlans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    let r = post(json!({"LicensesToAssign": [{"SkuId": EMS, "ExcludedPlans": [plans[0], plans[1]]}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json()["licensesToAssign"][0]["excludedPlans"],
        json!([plans[0], plans[1]])
    );
    assert_eq!(app.consumed(EMS).await, ems_before + 1);
    let lic = pc_get(&app, &format!("{}/users/{id}/licenses", customers_path()), &token)
        .await
        .ok();
    let listed: Vec<&str> = lic["items"][0]["servicePlans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), plans.len() - 2);
    assert!(!listed.contains(&plans[0].as_str()));
    let r = post(json!({"licensesToAssign": [{"skuId": EMS, "excludedPlans": [plans[2]]}]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.consumed(EMS).await, ems_before + 1);
    let g = app
        .get(&format!("/v1.0/users/{id}?$select=assignedLicenses"))
        .await
        .ok();
    assert_eq!(g["assignedLicenses"][0]["disabledPlans"], json!([plans[2]]));
    // Remove, the SDK's way (assign null, remove a list).
    let r = post(json!({"LicensesToAssign": null, "LicensesToRemove": [EMS], "LicenseWarnings": null})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"licensesToRemove": [EMS], "licenseWarnings": [], "attributes": {"objectType": "LicenseUpdate"}})
    );
    assert_eq!(app.consumed(EMS).await, ems_before);
    // No usage location, no license.
    let nowhere = app.create_user("nowhere", None).await;
    let r = pc(
        &app,
        Method::POST,
        &format!("{}/users/{nowhere}/licenseupdates", customers_path()),
        &token,
        Some(json!({"licensesToAssign": [{"skuId": EMS}]})),
        &[],
    )
    .await;
    let v = pc_error(&r, 400, 800_002);
    assert_eq!(
        v["description"],
        "License assignment cannot be done for user with invalid usage location."
    );
    // Unknown user.
    let r = pc(
        &app,
        Method::POST,
        &format!(
            "{}/users/{}/licenseupdates",
            customers_path(),
            uuid::Uuid::new_v4()
        ),
        &token,
        Some(json!({"licensesToAssign": [{"skuId": EMS}]})),
        &[],
    )
    .await;
    pc_error(&r, 404, 60002);
});

e2e!(one_state_with_graph, |app| {
    let token = pc_token(&app).await;
    let id = app.create_user("shared", Some("US")).await;
    let base = format!("{}/users/{id}", customers_path());
    // Assigned through Partner Center: Graph's licenseDetails, assignedLicenses and units agree.
    let before = app.consumed(SPE_E5).await;
    let r = pc(
        &app,
        Method::POST,
        &format!("{base}/licenseupdates"),
        &token,
        Some(json!({"licensesToAssign": [{"skuId": SPE_E5}]})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let details = app.get(&format!("/v1.0/users/{id}/licenseDetails")).await.ok();
    assert_eq!(details["value"][0]["skuId"], SPE_E5);
    let user = app
        .get(&format!("/v1.0/users/{id}?$select=assignedLicenses"))
        .await
        .ok();
    assert_eq!(user["assignedLicenses"][0]["skuId"], SPE_E5);
    assert_eq!(app.consumed(SPE_E5).await, before + 1);
    let skus = pc_get(&app, &format!("{}/subscribedskus", customers_path()), &token)
        .await
        .ok();
    let e5 = skus["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["productSku"]["id"] == SPE_E5)
        .unwrap()
        .clone();
    assert_eq!(e5["consumedUnits"].as_i64(), Some(before + 1));
    assert_eq!(
        (
            e5["activeUnits"].as_i64(),
            e5["warningUnits"].as_i64(),
            e5["totalUnits"].as_i64()
        ),
        (Some(10), Some(2), Some(12))
    );
    assert_eq!(e5["availableUnits"].as_i64(), Some(12 - before - 1));
    // Assigned through a Graph group: Partner Center lists the inherited license.
    let group = app.post("/v1.0/groups", json!({
        "displayName": "PC shared", "mailEnabled": false, "mailNickname": "pcshared", "securityEnabled": true
    })).await.ok()["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/v1.0/groups/{group}/members/$ref"),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app
        .post(
            &format!("/v1.0/groups/{group}/assignLicense"),
            json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let mut listed = Vec::new();
    for _ in 0..200 {
        let lic = pc_get(&app, &format!("{base}/licenses"), &token).await.ok();
        listed = lic["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["productSku"]["skuPartNumber"].as_str().unwrap().to_owned())
            .collect();
        if listed.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        listed,
        vec!["EMS", "SPE_E5"],
        "sorted by product name: Enterprise Mobility… then Microsoft 365 E5"
    );
    // The directory roles of the demo admin.
    let roles = pc_get(
        &app,
        &format!("{}/users/admin@contoso.example/directoryroles", customers_path()),
        &token,
    )
    .await
    .ok();
    assert_eq!(roles["items"][0]["name"], "Global Administrator");
    assert_eq!(roles["items"][0]["id"], "62e90394-69f5-4237-9190-012177145e10");
    assert_eq!(roles["items"][0]["attributes"]["objectType"], "DirectoryRole");
});

// ---- replays and the error surface -----------------------------------------------------------

e2e!(a_repeated_request_id_replays_the_first_answer, |app| {
    let token = pc_token(&app).await;
    let users = format!("{}/users", customers_path());
    let body = json!({"userPrincipalName": "once@contoso.example", "displayName": "Once", "usageLocation": "US", "passwordProfile": {"password": "Pa55w0rd!"}});
    let rid = [("MS-RequestId", "6f2a0e5c-6a47-4a44-9d0e-3c3f0b2a4d11")];
    let first = pc(&app, Method::POST, &users, &token, Some(body.clone()), &rid).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = pc(&app, Method::POST, &users, &token, Some(body.clone()), &rid).await;
    assert_eq!((again.status.as_u16(), again.json()), (201, first.json()));
    assert_eq!(
        again.headers["ms-requestid"],
        "6f2a0e5c-6a47-4a44-9d0e-3c3f0b2a4d11"
    );
    // Without the id it is a new request (and the UPN is taken).
    pc_error(
        &pc(&app, Method::POST, &users, &token, Some(body), &[]).await,
        400,
        800_002,
    );
    // The same id on another request is refused.
    let other = json!({"userPrincipalName": "twice@contoso.example", "displayName": "Twice", "passwordProfile": {"password": "Pa55w0rd!"}});
    pc_error(
        &pc(&app, Method::POST, &users, &token, Some(other), &rid).await,
        400,
        800_002,
    );
    // License updates: a retried assignment takes one unit, concurrent retries included.
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let before = app.consumed(PBI).await;
    let update = format!("{users}/{id}/licenseupdates");
    let lic = json!({"licensesToAssign": [{"skuId": PBI}]});
    let rid = [("MS-RequestId", "0b7e39a4-5e54-4c1f-8f43-2b8a3e1c9d20")];
    let (a, b) = tokio::join!(
        pc(&app, Method::POST, &update, &token, Some(lic.clone()), &rid),
        pc(&app, Method::POST, &update, &token, Some(lic.clone()), &rid),
    );
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (201, 201),
        "{} / {}",
        a.text,
        b.text
    );
    assert_eq!(a.json(), b.json());
    assert_eq!(app.consumed(PBI).await, before + 1);
});

e2e!(every_failure_under_v1_is_a_partner_center_error, |app| {
    let token = pc_token(&app).await;
    let r = pc_get(&app, "/v1/customers/x/nothing/here", &token).await;
    pc_error(&r, 404, 1000);
    let r = pc(
        &app,
        Method::PUT,
        &format!("{}/users", customers_path()),
        &token,
        Some(json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.json()["source"], "PartnerFD");
    let r = app
        .client
        .post(app.url(&format!("{}/users", customers_path())))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    pc_error(&read(r).await, 400, 800_002);
    let huge = "x".repeat(100 * 1024);
    let r = app
        .client
        .post(app.url(&format!("{}/users", customers_path())))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"displayName\":\"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    pc_error(&read(r).await, 413, 800_002);
    // The ids are echoed, or made up when the client sent none.
    let r = pc_get(&app, "/v1/customers", &token).await;
    let rid = r.headers["ms-requestid"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
    // Graph's /v1.0 is not Partner Center's /v1.
    app.get("/v1.0/nothing")
        .await
        .graph_error(404, "Request_ResourceNotFound");
});

e2e!(
    an_armed_throttle_answers_429_with_retry_after_on_both_surfaces,
    |app| {
        let token = pc_token(&app).await;
        let r = app
            .admin(
                Method::PUT,
                "/_allot/tenants/partner.example/throttle",
                Some(r#"{"requests": 2, "retryAfterSeconds": 7}"#.into()),
            )
            .await;
        assert_eq!(r.ok(), json!({"requests": 2, "retryAfterSeconds": 7}));
        for _ in 0..2 {
            let r = pc(
                &app,
                Method::GET,
                "/v1/customers",
                &token,
                None,
                &[("MS-RequestId", "r-429")],
            )
            .await;
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.headers["retry-after"], "7");
            assert_eq!(r.headers["ms-requestid"], "r-429");
            assert_eq!(
                r.json(),
                json!({"statusCode": 429, "message": "Rate limit is exceeded. Try again in 7 seconds."})
            );
        }
        assert_eq!(pc_get(&app, "/v1/customers", &token).await.status, 200);
        // Graph, for the customer tenant: its own error shape; other tenants are not affected.
        let r = app
            .admin(
                Method::PUT,
                "/_allot/tenants/contoso.example/throttle",
                Some(r#"{"requests": 1}"#.into()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        pc_get(&app, "/v1/customers", &token).await.ok();
        let r = app.get("/v1.0/subscribedSkus").await;
        r.graph_error(429, "TooManyRequests");
        assert_eq!(r.headers["retry-after"], "1");
        app.get("/v1.0/subscribedSkus").await.ok();
        // Cleared before use.
        app.admin(
            Method::PUT,
            "/_allot/tenants/contoso.example/throttle",
            Some(r#"{"requests": 5}"#.into()),
        )
        .await
        .ok();
        let r = app
            .admin(Method::DELETE, "/_allot/tenants/contoso.example/throttle", None)
            .await;
        assert_eq!(r.status, 204);
        app.get("/v1.0/subscribedSkus").await.ok();
        let bad = app
            .admin(
                Method::PUT,
                "/_allot/tenants/contoso.example/throttle",
                Some(r#"{"requests": -1}"#.into()),
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.text);
    }
);

e2e!(
    the_secure_application_model_trades_refresh_tokens_for_access_tokens,
    |app| {
        // Sign in once with offline_access, then trade the refresh token, as partner tooling does.
        let r = app
            .token_request(
                "partner.example",
                &[
                    ("grant_type", "password"),
                    ("client_id", PARTNER_APP),
                    ("client_secret", PARTNER_SECRET),
                    ("username", "admin@partner.example"),
                    ("password", DEMO_PASSWORD),
                    (
                        "scope",
                        "https://api.partnercenter.microsoft.com/user_impersonation offline_access",
                    ),
                ],
            )
            .await;
        let refresh = r.ok()["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned();
        let trade = |scope: &'static str, client: &'static str, token: String| {
            let app = &app;
            async move {
                app.token_request(
                    "partner.example",
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", client),
                        ("client_secret", PARTNER_SECRET),
                        ("refresh_token", &token),
                        ("scope", scope),
                    ],
                )
                .await
            }
        };
        let r = trade(PC_SCOPE, PARTNER_APP, refresh.clone()).await;
        let v = r.ok();
        let access = v["access_token"].as_str().unwrap().to_owned();
        assert!(
            v["refresh_token"].as_str().is_some_and(|t| t != refresh),
            "rotated"
        );
        assert_eq!(
            v["scope"],
            "https://api.partnercenter.microsoft.com/user_impersonation"
        );
        assert_eq!(pc_get(&app, "/v1/customers", &access).await.status, 200);
        // The same refresh token for Graph (the app's Graph scope).
        let v = trade(
            "https://graph.microsoft.com/.default",
            PARTNER_APP,
            refresh.clone(),
        )
        .await
        .ok();
        let graph = v["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims(&graph)["scp"], "User.Read");
        assert_eq!(
            app.send(Method::GET, "/v1.0/me", Some(&graph), None).await.ok()["userPrincipalName"],
            "admin@partner.example"
        );
        // Refused: garbage, a token of another client, a refresh token used as an access token.
        let r = trade(PC_SCOPE, PARTNER_APP, "garbage".into()).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["error_codes"][0].as_u64()),
            (400, Some(9_002_313))
        );
        let r = trade(PC_SCOPE, DEMO_APP, refresh.clone()).await;
        assert_eq!(r.status, 400, "{}", r.text);
        pc_error(&pc_get(&app, "/v1/customers", &refresh).await, 401, 400);
        // Without offline_access there is no refresh token.
        let r = app
            .token_request(
                "partner.example",
                &[
                    ("grant_type", "password"),
                    ("client_id", PARTNER_APP),
                    ("client_secret", PARTNER_SECRET),
                    ("username", "admin@partner.example"),
                    ("password", DEMO_PASSWORD),
                    ("scope", PC_SCOPE),
                ],
            )
            .await;
        assert!(r.ok().get("refresh_token").is_none());
    }
);

e2e!(a_partner_with_many_customers_pages_through_them, |app| {
    let mut yaml = String::from("tenants:\n");
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - {{displayName: Customer {i}, defaultDomain: c{i}.example}}\n"
        ));
    }
    yaml.push_str(
        "  - displayName: Big Partner\n    defaultDomain: bigpartner.example\n    apps: [{clientId: 5a1d0000-c0de-4a99-a000-00000000b002, displayName: p, clientSecret: s, delegatedScopes: [user_impersonation]}]\n    users: [{userPrincipalName: a@bigpartner.example, displayName: A, password: allot-demo-password}, {userPrincipalName: b@bigpartner.example, displayName: B, password: allot-demo-password}]\n    customers:\n",
    );
    for i in 0..5 {
        // Customer 4's roles go to user b only.
        let users = if i == 4 {
            ", users: [b@bigpartner.example]"
        } else {
            ""
        };
        yaml.push_str(&format!(
            "      - {{tenant: c{i}.example, roles: [Directory Readers]{users}}}\n"
        ));
    }
    let file = TenantFile::parse(&yaml).expect("file");
    app.state.store.apply_tenant_file(&file).await.expect("seeded");
    let token = pc_token_for(
        &app,
        "bigpartner.example",
        "5a1d0000-c0de-4a99-a000-00000000b002",
        "s",
        "a@bigpartner.example",
    )
    .await;
    let mut ids = Vec::new();
    let mut r = pc_get(&app, "/v1/customers?size=2", &token).await.ok();
    loop {
        ids.extend(
            r["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = r["links"].get("next").cloned() else {
            break;
        };
        let t = next["headers"][0]["value"].as_str().unwrap().to_owned();
        r = pc(
            &app,
            Method::GET,
            &format!("/v1{}", next["uri"].as_str().unwrap()),
            &token,
            None,
            &[("MS-ContinuationToken", &t)],
        )
        .await
        .ok();
    }
    let expected: Vec<String> = (0..4).map(|i| file.tenants[i].tenant_id().to_string()).collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "user a sees customers 0-3 in id order, page by page");
    let c4 = file.tenants[4].tenant_id();
    pc_error(
        &pc_get(&app, &format!("/v1/customers/{c4}"), &token).await,
        403,
        900_150,
    );
    let b = pc_token_for(
        &app,
        "bigpartner.example",
        "5a1d0000-c0de-4a99-a000-00000000b002",
        "s",
        "b@bigpartner.example",
    )
    .await;
    assert_eq!(pc_get(&app, "/v1/customers", &b).await.ok()["totalCount"], 5);
    assert_eq!(pc_get(&app, &format!("/v1/customers/{c4}"), &b).await.status, 200);
});
