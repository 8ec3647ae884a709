//! Seeds 000, 001 and 002 replayed against the server.

use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

use super::*;

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
