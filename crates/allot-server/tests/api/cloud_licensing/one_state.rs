//! One state with `assignLicense`, and no over-allocation under concurrent creates.

use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

use super::*;

e2e!(cloud_assignments_and_assign_license_are_one_state, |app| {
    let cl = Cl::new(&app).await;
    // cloudLicensing → v1.0 views.
    cl.assign_user("ann", E3, &[SWAY]).await;
    assert_eq!(cl.license_skus("ann").await, vec![E3.to_owned()]);
    assert_eq!(cl.consumed(E3).await, 1);
    assert_eq!(cl.allotment(E3).await["consumedUnits"], 1);
    let v = cl
        .get("/v1.0/users/ann@cloud.example?$select=assignedLicenses,licenseAssignmentStates")
        .await
        .ok();
    assert_eq!(
        v["assignedLicenses"],
        json!([{"disabledPlans": [SWAY], "skuId": E3}])
    );
    assert_eq!(v["licenseAssignmentStates"][0]["assignedByGroup"], Value::Null);
    assert_eq!(v["licenseAssignmentStates"][0]["state"], "Active");
    let details = cl.get("/v1.0/users/ann@cloud.example/licenseDetails").await.ok();
    let sway = details["value"][0]["servicePlans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["servicePlanId"] == SWAY)
        .unwrap()
        .clone();
    assert_eq!(sway["provisioningStatus"], "Disabled");
    // assignLicense → a cloudLicensing assignment of the same state.
    let bob = cl.user("bob").await;
    let r = cl
        .post(
            "/v1.0/users/bob@cloud.example/assignLicense",
            json!({"addLicenses": [{"skuId": E3, "disabledPlans": [YAMMER]}], "removeLicenses": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = cl
        .get(&format!(
            "/beta/users/{bob}/cloudLicensing/assignments?$expand=allotment($select=skuId)"
        ))
        .await
        .ok();
    let items = v["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["disabledServicePlanIds"], json!([YAMMER]));
    assert_eq!(items[0]["allotment"]["skuId"], E3);
    assert_eq!(cl.allotment(E3).await["consumedUnits"], 2);
    assert_eq!(cl.consumed(E3).await, 2);
    // The cloud delete of bob's assignLicense license; the assignLicense removal of ann's.
    let id = items[0]["id"].as_str().unwrap();
    assert_eq!(
        cl.delete(&format!("/beta/admin/cloudLicensing/assignments/{id}"))
            .await
            .status,
        204
    );
    assert_eq!(cl.license_skus("bob").await, Vec::<String>::new());
    let r = cl
        .post(
            "/v1.0/users/ann@cloud.example/assignLicense",
            json!({"addLicenses": [], "removeLicenses": [E3]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = cl.get("/beta/admin/cloudLicensing/assignments").await.ok();
    assert_eq!(v["value"], json!([]));
    assert_eq!(
        (
            cl.consumed(E3).await,
            cl.allotment(E3).await["consumedUnits"].clone()
        ),
        (0, json!(0))
    );
});

e2e!(concurrent_creates_never_over_allocate_an_allotment, |app| {
    let cl = Cl::new(&app).await;
    let copilot = cl.allotment_id(COPILOT).await;
    let mut ids = Vec::new();
    for n in ["steve", "ann", "bob", "dee", "eve", "gus"] {
        ids.push(cl.user(n).await);
    }
    let mut tasks = Vec::new();
    for id in ids {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/beta/users/{id}/cloudLicensing/assignments")),
            cl.token.clone(),
        );
        let body = json!({"allotment@odata.bind": cl.bind_allotment(&copilot), "disabledServicePlanIds": []});
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 400, 400, 400, 400]);
    assert_eq!(cl.consumed(COPILOT).await, 2);
    assert_eq!(cl.allotment(COPILOT).await["consumedUnits"], 2);
    let v = cl
        .get(&format!(
            "/beta/admin/cloudLicensing/allotments/{copilot}/assignments"
        ))
        .await
        .ok();
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
});
