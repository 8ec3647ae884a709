//! Permissions by cloudLicensing family, and the `/me` paths.

use reqwest::Method;
use serde_json::json;

use crate::e2e;

use super::*;

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
    let token = app
        .user_token_in(T, (APP, "cloud-secret"), "steve@cloud.example", "pw-steve")
        .await;
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
