//! `$expand` on users and groups: `memberOf` and `members` with nested `$select`, within Graph's
//! limits for directory objects.

use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

async fn group_with(app: &TestApp, name: &str, members: &[String]) -> String {
    let bind: Vec<String> = members
        .iter()
        .map(|m| format!("https://graph.microsoft.com/v1.0/directoryObjects/{m}"))
        .collect();
    let r = app
        .post(
            "/v1.0/groups",
            json!({"displayName": name, "mailEnabled": false, "mailNickname": name.to_lowercase(),
                   "securityEnabled": true, "members@odata.bind": bind}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

e2e!(member_of_and_members_expand_with_nested_select, |app| {
    let a = app.create_user("expA", Some("US")).await;
    let b = app.create_user("expB", Some("US")).await;
    let g1 = group_with(&app, "ExpOne", &[a.clone(), b.clone()]).await;
    let g2 = group_with(&app, "ExpTwo", std::slice::from_ref(&a)).await;
    let outer = group_with(&app, "ExpOuter", std::slice::from_ref(&g1)).await;

    let v = app
        .get(&format!(
            "/v1.0/users/{a}?$select=id,displayName&$expand=memberOf($select=id,displayName)"
        ))
        .await
        .ok();
    assert_eq!(v["displayName"], "expA");
    let mut groups = v["memberOf"].as_array().unwrap().clone();
    groups.sort_by_key(|g| g["displayName"].as_str().unwrap().to_owned());
    assert_eq!(
        groups,
        vec![
            json!({"@odata.type": "#microsoft.graph.group", "id": g1, "displayName": "ExpOne"}),
            json!({"@odata.type": "#microsoft.graph.group", "id": g2, "displayName": "ExpTwo"}),
        ]
    );
    // Without a nested $select, the groups' default properties.
    let v = app.get(&format!("/v1.0/users/{b}?$expand=memberOf")).await.ok();
    assert_eq!(v["memberOf"][0]["securityEnabled"], true);
    assert_eq!(v["userPrincipalName"], "expB@contoso.example");

    // A group's members, users and groups, each with its type; and its own memberships.
    let v = app
        .get(&format!(
            "/v1.0/groups/{g1}?$expand=members($select=id,displayName)"
        ))
        .await
        .ok();
    let mut members = v["members"].as_array().unwrap().clone();
    members.sort_by_key(|m| m["displayName"].as_str().unwrap().to_owned());
    assert_eq!(
        members,
        vec![
            json!({"@odata.type": "#microsoft.graph.user", "id": a, "displayName": "expA"}),
            json!({"@odata.type": "#microsoft.graph.user", "id": b, "displayName": "expB"}),
        ]
    );
    let v = app
        .get(&format!("/v1.0/groups/{g1}?$expand=memberOf($select=id)"))
        .await
        .ok();
    assert_eq!(
        v["memberOf"],
        json!([{"@odata.type": "#microsoft.graph.group", "id": outer}])
    );

    // On collections: every item carries its expansion.
    let (users, _) = app
        .collect_all(
            "/v1.0/users?$select=id&$expand=memberOf($select=id)&$top=7",
            &app.token,
        )
        .await;
    let of_a = users.iter().find(|u| u["id"] == a).unwrap();
    assert_eq!(of_a["memberOf"].as_array().unwrap().len(), 2);
    assert!(users.iter().all(|u| u["memberOf"].is_array()));
    let (groups, _) = app
        .collect_all("/v1.0/groups?$expand=members($select=id)", &app.token)
        .await;
    let of_outer = groups.iter().find(|g| g["id"] == outer).unwrap();
    assert_eq!(
        of_outer["members"],
        json!([{"@odata.type": "#microsoft.graph.group", "id": g1}])
    );
});

e2e!(expansions_hold_twenty_objects_and_graphs_limits, |app| {
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(app.create_user(&format!("many{i:02}"), None).await);
    }
    let big = group_with(&app, "Big", &ids[..20]).await;
    for m in &ids[20..] {
        let r = app
            .post(
                &format!("/v1.0/groups/{big}/members/$ref"),
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{m}")}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let v = app
        .get(&format!("/v1.0/groups/{big}?$expand=members($select=id)"))
        .await
        .ok();
    assert_eq!(v["members"].as_array().unwrap().len(), 20);

    for (query, status, code) in [
        ("$expand=members,memberOf", 400, "Request_BadRequest"),
        ("$expand=owners", 400, "Request_BadRequest"),
        ("$expand=members($top=5)", 400, "Request_UnsupportedQuery"),
        ("$expand=members($select=nope)", 400, "Request_BadRequest"),
        ("$expand=members(", 400, "Request_BadRequest"),
    ] {
        app.get(&format!("/v1.0/groups/{big}?{query}"))
            .await
            .graph_error(status, code);
    }
    // Users expand memberOf only.
    app.get(&format!("/v1.0/users/{}?$expand=members", ids[0]))
        .await
        .graph_error(400, "Request_BadRequest");
    // Not with advanced queries.
    let r = app
        .send_with(
            Method::GET,
            "/v1.0/users?$expand=memberOf&$count=true",
            Some(&app.token),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    r.graph_error(400, "Request_UnsupportedQuery");
});
