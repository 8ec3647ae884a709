//! Group assignments, usage rights, the waiting room and assignment errors.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

use super::*;

e2e!(
    group_assignments_license_members_and_show_as_usage_rights,
    |app| {
        let cl = Cl::new(&app).await;
        let g = cl.group().await;
        for n in ["ann", "bob"] {
            cl.add_member(&g, n).await;
        }
        let e3 = cl.allotment_id(E3).await;
        let r = cl
        .post(
            &format!("/beta/groups/{g}/cloudLicensing/assignments"),
            json!({"allotment@odata.bind": cl.bind_allotment(&e3), "disabledServicePlanIds": [SWAY, YAMMER]}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let ga = r.json();
        assert_eq!(
            ga["@odata.context"],
            cl.ctx(&format!("groups('{g}')/cloudLicensing/assignments/$entity"))
        );
        let to = cl
            .get(&format!(
                "/beta/groups/{g}/cloudLicensing/assignments/{}/assignedTo",
                ga["id"].as_str().unwrap()
            ))
            .await
            .ok();
        assert_eq!(
            (to["@odata.type"].clone(), to["id"].clone()),
            (json!("#microsoft.graph.group"), json!(g))
        );
        // The members hold E3 from the group (v1.0 views), one unit each.
        assert_eq!(cl.license_skus("ann").await, vec![E3.to_owned()]);
        assert_eq!(cl.consumed(E3).await, 2);
        let v = cl
            .get(&format!("/v1.0/groups/{g}?$select=assignedLicenses"))
            .await
            .ok();
        let mut disabled = vec![SWAY, YAMMER];
        disabled.sort_unstable();
        assert_eq!(
            v["assignedLicenses"],
            json!([{"disabledPlans": disabled, "skuId": E3}])
        );
        // The group's usage right: E3 without the two plans.
        let gr = cl
            .get(&format!("/beta/groups/{g}/cloudLicensing/usageRights"))
            .await
            .ok();
        let plans: Vec<&Value> = gr["value"][0]["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["planId"])
            .collect();
        assert!(!plans.contains(&&json!(SWAY)) && !plans.contains(&&json!(YAMMER)) && !plans.is_empty());
        // Ann also holds E3 directly with Sway on: her usage right is the union (Sway on, Yammer off),
        // made of both assignments; still one unit.
        let ann = cl.user("ann").await;
        let direct = cl.assign_user("ann", E3, &[YAMMER]).await;
        assert_eq!(cl.consumed(E3).await, 2);
        let ur = cl
            .get(&format!(
                "/beta/users/{ann}/cloudLicensing/usageRights?$expand=assignments,allotments"
            ))
            .await
            .ok();
        assert_eq!(
            ur["@odata.context"],
            cl.ctx(&format!("users('{ann}')/cloudLicensing/usageRights"))
        );
        let right = &ur["value"][0];
        assert_eq!(
            (right["skuId"].clone(), right["skuPartNumber"].clone()),
            (json!(E3), json!("ENTERPRISEPACK"))
        );
        let plans: Vec<&Value> = right["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["planId"])
            .collect();
        assert!(plans.contains(&&json!(SWAY)), "enabled by the direct assignment");
        assert!(!plans.contains(&&json!(YAMMER)), "disabled by both");
        let mut behind: Vec<&str> = right["assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        behind.sort_unstable();
        let mut want = vec![direct["id"].as_str().unwrap(), ga["id"].as_str().unwrap()];
        want.sort_unstable();
        assert_eq!(behind, want);
        assert_eq!(right["allotments"][0]["id"], e3);
        let rid = right["id"].as_str().unwrap();
        let listed = cl
            .get(&format!(
                "/beta/users/{ann}/cloudLicensing/usageRights/{rid}/assignments"
            ))
            .await
            .ok();
        assert_eq!(listed["value"].as_array().unwrap().len(), 2);
        let one = cl
            .get(&format!(
                "/beta/users/{ann}/cloudLicensing/usageRights/{rid}?$select=skuId"
            ))
            .await
            .ok();
        assert_eq!(one["skuId"], E3);
        assert!(one.get("services").is_none());
        // $filter forms of the beta page.
        for (f, n) in [
            (format!("skuId eq {E3}"), 1),
            (format!("skuId in ({EXO}, {COPILOT})"), 0),
            (format!("services/any(c:c/planId eq {SWAY})"), 1),
            (format!("services/any(c:c/planId in ({YAMMER}))"), 0),
        ] {
            let v = cl
                .get(&format!(
                    "/beta/users/{ann}/cloudLicensing/usageRights?$filter={f}"
                ))
                .await
                .ok();
            assert_eq!(v["value"].as_array().unwrap().len(), n, "{f}");
        }
        // The user collection shows direct assignments only; the admin one shows both.
        let v = cl
            .get(&format!("/beta/users/{ann}/cloudLicensing/assignments"))
            .await
            .ok();
        assert_eq!(v["value"].as_array().unwrap().len(), 1);
        let v = cl.get("/beta/admin/cloudLicensing/assignments").await.ok();
        assert_eq!(v["value"].as_array().unwrap().len(), 2);
        // Updating the group assignment changes what the group (and so its members) disable.
        let r = cl
            .patch(
                &format!(
                    "/beta/groups/{g}/cloudLicensing/assignments/{}",
                    ga["id"].as_str().unwrap()
                ),
                json!({"disabledServicePlanIds": [SWAY]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["disabledServicePlanIds"], json!([SWAY]));
        let v = cl
            .get(&format!("/v1.0/groups/{g}?$select=assignedLicenses"))
            .await
            .ok();
        assert_eq!(
            v["assignedLicenses"],
            json!([{"disabledPlans": [SWAY], "skuId": E3}])
        );
        let v = cl
            .get("/v1.0/users/bob@cloud.example?$select=assignedLicenses")
            .await
            .ok();
        assert_eq!(
            v["assignedLicenses"],
            json!([{"disabledPlans": [SWAY], "skuId": E3}])
        );
        // Deleting the group assignment takes the license from bob, not from ann (direct).
        let r = cl
            .delete(&format!(
                "/beta/groups/{g}/cloudLicensing/assignments/{}",
                ga["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(cl.license_skus("bob").await, Vec::<String>::new());
        assert_eq!(cl.license_skus("ann").await, vec![E3.to_owned()]);
        assert_eq!(cl.consumed(E3).await, 1);
    }
);

e2e!(
    the_waiting_room_seats_the_longest_waiting_member_when_a_unit_frees,
    |app| {
        let cl = Cl::new(&app).await;
        // E3 has 3 units; Steve holds one directly.
        let steve_a = cl.assign_user("steve", E3, &[]).await;
        let g = cl.group().await;
        for n in ["ann", "bob", "dee", "eve"] {
            cl.add_member(&g, n).await;
        }
        let e3 = cl.allotment_id(E3).await;
        let r = cl
            .post(
                &format!("/beta/groups/{g}/cloudLicensing/assignments"),
                json!({"allotment@odata.bind": cl.bind_allotment(&e3), "disabledServicePlanIds": []}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        // The fan-out ran out of units: ann and bob seated, dee and eve wait, in membership order.
        assert_eq!(cl.consumed(E3).await, 3);
        assert_eq!(
            cl.waiting_upns(E3).await,
            ["dee@cloud.example", "eve@cloud.example"]
        );
        let dee = cl.user("dee").await;
        let v = cl
        .get(&format!("/beta/users/{dee}/cloudLicensing/waitingMembers?$expand=allotment($select=id,skuId,skuPartNumber)"))
        .await
        .ok();
        assert_eq!(
            v["@odata.context"],
            cl.ctx(&format!("users('{dee}')/cloudLicensing/waitingMembers"))
        );
        let w = &v["value"][0];
        assert_eq!(
            w["allotment"],
            json!({"@odata.type": "#microsoft.graph.cloudLicensing.allotment", "id": e3, "skuId": E3, "skuPartNumber": "ENTERPRISEPACK"})
        );
        assert_eq!(w["@odata.type"], "#microsoft.graph.cloudLicensing.waitingMember");
        assert!(w["waitingSinceDateTime"].as_str().unwrap().ends_with('Z'));
        let wid = w["id"].as_str().unwrap();
        let one = cl
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments/{e3}/waitingMembers/{wid}"
            ))
            .await
            .ok();
        assert_eq!(one["id"], wid);
        let to = cl
            .get(&format!(
                "/beta/users/{dee}/cloudLicensing/waitingMembers/{wid}/assignedTo"
            ))
            .await
            .ok();
        assert_eq!(to["userPrincipalName"], "dee@cloud.example");
        let al = cl
            .get(&format!(
                "/beta/users/{dee}/cloudLicensing/waitingMembers/{wid}/allotment"
            ))
            .await
            .ok();
        assert_eq!(al["id"], e3);
        // Waiting is not an assignment error.
        let errs = cl.get("/beta/admin/cloudLicensing/assignmentErrors").await.ok();
        assert_eq!(errs["value"], json!([]));
        // A direct license removed: the longest-waiting member (dee) gets the unit.
        let r = cl
            .delete(&format!(
                "/beta/admin/cloudLicensing/assignments/{}",
                steve_a["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(cl.license_skus("dee").await, vec![E3.to_owned()]);
        assert_eq!(cl.waiting_upns(E3).await, ["eve@cloud.example"]);
        assert_eq!(cl.consumed(E3).await, 3);
        // A member leaves: eve gets its unit.
        cl.remove_member(&g, "ann").await;
        assert_eq!(cl.license_skus("eve").await, vec![E3.to_owned()]);
        assert!(cl.waiting_upns(E3).await.is_empty());
        // A new member waits; units raised through the admin API seat it.
        cl.add_member(&g, "gus").await;
        assert_eq!(cl.waiting_upns(E3).await, ["gus@cloud.example"]);
        let subs = app
            .admin(Method::GET, &format!("/_allot/tenants/{T}/subscriptions"), None)
            .await
            .ok();
        let sid = subs["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuId"] == E3)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
            .admin(
                Method::PATCH,
                &format!("/_allot/tenants/{T}/subscriptions/{sid}"),
                Some(r#"{"enabled": 4}"#.into()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(cl.license_skus("gus").await, vec![E3.to_owned()]);
        assert!(cl.waiting_upns(E3).await.is_empty());
        assert_eq!(
            (
                cl.consumed(E3).await,
                cl.allotment(E3).await["consumedUnits"].clone()
            ),
            (4, json!(4))
        );
        let v = cl
            .get("/v1.0/users/gus@cloud.example?$select=licenseAssignmentStates")
            .await
            .ok();
        assert_eq!(v["licenseAssignmentStates"][0]["state"], "Active");
        assert_eq!(v["licenseAssignmentStates"][0]["assignedByGroup"], g);
    }
);

e2e!(assignment_errors_report_group_failures_units_cannot_fix, |app| {
    let cl = Cl::new(&app).await;
    let ann = cl.user("ann").await;
    cl.assign_user("ann", E1, &[]).await;
    let g = cl.group().await;
    cl.add_member(&g, "ann").await;
    let e3 = cl.allotment_id(E3).await;
    let r = cl
        .post(
            &format!("/beta/groups/{g}/cloudLicensing/assignments"),
            json!({"allotment@odata.bind": cl.bind_allotment(&e3), "disabledServicePlanIds": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let all = cl.get("/beta/admin/cloudLicensing/assignmentErrors").await.ok();
    assert_eq!(
        all["@odata.context"],
        cl.ctx("admin/cloudLicensing/assignmentErrors")
    );
    let items = all["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let e = &items[0];
    assert_eq!(
        e["@odata.type"],
        "#microsoft.graph.cloudLicensing.assignmentError"
    );
    assert_eq!(e["code"], "MutuallyExclusiveServicePlans");
    assert_eq!(e["skuId"], E3);
    assert!(
        e["message"].as_str().unwrap().contains("are mutually exclusive"),
        "{e}"
    );
    let id = e["id"].as_str().unwrap();
    let mine = cl
        .get(&format!(
            "/beta/users/{ann}/cloudLicensing/assignmentErrors?$filter=skuId eq {E3}"
        ))
        .await
        .ok();
    assert_eq!(mine["value"][0]["id"], id);
    let none = cl
        .get(&format!(
            "/beta/users/{ann}/cloudLicensing/assignmentErrors?$filter=skuId eq {E1}"
        ))
        .await
        .ok();
    assert_eq!(none["value"], json!([]));
    let one = cl
        .get(&format!(
            "/beta/admin/cloudLicensing/assignmentErrors/{id}?$expand=assignedTo"
        ))
        .await
        .ok();
    assert_eq!(one["assignedTo"]["id"], ann);
    let to = cl
        .get(&format!(
            "/beta/users/{ann}/cloudLicensing/assignmentErrors/{id}/assignedTo"
        ))
        .await
        .ok();
    assert_eq!(to["id"], ann);
    // She does not hold E3: no usage right is affected.
    let r = cl
        .get(&format!(
            "/beta/admin/cloudLicensing/assignmentErrors/{id}/usageRight"
        ))
        .await;
    cloud_error(&r, 404, "notFound", "resourceNotFound");
    let bob = cl.user("bob").await;
    let r = cl
        .get(&format!("/beta/users/{bob}/cloudLicensing/assignmentErrors/{id}"))
        .await;
    cloud_error(&r, 404, "notFound", "resourceNotFound");
});
