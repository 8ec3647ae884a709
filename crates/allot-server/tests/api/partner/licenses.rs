//! Licenses and license updates: all or nothing, one license group, one state with Graph.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

use super::*;

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
