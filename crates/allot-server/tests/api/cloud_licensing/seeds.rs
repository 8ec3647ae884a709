//! Seed 003's three examples.

use serde_json::{Value, json};

use crate::e2e;

use super::*;

e2e!(
    seed_003_example_1_lists_assignments_with_their_disabled_plans,
    |app| {
        let cl = Cl::new(&app).await;
        let created = cl.assign_user("steve", EXO, &[TODO]).await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(
            created,
            json!({
                "@odata.context": cl.ctx("admin/cloudLicensing/assignments/$entity"),
                "@odata.type": "#microsoft.graph.cloudLicensing.assignment",
                "id": id,
                "disabledServicePlanIds": [TODO],
            })
        );
        let list = cl.get("/beta/admin/cloudLicensing/assignments").await;
        assert_eq!(list.status, 200);
        assert_eq!(
            list.json(),
            json!({
                "@odata.context": cl.ctx("admin/cloudLicensing/assignments"),
                "value": [{
                    "@odata.type": "#microsoft.graph.cloudLicensing.assignment",
                    "id": id,
                    "disabledServicePlanIds": [TODO],
                }],
            })
        );
    }
);

e2e!(seed_003_example_2_expands_assigned_to_and_allotment, |app| {
    let cl = Cl::new(&app).await;
    let created = cl.assign_user("steve", EXO, &[TODO]).await;
    let steve = cl.user("steve").await;
    let v = cl
        .get("/beta/admin/cloudLicensing/assignments?$expand=assignedTo,allotment")
        .await
        .ok();
    let items = v["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let a = &items[0];
    assert_eq!(a["id"], created["id"]);
    assert_eq!(a["@odata.type"], "#microsoft.graph.cloudLicensing.assignment");
    assert_eq!(a["disabledServicePlanIds"], json!([TODO]));
    assert_eq!(a["assignedTo"]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(a["assignedTo"]["id"], steve);
    assert_eq!(a["assignedTo"]["displayName"], "Steve Fred");
    assert_eq!(a["assignedTo"]["userPrincipalName"], "steve@cloud.example");
    let al = &a["allotment"];
    assert_eq!(al["@odata.type"], "#microsoft.graph.cloudLicensing.allotment");
    assert_eq!(al["skuId"], EXO);
    assert_eq!(al["skuPartNumber"], "EXCHANGESTANDARD");
    assert_eq!(al["allottedUnits"], 5);
    assert_eq!(al["consumedUnits"], 1);
    assert_eq!(al["assignableTo"], "user,group");
    let todo = al["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["planId"] == TODO)
        .unwrap();
    assert_eq!(
        todo,
        &json!({
            "@odata.type": "#microsoft.graph.cloudLicensing.service",
            "assignableTo": "user,group",
            "planId": TODO,
            "planName": "BPOS_S_TODO_1",
        })
    );
    // The expanded allotment is the allotment itself.
    let own = cl
        .get(&format!(
            "/beta/admin/cloudLicensing/allotments/{}",
            al["id"].as_str().unwrap()
        ))
        .await
        .ok();
    let mut own = own.as_object().unwrap().clone();
    own.remove("@odata.context");
    assert_eq!(Value::Object(own), *al);
});

e2e!(seed_003_example_3_filters_expanded_allotments_by_sku, |app| {
    let cl = Cl::new(&app).await;
    cl.assign_user("steve", EXO, &[TODO]).await;
    let ann = cl.assign_user("ann", PBI_STD, &[]).await;
    let bob = cl.assign_user("bob", COPILOT, &[]).await;
    let v = cl
        .get(&format!(
            "/beta/admin/cloudLicensing/assignments?$expand=allotment($filter=skuId in ({COPILOT}, {PBI_STD}))"
        ))
        .await
        .ok();
    let items = v["value"].as_array().unwrap();
    let mut got: Vec<(String, String)> = items
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["allotment"]["skuId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (ann["id"].as_str().unwrap().to_owned(), PBI_STD.to_owned()),
        (bob["id"].as_str().unwrap().to_owned(), COPILOT.to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(
        items
            .iter()
            .all(|a| a["assignedTo"].is_null() && a["allotment"]["services"].is_array())
    );
    // Nested $select on the expansion, as the waitingMembers example uses.
    let v = cl
        .get("/beta/admin/cloudLicensing/assignments?$select=id&$expand=allotment($select=id,skuId,skuPartNumber)")
        .await
        .ok();
    for a in v["value"].as_array().unwrap() {
        let keys: Vec<&String> = a["allotment"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["@odata.type", "id", "skuId", "skuPartNumber"], "{a}");
        assert!(a.get("disabledServicePlanIds").is_none());
    }
    assert_eq!(
        v["@odata.context"],
        cl.ctx("admin/cloudLicensing/assignments(id)")
    );
});
