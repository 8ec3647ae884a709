//! The audit log: every license change through Graph and Partner Center appends Entra's pair of
//! records in its own transaction, read back through `auditLogs/directoryAudits` with its filters.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;
use crate::partner::{customers_path, pc, pc_token};

/// The records about `user`, newest first.
async fn about(app: &TestApp, user: &str) -> Vec<Value> {
    app.collect_all(
        &format!("/v1.0/auditLogs/directoryAudits?$filter=targetResources/any(t:t/id eq '{user}')"),
        &app.token,
    )
    .await
    .0
}

fn modified<'a>(record: &'a Value, name: &str) -> &'a Value {
    record["targetResources"][0]["modifiedProperties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["displayName"] == name)
        .unwrap_or_else(|| panic!("no {name} in {record}"))
}

e2e!(license_changes_leave_entras_pair_of_records_once, |app| {
    let user = app.create_user("audited", Some("US")).await;
    let add = json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []});
    app.post(&format!("/v1.0/users/{user}/assignLicense"), add.clone())
        .await
        .ok();
    let records = about(&app, &user).await;
    assert_eq!(records.len(), 2, "{records:#?}");
    let update = records
        .iter()
        .find(|r| r["activityDisplayName"] == "Update user")
        .unwrap();
    let change = records
        .iter()
        .find(|r| r["activityDisplayName"] == "Change user license")
        .unwrap();
    assert_eq!(update["correlationId"], change["correlationId"]);
    for r in &records {
        assert_eq!(r["category"], "UserManagement");
        assert_eq!(r["result"], "success");
        assert_eq!(r["loggedByService"], "Core Directory");
        assert_eq!(r["initiatedBy"]["app"]["appId"], DEMO_APP);
        assert_eq!(r["initiatedBy"]["user"], Value::Null);
        assert_eq!(
            r["targetResources"][0]["userPrincipalName"],
            "audited@contoso.example"
        );
        assert_eq!(
            r["additionalDetails"],
            json!([{"key": "Surface", "value": "Microsoft Graph"}])
        );
    }
    let licenses = modified(update, "AssignedLicense");
    assert_eq!(licenses["oldValue"], "[]");
    let new: Value = serde_json::from_str(licenses["newValue"].as_str().unwrap()).unwrap();
    assert_eq!(new[0]["SkuId"], E3);
    assert_eq!(new[0]["SkuName"], "ENTERPRISEPACK");
    let details: Value = serde_json::from_str(
        modified(update, "LicenseAssignmentDetail")["newValue"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(details[0]["State"], "Active");
    assert!(
        modified(update, "AssignedPlan")["newValue"]
            .as_str()
            .unwrap()
            .contains("Enabled")
    );

    // A refused change leaves nothing.
    let nowhere = app.create_user("nowhere", None).await;
    app.post(&format!("/v1.0/users/{nowhere}/assignLicense"), add.clone())
        .await
        .graph_error(400, "Request_BadRequest");
    assert_eq!(about(&app, &nowhere).await, Vec::<Value>::new());

    // Partner Center: the partner's user is the initiator.
    let token = pc_token(&app).await;
    let r = pc(
        &app,
        Method::POST,
        &format!("{}/users/{user}/licenseupdates", customers_path()),
        &token,
        Some(json!({"licensesToAssign": [{"skuId": EMS}]})),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let records = about(&app, &user).await;
    assert_eq!(records.len(), 4, "{records:#?}");
    let newest = &records[0];
    assert_eq!(
        newest["initiatedBy"]["user"]["userPrincipalName"],
        "admin@partner.example"
    );
    assert_eq!(newest["additionalDetails"][0]["value"], "Partner Center");
    let pc_update = records[..2]
        .iter()
        .find(|r| r["activityDisplayName"] == "Update user")
        .unwrap();
    let old: Value = serde_json::from_str(
        modified(pc_update, "AssignedLicense")["oldValue"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(old[0]["SkuId"], E3);

    // Filters, paging, one record, permissions.
    let only_updates = app
        .collect_all(
            &format!(
                "/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName eq 'Update user' and initiatedBy/app/appId eq '{DEMO_APP}'&$top=1"
            ),
            &app.token,
        )
        .await;
    assert_eq!(only_updates.0.len(), 1, "{:#?}", only_updates.0);
    assert_eq!(only_updates.0[0]["id"], update["id"]);
    // One a page: four pages for the four records, newest first, none twice.
    let (paged, pages) = app
        .collect_all(
            &format!(
                "/v1.0/auditLogs/directoryAudits?$filter=targetResources/any(t:t/id eq '{user}')&$top=1"
            ),
            &app.token,
        )
        .await;
    assert_eq!((paged.len(), pages), (4, 4));
    assert_eq!(paged, records);
    let by_user = app
        .get("/v1.0/auditLogs/directoryAudits?$filter=initiatedBy/user/userPrincipalName eq 'admin@partner.example'")
        .await
        .ok();
    assert_eq!(by_user["value"].as_array().unwrap().len(), 2);
    let one = app
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits/{}",
            update["id"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(one["id"], update["id"]);
    assert!(
        one["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#auditLogs/directoryAudits/$entity")
    );
    app.get("/v1.0/auditLogs/directoryAudits/Directory_nope")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.get("/v1.0/auditLogs/directoryAudits?$filter=resultReason eq 'x'")
        .await
        .graph_error(400, "Request_UnsupportedQuery");
    let ro = app.app_token(READONLY_APP, READONLY_SECRET).await;
    app.as_caller(ro)
        .get("/v1.0/auditLogs/directoryAudits")
        .await
        .graph_error(403, "Authorization_RequestDenied");
});
