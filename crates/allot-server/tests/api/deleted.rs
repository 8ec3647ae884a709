//! `/directory/deletedItems`: deleted users listed, read, restored with their memberships and
//! licenses (over-consuming a full SKU, as Entra does), and deleted for good.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;
use crate::partner::{customers_path, pc_get, pc_token};

fn add(sku: &str) -> Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
}

async fn units(app: &TestApp, sku: &str) -> (i64, i64) {
    let v = app.get("/v1.0/subscribedSkus").await.ok();
    let s = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap()
        .clone();
    (
        s["consumedUnits"].as_i64().unwrap(),
        s["prepaidUnits"]["enabled"].as_i64().unwrap(),
    )
}

async fn held(app: &TestApp, user: &str) -> Vec<String> {
    let d = app.get(&format!("/v1.0/users/{user}/licenseDetails")).await.ok();
    d["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["skuId"].as_str().unwrap().to_owned())
        .collect()
}

e2e!(
    a_deleted_user_is_listed_read_and_restored_with_its_groups_and_licenses,
    |app| {
        let id = app.create_user("gone1", Some("US")).await;
        app.post(&format!("/v1.0/users/{id}/assignLicense"), add(E3))
            .await
            .ok();
        let group = app
            .post(
                "/v1.0/groups",
                json!({
                    "displayName": "Keepers", "mailEnabled": false, "mailNickname": "keepers",
                    "securityEnabled": true,
                    "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")],
                }),
            )
            .await;
        assert_eq!(group.status, 201, "{}", group.text);
        let group = group.json()["id"].as_str().unwrap().to_owned();
        let before = app.consumed(E3).await;

        assert_eq!(app.delete(&format!("/v1.0/users/{id}")).await.status, 204);
        assert_eq!(app.consumed(E3).await, before - 1);
        app.get(&format!("/v1.0/users/{id}"))
            .await
            .graph_error(404, "Request_ResourceNotFound");

        // Both spellings of the type cast list it, with its deletion time.
        for cast in ["microsoft.graph.user", "graph.user"] {
            let v = app
                .get(&format!("/v1.0/directory/deletedItems/{cast}"))
                .await
                .ok();
            assert!(
                v["@odata.context"]
                    .as_str()
                    .unwrap()
                    .ends_with("$metadata#directory/deletedItems/microsoft.graph.user"),
                "{v}"
            );
            let items = v["value"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{v}");
            assert_eq!(items[0]["id"], id);
            assert_eq!(items[0]["userPrincipalName"], "gone1@contoso.example");
            assert!(items[0]["deletedDateTime"].as_str().unwrap().ends_with('Z'));
        }
        let v = app
            .get("/v1.0/directory/deletedItems/microsoft.graph.user?$select=id,displayName")
            .await
            .ok();
        assert_eq!(v["value"][0], json!({"id": id, "displayName": "gone1"}));
        let one = app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.ok();
        assert_eq!(one["@odata.type"], "#microsoft.graph.user");
        assert_eq!(one["id"], id);

        let r = app
            .post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        assert_eq!(v["@odata.type"], "#microsoft.graph.user");
        assert_eq!(v["id"], id);
        assert_eq!(v["userPrincipalName"], "gone1@contoso.example");
        assert_eq!(held(&app, &id).await, vec![E3.to_owned()]);
        assert_eq!(app.consumed(E3).await, before);
        let m = app.get(&format!("/v1.0/users/{id}/memberOf")).await.ok();
        assert_eq!(m["value"][0]["id"], group);
        let v = app
            .get("/v1.0/directory/deletedItems/microsoft.graph.user")
            .await
            .ok();
        assert_eq!(v["value"], json!([]));
        // Restored once: a second restore finds nothing.
        app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({}))
            .await
            .graph_error(404, "Request_ResourceNotFound");
        assert!(app.state.store.check().await.unwrap().ok());
    }
);

e2e!(a_restore_brings_licenses_back_even_when_no_unit_is_free, |app| {
    let id = app.create_user("overdraw", Some("US")).await;
    app.post(&format!("/v1.0/users/{id}/assignLicense"), add(PBI))
        .await
        .ok();
    app.delete(&format!("/v1.0/users/{id}")).await;
    // Every unit taken while the user is away.
    let (consumed, enabled) = units(&app, PBI).await;
    let mut others = Vec::new();
    for i in 0..(enabled - consumed) {
        let u = app.create_user(&format!("filler{i}"), Some("US")).await;
        app.post(&format!("/v1.0/users/{u}/assignLicense"), add(PBI))
            .await
            .ok();
        others.push(u);
    }
    assert_eq!(units(&app, PBI).await, (enabled, enabled));

    let r = app
        .post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(held(&app, &id).await, vec![PBI.to_owned()]);
    // Over-consumed, in every view.
    assert_eq!(units(&app, PBI).await, (enabled + 1, enabled));
    let token = pc_token(&app).await;
    let skus = pc_get(&app, &format!("{}/subscribedskus", customers_path()), &token)
        .await
        .ok();
    let pbi = skus["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["productSku"]["id"] == PBI)
        .unwrap()
        .clone();
    assert_eq!(pbi["consumedUnits"].as_i64(), Some(enabled + 1), "{pbi}");
    assert_eq!(pbi["availableUnits"].as_i64(), Some(-1), "{pbi}");
    // beta cloudLicensing: the SKU's allotments add up to the same consumption.
    let allotments = app.get("/beta/admin/cloudLicensing/allotments").await.ok();
    let pbi_consumed: i64 = allotments["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["skuId"] == PBI)
        .map(|a| a["consumedUnits"].as_i64().unwrap())
        .sum();
    assert_eq!(pbi_consumed, enabled + 1, "{allotments}");
    // `allot check` accepts the state and reports it.
    let report = app.state.store.check().await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains(PBI) && w.contains("over-consumed")),
        "{:?}",
        report.warnings
    );
    // No new assignment passes until units are freed: two must go for one to come.
    let late = app.create_user("late", Some("US")).await;
    let msg = app
        .post(&format!("/v1.0/users/{late}/assignLicense"), add(PBI))
        .await
        .graph_error(400, "Request_BadRequest");
    assert!(msg.contains("does not have any available licenses"), "{msg}");
    let remove = json!({"addLicenses": [], "removeLicenses": [PBI]});
    app.post(&format!("/v1.0/users/{}/assignLicense", others[0]), remove)
        .await
        .ok();
    app.post(&format!("/v1.0/users/{late}/assignLicense"), add(PBI))
        .await
        .graph_error(400, "Request_BadRequest");
    app.post(
        &format!("/v1.0/users/{id}/assignLicense"),
        json!({"addLicenses": [], "removeLicenses": [PBI]}),
    )
    .await
    .ok();
    app.post(&format!("/v1.0/users/{late}/assignLicense"), add(PBI))
        .await
        .ok();
    assert_eq!(units(&app, PBI).await, (enabled, enabled));
});

e2e!(deleted_items_are_deleted_for_good_and_guarded, |app| {
    let id = app.create_user("purged", Some("US")).await;
    app.delete(&format!("/v1.0/users/{id}")).await;
    // The read-only app may list but not restore or purge.
    let ro = app.app_token(READONLY_APP, READONLY_SECRET).await;
    let reader = app.as_caller(ro);
    let v = reader
        .get("/v1.0/directory/deletedItems/microsoft.graph.user")
        .await
        .ok();
    assert_eq!(v["value"][0]["id"], id);
    reader
        .post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({}))
        .await
        .graph_error(403, "Authorization_RequestDenied");
    reader
        .delete(&format!("/v1.0/directory/deletedItems/{id}"))
        .await
        .graph_error(403, "Authorization_RequestDenied");

    assert_eq!(
        app.delete(&format!("/v1.0/directory/deletedItems/{id}"))
            .await
            .status,
        204
    );
    app.get(&format!("/v1.0/directory/deletedItems/{id}"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({}))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.delete(&format!("/v1.0/directory/deletedItems/{id}"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    // Thirty days on, a deleted user is purged: gone from every view, beyond restore.
    let old = app.create_user("aged", Some("US")).await;
    app.delete(&format!("/v1.0/users/{old}")).await;
    assert_eq!(
        app.get("/v1.0/directory/deletedItems/microsoft.graph.user")
            .await
            .ok()["value"][0]["id"],
        old
    );
    let aged = app
        .db
        .execute(&format!(
            "UPDATE deleted_users SET deleted_at = '2000-01-01T00:00:00Z' WHERE id = '{old}'"
        ))
        .await
        .unwrap();
    assert_eq!(aged, 1);
    assert_eq!(
        app.get("/v1.0/directory/deletedItems/microsoft.graph.user")
            .await
            .ok()["value"],
        json!([])
    );
    app.get(&format!("/v1.0/directory/deletedItems/{old}"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.post(&format!("/v1.0/directory/deletedItems/{old}/restore"), json!({}))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    // The next deletion removes the expired row.
    let next = app.create_user("next", Some("US")).await;
    app.delete(&format!("/v1.0/users/{next}")).await;
    let left = app
        .db
        .execute(&format!("DELETE FROM deleted_users WHERE id = '{old}'"))
        .await
        .unwrap();
    assert_eq!(left, 0);
    app.get("/v1.0/directory/deletedItems/not-a-guid")
        .await
        .graph_error(400, "Request_BadRequest");
    // The PowerShell module's mistaken restore path is Graph's 404.
    app.send(
        Method::POST,
        &format!("/v1.0/users/{id}/microsoft.graph.restore"),
        Some(&app.token),
        Some(json!({})),
    )
    .await
    .graph_error(404, "Request_ResourceNotFound");
});

e2e!(
    microsoft_365_groups_are_kept_and_restored_security_groups_are_not,
    |app| {
        let a = app.create_user("m365a", Some("US")).await;
        let b = app.create_user("m365b", Some("US")).await;
        let bind = |ids: &[&str]| -> Vec<String> {
            ids.iter()
                .map(|i| format!("https://graph.microsoft.com/v1.0/directoryObjects/{i}"))
                .collect()
        };
        let team = app
            .post(
                "/v1.0/groups",
                json!({
                    "displayName": "Team", "mailEnabled": true, "mailNickname": "team",
                    "securityEnabled": false, "groupTypes": ["Unified"],
                    "members@odata.bind": bind(&[&a, &b]),
                }),
            )
            .await;
        assert_eq!(team.status, 201, "{}", team.text);
        let team = team.json()["id"].as_str().unwrap().to_owned();
        let parent = app
            .post(
                "/v1.0/groups",
                json!({
                    "displayName": "Parent", "mailEnabled": false, "mailNickname": "parent",
                    "securityEnabled": true,
                    "members@odata.bind": bind(&[&team]),
                }),
            )
            .await;
        assert_eq!(parent.status, 201, "{}", parent.text);
        let parent = parent.json()["id"].as_str().unwrap().to_owned();

        assert_eq!(app.delete(&format!("/v1.0/groups/{team}")).await.status, 204);
        app.get(&format!("/v1.0/groups/{team}"))
            .await
            .graph_error(404, "Request_ResourceNotFound");
        for cast in ["microsoft.graph.group", "graph.group"] {
            let v = app
                .get(&format!("/v1.0/directory/deletedItems/{cast}"))
                .await
                .ok();
            assert!(
                v["@odata.context"]
                    .as_str()
                    .unwrap()
                    .ends_with("#directory/deletedItems/microsoft.graph.group")
            );
            assert_eq!(v["value"].as_array().unwrap().len(), 1, "{v}");
            assert_eq!(v["value"][0]["id"], team);
            assert_eq!(v["value"][0]["groupTypes"], json!(["Unified"]));
            assert!(v["value"][0]["deletedDateTime"].is_string());
        }
        let one = app
            .get(&format!("/v1.0/directory/deletedItems/{team}"))
            .await
            .ok();
        assert_eq!(one["@odata.type"], "#microsoft.graph.group");
        // A member deleted while the group is away does not come back with it.
        app.delete(&format!("/v1.0/users/{b}")).await;

        let r = app
            .post(&format!("/v1.0/directory/deletedItems/{team}/restore"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["@odata.type"], "#microsoft.graph.group");
        assert_eq!(r.json()["displayName"], "Team");
        let members = app.get(&format!("/v1.0/groups/{team}/members")).await.ok();
        let ids: Vec<&str> = members["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![a.as_str()]);
        let nested = app.get(&format!("/v1.0/groups/{parent}/members")).await.ok();
        assert_eq!(nested["value"][0]["id"], team);
        assert_eq!(
            app.get("/v1.0/directory/deletedItems/microsoft.graph.group")
                .await
                .ok()["value"],
            json!([])
        );

        // A security group's delete is final; a kept group can be purged.
        assert_eq!(app.delete(&format!("/v1.0/groups/{parent}")).await.status, 204);
        app.get(&format!("/v1.0/directory/deletedItems/{parent}"))
            .await
            .graph_error(404, "Request_ResourceNotFound");
        assert_eq!(app.delete(&format!("/v1.0/groups/{team}")).await.status, 204);
        assert_eq!(
            app.delete(&format!("/v1.0/directory/deletedItems/{team}"))
                .await
                .status,
            204
        );
        app.post(&format!("/v1.0/directory/deletedItems/{team}/restore"), json!({}))
            .await
            .graph_error(404, "Request_ResourceNotFound");
        assert!(app.state.store.check().await.unwrap().ok());
    }
);
