//! Groups and membership.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

fn new_group(name: &str) -> Value {
    json!({"displayName": name, "mailEnabled": false, "mailNickname": name.to_lowercase(), "securityEnabled": true})
}

async fn user_id(app: &TestApp, upn: &str) -> String {
    app.get(&format!("/v1.0/users/{upn}")).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn member_upns(app: &TestApp, group: &str) -> BTreeSet<String> {
    let (all, _) = app
        .collect_all(&format!("/v1.0/groups/{group}/members"), &app.token)
        .await;
    all.iter()
        .filter_map(|m| m["userPrincipalName"].as_str().map(str::to_owned))
        .collect()
}

e2e!(create_group_with_members_bound, |app| {
    let a = user_id(&app, "adelev@contoso.example").await;
    let b = user_id(&app, "alexw@contoso.example").await;
    let mut body = new_group("Pilots");
    body["description"] = json!("pilot users");
    body["members@odata.bind"] = json!([
        format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}"),
        format!("https://graph.microsoft.com/v1.0/users/{b}"),
    ]);
    let r = app.post("/v1.0/groups", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(v["displayName"], "Pilots");
    assert_eq!(v["securityEnabled"], true);
    assert_eq!(v["groupTypes"], json!([]));
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#groups/$entity")
    );
    assert!(v["securityIdentifier"].as_str().unwrap().starts_with("S-1-12-1-"));
    let id = v["id"].as_str().unwrap();
    assert_eq!(
        member_upns(&app, id).await,
        BTreeSet::from([
            "adelev@contoso.example".to_owned(),
            "alexw@contoso.example".to_owned()
        ])
    );
    let sel = app
        .get(&format!(
            "/v1.0/groups/{id}?$select=id,assignedLicenses,licenseProcessingState"
        ))
        .await
        .ok();
    assert_eq!(sel["assignedLicenses"], json!([]));
    assert!(sel.get("displayName").is_none());
});

e2e!(create_group_refusals_create_nothing, |app| {
    let before = app.collect_all("/v1.0/groups", &app.token).await.0.len();
    for missing in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
        let mut b = new_group("G1");
        b.as_object_mut().unwrap().remove(missing);
        let msg = app
            .post("/v1.0/groups", b)
            .await
            .graph_error(400, "Request_BadRequest");
        assert!(msg.contains(missing), "{msg}");
    }
    let mut ghost = new_group("G2");
    ghost["members@odata.bind"] =
        json!(["https://graph.microsoft.com/v1.0/directoryObjects/0c0c0c0c-0000-4000-8000-000000000000"]);
    app.post("/v1.0/groups", ghost)
        .await
        .graph_error(404, "Request_ResourceNotFound");
    let mut too_many = new_group("G3");
    let a = user_id(&app, "adelev@contoso.example").await;
    too_many["members@odata.bind"] = json!(vec![
        format!(
            "https://graph.microsoft.com/v1.0/directoryObjects/{a}"
        );
        21
    ]);
    app.post("/v1.0/groups", too_many)
        .await
        .graph_error(400, "Request_BadRequest");
    let mut bad_type = new_group("G4");
    bad_type["groupTypes"] = json!(["Distribution"]);
    app.post("/v1.0/groups", bad_type)
        .await
        .graph_error(400, "Request_BadRequest");
    let mut unknown = new_group("G5");
    unknown["color"] = json!("red");
    app.post("/v1.0/groups", unknown)
        .await
        .graph_error(400, "Request_BadRequest");
    let mut dup = new_group("G6");
    dup["members@odata.bind"] = json!([
        format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}"),
        format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}"),
    ]);
    app.post("/v1.0/groups", dup)
        .await
        .graph_error(400, "Request_BadRequest");
    assert_eq!(app.collect_all("/v1.0/groups", &app.token).await.0.len(), before);
});

e2e!(list_get_update_delete_groups, |app| {
    let (all, _) = app
        .collect_all("/v1.0/groups?$top=2&$select=id,displayName", &app.token)
        .await;
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|g| g.as_object().unwrap().len() == 2));
    let id = app.post("/v1.0/groups", new_group("Temp")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .patch(
            &format!("/v1.0/groups/{id}"),
            json!({"description": "changed", "displayName": "Temp 2"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let g = app.get(&format!("/v1.0/groups/{id}")).await.ok();
    assert_eq!(
        (g["description"].as_str(), g["displayName"].as_str()),
        (Some("changed"), Some("Temp 2"))
    );
    app.patch(&format!("/v1.0/groups/{id}"), json!({"displayName": ""}))
        .await
        .graph_error(400, "Request_BadRequest");
    let msg = app
        .get("/v1.0/groups/not-a-guid")
        .await
        .graph_error(400, "Request_BadRequest");
    assert_eq!(msg, "Invalid object identifier 'not-a-guid'.");
    app.get("/v1.0/groups/0d0d0d0d-0000-4000-8000-000000000000")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    assert_eq!(app.delete(&format!("/v1.0/groups/{id}")).await.status, 204);
    app.get(&format!("/v1.0/groups/{id}"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.delete(&format!("/v1.0/groups/{id}"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.get("/v1.0/groups?$select=hasMembersWithLicenseErrors")
        .await
        .graph_error(400, "Request_BadRequest");
});

e2e!(members_ref_add_and_remove, |app| {
    let g = app.post("/v1.0/groups", new_group("Refs")).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let u = user_id(&app, "lidiah@contoso.example").await;
    let body = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{u}")});
    let r = app
        .post(&format!("/v1.0/groups/{g}/members/$ref"), body.clone())
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        member_upns(&app, &g).await,
        BTreeSet::from(["lidiah@contoso.example".to_owned()])
    );
    let again = app.post(&format!("/v1.0/groups/{g}/members/$ref"), body).await;
    assert_eq!(
        again.graph_error(400, "Request_BadRequest"),
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    let ghost = json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/0e0e0e0e-0000-4000-8000-000000000000"});
    app.post(&format!("/v1.0/groups/{g}/members/$ref"), ghost)
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.post(&format!("/v1.0/groups/{g}/members/$ref"), json!({}))
        .await
        .graph_error(400, "Request_BadRequest");
    // A nested group member shows with its own type.
    let sales = app
        .collect_all("/v1.0/groups", &app.token)
        .await
        .0
        .into_iter()
        .find(|x| x["displayName"] == "Sales")
        .unwrap();
    let nested = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/groups/{}", sales["id"].as_str().unwrap())});
    app.post(&format!("/v1.0/groups/{g}/members/$ref"), nested)
        .await
        .ok();
    let members = app.get(&format!("/v1.0/groups/{g}/members")).await.ok();
    let types: BTreeSet<_> = members["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "#microsoft.graph.group".to_owned(),
            "#microsoft.graph.user".to_owned()
        ])
    );
    let r = app.delete(&format!("/v1.0/groups/{g}/members/{u}/$ref")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.delete(&format!("/v1.0/groups/{g}/members/{u}/$ref"))
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.delete(&format!("/v1.0/groups/{g}/members/nope/$ref"))
        .await
        .graph_error(400, "Request_BadRequest");
    // PATCH with members@odata.bind adds, all or none.
    let m1 = user_id(&app, "meganb@contoso.example").await;
    let bind =
        json!({"members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{m1}")]});
    assert_eq!(app.patch(&format!("/v1.0/groups/{g}"), bind).await.status, 204);
    assert!(member_upns(&app, &g).await.contains("meganb@contoso.example"));
});

e2e!(members_page_and_count, |app| {
    let eng = app
        .collect_all("/v1.0/groups", &app.token)
        .await
        .0
        .into_iter()
        .find(|x| x["displayName"] == "Engineering")
        .unwrap();
    let id = eng["id"].as_str().unwrap();
    let (all, pages) = app
        .collect_all(&format!("/v1.0/groups/{id}/members?$top=3"), &app.token)
        .await;
    assert_eq!((all.len(), pages), (8, 3));
    let r = app
        .client
        .get(app.url(&format!("/v1.0/groups/{id}/members?$count=true")))
        .bearer_auth(&app.token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.ok()["@odata.count"], 8);
});

e2e!(members_carry_their_license_properties_when_selected, |app| {
    // Debra Berger holds ENTERPRISEPACK and POWER_BI_PRO directly (the demo tenant).
    let sales = app.get("/v1.0/groups?$filter=displayName eq 'Sales'").await.ok()["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (all, _) = app
        .collect_all(
            &format!(
                "/v1.0/groups/{sales}/members?$select=userPrincipalName,assignedLicenses,licenseAssignmentStates"
            ),
            &app.token,
        )
        .await;
    let debra = all
        .iter()
        .find(|m| m["userPrincipalName"] == "debrab@contoso.example")
        .unwrap();
    let user = app
        .get("/v1.0/users/debrab@contoso.example?$select=assignedLicenses,licenseAssignmentStates")
        .await
        .ok();
    assert_eq!(
        debra["licenseAssignmentStates"].as_array().unwrap().len(),
        2,
        "{debra}"
    );
    assert_eq!(debra["licenseAssignmentStates"], user["licenseAssignmentStates"]);
    assert_eq!(debra["assignedLicenses"], user["assignedLicenses"]);
    assert_eq!(debra["@odata.type"], "#microsoft.graph.user");
});
