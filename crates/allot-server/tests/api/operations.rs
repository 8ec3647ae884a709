//! The operation layer: the same change answers at the same moment through every surface. In a
//! `sync` tenant a change that frees a unit answers only after the longest-waiting member holds
//! it, whether it came through Graph or Partner Center. The servers here run without a background
//! worker, so the only way the waiting member can be seated before the answer is the operation's
//! own post-commit work.

use allot_store::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::group_licensing::{group_of, licenses, set_mode, states};
use crate::helpers::*;
use crate::partner::pc_token;

/// A server without a background worker, its tenant in `sync` mode.
async fn spawn(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn_with(backend, |c| c.no_worker = true).await?;
    set_mode(&app, DEMO_TENANT, "sync").await;
    Some(app)
}

/// Power BI Pro's enabled units.
async fn enabled(app: &TestApp, sku: &str) -> i64 {
    let v = app.get("/v1.0/subscribedSkus").await.ok();
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap()["prepaidUnits"]["enabled"]
        .as_i64()
        .unwrap()
}

/// Gives the holder Power BI Pro through `assign` (a user's or a group's `assignLicense`, which
/// answers `status`), fills the SKU's other units, and puts a member in its waiting room.
async fn licensed_and_full(app: &TestApp, assign: &str, status: u16) {
    let r = app.post(assign, licenses(&[(PBI, &[])], &[])).await;
    assert_eq!(r.status, status, "{}", r.text);
    fill_pbi(app).await;
    waiting_member(app).await;
}

/// Fills Power BI Pro's free units with direct assignments to new users.
async fn fill_pbi(app: &TestApp) {
    let free = enabled(app, PBI).await - app.consumed(PBI).await;
    for i in 0..free {
        let u = app.create_user(&format!("filler{i}"), Some("US")).await;
        let r = app
            .post(
                &format!("/v1.0/users/{u}/assignLicense"),
                licenses(&[(PBI, &[])], &[]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

/// A new user waiting for Power BI Pro through a group of its own (`CountViolation`).
async fn waiting_member(app: &TestApp) {
    app.create_user("waiter", Some("US")).await;
    let g = group_of(app, "waiting-room", &["waiter@contoso.example"]).await;
    let r = app
        .post(
            &format!("/v1.0/groups/{g}/assignLicense"),
            licenses(&[(PBI, &[])], &[]),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(pbi_state(app).await, json!(["Error", "CountViolation"]));
}

/// The waiter's state and error for Power BI Pro.
async fn pbi_state(app: &TestApp) -> Value {
    let s = states(app, "waiter@contoso.example").await;
    let pbi = s.iter().find(|s| s["skuId"] == PBI).expect("a Power BI state");
    json!([pbi["state"], pbi["error"]])
}

e2e!(
    partner_center_removal_seats_the_waiting_member,
    spawn = spawn,
    |app| {
        let holder = app.create_user("holder", Some("US")).await;
        licensed_and_full(&app, &format!("/v1.0/users/{holder}/assignLicense"), 200).await;
        let token = pc_token(&app).await;
        let r = app
            .send(
                Method::POST,
                &format!("/v1/customers/{DEMO_TENANT}/users/{holder}/licenseupdates"),
                Some(&token),
                Some(json!({"LicensesToRemove": [PBI]})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        // Answered: the freed unit is already the waiting member's.
        assert_eq!(pbi_state(&app).await, json!(["Active", "None"]));
        assert_eq!(app.consumed(PBI).await, enabled(&app, PBI).await);
    }
);

e2e!(graph_reprocess_seats_the_waiting_member, spawn = spawn, |app| {
    // The holder has its unit from a group; in manual mode it leaves the group and keeps the
    // unit until its re-evaluation runs.
    app.create_user("holder", Some("US")).await;
    let g = group_of(&app, "holders", &["holder@contoso.example"]).await;
    licensed_and_full(&app, &format!("/v1.0/groups/{g}/assignLicense"), 202).await;
    set_mode(&app, DEMO_TENANT, "manual").await;
    let holder = app.get("/v1.0/users/holder@contoso.example").await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .delete(&format!("/v1.0/groups/{g}/members/{holder}/$ref"))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    set_mode(&app, DEMO_TENANT, "sync").await;
    assert_eq!(pbi_state(&app).await, json!(["Error", "CountViolation"]));
    let r = app
        .post(
            &format!("/v1.0/users/{holder}/reprocessLicenseAssignment"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Answered: the holder's unit went back and on to the waiting member.
    assert_eq!(pbi_state(&app).await, json!(["Active", "None"]));
    let held = states(&app, "holder@contoso.example").await;
    assert!(held.iter().all(|s| s["skuId"] != PBI), "{held:?}");
});
