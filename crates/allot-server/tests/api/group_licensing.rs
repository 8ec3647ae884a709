//! Group-based licensing: `group: assignLicense`, fan-out, error states, reprocessing, the three
//! processing modes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

pub(crate) async fn set_mode(app: &TestApp, tenant: &str, mode: &str) {
    let r = app
        .admin(
            Method::PUT,
            &format!("/_allot/tenants/{tenant}/processing"),
            Some(json!({"mode": mode}).to_string()),
        )
        .await;
    assert_eq!(r.ok()["mode"], mode);
}

pub(crate) async fn user_id(app: &TestApp, upn: &str) -> String {
    app.get(&format!("/v1.0/users/{upn}")).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A security group with these members, in this order.
pub(crate) async fn group_of(app: &TestApp, name: &str, upns: &[&str]) -> String {
    let body =
        json!({"displayName": name, "mailEnabled": false, "mailNickname": name, "securityEnabled": true});
    let g = app.post("/v1.0/groups", body).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for upn in upns {
        let id = user_id(app, upn).await;
        let r = app
            .post(
                &format!("/v1.0/groups/{g}/members/$ref"),
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    g
}

pub(crate) fn licenses(add: &[(&str, &[&str])], remove: &[&str]) -> Value {
    json!({
        "addLicenses": add.iter().map(|(s, d)| json!({"skuId": s, "disabledPlans": d})).collect::<Vec<_>>(),
        "removeLicenses": remove,
    })
}

pub(crate) async fn states(app: &TestApp, upn: &str) -> Vec<Value> {
    let v = app
        .get(&format!(
            "/v1.0/users/{upn}?$select=licenseAssignmentStates,assignedLicenses"
        ))
        .await
        .ok();
    v["licenseAssignmentStates"].as_array().unwrap().clone()
}

async fn processing_state(app: &TestApp, group: &str) -> Value {
    app.get(&format!("/v1.0/groups/{group}?$select=licenseProcessingState"))
        .await
        .ok()["licenseProcessingState"]
        .clone()
}

async fn plans_of(app: &TestApp, sku: &str) -> Vec<String> {
    let v = app.get("/v1.0/subscribedSkus").await.ok();
    let s = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap()
        .clone();
    s["servicePlans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["servicePlanId"].as_str().unwrap().to_owned())
        .collect()
}

e2e!(group_assign_license_is_202_and_licenses_every_member, |app| {
    set_mode(&app, DEMO_TENANT, "sync").await;
    // Tomas (CZ) has a usage location; Zara has none and gets the tenant's country.
    let g = group_of(&app, "gbl1", &["tomasn@contoso.example", "zaraa@contoso.example"]).await;
    let before = app.consumed(PBI).await;
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(PBI, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let location = r.headers.get("location").unwrap().to_str().unwrap().to_owned();
    assert!(
        location.ends_with(&format!(
            "/v2/{DEMO_TENANT}/directoryObjects/{g}/Microsoft.DirectoryServices.Group"
        )),
        "{location}"
    );
    let v = r.json();
    assert_eq!(
        (v["id"].as_str(), v["securityEnabled"].as_bool()),
        (Some(g.as_str()), Some(true))
    );
    assert_eq!(
        processing_state(&app, &g).await,
        json!({"state": "ProcessingComplete"})
    );
    let sel = app
        .get(&format!("/v1.0/groups/{g}?$select=assignedLicenses"))
        .await
        .ok();
    assert_eq!(
        sel["assignedLicenses"],
        json!([{"skuId": PBI, "disabledPlans": []}])
    );
    assert_eq!(app.consumed(PBI).await, before + 2);
    for upn in ["tomasn@contoso.example", "zaraa@contoso.example"] {
        let s = states(&app, upn).await;
        assert_eq!(s.len(), 1, "{upn}: {s:?}");
        assert_eq!(
            (
                s[0]["assignedByGroup"].as_str(),
                s[0]["state"].as_str(),
                s[0]["error"].as_str()
            ),
            (Some(g.as_str()), Some("Active"), Some("None"))
        );
        let d = app.get(&format!("/v1.0/users/{upn}/licenseDetails")).await.ok();
        assert_eq!(
            d["value"][0]["skuId"], PBI,
            "inherited licenses show in licenseDetails"
        );
    }
    // An inherited license cannot be removed on the user.
    let msg = app
        .post(
            "/v1.0/users/zaraa@contoso.example/assignLicense",
            json!({"addLicenses": [], "removeLicenses": [PBI]}),
        )
        .await
        .graph_error(400, "Request_BadRequest");
    assert_eq!(
        msg,
        "User license is inherited from a group membership and it cannot be removed directly from the user."
    );
    // A group that still holds licenses cannot be deleted.
    app.delete(&format!("/v1.0/groups/{g}"))
        .await
        .graph_error(400, "Request_BadRequest");
    // Removing the SKU from the group strips it from the members and frees the units.
    let r = app
        .post(&format!("/v1.0/groups/{g}/assignLicense"), licenses(&[], &[PBI]))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(app.consumed(PBI).await, before);
    assert!(states(&app, "zaraa@contoso.example").await.is_empty());
    assert_eq!(app.delete(&format!("/v1.0/groups/{g}")).await.status, 204);
});

e2e!(up_front_refusals_change_nothing, |app| {
    set_mode(&app, DEMO_TENANT, "sync").await;
    let g = group_of(&app, "gbl2", &["tomasn@contoso.example"]).await;
    let unified = app
        .post("/v1.0/groups", json!({"displayName": "m365", "mailEnabled": true, "mailNickname": "m365", "securityEnabled": false, "groupTypes": ["Unified"]}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(String, Value, &str)> = vec![
        (
            g.clone(),
            licenses(&[("11111111-2222-4333-8444-555555555555", &[])], &[]),
            "does not correspond to a valid company License",
        ),
        (
            unified.clone(),
            licenses(&[(PBI, &[])], &[]),
            "security-enabled groups",
        ),
        (
            g.clone(),
            licenses(&[(ARCHIVE, &[])], &[]),
            "Make sure that the group has necessary services",
        ),
        (
            g.clone(),
            json!({"addLicenses": []}),
            "The missing parameters are: removeLicenses.",
        ),
        (g.clone(), licenses(&[], &[E3]), "is not assigned to the group"),
        (
            g.clone(),
            json!({"addLicenses": [{"skuId": "nope"}], "removeLicenses": []}),
            "Cannot convert the literal 'nope'",
        ),
    ];
    for (group, body, needle) in cases {
        let msg = app
            .post(&format!("/v1.0/groups/{group}/assignLicense"), body.clone())
            .await
            .graph_error(400, "Request_BadRequest");
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    assert_eq!(
        app.get(&format!("/v1.0/groups/{g}?$select=assignedLicenses"))
            .await
            .ok()["assignedLicenses"],
        json!([])
    );
    assert_eq!(processing_state(&app, &g).await, Value::Null);
    assert!(states(&app, "tomasn@contoso.example").await.is_empty());
    app.post(
        "/v1.0/groups/0f0f0f0f-0000-4000-8000-000000000000/assignLicense",
        licenses(&[(PBI, &[])], &[]),
    )
    .await
    .graph_error(404, "Request_ResourceNotFound");
    // The add-on with its base in the same group is fine.
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(ARCHIVE, &[]), (EMS, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 400, "EMS has no Exchange mailbox plan: {}", r.text);
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(ARCHIVE, &[]), (SPE_E5_ID, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
});

const SPE_E5_ID: &str = "06ebc4ee-1bb5-47dd-8120-11324bc54e06";

e2e!(
    one_unit_for_direct_plus_two_groups_and_disabled_plans_intersect,
    |app| {
        set_mode(&app, DEMO_TENANT, "sync").await;
        let upn = "tomasn@contoso.example";
        let plans = plans_of(&app, EMS).await;
        let (p1, p2, p3) = (plans[0].as_str(), plans[1].as_str(), plans[2].as_str());
        // Tomas holds EMS directly already? No: give it directly with p1 and p2 disabled.
        let before = app.consumed(EMS).await;
        app.post(
            &format!("/v1.0/users/{upn}/assignLicense"),
            licenses(&[(EMS, &[p1, p2])], &[]),
        )
        .await
        .ok();
        let ga = group_of(&app, "gblA", &[upn]).await;
        let gb = group_of(&app, "gblB", &[upn]).await;
        assert_eq!(
            app.post(
                &format!("/v1.0/groups/{ga}/assignLicense"),
                licenses(&[(EMS, &[p2, p3])], &[])
            )
            .await
            .status,
            202
        );
        assert_eq!(
            app.post(
                &format!("/v1.0/groups/{gb}/assignLicense"),
                licenses(&[(EMS, &[p2])], &[])
            )
            .await
            .status,
            202
        );
        assert_eq!(
            app.consumed(EMS).await,
            before + 1,
            "one unit whatever the number of sources"
        );
        let v = app
            .get(&format!(
                "/v1.0/users/{upn}?$select=licenseAssignmentStates,assignedLicenses"
            ))
            .await
            .ok();
        let s = v["licenseAssignmentStates"].as_array().unwrap();
        assert_eq!(s.len(), 3);
        let sources: BTreeSet<_> = s
            .iter()
            .map(|x| x["assignedByGroup"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            sources,
            BTreeSet::from([None, Some(ga.clone()), Some(gb.clone())])
        );
        assert!(s.iter().all(|x| x["state"] == "Active"));
        assert_eq!(
            v["assignedLicenses"],
            json!([{"skuId": EMS, "disabledPlans": [p2]}]),
            "only the plan every source disables"
        );
        let d = app.get(&format!("/v1.0/users/{upn}/licenseDetails")).await.ok();
        let disabled: Vec<_> = d["value"][0]["servicePlans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["provisioningStatus"] == "Disabled")
            .map(|p| p["servicePlanId"].clone())
            .collect();
        assert_eq!(disabled, vec![json!(p2)]);
        // Changing a group's disabled plans updates the member.
        app.post(
            &format!("/v1.0/groups/{gb}/assignLicense"),
            licenses(&[(EMS, &[])], &[]),
        )
        .await;
        let v = app
            .get(&format!("/v1.0/users/{upn}?$select=assignedLicenses"))
            .await
            .ok();
        assert_eq!(
            v["assignedLicenses"],
            json!([{"skuId": EMS, "disabledPlans": []}])
        );
        // Leaving both groups keeps the direct license and its unit.
        let uid = user_id(&app, upn).await;
        for g in [&ga, &gb] {
            assert_eq!(
                app.delete(&format!("/v1.0/groups/{g}/members/{uid}/$ref"))
                    .await
                    .status,
                204
            );
        }
        assert_eq!(states(&app, upn).await.len(), 1);
        assert_eq!(app.consumed(EMS).await, before + 1);
    }
);

const RACE_TENANT: &str = "race.example";

async fn thirty_members_twenty_units(app: &TestApp) -> (String, String) {
    let mut users = String::new();
    for i in 0..30 {
        users.push_str(&format!(
            "      - {{userPrincipalName: m{i:02}@race.example, displayName: M{i:02}, usageLocation: US}}\n"
        ));
    }
    let members: Vec<String> = (0..30).map(|i| format!("m{i:02}@race.example")).collect();
    let file = format!(
        "tenants:\n  - displayName: Race\n    defaultDomain: race.example\n    subscriptions:\n      - {{sku: EMS, enabled: 20}}\n    apps:\n      - clientId: 7ace0000-0000-4000-8000-000000000002\n        displayName: racer\n        clientSecret: s\n        applicationPermissions: [Directory.ReadWrite.All, Organization.Read.All]\n    users:\n{users}    groups:\n      - displayName: Thirty\n        members: [{}]\n",
        members.join(", ")
    );
    app.admin(Method::POST, "/_allot/tenants", Some(file)).await.ok();
    set_mode(app, RACE_TENANT, "sync").await;
    let r = app
        .token_request(
            RACE_TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "7ace0000-0000-4000-8000-000000000002"),
                ("client_secret", "s"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    let token = r.ok()["access_token"].as_str().unwrap().to_owned();
    let groups = app
        .send(Method::GET, "/v1.0/groups", Some(&token), None)
        .await
        .ok();
    (token, groups["value"][0]["id"].as_str().unwrap().to_owned())
}

e2e!(
    thirty_members_and_twenty_units_leave_ten_in_count_violation,
    |app| {
        let (t, g) = thirty_members_twenty_units(&app).await;
        let r = app
            .send(
                Method::POST,
                &format!("/v1.0/groups/{g}/assignLicense"),
                Some(&t),
                Some(licenses(&[(EMS, &[])], &[])),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let skus = app
            .send(Method::GET, "/v1.0/subscribedSkus", Some(&t), None)
            .await
            .ok();
        assert_eq!(skus["value"][0]["consumedUnits"], 20);
        // Membership order decides: the first twenty members got units.
        for i in 0..30 {
            let v = app
                .send(
                    Method::GET,
                    &format!("/v1.0/users/m{i:02}@race.example?$select=licenseAssignmentStates"),
                    Some(&t),
                    None,
                )
                .await
                .ok();
            let s = &v["licenseAssignmentStates"][0];
            if i < 20 {
                assert_eq!(
                    (s["state"].as_str(), s["error"].as_str()),
                    (Some("Active"), Some("None")),
                    "m{i:02}"
                );
            } else {
                assert_eq!(
                    (s["state"].as_str(), s["error"].as_str()),
                    (Some("Error"), Some("CountViolation")),
                    "m{i:02}"
                );
            }
        }
        let flagged = app
            .send(
                Method::GET,
                "/v1.0/groups?$filter=hasMembersWithLicenseErrors eq true",
                Some(&t),
                None,
            )
            .await
            .ok();
        assert_eq!(flagged["value"].as_array().unwrap().len(), 1);
        assert_eq!(flagged["value"][0]["id"], g);
        let clean = app
            .send(
                Method::GET,
                "/v1.0/groups?$filter=hasMembersWithLicenseErrors eq false",
                Some(&t),
                None,
            )
            .await
            .ok();
        assert!(clean["value"].as_array().unwrap().is_empty());
        let (errs, pages) = {
            let mut items = Vec::new();
            let mut pages = 0;
            let mut next = Some(app.url(&format!("/v1.0/groups/{g}/membersWithLicenseErrors?$top=4")));
            while let Some(u) = next {
                let v = read(app.client.get(u).bearer_auth(&t).send().await.unwrap())
                    .await
                    .ok();
                pages += 1;
                items.extend(v["value"].as_array().unwrap().clone());
                next = v["@odata.nextLink"].as_str().map(str::to_owned);
            }
            (items, pages)
        };
        assert_eq!((errs.len(), pages), (10, 3));
        assert!(errs.iter().all(|u| u["@odata.type"] == "#microsoft.graph.user"));
        // Removing a licensed member frees its unit; the longest-waiting member (m20, first in
        // membership order) gets it at once (the waiting room of issue #4).
        let m00 = app
            .send(Method::GET, "/v1.0/users/m00@race.example", Some(&t), None)
            .await
            .ok()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            app.send(
                Method::DELETE,
                &format!("/v1.0/groups/{g}/members/{m00}/$ref"),
                Some(&t),
                None
            )
            .await
            .status,
            204
        );
        let skus = app
            .send(Method::GET, "/v1.0/subscribedSkus", Some(&t), None)
            .await
            .ok();
        assert_eq!(skus["value"][0]["consumedUnits"], 20);
        for (upn, error) in [("m20", "None"), ("m21", "CountViolation")] {
            let v = app
                .send(
                    Method::GET,
                    &format!("/v1.0/users/{upn}@race.example?$select=licenseAssignmentStates"),
                    Some(&t),
                    None,
                )
                .await
                .ok();
            assert_eq!(v["licenseAssignmentStates"][0]["error"], error, "{upn}");
        }
        // After adding units the waiting members are seated; reprocessing keeps them so.
        let subs = app
            .admin(Method::GET, "/_allot/tenants/race.example/subscriptions", None)
            .await
            .ok();
        let sid = subs["value"][0]["id"].as_str().unwrap().to_owned();
        app.admin(
            Method::PATCH,
            &format!("/_allot/tenants/race.example/subscriptions/{sid}"),
            Some(r#"{"enabled": 30}"#.into()),
        )
        .await
        .ok();
        for i in 20..30 {
            let r = app
                .send(
                    Method::POST,
                    &format!("/v1.0/users/m{i:02}@race.example/reprocessLicenseAssignment"),
                    Some(&t),
                    None,
                )
                .await;
            assert_eq!(r.ok()["userPrincipalName"], format!("m{i:02}@race.example"));
        }
        let skus = app
            .send(Method::GET, "/v1.0/subscribedSkus", Some(&t), None)
            .await
            .ok();
        assert_eq!(skus["value"][0]["consumedUnits"], 29);
        let flagged = app
            .send(
                Method::GET,
                "/v1.0/groups?$filter=hasMembersWithLicenseErrors eq true",
                Some(&t),
                None,
            )
            .await
            .ok();
        assert!(flagged["value"].as_array().unwrap().is_empty());
        let errs = app
            .send(
                Method::GET,
                &format!("/v1.0/groups/{g}/membersWithLicenseErrors"),
                Some(&t),
                None,
            )
            .await
            .ok();
        assert!(errs["value"].as_array().unwrap().is_empty());
    }
);

e2e!(conflicts_become_error_states_not_failed_requests, |app| {
    set_mode(&app, DEMO_TENANT, "sync").await;
    // Christie (index 3) holds E3 directly; a group giving E1 conflicts for her only.
    let g = group_of(
        &app,
        "gblE1",
        &["christiec@contoso.example", "tomasn@contoso.example"],
    )
    .await;
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(E1, &[]), (EMS, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 202);
    let s = states(&app, "christiec@contoso.example").await;
    let from_group: Vec<_> = s.iter().filter(|x| x["assignedByGroup"] == g).collect();
    let by_sku = |sku: &str| {
        from_group
            .iter()
            .find(|x| x["skuId"] == sku)
            .map(|x| (x["state"].clone(), x["error"].clone()))
    };
    assert_eq!(
        by_sku(E1),
        Some((json!("Error"), json!("MutuallyExclusiveViolation")))
    );
    assert_eq!(
        by_sku(EMS).map(|x| x.1),
        Some(json!("Other")),
        "the group's other SKU"
    );
    let ok = states(&app, "tomasn@contoso.example").await;
    assert!(ok.iter().all(|x| x["state"] == "Active") && ok.len() == 2);
    let errs = app
        .get(&format!("/v1.0/groups/{g}/membersWithLicenseErrors"))
        .await
        .ok();
    assert_eq!(errs["value"].as_array().unwrap().len(), 1);
    assert_eq!(errs["value"][0]["userPrincipalName"], "christiec@contoso.example");
    // With $select, the member's license states say why (what the console shows).
    let errs = app
        .get(&format!(
            "/v1.0/groups/{g}/membersWithLicenseErrors?$select=id,licenseAssignmentStates"
        ))
        .await
        .ok();
    let states = errs["value"][0]["licenseAssignmentStates"].as_array().unwrap();
    assert!(
        states
            .iter()
            .any(|s| s["assignedByGroup"] == g && s["error"] == "MutuallyExclusiveViolation"),
        "{errs}"
    );
});

e2e!(adding_a_member_licenses_it_and_manual_mode_waits, |app| {
    set_mode(&app, DEMO_TENANT, "manual").await;
    let g = group_of(&app, "gblM", &["tomasn@contoso.example"]).await;
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(PBI, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        processing_state(&app, &g).await,
        json!({"state": "QueuedForProcessing"})
    );
    assert!(
        states(&app, "tomasn@contoso.example").await.is_empty(),
        "nothing runs in manual mode"
    );
    let st = app
        .admin(
            Method::GET,
            &format!("/_allot/tenants/{DEMO_TENANT}/processing"),
            None,
        )
        .await
        .ok();
    assert_eq!(
        (st["mode"].as_str(), st["pendingJobs"].as_i64()),
        (Some("manual"), Some(1))
    );
    let run = app
        .admin(
            Method::POST,
            "/_allot/processing/run?tenant=contoso.example",
            None,
        )
        .await
        .ok();
    assert_eq!(run["jobsRun"], 1);
    assert_eq!(
        processing_state(&app, &g).await,
        json!({"state": "ProcessingComplete"})
    );
    assert_eq!(states(&app, "tomasn@contoso.example").await.len(), 1);
    // A new member waits for the next run too, then is licensed.
    let z = user_id(&app, "zaraa@contoso.example").await;
    app.post(
        &format!("/v1.0/groups/{g}/members/$ref"),
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{z}")}),
    )
    .await;
    assert!(states(&app, "zaraa@contoso.example").await.is_empty());
    app.admin(Method::POST, "/_allot/processing/run", None).await.ok();
    assert_eq!(states(&app, "zaraa@contoso.example").await[0]["state"], "Active");
});

e2e!(async_mode_reaches_processing_complete, |app| {
    let g = group_of(
        &app,
        "gblAsync",
        &["tomasn@contoso.example", "zaraa@contoso.example"],
    )
    .await;
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(PBI, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if processing_state(&app, &g).await == json!({"state": "ProcessingComplete"}) {
            break;
        }
        assert!(Instant::now() < deadline, "group processing did not complete");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(states(&app, "zaraa@contoso.example").await.len(), 1);
    let srv = app.admin(Method::GET, "/_allot/processing", None).await.ok();
    assert_eq!(
        (srv["mode"].as_str(), srv["pendingJobs"].as_i64()),
        (Some("async"), Some(0))
    );
    let bad = app
        .admin(
            Method::PUT,
            "/_allot/processing",
            Some(r#"{"mode":"eventually"}"#.into()),
        )
        .await;
    assert_eq!(bad.status, 400);
});
