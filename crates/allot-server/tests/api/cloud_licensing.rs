//! Beta `cloudLicensing` (spec §1.3 C1–C22): allotments, assignments (admin, allotment, user, me
//! and group collections), usage rights, waiting members and assignment errors; the seed 003
//! examples; the §3.12 errors; the waiting room's FIFO seating; and agreement with the v1.0
//! views of the same state.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

const T: &str = "5a1d0000-c0de-4c0e-a000-0000000000c1";
const APP: &str = "5a1d0000-c0de-4a99-a000-0000000000c1";
const READER: &str = "5a1d0000-c0de-4a99-a000-0000000000c2";
/// EXCHANGESTANDARD and its BPOS_S_TODO_1 plan (the plan seed 003 disables).
const EXO: &str = "4b9405b0-7788-4568-add1-99614e613b69";
const TODO: &str = "5e62787c-c316-451f-b873-1d05acd4d12c";
const COPILOT: &str = "639dec6b-bb19-468b-871c-c5c441c4b0cb";
const PBI_STD: &str = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235";
/// Two plans of ENTERPRISEPACK (E3): Sway and Yammer.
const SWAY: &str = "a23b959c-7ce8-4e57-9140-b90eb88a9e97";
const YAMMER: &str = "7547a3fe-08ee-4ccb-b430-5077c5041653";

const TENANT: &str = r"
tenants:
  - displayName: Cloud Co
    defaultDomain: cloud.example
    id: 5a1d0000-c0de-4c0e-a000-0000000000c1
    subscriptions:
      - {sku: EXCHANGESTANDARD, enabled: 5}
      - {sku: Microsoft_365_Copilot, enabled: 2}
      - {sku: POWER_BI_STANDARD, enabled: 10}
      - {sku: ENTERPRISEPACK, enabled: 3}
      - {sku: STANDARDPACK, enabled: 5}
    apps:
      - clientId: 5a1d0000-c0de-4a99-a000-0000000000c1
        displayName: Cloud admin app
        clientSecret: cloud-secret
        applicationPermissions: [CloudLicensing.Read.All, CloudLicensing.AssignLicenses.Organization, User.ReadWrite.All, Group.ReadWrite.All, GroupMember.ReadWrite.All, LicenseAssignment.ReadWrite.All, Organization.Read.All]
        delegatedScopes: [User.Read, CloudLicensing.Read, User-CloudLicensing.AssignLicenses]
      - clientId: 5a1d0000-c0de-4a99-a000-0000000000c2
        displayName: Cloud reader
        clientSecret: reader-secret
        applicationPermissions: [User-CloudLicensing.Read.All]
    users:
      - {userPrincipalName: steve@cloud.example, displayName: Steve Fred, usageLocation: US, password: pw-steve, directoryRoles: [License Administrator]}
      - {userPrincipalName: ann@cloud.example, displayName: Ann, usageLocation: US}
      - {userPrincipalName: bob@cloud.example, displayName: Bob, usageLocation: US}
      - {userPrincipalName: cy@cloud.example, displayName: Cy}
      - {userPrincipalName: dee@cloud.example, displayName: Dee, usageLocation: US}
      - {userPrincipalName: eve@cloud.example, displayName: Eve, usageLocation: US}
      - {userPrincipalName: gus@cloud.example, displayName: Gus, usageLocation: US}
    groups:
      - {displayName: Sales}
";

/// The cloud tenant, its admin app's token, sync processing.
struct Cl<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Cl<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let r = app
            .admin(Method::POST, "/_allot/tenants", Some(TENANT.to_owned()))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app
            .admin(
                Method::PUT,
                &format!("/_allot/tenants/{T}/processing"),
                Some(json!({"mode": "sync"}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = Self::token(app, APP, "cloud-secret").await;
        Self { app, token }
    }

    async fn token(app: &TestApp, client: &str, secret: &str) -> String {
        let r = app
            .token_request(
                T,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client),
                    ("client_secret", secret),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        r.ok()["access_token"].as_str().unwrap().to_owned()
    }

    async fn get(&self, path: &str) -> Resp {
        self.app.send(Method::GET, path, Some(&self.token), None).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.app
            .send(Method::POST, path, Some(&self.token), Some(body))
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.app
            .send(Method::PATCH, path, Some(&self.token), Some(body))
            .await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.app.send(Method::DELETE, path, Some(&self.token), None).await
    }

    fn ctx(&self, fragment: &str) -> String {
        format!("{}/beta/$metadata#{fragment}", self.app.base)
    }

    async fn user(&self, nick: &str) -> String {
        self.get(&format!("/v1.0/users/{nick}@cloud.example")).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn group(&self) -> String {
        self.get("/v1.0/groups").await.ok()["value"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn add_member(&self, group: &str, nick: &str) {
        let id = self.user(nick).await;
        let r = self
            .post(
                &format!("/v1.0/groups/{group}/members/$ref"),
                json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    async fn remove_member(&self, group: &str, nick: &str) {
        let id = self.user(nick).await;
        let r = self
            .delete(&format!("/v1.0/groups/{group}/members/{id}/$ref"))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    async fn allotments(&self) -> Vec<Value> {
        self.get("/beta/admin/cloudLicensing/allotments").await.ok()["value"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn allotment(&self, sku: &str) -> Value {
        self.allotments()
            .await
            .into_iter()
            .find(|a| a["skuId"] == sku)
            .unwrap_or_else(|| panic!("no allotment of {sku}"))
    }

    async fn allotment_id(&self, sku: &str) -> String {
        self.allotment(sku).await["id"].as_str().unwrap().to_owned()
    }

    fn bind_allotment(&self, id: &str) -> String {
        format!("https://graph.microsoft.com/beta/admin/cloudLicensing/allotments/{id}")
    }

    /// Assigns `sku` to a user through the admin collection; returns the new assignment.
    async fn assign_user(&self, nick: &str, sku: &str, disabled: &[&str]) -> Value {
        let (uid, aid) = (self.user(nick).await, self.allotment_id(sku).await);
        let r = self
            .post(
                "/beta/admin/cloudLicensing/assignments",
                json!({
                    "allotment@odata.bind": self.bind_allotment(&aid),
                    "assignedTo@odata.bind": format!("https://graph.microsoft.com/beta/users/{uid}"),
                    "disabledServicePlanIds": disabled,
                }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()
    }

    async fn consumed(&self, sku: &str) -> i64 {
        let v = self.get("/v1.0/subscribedSkus").await.ok();
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuId"] == sku)
            .and_then(|s| s["consumedUnits"].as_i64())
            .unwrap()
    }

    async fn license_skus(&self, nick: &str) -> Vec<String> {
        let v = self
            .get(&format!("/v1.0/users/{nick}@cloud.example/licenseDetails"))
            .await
            .ok();
        let mut out: Vec<String> = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["skuId"].as_str().unwrap().to_owned())
            .collect();
        out.sort();
        out
    }

    async fn waiting_upns(&self, sku: &str) -> Vec<String> {
        let aid = self.allotment_id(sku).await;
        let v = self
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments/{aid}/waitingMembers?$expand=assignedTo"
            ))
            .await
            .ok();
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["assignedTo"]["userPrincipalName"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Asserts a cloudLicensing error: status, `error.code`, `innerError.code` (and the common
/// envelope); returns the error object.
#[track_caller]
fn cloud_error(r: &Resp, status: u16, code: &str, inner: &str) -> Value {
    r.graph_error(status, code);
    let v = r.json();
    assert_eq!(v["error"]["innerError"]["code"], inner, "{}", r.text);
    v["error"].clone()
}

// ---- seed 003 ---------------------------------------------------------------------------------

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

// ---- allotments ---------------------------------------------------------------------------------

e2e!(
    allotments_are_one_per_subscription_with_units_services_and_subscriptions,
    |app| {
        let cl = Cl::new(&app).await;
        let subs = app
            .admin(Method::GET, &format!("/_allot/tenants/{T}/subscriptions"), None)
            .await
            .ok();
        let list = cl.get("/beta/admin/cloudLicensing/allotments").await.ok();
        assert_eq!(list["@odata.context"], cl.ctx("admin/cloudLicensing/allotments"));
        let items = list["value"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        let exo_sub = subs["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuId"] == EXO)
            .unwrap()["id"]
            .clone();
        let exo = items.iter().find(|a| a["skuId"] == EXO).unwrap();
        let id = exo["id"].as_str().unwrap();
        assert_eq!(id.len(), 52, "opaque base32 like Graph's");
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        );
        let today = chrono::Utc::now().date_naive();
        let mut sub = exo["subscriptions"][0].clone();
        assert_eq!(sub["startDate"], today.format("%Y-%m-%d").to_string());
        sub.as_object_mut().unwrap().remove("startDate");
        sub.as_object_mut().unwrap().remove("nextLifecycleDate");
        assert_eq!(
            sub,
            json!({
                "@odata.type": "#microsoft.graph.cloudLicensing.subscription",
                "subscriptionId": exo_sub,
                "state": "active",
                "tags": "none",
            })
        );
        assert_eq!(
            (exo["allottedUnits"].clone(), exo["consumedUnits"].clone()),
            (json!(5), json!(0))
        );
        // Stable: the same id on every read; a GET by id returns the same entity.
        let again = cl.allotment_id(EXO).await;
        assert_eq!(again, id);
        let one = cl
            .get(&format!("/beta/admin/cloudLicensing/allotments/{id}"))
            .await
            .ok();
        assert_eq!(
            one["@odata.context"],
            cl.ctx("admin/cloudLicensing/allotments/$entity")
        );
        // $select, $top and paging.
        let sel = cl
            .get("/beta/admin/cloudLicensing/allotments?$select=skuId,allottedUnits")
            .await
            .ok();
        assert_eq!(
            sel["@odata.context"],
            cl.ctx("admin/cloudLicensing/allotments(skuId,allottedUnits)")
        );
        for a in sel["value"].as_array().unwrap() {
            let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["@odata.type", "allottedUnits", "skuId"]);
        }
        let (all, pages) = app
            .collect_all("/beta/admin/cloudLicensing/allotments?$top=2", &cl.token)
            .await;
        assert_eq!((all.len(), pages), (5, 3));
        // $filter on skuId and on services.
        let f = cl
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments?$filter=skuId in ({EXO}, {E3})"
            ))
            .await
            .ok();
        assert_eq!(f["value"].as_array().unwrap().len(), 2);
        let f = cl
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments?$filter=services/any(c:c/planId eq {TODO})"
            ))
            .await
            .ok();
        let skus: std::collections::BTreeSet<&str> = f["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["skuId"].as_str().unwrap())
            .collect();
        assert_eq!(
            skus,
            [EXO, E1].into_iter().collect(),
            "the SKUs with BPOS_S_TODO_1"
        );
        // Errors: an unknown allotment, an unknown property, a bad filter.
        let r = cl.get("/beta/admin/cloudLicensing/allotments/nope").await;
        let e = cloud_error(&r, 404, "notFound", "resourceNotFound");
        assert_eq!(e["message"], "Resource 'nope' not found");
        let r = cl
            .get("/beta/admin/cloudLicensing/allotments?$select=bogus")
            .await;
        cloud_error(&r, 400, "badRequest", "invalidQuery");
        let r = cl
            .get("/beta/admin/cloudLicensing/allotments?$filter=displayName eq 'x'")
            .await;
        cloud_error(&r, 400, "badRequest", "invalidFilter");
        let r = cl
            .get("/beta/admin/cloudLicensing/allotments?$expand=owner")
            .await;
        cloud_error(&r, 400, "badRequest", "invalidExpansion");
        // Beta only.
        let r = cl.get("/v1.0/admin/cloudLicensing/allotments").await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
);

e2e!(apply_groups_allotments_by_sku_and_sums_their_units, |app| {
    let cl = Cl::new(&app).await;
    // A second E3 subscription: two allotments of one SKU, grouped into one row.
    let r = app
        .admin(
            Method::POST,
            "/_allot/tenants",
            Some(TENANT.replace(
                "      - {sku: STANDARDPACK, enabled: 5}",
                "      - {sku: STANDARDPACK, enabled: 5}\n      - {sku: ENTERPRISEPACK, enabled: 4}",
            )),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    cl.assign_user("ann", E3, &[]).await;
    let v = cl
        .get("/beta/admin/cloudLicensing/allotments?$apply=groupby((skuId,skuPartNumber),aggregate(allottedUnits with sum as totalAllottedUnits, consumedUnits with sum as totalConsumedUnits))")
        .await
        .ok();
    assert_eq!(
        v["@odata.context"],
        cl.ctx("admin/cloudLicensing/allotments(skuId,skuPartNumber,totalAllottedUnits,totalConsumedUnits)")
    );
    let rows = v["value"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let e3 = rows.iter().find(|r| r["skuId"] == E3).unwrap();
    assert_eq!(
        e3,
        &json!({"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "totalAllottedUnits": 7, "totalConsumedUnits": 1})
    );
    // The two E3 allotments add up to subscribedSkus.
    let e3s: Vec<Value> = cl
        .allotments()
        .await
        .into_iter()
        .filter(|a| a["skuId"] == E3)
        .collect();
    assert_eq!(e3s.len(), 2);
    let consumed: i64 = e3s.iter().map(|a| a["consumedUnits"].as_i64().unwrap()).sum();
    assert_eq!(consumed, cl.consumed(E3).await);
    let r = cl
        .get("/beta/admin/cloudLicensing/allotments?$apply=groupby((nope))")
        .await;
    cloud_error(&r, 400, "badRequest", "invalidQuery");
});

// ---- assignments: the §3.12 errors -----------------------------------------------------------

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

// ---- one state --------------------------------------------------------------------------------

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

// ---- groups, usage rights, the waiting room -------------------------------------------------

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

// ---- permissions and /me ------------------------------------------------------------------------

e2e!(permissions_follow_the_cloud_licensing_families, |app| {
    let cl = Cl::new(&app).await;
    cl.assign_user("ann", EXO, &[]).await;
    let ann = cl.user("ann").await;
    let reader = Cl::token(&app, READER, "reader-secret").await;
    let ok = app
        .send(
            Method::GET,
            &format!("/beta/users/{ann}/cloudLicensing/assignments"),
            Some(&reader),
            None,
        )
        .await;
    assert_eq!(ok.ok()["value"].as_array().unwrap().len(), 1);
    for path in [
        "/beta/admin/cloudLicensing/allotments",
        "/beta/admin/cloudLicensing/assignments",
    ] {
        let r = app.send(Method::GET, path, Some(&reader), None).await;
        let e = cloud_error(&r, 403, "forbidden", "missingRequiredPermission");
        assert_eq!(
            e["message"],
            "Cannot process request because the user does not have required permissions."
        );
    }
    let r = app
        .send(
            Method::POST,
            &format!("/beta/users/{ann}/cloudLicensing/assignments"),
            Some(&reader),
            Some(json!({"allotment@odata.bind": "x", "disabledServicePlanIds": []})),
        )
        .await;
    cloud_error(&r, 403, "forbidden", "missingRequiredPermission");
    // The demo tenant's app cannot see this tenant's objects.
    let r = app
        .send(
            Method::GET,
            &format!("/beta/users/{ann}/cloudLicensing/assignments"),
            Some(&app.token),
            None,
        )
        .await;
    cloud_error(&r, 404, "notFound", "resourceNotFound");
    let r = app
        .send(Method::GET, "/beta/admin/cloudLicensing/allotments", None, None)
        .await;
    assert_eq!(r.status, 401);
});

e2e!(me_paths_serve_the_signed_in_user, |app| {
    let cl = Cl::new(&app).await;
    let steve = cl.user("steve").await;
    let token = app.user_token_in(T, APP, "steve@cloud.example", "pw-steve").await;
    let exo = cl.allotment_id(EXO).await;
    let r = app
        .send(
            Method::POST,
            "/beta/me/cloudLicensing/assignments",
            Some(&token),
            Some(json!({"allotment@odata.bind": cl.bind_allotment(&exo), "disabledServicePlanIds": [TODO]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = app
        .send(
            Method::GET,
            "/beta/me/cloudLicensing/usageRights",
            Some(&token),
            None,
        )
        .await
        .ok();
    assert_eq!(
        v["@odata.context"],
        cl.ctx(&format!("users('{steve}')/cloudLicensing/usageRights"))
    );
    let right = &v["value"][0];
    assert_eq!(right["skuId"], EXO);
    assert!(
        !right["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["planId"] == TODO)
    );
    let v = app
        .send(
            Method::GET,
            "/beta/me/cloudLicensing/assignments",
            Some(&token),
            None,
        )
        .await
        .ok();
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let v = app
        .send(
            Method::GET,
            "/beta/me/cloudLicensing/waitingMembers",
            Some(&token),
            None,
        )
        .await
        .ok();
    assert_eq!(v["value"], json!([]));
    // App-only tokens have no /me.
    let r = cl.get("/beta/me/cloudLicensing/usageRights").await;
    assert_eq!(r.status, 400, "{}", r.text);
    // A signed-in user without CloudLicensing.Read reading the organization's allotments.
    let r = app
        .send(
            Method::GET,
            "/beta/admin/cloudLicensing/allotments",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        r.status, 200,
        "License Administrator with CloudLicensing.Read: {}",
        r.text
    );
});
