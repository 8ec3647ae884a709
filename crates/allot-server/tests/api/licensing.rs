//! `assignLicense` and `licenseDetails`: success, every refusal (with nothing changed), add and
//! remove together, and no over-allocation under concurrency.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

fn add(sku: &str) -> Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
}

async fn first_plan(app: &TestApp, sku: &str) -> String {
    let v = app.get("/v1.0/subscribedSkus").await.ok();
    let s = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap()
        .clone();
    s["servicePlans"][0]["servicePlanId"].as_str().unwrap().to_owned()
}

e2e!(assign_license_returns_the_user_and_every_view_agrees, |app| {
    let id = app.create_user("lic1", Some("US")).await;
    let before = app.consumed(E3).await;
    let plan = first_plan(&app, E3).await;
    let body = json!({"addLicenses": [{"skuId": E3, "disabledPlans": [plan]}], "removeLicenses": []});
    let r = app.post(&format!("/v1.0/users/{id}/assignLicense"), body).await;
    let v = r.ok();
    assert_eq!(r.status, 200);
    assert_eq!(v["id"], id);
    assert_eq!(v["userPrincipalName"], "lic1@contoso.example");
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#users/$entity")
    );
    assert_eq!(
        v["assignedLicenses"],
        json!([{"skuId": E3, "disabledPlans": [plan]}])
    );
    assert_eq!(app.consumed(E3).await, before + 1);

    let d = app.get(&format!("/v1.0/users/{id}/licenseDetails")).await.ok();
    assert!(
        d["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with(&format!("$metadata#users('{id}')/licenseDetails"))
    );
    let details = d["value"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["skuId"], E3);
    assert_eq!(details[0]["skuPartNumber"], "ENTERPRISEPACK");
    let plans = details[0]["servicePlans"].as_array().unwrap();
    let disabled: Vec<_> = plans
        .iter()
        .filter(|p| p["provisioningStatus"] == "Disabled")
        .collect();
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["servicePlanId"], plan);
    assert!(
        plans
            .iter()
            .filter(|p| p["servicePlanId"] != plan)
            .all(|p| p["provisioningStatus"] == "Success")
    );

    // One licenseDetails entry can be read by its id.
    let did = details[0]["id"].as_str().unwrap();
    let one = app
        .get(&format!("/v1.0/users/{id}/licenseDetails/{did}"))
        .await
        .ok();
    assert_eq!(one["skuId"], E3);
    app.get(&format!("/v1.0/users/{id}/licenseDetails/AAAA"))
        .await
        .graph_error(404, "Request_ResourceNotFound");

    let sel = app
        .get(&format!(
            "/v1.0/users/{id}?$select=assignedLicenses,assignedPlans,licenseAssignmentStates,usageLocation"
        ))
        .await
        .ok();
    assert_eq!(sel["usageLocation"], "US");
    assert_eq!(
        sel["assignedLicenses"],
        json!([{"skuId": E3, "disabledPlans": [plan]}])
    );
    let states = sel["licenseAssignmentStates"].as_array().unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["assignedByGroup"], Value::Null);
    assert_eq!(states[0]["state"], "Active");
    assert_eq!(states[0]["error"], "None");
    assert_eq!(states[0]["disabledPlans"], json!([plan]));
    let assigned_plans = sel["assignedPlans"].as_array().unwrap();
    assert!(
        assigned_plans
            .iter()
            .any(|p| p["servicePlanId"] == plan && p["capabilityStatus"] == "Deleted")
    );
    assert!(
        assigned_plans
            .iter()
            .filter(|p| p["capabilityStatus"] == "Enabled")
            .count()
            > 10
    );
    assert!(
        sel.get("displayName").is_none(),
        "only the selected properties: {sel}"
    );

    // Remove: the unit comes back and every view is empty again.
    let r = app
        .post(
            &format!("/v1.0/users/{id}/assignLicense"),
            json!({"addLicenses": [], "removeLicenses": [E3]}),
        )
        .await;
    assert_eq!(r.ok()["assignedLicenses"], json!([]));
    assert_eq!(app.consumed(E3).await, before);
    assert_eq!(
        app.get(&format!("/v1.0/users/{id}/licenseDetails")).await.ok()["value"],
        json!([])
    );
});

e2e!(assign_license_by_upn_and_on_beta, |app| {
    app.create_user("upn1", Some("GB")).await;
    let r = app
        .post("/beta/users/UPN1@contoso.example/assignLicense", add(EMS))
        .await;
    let v = r.ok();
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/beta/$metadata#users/$entity")
    );
    assert_eq!(v["assignedLicenses"][0]["skuId"], EMS);
});

// Each refusal is a 400 with Graph's envelope, and nothing changed.
e2e!(every_refusal_is_a_400_and_changes_nothing, |app| {
    let located = app.create_user("ref1", Some("US")).await;
    let unlocated = app.create_user("ref2", None).await;
    let e3_before = app.consumed(E3).await;
    let skus = app.get("/v1.0/subscribedSkus").await.ok();
    let plans_of = |sku: &str| -> Vec<String> {
        let s = skus["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuId"] == sku)
            .unwrap();
        s["servicePlans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["servicePlanId"].as_str().unwrap().to_owned())
            .collect()
    };
    let e3_plans = plans_of(E3);
    let plan_of_e1 = plans_of(E1).into_iter().find(|p| !e3_plans.contains(p)).unwrap();
    let unknown_sku = "11111111-2222-4333-8444-555555555555";
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            located.as_str(),
            add(unknown_sku),
            "License 11111111-2222-4333-8444-555555555555 does not correspond to a valid company License.",
        ),
        (
            located.as_str(),
            add("488ba24a-39a9-4473-8ee5-19291e71b002"),
            "License 488ba24a-39a9-4473-8ee5-19291e71b002 does not correspond to a valid company License.",
        ),
        (
            unlocated.as_str(),
            add(E3),
            "License assignment cannot be done for user with invalid usage location.",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [{"skuId": E3, "disabledPlans": [plan_of_e1]}], "removeLicenses": []}),
            "is not part of license",
        ),
        (
            located.as_str(),
            add(ARCHIVE),
            "License assignment failed because service plan",
        ),
        (
            located.as_str(),
            json!({"addLicenses": []}),
            "The missing parameters are: removeLicenses.",
        ),
        (
            located.as_str(),
            json!({"removeLicenses": []}),
            "The missing parameters are: addLicenses.",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [null], "removeLicenses": []}),
            "A null value was found",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [], "removeLicenses": [null]}),
            "A null value was found with the expected type 'Edm.Guid[Nullable=False]'",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [{"skuId": E3, "disabledPlans": [null]}], "removeLicenses": []}),
            "A null value was found",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [{"skuId": "not-a-guid"}], "removeLicenses": []}),
            "Cannot convert the literal 'not-a-guid'",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [], "removeLicenses": [E3]}),
            "User does not have a corresponding license",
        ),
        (
            located.as_str(),
            json!({"addLicenses": [], "removeLicenses": []}),
            "No license changes provided.",
        ),
    ];
    for (user, body, needle) in cases {
        let r = app
            .post(&format!("/v1.0/users/{user}/assignLicense"), body.clone())
            .await;
        let msg = r.graph_error(400, "Request_BadRequest");
        assert!(
            msg.contains(needle),
            "body {body}: got '{msg}', wanted '{needle}'"
        );
    }
    // Nothing was assigned to anyone.
    assert_eq!(app.consumed(E3).await, e3_before);
    for user in [&located, &unlocated] {
        let d = app.get(&format!("/v1.0/users/{user}/licenseDetails")).await.ok();
        assert_eq!(d["value"], json!([]), "{user}");
    }
    // Unknown user: 404.
    app.post(
        "/v1.0/users/00000000-0000-4000-8000-000000000000/assignLicense",
        add(E3),
    )
    .await
    .graph_error(404, "Request_ResourceNotFound");
});

e2e!(
    mutual_exclusion_refuses_e1_on_e3_but_a_swap_in_one_call_works,
    |app| {
        let id = app.create_user("swap1", Some("US")).await;
        app.post(&format!("/v1.0/users/{id}/assignLicense"), add(E3))
            .await
            .ok();
        let (e1, e3) = (app.consumed(E1).await, app.consumed(E3).await);
        let msg = app
            .post(&format!("/v1.0/users/{id}/assignLicense"), add(E1))
            .await
            .graph_error(400, "Request_BadRequest");
        assert!(
            msg.starts_with("License assignment failed because service plans ")
                && msg.ends_with(" are mutually exclusive."),
            "{msg}"
        );
        assert_eq!((app.consumed(E1).await, app.consumed(E3).await), (e1, e3));
        let swap = json!({"addLicenses": [{"skuId": E1, "disabledPlans": []}], "removeLicenses": [E3]});
        let v = app
            .post(&format!("/v1.0/users/{id}/assignLicense"), swap)
            .await
            .ok();
        assert_eq!(v["assignedLicenses"], json!([{"skuId": E1, "disabledPlans": []}]));
        assert_eq!((app.consumed(E1).await, app.consumed(E3).await), (e1 + 1, e3 - 1));
    }
);

e2e!(
    an_add_on_with_its_prerequisite_in_the_same_call_is_accepted,
    |app| {
        let id = app.create_user("addon1", Some("US")).await;
        let body = json!({"addLicenses": [{"skuId": ARCHIVE, "disabledPlans": []}, {"skuId": E3, "disabledPlans": []}], "removeLicenses": []});
        let v = app
            .post(&format!("/v1.0/users/{id}/assignLicense"), body)
            .await
            .ok();
        assert_eq!(v["assignedLicenses"].as_array().unwrap().len(), 2);
        // Removing the base now would orphan the add-on.
        let msg = app
            .post(
                &format!("/v1.0/users/{id}/assignLicense"),
                json!({"addLicenses": [], "removeLicenses": [E3]}),
            )
            .await
            .graph_error(400, "Request_BadRequest");
        assert!(msg.contains("depends on the service plan(s)"), "{msg}");
    }
);

e2e!(no_free_units_is_a_400_with_graphs_message, |app| {
    // POWER_BI_PRO: 5 units, 2 used by the demo data.
    let mut ok = 0;
    let mut refused = Vec::new();
    for i in 0..5 {
        let id = app.create_user(&format!("pbi{i}"), Some("US")).await;
        let r = app
            .post(&format!("/v1.0/users/{id}/assignLicense"), add(PBI))
            .await;
        if r.status == 200 {
            ok += 1;
        } else {
            refused.push(r.graph_error(400, "Request_BadRequest"));
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(refused.len(), 2);
    assert_eq!(
        refused[0],
        format!("Subscription with SKU {PBI} does not have any available licenses.")
    );
    assert_eq!(app.consumed(PBI).await, 5);
});

e2e!(
    re_sending_a_sku_replaces_its_disabled_plans_without_a_second_unit,
    |app| {
        let id = app.create_user("again1", Some("US")).await;
        app.post(&format!("/v1.0/users/{id}/assignLicense"), add(EMS))
            .await
            .ok();
        let before = app.consumed(EMS).await;
        let plan = first_plan(&app, EMS).await;
        let body = json!({"addLicenses": [{"skuId": EMS, "disabledPlans": [plan]}], "removeLicenses": []});
        let v = app
            .post(&format!("/v1.0/users/{id}/assignLicense"), body)
            .await
            .ok();
        assert_eq!(v["assignedLicenses"][0]["disabledPlans"], json!([plan]));
        assert_eq!(app.consumed(EMS).await, before);
    }
);

e2e!(fifty_concurrent_assignments_for_ten_free_units, |app| {
    let mut users = String::new();
    for i in 0..50 {
        users.push_str(&format!(
            "      - {{userPrincipalName: racer{i}@race.example, displayName: R{i}, usageLocation: US}}\n"
        ));
    }
    let file = format!(
        "tenants:\n  - displayName: Race\n    defaultDomain: race.example\n    subscriptions:\n      - {{sku: EMS, enabled: 10}}\n    apps:\n      - clientId: 7ace0000-0000-4000-8000-000000000001\n        displayName: racer\n        clientSecret: s\n        applicationPermissions: [LicenseAssignment.ReadWrite.All, User.Read.All, Organization.Read.All]\n    users:\n{users}"
    );
    app.admin(Method::POST, "/_allot/tenants", Some(file)).await.ok();
    let token = {
        let r = app
            .token_request(
                "race.example",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "7ace0000-0000-4000-8000-000000000001"),
                    ("client_secret", "s"),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        r.ok()["access_token"].as_str().unwrap().to_owned()
    };
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/v1.0/users/racer{i}@race.example/assignLicense")),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&add(EMS))
                .send()
                .await
                .unwrap();
            read(r).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 200 {
            ok += 1;
        } else {
            let msg = r.graph_error(400, "Request_BadRequest");
            assert!(msg.contains("does not have any available licenses"), "{msg}");
        }
    }
    assert_eq!(ok, 10);
    let skus = read(
        app.client
            .get(app.url("/v1.0/subscribedSkus"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok();
    assert_eq!(skus["value"][0]["consumedUnits"], 10);
});

e2e!(me_assign_license_and_me_license_details, |app| {
    let admin = app.user_token("admin@contoso.example").await;
    let me = app
        .send(Method::GET, "/v1.0/me/licenseDetails", Some(&admin), None)
        .await
        .ok();
    assert_eq!(me["value"][0]["skuPartNumber"], "SPE_E5");
    let r = app
        .send(
            Method::POST,
            "/v1.0/me/assignLicense",
            Some(&admin),
            Some(add(EMS)),
        )
        .await;
    assert_eq!(r.ok()["userPrincipalName"], "admin@contoso.example");
    // An app-only token has no "me".
    let msg = app
        .get("/v1.0/me/licenseDetails")
        .await
        .graph_error(400, "BadRequest");
    assert!(
        msg.contains("only valid with delegated authentication flow"),
        "{msg}"
    );
});

e2e!(teams_licensing_details_follow_the_teams_plan, |app| {
    const TEAMS1: &str = "57ff2da0-773e-42df-b2af-ffb7a2317929";
    let id = app.create_user("teamsy", Some("US")).await;
    let has = |path: String| {
        let app = &app;
        async move {
            let v = app.get(&path).await.ok();
            assert_eq!(
                v["@odata.context"],
                format!(
                    "{}/v1.0/$metadata#microsoft.graph.teamsLicensingDetails",
                    app.base
                )
            );
            v["hasTeamsLicense"].as_bool().unwrap()
        }
    };
    let path = format!("/v1.0/users/{id}/licenseDetails/getTeamsLicensingDetails");
    assert!(!has(path.clone()).await, "no license yet");
    // E3 with Teams.
    let r = app
        .post(&format!("/v1.0/users/{id}/assignLicense"), add(E3))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(has(path.clone()).await);
    // The SDKs' spelling, with parentheses, and by UPN.
    assert!(
        has("/v1.0/users/teamsy@contoso.example/licenseDetails/getTeamsLicensingDetails()".to_owned()).await
    );
    // E3 with TEAMS1 disabled: no Teams.
    let body = json!({"addLicenses": [{"skuId": E3, "disabledPlans": [TEAMS1]}], "removeLicenses": []});
    let r = app.post(&format!("/v1.0/users/{id}/assignLicense"), body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!has(path.clone()).await);
    // Signed in, through /me.
    let token = app.user_token("teamsy@contoso.example").await;
    let r = app
        .send(
            Method::GET,
            "/v1.0/me/licenseDetails/getTeamsLicensingDetails",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.json()["hasTeamsLicense"], false, "{}", r.text);
    // An unknown user is Graph's 404; a query option is refused.
    app.get("/v1.0/users/nobody@contoso.example/licenseDetails/getTeamsLicensingDetails")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.get(&format!("{path}?$select=hasTeamsLicense"))
        .await
        .graph_error(400, "Request_BadRequest");
});
