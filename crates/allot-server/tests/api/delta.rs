//! Delta queries: `/users/delta` and `/groups/delta` rounds, paged, with `@removed` for deleted
//! objects, `members@delta` for groups, `$deltatoken=latest`, and tokens that outlive the node.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

/// One whole round from `url` (absolute), with a page size: the items and the deltaLink.
async fn round(app: &TestApp, url: &str, page: usize) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut next = url.to_owned();
    for _ in 0..1000 {
        let r = read(
            app.client
                .get(&next)
                .bearer_auth(&app.token)
                .header("Prefer", format!("odata.maxpagesize={page}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let v = r.ok();
        let values = v["value"].as_array().unwrap();
        assert!(values.len() <= page, "{v}");
        items.extend(values.iter().cloned());
        if let Some(n) = v["@odata.nextLink"].as_str() {
            assert!(v.get("@odata.deltaLink").is_none());
            assert!(n.contains("$skiptoken="), "{n}");
            next = n.to_owned();
            continue;
        }
        let delta = v["@odata.deltaLink"].as_str().expect("deltaLink").to_owned();
        assert!(delta.contains("$deltatoken="), "{delta}");
        return (items, delta);
    }
    panic!("runaway round");
}

fn ids(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn add(sku: &str) -> Value {
    json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []})
}

e2e!(
    users_delta_rounds_report_license_changes_creations_and_deletions,
    |app| {
        let a = app.create_user("dA", Some("US")).await;
        let b = app.create_user("dB", Some("US")).await;
        let everyone = app.collect_all("/v1.0/users", &app.token).await.0;

        // First sync: everyone, three at a time, with the selected properties only.
        let (first, delta) = round(
            &app,
            &app.url("/v1.0/users/delta?$select=displayName,assignedLicenses"),
            3,
        )
        .await;
        assert_eq!(ids(&first), ids(&everyone));
        let one = first.iter().find(|u| u["id"] == a).unwrap();
        assert_eq!(
            one.as_object().unwrap().keys().collect::<Vec<_>>(),
            vec!["assignedLicenses", "displayName", "id"]
        );

        // Nothing changed: an empty round.
        let (none, delta) = round(&app, &delta, 3).await;
        assert_eq!(none, Vec::<Value>::new());

        app.post(&format!("/v1.0/users/{a}/assignLicense"), add(E3))
            .await
            .ok();
        assert_eq!(app.delete(&format!("/v1.0/users/{b}")).await.status, 204);
        let c = app.create_user("dC", Some("US")).await;
        let (changed, delta) = round(&app, &delta, 3).await;
        assert_eq!(ids(&changed), {
            let mut v = vec![a.clone(), b.clone(), c.clone()];
            v.sort();
            v
        });
        let ua = changed.iter().find(|u| u["id"] == a).unwrap();
        assert_eq!(ua["assignedLicenses"][0]["skuId"], E3);
        assert!(ua.get("licenseAssignmentStates").is_none());
        let ub = changed.iter().find(|u| u["id"] == b).unwrap();
        assert_eq!(
            ub,
            &json!({"@odata.type": "#microsoft.graph.user", "id": b, "@removed": {"reason": "changed"}})
        );

        // Deleted for good: "deleted". A restore brings it back as present.
        app.delete(&format!("/v1.0/directory/deletedItems/{b}")).await;
        let (gone, delta) = round(&app, &delta, 3).await;
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0]["@removed"]["reason"], "deleted");

        // $deltatoken=latest: nothing now, changes from here on.
        let r = app.get("/v1.0/users/delta?$deltatoken=latest").await.ok();
        assert_eq!(r["value"], json!([]));
        let latest = r["@odata.deltaLink"].as_str().unwrap().to_owned();
        app.patch(&format!("/v1.0/users/{c}"), json!({"jobTitle": "Pilot"}))
            .await;
        let (after_latest, _) = round(&app, &latest, 10).await;
        assert_eq!(ids(&after_latest), vec![c.clone()]);
        assert_eq!(after_latest[0]["jobTitle"], "Pilot");
        // The older token sees the same change.
        let (same, _) = round(&app, &delta, 10).await;
        assert_eq!(ids(&same), vec![c.clone()]);
        // The SDKs' `delta()` spelling.
        assert_eq!(
            app.get("/v1.0/users/delta()?$deltatoken=latest").await.status,
            200
        );
    }
);

e2e!(group_license_changes_reach_members_in_the_next_round, |app| {
    let a = app.create_user("gdA", Some("US")).await;
    let group = app
        .post(
            "/v1.0/groups",
            json!({
                "displayName": "Delta", "mailEnabled": false, "mailNickname": "delta",
                "securityEnabled": true,
                "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}")],
            }),
        )
        .await;
    let group = group.json()["id"].as_str().unwrap().to_owned();
    let (_, delta) = round(&app, &app.url("/v1.0/users/delta?$select=assignedLicenses"), 50).await;
    app.post(&format!("/v1.0/groups/{group}/assignLicense"), add(EMS))
        .await;
    // Wait for the fan-out.
    for _ in 0..200 {
        let g = app
            .get(&format!("/v1.0/groups/{group}?$select=licenseProcessingState"))
            .await
            .ok();
        if g["licenseProcessingState"]["state"] == "ProcessingComplete" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (changed, _) = round(&app, &delta, 50).await;
    let ua = changed
        .iter()
        .find(|u| u["id"] == a)
        .unwrap_or_else(|| panic!("the member: {changed:?}"));
    assert_eq!(ua["assignedLicenses"][0]["skuId"], EMS);
});

e2e!(groups_delta_reports_members_and_deleted_groups, |app| {
    let a = app.create_user("gmA", Some("US")).await;
    let b = app.create_user("gmB", Some("US")).await;
    let group = app
        .post(
            "/v1.0/groups",
            json!({
                "displayName": "Crew", "mailEnabled": false, "mailNickname": "crew",
                "securityEnabled": true,
                "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}")],
            }),
        )
        .await;
    let group = group.json()["id"].as_str().unwrap().to_owned();
    let (first, delta) = round(&app, &app.url("/v1.0/groups/delta"), 5).await;
    let crew = first.iter().find(|g| g["id"] == group).unwrap();
    assert_eq!(
        crew["members@delta"],
        json!([{"@odata.type": "#microsoft.graph.user", "id": a}])
    );
    assert_eq!(crew["displayName"], "Crew");

    app.post(
        &format!("/v1.0/groups/{group}/members/$ref"),
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{b}")}),
    )
    .await;
    app.send(
        Method::DELETE,
        &format!("/v1.0/groups/{group}/members/{a}/$ref"),
        Some(&app.token),
        None,
    )
    .await;
    let (changed, delta) = round(&app, &delta, 5).await;
    assert_eq!(ids(&changed), vec![group.clone()]);
    let mut members = changed[0]["members@delta"].as_array().unwrap().clone();
    members.sort_by_key(|m| m["id"].as_str().unwrap().to_owned());
    let mut expected = vec![
        json!({"@odata.type": "#microsoft.graph.user", "id": a, "@removed": {"reason": "deleted"}}),
        json!({"@odata.type": "#microsoft.graph.user", "id": b}),
    ];
    expected.sort_by_key(|m| m["id"].as_str().unwrap().to_owned());
    assert_eq!(members, expected);

    // A security group's delete is final: "deleted".
    assert_eq!(app.delete(&format!("/v1.0/groups/{group}")).await.status, 204);
    let (gone, _) = round(&app, &delta, 5).await;
    assert_eq!(
        gone,
        vec![
            json!({"@odata.type": "#microsoft.graph.group", "id": group, "@removed": {"reason": "deleted"}})
        ]
    );

    // Tokens are checked; query options other than $select are refused.
    app.get("/v1.0/users/delta?$skiptoken=nonsense")
        .await
        .graph_error(400, "Request_BadRequest");
    let user_token = delta.replace("/groups/delta", "/users/delta");
    let r = app
        .client
        .get(&user_token)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(app.get("/v1.0/users/delta?$top=5").await.status, 400);
});
