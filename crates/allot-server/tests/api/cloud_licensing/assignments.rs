//! Assignments: the §3.12 errors of a create, and reads, updates and deletes through every
//! collection.

use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

use super::*;

e2e!(creating_assignments_refuses_what_section_3_12_lists, |app| {
    let cl = Cl::new(&app).await;
    let (steve, cy) = (cl.user("steve").await, cl.user("cy").await);
    let exo = cl.allotment_id(EXO).await;
    let user_url = |id: &str| format!("https://graph.microsoft.com/beta/users/{id}");
    let admin = "/beta/admin/cloudLicensing/assignments";
    let body = |a: Option<&str>, to: Option<&str>, d: Option<Value>| {
        let mut m = serde_json::Map::new();
        if let Some(a) = a {
            m.insert("allotment@odata.bind".into(), json!(cl.bind_allotment(a)));
        }
        if let Some(t) = to {
            m.insert("assignedTo@odata.bind".into(), json!(user_url(t)));
        }
        if let Some(d) = d {
            m.insert("disabledServicePlanIds".into(), d);
        }
        Value::Object(m)
    };
    // Which bindings are required depends on the collection.
    for (path, b, prop) in [
        (
            admin.to_owned(),
            body(None, Some(&steve), Some(json!([]))),
            "allotment",
        ),
        (
            admin.to_owned(),
            body(Some(&exo), None, Some(json!([]))),
            "assignedTo",
        ),
        (
            admin.to_owned(),
            body(Some(&exo), Some(&steve), None),
            "disabledServicePlanIds",
        ),
        (
            format!("/beta/admin/cloudLicensing/allotments/{exo}/assignments"),
            body(None, None, Some(json!([]))),
            "assignedTo",
        ),
        (
            format!("/beta/users/{steve}/cloudLicensing/assignments"),
            body(None, None, Some(json!([]))),
            "allotment",
        ),
    ] {
        let r = cl.post(&path, b).await;
        let e = cloud_error(&r, 400, "badRequest", "requiredFieldOrParameterMissing");
        assert_eq!(e["innerError"]["propertyName"], prop, "{path}");
        assert_eq!(
            e["message"],
            "Cannot process the request because it is malformed or incorrect."
        );
    }
    // The allotment collection needs only assignedTo; the user collection only the allotment.
    let r = cl
        .post(
            &format!("/beta/admin/cloudLicensing/allotments/{exo}/assignments"),
            body(None, Some(&steve), Some(json!([]))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json()["@odata.context"],
        cl.ctx(&format!(
            "admin/cloudLicensing/allotments('{exo}')/assignments/$entity"
        ))
    );
    let r = cl
        .post(
            &format!("/beta/users/{steve}/cloudLicensing/assignments"),
            body(Some(&exo), None, Some(json!([]))),
        )
        .await;
    cloud_error(&r, 409, "conflict", "assignmentAlreadyExists");
    // Unknown allotment, unknown assignee, unknown plan.
    let e = cloud_error(
        &cl.post(admin, body(Some(&"a".repeat(52)), Some(&steve), Some(json!([]))))
            .await,
        400,
        "badRequest",
        "notFound",
    );
    assert_eq!(e["innerError"]["propertyName"], "allotment");
    let e = cloud_error(
        &cl.post(
            admin,
            body(
                Some(&exo),
                Some(&uuid::Uuid::new_v4().to_string()),
                Some(json!([])),
            ),
        )
        .await,
        400,
        "badRequest",
        "notFound",
    );
    assert_eq!(e["innerError"]["propertyName"], "assignedTo");
    assert_eq!(
        e["message"],
        "Cannot process request because a referenced item was not found."
    );
    let ann = cl.user("ann").await;
    let e = cloud_error(
        &cl.post(admin, body(Some(&exo), Some(&ann), Some(json!([TODO, SWAY]))))
            .await,
        400,
        "badRequest",
        "notFound",
    );
    assert_eq!(e["innerError"]["propertyName"], "disabledServicePlanIds[1]");
    // No usage location.
    let e = cloud_error(
        &cl.post(admin, body(Some(&exo), Some(&cy), Some(json!([])))).await,
        400,
        "badRequest",
        "invalidUsageLocation",
    );
    assert_eq!(
        e["message"],
        "Cannot process request because a referenced item has an invalid usage location."
    );
    // Mutually exclusive: E1 on a user holding E3.
    cl.assign_user("ann", E3, &[]).await;
    let e1 = cl.allotment_id(E1).await;
    let e = cloud_error(
        &cl.post(admin, body(Some(&e1), Some(&ann), Some(json!([])))).await,
        400,
        "badRequest",
        "mutuallyExclusiveServicePlans",
    );
    assert_eq!(e["innerError"]["ids"].as_array().unwrap().len(), 2);
    // The allotment is full.
    cl.assign_user("bob", COPILOT, &[]).await;
    cl.assign_user("dee", COPILOT, &[]).await;
    let copilot = cl.allotment_id(COPILOT).await;
    let eve = cl.user("eve").await;
    let e = cloud_error(
        &cl.post(admin, body(Some(&copilot), Some(&eve), Some(json!([]))))
            .await,
        400,
        "badRequest",
        "noAvailableLicenses",
    );
    assert_eq!(
        e["message"],
        "There are no available licenses for the specified allotment"
    );
    assert_eq!(cl.allotment(COPILOT).await["consumedUnits"], 2);
    // An unknown property, and nothing was written by any refusal.
    let mut b = body(Some(&exo), Some(&eve), Some(json!([])));
    b["skuId"] = json!(EXO);
    cloud_error(
        &cl.post(admin, b).await,
        400,
        "badRequest",
        "invalidPropertyValue",
    );
    assert_eq!(cl.license_skus("eve").await, Vec::<String>::new());
    assert_eq!(cl.license_skus("cy").await, Vec::<String>::new());
});

e2e!(
    assignments_are_read_updated_and_deleted_through_every_collection,
    |app| {
        let cl = Cl::new(&app).await;
        let steve = cl.user("steve").await;
        let exo = cl.allotment_id(EXO).await;
        let created = cl
            .post(
                &format!("/beta/users/{steve}/cloudLicensing/assignments"),
                json!({"allotment@odata.bind": cl.bind_allotment(&exo), "disabledServicePlanIds": []}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let created = created.json();
        assert_eq!(
            created["@odata.context"],
            cl.ctx(&format!("users('{steve}')/cloudLicensing/assignments/$entity"))
        );
        let id = created["id"].as_str().unwrap().to_owned();
        // The same assignment under every collection it belongs to.
        for base in [
            "/beta/admin/cloudLicensing/assignments".to_owned(),
            format!("/beta/admin/cloudLicensing/allotments/{exo}/assignments"),
            format!("/beta/users/{steve}/cloudLicensing/assignments"),
            "/beta/users/steve@cloud.example/cloudLicensing/assignments".to_owned(),
        ] {
            let v = cl.get(&format!("{base}/{id}")).await.ok();
            assert_eq!(v["id"], id, "{base}");
            assert_eq!(v["disabledServicePlanIds"], json!([]));
            let to = cl.get(&format!("{base}/{id}/assignedTo")).await.ok();
            assert_eq!(
                (to["@odata.type"].clone(), to["id"].clone()),
                (json!("#microsoft.graph.user"), json!(steve))
            );
            let al = cl
                .get(&format!("{base}/{id}/allotment?$select=id,skuId"))
                .await
                .ok();
            assert_eq!(al["id"], exo);
            assert_eq!(al["skuId"], EXO);
        }
        // Not under an allotment it was not drawn from, nor under another user.
        let copilot = cl.allotment_id(COPILOT).await;
        let r = cl
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments/{copilot}/assignments/{id}"
            ))
            .await;
        cloud_error(&r, 404, "notFound", "resourceNotFound");
        let ann = cl.user("ann").await;
        let r = cl
            .get(&format!("/beta/users/{ann}/cloudLicensing/assignments/{id}"))
            .await;
        cloud_error(&r, 404, "notFound", "resourceNotFound");
        let r = cl
            .get(&format!(
                "/beta/users/{}/cloudLicensing/assignments",
                uuid::Uuid::new_v4()
            ))
            .await;
        cloud_error(&r, 404, "notFound", "resourceNotFound");
        // Update: only disabledServicePlanIds; the relationships are immutable.
        let r = cl
            .patch(
                &format!("/beta/admin/cloudLicensing/assignments/{id}"),
                json!({"disabledServicePlanIds": [TODO]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["disabledServicePlanIds"], json!([TODO]));
        let v = cl
            .get(&format!("/v1.0/users/{steve}?$select=assignedLicenses"))
            .await
            .ok();
        assert_eq!(
            v["assignedLicenses"],
            json!([{"disabledPlans": [TODO], "skuId": EXO}])
        );
        let e = cloud_error(
            &cl.patch(
                &format!("/beta/admin/cloudLicensing/assignments/{id}"),
                json!({"allotment@odata.bind": cl.bind_allotment(&copilot)}),
            )
            .await,
            400,
            "badRequest",
            "immutablePropertyModified",
        );
        assert_eq!(e["innerError"]["propertyName"], "allotment");
        let e = cloud_error(
            &cl.patch(
                &format!("/beta/admin/cloudLicensing/assignments/{id}"),
                json!({"assignedTo@odata.bind": format!("https://graph.microsoft.com/beta/users/{ann}")}),
            )
            .await,
            400,
            "badRequest",
            "immutablePropertyModified",
        );
        assert_eq!(e["innerError"]["propertyName"], "assignedTo");
        assert_eq!(
            e["message"],
            "Cannot process the request because an immutable property was modified."
        );
        // Delete frees the unit; a second delete is a 404.
        assert_eq!(cl.consumed(EXO).await, 1);
        let r = cl
            .delete(&format!("/beta/users/{steve}/cloudLicensing/assignments/{id}"))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(cl.consumed(EXO).await, 0);
        assert_eq!(cl.allotment(EXO).await["consumedUnits"], 0);
        let r = cl
            .delete(&format!("/beta/admin/cloudLicensing/assignments/{id}"))
            .await;
        cloud_error(&r, 404, "notFound", "resourceNotFound");
        // reprocessAssignments: 200, no body.
        let r = cl
            .post(
                &format!("/beta/users/{steve}/cloudLicensing/assignments/reprocessAssignments"),
                json!({}),
            )
            .await;
        assert_eq!((r.status.as_u16(), r.text.as_str()), (200, ""));
    }
);

e2e!(a_user_assignment_is_in_the_audit_log_once, |app| {
    let cl = Cl::new(&app).await;
    cl.assign_user("ann", EXO, &[]).await;
    let ann = cl.user("ann").await;
    let v = cl
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$filter=targetResources/any(t:t/id eq '{ann}')"
        ))
        .await
        .ok();
    let records = v["value"].as_array().unwrap();
    let mut activities: Vec<&str> = records
        .iter()
        .map(|r| r["activityDisplayName"].as_str().unwrap())
        .collect();
    activities.sort_unstable();
    assert_eq!(activities, ["Change user license", "Update user"]);
    for r in records {
        assert_eq!(r["initiatedBy"]["app"]["appId"], APP);
        assert_eq!(
            r["additionalDetails"][0]["value"],
            "Microsoft Graph (beta cloudLicensing)"
        );
    }
});
