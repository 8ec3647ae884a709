//! The audit log: every license change through Graph and Partner Center appends Entra's pair of
//! records in its own transaction, read back through `auditLogs/directoryAudits` with its filters.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;
use crate::partner::{customers_path, pc, pc_token};

/// The license records about `user` (not its "Add user"), newest first.
async fn licensing(app: &TestApp, user: &str) -> Vec<Value> {
    about(app, user)
        .await
        .into_iter()
        .filter(|r| r["activityDisplayName"] != "Add user")
        .collect()
}

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
    let records = licensing(&app, &user).await;
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
    assert_eq!(licensing(&app, &nowhere).await, Vec::<Value>::new());

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
    let records = licensing(&app, &user).await;
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
    assert_eq!((paged.len(), pages), (5, 5));
    assert_eq!(paged, about(&app, &user).await);
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

e2e!(users_and_memberships_are_recorded_as_entra_names_them, |app| {
    let user = app.create_user("lifecycle", Some("US")).await;
    let group = app
        .post(
            "/v1.0/groups",
            json!({"displayName": "Audited", "mailEnabled": false, "mailNickname": "audited",
                   "securityEnabled": true}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            &format!("/v1.0/groups/{group}/members/$ref"),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{user}")}),
        )
        .await;
    assert_eq!(r.status, 204);
    app.send(
        Method::DELETE,
        &format!("/v1.0/groups/{group}/members/{user}/$ref"),
        Some(&app.token),
        None,
    )
    .await;
    app.post(
        &format!("/v1.0/users/{user}/assignLicense"),
        json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []}),
    )
    .await
    .ok();
    assert_eq!(app.delete(&format!("/v1.0/users/{user}")).await.status, 204);
    app.post(&format!("/v1.0/directory/deletedItems/{user}/restore"), json!({}))
        .await
        .ok();

    let mut activities: Vec<String> = about(&app, &user)
        .await
        .iter()
        .rev()
        .map(|r| r["activityDisplayName"].as_str().unwrap().to_owned())
        .collect();
    // Records of one change share a timestamp: compare each change's set.
    activities[3..5].sort();
    activities[6..9].sort();
    assert_eq!(
        activities,
        [
            "Add user",
            "Add member to group",
            "Remove member from group",
            "Change user license",
            "Update user",
            "Delete user",
            "Change user license",
            "Restore user",
            "Update user",
        ],
    );
    let added = app
        .get("/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName eq 'Add member to group'")
        .await
        .ok();
    let rec = added["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["targetResources"][0]["id"] == user)
        .unwrap()
        .clone();
    assert_eq!(rec["category"], "GroupManagement");
    assert_eq!(rec["operationType"], "Assign");
    assert_eq!(rec["targetResources"][1]["id"], group);
    assert_eq!(rec["targetResources"][1]["type"], "Group");
    let id = &rec["targetResources"][0]["modifiedProperties"][0];
    assert_eq!(id["displayName"], "Group.ObjectID");
    assert_eq!(id["newValue"], format!("\"{group}\""));
    // The group's own filter finds it too.
    let of_group = app
        .collect_all(
            &format!("/v1.0/auditLogs/directoryAudits?$filter=targetResources/any(t:t/id eq '{group}')"),
            &app.token,
        )
        .await
        .0;
    assert_eq!(of_group.len(), 2);
});

e2e!(group_license_changes_are_recorded_on_the_group, |app| {
    let group = app
        .post(
            "/v1.0/groups",
            json!({"displayName": "Licensed", "mailEnabled": false, "mailNickname": "licensed",
                   "securityEnabled": true}),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(
            &format!("/v1.0/groups/{group}/assignLicense"),
            json!({"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let changes = |records: Vec<Value>| -> Vec<Value> {
        records
            .into_iter()
            .filter(|r| r["activityDisplayName"] == "Change group license")
            .collect()
    };
    let records = changes(about(&app, &group).await);
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(r["activityDisplayName"], "Change group license");
    assert_eq!(r["category"], "GroupManagement");
    assert_eq!(r["targetResources"][0]["type"], "Group");
    let p = &r["targetResources"][0]["modifiedProperties"][0];
    assert_eq!(p["displayName"], "AssignedLicense");
    assert_eq!(p["oldValue"], "[]");
    let new: Value = serde_json::from_str(p["newValue"].as_str().unwrap()).unwrap();
    assert_eq!(new[0]["SkuName"], "EMS");
    // A refused group change (an unknown SKU) leaves nothing more.
    app.post(
        &format!("/v1.0/groups/{group}/assignLicense"),
        json!({"addLicenses": [{"skuId": "00000000-0000-0000-0000-0000000000aa", "disabledPlans": []}], "removeLicenses": []}),
    )
    .await;
    assert_eq!(changes(about(&app, &group).await).len(), 1);
    // Group-based licensing records when it has applied the group's licenses to its members.
    let mut done = Vec::new();
    for _ in 0..200 {
        done = about(&app, &group)
            .await
            .into_iter()
            .filter(|r| r["activityDisplayName"] == "Group license processing completed")
            .collect();
        if !done.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done.len(), 1, "{done:#?}");
    assert_eq!(
        done[0]["initiatedBy"]["app"]["displayName"],
        "Microsoft Azure AD Group-Based Licensing"
    );
    assert_eq!(
        done[0]["targetResources"][0]["modifiedProperties"][1]["newValue"],
        "0"
    );
    // It carries every SKU's consumed units as it left them (the console's chart anchors on it),
    // the same numbers subscribedSkus gives now that nothing else has changed.
    let consumed = &done[0]["targetResources"][0]["modifiedProperties"][3];
    assert_eq!(consumed["displayName"], "ConsumedUnits");
    let consumed: Value = serde_json::from_str(consumed["newValue"].as_str().unwrap()).unwrap();
    let skus = app.get("/v1.0/subscribedSkus").await.json()["value"].clone();
    let skus = skus.as_array().unwrap();
    assert_eq!(consumed.as_array().unwrap().len(), skus.len());
    for sku in skus {
        let c = consumed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["SkuId"] == sku["skuId"])
            .unwrap();
        assert_eq!(c["ConsumedUnits"], sku["consumedUnits"], "{sku}");
    }
});

e2e!(records_past_the_retention_are_purged, |app| {
    let user = app.create_user("retained", Some("US")).await;
    assert_eq!(about(&app, &user).await.len(), 1);
    let aged = app
        .db
        .execute("UPDATE directory_audits SET activity_at = '2000-01-01T00:00:00Z'")
        .await
        .unwrap();
    assert!(aged >= 1);
    let fresh = app.create_user("fresh", Some("US")).await;
    let cutoff =
        allot_store::now() - chrono::TimeDelta::days(i64::from(app.state.config.audit_retention_days));
    assert_eq!(app.state.config.audit_retention_days, 30);
    let purged = app.state.store.purge_audits(cutoff).await.unwrap();
    assert_eq!(purged, aged);
    assert_eq!(about(&app, &user).await, Vec::<Value>::new());
    assert_eq!(about(&app, &fresh).await.len(), 1);
});

e2e!(unit_changes_are_recorded_on_the_subscription, |app| {
    let subs = app
        .admin(Method::GET, "/_allot/tenants/contoso.example/subscriptions", None)
        .await
        .ok();
    let pbi = subs["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == PBI)
        .unwrap()
        .clone();
    let sid = pbi["id"].as_str().unwrap().to_owned();
    let r = app
        .admin(
            Method::PATCH,
            &format!("/_allot/tenants/contoso.example/subscriptions/{sid}"),
            Some(r#"{"enabled": 7}"#.into()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let records = about(&app, &sid).await;
    assert_eq!(records.len(), 1, "{records:#?}");
    let r = &records[0];
    assert_eq!(r["activityDisplayName"], "Update subscription");
    assert_eq!(r["initiatedBy"]["app"]["displayName"], "Allot admin API");
    let t = &r["targetResources"][0];
    assert_eq!(
        (t["type"].clone(), t["displayName"].clone()),
        (json!("Subscription"), json!("POWER_BI_PRO"))
    );
    assert_eq!(
        t["modifiedProperties"][0],
        json!({"displayName": "EnabledUnits", "oldValue": pbi["enabled"].to_string(), "newValue": "7"})
    );
});
