//! Customer users: create, get, update, reset, delete, restore, and paging with continuation
//! tokens.

use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

use super::*;

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

e2e!(a_restore_brings_licenses_back_even_over_the_free_units, |app| {
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
    // Entra brings back the licenses a user had even with no seat free: the SKU is over-consumed
    // (issue #18 item 4; the same operation as Graph's deletedItems restore).
    let lic = pc_get(&app, &format!("{me}/licenses"), &token).await.ok();
    assert_eq!(lic["totalCount"], 1, "{lic}");
    assert_eq!(lic["items"][0]["productSku"]["id"], PBI, "{lic}");
    assert_eq!(app.consumed(PBI).await, 6);
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
