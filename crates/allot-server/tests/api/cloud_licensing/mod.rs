//! Beta cloudLicensing over HTTP, by endpoint family; the tenant and the `Cl` client they share are
//! here.

mod access;
mod allotments;
mod assignments;
mod groups;
mod one_state;
mod queries;
mod seeds;

use reqwest::Method;
use serde_json::{Value, json};

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
        applicationPermissions: [CloudLicensing.Read.All, CloudLicensing.AssignLicenses.Organization, User.ReadWrite.All, Group.ReadWrite.All, GroupMember.ReadWrite.All, LicenseAssignment.ReadWrite.All, Organization.Read.All, AuditLog.Read.All]
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

    /// The admin app's client (requests as the cloud tenant's admin app).
    fn caller(&self) -> Client<'_> {
        self.app.as_caller(&self.token)
    }

    async fn get(&self, path: &str) -> Resp {
        self.caller().get(path).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.caller().post(path, body).await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.caller().patch(path, body).await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.caller().delete(path).await
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
