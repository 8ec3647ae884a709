//! JSON batching (`$batch`): inner requests go through the same routes, permissions, throttling
//! and operations as alone; `dependsOn` and 424; the batch's own 400s.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

fn assign(id: &str, user: &str, sku: &str) -> Value {
    json!({
        "id": id,
        "method": "POST",
        "url": format!("/users/{user}/assignLicense"),
        "headers": {"Content-Type": "application/json"},
        "body": {"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []},
    })
}

fn responses(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.text);
    let mut v = r.json()["responses"].as_array().expect("responses").clone();
    v.sort_by_key(|x| x["id"].as_str().unwrap_or("").parse::<u32>().unwrap_or(0));
    v
}

e2e!(
    twenty_license_changes_in_one_batch_with_a_throttled_item_and_a_failed_dependency,
    |app| {
        let mut users = Vec::new();
        for i in 0..18 {
            users.push(app.create_user(&format!("batch{i}"), Some("US")).await);
        }
        let before = app.consumed(EMS).await;
        let mut requests: Vec<Value> = users
            .iter()
            .enumerate()
            .map(|(i, u)| assign(&(i + 1).to_string(), u, EMS))
            .collect();
        // Item 19 fails (no such user); item 20 depends on it.
        requests.push(assign("19", "00000000-0000-0000-0000-0000000000ff", EMS));
        let mut dependent = assign("20", &users[0], E3);
        dependent["dependsOn"] = json!(["19"]);
        requests.push(dependent);
        app.admin(
            Method::PUT,
            "/_allot/tenants/contoso.example/throttle",
            Some(r#"{"requests": 1, "retryAfterSeconds": 9}"#.into()),
        )
        .await
        .ok();

        let r = app.post("/v1.0/$batch", json!({"requests": requests})).await;
        let items = responses(&r);
        assert_eq!(items.len(), 20);
        let throttled: Vec<&Value> = items.iter().filter(|i| i["status"] == 429).collect();
        assert_eq!(throttled.len(), 1, "{items:#?}");
        assert_eq!(throttled[0]["headers"]["Retry-After"], "9");
        assert_eq!(throttled[0]["body"]["error"]["code"], "TooManyRequests");
        let dep = &items[19];
        assert_eq!(dep["status"], 424, "{dep}");
        assert_eq!(dep["body"]["error"]["code"], "FailedDependency");
        if throttled[0]["id"] != "19" {
            assert_eq!(items[18]["status"], 404, "{}", items[18]);
            assert_eq!(items[18]["body"]["error"]["code"], "Request_ResourceNotFound");
        }
        let ok: Vec<&Value> = items.iter().filter(|i| i["status"] == 200).collect();
        let expected_ok = if throttled[0]["id"] == "19" { 18 } else { 17 };
        assert_eq!(ok.len(), expected_ok, "{items:#?}");
        for item in &ok {
            assert!(
                item["headers"]["Content-Type"]
                    .as_str()
                    .unwrap()
                    .starts_with("application/json")
            );
            assert_eq!(item["body"]["assignedLicenses"][0]["skuId"], EMS);
        }
        // Each success is one unit, and nothing else was taken: no atomicity, no double work.
        assert_eq!(app.consumed(EMS).await, before + expected_ok as i64);
        // The E3 of the dependent request was never assigned.
        let d = app
            .get(&format!("/v1.0/users/{}/licenseDetails", users[0]))
            .await
            .ok();
        assert!(d["value"].as_array().unwrap().iter().all(|l| l["skuId"] != E3));
    }
);

e2e!(
    inner_requests_keep_the_version_the_headers_and_the_permissions,
    |app| {
        let user = app.create_user("batchv", Some("US")).await;
        let requests = json!({"requests": [
            {"id": "1", "method": "GET", "url": format!("/users/{user}/licenseDetails")},
            {"id": "2", "method": "GET", "url": "users/$count", "headers": {"ConsistencyLevel": "eventual"}},
            {"id": "3", "method": "GET", "url": "/users/$count"},
            {"id": "4", "method": "GET", "url": "/nothing/here"},
            // Absolute under the batch's version, as msgraph-sdk-python sends; `depends_on` is
            // that SDK's spelling of `dependsOn`.
            {"id": "5", "method": "GET", "url": "https://graph.microsoft.com/beta/subscribedSkus", "depends_on": ["4"]},
            {"id": "6", "method": "GET", "url": "https://graph.microsoft.com/beta/subscribedSkus"},
        ]});
        let items = responses(&app.post("/beta/$batch", requests).await);
        assert_eq!(items[0]["status"], 200);
        assert!(
            items[0]["body"]["@odata.context"]
                .as_str()
                .unwrap()
                .contains("/beta/$metadata#users(")
        );
        assert_eq!(items[1]["status"], 200);
        assert!(
            items[1]["headers"]["Content-Type"]
                .as_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let count = base64::engine::general_purpose::STANDARD
            .decode(items[1]["body"].as_str().unwrap())
            .unwrap();
        let count: i64 = String::from_utf8(count).unwrap().parse().unwrap();
        assert!(count >= 1);
        assert_eq!(items[2]["status"], 400);
        assert_eq!(items[2]["body"]["error"]["code"], "Request_BadRequest");
        assert_eq!(items[3]["status"], 404);
        assert_eq!(items[4]["status"], 424);
        assert_eq!(items[5]["status"], 200);
        assert!(
            items[5]["body"]["value"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        );

        // The read-only app's license change is refused inside the batch as it is alone.
        let ro = app.app_token(READONLY_APP, READONLY_SECRET).await;
        let r = app
            .as_caller(ro)
            .post("/v1.0/$batch", json!({"requests": [assign("1", &user, EMS)]}))
            .await;
        let items = responses(&r);
        assert_eq!(items[0]["status"], 403, "{}", items[0]);
        assert_eq!(items[0]["body"]["error"]["code"], "Authorization_RequestDenied");
        let d = app.get(&format!("/v1.0/users/{user}/licenseDetails")).await.ok();
        assert_eq!(d["value"], json!([]));
    }
);

e2e!(malformed_batches_get_graphs_error_envelope, |app| {
    let get = |id: &str| json!({"id": id, "method": "GET", "url": "/subscribedSkus"});
    let many: Vec<Value> = (1..=21).map(|i| get(&i.to_string())).collect();
    let msg = app
        .post("/v1.0/$batch", json!({"requests": many}))
        .await
        .graph_error(400, "BadRequest");
    assert_eq!(msg, "Number of requests inside batch exceeds the limit.");
    let mut a = get("a");
    a["dependsOn"] = json!(["b"]);
    let mut b = get("b");
    b["dependsOn"] = json!(["a"]);
    let msg = app
        .post("/v1.0/$batch", json!({"requests": [a, b]}))
        .await
        .graph_error(400, "BadRequest");
    assert!(msg.contains("cycle"), "{msg}");
    app.post("/v1.0/$batch", json!({"requests": [get("x"), get("X")]}))
        .await
        .graph_error(400, "BadRequest");
    app.post("/v1.0/$batch", json!({"requests": {}}))
        .await
        .graph_error(400, "BadRequest");
    let mut no_type = assign("1", "00000000-0000-0000-0000-000000000001", EMS);
    no_type["headers"] = json!({});
    app.post("/v1.0/$batch", json!({"requests": [no_type]}))
        .await
        .graph_error(400, "BadRequest");
    // Not a token: the batch itself is 401.
    app.send(
        Method::POST,
        "/v1.0/$batch",
        None,
        Some(json!({"requests": [get("1")]})),
    )
    .await
    .graph_error(401, "InvalidAuthenticationToken");

    // An item with a bad URL, or a nested batch, fails alone; the batch is still 200.
    let items = responses(
            &app.post(
                "/v1.0/$batch",
                json!({"requests": [
                    {"id": "1", "method": "GET", "url": "https://graph.microsoft.com/beta/users"},
                    {"id": "2", "method": "GET", "url": "/users/../../_allot/tenants"},
                    {"id": "3", "method": "POST", "url": "/$batch", "headers": {"Content-Type": "application/json"}, "body": {"requests": []}},
                    {"id": "4", "method": "GET", "url": "/users?$top=1 2"},
                    get("5"),
                ]}),
            )
            .await,
        );
    for item in &items[..4] {
        assert_eq!(item["status"], 400, "{item}");
        assert_eq!(item["body"]["error"]["code"], "BadRequest", "{item}");
        assert!(
            item["body"]["error"]["innerError"]["request-id"].is_string(),
            "{item}"
        );
    }
    assert_eq!(items[4]["status"], 200);
});
